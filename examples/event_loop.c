/*
 * An event loop that serves a KapokMQ consumer and producer without
 * blocking a thread in the library: it waits with poll() on the two
 * readiness descriptors, and calls kmq_receive / kmq_poll_reports with a
 * timeout of 0 only when one says there is something to take. Each message
 * received is answered with a tracked send to REPLY_TOPIC, whose delivery
 * report (with the failure's text, if any) the same loop picks up. At the
 * end it closes the producer the same way: kmq_producer_close_begin gives
 * the replies in flight up to 10 s, and the close's own report comes last.
 *
 *   event_loop [COUNT [TIMEOUT_S]]
 *
 * Stops after COUNT messages (default 10), or when nothing happened for
 * TIMEOUT_S seconds (default 10). Server and topics come from KAPOKMQ_ADDR
 * (127.0.0.1), KAPOKMQ_PORT (8011), KAPOKMQ_TOPIC (demo) and
 * KAPOKMQ_REPLY_TOPIC (demo-replies).
 *
 * Build and run from the repository root:
 *   cc -std=c11 examples/event_loop.c -o event_loop -Iinclude -Ltarget/release -lkapokmq
 *   LD_LIBRARY_PATH=target/release ./event_loop
 */
#define _POSIX_C_SOURCE 200809L
#include <kapokmq.h>

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void check(kmq_status st, const char *what) {
    if (st != KMQ_OK) {
        fprintf(stderr, "event_loop: %s failed: %s: %s\n", what, kmq_status_str(st), kmq_last_error());
        exit(1);
    }
}

static kmq_config *config(const char *topic) {
    kmq_config *cfg = kmq_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "event_loop: out of memory\n");
        exit(1);
    }
    check(kmq_config_set(cfg, "mq_addr", env_or("KAPOKMQ_ADDR", "127.0.0.1")), "setting mq_addr");
    check(kmq_config_set(cfg, "mq_port", env_or("KAPOKMQ_PORT", "8011")), "setting mq_port");
    check(kmq_config_set(cfg, "topic", topic), "setting topic");
    check(kmq_config_set(cfg, "consumer_id", "example-loop"), "setting consumer_id");
    check(kmq_config_set(cfg, "producer_id", "example-loop"), "setting producer_id");
    return cfg;
}

/* Takes every buffered message; answers each. Returns how many. */
static long on_messages(kmq_consumer *c, kmq_producer *p) {
    long n = 0;
    kmq_message *m = NULL;
    while (kmq_receive(c, 0, &m) == KMQ_OK) {
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        uint64_t id = 0;
        printf("received %s (%zu bytes)\n", kmq_message_code(m), len);
        /* The message itself rides along as the report's opaque pointer. */
        check(kmq_send_tracked_opaque(p, data, len, 0, m, &id), "replying");
        check(kmq_ack(c, kmq_message_code(m)), "acknowledging");
        n++;
    }
    return n;
}

/* Takes every delivery report; frees the message each one carries. Returns
 * true once it took the report `close_id` (0: none), the close's own. */
static bool on_reports(kmq_producer *p, uint64_t close_id) {
    kmq_delivery_report reports[64];
    size_t n = 0, i;
    bool closed = false;
    while (kmq_poll_reports(p, reports, 64, 0, &n) == KMQ_OK) {
        for (i = 0; i < n; i++) {
            kmq_message *m = reports[i].opaque;
            if (close_id != 0 && reports[i].id == close_id) {
                if (reports[i].status != KMQ_OK) {
                    printf("%s\n", reports[i].error); /* "close: flush: ..." */
                }
                closed = true;
                continue;
            }
            if (reports[i].status == KMQ_OK) {
                printf("reply to %s confirmed\n", kmq_message_code(m));
            } else {
                printf("reply to %s failed: %s\n", kmq_message_code(m), reports[i].error);
            }
            kmq_message_free(m);
        }
    }
    return closed;
}

int main(int argc, char **argv) {
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
    long timeout_s = argc > 2 ? strtol(argv[2], NULL, 10) : 10;
    if (count <= 0 || timeout_s <= 0) {
        fprintf(stderr, "usage: %s [COUNT [TIMEOUT_S]]\n", argv[0]);
        return 2;
    }
    printf("kapokmq %s (header %s)\n", kmq_version(), KMQ_VERSION_STRING);

    kmq_config *in = config(env_or("KAPOKMQ_TOPIC", "demo"));
    kmq_config *out = config(env_or("KAPOKMQ_REPLY_TOPIC", "demo-replies"));
    kmq_consumer *c = NULL;
    kmq_producer *p = NULL;
    check(kmq_consumer_new(in, &c), "connecting the consumer");
    check(kmq_producer_new(out, &p), "connecting the producer");
    kmq_config_free(in);
    kmq_config_free(out);

    struct pollfd fds[2] = {{kmq_consumer_fd(c), POLLIN, 0}, {kmq_producer_fd(p), POLLIN, 0}};
    if (fds[0].fd < 0 || fds[1].fd < 0) {
        check(KMQ_ERR_INTERNAL, "getting the readiness descriptors");
    }
    long received = 0;
    while (received < count) {
        int ready = poll(fds, 2, (int)(timeout_s * 1000));
        if (ready == 0) {
            printf("nothing for %ld s, stopping\n", timeout_s);
            break;
        }
        if (ready < 0) {
            perror("poll");
            break;
        }
        if (fds[0].revents & POLLIN) {
            received += on_messages(c, p);
        }
        if (fds[1].revents & POLLIN) {
            on_reports(p, 0);
        }
    }
    /* The replies still in flight get up to 10 s, still without blocking in
     * the library: the producer's descriptor says when reports are there. */
    uint64_t close_id = 0;
    check(kmq_producer_close_begin(p, 10000, &close_id), "closing the producer");
    while (!on_reports(p, close_id)) {
        struct pollfd pf = {kmq_producer_fd(p), POLLIN, 0};
        poll(&pf, 1, -1);
    }
    kmq_close_report r;
    check(kmq_producer_close_report(p, &r), "reading the close report");
    printf("%ld messages received\n", received);
    printf("replies: %llu confirmed, %llu failed, %llu failed by the close\n", (unsigned long long)r.confirmed,
           (unsigned long long)r.failed, (unsigned long long)r.in_flight);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    return 0;
}
