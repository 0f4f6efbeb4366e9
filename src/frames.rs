//! WebSocket frames for the producer's data path (RFC 6455, client side).
//!
//! Once a producer connection is open and past its handshake, everything
//! on it is small text frames: a message out, an `ok` back. tokio-tungstenite
//! spends more per frame than the frame costs (a waker registered, a lock
//! taken, a random mask drawn and the frame copied for each message; a
//! buffer split off, checked as UTF-8 and dropped for each `ok`; figures in
//! docs/bench/README.md). So the producer
//! link frames its batches itself: [`Writer`] appends masked frames to one
//! buffer written with one call, and [`Reader`] walks the frames of what one
//! read returned without copying them. Connecting, TLS and the handshake
//! stay with tungstenite, and so does the consumer, whose pushes can be
//! fragmented and are not all UTF-8.

use crate::error::{Error, Result};
use std::hash::{BuildHasher, Hasher};
use tokio::io::{AsyncRead, AsyncReadExt};

const FIN: u8 = 0x80;
const MASKED: u8 = 0x80;
const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// The largest frame (and, on tungstenite's connections, message) accepted
/// from the server.
pub(crate) const MAX_FRAME: u64 = 64 << 20;
/// How much one read asks for (see `conn::READ_BUFFER_BYTES`).
pub(crate) const READ_CHUNK: usize = 16 << 10;
/// How much is buffered before it is written: a batch of large messages
/// goes out in pieces of about this size instead of as one buffer.
pub(crate) const WRITE_CHUNK: usize = 128 << 10;

/// Frames to send, appended to one buffer.
pub struct Writer {
    buf: Vec<u8>,
    /// xorshift64 state for the masking keys. RFC 6455 asks for keys a
    /// third party cannot predict, against proxies that cache; a generator
    /// seeded from the operating system's randomness once per connection
    /// does that at a fraction of a cryptographic generator's cost.
    state: u64,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        // RandomState is seeded from the operating system's randomness.
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Writer { buf: Vec::new(), state: seed | 1 }
    }

    fn next_key(&mut self) -> [u8; 4] {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        ((x >> 16) as u32).to_ne_bytes()
    }

    /// Appends a text frame.
    pub fn text(&mut self, payload: &[u8]) {
        self.frame(OP_TEXT, payload);
    }

    /// Appends a ping, which the server must answer (the watchdog counts
    /// the answer as a sign of life).
    pub fn ping(&mut self) {
        self.frame(OP_PING, b"");
    }

    /// Appends the answer to a ping of the server.
    pub fn pong(&mut self, payload: &[u8]) {
        self.frame(OP_PONG, payload);
    }

    /// Appends a close frame (no status).
    pub fn close(&mut self) {
        self.frame(OP_CLOSE, b"");
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let len = payload.len();
        self.buf.reserve(14 + len);
        self.buf.push(FIN | opcode);
        if len < 126 {
            self.buf.push(MASKED | len as u8);
        } else if len <= u16::MAX as usize {
            self.buf.push(MASKED | 126);
            self.buf.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.buf.push(MASKED | 127);
            self.buf.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let key = self.next_key();
        self.buf.extend_from_slice(&key);
        let start = self.buf.len();
        self.buf.extend_from_slice(payload);
        mask(&mut self.buf[start..], key);
    }

    /// What is buffered, to be written in one go.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Forgets what was written, keeping the allocation for the next batch
    /// unless a large message grew it past [`WRITE_CHUNK`] twice over.
    pub fn clear(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > 2 * WRITE_CHUNK {
            self.buf.shrink_to(WRITE_CHUNK);
        }
    }
}

/// XORs `data` with the repeated `key`, eight bytes at a time.
fn mask(data: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8])) ^ wide;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    // A multiple of 8 bytes was done, so the key's phase starts over at 0.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// A frame from the server, borrowed from the [`Reader`]'s buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete text or binary message.
    Data(&'a [u8]),
    Ping(&'a [u8]),
    Pong,
    Close,
}

/// Frames from the server: filled by reads, walked without copying.
#[derive(Default)]
pub struct Reader {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf`.
    pos: usize,
}

impl Reader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads once more from `stream` (into spare capacity, which is not
    /// zeroed first); `Ok(0)` when the server closed the connection.
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, stream: &mut R) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > self.buf.len() / 2 {
            // Keep the unfinished frame, drop what was handled before it.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(READ_CHUNK);
        stream.read_buf(&mut self.buf).await
    }

    /// The next complete frame, `None` until more is read. A frame the
    /// producer cannot be sent (masked, reserved bits, fragmented, too
    /// large) is a protocol error.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>> {
        let data = &self.buf[self.pos..];
        let Some((head, len)) = header(data)? else {
            return Ok(None);
        };
        let Some(end) = head.checked_add(len).filter(|&end| end <= data.len()) else {
            return Ok(None);
        };
        let first = data[0];
        self.pos += end;
        let payload = &self.buf[self.pos - len..self.pos];
        let opcode = first & 0x0F;
        let fin = first & FIN != 0;
        match opcode {
            OP_TEXT | OP_BINARY if fin => Ok(Some(Frame::Data(payload))),
            OP_TEXT | OP_BINARY | OP_CONTINUATION => Err(Error::protocol(format!(
                "expected \"ok\", got a fragmented message starting {:?}",
                crate::wire::preview(&String::from_utf8_lossy(payload))
            ))),
            OP_PING => Ok(Some(Frame::Ping(payload))),
            OP_PONG => Ok(Some(Frame::Pong)),
            OP_CLOSE => Ok(Some(Frame::Close)),
            other => Err(Error::protocol(format!("the server sent a frame with the unknown opcode {other:#x}"))),
        }
    }
}

/// The header length and payload length of the frame at the start of
/// `data`, `None` while the header is incomplete.
fn header(data: &[u8]) -> Result<Option<(usize, usize)>> {
    let [first, second, rest @ ..] = data else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(Error::protocol("the server sent a frame with reserved bits set"));
    }
    if second & MASKED != 0 {
        return Err(Error::protocol("the server sent a masked frame"));
    }
    let (head, len) = match second & 0x7F {
        126 => match rest {
            [a, b, ..] => (4, u64::from(u16::from_be_bytes([*a, *b]))),
            _ => return Ok(None),
        },
        127 => match rest.get(..8) {
            Some(b) => (10, u64::from_be_bytes(b.try_into().unwrap_or([0xFF; 8]))),
            None => return Ok(None),
        },
        n => (2, u64::from(n)),
    };
    if len > MAX_FRAME {
        return Err(Error::protocol(format!("the server sent a frame of {len} bytes, more than {MAX_FRAME}")));
    }
    Ok(Some((head, len as usize)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};
    use tokio_tungstenite::tungstenite::Message;

    /// What a tungstenite server (which insists on masked frames and
    /// unmasks them) reads from `bytes`.
    fn read_by_a_server(bytes: &[u8]) -> Vec<Message> {
        let mut ws = WebSocket::from_raw_socket(std::io::Cursor::new(bytes.to_vec()), Role::Server, None);
        let mut out = Vec::new();
        while let Ok(m) = ws.read() {
            out.push(m);
        }
        out
    }

    #[test]
    fn frames_written_are_read_back_by_a_server_at_every_length_class() {
        let mut w = Writer::new();
        let payloads: Vec<Vec<u8>> = [0, 1, 7, 8, 9, 125, 126, 127, 65_535, 65_536, 70_001]
            .iter()
            .map(|&n| (0..n).map(|i| b'a' + (i % 26) as u8).collect())
            .collect();
        for p in &payloads {
            w.text(p);
        }
        w.ping();
        w.close();
        let read = read_by_a_server(w.bytes());
        assert_eq!(read.len(), payloads.len() + 2, "{:?}", read.iter().map(Message::len).collect::<Vec<_>>());
        for (p, m) in payloads.iter().zip(&read) {
            assert!(matches!(m, Message::Text(t) if t.as_bytes() == &p[..]), "payload of {} bytes", p.len());
        }
        assert!(matches!(read[payloads.len()], Message::Ping(_)));
        assert!(matches!(read[payloads.len() + 1], Message::Close(None)));
    }

    #[test]
    fn masking_keys_differ_from_frame_to_frame() {
        let mut w = Writer::new();
        w.text(b"x");
        w.text(b"x");
        let b = w.bytes();
        assert_ne!(b[2..6], b[9..13], "{b:?}");
    }

    fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![first];
        match payload.len() {
            n if n < 126 => v.push(n as u8),
            n if n <= 65_535 => {
                v.push(126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        v.extend_from_slice(payload);
        v
    }

    fn reader_with(bytes: &[u8]) -> Reader {
        Reader { buf: bytes.to_vec(), pos: 0 }
    }

    #[test]
    fn oks_pings_and_closes_are_read_whole_and_a_split_frame_waits() {
        let mut bytes = Vec::new();
        for _ in 0..3 {
            bytes.extend(server_frame(0x81, b"ok"));
        }
        bytes.extend(server_frame(0x89, b"hi"));
        bytes.extend(server_frame(0x8A, b""));
        let long = vec![b'a'; 300];
        bytes.extend(server_frame(0x81, &long));
        bytes.extend(server_frame(0x88, b""));
        let mut r = reader_with(&bytes);
        for _ in 0..3 {
            assert_eq!(r.next_frame().unwrap(), Some(Frame::Data(b"ok")));
        }
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Ping(b"hi")));
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Pong));
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Data(&long[..])));
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Close));
        assert_eq!(r.next_frame().unwrap(), None);

        // Every cut of a frame waits for the rest.
        let frame = server_frame(0x81, &long);
        for cut in 0..frame.len() {
            let mut r = reader_with(&frame[..cut]);
            assert_eq!(r.next_frame().unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn frames_a_producer_cannot_be_sent_are_protocol_errors() {
        for (bytes, says) in [
            (vec![0x81, 0x82, 1, 2, 3, 4, b'o', b'k'], "masked"),
            (vec![0xC1, 0x02, b'o', b'k'], "reserved"),
            (vec![0x01, 0x02, b'o', b'k'], "fragmented"),
            (vec![0x83, 0x00], "opcode"),
            (vec![0x81, 127, 0, 0, 0, 0, 0x10, 0, 0, 0], "bytes"),
        ] {
            let err = reader_with(&bytes).next_frame().unwrap_err();
            assert!(err.to_string().contains(says), "{bytes:?}: {err}");
        }
    }

    #[tokio::test]
    async fn fill_keeps_an_unfinished_frame_across_reads() {
        let mut bytes = server_frame(0x81, b"ok");
        bytes.extend(server_frame(0x81, &[b'z'; 40_000]));
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let mut r = Reader::new();
        tokio::io::AsyncWriteExt::write_all(&mut server, &bytes[..1000]).await.unwrap();
        r.fill(&mut client).await.unwrap();
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Data(b"ok")));
        assert_eq!(r.next_frame().unwrap(), None);
        tokio::io::AsyncWriteExt::write_all(&mut server, &bytes[1000..]).await.unwrap();
        let mut whole = None;
        for _ in 0..10 {
            r.fill(&mut client).await.unwrap();
            if let Some(Frame::Data(d)) = r.next_frame().unwrap() {
                whole = Some(d.len());
                break;
            }
        }
        assert_eq!(whole, Some(40_000));
        drop(server);
        assert_eq!(r.fill(&mut client).await.unwrap(), 0);
    }
}
