//! Conversations recorded against the real KapokMQ node and Serena
//! (tests/recorded/*.json, written by tests/real/record.py), used two ways:
//! the server's side goes through the library's parsers, which must read it
//! as the real node meant it; and every request is played again against
//! kmq-broker, which must answer with the same bytes (codes, times and ports
//! masked), so a drift between the dev broker and the real node fails here.

mod common;
mod recorded;

use common::{Broker, ClientConfig};
use kapokmq::internals::wire::{self, Handshake};
use kapokmq::{Config, ErrorKind};
use recorded::{expand, http, load, mask, message_code, ports, request_of, RawWs};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn steps(t: &Value) -> &[Value] {
    t["steps"].as_array().expect("steps")
}

fn op(step: &Value) -> &str {
    step["op"].as_str().unwrap()
}

fn conn(step: &Value) -> &str {
    step["conn"].as_str().unwrap_or("")
}

/// The server's (or client's) payload of every step as recorded; HTTP
/// steps give their answer's body.
fn recorded_payloads(t: &Value) -> Vec<Vec<u8>> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for step in steps(t) {
        let bytes = match op(step) {
            "send" | "recv" => expand(&step["payload"], &seen),
            "http" => expand(&step["response"]["body"], &seen),
            _ => Vec::new(),
        };
        seen.push(bytes);
    }
    seen
}

/// Index of the first HTTP step to `path` whose request body contains `body`
/// and that carries `key` (None: no key header).
fn find_http(t: &Value, path: &str, key: Option<&str>, body: &str) -> usize {
    let seen = recorded_payloads(t);
    steps(t)
        .iter()
        .enumerate()
        .position(|(i, s)| {
            if op(s) != "http" || s["request"]["path"] != path || s["request"]["method"] != "POST" {
                return false;
            }
            let (_, _, headers, rq_body) = request_of(s, &seen[..i]);
            let k = headers.iter().find(|(n, _)| n == "secretKey").map(|(_, v)| v.as_str());
            k == key && String::from_utf8_lossy(&rq_body).contains(body)
        })
        .unwrap_or_else(|| panic!("no recorded POST {path} with {body:?}"))
}

// ------------------------------------------------------------------ parsers

#[test]
fn real_handshakes_acks_and_pushes_read_as_the_node_meant_them() {
    let t = load("node.json");
    let seen = recorded_payloads(&t);
    // Per connection: None before the key was sent, else whether it was right.
    let mut key_ok: HashMap<&str, Option<bool>> = HashMap::new();
    let mut ready: HashMap<&str, bool> = HashMap::new();
    let mut last_produced: Option<Vec<u8>> = None;
    let mut last_ping: HashMap<&str, Vec<u8>> = HashMap::new();
    let (mut pushes, mut acks, mut rejections, mut drops) = (0, 0, 0, 0);
    for (i, step) in steps(&t).iter().enumerate() {
        let c = conn(step);
        let bytes = &seen[i];
        match op(step) {
            "open" => {
                key_ok.insert(c, None);
                ready.insert(c, false);
            }
            "send" if step["opcode"] == 9 => {
                last_ping.insert(c, bytes.clone());
            }
            "send" if !ready[c] => {
                key_ok.insert(c, Some(bytes.as_slice() == b"test"));
            }
            "send" if c == "p" => last_produced = Some(bytes.clone()),
            "send" | "close" => {}
            "recv" if step["opcode"] == 10 => {
                assert_eq!(bytes, &last_ping[c], "step {i}: a pong carries the ping's payload");
            }
            "recv" if step["opcode"] == 8 => {
                assert_eq!(bytes, &[0x03, 0xe8], "step {i}: the close frame echoes the client's code");
            }
            "recv" => {
                assert_eq!(step["opcode"], 1, "step {i}: every server frame is a text frame");
                let text =
                    std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("step {i}: the node sends valid UTF-8 only"));
                if !ready[c] {
                    let expected = match key_ok[c] {
                        None => Handshake::Prompt,
                        Some(true) => Handshake::Accepted,
                        Some(false) => Handshake::Rejected,
                    };
                    assert_eq!(wire::classify_handshake(text), expected, "step {i}: {text:?}");
                    match expected {
                        Handshake::Accepted => {
                            ready.insert(c, true);
                        }
                        // After a rejection the node prompts again.
                        Handshake::Rejected => {
                            rejections += 1;
                            key_ok.insert(c, None);
                        }
                        _ => {}
                    }
                } else if c == "c" {
                    check_push(i, text, last_produced.as_deref().expect("a push follows a send"));
                    pushes += 1;
                } else {
                    assert_eq!(text, wire::SEND_ACK, "step {i}");
                    acks += (c == "p") as usize;
                }
            }
            "eof" => {
                assert!(
                    c.starts_with("bad") || c == "cl",
                    "step {i}: only connections sent a bad frame or a close are dropped"
                );
                drops += c.starts_with("bad") as usize;
            }
            "http" | "sleep" | "quiet" => {}
            other => panic!("step {i}: unknown op {other}"),
        }
    }
    assert_eq!(rejections, 2, "the producer and the consumer each sent a wrong key once");
    assert!(pushes >= 11 && acks == pushes, "{pushes} pushes, {acks} acks");
    assert_eq!(drops, 3, "three frames that are not a message, three dropped connections");
}

/// A push must parse to what the producer sent: the data (invalid UTF-8
/// rewritten to U+FFFD, as the node does), the topic, the delay.
fn check_push(i: usize, frame: &str, produced: &[u8]) {
    assert!(frame.ends_with('\n'), "step {i}: json.Encoder ends a push with a newline");
    let push = wire::parse_push(frame).unwrap_or_else(|e| panic!("step {i}: {e}"));
    let sent: Value = serde_json::from_str(&String::from_utf8_lossy(produced)).unwrap();
    let field =
        |name: &str| sent.as_object().unwrap().iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let data = field("MessageData").and_then(Value::as_str).unwrap_or("");
    assert_eq!(push.data, data, "step {i}");
    assert_eq!(push.delay_time, field("DelayTime").and_then(Value::as_i64).unwrap_or(0), "step {i}");
    assert_eq!(push.topic, "rec_topic", "step {i}");
    assert_eq!(push.status, -1, "step {i}: pushed messages are still waiting for their ack");
    assert_eq!(push.consumed_time, 0, "step {i}");
    assert!(push.create_time > 1_600_000_000, "step {i}: CreateTime is Unix seconds");
    assert!(push.code.len() == 32 && message_code(push.code.as_bytes()).is_some(), "step {i}: {}", push.code);
}

#[test]
fn real_repush_reads_as_the_same_message_older() {
    let t = load("retry.json");
    let seen = recorded_payloads(&t);
    let retry_s = t["node_config"]["mq"]["pushRetryTime"].as_i64().unwrap();
    let pushes: Vec<wire::Push> = (0..seen.len())
        .filter(|&i| op(&t["steps"][i]) == "recv" && seen[i].starts_with(b"{"))
        .map(|i| wire::parse_push(std::str::from_utf8(&seen[i]).unwrap()).unwrap())
        .collect();
    assert_eq!(pushes.len(), 2, "one push, one re-push, nothing after the ack");
    let (first, again) = (&pushes[0], &pushes[1]);
    assert_eq!((&again.code, &again.data, again.create_time), (&first.code, &first.data, first.create_time));
    assert_eq!(first.delay_time, 0);
    assert!(again.delay_time > retry_s, "the re-push carries its age as DelayTime: {}", again.delay_time);
}

#[test]
fn real_registry_lists_read_as_nodes() {
    let t = load("cluster.json");
    let seen = recorded_payloads(&t);
    let port = |name: &str| t["ports"][name].as_u64().unwrap() as u16;
    let body = |i: usize| String::from_utf8(seen[i].clone()).unwrap();
    let registry = |key: Option<&str>, nth: usize| {
        let mut found = steps(&t).iter().enumerate().filter(|(i, s)| {
            op(s) == "http"
                && s["request"]["path"] == "/Registry/GetNodes"
                && request_of(s, &seen[..*i]).2.iter().find(|(n, _)| n == "secretKey").map(|(_, v)| v.as_str()) == key
        });
        found.nth(nth).unwrap().0
    };

    let none = body(registry(Some("test"), 0));
    assert_eq!(none, "null");
    assert!(wire::parse_nodes(&none).unwrap().is_empty(), "null is no node");

    let two = wire::parse_nodes(&body(registry(Some("test"), 1))).unwrap();
    let mut keys: Vec<String> = two.iter().map(|n| n.key()).collect();
    keys.sort();
    let mut want = vec![format!("127.0.0.1:{}", port("node_a")), format!("127.0.0.1:{}", port("node_b"))];
    want.sort();
    assert_eq!(keys, want);
    assert!(two.iter().all(|n| n.name == format!("mq:{}", n.key())));

    for key in [Some("qqq"), None] {
        let e = wire::parse_nodes(&body(registry(key, 0))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    }

    // A node's own view has the registry's shape and lists the node itself.
    let own = find_http(&t, "/Console/GetNodes", Some("test"), "");
    let nodes = wire::parse_nodes(&body(own)).unwrap();
    assert!(nodes.iter().any(|n| n.port == port("node_a")), "{nodes:?}");
}

/// Answers each connection with the next recorded HTTP answer, as the node
/// sent it (status line, headers, body).
/// A recorded HTTP answer: status line, headers, body.
type Answer = (String, Vec<(String, String)>, Vec<u8>);

fn serve_recorded(answers: Vec<Answer>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (status, headers, body) in answers {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 4096];
            // Head, then as many body bytes as Content-Length says.
            loop {
                let n = s.read(&mut chunk).unwrap();
                request.extend_from_slice(&chunk[..n]);
                let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if n == 0 || request.len() >= end + 4 + len {
                    break;
                }
            }
            let mut out = format!("{status}\r\n");
            for (k, v) in &headers {
                if !matches!(k.as_str(), "content-length" | "connection" | "transfer-encoding") {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
            }
            out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
            s.write_all(out.as_bytes()).unwrap();
            s.write_all(&body).unwrap();
        }
    });
    port
}

fn recorded_answer(t: &Value, seen: &[Vec<u8>], i: usize) -> (String, Vec<(String, String)>, Vec<u8>) {
    let rs = &t["steps"][i]["response"];
    let headers = rs["headers"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()));
    (rs["status_line"].as_str().unwrap().to_string(), headers.collect(), seen[i].clone())
}

#[test]
fn real_console_answers_read_by_the_console_client() {
    let t = load("node.json");
    let cluster = load("cluster.json");
    let seen = recorded_payloads(&t);
    let cseen = recorded_payloads(&cluster);
    let nodes_listed = find_http(&cluster, "/Console/GetNodes", Some("test"), "");
    let code_of = |i: usize| String::from_utf8(message_code(&seen[i]).unwrap().to_vec()).unwrap();
    let sent = code_of(find_http(&t, "/Producer/Send", Some("test"), "over%20http"));
    // The first message pushed to the consumer, which it acked.
    let acked_push = (0..seen.len())
        .find(|&i| {
            op(&t["steps"][i]) == "recv" && conn(&t["steps"][i]) == "c" && seen[i].starts_with(b"{\"MessageCode\"")
        })
        .expect("a push");
    let acked = code_of(acked_push);
    let mut answers = Vec::new();
    let mut pick = |path: &str, key: Option<&str>, body: &str| {
        answers.push(recorded_answer(&t, &seen, find_http(&t, path, key, body)));
    };
    let k = Some("test");
    pick("/Console/Ping", k, "");
    pick("/Console/Ping", Some("qqq"), "");
    pick("/Console/GetClients", k, "");
    pick("/Console/CountMessage", k, "");
    pick("/Producer/Send", k, "over%20http");
    pick("/Producer/Send", k, "delayTime=soon");
    pick("/Console/GetMessage", k, &sent);
    pick("/Console/GetMessage", k, &acked);
    pick("/Console/GetMessage", k, "0123456789abcdef0123456789abcdef");
    pick("/Console/GetMessageList", k, "topic=rec_http");
    pick("/Console/GetMessageList", k, "no_such_topic");
    pick("/Console/DelMessage", k, &sent);
    pick("/Console/GetConfig", k, "");
    pick("/Console/GetNodes", k, "");
    answers.push(recorded_answer(&cluster, &cseen, nodes_listed));
    let port = serve_recorded(answers);

    let mut cfg = Config::new();
    cfg.set("mq_port", &port.to_string()).unwrap();
    let console = kapokmq::console::Console::new(&cfg).unwrap();
    console.ping().unwrap();
    assert_eq!(console.ping().unwrap_err().kind(), ErrorKind::Auth);
    let clients = console.clients().unwrap();
    assert!(clients["consumers"].is_null() && clients["producers"].is_null(), "{clients}");
    assert_eq!(console.count().unwrap()["all"], 0);
    let code = console.send("rec_http", "over http", 0).unwrap();
    assert_eq!(Some(code.as_bytes()), message_code(&seen[find_http(&t, "/Producer/Send", k, "over%20http")]));
    let e = console.send("rec_http", "bad delay", 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.message().contains("ParseInt"), "{e}");
    assert_eq!(code, sent);
    let message = console.message(&code).unwrap();
    assert_eq!(
        (&message["MessageData"], &message["Status"], &message["ConsumedTime"]),
        (&"over http".into(), &(-1).into(), &0.into())
    );
    let consumed = console.message(&acked).unwrap();
    assert_eq!(consumed["Status"], 1, "{consumed}");
    assert!(consumed["ConsumedTime"].as_i64().unwrap() >= consumed["CreateTime"].as_i64().unwrap(), "{consumed}");
    assert!(console.message("0123456789abcdef0123456789abcdef").unwrap().is_null(), "an unknown code is no message");
    let list = console.messages("2000-01-01 00:00:00", "2100-01-01 00:00:00", 3, "rec_http").unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["MessageCode"], code.as_str());
    assert!(console.messages("2000-01-01 00:00:00", "2100-01-01 00:00:00", 1, "x").unwrap().is_null());
    console.delete(&code).unwrap();
    let settings = console.server_config().unwrap();
    assert_eq!(settings["pushCount"], 1000, "{settings}");
    assert!(console.nodes().unwrap().is_null(), "a node outside a cluster answers an empty body");
    let nodes = console.nodes().unwrap();
    assert!(nodes.as_array().is_some_and(|a| !a.is_empty()), "{nodes}");
}

// ------------------------------------------------------------ kmq-broker

/// kmq-broker flags for the node settings a transcript was recorded with.
fn broker_flags(t: &Value) -> Vec<String> {
    let mq = &t["node_config"]["mq"];
    let ms = |k: &str| (mq[k].as_u64().unwrap() * 1000).to_string();
    let mut flags = vec![
        "--push-count".to_string(),
        mq["pushCount"].to_string(),
        "--push-speed-ms".into(),
        ms("pushMessagesSpeed"),
        "--check-speed-ms".into(),
        ms("checkSpeed"),
        "--push-retry-ms".into(),
        ms("pushRetryTime"),
        "--push-mode".into(),
        mq["pushType"].to_string(),
    ];
    if mq["isCleanConsumed"] == 1 {
        flags.push("--clean-consumed".into());
    }
    flags
}

/// The HTTP headers a client (or the node's browser console) depends on;
/// the rest (Date, Content-Length...) may differ.
const COMPARED_HEADERS: &[&str] = &[
    "content-type",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-expose-headers",
];

/// Settings whose value depends on the machine or on settings kmq-broker
/// does not have (it recovers exactly when it has a WAL), not on behaviour.
const LOCAL_SETTINGS: &[&str] =
    &["gossipPort", "masterPort", "masterAddr", "registryAddr", "registryGossipPort", "recoveryStrategy"];

/// Compares one HTTP answer of kmq-broker with the recorded one; returns
/// the differences.
fn compare_http(
    i: usize,
    step: &Value,
    recorded_body: &[u8],
    got: &recorded::HttpAnswer,
    rec_ports: &[(String, u16)],
    ports: &[(String, u16)],
) -> Vec<String> {
    let mut diffs = Vec::new();
    let rs = &step["response"];
    let what = format!(
        "step {i} {} {}",
        step["request"]["method"].as_str().unwrap(),
        step["request"]["path"].as_str().unwrap()
    );
    if rs["status_line"] != got.status_line.as_str() {
        diffs.push(format!("{what}: status {:?}, the node says {}", got.status_line, rs["status_line"]));
    }
    for h in COMPARED_HEADERS {
        let want = rs["headers"][*h].as_str();
        if got.header(h) != want {
            diffs.push(format!("{what}: header {h} {:?}, the node says {want:?}", got.header(h)));
        }
    }
    let (want, have) = (mask(recorded_body, rec_ports), mask(&got.body, ports));
    if step["request"]["path"] == "/Console/GetConfig" && want.starts_with("{\"code\":0") {
        diffs.extend(compare_settings(&what, &want, &have));
    } else if want != have {
        diffs.push(format!("{what}: body {:?}, the node says {:?}", wire::preview(&have), wire::preview(&want)));
    }
    diffs
}

/// GetConfig: the same keys in the same order, the same JSON types, the same
/// values except for local settings.
fn compare_settings(what: &str, want: &str, have: &str) -> Vec<String> {
    let want: Value = serde_json::from_str(want).unwrap();
    let have: Value = match serde_json::from_str(have) {
        Ok(v) => v,
        Err(e) => return vec![format!("{what}: not JSON: {e}: {have}")],
    };
    let (w, h) = (want["data"].as_object().unwrap(), have["data"].as_object());
    let Some(h) = h else {
        return vec![format!("{what}: no settings object in {have}")];
    };
    let mut diffs = Vec::new();
    let (wk, hk): (Vec<_>, Vec<_>) = (w.keys().collect(), h.keys().collect());
    if wk != hk {
        diffs.push(format!("{what}: settings {hk:?}, the node has {wk:?}"));
    }
    for (k, v) in w {
        let same_type = std::mem::discriminant(v)
            == h.get(k).map(std::mem::discriminant).unwrap_or(std::mem::discriminant(&Value::Null));
        if !same_type || (!LOCAL_SETTINGS.contains(&k.as_str()) && h.get(k) != Some(v)) {
            diffs.push(format!("{what}: setting {k} is {:?}, the node says {v}", h.get(k)));
        }
    }
    diffs
}

/// Plays every step of the node transcript against kmq-broker and lists
/// where its answers differ from the real node's.
fn replay_node(t: &Value, port: u16) -> Vec<String> {
    let rec_ports = ports(t);
    let ports = vec![("node".to_string(), port)];
    let recorded = recorded_payloads(t);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut conns: HashMap<String, RawWs> = HashMap::new();
    let mut diffs = Vec::new();
    for (i, step) in steps(t).iter().enumerate() {
        let c = conn(step).to_string();
        let mut got = Vec::new();
        match op(step) {
            "open" => {
                let ws = RawWs::connect(port, step["path"].as_str().unwrap());
                let want: Vec<&str> = step["answer"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
                if ws.head != want {
                    diffs.push(format!("step {i} on {c}: upgrade answer {:?}, the node's {want:?}", ws.head));
                }
                conns.insert(c, ws);
            }
            "send" => {
                got = expand(&step["payload"], &seen);
                conns.get_mut(&c).unwrap().send(step["opcode"].as_u64().unwrap() as u8, &got);
            }
            "recv" => match conns.get_mut(&c).unwrap().recv() {
                None => diffs.push(format!("step {i} on {c}: connection closed, the node sent a frame")),
                Some(m) => {
                    let (mut want, mut have) = (mask(&recorded[i], &rec_ports), mask(&m.payload, &ports));
                    if let Some(range) = step["delay_range"].as_array() {
                        let (lo, hi) = (range[0].as_i64().unwrap(), range[1].as_i64().unwrap());
                        let delay = |text: &str| wire::parse_push(text).map(|p| p.delay_time).unwrap_or(i64::MIN);
                        let (w, h) = (
                            delay(&String::from_utf8_lossy(&recorded[i])),
                            delay(&String::from_utf8_lossy(&m.payload)),
                        );
                        if !(lo..=hi).contains(&h) {
                            diffs.push(format!("step {i} on {c}: DelayTime {h}, the node's rule gives {lo} to {hi}"));
                        }
                        want = want.replace(&format!("\"DelayTime\":{w},"), "\"DelayTime\":<delay>,");
                        have = have.replace(&format!("\"DelayTime\":{h},"), "\"DelayTime\":<delay>,");
                    }
                    if m.opcode as u64 != step["opcode"].as_u64().unwrap() || want != have {
                        diffs.push(format!(
                            "step {i} on {c}: opcode {} {:?}, the node sent opcode {} {:?}",
                            m.opcode,
                            wire::preview(&have),
                            step["opcode"],
                            wire::preview(&want)
                        ));
                    }
                    let fragments: Vec<u64> = step["fragments"]
                        .as_array()
                        .map_or(vec![recorded[i].len() as u64], |a| a.iter().map(|n| n.as_u64().unwrap()).collect());
                    let have_fragments: Vec<u64> = m.fragments.iter().map(|&n| n as u64).collect();
                    if fragments != have_fragments {
                        diffs.push(format!(
                            "step {i} on {c}: frames of {have_fragments:?} bytes, the node's {fragments:?}"
                        ));
                    }
                    got = m.payload;
                }
            },
            "eof" => {
                if let Some(m) = conns.get_mut(&c).unwrap().recv() {
                    diffs.push(format!(
                        "step {i} on {c}: opcode {} frame, the node dropped the connection without one",
                        m.opcode
                    ));
                }
            }
            "close" => {
                conns.remove(&c);
            }
            "sleep" => std::thread::sleep(Duration::from_millis(step["ms"].as_u64().unwrap())),
            "quiet" => {
                let ms = step["ms"].as_u64().unwrap();
                if let Some(m) = conns.get_mut(&c).unwrap().recv_within(Duration::from_millis(ms)) {
                    diffs.push(format!(
                        "step {i} on {c}: {:?} within {ms} ms, the node sent nothing",
                        wire::preview(&String::from_utf8_lossy(&m.payload))
                    ));
                }
            }
            "http" => {
                let (method, path, headers, body) = request_of(step, &seen);
                let answer = http(port, &method, &path, &headers, &body);
                diffs.extend(compare_http(i, step, &recorded[i], &answer, &rec_ports, &ports));
                got = answer.body;
            }
            other => panic!("step {i}: unknown op {other}"),
        }
        seen.push(got);
    }
    diffs
}

fn replay_against_kmq_broker(name: &str) {
    let t = load(name);
    let flags = broker_flags(&t);
    let broker = Broker::start(&flags.iter().map(String::as_str).collect::<Vec<_>>());
    let diffs = replay_node(&t, broker.port);
    assert!(diffs.is_empty(), "kmq-broker differs from the real node ({name}):\n{}", diffs.join("\n"));
}

#[test]
fn kmq_broker_answers_the_node_transcript_like_the_real_node() {
    replay_against_kmq_broker("node.json");
}

#[test]
fn kmq_broker_pushes_again_and_cleans_like_the_real_node() {
    replay_against_kmq_broker("retry.json");
}

#[test]
fn kmq_broker_publishes_to_every_subscriber_like_the_real_node() {
    replay_against_kmq_broker("pubsub.json");
}

/// The body of a node list with ports named and entries sorted, so lists in
/// a different order compare equal.
fn sorted_list(body: &[u8], ports: &[(String, u16)]) -> String {
    let masked = mask(body, ports);
    match serde_json::from_str::<Value>(&masked) {
        Ok(Value::Array(mut entries)) => {
            entries.sort_by_key(|e| e.to_string());
            serde_json::to_string(&entries).unwrap()
        }
        _ => masked,
    }
}

#[test]
fn kmq_broker_registry_answers_like_serena() {
    let t = load("cluster.json");
    let rec_ports = ports(&t);
    let recorded = recorded_payloads(&t);
    let registry = Broker::start(&["--registry", "--node-ttl-ms", "3000"]);
    let mut nodes: Vec<Broker> = Vec::new();
    let mut broker_ports = vec![("serena".to_string(), registry.port)];
    let mut diffs = Vec::new();
    for (i, step) in steps(&t).iter().enumerate() {
        assert_eq!(op(step), "http");
        let target = step["port"].as_str().unwrap();
        let path = step["request"]["path"].as_str().unwrap();
        let listed = String::from_utf8_lossy(&recorded[i]).contains("\"Name\"");
        if target == "serena" && listed && nodes.is_empty() {
            // The recording started its two nodes here.
            let join = format!("127.0.0.1:{}", registry.port);
            let mut flags = broker_flags(&t);
            flags.extend(["--join".to_string(), join, "--heartbeat-ms".into(), "200".into()]);
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            for name in ["node_a", "node_b"] {
                let node = Broker::start(&flags);
                broker_ports.push((name.to_string(), node.port));
                nodes.push(node);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while wire::parse_nodes(&common::console(registry.port, "/Registry/GetNodes")).map_or(0, |n| n.len()) < 2 {
                assert!(Instant::now() < deadline, "the nodes did not join the registry");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let port = broker_ports.iter().find(|(n, _)| n == target).expect("a started process").1;
        let (method, _, headers, body) = request_of(step, &recorded);
        let got = http(port, &method, path, &headers, &body);
        if path == "/Console/GetNodes" && listed {
            // The node's own view: the real one listed itself (gossip had
            // not told it about the other node yet); it must be in the list.
            let have = sorted_list(&got.body, &broker_ports);
            let want: Vec<Value> = serde_json::from_str(&mask(&recorded[i], &rec_ports)).unwrap();
            for entry in want {
                if !have.contains(&entry.to_string()) {
                    diffs.push(format!("step {i} {path}: {have} lacks the node's own entry {entry}"));
                }
            }
            diffs.extend(compare_http(i, step, &got.body, &got, &broker_ports, &broker_ports));
        } else if listed {
            let (want, have) = (sorted_list(&recorded[i], &rec_ports), sorted_list(&got.body, &broker_ports));
            if want != have {
                diffs.push(format!("step {i} {path}: {have}, Serena says {want}"));
            }
            diffs.extend(compare_http(i, step, &got.body, &got, &broker_ports, &broker_ports));
        } else {
            diffs.extend(compare_http(i, step, &recorded[i], &got, &rec_ports, &broker_ports));
        }
    }
    assert!(diffs.is_empty(), "kmq-broker differs from Serena and the real node:\n{}", diffs.join("\n"));
}

/// The recorded frame cuts (checked against kmq-broker above) reach the
/// library's consumer: messages around gorilla's cut points and the 1 MiB
/// one arrive whole.
#[test]
fn library_receives_pushes_cut_like_the_real_node_cuts_them() {
    let t = load("node.json");
    let seen = recorded_payloads(&t);
    let cut: Vec<usize> = steps(&t)
        .iter()
        .enumerate()
        .filter(|(_, s)| s["fragments"].is_array())
        .map(|(i, _)| wire::parse_push(std::str::from_utf8(&seen[i]).unwrap()).unwrap().data.len())
        .collect();
    assert!(cut.len() >= 5 && cut.contains(&(1 << 20)), "recorded fragmented pushes: {cut:?}");
    let broker = Broker::start(&[]);
    // The recorded topic, so that the pushes are as long as the recorded ones.
    let cfg = broker.config("rec_topic");
    let consumer = kapokmq::Consumer::connect(&cfg).unwrap();
    let producer = kapokmq::Producer::connect(&cfg).unwrap();
    for (n, len) in cut.iter().enumerate() {
        let data: String = std::iter::repeat(char::from(b'a' + n as u8)).take(*len).collect();
        producer.send_wait(&data, 0, 10_000).unwrap();
        let m = consumer.receive(10_000).unwrap();
        assert_eq!((m.data.len(), m.data == data), (*len, true), "message of {len} bytes");
        consumer.ack(&m.code).unwrap();
    }
}
