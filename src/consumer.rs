//! The consumer: a connection task reads pushed messages into a bounded
//! local buffer and keeps reading while earlier messages are still unacked.
//! When the buffer is full it stops reading, so TCP carries the back-pressure
//! to the server. `receive` waits on the caller's thread; `ack` only queues
//! the code for the connection task and never waits for the network.

use crate::config::Config;
use crate::conn::{self, Backoff, Ws};
use crate::error::{Error, ErrorKind, Result};
use crate::runtime;
use crate::wire::{self, Role};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// One message pushed by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's identity: 32 lowercase hex digits. Ack with it.
    pub code: String,
    /// The payload (UTF-8 text, as the server stores it).
    pub data: String,
    pub topic: String,
    /// Unix seconds.
    pub create_time: i64,
    pub consumed_time: i64,
    /// Seconds; a redelivered message arrives with the time elapsed.
    pub delay_time: i64,
    /// -1 waiting, 0 delayed, 1 consumed.
    pub status: i32,
}

impl From<wire::Push> for Message {
    fn from(p: wire::Push) -> Self {
        Message {
            code: p.code,
            data: p.data,
            topic: p.topic,
            create_time: p.create_time,
            consumed_time: p.consumed_time,
            delay_time: p.delay_time,
            status: p.status,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub received: u64,
    pub acked: u64,
    pub reconnects: u64,
    /// Frames from the server that were not a message, skipped.
    pub bad_frames: u64,
    /// Received and not yet taken by `receive`.
    pub buffered: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    acked: AtomicU64,
    reconnects: AtomicU64,
    bad_frames: AtomicU64,
}

struct State {
    buffer: VecDeque<Message>,
    closed: Option<Error>,
    waiting: usize,
}

struct Shared {
    config: Config,
    state: Mutex<State>,
    arrived: Condvar,
    /// Wakes the reader when `receive` makes room in a full buffer.
    room: Notify,
    acks: mpsc::UnboundedSender<String>,
    counters: Counters,
    stop: watch::Sender<bool>,
}

/// A KapokMQ consumer. Cheap to share between threads (`&self` methods).
pub struct Consumer {
    shared: Arc<Shared>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn close_with(&self, why: Error) {
        let mut st = lock(&self.state);
        if st.closed.is_none() {
            st.closed = Some(why);
            st.buffer.clear();
        }
        drop(st);
        self.arrived.notify_all();
        self.stop.send_replace(true);
        self.room.notify_waiters();
    }

    /// Adds a pushed message, waiting (without reading the socket) while the
    /// buffer is full. Returns false once the consumer is closed.
    async fn deliver(&self, msg: Message) -> bool {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut st = lock(&self.state);
                if st.closed.is_some() {
                    return false;
                }
                if st.buffer.len() < self.config.receive_buffer {
                    st.buffer.push_back(msg);
                    let wake = st.waiting > 0;
                    drop(st);
                    self.counters.received.fetch_add(1, Ordering::Relaxed);
                    if wake {
                        self.arrived.notify_one();
                    }
                    return true;
                }
            }
            room.await;
        }
    }
}

impl Consumer {
    /// Connects to the node in `config` and completes the handshake before
    /// it returns: a rejected key is `Auth`, an unreachable server `Connect`.
    pub fn connect(config: &Config) -> Result<Consumer> {
        let topic = config.require_topic()?;
        let id = config.require_consumer_id()?;
        runtime::check_blocking_allowed("connecting a consumer")?;
        let url = wire::conn_url(&config.mq_protocol, &config.mq_addr, config.mq_port, Role::Consumer, topic, id);
        let rt = runtime::handle()?;
        let ws = rt.block_on(conn::open(&url, &config.secret_key, config.connect_timeout))?;
        let (acks, acks_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config: config.clone(),
            state: Mutex::new(State { buffer: VecDeque::new(), closed: None, waiting: 0 }),
            arrived: Condvar::new(),
            room: Notify::new(),
            acks,
            counters: Counters::default(),
            stop: watch::channel(false).0,
        });
        rt.spawn(run_link(shared.clone(), url, ws, acks_rx));
        Ok(Consumer { shared })
    }

    /// The next pushed message. `timeout_ms` of -1 waits without limit, 0
    /// does not wait. `Timeout` when none came in time; `Closed` once closed.
    pub fn receive(&self, timeout_ms: i64) -> Result<Message> {
        let deadline = (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
        if timeout_ms != 0 {
            runtime::check_blocking_allowed("receive")?;
        }
        let cap = self.shared.config.receive_buffer;
        let mut st = lock(&self.shared.state);
        loop {
            if let Some(e) = &st.closed {
                return Err(e.clone());
            }
            if let Some(m) = st.buffer.pop_front() {
                let was_full = st.buffer.len() + 1 >= cap;
                drop(st);
                if was_full {
                    self.shared.room.notify_one();
                }
                return Ok(m);
            }
            let left = match deadline {
                None => Duration::from_secs(3600),
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Err(Error::timeout(format!("no message within {timeout_ms} ms"))),
                },
            };
            st.waiting += 1;
            st = self.shared.arrived.wait_timeout(st, left).unwrap_or_else(|p| p.into_inner()).0;
            st.waiting -= 1;
        }
    }

    /// Tells the server the message with `code` was handled. Queued for the
    /// connection task; never waits for the network. Unknown codes are
    /// ignored by the server.
    pub fn ack(&self, code: &str) -> Result<()> {
        wire::check_code(code)?;
        if let Some(e) = &lock(&self.shared.state).closed {
            return Err(e.clone());
        }
        self.shared
            .acks
            .send(code.to_string())
            .map_err(|_| Error::closed("the consumer's connection task has stopped"))?;
        self.shared.counters.acked.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Closes the connection and wakes every call blocked on this consumer.
    pub fn close(&self) {
        self.shared.close_with(Error::closed("the consumer was closed"));
    }

    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed.is_some()
    }

    pub fn stats(&self) -> ConsumerStats {
        let c = &self.shared.counters;
        ConsumerStats {
            received: c.received.load(Ordering::Relaxed),
            acked: c.acked.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            bad_frames: c.bad_frames.load(Ordering::Relaxed),
            buffered: lock(&self.shared.state).buffer.len() as u64,
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Keeps one connection up until the consumer closes. Acks not yet written
/// when a connection drops are written on the next one.
async fn run_link(shared: Arc<Shared>, url: String, first: Ws, mut acks: mpsc::UnboundedReceiver<String>) {
    let mut stop = shared.stop.subscribe();
    let mut backoff = Backoff::new(shared.config.check_time);
    let mut unwritten: VecDeque<String> = VecDeque::new();
    let mut ws = Some(first);
    loop {
        let conn = match ws.take() {
            Some(c) => c,
            None => {
                let opened = tokio::select! {
                    _ = stop.changed() => return,
                    r = conn::open(&url, &shared.config.secret_key, shared.config.connect_timeout) => r,
                };
                match opened {
                    Ok(c) => {
                        shared.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        backoff.reset();
                        c
                    }
                    Err(e) if e.kind() == ErrorKind::Auth => {
                        shared.close_with(e.context("reconnecting"));
                        return;
                    }
                    Err(_) => {
                        tokio::select! {
                            _ = stop.changed() => return,
                            _ = tokio::time::sleep(backoff.step()) => continue,
                        }
                    }
                }
            }
        };
        serve(&shared, conn, &mut acks, &mut unwritten, &mut stop).await;
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(backoff.step()) => {}
        }
    }
}

async fn serve(
    shared: &Shared,
    ws: Ws,
    acks: &mut mpsc::UnboundedReceiver<String>,
    unwritten: &mut VecDeque<String>,
    stop: &mut watch::Receiver<bool>,
) {
    let (mut sink, mut stream) = ws.split();
    let last_seen = conn::LastSeen::now();
    // While the buffer is full the socket is not read on purpose; silence
    // then says nothing about the server.
    let paused = std::sync::atomic::AtomicBool::new(false);
    let check = shared.config.check_time;

    let reader = async {
        loop {
            let frame = match stream.next().await {
                Some(Ok(m)) => m,
                Some(Err(_)) | None => return,
            };
            last_seen.touch();
            let text = match &frame {
                WsMessage::Text(t) => t.as_str(),
                WsMessage::Binary(b) => match std::str::from_utf8(b) {
                    Ok(t) => t,
                    Err(_) => {
                        shared.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                WsMessage::Close(_) => return,
                _ => continue,
            };
            // A frame that is not a message is skipped: the message it may
            // have stood for stays unacked on the server and comes again.
            match wire::parse_push(text) {
                Ok(push) => {
                    paused.store(true, Ordering::Relaxed);
                    let open = shared.deliver(push.into()).await;
                    paused.store(false, Ordering::Relaxed);
                    last_seen.touch();
                    if !open {
                        return;
                    }
                }
                Err(_) => {
                    shared.counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };

    let writer = async {
        let mut ping = tokio::time::interval(check);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        loop {
            if !unwritten.is_empty() {
                for code in unwritten.iter() {
                    if sink.feed(WsMessage::text(code.as_str())).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
                unwritten.clear();
            }
            tokio::select! {
                code = acks.recv() => match code {
                    Some(code) => {
                        unwritten.push_back(code);
                        while let Ok(more) = acks.try_recv() {
                            unwritten.push_back(more);
                            if unwritten.len() >= 4096 {
                                break;
                            }
                        }
                    }
                    None => return,
                },
                _ = ping.tick() => {
                    if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
            }
        }
    };

    // Pings go out every check_time; a server that answers nothing for
    // two of them is gone even if TCP has not said so.
    let watchdog = async {
        let limit = check * 2 + Duration::from_secs(1);
        loop {
            tokio::time::sleep(check).await;
            if !paused.load(Ordering::Relaxed) && last_seen.silence() > limit {
                return;
            }
        }
    };

    tokio::select! {
        _ = reader => {},
        _ = writer => {},
        _ = watchdog => {},
        _ = stop.changed() => {},
    }
    if *stop.borrow() {
        // Acks the application gave before closing still reach the server.
        while let Ok(code) = acks.try_recv() {
            unwritten.push_back(code);
        }
        let flush_acks = async {
            for code in unwritten.drain(..) {
                sink.feed(WsMessage::text(code)).await?;
            }
            sink.send(WsMessage::Close(None)).await
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), flush_acks).await;
    }
}
