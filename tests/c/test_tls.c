/* TLS as a C user meets it: the one-liner self-signed certificate given as
 * tls_ca_file works, and every refusal (self-signed not listed, unknown CA,
 * expired, name mismatch, pin mismatch, client certificate required, a
 * plain-text server on the TLS port) is KMQ_ERR_CONNECT at once with one
 * sentence in plain words in kmq_last_error(), for producers over wss, the
 * console over https and cluster producers asking a registry over https.
 * The certificates come from tests/tls/make_certs.sh ($KMQ_REPO, set by
 * run.sh, is the repository). */
#include "harness.h"

static char certs[256];

/* The path of `name`.pem or .key in the certificate directory. */
static const char *cert_file(const char *name, const char *ext) {
    static char paths[8][320];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s.%s", certs, name, ext);
    return p;
}

static bool make_certs(void) {
    if (certs[0] != '\0') {
        return true;
    }
    snprintf(certs, sizeof certs, "%s/kapokmq-tls-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!CHECK(mkdtemp(certs) != NULL)) {
        certs[0] = '\0';
        return false;
    }
    const char *repo = getenv("KMQ_REPO");
    char cmd[768];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/tls/make_certs.sh' '%s'", repo && *repo ? repo : ".", certs);
    return CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
}

/* A broker serving the certificate `name`, plus one more flag pair. */
static bool tls_broker(broker *b, const char *name, const char *flag, const char *value) {
    return broker_start(b, "--tls-cert", cert_file(name, "pem"), "--tls-key", cert_file(name, "key"), flag, value,
                        NULL);
}

/* The last error is one plain sentence holding `words`: none of the marks
 * of Rust's Debug output. */
static void check_plain(const char *what, const char *error, const char *words) {
    CHECK_MSG(strstr(error, words) != NULL, "%s: \"%s\" lacks \"%s\"", what, error, words);
    static const char *debug[] = {"Other(", "Error(", "InvalidCertificate", "AlertReceived", "{ "};
    for (size_t i = 0; i < sizeof debug / sizeof *debug; i++) {
        CHECK_MSG(strstr(error, debug[i]) == NULL, "%s: \"%s\" has Rust Debug output", what, error);
    }
}

typedef enum way { WSS, CONSOLE, REGISTRY } way;
static const char *way_name[] = {"producer over wss", "console over https", "registry over https"};

/* Connects the way `w` to `port` with `cfg` (freed here); returns the
 * status and copies kmq_last_error() into `error`. Refusals must come at
 * once: within 10 s (for valgrind) of a connect_timeout_ms of 30 s. */
static kmq_status connect_way(way w, int port, kmq_config *cfg, char *error, size_t cap) {
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    kmq_status st = KMQ_ERR_INVALID_ARGUMENT;
    int64_t t0 = now_ms();
    if (cfg != NULL && kmq_config_set(cfg, "connect_timeout_ms", "30000") == KMQ_OK) {
        if (w == WSS) {
            kmq_producer *p = NULL;
            kmq_config_set(cfg, "mq_protocol", "wss");
            st = kmq_producer_new(cfg, &p);
            kmq_producer_free(p);
        } else if (w == CONSOLE) {
            kmq_console *c = NULL;
            kmq_config_set(cfg, "mq_protocol", "wss");
            st = kmq_console_new(cfg, &c);
            if (st == KMQ_OK) {
                st = kmq_console_ping(c);
            }
            kmq_console_free(c);
        } else {
            kmq_producer *p = NULL;
            kmq_config_set(cfg, "registry_addr", "127.0.0.1");
            kmq_config_set(cfg, "registry_port", port_s);
            kmq_config_set(cfg, "registry_protocol", "https");
            st = kmq_cluster_producer_new(cfg, &p);
            kmq_producer_free(p);
            if (st == KMQ_ERR_NO_NODES) { /* the registry answered: no node joined it */
                st = KMQ_OK;
            }
        }
    }
    int64_t took = now_ms() - t0;
    snprintf(error, cap, "%s", kmq_last_error());
    kmq_config_free(cfg);
    CHECK_MSG(st == KMQ_OK || took < 10000, "%s: failing took %lld ms", way_name[w], (long long)took);
    return st;
}

/* Every way is refused with KMQ_ERR_CONNECT and `words` in the message.
 * `node` serves wss and the console, `registry` the registry; the config
 * is for `name` with `key`=`value` when `key` is not NULL. */
static void expect_refused(broker *node, broker *registry, const char *key, const char *value, const char *words) {
    for (way w = WSS; w <= REGISTRY; w++) {
        int port = w == REGISTRY ? registry->port : node->port;
        kmq_config *cfg = key ? config_for(port, "tls", key, value, NULL) : config_for(port, "tls", NULL);
        char error[1024];
        kmq_status st = connect_way(w, port, cfg, error, sizeof error);
        CHECK_MSG(st == KMQ_ERR_CONNECT, "%s: %s, expected KMQ_ERR_CONNECT (%s)", way_name[w], kmq_status_str(st),
                  error);
        check_plain(way_name[w], error, words);
        harness_note("%s: %s", way_name[w], error);
    }
}

/* A node and a registry serving the certificate `name`. */
static bool tls_servers(broker *node, broker *registry, const char *name, const char *flag, const char *value) {
    if (!make_certs() || !tls_broker(node, name, flag, value)) {
        return false;
    }
    return flag ? broker_start(registry, "--tls-cert", cert_file(name, "pem"), "--tls-key", cert_file(name, "key"),
                               "--registry", flag, value, NULL)
                : tls_broker(registry, name, "--registry", NULL);
}

static void test_one_liner_certificate_in_tls_ca_file_works(void) {
    broker node, registry;
    REQUIRE(tls_servers(&node, &registry, "self", NULL, NULL));
    for (way w = WSS; w <= REGISTRY; w++) {
        int port = w == REGISTRY ? registry.port : node.port;
        char error[1024];
        kmq_status st = connect_way(w, port, config_for(port, "tls", "tls_ca_file", cert_file("self", "pem"), NULL),
                                    error, sizeof error);
        CHECK_MSG(st == KMQ_OK, "%s: %s (%s)", way_name[w], kmq_status_str(st), error);
    }
    expect_refused(&node, &registry, NULL, NULL, "is self-signed (CN=127.0.0.1");
    expect_refused(&node, &registry, "tls_ca_file", cert_file("other", "pem"), "not listed in tls_ca_file");
    expect_refused(&node, &registry, "tls_pin_sha256", "00000000000000000000000000000000000000000000000000000000000000ff",
                   "matches no value of tls_pin_sha256");
}

static void test_unknown_ca_is_named(void) {
    broker node, registry;
    REQUIRE(tls_servers(&node, &registry, "leaf", NULL, NULL));
    expect_refused(&node, &registry, NULL, NULL, "is not signed by a CA in tls_ca_file");
}

static void test_expired_certificate_gives_its_date(void) {
    broker node, registry;
    REQUIRE(tls_servers(&node, &registry, "expired", NULL, NULL));
    expect_refused(&node, &registry, "tls_ca_file", cert_file("expired", "pem"), "expired on 2020-02-01 00:00:00 UTC");
}

static void test_name_mismatch_names_both(void) {
    broker node, registry;
    REQUIRE(tls_servers(&node, &registry, "other", NULL, NULL));
    expect_refused(&node, &registry, "tls_ca_file", cert_file("other", "pem"), "is for example.com, not for 127.0.0.1");
}

static void test_client_certificate_required_says_so(void) {
    broker node, registry;
    REQUIRE(tls_servers(&node, &registry, "leaf", "--tls-client-ca", cert_file("ca", "pem")));
    expect_refused(&node, &registry, "tls_ca_file", cert_file("ca", "pem"), "requires a client certificate");
}

static void test_plain_text_server_on_a_tls_port(void) {
    broker node, registry;
    REQUIRE(broker_start(&node, NULL));
    REQUIRE(broker_start(&registry, "--registry", NULL));
    expect_refused(&node, &registry, NULL, NULL, "did not answer in TLS");
}

static void test_bad_pins_are_invalid_arguments(void) {
    kmq_config *cfg = kmq_config_new();
    REQUIRE(cfg != NULL);
    const char *bad[] = {"", "abcd", "zz:zz", "not base64 at all!"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_STATUS(kmq_config_set(cfg, "tls_pin_sha256", bad[i]), KMQ_ERR_INVALID_ARGUMENT);
        CHECK_ERROR_NAMES("tls_pin_sha256");
    }
    CHECK_OK(kmq_config_set(cfg, "tls_pin_sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
    kmq_config_free(cfg);
}

int main(void) {
    RUN(test_one_liner_certificate_in_tls_ca_file_works);
    RUN(test_unknown_ca_is_named);
    RUN(test_expired_certificate_gives_its_date);
    RUN(test_name_mismatch_names_both);
    RUN(test_client_certificate_required_says_so);
    RUN(test_plain_text_server_on_a_tls_port);
    RUN(test_bad_pins_are_invalid_arguments);
    if (certs[0] != '\0') {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", certs);
        if (system(cmd) != 0) {
            harness_note("could not remove %s", certs);
        }
    }
    return harness_exit();
}
