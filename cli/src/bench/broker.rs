//! A kmq-broker process owned by the benchmark: started on a free port,
//! killed when dropped.

use process_tree::process_tree;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Broker {
    child: Child,
    pub port: u16,
}

impl Broker {
    /// Starts `binary --port 0 args...` and waits for its listening line.
    pub fn start(binary: &Path, args: &[&str]) -> Result<Broker, String> {
        let mut child = Command::new(binary)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // The line is read on a thread so that a broker that never speaks
        // cannot hang the benchmark.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining so the broker never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not print its listening line: {other:?}", binary.display()));
            }
        };
        let port = line
            .strip_prefix("kmq-broker listening on ")
            .and_then(|addr| addr.rsplit_once(':'))
            .and_then(|(_, p)| p.trim().parse().ok());
        match port {
            Some(port) => Ok(Broker { child, port }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("unexpected first line from {}: {line:?}", binary.display()))
            }
        }
    }

    /// The broker's resident memory now, in MiB (0 if unreadable), with
    /// the processes it started (the real node behind tests/real/kmq-real-broker).
    pub fn rss_mib(&self) -> f64 {
        let rss = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        };
        process_tree(self.child.id()).into_iter().map(rss).sum::<f64>() / 1024.0
    }

    /// CPU time the broker and the processes it started have used so far
    /// (user + system), in seconds: the threads' run time from the
    /// scheduler, in nanoseconds (`/proc/.../stat` counts 10 ms ticks,
    /// too coarse for a run of 100 ms).
    pub fn cpu_seconds(&self) -> f64 {
        process_tree(self.child.id()).into_iter().map(process_cpu_seconds).sum()
    }
}

/// The run time of the live threads of `pid`; for a process without
/// schedstat files (a kernel without schedstats), its `stat` ticks.
fn process_cpu_seconds(pid: u32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    let mut ns = None;
    for task in tasks {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        if let Some(run) = stat.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) {
            *ns.get_or_insert(0.0) += run;
        }
    }
    ns.map_or_else(|| cpu_seconds(&format!("/proc/{pid}/stat")), |ns| ns / 1e9)
}

/// User + system CPU seconds from a `/proc/.../stat` file (0 if unreadable).
fn cpu_seconds(stat_path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may
    // contain spaces: utime and stime are the 14th and 15th fields.
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks / if hz > 0 { hz as f64 } else { 100.0 }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
