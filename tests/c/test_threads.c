/* Several producers and consumers in one process, each on its own thread,
 * and one producer shared by several threads: every message is confirmed
 * and received. */
#include "harness.h"

#include <pthread.h>

#define PER_PRODUCER 3000
#define PRODUCERS 2
#define CONSUMERS 2

/* Which messages arrived, shared by the consumer threads. */
typedef struct tally {
    pthread_mutex_t lock;
    bool seen[PRODUCERS][PER_PRODUCER];
    int distinct;
    int duplicates;
    int foreign;
    int per_consumer[CONSUMERS];
    atomic_llong deadline;
} tally;

typedef struct worker {
    int n;            /* which producer or consumer */
    kmq_producer *p;
    kmq_consumer *c;
    int from, to;     /* producer: the indexes it sends */
    tally *t;
} worker;

static void *produce(void *arg) {
    worker *w = arg;
    char buf[48];
    for (int i = w->from; i < w->to; i++) {
        int len = snprintf(buf, sizeof buf, "producer %d message %d", w->n, i);
        if (!CHECK_OK(kmq_send(w->p, buf, (size_t)len, 0))) {
            break;
        }
    }
    /* Several threads may flush one producer at once. */
    CHECK_OK(kmq_flush(w->p, 30000));
    return NULL;
}

static void *consume(void *arg) {
    worker *w = arg;
    tally *t = w->t;
    for (;;) {
        pthread_mutex_lock(&t->lock);
        bool done = t->distinct == PRODUCERS * PER_PRODUCER;
        pthread_mutex_unlock(&t->lock);
        if (done || now_ms() >= atomic_load(&t->deadline)) {
            return NULL;
        }
        kmq_message *m = NULL;
        kmq_status st = kmq_receive(w->c, 200, &m);
        if (st == KMQ_ERR_TIMEOUT) {
            continue;
        }
        if (!CHECK_OK(st)) {
            return NULL;
        }
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        int from = -1, index = -1, end = 0;
        bool ours = sscanf(data, "producer %d message %d%n", &from, &index, &end) == 2 && (size_t)end == len &&
                    from >= 0 && from < PRODUCERS && index >= 0 && index < PER_PRODUCER;
        pthread_mutex_lock(&t->lock);
        if (!ours) {
            t->foreign++;
        } else if (t->seen[from][index]) {
            t->duplicates++;
        } else {
            t->seen[from][index] = true;
            t->distinct++;
            t->per_consumer[w->n]++;
        }
        pthread_mutex_unlock(&t->lock);
        CHECK_OK(kmq_ack(w->c, kmq_message_code(m)));
        kmq_message_free(m);
    }
}

/* Starts CONSUMERS consumer threads on `topic`, runs the producer workers
 * `pw` (already filled in) on their own threads, and checks the tally. */
static void run_and_tally(int port, const char *topic, worker *pw, int nproducers, tally *t) {
    kmq_consumer *cs[CONSUMERS] = {NULL};
    worker cw[CONSUMERS];
    pthread_t ct[CONSUMERS], pt[PRODUCERS * 2];
    int consumers = 0, producers = 0;

    pthread_mutex_init(&t->lock, NULL);
    atomic_store(&t->deadline, now_ms() + 60000);
    for (; consumers < CONSUMERS; consumers++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", consumers);
        cs[consumers] = new_consumer(config_for(port, topic, "consumer_id", id, NULL));
        cw[consumers] = (worker){.n = consumers, .c = cs[consumers], .t = t};
        if (cs[consumers] == NULL || !CHECK(pthread_create(&ct[consumers], NULL, consume, &cw[consumers]) == 0)) {
            break;
        }
    }
    if (consumers == CONSUMERS) {
        for (; producers < nproducers; producers++) {
            if (!CHECK(pthread_create(&pt[producers], NULL, produce, &pw[producers]) == 0)) {
                break;
            }
        }
    }
    for (int i = 0; i < producers; i++) {
        pthread_join(pt[i], NULL);
    }
    if (producers < nproducers) {
        atomic_store(&t->deadline, 0); /* nothing more will come */
    }
    for (int i = 0; i < consumers; i++) {
        pthread_join(ct[i], NULL);
    }
    CHECK_MSG(t->distinct == PRODUCERS * PER_PRODUCER, "received %d distinct messages of %d", t->distinct,
              PRODUCERS * PER_PRODUCER);
    CHECK_MSG(t->foreign == 0, "%d foreign messages", t->foreign);
    harness_note("%d messages: %d and %d by the two consumers, %d duplicates", t->distinct, t->per_consumer[0],
                 t->per_consumer[1], t->duplicates);
    for (int i = 0; i < CONSUMERS; i++) {
        kmq_consumer_free(cs[i]);
    }
    pthread_mutex_destroy(&t->lock);
}

static void test_two_producers_two_consumers(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    static tally t;
    memset(&t, 0, sizeof t);
    worker pw[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        pw[i] = (worker){.n = i, .from = 0, .to = PER_PRODUCER, .t = &t,
                         .p = new_producer(config_for(b.port, "shared", "producer_id", id, NULL))};
        REQUIRE(pw[i].p != NULL);
    }
    run_and_tally(b.port, "shared", pw, PRODUCERS, &t);
    for (int i = 0; i < PRODUCERS; i++) {
        CHECK_PRODUCER_STATS(pw[i].p, PER_PRODUCER, PER_PRODUCER, 0, 0);
        kmq_producer_free(pw[i].p);
    }
    broker_kill(&b);
}

/* One producer handle used by four threads at once (each sends half of one
 * producer's range), and the two consumers of the case above. */
static void test_one_producer_shared_by_threads(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    static tally t;
    memset(&t, 0, sizeof t);
    kmq_producer *p = new_producer(config_for(b.port, "one-handle", NULL));
    REQUIRE(p != NULL);
    worker pw[PRODUCERS * 2];
    for (int i = 0; i < PRODUCERS * 2; i++) {
        int half = PER_PRODUCER / 2;
        pw[i] = (worker){.n = i / 2, .p = p, .from = (i % 2) * half, .to = (i % 2 + 1) * half, .t = &t};
    }
    run_and_tally(b.port, "one-handle", pw, PRODUCERS * 2, &t);
    CHECK_PRODUCER_STATS(p, PRODUCERS * PER_PRODUCER, PRODUCERS * PER_PRODUCER, 0, 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

int main(void) {
    RUN(test_two_producers_two_consumers);
    RUN(test_one_producer_shared_by_threads);
    return harness_exit();
}
