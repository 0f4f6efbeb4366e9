//! The Serena registry side of a dev cluster: the table of live MQ nodes and its JSON answer.
//!
//! Serena learns about nodes through gossip; here a node announces itself with a periodic
//! `POST /Registry/Join` instead, and a node whose announcements stop is dropped after the TTL,
//! which plays the part of gossip noticing a dead member (about 5 s on the real cluster).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::json::go_str;

/// One MQ node as Serena lists it.
pub struct Node {
    pub name: String,
    pub addr: String,
    pub port: u16,
}

impl Node {
    /// The name a KapokMQ node registers under.
    pub fn new(addr: &str, port: u16) -> Node {
        Node { name: format!("mq:{addr}:{port}"), addr: addr.to_string(), port }
    }
}

pub struct Registry {
    ttl: Duration,
    /// name → (node, time of its last heartbeat)
    nodes: Mutex<HashMap<String, (Node, Instant)>>,
}

impl Registry {
    pub fn new(ttl: Duration) -> Registry {
        Registry { ttl, nodes: Mutex::new(HashMap::new()) }
    }

    /// Records a heartbeat; a node that changed address under the same name is updated.
    pub fn join(&self, node: Node) {
        let mut g = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        g.insert(node.name.clone(), (node, Instant::now()));
    }

    /// Writes the live nodes as `/Registry/GetNodes` answers them, forgetting expired ones.
    pub fn write_live(&self, o: &mut Vec<u8>) {
        let mut g = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        g.retain(|_, (_, seen)| now.duration_since(*seen) <= self.ttl);
        // Serena's order follows a Go map and varies; a sorted list keeps test output readable.
        let mut live: Vec<&Node> = g.values().map(|(n, _)| n).collect();
        live.sort_by(|a, b| a.name.cmp(&b.name));
        write_nodes(o, &live);
    }
}

/// `[{"Name":..,"Addr":..,"Port":"8011"},..]` with `Port` as a string, and `null` (a nil Go
/// slice) when there is no node.
pub fn write_nodes(o: &mut Vec<u8>, nodes: &[&Node]) {
    if nodes.is_empty() {
        o.extend_from_slice(b"null");
        return;
    }
    o.push(b'[');
    for (i, n) in nodes.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(br#"{"Name":"#);
        go_str(o, &n.name);
        o.extend_from_slice(br#","Addr":"#);
        go_str(o, &n.addr);
        o.extend_from_slice(br#","Port":"#);
        go_str(o, &n.port.to_string());
        o.push(b'}');
    }
    o.push(b']');
}
