//! Locks and fork(), for every module: taking a lock whatever a panicking
//! thread left in it, and living through fork().
//!
//! After fork() the child has only the thread that forked: a lock another
//! thread held stays held forever, and a handle made before the fork talks
//! to threads that do not exist. So the modules with process-wide locks
//! register them here, and they are taken just before fork() and given
//! back just after it, in parent and child; and handles record the fork
//! generation they were made in, which changes in each child.

use crate::error::{Error, Result};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// Locks `m`, also when a thread panicked while holding it: the library's
/// state stays consistent enough to report and close, and poisoning must
/// not turn into a second panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `lock` for reading a `RwLock`.
pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

/// `lock` for writing a `RwLock`.
pub(crate) fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Waits on `cv` for at most `left`, as `lock` takes the lock back.
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>, left: Duration) -> MutexGuard<'a, T> {
    cv.wait_timeout(guard, left).unwrap_or_else(|p| p.into_inner()).0
}

static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Changes in a child process after fork(); handles record it when made.
pub fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Fails when the handle made at `generation` is used in a forked child.
pub fn check_same_process(generation: u64, what: &str) -> Result<()> {
    if generation != fork_generation() {
        return Err(Error::closed(format!("{what} was created before fork(); it cannot be used in the child process")));
    }
    Ok(())
}

/// Takes a module's process-wide locks and returns their guards, which
/// give them back when dropped.
pub(crate) type ForkHold = fn() -> Box<dyn Any>;

/// Has `hold` take its module's locks across every fork() from now on
/// (once, however often it is called). `rank` names the module and orders
/// them: lower first, in the order the library takes their locks itself.
#[cfg(unix)]
pub(crate) fn hold_across_fork(rank: u8, hold: ForkHold) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // SAFETY: handlers that take and give back the library's own locks;
        // none of them can panic (poisoned locks are taken as they are).
        unsafe {
            libc::pthread_atfork(Some(before_fork), Some(after_fork_in_parent), Some(after_fork_in_child));
        }
    });
    let mut holders = lock(&HOLDERS);
    if !holders.iter().any(|&(r, _)| r == rank) {
        holders.push((rank, hold));
        holders.sort_by_key(|&(rank, _)| rank);
    }
}

/// Windows has no fork(): a child process starts with none of the
/// parent's memory, so there is nothing to hold.
#[cfg(not(unix))]
pub(crate) fn hold_across_fork(_rank: u8, _hold: ForkHold) {}

/// The registered holders, by rank.
#[cfg(unix)]
type Holders = Vec<(u8, ForkHold)>;

#[cfg(unix)]
static HOLDERS: Mutex<Holders> = Mutex::new(Vec::new());

/// What the forking thread holds across fork(): the list of holders
/// (locked too) and each one's guards.
#[cfg(unix)]
type Held = (MutexGuard<'static, Holders>, Vec<Box<dyn Any>>);

#[cfg(unix)]
thread_local! {
    static HELD: std::cell::RefCell<Option<Held>> = const { std::cell::RefCell::new(None) };
}

#[cfg(unix)]
extern "C" fn before_fork() {
    let holders = lock(&HOLDERS);
    let guards = holders.iter().map(|(_, hold)| hold()).collect();
    let _ = HELD.try_with(|h| h.try_borrow_mut().map(|mut h| *h = Some((holders, guards))));
}

#[cfg(unix)]
fn release_after_fork() {
    let _ = HELD.try_with(|h| {
        h.try_borrow_mut().map(|mut h| {
            if let Some((holders, guards)) = h.take() {
                // The modules' locks before the list of them.
                drop(guards);
                drop(holders);
            }
        })
    });
}

#[cfg(unix)]
extern "C" fn after_fork_in_parent() {
    release_after_fork();
}

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    release_after_fork();
}
