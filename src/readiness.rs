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
//! On Linux the descriptor is an eventfd; elsewhere the read end of a pipe.

use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Something to hand out: the descriptor becomes readable.
    pub fn set(&self) {
        let mut inner = self.lock();
        if !inner.ready {
            inner.ready = true;
            if let Some(s) = &inner.signal {
                s.raise();
            }
        }
    }

    /// Nothing left: the descriptor stops being readable.
    pub fn clear(&self) {
        let mut inner = self.lock();
        if inner.ready {
            inner.ready = false;
            if let Some(s) = &inner.signal {
                s.lower();
            }
        }
    }

    /// The descriptor, created on first use and owned by `self` (closed
    /// when it is dropped).
    pub fn fd(&self) -> Result<RawFd> {
        let mut inner = self.lock();
        if inner.signal.is_none() {
            let s = Signal::new()?;
            if inner.ready {
                s.raise();
            }
            inner.signal = Some(s);
        }
        Ok(inner.signal.as_ref().map_or(-1, Signal::raw))
    }
}

/// The kernel object behind the descriptor: readable once raised, until
/// lowered.
struct Signal {
    read: OwnedFd,
    /// The end `raise` writes to: the same eventfd, or a pipe's write end.
    #[cfg(not(target_os = "linux"))]
    write: OwnedFd,
}

fn os_error(what: &str) -> Error {
    Error::internal(format!("cannot create the readiness descriptor ({what}): {}", std::io::Error::last_os_error()))
}

impl Signal {
    #[cfg(target_os = "linux")]
    fn new() -> Result<Signal> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new
        // descriptor that nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(os_error("eventfd"));
        }
        // SAFETY: see above.
        Ok(Signal { read: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Result<Signal> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(os_error("pipe"));
        }
        // SAFETY: pipe succeeded: both are new descriptors owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in fds {
            // SAFETY: plain fcntl calls on descriptors we own.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
        }
        Ok(Signal { read, write })
    }

    fn raw(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    fn raise(&self) {
        #[cfg(target_os = "linux")]
        let (fd, bytes) = (self.read.as_raw_fd(), 1u64.to_ne_bytes());
        #[cfg(not(target_os = "linux"))]
        let (fd, bytes) = (self.write.as_raw_fd(), [1u8]);
        // SAFETY: writes `bytes`, which lives across the call. Non-blocking;
        // a full eventfd counter or pipe is readable anyway.
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    }

    fn lower(&self) {
        let mut buf = [0u8; 64];
        // Reading an eventfd resets its counter; a pipe is read until empty.
        // SAFETY: reads into `buf`, which lives across the call; the
        // descriptor is non-blocking, so this stops at empty.
        while unsafe { libc::read(self.raw(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {
            if cfg!(target_os = "linux") {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
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
