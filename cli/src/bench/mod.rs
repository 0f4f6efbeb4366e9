//! `kmq bench`: one fresh kmq-broker, every client measured against it in
//! the same run, a table on stdout and CSV for the chart. The C and Go
//! programs are built by cli/bench/run.sh and passed in by path; whatever
//! is missing is reported as such in the table, and the run goes on.

mod broker;
mod external;
mod library;
mod raw;
mod report;

use crate::fail::{CliError, CliResult};
use crate::progress::Progress;
use broker::Broker;
use clap::Args;
use report::{Row, Section};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const RAW: &str = "raw WebSocket client (ceiling)";
pub const RAW_E2E: &str = "raw WebSocket clients (ceiling)";
const RUST: &str = "kapokmq, Rust API";
const RUST_CONN2: &str = "kapokmq, Rust API, connections=2";
const RUST_CONN4: &str = "kapokmq, Rust API, connections=4";
const C: &str = "kapokmq, C API (kmq_send + kmq_flush)";
const C_CONN2: &str = "kapokmq, C API, connections=2";
const C_MANY: &str = "kapokmq, C API (kmq_send_many + kmq_flush)";
const GO_ACK: &str = "Go client, ProducerSend + ProducerAck";
const GO_FIRE: &str = "Go client, fire-and-forget (unconfirmed)";
const RUST_E2E: &str = "kapokmq, Rust API (a sending thread, a receive + ack thread)";
const RUST_E2E_CONN2: &str = "kapokmq, Rust API, connections=2";
const C_E2E: &str = "kapokmq, C API (one thread: send, receive, ack)";
const C_E2E_THREADS: &str = "kapokmq, C API (a sending thread, a thread blocked in kmq_receive)";
const PY_E2E: &str = "kapokmq, Python (a sending thread, for m in consumer)";
const GO_E2E: &str = "Go client";
const KEY: &str = "test";
/// What every broker of a run is started with: the push throttle off.
const BROKER_ARGS: &[&str] = &["--push-speed-ms", "0"];
const HOST: &str = "127.0.0.1";

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// 10k and 100k messages only (the full run adds 1M).
    #[arg(long)]
    pub quick: bool,

    /// Message counts to run, e.g. --sizes 1000,5000 (overrides --quick).
    #[arg(long, value_delimiter = ',', value_name = "N,...")]
    pub sizes: Vec<u64>,

    /// The kmq-broker binary (default: target/release/kmq-broker of the repo).
    #[arg(long, env = "KMQ_BROKER", value_name = "PATH")]
    pub broker: Option<PathBuf>,

    /// The C bench program built by cli/bench/run.sh.
    #[arg(long, env = "KMQ_BENCH_C", value_name = "PATH")]
    pub c_bench: Option<PathBuf>,

    /// The Go bench program built by cli/bench/run.sh.
    #[arg(long, env = "KMQ_BENCH_GO", value_name = "PATH")]
    pub go_bench: Option<PathBuf>,

    /// Why the Go bench program could not be built (shown in the table).
    #[arg(long, value_name = "REASON")]
    pub go_unavailable: Option<String>,

    /// Does the Go client have ProducerAck? (run.sh finds out with go doc)
    #[arg(long)]
    pub go_has_ack: bool,

    /// Where the CSV goes; the table is also written next to it as .txt.
    #[arg(long, default_value = "docs/bench/results.csv", value_name = "PATH")]
    pub csv: PathBuf,

    /// Repository root, for the binding benchmarks (default: found from
    /// this executable's path).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Message payload size in bytes.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,

    /// kmq_send calls timed one by one for the per-call cost.
    #[arg(long, default_value_t = 100_000)]
    pub calls: u64,

    /// send_wait calls for the latency figures.
    #[arg(long, default_value_t = 2_000)]
    pub latency_sends: u64,

    /// Idle producers opened for the footprint figures.
    #[arg(long, default_value_t = 200)]
    pub producers: usize,

    /// Runs of each throughput figure (interleaved, each round starting
    /// with another client); the table shows the median. A run takes well
    /// under a second, and single runs here vary by 2x.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repeat: u32,

    /// Leave out the per-call figures of the Python and Node bindings (on
    /// the real node they would time its confirmations); the Python end
    /// to end row stays.
    #[arg(long)]
    pub no_bindings: bool,

    /// Throughput and end-to-end figures only (no per-call, latency or
    /// footprint rows): for runs at other payload sizes.
    #[arg(long)]
    pub only_throughput: bool,
}

fn repo_root(args: &BenchArgs) -> PathBuf {
    if let Some(r) = &args.repo {
        return r.clone();
    }
    // target/release/kmq -> the repo, when run from a build tree.
    let from_exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|r| r.join("cli").is_dir());
    from_exe.unwrap_or_else(|| PathBuf::from("."))
}

/// CPU used so far: by this process, by its finished children, by the broker.
#[derive(Clone, Copy)]
struct Cpu {
    own: f64,
    children: f64,
    broker: f64,
}

/// CPU seconds (user + system) from getrusage: this process's own
/// (every thread, also those that ended) or its finished children's.
fn rusage_cpu(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut u) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

impl Cpu {
    fn now(b: &Broker) -> Cpu {
        Cpu { own: rusage_cpu(libc::RUSAGE_SELF), children: rusage_cpu(libc::RUSAGE_CHILDREN), broker: b.cpu_seconds() }
    }
    /// CPU seconds (broker, client: this process and its finished
    /// children) used since `self`.
    fn used(&self, b: &Broker) -> (f64, f64) {
        let now = Cpu::now(b);
        (now.broker - self.broker, now.own - self.own + now.children - self.children)
    }
}

/// A progress line for one step, redrawn by a thread until the step ends.
struct Step {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Step {
    fn start(index: usize, total: usize, label: String, n: Option<u64>, done: Arc<AtomicU64>) -> Step {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut p = Progress::new(true);
            p.note(&format!("bench [{index}/{total}] {label}"));
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                p.tick(|| {
                    let count = match n {
                        Some(n) => {
                            format!("{} / {} ", report::thousands(done.load(Ordering::Relaxed)), report::thousands(n))
                        }
                        None => String::new(),
                    };
                    format!("    {count}({:.0} s)", started.elapsed().as_secs_f64())
                });
            }
            p.clear();
        });
        Step { stop, thread: Some(thread) }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Fills rows; the counter is for the progress line.
type Job = Box<dyn FnOnce(&mut Ctx, Arc<AtomicU64>) -> Vec<Row>>;

/// A planned measurement: its label, message count (for progress) and job.
struct Plan {
    label: String,
    n: Option<u64>,
    job: Job,
}

struct Ctx {
    broker: Broker,
    /// The broker's program, to start a fresh one each round.
    broker_bin: PathBuf,
    /// The largest resident memory a broker reached, in MiB.
    broker_rss_mib: f64,
    payload: String,
    run_id: u64,
}

impl Ctx {
    /// Replaces the broker with a fresh one. The real node keeps every
    /// message in memory (about 1.5 KiB each): a whole run's would not
    /// fit, and a store that big slows it down.
    fn fresh_broker(&mut self) {
        self.broker_rss_mib = self.broker_rss_mib.max(self.broker.rss_mib());
        match Broker::start(&self.broker_bin, BROKER_ARGS) {
            Ok(b) => self.broker = b,
            Err(e) => eprintln!("bench: keeping the broker, a fresh one did not start: {e}"),
        }
    }
    fn topic(&mut self, what: &str) -> String {
        self.run_id += 1;
        format!("bench-{what}-{}", self.run_id)
    }
    fn lib(&self, connections: u32) -> library::Target<'static> {
        library::Target { host: HOST, port: self.broker.port, key: KEY, connections }
    }
}

/// msg/s from a count and a time.
fn rate(n: u64, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64().max(1e-9)
}

/// What one throughput run measured: the time it took and, for a program
/// run on its own, the CPU it used in that time (its own getrusage), which
/// leaves out its start-up and connecting.
struct Timed {
    took: Duration,
    own_cpu_s: Option<f64>,
}

impl From<Duration> for Timed {
    fn from(took: Duration) -> Self {
        Timed { took, own_cpu_s: None }
    }
}

/// One throughput row: runs `f` (which returns the measured time) and
/// records msg/s and the CPU used meanwhile.
fn throughput<T: Into<Timed>>(
    ctx: &Ctx,
    section: Section,
    client: &str,
    n: u64,
    f: impl FnOnce() -> Result<T, String>,
) -> Row {
    let mut row = Row::new(section, client, "throughput", "msg/s");
    row.messages = Some(n);
    let cpu = Cpu::now(&ctx.broker);
    let timed = f().map(Into::into);
    row.value = timed.as_ref().map(|t| rate(n, t.took)).map_err(Clone::clone);
    if let Ok(t) = &timed {
        // Cores while timed: CPU over the timed part, not over the whole
        // step (connecting and closing take wall time but little CPU).
        // A program run on its own reports its CPU, start-up left out.
        let (broker, client) = cpu.used(&ctx.broker);
        let secs = t.took.as_secs_f64().max(1e-9);
        row.broker_cpu = Some(broker / secs);
        row.client_cpu = Some(t.own_cpu_s.unwrap_or(client) / secs);
    }
    row
}

/// How a throughput row's program starts: the program, the arguments
/// before the common HOST PORT TOPIC N PAYLOAD KEY (the mode) and after
/// them (the C program's connections).
#[derive(Clone)]
struct Launch {
    program: Result<PathBuf, String>,
    before: Vec<String>,
    after: Vec<String>,
}

impl Launch {
    fn new(program: &Result<PathBuf, String>, mode: &str) -> Launch {
        Launch { program: program.clone(), before: vec![mode.into()], after: Vec::new() }
    }

    fn after(mut self, arg: &str) -> Launch {
        self.after.push(arg.into());
        self
    }

    /// A script run by python3, which takes the same arguments.
    fn python(script: &Path) -> Launch {
        let program = if script.is_file() {
            Ok(PathBuf::from("python3"))
        } else {
            Err(format!("{} not found", script.display()))
        };
        Launch { program, before: vec![script.display().to_string()], after: Vec::new() }
    }

    /// Runs the program; its RESULT line gives the time and, when it
    /// prints cpu_secs, the CPU it used meanwhile.
    fn throughput(&self, port: u16, topic: &str, n: u64, payload: &str) -> Result<Timed, String> {
        let mut cmd = Command::new(self.program.clone()?);
        cmd.args(&self.before).args([HOST, &port.to_string(), topic, &n.to_string(), payload, KEY]).args(&self.after);
        let out = external::run(cmd, Duration::from_secs(180))?;
        let fields = external::result_line(&out.stdout)?;
        let confirmed = fields.get("count").copied().unwrap_or(n as f64);
        if confirmed < n as f64 {
            return Err(format!("only {confirmed} of {n} done"));
        }
        let took = Duration::from_secs_f64(external::field(&fields, "secs")?);
        Ok(Timed { took, own_cpu_s: fields.get("cpu_secs").copied() })
    }
}

/// The programs the rows run, or why there is none.
struct Programs {
    c: Result<PathBuf, String>,
    go: Result<PathBuf, String>,
    go_ack: Result<PathBuf, String>,
    python_e2e: PathBuf,
}

impl Programs {
    fn new(args: &BenchArgs, repo: &Path) -> Programs {
        let go: Result<PathBuf, String> = match (&args.go_bench, &args.go_unavailable) {
            (_, Some(why)) => Err(why.clone()),
            (Some(p), None) if p.is_file() => Ok(p.clone()),
            (Some(p), None) => Err(format!("{} not found", p.display())),
            (None, None) => Err("not built (cli/bench/run.sh builds it)".into()),
        };
        let c: Result<PathBuf, String> = match &args.c_bench {
            Some(p) if p.is_file() => Ok(p.clone()),
            Some(p) => Err(format!("{} not found", p.display())),
            None => Err("not built (cli/bench/run.sh builds it)".into()),
        };
        let go_ack: Result<PathBuf, String> = match (&go, args.go_has_ack) {
            (Ok(p), true) => Ok(p.clone()),
            (Ok(_), false) => {
                Err("this version of the Go client has no ProducerAck: it never reads the server's ok".into())
            }
            (Err(e), _) => Err(e.clone()),
        };
        Programs { c, go, go_ack, python_e2e: repo.join("bindings/python/bench_e2e.py") }
    }
}

/// The progress label of a throughput row.
fn label(section: Section, client: &str, n: u64, run: &str) -> String {
    let what = if section == Section::EndToEnd { "end to end, " } else { "" };
    format!("{what}{client}, {} messages{run}", report::thousands(n))
}

/// A row of the raw WebSocket client(s), the ceiling.
fn raw_plan(section: Section, n: u64, run: &str) -> Plan {
    let client = if section == Section::EndToEnd { RAW_E2E } else { RAW };
    Plan {
        label: label(section, client, n, run),
        n: Some(n),
        job: Box::new(move |ctx, done| {
            let topic = ctx.topic("raw");
            let t = raw::Target { host: HOST, port: ctx.broker.port, key: KEY, topic: &topic };
            let payload = ctx.payload.clone();
            vec![throughput(ctx, section, client, n, || match section {
                Section::EndToEnd => raw::end_to_end(&t, n, &payload, done),
                _ => raw::producer(&t, n, &payload, done),
            })]
        }),
    }
}

/// A row of the Rust API in this process, its producer with `connections`.
fn library_plan(section: Section, client: &'static str, n: u64, run: &str, connections: u32) -> Plan {
    Plan {
        label: label(section, client, n, run),
        n: Some(n),
        job: Box::new(move |ctx, done| {
            let topic = ctx.topic("rust");
            let payload = ctx.payload.clone();
            let t = ctx.lib(connections);
            vec![throughput(ctx, section, client, n, || match section {
                Section::EndToEnd => library::end_to_end(&t, &topic, n, &payload, done),
                _ => library::confirmed(&t, &topic, n, &payload, done),
            })]
        }),
    }
}

/// A row of a program run on its own (C, Go, Python).
fn external_plan(
    section: Section,
    client: &'static str,
    n: u64,
    run: &str,
    launch: Launch,
    note: &'static str,
) -> Plan {
    Plan {
        label: label(section, client, n, run),
        n: None,
        job: Box::new(move |ctx, _| {
            let topic = ctx.topic("external");
            let payload = ctx.payload.clone();
            let port = ctx.broker.port;
            let mut row = throughput(ctx, section, client, n, || launch.throughput(port, &topic, n, &payload));
            row.note = note.into();
            vec![row]
        }),
    }
}

fn producer_round(n: u64, run: &str, p: &Programs) -> Vec<Plan> {
    let s = Section::Producer;
    vec![
        raw_plan(s, n, run),
        library_plan(s, RUST, n, run, 1),
        library_plan(s, RUST_CONN2, n, run, 2),
        library_plan(s, RUST_CONN4, n, run, 4),
        external_plan(s, C, n, run, Launch::new(&p.c, "throughput"), ""),
        external_plan(s, C_CONN2, n, run, Launch::new(&p.c, "throughput").after("2"), ""),
        external_plan(s, C_MANY, n, run, Launch::new(&p.c, "throughput-many"), "batches of 1,000"),
        external_plan(s, GO_ACK, n, run, Launch::new(&p.go_ack, "confirmed"), ""),
        external_plan(s, GO_FIRE, n, run, Launch::new(&p.go, "fire"), "each write reported done, no ok awaited"),
    ]
}

fn e2e_round(n: u64, run: &str, p: &Programs) -> Vec<Plan> {
    let s = Section::EndToEnd;
    vec![
        raw_plan(s, n, run),
        library_plan(s, RUST_E2E, n, run, 1),
        library_plan(s, RUST_E2E_CONN2, n, run, 2),
        external_plan(s, C_E2E, n, run, Launch::new(&p.c, "e2e"), ""),
        external_plan(s, C_E2E_THREADS, n, run, Launch::new(&p.c, "e2e-threads"), ""),
        external_plan(s, PY_E2E, n, run, Launch::python(&p.python_e2e), ""),
        external_plan(s, GO_E2E, n, run, Launch::new(&p.go, "e2e"), ""),
    ]
}

/// The throughput rows: runs of one size are interleaved, so that a burst
/// of load from elsewhere on the machine hits every client alike.
fn throughput_plans(args: &BenchArgs, p: &Programs) -> Vec<Plan> {
    let runs: Vec<(u64, String)> = sizes(args)
        .iter()
        .flat_map(|&n| {
            (1..=args.repeat)
                .map(move |r| (n, if args.repeat > 1 { format!(", run {r}/{}", args.repeat) } else { String::new() }))
        })
        .collect();
    let mut plans = Vec::new();
    for (round, (n, run)) in runs.into_iter().enumerate() {
        if round > 0 {
            plans.push(Plan {
                label: format!("a fresh broker for round {}", round + 1),
                n: None,
                job: Box::new(|ctx, _| {
                    ctx.fresh_broker();
                    Vec::new()
                }),
            });
        }
        let (mut producers, mut e2e) = (producer_round(n, &run, p), e2e_round(n, &run, p));
        // Each round starts with another client, so that whatever the
        // broker does at a given point of the run (its store growing and
        // rehashing, a collection in the real node) does not always fall
        // on the same client.
        let (a, b) = (round % producers.len(), round % e2e.len());
        producers.rotate_left(a);
        e2e.rotate_left(b);
        plans.extend(producers);
        plans.extend(e2e);
    }
    plans
}

fn plan(args: &BenchArgs, repo: &Path) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    let producers = args.producers;
    if !args.only_throughput {
        plans.push(Plan {
            label: format!("footprint: threads, RSS of {producers} idle producers"),
            n: None,
            job: Box::new(move |ctx, _| footprint_rows(ctx, producers)),
        });
    }
    let programs = Programs::new(args, repo);
    plans.extend(throughput_plans(args, &programs));
    if args.only_throughput {
        return plans;
    }
    plans.extend(per_call_plans(args, repo, programs.c));
    let sends = args.latency_sends;
    plans.push(Plan {
        label: format!("latency: {} send_wait calls", report::thousands(sends)),
        n: None,
        job: Box::new(move |ctx, _| latency_rows(ctx, sends)),
    });
    plans
}

fn per_call_plans(args: &BenchArgs, repo: &Path, c: Result<PathBuf, String>) -> Vec<Plan> {
    let calls = args.calls;
    let mut plans = Vec::new();
    for (mode, client, note) in [
        ("percall", "kmq_send from C", "calls, each timed"),
        ("percall-many", "kmq_send_many from C, per message", "messages in calls of 1,000, each call timed / 1,000"),
    ] {
        let c = c.clone();
        plans.push(Plan {
            label: format!("per call: {client}, {} calls", report::thousands(calls)),
            n: None,
            job: Box::new(move |ctx, _| c_per_call(ctx, c, PerCall { mode, client, note }, calls)),
        });
    }
    if !args.no_bindings {
        let python = repo.join("bindings/python/bench_send.py");
        let lib = repo.join("target/release/libkapokmq.so");
        plans.push(Plan {
            label: "per call: Python Producer.send".into(),
            n: None,
            job: Box::new(move |ctx, _| python_per_call(ctx, &python, &lib)),
        });
        let node = repo.join("bindings/node/bench/send.js");
        plans.push(Plan {
            label: "per call: Node send()".into(),
            n: None,
            job: Box::new(move |_, _| node_per_call(&node)),
        });
    }
    plans
}

fn sizes(args: &BenchArgs) -> Vec<u64> {
    if !args.sizes.is_empty() {
        let mut s = args.sizes.clone();
        s.sort_unstable();
        s.dedup();
        return s;
    }
    if args.quick {
        vec![10_000, 100_000]
    } else {
        vec![10_000, 100_000, 1_000_000]
    }
}

fn footprint_rows(ctx: &mut Ctx, producers: usize) -> Vec<Row> {
    let mut threads = Row::new(Section::Footprint, "threads started by the library", "count", "threads");
    let mut rss = Row::new(Section::Footprint, "RSS per extra idle producer", "rss", "KiB");
    match library::footprint(&ctx.lib(1), producers) {
        Ok(f) => {
            threads.value = Ok(f.threads_after_all.saturating_sub(f.threads_before) as f64);
            threads.note = format!(
                "{} before the first producer, {} after it, {} with {} more",
                f.threads_before, f.threads_after_first, f.threads_after_all, f.producers
            );
            rss.value = Ok(f.rss_per_producer_kib);
            rss.note = format!("VmRSS delta / {}", f.producers);
        }
        Err(e) => {
            threads.value = Err(e.clone());
            rss.value = Err(e);
        }
    }
    vec![threads, rss]
}

/// One per-call figure of the C program: its mode and row.
struct PerCall {
    mode: &'static str,
    client: &'static str,
    /// What the count is of, after the count.
    note: &'static str,
}

fn c_per_call(ctx: &mut Ctx, program: Result<PathBuf, String>, what: PerCall, calls: u64) -> Vec<Row> {
    let mut median = Row::new(Section::PerCall, what.client, "median", "ns");
    let mut p99 = Row::new(Section::PerCall, what.client, "p99", "ns");
    let topic = ctx.topic("c-percall");
    let measured = program.and_then(|program| {
        let mut cmd = Command::new(program);
        cmd.args([what.mode, HOST, &ctx.broker.port.to_string(), &topic, &calls.to_string(), &ctx.payload, KEY]);
        let out = external::run(cmd, Duration::from_secs(120))?;
        external::result_line(&out.stdout)
    });
    for (row, key) in [(&mut median, "median_ns"), (&mut p99, "p99_ns")] {
        row.messages = Some(calls);
        row.value = measured.as_ref().map_err(Clone::clone).and_then(|f| external::field(f, key));
        row.note = format!("{} {}", report::thousands(calls), what.note);
    }
    vec![median, p99]
}

/// The per-message figures a binding's send benchmark prints: one row for
/// its single sends (`prefix`) and one for its batch call (`send_many:`),
/// each an error row when its line is missing.
fn binding_rows(run: Result<String, String>, rows: [(Row, &str); 2]) -> Vec<Row> {
    rows.into_iter()
        .map(|(mut row, prefix)| {
            row.value = run
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|out| external::number_before(out, prefix, "µs per message"));
            row
        })
        .collect()
}

fn python_per_call(ctx: &mut Ctx, script: &Path, lib: &Path) -> Vec<Row> {
    let mut send = Row::new(Section::PerCall, "Python Producer.send", "median", "us");
    send.note = "median of 100 batch averages of 1,000 sends".into();
    let many = Row::new(Section::PerCall, "Python Producer.send_many, per message", "median", "us");
    let run = if !script.is_file() {
        Err(format!("{} not found", script.display()))
    } else {
        let mut cmd = Command::new("python3");
        cmd.arg(script).args([HOST, &ctx.broker.port.to_string()]).env("KAPOKMQ_LIB", lib);
        external::run(cmd, Duration::from_secs(120)).map(|out| out.stdout)
    };
    binding_rows(run, [(send, "Producer.send:"), (many, "send_many:")])
}

fn node_per_call(script: &Path) -> Vec<Row> {
    let mut send = Row::new(Section::PerCall, "Node send()", "per message", "us");
    send.note = "wall time of 100,000 awaited sends / 100,000; its own broker".into();
    let many = Row::new(Section::PerCall, "Node sendMany(), per message", "mean", "us");
    let node_dir = script.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let run = if !script.is_file() {
        Err(format!("{} not found", script.display()))
    } else if !node_dir.join("node_modules").is_dir() {
        Err(format!("run npm ci in {} first", node_dir.display()))
    } else {
        let mut cmd = Command::new("node");
        cmd.arg(script).args(["100000", "64", "3"]);
        external::run(cmd, Duration::from_secs(180)).map(|out| out.stdout)
    };
    binding_rows(run, [(send, "send:"), (many, "send_many:")])
}

fn latency_rows(ctx: &mut Ctx, sends: u64) -> Vec<Row> {
    let topic = ctx.topic("latency");
    let payload = ctx.payload.clone();
    let measured = library::send_wait_latency(&ctx.lib(1), &topic, sends, &payload);
    ["p50", "p99"]
        .into_iter()
        .zip([0.5, 0.99])
        .map(|(metric, q)| {
            let mut row = Row::new(Section::Latency, "send_wait, Rust API", metric, "us");
            row.messages = Some(sends);
            row.value = measured.as_ref().map(|v| library::quantile(v, q)).map_err(Clone::clone);
            row
        })
        .collect()
}

/// The row of `client` in `section` at `n` messages.
fn row_at<'a>(rows: &'a [Row], section: Section, client: &str, n: u64) -> Option<&'a Row> {
    rows.iter().find(|r| r.section == section && r.client == client && r.messages == Some(n))
}

/// What the figures say, in words: ratios at the largest size, and
/// whether the broker is what limits the run.
fn conclusions(rows: &[Row], largest: u64) -> Vec<String> {
    let mut out = ratio_lines(rows, largest);
    out.extend(cpu_lines(rows, largest));
    out.extend(raw_verdict(rows, largest));
    out.extend([Section::Producer, Section::EndToEnd].into_iter().filter_map(|s| node_limit(rows, s, largest)));
    out
}

/// Ratios of two rows' msg/s, each pair in one section.
fn ratio_lines(rows: &[Row], largest: u64) -> Vec<String> {
    let (p, e) = (Section::Producer, Section::EndToEnd);
    let pairs = [
        (p, RUST, RAW, "Rust API / raw ceiling, confirmed"),
        (p, C, RAW, "C API / raw ceiling, confirmed"),
        (p, RUST, GO_ACK, "Rust API / Go send+ack, confirmed"),
        (p, RUST, GO_FIRE, "Rust API confirmed / Go fire-and-forget"),
        (e, RUST_E2E, RAW_E2E, "Rust API / raw ceiling, end to end"),
        (e, C_E2E, RAW_E2E, "C API / raw ceiling, end to end"),
        (e, RUST_E2E, GO_E2E, "Rust API / Go client, end to end"),
        (p, C, GO_FIRE, "C API confirmed / Go fire-and-forget"),
        (e, C_E2E, GO_E2E, "C API / Go client, end to end"),
        (e, C_E2E_THREADS, GO_E2E, "C API, a thread blocked in kmq_receive / Go client, end to end"),
        (e, PY_E2E, GO_E2E, "Python, for m in consumer / Go client, end to end"),
        (p, RUST_CONN2, RUST, "Rust API, connections=2 / one connection, confirmed"),
        (p, RUST_CONN4, RUST, "Rust API, connections=4 / one connection, confirmed"),
        (p, C_CONN2, C, "C API, connections=2 / one connection, confirmed"),
        (e, RUST_E2E_CONN2, RUST_E2E, "Rust API, connections=2 / one connection, end to end"),
        (p, C_MANY, C, "C API, kmq_send_many / kmq_send, confirmed"),
    ];
    let n = report::thousands(largest);
    let value = |s, c| row_at(rows, s, c, largest).and_then(|r| r.value.as_ref().ok().copied());
    pairs
        .into_iter()
        .filter_map(|(s, a, b, what)| {
            let (a, b) = (value(s, a)?, value(s, b)?);
            Some(format!("{what}: {:.2}x ({} vs {} msg/s, {n} messages)", a / b, a.round(), b.round()))
        })
        .collect()
}

/// Client CPU per message: what a host pays for each message it moves.
fn cpu_lines(rows: &[Row], largest: u64) -> Vec<String> {
    let cpu_us = |s, c| row_at(rows, s, c, largest).and_then(|r| r.cpu_per_message_us().1);
    [
        ("client CPU per message, C confirmed / Go fire-and-forget", Section::Producer, C, GO_FIRE),
        ("client CPU per message, C / Go client, end to end", Section::EndToEnd, C_E2E, GO_E2E),
    ]
    .into_iter()
    .filter_map(|(what, s, ours, go)| {
        let (a, b) = (cpu_us(s, ours)?, cpu_us(s, go)?);
        Some(format!("{what}: {:.2}x ({a:.2} vs {b:.2} µs)", a / b))
    })
    .collect()
}

fn raw_verdict(rows: &[Row], largest: u64) -> Option<String> {
    let raw = row_at(rows, Section::Producer, RAW, largest)?;
    let (b, c) = (raw.broker_cpu?, raw.client_cpu?);
    // One producer connection is served by one broker task: about one
    // core is all the broker can give it.
    let verdict = if b >= 0.85 && b > c {
        "the broker is the bottleneck: it keeps about one core busy for one connection while the client has time to spare"
    } else if c >= 0.85 && c > b {
        "the raw client, not the broker, is the limit here"
    } else {
        "neither side saturates a core: the limit is the round trip (scheduling and loopback)"
    };
    Some(format!("raw run ({}): broker {b:.2} cores, client {c:.2} cores: {verdict}", report::thousands(largest)))
}

/// Whether the broker limits the fastest row of a section: a broker that
/// keeps 0.85 cores or more busy has no time to spare for that row.
fn node_limit(rows: &[Row], section: Section, largest: u64) -> Option<String> {
    let fastest = rows
        .iter()
        .filter(|r| r.section == section && r.messages == Some(largest) && r.broker_cpu.is_some())
        .filter_map(|r| Some((r, *r.value.as_ref().ok()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (row, rate) = fastest;
    let cores = row.broker_cpu?;
    let per_msg = row.cpu_per_message_us().0.map(|us| format!(", {us:.2} µs a message")).unwrap_or_default();
    let verdict = if cores >= 0.85 { "the broker is the limit" } else { "the broker is not the limit" };
    Some(format!(
        "{}, fastest row ({}, {} msg/s): broker {cores:.2} cores{per_msg}: {verdict}",
        if section == Section::EndToEnd { "end to end" } else { "producer" },
        row.client,
        report::thousands(rate.round() as u64)
    ))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {cpu}, Linux {}, kapokmq {}", kernel.trim(), kapokmq::VERSION)
}

pub fn run(args: &BenchArgs) -> CliResult<()> {
    if args.payload == 0 {
        return Err(CliError::usage("--payload must be at least 1 byte"));
    }
    let repo = repo_root(args);
    let broker_bin = args.broker.clone().unwrap_or_else(|| repo.join("target/release/kmq-broker"));
    let broker = Broker::start(&broker_bin, BROKER_ARGS).map_err(CliError::failed)?;
    let started = Instant::now();
    // A fixed, readable payload of the requested size.
    let payload: String = "kapokmq-bench-payload-".chars().cycle().take(args.payload).collect();
    let header = report::Header {
        machine: machine(),
        broker: format!(
            "{} --port 0 --push-speed-ms 0 (a fresh process each round of runs)",
            broker_bin.strip_prefix(&repo).unwrap_or(&broker_bin).display()
        ),
        payload_bytes: args.payload,
        sizes: sizes(args),
    };
    let mut ctx = Ctx { broker, broker_bin, broker_rss_mib: 0.0, payload, run_id: 0 };
    let plans = plan(args, &repo);
    let total = plans.len();
    let mut rows = Vec::new();
    for (i, p) in plans.into_iter().enumerate() {
        let done = Arc::new(AtomicU64::new(0));
        let _step = Step::start(i + 1, total, p.label, p.n, done.clone());
        rows.extend((p.job)(&mut ctx, done));
    }
    let rows = report::median_of_runs(rows);
    let largest = header.sizes.iter().copied().max().unwrap_or(0);
    let table = report::table(&header, &rows, &conclusions(&rows, largest));
    let table = format!(
        "{table}\nwhole run: {:.0} s; each broker kept every message of its round (RSS up to {:.0} MiB)\n",
        started.elapsed().as_secs_f64(),
        ctx.broker_rss_mib.max(ctx.broker.rss_mib())
    );
    print!("{table}");
    write_out(&args.csv, &report::csv(&rows))?;
    write_out(&args.csv.with_extension("txt"), &table)?;
    eprintln!("bench: wrote {} and {}", args.csv.display(), args.csv.with_extension("txt").display());
    Ok(())
}

fn write_out(path: &Path, text: &str) -> CliResult<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| CliError::failed(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(section: Section, client: &str, rate: f64, broker_cpu: f64) -> Row {
        let mut r = Row::new(section, client, "throughput", "msg/s");
        r.messages = Some(1000);
        r.value = Ok(rate);
        r.broker_cpu = Some(broker_cpu);
        r
    }

    #[test]
    fn names_the_broker_as_the_limit_of_the_fastest_row() {
        let rows = [
            row(Section::Producer, RUST, 50_000.0, 0.5),
            row(Section::Producer, RUST_CONN2, 100_000.0, 0.9),
            row(Section::EndToEnd, RUST_E2E, 40_000.0, 0.4),
        ];
        let lines = conclusions(&rows, 1000);
        assert!(
            lines.iter().any(|l| l.starts_with("Rust API, connections=2 / one connection, confirmed: 2.00x")),
            "{lines:?}"
        );
        let producer = node_limit(&rows, Section::Producer, 1000).unwrap();
        assert!(
            producer.contains(RUST_CONN2)
                && producer.contains("9.00 µs a message")
                && producer.ends_with("the broker is the limit"),
            "{producer}"
        );
        let e2e = node_limit(&rows, Section::EndToEnd, 1000).unwrap();
        assert!(e2e.ends_with("the broker is not the limit"), "{e2e}");
        assert!(node_limit(&rows, Section::Producer, 5).is_none());
    }
}
