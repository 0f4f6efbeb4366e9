/* Failing to connect is reported quickly, with the right status, a NULL
 * handle and a message that names the address; it never hangs. */
#include "harness.h"

typedef enum role { PRODUCER, CONSUMER } role;

/* Connects as `who` with `cfg` (freed here) and checks the failure: status
 * `want` (or `also`), *out NULL, within `max_ms`, and kmq_last_error()
 * naming 127.0.0.1:port. */
static void expect_failure(role who, kmq_config *cfg, int port, kmq_status want, kmq_status also,
                           int64_t max_ms) {
    if (cfg == NULL) {
        return;
    }
    const char *name = who == PRODUCER ? "producer" : "consumer";
    void *dummy = &dummy; /* a non-NULL value that must be overwritten */
    kmq_producer *p = dummy;
    kmq_consumer *c = dummy;
    int64_t t0 = now_ms();
    kmq_status st = who == PRODUCER ? kmq_producer_new(cfg, &p) : kmq_consumer_new(cfg, &c);
    int64_t took = now_ms() - t0;
    char error[1024];
    snprintf(error, sizeof error, "%s", kmq_last_error());
    kmq_config_free(cfg);

    CHECK_MSG(st == want || st == also, "%s: got %s, expected %s%s%s (%s)", name, kmq_status_str(st),
              kmq_status_str(want), want == also ? "" : " or ", want == also ? "" : kmq_status_str(also), error);
    CHECK_MSG(took <= max_ms, "%s: failing took %lld ms, limit %lld ms", name, (long long)took, (long long)max_ms);
    if (who == PRODUCER) {
        CHECK_MSG(p == NULL, "producer: *out not NULL after failure");
        if (st == KMQ_OK && p != NULL && p != dummy) {
            kmq_producer_free(p);
        }
    } else {
        CHECK_MSG(c == NULL, "consumer: *out not NULL after failure");
        if (st == KMQ_OK && c != NULL && c != dummy) {
            kmq_consumer_free(c);
        }
    }
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    CHECK_MSG(strstr(error, addr) != NULL, "%s: the error does not name %s: \"%s\"", name, addr, error);
    harness_note("%s: %s after %lld ms: %s", name, kmq_status_str(st), (long long)took, error);
}

static void test_wrong_key_is_auth_error(void) {
    broker b;
    REQUIRE(broker_start(&b, "--secret-key", "right-key", NULL));
    for (role who = PRODUCER; who <= CONSUMER; who++) {
        expect_failure(who, config_for(b.port, "keys", "secret_key", "wrong-key", NULL), b.port, KMQ_ERR_AUTH,
                       KMQ_ERR_AUTH, 5000);
    }
    /* The right key connects, so the failures above were about the key. */
    kmq_producer *p = new_producer(config_for(b.port, "keys", "secret_key", "right-key", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "keys", "secret_key", "right-key", NULL));
    CHECK(p != NULL && c != NULL);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_closed_port_is_connect_error(void) {
    int port = closed_port();
    REQUIRE(port > 0);
    for (role who = PRODUCER; who <= CONSUMER; who++) {
        expect_failure(who, config_for(port, "nowhere", NULL), port, KMQ_ERR_CONNECT, KMQ_ERR_CONNECT, 5000);
    }
}

static void test_silent_server_times_out(void) {
    broker b;
    REQUIRE(broker_start(&b, "--silent", NULL));
    for (role who = PRODUCER; who <= CONSUMER; who++) {
        expect_failure(who, config_for(b.port, "silence", "connect_timeout_ms", "1000", NULL), b.port,
                       KMQ_ERR_CONNECT, KMQ_ERR_TIMEOUT, 1000 + 1500);
    }
    broker_kill(&b);
}

int main(void) {
    RUN(test_wrong_key_is_auth_error);
    RUN(test_closed_port_is_connect_error);
    RUN(test_silent_server_times_out);
    return harness_exit();
}
