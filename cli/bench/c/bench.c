/* The C side of `kmq bench`, built by cli/bench/run.sh against libkapokmq.
 *
 *   bench throughput HOST PORT TOPIC N PAYLOAD KEY
 *       N x kmq_send, then kmq_flush: time from the first send until every
 *       message is confirmed.
 *   bench percall HOST PORT TOPIC N PAYLOAD KEY
 *       N x kmq_send, each call timed on its own: what one send costs the
 *       calling thread (median, p99), then kmq_flush.
 *   bench e2e HOST PORT TOPIC N PAYLOAD KEY
 *       a consumer and a producer on TOPIC: N x kmq_send, and on the same
 *       thread kmq_receive + kmq_ack until N messages came back: the time
 *       from the first send to the last message received.
 *
 * Prints one line "RESULT key=value ..." for kmq bench to parse (cpu_secs:
 * the CPU this process used while timed, start-up left out); errors go
 * to stderr with the library's message, and the exit code is 1. */
#define _POSIX_C_SOURCE 199309L
#include <kapokmq.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU seconds this process has used (every thread, user and system). */
static double cpu_secs(void) {
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

static int fail(const char *what, kmq_status s) {
    fprintf(stderr, "bench: %s: %s: %s\n", what, kmq_status_str(s), kmq_last_error());
    return 1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s throughput|percall|e2e HOST PORT TOPIC N PAYLOAD KEY\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1], *payload = argv[6];
    long long n = atoll(argv[5]);
    size_t len = strlen(payload);
    if (n <= 0 || len == 0) {
        fprintf(stderr, "bench: N and PAYLOAD must not be empty\n");
        return 2;
    }

    kmq_config *cfg = kmq_config_new();
    kmq_consumer *c = NULL;
    char queue_max[32];
    /* Room for every message of the run and percall's 1000 warm-up sends. */
    snprintf(queue_max, sizeof queue_max, "%lld", n + 1001);
    const char *kv[][2] = {
        {"mq_addr", argv[2]}, {"mq_port", argv[3]}, {"topic", argv[4]}, {"secret_key", argv[7]},
        {"producer_id", "c-bench"}, {"queue_max", queue_max}, {"message_timeout_ms", "300000"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        kmq_status s = kmq_config_set(cfg, kv[i][0], kv[i][1]);
        if (s != KMQ_OK) return fail(kv[i][0], s);
    }
    kmq_producer *p = NULL;
    kmq_status s = KMQ_OK;
    if (strcmp(mode, "e2e") == 0) {
        /* The consumer first, so that no message waits for the retry. */
        if ((s = kmq_config_set(cfg, "consumer_id", "c-bench")) != KMQ_OK) return fail("consumer_id", s);
        if ((s = kmq_config_set(cfg, "receive_buffer", "100000")) != KMQ_OK) return fail("receive_buffer", s);
        if ((s = kmq_consumer_new(cfg, &c)) != KMQ_OK) return fail("kmq_consumer_new", s);
    }
    s = kmq_producer_new(cfg, &p);
    kmq_config_free(cfg);
    if (s != KMQ_OK) return fail("kmq_producer_new", s);

    int rc = 0;
    if (strcmp(mode, "throughput") == 0) {
        double cpu0 = cpu_secs();
        uint64_t t0 = now_ns();
        for (long long i = 0; i < n; i++) {
            s = kmq_send(p, payload, len, 0);
            if (s != KMQ_OK) { rc = fail("kmq_send", s); goto out; }
        }
        s = kmq_flush(p, -1);
        uint64_t took = now_ns() - t0;
        double cpu = cpu_secs() - cpu0;
        if (s != KMQ_OK) { rc = fail("kmq_flush", s); goto out; }
        kmq_producer_stats st;
        kmq_producer_get_stats(p, &st);
        printf("RESULT secs=%.6f count=%llu failed=%llu cpu_secs=%.6f\n", took / 1e9,
               (unsigned long long)st.confirmed, (unsigned long long)st.failed, cpu);
    } else if (strcmp(mode, "percall") == 0) {
        uint64_t *ns = malloc((size_t)n * sizeof *ns);
        if (!ns) { fprintf(stderr, "bench: out of memory\n"); rc = 1; goto out; }
        /* Warm up the allocator and the connection first. */
        for (int i = 0; i < 1000; i++) kmq_send(p, payload, len, 0);
        for (long long i = 0; i < n; i++) {
            uint64_t t0 = now_ns();
            s = kmq_send(p, payload, len, 0);
            ns[i] = now_ns() - t0;
            if (s != KMQ_OK) { free(ns); rc = fail("kmq_send", s); goto out; }
        }
        s = kmq_flush(p, -1);
        if (s != KMQ_OK) { free(ns); rc = fail("kmq_flush", s); goto out; }
        qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
        uint64_t sum = 0;
        for (long long i = 0; i < n; i++) sum += ns[i];
        printf("RESULT median_ns=%llu p99_ns=%llu max_ns=%llu mean_ns=%.1f count=%lld clock_ns=%llu\n",
               (unsigned long long)ns[n / 2], (unsigned long long)ns[(n * 99) / 100],
               (unsigned long long)ns[n - 1], (double)sum / n, n,
               (unsigned long long)clock_cost_ns());
        free(ns);
    } else if (c != NULL) {
        /* Sends are interleaved with receives, as a pipeline stage would
         * do: the queue never holds the whole run. */
        double cpu0 = cpu_secs();
        uint64_t t0 = now_ns();
        long long sent = 0, got = 0;
        while (got < n) {
            for (int i = 0; i < 256 && sent < n; i++, sent++) {
                if ((s = kmq_send(p, payload, len, 0)) != KMQ_OK) { rc = fail("kmq_send", s); goto out; }
            }
            kmq_message *m = NULL;
            while (got < n && (s = kmq_receive(c, sent < n ? 0 : 30000, &m)) == KMQ_OK) {
                got++;
                kmq_status a = kmq_ack(c, kmq_message_code(m));
                kmq_message_free(m);
                if (a != KMQ_OK) { rc = fail("kmq_ack", a); goto out; }
            }
            if (s != KMQ_OK && s != KMQ_ERR_TIMEOUT) { rc = fail("kmq_receive", s); goto out; }
            if (s == KMQ_ERR_TIMEOUT && sent >= n) { rc = fail("kmq_receive", s); goto out; }
        }
        uint64_t took = now_ns() - t0;
        printf("RESULT secs=%.6f count=%lld cpu_secs=%.6f\n", took / 1e9, got, cpu_secs() - cpu0);
    } else {
        fprintf(stderr, "bench: unknown mode %s\n", mode);
        rc = 2;
    }
out:
    kmq_producer_free(p);
    kmq_consumer_free(c);
    return rc;
}
