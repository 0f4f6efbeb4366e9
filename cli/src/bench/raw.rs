//! The ceiling: a bare pipelined WebSocket client with no library logic.
//! It does the handshake, writes the same pre-encoded frame N times and
//! counts N "ok"s (or, as a consumer, acks each push). Whatever a real
//! client adds (queues, confirmation tracking, retries) shows up as the
//! distance between this and the library's figures.

use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    // One thread, like the library's default runtime.
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

async fn text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(Message::Close(_))) | None => return Err("closed during the handshake".into()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}

async fn open(url: &str, key: &str) -> Result<Ws, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| format!("{url}: {e}"))?;
    text(&mut ws).await?; // the key prompt
    ws.send(Message::text(key)).await.map_err(|e| e.to_string())?;
    match text(&mut ws).await?.as_str() {
        "Secret key matching succeeded" => Ok(ws),
        other => Err(format!("handshake: {other:?}")),
    }
}

/// Writes `n` frames and returns once `n` "ok"s came back: the time from
/// the first write to the last "ok". `done` counts confirmations.
async fn produce(ws: Ws, n: u64, payload: &str, done: &AtomicU64) -> Result<Duration, String> {
    let frame = Utf8Bytes::from(format!("{{\"MessageData\":{},\"DelayTime\":0}}", serde_json::Value::from(payload)));
    let (mut sink, mut stream) = ws.split();
    let started = Instant::now();
    let writer = async {
        for i in 0..n {
            sink.feed(Message::Text(frame.clone())).await.map_err(|e| e.to_string())?;
            if i % 1024 == 1023 {
                sink.flush().await.map_err(|e| e.to_string())?;
            }
        }
        sink.flush().await.map_err(|e| e.to_string())
    };
    let reader = async {
        let mut seen = 0;
        while seen < n {
            match stream.next().await {
                Some(Ok(Message::Text(t))) if t.as_str() == "ok" => {
                    seen += 1;
                    done.store(seen, Ordering::Relaxed);
                }
                Some(Ok(Message::Text(t))) => return Err(format!("expected ok, got {:?}", t.as_str())),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err(format!("closed after {seen} of {n} oks")),
            }
        }
        Ok(())
    };
    let (w, r) = tokio::join!(writer, reader);
    w?;
    r?;
    Ok(started.elapsed())
}

pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub key: &'a str,
    pub topic: &'a str,
}

impl Target<'_> {
    fn url(&self, role: &str, id: &str) -> String {
        format!("ws://{}:{}/{role}/Conn/{}/{id}", self.host, self.port, self.topic)
    }
}

/// Confirmed producer throughput of the bare client.
pub fn producer(t: &Target, n: u64, payload: &str, done: Arc<AtomicU64>) -> Result<Duration, String> {
    runtime()?.block_on(async {
        let ws = open(&t.url("Producers", "raw-producer"), t.key).await?;
        produce(ws, n, payload, &done).await
    })
}

/// The code in a push frame, found by position: the server writes
/// `{"MessageCode":"<32 hex>",...`.
fn code_of(frame: &str) -> Option<&str> {
    let at = frame.find("\"MessageCode\":\"")? + 15;
    frame.get(at..at + 32)
}

/// Produce → consume → ack with bare clients: the time until the consumer
/// has received (and acked) `n` messages. `done` counts received ones.
pub fn end_to_end(t: &Target, n: u64, payload: &str, done: Arc<AtomicU64>) -> Result<Duration, String> {
    runtime()?.block_on(async {
        let consumer = open(&t.url("Consumers", "raw-consumer"), t.key).await?;
        let producer = open(&t.url("Producers", "raw-producer"), t.key).await?;
        let (mut acks, mut pushes) = consumer.split();
        let confirmed = AtomicU64::new(0);
        let started = Instant::now();
        let consume = async {
            let mut seen = 0;
            while seen < n {
                match pushes.next().await {
                    Some(Ok(Message::Text(t))) => {
                        let code = code_of(t.as_str()).ok_or_else(|| format!("not a push: {:?}", t.as_str()))?;
                        acks.feed(Message::text(code)).await.map_err(|e| e.to_string())?;
                        seen += 1;
                        done.store(seen, Ordering::Relaxed);
                        if seen % 256 == 0 {
                            acks.flush().await.map_err(|e| e.to_string())?;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err(format!("consumer closed after {seen} of {n}")),
                }
            }
            acks.flush().await.map_err(|e| e.to_string())?;
            Ok(started.elapsed())
        };
        let (c, p) = tokio::join!(consume, produce(producer, n, payload, &confirmed));
        p?;
        c
    })
}
