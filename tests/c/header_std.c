/* Compiled by tests/c/run.sh as C89, C99, C11, C++98 and C++11, each with
 * -pedantic -Wall -Wextra -Werror, and linked against the library: the
 * header must be clean under every standard, and its version macros must
 * say what the library says. Plain C89 on purpose (no harness.h). */
#include "kapokmq.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char *what) {
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    if (!ok) {
        failures++;
    }
}

int main(void) {
    char numbers[64];
    kmq_delivery_report report;
    kmq_status status = KMQ_ERR_INTERNAL;
    kmq_config *cfg = kmq_config_new();

    sprintf(numbers, "%d.%d.%d", KMQ_VERSION_MAJOR, KMQ_VERSION_MINOR, KMQ_VERSION_PATCH);
    check(strcmp(KMQ_VERSION_STRING, kmq_version()) == 0, "KMQ_VERSION_STRING equals kmq_version()");
    check(strcmp(numbers, kmq_version()) == 0, "KMQ_VERSION_MAJOR.MINOR.PATCH equal kmq_version()");

    check(cfg != NULL && kmq_config_set(cfg, "topic", "t") == KMQ_OK, "kmq_config_set links and works");
    kmq_config_free(cfg);

    check(strcmp(kmq_status_str(status), "KMQ_ERR_INTERNAL") == 0, "kmq_status_str takes a kmq_status");
    check(strcmp(kmq_status_str(-7), "KMQ_UNKNOWN_STATUS") == 0 &&
              strcmp(kmq_status_str(1000), "KMQ_UNKNOWN_STATUS") == 0,
          "kmq_status_str names out-of-range values as unknown");

    check(sizeof report.error == KMQ_REPORT_ERROR_SIZE, "kmq_delivery_report.error holds KMQ_REPORT_ERROR_SIZE bytes");
    check(kmq_message_status(NULL) == KMQ_MESSAGE_STATUS_NONE, "kmq_message_status(NULL) is KMQ_MESSAGE_STATUS_NONE");
    check(kmq_consumer_fd(NULL) == -1 && kmq_producer_fd(NULL) == -1, "the event-loop descriptors of NULL are -1");
    return failures == 0 ? 0 : 1;
}
