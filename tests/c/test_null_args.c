/* Every pointer argument of every function in kapokmq.h may be NULL: status
 * functions refuse it naming the argument, free functions do nothing,
 * accessors return NULL or 0. Also kmq_status_str, kmq_last_error and
 * kmq_version. */
#include "harness.h"

#include <pthread.h>

/* The call must return KMQ_ERR_INVALID_ARGUMENT with an error naming `arg`. */
#define CHECK_NULL_ARG(call, arg)                                          \
    do {                                                                   \
        if (CHECK_STATUS((call), KMQ_ERR_INVALID_ARGUMENT)) {              \
            CHECK_ERROR_NAMES(arg);                                        \
        }                                                                  \
    } while (0)

/* kmq_status_str(v) called in a child process, so that a crash fails this
 * check instead of ending the program; its string goes to `buf`. */
static bool status_str_in_child(int v, char *buf, size_t cap) {
    int fds[2];
    if (!CHECK(pipe(fds) == 0)) {
        return false;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        const char *s = kmq_status_str((kmq_status)v);
        size_t len = s ? strnlen(s, cap - 1) : 0;
        _exit(s != NULL && write(fds[1], s, len) == (ssize_t)len ? 0 : 1);
    }
    close(fds[1]);
    size_t n = 0;
    for (ssize_t got; n + 1 < cap && (got = read(fds[0], buf + n, cap - 1 - n)) > 0;) {
        n += (size_t)got;
    }
    buf[n] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        return CHECK_MSG(false, "kmq_status_str(%d) crashed the process with signal %d", v, WTERMSIG(status));
    }
    return CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "kmq_status_str(%d) returned NULL", v);
}

static void test_status_names(void) {
    static const struct {
        kmq_status s;
        const char *name;
    } all[] = {
        {KMQ_OK, "KMQ_OK"},
        {KMQ_ERR_INVALID_ARGUMENT, "KMQ_ERR_INVALID_ARGUMENT"},
        {KMQ_ERR_AUTH, "KMQ_ERR_AUTH"},
        {KMQ_ERR_CONNECT, "KMQ_ERR_CONNECT"},
        {KMQ_ERR_TIMEOUT, "KMQ_ERR_TIMEOUT"},
        {KMQ_ERR_CLOSED, "KMQ_ERR_CLOSED"},
        {KMQ_ERR_QUEUE_FULL, "KMQ_ERR_QUEUE_FULL"},
        {KMQ_ERR_PROTOCOL, "KMQ_ERR_PROTOCOL"},
        {KMQ_ERR_NO_NODES, "KMQ_ERR_NO_NODES"},
        {KMQ_ERR_INTERNAL, "KMQ_ERR_INTERNAL"},
    };
    size_t n = sizeof all / sizeof all[0];
    CHECK(KMQ_OK == 0);
    for (size_t i = 0; i < n; i++) {
        const char *got = kmq_status_str(all[i].s);
        CHECK_MSG(got != NULL && strcmp(got, all[i].name) == 0, "kmq_status_str(%d) = \"%s\", expected \"%s\"",
                  (int)all[i].s, got ? got : "(NULL)", all[i].name);
    }
    /* Values a C caller may pass although they name no status: a printable
     * string that is no status name. */
    const int odd[] = {(int)n, (int)n + 1, 1000, -1, 0x7fffffff};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char got[256];
        if (!status_str_in_child(odd[i], got, sizeof got)) {
            continue;
        }
        bool printable = got[0] != '\0';
        char shown[4 * sizeof got] = "", *w = shown; /* non-printable bytes as \xNN */
        for (const unsigned char *p = (const unsigned char *)got; *p; p++) {
            printable = printable && *p >= 0x20 && *p < 0x7f;
            w += sprintf(w, *p >= 0x20 && *p < 0x7f ? "%c" : "\\x%02x", *p);
        }
        CHECK_MSG(printable, "kmq_status_str(%d) is not a printable name: \"%s\"", odd[i], shown);
        for (size_t j = 0; j < n; j++) {
            CHECK_MSG(strcmp(got, all[j].name) != 0, "kmq_status_str(%d) = \"%s\"", odd[i], got);
        }
    }
}

static void *fail_once(void *arg) {
    ((kmq_status *)arg)[0] = kmq_config_set(NULL, "topic", "t");
    return NULL;
}

static void test_last_error_and_version(void) {
    const char *v = kmq_version();
    int major = -1, minor = -1, patch = -1, end = 0;
    REQUIRE(v != NULL);
    CHECK_MSG(sscanf(v, "%d.%d.%d%n", &major, &minor, &patch, &end) == 3 && v[end] == '\0',
              "kmq_version() = \"%s\"", v);

    kmq_config *cfg = kmq_config_new();
    REQUIRE(cfg != NULL);
    CHECK(kmq_config_set(cfg, "no_such_key", "1") != KMQ_OK);
    CHECK(kmq_last_error() != NULL && kmq_last_error()[0] != '\0');
    /* A success clears the message of an earlier failure. */
    CHECK_OK(kmq_config_set(cfg, "topic", "t"));
    CHECK_MSG(kmq_last_error() != NULL && kmq_last_error()[0] == '\0', "after a success: \"%s\"",
              kmq_last_error());

    /* Each thread has its own: a failure on another leaves ours empty. */
    kmq_status other = KMQ_OK;
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, fail_once, &other) == 0);
    pthread_join(th, NULL);
    CHECK(other == KMQ_ERR_INVALID_ARGUMENT);
    CHECK_MSG(kmq_last_error()[0] == '\0', "another thread's error shows here: \"%s\"", kmq_last_error());
    kmq_config_free(cfg);
}

static void test_null_without_handles(void) {
    kmq_config *cfg = kmq_config_new();
    REQUIRE(cfg != NULL);
    CHECK_NULL_ARG(kmq_config_set(NULL, "topic", "t"), "cfg");
    CHECK_NULL_ARG(kmq_config_set(cfg, NULL, "t"), "key");
    CHECK_NULL_ARG(kmq_config_set(cfg, "topic", NULL), "value");
    CHECK_OK(kmq_config_set(cfg, "topic", "t")); /* the config is still usable */

    void *dummy = &dummy;
    kmq_producer *p = dummy;
    CHECK_NULL_ARG(kmq_producer_new(NULL, &p), "cfg");
    CHECK(p == NULL);
    CHECK_NULL_ARG(kmq_producer_new(cfg, NULL), "out");
    kmq_consumer *c = dummy;
    CHECK_NULL_ARG(kmq_consumer_new(NULL, &c), "cfg");
    CHECK(c == NULL);
    CHECK_NULL_ARG(kmq_consumer_new(cfg, NULL), "out");

    char data[] = "x";
    uint64_t id = 99;
    kmq_delivery_report reports[4];
    size_t count = 99;
    kmq_producer_stats ps;
    CHECK_NULL_ARG(kmq_send(NULL, data, 1, 0), "producer");
    CHECK_NULL_ARG(kmq_send_tracked(NULL, data, 1, 0, &id), "producer");
    CHECK_NULL_ARG(kmq_send_wait(NULL, data, 1, 0, 0), "producer");
    CHECK_NULL_ARG(kmq_poll_reports(NULL, reports, 4, 0, &count), "producer");
    CHECK(count == 0);
    CHECK_NULL_ARG(kmq_flush(NULL, 0), "producer");
    CHECK_NULL_ARG(kmq_flush_begin(NULL, 0, &id), "producer");
    CHECK(id == 0);
    CHECK_NULL_ARG(kmq_producer_close_begin(NULL, 0, &id), "producer");
    kmq_close_report cr;
    CHECK_NULL_ARG(kmq_producer_close_report(NULL, &cr), "producer");
    CHECK_NULL_ARG(kmq_producer_get_stats(NULL, &ps), "producer");

    kmq_message *m = dummy;
    kmq_consumer_stats cs;
    CHECK_NULL_ARG(kmq_receive(NULL, 0, &m), "consumer");
    CHECK(m == NULL);
    CHECK_NULL_ARG(kmq_ack(NULL, "0123456789abcdef0123456789abcdef"), "consumer");
    CHECK_NULL_ARG(kmq_consumer_get_stats(NULL, &cs), "consumer");

    /* Accessors of a NULL message. */
    size_t len = 99;
    CHECK(kmq_message_code(NULL) == NULL);
    CHECK(kmq_message_data(NULL, &len) == NULL);
    CHECK(len == 0);
    CHECK(kmq_message_data(NULL, NULL) == NULL);
    CHECK(kmq_message_topic(NULL) == NULL);
    CHECK(kmq_message_create_time(NULL) == 0);
    CHECK(kmq_message_consumed_time(NULL) == 0);
    CHECK(kmq_message_delay_time(NULL) == 0);
    CHECK(kmq_message_status(NULL) == KMQ_MESSAGE_STATUS_NONE);

    /* Free and close functions do nothing with NULL. */
    kmq_config_free(NULL);
    kmq_producer_close(NULL);
    kmq_producer_free(NULL);
    kmq_consumer_close(NULL);
    kmq_consumer_free(NULL);
    kmq_message_free(NULL);
    kmq_config_free(cfg);
}

/* The other pointer arguments, with live handles: refused, nothing sent. */
static void test_null_with_live_handles(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "nulls", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "nulls", NULL));
    REQUIRE(c != NULL && p != NULL);

    uint64_t id = 99;
    kmq_delivery_report reports[4];
    size_t count = 99;
    CHECK_NULL_ARG(kmq_send(p, NULL, 1, 0), "data");
    CHECK_NULL_ARG(kmq_send_wait(p, NULL, 1, 0, 1000), "data");
    CHECK_NULL_ARG(kmq_send_tracked(p, NULL, 1, 0, &id), "data");
    CHECK_NULL_ARG(kmq_send_tracked(p, "x", 1, 0, NULL), "id");
    CHECK_NULL_ARG(kmq_poll_reports(p, NULL, 4, 0, &count), "reports");
    CHECK(count == 0);
    CHECK_NULL_ARG(kmq_poll_reports(p, reports, 4, 0, NULL), "count");
    CHECK_NULL_ARG(kmq_producer_get_stats(p, NULL), "out");
    CHECK_NULL_ARG(kmq_flush_begin(p, 0, NULL), "id");
    CHECK_NULL_ARG(kmq_producer_close_begin(p, 0, NULL), "id");
    CHECK_NULL_ARG(kmq_producer_close_report(p, NULL), "out");
    CHECK_NULL_ARG(kmq_receive(c, 0, NULL), "out");
    CHECK_NULL_ARG(kmq_ack(c, NULL), "message_code");
    CHECK_NULL_ARG(kmq_consumer_get_stats(c, NULL), "out");

    /* None of the refused sends reached the queue. */
    CHECK_PRODUCER_STATS(p, 0, 0, 0, 0);
    CHECK_OK(kmq_flush(p, 1000));
    kmq_message *m = NULL;
    CHECK_STATUS(kmq_receive(c, 300, &m), KMQ_ERR_TIMEOUT);
    kmq_message_free(m);

    /* And both handles still work. */
    CHECK_OK(kmq_send_wait(p, "still here", 10, 0, 5000));
    CHECK_OK(kmq_receive(c, 5000, &m));
    size_t len = 0;
    const char *data = kmq_message_data(m, &len);
    CHECK(data != NULL && len == 10 && memcmp(data, "still here", 10) == 0);
    kmq_message_free(m);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_status_names);
    RUN(test_last_error_and_version);
    RUN(test_null_without_handles);
    RUN(test_null_with_live_handles);
    return harness_exit();
}
