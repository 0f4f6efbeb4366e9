//! The shared tokio runtime: started on first use, one per process, with
//! few threads (named `kmq-*`) so that an application embedding the library
//! pays for only what it uses.

use crate::error::{Error, Result};
use crate::sync::{self, lock};
use std::sync::{Mutex, Once};
use tokio::runtime::{Handle, Runtime};

/// Worker threads unless `KAPOKMQ_THREADS` says otherwise. One is enough to
/// drive many sockets; the application's own threads do the encoding.
const DEFAULT_WORKERS: usize = 1;

/// The runtime and the fork generation it was started in.
static RUNTIME: Mutex<Option<(u64, &'static Runtime)>> = Mutex::new(None);
/// Runtimes of parent processes, left behind in a forked child.
static ABANDONED: Mutex<Vec<&'static Runtime>> = Mutex::new(Vec::new());

fn start() -> Result<Runtime> {
    let workers = std::env::var("KAPOKMQ_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(DEFAULT_WORKERS);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        // Host names are resolved on blocking threads (getaddrinfo): with
        // one, every connect in the process would queue behind the slowest
        // lookup. Idle ones end after a few seconds.
        .max_blocking_threads(16)
        .thread_keep_alive(std::time::Duration::from_secs(5))
        .thread_name("kmq-worker")
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the kapokmq runtime: {e}")))
}

/// The runtime's handle, starting it if needed.
///
/// A child process after fork() has none of the parent's runtime threads;
/// it gets a runtime of its own (the parent's is left alone, not dropped,
/// since dropping would wait for threads that do not exist here).
pub fn handle() -> Result<&'static Handle> {
    setup();
    let generation = sync::fork_generation();
    let mut slot = lock(&RUNTIME);
    match *slot {
        Some((started_in, rt)) if started_in == generation => Ok(rt.handle()),
        _ => {
            let rt: &'static Runtime = Box::leak(Box::new(start()?));
            if let Some((_, parents)) = slot.replace((generation, rt)) {
                // Kept reachable (never used or dropped) in a forked child.
                lock(&ABANDONED).push(parents);
            }
            Ok(rt.handle())
        }
    }
}

/// Process-wide preparation, once: the runtime's locks held across fork(),
/// panics of the library's threads sent to its log, and the TLS crypto
/// provider that wss connections and https registries need.
pub fn setup() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        sync::hold_across_fork(0, hold_for_fork);
        route_own_panics_to_the_log();
        // An application may have installed its own provider already; then
        // that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// When a wait of `timeout_ms` ends: `None` (no limit) for a negative
/// value or one too large to represent.
pub fn deadline(timeout_ms: i64) -> Option<std::time::Instant> {
    let ms = u64::try_from(timeout_ms).ok()?;
    std::time::Instant::now().checked_add(std::time::Duration::from_millis(ms))
}

/// How long a condition-variable wait until `deadline` may last now:
/// `None` once it has passed; an hour at a time without a deadline (the
/// caller waits again).
pub(crate) fn wait_slice(deadline: Option<std::time::Instant>) -> Option<std::time::Duration> {
    match deadline {
        None => Some(std::time::Duration::from_secs(3600)),
        Some(d) => d.checked_duration_since(std::time::Instant::now()).filter(|left| !left.is_zero()),
    }
}

/// Blocking calls wait on the caller's thread. Called from one of the
/// runtime's own threads they would stall the sockets they wait for, so
/// they fail instead.
pub fn check_blocking_allowed(what: &str) -> Result<()> {
    if Handle::try_current().is_ok() {
        return Err(Error::invalid(format!(
            "{what} blocks, and was called from inside an async runtime thread; call it from a plain thread"
        )));
    }
    Ok(())
}

/// The runtime's locks, held across fork() (see `sync`).
fn hold_for_fork() -> Box<dyn std::any::Any> {
    // Always in this order, the order `handle` takes them in.
    Box::new((lock(&RUNTIME), lock(&ABANDONED)))
}

/// A panic on one of the library's own threads (a bug) is caught where it
/// happens; its message goes to the library's log instead of the
/// process's stderr. Panics on other threads go to the hook installed
/// before.
fn route_own_panics_to_the_log() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name().is_some_and(|n| n.starts_with("kmq-")) {
            crate::log::error(|| format!("internal error (please report): {info}"));
        } else {
            previous(info)
        }
    }));
}

/// Panics when a test asked for it (see `test_hooks`); nothing without
/// the `test-hooks` feature.
#[inline(always)]
pub(crate) fn injected_panic_point() {
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::link_panic_point();
}

/// As `injected_panic_point`, for a consumer's ack writer.
#[inline(always)]
pub(crate) fn injected_ack_panic_point() {
    #[cfg(feature = "test-hooks")]
    crate::test_hooks::ack_panic_point();
}
