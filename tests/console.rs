//! The node's HTTP API through `Console`, against a real broker.

mod common;

use common::{topic, Broker, ClientConfig};
use kapokmq::console::{Console, ALL_STATUSES};
use kapokmq::{Consumer, ErrorKind};

#[test]
fn send_over_http_and_query_the_console() {
    let broker = Broker::start(&[]);
    let cfg = broker.config(&topic("console"));
    let t = cfg.topic.clone().unwrap();
    let console = Console::new(&cfg).unwrap();
    console.ping().unwrap();
    let consumer = Consumer::connect(&cfg).unwrap();

    let code = console.send(&t, "över http", 0).unwrap();
    assert_eq!(code.len(), 32);
    let m = consumer.receive(5000).unwrap();
    assert_eq!((m.code.as_str(), m.data.as_str()), (code.as_str(), "över http"));

    let stored = console.message(&code).unwrap();
    assert_eq!(stored["MessageData"], "över http");
    assert_eq!(console.count().unwrap()["all"], 1);
    let clients = console.clients().unwrap();
    assert_eq!(clients["consumers"][0]["ConsumerId"], "c1");
    let listed = console.messages("2000-01-01 00:00:00", "2100-01-01 00:00:00", ALL_STATUSES, &t).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(console.server_config().unwrap().is_object());

    console.delete(&code).unwrap();
    assert!(console.message(&code).unwrap().is_null());
    assert_eq!(console.messages("a", "b", 7, "").unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn a_wrong_key_is_an_auth_error_and_a_dead_node_a_connect_error() {
    let mut broker = Broker::start(&[]);
    let mut cfg = broker.config("console");
    cfg.set("secret_key", "wrong").unwrap();
    let e = Console::new(&cfg).unwrap().count().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    broker.kill();
    let e = Console::new(&broker.config("console")).unwrap().ping().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
}
