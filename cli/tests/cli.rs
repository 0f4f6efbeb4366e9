//! The `kmq` binary end to end: every test starts its own kmq-broker and
//! drives the real executable, checking what a user sees (stdout, stderr,
//! exit code) and what the server holds afterwards.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::{counts, csv_fields, eventually, kmq, run, start_consumer, text, wait, Broker, Kmq};

#[test]
fn stdin_lines_go_through_to_a_consumer_in_order_and_are_acked() {
    let b = Broker::start(&[]);
    let consumer = start_consumer(&b, &["-t", "orders", "-n", "3", "--timeout", "20"]);

    let mut produce = b.kmq();
    produce.args(["produce", "-t", "orders"]);
    let out = run(produce, "first\nsecond\n\nthird\r\n");
    let err = text(&out.stderr);
    assert!(out.status.success(), "produce failed: {err}");
    assert!(err.contains("3 sent, 3 confirmed, 0 failed"), "{err}");
    assert!(err.contains("1 empty lines skipped"), "{err}");

    let got = wait(consumer, Duration::from_secs(30));
    assert!(got.status.success(), "consume failed: {}", text(&got.stderr));
    assert_eq!(text(&got.stdout), "first\nsecond\nthird\n");
    // Acked before kmq exited: the server counts them consumed.
    let c = eventually(Duration::from_secs(5), || Some(counts(&b)).filter(|c| c["consumed"] == 3));
    assert!(c.is_some(), "not every message was acked: {}", counts(&b));
}

#[test]
fn json_lines_carry_the_message_fields_and_files_go_whole() {
    let b = Broker::start(&[]);
    let dir = std::env::temp_dir().join(format!("kmq-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("order.json");
    std::fs::write(&file, "{\"id\": 7,\n \"note\": \"two lines\"}\n").unwrap();

    let consumer = start_consumer(&b, &["-t", "files", "-n", "2", "--json", "--timeout", "20"]);
    let mut produce = b.kmq();
    produce.args(["produce", "-t", "files", "--file"]).arg(&file).arg("--file").arg(&file);
    let out = run(produce, "");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let got = wait(consumer, Duration::from_secs(30));
    assert!(got.status.success(), "{}", text(&got.stderr));
    let lines: Vec<Value> = text(&got.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 2);
    for m in &lines {
        assert_eq!(m["data"], "{\"id\": 7,\n \"note\": \"two lines\"}\n");
        assert_eq!(m["topic"], "files");
        assert_eq!(m["code"].as_str().map(str::len), Some(32));
        assert!(m["create_time"].as_i64().is_some_and(|t| t > 0));
        assert_eq!(m["status"], -1);
    }
    assert_ne!(lines[0]["code"], lines[1]["code"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn console_commands_show_what_the_node_holds() {
    let b = Broker::start(&[]);
    for args in [&["-t", "shop", "now"][..], &["-t", "shop", "later", "--delay", "600"], &["-t", "elsewhere", "x"]] {
        let mut produce = b.kmq();
        produce.arg("produce").args(args);
        assert!(run(produce, "").status.success(), "{args:?}");
    }

    let c = counts(&b);
    assert_eq!(c["all"], 3, "{c}");

    let mut stats = b.kmq();
    stats.arg("stats");
    let table = text(&run(stats, "").stdout);
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["all", "3"]), "{table}");

    // The topic filter, newest first, without payloads.
    let mut list = b.kmq();
    list.args(["messages", "--topic", "shop", "--json"]);
    let listed: Value = serde_json::from_slice(&run(list, "").stdout).unwrap();
    let listed = listed.as_array().expect("a list").clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|m| m["Topic"] == "shop"));
    assert_eq!(listed.iter().filter(|m| m["DelayTime"] == 600).count(), 1, "{listed:?}");

    let mut delayed = b.kmq();
    delayed.args(["messages", "--status", "delayed"]);
    let table = text(&run(delayed, "").stdout);
    assert_eq!(table.lines().count(), 2, "a header and the delayed message: {table}");
    assert!(table.contains("delayed") && table.contains("shop"), "{table}");

    // One message by code, with its payload.
    let code = listed.iter().find(|m| m["DelayTime"] == 600).unwrap()["MessageCode"].as_str().unwrap().to_string();
    let mut one = b.kmq();
    one.args(["message", &code]);
    assert_eq!(text(&run(one, "").stdout), "later\n");

    let mut missing = b.kmq();
    missing.args(["message", "0123456789abcdef0123456789abcdef"]);
    let out = run(missing, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no message 0123456789abcdef0123456789abcdef"));

    let mut bad_time = b.kmq();
    bad_time.args(["messages", "--since", "yesterday"]);
    assert_eq!(run(bad_time, "").status.code(), Some(2));
}

#[test]
fn clients_lists_a_running_consumer() {
    let b = Broker::start(&[]);
    let mut consumer = start_consumer(&b, &["-t", "watch", "--id", "watcher-1"]);
    let mut clients = b.kmq();
    clients.arg("clients");
    let table = text(&run(clients, "").stdout);
    let _ = consumer.kill();
    let _ = consumer.wait();
    let row = table.lines().find(|l| l.starts_with("consumer")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("watcher-1") && row.contains("watch") && row.contains("127.0.0.1"), "{row}");
}

#[test]
fn unconfirmed_messages_fail_the_run_with_a_summary() {
    // The broker stores the messages but never says "ok".
    let b = Broker::start(&["--stall-acks"]);
    let mut produce = b.kmq();
    produce.args(["produce", "-t", "t", "-X", "message_timeout_ms=300", "a", "b"]);
    let out = run(produce, "");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("2 sent, 0 confirmed, 2 failed"), "{err}");
    assert!(err.contains("argument 1:") && err.contains("argument 2:"), "{err}");
    assert!(err.contains("not confirmed within 300 ms"), "{err}");
}

#[test]
fn consume_stops_on_its_idle_timeout() {
    let b = Broker::start(&[]);
    let mut open_ended = b.kmq();
    open_ended.args(["consume", "-t", "quiet", "--timeout", "0.5"]);
    let out = run(open_ended, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());

    let mut counted = b.kmq();
    counted.args(["consume", "-t", "quiet", "-n", "2", "--timeout", "0.5"]);
    let out = run(counted, "");
    assert_eq!(out.status.code(), Some(4));
    let err = text(&out.stderr);
    assert!(err.contains("received 0 of 2 messages") && err.contains("pushRetryTime"), "{err}");
}

#[test]
fn unreachable_server_and_rejected_key_exit_3() {
    let b = Broker::start(&[]);
    let port = {
        // A port nobody listens on: bound, then released.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut refused = kmq();
    refused.args(["-p", &port.to_string(), "produce", "-t", "t", "x"]);
    let out = run(refused, "");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains(&format!("127.0.0.1:{port}")), "{}", text(&out.stderr));

    let mut wrong_key = b.kmq();
    wrong_key.args(["consume", "-t", "t", "-k", "not-the-key", "-n", "1"]);
    let out = run(wrong_key, "");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("rejected the secret key"), "{}", text(&out.stderr));

    let mut wrong_console_key = b.kmq();
    wrong_console_key.env("KAPOKMQ_SECRET_KEY", "nope").arg("stats");
    assert_eq!(run(wrong_console_key, "").status.code(), Some(3));
}

#[test]
fn bad_usage_exits_2_and_names_the_problem() {
    let cases: [&[&str]; 4] = [
        &["produce", "x"],                                   // no topic
        &["produce", "-t", "a/b", "x"],                      // a name the server cannot route
        &["produce", "-t", "t", "-X", "no_such_key=1", "x"], // unknown config key
        &["consume", "-t", "t", "--timeout", "-1"],
    ];
    for args in cases {
        let mut cmd = kmq();
        cmd.args(args);
        let out = run(cmd, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let mut help = kmq();
    help.arg("--help");
    let out = run(help, "");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Examples:") && text(&out.stdout).contains("KAPOKMQ_REGISTRY"));
}

#[test]
fn nodes_lists_what_the_registry_lists() {
    let registry = Broker::spawn(&["--registry", "--node-ttl-ms", "3000"]);
    let join = format!("127.0.0.1:{}", registry.port);
    let node = Broker::start(&["--join", &join, "--heartbeat-ms", "100"]);
    let listed = eventually(Duration::from_secs(10), || {
        let mut cmd = kmq();
        cmd.args(["nodes", "--json", "-r", &join]);
        let v: Value = serde_json::from_slice(&run(cmd, "").stdout).ok()?;
        v.as_array().filter(|a| a.iter().any(|n| n["port"] == node.port)).cloned()
    });
    let listed = listed.expect("the node never appeared in kmq nodes");
    assert!(listed.iter().all(|n| n["addr"] == "127.0.0.1"), "{listed:?}");

    let mut table = kmq();
    table.env("KAPOKMQ_REGISTRY", &join).arg("nodes");
    let out = text(&run(table, "").stdout);
    assert!(out.starts_with("NAME") && out.contains(&node.port.to_string()), "{out}");
}

#[test]
fn bench_runs_small_and_writes_its_csv() {
    let dir = std::env::temp_dir().join(format!("kmq-bench-test-{}", std::process::id()));
    let csv = dir.join("results.csv");
    let mut cmd = kmq();
    cmd.args(["bench", "--sizes", "300", "--repeat", "1", "--no-bindings", "--calls", "1000", "--latency-sends", "20"])
        .args(["--producers", "5", "--go-unavailable", "not in this test", "--csv"])
        .arg(&csv);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("raw WebSocket client (ceiling)") && table.contains("kapokmq, Rust API"), "{table}");
    assert!(table.contains("(not in this test)"), "{table}");

    let text_csv = std::fs::read_to_string(&csv).expect("the CSV");
    let header = csv_fields(text_csv.lines().next().unwrap_or_default());
    let column =
        |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column: {header:?}"));
    let (value_col, note_col) = (column("value"), column("note"));
    let rows: Vec<Vec<String>> = text_csv.lines().skip(1).map(csv_fields).collect();
    let row = |section: &str, client: &str| {
        rows.iter()
            .find(|f| f[0] == section && f[1].starts_with(client))
            .unwrap_or_else(|| panic!("no {section} row for {client}: {text_csv}"))
    };
    for (section, client) in
        [("producer", "raw WebSocket client"), ("producer", "kapokmq, Rust API"), ("latency", "send_wait")]
    {
        let value: f64 =
            row(section, client)[value_col].parse().unwrap_or_else(|_| panic!("no figure for {client}: {text_csv}"));
        assert!(value > 0.0, "{client}: {value}");
    }
    // Rows without a figure say why.
    let go = row("end_to_end", "Go client");
    assert_eq!((go[value_col].as_str(), go[note_col].as_str()), ("", "not in this test"));
    assert!(std::fs::read_to_string(csv.with_extension("txt")).unwrap().contains("Producer throughput"));
    let _ = std::fs::remove_dir_all(dir);
}
