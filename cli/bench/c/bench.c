/* The C side of `kmq bench`, built by cli/bench/run.sh against libkapokmq.
 *
 *   bench MODE HOST PORT TOPIC N PAYLOAD KEY [CONNECTIONS]
 *
 *   throughput   N x kmq_send, then kmq_flush: time from the first send
 *                until every message is confirmed.
 *   percall      N x kmq_send, each call timed on its own: what one send
 *                costs the calling thread (median, p99), then kmq_flush;
 *                after a first pass of N that warms the heap.
 *   e2e          a consumer and a producer on TOPIC: N x kmq_send, and on
 *                the same thread kmq_receive + kmq_ack until N messages
 *                came back: the time from the first send to the last
 *                message received.
 *   e2e-threads  the same with the usual shape of a consumer: one thread
 *                sends N messages (then kmq_flush) while another loops in a
 *                blocking kmq_receive, kmq_ack, kmq_message_free.
 *   (bench_many.c adds throughput-many and percall-many.)
 *
 * CONNECTIONS sets the producer's `connections` key (connections per node).
 *
 * Prints one line "RESULT key=value ..." for kmq bench to parse (cpu_secs:
 * the CPU this process used while timed, start-up left out); errors go
 * to stderr with the library's message, and the exit code is 1. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU seconds this process has used (every thread, user and system). */
double cpu_secs(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

/* What one pair of clock reads costs, included in every timed call. */
static uint64_t clock_cost_ns(void) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 10000; i++) {
        uint64_t t0 = now_ns(), t1 = now_ns();
        if (t1 - t0 < best) best = t1 - t0;
    }
    return best;
}

int fail(const char *what, kmq_status s) {
    fprintf(stderr, "bench: %s: %s: %s\n", what, kmq_status_str(s), kmq_last_error());
    return 1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int finish_throughput(const struct run *r, uint64_t t0_ns, double cpu0) {
    kmq_status s = kmq_flush(r->p, -1);
    uint64_t took = now_ns() - t0_ns;
    double cpu = cpu_secs() - cpu0;
    if (s != KMQ_OK) return fail("kmq_flush", s);
    kmq_producer_stats st;
    kmq_producer_get_stats(r->p, &st);
    printf("RESULT secs=%.6f count=%llu failed=%llu cpu_secs=%.6f\n", took / 1e9,
           (unsigned long long)st.confirmed, (unsigned long long)st.failed, cpu);
    return 0;
}

int print_percall(kmq_producer *p, uint64_t *ns, long long n) {
    kmq_status s = kmq_flush(p, -1);
    if (s != KMQ_OK) return fail("kmq_flush", s);
    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
    uint64_t sum = 0;
    for (long long i = 0; i < n; i++) sum += ns[i];
    printf("RESULT median_ns=%llu p99_ns=%llu max_ns=%llu mean_ns=%.1f count=%lld clock_ns=%llu\n",
           (unsigned long long)ns[n / 2], (unsigned long long)ns[(n * 99) / 100],
           (unsigned long long)ns[n - 1], (double)sum / n, n, (unsigned long long)clock_cost_ns());
    return 0;
}

static int mode_throughput(const struct run *r) {
    double cpu0 = cpu_secs();
    uint64_t t0 = now_ns();
    for (long long i = 0; i < r->n; i++) {
        kmq_status s = kmq_send(r->p, r->payload, r->len, 0);
        if (s != KMQ_OK) return fail("kmq_send", s);
    }
    return finish_throughput(r, t0, cpu0);
}

static int mode_percall(const struct run *r) {
    uint64_t *ns = malloc((size_t)r->n * sizeof *ns);
    if (!ns) { fprintf(stderr, "bench: out of memory\n"); return 1; }
    /* A first pass of N sends, confirmed, before the timed one: it grows
     * the heap to what the run holds. On fresh memory a send also pays the
     * page faults and the allocator's growth (about 2.5 us at p99, perf
     * shows clear_page and malloc_consolidate); a process that has been
     * sending reuses its memory, which is what the timed pass measures. */
    for (long long i = 0; i < r->n; i++) kmq_send(r->p, r->payload, r->len, 0);
    kmq_status warm = kmq_flush(r->p, -1);
    if (warm != KMQ_OK) { free(ns); return fail("kmq_flush", warm); }
    for (long long i = 0; i < r->n; i++) {
        uint64_t t0 = now_ns();
        kmq_status s = kmq_send(r->p, r->payload, r->len, 0);
        ns[i] = now_ns() - t0;
        if (s != KMQ_OK) { free(ns); return fail("kmq_send", s); }
    }
    int rc = print_percall(r->p, ns, r->n);
    free(ns);
    return rc;
}

/* Receives and acks one message; the wait is bounded so that a lost
 * message fails the run instead of hanging it. */
static kmq_status take_one(kmq_consumer *c, int64_t timeout_ms) {
    kmq_message *m = NULL;
    kmq_status s = kmq_receive(c, timeout_ms, &m);
    if (s != KMQ_OK) return s;
    s = kmq_ack(c, kmq_message_code(m));
    kmq_message_free(m);
    return s;
}

static int mode_e2e(const struct run *r) {
    /* Sends are interleaved with receives, as a pipeline stage would do:
     * the queue never holds the whole run. */
    double cpu0 = cpu_secs();
    uint64_t t0 = now_ns();
    long long sent = 0, got = 0;
    while (got < r->n) {
        for (int i = 0; i < 256 && sent < r->n; i++, sent++) {
            kmq_status s = kmq_send(r->p, r->payload, r->len, 0);
            if (s != KMQ_OK) return fail("kmq_send", s);
        }
        kmq_status s = KMQ_OK;
        while (got < r->n && (s = take_one(r->c, sent < r->n ? 0 : 30000)) == KMQ_OK) got++;
        if (got < r->n && (s != KMQ_ERR_TIMEOUT || sent >= r->n)) return fail("kmq_receive/kmq_ack", s);
    }
    printf("RESULT secs=%.6f count=%lld cpu_secs=%.6f\n", (now_ns() - t0) / 1e9, got, cpu_secs() - cpu0);
    return 0;
}

struct sender {
    const struct run *r;
    kmq_status status;
    const char *what;
};

static void *send_all(void *arg) {
    struct sender *snd = arg;
    const struct run *r = snd->r;
    snd->what = "kmq_send";
    for (long long i = 0; i < r->n && snd->status == KMQ_OK; i++) snd->status = kmq_send(r->p, r->payload, r->len, 0);
    if (snd->status == KMQ_OK) {
        snd->what = "kmq_flush";
        snd->status = kmq_flush(r->p, -1);
    }
    /* A failed sender wakes the receiving thread, which would otherwise
     * wait out its timeout for messages that never come. */
    if (snd->status != KMQ_OK) kmq_consumer_close(r->c);
    return NULL;
}

static int mode_e2e_threads(const struct run *r) {
    struct sender snd = {r, KMQ_OK, ""};
    pthread_t thread;
    double cpu0 = cpu_secs();
    uint64_t t0 = now_ns();
    if (pthread_create(&thread, NULL, send_all, &snd) != 0) { fprintf(stderr, "bench: pthread_create\n"); return 1; }
    long long got = 0;
    kmq_status s = KMQ_OK;
    /* What a consumer thread usually is: blocked in kmq_receive. The
     * 30 s limit only turns a lost message into a failure. */
    while (got < r->n && (s = take_one(r->c, 30000)) == KMQ_OK) got++;
    uint64_t took = now_ns() - t0;
    double cpu = cpu_secs() - cpu0;
    pthread_join(thread, NULL);
    if (snd.status != KMQ_OK) return fail(snd.what, snd.status);
    if (s != KMQ_OK) return fail("kmq_receive/kmq_ack", s);
    printf("RESULT secs=%.6f count=%lld cpu_secs=%.6f\n", took / 1e9, got, cpu);
    return 0;
}

static const struct mode BASE_MODES[] = {
    {"throughput", mode_throughput, 0},
    {"percall", mode_percall, 0},
    {"e2e", mode_e2e, 1},
    {"e2e-threads", mode_e2e_threads, 1},
    {NULL, NULL, 0},
};

static const struct mode *find_mode(const char *name) {
    const struct mode *tables[] = {BASE_MODES, MORE_MODES};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct mode *m = tables[t]; m->name; m++)
            if (strcmp(m->name, name) == 0) return m;
    return NULL;
}

static int set_all(kmq_config *cfg, const char *const kv[][2], size_t count) {
    for (size_t i = 0; i < count; i++) {
        kmq_status s = kmq_config_set(cfg, kv[i][0], kv[i][1]);
        if (s != KMQ_OK) return fail(kv[i][0], s);
    }
    return 0;
}

/* The consumer (when the mode has one) and the producer, connected;
 * argv as main's. */
static int connect_all(char **argv, const char *connections, const struct mode *m, struct run *r) {
    char queue_max[32];
    /* Room for every message of the run (percall's warm-up pass is
     * confirmed before the timed one starts). */
    snprintf(queue_max, sizeof queue_max, "%lld", r->n + 1001);
    const char *const kv[][2] = {
        {"mq_addr", argv[2]}, {"mq_port", argv[3]}, {"topic", argv[4]}, {"secret_key", argv[7]},
        {"producer_id", "c-bench"}, {"consumer_id", "c-bench"}, {"queue_max", queue_max},
        {"message_timeout_ms", "300000"}, {"receive_buffer", "100000"},
    };
    /* connections only when asked for, so that the other modes run with a
     * library that does not know the key. */
    const char *const conn[][2] = {{"connections", connections}};
    kmq_config *cfg = kmq_config_new();
    int rc = set_all(cfg, kv, sizeof kv / sizeof kv[0]);
    kmq_status s = KMQ_OK;
    /* The consumer first, so that no message waits for the retry. */
    if (rc == 0 && m->consumer && (s = kmq_consumer_new(cfg, &r->c)) != KMQ_OK) rc = fail("kmq_consumer_new", s);
    if (rc == 0 && connections) rc = set_all(cfg, conn, 1);
    if (rc == 0 && (s = kmq_producer_new(cfg, &r->p)) != KMQ_OK) rc = fail("kmq_producer_new", s);
    kmq_config_free(cfg);
    return rc;
}

int main(int argc, char **argv) {
    const struct mode *m = argc == 8 || argc == 9 ? find_mode(argv[1]) : NULL;
    if (!m) {
        fprintf(stderr, "usage: %s MODE HOST PORT TOPIC N PAYLOAD KEY [CONNECTIONS] (modes: see bench.c)\n", argv[0]);
        return 2;
    }
    struct run r = {NULL, NULL, argv[6], strlen(argv[6]), atoll(argv[5])};
    if (r.n <= 0 || r.len == 0) {
        fprintf(stderr, "bench: N and PAYLOAD must not be empty\n");
        return 2;
    }
    int rc = connect_all(argv, argc == 9 ? argv[8] : NULL, m, &r);
    if (rc == 0) rc = m->run(&r);
    kmq_producer_free(r.p);
    kmq_consumer_free(r.c);
    return rc;
}
