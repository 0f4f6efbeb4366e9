//! The C log callback: nothing is logged until one is installed.

use super::call_value;
use crate::log::{self, Level};
use std::ffi::{c_char, c_void, CString};

/// How important a log message is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kmq_log_level {
    KMQ_LOG_ERROR = 1,
    KMQ_LOG_WARN = 2,
    KMQ_LOG_INFO = 3,
    KMQ_LOG_DEBUG = 4,
}

/// Receives one log message (NUL-terminated, valid during the call) and
/// the `user_data` given to `kmq_set_log_callback`.
pub type kmq_log_fn =
    Option<unsafe extern "C" fn(level: kmq_log_level, message: *const c_char, user_data: *mut c_void)>;

/// The application's pointer for its callback.
pub(super) struct UserData(pub(super) *mut c_void);
// SAFETY: the pointer is only handed back to the application's callback,
// which `kmq_set_log_callback` documents must be thread-safe.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

/// Installs callback for log messages up to max_level (1 errors only ...
/// 4 debug; other values are clamped to that range), replacing any earlier
/// one; NULL turns logging off (the default: kapokmq prints nothing by
/// itself).
///
/// The callback runs on one thread of the library's own, kmq-log, one
/// message at a time and in order; never on a network thread and never
/// while the library holds a lock, so a slow callback (one that waits for
/// a lock or an interpreter) delays only later log messages. At most 1024
/// messages wait for it: past that, new ones are dropped, and the next
/// message it receives is a warning saying how many were lost. It may call
/// any kapokmq function except kmq_set_log_callback.
///
/// Blocks: up to 1 s, while the old callback takes the messages queued
/// before this call, and then until a call of the old callback in progress
/// returns. After it returns the old callback is no longer called.
#[no_mangle]
pub extern "C" fn kmq_set_log_callback(callback: kmq_log_fn, max_level: i32, user_data: *mut c_void) {
    call_value("kmq_set_log_callback", (), || {
        let max = match max_level {
            i32::MIN..=1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            _ => Level::Debug,
        };
        let sink: Option<log::Sink> = callback.map(|cb| {
            let data = UserData(user_data);
            Box::new(move |level: Level, message: &str| {
                let level = match level {
                    Level::Error => kmq_log_level::KMQ_LOG_ERROR,
                    Level::Warn => kmq_log_level::KMQ_LOG_WARN,
                    Level::Info => kmq_log_level::KMQ_LOG_INFO,
                    Level::Debug => kmq_log_level::KMQ_LOG_DEBUG,
                };
                let text = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
                let data = &data;
                // SAFETY: the application gave this function for this use.
                unsafe { cb(level, text.as_ptr(), data.0) }
            }) as log::Sink
        });
        log::set_sink(max, sink);
        Ok(())
    })
}
