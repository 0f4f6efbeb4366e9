/* Metrics a dashboard reads and events it alerts on: the statistics JSON
 * of producers and consumers, a Prometheus page of both, and connection
 * events through kmq_set_event_callback. */
#include "harness.h"

#include <pthread.h>

#define N 200

/* The document of `p` or `c` (one of them NULL), asked for its length
 * first as a caller who does not know it would; malloc'd. */
static char *stats_json(kmq_producer *p, kmq_consumer *c) {
    size_t len = 0;
    kmq_status st = p ? kmq_producer_stats_json(p, NULL, 0, &len) : kmq_consumer_stats_json(c, NULL, 0, &len);
    CHECK_STATUS(st, KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("small");
    CHECK_MSG(len > 20, "the length needed is %zu", len);
    size_t cap = len + 256; /* the figures move between the calls */
    char *buf = malloc(cap);
    if (!CHECK(buf != NULL)) {
        abort();
    }
    st = p ? kmq_producer_stats_json(p, buf, cap, &len) : kmq_consumer_stats_json(c, buf, cap, &len);
    CHECK_OK(st);
    CHECK(strlen(buf) == len);
    return buf;
}

/* Whether `json` holds `"key":value` (the library writes it compactly). */
static bool has_field(const char *json, const char *key, const char *value) {
    char want[128];
    snprintf(want, sizeof want, "\"%s\":%s", key, value);
    return strstr(json, want) != NULL;
}

static void test_stats_json_counts_latency_and_connections(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "metrics-json", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "metrics-json", NULL));
    REQUIRE(p != NULL && c != NULL);
    for (int i = 0; i < N; i++) {
        CHECK_OK(kmq_send_wait(p, "m", 1, 0, 5000));
    }
    char *pj = stats_json(p, NULL);
    char node[64];
    snprintf(node, sizeof node, "\"127.0.0.1:%d\"", b.port);
    CHECK_MSG(has_field(pj, "confirmed", "200") && has_field(pj, "role", "\"producer\"") &&
                  has_field(pj, "client_id", "\"p1\"") && has_field(pj, "node", node) &&
                  has_field(pj, "state", "\"connected\""),
              "%s", pj);
    /* Every send_wait waited for its ok: the latency was measured, and on
     * loopback it is well below a second. */
    const char *lat = strstr(pj, "\"confirm_latency_us\":");
    CHECK_MSG(lat != NULL, "%s", pj);
    const char *p99 = lat ? strstr(lat, "\"p99\":") : NULL;
    long long p99_us = p99 ? atoll(p99 + 6) : -1;
    CHECK_MSG(p99_us > 0 && p99_us < 1000000, "p99 %lld us in %s", p99_us, pj);
    const char *bytes = strstr(pj, "\"bytes_out\":");
    CHECK_MSG(bytes && atoll(bytes + 12) > N * 6, "every frame counted: %s", pj);
    /* Too small: the length still comes back, nothing is cut. */
    char small[16];
    size_t len = 0;
    CHECK_STATUS(kmq_producer_stats_json(p, small, sizeof small, &len), KMQ_ERR_INVALID_ARGUMENT);
    CHECK(len > sizeof small);
    free(pj);

    kmq_message *m = NULL;
    for (int i = 0; i < N; i++) {
        if (!CHECK_OK(kmq_receive(c, 5000, &m))) {
            break;
        }
        if (i % 2 == 0) {
            CHECK_OK(kmq_ack(c, kmq_message_code(m)));
        }
        kmq_message_free(m);
    }
    /* Acks are written in the background: wait until they all were. */
    char *cj = NULL;
    for (int64_t until = now_ms() + 5000; now_ms() < until; sleep_ms(20)) {
        free(cj);
        cj = stats_json(NULL, c);
        if (has_field(cj, "acks_written", "100")) {
            break;
        }
    }
    CHECK_MSG(has_field(cj, "received", "200") && has_field(cj, "acked", "100") && has_field(cj, "unacked", "100") &&
                  has_field(cj, "acks_written", "100") && has_field(cj, "buffered", "0") &&
                  has_field(cj, "buffer_capacity", "10000") && has_field(cj, "role", "\"consumer\""),
              "%s", cj);
    free(cj);

    /* One page of both, with the counters the documents hold. */
    const kmq_producer *ps[] = {p};
    const kmq_consumer *cs[] = {c};
    static char page[16384];
    CHECK_OK(kmq_prometheus_text(ps, 1, cs, 1, page, sizeof page, &len));
    char want[256];
    snprintf(want, sizeof want, "kapokmq_producer_confirmed_total{topic=\"metrics-json\",client_id=\"p1\"} 200\n");
    CHECK_MSG(strstr(page, want) != NULL, "%s", page);
    snprintf(want, sizeof want, "kapokmq_consumer_unacked{topic=\"metrics-json\",client_id=\"c1\"} 100\n");
    CHECK_MSG(strstr(page, want) != NULL, "%s", page);
    CHECK(strstr(page, "# TYPE kapokmq_producer_confirm_latency_seconds summary\n") != NULL);
    CHECK_STATUS(kmq_prometheus_text(ps, 1, cs, 1, page, 10, &len), KMQ_ERR_INVALID_ARGUMENT);
    CHECK(len > 10);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

/* Events as the callback saw them. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    kmq_event_kind kind;
    uint64_t client;
    uint32_t attempt;
    char node[64];
    char reason[128];
} seen[64];
static int n_seen;

static void on_event(const kmq_event *e, void *user_data) {
    CHECK(user_data == (void *)&seen);
    pthread_mutex_lock(&seen_lock);
    if (n_seen < 64) {
        seen[n_seen].kind = e->kind;
        seen[n_seen].client = e->client;
        seen[n_seen].attempt = e->attempt;
        snprintf(seen[n_seen].node, sizeof seen[n_seen].node, "%s", e->node);
        snprintf(seen[n_seen].reason, sizeof seen[n_seen].reason, "%s", e->reason);
        n_seen++;
    }
    pthread_mutex_unlock(&seen_lock);
}

/* The index of the first event of `kind` at or after `from`, or -1. */
static int find_event(kmq_event_kind kind, int from) {
    pthread_mutex_lock(&seen_lock);
    int found = -1;
    for (int i = from; i < n_seen && found < 0; i++) {
        if (seen[i].kind == kind) {
            found = i;
        }
    }
    pthread_mutex_unlock(&seen_lock);
    return found;
}

static void test_events_tell_a_restart_as_it_happened(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_set_event_callback(on_event, &seen);
    kmq_producer *p = new_producer(config_for(b.port, "metrics-events", "reconnect_max_ms", "200", NULL));
    REQUIRE(p != NULL);
    uint64_t serial = kmq_producer_serial(p);
    CHECK(serial > 0);
    REQUIRE(broker_restart(&b));
    CHECK_OK(kmq_send_wait(p, "after", 5, 0, 10000));
    /* Connected, lost with a reason, retried, connected again. */
    int connected2 = -1;
    for (int64_t until = now_ms() + 3000; now_ms() < until && connected2 < 0; sleep_ms(10)) {
        int lost = find_event(KMQ_EVENT_DISCONNECTED, 0);
        connected2 = lost < 0 ? -1 : find_event(KMQ_EVENT_CONNECTED, lost);
    }
    int connected = find_event(KMQ_EVENT_CONNECTED, 0);
    int lost = find_event(KMQ_EVENT_DISCONNECTED, 0);
    int retry = find_event(KMQ_EVENT_RECONNECTING, 0);
    CHECK_MSG(connected >= 0 && lost > connected && retry > lost && connected2 > retry,
              "order: connected %d, disconnected %d, reconnecting %d, connected %d", connected, lost, retry,
              connected2);
    char node[64];
    snprintf(node, sizeof node, "127.0.0.1:%d", b.port);
    if (lost >= 0 && retry >= 0) {
        CHECK_MSG(seen[lost].reason[0] != '\0', "a disconnection says why");
        CHECK(seen[retry].attempt >= 1);
        CHECK_MSG(seen[lost].client == serial && strcmp(seen[lost].node, node) == 0, "%llu %s",
                  (unsigned long long)seen[lost].client, seen[lost].node);
    }
    kmq_set_event_callback(NULL, NULL);
    /* None comes once it returned. */
    pthread_mutex_lock(&seen_lock);
    int before = n_seen;
    pthread_mutex_unlock(&seen_lock);
    kmq_producer_close(p);
    sleep_ms(100);
    CHECK(find_event(KMQ_EVENT_DISCONNECTED, before) < 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

int main(void) {
    RUN(test_stats_json_counts_latency_and_connections);
    RUN(test_events_tell_a_restart_as_it_happened);
    return harness_exit();
}
