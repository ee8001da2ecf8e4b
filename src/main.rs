//! The `praktik` binary: everything is in the library (`praktik::cli::main`),
//! so that its async code is compiled once, there.

fn main() -> std::process::ExitCode {
    praktik::cli::main()
}
