//! Errors of the command line and the exit codes they become. A script can
//! tell a bad invocation from an unreachable server from a partial failure.

use kapokmq::ErrorKind;
use std::fmt;

/// Exit codes, documented in `kmq --help`.
pub mod code {
    /// Something failed: a message was not confirmed, the server said no.
    pub const FAILED: i32 = 1;
    /// Bad flags, config values or input.
    pub const USAGE: i32 = 2;
    /// The server or the registry cannot be reached, or rejected the key.
    pub const CONNECT: i32 = 3;
    /// Waited, and what was asked for did not come in time.
    pub const TIMEOUT: i32 = 4;
}

#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CliError { code, message: message.into() }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(code::USAGE, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(code::FAILED, message)
    }
    pub fn context(self, what: impl fmt::Display) -> Self {
        CliError { code: self.code, message: format!("{what}: {}", self.message) }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The exit code for a library error of this kind.
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::InvalidArgument => code::USAGE,
        ErrorKind::Auth | ErrorKind::Connect | ErrorKind::NoNodes => code::CONNECT,
        ErrorKind::Timeout => code::TIMEOUT,
        ErrorKind::Closed | ErrorKind::QueueFull | ErrorKind::Protocol | ErrorKind::Internal => code::FAILED,
    }
}

impl From<kapokmq::Error> for CliError {
    fn from(e: kapokmq::Error) -> Self {
        CliError::new(exit_code(e.kind()), e.message().to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::failed(e.to_string())
    }
}
