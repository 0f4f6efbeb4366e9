//! Every file of `fuzz/corpus/<target>/` through the check of that fuzz
//! target (`fuzz/src/lib.rs`, the same code the fuzzers run), on stable
//! Rust: the corpus, and the crashes the fuzzers found (kept in it as
//! `regress-*` files), stay regression tests of `src/wire.rs`.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn names_in(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

#[test]
fn every_corpus_file_passes_its_target_check() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (target, check) in checks::TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let files = names_in(&dir, "");
        assert!(!files.is_empty(), "{} holds no corpus", dir.display());
        for name in &files {
            let data = std::fs::read(dir.join(name)).unwrap();
            if let Err(p) = std::panic::catch_unwind(|| check(&data)) {
                failures.push(format!("{target}/{name}: {}", panic_text(&*p)));
            }
        }
        eprintln!("{target}: {} corpus files", files.len());
        total += files.len();
    }
    eprintln!("{total} corpus files in all, each through its parser");
    assert!(failures.is_empty(), "{} corpus files fail:\n{}", failures.len(), failures.join("\n"));
}

/// A target added without a corpus, or a corpus left without its target,
/// would silently test nothing.
#[test]
fn targets_checks_and_corpus_folders_match() {
    let mut checked: Vec<String> = checks::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    checked.sort();
    assert_eq!(names_in(&fuzz_dir().join("fuzz_targets"), ".rs"), checked, "fuzz/fuzz_targets/*.rs");
    let mut folders = names_in(&fuzz_dir().join("corpus"), "");
    folders.retain(|f| fuzz_dir().join("corpus").join(f).is_dir());
    assert_eq!(folders, checked, "fuzz/corpus/*/");
}
