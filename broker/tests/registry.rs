//! Registry mode (`--registry`) and nodes that join it (`--join`): the Serena answer shapes,
//! and nodes leaving and coming back as a gossip cluster would show it.

use std::thread::sleep;
use std::time::{Duration, Instant};

use kapokmq_testkit::Broker;

/// The kmq-broker under test, as cargo built it for these tests.
const BROKER: &str = env!("CARGO_BIN_EXE_kmq-broker");

const TTL_MS: u64 = 1000;
const HEARTBEAT_MS: u64 = 100;

fn registry(key: &str) -> Broker {
    Broker::spawn_bin(BROKER, &["--registry", "--secret-key", key, "--node-ttl-ms", &TTL_MS.to_string()])
}

/// A node with key `test` announcing itself to `reg`; `extra` may override the port or key.
fn node(reg: &Broker, extra: &[&str]) -> Broker {
    let join = format!("127.0.0.1:{}", reg.port);
    let hb = HEARTBEAT_MS.to_string();
    let mut args = vec!["--join", &join, "--heartbeat-ms", &hb];
    args.extend_from_slice(extra);
    Broker::spawn_bin(BROKER, &args)
}

/// The ports of a `GetNodes` answer, sorted (the registry's order carries no meaning). Every
/// entry must have Serena's exact shape, `Port` being a string; `null` is the empty list.
fn ports(body: &str) -> Vec<u16> {
    if body == "null" {
        return vec![];
    }
    let inner = body
        .strip_prefix("[{")
        .and_then(|b| b.strip_suffix("}]"))
        .unwrap_or_else(|| panic!("not a node list: {body:?}"));
    let mut out: Vec<u16> = inner
        .split("},{")
        .map(|entry| {
            let port = entry
                .rsplit_once(r#","Port":""#)
                .and_then(|(_, p)| p.strip_suffix('"'))
                .unwrap_or_else(|| panic!("no string Port in {body:?}"));
            let want = format!(r#""Name":"mq:127.0.0.1:{port}","Addr":"127.0.0.1","Port":"{port}""#);
            assert_eq!(entry, want, "{body}");
            port.parse().unwrap()
        })
        .collect();
    out.sort_unstable();
    out
}

fn listed(reg: &Broker) -> Vec<u16> {
    ports(&reg.post("/Registry/GetNodes", "test", ""))
}

fn sorted(mut v: Vec<u16>) -> Vec<u16> {
    v.sort_unstable();
    v
}

#[test]
fn registry_lists_joined_nodes() {
    let reg = registry("test");
    assert_eq!(reg.post("/Registry/GetNodes", "test", ""), "null");
    assert_eq!(reg.post("/Registry/GetNodes", "wrong", ""), r#"{"code":-1,"msg":"Secret key matching error"}"#);
    // Listed as soon as each node says it is ready.
    let a = node(&reg, &[]);
    assert_eq!(listed(&reg), vec![a.port]);
    let b = node(&reg, &[]);
    let both = sorted(vec![a.port, b.port]);
    assert_eq!(listed(&reg), both);
    // A node's own view is the registry's current list, through either route.
    assert_eq!(ports(&a.post("/Console/GetNodes", "test", "")), both);
    assert_eq!(ports(&a.post("/Registry/GetNodes", "test", "")), both);
    assert_eq!(a.post("/Console/GetNodes", "wrong", ""), r#"{"code":-1,"msg":"Secret key matching error"}"#);
    assert!(a.post("/Console/GetConfig", "test", "").contains(r#""isCluster":1,"#));
}

#[test]
fn registry_serves_no_queue_endpoints() {
    let reg = registry("test");
    for path in ["/Console/Ping", "/Producer/Send", "/Console/GetNodes"] {
        let (status, body) = reg.http(&format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nsecretKey: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{path}");
        assert_eq!(body, "404 page not found");
    }
    let (status, _) = reg.http(
        "GET /Producers/Conn/t/P1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}

#[test]
fn join_needs_the_registry_key() {
    let reg = registry("k1");
    assert_eq!(
        reg.post("/Registry/Join", "k2", "addr=127.0.0.1&port=8023"),
        r#"{"code":-1,"msg":"Secret key matching error"}"#
    );
    let _n = node(&reg, &["--secret-key", "k2"]);
    sleep(Duration::from_millis(3 * HEARTBEAT_MS));
    assert_eq!(reg.post("/Registry/GetNodes", "k1", ""), "null");
    // The right key: the answer is the list, the new node in it.
    assert_eq!(
        reg.post("/Registry/Join", "k1", "addr=127.0.0.1&port=8023&name=mq%3A127.0.0.1%3A8023"),
        r#"[{"Name":"mq:127.0.0.1:8023","Addr":"127.0.0.1","Port":"8023"}]"#
    );
    assert_eq!(
        reg.post("/Registry/Join", "k1", "addr=127.0.0.1&port=x"),
        r#"{"code":-1,"msg":"port must be a number from 1 to 65535"}"#
    );
}

#[test]
fn killed_node_leaves_and_restarted_node_comes_back() {
    let reg = registry("test");
    let mut a = node(&reg, &[]);
    let b = node(&reg, &[]);
    // Heartbeats keep live nodes listed past the TTL.
    sleep(Duration::from_millis(TTL_MS * 3 / 2));
    assert_eq!(listed(&reg), sorted(vec![a.port, b.port]));

    a.kill(); // SIGKILL: the node just stops announcing itself
    let killed = Instant::now();
    while listed(&reg) != vec![b.port] {
        assert!(
            killed.elapsed() < Duration::from_millis(TTL_MS + 1000),
            "killed node still listed: {:?}",
            listed(&reg)
        );
        sleep(Duration::from_millis(50));
    }

    // Started again on the same port, it is listed by the time it says it is ready.
    let port = a.port.to_string();
    let a2 = node(&reg, &["--port", &port]);
    assert_eq!(a2.port, a.port);
    assert_eq!(listed(&reg), sorted(vec![a.port, b.port]));
}

#[test]
fn node_keeps_its_view_while_the_registry_is_down() {
    let mut reg = registry("test");
    let a = node(&reg, &[]);
    let b = node(&reg, &[]);
    let both = sorted(vec![a.port, b.port]);
    assert_eq!(ports(&a.post("/Console/GetNodes", "test", "")), both);
    reg.kill();
    // Gossip does not go through the registry: the node still sees its peers.
    sleep(Duration::from_millis(3 * HEARTBEAT_MS));
    assert_eq!(ports(&a.post("/Console/GetNodes", "test", "")), both);
    assert_eq!(a.post("/Console/Ping", "test", ""), r#"{"code":0}"#);
}
