//! `kmq_config`: a builder of string keys and values, copied by the
//! constructors that take it.

use super::{call, call_value, handle, kmq_status, str_arg, Tagged};
use crate::config::Config;
use std::ffi::c_char;

/// Settings for a producer or consumer (opaque). Make one with
/// `kmq_config_new`, fill it with `kmq_config_set`, free it with
/// `kmq_config_free`.
///
/// The C header declares it opaque (see cbindgen.toml); the tag comes
/// first so that it can be read before the type is known.
/// cbindgen:ignore
#[repr(C)]
pub struct kmq_config {
    tag: u64,
    pub(crate) inner: Config,
}

impl Tagged for kmq_config {
    const TAG: u64 = 0x6b6d_7163_6f6e_6667;
    const NAME: &'static str = "kmq_config";
}

/// A new configuration holding the defaults. Never NULL except when out of
/// memory. Not shared between threads without the caller's own locking.
#[no_mangle]
pub extern "C" fn kmq_config_new() -> *mut kmq_config {
    call_value("kmq_config_new", std::ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(kmq_config { tag: kmq_config::TAG, inner: Config::default() })))
    })
}

/// Sets `key` to `value` (both NUL-terminated UTF-8). The value is parsed
/// and checked now: an unknown key or a bad value is
/// `KMQ_ERR_INVALID_ARGUMENT`, with a message naming the key.
///
/// Keys: `mq_addr`, `mq_port`, `mq_protocol` (`ws`/`wss`), `topic`,
/// `producer_id`, `consumer_id`, `secret_key`, `check_time` (s),
/// `registry_addr`, `registry_port`, `registry_protocol` (`http`/`https`),
/// `message_timeout_ms` (default 30000), `connect_timeout_ms` (default
/// 5000), `reconnect_max_ms` (the longest wait between attempts to
/// reconnect, default 5000: the waits start below 100 ms and double, each
/// drawn at random below its bound), `queue_max` (default 1000000), `connections` (connections a
/// producer keeps to each node, 1 to 64, default 1; more confirm more per
/// second from a node that serves each connection on one thread, and order
/// then holds per connection only), `max_in_flight` (messages written
/// and not yet confirmed per producer connection, default 4096),
/// `max_in_flight_bytes` (their bytes, default 8388608), `receive_buffer`
/// (default 10000),
/// `standby_addr`, `standby_port` (a standby node a consumer also follows),
/// `tls_ca_file` (a PEM file of CA certificates to trust for wss/https; a
/// certificate in it that the server presents as its own is trusted too, as
/// a self-signed development certificate is; read when connecting: an
/// unreadable file fails the constructor with `KMQ_ERR_INVALID_ARGUMENT`),
/// `tls_verify` (`true`/`false`, also `1`/`0`, `yes`/`no`; default true;
/// false logs a warning), `tls_pin_sha256` (SHA-256 fingerprints of the
/// server certificates to accept, hex or base64, separated by commas; when
/// set, no other certificate is accepted).
///
/// # Safety
/// `cfg` must be NULL or a live config; `key` and `value` NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn kmq_config_set(cfg: *mut kmq_config, key: *const c_char, value: *const c_char) -> kmq_status {
    call("kmq_config_set", || {
        handle(cfg, "cfg")?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, "value")?;
        // SAFETY: checked live above; the caller does not share it.
        (*cfg).inner.set(key, value)
    })
}

/// Frees a configuration. NULL does nothing.
///
/// # Safety
/// `cfg` must be NULL or a config not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kmq_config_free(cfg: *mut kmq_config) {
    call_value("kmq_config_free", (), || {
        if handle(cfg, "cfg").is_ok() {
            (*cfg).tag = 0;
            drop(Box::from_raw(cfg));
        }
        Ok(())
    })
}
