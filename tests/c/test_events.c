/* Event loops: kmq_consumer_fd and kmq_producer_fd poll readable exactly
 * while kmq_receive / kmq_poll_reports with timeout 0 would hand something
 * out (or the handle is closed), with poll and with epoll; delivery reports
 * carry the caller's pointer and the failure's own text. */
#include "harness.h"

#include <pthread.h>
#include <sys/epoll.h>

/* Whether fd polls readable within timeout_ms. */
static bool readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r == 1 && (p.revents & POLLIN) != 0;
}

static bool send_burst(kmq_producer *p, int n) {
    char buf[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(buf, sizeof buf, "m%d", i);
        if (!CHECK_OK(kmq_send(p, buf, (size_t)len, 0))) {
            return false;
        }
    }
    return CHECK_OK(kmq_flush(p, 10000));
}

static void test_fd_of_null_or_wrong_handle_is_minus_one(void) {
    CHECK(kmq_consumer_fd(NULL) == -1);
    CHECK(kmq_producer_fd(NULL) == -1);
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "fd-kind", NULL));
    REQUIRE(p != NULL);
    /* A producer passed where a consumer belongs is refused, not used. */
    CHECK(kmq_consumer_fd((kmq_consumer *)(void *)p) == -1);
    CHECK_ERROR_NAMES("kmq_consumer");
    int fd = kmq_producer_fd(p);
    CHECK(fd >= 0);
    CHECK(kmq_producer_fd(p) == fd); /* one descriptor per handle */
    CHECK(!readable(fd, 0));          /* nothing reported yet */
    kmq_producer_free(p);
    broker_kill(&b);
}

/* A burst of messages, taken by a loop that calls kmq_receive only when
 * poll says the descriptor is readable: each such receive hands out a
 * message, and once all are taken the descriptor is quiet again. */
static void test_consumer_fd_with_poll_drains_a_burst(void) {
    enum { N = 3000 };
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "fd-poll", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "fd-poll", NULL));
    REQUIRE(c != NULL && p != NULL);
    int fd = kmq_consumer_fd(c);
    REQUIRE(fd >= 0);
    CHECK(kmq_consumer_fd(c) == fd);
    CHECK(!readable(fd, 100));

    REQUIRE(send_burst(p, N));
    int got = 0, idle_wakeups = 0;
    while (got < N) {
        if (!CHECK_MSG(readable(fd, 10000), "descriptor not readable after %d of %d messages", got, N)) {
            break;
        }
        kmq_message *m = NULL;
        kmq_status s = kmq_receive(c, 0, &m);
        if (s == KMQ_ERR_TIMEOUT) {
            idle_wakeups++;
            continue;
        }
        if (!CHECK_OK(s)) {
            break;
        }
        CHECK_OK(kmq_ack(c, kmq_message_code(m)));
        kmq_message_free(m);
        got++;
    }
    CHECK(got == N);
    CHECK_MSG(idle_wakeups == 0, "readable %d times with nothing to receive", idle_wakeups);
    CHECK(!readable(fd, 200)); /* drained: quiet */
    kmq_message *m = NULL;
    CHECK_STATUS(kmq_receive(c, 0, &m), KMQ_ERR_TIMEOUT);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

/* Level-triggered epoll over several bursts: every burst wakes the loop,
 * which drains with kmq_receive(c, 0) until it times out, after which
 * epoll reports nothing until the next burst. */
static void test_consumer_fd_with_epoll_over_several_bursts(void) {
    enum { BURSTS = 5, N = 400 };
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "fd-epoll", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "fd-epoll", NULL));
    REQUIRE(c != NULL && p != NULL);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(ep >= 0);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, kmq_consumer_fd(c), &ev) == 0);

    int got = 0;
    for (int burst = 0; burst < BURSTS; burst++) {
        struct epoll_event out;
        CHECK_MSG(epoll_wait(ep, &out, 1, 0) == 0, "epoll reports readiness before burst %d", burst);
        if (!send_burst(p, N)) {
            break;
        }
        int want = (burst + 1) * N;
        while (got < want) {
            if (!CHECK_MSG(epoll_wait(ep, &out, 1, 10000) == 1, "no wake-up with %d of %d taken", got, want)) {
                goto done;
            }
            kmq_message *m = NULL;
            while (kmq_receive(c, 0, &m) == KMQ_OK) {
                kmq_ack(c, kmq_message_code(m));
                kmq_message_free(m);
                got++;
            }
        }
        /* Level-triggered and drained: quiet until the next burst. */
        CHECK(epoll_wait(ep, &out, 1, 200) == 0);
    }
done:
    CHECK(got == BURSTS * N);
    close(ep);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

typedef struct waiter {
    int fd;
    bool woke;
    int64_t woke_at;
} waiter;

static void *wait_readable(void *arg) {
    waiter *w = arg;
    w->woke = readable(w->fd, 20000);
    w->woke_at = now_ms();
    return NULL;
}

/* A thread blocked in poll on the descriptor wakes when another thread
 * closes the handle; then kmq_receive / kmq_poll_reports say CLOSED. */
static void test_close_wakes_a_thread_polling_the_fd(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "fd-close", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "fd-close", NULL));
    REQUIRE(c != NULL && p != NULL);
    waiter wc = {kmq_consumer_fd(c), false, 0}, wp = {kmq_producer_fd(p), false, 0};
    REQUIRE(wc.fd >= 0 && wp.fd >= 0);
    pthread_t tc, tp;
    REQUIRE(pthread_create(&tc, NULL, wait_readable, &wc) == 0);
    REQUIRE(pthread_create(&tp, NULL, wait_readable, &wp) == 0);
    sleep_ms(300);
    int64_t closed_at = now_ms();
    kmq_consumer_close(c);
    kmq_producer_close(p);
    pthread_join(tc, NULL);
    pthread_join(tp, NULL);
    CHECK(wc.woke && wp.woke);
    CHECK_MSG(wc.woke_at - closed_at < 1500 && wp.woke_at - closed_at < 1500,
              "pollers woke %lld / %lld ms after close", (long long)(wc.woke_at - closed_at),
              (long long)(wp.woke_at - closed_at));
    /* Closed stays readable: the loop learns it from the calls. */
    CHECK(readable(wc.fd, 0) && readable(wp.fd, 0));
    kmq_message *m = NULL;
    CHECK_STATUS(kmq_receive(c, 0, &m), KMQ_ERR_CLOSED);
    kmq_delivery_report r[1];
    size_t n = 0;
    CHECK_STATUS(kmq_poll_reports(p, r, 1, 0, &n), KMQ_ERR_CLOSED);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

/* Tracked sends with the caller's pointer: the producer's descriptor wakes
 * the loop for reports, each report hands the pointer back with an empty
 * error text, and the descriptor is quiet once every report is taken. */
static void test_producer_fd_and_opaque_reports(void) {
    enum { N = 500 };
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "fd-reports", NULL));
    REQUIRE(p != NULL);
    int fd = kmq_producer_fd(p);
    REQUIRE(fd >= 0);
    static int slots[N];
    static int seen[N];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < N; i++) {
        uint64_t id = 0;
        REQUIRE_OK(kmq_send_tracked_opaque(p, "tracked", 7, 0, &slots[i], &id));
        CHECK(id != 0);
    }
    static kmq_delivery_report reports[64];
    int got = 0, idle_wakeups = 0;
    while (got < N) {
        if (!CHECK_MSG(readable(fd, 10000), "no report readiness after %d of %d", got, N)) {
            break;
        }
        size_t n = 0;
        kmq_status s = kmq_poll_reports(p, reports, 64, 0, &n);
        if (s == KMQ_ERR_TIMEOUT) {
            idle_wakeups++;
            continue;
        }
        if (!CHECK_OK(s)) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            int *slot = reports[i].opaque;
            CHECK(reports[i].status == KMQ_OK);
            CHECK(reports[i].error[0] == '\0');
            if (CHECK(slot >= slots && slot < slots + N)) {
                seen[slot - slots]++;
            }
        }
        got += (int)n;
    }
    CHECK(got == N);
    CHECK(idle_wakeups == 0);
    for (int i = 0; i < N; i++) {
        CHECK_MSG(seen[i] == 1, "pointer %d handed back %d times", i, seen[i]);
    }
    CHECK(!readable(fd, 200));
    /* kmq_send_tracked hands back NULL. */
    uint64_t id;
    REQUIRE_OK(kmq_send_tracked(p, "plain", 5, 0, &id));
    size_t n = 0;
    REQUIRE_OK(kmq_poll_reports(p, reports, 1, 5000, &n));
    CHECK(n == 1 && reports[0].id == id && reports[0].opaque == NULL);
    /* As kmq_send_tracked, a NULL id is refused. */
    CHECK_STATUS(kmq_send_tracked_opaque(p, "x", 1, 0, NULL, NULL), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(kmq_send_tracked_opaque(NULL, "x", 1, 0, NULL, &id), KMQ_ERR_INVALID_ARGUMENT);
    CHECK(id == 0);
    kmq_producer_free(p);
    broker_kill(&b);
}

/* A message the server never confirms: its report says so in the
 * library's words, not just with a status. */
static void test_failed_report_carries_the_error_text(void) {
    broker b;
    REQUIRE(broker_start(&b, "--stall-acks", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "fd-fail", "message_timeout_ms", "300", NULL));
    REQUIRE(p != NULL);
    int fd = kmq_producer_fd(p);
    int tag = 7;
    uint64_t id;
    REQUIRE_OK(kmq_send_tracked_opaque(p, "never confirmed", 15, 0, &tag, &id));
    CHECK(readable(fd, 5000));
    kmq_delivery_report r[2];
    size_t n = 0;
    REQUIRE_OK(kmq_poll_reports(p, r, 2, 0, &n));
    REQUIRE(n == 1);
    CHECK(r[0].id == id && r[0].opaque == &tag);
    CHECK_STATUS(r[0].status, KMQ_ERR_TIMEOUT);
    CHECK(memchr(r[0].error, '\0', sizeof r[0].error) != NULL);
    CHECK_MSG(strstr(r[0].error, "message_timeout_ms") != NULL && strstr(r[0].error, "300") != NULL,
              "report error text: \"%s\"", r[0].error);
    CHECK(!readable(fd, 100));
    kmq_producer_free(p);
    broker_kill(&b);
}

int main(void) {
    RUN(test_fd_of_null_or_wrong_handle_is_minus_one);
    RUN(test_consumer_fd_with_poll_drains_a_burst);
    RUN(test_consumer_fd_with_epoll_over_several_bursts);
    RUN(test_close_wakes_a_thread_polling_the_fd);
    RUN(test_producer_fd_and_opaque_reports);
    RUN(test_failed_report_carries_the_error_text);
    return harness_exit();
}
