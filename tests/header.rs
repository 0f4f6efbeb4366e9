//! The committed C header documents every function it declares.

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
