//! The C event callback: connection events of every client, on the log
//! thread.

use super::call_value;
use super::log::UserData;
use crate::events::{Event, EventKind};
use crate::log;
use std::ffi::{c_char, c_void, CString};

/// What happened to a connection (see kmq_event).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kmq_event_kind {
    /// A connection to `node` opened (the first, or again after a loss).
    KMQ_EVENT_CONNECTED = 1,
    /// The connection to `node` ended; `reason` says why.
    KMQ_EVENT_DISCONNECTED = 2,
    /// The client waits `delay_ms` before its `attempt`-th try to connect
    /// to `node` again.
    KMQ_EVENT_RECONNECTING = 3,
    /// A cluster client took up `node`, newly listed by the registry.
    KMQ_EVENT_NODE_ADDED = 4,
    /// `node` left the registry's list: the cluster client lets it go.
    KMQ_EVENT_NODE_REMOVED = 5,
}

/// One connection event. The strings are NUL-terminated UTF-8, valid
/// during the callback only (copy what you keep).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct kmq_event {
    pub kind: kmq_event_kind,
    /// The client's serial number (kmq_producer_serial, kmq_consumer_serial).
    pub client: u64,
    /// "producer" or "consumer".
    pub role: *const c_char,
    pub topic: *const c_char,
    /// The client's producer_id or consumer_id.
    pub client_id: *const c_char,
    /// The node, as "host:port".
    pub node: *const c_char,
    /// Why the connection ended or the node left; "" for other kinds.
    pub reason: *const c_char,
    /// KMQ_EVENT_RECONNECTING: the attempt about to be made, from 1.
    pub attempt: u32,
    /// KMQ_EVENT_RECONNECTING: how long the client waits before it, ms.
    pub delay_ms: u64,
}

/// Receives one event and the `user_data` given to kmq_set_event_callback.
pub type kmq_event_fn = Option<unsafe extern "C" fn(event: *const kmq_event, user_data: *mut c_void)>;

fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// Hands `event` to `cb` as a kmq_event.
fn call_back(cb: unsafe extern "C" fn(*const kmq_event, *mut c_void), event: &Event, data: &UserData) {
    let kind = match event.kind {
        EventKind::Connected => kmq_event_kind::KMQ_EVENT_CONNECTED,
        EventKind::Disconnected => kmq_event_kind::KMQ_EVENT_DISCONNECTED,
        EventKind::Reconnecting => kmq_event_kind::KMQ_EVENT_RECONNECTING,
        EventKind::NodeAdded => kmq_event_kind::KMQ_EVENT_NODE_ADDED,
        EventKind::NodeRemoved => kmq_event_kind::KMQ_EVENT_NODE_REMOVED,
    };
    let texts = [event.role, &event.topic, &event.client_id, &event.node, &event.reason].map(c_text);
    let out = kmq_event {
        kind,
        client: event.client,
        role: texts[0].as_ptr(),
        topic: texts[1].as_ptr(),
        client_id: texts[2].as_ptr(),
        node: texts[3].as_ptr(),
        reason: texts[4].as_ptr(),
        attempt: event.attempt,
        delay_ms: event.delay_ms,
    };
    // SAFETY: the application gave this function for this use; `out` and
    // its strings live until it returns.
    unsafe { cb(&out, data.0) }
}

/// Installs callback for the connection events of every producer and
/// consumer of the process, replacing any earlier one; NULL stops them
/// (the default). Events of one client come in order; the `client` field
/// says whose they are.
///
/// The callback runs on the library's log thread (kmq-log), in order with
/// the log messages, never on a network thread and never while the
/// library holds a lock: a slow callback delays only later events and log
/// messages. Events share the log's bound of 1024 waiting; past it they
/// are dropped and counted in the next log message. It may call any
/// kapokmq function except kmq_set_event_callback and kmq_set_log_callback.
///
/// Blocks: up to 1 s, while the old callback takes the events queued
/// before this call, and then until a call of it in progress returns.
#[no_mangle]
pub extern "C" fn kmq_set_event_callback(callback: kmq_event_fn, user_data: *mut c_void) {
    call_value("kmq_set_event_callback", (), || {
        let sink: Option<crate::events::EventSink> = callback.map(|cb| {
            let data = UserData(user_data);
            Box::new(move |event: &Event| call_back(cb, event, &data)) as crate::events::EventSink
        });
        log::set_event_sink(sink);
        Ok(())
    })
}
