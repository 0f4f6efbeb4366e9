/* kmq_receive_many and kmq_message_get_info: many messages a call, every
 * field of one at once. */
#include "harness.h"

#define N 500

static void test_batches_in_order_with_every_field(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "recv-many", NULL));
    kmq_producer *p = new_producer(config_for(b.port, "recv-many", NULL));
    REQUIRE(c != NULL && p != NULL);
    char text[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(text, sizeof text, "m%03d", i);
        CHECK_OK(kmq_send(p, text, (size_t)len, 0));
    }
    CHECK_OK(kmq_flush(p, 10000));

    kmq_message *out[64];
    int got = 0, calls = 0, wrong = 0;
    while (got < N) {
        size_t count = 99;
        kmq_status s = kmq_receive_many(c, 10000, out, 64, &count);
        if (!CHECK_MSG(s == KMQ_OK && count >= 1 && count <= 64, "call %d: %s, count %zu", calls, kmq_status_str(s),
                       count)) {
            break;
        }
        calls++;
        for (size_t i = 0; i < count; i++, got++) {
            kmq_message_info info;
            CHECK_OK(kmq_message_get_info(out[i], &info));
            int len = snprintf(text, sizeof text, "m%03d", got);
            size_t data_len = 0;
            const char *data = kmq_message_data(out[i], &data_len);
            if (info.len != (size_t)len || memcmp(info.data, text, info.len) != 0 || info.data != data ||
                strcmp(info.code, kmq_message_code(out[i])) != 0 || strcmp(info.topic, "recv-many") != 0 ||
                info.create_time != kmq_message_create_time(out[i]) || info.status != kmq_message_status(out[i])) {
                if (wrong++ == 0) {
                    harness_note("message %d: \"%.*s\" (%s)", got, (int)info.len, info.data, info.topic);
                }
            }
            CHECK_OK(kmq_ack(c, info.code));
            kmq_message_free(out[i]);
        }
    }
    CHECK_MSG(wrong == 0, "%d messages out of order or with other fields than their one-field calls", wrong);
    CHECK_MSG(calls < N, "%d calls for %d messages: nothing came more than one a call", calls, N);

    size_t count = 99;
    CHECK_STATUS(kmq_receive_many(c, 50, out, 64, &count), KMQ_ERR_TIMEOUT);
    CHECK(count == 0);
    kmq_producer_free(p);
    kmq_consumer_free(c);
    broker_kill(&b);
}

static void test_bad_arguments(void) {
    broker b;
    REQUIRE(broker_start(&b, NULL));
    kmq_consumer *c = new_consumer(config_for(b.port, "recv-many-bad", NULL));
    REQUIRE(c != NULL);
    kmq_message *out[4];
    size_t count = 0;
    CHECK_STATUS(kmq_receive_many(c, 0, out, 0, &count), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("max");
    CHECK_STATUS(kmq_receive_many(c, 0, NULL, 4, &count), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("out");
    CHECK_STATUS(kmq_receive_many(c, 0, out, 4, NULL), KMQ_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_NAMES("count");
    CHECK_STATUS(kmq_receive_many(NULL, 0, out, 4, &count), KMQ_ERR_INVALID_ARGUMENT);
    kmq_message_info info;
    CHECK_STATUS(kmq_message_get_info(NULL, &info), KMQ_ERR_INVALID_ARGUMENT);
    kmq_consumer_close(c);
    CHECK_STATUS(kmq_receive_many(c, 1000, out, 4, &count), KMQ_ERR_CLOSED);
    CHECK(count == 0);
    kmq_consumer_free(c);
    broker_kill(&b);
}

int main(void) {
    RUN(test_batches_in_order_with_every_field);
    RUN(test_bad_arguments);
    return harness_exit();
}
