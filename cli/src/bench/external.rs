//! Benchmarks in other processes (the C and Go programs, the Python and
//! Node scripts): run with a time limit, output captured, figures parsed.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Output {
    pub stdout: String,
}

/// Runs `cmd`, killing it after `limit`. Fails with the tail of its output
/// when it exits non-zero.
pub fn run(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let shown = format!("{:?}", cmd.get_program());
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    // Both pipes are drained on threads so that a chatty child never
    // blocks on a full pipe.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{shown} did not finish within {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().chain(stdout.lines()).filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        return Err(format!("{shown} failed ({status}): {tail}"));
    }
    Ok(Output { stdout })
}

/// The `key=value` pairs of the last line starting with `RESULT`, the
/// format the C and Go bench programs print.
pub fn result_line(stdout: &str) -> Result<HashMap<String, f64>, String> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no RESULT line in its output: {:?}", stdout.lines().last().unwrap_or("")))?;
    let mut fields = HashMap::new();
    for pair in line.split_whitespace() {
        if let Some((k, v)) = pair.split_once('=') {
            if let Ok(v) = v.parse() {
                fields.insert(k.to_string(), v);
            }
        }
    }
    Ok(fields)
}

pub fn field(fields: &HashMap<String, f64>, key: &str) -> Result<f64, String> {
    fields.get(key).copied().ok_or_else(|| format!("RESULT line has no {key}="))
}

/// The number before `unit` on the line that starts with `prefix`, as the
/// Python and Node send benchmarks print it ("send: 1.23 µs per message").
pub fn number_before(stdout: &str, prefix: &str, unit: &str) -> Result<f64, String> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with(prefix))
        .find_map(|l| {
            let before = &l[..l.find(unit)?];
            before.split_whitespace().last()?.parse().ok()
        })
        .ok_or_else(|| format!("no \"{prefix} ... {unit}\" line in its output"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_lines() {
        let f = result_line("noise\nRESULT secs=1.5 n=10 bad=x\n[check] more noise\n").unwrap();
        assert_eq!(f["secs"], 1.5);
        assert_eq!(f["n"], 10.0);
        assert!(!f.contains_key("bad"));
        assert!(result_line("nothing here").is_err());
    }

    #[test]
    fn parses_per_message_lines() {
        let out = "warming up\nProducer.send: 2.75 µs per message (median of 100 batches)\n";
        assert_eq!(number_before(out, "Producer.send:", "µs per message").unwrap(), 2.75);
        assert!(number_before(out, "send:", "ms per").is_err());
    }
}
