/* The batch-call modes of the C bench program (see bench.c for the rest):
 *
 *   throughput-many  N messages with kmq_send_many in calls of 1,000, then
 *                    kmq_flush: time from the first call until every
 *                    message is confirmed.
 *   percall-many     N messages in calls of 1,000, each call timed: what a
 *                    message costs the calling thread in a batch (median
 *                    and p99 of call time / 1,000), then kmq_flush. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 1000

/* BATCH entries, each the run's payload. */
static void fill(kmq_buf *bufs, const struct run *r) {
    for (int i = 0; i < BATCH; i++) bufs[i] = (kmq_buf){r->payload, r->len};
}

/* Up to BATCH messages of the run in one call; every one must be taken. */
static kmq_status send_batch(const struct run *r, const kmq_buf *bufs, size_t count) {
    size_t accepted = 0;
    kmq_status s = kmq_send_many(r->p, bufs, count, 0, &accepted);
    return s == KMQ_OK && accepted != count ? KMQ_ERR_INTERNAL : s;
}

static int mode_throughput_many(const struct run *r) {
    static kmq_buf bufs[BATCH];
    fill(bufs, r);
    double cpu0 = cpu_secs();
    uint64_t t0 = now_ns();
    for (long long sent = 0; sent < r->n; sent += BATCH) {
        size_t count = r->n - sent < BATCH ? (size_t)(r->n - sent) : BATCH;
        kmq_status s = send_batch(r, bufs, count);
        if (s != KMQ_OK) return fail("kmq_send_many", s);
    }
    return finish_throughput(r, t0, cpu0);
}

static int mode_percall_many(const struct run *r) {
    static kmq_buf bufs[BATCH];
    fill(bufs, r);
    long long calls = r->n / BATCH > 0 ? r->n / BATCH : 1;
    uint64_t *ns = malloc((size_t)calls * sizeof *ns);
    if (!ns) { fprintf(stderr, "bench: out of memory\n"); return 1; }
    /* A first pass, confirmed, warms the heap (see percall in bench.c). */
    kmq_status s = KMQ_OK;
    for (long long i = 0; i < calls && s == KMQ_OK; i++) s = send_batch(r, bufs, BATCH);
    if (s == KMQ_OK) s = kmq_flush(r->p, -1);
    for (long long i = 0; i < calls && s == KMQ_OK; i++) {
        uint64_t t0 = now_ns();
        s = send_batch(r, bufs, BATCH);
        ns[i] = (now_ns() - t0) / BATCH;
    }
    int rc = s == KMQ_OK ? print_percall(r->p, ns, calls) : fail("kmq_send_many", s);
    free(ns);
    return rc;
}

const struct mode MORE_MODES[] = {
    {"throughput-many", mode_throughput_many, 0},
    {"percall-many", mode_percall_many, 0},
    {NULL, NULL, 0},
};
