/*
 * A tiny test harness for the C tests of kapokmq: checks, test cases, and
 * kmq-broker processes started on free loopback ports.
 *
 * Each test program is one translation unit: it includes this header first,
 * defines `static void test_x(void)` functions and calls RUN(test_x) from
 * main, then returns harness_exit(). Output is TAP-like, one line per case:
 *     ok - name (12 ms)
 *     not ok - name (503 ms)
 *     ok - name # SKIP reason     (the broker lacks a test switch)
 *     # a detail line (failures, timings)
 * tests/c/run.sh reads these lines.
 *
 * Environment: KMQ_BROKER (default: target/release/kmq-broker, relative to
 * the repository root; run.sh sets it), KMQ_TEST_CASE_TIMEOUT_S (per-case
 * watchdog, default 90), KMQ_TEST_BROKER_LOG (a file for broker stderr).
 */
#ifndef KAPOKMQ_TEST_HARNESS_H
#define KAPOKMQ_TEST_HARNESS_H

/* fork/exec, pipe2, kill, clock_gettime and friends are POSIX/GNU, which
 * -std=c11 hides unless asked for. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "kapokmq.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Time                                                                */

static inline int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */

/* Failures of the running case; checks may run on any thread. */
static atomic_int harness_case_failures;
static int harness_passed, harness_failed, harness_skipped;
/* Set when a broker refused a test switch it lacks (the real node, see
 * tests/real): the running case is reported skipped with this reason. */
static char harness_skip_reason[256];

static inline void harness_note(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* One write per line, so lines from several threads do not interleave. */
    flockfile(stdout);
    printf("# %s\n", buf);
    fflush(stdout);
    funlockfile(stdout);
}

/* Records a failure when !ok, with kmq_last_error() of this thread, read
 * at once because the next kapokmq call replaces it. Returns ok. */
static inline bool harness_check(bool ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        return true;
    }
    char buf[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const char *last = kmq_last_error();
    bool has_last = last != NULL && *last != '\0';
    harness_note("%s:%d: %s%s%s%s", file, line, buf, has_last ? " [last error: " : "", has_last ? last : "",
                 has_last ? "]" : "");
    atomic_fetch_add(&harness_case_failures, 1);
    return false;
}

/* CHECK records a failure and goes on; REQUIRE also returns from the
 * calling void function (brokers are cleaned up by the harness). Both
 * evaluate to whether the condition held. */
#define CHECK(cond) harness_check((cond) ? true : false, __FILE__, __LINE__, "CHECK failed: %s", #cond)

/* As CHECK, with a printf-style explanation instead of the expression. */
#define CHECK_MSG(cond, ...) harness_check((cond) ? true : false, __FILE__, __LINE__, __VA_ARGS__)

#define REQUIRE(cond)         \
    do {                      \
        if (!CHECK(cond)) {   \
            return;           \
        }                     \
    } while (0)

/* Compares a status with the expected one, naming both on failure. */
#define CHECK_STATUS(expr, want) harness_check_status((expr), (want), #expr, __FILE__, __LINE__)
#define CHECK_OK(expr) CHECK_STATUS((expr), KMQ_OK)
#define REQUIRE_STATUS(expr, want)                         \
    do {                                                   \
        if (!CHECK_STATUS((expr), (want))) {               \
            return;                                        \
        }                                                  \
    } while (0)
#define REQUIRE_OK(expr) REQUIRE_STATUS((expr), KMQ_OK)

static inline bool harness_check_status(kmq_status got, kmq_status want, const char *expr,
                                        const char *file, int line) {
    if (got == want) {
        return true;
    }
    return harness_check(false, file, line, "%s returned %s, expected %s", expr, kmq_status_str(got),
                         kmq_status_str(want));
}

/* True when `word` occurs in `text` with no identifier character on either
 * side, so that "out" is not found inside "timeout". */
static inline bool names_word(const char *text, const char *word) {
    size_t n = strlen(word);
    for (const char *p = text; p && (p = strstr(p, word)) != NULL; p++) {
        bool left_ok = p == text || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                      (p[-1] >= 'A' && p[-1] <= 'Z') || (p[-1] >= '0' && p[-1] <= '9'));
        char r = p[n];
        bool right_ok = !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
                          (r >= '0' && r <= '9'));
        if (left_ok && right_ok) {
            return true;
        }
    }
    return false;
}

/* Checks that the last error on this thread is non-empty and names `word`. */
#define CHECK_ERROR_NAMES(word) harness_check_error_names((word), __FILE__, __LINE__)

static inline bool harness_check_error_names(const char *word, const char *file, int line) {
    const char *e = kmq_last_error();
    if (e != NULL && names_word(e, word)) {
        return true;
    }
    return harness_check(false, file, line, "kmq_last_error() does not name \"%s\": \"%s\"", word,
                         e ? e : "(NULL)");
}

/* ------------------------------------------------------------------ */
/* Brokers                                                             */

#define HARNESS_MAX_ARGS 32
#define HARNESS_MAX_BROKERS 16

typedef struct broker {
    pid_t pid;     /* 0 when not running */
    int port;
    int nargs;
    const char *args[HARNESS_MAX_ARGS]; /* extra flags, kept for restarts */
} broker;

/* Every running broker by pid (not by pointer: a case that returns early
 * leaves its broker struct behind on a dead stack frame), so that the end of
 * a case or the watchdog can kill it. */
static volatile pid_t harness_pids[HARNESS_MAX_BROKERS];
static int harness_fds[HARNESS_MAX_BROKERS];

static inline const char *broker_path(void) {
    const char *p = getenv("KMQ_BROKER");
    return p && *p ? p : "target/release/kmq-broker";
}

static inline void harness_track(pid_t pid, int fd) {
    for (int i = 0; i < HARNESS_MAX_BROKERS; i++) {
        if (harness_pids[i] == 0) {
            harness_fds[i] = fd;
            harness_pids[i] = pid;
            return;
        }
    }
}

/* SIGKILL, reap and forget one tracked broker. */
static inline void harness_reap(pid_t pid) {
    for (int i = 0; i < HARNESS_MAX_BROKERS; i++) {
        if (harness_pids[i] == pid) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            close(harness_fds[i]);
            harness_pids[i] = 0;
            return;
        }
    }
}

/* Reads the ready line "kmq-broker listening on 127.0.0.1:PORT" within
 * `timeout` ms; returns the port, or -1. */
static inline int harness_read_port(int fd, int64_t timeout, char *line, size_t cap) {
    size_t n = 0;
    int64_t deadline = now_ms() + timeout;
    while (n + 1 < cap) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            break;
        }
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        ssize_t got = read(fd, line + n, 1);
        if (got <= 0) {
            break;
        }
        if (line[n] == '\n') {
            line[n] = '\0';
            const char *prefix = "kmq-broker listening on ";
            const char *unsupported = "kmq-broker unsupported: ";
            if (strncmp(line, unsupported, strlen(unsupported)) == 0) {
                snprintf(harness_skip_reason, sizeof harness_skip_reason, "%s", line + strlen(unsupported));
                return -1;
            }
            const char *colon = strrchr(line, ':');
            if (strncmp(line, prefix, strlen(prefix)) != 0 || colon == NULL) {
                return -1;
            }
            int port = atoi(colon + 1);
            return port > 0 && port < 65536 ? port : -1;
        }
        n++;
    }
    line[n] = '\0';
    return -1;
}

/* Starts the broker on `port` (0: a free one) with b->args. */
static inline bool harness_spawn(broker *b, int port) {
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    const char *argv[HARNESS_MAX_ARGS + 8];
    int k = 0;
    argv[k++] = broker_path();
    argv[k++] = "--port";
    argv[k++] = port_s;
    argv[k++] = "--push-speed-ms";
    argv[k++] = "0";
    for (int i = 0; i < b->nargs; i++) {
        argv[k++] = b->args[i];
    }
    argv[k] = NULL;

    const char *log = getenv("KMQ_TEST_BROKER_LOG");
    int errfd = open(log && *log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int fds[2]; /* its stdout; the read end stays open so it never gets EPIPE */
    if (errfd < 0 || pipe2(fds, O_CLOEXEC) != 0) {
        harness_note("broker: cannot make pipes: %s", strerror(errno));
        if (errfd >= 0) {
            close(errfd);
        }
        return false;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: the library's
         * runtime threads exist in the parent but not here. */
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        if (getppid() != parent) {
            _exit(127);
        }
        dup2(fds[1], STDOUT_FILENO);
        dup2(errfd, STDERR_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    close(errfd);
    if (pid < 0) {
        harness_note("broker: fork: %s", strerror(errno));
        close(fds[0]);
        return false;
    }
    char line[256];
    int got = harness_read_port(fds[0], 10000, line, sizeof line);
    if (got < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        if (port == 0 && harness_skip_reason[0] == '\0') { /* a restart retries; say why only for a first start */
            harness_note("broker %s did not start (ready line \"%s\"); build it with "
                         "cargo build --release -p kmq-broker",
                         argv[0], line);
        }
        return false;
    }
    b->pid = pid;
    b->port = got;
    harness_track(pid, fds[0]);
    return true;
}

/* Starts `kmq-broker --port 0 --push-speed-ms 0` plus the extra flags
 * given as a NULL-terminated list of strings (which must outlive `b`). */
static inline bool broker_start(broker *b, ...) {
    memset(b, 0, sizeof *b);
    va_list ap;
    va_start(ap, b);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) {
        if (b->nargs < HARNESS_MAX_ARGS) {
            b->args[b->nargs++] = a;
        }
    }
    va_end(ap);
    return harness_spawn(b, 0);
}

/* SIGKILL and reap. Harmless when not running. */
static inline void broker_kill(broker *b) {
    if (b->pid > 0) {
        harness_reap(b->pid);
        b->pid = 0;
    }
}

/* Kills the broker (if running) and starts it again on the same port with
 * the same flags (so the same --wal file). Retries for a few seconds while
 * the port is still held by the dead process's sockets. */
static inline bool broker_restart(broker *b) {
    int port = b->port;
    broker_kill(b);
    int64_t deadline = now_ms() + 5000;
    do {
        if (harness_spawn(b, port)) {
            return true;
        }
        sleep_ms(100);
    } while (now_ms() < deadline);
    harness_note("broker could not be restarted on port %d", port);
    return false;
}

/* A local port nothing listens on: bound once, then released. */
static inline int closed_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (s >= 0) {
        close(s);
    }
    return port;
}

/* ------------------------------------------------------------------ */
/* Configs                                                             */

/* A config for 127.0.0.1:`port` and `topic` with ids "p1"/"c1", then the
 * NULL-terminated key/value pairs that follow (later pairs win). Returns
 * NULL (after recording a failure) if a value is refused. */
static inline kmq_config *config_for(int port, const char *topic, ...) {
    kmq_config *cfg = kmq_config_new();
    if (!CHECK(cfg != NULL)) {
        return NULL;
    }
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    bool ok = CHECK_OK(kmq_config_set(cfg, "mq_addr", "127.0.0.1")) &&
              CHECK_OK(kmq_config_set(cfg, "mq_port", port_s)) &&
              CHECK_OK(kmq_config_set(cfg, "topic", topic)) &&
              CHECK_OK(kmq_config_set(cfg, "producer_id", "p1")) &&
              CHECK_OK(kmq_config_set(cfg, "consumer_id", "c1"));
    va_list ap;
    va_start(ap, topic);
    for (const char *k; ok && (k = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        if (!CHECK_MSG(kmq_config_set(cfg, k, v) == KMQ_OK, "config %s=%s refused", k, v)) {
            ok = false;
        }
    }
    va_end(ap);
    if (!ok) {
        kmq_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* Connects a producer with `cfg` and frees `cfg`; NULL (after recording a
 * failure) when that fails. */
static inline kmq_producer *new_producer(kmq_config *cfg) {
    kmq_producer *p = NULL;
    if (cfg != NULL) {
        CHECK_OK(kmq_producer_new(cfg, &p));
        kmq_config_free(cfg);
    }
    return p;
}

/* As new_producer, for a consumer. */
static inline kmq_consumer *new_consumer(kmq_config *cfg) {
    kmq_consumer *c = NULL;
    if (cfg != NULL) {
        CHECK_OK(kmq_consumer_new(cfg, &c));
        kmq_config_free(cfg);
    }
    return c;
}

/* Reads the producer's counters and checks the four that account for every
 * message; returns them all for further looks. */
#define CHECK_PRODUCER_STATS(p, enqueued, confirmed, failed, in_flight) \
    harness_producer_stats((p), (enqueued), (confirmed), (failed), (in_flight), __FILE__, __LINE__)

static inline kmq_producer_stats harness_producer_stats(const kmq_producer *p, uint64_t enqueued,
                                                        uint64_t confirmed, uint64_t failed, uint64_t in_flight,
                                                        const char *file, int line) {
    kmq_producer_stats s;
    memset(&s, 0, sizeof s);
    if (harness_check_status(kmq_producer_get_stats(p, &s), KMQ_OK, "kmq_producer_get_stats", file, line)) {
        harness_check(s.enqueued == enqueued && s.confirmed == confirmed && s.failed == failed &&
                          s.in_flight == in_flight,
                      file, line,
                      "producer counters: enqueued %llu, confirmed %llu, failed %llu, in flight %llu; "
                      "expected %llu, %llu, %llu, %llu",
                      (unsigned long long)s.enqueued, (unsigned long long)s.confirmed, (unsigned long long)s.failed,
                      (unsigned long long)s.in_flight, (unsigned long long)enqueued, (unsigned long long)confirmed,
                      (unsigned long long)failed, (unsigned long long)in_flight);
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* Cases                                                               */

static const char *volatile harness_case_name = "";

static void harness_watchdog(int sig) {
    (void)sig;
    /* Only async-signal-safe calls here. */
    static const char msg[] = "# watchdog: case took too long, killing brokers\nnot ok - ";
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {
    }
    const char *name = harness_case_name;
    if (write(STDOUT_FILENO, name, strlen(name)) < 0 || write(STDOUT_FILENO, "\n", 1) < 0) {
    }
    for (int i = 0; i < HARNESS_MAX_BROKERS; i++) {
        if (harness_pids[i] > 0) {
            kill(harness_pids[i], SIGKILL);
        }
    }
    _exit(3);
}

static inline void harness_run(const char *name, void (*fn)(void)) {
    static bool installed;
    if (!installed) {
        signal(SIGALRM, harness_watchdog);
        signal(SIGPIPE, SIG_IGN);
        setvbuf(stdout, NULL, _IOLBF, 0);
        installed = true;
    }
    const char *t = getenv("KMQ_TEST_CASE_TIMEOUT_S");
    if (strncmp(name, "test_", 5) == 0) {
        name += 5;
    }
    harness_case_name = name;
    atomic_store(&harness_case_failures, 0);
    harness_skip_reason[0] = '\0';
    alarm(t && atoi(t) > 0 ? (unsigned)atoi(t) : 90);
    int64_t start = now_ms();
    fn();
    int64_t took = now_ms() - start;
    alarm(0);
    /* A case that returned early (REQUIRE) may have left brokers behind. */
    for (int i = 0; i < HARNESS_MAX_BROKERS; i++) {
        if (harness_pids[i] > 0) {
            harness_reap(harness_pids[i]);
        }
    }
    if (harness_skip_reason[0] != '\0') {
        printf("ok - %s # SKIP %s\n", name, harness_skip_reason);
        fflush(stdout);
        harness_skipped++;
        return;
    }
    bool ok = atomic_load(&harness_case_failures) == 0;
    printf("%s - %s (%lld ms)\n", ok ? "ok" : "not ok", name, (long long)took);
    fflush(stdout);
    if (ok) {
        harness_passed++;
    } else {
        harness_failed++;
    }
}

#define RUN(fn) harness_run(#fn, fn)

static inline int harness_exit(void) {
    return harness_failed == 0 && harness_passed + harness_skipped > 0 ? 0 : 1;
}

#endif /* KAPOKMQ_TEST_HARNESS_H */
