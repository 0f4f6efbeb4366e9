/*
 * The readiness descriptors on Windows: kmq_consumer_fd and
 * kmq_producer_fd return a SOCKET that select() reports readable exactly
 * while there is something to take, as on Linux.
 *
 *   readiness PORT TOPIC
 *
 * Prints "readiness: ok" and exits 0 when every step held.
 */
#include <winsock2.h>

#include <kapokmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(kmq_status st, const char *what) {
    if (st != KMQ_OK) {
        fprintf(stderr, "readiness.c: %s: %s: %s\n", what, kmq_status_str(st), kmq_last_error());
        exit(1);
    }
}

static void expect(int cond, const char *what) {
    if (!cond) {
        fprintf(stderr, "readiness.c: %s\n", what);
        exit(1);
    }
}

/* Whether select() reports the socket readable within timeout_ms. */
static int readable(int fd, long timeout_ms) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET((SOCKET)fd, &set);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int n = select(0, &set, NULL, NULL, &tv);
    expect(n >= 0, "select() failed on the descriptor");
    return n == 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT TOPIC\n", argv[0]);
        return 2;
    }
    kmq_config *cfg = kmq_config_new();
    expect(cfg != NULL, "out of memory");
    check(kmq_config_set(cfg, "mq_addr", "127.0.0.1"), "mq_addr");
    check(kmq_config_set(cfg, "mq_port", argv[1]), "mq_port");
    check(kmq_config_set(cfg, "topic", argv[2]), "topic");
    check(kmq_config_set(cfg, "producer_id", "readiness-c"), "producer_id");
    check(kmq_config_set(cfg, "consumer_id", "readiness-c"), "consumer_id");
    kmq_consumer *c = NULL;
    check(kmq_consumer_new(cfg, &c), "kmq_consumer_new");
    kmq_producer *p = NULL;
    check(kmq_producer_new(cfg, &p), "kmq_producer_new");
    kmq_config_free(cfg);

    int cfd = kmq_consumer_fd(c);
    int pfd = kmq_producer_fd(p);
    expect(cfd >= 0 && pfd >= 0, "no descriptor");
    expect(kmq_consumer_fd(c) == cfd, "a second call gave another descriptor");
    expect(!readable(cfd, 0), "the consumer's descriptor is readable with nothing buffered");
    expect(!readable(pfd, 0), "the producer's descriptor is readable with no report");

    /* A delivery report makes the producer's descriptor readable. */
    uint64_t id = 0;
    check(kmq_send_tracked(p, "one", 3, 0, &id), "kmq_send_tracked");
    expect(readable(pfd, 10000), "no report made the producer's descriptor readable");
    struct kmq_delivery_report reports[4];
    size_t n = 0;
    check(kmq_poll_reports(p, reports, 4, 0, &n), "kmq_poll_reports");
    expect(n == 1 && reports[0].id == id && reports[0].status == KMQ_OK, "the report is not the confirmation of the message");
    expect(!readable(pfd, 0), "the producer's descriptor stays readable after its report was taken");

    /* The message makes the consumer's descriptor readable until taken. */
    expect(readable(cfd, 10000), "the message did not make the consumer's descriptor readable");
    expect(readable(cfd, 0), "the consumer's descriptor is not level-triggered");
    kmq_message *m = NULL;
    check(kmq_receive(c, 0, &m), "kmq_receive");
    check(kmq_ack(c, kmq_message_code(m)), "kmq_ack");
    kmq_message_free(m);
    expect(!readable(cfd, 0), "the consumer's descriptor stays readable after the message was taken");

    /* A closed consumer reads as readable: kmq_receive says it is closed. */
    kmq_consumer_close(c);
    expect(readable(cfd, 10000), "closing did not make the consumer's descriptor readable");

    kmq_producer_free(p);
    kmq_consumer_free(c);
    printf("readiness: ok\n");
    return 0;
}
