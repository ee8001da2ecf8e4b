//! Keeping the store sound: `praktik store check` finds what a crash, a full
//! disk or a hand in the folder left behind, and `praktik store vacuum`
//! takes away what no version and no index line needs. (`store rebuild`,
//! which recreates the tables from `raw/`, is in [`crate::pipeline`].)

mod tree;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::land::INDEX;
use crate::lock::LOCK_FILE;
use crate::schema::{INTERNSHIPS, OUTCOMES, RUNS};
use crate::store::StoreError;
pub use tree::{Tree, files_below};

/// Something wrong in the store, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where it is: a path, or an object's URL.
    pub path: String,
    /// The file's key in the store.
    #[serde(skip)]
    pub key: String,
    pub what: String,
    pub fix: Fix,
}

/// What takes a problem away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Fix {
    /// `praktik store vacuum` removes the leftover.
    Vacuum,
    /// `praktik store rebuild` recreates the tables from `raw/`.
    Rebuild,
    /// Pull the extract again from its source.
    PullAgain,
}

impl std::fmt::Display for Fix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fix::Vacuum => "`praktik store vacuum` removes it",
            Fix::Rebuild => "`praktik store rebuild` recreates the tables from raw/",
            Fix::PullAgain => "pull the extract again from its source (`praktik pull`)",
        })
    }
}

/// Whether a file name is a write's unfinished staging file.
fn is_partial(name: &str) -> bool {
    name.ends_with(".partial") || name.ends_with(".tmp") || name.starts_with(".tmp")
}

/// The last part of a key.
fn name_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Files nothing names, for `store vacuum`: a staging file says `partial`,
/// any other says `orphan`.
fn leftovers(
    tree: &Tree,
    keys: impl Iterator<Item = String>,
    partial: &str,
    orphan: &str,
    problems: &mut Vec<Problem>,
) {
    for key in keys {
        let what = if is_partial(name_of(&key)) {
            partial
        } else {
            orphan
        };
        problems.push(problem(tree, key, what.into(), Fix::Vacuum));
    }
}

fn problem(tree: &Tree, key: String, what: String, fix: Fix) -> Problem {
    Problem {
        path: tree.show(&key),
        key,
        what,
        fix,
    }
}

/// `%3A` and the like in a path of the Delta log, decoded.
fn unescape(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a table's log says, read as plain JSON (so that a damaged entry is
/// found, not fatal). Files are named by their keys in the store.
#[derive(Debug, Default)]
pub struct Log {
    /// Every data file a version adds, with that version.
    pub added: BTreeSet<(String, u64)>,
    /// Files a later version removed, with that version.
    pub removed: BTreeMap<String, u64>,
    /// The versions of vacuums: a file removed before one may be gone.
    pub vacuumed: Vec<u64>,
    pub versions: Vec<u64>,
    /// Entries that are unfinished, unreadable or not complete JSON.
    pub problems: Vec<Problem>,
}

/// `name` below the folder `dir` (`""`: the root).
fn below(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The log of the table in `dir`; `None` if it has none.
pub async fn read_log(tree: &Tree, dir: &str) -> Result<Option<Log>, StoreError> {
    let log_dir = below(dir, "_delta_log");
    let entries = tree.list(&format!("{log_dir}/")).await?;
    if entries.is_empty() {
        return Ok(None);
    }
    let mut log = Log::default();
    for key in entries {
        let name = name_of(&key).to_string();
        if is_partial(&name) {
            log.problems.push(problem(
                tree,
                key,
                "an unfinished log entry of a write that stopped".into(),
                Fix::Vacuum,
            ));
            continue;
        }
        let Some(version) = name
            .strip_suffix(".json")
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        log.versions.push(version);
        let text = match tree.read(&key).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                let what = format!("version {version}: the log entry cannot be read ({e})");
                log.problems.push(problem(tree, key, what, Fix::Rebuild));
                continue;
            }
        };
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
                let what = format!(
                    "version {version}: line {} of the log entry is not complete JSON",
                    n + 1
                );
                log.problems
                    .push(problem(tree, key.clone(), what, Fix::Rebuild));
                continue;
            };
            let path_of = |pointer| action.pointer(pointer).and_then(|p| p.as_str());
            if let Some(file) = path_of("/add/path") {
                log.added.insert((below(dir, &unescape(file)), version));
            }
            if let Some(file) = path_of("/remove/path") {
                log.removed.insert(below(dir, &unescape(file)), version);
            }
            if path_of("/commitInfo/operation") == Some("VACUUM END") {
                log.vacuumed.push(version);
            }
        }
    }
    log.versions.sort_unstable();
    Ok(Some(log))
}

/// The problems of one Delta table.
async fn check_table(
    tree: &Tree,
    table: &str,
    problems: &mut Vec<Problem>,
) -> Result<(), StoreError> {
    let Some(Log {
        added: referenced,
        removed,
        vacuumed,
        versions,
        problems: found,
    }) = read_log(tree, table).await?
    else {
        return Ok(());
    };
    let log = format!("{table}/_delta_log");
    problems.extend(found);
    if let Some(gap) = versions.iter().enumerate().find(|(i, v)| *i as u64 != **v) {
        let what = format!("the log has no entry for version {}", gap.0);
        problems.push(problem(tree, log.clone(), what, Fix::Rebuild));
    }
    let named: BTreeSet<&String> = referenced.iter().map(|(p, _)| p).collect();
    for (key, version) in &referenced {
        // A file removed before a vacuum may be gone.
        let given_up = removed
            .get(key)
            .is_some_and(|r| vacuumed.iter().any(|v| v > r));
        if given_up && !tree.exists(key).await {
            continue;
        }
        if let Err(e) = tree.parquet_readable(key).await {
            let what = format!("a data file of version {version} is missing or unreadable ({e})");
            problems.push(problem(tree, key.clone(), what, Fix::Rebuild));
        }
    }
    let files = tree.list(&format!("{table}/")).await?;
    leftovers(
        tree,
        files
            .into_iter()
            .filter(|k| !k.starts_with(&format!("{log}/")) && !named.contains(k)),
        "an unfinished data file of a write that stopped",
        "a data file no version names (left by a write that did not commit)",
        problems,
    );
    Ok(())
}

/// What one line of the index says about a body.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct IndexLine {
    pub sha256: String,
    pub file: String,
    #[serde(default)]
    pub format: Option<String>,
    pub source: String,
    pub input: String,
    pub period: Option<String>,
    pub pulled_at: String,
    pub bytes: u64,
}

/// One line of the index and where it is kept: in a folder a line of
/// `raw/index.jsonl`, in a bucket an object of its own under `raw/index/`.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub key: String,
    /// Its line number in that file.
    pub number: usize,
    /// The line, or `None` if it is incomplete or does not parse.
    pub line: Option<IndexLine>,
    /// Whether it is the last line of `raw/index.jsonl`, which a crash
    /// can cut off (an object is put whole or not at all).
    pub last_of_file: bool,
}

/// The folder of the index's objects in a bucket.
pub const INDEX_OBJECTS: &str = "raw/index/";

/// Every line of the index, in the order stored.
pub async fn read_index(tree: &Tree) -> Result<Vec<IndexEntry>, StoreError> {
    let file = format!("raw/{INDEX}");
    let mut keys = Vec::new();
    if tree.exists(&file).await {
        keys.push(file.clone());
    }
    keys.extend(tree.list(INDEX_OBJECTS).await?);
    let mut entries = Vec::new();
    for key in keys {
        let bytes = tree.read(&key).await.map_err(|cause| StoreError::Upkeep {
            path: tree.show(&key),
            cause,
        })?;
        let lines: Vec<(usize, &[u8])> = bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .collect();
        let last = lines.len();
        for (i, (n, line)) in lines.into_iter().enumerate() {
            entries.push(IndexEntry {
                key: key.clone(),
                number: n + 1,
                line: serde_json::from_slice::<IndexLine>(line).ok(),
                last_of_file: key == file && i + 1 == last,
            });
        }
    }
    Ok(entries)
}

/// The problems of `raw/` and its index.
async fn check_raw(tree: &Tree, problems: &mut Vec<Problem>) -> Result<(), StoreError> {
    let entries = read_index(tree).await?;
    let mut index_files = BTreeSet::new();
    let mut indexed = BTreeSet::new();
    for entry in entries {
        index_files.insert(entry.key.clone());
        match entry.line {
            Some(line) => {
                indexed.insert(format!("raw/{}", line.file));
            }
            None => {
                let what = format!("line {} of the index is not complete", entry.number);
                // A last line cut off by a crash goes; any other is damage.
                let fix = if entry.last_of_file {
                    Fix::Vacuum
                } else {
                    Fix::Rebuild
                };
                problems.push(problem(tree, entry.key, what, fix));
            }
        }
    }
    for key in &indexed {
        let named = name_of(key).split('.').next().unwrap_or_default();
        match tree.sha256(key).await {
            Ok((sha256, _)) if sha256 == named => {}
            Ok((_, bytes)) => problems.push(problem(
                tree,
                key.clone(),
                format!("the body ({bytes} bytes) does not match the SHA-256 it is named by"),
                Fix::PullAgain,
            )),
            Err(e) => problems.push(problem(
                tree,
                key.clone(),
                format!("a body the index names is missing or unreadable ({e})"),
                Fix::PullAgain,
            )),
        }
    }
    let files = tree.list("raw/").await?;
    leftovers(
        tree,
        files
            .into_iter()
            .filter(|k| !index_files.contains(k) && !indexed.contains(k)),
        "an unfinished body of a pull that stopped",
        "a body the index does not name (a pull stopped before it was indexed)",
        problems,
    );
    Ok(())
}

/// Every problem of the store: every file a version names exists and reads
/// as Parquet, every log entry and index line is complete, every kept body
/// matches its hash, and nothing is left over.
pub async fn check(tree: &Tree) -> Result<Vec<Problem>, StoreError> {
    let mut problems = Vec::new();
    for table in [OUTCOMES, INTERNSHIPS, RUNS] {
        check_table(tree, table, &mut problems).await?;
    }
    check_raw(tree, &mut problems).await?;
    // Unfinished files at the top (a bucket has none: an object is whole).
    if let Tree::Folder(root) = tree {
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().is_ok_and(|t| !t.is_dir());
            if is_file && name != LOCK_FILE && is_partial(&name) {
                let what = "an unfinished file of a write that stopped".to_string();
                problems.push(problem(tree, name, what, Fix::Vacuum));
            }
        }
    }
    Ok(problems)
}

/// Remove what [`check`] says `store vacuum` removes; the leftovers, each
/// removed (or, with `dry_run`, to be removed). Keeps every version.
pub async fn vacuum(tree: &Tree, dry_run: bool) -> Result<Vec<Problem>, StoreError> {
    let leftovers: Vec<Problem> = check(tree)
        .await?
        .into_iter()
        .filter(|p| p.fix == Fix::Vacuum)
        .collect();
    if dry_run {
        return Ok(leftovers);
    }
    let index = format!("raw/{INDEX}");
    for problem in &leftovers {
        let done = if problem.key == index {
            trim_last_line(tree, &index).await
        } else {
            tree.remove(&problem.key).await
        };
        done.map_err(|cause| StoreError::Upkeep {
            path: problem.path.clone(),
            cause,
        })?;
    }
    Ok(leftovers)
}

/// Cut an incomplete last line off the index, durably.
async fn trim_last_line(tree: &Tree, index: &str) -> Result<(), String> {
    let text = tree.read(index).await?;
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let keep = body.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    tree.write(index, text[..keep].to_vec()).await
}
