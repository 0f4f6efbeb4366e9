//! The committed C header: generated from the sources, and documented.

use std::path::Path;

#[test]
fn every_function_in_the_header_is_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/kapokmq.h");
    let header = std::fs::read_to_string(&path).expect("include/kapokmq.h");
    let lines: Vec<&str> = header.lines().collect();
    let mut functions = 0;
    for (i, line) in lines.iter().enumerate() {
        let declares = line.contains("kmq_") && line.contains('(') && !line.starts_with("//")
            && !line.starts_with(' ') && !line.starts_with("typedef");
        if !declares {
            continue;
        }
        functions += 1;
        let mut doc = Vec::new();
        for prev in lines[..i].iter().rev() {
            match prev.strip_prefix("//") {
                Some(text) => doc.push(text.trim()),
                None => break,
            }
        }
        let words: usize = doc.iter().map(|l| l.split_whitespace().count()).sum();
        assert!(words >= 5, "{line} has no documentation comment in {}", path.display());
    }
    assert!(functions >= 40, "found only {functions} functions");
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
