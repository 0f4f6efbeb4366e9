//! What each fuzz target checks about one parser of `kapokmq::wire`, beyond
//! "does not panic": the properties a caller relies on. The fuzz targets
//! call these; `tests/fuzz_corpus.rs` includes this file and feeds every
//! corpus file through the same functions on stable Rust.

use kapokmq::internals::wire::{self, Handshake, Role};
use kapokmq::ErrorKind;
use std::borrow::Cow;

/// Every target by name (its folder under `fuzz/corpus/`) and its check.
/// A fuzz target's check: takes the raw input.
pub type Check = fn(&[u8]);

pub const TARGETS: &[(&str, Check)] = &[
    ("parse_push", parse_push),
    ("classify_handshake", classify_handshake),
    ("parse_nodes", parse_nodes),
    ("check_name", check_name),
    ("encode_send", encode_send),
];

/// The parsers take text; the input is bytes. Bytes that are not UTF-8 are
/// decoded as a lossy decoder does (U+FFFD for each bad sequence), as the
/// library itself does with a binary handshake frame or a registry answer,
/// so that every input reaches its parser instead of being set aside.
fn as_text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// What the server or registry sent is quoted in an error message as a
/// preview only (80 characters, escaped: up to 10 characters each), so the
/// message has a bound whatever a peer sends; a frame of megabytes must
/// not come back as a message of megabytes.
const MAX_MESSAGE_CHARS: usize = 1500;

fn check_error(e: &kapokmq::Error, kinds: &[ErrorKind]) {
    assert!(kinds.contains(&e.kind()), "unexpected kind: {e:?}");
    assert!(!e.message().is_empty());
}

/// `check_error`, for input that came from a peer.
fn check_peer_error(e: &kapokmq::Error, kinds: &[ErrorKind]) {
    check_error(e, kinds);
    let n = e.message().chars().count();
    assert!(n <= MAX_MESSAGE_CHARS, "a peer's input makes a message of {n} chars: {:?}", wire::preview(e.message()));
}

/// A push frame from the server. Whatever is accepted can be acked (its
/// code passes `check_code`), and survives a round trip through JSON.
pub fn parse_push(data: &[u8]) {
    match wire::parse_push(&as_text(data)) {
        Ok(p) => {
            wire::check_code(&p.code).expect("an accepted push has an ackable code");
            let again = serde_json::json!({
                "MessageCode": p.code, "MessageData": p.data, "Topic": p.topic,
                "CreateTime": p.create_time, "ConsumedTime": p.consumed_time,
                "DelayTime": p.delay_time, "Status": p.status,
            })
            .to_string();
            assert_eq!(wire::parse_push(&(again + "\n")).expect("re-encoded push parses"), p);
        }
        Err(e) => check_peer_error(&e, &[ErrorKind::Protocol]),
    }
}

/// A handshake line. Only the three server lines (with any trailing line
/// breaks) mean something; a trailing newline never changes the meaning.
pub fn classify_handshake(data: &[u8]) {
    let line = as_text(data);
    let line = &*line;
    let kind = wire::classify_handshake(line);
    assert_eq!(wire::classify_handshake(&format!("{line}\r\n")), kind);
    let meant = match kind {
        Handshake::Prompt => wire::PROMPT,
        Handshake::Accepted => wire::AUTH_OK,
        Handshake::Rejected => wire::AUTH_ERROR,
        Handshake::Unexpected => return,
    };
    let rest = line.strip_prefix(meant).expect("a recognised line starts with its text");
    assert!(rest.chars().all(|c| c == '\r' || c == '\n'), "{line:?} was taken for {kind:?}");
}

/// The registry's node list. Every node it yields can be dialled: a port
/// above 0, a host that fits in a URL, and a URL with the path intact.
pub fn parse_nodes(data: &[u8]) {
    match wire::parse_nodes(&as_text(data)) {
        Ok(nodes) => {
            for n in nodes {
                assert!(n.port > 0);
                wire::check_host("node address", &n.addr).expect("a listed address is a host");
                assert_eq!(n.key(), format!("{}:{}", n.addr, n.port));
                let url = wire::conn_url("ws", &n.addr, n.port, Role::Consumer, "t", "c");
                assert!(url.ends_with("/Consumers/Conn/t/c"), "{url}");
                assert_eq!(url.matches('/').count(), 6, "{url}");
            }
        }
        Err(e) => check_peer_error(&e, &[ErrorKind::Protocol, ErrorKind::Auth]),
    }
}

/// Percent-decoding as the server's router does it.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).expect("a complete escape");
            out.push(u8::from_str_radix(hex, 16).expect("a hex escape"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A topic or client id, and a host. An accepted name goes into the URL as
/// exactly one path segment that the server decodes back to the name; a
/// refused one is refused with a message that names what was checked.
pub fn check_name(data: &[u8]) {
    let name = as_text(data);
    let name = &*name;
    match wire::check_name("topic", name) {
        Ok(()) => {
            assert!(!name.is_empty() && name.len() <= wire::MAX_NAME_LEN);
            let url = wire::conn_url("ws", "127.0.0.1", 8011, Role::Producer, name, "p1");
            let segment = url
                .strip_prefix("ws://127.0.0.1:8011/Producers/Conn/")
                .and_then(|rest| rest.strip_suffix("/p1"))
                .unwrap_or_else(|| panic!("{url}"));
            assert!(!segment.contains(['/', '?', '#']), "{url}");
            assert_eq!(percent_decode(segment), name.as_bytes(), "{url}");
        }
        Err(e) => {
            check_error(&e, &[ErrorKind::InvalidArgument]);
            assert!(e.message().starts_with("topic"), "{e}");
        }
    }
    match wire::check_host("mq_addr", name) {
        Ok(()) => {
            let url = wire::http_url("http", name, 8011, "/Console/Ping");
            assert!(url.ends_with(":8011/Console/Ping"), "{url}");
            assert_eq!(url.matches('/').count(), 4, "{url}");
        }
        Err(e) => {
            check_error(&e, &[ErrorKind::InvalidArgument]);
            assert!(e.message().starts_with("mq_addr"), "{e}");
        }
    }
}

/// The frame of one produced message: the first 8 bytes are the delay
/// (little-endian), the rest the text. The frame is JSON that gives back
/// exactly the text and the delay, as the server's decoder reads it.
pub fn encode_send(data: &[u8]) {
    let (delay, text) = match data.split_first_chunk::<8>() {
        Some((d, rest)) => (i64::from_le_bytes(*d), rest),
        None => (0, data),
    };
    let text = as_text(text);
    let text = &*text;
    let frame = wire::encode_send(text, delay);
    let v: serde_json::Value = serde_json::from_str(&frame).unwrap_or_else(|e| panic!("{e}: {frame:?}"));
    let fields = v.as_object().expect("a JSON object");
    assert_eq!(fields.len(), 2, "{frame}");
    assert_eq!(fields["MessageData"].as_str(), Some(text));
    assert_eq!(fields["DelayTime"].as_i64(), Some(delay));
}
