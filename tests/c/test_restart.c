/* The broker is killed (SIGKILL) with messages in flight and started again
 * on the same port with the same WAL: the producer resends what was not
 * confirmed, the consumer reconnects by itself, and every message arrives at
 * least once. */
#include "harness.h"

#include <pthread.h>

#define COUNT 5000

typedef struct collector {
    kmq_consumer *c;
    int count;              /* messages "index 0" .. "index count-1" */
    atomic_llong deadline;  /* now_ms() value to give up at */
    atomic_int distinct;
    int duplicates;
    int foreign;            /* messages that were none of ours */
    bool seen[COUNT];
} collector;

static void *collect(void *arg) {
    collector *k = arg;
    while (atomic_load(&k->distinct) < k->count && now_ms() < atomic_load(&k->deadline)) {
        kmq_message *m = NULL;
        /* Short slices: an error here while the broker is down is the
         * library's to hide, so anything but a timeout is reported. */
        kmq_status st = kmq_receive(k->c, 200, &m);
        if (st == KMQ_ERR_TIMEOUT) {
            continue;
        }
        if (!CHECK_OK(st)) {
            break;
        }
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        int index = -1, end = 0;
        if (sscanf(data, "index %d%n", &index, &end) == 1 && (size_t)end == len && index >= 0 && index < k->count) {
            if (k->seen[index]) {
                k->duplicates++;
            } else {
                k->seen[index] = true;
                atomic_fetch_add(&k->distinct, 1);
            }
        } else if (k->foreign++ == 0) {
            harness_note("unexpected message \"%.*s\"", (int)len, data);
        }
        CHECK_OK(kmq_ack(k->c, kmq_message_code(m)));
        kmq_message_free(m);
    }
    return NULL;
}

static bool send_range(kmq_producer *p, int from, int to) {
    char buf[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(buf, sizeof buf, "index %d", i);
        if (!CHECK_OK(kmq_send(p, buf, (size_t)n, 0))) {
            return false;
        }
    }
    return true;
}

static void test_broker_restart_loses_nothing(void) {
    char dir[256], wal[300];
    snprintf(dir, sizeof dir, "%s/kmq-restart-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(wal, sizeof wal, "%s/broker.wal", dir);

    /* Unacked messages are pushed again after 1 s, checked every 200 ms;
     * each "ok" comes 300 ms late, so that messages the server stored are
     * still unconfirmed when it dies. */
    broker b;
    REQUIRE(broker_start(&b, "--wal", wal, "--push-retry-ms", "1000", "--check-speed-ms", "200", "--ack-delay-ms",
                         "300", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "survive", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "survive", NULL));
    REQUIRE(c != NULL && p != NULL);

    int64_t t0 = now_ms();
    static collector k; /* large: not on the stack */
    memset(&k, 0, sizeof k);
    k.c = c;
    k.count = COUNT;
    atomic_store(&k.deadline, t0 + 70000);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, collect, &k) == 0);

    /* A third confirmed before the kill, a third stored but not yet
     * confirmed, a third sent while the broker is down. */
    const int third = COUNT / 3;
    bool sent = send_range(p, 0, third);
    sleep_ms(600);
    sent = sent && send_range(p, third, 2 * third);
    sleep_ms(100);
    broker_kill(&b);
    kmq_producer_stats at_kill;
    CHECK_OK(kmq_producer_get_stats(p, &at_kill));
    CHECK_MSG(at_kill.in_flight > 0, "nothing in flight at the kill: the test did not test anything");
    sent = sent && send_range(p, 2 * third, COUNT);
    sleep_ms(300);
    bool restarted = CHECK(broker_restart(&b));
    int64_t restarted_at = now_ms();

    CHECK_STATUS(kmq_flush(p, sent && restarted ? 60000 : 0), KMQ_OK);
    int64_t confirmed_at = now_ms();
    kmq_producer_stats ps = CHECK_PRODUCER_STATS(p, COUNT, COUNT, 0, 0);
    CHECK_MSG(ps.reconnects >= 1, "the producer did not reconnect");

    if (!restarted) {
        atomic_store(&k.deadline, 0);
    }
    pthread_join(th, NULL);
    int64_t received_at = now_ms();
    kmq_consumer_stats cs;
    CHECK_OK(kmq_consumer_get_stats(c, &cs));
    int distinct = atomic_load(&k.distinct);
    CHECK_MSG(distinct == COUNT, "received %d distinct messages of %d", distinct, COUNT);
    CHECK_MSG(k.foreign == 0, "%d foreign messages", k.foreign);
    CHECK_MSG(cs.reconnects >= 1, "the consumer did not reconnect");
    if (distinct < COUNT) {
        int shown = 0;
        for (int i = 0; i < COUNT && shown < 10; i++) {
            if (!k.seen[i]) {
                harness_note("missing: index %d", i);
                shown++;
            }
        }
    }
    harness_note("at the kill: %llu confirmed, %llu in flight; after the restart: %llu resent, %llu producer "
                 "reconnects, %llu consumer reconnects",
                 (unsigned long long)at_kill.confirmed, (unsigned long long)at_kill.in_flight,
                 (unsigned long long)ps.resent,
                 (unsigned long long)ps.reconnects, (unsigned long long)cs.reconnects);
    harness_note("all confirmed %lld ms and all received %lld ms after the restart; %d duplicates",
                 (long long)(confirmed_at - restarted_at), (long long)(received_at - restarted_at), k.duplicates);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
    unlink(wal);
    rmdir(dir);
}

/* The server drops the connection (no close frame) at every 1000th message
 * frame on it, without storing or confirming that message: the producer
 * sends the unconfirmed rest again on a new connection. */
static void test_dropped_connection_resends(void) {
    enum { N = 2500 };
    broker b;
    REQUIRE(broker_start(&b, "--drop-after", "1000", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "dropped", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "dropped", NULL));
    REQUIRE(c != NULL && p != NULL);

    static collector k;
    memset(&k, 0, sizeof k);
    k.c = c;
    k.count = N;
    atomic_store(&k.deadline, now_ms() + 40000);
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, collect, &k) == 0);
    int64_t t0 = now_ms();
    bool sent = send_range(p, 0, N);
    CHECK_STATUS(kmq_flush(p, sent ? 30000 : 0), KMQ_OK);
    int64_t confirmed_at = now_ms();
    kmq_producer_stats ps = CHECK_PRODUCER_STATS(p, N, N, 0, 0);
    CHECK_MSG(ps.reconnects >= 2 && ps.resent >= 1, "%llu reconnects, %llu resent", (unsigned long long)ps.reconnects,
              (unsigned long long)ps.resent);
    pthread_join(th, NULL);
    int distinct = atomic_load(&k.distinct);
    CHECK_MSG(distinct == N, "received %d distinct messages of %d", distinct, N);
    harness_note("%d messages over %llu connections: all confirmed after %lld ms, %llu resent, %d duplicates", N,
                 (unsigned long long)ps.reconnects + 1, (long long)(confirmed_at - t0),
                 (unsigned long long)ps.resent, k.duplicates);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_broker_restart_loses_nothing);
    RUN(test_dropped_connection_resends);
    return harness_exit();
}
