/*
 * Sends messages to every live node of a KapokMQ cluster, found through the
 * Serena registry, and waits until the cluster confirmed them all.
 *
 *   cluster_producer [COUNT]          sends "message 1" ... "message COUNT" (default 100)
 *
 * Registry and topic come from KAPOKMQ_REGISTRY_ADDR (127.0.0.1),
 * KAPOKMQ_REGISTRY_PORT (8031) and KAPOKMQ_TOPIC (demo).
 *
 *   cc -std=c11 cluster_producer.c -o cluster_producer -Iinclude -Ltarget/release -lkapokmq
 */
#include <kapokmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void check(kmq_status st, const char *what) {
    if (st != KMQ_OK) {
        fprintf(stderr, "cluster_producer: %s failed: %s: %s\n", what, kmq_status_str(st), kmq_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
    if (count <= 0) {
        fprintf(stderr, "usage: %s [COUNT]\n", argv[0]);
        return 2;
    }
    kmq_config *cfg = kmq_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "cluster_producer: out of memory\n");
        return 1;
    }
    check(kmq_config_set(cfg, "registry_addr", env_or("KAPOKMQ_REGISTRY_ADDR", "127.0.0.1")), "setting registry_addr");
    check(kmq_config_set(cfg, "registry_port", env_or("KAPOKMQ_REGISTRY_PORT", "8031")), "setting registry_port");
    check(kmq_config_set(cfg, "topic", env_or("KAPOKMQ_TOPIC", "demo")), "setting topic");
    check(kmq_config_set(cfg, "producer_id", "example-cluster-producer"), "setting producer_id");
    /* Re-read the registry's node list every second. */
    check(kmq_config_set(cfg, "check_time", "1"), "setting check_time");

    /* KMQ_ERR_NO_NODES: the registry lists no live node; KMQ_ERR_AUTH: wrong key. */
    kmq_producer *p = NULL;
    kmq_status st = kmq_cluster_producer_new(cfg, &p);
    kmq_config_free(cfg);
    check(st, "connecting to the cluster");

    char line[64];
    for (long i = 1; i <= count; i++) {
        int n = snprintf(line, sizeof line, "message %ld", i);
        /* Goes to one connected node; if that node dies before it confirms,
           the message is sent again to another one. */
        check(kmq_send(p, line, (size_t)n, 0), "sending");
    }
    check(kmq_flush(p, 30000), "waiting for confirmations");

    kmq_producer_stats stats;
    check(kmq_producer_get_stats(p, &stats), "reading counters");
    printf("%llu of %ld messages confirmed (%llu sent again after a node was lost)\n",
           (unsigned long long)stats.confirmed, count, (unsigned long long)stats.resent);
    kmq_producer_free(p);
    return 0;
}
