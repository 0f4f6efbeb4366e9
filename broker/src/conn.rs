//! Producer and consumer WebSocket connections, after the HTTP upgrade.
//!
//! Each connection has a reader (this task) and a writer task fed by a channel; the writer
//! takes everything already queued, writes it with one syscall, and only then waits again.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::json::{parse_send, write_message, MsgView};
use crate::push::ClientInfo;
use crate::store::PushItem;
use crate::tls::{send, ReadHalf, Sock, WriteHalf};
use crate::util::{now_ms, now_s, parse_code};
use crate::ws::{
    close_echo, close_payload, frame, push_frame, push_message, Ev, FrameReader, OP_CLOSE, OP_PONG, OP_TEXT,
};
use crate::State;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Producer,
    Consumer,
}

enum Out {
    Acks(u32, Instant),
    Pong(Vec<u8>),
    Close(Vec<u8>),
    Shutdown,
}

/// Flush the write buffer once it holds this much, even if more is queued.
const WRITE_BATCH: usize = 256 * 1024;
/// Commit (store + ack) at least every this many producer messages.
const COMMIT_BATCH: usize = 2048;
/// Pushes queued per consumer before the push loop waits for its socket.
const CONSUMER_QUEUE: usize = 1024;

pub async fn run(st: Arc<State>, sock: Sock, leftover: Vec<u8>, kind: Kind, topic: String, id: String, ip: String) {
    let (mut r, mut w) = sock.into_split();
    let mut rd = FrameReader::new(leftover);
    if st.cfg.silent {
        // A server that says nothing: take whatever comes, answer nothing.
        let mut b = vec![0u8; 16 * 1024];
        while let Ok(n) = r.read(&mut b).await {
            if n == 0 {
                break;
            }
        }
        return;
    }
    if !handshake(&st, &mut rd, &mut r, &mut w).await {
        return;
    }
    let info = ClientInfo { id, topic: Arc::from(topic), ip, join: now_s() };
    match kind {
        Kind::Producer => producer(st, rd, r, w, info).await,
        Kind::Consumer => consumer(st, rd, r, w, info).await,
    }
}

async fn handshake(st: &State, rd: &mut FrameReader, r: &mut ReadHalf, w: &mut WriteHalf) -> bool {
    let prompt = frame(OP_TEXT, b"Please enter the secret key");
    loop {
        if send(w, &prompt).await.is_err() {
            return false;
        }
        let key: Vec<u8> = loop {
            let out = match rd.next() {
                Ok(Some(Ev::Data(p))) => break p.to_vec(),
                Ok(Some(Ev::Ping(p))) => frame(OP_PONG, p),
                Ok(Some(Ev::Pong)) => continue,
                Ok(Some(Ev::Close(p))) => {
                    let _ = send(w, &frame(OP_CLOSE, &close_echo(p))).await;
                    return false;
                }
                Err(e) => {
                    let _ = send(w, &frame(OP_CLOSE, &close_payload(e.0, e.1))).await;
                    return false;
                }
                Ok(None) => match rd.fill(r).await {
                    Ok(0) | Err(_) => return false,
                    Ok(_) => continue,
                },
            };
            if send(w, &out).await.is_err() {
                return false;
            }
        };
        if key == st.cfg.secret_key.as_bytes() {
            // The caller registers the client, then sends `succeeded` (see `succeed`).
            return true;
        }
        if send(w, &frame(OP_TEXT, b"Secret key matching error")).await.is_err() {
            return false;
        }
    }
}

async fn succeed(w: &mut WriteHalf) -> bool {
    send(w, &frame(OP_TEXT, b"Secret key matching succeeded")).await.is_ok()
}

// ---------------------------------------------------------------- producer

enum End {
    /// drop the TCP connection without a close frame (bad frame, --drop-after)
    Drop,
    /// answer a close frame, then close
    Close(Vec<u8>),
    /// the peer finished sending: flush what is queued, then close
    Eof,
    /// the socket failed
    Reset,
}

async fn commit(st: &State, topic: &Arc<str>, batch: &mut Vec<(String, i64)>, tx: &mpsc::Sender<Out>) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len();
    let items = st.store.insert(topic, std::mem::take(batch), now_ms());
    let _ = st.push_tx.send(items);
    if !st.cfg.stall_acks {
        let _ = tx.send(Out::Acks(n as u32, Instant::now())).await;
    }
}

async fn producer(st: Arc<State>, mut rd: FrameReader, mut r: ReadHalf, mut w: WriteHalf, info: ClientInfo) {
    let topic = info.topic.clone();
    let uid = st.clients.add_producer(info);
    if !succeed(&mut w).await {
        st.clients.remove_producer(uid);
        return;
    }
    let (tx, rx) = mpsc::channel::<Out>(1024);
    let writer = tokio::spawn(producer_writer(w, rx, Duration::from_millis(st.cfg.ack_delay_ms)));
    let drop_after = st.cfg.drop_after;
    let mut batch: Vec<(String, i64)> = Vec::new();
    let mut received: u64 = 0;
    let end = 'outer: loop {
        loop {
            match rd.next() {
                Ok(None) => break,
                Ok(Some(Ev::Data(p))) => {
                    received += 1;
                    if drop_after.is_some_and(|n| received >= n) {
                        break 'outer End::Drop;
                    }
                    match parse_send(p) {
                        Some(m) => batch.push(m),
                        None => break 'outer End::Drop,
                    }
                    if batch.len() >= COMMIT_BATCH {
                        commit(&st, &topic, &mut batch, &tx).await;
                    }
                }
                Ok(Some(Ev::Ping(p))) => {
                    let p = p.to_vec();
                    commit(&st, &topic, &mut batch, &tx).await;
                    let _ = tx.send(Out::Pong(p)).await;
                }
                Ok(Some(Ev::Pong)) => {}
                Ok(Some(Ev::Close(p))) => break 'outer End::Close(close_echo(p)),
                Err(e) => break 'outer End::Close(close_payload(e.0, e.1)),
            }
        }
        commit(&st, &topic, &mut batch, &tx).await;
        match rd.fill(&mut r).await {
            Ok(0) => break End::Eof,
            Ok(_) => {}
            Err(_) => break End::Reset,
        }
    };
    // Whatever arrived before the end is stored and acked, in order.
    commit(&st, &topic, &mut batch, &tx).await;
    st.clients.remove_producer(uid);
    match end {
        End::Drop | End::Eof => {
            let _ = tx.send(Out::Shutdown).await;
        }
        End::Close(p) => {
            let _ = tx.send(Out::Close(p)).await;
            let _ = tx.send(Out::Shutdown).await;
        }
        End::Reset => writer.abort(),
    }
}

async fn producer_writer(mut w: WriteHalf, mut rx: mpsc::Receiver<Out>, delay: Duration) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let mut stop = false;
        while let Some(o) = next.take() {
            match o {
                Out::Acks(n, at) => {
                    if !delay.is_zero() {
                        let due = at + delay;
                        if Instant::now() < due {
                            if drain(&mut w, &mut buf).await.is_err() {
                                return;
                            }
                            tokio::time::sleep_until(due).await;
                        }
                    }
                    for _ in 0..n {
                        buf.extend_from_slice(b"\x81\x02ok");
                    }
                }
                Out::Pong(p) => push_frame(&mut buf, OP_PONG, &p),
                Out::Close(p) => push_frame(&mut buf, OP_CLOSE, &p),
                Out::Shutdown => {
                    stop = true;
                    break;
                }
            }
            if buf.len() >= WRITE_BATCH {
                break;
            }
            next = rx.try_recv().ok();
        }
        if drain(&mut w, &mut buf).await.is_err() || stop {
            return;
        }
    }
}

// ---------------------------------------------------------------- consumer

async fn consumer(st: Arc<State>, mut rd: FrameReader, mut r: ReadHalf, mut w: WriteHalf, info: ClientInfo) {
    let (dtx, drx) = mpsc::channel::<PushItem>(CONSUMER_QUEUE);
    let (ctx, crx) = mpsc::unbounded_channel::<Out>();
    // Registered before the client hears `succeeded`, so that nothing produced after that
    // misses it (pushes wait in the channel until the writer starts).
    let key = info.clone();
    st.clients.add_consumer(info, dtx);
    if !succeed(&mut w).await {
        st.clients.remove_consumer_key(&key);
        return;
    }
    let writer = tokio::spawn(consumer_writer(w, drx, crx, st.cfg.garbage_push_every));
    let mut codes: Vec<u128> = Vec::new();
    let close = 'outer: loop {
        loop {
            match rd.next() {
                Ok(None) => break,
                Ok(Some(Ev::Data(p))) => {
                    if let Some(c) = parse_code(p) {
                        codes.push(c);
                    }
                }
                Ok(Some(Ev::Ping(p))) => {
                    let _ = ctx.send(Out::Pong(p.to_vec()));
                }
                Ok(Some(Ev::Pong)) => {}
                Ok(Some(Ev::Close(p))) => break 'outer Some(close_echo(p)),
                Err(e) => break 'outer Some(close_payload(e.0, e.1)),
            }
        }
        if !codes.is_empty() {
            st.store.consume(&codes, now_s());
            codes.clear();
        }
        match rd.fill(&mut r).await {
            Ok(n) if n > 0 => {}
            _ => break None,
        }
    };
    if !codes.is_empty() {
        st.store.consume(&codes, now_s());
    }
    st.clients.remove_consumer_key(&key);
    match close {
        Some(p) => {
            let _ = ctx.send(Out::Close(p));
            let _ = ctx.send(Out::Shutdown);
        }
        None => writer.abort(),
    }
}

fn encode_push(buf: &mut Vec<u8>, scratch: &mut Vec<u8>, it: &PushItem) {
    scratch.clear();
    write_message(
        scratch,
        &MsgView {
            code: it.code,
            data: &it.data,
            topic: &it.topic,
            create: it.create,
            consumed: it.consumed,
            delay: it.delay,
            status: it.status,
        },
    );
    // json.Encoder ends every value with a newline.
    scratch.push(b'\n');
    push_message(buf, OP_TEXT, scratch);
}

async fn consumer_writer(
    mut w: WriteHalf,
    mut drx: mpsc::Receiver<PushItem>,
    mut crx: mpsc::UnboundedReceiver<Out>,
    garbage_every: u64,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut scratch: Vec<u8> = Vec::with_capacity(1024);
    let mut pushed: u64 = 0;
    let mut push = |buf: &mut Vec<u8>, scratch: &mut Vec<u8>, it: &PushItem| {
        pushed += 1;
        if garbage_every > 0 && pushed % garbage_every == 0 {
            push_frame(buf, OP_TEXT, b"garbage");
        }
        encode_push(buf, scratch, it);
    };
    // Returns true when the writer must stop after flushing.
    let ctrl = |buf: &mut Vec<u8>, o: Option<Out>| -> bool {
        match o {
            Some(Out::Pong(p)) => push_frame(buf, OP_PONG, &p),
            Some(Out::Close(p)) => push_frame(buf, OP_CLOSE, &p),
            Some(Out::Acks(..)) => {}
            Some(Out::Shutdown) | None => return true,
        }
        false
    };
    loop {
        let mut stop = tokio::select! {
            biased;
            c = crx.recv() => ctrl(&mut buf, c),
            d = drx.recv() => match d {
                Some(it) => { push(&mut buf, &mut scratch, &it); false }
                None => true,
            },
        };
        while !stop && buf.len() < WRITE_BATCH {
            if let Ok(c) = crx.try_recv() {
                stop = ctrl(&mut buf, Some(c));
                continue;
            }
            match drx.try_recv() {
                Ok(it) => push(&mut buf, &mut scratch, &it),
                Err(_) => break,
            }
        }
        if drain(&mut w, &mut buf).await.is_err() || stop {
            return;
        }
    }
}

/// Writes out what `buf` holds, if anything, and empties it.
async fn drain<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, buf: &mut Vec<u8>) -> std::io::Result<()> {
    if !buf.is_empty() {
        send(w, buf).await?;
        buf.clear();
    }
    Ok(())
}
