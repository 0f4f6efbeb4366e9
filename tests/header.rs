//! The committed C header: generated from the sources, and it documents
//! every function it declares, in C terms, in reading order, and says how
//! long each blocking call may block.

use std::path::Path;

fn header() -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/kapokmq.h");
    let text = std::fs::read_to_string(&path).expect("include/kapokmq.h");
    (text, path.display().to_string())
}

/// Each declared function with the text of the doc comment just above it.
fn documented_functions(header: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = header.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let declares = line.contains("kmq_")
            && line.contains('(')
            && !line.starts_with(' ')
            && !line.starts_with('/')
            && !line.starts_with('#')
            && !line.starts_with("typedef");
        if !declares {
            continue;
        }
        let name = line[..line.find('(').unwrap()].rsplit([' ', '*']).next().unwrap().to_string();
        let mut doc = Vec::new();
        if lines[i - 1].trim() == "*/" {
            for prev in lines[..i - 1].iter().rev() {
                if prev.starts_with("/**") {
                    break;
                }
                doc.push(prev.trim_start_matches(" *").trim());
            }
        }
        doc.reverse();
        found.push((name, doc.join(" ")));
    }
    found
}

#[test]
fn every_function_in_the_header_is_documented() {
    let (header, path) = header();
    let functions = documented_functions(&header);
    for (name, doc) in &functions {
        assert!(doc.split_whitespace().count() >= 5, "{name} has no documentation comment in {path}");
    }
    assert!(functions.len() >= 45, "found only {} functions", functions.len());
}

#[test]
fn the_header_reads_as_c() {
    let (header, path) = header();
    assert!(!header.contains("//"), "{path} has a // comment, which C89 does not take");
    assert!(!header.contains('`'), "{path} has Markdown backticks");
    assert!(!header.contains("# Safety"), "{path} has a rustdoc heading");
    assert!(!header.contains("::"), "{path} has a Rust path");
}

#[test]
fn every_blocking_function_says_how_long() {
    let (header, path) = header();
    let doc: std::collections::HashMap<_, _> = documented_functions(&header).into_iter().collect();
    let bounded = [
        ("kmq_producer_new", "connect_timeout_ms"),
        ("kmq_cluster_producer_new", "connect_timeout_ms"),
        ("kmq_consumer_new", "connect_timeout_ms"),
        ("kmq_cluster_consumer_new", "connect_timeout_ms"),
        ("kmq_send_wait", "timeout_ms"),
        ("kmq_flush", "timeout_ms"),
        ("kmq_poll_reports", "timeout_ms"),
        ("kmq_receive", "timeout_ms"),
        ("kmq_consumer_close", "1 s"),
        ("kmq_consumer_free", "1 s"),
        ("kmq_console_ping", "connect_timeout_ms"),
        ("kmq_console_send", "connect_timeout_ms"),
        ("kmq_set_log_callback", "1 s"),
    ];
    for (name, limit) in bounded {
        let text = doc.get(name).unwrap_or_else(|| panic!("{name} is not in {path}"));
        let at = text.find("Blocks:").unwrap_or_else(|| panic!("{name} does not say how long it blocks"));
        assert!(text[at..].contains(limit), "{name}: \"Blocks:\" does not name {limit}");
    }
    for name in [
        "kmq_send",
        "kmq_send_tracked",
        "kmq_send_tracked_opaque",
        "kmq_send_many",
        "kmq_send_many_tracked",
        "kmq_ack",
        "kmq_producer_close",
    ] {
        assert!(doc[name].contains("Never blocks"), "{name} does not say it never blocks");
    }
}

#[test]
fn the_parts_come_in_reading_order() {
    let (header, path) = header();
    let order = [
        "Errors, versions and strings",
        "Configuration",
        "Producer",
        "Consumer",
        "Messages",
        "Event loops",
        "Console",
        "Logging",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|t| header.find(&format!("=\n * {t}")).unwrap_or_else(|| panic!("no part \"{t}\" in {path}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "the parts of {path} are out of order");
}

/// The committed header is the one cbindgen generates from the sources
/// (build.rs writes it to OUT_DIR), byte for byte. `make header` runs this
/// test with KMQ_UPDATE_HEADER=1, which writes the generated header over
/// the committed one instead.
#[test]
fn the_committed_header_is_the_generated_one() {
    let generated_path = Path::new(env!("OUT_DIR")).join("kapokmq.h");
    let generated = std::fs::read(&generated_path).unwrap_or_else(|e| panic!("{}: {e}", generated_path.display()));
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/kapokmq.h");
    if std::env::var_os("KMQ_UPDATE_HEADER").is_some() {
        std::fs::write(&committed_path, &generated).unwrap_or_else(|e| panic!("{}: {e}", committed_path.display()));
        eprintln!("wrote {}", committed_path.display());
        return;
    }
    let committed = std::fs::read(&committed_path).unwrap_or_else(|e| panic!("{}: {e}", committed_path.display()));
    if committed == generated {
        return;
    }
    let (committed, generated) = (String::from_utf8_lossy(&committed), String::from_utf8_lossy(&generated));
    let (mut old, mut new) = (committed.split_inclusive('\n'), generated.split_inclusive('\n'));
    let mut line = 1;
    let (old, new) = loop {
        match (old.next(), new.next()) {
            (None, None) => break ("(bytes that are not UTF-8)", "(bytes that are not UTF-8)"),
            (a, b) if a == b => line += 1,
            (a, b) => break (a.unwrap_or("(end of file)"), b.unwrap_or("(end of file)")),
        }
    };
    panic!(
        "{} is not the header generated from the sources; first difference at line {line}:\n  \
         committed: {old:?}\n  generated: {new:?}\nrun `make header` and commit include/kapokmq.h",
        committed_path.display()
    );
}

/// The key list of kmq_config_set's documentation, the README's and the
/// Python package's are the config table's (`config::KEYS`): a key added
/// there and not documented fails here.
#[test]
fn every_config_key_is_documented_where_users_look() {
    let (text, path) = header();
    let funcs = documented_functions(&text);
    let (_, doc) = funcs.iter().find(|(name, _)| name == "kmq_config_set").expect("kmq_config_set in the header");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let python = std::fs::read_to_string(root.join("bindings/python/src/kapokmq/__init__.py")).expect("__init__.py");
    // cbindgen drops the backticks: a key is a word of its own there.
    let words: Vec<&str> = doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
    for key in kapokmq::config::KEYS {
        let quoted = format!("`{key}`");
        assert!(words.contains(key), "{path}: kmq_config_set's doc does not list {key}");
        assert!(readme.contains(&quoted), "README.md does not list {quoted}");
        assert!(python.contains(&format!("``{key}``")), "kapokmq/__init__.py's doc does not list ``{key}``");
    }
}
