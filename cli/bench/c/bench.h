/* What bench.c shares with the modes kept in other files (bench_many.c). */
#ifndef KMQ_BENCH_H
#define KMQ_BENCH_H

#include <kapokmq.h>
#include <stdint.h>

/* One run: the handles, connected, and what to send. */
struct run {
    kmq_producer *p;
    kmq_consumer *c; /* only for the modes that ask for one */
    const char *payload;
    size_t len;
    long long n;
};

struct mode {
    const char *name;
    int (*run)(const struct run *r);
    int consumer; /* connect a consumer on the topic first */
};

/* The modes of bench_many.c (kmq_send_many); ends with a NULL name. */
extern const struct mode MORE_MODES[];

uint64_t now_ns(void);
double cpu_secs(void);
int fail(const char *what, kmq_status s);
/* kmq_flush, then the RESULT line of a throughput run started at t0_ns. */
int finish_throughput(const struct run *r, uint64_t t0_ns, double cpu0);
/* kmq_flush, then the RESULT line of n timings (sorted here). */
int print_percall(kmq_producer *p, uint64_t *ns, long long n);

#endif
