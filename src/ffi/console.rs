//! `kmq_console`: the C face of [`crate::console::Console`], the node's HTTP
//! API. Answers come back as JSON strings the caller frees with
//! `kmq_string_free`.

use super::config::kmq_config;
use super::{
    bytes_arg, call, call_value, handle, kmq_status, non_null, owned_c_string, put, str_arg, Client, ClientKind,
};
use crate::console::Console;
use crate::error::Result;
use std::ffi::c_char;
use std::sync::Arc;

/// A client of one MQ node's HTTP API (opaque). Calls block the calling
/// thread for at most `connect_timeout_ms`.
///
/// The C header declares it opaque (see cbindgen.toml).
/// cbindgen:ignore
pub type kmq_console = Client<Console>;

impl ClientKind for Console {
    const TAG: u64 = 0x6b6d_7163_6f6e_736c;
    const TYPE: &'static str = "kmq_console";
    const ARG: &'static str = "console";
    /// A console holds no connection between calls: nothing to close.
    fn close(&self) {}
}

/// The console behind a handle, shared for the duration of one call.
unsafe fn console(c: *const kmq_console) -> Result<Arc<Console>> {
    Client::get(c)
}

/// Runs `f` and hands its JSON answer out through `json`.
unsafe fn json_call(
    what: &str,
    c: *mut kmq_console,
    json: *mut *mut c_char,
    f: impl FnOnce(&Console) -> Result<serde_json::Value>,
) -> kmq_status {
    call(what, || {
        non_null(json, "json")?;
        put(json, std::ptr::null_mut());
        let console = console(c)?;
        let answer = f(&console)?;
        put(json, owned_c_string(answer.to_string()));
        Ok(())
    })
}

/// A client of the HTTP API of the node at `mq_addr:mq_port` (https when
/// `mq_protocol` is `wss`), using `secret_key`. Connects lazily: errors
/// of reach come from the calls. On failure `*out` is NULL.
///
/// Never blocks: it connects lazily.
///
/// # Safety
/// `cfg` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_new(cfg: *const kmq_config, out: *mut *mut kmq_console) -> kmq_status {
    call("kmq_console_new", || Client::hand_out(out, || Console::new(&handle(cfg, "cfg")?.inner)))
}

/// Sends one message over HTTP (`POST /Producer/Send`), for callers that
/// cannot hold a socket; its message code goes to `*code` (free it with
/// `kmq_string_free`). The server answered when this returns `KMQ_OK`.
///
/// Blocks: up to connect_timeout_ms (the time limit of one HTTP request).
///
/// # Safety
/// `c` NULL or a live console; `topic` NULL or a string; `data` NULL or
/// `len` bytes; `code` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_send(
    c: *mut kmq_console,
    topic: *const c_char,
    data: *const c_char,
    len: usize,
    delay_s: i64,
    code: *mut *mut c_char,
) -> kmq_status {
    call("kmq_console_send", || {
        non_null(code, "code")?;
        put(code, std::ptr::null_mut());
        let c = console(c)?;
        let sent = c.send(str_arg(topic, "topic")?, bytes_arg(data, len, "data")?, delay_s)?;
        put(code, owned_c_string(sent));
        Ok(())
    })
}

/// `KMQ_OK` when the node answers its ping.
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` must be NULL or a live console.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_ping(c: *mut kmq_console) -> kmq_status {
    call("kmq_console_ping", || console(c)?.ping())
}

/// The connected clients: `{"consumers":[...],"producers":[...]}`.
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; `json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_clients(c: *mut kmq_console, json: *mut *mut c_char) -> kmq_status {
    json_call("kmq_console_clients", c, json, Console::clients)
}

/// The server's settings as a JSON object.
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; `json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_server_config(c: *mut kmq_console, json: *mut *mut c_char) -> kmq_status {
    json_call("kmq_console_server_config", c, json, Console::server_config)
}

/// Message counts: `{"all":N,"consumed":N,"delay":N,"unconsumed":N}`.
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; `json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_count(c: *mut kmq_console, json: *mut *mut c_char) -> kmq_status {
    json_call("kmq_console_count", c, json, Console::count)
}

/// The stored message with `code` as a JSON object, or `null` when the
/// server has none.
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; `code` NULL or a string; `json` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_get_message(
    c: *mut kmq_console,
    code: *const c_char,
    json: *mut *mut c_char,
) -> kmq_status {
    json_call("kmq_console_get_message", c, json, |console| console.message(str_arg(code, "code")?))
}

/// Messages created between `start_time` and `end_time`
/// (`"YYYY-MM-DD hh:mm:ss"`, server time) with `status` (-1 waiting, 0
/// delayed, 1 consumed, 3 all) on `topic` (`""`: every topic), newest first,
/// as a JSON array (without the messages' data).
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; strings NULL or NUL-terminated; `json` NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_list_messages(
    c: *mut kmq_console,
    start_time: *const c_char,
    end_time: *const c_char,
    status: i32,
    topic: *const c_char,
    json: *mut *mut c_char,
) -> kmq_status {
    json_call("kmq_console_list_messages", c, json, |console| {
        let start = str_arg(start_time, "start_time")?;
        let end = str_arg(end_time, "end_time")?;
        console.messages(start, end, status, str_arg(topic, "topic")?)
    })
}

/// Deletes the stored message with `code`.
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; `code` NULL or a string.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_delete_message(c: *mut kmq_console, code: *const c_char) -> kmq_status {
    call("kmq_console_delete_message", || console(c)?.delete(str_arg(code, "code")?))
}

/// The node's view of its cluster as a JSON array (`null` when the node is
/// not in cluster mode).
///
/// Blocks: up to connect_timeout_ms.
///
/// # Safety
/// `c` NULL or a live console; `json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_nodes(c: *mut kmq_console, json: *mut *mut c_char) -> kmq_status {
    json_call("kmq_console_nodes", c, json, Console::nodes)
}

/// Frees a console client. NULL does nothing. A call in progress on it in
/// another thread finishes and touches no freed memory.
///
/// # Safety
/// `c` must be NULL or a console not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kmq_console_free(c: *mut kmq_console) {
    call_value("kmq_console_free", (), || {
        Client::free(c);
        Ok(())
    })
}
