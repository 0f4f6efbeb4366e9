// Behaviours of the C++ wrapper kapokmq.hpp, against a broker:
//
//   wrapper_test PORT
//
// One line per case, as the C tests print them: "ok - name" or
// "not ok - name", with "# detail" lines before a failure. Exits non-zero
// when a case failed. run.sh runs it under valgrind, where double frees and
// leaked handles show up.
#include <kapokmq.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

using namespace std::chrono_literals;
using kapokmq::Config;
using kapokmq::Consumer;
using kapokmq::Error;
using kapokmq::Message;
using kapokmq::Producer;

// Ownership is by move only: a copy would free the handle twice.
static_assert(!std::is_copy_constructible_v<Config> && std::is_nothrow_move_constructible_v<Config>);
static_assert(!std::is_copy_constructible_v<Producer> && std::is_nothrow_move_constructible_v<Producer>);
static_assert(!std::is_copy_constructible_v<Consumer> && std::is_nothrow_move_constructible_v<Consumer>);
static_assert(!std::is_copy_constructible_v<Message> && std::is_nothrow_move_constructible_v<Message>);
static_assert(!std::is_copy_assignable_v<Message> && std::is_nothrow_move_assignable_v<Message>);
static_assert(std::is_base_of_v<std::runtime_error, Error>);

static std::string port;
static int case_failures = 0;

static void note(const std::string& line) { std::cout << "# " << line << std::endl; }

#define CHECK(cond) check_that((cond), #cond, __LINE__)

static bool check_that(bool ok, const char* what, int line) {
    if (!ok) {
        note("line " + std::to_string(line) + ": CHECK failed: " + what);
        ++case_failures;
    }
    return ok;
}

// Runs `f`, which must throw kapokmq::Error with status `want` and a
// message that names `mention`.
template <typename F>
static void expect_error(kapokmq::Status want, std::string_view mention, F&& f, int line) {
    try {
        f();
        note("line " + std::to_string(line) + ": no exception, expected " + std::string(kapokmq::status_name(want)));
        ++case_failures;
    } catch (const Error& e) {
        bool ok = e.status() == want && std::string_view(e.what()).find(mention) != std::string_view::npos;
        if (!ok) {
            note("line " + std::to_string(line) + ": got " + std::string(e.status_name()) + " \"" + e.what() +
                 "\", expected " + std::string(kapokmq::status_name(want)) + " naming \"" + std::string(mention) +
                 "\"");
            ++case_failures;
        }
    }
}
#define EXPECT_ERROR(want, mention, ...) expect_error((want), (mention), [&] { __VA_ARGS__; }, __LINE__)

// Each case gets its own topic, so cases do not see each other's messages.
static Config config_for(const std::string& topic) {
    return Config{{"mq_addr", "127.0.0.1"}, {"mq_port", port}, {"topic", "wrapper-" + topic},
                  {"producer_id", "wrapper-test"}, {"consumer_id", "wrapper-test"}};
}

static void config_errors_carry_the_status() {
    Config cfg;
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "no_such_key", cfg.set("no_such_key", "1"));
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "mq_port", cfg.set("mq_port", "not a port"));
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "bogus", (Config{{"topic", "t"}, {"bogus", "1"}}));
    // Catchable as the standard exception it derives from.
    bool caught = false;
    try {
        cfg.set("mq_port", 70000);
    } catch (const std::runtime_error& e) {
        caught = std::string_view(e.what()).find("mq_port") != std::string_view::npos;
    }
    CHECK(caught);
    // A good value after bad ones is still taken.
    cfg.set("mq_port", 8011).set("topic", "t");
}

static void connect_errors_carry_the_status() {
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "producer_id",
                 Producer::connect(Config{{"mq_addr", "127.0.0.1"}, {"mq_port", port}, {"topic", "t"}}));
    // A port that is bound but not listening refuses connections, and
    // stays so while the socket is held.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (!CHECK(fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
               getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)) {
        if (fd >= 0) close(fd);
        return;
    }
    auto cfg = config_for("refused").set("mq_port", ntohs(addr.sin_port)).set("connect_timeout_ms", 3000);
    EXPECT_ERROR(KMQ_ERR_CONNECT, "127.0.0.1", Consumer::connect(cfg));
    close(fd);
}

static void receive_timeout_is_an_empty_optional() {
    auto consumer = Consumer::connect(config_for("timeout"));
    auto start = std::chrono::steady_clock::now();
    std::optional<Message> m = consumer.receive(300ms);
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(!m.has_value());
    CHECK(waited >= 250ms && waited < 5s);
    CHECK(!consumer.receive(0ms).has_value());
}

static void roundtrip_with_views_and_stats() {
    auto consumer = Consumer::connect(config_for("roundtrip"));
    auto producer = Producer::connect(config_for("roundtrip"));
    // A NUL inside the payload: the views must take the length, not strlen.
    const std::string sent("zero\0byte", 9);
    CHECK(producer.send_wait(sent, 0s, 10s));
    auto m = consumer.receive(10s);
    if (!CHECK(m.has_value())) return;
    CHECK(m->data() == sent);
    CHECK(m->topic() == "wrapper-roundtrip");
    CHECK(m->code().size() == 32 && m->code().find_first_not_of("0123456789abcdef") == std::string_view::npos);
    CHECK(m->create_time() > 0);
    CHECK(m->delay_time() == 0s);
    consumer.ack(*m);
    consumer.ack(std::string(m->code()));  // by code too; the server ignores a repeat
    auto ps = producer.stats();
    CHECK(ps.enqueued == 1 && ps.confirmed == 1 && ps.failed == 0 && ps.in_flight == 0);
    auto cs = consumer.stats();
    CHECK(cs.received == 1 && cs.acked == 2 && cs.buffered == 0);
    auto pj = producer.stats_json();
    CHECK(pj.find("\"confirmed\":1,") != std::string::npos && pj.find("\"p99\":") != std::string::npos);
    CHECK(consumer.stats_json().find("\"received\":1,") != std::string::npos);
}

static void a_batch_over_two_connections() {
    auto consumer = Consumer::connect(config_for("batch"));
    auto producer = Producer::connect(config_for("batch").set("connections", 2));
    std::vector<std::string> texts;
    for (int i = 0; i < 100; i++) texts.push_back("batch " + std::to_string(i));
    producer.send_many(std::vector<std::string_view>(texts.begin(), texts.end()));
    CHECK(producer.flush(10s));
    auto links = producer.connection_stats();
    CHECK(links.size() == 2);
    std::uint64_t confirmed = 0;
    for (const auto& l : links) confirmed += l.confirmed;
    CHECK(confirmed == 100);
    std::set<std::string> got;
    for (int i = 0; i < 100; i++) {
        auto m = consumer.receive(10s);
        if (!CHECK(m.has_value())) return;
        got.insert(std::string(m->data()));
        consumer.ack(*m);
    }
    CHECK(got == std::set<std::string>(texts.begin(), texts.end()));
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "msgs[1]", producer.send_many({"fine", ""}));
}

static void empty_data_is_rejected() {
    auto producer = Producer::connect(config_for("empty"));
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "", producer.send(""));
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "", (void)producer.send_wait(std::string_view(), 1s));
}

static void tracked_sends_are_reported() {
    auto producer = Producer::connect(config_for("tracked"));
    std::set<std::uint64_t> pending{producer.send_tracked("one"), producer.send_tracked("two")};
    CHECK(pending.size() == 2);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
        for (const auto& r : producer.poll_reports(1s)) {
            CHECK(r.status == KMQ_OK);
            CHECK(pending.erase(r.id) == 1);
        }
    }
    CHECK(pending.empty());
    CHECK(producer.poll_reports(0ms).empty());
    CHECK(producer.flush(5s));

    // The caller's pointer comes back with the report, and the producer's
    // descriptor wakes a poll() for it.
    int tag = 0;
    std::uint64_t id = producer.send_tracked("three", &tag);
    pollfd pfd{producer.fd(), POLLIN, 0};
    CHECK(::poll(&pfd, 1, 10000) == 1);
    auto reports = producer.poll_reports(0ms);
    CHECK(reports.size() == 1 && reports[0].id == id && reports[0].opaque == &tag && reports[0].error[0] == '\0');
}

static void moves_leave_the_source_empty() {
    Config a = config_for("moves");
    Config b = std::move(a);
    CHECK(!a && b);
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "", a.set("topic", "t"));

    auto consumer = Consumer::connect(b);
    auto p1 = Producer::connect(b);
    Producer p2 = std::move(p1);
    CHECK(!p1 && p2);
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "", p1.send("x"));
    // Assigning over a live producer frees it; valgrind sees a leak or a
    // double free otherwise.
    auto p3 = Producer::connect(b);
    p3 = std::move(p2);
    CHECK(!p2 && p3);
    CHECK(p3.send_wait("moved", 10s));

    Consumer c2 = std::move(consumer);
    CHECK(!consumer && c2);
    EXPECT_ERROR(KMQ_ERR_INVALID_ARGUMENT, "", (void)consumer.receive(0ms));
    auto received = c2.receive(10s);
    if (!CHECK(received.has_value())) return;
    Message m = std::move(*received);
    CHECK(!*received && m);
    CHECK(received->data().empty() && received->code().empty() && received->topic().empty());
    CHECK(received->create_time() == 0);
    CHECK(m.data() == "moved");
    Message other;
    other = std::move(m);
    CHECK(!m && other.data() == "moved");
    c2.ack(other);
    // release() hands the handle over: the wrapper must not free it too.
    kmq_message* raw = other.release();
    CHECK(raw != nullptr && !other);
    kmq_message_free(raw);
}

static void calls_after_close_throw_closed() {
    auto producer = Producer::connect(config_for("closed"));
    producer.close();
    producer.close();  // twice does nothing
    EXPECT_ERROR(KMQ_ERR_CLOSED, "", producer.send("x"));
    CHECK(producer.stats().enqueued == 0);  // the handle stays valid

    auto consumer = Consumer::connect(config_for("closed"));
    consumer.close();
    EXPECT_ERROR(KMQ_ERR_CLOSED, "", (void)consumer.receive(100ms));
}

static void close_wakes_a_blocked_receive() {
    auto consumer = Consumer::connect(config_for("wake"));
    std::optional<kapokmq::Status> outcome;
    std::thread reader([&] {
        try {
            consumer.receive(kapokmq::forever);
            outcome = KMQ_OK;
        } catch (const Error& e) {
            outcome = e.status();
        }
    });
    std::this_thread::sleep_for(200ms);
    auto start = std::chrono::steady_clock::now();
    consumer.close();
    reader.join();
    CHECK(outcome == KMQ_ERR_CLOSED);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " PORT\n";
        return 2;
    }
    port = argv[1];
    const std::pair<const char*, void (*)()> cases[] = {
        {"config errors carry the status and name the key", config_errors_carry_the_status},
        {"connect errors carry the status", connect_errors_carry_the_status},
        {"receive timeout is an empty optional", receive_timeout_is_an_empty_optional},
        {"round trip: views hold NUL bytes, acks and stats count", roundtrip_with_views_and_stats},
        {"empty data is rejected", empty_data_is_rejected},
        {"a batch over two connections, counted per connection", a_batch_over_two_connections},
        {"tracked sends are reported by poll_reports", tracked_sends_are_reported},
        {"moves leave the source empty and free once", moves_leave_the_source_empty},
        {"calls after close throw KMQ_ERR_CLOSED", calls_after_close_throw_closed},
        {"close wakes a receive blocked in another thread", close_wakes_a_blocked_receive},
    };
    int failed = 0;
    for (const auto& [name, run] : cases) {
        case_failures = 0;
        try {
            run();
        } catch (const Error& e) {
            note(std::string("unexpected kapokmq::Error ") + std::string(e.status_name()) + ": " + e.what());
            ++case_failures;
        } catch (const std::exception& e) {
            note(std::string("unexpected exception: ") + e.what());
            ++case_failures;
        }
        std::cout << (case_failures == 0 ? "ok - " : "not ok - ") << name << std::endl;
        failed += case_failures != 0;
    }
    return failed == 0 ? 0 : 1;
}
