/* 1,000 cycles of opening a producer and a consumer, passing one message
 * through them and freeing both: what a cycle leaves behind (memory, file
 * descriptors, threads) adds up over a long-running application. RSS, open
 * descriptors and threads at cycle 100 and at cycle 1000 must be the same
 * within a small bound. */
#include "harness.h"

#include <dirent.h>

#define CYCLES 1000
#define FIRST_LOOK 100
/* Allowed RSS growth from cycle 100 to cycle 1000: about 1 KiB a cycle,
 * room for the allocator's fragmentation but not for a leaked connection
 * (its buffers alone are several KiB). */
#define RSS_BOUND_KIB 1024

static long rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int count_entries(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

typedef struct {
    long rss_kib;
    int fds, threads;
} usage;

/* Descriptors and threads once the connections freed last have finished
 * closing (the runtime closes them in the background, within a second). */
static usage settled_usage(void) {
    usage u = {0, count_entries("/proc/self/fd"), count_entries("/proc/self/task")};
    for (int64_t deadline = now_ms() + 3000, stable_since = now_ms(); now_ms() < deadline;) {
        sleep_ms(20);
        usage v = {0, count_entries("/proc/self/fd"), count_entries("/proc/self/task")};
        if (v.fds != u.fds || v.threads != u.threads) {
            u = v;
            stable_since = now_ms();
        } else if (now_ms() - stable_since >= 300) {
            break;
        }
    }
    u.rss_kib = rss_kib();
    return u;
}

/* One cycle: connect both, send one message, receive and ack it, free. */
static bool cycle(const kmq_config *cfg) {
    kmq_consumer *c = NULL;
    kmq_producer *p = NULL;
    kmq_message *m = NULL;
    bool ok = CHECK_OK(kmq_consumer_new(cfg, &c)) && CHECK_OK(kmq_producer_new(cfg, &p)) &&
              CHECK_OK(kmq_send_wait(p, "soak", 4, 0, 5000)) && CHECK_OK(kmq_receive(c, 5000, &m)) &&
              CHECK_OK(kmq_ack(c, kmq_message_code(m)));
    kmq_message_free(m);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    return ok;
}

static void test_open_close_cycles_stay_flat(void) {
    broker b;
    REQUIRE(broker_start(&b, "--clean-consumed", NULL));
    kmq_config *cfg = config_for(b.port, "soak", NULL);
    REQUIRE(cfg != NULL);
    usage first = {0, 0, 0}, last;
    int64_t started = now_ms();
    for (int i = 1; i <= CYCLES; i++) {
        if (!cycle(cfg)) {
            harness_note("cycle %d failed", i);
            break;
        }
        if (i == FIRST_LOOK) {
            first = settled_usage();
        }
    }
    last = settled_usage();
    harness_note("%d cycles in %lld ms; cycle %d: RSS %ld KiB, %d fds, %d threads; cycle %d: RSS %ld KiB, %d fds, "
                 "%d threads",
                 CYCLES, (long long)(now_ms() - started), FIRST_LOOK, first.rss_kib, first.fds, first.threads, CYCLES,
                 last.rss_kib, last.fds, last.threads);
    CHECK_MSG(last.rss_kib - first.rss_kib <= RSS_BOUND_KIB, "RSS grew by %ld KiB over %d cycles",
              last.rss_kib - first.rss_kib, CYCLES - FIRST_LOOK);
    CHECK_MSG(last.fds <= first.fds, "open descriptors grew from %d to %d", first.fds, last.fds);
    CHECK_MSG(last.threads <= first.threads, "threads grew from %d to %d", first.threads, last.threads);
    kmq_config_free(cfg);
    broker_kill(&b);
}

int main(void) {
    RUN(test_open_close_cycles_stay_flat);
    return harness_exit();
}
