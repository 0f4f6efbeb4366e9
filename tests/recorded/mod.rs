//! Transcripts recorded against the real KapokMQ node and Serena by
//! tests/real/record.py (the format is described there), and the raw
//! socket clients that replay them byte for byte.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

pub fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/recorded").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes a recorded payload stands for. `code_of` pieces take the
/// message code from `seen`, the payloads of the same transcript's steps
/// as observed in this run (the recording's own, or a replay's).
pub fn expand(payload: &Value, seen: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in payload.as_array().expect("payload is a list of pieces") {
        if let Some(t) = piece.get("t") {
            out.extend_from_slice(t.as_str().unwrap().as_bytes());
        } else if let Some(b) = piece.get("b64") {
            out.extend_from_slice(&base64_decode(b.as_str().unwrap()));
        } else if let Some(r) = piece.get("rep") {
            let n = piece["n"].as_u64().unwrap() as usize;
            out.extend(std::iter::repeat(r.as_str().unwrap().as_bytes()).take(n).flatten());
        } else if let Some(i) = piece.get("code_of") {
            let from = &seen[i.as_u64().unwrap() as usize];
            out.extend_from_slice(message_code(from).unwrap_or_else(|| panic!("no message code in step {i}")));
        } else {
            panic!("unknown payload piece {piece}");
        }
    }
    out
}

/// The first run of 32 lower-case hex digits: a message code.
pub fn message_code(bytes: &[u8]) -> Option<&[u8]> {
    let is_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate() {
        run = if is_hex(b) { run + 1 } else { 0 };
        if run == 32 && !bytes.get(i + 1).is_some_and(is_hex) {
            return Some(&bytes[i + 1 - 32..=i]);
        }
    }
    None
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ABC.iter().position(|&a| a == c).expect("base64 digit") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// What changes from run to run in an answer, replaced by a marker so two
/// runs can be compared byte for byte: message codes, Unix times (9 or more
/// digits) and the given port numbers (by name).
pub fn mask(bytes: &[u8], ports: &[(String, u16)]) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    while let Some(code) = message_code(text.as_bytes()) {
        let code = String::from_utf8_lossy(code).into_owned();
        text = text.replace(&code, "<code>");
    }
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    for c in text.chars().map(Some).chain([None]) {
        if let Some(d) = c.filter(char::is_ascii_digit) {
            digits.push(d);
            continue;
        }
        if digits.len() >= 9 {
            out.push_str("<time>");
        } else if let Some((name, _)) = ports.iter().find(|(_, p)| p.to_string() == digits) {
            out.push_str(&format!("<{name}>"));
        } else {
            out.push_str(&digits);
        }
        digits.clear();
        out.extend(c);
    }
    out
}

/// One message from the server: opcode, payload, and the sizes of the
/// frames it came in (one entry when not fragmented).
#[derive(Debug)]
pub struct Message {
    pub opcode: u8,
    pub payload: Vec<u8>,
    pub fragments: Vec<usize>,
}

/// A WebSocket client on a plain TCP socket that keeps every byte.
pub struct RawWs {
    sock: TcpStream,
    buf: Vec<u8>,
    /// The upgrade answer: status line, then each header line.
    pub head: Vec<String>,
}

impl RawWs {
    pub fn connect(port: u16, path: &str) -> RawWs {
        let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        sock.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        write!(
            sock,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut ws = RawWs { sock, buf: Vec::new(), head: Vec::new() };
        let end = loop {
            if let Some(i) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(ws.fill(), "upgrade of {path}: connection closed");
        };
        let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "upgrade of {path} refused: {head}");
        ws.buf.drain(..end);
        ws.head = head.trim_end().split("\r\n").map(str::to_string).collect();
        ws
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        match self.sock.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read: {e}"),
        }
    }

    fn need(&mut self, n: usize) -> bool {
        while self.buf.len() < n {
            if !self.fill() {
                return false;
            }
        }
        true
    }

    pub fn send(&mut self, opcode: u8, data: &[u8]) {
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        let mut out = vec![0x80 | opcode];
        match data.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n < 65536 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.sock.write_all(&out).expect("send");
    }

    /// One frame as (fin, opcode, payload), None at the end of the stream.
    fn frame(&mut self) -> Option<(bool, u8, Vec<u8>)> {
        if !self.need(2) {
            return None;
        }
        let (b0, b1) = (self.buf[0], self.buf[1]);
        assert_eq!(b1 & 0x80, 0, "a server frame must not be masked");
        let (len, off) = match b1 & 0x7f {
            126 => {
                self.need(4).then_some(())?;
                (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
            }
            127 => {
                self.need(10).then_some(())?;
                (u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize, 10)
            }
            n => (n as usize, 2),
        };
        self.need(off + len).then_some(())?;
        let payload = self.buf[off..off + len].to_vec();
        self.buf.drain(..off + len);
        Some((b0 & 0x80 != 0, b0 & 0x0f, payload))
    }

    /// A message that arrives within `wait`, else None (the connection
    /// stays usable).
    pub fn recv_within(&mut self, wait: Duration) -> Option<Message> {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 65536];
        let got = match self.sock.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => 0,
            Err(e) => panic!("read: {e}"),
        };
        self.sock.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        self.buf.extend_from_slice(&chunk[..got]);
        if self.buf.is_empty() {
            return None;
        }
        self.recv()
    }

    /// One whole message, None when the server closed the TCP connection.
    pub fn recv(&mut self) -> Option<Message> {
        let (mut fin, opcode, mut payload) = self.frame()?;
        let mut fragments = vec![payload.len()];
        while !fin {
            let (f, cont, more) = self.frame()?;
            assert_eq!(cont, 0, "opcode {cont} inside a fragmented message");
            fin = f;
            fragments.push(more.len());
            payload.extend_from_slice(&more);
        }
        Some(Message { opcode, payload, fragments })
    }
}

/// One HTTP answer: status line, headers (lower-case names), body.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Sends a recorded request (method, path, headers, body) to `port`.
pub fn http(port: u16, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> HttpAnswer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("http connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut data = Vec::new();
    s.read_to_end(&mut data).expect("http read");
    let end = data.windows(4).position(|w| w == b"\r\n\r\n").expect("end of HTTP head") + 4;
    let head = String::from_utf8_lossy(&data[..end - 4]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = data[end..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
        body = dechunk(&body);
    }
    HttpAnswer { status_line, headers, body }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..i]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&rest[i + 2..i + 2 + n]);
        rest = &rest[i + 2 + n + 2..];
    }
    out
}

/// The request of a recorded `http` step: headers and body with `code_of`
/// pieces resolved against `seen`.
pub fn request_of(step: &Value, seen: &[Vec<u8>]) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let rq = &step["request"];
    let headers = rq["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
        .collect();
    (
        rq["method"].as_str().unwrap().to_string(),
        rq["path"].as_str().unwrap().to_string(),
        headers,
        expand(&rq["body"], seen),
    )
}

/// The recorded ports of a transcript, by name.
pub fn ports(transcript: &Value) -> Vec<(String, u16)> {
    transcript["ports"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap() as u16)).collect()
}
