//! Generates `include/kapokmq.h` from the `extern "C"` functions with
//! cbindgen. The header is committed; the tests check that it is fresh.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let header = match cbindgen::generate_with_config(&dir, config) {
        Ok(b) => b,
        Err(e) => {
            // A syntax error in src/ is reported better by rustc itself.
            println!("cargo:warning=cbindgen could not generate the header: {e}");
            return;
        }
    };
    let mut text = Vec::new();
    header.write(&mut text);
    let path = Path::new(&dir).join("include").join("kapokmq.h");
    // Rewrite only on change, so that builds do not touch the file's time.
    if std::fs::read(&path).ok().as_deref() != Some(&text[..]) {
        std::fs::create_dir_all(path.parent().expect("include/ has a parent")).expect("create include/");
        std::fs::write(&path, text).expect("write include/kapokmq.h");
    }
}
