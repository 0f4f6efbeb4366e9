//! The Prometheus text exposition format (version 0.0.4) of the statistics
//! documents (`stats_json`): one page for any number of producers and
//! consumers, each metric family once, labelled by topic and client id,
//! and per connection by node and connection id.

use serde_json::Value;
use std::fmt::Write;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Summary,
}

/// A metric family: its name after `kapokmq_<role>_`, kind and help text,
/// and where its value is in the document (a field of the client, or of a
/// connection when `per_connection`; `a.b` is field b of object a), and
/// what to multiply it by (microseconds become seconds).
struct Family {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    field: &'static str,
    scale: f64,
    per_connection: bool,
}

const fn family(name: &'static str, kind: Kind, help: &'static str, field: &'static str) -> Family {
    Family { name, kind, help, field, scale: 1.0, per_connection: false }
}

const fn per_connection(name: &'static str, kind: Kind, help: &'static str, field: &'static str) -> Family {
    Family { name, kind, help, field, scale: 1.0, per_connection: true }
}

/// Microseconds in the document, seconds on the page.
const US: f64 = 1e-6;

use Kind::{Counter, Gauge, Summary};

const PRODUCER: &[Family] = &[
    family("enqueued_total", Counter, "Messages accepted by send.", "enqueued"),
    family("confirmed_total", Counter, "Messages the node confirmed.", "confirmed"),
    family("failed_total", Counter, "Messages reported failed.", "failed"),
    family("resent_total", Counter, "Messages written again after a connection dropped.", "resent"),
    family("reconnects_total", Counter, "Connections opened again after a loss.", "reconnects"),
    family("in_flight", Gauge, "Messages sent and not yet confirmed or failed.", "in_flight"),
    Family {
        scale: US,
        ..family(
            "confirm_latency_seconds",
            Summary,
            "Time from send to the node's ok; quantiles over the last minute.",
            "confirm_latency_us",
        )
    },
    Family {
        scale: US,
        ..family(
            "confirm_latency_max_seconds",
            Gauge,
            "Longest confirm latency over the last minute.",
            "confirm_latency_us.max",
        )
    },
    per_connection("connection_up", Gauge, "1 while the connection is open.", "state"),
    per_connection("connection_reconnects_total", Counter, "Times the connection was opened again.", "reconnects"),
    per_connection("connection_received_bytes_total", Counter, "Bytes read from the connection.", "bytes_in"),
    per_connection("connection_sent_bytes_total", Counter, "Bytes written to the connection.", "bytes_out"),
    per_connection("connection_confirmed_total", Counter, "Messages confirmed on the connection.", "confirmed"),
    per_connection("connection_in_flight", Gauge, "Messages awaiting their ok on the connection.", "in_flight"),
];

const CONSUMER: &[Family] = &[
    family("received_total", Counter, "Messages pushed by the nodes.", "received"),
    family("acked_total", Counter, "Messages acked by the application.", "acked"),
    family("acks_written_total", Counter, "Acks written to a connection.", "acks_written"),
    family("reconnects_total", Counter, "Connections opened again after a loss.", "reconnects"),
    family("bad_frames_total", Counter, "Frames from the nodes that were not a message.", "bad_frames"),
    family("buffered", Gauge, "Messages received and not yet taken by receive.", "buffered"),
    family("buffer_capacity", Gauge, "Messages the receive buffer holds at most.", "buffer_capacity"),
    family("unacked", Gauge, "Messages handed to the application and not yet acked.", "unacked"),
    per_connection("connection_up", Gauge, "1 while the connection is open.", "state"),
    per_connection("connection_reconnects_total", Counter, "Times the connection was opened again.", "reconnects"),
    per_connection("connection_received_bytes_total", Counter, "Bytes read from the connection.", "bytes_in"),
    per_connection("connection_sent_bytes_total", Counter, "Bytes written to the connection.", "bytes_out"),
    per_connection("connection_received_total", Counter, "Messages pushed on the connection.", "received"),
];

/// A label value with `\`, `"` and line feeds escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The value at `path` (`a.b`: field b of object a); a connection's state
/// is 1 when connected.
fn number(v: &Value, path: &str) -> f64 {
    let (v, key) = match path.split_once('.') {
        Some((outer, key)) => (v.get(outer).unwrap_or(&Value::Null), key),
        None => (v, path),
    };
    match v.get(key) {
        Some(Value::String(s)) => (s == "connected") as u8 as f64,
        Some(n) => n.as_f64().unwrap_or(0.0),
        None => 0.0,
    }
}

/// `{topic="...",client_id="..."}` plus `extra` pairs.
fn labels(doc: &Value, extra: &[(&str, String)]) -> String {
    let mut out = format!("topic=\"{}\",client_id=\"{}\"", escape(text(doc, "topic")), escape(text(doc, "client_id")));
    for (k, v) in extra {
        let _ = write!(out, ",{k}=\"{}\"", escape(v));
    }
    out
}

/// The samples of `f` for one client document.
fn samples(out: &mut String, name: &str, f: &Family, doc: &Value) {
    if f.per_connection {
        let connections = doc.get("connections").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        for c in connections {
            let id = c.get("id").map_or(String::new(), Value::to_string);
            let l = labels(doc, &[("node", text(c, "node").to_string()), ("connection", id)]);
            let _ = writeln!(out, "{name}{{{l}}} {}", number(c, f.field) * f.scale);
        }
        return;
    }
    let l = labels(doc, &[]);
    if f.kind == Summary {
        // Quantiles of the window; the sum and count of every value.
        let summary = doc.get(f.field).unwrap_or(&Value::Null);
        for (q, key) in [("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99")] {
            let _ = writeln!(out, "{name}{{{l},quantile=\"{q}\"}} {}", number(summary, key) * f.scale);
        }
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", number(summary, "total_sum") * f.scale);
        let _ = writeln!(out, "{name}_count{{{l}}} {}", number(summary, "total_count"));
        return;
    }
    let _ = writeln!(out, "{name}{{{l}}} {}", number(doc, f.field) * f.scale);
}

/// The page for `docs` (statistics documents of producers and consumers,
/// in any order). Families with no client of their role are left out.
pub fn render(docs: &[Value]) -> String {
    let mut out = String::new();
    for (role, families) in [("producer", PRODUCER), ("consumer", CONSUMER)] {
        let clients: Vec<&Value> = docs.iter().filter(|d| text(d, "role") == role).collect();
        if clients.is_empty() {
            continue;
        }
        for f in families {
            let name = format!("kapokmq_{role}_{}", f.name);
            let kind = match f.kind {
                Counter => "counter",
                Gauge => "gauge",
                Summary => "summary",
            };
            let _ = writeln!(out, "# HELP {name} {}", f.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for doc in &clients {
                samples(&mut out, &name, f, doc);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_has_each_family_once_and_escapes_labels() {
        let p = |id: &str| {
            json!({"role": "producer", "topic": "t", "client_id": id, "confirmed": 7,
                   "confirm_latency_us": {"p50": 1500, "p90": 2000, "p99": 3000, "max": 4000, "total_sum": 10_000, "total_count": 5},
                   "connections": [{"id": 0, "node": "127.0.0.1:8011", "state": "connected", "bytes_in": 9}]})
        };
        let c = json!({"role": "consumer", "topic": "t", "client_id": "c\"1\\\n", "received": 3, "connections": []});
        let page = render(&[p("p1"), c, p("p2")]);
        assert_eq!(page.matches("# TYPE kapokmq_producer_confirmed_total counter").count(), 1);
        assert!(page.contains("kapokmq_producer_confirmed_total{topic=\"t\",client_id=\"p2\"} 7\n"), "{page}");
        assert!(page.contains(
            "kapokmq_producer_confirm_latency_seconds{topic=\"t\",client_id=\"p1\",quantile=\"0.99\"} 0.003\n"
        ));
        assert!(page.contains("kapokmq_producer_confirm_latency_seconds_count{topic=\"t\",client_id=\"p1\"} 5\n"));
        assert!(page.contains(
            "kapokmq_producer_connection_up{topic=\"t\",client_id=\"p1\",node=\"127.0.0.1:8011\",connection=\"0\"} 1\n"
        ));
        assert!(
            page.contains("kapokmq_consumer_received_total{topic=\"t\",client_id=\"c\\\"1\\\\\\n\"} 3\n"),
            "{page}"
        );
        assert!(render(&[]).is_empty());
    }
}
