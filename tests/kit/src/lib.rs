//! Real `kmq-broker` processes on 127.0.0.1 for the workspace's integration
//! tests: the library's (tests/*.rs), the kmq tool's (cli/tests) and the
//! broker's own (broker/tests).

use process_tree::process_tree;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `$KMQ_BROKER`, else the release build of kmq-broker in the target
/// directory of the cargo that built this test, which `cargo test` does not
/// rebuild: tests/artifacts.sh checks that it is newer than its sources.
pub fn broker_path() -> PathBuf {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(find_broker).clone().unwrap_or_else(|e| panic!("{e}"))
}

/// The directory of the release build this test belongs to (the
/// `release` of cargo's target directory, `CARGO_TARGET_DIR` honoured):
/// where kmq, kmq-broker and the library are.
pub fn release_dir() -> PathBuf {
    // This test runs as <target dir>/release/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("the test's own path");
    exe.ancestors().nth(2).expect("a test runs in a target directory").to_path_buf()
}

fn find_broker() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("KMQ_BROKER").filter(|p| !p.is_empty()) {
        return Ok(p.into());
    }
    // This test runs as <target dir>/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().map_err(|e| format!("where is this test? {e}"))?;
    let target = exe.ancestors().nth(3).ok_or_else(|| format!("{} is not in a target directory", exe.display()))?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts.sh");
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

/// The line a broker prints when it is ready, before `ADDR:PORT`.
const READY: &str = "kmq-broker listening on ";

/// What a server that lacks a kmq-broker test switch prints instead of its
/// ready line (tests/real/kmq-real-broker, for the real node).
const UNSUPPORTED: &str = "kmq-broker unsupported:";

/// How to build the binary found by [`broker_path`].
const BUILD_HINT: &str = "build it with cargo build --release --workspace, or set KMQ_BROKER";

/// A broker process, killed when dropped.
pub struct Broker {
    child: Child,
    pub port: u16,
    bin: PathBuf,
    args: Vec<String>,
    show_stderr: bool,
}

impl Broker {
    /// Starts a broker on a free port (no push throttle) with extra flags.
    pub fn start(extra: &[&str]) -> Broker {
        Self::spawn(&[&["--push-speed-ms", "0"], extra].concat())
    }

    /// As `start`, for a test that needs one of kmq-broker's test switches:
    /// a server without it (the real node, see tests/real) says so instead of
    /// its ready line, and the test is skipped by name with that reason.
    pub fn start_or_skip(extra: &[&str]) -> Option<Broker> {
        let args = [&["--push-speed-ms", "0"], extra].concat();
        match Self::try_spawn(broker_path(), owned(&args), 0, false) {
            Ok(b) => Some(b),
            Err(e) if e.starts_with(UNSUPPORTED) => {
                let test = std::thread::current().name().unwrap_or("?").to_string();
                println!("SKIP {test}: {}", e[UNSUPPORTED.len()..].trim());
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts a broker on a free port with exactly these flags (e.g.
    /// `--registry`).
    pub fn spawn(args: &[&str]) -> Broker {
        Self::try_spawn(broker_path(), owned(args), 0, false).unwrap_or_else(|e| panic!("{e} ({BUILD_HINT})"))
    }

    /// As `spawn`, with the binary `bin`: kmq-broker's own tests run the
    /// build under test (`CARGO_BIN_EXE_kmq-broker`), whose stderr stays on
    /// the terminal.
    pub fn spawn_bin(bin: &str, args: &[&str]) -> Broker {
        Self::try_spawn(bin.into(), owned(args), 0, true).unwrap_or_else(|e| panic!("{e}"))
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

    /// Starts it again on the same port with the same flags.
    pub fn restart(&mut self) {
        self.kill();
        let again = self.again().unwrap_or_else(|e| panic!("broker restart on port {}: {e}", self.port));
        *self = again;
    }

    /// Kills it and starts it again on the same port with the same flags,
    /// retrying for a few seconds while the port is still held by the dead
    /// process's sockets.
    pub fn restart_retrying(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.again() {
                Ok(again) => {
                    *self = again;
                    return;
                }
                Err(e) if Instant::now() >= deadline => panic!("broker restart on port {}: {e}", self.port),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn again(&self) -> Result<Broker, String> {
        Self::try_spawn(self.bin.clone(), self.args.clone(), self.port, self.show_stderr)
    }

    /// Starts `bin --port PORT args...`; the error says why when it prints
    /// no ready line. Without `--host` it must listen on 127.0.0.1.
    fn try_spawn(bin: PathBuf, args: Vec<String>, port: u16, show_stderr: bool) -> Result<Broker, String> {
        let mut child = Command::new(&bin)
            .args(["--port", &port.to_string()])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(if show_stderr { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        if line.starts_with(UNSUPPORTED) {
            let _ = child.wait();
            return Err(line.trim().to_string());
        }
        let where_told = |addr: &&str| args.iter().any(|a| a == "--host") || addr.starts_with("127.0.0.1:");
        let addr = line.trim().strip_prefix(READY).filter(where_told);
        match addr.and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok()) {
            Some(port) => Ok(Broker { child, port, bin, args, show_stderr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "no ready line {READY}ADDR:PORT, ADDR 127.0.0.1 without --host, from {} (got {line:?})",
                    bin.display()
                ))
            }
        }
    }

    /// A raw HTTP exchange with the broker: `raw` is the whole request.
    /// Returns the status line and the body.
    pub fn http(&self, raw: &str) -> (String, String) {
        http(self.port, raw)
    }

    /// POSTs `form` to `path` with secret key `key`; the answer must be
    /// 200 OK. Returns the body.
    pub fn post(&self, path: &str, key: &str, form: &str) -> String {
        let (status, body) = post(self.port, path, key, form);
        assert_eq!(status, "HTTP/1.1 200 OK", "{path}");
        body
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A raw HTTP exchange with the broker on `port` (answers within 5 s):
/// the status line and the body.
pub fn http(port: u16, raw: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect to {port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

/// POSTs the form `form` to `path` of the broker on `port` with the secret
/// key `key`: the status line and the body.
pub fn post(port: u16, path: &str, key: &str, form: &str) -> (String, String) {
    http(
        port,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nsecretKey: {key}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
}

/// POSTs to a console endpoint of the broker on `port` (secret key `test`)
/// and returns the body.
pub fn console(port: u16, path: &str) -> String {
    post(port, path, "test", "").1
}

/// How many messages the broker on `port` stores (all statuses).
pub fn stored_messages(port: u16) -> u64 {
    let body = console(port, "/Console/CountMessage");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    v["data"]["all"].as_u64().unwrap_or_else(|| panic!("no count in {body}"))
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
}
