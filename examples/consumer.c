/*
 * Receives messages from a KapokMQ topic, prints and acknowledges them.
 *
 *   consumer [COUNT [TIMEOUT_S]]
 *
 * Stops after COUNT messages (default 10), or when none came for TIMEOUT_S
 * seconds (default 10). Server and topic come from KAPOKMQ_ADDR (127.0.0.1),
 * KAPOKMQ_PORT (8011) and KAPOKMQ_TOPIC (demo).
 *
 * Build and run from the repository root:
 *   cc -std=c11 examples/consumer.c -o consumer -Iinclude -Ltarget/release -lkapokmq
 *   LD_LIBRARY_PATH=target/release ./consumer
 */
#include <kapokmq.h>

#include <stdio.h>
#include <stdlib.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Stops the program with the status name and the library's explanation. */
static void check(kmq_status st, const char *what) {
    if (st != KMQ_OK) {
        fprintf(stderr, "consumer: %s failed: %s: %s\n", what, kmq_status_str(st), kmq_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
    long timeout_s = argc > 2 ? strtol(argv[2], NULL, 10) : 10;
    if (count <= 0 || timeout_s <= 0) {
        fprintf(stderr, "usage: %s [COUNT [TIMEOUT_S]]\n", argv[0]);
        return 2;
    }

    kmq_config *cfg = kmq_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "consumer: out of memory\n");
        return 1;
    }
    check(kmq_config_set(cfg, "mq_addr", env_or("KAPOKMQ_ADDR", "127.0.0.1")), "setting mq_addr");
    check(kmq_config_set(cfg, "mq_port", env_or("KAPOKMQ_PORT", "8011")), "setting mq_port");
    check(kmq_config_set(cfg, "topic", env_or("KAPOKMQ_TOPIC", "demo")), "setting topic");
    check(kmq_config_set(cfg, "consumer_id", "example-consumer"), "setting consumer_id");

    kmq_consumer *c = NULL;
    kmq_status st = kmq_consumer_new(cfg, &c);
    kmq_config_free(cfg); /* the consumer keeps its own copy */
    check(st, "connecting");

    long received = 0;
    while (received < count) {
        kmq_message *m = NULL;
        st = kmq_receive(c, timeout_s * 1000, &m);
        if (st == KMQ_ERR_TIMEOUT) {
            printf("no message for %ld s, stopping\n", timeout_s);
            break;
        }
        check(st, "receiving");
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        printf("%s ", kmq_message_code(m));
        fwrite(data, 1, len, stdout); /* the data may contain NUL bytes */
        printf("\n");
        /* Tells the server it was handled; otherwise it is delivered again. */
        check(kmq_ack(c, kmq_message_code(m)), "acknowledging");
        kmq_message_free(m);
        received++;
    }
    printf("%ld messages received\n", received);

    kmq_consumer_free(c);
    return 0;
}
