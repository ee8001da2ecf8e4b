//! The `praktik` binary: parse, set up logging, run, map the error to an exit code.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Whether stderr may carry colour: a terminal, and no `NO_COLOR` (no-color.org).
fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// object_store 0.13.2 panics on a runtime worker when it aborts an upload
/// after the server went away ("Already shut down", `buffered.rs`); tokio
/// contains the panic and the write fails with an error of its own, so the
/// panic message is only noise beside it: logged at debug level, not shown.
fn quiet_known_panics() {
    let shown = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let known = info.location().is_some_and(|l| {
            l.file().contains("object_store") && l.file().ends_with("buffered.rs")
        });
        if known {
            tracing::debug!("an upload could not be aborted (the store went away): {info}");
        } else {
            shown(info);
        }
    }));
}

fn main() -> ExitCode {
    quiet_known_panics();
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
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match cli.log_format {
        // One JSON object per line, for log collectors.
        cli::LogFormat::Json => logs.json().init(),
        // Colours only on a terminal, and never when NO_COLOR is set: a cron
        // file or a pipe gets plain text.
        cli::LogFormat::Text => logs.with_ansi(colours()).init(),
    }

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
