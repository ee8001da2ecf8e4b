//! The command line: clap types, and adapters that turn flags into the
//! library's options and print what happened. Data goes to stdout; what the
//! tool did goes to stderr.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::as_of::AsOf;
use crate::config::{Config, Overrides};
use crate::engine::{Params, named_query};
use crate::output::{self, QueryFormat};
use crate::period::Period;
use crate::pipeline::{self, PullReport, QueryOptions, ReportOptions, WriteOptions};
use crate::report::OutputFormat;
use crate::report::render::Rendered;
use crate::source::{Source, Wanted};
use crate::{Error, status};

#[derive(Debug, Parser)]
#[command(
    name = "praktik",
    version,
    about = "Outcomes of company internships (virksomhedspraktik): pull, store, query, report"
)]
pub struct Cli {
    /// Configuration file [default: praktik.toml in the working directory, if any]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The store: a folder, a file:// URL or s3://bucket/prefix [default: store]
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Spread queries over these DataFusion Distributed workers:
    /// http://host:port,http://host:port [default: [engine] workers]
    #[arg(long, global = true, value_name = "URLS", value_parser = workers_flag)]
    pub workers: Option<Workers>,
    /// Where reports are written [default: out]
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How log lines on stderr look: text, or one JSON object per line
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// The form of log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Plain lines; coloured only at a terminal without NO_COLOR
    Text,
    /// One JSON object per line, for log collectors
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The scheduled job: pull new quarters, then render every report
    #[command(
        after_help = "Examples:\n  praktik run                          # the demo source, into ./store and ./out\n  praktik run --source jobindsats --wait 600\n  praktik --log-format json run 2>>/var/log/praktik.jsonl"
    )]
    Run(SourceArg),
    /// Pull quarters from a source into the store
    #[command(
        after_help = "Examples:\n  praktik pull --period 2019Q3\n  praktik pull --source jobindsats --from 2023Q1 --to 2024Q4\n  praktik pull --source file:internships-2024Q2.csv"
    )]
    Pull(PullArgs),
    /// Render one report definition from reports/
    #[command(
        after_help = "Examples:\n  praktik report briefing                       # newest quarter, as reports/briefing.toml says\n  praktik report briefing --period 2023Q2 --area 751 --lang en --format html,md,pdf\n  praktik report letter --as-of 3"
    )]
    Report(ReportArgs),
    /// Run SQL over the store (a statement, or a named query from sql/)
    #[command(
        after_help = "Examples:\n  praktik query \"SELECT period, COUNT(*) FROM outcomes GROUP BY period ORDER BY period\"\n  praktik query --file sql/effect_by_area.sql --param period=2019Q3 --param areas=101,751,851\n  praktik query --file trend --param area=101 --param period=2024Q4 --param quarters=8 --format csv"
    )]
    Query(QueryArgs),
    /// Quarters held, table version, last pulls
    #[command(after_help = "Examples:\n  praktik status\n  praktik status --json | jq .stale")]
    Status(StatusArgs),
    /// A SQL shell over the store: line editing, history, Tab completion,
    /// Ctrl-C cancels; \help inside lists its commands. Fed a file, it runs
    /// it and exits 1 if a statement failed
    #[command(
        after_help = "Examples:\n  praktik sql\n  praktik sql --as-of outcomes=2 < checks.sql\n  printf '%s\\n' '\\format csv' '\\run effect_by_area period=2019Q3 areas=101,751' | praktik sql > effects.csv"
    )]
    Sql(SqlArgs),
    /// Check, clean or rebuild the store
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  praktik store check\n  praktik store vacuum --dry-run --older-than 90\n  praktik store rebuild"
    )]
    Store(StoreCommand),
    /// The tables' columns: type, whether they may be null, and what they mean
    #[command(after_help = "Examples:\n  praktik schema\n  praktik schema outcomes")]
    Schema {
        /// One table [default: all]
        table: Option<String>,
    },
    /// Copy a table out of the store as plain files any Parquet reader opens
    #[command(
        after_help = "Examples:\n  praktik export outcomes --to export/outcomes\n  praktik export internships --to /srv/share/internships --as-of 4 --force\n  duckdb -c \"SELECT period, COUNT(*) FROM read_parquet('export/outcomes/**/*.parquet', hive_partitioning = true) GROUP BY 1\""
    )]
    Export(ExportArgs),
    /// A shell completion script: praktik completions bash > /etc/bash_completion.d/praktik
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// The manual page, in roff: praktik man > praktik.1 && man ./praktik.1
    Man,
    /// Demo data for trying praktik and for the benchmark
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Run a DataFusion Distributed worker that `query`, `sql` and the
    /// reports of other praktik processes spread their queries over
    #[command(
        after_help = "Examples:\n  praktik worker --listen 0.0.0.0:7070\n  praktik --workers http://10.0.0.5:7070,http://10.0.0.6:7070 query --file sql/effect_by_area.sql --param period=2019Q3 --param areas=101,751"
    )]
    Worker {
        /// The address and port to serve on
        #[arg(long, value_name = "ADDR:PORT")]
        listen: std::net::SocketAddr,
    },
}

/// The `--workers` list.
#[derive(Debug, Clone)]
pub struct Workers(pub Vec<url::Url>);

fn workers_flag(text: &str) -> Result<Workers, String> {
    crate::config::parse_workers(text).map(Workers)
}

#[derive(Debug, Args)]
pub struct SourceArg {
    /// demo, jobindsats, or file:PATH [default: from the configuration, else demo]
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<Source>,
    /// If another praktik is writing to the store, wait up to this long for it
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
    /// Store a quarter even if it has less than half the rows, or fewer
    /// benefit groups, than the store holds for it
    #[arg(long)]
    pub allow_shrink: bool,
}

impl SourceArg {
    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            lock_wait: std::time::Duration::from_secs(self.wait),
            allow_shrink: self.allow_shrink,
        }
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub source: SourceArg,
    /// One quarter, e.g. 2019Q3
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub period: Option<Period>,
    /// First quarter of a range
    #[arg(long, requires = "to")]
    pub from: Option<Period>,
    /// Last quarter of a range
    #[arg(long, requires = "from")]
    pub to: Option<Period>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report's name: its file name in reports/ without .toml
    pub name: String,
    /// The quarter [default: the definition's]
    #[arg(long)]
    pub period: Option<Period>,
    /// Comma-separated: html, md, pdf (pdf prints the HTML in headless Chromium)
    #[arg(long, default_value = "html,md")]
    pub format: String,
    /// Render from this table version instead of the newest: 3, outcomes=3,internships=5, or a time (2026-11-29T06:00:00Z) (see `praktik status`)
    #[arg(long, value_name = "AS_OF")]
    pub as_of: Option<AsOf>,
    /// The area, by code or name [default: the definition's]
    #[arg(long, value_name = "AREA")]
    pub area: Option<String>,
    /// The language of a briefing: da or en [default: the definition's, else da]
    #[arg(long, value_name = "LANG")]
    pub lang: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// outcomes, internships or runs
    pub table: String,
    /// The folder to write, hive-partitioned by quarter (period=2019Q3/…)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// parquet or csv
    #[arg(long, default_value = "parquet")]
    pub format: String,
    /// Export this table version instead of the newest: 3, outcomes=3,internships=5, or a time (2026-11-29T06:00:00Z)
    #[arg(long, value_name = "AS_OF")]
    pub as_of: Option<AsOf>,
    /// Replace what an earlier export wrote into the folder (other files stay)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL to run (it may begin with a `--` comment)
    #[arg(
        required_unless_present = "file",
        conflicts_with = "file",
        allow_hyphen_values = true
    )]
    pub sql: Option<String>,
    /// A .sql file, or a named query (sql/effect_by_area.sql, trend, …)
    #[arg(long, value_name = "FILE")]
    pub file: Option<String>,
    /// A parameter for a $name placeholder: --param period=2019Q3
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// table, csv, json, jsonl, markdown or parquet (parquet needs --out)
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Write the result to FILE (whole or not at all) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Query this table version instead of the newest: 3, outcomes=3,internships=5, or a time (2026-11-29T06:00:00Z)
    #[arg(long, value_name = "AS_OF")]
    pub as_of: Option<AsOf>,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Check every version's files, every log entry, every kept body and the
    /// index; list leftovers (exit 1 if anything is wrong)
    Check,
    /// Remove leftovers of stopped writes (every version stays readable);
    /// with --older-than, also the files of versions older than that
    Vacuum {
        /// Only list what would be removed
        #[arg(long)]
        dry_run: bool,
        /// Give up the versions older than this many days: their data files
        /// are removed and `--as-of` can no longer read them
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u64>,
        /// If another praktik is writing to the store, wait up to this long
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
    /// Recreate the tables from raw/ and its index alone (the old tables
    /// are kept under .replaced-TIME/)
    Rebuild {
        /// If another praktik is writing to the store, wait up to this long
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write N demo person-level internships (deterministic) to a file
    Generate {
        /// How many internships
        #[arg(long)]
        rows: usize,
        /// csv (Danish: `;`, decimal comma, Danish headers) or parquet (typed, English names)
        #[arg(long, default_value = "csv")]
        format: String,
        /// The file to write
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// Query this table version instead of the newest: 3, outcomes=3,internships=5, or a time (2026-11-29T06:00:00Z)
    #[arg(long, value_name = "AS_OF")]
    pub as_of: Option<AsOf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE, e.g. period=2019Q3"))?;
    let name = name.trim().trim_start_matches('$');
    if name.is_empty() {
        return Err(format!("`{text}` has no parameter name"));
    }
    Ok((name.to_string(), value.to_string()))
}

impl Cli {
    pub fn config(&self, source: Option<&Source>) -> Result<Config, Error> {
        let dir = std::env::current_dir()
            .map_err(|e| Error::Internal(format!("no working directory: {e}")))?;
        let overrides = Overrides {
            store: self.store.clone(),
            out: self.out.clone(),
            source: source.cloned(),
            workers: self.workers.as_ref().map(|w| w.0.clone()),
        };
        Ok(Config::load(
            &dir,
            self.config.as_deref(),
            std::env::vars(),
            &overrides,
        )?)
    }
}

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

/// The whole program: parse the command line, set up logging, run the
/// command on a runtime, and map the error to an exit code. It lives here,
/// not in the binary, so that the async code it runs is compiled once, in
/// this crate: a binary that polls the library's futures compiles them
/// again (the release binary alone took 1 min 45 s to build).
pub fn main() -> ExitCode {
    quiet_known_panics();
    // Fault injection for the durability tests (`FAILPOINTS=name=return`).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
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
        LogFormat::Json => logs.json().init(),
        // Colours only on a terminal, and never when NO_COLOR is set: a cron
        // file or a pipe gets plain text.
        LogFormat::Text => logs.with_ansi(colours()).init(),
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
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // `praktik query … | head`: the reader has all it wants.
        Err(error) if crate::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", crate::describe_error(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

/// Run the parsed command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Run(args) => {
            let config = cli.config(args.source.as_ref())?;
            announce_source(&config.source);
            let report = pipeline::run(&config, &args.write_options()).await?;
            print_pull(&report.pull);
            for rendered in &report.rendered {
                print_rendered(rendered);
            }
            for blocked in &report.blocked {
                eprintln!("praktik: not rendered: {blocked}");
            }
            if !report.blocked.is_empty() {
                return Err(Error::ReportsBlocked {
                    count: report.blocked.len(),
                });
            }
        }
        Command::Pull(args) => {
            let config = cli.config(args.source.source.as_ref())?;
            announce_source(&config.source);
            let wanted = match (args.period, args.from, args.to) {
                (Some(p), _, _) => Wanted::Periods(vec![p]),
                (None, Some(from), Some(to)) if from > to => {
                    use clap::CommandFactory;
                    Cli::command()
                        .error(
                            clap::error::ErrorKind::ArgumentConflict,
                            format!("--from {from} comes after --to {to}; give the earlier quarter first"),
                        )
                        .exit()
                }
                (None, Some(from), Some(to)) => Wanted::Periods(from.through(to).collect()),
                _ => Wanted::All,
            };
            let options = args.source.write_options();
            let report = pipeline::pull(&config, &config.source, &wanted, &options).await?;
            print_pull(&report);
        }
        Command::Report(args) => {
            let config = cli.config(None)?;
            let options = ReportOptions {
                name: args.name.clone(),
                period: args.period,
                formats: OutputFormat::parse_list(&args.format)?,
                as_of: args.as_of.clone().unwrap_or_default(),
                area: args.area.clone(),
                lang: args.lang.clone(),
            };
            print_rendered(&pipeline::report(&config, &options).await?);
        }
        Command::Query(args) => {
            let config = cli.config(None)?;
            let format: QueryFormat = args.format.parse()?;
            let (label, sql) = match (&args.sql, &args.file) {
                (Some(sql), _) => ("the query".to_string(), sql.clone()),
                (None, Some(file)) => read_query_file(file)?,
                (None, None) => unreachable!("clap requires SQL or --file"),
            };
            let mut params = Params::new();
            for (name, value) in &args.params {
                params.insert(name, value);
            }
            let options = QueryOptions {
                label,
                sql,
                params,
                as_of: args.as_of.clone().unwrap_or_default(),
            };
            // An --out that cannot be written fails before the query runs.
            let out = args
                .out
                .as_deref()
                .map(output::OutFile::create)
                .transpose()?;
            if out.is_none() && format == QueryFormat::Parquet {
                return Err(output::OutputError::BinaryToStdout.into());
            }
            let batches = pipeline::query(&config, &options).await?;
            match out {
                Some(file) => file.finish(&batches, format)?,
                None => {
                    let mut stdout = std::io::stdout().lock();
                    output::write(&batches, format, &mut stdout)?;
                    stdout.flush().map_err(output::OutputError::from)?;
                }
            }
        }
        Command::Sql(args) => {
            let config = cli.config(None)?;
            let interactive = std::io::stdin().is_terminal();
            crate::shell::run(
                &config,
                &args.as_of.clone().unwrap_or_default(),
                interactive,
            )
            .await?;
        }
        Command::Schema { table } => {
            let config = cli.config(None)?;
            let store = crate::store::Store::open_for(&config)?;
            let engine = crate::engine::Engine::open(&store, None).await?;
            let tables = match table {
                Some(t) => vec![t.clone()],
                None => engine.table_names(),
            };
            let mut stdout = std::io::stdout().lock();
            for name in tables {
                let batch = engine.describe(&name).await?;
                writeln!(stdout, "{name}").map_err(output::OutputError::from)?;
                output::write(&[batch], QueryFormat::Table, &mut stdout)?;
            }
            stdout.flush().map_err(output::OutputError::from)?;
        }
        Command::Export(args) => {
            let config = cli.config(None)?;
            let format = match args.format.as_str() {
                "parquet" => crate::export::ExportFormat::Parquet,
                "csv" => crate::export::ExportFormat::Csv,
                other => {
                    return Err(output::OutputError::UnknownFormat(format!(
                        "{other}` (use parquet or csv)"
                    ))
                    .into());
                }
            };
            let done = pipeline::export(
                &config,
                &args.table,
                &args.to,
                format,
                &args.as_of.clone().unwrap_or_default(),
                args.force,
            )
            .await?;
            eprintln!(
                "praktik: exported `{}`{} to {} ({} files, hive-partitioned by period)",
                args.table,
                done.version
                    .map(|v| format!(" version {v}"))
                    .unwrap_or_default(),
                done.dir.display(),
                done.files
            );
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            // Into memory first: the generator panics on a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "praktik", &mut script);
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&script)
                .and_then(|()| stdout.flush())
                .map_err(output::OutputError::from)?;
        }
        Command::Worker { listen } => {
            let config = cli.config(None)?;
            worker(*listen, &config).await?;
        }
        Command::Man => {
            use clap::CommandFactory;
            let mut stdout = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command())
                .render(&mut stdout)
                .map_err(output::OutputError::from)?;
            stdout.flush().map_err(output::OutputError::from)?;
        }
        Command::Demo(DemoCommand::Generate { rows, format, out }) => {
            let failed =
                |e: String| Error::Internal(format!("cannot write {}: {e}", out.display()));
            let file = std::fs::File::create(out).map_err(|e| failed(e.to_string()))?;
            match format.as_str() {
                "csv" => {
                    let mut writer = std::io::BufWriter::new(file);
                    crate::source::demo_internships::generate_csv(*rows, &mut writer)
                        .map_err(|e| failed(e.to_string()))?;
                    writer.flush().map_err(|e| failed(e.to_string()))?;
                }
                "parquet" => crate::source::demo_internships::generate_parquet(*rows, file)
                    .map_err(failed)?,
                other => {
                    return Err(crate::output::OutputError::UnknownFormat(format!(
                        "{other}` (use csv or parquet)"
                    ))
                    .into());
                }
            }
            eprintln!(
                "praktik: wrote {rows} demo internships to {}",
                out.display()
            );
        }
        Command::Store(command) => {
            let config = cli.config(None)?;
            let write = |wait: u64| WriteOptions {
                lock_wait: std::time::Duration::from_secs(wait),
                allow_shrink: false,
            };
            match command {
                StoreCommand::Check => {
                    let store = crate::store::Store::open_for(&config)?;
                    let problems = crate::upkeep::check(&store.tree()).await?;
                    for p in &problems {
                        println!("{}: {}; {}", p.path, p.what, p.fix);
                    }
                    if !problems.is_empty() {
                        return Err(Error::StoreDamaged {
                            problems: problems.len(),
                        });
                    }
                    eprintln!("praktik: the store at {store} is sound");
                }
                StoreCommand::Vacuum {
                    dry_run,
                    older_than,
                    wait,
                } => {
                    let done =
                        pipeline::vacuum(&config, &write(*wait), *older_than, *dry_run).await?;
                    let verb = if *dry_run { "would remove" } else { "removed" };
                    for p in &done.leftovers {
                        println!("{verb} {}: {}", p.path, p.what);
                    }
                    for file in &done.old_files {
                        println!("{verb} {file}: only versions older than the cut-off need it");
                    }
                    eprintln!(
                        "praktik: {} leftover(s), {} file(s) of old versions",
                        done.leftovers.len(),
                        done.old_files.len()
                    );
                }
                StoreCommand::Rebuild { wait } => {
                    let report = pipeline::rebuild(&config, &write(*wait)).await?;
                    for commit in &report.commits {
                        eprintln!(
                            "praktik: rebuilt `{}`: {} rows in {} quarters",
                            commit.table,
                            commit.rows,
                            commit.periods.len()
                        );
                    }
                    let bodies = match report.bodies {
                        1 => "1 body".to_string(),
                        n => format!("{n} bodies"),
                    };
                    eprintln!(
                        "praktik: {bodies} read from raw/, {} rejected again and left out; the old tables are under {}",
                        report.rejected, report.replaced
                    );
                }
            }
        }
        Command::Status(args) => {
            let config = cli.config(None)?;
            let status = status::status(&config).await?;
            if args.json {
                let text = serde_json::to_string_pretty(&status)
                    .map_err(|e| Error::Internal(e.to_string()))?;
                println!("{text}");
            } else {
                print_status(&status);
            }
        }
    }
    Ok(())
}

/// A file on disk, else a named query embedded from sql/.
fn read_query_file(file: &str) -> Result<(String, String), Error> {
    match std::fs::read_to_string(file) {
        Ok(sql) => Ok((file.to_string(), sql)),
        Err(_) => match named_query(file) {
            Some(sql) => Ok((
                format!(
                    "sql/{}.sql",
                    file.trim_end_matches(".sql")
                        .rsplit('/')
                        .next()
                        .unwrap_or(file)
                ),
                sql.to_string(),
            )),
            None => Err(crate::engine::QueryError::UnknownQuery(file.to_string()).into()),
        },
    }
}

fn announce_source(source: &Source) {
    if *source == Source::Demo {
        eprintln!(
            "praktik: using the built-in DEMO source: synthetic figures, not official statistics"
        );
    }
}

fn print_pull(report: &PullReport) {
    let periods = |list: &[Period]| match list {
        [] => "none".to_string(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first}–{last} ({} quarters)", list.len()),
    };
    eprintln!(
        "praktik: pulled {} extract(s) from {} ({} bytes, {} new under raw/)",
        report.extracts, report.source, report.bytes, report.landed_new
    );
    for commit in &report.commits {
        if commit.periods.is_empty() {
            eprintln!(
                "praktik: took the demo quarters out of `{}` as version {}",
                commit.table, commit.version
            );
            continue;
        }
        eprintln!(
            "praktik: stored {} rows for {} as version {} of `{}`",
            commit.rows,
            periods(&commit.periods),
            commit.version,
            commit.table
        );
    }
    if report.commits.is_empty() {
        eprintln!(
            "praktik: nothing changed; the store already held these extracts ({})",
            periods(&report.unchanged)
        );
    }
}

fn print_rendered(rendered: &Rendered) {
    for file in &rendered.files {
        eprintln!(
            "praktik: wrote {} ({} {})",
            file.display(),
            rendered.name,
            rendered.period
        );
    }
    if rendered.demo {
        eprintln!(
            "praktik: the report `{}` is built from DEMO data and says so on every page",
            rendered.name
        );
    }
}

fn print_status(status: &status::Status) {
    let mut out = std::io::stdout().lock();
    print_tables(status, &mut out);
    print_runs_and_stale(status, &mut out);
}

fn print_tables(status: &status::Status, out: &mut dyn std::io::Write) {
    let _ = writeln!(out, "store: {}", status.store);
    match status.version {
        None => {
            let _ = writeln!(
                out,
                "table `{}`: not written yet (run `praktik pull`)",
                status.table
            );
        }
        Some(version) => {
            let _ = writeln!(
                out,
                "table `{}`: version {version}, {} quarters",
                status.table,
                status.periods.len()
            );
            for p in &status.periods {
                let pulled = utc(p
                    .pulled_at
                    .and_then(chrono::DateTime::from_timestamp_micros));
                let _ = writeln!(
                    out,
                    "  {}  {:>5} rows  {:<6}  pulled {pulled}  sha256 {}",
                    p.period,
                    p.rows,
                    p.source,
                    &p.extract_sha256[..12.min(p.extract_sha256.len())]
                );
            }
            if let Some(people) = &status.internships {
                let first = people
                    .periods
                    .first()
                    .map(|p| p.period.as_str())
                    .unwrap_or("");
                let last = people
                    .periods
                    .last()
                    .map(|p| p.period.as_str())
                    .unwrap_or("");
                let rows: i64 = people.periods.iter().map(|p| p.rows).sum();
                let _ = writeln!(
                    out,
                    "table `internships`: version {}, {} quarters ({first}–{last}), {rows} rows",
                    people.version,
                    people.periods.len()
                );
            }
            let _ = writeln!(out, "last commits of `outcomes`:");
            for c in &status.commits {
                let when = utc(c
                    .timestamp
                    .and_then(chrono::DateTime::from_timestamp_millis));
                let _ = writeln!(
                    out,
                    "  version {:>3}  {when}  {}  source {}  periods {}",
                    c.version,
                    c.operation.as_deref().unwrap_or("?"),
                    c.source.as_deref().unwrap_or("?"),
                    c.periods.as_deref().unwrap_or("?")
                );
            }
        }
    }
}

/// The run ledger's last lines and what is stale, after the tables.
fn print_runs_and_stale(status: &status::Status, out: &mut dyn std::io::Write) {
    if !status.runs.is_empty() {
        let _ = writeln!(out, "last runs:");
    }
    for run in &status.runs {
        let _ = writeln!(
            out,
            "  {}  {:<4}  {:<6}  source {}  {}",
            run.started_at,
            run.command,
            run.outcome,
            run.source,
            [
                run.versions.as_deref(),
                run.error.as_deref().and_then(|e| e.lines().next())
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ")
        );
    }
    for line in &status.stale {
        let _ = writeln!(out, "stale: {line}");
    }
}

/// A moment as `status` shows it: `2026-11-28 16:20 UTC`.
fn utc(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(feature = "distributed")]
async fn worker(listen: std::net::SocketAddr, config: &crate::config::Config) -> Result<(), Error> {
    eprintln!("praktik: worker listening on {listen}; stop it with Ctrl-C or SIGTERM");
    crate::engine::workers::serve(listen, &config.store).await
}

#[cfg(not(feature = "distributed"))]
async fn worker(_: std::net::SocketAddr, _: &crate::config::Config) -> Result<(), Error> {
    Err(Error::NotBuilt {
        what: "distributed queries",
        feature: "distributed",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn query_out_names_the_file() {
        let cli = Cli::parse_from(["praktik", "query", "SELECT 1", "--out", "x.csv"]);
        let Command::Query(args) = cli.command else {
            panic!("a query")
        };
        assert_eq!(args.out, Some(PathBuf::from("x.csv")));
    }

    #[test]
    fn a_query_may_begin_with_a_comment() {
        let sql = "-- quarters\nSELECT 1";
        let cli = Cli::try_parse_from(["praktik", "query", sql, "--format", "csv"]).unwrap();
        let Command::Query(args) = cli.command else {
            panic!("a query")
        };
        assert_eq!(args.sql.as_deref(), Some(sql));
        assert_eq!(args.format, "csv");
        // Options before it still count as options.
        let cli = Cli::try_parse_from(["praktik", "query", "--format", "csv", sql]).unwrap();
        let Command::Query(args) = cli.command else {
            panic!("a query")
        };
        assert_eq!(
            (args.sql.as_deref(), args.format.as_str()),
            (Some(sql), "csv")
        );
        // And --help is still help.
        let help = Cli::try_parse_from(["praktik", "query", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }
}
