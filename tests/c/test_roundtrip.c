/* One message there and back: bytes, metadata, acks, receive timeouts. */
#include "harness.h"

#include <ctype.h>

/* NUL bytes inside, and 2-, 3- and 4-byte UTF-8 sequences (é € 😀 漢). */
static const char payload[] = "nul:\0:between \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe6\xbc\xa2\0end";
#define PAYLOAD_LEN (sizeof payload - 1)

static bool is_lower_hex32(const char *s) {
    if (s == NULL || strlen(s) != 32) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f')) {
            return false;
        }
    }
    return true;
}

static void test_roundtrip_nul_and_utf8(void) {
    /* A short retry period, so an ack that never reached the server would
     * show up below as a second delivery. */
    broker b;
    REQUIRE(broker_start(&b, "--push-retry-ms", "1000", "--check-speed-ms", "200", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "round-trip", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "round-trip", NULL));
    REQUIRE(c != NULL && p != NULL);

    int64_t sent_at = (int64_t)time(NULL);
    REQUIRE_OK(kmq_send(p, payload, PAYLOAD_LEN, 0));
    CHECK_OK(kmq_flush(p, 5000));

    kmq_message *m = NULL;
    REQUIRE_OK(kmq_receive(c, 5000, &m));
    REQUIRE(m != NULL);
    size_t len = 12345;
    const char *data = kmq_message_data(m, &len);
    REQUIRE(data != NULL);
    CHECK_MSG(len == PAYLOAD_LEN, "length %zu, sent %zu", len, PAYLOAD_LEN);
    CHECK(len == PAYLOAD_LEN && memcmp(data, payload, PAYLOAD_LEN) == 0);
    CHECK(data[len] == '\0');
    CHECK(kmq_message_data(m, NULL) == data); /* the length is optional */

    const char *code = kmq_message_code(m);
    CHECK_MSG(is_lower_hex32(code), "message code \"%s\" is not 32 lowercase hex digits", code ? code : "(NULL)");
    CHECK(kmq_message_topic(m) != NULL && strcmp(kmq_message_topic(m), "round-trip") == 0);
    int64_t created = kmq_message_create_time(m);
    CHECK_MSG(created >= sent_at - 2 && created <= (int64_t)time(NULL) + 2,
              "create_time %lld, sent at %lld", (long long)created, (long long)sent_at);
    CHECK(kmq_message_delay_time(m) == 0);
    CHECK_MSG(kmq_message_status(m) == -1, "status %d, expected -1 (waiting)", kmq_message_status(m));
    CHECK(kmq_message_consumed_time(m) == 0);

    char code_copy[33] = "";
    if (code != NULL) {
        snprintf(code_copy, sizeof code_copy, "%s", code);
    }
    CHECK_OK(kmq_ack(c, code_copy));
    kmq_message_free(m);

    kmq_consumer_stats cs;
    CHECK_OK(kmq_consumer_get_stats(c, &cs));
    CHECK(cs.received == 1 && cs.acked == 1);

    /* Acked: the retry check (every 200 ms, after 1 s) must not push it again. */
    m = NULL;
    CHECK_STATUS(kmq_receive(c, 2500, &m), KMQ_ERR_TIMEOUT);
    if (m != NULL) {
        harness_note("redelivered after ack: code %s", kmq_message_code(m));
        kmq_message_free(m);
    }

    CHECK_PRODUCER_STATS(p, 1, 1, 0, 0);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_receive_timeout(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "quiet", NULL));
    REQUIRE(c != NULL);

    kmq_message *m = (kmq_message *)&b; /* any non-NULL value: it must be reset */
    int64_t t0 = now_ms();
    CHECK_STATUS(kmq_receive(c, 700, &m), KMQ_ERR_TIMEOUT);
    int64_t took = now_ms() - t0;
    CHECK(m == NULL);
    CHECK_MSG(took >= 650 && took <= 1700, "a 700 ms receive timeout took %lld ms", (long long)took);
    CHECK(kmq_last_error()[0] != '\0');

    m = (kmq_message *)&b;
    t0 = now_ms();
    CHECK_STATUS(kmq_receive(c, 0, &m), KMQ_ERR_TIMEOUT);
    took = now_ms() - t0;
    CHECK(m == NULL);
    CHECK_MSG(took <= 200, "a 0 ms receive took %lld ms", (long long)took);

    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_ack_unknown_code_is_harmless(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "acks", NULL));
    REQUIRE(c != NULL && p != NULL);

    CHECK_OK(kmq_ack(c, "0123456789abcdef0123456789abcdef"));
    CHECK_OK(kmq_ack(c, "not-a-message-code"));

    /* The consumer still works afterwards: its connection was not dropped. */
    REQUIRE_OK(kmq_send_wait(p, "after", 5, 0, 5000));
    kmq_message *m = NULL;
    REQUIRE_OK(kmq_receive(c, 5000, &m));
    size_t len = 0;
    const char *data = kmq_message_data(m, &len);
    CHECK(len == 5 && memcmp(data, "after", 5) == 0);
    CHECK_OK(kmq_ack(c, kmq_message_code(m)));
    CHECK_OK(kmq_ack(c, kmq_message_code(m))); /* twice: also harmless */
    kmq_message_free(m);

    kmq_consumer_stats cs;
    CHECK_OK(kmq_consumer_get_stats(c, &cs));
    CHECK_MSG(cs.reconnects == 0, "the consumer reconnected %llu times", (unsigned long long)cs.reconnects);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_large_message(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "large", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "large", NULL));
    REQUIRE(c != NULL && p != NULL);

    /* 1 MiB of text with characters JSON must escape. */
    size_t len = 1 << 20;
    char *big = malloc(len);
    REQUIRE(big != NULL);
    static const char pattern[] = "abc\"\\\n\t\x01/<>";
    for (size_t i = 0; i < len; i++) {
        big[i] = pattern[i % (sizeof pattern - 1)];
    }
    CHECK_OK(kmq_send_wait(p, big, len, 0, 10000));
    kmq_message *m = NULL;
    if (CHECK_OK(kmq_receive(c, 10000, &m))) {
        size_t got = 0;
        const char *data = kmq_message_data(m, &got);
        CHECK_MSG(got == len && memcmp(data, big, len) == 0, "received %zu bytes, sent %zu (or different bytes)",
                  got, len);
        kmq_message_free(m);
    }
    free(big);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

/* Frames that are not a message (here "garbage" before every 2nd push) are
 * skipped and counted; the messages around them arrive intact. */
static void test_bad_frames_are_skipped(void) {
    broker b;
    REQUIRE(broker_start(&b, "--garbage-push-every", "2", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "noisy", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "noisy", NULL));
    REQUIRE(c != NULL && p != NULL);
    char buf[16];
    for (int i = 0; i < 6; i++) {
        int n = snprintf(buf, sizeof buf, "clean %d", i);
        CHECK_OK(kmq_send(p, buf, (size_t)n, 0));
    }
    CHECK_OK(kmq_flush(p, 5000));
    for (int i = 0; i < 6; i++) {
        kmq_message *m = NULL;
        if (!CHECK_OK(kmq_receive(c, 5000, &m))) {
            break;
        }
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        int n = snprintf(buf, sizeof buf, "clean %d", i);
        CHECK_MSG(len == (size_t)n && memcmp(data, buf, len) == 0, "got \"%.*s\", expected \"%s\"", (int)len, data,
                  buf);
        CHECK_OK(kmq_ack(c, kmq_message_code(m)));
        kmq_message_free(m);
    }
    kmq_consumer_stats cs;
    CHECK_OK(kmq_consumer_get_stats(c, &cs));
    CHECK_MSG(cs.received == 6 && cs.bad_frames >= 1, "received %llu, bad frames %llu",
              (unsigned long long)cs.received, (unsigned long long)cs.bad_frames);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_roundtrip_nul_and_utf8);
    RUN(test_receive_timeout);
    RUN(test_ack_unknown_code_is_harmless);
    RUN(test_large_message);
    RUN(test_bad_frames_are_skipped);
    return harness_exit();
}
