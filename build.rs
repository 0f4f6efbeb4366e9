//! Generates the C header from the `extern "C"` functions with cbindgen,
//! into `$OUT_DIR/kapokmq.h`. The committed `include/kapokmq.h` must be
//! that file byte for byte: `tests/header.rs` compares the two, and
//! `make header` writes the generated one over the committed one.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    // A header that cannot be generated is an error: building on with the
    // old one would ship declarations that no longer match the library.
    let header = cbindgen::generate_with_config(&dir, config)
        .unwrap_or_else(|e| panic!("cbindgen could not generate the C header: {e}"));
    header.write_to_file(Path::new(&out).join("kapokmq.h"));
}
