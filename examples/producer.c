/*
 * Sends messages to a KapokMQ topic and waits until the server confirmed them.
 *
 *   producer hello world     sends "hello" and "world"
 *   producer -n 100          sends "message 1" ... "message 100"
 *
 * Server and topic come from KAPOKMQ_ADDR (127.0.0.1), KAPOKMQ_PORT (8011)
 * and KAPOKMQ_TOPIC (demo).
 *
 * Build and run from the repository root:
 *   cc -std=c11 examples/producer.c -o producer -Iinclude -Ltarget/release -lkapokmq
 *   LD_LIBRARY_PATH=target/release ./producer
 */
#include <kapokmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Stops the program with the status name and the library's explanation. */
static void check(kmq_status st, const char *what) {
    if (st != KMQ_OK) {
        fprintf(stderr, "producer: %s failed: %s: %s\n", what, kmq_status_str(st), kmq_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    long count = 0; /* numbered lines to send, or 0 to send the words */
    if (argc == 3 && strcmp(argv[1], "-n") == 0) {
        count = strtol(argv[2], NULL, 10);
    }
    if (argc < 2 || (strcmp(argv[1], "-n") == 0 && count <= 0)) {
        fprintf(stderr, "usage: %s WORD...  |  %s -n COUNT\n", argv[0], argv[0]);
        return 2;
    }

    kmq_config *cfg = kmq_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "producer: out of memory\n");
        return 1;
    }
    check(kmq_config_set(cfg, "mq_addr", env_or("KAPOKMQ_ADDR", "127.0.0.1")), "setting mq_addr");
    check(kmq_config_set(cfg, "mq_port", env_or("KAPOKMQ_PORT", "8011")), "setting mq_port");
    check(kmq_config_set(cfg, "topic", env_or("KAPOKMQ_TOPIC", "demo")), "setting topic");
    check(kmq_config_set(cfg, "producer_id", "example-producer"), "setting producer_id");

    kmq_producer *p = NULL;
    kmq_status st = kmq_producer_new(cfg, &p);
    kmq_config_free(cfg); /* the producer keeps its own copy */
    check(st, "connecting");

    char line[64];
    long total = count > 0 ? count : argc - 1;
    for (long i = 0; i < total; i++) {
        const char *data = argv[i + 1];
        if (count > 0) {
            snprintf(line, sizeof line, "message %ld", i + 1);
            data = line;
        }
        /* Returns at once; the server's confirmation comes later. */
        check(kmq_send(p, data, strlen(data), 0), "sending");
    }

    /* Waits up to 10 s until the server has confirmed every message. */
    check(kmq_flush(p, 10000), "waiting for confirmations");
    kmq_producer_stats stats;
    check(kmq_producer_get_stats(p, &stats), "reading counters");
    printf("%llu of %ld messages confirmed\n", (unsigned long long)stats.confirmed, total);

    kmq_producer_free(p);
    return 0;
}
