//! `kmq consume`: pushed messages to stdout, as text or JSON lines. A
//! message is acked only once its output has been flushed, so a crash or a
//! closed pipe leaves it to be delivered again (at least once).

use crate::fail::{code, CliError, CliResult};
use crate::opts::{default_client_id, ServerOpts};
use crate::progress::Progress;
use clap::Args;
use kapokmq::{Consumer, ErrorKind, Message};
use std::io::{ErrorKind as IoKind, IsTerminal, Write};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    /// Topic to receive from.
    #[arg(short, long, env = "KAPOKMQ_TOPIC")]
    pub topic: String,

    /// Consumer id (default: kmq-consumer-PID).
    #[arg(long, env = "KAPOKMQ_CONSUMER_ID")]
    pub id: Option<String>,

    /// Stop after N messages.
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Stop when no message has arrived for this long.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// One JSON object per line: code, data, topic, create_time,
    /// consumed_time, delay_time, status.
    #[arg(long)]
    pub json: bool,

    /// Do not ack: the server will deliver the messages again later.
    #[arg(long)]
    pub no_ack: bool,
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
    let idle = match args.timeout {
        Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
        Some(t) => return Err(CliError::usage(format!("--timeout {t}: not a number of seconds"))),
        None => None,
    };
    if args.count == Some(0) {
        return Ok(());
    }
    let mut cfg = server.config()?;
    cfg.set("topic", &args.topic)?;
    cfg.set("consumer_id", &args.id.clone().unwrap_or_else(|| default_client_id("consumer")))?;
    let consumer = if server.registry.is_some() { Consumer::connect_cluster(&cfg) } else { Consumer::connect(&cfg) }?;

    // Progress only when it cannot mix with the messages on a terminal.
    let mut progress = Progress::new(std::io::stderr().is_terminal() && !std::io::stdout().is_terminal());
    let mut out = Out { w: std::io::BufWriter::new(std::io::stdout().lock()), unacked: Vec::new(), closed: false };
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
                                Some(n) => Err(CliError::new(
                                    code::TIMEOUT,
                                    format!("received {received} of {n} messages; none came for {} s", limit.as_secs_f64()),
                                )),
                                None => Ok(()),
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
        let line = if args.json { json_line(&m) } else { m.data.clone() };
        if let Err(e) = writeln!(out.w, "{line}") {
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
    // Returns once the acks are written, so exiting right after is safe.
    consumer.close();
    outcome
}
