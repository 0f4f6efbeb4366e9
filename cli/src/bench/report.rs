//! The figures of one benchmark run: kept as rows, printed as a table and
//! written as CSV (which docs/bench/plot.py turns into a chart).

use std::fmt::Write as _;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    /// Producer throughput, every message confirmed (plus the unconfirmed
    /// Go baseline, marked in its name).
    Producer,
    EndToEnd,
    PerCall,
    Latency,
    Footprint,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Producer => "producer",
            Section::EndToEnd => "end_to_end",
            Section::PerCall => "per_call",
            Section::Latency => "latency",
            Section::Footprint => "footprint",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub section: Section,
    pub client: String,
    pub messages: Option<u64>,
    pub metric: &'static str,
    /// The figure, or why there is none.
    pub value: Result<f64, String>,
    pub unit: &'static str,
    /// CPU the broker used during the run, in cores (1.0 = one core busy).
    pub broker_cpu: Option<f64>,
    /// CPU the client used, in cores.
    pub client_cpu: Option<f64>,
    pub note: String,
}

impl Row {
    /// CPU time per message in µs, from cores and msg/s: (broker, client).
    pub fn cpu_per_message_us(&self) -> (Option<f64>, Option<f64>) {
        let rate = self.value.as_ref().ok().copied().filter(|r| *r > 0.0 && self.unit == "msg/s");
        let per = |cores: Option<f64>| Some(cores? / rate? * 1e6);
        (per(self.broker_cpu), per(self.client_cpu))
    }

    pub fn new(section: Section, client: &str, metric: &'static str, unit: &'static str) -> Row {
        Row {
            section,
            client: client.to_string(),
            messages: None,
            metric,
            value: Err("not measured".into()),
            unit,
            broker_cpu: None,
            client_cpu: None,
            note: String::new(),
        }
    }
}

/// One row per figure: repeated runs of a throughput figure become their
/// median run (with that run's CPU figures); a failed run counts only when
/// every run failed. Order of first appearance is kept.
pub fn median_of_runs(rows: Vec<Row>) -> Vec<Row> {
    let same = |a: &Row, b: &Row| {
        a.section == b.section && a.client == b.client && a.messages == b.messages && a.metric == b.metric
    };
    let mut out: Vec<Row> = Vec::new();
    for r in &rows {
        if out.iter().any(|o| same(o, r)) {
            continue;
        }
        let group: Vec<&Row> = rows.iter().filter(|o| same(o, r)).collect();
        let mut ok: Vec<&Row> = group.iter().copied().filter(|o| o.value.is_ok()).collect();
        ok.sort_by(|a, b| a.value.as_ref().unwrap_or(&0.0).total_cmp(b.value.as_ref().unwrap_or(&0.0)));
        let mut chosen = match ok.get(ok.len() / 2) {
            Some(m) => (*m).clone(),
            None => r.clone(),
        };
        if group.len() > 1 && !ok.is_empty() {
            let runs: Vec<String> =
                ok.iter().filter_map(|o| o.value.as_ref().ok()).map(|v| thousands(v.round() as u64)).collect();
            let failed = group.len() - ok.len();
            let mut note = format!("median of {}", runs.join(" / "));
            if failed > 0 {
                note.push_str(&format!("; {failed} runs failed"));
            }
            chosen.note = if chosen.note.is_empty() { note } else { format!("{}; {note}", chosen.note) };
        }
        out.push(chosen);
    }
    out
}

/// 1234567 as "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "section,client,messages,metric,value,unit,broker_cpu,client_cpu,broker_us_per_msg,client_us_per_msg,note\n",
    );
    for r in rows {
        let (value, note) = match &r.value {
            Ok(v) => (format!("{v:.3}"), r.note.clone()),
            Err(why) => (String::new(), why.clone()),
        };
        let cpu = |c: Option<f64>| c.map(|c| format!("{c:.2}")).unwrap_or_default();
        let (broker_us, client_us) = r.cpu_per_message_us();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.section.key(),
            csv_field(&r.client),
            r.messages.map(|n| n.to_string()).unwrap_or_default(),
            r.metric,
            value,
            r.unit,
            cpu(r.broker_cpu),
            cpu(r.client_cpu),
            cpu(broker_us),
            cpu(client_us),
            csv_field(&note)
        );
    }
    out
}

/// A throughput section: one line per client, one column per size, then
/// the ratio to the reference client at the largest size and the CPU used
/// there by the broker and the client.
fn throughput_table(out: &mut String, rows: &[Row], section: Section, sizes: &[u64], reference: &str) {
    let clients: Vec<&str> = {
        let mut seen: Vec<&str> = Vec::new();
        for r in rows.iter().filter(|r| r.section == section) {
            if !seen.contains(&r.client.as_str()) {
                seen.push(&r.client);
            }
        }
        seen
    };
    let width = clients.iter().map(|c| c.len()).max().unwrap_or(10).max(10);
    let _ = write!(out, "  {:<width$}", "client");
    for &n in sizes {
        let _ = write!(out, " {:>11}", short(n));
    }
    let _ = writeln!(
        out,
        "  {:>7}  {:>10}  {:>13}  {:>10}  {:>13}",
        "vs ref", "broker CPU", "broker µs/msg", "client CPU", "client µs/msg"
    );
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let find = |client: &str, n: u64| {
        rows.iter().find(|r| r.section == section && r.client == client && r.messages == Some(n))
    };
    let reference_value = find(reference, largest).and_then(|r| r.value.as_ref().ok().copied());
    for client in &clients {
        let _ = write!(out, "  {client:<width$}");
        let mut why_not = None;
        for &n in sizes {
            match find(client, n).map(|r| &r.value) {
                Some(Ok(v)) => {
                    let _ = write!(out, " {:>11}", thousands(v.round() as u64));
                }
                Some(Err(why)) => {
                    why_not.get_or_insert(why.clone());
                    let _ = write!(out, " {:>11}", "-");
                }
                None => {
                    let _ = write!(out, " {:>11}", "");
                }
            }
        }
        let at_largest = find(client, largest);
        let ratio = match (at_largest.and_then(|r| r.value.as_ref().ok()), reference_value) {
            (Some(v), Some(reference)) if reference > 0.0 => format!("{:.2}x", v / reference),
            _ => String::new(),
        };
        let cpu = |c: Option<f64>| c.map(|c| format!("{c:.2}")).unwrap_or_default();
        let (broker_us, client_us) = at_largest.map(Row::cpu_per_message_us).unwrap_or_default();
        let _ = write!(
            out,
            "  {ratio:>7}  {:>10}  {:>13}  {:>10}  {:>13}",
            cpu(at_largest.and_then(|r| r.broker_cpu)),
            cpu(broker_us),
            cpu(at_largest.and_then(|r| r.client_cpu)),
            cpu(client_us)
        );
        if let Some(why) = why_not {
            let _ = write!(out, "  ({why})");
        } else if let Some(note) = at_largest.map(|r| r.note.as_str()).filter(|n| !n.is_empty()) {
            let _ = write!(out, "  ({note})");
        }
        out.push('\n');
    }
}

fn value_text(r: &Row) -> String {
    match &r.value {
        Ok(v) if r.unit == "ns" || r.unit == "us" || r.unit == "KiB" => {
            format!("{v:.2} {}", r.unit.replace("us", "µs"))
        }
        Ok(v) => format!("{v:.0} {}", r.unit),
        Err(why) => format!("- ({why})"),
    }
}

fn list(out: &mut String, rows: &[Row], section: Section) {
    let items: Vec<&Row> = rows.iter().filter(|r| r.section == section).collect();
    let width = items.iter().map(|r| r.client.len() + r.metric.len() + 1).max().unwrap_or(0);
    for r in items {
        let label = format!("{} {}", r.client, r.metric);
        let _ = write!(out, "  {label:<width$}  {}", value_text(r));
        if r.value.is_ok() && !r.note.is_empty() {
            let _ = write!(out, "  ({})", r.note);
        }
        out.push('\n');
    }
}

pub struct Header {
    pub machine: String,
    pub broker: String,
    pub payload_bytes: usize,
    pub sizes: Vec<u64>,
}

pub fn table(h: &Header, rows: &[Row], conclusions: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kapokmq benchmark: {}", h.machine);
    let _ = writeln!(out, "broker: {}; payload {} bytes; each figure from the same run\n", h.broker, h.payload_bytes);
    let _ = writeln!(out, "Producer throughput, msg/s (first send to last \"ok\"; vs ref = ratio to the raw client)");
    throughput_table(&mut out, rows, Section::Producer, &h.sizes, super::RAW);
    let _ = writeln!(out, "\nEnd to end, msg/s (produce -> consume -> ack, first send to last message received)");
    throughput_table(&mut out, rows, Section::EndToEnd, &h.sizes, super::RAW_E2E);
    for (section, title) in [
        (Section::PerCall, "Cost of one send call on the caller's thread"),
        (Section::Latency, "Latency of a confirmed send at light load (one send_wait at a time)"),
        (Section::Footprint, "Footprint"),
    ] {
        // --only-throughput runs have none of these.
        if rows.iter().any(|r| r.section == section) {
            let _ = writeln!(out, "\n{title}");
            list(&mut out, rows, section);
        }
    }
    if !conclusions.is_empty() {
        let _ = writeln!(out, "\nRatios and findings");
        for c in conclusions {
            let _ = writeln!(out, "  - {c}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_csv() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(short(100_000), "100k");
        assert_eq!(short(1_000_000), "1M");
        let mut r = Row::new(Section::Producer, "a, b", "throughput", "msg/s");
        r.messages = Some(10);
        r.value = Err("unavailable: \"x\"".into());
        let text = csv(&[r]);
        assert!(text.ends_with("producer,\"a, b\",10,throughput,,msg/s,,,,,\"unavailable: \"\"x\"\"\"\n"), "{text}");
        let mut r = Row::new(Section::Producer, "c", "throughput", "msg/s");
        r.value = Ok(50_000.0);
        r.client_cpu = Some(0.5);
        r.broker_cpu = Some(1.0);
        assert_eq!(r.cpu_per_message_us(), (Some(20.0), Some(10.0)));
    }
}
