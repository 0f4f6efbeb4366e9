//! Starts real `kmq-broker` processes on 127.0.0.1 for the integration tests.
#![allow(dead_code)]

use kapokmq::Config;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// `$KMQ_BROKER`, else the release build of kmq-broker in the target
/// directory of the cargo that built this test, which `cargo test` does not
/// rebuild: tests/artifacts.sh checks that it is newer than its sources.
pub fn broker_path() -> PathBuf {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(find_broker).clone().unwrap_or_else(|e| panic!("{e}"))
}

fn find_broker() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("KMQ_BROKER").filter(|p| !p.is_empty()) {
        return Ok(p.into());
    }
    // This test runs as <target dir>/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().map_err(|e| format!("where is this test? {e}"))?;
    let target = exe.ancestors().nth(3).ok_or_else(|| format!("{} is not in a target directory", exe.display()))?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("broker")
        .env("CARGO_TARGET_DIR", target)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().find_map(|l| l.strip_prefix("KMQ_BROKER="));
    path.map(PathBuf::from).ok_or_else(|| format!("{} printed no KMQ_BROKER: {stdout:?}", script.display()))
}

/// What a server that lacks a kmq-broker test switch prints instead of its
/// ready line (tests/real/kmq-real-broker, for the real node).
const UNSUPPORTED: &str = "kmq-broker unsupported:";

#[path = "../../cli/src/bench/process_tree.rs"]
mod process_tree;
use process_tree::process_tree;

/// A broker process, killed when dropped.
pub struct Broker {
    child: Child,
    pub port: u16,
    args: Vec<String>,
}

impl Broker {
    /// Starts a broker on a free port (no push throttle) with extra flags.
    pub fn start(extra: &[&str]) -> Broker {
        let mut args: Vec<String> = vec!["--push-speed-ms".into(), "0".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::spawn(args, 0)
    }

    /// As `start`, for a test that needs one of kmq-broker's test switches:
    /// a server without it (the real node, see tests/real) says so instead of
    /// its ready line, and the test is skipped by name with that reason.
    pub fn start_or_skip(extra: &[&str]) -> Option<Broker> {
        let mut args: Vec<String> = vec!["--push-speed-ms".into(), "0".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        match Self::try_spawn(args, 0) {
            Ok(b) => Some(b),
            Err(e) if e.starts_with(UNSUPPORTED) => {
                let test = std::thread::current().name().unwrap_or("?").to_string();
                println!("SKIP {test}: {}", e[UNSUPPORTED.len()..].trim());
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn spawn(args: Vec<String>, port: u16) -> Broker {
        Self::try_spawn(args, port)
            .unwrap_or_else(|e| panic!("{e} (build it with cargo build --release --workspace, or set KMQ_BROKER)"))
    }

    /// Freezes the broker (SIGSTOP), and the processes it started (the real
    /// node behind tests/real's kmq-real-broker): it reads, stores and
    /// answers nothing until killed, while its connections stay open.
    pub fn freeze(&mut self) {
        for pid in process_tree(self.child.id()) {
            // SAFETY: kill(2) on our own child, which has not been reaped, or
            // on one of its children, which it has not reaped either.
            let r = unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
            assert_eq!(r, 0, "SIGSTOP to {pid} (broker on port {}): {}", self.port, std::io::Error::last_os_error());
        }
    }

    /// Kills the broker with SIGKILL and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills it and starts it again on the same port with the same flags,
    /// retrying for a few seconds while the port is still held by the dead
    /// process's sockets.
    pub fn restart_retrying(&mut self) {
        self.kill();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match Self::try_spawn(self.args.clone(), self.port) {
                Ok(again) => {
                    *self = again;
                    return;
                }
                Err(e) if std::time::Instant::now() >= deadline => {
                    panic!("broker restart on port {}: {e}", self.port)
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }

    /// Starts a broker; the error says why when it prints no ready line.
    fn try_spawn(args: Vec<String>, port: u16) -> Result<Broker, String> {
        let path = broker_path();
        let mut child = Command::new(&path)
            .args(["--port", &port.to_string()])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        if line.starts_with(UNSUPPORTED) {
            let _ = child.wait();
            return Err(line.trim().to_string());
        }
        match line.trim().rsplit(':').next().and_then(|p| p.parse().ok()) {
            Some(port) => Ok(Broker { child, port, args }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("no ready line (got {line:?})"))
            }
        }
    }

    /// Starts it again on the same port with the same flags.
    pub fn restart(&mut self) {
        self.kill();
        let again = Self::spawn(self.args.clone(), self.port);
        *self = again;
    }

    pub fn config(&self, topic: &str) -> Config {
        let mut c = Config::new();
        c.set("mq_port", &self.port.to_string()).unwrap();
        c.set("topic", topic).unwrap();
        c.set("producer_id", "p1").unwrap();
        c.set("consumer_id", "c1").unwrap();
        c
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A topic name no other test uses.
pub fn topic(name: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A temporary file path for a broker's write-ahead log.
pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kmq-{name}-{}-{}", std::process::id(), topic("")))
}

/// POSTs to a console endpoint of the broker on `port` and returns the body.
pub fn console(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("console connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nsecretKey: test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// How many messages the broker on `port` stores (all statuses).
pub fn stored_messages(port: u16) -> u64 {
    let body = console(port, "/Console/CountMessage");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["data"]["all"].as_u64().unwrap_or_else(|| panic!("no count in {body}"))
}

/// A registry and the nodes that joined it.
pub struct Cluster {
    pub registry: Broker,
    pub nodes: Vec<Broker>,
}

impl Cluster {
    pub fn start(nodes: usize, node_flags: &[&str]) -> Cluster {
        let registry = Broker::start(&["--registry", "--node-ttl-ms", "3000"]);
        let mut cluster = Cluster { registry, nodes: Vec::new() };
        for _ in 0..nodes {
            cluster.add_node(node_flags);
        }
        cluster
    }

    pub fn add_node(&mut self, flags: &[&str]) -> usize {
        let join = format!("127.0.0.1:{}", self.registry.port);
        let mut args = vec!["--join", &join];
        args.extend_from_slice(flags);
        self.nodes.push(Broker::start(&args));
        self.nodes.len() - 1
    }

    pub fn config(&self, topic: &str) -> Config {
        let mut c = Config::new();
        c.set("registry_addr", "127.0.0.1").unwrap();
        c.set("registry_port", &self.registry.port.to_string()).unwrap();
        c.set("topic", topic).unwrap();
        c.set("producer_id", "p1").unwrap();
        c.set("consumer_id", "c1").unwrap();
        c.set("check_time", "1").unwrap();
        c
    }
}
