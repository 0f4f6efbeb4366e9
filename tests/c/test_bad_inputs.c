/* Bad input, as one table: NULL for each pointer, every config key with bad
 * values, names with each forbidden character, empty and over-long names
 * and data, non-UTF-8, calls on closed handles, handles of the wrong type,
 * a secret key the server stopped accepting, odd timeouts and delays.
 * Each row gets its documented status and, when it fails, a kmq_last_error()
 * message that names the problem; each row is its own test case (with the
 * harness's watchdog), so none may crash or hang, and run.sh --valgrind
 * checks that none leaks. KMQ_TEST_VERBOSE=1 prints each error message. */
#include "harness.h"

#include <pthread.h>

/* What a row needs before its call. */
typedef enum {
    BARE,        /* a config for a port nothing listens on, no broker */
    LIVE,        /* a broker, a producer and a consumer on one topic */
    CLOSED,      /* LIVE, then both handles closed (not freed) */
    KEY_CHANGED, /* LIVE, then the broker restarted with another key */
} setup;

typedef struct fixture {
    broker b;
    kmq_config *cfg; /* complete and valid for the broker (or the closed port) */
    kmq_producer *p;
    kmq_consumer *c;
} fixture;

typedef struct row row;
struct row {
    const char *name;
    setup needs;
    kmq_status (*call)(fixture *f, const row *r);
    const char *key;   /* config rows: the key */
    const char *value; /* config rows: the value; send and ack rows: data or code */
    size_t len;        /* data length; 0 with a value: strlen(value) */
    int64_t n;         /* delay, timeout or capacity, as the call says */
    kmq_status want;
    const char *names; /* a word the error must name; NULL when want is KMQ_OK */
};

/* The row's data length. */
static size_t row_len(const row *r) {
    return r->len != 0 || r->value == NULL ? r->len : strlen(r->value);
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */

static kmq_status config_set(fixture *f, const row *r) {
    return kmq_config_set(f->cfg, r->key, r->value);
}

/* A value accepted at kmq_config_set may still be refused when a
 * producer is made with it (a file that is not there). */
static kmq_status producer_with(fixture *f, const row *r) {
    if (r->key != NULL && !CHECK_OK(kmq_config_set(f->cfg, r->key, r->value))) {
        return KMQ_ERR_INTERNAL;
    }
    kmq_producer *p = (kmq_producer *)&p; /* any non-NULL value */
    kmq_status st = kmq_producer_new(f->cfg, &p);
    CHECK_MSG(st == KMQ_OK ? p != NULL : p == NULL, "*out must be NULL after a failure");
    if (st == KMQ_OK) {
        kmq_producer_free(p);
    }
    return st;
}

/* As producer_with, over wss (where the TLS keys count). */
static kmq_status wss_producer_with(fixture *f, const row *r) {
    CHECK_OK(kmq_config_set(f->cfg, "mq_protocol", "wss"));
    return producer_with(f, r);
}

static kmq_status consumer_with(fixture *f, const row *r) {
    if (r->key != NULL && !CHECK_OK(kmq_config_set(f->cfg, r->key, r->value))) {
        return KMQ_ERR_INTERNAL;
    }
    kmq_consumer *c = (kmq_consumer *)&c;
    kmq_status st = kmq_consumer_new(f->cfg, &c);
    CHECK_MSG(st == KMQ_OK ? c != NULL : c == NULL, "*out must be NULL after a failure");
    if (st == KMQ_OK) {
        kmq_consumer_free(c);
    }
    return st;
}

/* A config that lacks r->key (topic, producer_id or consumer_id). */
static kmq_status missing_key(fixture *f, const row *r) {
    (void)f;
    kmq_config *cfg = kmq_config_new();
    const char *const keys[] = {"topic", "producer_id", "consumer_id"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(keys[i], r->key) != 0) {
            CHECK_OK(kmq_config_set(cfg, keys[i], "x"));
        }
    }
    CHECK_OK(kmq_config_set(cfg, "mq_port", "9"));
    kmq_producer *p = NULL;
    kmq_consumer *c = NULL;
    kmq_status st = strcmp(r->key, "consumer_id") == 0 ? kmq_consumer_new(cfg, &c) : kmq_producer_new(cfg, &p);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    kmq_config_free(cfg);
    return st;
}

static kmq_status send_now(fixture *f, const row *r) {
    return kmq_send(f->p, r->value, row_len(r), r->n);
}

static kmq_status send_tracked(fixture *f, const row *r) {
    uint64_t id = 99;
    kmq_status st = kmq_send_tracked(f->p, r->value, row_len(r), r->n, &id);
    CHECK_MSG(st == KMQ_OK ? id != 0 : id == 0, "id %llu after %s", (unsigned long long)id, kmq_status_str(st));
    return st;
}

/* r->n is the delay; the broker confirms within 5 s. */
static kmq_status send_wait_delay(fixture *f, const row *r) {
    return kmq_send_wait(f->p, r->value, row_len(r), r->n, 5000);
}

/* r->n is the timeout. */
static kmq_status send_wait_timeout(fixture *f, const row *r) {
    return kmq_send_wait(f->p, "x", 1, 0, r->n);
}

static kmq_status data_over_16_mib(fixture *f, const row *r) {
    (void)r;
    size_t len = (16u << 20) + 1;
    char *big = malloc(len);
    if (!CHECK(big != NULL)) {
        return KMQ_ERR_INTERNAL;
    }
    memset(big, 'b', len);
    kmq_status st = kmq_send(f->p, big, len, 0);
    free(big);
    return st;
}

/* A message is confirmed before the flush: r->n is the flush's timeout. */
static kmq_status flush_timeout(fixture *f, const row *r) {
    CHECK_OK(kmq_send(f->p, "to flush", 8, 0));
    return kmq_flush(f->p, r->n);
}

/* r->n is the capacity; a report is on its way. */
static kmq_status poll_capacity(fixture *f, const row *r) {
    uint64_t id = 0;
    CHECK_OK(kmq_send_tracked(f->p, "report me", 9, 0, &id));
    kmq_delivery_report reports[4];
    size_t count = 99;
    kmq_status st = kmq_poll_reports(f->p, reports, (size_t)r->n, 5000, &count);
    CHECK_MSG(st == KMQ_OK ? count >= 1 && reports[0].id == id : count == 0, "count %zu after %s", count,
              kmq_status_str(st));
    return st;
}

/* r->n is the timeout; a report is on its way. */
static kmq_status poll_timeout(fixture *f, const row *r) {
    uint64_t id = 0;
    CHECK_OK(kmq_send_tracked(f->p, "report me", 9, 0, &id));
    kmq_delivery_report reports[4];
    size_t count = 0;
    return kmq_poll_reports(f->p, reports, 4, r->n, &count);
}

static void *send_later(void *arg) {
    sleep_ms(300);
    kmq_send((kmq_producer *)arg, "later", 5, 0);
    return NULL;
}

/* r->n is the timeout; a message is sent 300 ms into the wait, so only a
 * call that waits gets it. */
static kmq_status receive_timeout(fixture *f, const row *r) {
    pthread_t th;
    if (!CHECK(pthread_create(&th, NULL, send_later, f->p) == 0)) {
        return KMQ_ERR_INTERNAL;
    }
    kmq_message *m = (kmq_message *)&m;
    kmq_status st = kmq_receive(f->c, r->n, &m);
    pthread_join(th, NULL);
    CHECK_MSG(st == KMQ_OK ? m != NULL : m == NULL, "*out after %s", kmq_status_str(st));
    if (st == KMQ_OK) {
        kmq_message_free(m);
    }
    return st;
}

static kmq_status receive_now(fixture *f, const row *r) {
    kmq_message *m = NULL;
    kmq_status st = kmq_receive(f->c, r->n, &m);
    kmq_message_free(m);
    return st;
}

static kmq_status ack(fixture *f, const row *r) {
    return kmq_ack(f->c, r->value);
}

static kmq_status flush_now(fixture *f, const row *r) {
    return kmq_flush(f->p, r->n);
}

static kmq_status poll_now(fixture *f, const row *r) {
    kmq_delivery_report reports[4];
    size_t count = 0;
    return kmq_poll_reports(f->p, reports, 4, r->n, &count);
}

/* The handle stays valid after close: its counters can still be read,
 * and closing again does nothing. */
static kmq_status stats_after_close(fixture *f, const row *r) {
    (void)r;
    kmq_producer_close(f->p);
    kmq_consumer_close(f->c);
    kmq_producer_stats ps;
    kmq_consumer_stats cs;
    kmq_status st = kmq_producer_get_stats(f->p, &ps);
    return st != KMQ_OK ? st : kmq_consumer_get_stats(f->c, &cs);
}

/* Retries `call` while it says `retry` (the reconnect that meets the new
 * key takes a moment), for at most 10 s. */
static kmq_status until_not(kmq_status retry, kmq_status (*call)(fixture *, const row *), fixture *f,
                            const row *r) {
    int64_t deadline = now_ms() + 10000;
    kmq_status st;
    while ((st = call(f, r)) == retry && now_ms() < deadline) {
        sleep_ms(50);
    }
    return st;
}

static kmq_status send_after_key_change(fixture *f, const row *r) {
    return until_not(KMQ_OK, send_now, f, r);
}

static kmq_status receive_after_key_change(fixture *f, const row *r) {
    return until_not(KMQ_ERR_TIMEOUT, receive_now, f, r);
}

/* Once the send was refused, the others are too. */
static kmq_status flush_after_key_change(fixture *f, const row *r) {
    kmq_status st = send_after_key_change(f, r);
    return st != KMQ_ERR_AUTH ? st : kmq_flush(f->p, 1000);
}

/* NULL in each pointer argument, one function each. */
#define NULL_CASE(fn, expr)                              \
    static kmq_status fn(fixture *f, const row *r) {     \
        (void)f;                                         \
        (void)r;                                         \
        return (expr);                                   \
    }

static kmq_producer *dummy_producer_out;
static kmq_consumer *dummy_consumer_out;
static uint64_t dummy_id;
static size_t dummy_count;
static kmq_delivery_report dummy_reports[2];
static kmq_producer_stats dummy_pstats;
static kmq_consumer_stats dummy_cstats;
static char *dummy_json;
static char dummy_text[64];

NULL_CASE(null_set_cfg, kmq_config_set(NULL, "topic", "t"))
NULL_CASE(null_set_key, kmq_config_set(f->cfg, NULL, "t"))
NULL_CASE(null_set_value, kmq_config_set(f->cfg, "topic", NULL))
NULL_CASE(null_producer_cfg, kmq_producer_new(NULL, &dummy_producer_out))
NULL_CASE(null_producer_out, kmq_producer_new(f->cfg, NULL))
NULL_CASE(null_cluster_producer_cfg, kmq_cluster_producer_new(NULL, &dummy_producer_out))
NULL_CASE(null_cluster_producer_out, kmq_cluster_producer_new(f->cfg, NULL))
NULL_CASE(null_consumer_cfg, kmq_consumer_new(NULL, &dummy_consumer_out))
NULL_CASE(null_consumer_out, kmq_consumer_new(f->cfg, NULL))
NULL_CASE(null_cluster_consumer_out, kmq_cluster_consumer_new(f->cfg, NULL))
NULL_CASE(null_send_producer, kmq_send(NULL, "x", 1, 0))
NULL_CASE(null_send_data, kmq_send(f->p, NULL, 1, 0))
NULL_CASE(null_send_wait_producer, kmq_send_wait(NULL, "x", 1, 0, 100))
NULL_CASE(null_send_wait_data, kmq_send_wait(f->p, NULL, 1, 0, 100))
NULL_CASE(null_tracked_producer, kmq_send_tracked(NULL, "x", 1, 0, &dummy_id))
NULL_CASE(null_tracked_data, kmq_send_tracked(f->p, NULL, 1, 0, &dummy_id))
NULL_CASE(null_tracked_id, kmq_send_tracked(f->p, "x", 1, 0, NULL))
NULL_CASE(null_poll_producer, kmq_poll_reports(NULL, dummy_reports, 2, 0, &dummy_count))
NULL_CASE(null_poll_reports, kmq_poll_reports(f->p, NULL, 2, 0, &dummy_count))
NULL_CASE(null_poll_count, kmq_poll_reports(f->p, dummy_reports, 2, 0, NULL))
NULL_CASE(null_flush_producer, kmq_flush(NULL, 0))
NULL_CASE(null_pstats_producer, kmq_producer_get_stats(NULL, &dummy_pstats))
NULL_CASE(null_pstats_out, kmq_producer_get_stats(f->p, NULL))
NULL_CASE(null_pjson_producer, kmq_producer_stats_json(NULL, dummy_text, sizeof dummy_text, &dummy_count))
NULL_CASE(null_pjson_len, kmq_producer_stats_json(f->p, dummy_text, sizeof dummy_text, NULL))
NULL_CASE(null_pjson_buf, kmq_producer_stats_json(f->p, NULL, 0, &dummy_count))
NULL_CASE(null_receive_consumer, kmq_receive(NULL, 0, (kmq_message **)&dummy_json))
NULL_CASE(null_receive_out, kmq_receive(f->c, 0, NULL))
NULL_CASE(null_ack_consumer, kmq_ack(NULL, "0123456789abcdef0123456789abcdef"))
NULL_CASE(null_ack_code, kmq_ack(f->c, NULL))
NULL_CASE(null_cstats_consumer, kmq_consumer_get_stats(NULL, &dummy_cstats))
NULL_CASE(null_cstats_out, kmq_consumer_get_stats(f->c, NULL))
NULL_CASE(null_cjson_consumer, kmq_consumer_stats_json(NULL, dummy_text, sizeof dummy_text, &dummy_count))
NULL_CASE(null_cjson_len, kmq_consumer_stats_json(f->c, dummy_text, sizeof dummy_text, NULL))
NULL_CASE(null_prom_len, kmq_prometheus_text(NULL, 0, NULL, 0, dummy_text, sizeof dummy_text, NULL))
NULL_CASE(null_prom_producers, kmq_prometheus_text(NULL, 1, NULL, 0, dummy_text, sizeof dummy_text, &dummy_count))
NULL_CASE(null_prom_a_producer, kmq_prometheus_text((const kmq_producer *const *)&dummy_json, 1, NULL, 0, dummy_text, sizeof dummy_text, &dummy_count))

/* A handle of one type passed where another is expected: the type tag
 * refuses it, naming the type that was expected. */
NULL_CASE(consumer_as_producer_send, kmq_send((kmq_producer *)f->c, "x", 1, 0))
NULL_CASE(consumer_as_producer_stats, kmq_producer_get_stats((kmq_producer *)f->c, &dummy_pstats))
NULL_CASE(producer_as_consumer_receive, kmq_receive((kmq_consumer *)f->p, 0, (kmq_message **)&dummy_json))
NULL_CASE(producer_as_consumer_ack, kmq_ack((kmq_consumer *)f->p, "0123456789abcdef0123456789abcdef"))
NULL_CASE(config_as_producer_flush, kmq_flush((kmq_producer *)f->cfg, 0))
NULL_CASE(consumer_as_config_set, kmq_config_set((kmq_config *)f->c, "topic", "t"))
NULL_CASE(producer_as_config_new, kmq_producer_new((kmq_config *)f->p, &dummy_producer_out))

/* Freeing a handle as the wrong type frees nothing: the consumer still
 * works afterwards. */
static kmq_status free_consumer_as_producer(fixture *f, const row *r) {
    (void)r;
    kmq_producer_free((kmq_producer *)f->c);
    kmq_config_free((kmq_config *)f->c);
    return kmq_consumer_get_stats(f->c, &dummy_cstats);
}

/* An accessor of a message given a consumer: NULL, and the error says why. */
static kmq_status consumer_as_message(fixture *f, const row *r) {
    (void)r;
    return kmq_message_code((const kmq_message *)f->c) == NULL ? KMQ_ERR_INVALID_ARGUMENT : KMQ_OK;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

#define CONFIG(k, v, label) {"config " k " " label, BARE, config_set, k, v, 0, 0, KMQ_ERR_INVALID_ARGUMENT, k}
#define CONFIG_OK(k, v, label) {"config " k " " label " is fine", BARE, config_set, k, v, 0, 0, KMQ_OK, NULL}
/* A forbidden character in each name key. */
#define NAME_CHAR(ch, label)                                          \
    CONFIG("topic", "a" ch "b", "with " label),                      \
    CONFIG("producer_id", "a" ch "b", "with " label),                \
    CONFIG("consumer_id", "a" ch "b", "with " label)
#define NULL_ARG(fn, needs, arg) {"NULL " arg " to " #fn, needs, fn, NULL, NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT, arg}
#define WRONG_TYPE(fn, expected) {"wrong handle type: " #fn, LIVE, fn, NULL, NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT, expected}
#define DATA(label, v, n) {"data " label, LIVE, send_now, NULL, v, n, 0, KMQ_ERR_INVALID_ARGUMENT, "data"}
#define ON_CLOSED(label, fn, n) {"closed handle: " label, CLOSED, fn, NULL, "x", 0, n, KMQ_ERR_CLOSED, "closed"}
#define TIMEOUT(label, fn, n) {label, LIVE, fn, NULL, NULL, 0, n, KMQ_OK, NULL}

/* 256 bytes: one more than a name may have. */
#define N16 "nnnnnnnnnnnnnnnn"
#define LONG_NAME N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16

static const row table[] = {
    /* NULL for each pointer argument. */
    NULL_ARG(null_set_cfg, BARE, "cfg"),
    NULL_ARG(null_set_key, BARE, "key"),
    NULL_ARG(null_set_value, BARE, "value"),
    NULL_ARG(null_producer_cfg, BARE, "cfg"),
    NULL_ARG(null_producer_out, BARE, "out"),
    NULL_ARG(null_cluster_producer_cfg, BARE, "cfg"),
    NULL_ARG(null_cluster_producer_out, BARE, "out"),
    NULL_ARG(null_consumer_cfg, BARE, "cfg"),
    NULL_ARG(null_consumer_out, BARE, "out"),
    NULL_ARG(null_cluster_consumer_out, BARE, "out"),
    NULL_ARG(null_send_producer, BARE, "producer"),
    NULL_ARG(null_send_data, LIVE, "data"),
    NULL_ARG(null_send_wait_producer, BARE, "producer"),
    NULL_ARG(null_send_wait_data, LIVE, "data"),
    NULL_ARG(null_tracked_producer, BARE, "producer"),
    NULL_ARG(null_tracked_data, LIVE, "data"),
    NULL_ARG(null_tracked_id, LIVE, "id"),
    NULL_ARG(null_poll_producer, BARE, "producer"),
    NULL_ARG(null_poll_reports, LIVE, "reports"),
    NULL_ARG(null_poll_count, LIVE, "count"),
    NULL_ARG(null_flush_producer, BARE, "producer"),
    NULL_ARG(null_pstats_producer, BARE, "producer"),
    NULL_ARG(null_pstats_out, LIVE, "out"),
    NULL_ARG(null_pjson_producer, BARE, "producer"),
    NULL_ARG(null_pjson_len, LIVE, "len"),
    NULL_ARG(null_pjson_buf, LIVE, "too small"),
    NULL_ARG(null_receive_consumer, BARE, "consumer"),
    NULL_ARG(null_receive_out, LIVE, "out"),
    NULL_ARG(null_ack_consumer, BARE, "consumer"),
    NULL_ARG(null_ack_code, LIVE, "message_code"),
    NULL_ARG(null_cstats_consumer, BARE, "consumer"),
    NULL_ARG(null_cstats_out, LIVE, "out"),
    NULL_ARG(null_cjson_consumer, BARE, "consumer"),
    NULL_ARG(null_cjson_len, LIVE, "len"),
    NULL_ARG(null_prom_len, BARE, "len"),
    NULL_ARG(null_prom_producers, BARE, "producers"),
    NULL_ARG(null_prom_a_producer, BARE, "producer"),

    /* Every config key with bad values, named in the error. */
    CONFIG("mq_addr", "", "empty"),
    CONFIG("mq_addr", "a b", "with a space"),
    CONFIG("mq_addr", "host/path", "with a slash"),
    CONFIG("mq_addr", "user@host", "with user info"),
    CONFIG("mq_port", "0", "0"),
    CONFIG("mq_port", "65536", "65536"),
    CONFIG("mq_port", "-1", "negative"),
    CONFIG("mq_port", "8011x", "with a suffix"),
    CONFIG("mq_protocol", "http", "http"),
    CONFIG("mq_protocol", "WS", "upper case"),
    CONFIG("mq_protocol", "", "empty"),
    CONFIG("secret_key", "line\nbreak", "with a newline"),
    CONFIG("secret_key", "bell\a", "with a control character"),
    CONFIG("check_time", "0", "0"),
    CONFIG("check_time", "86401", "over a day"),
    CONFIG("check_time", "1.5", "fractional"),
    CONFIG("registry_addr", "", "empty"),
    CONFIG("registry_addr", "a#b", "with #"),
    CONFIG("registry_port", "0", "0"),
    CONFIG("registry_port", "port", "not a number"),
    CONFIG("registry_protocol", "ws", "ws"),
    CONFIG("registry_protocol", "HTTPS", "upper case"),
    CONFIG("message_timeout_ms", "0", "0"),
    CONFIG("message_timeout_ms", "604800001", "over a week"),
    CONFIG("message_timeout_ms", "1e3", "in exponent form"),
    CONFIG("connect_timeout_ms", "0", "0"),
    CONFIG("connect_timeout_ms", "3600001", "over an hour"),
    CONFIG("queue_max", "0", "0"),
    CONFIG("queue_max", "100000001", "over 10^8"),
    CONFIG("queue_max", "18446744073709551616", "over 2^64"),
    CONFIG("receive_buffer", "0", "0"),
    CONFIG("receive_buffer", "10000001", "over 10^7"),
    CONFIG("standby_addr", "", "empty"),
    CONFIG("standby_addr", "a?b", "with ?"),
    CONFIG("standby_port", "0", "0"),
    CONFIG("standby_port", "65536", "65536"),
    CONFIG("tls_ca_file", "", "empty"),
    CONFIG("tls_verify", "maybe", "maybe"),
    CONFIG("tls_verify", "", "empty"),
    CONFIG("tls_pin_sha256", "", "empty"),
    CONFIG("tls_pin_sha256", "AB:CD", "too short"),
    CONFIG("tls_pin_sha256", "00000000000000000000000000000000000000000000000000000000000000ff,", "a list ending in a comma"),
    CONFIG("no_such_key", "1", "(unknown key)"),
    {"config key not UTF-8", BARE, config_set, "topic\xff", "t", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "key"},
    {"config value not UTF-8", BARE, config_set, "topic", "t\xff", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "value"},
    /* The limits themselves are accepted. */
    CONFIG_OK("mq_port", "65535", "65535"),
    CONFIG_OK("check_time", "86400", "a day"),
    CONFIG_OK("tls_verify", "false", "false"),
    CONFIG_OK("topic", &LONG_NAME[1], "of 255 bytes"),

    /* Names: each character that does not survive the server's routing,
     * empty, path steps, too long. */
    NAME_CHAR("/", "/"),
    NAME_CHAR("\\", "backslash"),
    NAME_CHAR("%", "%"),
    NAME_CHAR("?", "?"),
    NAME_CHAR("#", "#"),
    NAME_CHAR(" ", "a space"),
    NAME_CHAR("\t", "a tab"),
    NAME_CHAR("\n", "a newline"),
    NAME_CHAR("\x01", "a control character"),
    NAME_CHAR("\x7f", "DEL"),
    NAME_CHAR("\xc2\xa0", "a no-break space"),
    NAME_CHAR("\xe2\x80\xa8", "a line separator"),
    CONFIG("topic", "", "empty"),
    CONFIG("producer_id", "", "empty"),
    CONFIG("consumer_id", "", "empty"),
    CONFIG("topic", ".", "a path step ."),
    CONFIG("topic", "..", "a path step .."),
    CONFIG("topic", LONG_NAME, "of 256 bytes"),
    CONFIG("producer_id", LONG_NAME, "of 256 bytes"),
    CONFIG("consumer_id", LONG_NAME, "of 256 bytes"),
    {"producer without topic", BARE, missing_key, "topic", NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT, "topic"},
    {"producer without producer_id", BARE, missing_key, "producer_id", NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT,
     "producer_id"},
    {"consumer without consumer_id", BARE, missing_key, "consumer_id", NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT,
     "consumer_id"},

    /* Values accepted by kmq_config_set that fail when connecting. */
    {"tls_ca_file that does not exist", BARE, wss_producer_with, "tls_ca_file", "/nonexistent/ca.pem", 0, 0,
     KMQ_ERR_INVALID_ARGUMENT, "tls_ca_file"},
    {"tls_ca_file that holds no certificate", BARE, wss_producer_with, "tls_ca_file", "/dev/null", 0, 0,
     KMQ_ERR_INVALID_ARGUMENT, "tls_ca_file"},
    {"producer to a port nothing listens on", BARE, producer_with, NULL, NULL, 0, 0, KMQ_ERR_CONNECT,
     "127.0.0.1"},
    {"consumer to a port nothing listens on", BARE, consumer_with, NULL, NULL, 0, 0, KMQ_ERR_CONNECT,
     "127.0.0.1"},
    {"wss to a plain-text broker", LIVE, producer_with, "mq_protocol", "wss", 0, 0, KMQ_ERR_CONNECT, "wss"},
    {"producer with a wrong secret key", LIVE, producer_with, "secret_key", "wrong", 0, 0, KMQ_ERR_AUTH, "key"},
    {"consumer with a wrong secret key", LIVE, consumer_with, "secret_key", "wrong", 0, 0, KMQ_ERR_AUTH, "key"},

    /* Data: empty, too long, not UTF-8, a length no buffer has. */
    DATA("empty", "", 0),
    {"data NULL with length 0", LIVE, send_now, NULL, NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT, "data"},
    {"data over 16 MiB", LIVE, data_over_16_mib, NULL, NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT, "data"},
    {"data of length SIZE_MAX", LIVE, send_now, NULL, "x", SIZE_MAX, 0, KMQ_ERR_INVALID_ARGUMENT, "data"},
    DATA("0xFF 0xFE (never UTF-8)", "\xff\xfe", 0),
    DATA("cut-short sequence", "ok \xc3", 0),
    DATA("overlong /", "\xc0\xaf", 0),
    DATA("UTF-16 surrogate", "\xed\xa0\x80", 0),
    DATA("stray continuation byte", "abc\x80", 0),
    {"data not UTF-8 to send_tracked", LIVE, send_tracked, NULL, "\xff", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "data"},
    {"data not UTF-8 to send_wait", LIVE, send_wait_delay, NULL, "\xff", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "data"},
    {"data with a NUL inside is fine", LIVE, send_wait_delay, NULL, "a\0b", 3, 0, KMQ_OK, NULL},

    /* Message codes handed to kmq_ack. */
    {"ack code empty", LIVE, ack, NULL, "", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "code"},
    {"ack code with a space", LIVE, ack, NULL, "0123 4567", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "code"},
    {"ack code of 256 bytes", LIVE, ack, NULL, LONG_NAME, 0, 0, KMQ_ERR_INVALID_ARGUMENT, "code"},
    {"ack code not UTF-8", LIVE, ack, NULL, "\xff\xfe", 0, 0, KMQ_ERR_INVALID_ARGUMENT, "message_code"},
    {"ack of an unknown code is fine", LIVE, ack, NULL, "0123456789abcdef0123456789abcdef", 0, 0, KMQ_OK, NULL},

    /* Delays: whole seconds up to INT32_MAX; 0 or less delivers now. */
    {"delay INT32_MAX + 1", LIVE, send_now, NULL, "x", 0, (int64_t)INT32_MAX + 1, KMQ_ERR_INVALID_ARGUMENT,
     "delay"},
    {"delay INT64_MAX", LIVE, send_tracked, NULL, "x", 0, INT64_MAX, KMQ_ERR_INVALID_ARGUMENT, "delay"},
    {"delay INT32_MAX is fine", LIVE, send_wait_delay, NULL, "x", 0, INT32_MAX, KMQ_OK, NULL},
    {"delay -1 is fine", LIVE, send_wait_delay, NULL, "x", 0, -1, KMQ_OK, NULL},
    {"delay INT64_MIN is fine", LIVE, send_wait_delay, NULL, "x", 0, INT64_MIN, KMQ_OK, NULL},

    /* Timeouts: -1 waits without limit; other negative values do the same
     * (not documented in kapokmq.h); huge ones are no limit in practice. */
    TIMEOUT("send_wait timeout -2 waits", send_wait_timeout, -2),
    TIMEOUT("send_wait timeout INT64_MIN waits", send_wait_timeout, INT64_MIN),
    TIMEOUT("send_wait timeout INT64_MAX", send_wait_timeout, INT64_MAX),
    TIMEOUT("flush timeout -2 waits", flush_timeout, -2),
    TIMEOUT("flush timeout INT64_MAX", flush_timeout, INT64_MAX),
    TIMEOUT("poll_reports timeout INT64_MIN waits", poll_timeout, INT64_MIN),
    TIMEOUT("poll_reports timeout INT64_MAX", poll_timeout, INT64_MAX),
    TIMEOUT("receive timeout -2 waits", receive_timeout, -2),
    TIMEOUT("receive timeout INT64_MIN waits", receive_timeout, INT64_MIN),
    TIMEOUT("receive timeout INT64_MAX", receive_timeout, INT64_MAX),
    {"receive timeout 0 does not wait", LIVE, receive_timeout, NULL, NULL, 0, 0, KMQ_ERR_TIMEOUT, "0 ms"},
    {"poll_reports capacity 0", LIVE, poll_capacity, NULL, NULL, 0, 0, KMQ_ERR_INVALID_ARGUMENT, "capacity"},
    {"poll_reports capacity 1", LIVE, poll_capacity, NULL, NULL, 0, 1, KMQ_OK, NULL},

    /* Calls on closed handles. */
    ON_CLOSED("send", send_now, 0),
    ON_CLOSED("send_tracked", send_tracked, 0),
    ON_CLOSED("send_wait", send_wait_delay, 0),
    ON_CLOSED("flush", flush_now, 1000),
    ON_CLOSED("poll_reports", poll_now, 1000),
    ON_CLOSED("receive", receive_now, 1000),
    ON_CLOSED("ack", ack, 0),
    {"closed handle: stats, close again", CLOSED, stats_after_close, NULL, NULL, 0, 0, KMQ_OK, NULL},

    /* Handles of the wrong type. */
    WRONG_TYPE(consumer_as_producer_send, "kmq_producer"),
    WRONG_TYPE(consumer_as_producer_stats, "kmq_producer"),
    WRONG_TYPE(producer_as_consumer_receive, "kmq_consumer"),
    WRONG_TYPE(producer_as_consumer_ack, "kmq_consumer"),
    WRONG_TYPE(config_as_producer_flush, "kmq_producer"),
    WRONG_TYPE(consumer_as_config_set, "kmq_config"),
    WRONG_TYPE(producer_as_config_new, "kmq_config"),
    WRONG_TYPE(consumer_as_message, "kmq_message"),
    {"wrong handle type: free_consumer_as_producer frees nothing", LIVE, free_consumer_as_producer, NULL, NULL, 0,
     0, KMQ_OK, NULL},

    /* The broker restarted with another secret key: the reconnect is
     * refused, and the handles report it from then on. */
    {"key changed: send", KEY_CHANGED, send_after_key_change, NULL, "x", 0, 0, KMQ_ERR_AUTH, "key"},
    {"key changed: flush", KEY_CHANGED, flush_after_key_change, NULL, "x", 0, 0, KMQ_ERR_AUTH, "key"},
    {"key changed: receive", KEY_CHANGED, receive_after_key_change, NULL, NULL, 0, 100, KMQ_ERR_AUTH, "key"},
};

/* ------------------------------------------------------------------ */
/* Running a row                                                       */

static bool fixture_up(fixture *f, setup needs) {
    memset(f, 0, sizeof *f);
    if (needs == BARE) {
        f->cfg = config_for(closed_port(), "bad-inputs", "connect_timeout_ms", "2000", NULL);
        return f->cfg != NULL;
    }
    /* Two keys, so that the broker can be restarted with the other. */
    bool keyed = needs == KEY_CHANGED;
    if (keyed ? !broker_start(&f->b, "--secret-key", "first-key", NULL) : !broker_start(&f->b, NULL)) {
        return false;
    }
    f->cfg = config_for(f->b.port, "bad-inputs", "secret_key", keyed ? "first-key" : "test", "check_time", "1",
                        "connect_timeout_ms", "2000", NULL);
    if (f->cfg == NULL || !CHECK_OK(kmq_producer_new(f->cfg, &f->p)) || !CHECK_OK(kmq_consumer_new(f->cfg, &f->c))) {
        return false;
    }
    if (needs == CLOSED) {
        kmq_producer_close(f->p);
        kmq_consumer_close(f->c);
    }
    if (keyed) {
        f->b.args[1] = "second-key";
        return CHECK(broker_restart(&f->b));
    }
    return true;
}

static void fixture_down(fixture *f) {
    kmq_producer_free(f->p);
    kmq_consumer_free(f->c);
    kmq_config_free(f->cfg);
    broker_kill(&f->b);
}

static const row *current;

static void run_row(void) {
    const row *r = current;
    fixture f;
    /* A row whose fixture did not come up tested nothing: it fails. */
    static const char *const setups[] = {"bare", "live", "closed", "key-changed"};
    if (CHECK_MSG(fixture_up(&f, r->needs), "the %s fixture did not come up", setups[r->needs])) {
        kmq_status st = r->call(&f, r);
        if (CHECK_MSG(st == r->want, "returned %s, expected %s", kmq_status_str(st), kmq_status_str(r->want))) {
            if (r->names != NULL) {
                CHECK_ERROR_NAMES(r->names);
            } else if (r->want == KMQ_OK) {
                CHECK_MSG(kmq_last_error()[0] == '\0', "an error after success: \"%s\"", kmq_last_error());
            }
        }
        if (st != KMQ_OK && st == r->want && getenv("KMQ_TEST_VERBOSE") != NULL) {
            harness_note("%s: %s", kmq_status_str(st), kmq_last_error());
        }
    }
    fixture_down(&f);
}

int main(void) {
    size_t n = sizeof table / sizeof table[0];
    for (size_t i = 0; i < n; i++) {
        current = &table[i];
        harness_run(table[i].name, run_row);
    }
    harness_note("bad-input table: %zu cases", n);
    return harness_exit();
}
