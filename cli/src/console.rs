//! Subcommands over the node's console HTTP API: stats, messages,
//! message, clients. Tables for people, `--json` for scripts.

use crate::fail::{CliError, CliResult};
use crate::opts::ServerOpts;
use clap::Args;
use kapokmq::console::{Console, ALL_STATUSES};
/// Unix seconds as "YYYY-MM-DD hh:mm:ss" in UTC (also for `consume`).
pub use kapokmq::internals::utc;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct JsonArgs {
    /// Print the server's answer as JSON.
    #[arg(short = 'J', long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MessagesArgs {
    /// Only this topic (default: every topic).
    #[arg(short, long, env = "KAPOKMQ_TOPIC")]
    pub topic: Option<String>,

    /// waiting, delayed, consumed or all (or the server's -1, 0, 1, 3).
    #[arg(short, long, default_value = "all")]
    pub status: String,

    /// Created at or after this time, server local time:
    /// "YYYY-MM-DD hh:mm:ss" or "YYYY-MM-DD".
    #[arg(long, default_value = "2000-01-01 00:00:00")]
    pub since: String,

    /// Created at or before this time (same forms as --since).
    #[arg(long, default_value = "2999-12-31 23:59:59")]
    pub until: String,

    /// Print the server's list as JSON.
    #[arg(short = 'J', long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MessageArgs {
    /// The message code (32 hex digits).
    pub code: String,

    /// The whole message as JSON instead of its data.
    #[arg(short = 'J', long)]
    pub json: bool,
}

fn console(server: &ServerOpts) -> CliResult<Console> {
    Ok(Console::new(&server.config()?)?)
}

fn print_json(v: &Value) {
    println!("{v}");
}

fn int(v: &Value) -> String {
    v.as_i64().map(|n| n.to_string()).unwrap_or_else(|| v.to_string())
}

pub fn stats(server: &ServerOpts, args: &JsonArgs) -> CliResult<()> {
    let counts = console(server)?.count()?;
    if args.json {
        print_json(&counts);
        return Ok(());
    }
    for key in ["all", "unconsumed", "delay", "consumed"] {
        println!("{key:<11} {}", int(&counts[key]));
    }
    Ok(())
}

pub fn clients(server: &ServerOpts, args: &JsonArgs) -> CliResult<()> {
    let answer = console(server)?.clients()?;
    if args.json {
        print_json(&answer);
        return Ok(());
    }
    println!("{:<9} {:<24} {:<24} {:<16} JOINED (UTC)", "ROLE", "ID", "TOPIC", "IP");
    for (role, list, id, ip) in
        [("producer", "producers", "ProducerId", "ProducerIp"), ("consumer", "consumers", "ConsumerId", "ConsumerIp")]
    {
        for c in answer[list].as_array().into_iter().flatten() {
            println!(
                "{role:<9} {:<24} {:<24} {:<16} {}",
                c[id].as_str().unwrap_or("?"),
                c["Topic"].as_str().unwrap_or("?"),
                c[ip].as_str().unwrap_or("?"),
                c["JoinTime"].as_i64().map(utc).unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// The server's status number for a name or number given by the user.
fn status_number(s: &str) -> CliResult<i32> {
    Ok(match s {
        "waiting" | "unconsumed" | "-1" => -1,
        "delayed" | "delay" | "0" => 0,
        "consumed" | "1" => 1,
        "all" | "3" => ALL_STATUSES,
        other => {
            return Err(CliError::usage(format!("--status {other:?}: expected waiting, delayed, consumed or all")))
        }
    })
}

fn status_name(n: i64) -> &'static str {
    match n {
        -1 => "waiting",
        0 => "delayed",
        1 => "consumed",
        _ => "?",
    }
}

/// "YYYY-MM-DD" or "YYYY-MM-DD hh:mm:ss", checked here because the server
/// reads a malformed time as the year 1 without a word.
fn server_time(flag: &str, s: &str, day_end: bool) -> CliResult<String> {
    let full = match s.len() {
        10 if day_end => format!("{s} 23:59:59"),
        10 => format!("{s} 00:00:00"),
        _ => s.to_string(),
    };
    let b = full.as_bytes();
    let shape_ok = b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(CliError::usage(format!("{flag} {s:?}: expected \"YYYY-MM-DD hh:mm:ss\" or \"YYYY-MM-DD\"")));
    }
    Ok(full)
}

pub fn messages(server: &ServerOpts, args: &MessagesArgs) -> CliResult<()> {
    let status = status_number(&args.status)?;
    let since = server_time("--since", &args.since, false)?;
    let until = server_time("--until", &args.until, true)?;
    let list = console(server)?.messages(&since, &until, status, args.topic.as_deref().unwrap_or(""))?;
    if args.json {
        // The server says null for an empty list.
        let empty = Value::Array(Vec::new());
        print_json(if list.is_null() { &empty } else { &list });
        return Ok(());
    }
    let items = list.as_array().map(Vec::as_slice).unwrap_or(&[]);
    if items.is_empty() {
        if !server.quiet {
            eprintln!("no messages");
        }
        return Ok(());
    }
    println!("{:<32}  {:<24}  {:<8}  {:<19}  DELAY", "CODE", "TOPIC", "STATUS", "CREATED (UTC)");
    for m in items {
        println!(
            "{:<32}  {:<24}  {:<8}  {:<19}  {}",
            m["MessageCode"].as_str().unwrap_or("?"),
            m["Topic"].as_str().unwrap_or("?"),
            m["Status"].as_i64().map(status_name).unwrap_or("?"),
            m["CreateTime"].as_i64().map(utc).unwrap_or_default(),
            int(&m["DelayTime"])
        );
    }
    Ok(())
}

pub fn message(server: &ServerOpts, args: &MessageArgs) -> CliResult<()> {
    let m = console(server)?.message(&args.code)?;
    if m.is_null() {
        return Err(CliError::failed(format!("the node has no message {}", args.code)));
    }
    if args.json {
        print_json(&m);
    } else {
        println!("{}", m["MessageData"].as_str().unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_640_975_470), "2021-12-31 18:31:10");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn times_and_statuses() {
        assert_eq!(server_time("--since", "2024-01-02", false).unwrap(), "2024-01-02 00:00:00");
        assert_eq!(server_time("--until", "2024-01-02", true).unwrap(), "2024-01-02 23:59:59");
        assert!(server_time("--since", "2024-1-2", false).is_err());
        assert!(server_time("--since", "yesterday", false).is_err());
        assert_eq!(status_number("waiting").unwrap(), -1);
        assert_eq!(status_number("3").unwrap(), ALL_STATUSES);
        assert!(status_number("done").is_err());
    }
}
