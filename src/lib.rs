//! praktik: official labour-market statistics turned into the numbers,
//! tables and sentences a Danish jobcentre sends to its council.
//!
//! The stages, one module each: [`source`] pulls extracts, [`land`] keeps
//! them byte for byte, [`validate`] parses them into Arrow, [`store`] writes
//! Delta tables, [`engine`] runs the named SQL in `sql/`, [`report`] renders
//! letters. [`pipeline`] chains them.

/// `Deserialize` through `FromStr`, so a bad value in a TOML file fails with
/// the type's own message (`2019Q5 is not a quarter …`).
#[macro_export]
macro_rules! deserialize_from_str {
    ($type:ty) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub mod area;
pub mod as_of;
pub mod benefit;
pub mod classify;
pub mod cli;
pub mod config;
pub mod direct_copy;
pub mod durable;
pub mod engine;
pub mod export;
pub mod extract;
pub mod guard;
pub mod internship;
pub mod land;
pub mod ledger;
pub mod lock;
pub mod output;
pub mod parallel;
pub mod period;
pub mod pipeline;
pub mod privacy;
pub mod read_once;
pub mod report;
pub mod schema;
pub mod shell;
pub mod source;
pub mod spelling;
pub mod status;
pub mod store;
pub mod upkeep;
pub mod validate;

use std::path::PathBuf;

/// Any failure of a command, by stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Pull(#[from] source::PullError),
    #[error(transparent)]
    Land(#[from] land::LandError),
    #[error("the extract was rejected and the store is unchanged")]
    Validate(#[from] validate::ValidateError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Query(#[from] engine::QueryError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error(transparent)]
    Shell(#[from] shell::ShellError),
    #[error(
        "another praktik is writing to the store ({holder}, holding the lock {path}); waited {waited} s. Try again when it has finished, or give --wait SECONDS"
    )]
    Locked {
        path: String,
        holder: String,
        waited: u64,
    },
    #[error("cannot take the store's lock {path}")]
    Lock {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("the store has {problems} problem(s), listed above")]
    StoreDamaged { problems: usize },
    #[error("cannot change {path} in the store; check the folder's permissions and free space")]
    StoreFiles {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("two extracts of one pull hold the same quarter; pull them one at a time")]
    OverlappingExtracts,
    #[error(
        "the pull would shrink {period} of `{table}` from {before} rows to {after}; nothing was committed. If the source really holds that little now, pull again with --allow-shrink"
    )]
    Shrink {
        table: String,
        period: period::Period,
        before: i64,
        after: usize,
    },
    #[error(
        "the pull would take the benefit group(s) {groups} out of {period}; nothing was committed. Map the source's labels under [jobindsats.benefit_groups] (see the warning above), or pull again with --allow-shrink"
    )]
    LostGroups {
        period: period::Period,
        groups: String,
    },
    #[error(
        "the store holds real figures (source {sources}); the demo source would mix synthetic figures in. Use another store folder for the demo (--store demo-store)"
    )]
    DemoOnRealStore { sources: String },
    #[error(
        "the store was brought up to date, but {count} report(s) failed their data checks and were not rendered (listed above); the last good reports stay"
    )]
    ReportsBlocked { count: usize },
    #[error(
        "this praktik was built without {what}: build it with `cargo build --release --features {feature}`"
    )]
    NotBuilt {
        what: &'static str,
        feature: &'static str,
    },
    #[error(
        "cannot serve a worker on {listen}: {cause}. Is the port in use, or the address not this machine's?"
    )]
    Worker { listen: String, cause: String },
    #[error("internal error: {0}; please report it")]
    Internal(String),
}

impl Error {
    /// Exit code: 2 for wrong usage (a name or parameter that does not
    /// exist), 1 for everything the user must act on otherwise.
    pub fn exit_code(&self) -> u8 {
        use engine::QueryError as Q;
        use report::ReportError as R;
        match self {
            Error::Query(
                Q::UnknownQuery(_)
                | Q::MissingParam { .. }
                | Q::UnknownParam { .. }
                | Q::BadParam { .. },
            )
            | Error::Report(
                R::UnknownReport { .. }
                | R::UnknownFormat(_)
                | R::UnknownLanguage { .. }
                | R::LanguageNotOffered { .. }
                | R::UnknownArea { .. }
                | R::AreaWithoutRows { .. }
                | R::Definition { .. }
                | R::EmptyDefinition { .. },
            )
            | Error::Report(R::Query(Q::UnknownQuery(_)))
            | Error::Output(
                output::OutputError::UnknownFormat(_) | output::OutputError::BinaryToStdout,
            )
            | Error::Export(export::ExportError::UnknownTable { .. }) => 2,
            _ => 1,
        }
    }
}

/// Whether the error, or one of its causes, is a closed pipe on output.
pub fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// An error and its causes as lines for a person: `error: …`, then one
/// `caused by: …` per cause, leaving out causes that only repeat the line
/// before (DataFusion's errors often do).
pub fn describe_error(error: &dyn std::error::Error) -> String {
    let mut text = format!("error: {error}");
    let mut previous = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let line = c.to_string();
        if !previous.contains(&line) {
            text.push_str(&format!("\n  caused by: {line}"));
        }
        previous = line;
        cause = c.source();
    }
    text
}
