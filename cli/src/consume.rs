//! `kmq consume`: pushed messages to stdout, as text, JSON lines or a
//! kcat-style format. A message is acked only once its output has been
//! flushed, so a crash or a closed pipe leaves it to be delivered again (at
//! least once).
//!
//! The node pushes every message of the topic to the connected consumers as
//! it arrives, without waiting for acks, so `-c N` cannot take fewer from
//! the node than it pushes: what was pushed beyond N is left unacked, and
//! kmq says how many and when the node will push them again.

use crate::console::utc;
use crate::fail::{code, CliError, CliResult};
use crate::format::{unescape, Format, FORMAT_HELP};
use crate::opts::{default_client_id, ServerOpts};
use crate::progress::Progress;
use clap::Args;
use kapokmq::{Consumer, ErrorKind, Message};
use std::io::{ErrorKind as IoKind, IsTerminal, Write};
use std::time::{Duration, Instant};

/// The node's default `pushRetryTime`: an unacked message is pushed again
/// once this long has passed since it was created (plus its delay).
const DEFAULT_PUSH_RETRY_S: i64 = 300;

/// Idle limit of `-e` without `--timeout`.
const END_IDLE_S: f64 = 1.0;

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to receive from.
    #[arg(short, long, env = "KAPOKMQ_TOPIC")]
    pub topic: String,

    /// Consumer id (default: kmq-consumer-PID).
    #[arg(long, env = "KAPOKMQ_CONSUMER_ID")]
    pub id: Option<String>,

    /// Stop after N messages (kcat's -c). Messages the node pushed beyond N
    /// are left unacked, and kmq says how many on stderr.
    #[arg(short = 'n', visible_short_alias = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Stop when no message has arrived for this long (exit code 4 if -c N
    /// was not reached, unless -e).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Exit successfully once the node has nothing more to push: no message
    /// for --timeout seconds (1 by default), even short of -c N (kcat's -e).
    /// Messages stored before kmq connected are pushed only at the node's
    /// retry time, so -e does not wait for them.
    #[arg(short = 'e', long = "exit")]
    pub exit_at_end: bool,

    /// One JSON object per message: code, data, topic, create_time,
    /// consumed_time, delay_time, status (kcat's -J).
    #[arg(short = 'J', long, conflicts_with = "format")]
    pub json: bool,

    /// Print each message with this format (kcat's -f), e.g. '%k %s\n'.
    #[arg(short = 'f', long, value_name = "FMT", long_help = format!("Print each message with this format (kcat's -f), e.g. '%k %s\\n':\n{FORMAT_HELP}"))]
    pub format: Option<String>,

    /// Written after each message, text or JSON (kcat's -D; default \n;
    /// escapes \n \r \t \0 \\ \xNN).
    #[arg(short = 'D', long, value_name = "DELIM", conflicts_with = "format")]
    pub delimiter: Option<String>,

    /// Do not ack: the node pushes the messages again after its retry time.
    #[arg(long)]
    pub no_ack: bool,

    /// kcat's offset flag, which KapokMQ has no use for: refused with a hint.
    #[arg(short = 'o', hide = true, value_name = "OFFSET")]
    pub offset: Option<String>,
}

/// How each message is written to stdout.
enum Render {
    Text(Vec<u8>),
    Json(Vec<u8>),
    Format(Format),
}

impl Render {
    fn from_args(args: &ConsumeArgs) -> CliResult<Render> {
        if let Some(f) = &args.format {
            return Ok(Render::Format(Format::parse(f)?));
        }
        let delim = match &args.delimiter {
            Some(d) => unescape("-D", d)?,
            None => b"\n".to_vec(),
        };
        Ok(if args.json { Render::Json(delim) } else { Render::Text(delim) })
    }

    fn write(&self, m: &Message, out: &mut Vec<u8>) {
        match self {
            Render::Text(delim) => {
                out.extend_from_slice(m.data.as_bytes());
                out.extend_from_slice(delim);
            }
            Render::Json(delim) => {
                out.extend_from_slice(json_line(m).as_bytes());
                out.extend_from_slice(delim);
            }
            Render::Format(f) => f.render(m, out),
        }
    }
}

/// Messages pushed to this consumer that it leaves unacked, and when the
/// node will push them again.
#[derive(Default)]
struct Unacked {
    count: u64,
    /// Earliest re-push, Unix seconds, with the node's default retry time.
    first_due: Option<i64>,
}

impl Unacked {
    fn add(&mut self, m: &Message) {
        self.count += 1;
        let due = m.create_time + m.delay_time.max(0) + DEFAULT_PUSH_RETRY_S;
        self.first_due = Some(self.first_due.map_or(due, |d| d.min(due)));
    }

    /// The note for stderr, or None when nothing is left.
    /// `what` says which messages, given "N message(s)".
    fn note(&self, what: impl FnOnce(String) -> String) -> Option<String> {
        let due = self.first_due?;
        let messages = format!("{} message{}", self.count, if self.count == 1 { "" } else { "s" });
        Some(format!(
            "kmq consume: {}; the node pushes {} again once its pushRetryTime \
             (300 s by default) has passed since {} created, at its next check (every checkSpeed, \
             5 s by default): from about {} UTC with the defaults",
            what(messages),
            if self.count == 1 { "it" } else { "them" },
            if self.count == 1 { "it was" } else { "they were" },
            utc(due)
        ))
    }
}

fn json_line(m: &Message) -> String {
    serde_json::json!({
        "code": m.code,
        "data": m.data,
        "topic": m.topic,
        "create_time": m.create_time,
        "consumed_time": m.consumed_time,
        "delay_time": m.delay_time,
        "status": m.status,
    })
    .to_string()
}

/// Output written but not yet flushed, and the codes to ack once it is.
struct Out {
    w: std::io::BufWriter<std::io::StdoutLock<'static>>,
    unacked: Vec<String>,
    closed: bool,
}

impl Out {
    /// Flushes and acks. Returns false when the reader of stdout has gone
    /// (the unflushed messages stay unacked and will come again).
    fn commit(&mut self, c: &Consumer, ack: bool) -> CliResult<bool> {
        match self.w.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == IoKind::BrokenPipe => {
                self.closed = true;
                return Ok(false);
            }
            Err(e) => return Err(CliError::failed(format!("writing to stdout: {e}"))),
        }
        if ack {
            for code in self.unacked.drain(..) {
                c.ack(&code)?;
            }
        }
        self.unacked.clear();
        Ok(true)
    }
}

pub fn run(server: &ServerOpts, args: &ConsumeArgs) -> CliResult<()> {
    if let Some(o) = &args.offset {
        return Err(CliError::usage(format!(
            "-o {o}: KapokMQ has no offsets (the node pushes each message as it arrives); \
             for JSON use -J, for a format -f"
        )));
    }
    let idle = match args.timeout.or(args.exit_at_end.then_some(END_IDLE_S)) {
        Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
        Some(t) => return Err(CliError::usage(format!("--timeout {t}: not a number of seconds"))),
        None => None,
    };
    let render = Render::from_args(args)?;
    if args.count == Some(0) {
        return Ok(());
    }
    let mut cfg = server.config()?;
    cfg.set("topic", &args.topic)?;
    cfg.set("consumer_id", &args.id.clone().unwrap_or_else(|| default_client_id("consumer")))?;
    let consumer = if server.registry.is_some() { Consumer::connect_cluster(&cfg) } else { Consumer::connect(&cfg) }?;

    // Progress only when it cannot mix with the messages on a terminal.
    let mut progress =
        Progress::new(!server.quiet && std::io::stderr().is_terminal() && !std::io::stdout().is_terminal());
    let mut out = Out { w: std::io::BufWriter::new(std::io::stdout().lock()), unacked: Vec::new(), closed: false };
    let mut printed_unacked = Unacked::default();
    let mut record = Vec::new();
    let mut received = 0u64;
    let mut last_arrival = Instant::now();
    let outcome = loop {
        if args.count.is_some_and(|n| received >= n) {
            break Ok(());
        }
        // Nothing ready: commit what was written before blocking.
        let m = match consumer.receive(0) {
            Ok(m) => Ok(m),
            Err(e) if e.kind() == ErrorKind::Timeout => {
                if !out.commit(&consumer, !args.no_ack)? {
                    break Ok(());
                }
                // Short slices keep the idle limit exact enough.
                let wait = match idle {
                    Some(limit) => {
                        let left = limit.saturating_sub(last_arrival.elapsed());
                        if left.is_zero() {
                            break match args.count {
                                Some(n) if !args.exit_at_end => Err(CliError::new(
                                    code::TIMEOUT,
                                    format!(
                                        "received {received} of {n} messages; none came for {} s (the node pushes a \
                                         message to the consumers connected when it arrives; one sent before kmq \
                                         connected comes after the node's pushRetryTime, 300 s by default)",
                                        limit.as_secs_f64()
                                    ),
                                )),
                                _ => Ok(()),
                            };
                        }
                        left.min(Duration::from_millis(500))
                    }
                    None => Duration::from_millis(500),
                };
                match consumer.receive(wait.as_millis().max(1) as i64) {
                    Err(e) if e.kind() == ErrorKind::Timeout => continue,
                    r => r,
                }
            }
            Err(e) => Err(e),
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => break Err(e.into()),
        };
        last_arrival = Instant::now();
        received += 1;
        record.clear();
        render.write(&m, &mut record);
        if args.no_ack {
            printed_unacked.add(&m);
        }
        if let Err(e) = out.w.write_all(&record) {
            if e.kind() == IoKind::BrokenPipe {
                out.closed = true;
                break Ok(());
            }
            break Err(CliError::failed(format!("writing to stdout: {e}")));
        }
        out.unacked.push(m.code);
        if out.unacked.len() >= 1000 && !out.commit(&consumer, !args.no_ack)? {
            break Ok(());
        }
        progress.tick(|| format!("received {received}"));
    };
    progress.clear();
    if !out.closed {
        out.commit(&consumer, !args.no_ack)?;
    }
    // What the node pushed beyond -c N and the library has read: taken
    // from its buffer without waiting, so no more is read from the node.
    let mut beyond = Unacked::default();
    if outcome.is_ok() && args.count.is_some_and(|n| received >= n) {
        for _ in 0..consumer.stats().buffered {
            match consumer.receive(0) {
                Ok(m) => beyond.add(&m),
                Err(_) => break,
            }
        }
    }
    // Returns once the acks are written, so exiting right after is safe.
    consumer.close();
    if !server.quiet {
        let notes = [
            printed_unacked.note(|n| format!("{n} printed and left unacked (--no-ack)")),
            // At least: what the node wrote that kmq had not read is not seen.
            beyond.note(|n| format!("the node pushed at least {n} more than -c to kmq, left unacked")),
        ];
        for note in notes.into_iter().flatten() {
            eprintln!("{note}");
        }
    }
    outcome
}
