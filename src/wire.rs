//! The KapokMQ wire protocol as pure functions: handshake lines, send frame
//! encoding, push frame parsing, name checks and URLs. Nothing here does I/O,
//! so every parser can be tested and fuzzed on its own.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::fmt::Write as _;

/// First frame of every connection: the server asks for the key.
pub const PROMPT: &str = "Please enter the secret key";
/// The key was accepted; the connection is ready.
pub const AUTH_OK: &str = "Secret key matching succeeded";
/// The key was rejected. The server then prompts again, forever.
pub const AUTH_ERROR: &str = "Secret key matching error";
/// The server's confirmation of one produced message.
pub const SEND_ACK: &str = "ok";

/// Longest topic or client id accepted, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// What a handshake frame from the server means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    Prompt,
    Accepted,
    Rejected,
    Unexpected,
}

pub fn classify_handshake(frame: &str) -> Handshake {
    match frame.trim_end_matches(['\r', '\n']) {
        PROMPT => Handshake::Prompt,
        AUTH_OK => Handshake::Accepted,
        AUTH_ERROR => Handshake::Rejected,
        _ => Handshake::Unexpected,
    }
}

/// Checks a topic or client id. `what` names it in the error ("topic").
///
/// The server routes on the decoded path, so a name must come back from
/// percent-decoding unchanged and must not add or remove a path segment.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!("{what} is {} bytes long; at most {MAX_NAME_LEN} are allowed", name.len())));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid(format!("{what} {name:?} is a path step, not a name")));
    }
    if let Some(c) =
        name.chars().find(|c| matches!(c, '/' | '\\' | '%' | '?' | '#') || c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!(
            "{what} {name:?} contains {c:?}, which does not survive the server's URL routing"
        )));
    }
    Ok(())
}

/// Checks a host name or address for use inside a URL.
pub fn check_host(what: &str, host: &str) -> Result<()> {
    if host.is_empty() {
        return Err(Error::invalid(format!("{what} must not be empty")));
    }
    if let Some(c) =
        host.chars().find(|c| matches!(c, '/' | '\\' | '?' | '#' | '@' | '%') || c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!("{what} {host:?} contains {c:?}, not allowed in a host")));
    }
    Ok(())
}

/// What a path segment must percent-encode: everything but RFC 3986's
/// unreserved characters, sub-delimiters, ':' and '@'.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

fn push_encoded_segment(out: &mut String, segment: &str) {
    out.extend(percent_encoding::utf8_percent_encode(segment, SEGMENT));
}

fn push_host(out: &mut String, host: &str) {
    if host.contains(':') && !host.starts_with('[') {
        out.push('[');
        out.push_str(host);
        out.push(']');
    } else {
        out.push_str(host);
    }
}

/// Which side of the queue a WebSocket connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Producer,
    Consumer,
}

impl Role {
    fn path(self) -> &'static str {
        match self {
            Role::Producer => "Producers",
            Role::Consumer => "Consumers",
        }
    }
}

/// `ws://host:port/Producers/Conn/{topic}/{id}` (or `/Consumers/...`).
pub fn conn_url(scheme: &str, host: &str, port: u16, role: Role, topic: &str, id: &str) -> String {
    let mut url = String::with_capacity(32 + host.len() + topic.len() + id.len());
    url.push_str(scheme);
    url.push_str("://");
    push_host(&mut url, host);
    let _ = write!(url, ":{port}/{}/Conn/", role.path());
    push_encoded_segment(&mut url, topic);
    url.push('/');
    push_encoded_segment(&mut url, id);
    url
}

/// The `host:port` of a URL made by `conn_url` (`[::1]:8011` for IPv6).
pub fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// `application/x-www-form-urlencoded` body of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// `http://host:port/path`.
pub fn http_url(scheme: &str, host: &str, port: u16, path: &str) -> String {
    let mut url = String::with_capacity(16 + host.len() + path.len());
    url.push_str(scheme);
    url.push_str("://");
    push_host(&mut url, host);
    let _ = write!(url, ":{port}{path}");
    url
}

/// The frame that produces one message: `{"MessageData":"...","DelayTime":N}`.
pub fn encode_send(data: &str, delay_s: i64) -> String {
    let mut out = String::with_capacity(data.len() + 40);
    out.push_str("{\"MessageData\":\"");
    escape_json_into(&mut out, data);
    if delay_s == 0 {
        out.push_str("\",\"DelayTime\":0}");
    } else {
        let _ = write!(out, "\",\"DelayTime\":{delay_s}}}");
    }
    out
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

// Hand-written rather than serde_json's escaper: faster on plain text, the
// common case (see `escape_speed` below, and docs/bench/README.md); serde_json
// is faster only on text dense with quotes and newlines.
fn escape_json_into(out: &mut String, s: &str) {
    const CHUNK: usize = 16;
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Most text needs no escaping: skip it a chunk at a time, with a
        // test the compiler can run on the whole chunk at once.
        if let Some(chunk) = bytes.get(i..i + CHUNK) {
            if !chunk.iter().fold(false, |any, &b| any | needs_escape(b)) {
                i += CHUNK;
                continue;
            }
        }
        let b = bytes[i];
        if needs_escape(b) {
            // Escaped bytes are ASCII, so `i` is a character boundary.
            out.push_str(&s[start..i]);
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                b'\t' => out.push_str("\\t"),
                _ => {
                    let _ = write!(out, "\\u{b:04x}");
                }
            }
            start = i + 1;
        }
        i += 1;
    }
    out.push_str(&s[start..]);
}

/// One message pushed by the server to a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Push {
    #[serde(rename = "MessageCode", alias = "messageCode", alias = "messagecode")]
    pub code: String,
    #[serde(rename = "MessageData", alias = "messageData", alias = "messagedata", default)]
    pub data: String,
    #[serde(rename = "Topic", alias = "topic", default)]
    pub topic: String,
    #[serde(rename = "CreateTime", alias = "createTime", alias = "createtime", default)]
    pub create_time: i64,
    #[serde(rename = "ConsumedTime", alias = "consumedTime", alias = "consumedtime", default)]
    pub consumed_time: i64,
    #[serde(rename = "DelayTime", alias = "delayTime", alias = "delaytime", default)]
    pub delay_time: i64,
    #[serde(rename = "Status", alias = "status", default)]
    pub status: i32,
}

/// Parses a pushed frame (JSON followed by the encoder's newline).
pub fn parse_push(frame: &str) -> Result<Push> {
    // serde quotes the offending value whole: cut it, as any text from a peer.
    let push: Push = serde_json::from_str(frame.trim_end()).map_err(|e| {
        Error::protocol(format!("push frame is not a message: {}: {:?}", preview(&e.to_string()), preview(frame)))
    })?;
    check_code(&push.code).map_err(|e| Error::protocol(format!("push frame: {e}")))?;
    Ok(push)
}

/// A message code as handed to `ack`: non-empty printable text the server
/// can take back as a whole frame.
pub fn check_code(code: &str) -> Result<()> {
    if code.is_empty() {
        return Err(Error::invalid("message code must not be empty"));
    }
    if code.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!("message code is {} bytes long; at most {MAX_NAME_LEN}", code.len())));
    }
    // Codes are ASCII hex in practice: check bytes, and characters only
    // for other text.
    let bad = if code.is_ascii() {
        code.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        code.chars().any(|c| c.is_control() || c.is_whitespace())
    };
    if bad {
        return Err(Error::invalid(format!(
            "message code {:?} contains white space or control characters",
            preview(code)
        )));
    }
    Ok(())
}

/// One MQ node as the Serena registry lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    pub name: String,
    pub addr: String,
    pub port: u16,
}

impl Node {
    /// `addr:port`, the node's identity for following the list.
    pub fn key(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PortField {
    Text(String),
    Number(u64),
}

#[derive(Deserialize)]
struct NodeEntry {
    #[serde(rename = "Name", alias = "name", default)]
    name: String,
    #[serde(rename = "Addr", alias = "addr")]
    addr: String,
    #[serde(rename = "Port", alias = "port")]
    port: PortField,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RegistryAnswer {
    Nodes(Option<Vec<NodeEntry>>),
    Failure { code: i64, msg: serde_json::Value },
}

/// Parses the body of `POST /Registry/GetNodes`: a JSON array of nodes
/// (`Port` as a string), `null` for none, or `{"code":-1,...}` for a
/// rejected key (which arrives with HTTP status 200).
pub fn parse_nodes(body: &str) -> Result<Vec<Node>> {
    // serde's own text ("data did not match any variant of untagged enum")
    // tells a user nothing: say what was expected and show what came.
    let answer: RegistryAnswer = serde_json::from_str(body.trim()).map_err(|_| {
        Error::protocol(format!(
            "the answer is not a Serena node list (a JSON array of nodes, or null), so this is probably not a Serena registry: {:?}",
            preview(body)
        ))
    })?;
    let entries = match answer {
        RegistryAnswer::Nodes(entries) => entries.unwrap_or_default(),
        RegistryAnswer::Failure { code, msg } => {
            let msg = msg.as_str().map(str::to_owned).unwrap_or_else(|| msg.to_string());
            if msg.contains("Secret key") {
                return Err(Error::new(crate::error::ErrorKind::Auth, "the registry rejected the secret key"));
            }
            return Err(Error::protocol(format!("the registry answered code {code}: {}", preview(&msg))));
        }
    };
    entries
        .into_iter()
        .map(|e| {
            let port = match &e.port {
                PortField::Text(t) => t.trim().parse::<u16>().ok(),
                PortField::Number(n) => u16::try_from(*n).ok(),
            }
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                Error::protocol(format!("the registry lists node {:?} with a bad port", preview(&e.name)))
            })?;
            check_host("node address", &e.addr)
                .map_err(|err| Error::protocol(format!("the registry lists {}", preview(err.message()))))?;
            Ok(Node { name: e.name, addr: e.addr, port })
        })
        .collect()
}

/// The start of a frame, for error messages.
pub fn preview(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("topic", "orders-1.eu_west").is_ok());
        assert!(check_name("topic", "täst:@").is_ok());
        for bad in ["", "a/b", "a%2Fb", "a?b", "a#b", "a b", "a\tb", "a\u{1}", "..", "."] {
            let e = check_name("topic", bad).unwrap_err();
            assert!(e.message().starts_with("topic"), "{e}");
        }
        assert!(check_name("topic", &"x".repeat(255)).is_ok());
        assert!(check_name("topic", &"x".repeat(256)).is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            conn_url("ws", "127.0.0.1", 8011, Role::Producer, "t", "p1"),
            "ws://127.0.0.1:8011/Producers/Conn/t/p1"
        );
        assert_eq!(conn_url("wss", "::1", 1, Role::Consumer, "ä\"", "c"), "wss://[::1]:1/Consumers/Conn/%C3%A4%22/c");
        assert_eq!(http_url("http", "h", 8031, "/Registry/GetNodes"), "http://h:8031/Registry/GetNodes");
        assert_eq!(form_encode(&[("a", "x y&é+"), ("b", "")]), "a=x+y%26%C3%A9%2B&b=");
    }

    #[test]
    fn send_frame_is_valid_json() {
        let long = format!("{}\"{}\\{}\u{7}", "x".repeat(40), "é".repeat(20), "y".repeat(17));
        for data in ["a\"b\\c\n\u{0}\u{1f}é😀", "plain", long.as_str(), "0123456789abcdef\n"] {
            for delay in [0, 7, -3] {
                let frame = encode_send(data, delay);
                let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
                assert_eq!(v["MessageData"], data);
                assert_eq!(v["DelayTime"], delay);
            }
        }
    }

    #[test]
    fn push_frames() {
        let f = "{\"MessageCode\":\"8c01b728ef82ba754a63e61daa43e83c\",\"MessageData\":\"hello\",\"Topic\":\"test_topic\",\"CreateTime\":1640975470,\"ConsumedTime\":0,\"DelayTime\":0,\"Status\":-1}\n";
        let p = parse_push(f).unwrap();
        assert_eq!(p.code, "8c01b728ef82ba754a63e61daa43e83c");
        assert_eq!(p.data, "hello");
        assert_eq!(p.topic, "test_topic");
        assert_eq!(p.create_time, 1640975470);
        assert_eq!(p.status, -1);
        assert!(parse_push("garbage").is_err());
        assert!(parse_push("{\"MessageCode\":\"\"}").is_err());
        assert!(parse_push("{\"MessageData\":\"x\"}").is_err());
    }

    #[test]
    fn registry_answers() {
        let two =
            r#"[{"Name":"mq:127.0.0.1:8023","Addr":"127.0.0.1","Port":"8023"},{"Name":"b","Addr":"::1","Port":8024}]"#;
        let nodes = parse_nodes(two).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].port, 8023);
        assert_eq!(nodes[0].key(), "127.0.0.1:8023");
        assert_eq!(nodes[1].addr, "::1");
        assert!(parse_nodes("null").unwrap().is_empty());
        assert!(parse_nodes("[]").unwrap().is_empty());
        let e = parse_nodes(r#"{"code":-1,"msg":"Secret key matching error"}"#).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Auth);
        assert_eq!(parse_nodes("<html>").unwrap_err().kind(), crate::ErrorKind::Protocol);
        assert!(parse_nodes(r#"[{"Addr":"h","Port":"x"}]"#).is_err());
        assert!(parse_nodes(r#"[{"Addr":"a/b","Port":"1"}]"#).is_err());
    }

    #[test]
    fn handshake_lines() {
        assert_eq!(classify_handshake(PROMPT), Handshake::Prompt);
        assert_eq!(classify_handshake(AUTH_OK), Handshake::Accepted);
        assert_eq!(classify_handshake(AUTH_ERROR), Handshake::Rejected);
        assert_eq!(classify_handshake("hi"), Handshake::Unexpected);
    }
    #[test]
    fn authority_is_host_and_port() {
        let url = conn_url("ws", "::1", 8011, Role::Producer, "t", "p");
        assert_eq!(authority(&url), "[::1]:8011");
        assert_eq!(authority(&conn_url("wss", "mq.example", 443, Role::Consumer, "a/b", "c")), "mq.example:443");
    }
}

#[cfg(test)]
mod escape_speed {
    /// `cargo test --release --lib escape_speed -- --ignored --nocapture`:
    /// the hand-written escaper against serde_json's on typical messages.
    #[test]
    #[ignore]
    fn compare() {
        let texts = ["m12345:".to_string() + &".".repeat(57), "{\"order\":42,\"note\":\"ä\\n\"}".repeat(4)];
        for text in &texts {
            let n = 2_000_000;
            let t = std::time::Instant::now();
            let mut total = 0;
            for _ in 0..n {
                total += super::encode_send(std::hint::black_box(text), 0).len();
            }
            let ours = t.elapsed() / n;
            let t = std::time::Instant::now();
            for _ in 0..n {
                let mut out = Vec::with_capacity(text.len() + 40);
                out.extend_from_slice(b"{\"MessageData\":");
                serde_json::to_writer(&mut out, std::hint::black_box(text.as_str())).unwrap();
                out.extend_from_slice(b",\"DelayTime\":0}");
                total += out.len();
            }
            let serde = t.elapsed() / n;
            eprintln!("{} bytes: hand-written {ours:?}, serde_json {serde:?} ({total})", text.len());
        }
    }
}
