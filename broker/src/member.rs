//! The node side of a dev cluster (`--join HOST:PORT`): heartbeats to the registry, and the
//! node's own view of the cluster for `POST /Console/GetNodes`.
//!
//! A real node's view comes from gossip and survives a registry outage, so the last list the
//! registry gave is kept and answered while the registry cannot be reached.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::MissedTickBehavior;

use crate::registry::{write_nodes, Node};
use crate::State;

/// Bound on one exchange with the registry, so a hung registry cannot stall a heartbeat or an
/// HTTP answer for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Member {
    /// `HOST:PORT` of the registry.
    registry: String,
    key: String,
    me: Node,
    /// The last node list the registry answered (this node alone until the first answer).
    view: Mutex<Vec<u8>>,
    /// The registry rejected the key once already (said once on stderr, not per heartbeat).
    rejected: AtomicBool,
}

impl Member {
    pub fn new(registry: String, key: String, local: SocketAddr) -> Member {
        let ip = match local.ip() {
            // Listening on every interface: announce the address the registry is reached from.
            ip if ip.is_unspecified() => route_to(&registry).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ip => ip,
        };
        let me = Node::new(&ip.to_string(), local.port());
        let mut view = Vec::new();
        write_nodes(&mut view, &[&me]);
        Member { registry, key, me, view: Mutex::new(view), rejected: AtomicBool::new(false) }
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// One `POST /Registry/Join`; failures are left to the next heartbeat.
    pub async fn heartbeat(&self) {
        let form =
            format!("addr={}&port={}&name={}", form_value(&self.me.addr), self.me.port, form_value(&self.me.name));
        if let Some(body) = self.post("/Registry/Join", &form).await {
            self.keep(body);
        }
    }

    /// The registry's current list, or the last one known when it cannot be reached.
    pub async fn view(&self) -> Vec<u8> {
        if let Some(body) = self.post("/Registry/GetNodes", "").await {
            self.keep(body);
        }
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Keeps a node list answer; anything else is a rejection (wrong key).
    fn keep(&self, body: Vec<u8>) {
        if body == b"null" || body.first() == Some(&b'[') {
            *self.view.lock().unwrap_or_else(|e| e.into_inner()) = body;
        } else if !self.rejected.swap(true, Ordering::Relaxed) {
            eprintln!(
                "kmq-broker: registry {} refused to list this node: {}",
                self.registry,
                String::from_utf8_lossy(&body)
            );
        }
    }

    /// A form POST to the registry; the body of a 200 answer, or `None` on any failure.
    async fn post(&self, path: &str, form: &str) -> Option<Vec<u8>> {
        let exchange = async {
            let mut s = TcpStream::connect(&self.registry).await.ok()?;
            let req = format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nsecretKey: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
                self.registry,
                self.key,
                form.len()
            );
            s.write_all(req.as_bytes()).await.ok()?;
            // `Connection: close`: the answer ends where the stream does.
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.ok()?;
            if !out.starts_with(b"HTTP/1.1 200 ") {
                return None;
            }
            let body_at = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
            Some(out.split_off(body_at))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.ok().flatten()
    }
}

/// Heartbeats every `--heartbeat-ms`, after the one `main` sends before the ready line.
pub async fn heartbeat_loop(st: Arc<State>) {
    let Some(m) = &st.member else { return };
    let period = Duration::from_millis(st.cfg.heartbeat_ms.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    // A registry that was slow to answer gets the next heartbeat on time, not a burst.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        m.heartbeat().await;
    }
}

/// The local address the system would use to reach `target` (no packet is sent).
fn route_to(target: &str) -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    s.connect(target).ok()?;
    Some(s.local_addr().ok()?.ip())
}

/// `application/x-www-form-urlencoded` value: everything but unreserved characters escaped.
fn form_value(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}
