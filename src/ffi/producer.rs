//! `kmq_producer`: the C face of [`crate::Producer`].

use super::config::kmq_config;
use super::{free_handle, bytes_arg, call, call_value, handle, non_null, put, kmq_status, Tagged};
use crate::error::Result;
use crate::producer::{Producer, ProducerStats};
use crate::runtime;
use std::ffi::c_char;
use std::sync::Arc;

/// A producer (opaque). Safe to use from several threads at once.
///
/// The C header declares it opaque (see cbindgen.toml); the tag comes
/// first so that it can be read before the type is known.
/// cbindgen:ignore
#[repr(C)]
pub struct kmq_producer {
    tag: u64,
    fork_generation: u64,
    /// Shared with every call in progress, so that `kmq_producer_free` under
    /// a call blocked in another thread frees nothing that call still uses:
    /// the last of them to return drops the producer.
    inner: Arc<Producer>,
}

impl Tagged for kmq_producer {
    const TAG: u64 = 0x6b6d_7170_726f_6475;
    const NAME: &'static str = "kmq_producer";
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

/// The outcome of one message sent with `kmq_send_tracked`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kmq_delivery_report {
    /// The id `kmq_send_tracked` returned for the message.
    pub id: u64,
    /// `KMQ_OK` when the server confirmed it; otherwise why it failed.
    pub status: kmq_status,
}

/// The producer behind a handle, shared for the duration of one call.
unsafe fn producer(p: *const kmq_producer) -> Result<Arc<Producer>> {
    let p = handle(p, "producer")?;
    runtime::check_same_process(p.fork_generation, "the producer")?;
    Ok(p.inner.clone())
}

unsafe fn new_producer(
    cfg: *const kmq_config,
    out: *mut *mut kmq_producer,
    connect: fn(&crate::Config) -> Result<Producer>,
) -> Result<()> {
    non_null(out, "out")?;
    put(out, std::ptr::null_mut());
    let inner = connect(&handle(cfg, "cfg")?.inner)?;
    let p = kmq_producer { tag: kmq_producer::TAG, fork_generation: runtime::fork_generation(), inner: Arc::new(inner) };
    put(out, Box::into_raw(Box::new(p)));
    Ok(())
}

/// Connects a producer to the node named by `cfg` (`mq_addr`, `mq_port`,
/// `mq_protocol`, `topic`, `producer_id`, `secret_key`) and completes the
/// handshake before it returns. The config is copied.
///
/// Errors: `KMQ_ERR_INVALID_ARGUMENT` (NULL, missing topic or producer_id),
/// `KMQ_ERR_AUTH` (key rejected), `KMQ_ERR_CONNECT` (unreachable, or no
/// handshake within `connect_timeout_ms`). On failure `*out` is NULL.
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
    call("kmq_send_tracked", || {
        non_null(id, "id")?;
        put(id, 0);
        let p = producer(p)?;
        put(id, p.send_tracked(bytes_arg(data, len, "data")?, delay_s)?);
        Ok(())
    })
}

/// Takes up to `capacity` delivery reports of tracked messages into
/// `reports`, waiting up to `timeout_ms` (-1: no limit, 0: no wait) for the
/// first, and writes how many to `*count`. `KMQ_ERR_TIMEOUT` when none came;
/// `KMQ_ERR_CLOSED` once the producer is closed and all reports are taken.
/// Blocks the calling thread only.
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
            let status = match &r.result {
                Ok(()) => kmq_status::KMQ_OK,
                Err(e) => e.kind().into(),
            };
            put(reports.add(i), kmq_delivery_report { id: r.id, status });
        }
        put(count, got.len());
        Ok(())
    })
}

/// Sends one message and returns `KMQ_OK` only once the server confirmed it.
/// `KMQ_ERR_TIMEOUT` if not within `timeout_ms` (-1: no limit, 0: no wait);
/// the message then stays queued and may still be delivered.
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
/// # Safety
/// `p` must be NULL or a live producer.
#[no_mangle]
pub unsafe extern "C" fn kmq_flush(p: *mut kmq_producer, timeout_ms: i64) -> kmq_status {
    call("kmq_flush", || producer(p)?.flush(timeout_ms))
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

/// Writes the producer's counters as a JSON object to `*json` (free it with
/// `kmq_string_free`), e.g. `{"enqueued":10,"confirmed":9,...}`.
///
/// # Safety
/// `p` must be NULL or a live producer; `json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_stats_json(p: *const kmq_producer, json: *mut *mut c_char) -> kmq_status {
    call("kmq_producer_stats_json", || {
        non_null(json, "json")?;
        put(json, std::ptr::null_mut());
        put(json, super::owned_c_string(producer(p)?.stats().to_json()));
        Ok(())
    })
}

/// Closes the connection. Messages not yet confirmed fail with
/// `KMQ_ERR_CLOSED`; every call blocked on the producer in any thread
/// returns `KMQ_ERR_CLOSED`, and so do later calls. The handle stays valid
/// until `kmq_producer_free`. Closing twice, or NULL, does nothing.
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
/// # Safety
/// `p` must be NULL or a producer not yet freed. A call blocked on it in
/// another thread returns `KMQ_ERR_CLOSED` and touches no freed memory;
/// starting a call on it after this one returned is the caller's bug.
#[no_mangle]
pub unsafe extern "C" fn kmq_producer_free(p: *mut kmq_producer) {
    call_value("kmq_producer_free", (), || {
        free_handle(p, |h| h.fork_generation == runtime::fork_generation(), |h| h.inner.close());
        Ok(())
    })
}
