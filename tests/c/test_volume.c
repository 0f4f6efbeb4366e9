/* 10,000 messages from one producer to one consumer: all confirmed, all
 * received, in order. */
#include "harness.h"

#include <pthread.h>

#define COUNT 10000

typedef struct receiver {
    kmq_consumer *c;
    int64_t deadline;   /* now_ms() value to give up at */
    int received;       /* messages taken */
    int out_of_order;   /* messages that were not the next one expected */
    int64_t done_at;    /* now_ms() when the last one came */
} receiver;

static void *receive_all(void *arg) {
    receiver *r = arg;
    char want[32];
    while (r->received < COUNT) {
        int64_t left = r->deadline - now_ms();
        kmq_message *m = NULL;
        if (left <= 0 || !CHECK_OK(kmq_receive(r->c, left, &m))) {
            break;
        }
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        int n = snprintf(want, sizeof want, "message %05d", r->received);
        if (len != (size_t)n || memcmp(data, want, len) != 0) {
            if (r->out_of_order++ == 0) {
                harness_note("expected \"%s\", got \"%.*s\"", want, (int)len, data);
            }
        }
        CHECK_OK(kmq_ack(r->c, kmq_message_code(m)));
        kmq_message_free(m);
        r->received++;
    }
    r->done_at = now_ms();
    return NULL;
}

static void test_ten_thousand_in_order(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "volume", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "volume", NULL));
    REQUIRE(c != NULL && p != NULL);

    int64_t t0 = now_ms();
    receiver r = {c, t0 + 60000, 0, 0, 0};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, receive_all, &r) == 0);

    char buf[32];
    int sent = 0;
    for (; sent < COUNT; sent++) {
        int n = snprintf(buf, sizeof buf, "message %05d", sent);
        if (!CHECK_OK(kmq_send(p, buf, (size_t)n, 0))) {
            break;
        }
    }
    int64_t enqueued_at = now_ms();
    CHECK_OK(kmq_flush(p, 30000));
    int64_t confirmed_at = now_ms();
    pthread_join(th, NULL);

    CHECK_PRODUCER_STATS(p, COUNT, COUNT, 0, 0);
    CHECK_MSG(r.received == COUNT, "received %d of %d", r.received, COUNT);
    CHECK_MSG(r.out_of_order == 0, "%d messages out of order or wrong", r.out_of_order);

    harness_note("%d messages: enqueued in %lld ms, all confirmed after %lld ms, all received after %lld ms",
                 COUNT, (long long)(enqueued_at - t0), (long long)(confirmed_at - t0),
                 (long long)(r.done_at - t0));

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_ten_thousand_in_order);
    return harness_exit();
}
