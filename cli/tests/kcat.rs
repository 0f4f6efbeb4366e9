//! kcat's flags in `kmq`, each against a real kmq-broker: -b, -c, -e, -J,
//! -f, -D, -q, and the hint for -o.

mod support;

use serde_json::Value;
use std::time::{Duration, Instant};
use support::{counts, eventually, kmq, run, start_consumer, text, wait, Broker, Kmq};

fn produce(b: &Broker, args: &[&str], stdin: &str) {
    let mut cmd = b.kmq();
    cmd.arg("produce").args(args);
    let out = run(cmd, stdin);
    assert!(out.status.success(), "produce {args:?}: {}", text(&out.stderr));
}

#[test]
fn b_names_the_node_and_wins_over_the_environment() {
    let b = Broker::start(&[]);
    let node = format!("127.0.0.1:{}", b.port);
    // kmq() has no KAPOKMQ_* settings: only -b says where the node is.
    let mut cmd = kmq();
    cmd.args(["-b", &node, "produce", "-t", "t", "x"]);
    assert!(run(cmd, "").status.success());

    // After the subcommand too, and over a wrong KAPOKMQ_PORT.
    let mut cmd = kmq();
    cmd.env("KAPOKMQ_PORT", "1").args(["stats", "-J", "-b", &node]);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats: Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
    assert_eq!(stats["all"], 1, "{stats}");

    // -b HOST keeps -p's port.
    let mut cmd = kmq();
    cmd.args(["-b", "127.0.0.1", "-p", &b.port.to_string(), "stats"]);
    assert!(run(cmd, "").status.success());

    let mut cmd = kmq();
    cmd.args(["-b", "127.0.0.1:notaport", "stats"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("-b"), "{}", text(&out.stderr));
}

#[test]
fn c_takes_n_and_says_what_it_left_unacked() {
    // A short retry time, to see the leftovers come back as the note says.
    let b = Broker::start(&["--push-retry-ms", "2000", "--check-speed-ms", "200"]);
    let first = start_consumer(&b, &["-t", "jobs", "-c", "2", "--timeout", "20"]);
    produce(&b, &["-t", "jobs"], "1\n2\n3\n4\n5\n");
    let got = wait(first, Duration::from_secs(30));
    let err = text(&got.stderr);
    assert!(got.status.success(), "{err}");
    assert_eq!(text(&got.stdout), "1\n2\n");
    // The node pushed all five to the only consumer. How many kmq had read
    // beyond the two it printed when it closed is timing: usually all
    // three, none when the pushes come slowly (a loaded machine). When it
    // read some, it says how many, and that the node pushes them again.
    let left: Option<u64> = err
        .split_once("the node pushed at least ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    match left {
        Some(left) => {
            assert!((1..=3).contains(&left), "{err}");
            assert!(
                err.contains("left unacked") && err.contains("pushRetryTime") && err.contains("checkSpeed"),
                "{err}"
            );
        }
        None => assert!(!err.contains("left unacked"), "a note without its count: {err}"),
    }
    let c = eventually(Duration::from_secs(5), || Some(counts(&b)).filter(|c| c["consumed"] == 2));
    assert!(c.is_some(), "exactly the two printed are acked: {}", counts(&b));

    // The three come back only with the node's retry, to the next consumer.
    let started = Instant::now();
    let mut second = b.kmq();
    second.args(["consume", "-t", "jobs", "-c", "3", "--timeout", "15", "-q"]);
    let out = run(second, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, ["3", "4", "5"]);
    assert!(out.stderr.is_empty(), "-q: {}", text(&out.stderr));
    assert!(started.elapsed() > Duration::from_millis(500), "redelivered at once: {:?}", started.elapsed());
}

#[test]
fn e_ends_successfully_when_nothing_more_comes() {
    let b = Broker::start(&[]);
    // Short of -c, with the default idle time of -e: success, not code 4.
    let started = Instant::now();
    let mut cmd = b.kmq();
    cmd.args(["consume", "-t", "idle", "-c", "5", "-e"]);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // What was pushed is printed and acked before the end.
    let consumer = start_consumer(&b, &["-t", "idle", "-e", "--timeout", "3"]);
    produce(&b, &["-t", "idle"], "only\n");
    let got = wait(consumer, Duration::from_secs(30));
    assert!(got.status.success(), "{}", text(&got.stderr));
    assert_eq!(text(&got.stdout), "only\n");
}

#[test]
fn f_formats_and_d_delimits_messages_both_ways() {
    let b = Broker::start(&[]);
    let formatted = start_consumer(&b, &["-t", "fmt", "-c", "3", "--timeout", "20", "-f", "%t|%k|%s|%S\\n"]);
    // -D on produce: stdin split at ";;", the empty piece skipped.
    let mut cmd = b.kmq();
    cmd.args(["produce", "-t", "fmt", "-D", ";;"]);
    let out = run(cmd, "héllo;;two\nlines;;;;last");
    let err = text(&out.stderr);
    assert!(out.status.success() && err.contains("3 sent, 3 confirmed") && err.contains("1 empty"), "{err}");

    let got = wait(formatted, Duration::from_secs(30));
    assert!(got.status.success(), "{}", text(&got.stderr));
    let printed = text(&got.stdout);
    let records: Vec<Vec<&str>> = printed.split_terminator('\n').map(|l| l.split('|').collect()).collect();
    // "two\nlines" is one message: its newline splits the printed line.
    assert_eq!(records.len(), 4, "{printed}");
    let (first, last) = (&records[0], &records[3]);
    assert_eq!((first[0], first[2], first[3]), ("fmt", "héllo", "6"), "{printed}");
    assert!(first[1].len() == 32 && first[1].bytes().all(|c| c.is_ascii_hexdigit()), "{printed}");
    assert_eq!((last[2], last[3]), ("last", "4"), "{printed}");

    // -J with -D: JSON records ended by the delimiter instead of a newline.
    let json = start_consumer(&b, &["-t", "json", "-c", "2", "--timeout", "20", "-J", "-D", "\\x1e"]);
    produce(&b, &["-t", "json", "a", "b"], "");
    let got = wait(json, Duration::from_secs(30));
    let printed = text(&got.stdout);
    assert!(printed.ends_with('\u{1e}') && !printed.contains('\n'), "{printed:?}");
    let data: Vec<Value> = printed
        .split_terminator('\u{1e}')
        .map(|r| serde_json::from_str::<Value>(r).expect("JSON")["data"].clone())
        .collect();
    assert_eq!(data, ["a", "b"]);
}

#[test]
fn q_silences_summaries_before_or_after_the_subcommand() {
    let b = Broker::start(&[]);
    for args in [&["-q", "produce", "-t", "t", "x"][..], &["produce", "-t", "t", "x", "--quiet"]] {
        let mut cmd = b.kmq();
        cmd.args(args);
        let out = run(cmd, "");
        assert!(out.status.success() && out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
    let mut loud = b.kmq();
    loud.args(["produce", "-t", "t", "x"]);
    assert!(text(&run(loud, "").stderr).contains("1 sent, 1 confirmed"));
    // Errors still go out.
    let mut cmd = b.kmq();
    cmd.args(["-q", "consume", "-t", "t", "-c", "1", "--timeout", "0.2"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("received 0 of 1"), "{}", text(&out.stderr));
}

#[test]
fn kcat_flags_with_bad_values_exit_2_and_say_why() {
    let cases: [(&[&str], &str); 6] = [
        (&["consume", "-t", "t", "-f", "%q"], "unknown token %q"),
        (&["consume", "-t", "t", "-D", "\\q"], "unknown escape"),
        (&["consume", "-t", "t", "-J", "-f", "%s"], "cannot be used with"),
        (&["consume", "-t", "t", "-o", "beginning"], "for JSON use -J"),
        (&["produce", "-t", "t", "-D", ""], "empty delimiter"),
        (&["-b", "", "stats"], "-b"),
    ];
    for (args, says) in cases {
        let mut cmd = kmq();
        cmd.args(args);
        let out = run(cmd, "");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn no_ack_says_what_it_left_and_until_when() {
    let b = Broker::start(&[]);
    let consumer = start_consumer(&b, &["-t", "peek", "-c", "1", "--timeout", "20", "--no-ack"]);
    produce(&b, &["-t", "peek", "look"], "");
    let got = wait(consumer, Duration::from_secs(30));
    let err = text(&got.stderr);
    assert!(got.status.success(), "{err}");
    assert_eq!(text(&got.stdout), "look\n");
    assert!(err.contains("1 message printed and left unacked (--no-ack)") && err.contains(" UTC"), "{err}");
    assert_eq!(counts(&b)["consumed"], 0);
}
