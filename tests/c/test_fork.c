/* fork() with live handles: in the child, the parent's handles fail at once
 * with KMQ_ERR_CLOSED and freeing them does nothing; a new handle made in
 * the child works or fails within its time limit, never hangs; the parent's
 * handles go on working. */
#include "harness.h"

/* The child's checks; its exit status is its number of failures. */
static void child(kmq_producer *p, kmq_consumer *c, int port) {
    /* A hang ends the child by SIGALRM, which the parent reports (not the
     * harness watchdog: that one would kill the parent's broker). */
    signal(SIGALRM, SIG_DFL);
    alarm(8);
    int64_t t0 = now_ms();
    CHECK_STATUS(kmq_send(p, "from the child", 14, 0), KMQ_ERR_CLOSED);
    CHECK_ERROR_NAMES("fork");
    CHECK_STATUS(kmq_flush(p, 1000), KMQ_ERR_CLOSED);
    kmq_message *m = (kmq_message *)&t0;
    CHECK_STATUS(kmq_receive(c, 1000, &m), KMQ_ERR_CLOSED);
    CHECK(m == NULL);
    kmq_producer_free(p); /* the parent's: nothing happens */
    kmq_consumer_free(c);
    CHECK_MSG(now_ms() - t0 < 500, "refusing the parent's handles took %lld ms", (long long)(now_ms() - t0));

    /* A handle of the child's own. */
    harness_note("child: connecting a producer of its own");
    t0 = now_ms();
    kmq_producer *mine = NULL;
    kmq_config *cfg = config_for(port, "forked", "connect_timeout_ms", "1000", "producer_id", "child", NULL);
    kmq_status st = cfg ? kmq_producer_new(cfg, &mine) : KMQ_ERR_INVALID_ARGUMENT;
    kmq_config_free(cfg);
    if (st == KMQ_OK) {
        CHECK_OK(kmq_send_wait(mine, "child's own", 11, 0, 2000));
        kmq_producer_free(mine);
    } else {
        harness_note("child: a new producer was refused: %s: %s", kmq_status_str(st), kmq_last_error());
        CHECK(mine == NULL);
    }
    CHECK_MSG(now_ms() - t0 < 4000, "a new producer in the child took %lld ms", (long long)(now_ms() - t0));
    fflush(stdout);
    _exit(atomic_load(&harness_case_failures) == 0 ? 0 : 1);
}

static void test_handles_after_fork(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "forked", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "forked", NULL));
    REQUIRE(c != NULL && p != NULL);
    REQUIRE_OK(kmq_send_wait(p, "before", 6, 0, 5000));

    fflush(stdout);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        child(p, c, b.port);
    }
    int status = 0;
    int64_t deadline = now_ms() + 15000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        sleep_ms(20);
    }
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child %s %d%s",
              WIFSIGNALED(status) ? "died of signal" : "failed with status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
              WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (SIGALRM: a call in it hung for 8 s)" : "");

    /* The parent's handles still work: "before", maybe the child's message
     * (same topic), then "after". */
    CHECK_OK(kmq_send_wait(p, "after", 5, 0, 5000));
    bool got_after = false;
    for (int i = 0; i < 3 && !got_after; i++) {
        kmq_message *m = NULL;
        if (!CHECK_OK(kmq_receive(c, 5000, &m))) {
            break;
        }
        size_t len = 0;
        const char *data = kmq_message_data(m, &len);
        got_after = len == 5 && memcmp(data, "after", 5) == 0;
        kmq_message_free(m);
    }
    CHECK(got_after);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_handles_after_fork);
    return harness_exit();
}
