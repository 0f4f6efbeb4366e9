/*
 * kapokmq.hpp: a header-only C++17 wrapper over the C API in kapokmq.h.
 *
 *   kapokmq::Config cfg{{"mq_addr", "127.0.0.1"}, {"mq_port", "8011"},
 *                       {"topic", "orders"}, {"producer_id", "p1"}};
 *   auto producer = kapokmq::Producer::connect(cfg);
 *   producer.send("hello");
 *   if (!producer.flush(std::chrono::seconds(10))) { ... not all confirmed yet ... }
 *
 *   cfg.set("consumer_id", "c1");
 *   auto consumer = kapokmq::Consumer::connect(cfg);
 *   if (auto m = consumer.receive(std::chrono::seconds(5))) {
 *       use(m->data());
 *       consumer.ack(*m);
 *   }
 *
 * Ownership: Config, Producer, Consumer and Message own their C handle,
 * free it in their destructor, and are move-only; a moved-from object holds
 * no handle (its calls fail with KMQ_ERR_INVALID_ARGUMENT, its accessors
 * return empty values). A Producer's destructor does not wait for
 * unconfirmed messages: flush() first.
 *
 * Errors: a failed call throws kapokmq::Error, which carries the kmq_status
 * and the message kmq_last_error() gave. Outcomes that are not failures are
 * return values instead: receive() returns an empty optional when no
 * message came in time, send_wait() and flush() return false when the
 * server did not confirm in time, poll_reports() returns an empty vector.
 *
 * Threads: as in the C API, a Producer or Consumer may be used from several
 * threads at once (close() from one thread wakes a receive() blocked in
 * another), provided none of them moves or destroys it meanwhile.
 *
 * Timeouts are std::chrono durations converted to milliseconds;
 * kapokmq::forever waits without limit. Delays are whole seconds.
 */

#ifndef KAPOKMQ_HPP
#define KAPOKMQ_HPP

#include <kapokmq.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace kapokmq {

using Status = kmq_status;
using ProducerStats = kmq_producer_stats;
using ConsumerStats = kmq_consumer_stats;
using ConnectionStats = kmq_connection_stats;
using DeliveryReport = kmq_delivery_report;

// Waits without limit when passed as a timeout.
inline constexpr std::chrono::milliseconds forever{-1};

// The name of a status code, e.g. "KMQ_ERR_AUTH".
inline std::string_view status_name(Status s) noexcept { return kmq_status_str(s); }

// The library's version, "MAJOR.MINOR.PATCH".
inline std::string_view version() noexcept { return kmq_version(); }

// A failed kapokmq call: its status and what went wrong.
class Error : public std::runtime_error {
public:
    Error(Status status, const std::string& message)
        : std::runtime_error(message.empty() ? std::string(kmq_status_str(status)) : message),
          status_(status) {}

    Status status() const noexcept { return status_; }
    std::string_view status_name() const noexcept { return kmq_status_str(status_); }

private:
    Status status_;
};

namespace detail {

// Throws for a failed status. Must run right after the failing call: the
// message is the calling thread's last error, which the next call replaces.
inline void check(Status s) {
    if (s != KMQ_OK) throw Error(s, kmq_last_error());
}

// The C API hands out NULL for a NULL handle; a string_view must not see it.
inline std::string_view view(const char* s) noexcept { return s ? std::string_view(s) : std::string_view(); }

// The C API takes NUL-terminated strings; a string_view need not be one.
inline std::string terminated(std::string_view s) { return std::string(s); }

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const noexcept { Free(p); }
};

// unique_ptr gives move-only ownership and leaves a moved-from owner empty.
template <typename T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, Deleter<T, Free>>;

// The text a kmq_*_stats_json-shaped call writes (buf, capacity, &len),
// asking again with the length it needs when the first buffer is too small.
template <typename Write>
std::string text(Write&& write) {
    std::string out(4096, '\0');
    for (;;) {
        std::size_t len = 0;
        Status s = write(&out[0], out.size(), &len);
        if (s == KMQ_OK) {
            out.resize(len);
            return out;
        }
        if (len < out.size()) check(s);
        out.assign(len + 1024, '\0');  // the figures may grow meanwhile
    }
}

inline std::int64_t millis(std::chrono::milliseconds timeout) noexcept {
    return static_cast<std::int64_t>(timeout.count());
}

inline std::int64_t seconds(std::chrono::seconds delay) noexcept {
    return static_cast<std::int64_t>(delay.count());
}

}  // namespace detail

// Settings for a producer or consumer. Each set() is checked at once: an
// unknown key or a bad value throws Error (KMQ_ERR_INVALID_ARGUMENT) naming
// the key. Producers and consumers copy it, so it may be changed or
// destroyed after they connect.
class Config {
public:
    Config() : handle_(kmq_config_new()) {
        if (!handle_) throw std::bad_alloc();
    }

    Config(std::initializer_list<std::pair<std::string_view, std::string_view>> settings) : Config() {
        for (const auto& [key, value] : settings) set(key, value);
    }

    Config& set(std::string_view key, std::string_view value) & {
        detail::check(kmq_config_set(handle_.get(), detail::terminated(key).c_str(),
                                     detail::terminated(value).c_str()));
        return *this;
    }

    Config&& set(std::string_view key, std::string_view value) && { return std::move(set(key, value)); }

    // Numbers, e.g. set("mq_port", 8011).
    template <typename Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
    Config& set(std::string_view key, Int value) & {
        return set(key, std::string_view(std::to_string(value)));
    }

    template <typename Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
    Config&& set(std::string_view key, Int value) && {
        return std::move(set(key, value));
    }

    const kmq_config* get() const noexcept { return handle_.get(); }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    detail::Owned<kmq_config, kmq_config_free> handle_;
};

// One received message. Its views live as long as the Message.
class Message {
public:
    // Adopts a message handed out by kmq_receive (NULL makes an empty one).
    explicit Message(kmq_message* m = nullptr) noexcept : handle_(m) {}

    // 32 hex digits; pass it (or the Message) to Consumer::ack.
    std::string_view code() const noexcept { return detail::view(kmq_message_code(handle_.get())); }

    // The payload; it may contain NUL bytes.
    std::string_view data() const noexcept {
        std::size_t len = 0;
        const char* bytes = kmq_message_data(handle_.get(), &len);
        return bytes ? std::string_view(bytes, len) : std::string_view();
    }

    std::string_view topic() const noexcept { return detail::view(kmq_message_topic(handle_.get())); }

    // Unix seconds when the server stored the message.
    std::int64_t create_time() const noexcept { return kmq_message_create_time(handle_.get()); }
    // Unix seconds when it was consumed; 0 when not yet.
    std::int64_t consumed_time() const noexcept { return kmq_message_consumed_time(handle_.get()); }
    // Its delay; a redelivered message carries the time since it was created.
    std::chrono::seconds delay_time() const noexcept {
        return std::chrono::seconds(kmq_message_delay_time(handle_.get()));
    }
    // The server's status: -1 waiting, 0 delayed, 1 consumed.
    std::int32_t status() const noexcept { return kmq_message_status(handle_.get()); }

    kmq_message* get() const noexcept { return handle_.get(); }
    // Gives up ownership: the caller frees the result with kmq_message_free.
    kmq_message* release() noexcept { return handle_.release(); }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    detail::Owned<kmq_message, kmq_message_free> handle_;
};

class Producer {
public:
    // Connects to the node named by mq_addr/mq_port (needs topic and
    // producer_id) and completes the handshake before it returns.
    static Producer connect(const Config& cfg) {
        kmq_producer* p = nullptr;
        detail::check(kmq_producer_new(cfg.get(), &p));
        return Producer(p);
    }

    // Follows the Serena registry named by registry_addr/registry_port and
    // spreads messages over its live nodes.
    static Producer connect_cluster(const Config& cfg) {
        kmq_producer* p = nullptr;
        detail::check(kmq_cluster_producer_new(cfg.get(), &p));
        return Producer(p);
    }

    // Enqueues a message (UTF-8, not empty) and returns at once.
    void send(std::string_view data, std::chrono::seconds delay = std::chrono::seconds(0)) {
        detail::check(kmq_send(handle_.get(), data.data(), data.size(), detail::seconds(delay)));
    }

    // Enqueues every message of `messages` in one call, in order, and
    // returns at once. On a refusal the messages before it stay enqueued;
    // the Error's message says how many.
    void send_many(const std::vector<std::string_view>& messages,
                   std::chrono::seconds delay = std::chrono::seconds(0)) {
        std::vector<kmq_buf> bufs;
        bufs.reserve(messages.size());
        for (std::string_view m : messages) bufs.push_back(kmq_buf{m.data(), m.size()});
        detail::check(kmq_send_many(handle_.get(), bufs.data(), bufs.size(), detail::seconds(delay), nullptr));
    }

    // Like send(); returns the id under which poll_reports() hands out the
    // message's outcome.
    std::uint64_t send_tracked(std::string_view data, std::chrono::seconds delay = std::chrono::seconds(0)) {
        std::uint64_t id = 0;
        detail::check(kmq_send_tracked(handle_.get(), data.data(), data.size(), detail::seconds(delay), &id));
        return id;
    }

    // Like send_tracked(); the message's report carries `opaque` back.
    std::uint64_t send_tracked(std::string_view data, void* opaque,
                               std::chrono::seconds delay = std::chrono::seconds(0)) {
        std::uint64_t id = 0;
        detail::check(kmq_send_tracked_opaque(handle_.get(), data.data(), data.size(), detail::seconds(delay),
                                              opaque, &id));
        return id;
    }

    // A descriptor that polls readable while poll_reports() has reports (or
    // the producer is closed); owned by the producer. See kmq_producer_fd.
    int fd() const {
        int fd = kmq_producer_fd(handle_.get());
        if (fd < 0) detail::check(KMQ_ERR_INVALID_ARGUMENT);
        return fd;
    }

    // Up to `max` outcomes of tracked messages, waiting up to `timeout` for
    // the first; empty when none came. Throws KMQ_ERR_CLOSED once the
    // producer is closed and every report was taken.
    std::vector<DeliveryReport> poll_reports(std::chrono::milliseconds timeout, std::size_t max = 64) {
        std::vector<DeliveryReport> reports(max);
        std::size_t count = 0;
        Status s = kmq_poll_reports(handle_.get(), reports.data(), reports.size(), detail::millis(timeout), &count);
        if (s == KMQ_ERR_TIMEOUT) count = 0;
        else detail::check(s);
        reports.resize(count);
        return reports;
    }

    // Sends and waits for the server's confirmation. False when it did not
    // come within `timeout`: the message stays queued and may still arrive.
    [[nodiscard]] bool send_wait(std::string_view data, std::chrono::seconds delay,
                                 std::chrono::milliseconds timeout) {
        return confirmed(kmq_send_wait(handle_.get(), data.data(), data.size(), detail::seconds(delay),
                                       detail::millis(timeout)));
    }

    [[nodiscard]] bool send_wait(std::string_view data, std::chrono::milliseconds timeout) {
        return send_wait(data, std::chrono::seconds(0), timeout);
    }

    // Waits until every message sent before the call is confirmed. False
    // when that did not happen within `timeout`; throws when some message
    // was given up on.
    [[nodiscard]] bool flush(std::chrono::milliseconds timeout) {
        return confirmed(kmq_flush(handle_.get(), detail::millis(timeout)));
    }

    // Closes the connection: unconfirmed messages fail, blocked calls and
    // later ones throw KMQ_ERR_CLOSED. The object stays usable for stats().
    void close() noexcept { kmq_producer_close(handle_.get()); }

    ProducerStats stats() const {
        ProducerStats out{};
        detail::check(kmq_producer_get_stats(handle_.get(), &out));
        return out;
    }

    // Each connection's counters (`connections` per node).
    std::vector<ConnectionStats> connection_stats() const {
        std::vector<ConnectionStats> out(4);
        for (;;) {
            std::size_t count = 0;
            detail::check(kmq_producer_connection_stats(handle_.get(), out.data(), out.size(), &count));
            if (count <= out.size()) {
                out.resize(count);
                return out;
            }
            out.resize(count);
        }
    }

    // Everything the producer counts as a JSON document: the counters,
    // confirm_latency_us (p50, p90, p99, max over the last minute) and each
    // connection's state and traffic (the README lists every field).
    std::string stats_json() const {
        return detail::text([&](char* buf, std::size_t cap, std::size_t* len) {
            return kmq_producer_stats_json(handle_.get(), buf, cap, len);
        });
    }

    kmq_producer* get() const noexcept { return handle_.get(); }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    explicit Producer(kmq_producer* p) noexcept : handle_(p) {}

    static bool confirmed(Status s) {
        if (s == KMQ_ERR_TIMEOUT) return false;
        detail::check(s);
        return true;
    }

    detail::Owned<kmq_producer, kmq_producer_free> handle_;
};

class Consumer {
public:
    // Connects to the node named by mq_addr/mq_port (needs topic and
    // consumer_id) and completes the handshake before it returns.
    static Consumer connect(const Config& cfg) {
        kmq_consumer* c = nullptr;
        detail::check(kmq_consumer_new(cfg.get(), &c));
        return Consumer(c);
    }

    // Connects to every live node of the Serena registry.
    static Consumer connect_cluster(const Config& cfg) {
        kmq_consumer* c = nullptr;
        detail::check(kmq_cluster_consumer_new(cfg.get(), &c));
        return Consumer(c);
    }

    // The next pushed message, waiting up to `timeout`; empty when none
    // came. Throws KMQ_ERR_CLOSED once the consumer is closed.
    std::optional<Message> receive(std::chrono::milliseconds timeout) {
        kmq_message* m = nullptr;
        Status s = kmq_receive(handle_.get(), detail::millis(timeout), &m);
        if (s == KMQ_ERR_TIMEOUT) return std::nullopt;
        detail::check(s);
        return Message(m);
    }

    // Tells the server the message was handled; never waits for the network.
    void ack(std::string_view code) {
        detail::check(kmq_ack(handle_.get(), detail::terminated(code).c_str()));
    }

    void ack(const Message& m) { detail::check(kmq_ack(handle_.get(), kmq_message_code(m.get()))); }

    // A descriptor that polls readable while receive() with no wait has a
    // message (or the consumer is closed); owned by the consumer. See
    // kmq_consumer_fd.
    int fd() const {
        int fd = kmq_consumer_fd(handle_.get());
        if (fd < 0) detail::check(KMQ_ERR_INVALID_ARGUMENT);
        return fd;
    }

    // Closes the connection and wakes a receive() blocked in another thread.
    void close() noexcept { kmq_consumer_close(handle_.get()); }

    ConsumerStats stats() const {
        ConsumerStats out{};
        detail::check(kmq_consumer_get_stats(handle_.get(), &out));
        return out;
    }

    // As Producer::stats_json: the counters, the buffer, unacked messages and
    // each connection's state and traffic.
    std::string stats_json() const {
        return detail::text([&](char* buf, std::size_t cap, std::size_t* len) {
            return kmq_consumer_stats_json(handle_.get(), buf, cap, len);
        });
    }

    kmq_consumer* get() const noexcept { return handle_.get(); }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    explicit Consumer(kmq_consumer* c) noexcept : handle_(c) {}

    detail::Owned<kmq_consumer, kmq_consumer_free> handle_;
};

}  // namespace kapokmq

#endif  // KAPOKMQ_HPP
