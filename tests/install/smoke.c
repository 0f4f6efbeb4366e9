/*
 * A C program built against an installed kapokmq (see run.sh): one send
 * that the server confirms, then one receive of it.
 *
 *   smoke PORT TOPIC
 *
 * Prints "version X.Y.Z" (the library's own) and "received: DATA"; exits 0
 * only when the message came back intact and was acked.
 */
#include <kapokmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(kmq_status st, const char *what) {
    if (st != KMQ_OK) {
        fprintf(stderr, "smoke.c: %s: %s: %s\n", what, kmq_status_str(st), kmq_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT TOPIC\n", argv[0]);
        return 2;
    }
    printf("version %s\n", kmq_version());

    kmq_config *cfg = kmq_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "smoke.c: out of memory\n");
        return 1;
    }
    check(kmq_config_set(cfg, "mq_addr", "127.0.0.1"), "mq_addr");
    check(kmq_config_set(cfg, "mq_port", argv[1]), "mq_port");
    check(kmq_config_set(cfg, "topic", argv[2]), "topic");
    check(kmq_config_set(cfg, "producer_id", "smoke-c"), "producer_id");
    check(kmq_config_set(cfg, "consumer_id", "smoke-c"), "consumer_id");

    /* The consumer connects first: the server pushes a message only to the
     * consumers connected when it arrives. */
    kmq_consumer *c = NULL;
    check(kmq_consumer_new(cfg, &c), "kmq_consumer_new");
    kmq_producer *p = NULL;
    check(kmq_producer_new(cfg, &p), "kmq_producer_new");
    kmq_config_free(cfg);

    char sent[128];
    snprintf(sent, sizeof sent, "hello from C on %s", argv[2]);
    check(kmq_send_wait(p, sent, strlen(sent), 0, 10000), "kmq_send_wait");

    kmq_message *m = NULL;
    check(kmq_receive(c, 10000, &m), "kmq_receive");
    size_t len = 0;
    const char *data = kmq_message_data(m, &len);
    printf("received: %.*s\n", (int)len, data);
    int intact = len == strlen(sent) && memcmp(data, sent, len) == 0 && strcmp(kmq_message_topic(m), argv[2]) == 0;
    check(kmq_ack(c, kmq_message_code(m)), "kmq_ack");
    kmq_message_free(m);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    if (!intact) {
        fprintf(stderr, "smoke.c: sent \"%s\" to %s, received something else\n", sent, argv[2]);
        return 1;
    }
    return 0;
}
