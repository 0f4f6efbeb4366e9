//! A readiness descriptor for event loops: a file descriptor that polls
//! readable (level-triggered) while a handle has something to hand out.
//!
//! The owner calls [`Readiness::set`] when its queue goes from empty to
//! non-empty (or it closes) and [`Readiness::clear`] when the queue drains,
//! under the same lock that guards the queue, so the descriptor follows the
//! queue's state exactly. Both do a system call only on a real transition,
//! and only once somebody asked for the descriptor: a handle whose
//! descriptor is never asked for costs one uncontended lock per transition
//! and no file descriptor.
//!
//! The kernel object behind it depends on the platform: on Linux an
//! eventfd, on other Unix systems the read end of a pipe (`unix.rs`), on
//! Windows a loopback socket that select() and WSAPoll() take
//! (`windows.rs`).

use crate::error::{Error, Result};
use crate::sync::lock;
use std::ffi::c_int;
use std::sync::Mutex;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix::Signal;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows::Signal;

/// What [`Readiness::fd`] hands out: a file descriptor on Unix, a SOCKET
/// on Windows. Windows keeps the significant bits of kernel handles in 32
/// bits (so that 32- and 64-bit processes can share them), so a SOCKET
/// fits a C int without loss.
pub type Descriptor = c_int;

#[derive(Default)]
struct Inner {
    /// Created by the first [`Readiness::fd`].
    signal: Option<Signal>,
    /// Whether the owner has something to hand out.
    ready: bool,
}

/// See the module documentation.
#[derive(Default)]
pub struct Readiness {
    inner: Mutex<Inner>,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Something to hand out: the descriptor becomes readable.
    pub fn set(&self) {
        let mut inner = lock(&self.inner);
        if !inner.ready {
            inner.ready = true;
            if let Some(s) = &mut inner.signal {
                s.raise();
            }
        }
    }

    /// Nothing left: the descriptor stops being readable.
    pub fn clear(&self) {
        let mut inner = lock(&self.inner);
        if inner.ready {
            inner.ready = false;
            if let Some(s) = &mut inner.signal {
                s.lower();
            }
        }
    }

    /// The descriptor, created on first use and owned by `self` (closed
    /// when it is dropped).
    pub fn fd(&self) -> Result<Descriptor> {
        let mut inner = lock(&self.inner);
        if inner.signal.is_none() {
            let mut s = Signal::new().map_err(|e| {
                Error::internal(format!("cannot create the readiness descriptor ({}): {e}", Signal::WHAT))
            })?;
            if inner.ready {
                s.raise();
            }
            inner.signal = Some(s);
        }
        Ok(inner.signal.as_ref().map_or(-1, Signal::raw))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn readable(fd: Descriptor) -> bool {
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd, valid for the call.
        unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
    }

    #[test]
    fn follows_set_and_clear_including_before_the_fd_exists() {
        let r = Readiness::new();
        r.set();
        let fd = r.fd().unwrap();
        assert!(readable(fd), "set before the descriptor was made");
        r.set();
        r.clear();
        assert!(!readable(fd), "one clear after two sets");
        r.clear();
        assert!(!readable(fd));
        r.set();
        assert!(readable(fd));
        assert_eq!(r.fd().unwrap(), fd, "one descriptor per handle");
    }
}
