//! Links an optimised binary with the code a run touches laid out together
//! (`link/symbol-order.txt`, written by `scripts/symbol-order`).
//!
//! A process's memory counts every page of the binary it maps, and the kernel
//! maps a binary's code 64 KiB around each page first touched. praktik's
//! commands run about 17,000 of its 195,000 functions, scattered over 130 MB
//! of code: a small query mapped 66 MB of it. With those functions side by
//! side it maps 11 MB, and starts faster (README, "Performance").
//!
//! Only the linker sees the file: the program is the same, and a name the
//! binary no longer has (after a dependency or toolchain change) is skipped.

use std::env;
use std::path::Path;

const ORDER: &str = "link/symbol-order.txt";

fn main() {
    println!("cargo::rerun-if-changed={ORDER}");
    if env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    // `--symbol-ordering-file` is LLD's: the toolchain's default linker for
    // this target since Rust 1.90 (rust-version is 1.95). A build that names
    // another linker or linker flavour keeps the default layout.
    let target = env::var("TARGET").unwrap_or_default();
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let other_linker = env::var_os("RUSTC_LINKER").is_some()
        || flags.contains("linker")
        || flags.contains("link-self-contained");
    if target != "x86_64-unknown-linux-gnu" || other_linker {
        return;
    }
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let order = Path::new(&manifest).join(ORDER);
    if !order.is_file() {
        return;
    }
    // `-Xlinker` passes each argument whole, so a path may hold a comma.
    for arg in [
        format!("--symbol-ordering-file={}", order.display()),
        "--no-warn-symbol-ordering".to_string(),
    ] {
        println!("cargo::rustc-link-arg-bins=-Xlinker");
        println!("cargo::rustc-link-arg-bins={arg}");
    }
}
