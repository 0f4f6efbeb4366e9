//! `kmq_producer`: the C face of [`crate::Producer`].

use super::config::kmq_config;
use super::{bytes_arg, call, call_value, handle, kmq_status, non_null, put, Client, ClientKind};
use crate::error::Result;
use crate::producer::{CloseReport, DeliveryReport, Producer, ProducerStats};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A producer (opaque). Safe to use from several threads at once.
///
/// The C header declares it opaque (see cbindgen.toml).
/// cbindgen:ignore
pub type kmq_producer = Client<Producer>;

impl ClientKind for Producer {
    const TAG: u64 = 0x6b6d_7170_726f_6475;
    const TYPE: &'static str = "kmq_producer";
    const ARG: &'static str = "producer";
    fn close(&self) {
        Producer::close(self)
    }
}

/// Counters of one producer, for accounting:
/// `enqueued == confirmed + failed + in_flight`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct kmq_producer_stats {
    /// Messages accepted by send calls.
    pub enqueued: u64,
    /// Messages the server confirmed with "ok".
    pub confirmed: u64,
    /// Messages reported failed (timed out, or the producer closed).
    pub failed: u64,
    /// Messages written again on a new connection after a drop.
    pub resent: u64,
    /// Connections opened again after the first.
    pub reconnects: u64,
    /// Messages neither confirmed nor failed yet.
    pub in_flight: u64,
}

impl From<ProducerStats> for kmq_producer_stats {
    fn from(s: ProducerStats) -> Self {
        kmq_producer_stats {
            enqueued: s.enqueued,
            confirmed: s.confirmed,
            failed: s.failed,
            resent: s.resent,
            reconnects: s.reconnects,
            in_flight: s.in_flight,
        }
    }
}

/// Size of kmq_delivery_report.error, its NUL included.
pub const KMQ_REPORT_ERROR_SIZE: usize = 256;

/// The outcome of one message sent with kmq_send_tracked or
/// kmq_send_tracked_opaque.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kmq_delivery_report {
    /// The id the send call wrote for the message.
    pub id: u64,
    /// KMQ_OK when the server confirmed it; otherwise why it failed.
    pub status: kmq_status,
    /// The opaque pointer given to kmq_send_tracked_opaque (NULL for
    /// kmq_send_tracked), handed back untouched.
    pub opaque: *mut c_void,
    /// Why the message failed, in the library's words ("" when status is
    /// KMQ_OK); NUL-terminated, cut at a character boundary if longer. It
    /// is part of the report, so it stays valid as long as the report does.
    pub error: [c_char; KMQ_REPORT_ERROR_SIZE],
}

impl kmq_delivery_report {
    fn from_report(r: &DeliveryReport) -> Self {
        let mut report = kmq_delivery_report {
            id: r.id,
            status: kmq_status::KMQ_OK,
            opaque: r.opaque as *mut c_void,
            error: [0; KMQ_REPORT_ERROR_SIZE],
        };
        if let Err(e) = &r.result {
            report.status = e.kind().into();
            super::copy_text(&mut report.error, e.message());
        }
        report
    }
}

/// The producer behind a handle, shared for the duration of one call.
pub(super) unsafe fn producer(p: *const kmq_producer) -> Result<Arc<Producer>> {
    Client::get(p)
}

unsafe fn new_producer(
    cfg: *const kmq_config,
    out: *mut *mut kmq_producer,
    connect: fn(&crate::Config) -> Result<Producer>,
) -> Result<()> {
    Client::hand_out(out, || connect(&handle(cfg, "cfg")?.inner))
}

/// Connects a producer to the node named by `cfg` (`mq_addr`, `mq_port`,
/// `mq_protocol`, `topic`, `producer_id`, `secret_key`) and completes the
/// handshake before it returns. The config is copied.
///
/// Errors: `KMQ_ERR_INVALID_ARGUMENT` (NULL, missing topic or producer_id),
/// `KMQ_ERR_AUTH` (key rejected), `KMQ_ERR_CONNECT` (unreachable, or no
/// handshake within `connect_timeout_ms`). On failure `*out` is NULL.
///
/// Blocks: up to connect_timeout_ms (default 5000) while it connects.
///
/// # Safety
/// `cfg` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_new(cfg: *const kmq_config, out: *mut *mut kmq_producer) -> kmq_status {
    call("kmq_producer_new", || new_producer(cfg, out, Producer::connect))
}

/// Asks the Serena registry (`registry_addr`, `registry_port`,
/// `registry_protocol`, `secret_key`) for the live MQ nodes, connects to
/// every one, and follows the registry's list every `check_time` seconds.
/// Each message goes to one connected node; a node whose connection drops
/// gets no more messages, and its unconfirmed ones are sent to the others.
///
/// Errors: `KMQ_ERR_INVALID_ARGUMENT` (NULL, missing keys),
/// `KMQ_ERR_NO_NODES` (the registry lists none), `KMQ_ERR_AUTH` (key
/// rejected by the registry or a node), `KMQ_ERR_CONNECT` (registry or every
/// node unreachable). On failure `*out` is NULL.
///
/// Blocks: up to twice connect_timeout_ms: once asking the registry, once
/// connecting to the nodes (in parallel).
///
/// # Safety
/// `cfg` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_cluster_producer_new(cfg: *const kmq_config, out: *mut *mut kmq_producer) -> kmq_status {
    call("kmq_cluster_producer_new", || new_producer(cfg, out, Producer::connect_cluster))
}

/// Enqueues one message of `len` bytes of UTF-8 (not NUL-terminated; may
/// contain NUL) and returns at once; the server confirms it later.
/// `delay_s` > 0 delays delivery by that many seconds.
///
/// Errors: `KMQ_ERR_INVALID_ARGUMENT` (NULL, empty, over 16 MiB, not UTF-8,
/// delay too large), `KMQ_ERR_QUEUE_FULL` (`queue_max` messages held),
/// `KMQ_ERR_CLOSED`.
///
/// Never blocks: it does not wait for the network or for room in the queue.
///
/// # Safety
/// `p` must be NULL or a live producer; `data` NULL or `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn kmq_send(p: *mut kmq_producer, data: *const c_char, len: usize, delay_s: i64) -> kmq_status {
    call("kmq_send", || {
        let p = producer(p)?;
        p.send(bytes_arg(data, len, "data")?, delay_s)
    })
}

/// Like `kmq_send`, and writes an id for the message to `*id`; its outcome
/// is later handed out by `kmq_poll_reports` under that id.
///
/// Never blocks.
///
/// # Safety
/// As `kmq_send`; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_send_tracked(
    p: *mut kmq_producer,
    data: *const c_char,
    len: usize,
    delay_s: i64,
    id: *mut u64,
) -> kmq_status {
    call("kmq_send_tracked", || send_tracked(p, data, len, delay_s, std::ptr::null_mut(), id))
}

/// Like kmq_send_tracked, and the message's delivery report carries
/// opaque back (kmq_delivery_report.opaque): a pointer of the caller's, for
/// example to the request the message answers. The library never reads or
/// frees it; it must stay valid until the report is taken.
///
/// Never blocks. Errors: as kmq_send; KMQ_ERR_INVALID_ARGUMENT when id
/// is NULL (*id is 0 on failure).
///
/// # Safety
/// As `kmq_send`; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_send_tracked_opaque(
    p: *mut kmq_producer,
    data: *const c_char,
    len: usize,
    delay_s: i64,
    opaque: *mut c_void,
    id: *mut u64,
) -> kmq_status {
    call("kmq_send_tracked_opaque", || send_tracked(p, data, len, delay_s, opaque, id))
}

/// The body of both tracked sends.
///
/// # Safety
/// As `kmq_send_tracked_opaque`.
unsafe fn send_tracked(
    p: *mut kmq_producer,
    data: *const c_char,
    len: usize,
    delay_s: i64,
    opaque: *mut c_void,
    id: *mut u64,
) -> Result<()> {
    with_id_out(p, id, |p| p.send_tracked_with(bytes_arg(data, len, "data")?, delay_s, opaque as usize))
}

/// One message for kmq_send_many: `len` bytes of UTF-8 at `data`, as
/// kmq_send takes them (not NUL-terminated; may contain NUL).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kmq_buf {
    /// The message's bytes; read only during the call that takes them.
    pub data: *const c_char,
    /// How many bytes `data` holds (more than 0).
    pub len: usize,
}

/// Enqueues the `count` messages of `msgs`, in order and with one delay,
/// and returns at once: kmq_send for many messages at the cost of one call
/// (one lock, one wake-up of the connection). The server confirms them
/// later; kmq_flush waits for that. `accepted` (may be NULL) gets how many
/// were enqueued.
///
/// On the first message refused the call stops and returns why: the
/// messages before it stay enqueued (`*accepted` says how many: the index
/// of the refused one), the rest are not sent. kmq_last_error names the
/// index, e.g. "3 of 10 messages enqueued, stopped at msgs[3]: ...".
/// `count` 0 does nothing and returns KMQ_OK.
///
/// Errors: KMQ_ERR_INVALID_ARGUMENT (p NULL, msgs NULL with count > 0, a
/// message NULL, empty, over 16 MiB or not UTF-8, delay too large),
/// KMQ_ERR_QUEUE_FULL (queue_max messages held), KMQ_ERR_CLOSED.
///
/// Never blocks: it does not wait for the network or for room in the queue.
///
/// # Safety
/// `p` must be NULL or a live producer; `msgs` NULL or `count` readable
/// entries, each with `data` NULL or `len` readable bytes; `accepted` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_send_many(
    p: *mut kmq_producer,
    msgs: *const kmq_buf,
    count: usize,
    delay_s: i64,
    accepted: *mut usize,
) -> kmq_status {
    call("kmq_send_many", || send_many(p, msgs, count, delay_s, accepted, None))
}

/// Like kmq_send_many, with a delivery report for each message enqueued:
/// kmq_poll_reports hands them out under the ids `*first_id`,
/// `*first_id + 1`, ... `*first_id + *accepted - 1` (msgs[i] has
/// `*first_id + i`), with opaque NULL. On failure the messages enqueued
/// before the refused one are tracked as well: `*accepted` says how many.
///
/// Never blocks. Errors: as kmq_send_many; KMQ_ERR_INVALID_ARGUMENT when
/// first_id is NULL (*first_id is 0 when nothing was enqueued).
///
/// # Safety
/// As `kmq_send_many`; `first_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_send_many_tracked(
    p: *mut kmq_producer,
    msgs: *const kmq_buf,
    count: usize,
    delay_s: i64,
    accepted: *mut usize,
    first_id: *mut u64,
) -> kmq_status {
    call("kmq_send_many_tracked", || send_many(p, msgs, count, delay_s, accepted, Some(first_id)))
}

/// The body of both batch sends; tracked when `first_id` is given.
///
/// # Safety
/// As `kmq_send_many_tracked`.
unsafe fn send_many(
    p: *mut kmq_producer,
    msgs: *const kmq_buf,
    count: usize,
    delay_s: i64,
    accepted: *mut usize,
    first_id: Option<*mut u64>,
) -> Result<()> {
    if !accepted.is_null() {
        put(accepted, 0);
    }
    if let Some(first_id) = first_id {
        non_null(first_id, "first_id")?;
        put(first_id, 0);
    }
    let p = producer(p)?;
    if count == 0 {
        return if p.is_closed() { Err(crate::Error::closed("the producer is closed")) } else { Ok(()) };
    }
    non_null(msgs, "msgs")?;
    if count > isize::MAX as usize / std::mem::size_of::<kmq_buf>() {
        return Err(crate::Error::invalid(format!("count {count} is not a valid number of messages")));
    }
    // SAFETY: non-NULL, `count` readable entries by the caller's
    // contract, and their size fits a slice.
    let bufs = std::slice::from_raw_parts(msgs, count);
    // Borrowed, not copied: the core encodes each into its frame.
    let mut texts = Vec::with_capacity(count);
    let mut bad = None;
    for (i, b) in bufs.iter().enumerate() {
        match message_text(b) {
            Ok(text) => texts.push(text),
            Err(why) => {
                bad = Some((i, why));
                break;
            }
        }
    }
    let (batch, result) = p.send_batch(&texts, delay_s, first_id.is_some());
    if !accepted.is_null() {
        put(accepted, batch.accepted);
    }
    if let Some(first_id) = first_id {
        put(first_id, if batch.accepted > 0 { batch.first_id } else { 0 });
    }
    let why = match (result, bad) {
        (Ok(()), None) => return Ok(()),
        (Err(e), _) => e,
        (Ok(()), Some((_, why))) => why,
    };
    let at = batch.accepted;
    Err(crate::Error::new(
        why.kind(),
        format!("{at} of {count} messages enqueued, stopped at msgs[{at}]: {}", why.message()),
    ))
}

/// The text of one message of a batch, borrowed from the caller's memory.
///
/// # Safety
/// `b.data` must be NULL or point to `b.len` readable bytes that outlive `'a`.
unsafe fn message_text<'a>(b: &kmq_buf) -> Result<&'a str> {
    if b.len == 0 {
        return Err(crate::Error::invalid("message data is empty"));
    }
    // SAFETY: the caller's contract above.
    unsafe { bytes_arg(b.data, b.len, "data") }
}

/// Takes up to `capacity` delivery reports of tracked messages into
/// `reports`, waiting up to `timeout_ms` (-1: no limit, 0: no wait) for the
/// first, and writes how many to `*count`. `KMQ_ERR_TIMEOUT` when none came;
/// `KMQ_ERR_CLOSED` once the producer is closed and all reports are taken
/// (when the library closed it for good, the reason instead: KMQ_ERR_AUTH
/// for a key the node refused on a reconnect).
/// Each report says why its message failed (error) and hands back the
/// caller's pointer (opaque). An event loop waits on kmq_producer_fd and
/// calls this with timeout_ms 0.
///
/// Blocks: up to timeout_ms (-1: until a report comes or the producer
/// closes; 0: never), on the calling thread only.
///
/// # Safety
/// `reports` must be NULL or hold `capacity` entries; `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_poll_reports(
    p: *mut kmq_producer,
    reports: *mut kmq_delivery_report,
    capacity: usize,
    timeout_ms: i64,
    count: *mut usize,
) -> kmq_status {
    call("kmq_poll_reports", || {
        non_null(count, "count")?;
        put(count, 0);
        non_null(reports, "reports")?;
        if capacity == 0 {
            return Err(crate::Error::invalid("capacity is 0"));
        }
        let p = producer(p)?;
        let got = p.poll_reports(capacity, timeout_ms)?;
        for (i, r) in got.iter().enumerate() {
            put(reports.add(i), kmq_delivery_report::from_report(r));
        }
        put(count, got.len());
        Ok(())
    })
}

/// Sends one message and returns `KMQ_OK` only once the server confirmed it.
/// `KMQ_ERR_TIMEOUT` if not within `timeout_ms` (-1: no limit, 0: no wait);
/// the message then stays queued and may still be delivered.
///
/// Blocks: up to timeout_ms (-1: until the message is confirmed or fails,
/// which takes at most message_timeout_ms).
///
/// # Safety
/// As `kmq_send`.
#[no_mangle]
pub unsafe extern "C" fn kmq_send_wait(
    p: *mut kmq_producer,
    data: *const c_char,
    len: usize,
    delay_s: i64,
    timeout_ms: i64,
) -> kmq_status {
    call("kmq_send_wait", || {
        let p = producer(p)?;
        p.send_wait(bytes_arg(data, len, "data")?, delay_s, timeout_ms)
    })
}

/// Waits until every message enqueued before the call is confirmed.
/// `KMQ_ERR_TIMEOUT` if not within `timeout_ms` (-1: no limit, 0: no wait);
/// the status of the last failure if some messages were given up on.
///
/// Blocks: up to timeout_ms (-1: until each of those messages is confirmed
/// or fails, which takes at most message_timeout_ms).
///
/// # Safety
/// `p` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn kmq_flush(p: *mut kmq_producer, timeout_ms: i64) -> kmq_status {
    call("kmq_flush", || producer(p)?.flush(timeout_ms))
}

/// Begins a flush and returns at once, for callers that wait on
/// kmq_producer_fd instead of blocking a thread: `*id` gets an id from the
/// same sequence as the messages' ids. Once every message enqueued before
/// the call is confirmed or failed, or after `timeout_ms` (-1: no limit),
/// kmq_poll_reports hands out a delivery report with that id (opaque NULL)
/// whose status and error text are what kmq_flush would have returned:
/// KMQ_OK, KMQ_ERR_TIMEOUT ("flush: 2 messages still unconfirmed after
/// 500 ms"), or the last failure's status ("flush: 3 messages failed; the
/// last because: ...").
///
/// Errors: KMQ_ERR_INVALID_ARGUMENT (p or id NULL), KMQ_ERR_CLOSED.
///
/// Never blocks.
///
/// # Safety
/// `p` must be NULL or a live producer; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_flush_begin(p: *mut kmq_producer, timeout_ms: i64, id: *mut u64) -> kmq_status {
    call("kmq_flush_begin", || with_id_out(p, id, |p| p.flush_begin(timeout_ms, 0)))
}

/// Begins closing and returns at once: a close that flushes first. From
/// now on sends fail with KMQ_ERR_CLOSED. Once every message is confirmed
/// or failed, or after `timeout_ms` (-1: no limit), the producer closes as
/// kmq_producer_close does (what is still unconfirmed fails with
/// KMQ_ERR_CLOSED), and the flush's outcome comes as the last delivery
/// report, with the id written to `*id`: KMQ_OK, or an error whose text
/// begins "close: ". Then kmq_poll_reports returns KMQ_ERR_CLOSED, and
/// kmq_producer_close_report says what became of the messages.
///
/// Errors: KMQ_ERR_INVALID_ARGUMENT (p or id NULL), KMQ_ERR_CLOSED (closed
/// or closing already; closed for good by the library: its reason, such as
/// KMQ_ERR_AUTH).
///
/// Never blocks.
///
/// # Safety
/// `p` must be NULL or a live producer; `id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_close_begin(p: *mut kmq_producer, timeout_ms: i64, id: *mut u64) -> kmq_status {
    call("kmq_producer_close_begin", || with_id_out(p, id, |p| p.close_begin(timeout_ms, 0)))
}

/// The body of the calls that hand out an id (tracked sends, kmq_flush_begin,
/// kmq_producer_close_begin): `*id` is 0 unless `start` succeeds.
///
/// # Safety
/// `p` must be NULL or a live producer; `id` NULL or writable.
unsafe fn with_id_out(p: *mut kmq_producer, id: *mut u64, start: impl FnOnce(&Producer) -> Result<u64>) -> Result<()> {
    non_null(id, "id")?;
    put(id, 0);
    let p = producer(p)?;
    put(id, start(&p)?);
    Ok(())
}

/// What became of a producer's messages when it closed.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct kmq_close_report {
    /// Messages the server confirmed, over the producer's life.
    pub confirmed: u64,
    /// Messages that failed before the close (they timed out).
    pub failed: u64,
    /// Messages still unconfirmed when it closed: the close failed them
    /// (they may still have reached the server).
    pub in_flight: u64,
}

impl From<CloseReport> for kmq_close_report {
    fn from(r: CloseReport) -> Self {
        kmq_close_report { confirmed: r.confirmed, failed: r.failed, in_flight: r.in_flight }
    }
}

/// Copies into `*out` what became of the messages when the producer
/// closed (by kmq_producer_close, kmq_producer_close_begin, or for good on
/// its own), counted at that moment; while it is open, the figures so far.
///
/// # Safety
/// `p` must be NULL or a live producer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_close_report(p: *const kmq_producer, out: *mut kmq_close_report) -> kmq_status {
    call("kmq_producer_close_report", || {
        non_null(out, "out")?;
        put(out, producer(p)?.close_report().into());
        Ok(())
    })
}

/// Copies the producer's counters into `*out`.
///
/// # Safety
/// `p` must be NULL or a live producer; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_get_stats(p: *const kmq_producer, out: *mut kmq_producer_stats) -> kmq_status {
    call("kmq_producer_get_stats", || {
        non_null(out, "out")?;
        put(out, producer(p)?.stats().into());
        Ok(())
    })
}

/// Closes the connection. Messages not yet confirmed fail with
/// `KMQ_ERR_CLOSED`; every call blocked on the producer in any thread
/// returns `KMQ_ERR_CLOSED`, and so do later calls. The handle stays valid
/// until `kmq_producer_free`. Closing twice, or NULL, does nothing.
///
/// Never blocks: it does not wait for the connections to close.
///
/// # Safety
/// `p` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_close(p: *mut kmq_producer) {
    call_value("kmq_producer_close", (), || {
        if let Ok(p) = producer(p) {
            p.close();
        }
        Ok(())
    })
}

/// Closes (if needed) and frees the producer. It does not wait for
/// unconfirmed messages: call `kmq_flush` first. NULL does nothing. In a
/// child process after fork() it frees nothing (the parent owns it).
///
/// Never blocks.
///
/// # Safety
/// `p` must be NULL or a producer not yet freed. A call blocked on it in
/// another thread returns `KMQ_ERR_CLOSED` and touches no freed memory;
/// starting a call on it after this one returned is the caller's bug.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_free(p: *mut kmq_producer) {
    call_value("kmq_producer_free", (), || {
        Client::free(p);
        Ok(())
    })
}
