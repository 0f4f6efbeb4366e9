/* kmq_consumer_drain: a worker thread blocked in kmq_receive handles every
 * buffered message, the drain waits for its acks, then closes; the report
 * accounts for each message. */
#include "harness.h"

#include <pthread.h>

#define N 300

struct worker {
    kmq_consumer *c;
    int handled;
    kmq_status ended;
};

static void *work(void *arg) {
    struct worker *w = arg;
    kmq_message *m = NULL;
    while ((w->ended = kmq_receive(w->c, 10000, &m)) == KMQ_OK) {
        if (kmq_ack(w->c, kmq_message_code(m)) == KMQ_OK) w->handled++;
        kmq_message_free(m);
    }
    return NULL;
}

static void test_a_drain_waits_for_the_worker_then_closes(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "drain", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "drain", NULL));
    REQUIRE(c != NULL && p != NULL);
    char text[16];
    for (int i = 0; i < N; i++) {
        int len = snprintf(text, sizeof text, "m%d", i);
        CHECK_OK(kmq_send(p, text, (size_t)len, 0));
    }
    CHECK_OK(kmq_flush(p, 10000));
    kmq_consumer_stats st;
    for (int64_t until = now_ms() + 10000; now_ms() < until; sleep_ms(10)) {
        if (kmq_consumer_get_stats(c, &st) == KMQ_OK && st.buffered == N) break;
    }
    CHECK_MSG(st.buffered == N, "%llu of %d buffered", (unsigned long long)st.buffered, N);

    struct worker w = {c, 0, KMQ_OK};
    pthread_t thread;
    REQUIRE(pthread_create(&thread, NULL, work, &w) == 0);
    kmq_drain_report r;
    int64_t started = now_ms();
    CHECK_OK(kmq_consumer_drain(c, 30000, &r));
    CHECK_MSG(now_ms() - started < 10000, "the drain waited %lld ms", (long long)(now_ms() - started));
    pthread_join(thread, NULL);
    CHECK_MSG(w.handled == N && w.ended == KMQ_ERR_CLOSED, "worker handled %d, ended with %s", w.handled,
              kmq_status_str(w.ended));
    /* The worker may have handled some before the drain began. */
    CHECK_MSG(r.unacked == 0 && r.unread == 0 && r.handed_out <= r.acked && r.acked <= N,
              "report: handed out %llu, acked %llu, unacked %llu, unread %llu", (unsigned long long)r.handed_out,
              (unsigned long long)r.acked, (unsigned long long)r.unacked, (unsigned long long)r.unread);
    CHECK_STATUS(kmq_consumer_drain(c, 0, &r), KMQ_ERR_CLOSED);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_bad_arguments(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "drain-bad", NULL));
    REQUIRE(c != NULL);
    kmq_drain_report r;
    CHECK_STATUS(kmq_consumer_drain(c, 0, NULL), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("report");
    CHECK_STATUS(kmq_consumer_drain(NULL, 0, &r), KMQ_ERR_INVALID_ARGUMENT);
    /* Nothing buffered, nothing handed out: drained at once. */
    CHECK_OK(kmq_consumer_drain(c, 5000, &r));
    CHECK(r.handed_out == 0 && r.acked == 0 && r.unacked == 0 && r.unread == 0);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_a_drain_waits_for_the_worker_then_closes);
    RUN(test_bad_arguments);
    return harness_exit();
}
