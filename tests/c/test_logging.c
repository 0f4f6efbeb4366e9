/* Log callbacks never run on the library's network thread: a callback that
 * takes 50 ms per record does not slow a producer down, even while a
 * consumer in the same process logs a warning for every frame it skips. */
#include "harness.h"

#include <pthread.h>

static atomic_int slow_calls;

static void slow_callback(kmq_log_level level, const char *message, void *user_data) {
    (void)level;
    (void)message;
    (void)user_data;
    atomic_fetch_add(&slow_calls, 1);
    sleep_ms(50);
}

typedef struct drain {
    kmq_consumer *c;
    atomic_int stop;
    atomic_int received;
} drain;

/* Keeps the consumer's buffer empty, so that it keeps reading (and logging
 * the garbage frames the broker puts before every push). */
static void *drain_consumer(void *arg) {
    drain *d = arg;
    while (!atomic_load(&d->stop)) {
        kmq_message *m = NULL;
        if (kmq_receive(d->c, 100, &m) == KMQ_OK) {
            kmq_ack(d->c, kmq_message_code(m));
            kmq_message_free(m);
            atomic_fetch_add(&d->received, 1);
        }
    }
    return NULL;
}

/* Messages per second confirmed for a burst of n within limit_ms; 0 when
 * they are not all confirmed by then. */
static double confirmed_rate(kmq_producer *p, int n, int64_t limit_ms) {
    int64_t t0 = now_ms();
    for (int i = 0; i < n; i++) {
        if (!CHECK_OK(kmq_send(p, "rate", 4, 0))) {
            return 0;
        }
    }
    if (!CHECK_OK(kmq_flush(p, limit_ms - (now_ms() - t0)))) {
        return 0;
    }
    int64_t ms = now_ms() - t0;
    return n * 1000.0 / (double)(ms > 0 ? ms : 1);
}

static void test_a_slow_log_callback_does_not_slow_the_producer(void) {
    enum { N = 50000, ROUNDS = 8 };
    broker b;
    REQUIRE(broker_start(&b, "--garbage-push-every", "1", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "slow-log", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "slow-log", NULL));
    REQUIRE(c != NULL && p != NULL);
    drain d = {.c = c};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, drain_consumer, &d) == 0);

    /* Alternate quiet and logging rounds and compare the best of each, so
     * that a busy machine hurts both alike. */
    double quiet = 0, logging = 0;
    int calls = 0;
    for (int i = 0; i < 2 * ROUNDS; i++) {
        /* quiet, logging, logging, quiet, quiet, logging, ... */
        bool with_log = (i % 4 == 1) || (i % 4 == 2);
        atomic_store(&slow_calls, 0);
        kmq_set_log_callback(with_log ? slow_callback : NULL, KMQ_LOG_WARN, NULL);
        /* A stalled network thread would take minutes: 20 s is ample. */
        double r = confirmed_rate(p, N, 20000);
        kmq_set_log_callback(NULL, 0, NULL);
        if (with_log) {
            logging = r > logging ? r : logging;
            calls += atomic_load(&slow_calls);
        } else {
            quiet = r > quiet ? r : quiet;
        }
        if (r == 0) {
            break;
        }
    }
    atomic_store(&d.stop, 1);
    pthread_join(th, NULL);
    harness_note("confirmed/s: %.0f without a log callback, %.0f with a 50 ms one (%d calls)", quiet, logging,
                 calls);
    /* The consumer did log while the producer ran. */
    CHECK_MSG(calls > 0, "the slow callback was never called");
    CHECK(atomic_load(&d.received) > 0);
    CHECK_MSG(logging >= 0.9 * quiet, "a slow log callback cut the confirmed rate from %.0f/s to %.0f/s", quiet,
              logging);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_a_slow_log_callback_does_not_slow_the_producer);
    return harness_exit();
}
