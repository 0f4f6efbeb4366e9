//! Opening a KapokMQ WebSocket: TCP (or TLS), the upgrade, and the secret
//! key handshake, all within one time bound. Both producers and consumers
//! start here; what they do afterwards lives in their own modules.

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::log;
use crate::metrics::Gauge;
use crate::wire::{self, Handshake};
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Everything needed to open a connection to any node: the key, the time
/// bound, and the TLS settings (loaded once, shared by every connection).
#[derive(Clone)]
pub struct Dialer {
    key: String,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The longest wait between attempts to reconnect (`reconnect_max_ms`).
    pub reconnect_max: Duration,
}

impl Dialer {
    pub fn from_config(config: &Config) -> Result<Dialer> {
        Ok(Dialer {
            key: config.secret_key.clone(),
            timeout: config.connect_timeout,
            tls: crate::tls::client_config(config)?,
            reconnect_max: config.reconnect_max,
        })
    }

    /// Connects to `url` and completes the handshake before the time bound
    /// runs out. A rejected key is `Auth`; everything else that keeps the
    /// connection from becoming ready is `Connect` (or `Protocol` when the
    /// server says something that is not KapokMQ).
    pub async fn open(&self, url: &str) -> Result<Ws> {
        match tokio::time::timeout(self.timeout, self.open_unbounded(url)).await {
            Ok(result) => result,
            Err(_) => Err(Error::connect(format!(
                "connect {url}: not ready within {} ms (no answer, or no handshake{})",
                self.timeout.as_millis(),
                // A plain-text server may wait for more than a TLS hello.
                if self.tls.is_some() { "; if this port does not serve TLS, use mq_protocol=ws" } else { "" }
            ))),
        }
    }

    /// `open` for a URL it owns, so that several can run at once.
    pub async fn open_owned(&self, url: String) -> Result<Ws> {
        self.open(&url).await
    }

    async fn open_unbounded(&self, url: &str) -> Result<Ws> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(crate::frames::MAX_FRAME as usize))
            .read_buffer_size(READ_BUFFER_BYTES);
        let connector = self.tls.clone().map(Connector::Rustls);
        let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector)
            .await
            .map_err(|e| Error::connect(format!("connect {url}: {}", describe(&e))))?;
        handshake(&mut ws, &self.key).await.map_err(|e| e.context(format!("connect {url}")))?;
        Ok(ws)
    }
}

/// How long a link pauses between reads (and a consumer between ack
/// writes) while a stream of frames is coming: the node writes one frame
/// per `ok` and per push, and a pause lets many gather for one read.
pub(crate) const COALESCE_PAUSE: Duration = Duration::from_millis(1);

/// Opens a connection to each of `urls` at once. Returns one entry per URL,
/// in order (`None` where it failed: its link keeps trying) when at least
/// one opened; a rejected key anywhere is that `Auth` error; otherwise the
/// first error.
pub(crate) async fn open_all(dialer: &Dialer, urls: Vec<String>) -> Result<Vec<Option<Ws>>> {
    let results = futures_util::future::join_all(urls.into_iter().map(|url| dialer.open_owned(url))).await;
    let mut first_error = None;
    let mut opened = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(ws) => opened.push(Some(ws)),
            Err(e) if e.kind() == ErrorKind::Auth => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
                opened.push(None);
            }
        }
    }
    if opened.iter().all(Option::is_none) {
        return Err(first_error.unwrap_or_else(|| Error::connect("no node could be reached")));
    }
    Ok(opened)
}

/// How much tungstenite reads at once: as much as the producer's own
/// reader (`frames::READ_CHUNK`). It zeroes that much of its buffer before
/// every read, and the real node writes one small frame per "ok" and per
/// push, so reads are many and small: tungstenite's 128 KiB default cost
/// the client much of its CPU in that zeroing (figures in
/// docs/bench/README.md, "Why the code is as it is").
const READ_BUFFER_BYTES: usize = crate::frames::READ_CHUNK;

async fn handshake(ws: &mut Ws, key: &str) -> Result<()> {
    match next_text(ws).await? {
        t if wire::classify_handshake(&t) == Handshake::Prompt => {}
        t => return Err(Error::protocol(format!("expected the key prompt, got {:?}", wire::preview(&t)))),
    }
    ws.send(Message::text(key))
        .await
        .map_err(|e| Error::connect(format!("sending the secret key: {}", describe(&e))))?;
    let answer = next_text(ws).await?;
    match wire::classify_handshake(&answer) {
        Handshake::Accepted => Ok(()),
        Handshake::Rejected => Err(Error::new(ErrorKind::Auth, "the server rejected the secret key")),
        _ => Err(Error::protocol(format!("unexpected handshake answer {:?}", wire::preview(&answer)))),
    }
}

/// The next text frame, skipping control frames.
async fn next_text(ws: &mut Ws) -> Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Binary(b))) => return Ok(String::from_utf8_lossy(&b).into_owned()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(_))) | None => {
                return Err(Error::connect("the server closed the connection during the handshake"))
            }
            Some(Err(e)) => return Err(Error::connect(format!("during the handshake: {}", describe(&e)))),
        }
    }
}

/// A tungstenite error in words a user can act on.
pub fn describe(e: &tungstenite::Error) -> String {
    if let Some(words) = crate::tls::explain(e, "mq_protocol=ws") {
        return words;
    }
    match e {
        tungstenite::Error::Http(resp) => {
            format!("the server answered HTTP {} instead of upgrading (wrong path, topic or id?)", resp.status())
        }
        tungstenite::Error::Io(io) => io.to_string(),
        tungstenite::Error::Tls(tls) => format!("TLS: {tls}"),
        tungstenite::Error::Url(u) => format!("bad URL: {u}"),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => "connection closed".into(),
        tungstenite::Error::Protocol(p) => format!("WebSocket protocol: {p}"),
        other => other.to_string(),
    }
}

/// A node's place in a client: retired when the node leaves the
/// registry's list (its links then finish what they hold and close), taken
/// back when the node returns before its links have ended, ended when the
/// last of its link tasks is over. The list follower keeps one per node, so
/// that a node never has two sets of links.
#[derive(Default)]
pub struct Membership {
    retired: AtomicBool,
    /// Link tasks started for the node and not yet over.
    live: AtomicUsize,
    /// Wakes the links when `retired` changes.
    pub changed: tokio::sync::Notify,
}

impl Membership {
    pub fn retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }
    pub fn set_retired(&self, retired: bool) {
        self.retired.store(retired, Ordering::Release);
        self.changed.notify_waiters();
    }
    /// Whether every link task of the node is over.
    pub fn ended(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0
    }
    /// Waits until the node is retired.
    pub async fn retirement(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.retired() {
                return;
            }
            changed.await;
        }
    }
    /// A link task of the node starts (before it is spawned).
    pub fn join(&self) {
        self.live.fetch_add(1, Ordering::AcqRel);
    }
    /// A link task of the node is over.
    pub fn end(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How a link gets its connections: the first one from the constructor,
/// then new ones after each loss, with backoff, until the client stops or
/// the node is retired (it left the registry's list).
pub(crate) struct Redial<'a> {
    dialer: &'a Dialer,
    url: &'a str,
    /// "producer" or "consumer", for log lines.
    role: &'static str,
    first: Option<Ws>,
    member: &'a Membership,
    stop: watch::Receiver<bool>,
    backoff: Backoff,
    /// Waits since the last open connection.
    attempt: u32,
    gauge: &'a Gauge,
    connected_before: bool,
}

/// What `Redial::next` found.
// The open connection is the common case and is moved on at once: boxing
// it would cost an allocation per connection for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Dialled {
    /// An open connection; `again` when it replaces an earlier one.
    Open { ws: Ws, again: bool },
    /// The client stopped, or the node was retired.
    Stopped,
    /// The server rejected the key: the client must close.
    Rejected(Error),
}

impl<'a> Redial<'a> {
    pub fn new(
        dialer: &'a Dialer,
        url: &'a str,
        role: &'static str,
        first: Option<Ws>,
        member: &'a Membership,
        stop: watch::Receiver<bool>,
        gauge: &'a Gauge,
    ) -> Self {
        let connected_before = first.is_some();
        let backoff = Backoff::new(dialer.reconnect_max);
        Redial { dialer, url, role, first, member, stop, backoff, attempt: 0, gauge, connected_before }
    }

    /// The stop signal, for the code that serves an open connection.
    pub fn stop(&mut self) -> &mut watch::Receiver<bool> {
        &mut self.stop
    }

    pub fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// The next open connection; `failed` hears of each failed attempt.
    pub async fn next(&mut self, mut failed: impl FnMut(&Error)) -> Dialled {
        if let Some(ws) = self.first.take() {
            return Dialled::Open { ws, again: false };
        }
        loop {
            if self.member.retired() {
                return Dialled::Stopped;
            }
            let opened = tokio::select! {
                _ = self.stop.changed() => return Dialled::Stopped,
                r = self.dialer.open(self.url) => r,
            };
            match opened {
                Ok(ws) => {
                    let again = self.connected_before;
                    if again {
                        log::info(|| format!("{} reconnected to {}", self.role, self.url));
                    }
                    self.connected_before = true;
                    self.backoff.reset();
                    self.attempt = 0;
                    return Dialled::Open { ws, again };
                }
                Err(e) if e.kind() == ErrorKind::Auth => {
                    log::error(|| format!("{} closed: {e}", self.role));
                    return Dialled::Rejected(e.context("reconnecting"));
                }
                Err(e) => {
                    log::debug(|| format!("{}: {e}", self.role));
                    self.gauge.attempt_failed(&e);
                    failed(&e);
                    if !self.pause().await {
                        return Dialled::Stopped;
                    }
                }
            }
        }
    }

    /// Waits out the backoff after a lost connection or a failed attempt;
    /// false when the client stopped meanwhile.
    pub async fn pause(&mut self) -> bool {
        if self.stopped() {
            return false;
        }
        let delay = self.backoff.step();
        self.attempt += 1;
        self.gauge.reconnecting(self.attempt, delay.as_millis() as u64);
        tokio::select! {
            _ = self.stop.changed() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

/// Backoff between reconnect attempts, with full jitter: the n-th wait is
/// drawn at random from 0 to min(`max`, 100 ms x 2^(n-1)), so that a fleet
/// of clients that lost the same node does not come back in one burst.
pub struct Backoff {
    /// The top of the next wait's range.
    ceiling: Duration,
    max: Duration,
}

/// The first wait's range, before it doubles.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Backoff { ceiling: BACKOFF_FIRST.min(max), max }
    }
    pub fn reset(&mut self) {
        self.ceiling = BACKOFF_FIRST.min(self.max);
    }
    /// The delay to wait now; the next one's range is twice as wide.
    pub fn step(&mut self) -> Duration {
        let top = self.ceiling.as_millis() as u64;
        self.ceiling = (self.ceiling * 2).min(self.max);
        Duration::from_millis(random_below(top + 1))
    }
}

/// A random number from 0 to `n - 1` (`n` > 0), from the keys std draws
/// for each hash table (seeded by the OS, then counted on): good enough to
/// spread reconnects, and no generator crate.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(DRAWS.fetch_add(1, Ordering::Relaxed));
    h.finish() % n
}

/// The ticks of a link's pings, every `every`, the first one `every`
/// from now; a late tick is not made up for.
pub(crate) async fn ping_interval(every: Duration) -> tokio::time::Interval {
    let mut ping = tokio::time::interval(every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    ping
}

/// Pings go out every `check`; a peer that answers nothing (not even a
/// pong) for two of them while `expecting` says an answer is due is dead,
/// even if TCP has not noticed yet. Returns when it is.
pub(crate) async fn watchdog(last_seen: &LastSeen, check: Duration, expecting: impl Fn() -> bool) -> Error {
    let limit = check * 2 + Duration::from_secs(1);
    loop {
        tokio::time::sleep(check).await;
        if last_seen.silence() > limit && expecting() {
            return Error::connect(format!("no answer from the server for {} ms", limit.as_millis()));
        }
    }
}

/// When a connection last heard from its peer; shared by the reader and
/// the watchdog of one connection.
pub struct LastSeen {
    base: Instant,
    elapsed_ms: AtomicU64,
}

impl LastSeen {
    pub fn now() -> Self {
        LastSeen { base: Instant::now(), elapsed_ms: AtomicU64::new(0) }
    }
    pub fn touch(&self) {
        self.elapsed_ms.store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    /// How long ago the peer was last heard from.
    pub fn silence(&self) -> Duration {
        self.base.elapsed().saturating_sub(Duration::from_millis(self.elapsed_ms.load(Ordering::Relaxed)))
    }
}

/// What a link does with the connections `drive` gets it: the producer's
/// and the consumer's links differ only here.
pub(crate) trait Link {
    /// "producer" or "consumer", for log lines.
    const ROLE: &'static str;
    /// An attempt to connect failed (the link keeps trying).
    fn attempt_failed(&mut self, _why: &Error) {}
    /// A connection is open; `again` when it replaces an earlier one.
    fn opened(&mut self, again: bool);
    /// Serves one open connection until it ends or `stop`; returns why.
    fn serve<'s>(&'s mut self, ws: Ws, stop: &'s mut watch::Receiver<bool>) -> impl Future<Output = Error> + Send + 's;
    /// The connection ended with `why`.
    fn lost(&mut self, why: &Error);
}

/// The one link driver, for producers and consumers: dials (the first
/// connection may come ready-made), serves each connection, and redials
/// with backoff after a loss, until the client stops or the node leaves the
/// registry's list. Returns the error when the server rejected the key on
/// a reconnect: the client must then close.
pub(crate) async fn drive<L: Link>(
    link: &mut L,
    dialer: &Dialer,
    url: &str,
    first: Option<Ws>,
    member: &Membership,
    stop: watch::Receiver<bool>,
    gauge: &Gauge,
) -> Option<Error> {
    let mut redial = Redial::new(dialer, url, L::ROLE, first, member, stop, gauge);
    loop {
        let ws = match redial.next(|e| link.attempt_failed(e)).await {
            Dialled::Open { ws, again } => {
                gauge.opened(again);
                link.opened(again);
                ws
            }
            Dialled::Stopped => return None,
            Dialled::Rejected(e) => {
                gauge.attempt_failed(&e);
                return Some(e);
            }
        };
        let why = link.serve(ws, redial.stop()).await;
        gauge.lost(&why);
        link.lost(&why);
        if redial.stopped() {
            return None;
        }
        if member.retired() {
            log::info(|| format!("{} link to {url} closed: the node left the registry's list", L::ROLE));
            continue;
        }
        log::warn(|| format!("{} connection to {url} lost: {why}; reconnecting", L::ROLE));
        if !redial.pause().await {
            return None;
        }
    }
}

/// Runs a link task, and again after it panicked (a bug): the panic is
/// caught and logged, never printed, `cleanup` puts the link's state right
/// (not connected, unconfirmed messages queued again), and after a pause
/// the link starts over with a new connection, until the client stops.
pub(crate) async fn supervise<Fut: Future<Output = ()>>(
    role: &'static str,
    url: &str,
    mut stop: watch::Receiver<bool>,
    mut run: impl FnMut() -> Fut,
    mut cleanup: impl FnMut(&Error),
) {
    let mut backoff = Backoff::new(Duration::from_secs(5));
    loop {
        let Err(payload) = AssertUnwindSafe(run()).catch_unwind().await else {
            return;
        };
        let why = Error::internal(format!(
            "{role} link to {url}: internal error (please report): {}",
            crate::error::panic_text(&*payload)
        ));
        log::error(|| format!("{why}; starting the link again"));
        cleanup(&why);
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(backoff.step()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_waits_are_drawn_below_a_doubling_bound_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(1000));
        let bounds = [100, 200, 400, 800, 1000, 1000, 1000];
        for round in 0..200 {
            for (i, &top) in bounds.iter().enumerate() {
                let wait = b.step();
                assert!(wait <= Duration::from_millis(top), "round {round}, wait {i}: {wait:?} above {top} ms");
            }
            b.reset();
        }
        // Drawn, not fixed: the first waits of many rounds differ.
        let firsts: std::collections::HashSet<_> = (0..50)
            .map(|_| {
                b.reset();
                b.step()
            })
            .collect();
        assert!(firsts.len() > 10, "{firsts:?}");
        // A cap below the first bound caps the first wait too.
        assert!(Backoff::new(Duration::from_millis(10)).step() <= Duration::from_millis(10));
    }
}
