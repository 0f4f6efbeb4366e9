/* A delayed message is held back by the server for about its delay. */
#include "harness.h"

static void test_delay_is_honoured(void) {
    /* The server releases due messages at each check, so check often. */
    broker b;
    REQUIRE(broker_start(&b, "--check-speed-ms", "200", NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "later", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "later", NULL));
    REQUIRE(c != NULL && p != NULL);

    int64_t t0 = now_ms();
    REQUIRE_OK(kmq_send_wait(p, "delayed", 7, 2, 5000));
    /* A message without delay, sent after it, overtakes it: the pipeline is
     * live, so the silence below is the delay and not a stall. */
    REQUIRE_OK(kmq_send_wait(p, "at once", 7, 0, 5000));

    kmq_message *m = NULL;
    REQUIRE_OK(kmq_receive(c, 1000, &m));
    size_t len = 0;
    const char *data = kmq_message_data(m, &len);
    CHECK_MSG(len == 7 && memcmp(data, "at once", 7) == 0, "first message \"%.*s\"", (int)len, data);
    CHECK_OK(kmq_ack(c, kmq_message_code(m)));
    kmq_message_free(m);

    /* Nothing else until 1 s after the send. */
    int64_t left = 1000 - (now_ms() - t0);
    CHECK_MSG(left > 0, "sending and receiving one message took %lld ms", (long long)(1000 - left));
    m = NULL;
    if (left > 0) {
        CHECK_STATUS(kmq_receive(c, left, &m), KMQ_ERR_TIMEOUT);
        CHECK(m == NULL);
        kmq_message_free(m);
    }

    m = NULL;
    REQUIRE_OK(kmq_receive(c, 4000 - (now_ms() - t0), &m));
    int64_t took = now_ms() - t0;
    data = kmq_message_data(m, &len);
    CHECK_MSG(len == 7 && memcmp(data, "delayed", 7) == 0, "second message \"%.*s\"", (int)len, data);
    CHECK_MSG(kmq_message_delay_time(m) == 2, "delay_time %lld", (long long)kmq_message_delay_time(m));
    CHECK_MSG(took >= 1000 && took <= 4000, "a 2 s delay took %lld ms", (long long)took);
    harness_note("a message delayed by 2 s arrived after %lld ms", (long long)took);
    CHECK_OK(kmq_ack(c, kmq_message_code(m)));
    kmq_message_free(m);

    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_delay_is_honoured);
    return harness_exit();
}
