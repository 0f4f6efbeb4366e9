//! A one-line progress display on stderr for long runs. On a terminal it
//! redraws in place; otherwise (CI logs) it writes a plain line now and
//! then, so the log shows the run is alive without filling up.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    enabled: bool,
    tty: bool,
    every: Duration,
    last: Instant,
    drawn: bool,
}

impl Progress {
    /// `enabled` false makes every call a no-op.
    pub fn new(enabled: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let every = if tty { Duration::from_millis(200) } else { Duration::from_secs(5) };
        Progress { enabled, tty, every, last: Instant::now(), drawn: false }
    }

    /// On when stderr is a terminal.
    pub fn auto() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    /// Shows `line` if the last update is old enough; `line` is only built
    /// then, so calling this in a hot loop costs a clock read.
    pub fn tick(&mut self, line: impl FnOnce() -> String) {
        if !self.enabled || self.last.elapsed() < self.every {
            return;
        }
        self.last = Instant::now();
        self.draw(&line());
    }

    fn draw(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        self.drawn = true;
    }

    /// Removes the line (on a terminal) so that what follows starts clean.
    pub fn clear(&mut self) {
        if self.enabled && self.tty && self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
        self.drawn = false;
    }

    /// Writes a status line that stays (a step started or finished).
    pub fn note(&mut self, line: &str) {
        if !self.enabled {
            return;
        }
        self.clear();
        eprintln!("{line}");
    }
}
