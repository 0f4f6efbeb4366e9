//! `kmq_consumer` and `kmq_message`: the C face of [`crate::Consumer`].

use super::config::kmq_config;
use super::{call, call_value, handle, kmq_status, non_null, put, str_arg, Client, ClientKind, Tagged};
use crate::consumer::{Consumer, ConsumerStats, Message};
use crate::error::Result;
use std::ffi::{c_char, CString};
use std::sync::Arc;

/// A consumer (opaque). Safe to use from several threads at once.
///
/// The C header declares it opaque (see cbindgen.toml).
/// cbindgen:ignore
pub type kmq_consumer = Client<Consumer>;

impl ClientKind for Consumer {
    const TAG: u64 = 0x6b6d_7163_6f6e_7375;
    const TYPE: &'static str = "kmq_consumer";
    const ARG: &'static str = "consumer";
    fn close(&self) {
        Consumer::close(self)
    }
}

/// One received message (opaque), owned by the caller until
/// `kmq_message_free`. Its strings are NUL-terminated and live as long as it.
///
/// The C header declares it opaque (see cbindgen.toml).
/// cbindgen:ignore
#[repr(C)]
pub struct kmq_message {
    tag: u64,
    code: CString,
    /// The payload followed by one NUL that `len` does not count.
    data: Vec<u8>,
    topic: CString,
    create_time: i64,
    consumed_time: i64,
    delay_time: i64,
    status: i32,
}

impl Tagged for kmq_message {
    const TAG: u64 = 0x6b6d_716d_6573_7367;
    const NAME: &'static str = "kmq_message";
}

fn c_string(s: String) -> CString {
    // Codes are checked to hold no NUL; a topic with one is cut there.
    CString::new(s).unwrap_or_else(|e| {
        let end = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(end);
        CString::new(bytes).unwrap_or_default()
    })
}

impl From<Message> for kmq_message {
    fn from(m: Message) -> Self {
        let mut data = m.data.into_bytes();
        data.push(0);
        kmq_message {
            tag: kmq_message::TAG,
            code: c_string(m.code),
            data,
            topic: c_string(m.topic),
            create_time: m.create_time,
            consumed_time: m.consumed_time,
            delay_time: m.delay_time,
            status: m.status,
        }
    }
}

/// Counters of one consumer.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct kmq_consumer_stats {
    /// Messages pushed by the server and buffered.
    pub received: u64,
    /// Acks handed to `kmq_ack`.
    pub acked: u64,
    /// Connections opened again after the first.
    pub reconnects: u64,
    /// Frames from the server that were not a message, skipped.
    pub bad_frames: u64,
    /// Received, not yet taken by `kmq_receive`.
    pub buffered: u64,
}

impl From<ConsumerStats> for kmq_consumer_stats {
    fn from(s: ConsumerStats) -> Self {
        kmq_consumer_stats {
            received: s.received,
            acked: s.acked,
            reconnects: s.reconnects,
            bad_frames: s.bad_frames,
            buffered: s.buffered,
        }
    }
}

/// The consumer behind a handle, shared for the duration of one call.
pub(super) unsafe fn consumer(c: *const kmq_consumer) -> Result<Arc<Consumer>> {
    Client::get(c)
}

unsafe fn new_consumer(
    cfg: *const kmq_config,
    out: *mut *mut kmq_consumer,
    connect: fn(&crate::Config) -> Result<Consumer>,
) -> Result<()> {
    Client::hand_out(out, || connect(&handle(cfg, "cfg")?.inner))
}

/// Connects a consumer to the node named by `cfg` (`mq_addr`, `mq_port`,
/// `mq_protocol`, `topic`, `consumer_id`, `secret_key`) and completes the
/// handshake before it returns. The config is copied. The consumer
/// reconnects by itself after a dropped connection. With `standby_addr`
/// (and `standby_port`) set it also stays connected to that standby node,
/// which pushes the remaining messages once its master is gone.
///
/// Errors: `KMQ_ERR_INVALID_ARGUMENT`, `KMQ_ERR_AUTH`, `KMQ_ERR_CONNECT`.
/// On failure `*out` is NULL.
///
/// Blocks: up to connect_timeout_ms (default 5000) while it connects.
///
/// # Safety
/// `cfg` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_new(cfg: *const kmq_config, out: *mut *mut kmq_consumer) -> kmq_status {
    call("kmq_consumer_new", || new_consumer(cfg, out, Consumer::connect))
}

/// Asks the Serena registry (`registry_*` keys) for the live MQ nodes,
/// connects to every one (a message lives on the node it was sent to) and
/// follows the registry's list. `kmq_receive` serves all nodes; `kmq_ack`
/// sends each ack to the node its message came from.
///
/// Errors: `KMQ_ERR_INVALID_ARGUMENT`, `KMQ_ERR_NO_NODES`, `KMQ_ERR_AUTH`,
/// `KMQ_ERR_CONNECT`. On failure `*out` is NULL.
///
/// Blocks: up to twice connect_timeout_ms: once asking the registry, once
/// connecting to the nodes (in parallel).
///
/// # Safety
/// `cfg` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_cluster_consumer_new(cfg: *const kmq_config, out: *mut *mut kmq_consumer) -> kmq_status {
    call("kmq_cluster_consumer_new", || new_consumer(cfg, out, Consumer::connect_cluster))
}

/// Hands over the next pushed message in `*out` (free it with
/// `kmq_message_free`). Waits up to `timeout_ms` (-1: no limit, 0: no
/// wait); `KMQ_ERR_TIMEOUT` with `*out` NULL when none came.
/// `KMQ_ERR_CLOSED` once the consumer is closed, also for a call blocked
/// here when another thread closes it.
///
/// Blocks: up to timeout_ms (-1: until a message comes or the consumer
/// closes; 0: never). An event loop waits on kmq_consumer_fd instead.
///
/// # Safety
/// `c` must be NULL or a live consumer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_receive(c: *mut kmq_consumer, timeout_ms: i64, out: *mut *mut kmq_message) -> kmq_status {
    call("kmq_receive", || {
        non_null(out, "out")?;
        put(out, std::ptr::null_mut());
        let m = consumer(c)?.receive(timeout_ms)?;
        put(out, Box::into_raw(Box::new(kmq_message::from(m))));
        Ok(())
    })
}

/// Hands over up to `capacity` pushed messages at once, in order, into
/// `out[0..*count]` (free each with `kmq_message_free`): waits up to
/// `timeout_ms` for the first, as kmq_receive does, then takes the ones
/// already buffered behind it. A loop over many messages pays one call per
/// batch. `KMQ_ERR_TIMEOUT` with `*count` 0 when none came;
/// `KMQ_ERR_CLOSED` once the consumer is closed. `capacity` 0 is
/// `KMQ_ERR_INVALID_ARGUMENT`.
///
/// Blocks: up to timeout_ms, as kmq_receive.
///
/// # Safety
/// `c` must be NULL or a live consumer; `out` NULL or room for `capacity`
/// pointers; `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_receive_many(
    c: *mut kmq_consumer,
    timeout_ms: i64,
    out: *mut *mut kmq_message,
    capacity: usize,
    count: *mut usize,
) -> kmq_status {
    call("kmq_receive_many", || {
        non_null(count, "count")?;
        put(count, 0);
        non_null(out, "out")?;
        let batch = consumer(c)?.receive_many(capacity, timeout_ms)?;
        for (i, m) in batch.into_iter().enumerate() {
            put(out.add(i), Box::into_raw(Box::new(kmq_message::from(m))));
            put(count, i + 1);
        }
        Ok(())
    })
}

/// Where the messages of a drained consumer ended (see kmq_consumer_drain).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct kmq_drain_report {
    /// Messages kmq_receive handed out during the drain.
    pub handed_out: u64,
    /// Acks given during the drain, for messages handed out at any time.
    pub acked: u64,
    /// Messages handed out and never acked: the node pushes them again
    /// after its pushRetryTime.
    pub unacked: u64,
    /// Messages received and never handed out (still buffered when the
    /// time ran out, or pushed after the drain began): pushed again too.
    pub unread: u64,
}

impl From<crate::consumer::DrainReport> for kmq_drain_report {
    fn from(r: crate::consumer::DrainReport) -> Self {
        kmq_drain_report { handed_out: r.handed_out, acked: r.acked, unacked: r.unacked, unread: r.unread }
    }
}

/// Drains the consumer, then closes it: it stops taking pushes (those that
/// arrive are dropped unread), waits until other threads have taken every
/// buffered message with kmq_receive and acked every message handed out,
/// or until `timeout_ms` runs out, and closes (writing the acks given).
/// `*report` says where the messages ended. Call it from a thread of its
/// own while the receiving threads go on until KMQ_ERR_CLOSED.
/// `KMQ_ERR_CLOSED` when the consumer was closed or drained before.
///
/// Blocks: up to timeout_ms (-1: until drained), then up to 1 s to close.
///
/// # Safety
/// `c` must be NULL or a live consumer; `report` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_drain(
    c: *mut kmq_consumer,
    timeout_ms: i64,
    report: *mut kmq_drain_report,
) -> kmq_status {
    call("kmq_consumer_drain", || {
        non_null(report, "report")?;
        put(report, kmq_drain_report::default());
        put(report, consumer(c)?.drain(timeout_ms)?.into());
        Ok(())
    })
}

/// Tells the server the message with `message_code` was handled. May be
/// called from any thread, at any time, in any order; queues the ack and
/// does not wait for the network. An unknown code is ignored by the server.
///
/// Never blocks.
///
/// # Safety
/// `c` must be NULL or a live consumer; `message_code` NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn kmq_ack(c: *mut kmq_consumer, message_code: *const c_char) -> kmq_status {
    call("kmq_ack", || {
        let c = consumer(c)?;
        c.ack(str_arg(message_code, "message_code")?)
    })
}

/// Copies the consumer's counters into `*out`.
///
/// # Safety
/// `c` must be NULL or a live consumer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_get_stats(c: *const kmq_consumer, out: *mut kmq_consumer_stats) -> kmq_status {
    call("kmq_consumer_get_stats", || {
        non_null(out, "out")?;
        put(out, consumer(c)?.stats().into());
        Ok(())
    })
}

/// Closes the connection (acks already given are still written, briefly)
/// and wakes every call blocked on the consumer with `KMQ_ERR_CLOSED`;
/// later calls fail the same way. The handle stays valid until
/// `kmq_consumer_free`. Closing twice, or NULL, does nothing.
///
/// Blocks: up to 1 s, while the connections write the acks given before it
/// (not at all when called on a library thread, such as from a log callback).
///
/// # Safety
/// `c` must be NULL or a live consumer.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_close(c: *mut kmq_consumer) {
    call_value("kmq_consumer_close", (), || {
        if let Ok(c) = consumer(c) {
            c.close();
        }
        Ok(())
    })
}

/// Closes (if needed) and frees the consumer. NULL does nothing. In a child
/// process after fork() it frees nothing (the parent owns it).
///
/// Blocks: up to 1 s, as kmq_consumer_close.
///
/// # Safety
/// `c` must be NULL or a consumer not yet freed. A call blocked on it in
/// another thread returns `KMQ_ERR_CLOSED` and touches no freed memory;
/// starting a call on it after this one returned is the caller's bug.
#[no_mangle]
pub unsafe extern "C" fn kmq_consumer_free(c: *mut kmq_consumer) {
    call_value("kmq_consumer_free", (), || {
        Client::free(c);
        Ok(())
    })
}

unsafe fn message<'a>(m: *const kmq_message) -> Result<&'a kmq_message> {
    handle(m, "message")
}

/// The message's code: 32 hex digits, NUL-terminated; pass it to `kmq_ack`.
/// NULL when `m` is NULL.
///
/// # Safety
/// `m` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_code(m: *const kmq_message) -> *const c_char {
    call_value("kmq_message_code", std::ptr::null(), || Ok(message(m)?.code.as_ptr()))
}

/// The payload; its length goes to `*len` (when `len` is not NULL). The
/// bytes are followed by a NUL not counted in `*len`; they may contain NUL.
/// NULL (and `*len` 0) when `m` is NULL.
///
/// # Safety
/// `m` must be NULL or a live message; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_data(m: *const kmq_message, len: *mut usize) -> *const c_char {
    call_value("kmq_message_data", std::ptr::null(), || {
        if !len.is_null() {
            put(len, 0);
        }
        let m = message(m)?;
        if !len.is_null() {
            put(len, m.data.len() - 1);
        }
        Ok(m.data.as_ptr().cast())
    })
}

/// Every field of a message at once (see kmq_message_get_info); its
/// pointers live as long as the message.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kmq_message_info {
    /// As kmq_message_code.
    pub code: *const c_char,
    /// As kmq_message_data; `len` bytes, followed by a NUL not counted.
    pub data: *const c_char,
    pub len: usize,
    /// As kmq_message_topic.
    pub topic: *const c_char,
    pub create_time: i64,
    pub consumed_time: i64,
    pub delay_time: i64,
    pub status: i32,
}

/// Writes every field of `m` to `*out` in one call, for bindings to which
/// each call costs (the one-field functions give the same values).
///
/// Never blocks.
///
/// # Safety
/// `m` must be NULL or a live message; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_get_info(m: *const kmq_message, out: *mut kmq_message_info) -> kmq_status {
    call("kmq_message_get_info", || {
        non_null(out, "out")?;
        let m = message(m)?;
        put(
            out,
            kmq_message_info {
                code: m.code.as_ptr(),
                data: m.data.as_ptr().cast(),
                len: m.data.len() - 1,
                topic: m.topic.as_ptr(),
                create_time: m.create_time,
                consumed_time: m.consumed_time,
                delay_time: m.delay_time,
                status: m.status,
            },
        );
        Ok(())
    })
}

/// The topic the message was sent to, NUL-terminated. NULL when `m` is NULL.
///
/// # Safety
/// `m` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_topic(m: *const kmq_message) -> *const c_char {
    call_value("kmq_message_topic", std::ptr::null(), || Ok(message(m)?.topic.as_ptr()))
}

/// When the server stored the message, in Unix seconds (0 for NULL).
///
/// # Safety
/// `m` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_create_time(m: *const kmq_message) -> i64 {
    call_value("kmq_message_create_time", 0, || Ok(message(m)?.create_time))
}

/// When the message was consumed, in Unix seconds; 0 when not yet.
///
/// # Safety
/// `m` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_consumed_time(m: *const kmq_message) -> i64 {
    call_value("kmq_message_consumed_time", 0, || Ok(message(m)?.consumed_time))
}

/// The message's delay in seconds; a redelivered message carries the time
/// elapsed since it was created (0 for NULL).
///
/// # Safety
/// `m` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_delay_time(m: *const kmq_message) -> i64 {
    call_value("kmq_message_delay_time", 0, || Ok(message(m)?.delay_time))
}

/// What kmq_message_status returns for NULL (or a pointer that is not a
/// message): no status the server uses, so it cannot pass for one.
pub const KMQ_MESSAGE_STATUS_NONE: i32 = i32::MIN;

/// The server's status of the message: -1 waiting, 0 delayed, 1 consumed.
/// KMQ_MESSAGE_STATUS_NONE (INT32_MIN) when m is NULL or not a message,
/// with kmq_last_error saying which.
///
/// # Safety
/// `m` must be NULL or a live message.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_status(m: *const kmq_message) -> i32 {
    call_value("kmq_message_status", KMQ_MESSAGE_STATUS_NONE, || Ok(message(m)?.status))
}

/// Frees a message and its strings. NULL does nothing.
///
/// # Safety
/// `m` must be NULL or a message not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kmq_message_free(m: *mut kmq_message) {
    call_value("kmq_message_free", (), || {
        if message(m).is_ok() {
            (*m).tag = 0;
            drop(Box::from_raw(m));
        }
        Ok(())
    })
}
