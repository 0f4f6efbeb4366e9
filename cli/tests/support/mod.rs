//! Runs the real `kmq` binary against real `kmq-broker` processes on
//! 127.0.0.1 (started by the test kit, tests/kit), each test with its own
//! broker.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use kapokmq_testkit::Broker;

/// `kmq` with a broker's address in the environment, as a user would set
/// it up.
pub trait Kmq {
    fn kmq(&self) -> Command;
}

impl Kmq for Broker {
    fn kmq(&self) -> Command {
        let mut cmd = kmq();
        cmd.env("KAPOKMQ_ADDR", "127.0.0.1").env("KAPOKMQ_PORT", self.port.to_string());
        cmd
    }
}

/// The binary under test, with no KAPOKMQ_* settings from the caller's
/// environment leaking in.
pub fn kmq() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmq"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KAPOKMQ_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs `cmd` with `stdin` as its input; panics if it takes over 60 s.
pub fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn kmq");
    child.stdin.take().expect("piped").write_all(stdin.as_bytes()).expect("write stdin");
    wait(child, Duration::from_secs(60))
}

pub fn wait(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("kmq did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Polls `f` every 50 ms until it returns Some, for at most `limit`.
pub fn eventually<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Consumers the broker lists (`kmq clients --json`).
pub fn consumers(b: &Broker) -> Option<usize> {
    let mut c = b.kmq();
    c.args(["clients", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&run(c, "").stdout).ok()?;
    Some(v["consumers"].as_array().map_or(0, Vec::len))
}

/// Starts `kmq consume` in the background and waits until the broker
/// lists one more consumer, so that what is produced next is pushed to it.
pub fn start_consumer(b: &Broker, args: &[&str]) -> Child {
    let before = consumers(b).expect("kmq clients");
    let mut cmd = b.kmq();
    cmd.arg("consume").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn kmq consume");
    let listed = eventually(Duration::from_secs(10), || consumers(b).filter(|&n| n > before));
    assert!(listed.is_some(), "the consumer never showed up in kmq clients");
    child
}

/// The node's message counts through `kmq stats --json`.
pub fn counts(b: &Broker) -> serde_json::Value {
    let mut cmd = b.kmq();
    cmd.args(["stats", "--json"]);
    let out = run(cmd, "");
    assert!(out.status.success(), "kmq stats: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

/// The fields of one CSV line (quotes as `kmq bench` writes them).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}
