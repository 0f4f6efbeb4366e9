/* Bad input is refused up front with KMQ_ERR_INVALID_ARGUMENT and a message
 * that names what was wrong: non-UTF-8 data, names the server's routing
 * would mangle, unknown keys, bad ports and protocols. */
#include "harness.h"

/* kmq_config_set(cfg, key, value) must refuse the value, naming the key. */
static void check_refused(kmq_config *cfg, const char *key, const char *value) {
    kmq_status st = kmq_config_set(cfg, key, value);
    if (CHECK_MSG(st == KMQ_ERR_INVALID_ARGUMENT, "%s=\"%.40s\" gave %s, expected KMQ_ERR_INVALID_ARGUMENT", key,
                  value, kmq_status_str(st)) &&
        *key != '\0') {
        CHECK_ERROR_NAMES(key);
    }
}

static void check_accepted(kmq_config *cfg, const char *key, const char *value) {
    kmq_status st = kmq_config_set(cfg, key, value);
    CHECK_MSG(st == KMQ_OK, "%s=\"%.40s\" gave %s", key, value, kmq_status_str(st));
}

static void test_non_utf8_data_is_refused_and_not_sent(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "bytes", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "bytes", NULL));
    REQUIRE(c != NULL && p != NULL);

    static const char *const bad[] = {
        "\xff\xfe",           /* never valid in UTF-8 */
        "ok then \xc3",       /* a sequence cut short */
        "\xc0\xaf",           /* overlong "/" */
        "\xed\xa0\x80",       /* a UTF-16 surrogate */
        "abc\x80xyz",         /* a stray continuation byte */
    };
    uint64_t id;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        CHECK_STATUS(kmq_send(p, bad[i], len, 0), KMQ_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_NAMES("data");
        CHECK_STATUS(kmq_send_wait(p, bad[i], len, 0, 1000), KMQ_ERR_INVALID_ARGUMENT);
        CHECK_STATUS(kmq_send_tracked(p, bad[i], len, 0, &id), KMQ_ERR_INVALID_ARGUMENT);
    }
    /* Empty data is not a message either, nor more than 16 MiB. */
    CHECK_STATUS(kmq_send(p, "", 0, 0), KMQ_ERR_INVALID_ARGUMENT);
    size_t huge_len = (16u << 20) + 1;
    char *huge = malloc(huge_len);
    REQUIRE(huge != NULL);
    memset(huge, 'h', huge_len);
    CHECK_STATUS(kmq_send(p, huge, huge_len, 0), KMQ_ERR_INVALID_ARGUMENT);
    free(huge);

    CHECK_PRODUCER_STATS(p, 0, 0, 0, 0);

    /* Only the valid message arrives, nothing before it; the bad byte after
     * its `len` bytes is not looked at. */
    CHECK_OK(kmq_send_wait(p, "valid\xff", 5, 0, 5000));
    kmq_message *m = NULL;
    REQUIRE_OK(kmq_receive(c, 5000, &m));
    size_t len = 0;
    const char *data = kmq_message_data(m, &len);
    CHECK_MSG(len == 5 && memcmp(data, "valid", 5) == 0, "received \"%.*s\"", (int)len, data);
    kmq_message_free(m);
    m = NULL;
    CHECK_STATUS(kmq_receive(c, 300, &m), KMQ_ERR_TIMEOUT);
    kmq_message_free(m);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_bad_names_are_refused(void) {
    char long_name[301], longest_ok[256];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    memset(longest_ok, 'b', sizeof longest_ok - 1);
    longest_ok[sizeof longest_ok - 1] = '\0';
    const char *const bad[] = {"a/b", "a%2Fb", "100%", "what?", "a#b", "a b", " ", "a\tb", "a\nb", "a\x01" "b", "",
                               long_name};
    const char *const keys[] = {"topic", "producer_id", "consumer_id"};

    kmq_config *cfg = kmq_config_new();
    REQUIRE(cfg != NULL);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            check_refused(cfg, keys[k], bad[i]);
        }
        /* The limits themselves are fine. */
        check_accepted(cfg, keys[k], longest_ok);
        check_accepted(cfg, keys[k], "orders.v2-EU_1:x");
    }
    kmq_config_free(cfg);
}

static void test_bad_keys_ports_and_protocols(void) {
    kmq_config *cfg = kmq_config_new();
    REQUIRE(cfg != NULL);
    check_refused(cfg, "no_such_key", "1");
    check_refused(cfg, "Topic", "t"); /* keys are exact */
    check_refused(cfg, "", "t");

    const char *const ports[] = {"mq_port", "registry_port"};
    const char *const bad_ports[] = {"0", "65536", "-1", "abc", "", "80x", " 80", "99999999999999999999"};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
            check_refused(cfg, ports[k], bad_ports[i]);
        }
        check_accepted(cfg, ports[k], "1");
        check_accepted(cfg, ports[k], "65535");
    }

    const char *const bad_mq[] = {"http", "tcp", "", "ws://"};
    for (size_t i = 0; i < sizeof bad_mq / sizeof bad_mq[0]; i++) {
        check_refused(cfg, "mq_protocol", bad_mq[i]);
    }
    check_accepted(cfg, "mq_protocol", "wss");
    check_accepted(cfg, "mq_protocol", "ws");
    const char *const bad_registry[] = {"ws", "ftp", ""};
    for (size_t i = 0; i < sizeof bad_registry / sizeof bad_registry[0]; i++) {
        check_refused(cfg, "registry_protocol", bad_registry[i]);
    }
    check_accepted(cfg, "registry_protocol", "https");

    const char *const numbers[] = {"check_time", "message_timeout_ms", "connect_timeout_ms", "queue_max",
                                   "receive_buffer"};
    for (size_t k = 0; k < sizeof numbers / sizeof numbers[0]; k++) {
        check_refused(cfg, numbers[k], "abc");
        check_refused(cfg, numbers[k], "-5");
        check_refused(cfg, numbers[k], "");
    }
    kmq_config_free(cfg);
}

/* A refused value leaves the earlier one in place: the config still
 * connects to the right port. */
static void test_refused_value_keeps_previous(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_config *cfg = config_for(b.port, "keep", NULL);
    REQUIRE(cfg != NULL);
    check_refused(cfg, "mq_port", "not-a-port");
    check_refused(cfg, "topic", "a/b");
    kmq_producer *p = new_producer(cfg);
    CHECK(p != NULL);
    kmq_producer_free(p);
    broker_kill(&b);
}

int main(void) {
    RUN(test_non_utf8_data_is_refused_and_not_sent);
    RUN(test_bad_names_are_refused);
    RUN(test_bad_keys_ports_and_protocols);
    RUN(test_refused_value_keeps_previous);
    return harness_exit();
}
