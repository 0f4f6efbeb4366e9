// A C++ program built against an installed kapokmq with CMake (see
// run.sh): through kapokmq.hpp, one send that the server confirms, then one
// receive of it.
//
//   smoke_cpp PORT TOPIC
//
// Prints "version X.Y.Z" and "received: DATA"; exits 0 only when the
// message came back intact and was acked.
#include <kapokmq.hpp>

#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    using namespace std::chrono_literals;
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " PORT TOPIC\n";
        return 2;
    }
    std::cout << "version " << kapokmq::version() << "\n";
    const std::string topic = argv[2];
    try {
        kapokmq::Config cfg{{"mq_addr", "127.0.0.1"}, {"mq_port", argv[1]}, {"topic", topic}};
        cfg.set("producer_id", "smoke-cpp").set("consumer_id", "smoke-cpp");

        // The consumer connects first: the server pushes a message only to
        // the consumers connected when it arrives.
        auto consumer = kapokmq::Consumer::connect(cfg);
        auto producer = kapokmq::Producer::connect(cfg);

        const std::string sent = "hello from C++ on " + topic;
        if (!producer.send_wait(sent, 0s, 10s)) {
            std::cerr << "smoke.cpp: not confirmed within 10 s\n";
            return 1;
        }
        auto m = consumer.receive(10s);
        if (!m) {
            std::cerr << "smoke.cpp: nothing received within 10 s\n";
            return 1;
        }
        std::cout << "received: " << m->data() << "\n";
        consumer.ack(*m);
        if (m->data() != sent || m->topic() != topic) {
            std::cerr << "smoke.cpp: sent \"" << sent << "\" to " << topic << ", received something else\n";
            return 1;
        }
    } catch (const kapokmq::Error& e) {
        std::cerr << "smoke.cpp: " << e.status_name() << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}
