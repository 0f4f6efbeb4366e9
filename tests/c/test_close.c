/* Closing, confirmations and their limits: close wakes blocked calls and
 * makes later calls fail; send_wait, flush and delivery reports tell a
 * confirmed message from one that timed out; queue_max bounds the queue. */
#include "harness.h"

#include <poll.h>
#include <pthread.h>

/* ---- helpers: a blocking call run on another thread ---- */

typedef struct blocked_call {
    kmq_consumer *c;      /* for kmq_receive */
    kmq_producer *p;      /* for kmq_flush */
    int64_t timeout_ms;
    kmq_status status;
    kmq_message *m;
    int64_t returned_at;  /* now_ms() */
} blocked_call;

static void *do_receive(void *arg) {
    blocked_call *b = arg;
    b->m = (kmq_message *)b; /* non-NULL: must come back NULL */
    b->status = kmq_receive(b->c, b->timeout_ms, &b->m);
    b->returned_at = now_ms();
    return NULL;
}

static void *do_flush(void *arg) {
    blocked_call *b = arg;
    b->status = kmq_flush(b->p, b->timeout_ms);
    b->returned_at = now_ms();
    return NULL;
}

/* Runs `fn` on a thread, lets it block for 300 ms, calls `closer` and checks
 * that the call returned KMQ_ERR_CLOSED soon after. */
static void check_close_wakes(void *(*fn)(void *), blocked_call *call, void (*closer)(void *), void *handle) {
    pthread_t th;
    if (!CHECK(pthread_create(&th, NULL, fn, call) == 0)) {
        return;
    }
    sleep_ms(300);
    int64_t closed_at = now_ms();
    closer(handle);
    pthread_join(th, NULL);
    CHECK_STATUS(call->status, KMQ_ERR_CLOSED);
    CHECK_MSG(call->returned_at - closed_at < 1000, "the blocked call returned %lld ms after close",
              (long long)(call->returned_at - closed_at));
}

static void close_consumer(void *c) { kmq_consumer_close(c); }
static void close_producer(void *p) { kmq_producer_close(p); }
static void free_consumer(void *c) { kmq_consumer_free(c); }
static void free_producer(void *p) { kmq_producer_free(p); }

static void *do_send_wait(void *arg) {
    blocked_call *b = arg;
    b->status = kmq_send_wait(b->p, "waits", 5, 0, b->timeout_ms);
    b->returned_at = now_ms();
    return NULL;
}

static void *do_poll_reports(void *arg) {
    blocked_call *b = arg;
    kmq_delivery_report r[4];
    size_t n = 0;
    b->status = kmq_poll_reports(b->p, r, 4, b->timeout_ms, &n);
    b->returned_at = now_ms();
    return NULL;
}

/* ---- cases ---- */

static void test_close_wakes_blocked_receive(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "closing", NULL));
    REQUIRE(c != NULL);

    blocked_call call = {.c = c, .timeout_ms = 20000};
    check_close_wakes(do_receive, &call, close_consumer, c);
    CHECK(call.m == NULL);

    /* Later calls fail the same way; closing again does nothing. */
    kmq_message *m = (kmq_message *)&b;
    CHECK_STATUS(kmq_receive(c, 0, &m), KMQ_ERR_CLOSED);
    CHECK(m == NULL);
    CHECK_STATUS(kmq_receive(c, 1000, &m), KMQ_ERR_CLOSED);
    CHECK_STATUS(kmq_ack(c, "0123456789abcdef0123456789abcdef"), KMQ_ERR_CLOSED);
    kmq_consumer_close(c);
    kmq_consumer_close(c);
    kmq_consumer_stats cs;
    CHECK_OK(kmq_consumer_get_stats(c, &cs)); /* the handle stays valid */
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_close_wakes_blocked_flush(void) {
    /* Never confirmed, so flush blocks until close. */
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "closing", NULL));
    REQUIRE(p != NULL);
    REQUIRE_OK(kmq_send(p, "pending", 7, 0));

    blocked_call call = {.p = p, .timeout_ms = 20000};
    check_close_wakes(do_flush, &call, close_producer, p);

    CHECK_STATUS(kmq_send(p, "late", 4, 0), KMQ_ERR_CLOSED);
    CHECK_STATUS(kmq_send_wait(p, "late", 4, 0, 1000), KMQ_ERR_CLOSED);
    uint64_t id;
    CHECK_STATUS(kmq_send_tracked(p, "late", 4, 0, &id), KMQ_ERR_CLOSED);
    CHECK_STATUS(kmq_flush(p, 1000), KMQ_ERR_CLOSED);
    kmq_delivery_report r[4];
    size_t n = 99;
    CHECK_STATUS(kmq_poll_reports(p, r, 4, 1000, &n), KMQ_ERR_CLOSED);
    CHECK(n == 0);
    kmq_producer_close(p);
    kmq_producer_close(p);

    /* The unconfirmed message failed; nothing is left in flight. */
    CHECK_PRODUCER_STATS(p, 1, 0, 1, 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

/* Freeing a handle while calls are blocked on it in other threads: they
 * return KMQ_ERR_CLOSED and touch no freed memory (run under valgrind by
 * tests/c/run.sh --valgrind). */
static void test_free_wakes_blocked_calls(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "freeing", NULL));
    REQUIRE(c != NULL);
    blocked_call receive = {.c = c, .timeout_ms = -1};
    check_close_wakes(do_receive, &receive, free_consumer, c);
    CHECK(receive.m == NULL);

    /* Three calls blocked on one producer at once; the first free wakes them all. */
    kmq_producer *p = new_producer(config_for(b.port, "freeing", NULL));
    REQUIRE(p != NULL);
    REQUIRE_OK(kmq_send(p, "pending", 7, 0));
    blocked_call flush = {.p = p, .timeout_ms = -1};
    blocked_call send_wait = {.p = p, .timeout_ms = -1};
    blocked_call poll = {.p = p, .timeout_ms = -1};
    pthread_t th[2];
    REQUIRE(pthread_create(&th[0], NULL, do_send_wait, &send_wait) == 0);
    REQUIRE(pthread_create(&th[1], NULL, do_poll_reports, &poll) == 0);
    check_close_wakes(do_flush, &flush, free_producer, p);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CHECK_STATUS(send_wait.status, KMQ_ERR_CLOSED);
    CHECK_STATUS(poll.status, KMQ_ERR_CLOSED);
    broker_kill(&b);
}

static void test_send_wait_and_flush(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "confirm", NULL));
    REQUIRE(p != NULL);

    CHECK_OK(kmq_flush(p, 0)); /* nothing sent yet */
    CHECK_OK(kmq_send_wait(p, "one", 3, 0, 5000));
    CHECK_PRODUCER_STATS(p, 1, 1, 0, 0); /* confirmed by the time it returns */
    CHECK_OK(kmq_flush(p, 0)); /* idle again */
    CHECK_OK(kmq_flush(p, -1));

    for (int i = 0; i < 100; i++) {
        REQUIRE_OK(kmq_send(p, "more", 4, 0));
    }
    CHECK_OK(kmq_flush(p, 5000));
    CHECK_PRODUCER_STATS(p, 101, 101, 0, 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_tracked_reports_confirmed(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "reports", NULL));
    REQUIRE(p != NULL);

    enum { N = 5 };
    uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        REQUIRE_OK(kmq_send_tracked(p, "tracked", 7, 0, &ids[i]));
        for (int j = 0; j < i; j++) {
            CHECK_MSG(ids[j] != ids[i], "ids %d and %d are both %llu", j, i, (unsigned long long)ids[i]);
        }
    }
    bool seen[N] = {false};
    int reports = 0;
    int64_t deadline = now_ms() + 5000;
    while (reports < N && now_ms() < deadline) {
        kmq_delivery_report r[2]; /* smaller than N: several polls */
        size_t n = 0;
        if (!CHECK_OK(kmq_poll_reports(p, r, 2, deadline - now_ms(), &n))) {
            break;
        }
        CHECK(n >= 1 && n <= 2);
        for (size_t k = 0; k < n; k++) {
            CHECK_MSG(r[k].status == KMQ_OK, "report for id %llu: %s", (unsigned long long)r[k].id,
                      kmq_status_str(r[k].status));
            int which = -1;
            for (int i = 0; i < N; i++) {
                which = ids[i] == r[k].id ? i : which;
            }
            CHECK_MSG(which >= 0 && !seen[which], "unexpected report for id %llu", (unsigned long long)r[k].id);
            if (which >= 0) {
                seen[which] = true;
            }
            reports++;
        }
    }
    CHECK_MSG(reports == N, "%d reports of %d", reports, N);
    /* Each is reported once: nothing more to take. */
    kmq_delivery_report r[4];
    size_t n = 99;
    CHECK_STATUS(kmq_poll_reports(p, r, 4, 0, &n), KMQ_ERR_TIMEOUT);
    CHECK(n == 0);
    /* Untracked messages make no reports. */
    CHECK_OK(kmq_send_wait(p, "untracked", 9, 0, 5000));
    CHECK_STATUS(kmq_poll_reports(p, r, 4, 200, &n), KMQ_ERR_TIMEOUT);
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_stalled_acks_time_out(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "stalled", "message_timeout_ms", "300", NULL));
    REQUIRE(p != NULL);

    /* The message's own 300 ms limit ends the wait, not the 5 s one. */
    int64_t t0 = now_ms();
    CHECK_STATUS(kmq_send_wait(p, "waits", 5, 0, 5000), KMQ_ERR_TIMEOUT);
    int64_t took = now_ms() - t0;
    CHECK_MSG(took >= 250 && took < 2000, "send_wait gave up after %lld ms", (long long)took);

    REQUIRE_OK(kmq_send(p, "flushed", 7, 0));
    t0 = now_ms();
    CHECK_STATUS(kmq_flush(p, 5000), KMQ_ERR_TIMEOUT);
    took = now_ms() - t0;
    CHECK_MSG(took < 2000, "flush gave up after %lld ms", (long long)took);

    uint64_t id = 0;
    REQUIRE_OK(kmq_send_tracked(p, "tracked", 7, 0, &id));
    kmq_delivery_report r[4];
    size_t n = 0;
    CHECK_OK(kmq_poll_reports(p, r, 4, 3000, &n));
    CHECK_MSG(n == 1 && r[0].id == id && r[0].status == KMQ_ERR_TIMEOUT, "%zu reports; first: id %llu (want %llu) %s",
              n, n ? (unsigned long long)r[0].id : 0ULL, (unsigned long long)id,
              n ? kmq_status_str(r[0].status) : "-");

    CHECK_PRODUCER_STATS(p, 3, 0, 3, 0);

    /* A short wait of its own ends first. */
    t0 = now_ms();
    CHECK_STATUS(kmq_send_wait(p, "short", 5, 0, 100), KMQ_ERR_TIMEOUT);
    took = now_ms() - t0;
    CHECK_MSG(took >= 80 && took < 600, "a 100 ms send_wait took %lld ms", (long long)took);
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_queue_full_at_queue_max(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "bounded", "queue_max", "10", NULL));
    REQUIRE(p != NULL);
    for (int i = 0; i < 10; i++) {
        REQUIRE_OK(kmq_send(p, "held", 4, 0));
    }
    CHECK_STATUS(kmq_send(p, "one too many", 12, 0), KMQ_ERR_QUEUE_FULL);
    CHECK_ERROR_NAMES("10");
    uint64_t id;
    CHECK_STATUS(kmq_send_tracked(p, "one too many", 12, 0, &id), KMQ_ERR_QUEUE_FULL);
    CHECK_STATUS(kmq_send_wait(p, "one too many", 12, 0, 100), KMQ_ERR_QUEUE_FULL);

    CHECK_PRODUCER_STATS(p, 10, 0, 0, 10);
    kmq_producer_free(p);
    broker_kill(&b);
}

/* ---- flushes and closes that report through the descriptor ---- */

/* Waits (in poll(), on kmq_producer_fd) for the report `id` and takes every
 * report up to it: how many came before it go to `*before`, how many of
 * those failed with `before_status` to `*matching`. */
static bool await_report(kmq_producer *p, uint64_t id, kmq_delivery_report *out, int *before,
                         kmq_status before_status, int *matching) {
    struct pollfd pfd = {.fd = kmq_producer_fd(p), .events = POLLIN};
    int64_t deadline = now_ms() + 10000;
    *before = *matching = 0;
    while (now_ms() < deadline) {
        if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0) {
            continue;
        }
        kmq_delivery_report r[8];
        size_t n = 0;
        if (!CHECK_OK(kmq_poll_reports(p, r, 8, 0, &n))) {
            return false;
        }
        for (size_t k = 0; k < n; k++) {
            if (r[k].id == id) {
                *out = r[k];
                CHECK_MSG(k + 1 == n, "reports came after the one awaited");
                return true;
            }
            (*before)++;
            *matching += r[k].status == before_status;
        }
    }
    CHECK_MSG(false, "no report with id %llu within 10 s", (unsigned long long)id);
    return false;
}

static void test_flush_begin_reports_on_the_descriptor(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "flush-begin", NULL));
    REQUIRE(p != NULL);
    enum { TRACKED = 3, UNTRACKED = 100 };
    uint64_t last = 0;
    for (int i = 0; i < TRACKED; i++) {
        REQUIRE_OK(kmq_send_tracked(p, "tracked", 7, 0, &last));
    }
    for (int i = 0; i < UNTRACKED; i++) {
        REQUIRE_OK(kmq_send(p, "untracked", 9, 0));
    }
    uint64_t id = 0;
    REQUIRE_OK(kmq_flush_begin(p, 5000, &id));
    CHECK_MSG(id > last, "the flush's id %llu follows the messages' (last %llu)", (unsigned long long)id,
              (unsigned long long)last);
    kmq_delivery_report r;
    int before, confirmed;
    if (await_report(p, id, &r, &before, KMQ_OK, &confirmed)) {
        CHECK_STATUS(r.status, KMQ_OK);
        CHECK(r.error[0] == '\0' && r.opaque == NULL);
        CHECK_MSG(before == TRACKED && confirmed == TRACKED, "%d reports (%d confirmed) before the flush's", before,
                  confirmed);
    }
    CHECK_PRODUCER_STATS(p, TRACKED + UNTRACKED, TRACKED + UNTRACKED, 0, 0);

    /* Nothing outstanding: the report is there at once. */
    REQUIRE_OK(kmq_flush_begin(p, 0, &id));
    kmq_delivery_report now[2];
    size_t n = 0;
    CHECK_OK(kmq_poll_reports(p, now, 2, 0, &n));
    CHECK(n == 1 && now[0].id == id && now[0].status == KMQ_OK);
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_flush_begin_times_out_in_the_words_of_kmq_flush(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "flush-begin", NULL));
    REQUIRE(p != NULL);
    REQUIRE_OK(kmq_send(p, "one", 3, 0));
    REQUIRE_OK(kmq_send(p, "two", 3, 0));
    uint64_t id = 0;
    int64_t t0 = now_ms();
    REQUIRE_OK(kmq_flush_begin(p, 200, &id));
    kmq_delivery_report r;
    int before, any;
    if (await_report(p, id, &r, &before, KMQ_OK, &any)) {
        int64_t took = now_ms() - t0;
        CHECK_MSG(took >= 190 && took < 1500, "the 200 ms flush ended after %lld ms", (long long)took);
        CHECK_STATUS(r.status, KMQ_ERR_TIMEOUT);
        CHECK_MSG(strcmp(r.error, "flush: 2 messages still unconfirmed after 200 ms") == 0, "error: %s", r.error);
    }
    /* kmq_flush fails in the same words (after the function's name). */
    CHECK_STATUS(kmq_flush(p, 100), KMQ_ERR_TIMEOUT);
    CHECK_MSG(strcmp(kmq_last_error(), "kmq_flush: flush: 2 messages still unconfirmed after 100 ms") == 0,
              "error: %s", kmq_last_error());
    CHECK_PRODUCER_STATS(p, 2, 0, 0, 2); /* the messages keep their own time limit */
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_close_begin_flushes_then_closes(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "close-begin", NULL));
    REQUIRE(p != NULL);
    for (int i = 0; i < 50; i++) {
        REQUIRE_OK(kmq_send(p, "before the close", 16, 0));
    }
    uint64_t id = 0, again = 0;
    REQUIRE_OK(kmq_producer_close_begin(p, 5000, &id));
    CHECK_STATUS(kmq_send(p, "after", 5, 0), KMQ_ERR_CLOSED);
    CHECK_ERROR_NAMES("closing");
    CHECK_STATUS(kmq_producer_close_begin(p, 5000, &again), KMQ_ERR_CLOSED);
    kmq_delivery_report r;
    int before, any;
    if (await_report(p, id, &r, &before, KMQ_OK, &any)) {
        CHECK_STATUS(r.status, KMQ_OK);
    }
    kmq_delivery_report more[2];
    size_t n = 99;
    CHECK_STATUS(kmq_poll_reports(p, more, 2, 1000, &n), KMQ_ERR_CLOSED);
    kmq_close_report cr;
    CHECK_OK(kmq_producer_close_report(p, &cr));
    CHECK_MSG(cr.confirmed == 50 && cr.failed == 0 && cr.in_flight == 0, "close report %llu/%llu/%llu",
              (unsigned long long)cr.confirmed, (unsigned long long)cr.failed, (unsigned long long)cr.in_flight);
    CHECK_STATUS(kmq_flush(p, 0), KMQ_ERR_CLOSED);
    kmq_producer_close(p); /* closed already: nothing to do */
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_close_begin_out_of_time_fails_what_is_left(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "close-begin", NULL));
    REQUIRE(p != NULL);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++) {
        REQUIRE_OK(kmq_send_tracked(p, "stalled", 7, 0, &ids[i]));
    }
    kmq_close_report cr;
    CHECK_OK(kmq_producer_close_report(p, &cr)); /* open: the figures so far */
    CHECK(cr.confirmed == 0 && cr.failed == 0 && cr.in_flight == 3);
    uint64_t id = 0;
    REQUIRE_OK(kmq_producer_close_begin(p, 300, &id));
    kmq_delivery_report r;
    int before, closed;
    if (await_report(p, id, &r, &before, KMQ_ERR_CLOSED, &closed)) {
        CHECK_STATUS(r.status, KMQ_ERR_TIMEOUT);
        const char *want = "close: flush: 3 messages still unconfirmed after 300 ms; they failed when the producer closed";
        CHECK_MSG(strcmp(r.error, want) == 0, "error: %s", r.error);
        CHECK_MSG(before == 3 && closed == 3, "%d reports (%d closed) before the close's", before, closed);
    }
    CHECK_OK(kmq_producer_close_report(p, &cr));
    CHECK_MSG(cr.confirmed == 0 && cr.failed == 0 && cr.in_flight == 3, "close report %llu/%llu/%llu",
              (unsigned long long)cr.confirmed, (unsigned long long)cr.failed, (unsigned long long)cr.in_flight);
    CHECK_PRODUCER_STATS(p, 3, 0, 3, 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

int main(void) {
    RUN(test_close_wakes_blocked_receive);
    RUN(test_close_wakes_blocked_flush);
    RUN(test_free_wakes_blocked_calls);
    RUN(test_send_wait_and_flush);
    RUN(test_tracked_reports_confirmed);
    RUN(test_stalled_acks_time_out);
    RUN(test_queue_full_at_queue_max);
    RUN(test_flush_begin_reports_on_the_descriptor);
    RUN(test_flush_begin_times_out_in_the_words_of_kmq_flush);
    RUN(test_close_begin_flushes_then_closes);
    RUN(test_close_begin_out_of_time_fails_what_is_left);
    return harness_exit();
}
