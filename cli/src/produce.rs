//! `kmq produce`: messages from arguments, whole files, or stdin lines,
//! each one sent and its confirmation awaited. The exit code says whether
//! every message was confirmed; a summary says what happened.

use crate::fail::{code, exit_code, CliError, CliResult};
use crate::format::unescape;
use crate::opts::{default_client_id, ServerOpts};
use crate::progress::Progress;
use clap::Args;
use kapokmq::{DeliveryReport, ErrorKind, Producer};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct ProduceArgs {
    /// Topic to send to.
    #[arg(short, long, env = "KAPOKMQ_TOPIC")]
    pub topic: String,

    /// Producer id (default: kmq-producer-PID).
    #[arg(long, env = "KAPOKMQ_PRODUCER_ID")]
    pub id: Option<String>,

    /// Messages to send. Without any (and without --file), each line of
    /// stdin is one message (or each piece between -D delimiters); empty
    /// ones are skipped.
    pub messages: Vec<String>,

    /// Split stdin into messages at DELIM instead of at line ends (kcat's
    /// -D; escapes \n \r \t \0 \\ \xNN).
    #[arg(short = 'D', long, value_name = "DELIM")]
    pub delimiter: Option<String>,

    /// Send the whole content of FILE as one message (repeatable).
    #[arg(short, long, value_name = "FILE")]
    pub file: Vec<PathBuf>,

    /// Deliver after this many seconds.
    #[arg(short, long, default_value_t = 0, value_name = "SECONDS")]
    pub delay: i64,

    /// How long to wait for the last confirmations after the last send.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub timeout: f64,
}

/// Where a message came from, to name it when it fails.
#[derive(Clone, Copy, Debug)]
enum Origin {
    Arg(usize),
    File(usize),
    Line(u64),
    /// The Nth piece of stdin between -D delimiters.
    Piece(u64),
}

struct Tally<'a> {
    files: &'a [PathBuf],
    sent: u64,
    confirmed: u64,
    skipped: u64,
    pending: HashMap<u64, Origin>,
    failures: Vec<(Origin, kapokmq::Error)>,
    failed: u64,
    /// Refused before sending (too large, ...); counted in `failed` too.
    refused: u64,
}

impl Tally<'_> {
    fn name(&self, o: Origin) -> String {
        match o {
            Origin::Arg(i) => format!("argument {}", i + 1),
            Origin::File(i) => format!("file {}", self.files[i].display()),
            Origin::Line(n) => format!("line {n}"),
            Origin::Piece(n) => format!("stdin message {n}"),
        }
    }

    fn fail(&mut self, origin: Origin, e: kapokmq::Error) {
        self.failed += 1;
        // Enough to see the pattern; the count says how many there were.
        if self.failures.len() < 10 {
            self.failures.push((origin, e));
        }
    }

    fn take(&mut self, reports: Vec<DeliveryReport>) {
        for r in reports {
            let Some(origin) = self.pending.remove(&r.id) else {
                continue;
            };
            match r.result {
                Ok(()) => self.confirmed += 1,
                Err(e) => self.fail(origin, e),
            }
        }
    }

    /// Collects whatever reports are ready, waiting up to `wait_ms`.
    fn poll(&mut self, p: &Producer, wait_ms: i64) -> CliResult<()> {
        match p.poll_reports(8192, wait_ms) {
            Ok(reports) => {
                self.take(reports);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::Timeout => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// What splits stdin into messages: -D, or a line end.
fn stdin_delimiter(args: &ProduceArgs) -> CliResult<Vec<u8>> {
    match &args.delimiter {
        Some(d) => {
            Some(unescape("-D", d)?).filter(|d| !d.is_empty()).ok_or_else(|| CliError::usage("-D: empty delimiter"))
        }
        None => Ok(b"\n".to_vec()),
    }
}

/// One message at a time from the chosen source.
fn for_each_message(
    args: &ProduceArgs,
    delim: &[u8],
    mut send: impl FnMut(Origin, &str) -> CliResult<()>,
    skipped: &mut u64,
) -> CliResult<()> {
    if !args.messages.is_empty() || !args.file.is_empty() {
        for (i, m) in args.messages.iter().enumerate() {
            send(Origin::Arg(i), m)?;
        }
        for (i, path) in args.file.iter().enumerate() {
            let bytes = std::fs::read(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                CliError::usage(format!("{}: not UTF-8 text (KapokMQ carries text only)", path.display()))
            })?;
            send(Origin::File(i), &text)?;
        }
        return Ok(());
    }
    let origin = if args.delimiter.is_some() { Origin::Piece } else { Origin::Line };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut buf = Vec::new();
    let mut n = 0u64;
    while read_piece(&mut input, delim, &mut buf)? {
        n += 1;
        // Windows line ends: a line's \r belongs to its end.
        if args.delimiter.is_none() && buf.ends_with(b"\r") {
            buf.pop();
        }
        if buf.is_empty() {
            *skipped += 1;
            continue;
        }
        let text = std::str::from_utf8(&buf).map_err(|_| {
            let what = if args.delimiter.is_some() { "message" } else { "line" };
            CliError::usage(format!("stdin {what} {n}: not UTF-8 text (KapokMQ carries text only)"))
        })?;
        send(origin(n), text)?;
    }
    Ok(())
}

/// Reads up to the next `delim` (left out of `buf`) or the end of input.
/// False once the input is exhausted.
fn read_piece(input: &mut impl BufRead, delim: &[u8], buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let last = delim[delim.len() - 1];
    loop {
        if input.read_until(last, buf)? == 0 {
            return Ok(!buf.is_empty());
        }
        if buf.ends_with(delim) {
            buf.truncate(buf.len() - delim.len());
            return Ok(true);
        }
        if buf.last() != Some(&last) {
            return Ok(true); // the end of input, without a delimiter
        }
    }
}

pub fn run(server: &ServerOpts, args: &ProduceArgs) -> CliResult<()> {
    if !(args.timeout.is_finite() && args.timeout >= 0.0) {
        return Err(CliError::usage(format!("--timeout {}: not a number of seconds", args.timeout)));
    }
    let delim = stdin_delimiter(args)?;
    let mut cfg = server.config()?;
    cfg.set("topic", &args.topic)?;
    cfg.set("producer_id", &args.id.clone().unwrap_or_else(|| default_client_id("producer")))?;
    let producer = if server.registry.is_some() { Producer::connect_cluster(&cfg) } else { Producer::connect(&cfg) }?;

    let started = Instant::now();
    let mut progress = Progress::auto();
    let mut tally = Tally {
        files: &args.file,
        sent: 0,
        confirmed: 0,
        skipped: 0,
        pending: HashMap::new(),
        failures: Vec::new(),
        failed: 0,
        refused: 0,
    };
    let mut skipped = 0;
    let sending = for_each_message(
        args,
        &delim,
        |origin, data| {
            loop {
                match producer.send_tracked(data, args.delay) {
                    Ok(id) => {
                        tally.pending.insert(id, origin);
                        tally.sent += 1;
                        break;
                    }
                    // The producer holds queue_max messages: wait for some
                    // confirmations to make room.
                    Err(e) if e.kind() == ErrorKind::QueueFull => tally.poll(&producer, 100)?,
                    // This message is refused (too large...): the others go on.
                    Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                        tally.refused += 1;
                        tally.fail(origin, e);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if tally.sent % 1024 == 0 {
                tally.poll(&producer, 0)?;
            }
            progress.tick(|| format!("sent {}, confirmed {}, failed {}", tally.sent, tally.confirmed, tally.failed));
            Ok(())
        },
        &mut skipped,
    );
    tally.skipped = skipped;

    // Whatever was sent before a stop still gets its confirmation awaited.
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    while !tally.pending.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tally.poll(&producer, left.as_millis().clamp(1, 200) as i64)?;
        progress.tick(|| format!("sent {}, confirmed {}, failed {}", tally.sent, tally.confirmed, tally.failed));
    }
    progress.clear();
    let unconfirmed = tally.pending.len() as u64;
    producer.close();

    let secs = started.elapsed().as_secs_f64();
    if !server.quiet {
        let rate = if secs > 0.0 { tally.confirmed as f64 / secs } else { 0.0 };
        let mut line =
            format!("kmq produce: {} sent, {} confirmed, {} failed", tally.sent, tally.confirmed, tally.failed);
        if unconfirmed > 0 {
            line.push_str(&format!(", {unconfirmed} not confirmed within --timeout {} s", args.timeout));
        }
        if tally.skipped > 0 {
            line.push_str(&format!(", {} empty lines skipped", tally.skipped));
        }
        line.push_str(&format!(" ({secs:.2} s, {rate:.0} msg/s)"));
        eprintln!("{line}");
    }
    for (origin, e) in &tally.failures {
        eprintln!("  {}: {}", tally.name(*origin), e.message());
    }
    if tally.failed > tally.failures.len() as u64 {
        eprintln!("  ... and {} more", tally.failed - tally.failures.len() as u64);
    }

    sending?;
    if tally.failed > 0 {
        // All failures of one kind (e.g. the node went away) give that
        // kind's code; a mix is a plain failure.
        let first = tally.failures[0].1.kind();
        let same = tally.failures.iter().all(|(_, e)| e.kind() == first);
        let code = if same && first != ErrorKind::InvalidArgument { exit_code(first) } else { code::FAILED };
        return Err(CliError::new(code, format!("{} of {} messages failed", tally.failed, tally.sent + tally.refused)));
    }
    if unconfirmed > 0 {
        return Err(CliError::new(
            code::TIMEOUT,
            format!("{unconfirmed} messages not confirmed within {} s", args.timeout),
        ));
    }
    Ok(())
}
