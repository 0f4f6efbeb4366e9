//! End-to-end tests: each starts its own kmq-broker on a free loopback port and talks to it
//! with an independent WebSocket client (tokio-tungstenite) and raw HTTP.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{client_async, WebSocketStream};

use kapokmq_testkit::Broker;

/// The kmq-broker under test, as cargo built it for these tests.
const BROKER: &str = env!("CARGO_BIN_EXE_kmq-broker");

type Ws = WebSocketStream<TcpStream>;

/// WebSocket clients of a broker.
trait Clients {
    async fn ws(&self, path: &str) -> Ws;
    async fn ready_with(&self, path: &str, key: &str) -> Ws;

    /// Connects and completes the handshake with the right key.
    async fn ready(&self, path: &str) -> Ws {
        self.ready_with(path, "test").await
    }
}

impl Clients for Broker {
    async fn ws(&self, path: &str) -> Ws {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let (ws, _) = client_async(format!("ws://127.0.0.1:{}{path}", self.port), tcp).await.unwrap();
        ws
    }

    /// Connects and completes the handshake with the key `key`.
    async fn ready_with(&self, path: &str, key: &str) -> Ws {
        let mut ws = self.ws(path).await;
        assert_eq!(text(&mut ws).await, "Please enter the secret key");
        ws.send(Message::text(key)).await.unwrap();
        assert_eq!(text(&mut ws).await, "Secret key matching succeeded");
        ws
    }
}

async fn text(ws: &mut Ws) -> String {
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The connection must end without a close frame.
async fn expect_abrupt_end(ws: &mut Ws) {
    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        Ok(Some(Err(WsError::Protocol(_)))) | Ok(Some(Err(WsError::Io(_)))) | Ok(None) => {}
        other => panic!("expected an abnormal closure, got {other:?}"),
    }
}

fn send_frame(data: &str, delay: i64) -> Message {
    Message::text(format!(r#"{{"MessageData":"{data}","DelayTime":{delay}}}"#))
}

/// Checks a push frame's exact shape and returns (code, rest after the code).
fn check_push(frame: &str, data: &str, topic: &str, delay: i64) -> String {
    assert!(frame.ends_with("}\n"), "{frame:?}");
    let code = &frame[16..48];
    assert!(frame.starts_with(r#"{"MessageCode":""#), "{frame:?}");
    assert!(code.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{code}");
    let rest = &frame[48..];
    let want_head = format!(r#"","MessageData":"{data}","Topic":"{topic}","CreateTime":"#);
    assert!(rest.starts_with(&want_head), "{frame:?}");
    let tail = format!(r#","ConsumedTime":0,"DelayTime":{delay},"Status":-1}}"#) + "\n";
    assert!(rest.ends_with(&tail), "{frame:?}");
    let ct: i64 = rest[want_head.len()..rest.len() - tail.len()].parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - ct).abs() < 30);
    code.to_string()
}

#[tokio::test]
async fn handshake_wrong_key_loops_then_succeeds() {
    let b = Broker::spawn_bin(BROKER, &[]);
    for path in ["/Producers/Conn/t/P1", "/Consumers/Conn/t/C1"] {
        let mut ws = b.ws(path).await;
        assert_eq!(text(&mut ws).await, "Please enter the secret key");
        for _ in 0..3 {
            ws.send(Message::text("qqq")).await.unwrap();
            assert_eq!(text(&mut ws).await, "Secret key matching error");
            assert_eq!(text(&mut ws).await, "Please enter the secret key");
        }
        ws.send(Message::binary(b"test".to_vec())).await.unwrap();
        assert_eq!(text(&mut ws).await, "Secret key matching succeeded");
    }
}

#[tokio::test]
async fn acks_in_order_and_push_format() {
    let b = Broker::spawn_bin(BROKER, &["--push-speed-ms", "0"]);
    let mut c = b.ready("/Consumers/Conn/topic_a/C1").await;
    let mut p = b.ready("/Producers/Conn/topic_a/P1").await;
    let n = 500;
    for i in 0..n {
        p.feed(send_frame(&format!("m{i}"), 0)).await.unwrap();
    }
    p.flush().await.unwrap();
    for _ in 0..n {
        assert_eq!(text(&mut p).await, "ok");
    }
    let mut codes = Vec::new();
    for i in 0..n {
        let f = text(&mut c).await;
        codes.push(check_push(&f, &format!("m{i}"), "topic_a", 0));
    }
    let body = b.post("/Console/CountMessage", "test", "");
    assert_eq!(body, format!(r#"{{"code":0,"data":{{"all":{n},"consumed":0,"delay":0,"unconsumed":{n}}}}}"#));
    for code in &codes {
        c.feed(Message::text(code.clone())).await.unwrap();
    }
    c.feed(Message::text("not-a-code")).await.unwrap();
    c.flush().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body = b.post("/Console/CountMessage", "test", "");
        if body.contains(&format!(r#""consumed":{n}"#)) {
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = b.post("/Console/GetMessage", "test", &format!("messageCode={}", codes[0]));
    assert!(
        got.starts_with(&format!(
            r#"{{"code":0,"data":{{"MessageCode":"{}","MessageData":"m0","Topic":"topic_a","#,
            codes[0]
        )),
        "{got}"
    );
    assert!(got.ends_with(r#""DelayTime":0,"Status":1}}"#), "{got}");
}

#[tokio::test]
async fn quirky_frames_accepted() {
    let b = Broker::spawn_bin(BROKER, &[]);
    let mut c = b.ready("/Consumers/Conn/q/C1").await;
    let mut p = b.ready("/Producers/Conn/q/P1").await;
    p.send(Message::binary(br#"{"MessageData":"bin","DelayTime":0}"#.to_vec())).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    p.send(Message::text(r#"{"messagedata":"low","delaytime":0,"extra":[1,2]}"#)).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    p.send(Message::binary(b"{\"MessageData\":\"a\xff\xfeb<&>\",\"DelayTime\":0}".to_vec())).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    check_push(&text(&mut c).await, "bin", "q", 0);
    check_push(&text(&mut c).await, "low", "q", 0);
    check_push(&text(&mut c).await, "a\u{FFFD}\u{FFFD}b\\u003c\\u0026\\u003e", "q", 0);
    // pings are answered with the same payload
    p.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), p.next()).await {
        Ok(Some(Ok(Message::Pong(d)))) => assert_eq!(&d[..], b"hi"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_frame_drops_connection_without_close_frame() {
    let b = Broker::spawn_bin(BROKER, &[]);
    for bad in [r#"{"MessageData":5,"DelayTime":0}"#, "hello", r#"{"MessageData":"x","DelayTime":1.5}"#] {
        let mut p = b.ready("/Producers/Conn/bad/P1").await;
        p.feed(send_frame("good", 0)).await.unwrap();
        p.feed(Message::text(bad)).await.unwrap();
        p.feed(send_frame("lost", 0)).await.unwrap();
        p.flush().await.unwrap();
        assert_eq!(text(&mut p).await, "ok");
        expect_abrupt_end(&mut p).await;
    }
    let body = b.post("/Console/CountMessage", "test", "");
    assert!(body.contains(r#""all":3,"#), "{body}");
}

#[tokio::test]
async fn drop_after_n_frames() {
    let b = Broker::spawn_bin(BROKER, &["--drop-after", "3"]);
    let mut p = b.ready("/Producers/Conn/d/P1").await;
    for i in 0..5 {
        p.feed(send_frame(&format!("m{i}"), 0)).await.unwrap();
    }
    p.flush().await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    assert_eq!(text(&mut p).await, "ok");
    expect_abrupt_end(&mut p).await;
    assert!(b.post("/Console/CountMessage", "test", "").contains(r#""all":2,"#));
}

#[tokio::test]
async fn percent_2f_is_404_and_plain_get_is_400() {
    let b = Broker::spawn_bin(BROKER, &[]);
    let up = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for path in ["/Producers/Conn/a%2Fb/P1", "/Consumers/Conn/t/a%2fb", "/Producers/Conn/t", "/Nope"] {
        let (status, body) = b.http(&format!("GET {path} HTTP/1.1\r\nHost: x\r\n{up}Connection: close\r\n\r\n"));
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{path}");
        assert_eq!(body, "404 page not found");
        let (status, _) = b.http(&format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{path}");
    }
    let (status, _) = b.http("GET /Producers/Conn/t/P1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let (status, _) = b.http(&format!("GET /Producers/Conn/t/P1 HTTP/1.1\r\nHost: x\r\n{up}\r\n"));
    assert_eq!(status, "HTTP/1.1 101 Switching Protocols");
}

#[tokio::test]
async fn http_console_api() {
    let b = Broker::spawn_bin(BROKER, &["--secret-key", "k1"]);
    assert_eq!(b.post("/Console/Ping", "k1", ""), r#"{"code":0}"#);
    assert_eq!(b.post("/Console/Ping", "bad", ""), r#"{"code":-1,"msg":"Secret key matching error"}"#);
    assert_eq!(b.post("/Console/GetClients", "k1", ""), r#"{"code":0,"consumers":null,"producers":null}"#);
    assert_eq!(
        b.post("/Producer/Send", "k1", "messageData=hi&topic=t"),
        r#"{"code":-1,"msg":{"Func":"ParseInt","Num":"","Err":{}}}"#
    );
    let sent = b.post("/Producer/Send", "k1", "messageData=hello+world%21&topic=t&delayTime=0");
    assert!(sent.starts_with(r#"{"code":0,"msg":""#) && sent.len() == 17 + 32 + 2, "{sent}");
    let code = &sent[17..49];
    let got = b.post("/Console/GetMessage", "k1", &format!("messageCode={code}"));
    assert!(got.contains(r#""MessageData":"hello world!","Topic":"t","#), "{got}");
    assert_eq!(b.post("/Console/GetMessage", "k1", "messageCode=00"), r#"{"code":-1,"data":"error"}"#);
    let list = b.post(
        "/Console/GetMessageList",
        "k1",
        "startTime=2000-01-01+00%3A00%3A00&endTime=2999-01-01+00%3A00%3A00&status=3&topic=",
    );
    assert!(
        list.starts_with(&format!(r#"{{"code":0,"data":[{{"MessageCode":"{code}","MessageData":"","Topic":"t","#)),
        "{list}"
    );
    let none = b.post(
        "/Console/GetMessageList",
        "k1",
        "startTime=2000-01-01+00%3A00%3A00&endTime=2999-01-01+00%3A00%3A00&status=1&topic=t",
    );
    assert_eq!(none, r#"{"code":0,"data":null}"#);
    assert_eq!(b.post("/Console/DelMessage", "k1", &format!("messageCode={code}")), r#"{"code":0}"#);
    assert_eq!(
        b.post("/Console/CountMessage", "k1", ""),
        r#"{"code":0,"data":{"all":0,"consumed":0,"delay":0,"unconsumed":0}}"#
    );
    assert!(b.post("/Console/GetConfig", "k1", "").starts_with(r#"{"code":0,"data":{"checkSpeed":5,"#));
    assert_eq!(b.post("/Console/GetNodes", "k1", ""), "");
    let _p = b.ready_with("/Producers/Conn/t/P9", "k1").await;
    let clients = b.post("/Console/GetClients", "k1", "");
    assert!(clients.starts_with(r#"{"code":0,"consumers":null,"producers":[{"ProducerId":"P9","Topic":"t","ProducerIp":"127.0.0.1","JoinTime":"#), "{clients}");
}

/// Unix seconds now, and a push's CreateTime and DelayTime.
fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn push_times(frame: &str) -> (i64, i64) {
    let field = |name: &str| -> i64 {
        let at = frame.find(&format!("\"{name}\":")).unwrap_or_else(|| panic!("no {name} in {frame}")) + name.len() + 3;
        let end = frame[at..].find([',', '}']).unwrap() + at;
        frame[at..end].parse().unwrap()
    };
    (field("CreateTime"), field("DelayTime"))
}

/// The node's check compares whole seconds: a message delayed by 1 s is due
/// once the clock's second is past its creation second, and an unacked one
/// is pushed again once `DelayTime + pushRetryTime < now - CreateTime`,
/// with its age as the new DelayTime.
#[tokio::test]
async fn delayed_message_and_retry() {
    let b = Broker::spawn_bin(BROKER, &["--check-speed-ms", "100", "--push-retry-ms", "1500"]);
    let mut c = b.ready("/Consumers/Conn/dl/C1").await;
    let mut p = b.ready("/Producers/Conn/dl/P1").await;
    let t0 = Instant::now();
    p.send(send_frame("later", 1)).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    let f = text(&mut c).await;
    let (created, delay) = push_times(&f);
    assert!(unix_now() > created, "pushed within its creation second");
    assert!(t0.elapsed() < Duration::from_millis(1500), "{:?}", t0.elapsed());
    check_push(&f, "later", "dl", 1);
    assert_eq!(delay, 1);
    // not acked: pushed again once its age (whole seconds) exceeds 1 + 1.5 s
    let f2 = text(&mut c).await;
    let (created2, age) = push_times(&f2);
    assert_eq!(&f2[..48], &f[..48]);
    assert_eq!(created2, created);
    assert!(age >= 3 && unix_now() >= created + 3, "{f2}");
}

#[tokio::test]
async fn late_consumer_gets_message_only_on_retry() {
    let b = Broker::spawn_bin(BROKER, &["--check-speed-ms", "100", "--push-retry-ms", "800"]);
    let mut p = b.ready("/Producers/Conn/late/P1").await;
    p.send(send_frame("early", 0)).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    let mut c = b.ready("/Consumers/Conn/late/C1").await;
    let f = text(&mut c).await;
    assert!(f.contains(r#""MessageData":"early""#));
    // A re-push, not a first push: its DelayTime is its age, at least 1 s.
    let (created, age) = push_times(&f);
    assert!(age >= 1 && unix_now() > created, "{f}");
}

#[tokio::test]
async fn wal_replay_after_sigkill() {
    let wal = std::env::temp_dir().join(format!("kmq-broker-test-{}.wal", std::process::id()));
    let _ = std::fs::remove_file(&wal);
    let walp = wal.to_str().unwrap();
    let args = ["--wal", walp, "--check-speed-ms", "100", "--push-retry-ms", "300"];
    let mut b = Broker::spawn_bin(BROKER, &args);
    {
        let mut c = b.ready("/Consumers/Conn/w/C1").await;
        let mut p = b.ready("/Producers/Conn/w/P1").await;
        for i in 0..10 {
            p.feed(send_frame(&format!("w{i}"), 0)).await.unwrap();
        }
        p.flush().await.unwrap();
        for _ in 0..10 {
            assert_eq!(text(&mut p).await, "ok");
        }
        // consume the first three
        for i in 0..3 {
            let f = text(&mut c).await;
            let code = check_push(&f, &format!("w{i}"), "w", 0);
            c.send(Message::text(code)).await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !b.post("/Console/CountMessage", "test", "").contains(r#""consumed":3,"#) {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    b.kill(); // SIGKILL
    let b = Broker::spawn_bin(BROKER, &args);
    assert_eq!(
        b.post("/Console/CountMessage", "test", ""),
        r#"{"code":0,"data":{"all":10,"consumed":3,"delay":0,"unconsumed":7}}"#
    );
    let mut c = b.ready("/Consumers/Conn/w/C1").await;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 7 {
        let f = text(&mut c).await;
        let i = f.find(r#""MessageData":"w"#).unwrap();
        let n: u32 = f[i + 16..].split('"').next().unwrap().parse().unwrap();
        assert!(n >= 3, "{f}");
        seen.insert(n);
    }
    drop(b);
    let _ = std::fs::remove_file(&wal);
}

#[tokio::test]
async fn push_modes() {
    // mode 1: each message to exactly one consumer
    let b = Broker::spawn_bin(BROKER, &["--push-speed-ms", "0"]);
    let mut c1 = b.ready("/Consumers/Conn/m/C1").await;
    let mut c2 = b.ready("/Consumers/Conn/m/C2").await;
    let mut p = b.ready("/Producers/Conn/m/P1").await;
    for i in 0..10 {
        p.feed(send_frame(&format!("x{i}"), 0)).await.unwrap();
    }
    p.flush().await.unwrap();
    for _ in 0..10 {
        assert_eq!(text(&mut p).await, "ok");
    }
    let mut total = 0;
    for c in [&mut c1, &mut c2] {
        while let Ok(Some(Ok(Message::Text(_)))) = tokio::time::timeout(Duration::from_millis(300), c.next()).await {
            total += 1;
        }
    }
    assert_eq!(total, 10);
    drop(b);

    // mode 2: every consumer of the topic, none of another topic
    let b = Broker::spawn_bin(BROKER, &["--push-mode", "2"]);
    let mut c1 = b.ready("/Consumers/Conn/m/C1").await;
    let mut c2 = b.ready("/Consumers/Conn/m/C2").await;
    let mut other = b.ready("/Consumers/Conn/other/C3").await;
    let mut p = b.ready("/Producers/Conn/m/P1").await;
    p.send(send_frame("all", 0)).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    check_push(&text(&mut c1).await, "all", "m", 0);
    check_push(&text(&mut c2).await, "all", "m", 0);
    assert!(tokio::time::timeout(Duration::from_millis(300), other.next()).await.is_err());
}

#[tokio::test]
async fn stall_ack_delay_garbage_and_silent() {
    let b = Broker::spawn_bin(BROKER, &["--stall-acks"]);
    let mut p = b.ready("/Producers/Conn/s/P1").await;
    p.send(send_frame("x", 0)).await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), p.next()).await.is_err());
    assert!(b.post("/Console/CountMessage", "test", "").contains(r#""all":1,"#));
    drop(b);

    let b = Broker::spawn_bin(BROKER, &["--ack-delay-ms", "300"]);
    let mut p = b.ready("/Producers/Conn/s/P1").await;
    let t0 = Instant::now();
    p.send(send_frame("x", 0)).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    assert!(t0.elapsed() >= Duration::from_millis(290));
    drop(b);

    let b = Broker::spawn_bin(BROKER, &["--garbage-push-every", "2"]);
    let mut c = b.ready("/Consumers/Conn/g/C1").await;
    let mut p = b.ready("/Producers/Conn/g/P1").await;
    for i in 0..2 {
        p.send(send_frame(&format!("g{i}"), 0)).await.unwrap();
        assert_eq!(text(&mut p).await, "ok");
    }
    check_push(&text(&mut c).await, "g0", "g", 0);
    assert_eq!(text(&mut c).await, "garbage");
    check_push(&text(&mut c).await, "g1", "g", 0);
    drop(b);

    let b = Broker::spawn_bin(BROKER, &["--silent"]);
    let mut ws = b.ws("/Producers/Conn/s/P1").await;
    assert!(tokio::time::timeout(Duration::from_millis(300), ws.next()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_one_producer() {
    let b = Broker::spawn_bin(BROKER, &["--push-speed-ms", "0", "--clean-consumed"]);
    let c = b.ready("/Consumers/Conn/bench/C1").await;
    let p = b.ready("/Producers/Conn/bench/P1").await;
    let (mut tx, mut rx) = p.split();
    let n: usize = 200_000;
    let t0 = Instant::now();
    let sender = tokio::spawn(async move {
        for i in 0..n {
            tx.feed(send_frame(&format!("payload-{i:08}"), 0)).await.unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    let mut acks = 0;
    while acks < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "ok" => acks += 1,
            other => panic!("after {acks} acks: {other:?}"),
        }
    }
    let el = t0.elapsed();
    let _tx = sender.await.unwrap();
    eprintln!("{n} messages acked in {el:?}: {:.0} msg/s", n as f64 / el.as_secs_f64());
    assert!(el < Duration::from_secs(20));
    // every message reaches the consumer, which acks it
    let (mut ctx, mut crx) = c.split();
    let mut got = 0;
    while got < n {
        match tokio::time::timeout(Duration::from_secs(10), crx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                got += 1;
                ctx.feed(Message::text(&t[16..48])).await.unwrap();
            }
            other => panic!("after {got} pushes: {other:?}"),
        }
    }
    ctx.flush().await.unwrap();
    let el = t0.elapsed();
    eprintln!("{n} messages pushed and acked in {el:?}: {:.0} msg/s", n as f64 / el.as_secs_f64());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.post("/Console/CountMessage", "test", "").contains(r#""all":0,"#) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn big_and_fragmented_messages() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let b = Broker::spawn_bin(BROKER, &[]);
    let mut c = b.ready("/Consumers/Conn/big/C1").await;
    let mut p = b.ready("/Producers/Conn/big/P1").await;
    let big = "x".repeat(3 << 20);
    p.send(send_frame(&big, 0)).await.unwrap();
    assert_eq!(text(&mut p).await, "ok");
    check_push(&text(&mut c).await, &big, "big", 0);
    // one message in three fragments, with a ping in between
    let whole = br#"{"MessageData":"frag","DelayTime":0}"#;
    p.send(Message::Frame(Frame::message(whole[..5].to_vec(), OpCode::Data(Data::Text), false))).await.unwrap();
    p.send(Message::Frame(Frame::message(whole[5..20].to_vec(), OpCode::Data(Data::Continue), false))).await.unwrap();
    p.send(Message::Ping(b"mid".to_vec().into())).await.unwrap();
    p.send(Message::Frame(Frame::message(whole[20..].to_vec(), OpCode::Data(Data::Continue), true))).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), p.next()).await {
        Ok(Some(Ok(Message::Pong(d)))) => assert_eq!(&d[..], b"mid"),
        other => panic!("{other:?}"),
    }
    assert_eq!(text(&mut p).await, "ok");
    check_push(&text(&mut c).await, "frag", "big", 0);
    // a close frame is answered with the same code
    p.send(Message::Close(None)).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), p.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) => break,
            Ok(Some(Ok(_))) => {}
            other => panic!("{other:?}"),
        }
    }
}
