/* A producer with more than one connection per node (the connections key):
 * the work spread over them, each counted by kmq_producer_connection_stats. */
#include "harness.h"

#define N 4000

static void test_each_connection_counts_its_share(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_producer *p = new_producer(config_for(b.port, "conns", "connections", "3", NULL));
    REQUIRE(p != NULL);

    kmq_connection_stats links[4];
    size_t count = 0;
    CHECK_OK(kmq_producer_connection_stats(p, links, 4, &count));
    CHECK_MSG(count == 3, "%zu connections, expected 3", count);
    char node[64];
    snprintf(node, sizeof node, "127.0.0.1:%d", b.port);
    for (size_t i = 0; i < count && i < 4; i++) {
        CHECK_MSG(strcmp(links[i].node, node) == 0 && links[i].connected == 1, "connection %zu: %s, connected %d",
                  i, links[i].node, (int)links[i].connected);
    }

    char text[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(text, sizeof text, "m%d", i);
        CHECK_OK(kmq_send(p, text, (size_t)len, 0));
    }
    CHECK_OK(kmq_flush(p, 20000));
    CHECK_PRODUCER_STATS(p, N, N, 0, 0);
    CHECK_OK(kmq_producer_connection_stats(p, links, 4, &count));
    uint64_t confirmed = 0, written = 0, in_flight = 0;
    for (size_t i = 0; i < count && i < 4; i++) {
        confirmed += links[i].confirmed;
        written += links[i].written;
        in_flight += links[i].in_flight;
    }
    CHECK_MSG(confirmed == N && written == N && in_flight == 0,
              "summed over connections: %llu confirmed, %llu written, %llu in flight", (unsigned long long)confirmed,
              (unsigned long long)written, (unsigned long long)in_flight);

    /* Less room than connections: as many as fit, and the whole count. */
    count = 0;
    CHECK_OK(kmq_producer_connection_stats(p, links, 1, &count));
    CHECK(count == 3);
    CHECK_OK(kmq_producer_connection_stats(p, NULL, 0, &count));
    CHECK(count == 3);
    CHECK_STATUS(kmq_producer_connection_stats(p, NULL, 2, &count), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("out");
    CHECK_STATUS(kmq_producer_connection_stats(p, links, 4, NULL), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("count");
    CHECK_STATUS(kmq_producer_connection_stats(NULL, links, 4, &count), KMQ_ERR_INVALID_ARGUMENT);

    /* Readable after close, as kmq_producer_get_stats is: the connections
     * leave the list as they end. */
    kmq_producer_close(p);
    CHECK_OK(kmq_producer_connection_stats(p, links, 4, &count));
    CHECK(count <= 3);
    kmq_producer_free(p);
    broker_kill(&b);
}

static void test_the_number_of_connections_is_checked(void) {
    kmq_config *cfg = kmq_config_new();
    REQUIRE(cfg != NULL);
    CHECK_STATUS(kmq_config_set(cfg, "connections", "0"), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("connections");
    CHECK_STATUS(kmq_config_set(cfg, "connections", "65"), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_OK(kmq_config_set(cfg, "connections", "64"));
    kmq_config_free(cfg);
}

int main(void) {
    RUN(test_each_connection_counts_its_share);
    RUN(test_the_number_of_connections_is_checked);
    return harness_exit();
}
