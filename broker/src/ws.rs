//! Server side of RFC 6455 framing, kept to what gorilla/websocket does for the real server:
//! text and binary payloads are taken as bytes (no UTF-8 check), pings are answered with the
//! same payload, a close frame is echoed with its status code, no extensions.

use tokio::io::AsyncReadExt;

use crate::tls::ReadHalf;

const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_CLOSE: u8 = 8;
pub const OP_PONG: u8 = 10;

/// Upper bound on one message, only to refuse absurd lengths.
const MAX_MESSAGE: usize = 1 << 30;
const READ_CHUNK: usize = 64 * 1024;

pub enum Ev<'a> {
    Data(&'a [u8]),
    Ping(&'a [u8]),
    Pong,
    Close(&'a [u8]),
}

/// A protocol violation: the reason goes into a 1002 close frame.
#[derive(Debug)]
pub struct ProtoErr(pub u16, pub &'static str);

pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// bytes the frame at `start` needs, when incomplete
    want: usize,
    frag: Vec<u8>,
    in_frag: bool,
    frag_done: bool,
}

impl FrameReader {
    pub fn new(leftover: Vec<u8>) -> Self {
        let end = leftover.len();
        let mut buf = leftover;
        if buf.len() < READ_CHUNK {
            buf.resize(READ_CHUNK, 0);
        }
        FrameReader { buf, start: 0, end, want: 0, frag: Vec::new(), in_frag: false, frag_done: false }
    }

    /// The next complete event already buffered, if any.
    pub fn next(&mut self) -> Result<Option<Ev<'_>>, ProtoErr> {
        if self.frag_done {
            self.frag_done = false;
            self.frag.clear();
            if self.frag.capacity() > 4 << 20 {
                self.frag = Vec::new();
            }
        }
        {
            let avail = &self.buf[self.start..self.end];
            if avail.len() < 2 {
                self.want = 2;
                return Ok(None);
            }
            let b0 = avail[0];
            let b1 = avail[1];
            let fin = b0 & 0x80 != 0;
            if b0 & 0x70 != 0 {
                return Err(ProtoErr(1002, "unexpected reserved bits"));
            }
            let op = b0 & 0x0F;
            if b1 & 0x80 == 0 {
                return Err(ProtoErr(1002, "incorrect mask flag"));
            }
            let (len, hl) = match b1 & 0x7F {
                126 => {
                    if avail.len() < 4 {
                        self.want = 4;
                        return Ok(None);
                    }
                    (u16::from_be_bytes([avail[2], avail[3]]) as u64, 4)
                }
                127 => {
                    if avail.len() < 10 {
                        self.want = 10;
                        return Ok(None);
                    }
                    (u64::from_be_bytes(avail[2..10].try_into().unwrap()), 10)
                }
                n => (n as u64, 2),
            };
            let is_control = op & 0x08 != 0;
            if is_control && (!fin || len > 125) {
                return Err(ProtoErr(1002, "control frame length > 125 or fragmented"));
            }
            if len > MAX_MESSAGE as u64 || self.frag.len() as u64 + len > MAX_MESSAGE as u64 {
                return Err(ProtoErr(1009, "message too big"));
            }
            let total = hl + 4 + len as usize;
            if avail.len() < total {
                self.want = total;
                return Ok(None);
            }
            let ps = self.start + hl + 4;
            let pe = self.start + total;
            let mask: [u8; 4] = self.buf[ps - 4..ps].try_into().unwrap();
            unmask(&mut self.buf[ps..pe], mask);
            // The payload stays where it is until the next `fill`, which the borrow forbids
            // while the event is alive.
            self.start += total;
            self.event(op, fin, ps, pe)
        }
    }

    fn event(&mut self, op: u8, fin: bool, ps: usize, pe: usize) -> Result<Option<Ev<'_>>, ProtoErr> {
        match op {
            0 => {
                if !self.in_frag {
                    return Err(ProtoErr(1002, "continuation after final message frame"));
                }
                self.frag.extend_from_slice(&self.buf[ps..pe]);
                if fin {
                    self.in_frag = false;
                    self.frag_done = true;
                    return Ok(Some(Ev::Data(&self.frag)));
                }
                self.next()
            }
            1 | 2 => {
                if self.in_frag {
                    return Err(ProtoErr(1002, "message start before final message frame"));
                }
                if fin {
                    return Ok(Some(Ev::Data(&self.buf[ps..pe])));
                }
                self.in_frag = true;
                self.frag.extend_from_slice(&self.buf[ps..pe]);
                self.next()
            }
            8 => Ok(Some(Ev::Close(&self.buf[ps..pe]))),
            9 => Ok(Some(Ev::Ping(&self.buf[ps..pe]))),
            10 => Ok(Some(Ev::Pong)),
            _ => Err(ProtoErr(1002, "unknown opcode")),
        }
    }

    /// Reads more bytes from the socket; `Ok(0)` at end of stream.
    pub async fn fill(&mut self, r: &mut ReadHalf) -> std::io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 << 20 && self.want <= READ_CHUNK {
                self.buf = vec![0; READ_CHUNK];
            }
        }
        let need = self.want.max(1);
        if self.buf.len() - self.start < need || self.buf.len() - self.end < READ_CHUNK / 4 {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let min = need.max(self.end + READ_CHUNK / 4);
            if self.buf.len() < min {
                let n = min.max(self.buf.len() * 2).min(MAX_MESSAGE + 16).max(min);
                self.buf.resize(n, 0);
            }
        }
        let n = r.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

fn unmask(p: &mut [u8], mask: [u8; 4]) {
    let m = u32::from_ne_bytes(mask);
    let mut chunks = p.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ m;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i];
    }
}

pub fn frame_header(out: &mut Vec<u8>, op: u8, len: usize) {
    fragment_header(out, true, op, len);
}

fn fragment_header(out: &mut Vec<u8>, fin: bool, op: u8, len: usize) {
    out.push(if fin { 0x80 | op } else { op });
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

pub fn push_frame(out: &mut Vec<u8>, op: u8, payload: &[u8]) {
    frame_header(out, op, payload.len());
    out.extend_from_slice(payload);
}

/// Payload bytes of one frame of gorilla's message writer: its 4096-byte
/// write buffer less the room it keeps for a frame header.
const GORILLA_FRAME: usize = 4082;
/// gorilla writes a message longer than twice its buffer as one frame
/// followed by an empty final frame.
const GORILLA_UNBUFFERED: usize = 8192;

/// A data message cut into frames exactly as the node's WebSocket library
/// (gorilla, default buffers) cuts it: up to 4082 bytes in one frame, up to
/// 8192 in frames of 4082 bytes, longer ones whole plus an empty final frame.
pub fn push_message(out: &mut Vec<u8>, op: u8, payload: &[u8]) {
    if payload.len() <= GORILLA_FRAME {
        return push_frame(out, op, payload);
    }
    if payload.len() > GORILLA_UNBUFFERED {
        fragment_header(out, false, op, payload.len());
        out.extend_from_slice(payload);
        return fragment_header(out, true, OP_CONTINUATION, 0);
    }
    let last = (payload.len() - 1) / GORILLA_FRAME;
    for (i, chunk) in payload.chunks(GORILLA_FRAME).enumerate() {
        fragment_header(out, i == last, if i == 0 { op } else { OP_CONTINUATION }, chunk.len());
        out.extend_from_slice(chunk);
    }
}

pub fn frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 10);
    push_frame(&mut v, op, payload);
    v
}

/// The payload gorilla's default close handler sends back: the peer's code, no text
/// (and nothing at all when the peer sent no code).
pub fn close_echo(payload: &[u8]) -> Vec<u8> {
    if payload.len() >= 2 {
        payload[..2].to_vec()
    } else {
        Vec::new()
    }
}

pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(reason.as_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (fin, opcode, payload length) of every frame in `wire`.
    fn frames(mut wire: &[u8]) -> Vec<(bool, u8, usize)> {
        let mut out = Vec::new();
        while !wire.is_empty() {
            let (len, off) = match wire[1] {
                126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
                127 => (u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize, 10),
                n => (n as usize, 2),
            };
            out.push((wire[0] & 0x80 != 0, wire[0] & 0x0f, len));
            wire = &wire[off + len..];
        }
        out
    }

    #[test]
    fn messages_are_cut_like_gorilla_cuts_them() {
        let cut = |n: usize| {
            let mut out = Vec::new();
            push_message(&mut out, OP_TEXT, &vec![b'x'; n]);
            frames(&out)
        };
        assert_eq!(cut(3), [(true, 1, 3)]);
        assert_eq!(cut(4082), [(true, 1, 4082)]);
        assert_eq!(cut(4083), [(false, 1, 4082), (true, 0, 1)]);
        assert_eq!(cut(8164), [(false, 1, 4082), (true, 0, 4082)]);
        assert_eq!(cut(8192), [(false, 1, 4082), (false, 0, 4082), (true, 0, 28)]);
        assert_eq!(cut(8193), [(false, 1, 8193), (true, 0, 0)]);
        assert_eq!(cut(1 << 20), [(false, 1, 1 << 20), (true, 0, 0)]);
    }
}
