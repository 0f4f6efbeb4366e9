//! The readiness signal on Windows: a connected pair of loopback TCP
//! sockets. Windows has no pipe or eventfd that select() and WSAPoll()
//! accept, while a socket is what every Windows event loop (select,
//! WSAPoll, IOCP through libuv, Python's selectors) can wait on. The read
//! end is the descriptor; a byte written to the other end makes it
//! readable.

use super::Descriptor;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::windows::io::AsRawSocket;

/// Readable once raised, until lowered.
pub(super) struct Signal {
    read: TcpStream,
    write: TcpStream,
    /// Bytes written and not yet read back. Loopback delivery is not
    /// instant, so `lower` reads exactly these (waiting the microseconds a
    /// byte in flight takes) rather than whatever has arrived: a byte that
    /// landed after a lower would leave the socket readable with nothing
    /// to hand out.
    unread: usize,
}

impl Signal {
    /// What the descriptor is, for error messages.
    pub(super) const WHAT: &'static str = "loopback socket";

    pub(super) fn new() -> io::Result<Signal> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let write = TcpStream::connect(listener.local_addr()?)?;
        let ours = write.local_addr()?;
        // Another local program may connect to the port in the moment it is
        // open: take only the connection that came from `write`.
        let read = loop {
            let (read, peer) = listener.accept()?;
            if peer == ours {
                break read;
            }
        };
        write.set_nodelay(true)?;
        write.set_nonblocking(true)?;
        Ok(Signal { read, write, unread: 0 })
    }

    pub(super) fn raw(&self) -> Descriptor {
        // See `Descriptor`: a SOCKET's significant bits fit 32.
        self.read.as_raw_socket() as Descriptor
    }

    pub(super) fn raise(&mut self) {
        // Non-blocking; one byte per raise, and a raise only follows a
        // lower, so the socket buffer never fills.
        if let Ok(n) = self.write.write(&[1]) {
            self.unread += n;
        }
    }

    pub(super) fn lower(&mut self) {
        let mut buf = [0u8; 64];
        while self.unread > 0 {
            // The read end blocks: the byte is on its way over loopback.
            match self.read.read(&mut buf[..self.unread.min(64)]) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.unread -= n,
            }
        }
    }
}
