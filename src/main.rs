//! The `praktik` binary: parse, set up logging, run, map the error to an exit code.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // Fault injection for the durability tests (`FAILPOINTS=name=return`).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = cli::Cli::parse();
    // A scheduled run (stderr not a terminal) logs what it pulled, line by
    // line; at a terminal the progress bar says it, and -v adds the lines.
    let quiet = std::io::stderr().is_terminal() && cli.verbose == 0;
    let level = match cli.verbose {
        _ if quiet => "warn",
        0 | 1 => "praktik=info,warn",
        _ => "praktik=debug,info",
    };
    let filter = EnvFilter::try_from_env("PRAKTIK_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // `praktik query … | head`: the reader has all it wants.
        Err(error) if praktik::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", praktik::describe_error(&error));
            ExitCode::from(error.exit_code())
        }
    }
}
