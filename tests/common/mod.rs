//! The workspace's test kit (tests/kit), and the library's client
//! configurations for the brokers it starts.
#![allow(dead_code)]

use kapokmq::Config;
pub use kapokmq_testkit::*;

/// A client configuration for a topic on a broker or a cluster.
pub trait ClientConfig {
    fn config(&self, topic: &str) -> Config;
}

impl ClientConfig for Broker {
    fn config(&self, topic: &str) -> Config {
        let mut c = Config::new();
        c.set("mq_port", &self.port.to_string()).unwrap();
        c.set("topic", topic).unwrap();
        c.set("producer_id", "p1").unwrap();
        c.set("consumer_id", "c1").unwrap();
        c
    }
}

impl ClientConfig for Cluster {
    fn config(&self, topic: &str) -> Config {
        let mut c = Config::new();
        c.set("registry_addr", "127.0.0.1").unwrap();
        c.set("registry_port", &self.registry.port.to_string()).unwrap();
        c.set("topic", topic).unwrap();
        c.set("producer_id", "p1").unwrap();
        c.set("consumer_id", "c1").unwrap();
        c.set("check_time", "1").unwrap();
        c
    }
}
