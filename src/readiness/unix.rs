//! The readiness signal on Unix: an eventfd on Linux, elsewhere (macOS,
//! the BSDs) the two ends of a non-blocking pipe.

use super::Descriptor;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Readable once raised, until lowered.
pub(super) struct Signal {
    read: OwnedFd,
    /// The end `raise` writes to: a pipe's write end (an eventfd is both).
    #[cfg(not(target_os = "linux"))]
    write: OwnedFd,
}

impl Signal {
    /// What the descriptor is, for error messages.
    pub(super) const WHAT: &'static str = if cfg!(target_os = "linux") { "eventfd" } else { "pipe" };

    #[cfg(target_os = "linux")]
    pub(super) fn new() -> io::Result<Signal> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new
        // descriptor that nothing else owns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: see above.
        Ok(Signal { read: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn new() -> io::Result<Signal> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
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

    pub(super) fn raw(&self) -> Descriptor {
        self.read.as_raw_fd()
    }

    pub(super) fn raise(&mut self) {
        #[cfg(target_os = "linux")]
        let (fd, bytes) = (self.read.as_raw_fd(), 1u64.to_ne_bytes());
        #[cfg(not(target_os = "linux"))]
        let (fd, bytes) = (self.write.as_raw_fd(), [1u8]);
        // SAFETY: writes `bytes`, which lives across the call. Non-blocking;
        // a full eventfd counter or pipe is readable anyway.
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    }

    pub(super) fn lower(&mut self) {
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
