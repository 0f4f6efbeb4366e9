//! Logging: nothing is printed by default. An application installs one
//! sink (the C API's log callback, Python's `logging`, a Node callback) and
//! a most verbose level; messages above it cost one atomic load.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::RwLock;

/// How important a log message is; lower is more important.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync>;

static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends messages up to `max` to `sink` from now on; `None` stops logging.
pub fn set_sink(max: Level, sink: Option<Sink>) {
    // From now on fork() must find the sink's lock free (see runtime).
    crate::runtime::setup();
    let mut slot = SINK.write().unwrap_or_else(|p| p.into_inner());
    MAX_LEVEL.store(if sink.is_some() { max as u8 } else { 0 }, Ordering::Release);
    *slot = sink;
}

/// Logs the message `make` builds, if anyone listens at `level`.
pub fn log(level: Level, make: impl FnOnce() -> String) {
    if level as u8 > MAX_LEVEL.load(Ordering::Acquire) {
        return;
    }
    let slot = SINK.read().unwrap_or_else(|p| p.into_inner());
    if let Some(sink) = slot.as_ref() {
        sink(level, &make());
    }
}

pub fn error(make: impl FnOnce() -> String) {
    log(Level::Error, make)
}
pub fn warn(make: impl FnOnce() -> String) {
    log(Level::Warn, make)
}
pub fn info(make: impl FnOnce() -> String) {
    log(Level::Info, make)
}
pub fn debug(make: impl FnOnce() -> String) {
    log(Level::Debug, make)
}

/// Holds the sink's lock across fork(), so that the child does not start
/// with it taken by a thread it does not have (see `runtime`).
pub(crate) fn hold_for_fork() -> std::sync::RwLockWriteGuard<'static, Option<Sink>> {
    SINK.write().unwrap_or_else(|p| p.into_inner())
}
