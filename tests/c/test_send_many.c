/* kmq_send_many and kmq_send_many_tracked: many messages in one call, in
 * order; a refused message stops the batch, keeps the ones before it and
 * says how many through *accepted. */
#include "harness.h"

#define BATCH 1000

/* The call must return `want` with an error naming `word`. */
#define CHECK_REFUSED(call, want, word)            \
    do {                                           \
        if (CHECK_STATUS((call), (want))) {        \
            CHECK_ERROR_NAMES(word);               \
        }                                          \
    } while (0)

/* "batch 0000", "batch 0001", ... in one block, pointed at by `bufs`. */
typedef struct batch {
    char text[BATCH][16];
    kmq_buf bufs[BATCH];
} batch;

static batch *make_batch(const char *prefix) {
    batch *b = malloc(sizeof *b);
    if (!CHECK(b != NULL)) {
        return NULL;
    }
    for (int i = 0; i < BATCH; i++) {
        int n = snprintf(b->text[i], sizeof b->text[i], "%s %04d", prefix, i);
        b->bufs[i].data = b->text[i];
        b->bufs[i].len = (size_t)n;
    }
    return b;
}

/* Receives `n` messages and checks they are msgs[0..n) in order, acking
 * each; then that nothing more comes within `quiet_ms` (0: not checked). */
static void expect_messages(kmq_consumer *c, const kmq_buf *msgs, size_t n, int64_t quiet_ms) {
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        kmq_message *m = NULL;
        if (!CHECK_MSG(kmq_receive(c, 10000, &m) == KMQ_OK, "message %zu of %zu did not come", i, n)) {
            return;
        }
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        if (len != msgs[i].len || memcmp(data, msgs[i].data, len) != 0) {
            if (wrong++ == 0) {
                harness_note("message %zu: got \"%.*s\", expected \"%.*s\"", i, (int)len, data, (int)msgs[i].len,
                             msgs[i].data);
            }
        }
        CHECK_OK(kmq_ack(c, kmq_message_code(m)));
        kmq_message_free(m);
    }
    CHECK_MSG(wrong == 0, "%zu of %zu messages out of order or wrong", wrong, n);
    if (quiet_ms > 0) {
        kmq_message *m = NULL;
        CHECK_STATUS(kmq_receive(c, quiet_ms, &m), KMQ_ERR_TIMEOUT);
        if (m != NULL) {
            size_t len = 0;
            const char *data = kmq_message_data(m, &len);
            harness_note("unexpected message \"%.*s\"", (int)len, data);
            kmq_message_free(m);
        }
    }
}

/* Takes reports until `n` came (or 10 s passed) and checks they are for
 * exactly the ids first..first+n-1, each once, with status `want`. */
static void expect_reports(kmq_producer *p, uint64_t first, size_t n, kmq_status want) {
    bool *seen = calloc(n ? n : 1, sizeof *seen);
    REQUIRE(seen != NULL);
    size_t got = 0, bad = 0;
    int64_t deadline = now_ms() + 10000;
    while (got < n && now_ms() < deadline) {
        kmq_delivery_report r[64];
        size_t k = 0;
        if (!CHECK_OK(kmq_poll_reports(p, r, 64, deadline - now_ms(), &k))) {
            break;
        }
        for (size_t j = 0; j < k; j++) {
            uint64_t at = r[j].id - first;
            bool ok = r[j].id >= first && at < n && !seen[at] && r[j].status == want && r[j].opaque == NULL;
            if (!ok && bad++ == 0) {
                harness_note("report for id %llu (ids %llu..%llu expected): %s %s", (unsigned long long)r[j].id,
                             (unsigned long long)first, (unsigned long long)(first + n - 1),
                             kmq_status_str(r[j].status), r[j].error);
            }
            if (r[j].id >= first && at < n) {
                seen[at] = true;
            }
            got++;
        }
    }
    CHECK_MSG(got == n && bad == 0, "%zu reports (%zu wrong), expected %zu", got, bad, n);
    /* Each is reported once: nothing more to take (CLOSED once closed). */
    kmq_delivery_report r[4];
    size_t k = 99;
    kmq_status s = kmq_poll_reports(p, r, 4, 0, &k);
    CHECK_MSG((s == KMQ_ERR_TIMEOUT || s == KMQ_ERR_CLOSED) && k == 0, "%zu more reports (%s)", k,
              kmq_status_str(s));
    free(seen);
}

static void test_thousand_in_order(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "many", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "many", NULL));
    batch *m = make_batch("batch");
    REQUIRE(c != NULL && p != NULL && m != NULL);

    size_t accepted = 99;
    int64_t t0 = now_ms();
    CHECK_OK(kmq_send_many(p, m->bufs, BATCH, 0, &accepted));
    int64_t took = now_ms() - t0;
    CHECK_MSG(accepted == BATCH, "accepted %zu of %d", accepted, BATCH);
    CHECK_OK(kmq_flush(p, 10000));
    CHECK_PRODUCER_STATS(p, BATCH, BATCH, 0, 0);
    expect_messages(c, m->bufs, BATCH, 0);
    harness_note("%d messages enqueued in one call in %lld ms", BATCH, (long long)took);

    /* count 0 does nothing (msgs may then be NULL), and so does a NULL
     * accepted. */
    accepted = 99;
    CHECK_OK(kmq_send_many(p, NULL, 0, 0, &accepted));
    CHECK(accepted == 0);
    CHECK_OK(kmq_send_many(p, m->bufs, 3, 0, NULL));
    CHECK_OK(kmq_flush(p, 5000));
    CHECK_PRODUCER_STATS(p, BATCH + 3, BATCH + 3, 0, 0);
    expect_messages(c, m->bufs, 3, 300);

    free(m);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_tracked_reports_for_accepted_ids(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "many-tracked", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "many-tracked", NULL));
    batch *m = make_batch("tracked");
    REQUIRE(c != NULL && p != NULL && m != NULL);

    /* A single tracked send first, so the batch's ids do not start at the
     * first id there is. */
    uint64_t single = 0;
    REQUIRE_OK(kmq_send_tracked(p, "single", 6, 0, &single));
    expect_reports(p, single, 1, KMQ_OK);

    size_t accepted = 0;
    uint64_t first = 0;
    REQUIRE_OK(kmq_send_many_tracked(p, m->bufs, 200, 0, &accepted, &first));
    CHECK_MSG(accepted == 200, "accepted %zu of 200", accepted);
    CHECK_MSG(first > single, "first id %llu, after a single send with id %llu", (unsigned long long)first,
              (unsigned long long)single);
    expect_reports(p, first, 200, KMQ_OK);

    /* The next batch's ids follow on. */
    uint64_t next = 0;
    REQUIRE_OK(kmq_send_many_tracked(p, m->bufs + 200, 5, 0, &accepted, &next));
    CHECK_MSG(next == first + 200, "next batch's first id %llu, expected %llu", (unsigned long long)next,
              (unsigned long long)(first + 200));
    expect_reports(p, next, 5, KMQ_OK);

    CHECK_PRODUCER_STATS(p, 206, 206, 0, 0);
    kmq_message *single_msg = NULL;
    if (CHECK_OK(kmq_receive(c, 5000, &single_msg))) {
        kmq_message_free(single_msg);
    }
    expect_messages(c, m->bufs, 205, 0);

    free(m);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_null_args(void) {
    kmq_buf one = {"x", 1};
    size_t accepted = 99;
    uint64_t first = 99;
    CHECK_REFUSED(kmq_send_many(NULL, &one, 1, 0, &accepted), KMQ_ERR_INVALID_ARGUMENT, "producer");
    CHECK(accepted == 0);
    CHECK_REFUSED(kmq_send_many_tracked(NULL, &one, 1, 0, &accepted, &first), KMQ_ERR_INVALID_ARGUMENT, "producer");
    CHECK(first == 0);

    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "many-nulls", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "many-nulls", NULL));
    REQUIRE(c != NULL && p != NULL);

    accepted = 99;
    CHECK_REFUSED(kmq_send_many(p, NULL, 3, 0, &accepted), KMQ_ERR_INVALID_ARGUMENT, "msgs");
    CHECK(accepted == 0);
    CHECK_REFUSED(kmq_send_many_tracked(p, &one, 1, 0, &accepted, NULL), KMQ_ERR_INVALID_ARGUMENT, "first_id");
    CHECK_PRODUCER_STATS(p, 0, 0, 0, 0);

    /* A NULL message with a length, or an empty one (NULL or not), stops
     * the batch at its index. */
    const kmq_buf null_at_2[] = {{"a0", 2}, {"a1", 2}, {NULL, 5}, {"a3", 2}};
    accepted = 99;
    CHECK_STATUS(kmq_send_many(p, null_at_2, 4, 0, &accepted), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(kmq_last_error(), "msgs[2]") != NULL, "error does not name msgs[2]: \"%s\"", kmq_last_error());
    CHECK_MSG(accepted == 2, "accepted %zu, expected 2", accepted);

    const kmq_buf empty_at_1[] = {{"b0", 2}, {"", 0}, {"b2", 2}};
    const kmq_buf null_empty_at_0[] = {{NULL, 0}, {"c1", 2}};
    accepted = 99;
    first = 99;
    CHECK_STATUS(kmq_send_many_tracked(p, empty_at_1, 3, 0, &accepted, &first), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(kmq_last_error(), "msgs[1]") != NULL, "error does not name msgs[1]: \"%s\"", kmq_last_error());
    CHECK_ERROR_NAMES("empty");
    CHECK_MSG(accepted == 1 && first != 0, "accepted %zu, first id %llu", accepted, (unsigned long long)first);
    expect_reports(p, first, 1, KMQ_OK);
    accepted = 99;
    CHECK_STATUS(kmq_send_many(p, null_empty_at_0, 2, 0, &accepted), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(kmq_last_error(), "msgs[0]") != NULL, "error does not name msgs[0]: \"%s\"", kmq_last_error());
    CHECK(accepted == 0);

    CHECK_OK(kmq_flush(p, 5000));
    CHECK_PRODUCER_STATS(p, 3, 3, 0, 0);
    const kmq_buf delivered[] = {{"a0", 2}, {"a1", 2}, {"b0", 2}};
    expect_messages(c, delivered, 3, 300);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_invalid_utf8_stops_at_its_index(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "many-utf8", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "many-utf8", NULL));
    REQUIRE(c != NULL && p != NULL);

    enum { N = 10, K = 6 };
    char text[N][16];
    kmq_buf msgs[N];
    for (int i = 0; i < N; i++) {
        msgs[i].len = (size_t)snprintf(text[i], sizeof text[i], "u%d \xc3\xa9", i);
        msgs[i].data = text[i];
    }
    text[K][1] = (char)0xff; /* never valid in UTF-8 */

    size_t accepted = 99;
    CHECK_STATUS(kmq_send_many(p, msgs, N, 0, &accepted), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("UTF");
    CHECK_MSG(strstr(kmq_last_error(), "msgs[6]") != NULL, "error does not name msgs[6]: \"%s\"", kmq_last_error());
    CHECK_MSG(accepted == K, "accepted %zu, expected %d", accepted, K);

    uint64_t first = 0;
    CHECK_STATUS(kmq_send_many_tracked(p, msgs, N, 0, &accepted, &first), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(accepted == K, "tracked: accepted %zu, expected %d", accepted, K);
    expect_reports(p, first, K, KMQ_OK);

    CHECK_OK(kmq_flush(p, 5000));
    CHECK_PRODUCER_STATS(p, 2 * K, 2 * K, 0, 0);
    expect_messages(c, msgs, K, 0);
    expect_messages(c, msgs, K, 300);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_queue_full_part_way(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "many-bounded", "queue_max", "10", NULL));
    batch *m = make_batch("held");
    REQUIRE(p != NULL && m != NULL);

    size_t accepted = 99;
    CHECK_OK(kmq_send_many(p, m->bufs, 4, 0, &accepted));
    CHECK(accepted == 4);
    uint64_t first = 0;
    CHECK_STATUS(kmq_send_many_tracked(p, m->bufs, 25, 0, &accepted, &first), KMQ_ERR_QUEUE_FULL);
    CHECK_ERROR_NAMES("queue_max");
    CHECK_MSG(strstr(kmq_last_error(), "6 of 25") != NULL && strstr(kmq_last_error(), "msgs[6]") != NULL,
              "error does not say 6 of 25 and msgs[6]: \"%s\"", kmq_last_error());
    CHECK_MSG(accepted == 6, "accepted %zu, expected 6", accepted);
    CHECK_STATUS(kmq_send_many(p, m->bufs, 2, 0, &accepted), KMQ_ERR_QUEUE_FULL);
    CHECK(accepted == 0);
    CHECK_PRODUCER_STATS(p, 10, 0, 0, 10);

    /* Closing fails what is held; the tracked six report it. */
    kmq_producer_close(p);
    expect_reports(p, first, 6, KMQ_ERR_CLOSED);
    free(m);
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_closed_producer(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "many-closed", NULL));
    REQUIRE(p != NULL);
    kmq_producer_close(p);

    kmq_buf msgs[] = {{"one", 3}, {"two", 3}};
    size_t accepted = 99;
    uint64_t first = 99;
    CHECK_STATUS(kmq_send_many(p, msgs, 2, 0, &accepted), KMQ_ERR_CLOSED);
    CHECK(accepted == 0);
    CHECK_STATUS(kmq_send_many_tracked(p, msgs, 2, 0, &accepted, &first), KMQ_ERR_CLOSED);
    CHECK(accepted == 0 && first == 0);
    CHECK_STATUS(kmq_send_many(p, msgs, 0, 0, &accepted), KMQ_ERR_CLOSED);
    CHECK_PRODUCER_STATS(p, 0, 0, 0, 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

int main(void) {
    RUN(test_thousand_in_order);
    RUN(test_tracked_reports_for_accepted_ids);
    RUN(test_null_args);
    RUN(test_invalid_utf8_stops_at_its_index);
    RUN(test_queue_full_part_way);
    RUN(test_closed_producer);
    return harness_exit();
}
