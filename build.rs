//! Generates the C header from the `extern "C"` functions with cbindgen,
//! into `$OUT_DIR/kapokmq.h`. The committed `include/kapokmq.h` must be
//! that file byte for byte: `tests/header.rs` compares the two, and
//! `make header` writes the generated one over the committed one.
//!
//! cbindgen's output is then made into a header any C or C++ compiler
//! takes (C89 and C++98 included, with -pedantic) and that reads as C:
//! see `for_c`.

use std::path::Path;

/// Where each part of the header starts, in reading order: the first
/// function of the part, and the part's title.
const SECTIONS: &[(&str, &str)] = &[
    ("kmq_status_str", "Errors, versions and strings"),
    ("kmq_config_new", "Configuration"),
    ("kmq_producer_new", "Producer"),
    ("kmq_consumer_new", "Consumer"),
    ("kmq_message_code", "Messages"),
    ("kmq_consumer_fd", "Event loops"),
    ("kmq_console_new", "Console: the HTTP API of one node"),
    ("kmq_set_log_callback", "Logging"),
];

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    config.after_includes = Some(version_macros() + config.after_includes.as_deref().unwrap_or(""));
    // A header that cannot be generated is an error: building on with the
    // old one would ship declarations that no longer match the library.
    let header = cbindgen::generate_with_config(&dir, config)
        .unwrap_or_else(|e| panic!("cbindgen could not generate the C header: {e}"));
    let mut raw = Vec::new();
    header.write(&mut raw);
    let text = for_c(&String::from_utf8(raw).expect("cbindgen writes UTF-8"));
    std::fs::write(Path::new(&out).join("kapokmq.h"), text).expect("write $OUT_DIR/kapokmq.h");
}

/// KMQ_VERSION_* from the crate's version, so that they always equal what
/// kmq_version() returns.
fn version_macros() -> String {
    let var = |name: &str| std::env::var(name).expect("cargo sets the CARGO_PKG_VERSION_* variables");
    format!(
        "
/**
 * The version of this header, as MAJOR.MINOR.PATCH numbers and as the
 * string kmq_version() returns. A program can compare the two to find a
 * library that does not match the header it was compiled with.
 */
#define KMQ_VERSION_MAJOR {}
#define KMQ_VERSION_MINOR {}
#define KMQ_VERSION_PATCH {}
#define KMQ_VERSION_STRING \"{}\"
",
        var("CARGO_PKG_VERSION_MAJOR"),
        var("CARGO_PKG_VERSION_MINOR"),
        var("CARGO_PKG_VERSION_PATCH"),
        var("CARGO_PKG_VERSION"),
    )
}

/// What cbindgen writes, made strict C89 / C++98 and C to read:
/// - no `//` comments (C89 has none): they become `/* */`;
/// - no comma after the last enumerator (C89 and C++98 refuse it);
/// - no Rust in the prose: backticks go, `# Safety` reads "Requires:";
/// - a banner before each part (see SECTIONS).
fn for_c(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 3 * SECTIONS.len());
    let mut in_enum = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let comment = trimmed.starts_with("/*") || trimmed.starts_with('*');
        let (opens_enum, closes) = (trimmed.starts_with("typedef enum"), trimmed.starts_with('}'));
        let mut line = line.to_string();
        if comment {
            line = line.replace('`', "").replace("* # Safety", "* Requires:");
        } else if let Some(at) = line.find("//") {
            let (code, note) = line.split_at(at);
            line = format!("{code}/* {} */", note.trim_start_matches('/').trim());
        }
        if opens_enum {
            in_enum = true;
        } else if in_enum && closes {
            in_enum = false;
            // The last enumerator is the last line before this one that is
            // not a comment (comments precede their enumerator).
            if let Some(last) = out.iter_mut().rev().find(|l| !l.trim().is_empty()) {
                if last.ends_with(',') {
                    last.pop();
                }
            }
        }
        if let Some((_, title)) = SECTIONS.iter().find(|(f, _)| declares(&lines, i, f)) {
            // Before the function's doc comment.
            let at = out.iter().rposition(|l| l.trim_start().starts_with("/**")).unwrap_or(out.len());
            let banner = format!("/* {0}\n * {title}\n * {0} */\n", "=".repeat(66));
            out.insert(at, banner);
        }
        out.push(line);
    }
    out.join("\n") + "\n"
}

/// Whether lines[i] is the first line of the declaration of function `f`.
fn declares(lines: &[&str], i: usize, f: &str) -> bool {
    let line = lines[i];
    !line.starts_with(' ')
        && !line.starts_with('#')
        && (line.contains(&format!(" {f}(")) || line.contains(&format!("*{f}(")))
}
