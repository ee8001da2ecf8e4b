//! Keeping the store sound: `praktik store check` finds what a crash, a full
//! disk or a hand in the folder left behind, and `praktik store vacuum`
//! takes away what no version and no index line needs. (`store rebuild`,
//! which recreates the tables from `raw/`, is in [`crate::pipeline`].)

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::land::INDEX;
use crate::lock::LOCK_FILE;
use crate::schema::{INTERNSHIPS, OUTCOMES, RUNS};

/// Something wrong in the store, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: PathBuf,
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

/// Every file below `dir` (not following links), sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push(path),
                Ok(_) => found.push(path),
                Err(_) => {}
            }
        }
    }
    found.sort();
    found
}

/// Files nothing names, for `store vacuum`: a staging file says `partial`,
/// any other says `orphan`.
fn leftovers(
    files: impl Iterator<Item = PathBuf>,
    partial: &str,
    orphan: &str,
    problems: &mut Vec<Problem>,
) {
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let what = if is_partial(name) { partial } else { orphan };
        problems.push(Problem {
            path,
            what: what.into(),
            fix: Fix::Vacuum,
        });
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
/// found, not fatal).
#[derive(Debug, Default)]
pub struct Log {
    /// Every data file a version adds, with that version.
    pub added: BTreeSet<(PathBuf, u64)>,
    /// Files a later version removed, with that version.
    pub removed: std::collections::BTreeMap<PathBuf, u64>,
    /// The versions of vacuums: a file removed before one may be gone.
    pub vacuumed: Vec<u64>,
    pub versions: Vec<u64>,
    /// Entries that are unfinished, unreadable or not complete JSON.
    pub problems: Vec<Problem>,
}

/// The log of the table in `dir`; `None` if it has none.
pub fn read_log(dir: &Path) -> Option<Log> {
    let log_dir = dir.join("_delta_log");
    if !log_dir.is_dir() {
        return None;
    }
    let mut log = Log::default();
    for path in files_below(&log_dir) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if is_partial(&name) {
            log.problems.push(Problem {
                path,
                what: "an unfinished log entry of a write that stopped".into(),
                fix: Fix::Vacuum,
            });
            continue;
        }
        let Some(version) = name
            .strip_suffix(".json")
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        log.versions.push(version);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                log.problems.push(Problem {
                    path,
                    what: format!("version {version}: the log entry cannot be read ({e})"),
                    fix: Fix::Rebuild,
                });
                continue;
            }
        };
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
                log.problems.push(Problem {
                    path: path.clone(),
                    what: format!(
                        "version {version}: line {} of the log entry is not complete JSON",
                        n + 1
                    ),
                    fix: Fix::Rebuild,
                });
                continue;
            };
            let path_of = |pointer| action.pointer(pointer).and_then(|p| p.as_str());
            if let Some(file) = path_of("/add/path") {
                log.added.insert((dir.join(unescape(file)), version));
            }
            if let Some(file) = path_of("/remove/path") {
                log.removed.insert(dir.join(unescape(file)), version);
            }
            if path_of("/commitInfo/operation") == Some("VACUUM END") {
                log.vacuumed.push(version);
            }
        }
    }
    log.versions.sort_unstable();
    Some(log)
}

/// The problems of one Delta table folder.
fn check_table(dir: &Path, problems: &mut Vec<Problem>) {
    let Some(Log {
        added: referenced,
        removed,
        vacuumed,
        versions,
        problems: found,
    }) = read_log(dir)
    else {
        return;
    };
    let log = dir.join("_delta_log");
    problems.extend(found);
    if let Some(gap) = versions.iter().enumerate().find(|(i, v)| *i as u64 != **v) {
        problems.push(Problem {
            path: log.clone(),
            what: format!("the log has no entry for version {}", gap.0),
            fix: Fix::Rebuild,
        });
    }
    let named: BTreeSet<&PathBuf> = referenced.iter().map(|(p, _)| p).collect();
    let given_up = |path: &PathBuf| {
        removed
            .get(path)
            .is_some_and(|r| vacuumed.iter().any(|v| v > r))
            && !path.exists()
    };
    for (path, version) in &referenced {
        if given_up(path) {
            continue;
        }
        let readable = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                parquet::file::reader::SerializedFileReader::new(f)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = readable {
            problems.push(Problem {
                path: path.clone(),
                what: format!("a data file of version {version} is missing or unreadable ({e})"),
                fix: Fix::Rebuild,
            });
        }
    }
    leftovers(
        files_below(dir)
            .into_iter()
            .filter(|p| !p.starts_with(&log) && !named.contains(p)),
        "an unfinished data file of a write that stopped",
        "a data file no version names (left by a write that did not commit)",
        problems,
    );
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

/// The index's lines in order; an incomplete or unparsable line is
/// reported with its number.
pub fn read_index(raw: &Path) -> std::io::Result<Vec<Result<IndexLine, usize>>> {
    let file = match std::fs::File::open(raw.join(INDEX)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut lines = Vec::new();
    for (n, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines.push(serde_json::from_slice::<IndexLine>(&line).map_err(|_| n + 1));
    }
    Ok(lines)
}

/// The problems of `raw/` and its index.
fn check_raw(raw: &Path, problems: &mut Vec<Problem>) {
    let index = raw.join(INDEX);
    let lines = match read_index(raw) {
        Ok(lines) => lines,
        Err(e) => {
            problems.push(Problem {
                path: index,
                what: format!("the index cannot be read ({e})"),
                fix: Fix::Rebuild,
            });
            return;
        }
    };
    let last = lines.len();
    let mut indexed = BTreeSet::new();
    for (i, line) in lines.into_iter().enumerate() {
        match line {
            Ok(line) => {
                indexed.insert(raw.join(&line.file));
            }
            Err(n) => problems.push(Problem {
                path: index.clone(),
                what: format!("line {n} of the index is not complete"),
                // A last line cut off by a crash goes; one in the middle is damage.
                fix: if i + 1 == last {
                    Fix::Vacuum
                } else {
                    Fix::Rebuild
                },
            }),
        }
    }
    for path in &indexed {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let named = name.split('.').next().unwrap_or_default();
        match crate::land::hash_file(path) {
            Ok((sha256, _)) if sha256 == named => {}
            Ok((_, bytes)) => problems.push(Problem {
                path: path.clone(),
                what: format!("the body ({bytes} bytes) does not match the SHA-256 it is named by"),
                fix: Fix::PullAgain,
            }),
            Err(e) => problems.push(Problem {
                path: path.clone(),
                what: format!("a body the index names is missing or unreadable ({e})"),
                fix: Fix::PullAgain,
            }),
        }
    }
    leftovers(
        files_below(raw)
            .into_iter()
            .filter(|p| *p != index && !indexed.contains(p)),
        "an unfinished body of a pull that stopped",
        "a body the index does not name (a pull stopped before it was indexed)",
        problems,
    );
}

/// Every problem of the store in `root`: every file a version names exists
/// and reads as Parquet, every log entry and index line is complete, every
/// kept body matches its hash, and nothing is left over.
pub fn check(root: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for table in [OUTCOMES, INTERNSHIPS, RUNS] {
        check_table(&root.join(table), &mut problems);
    }
    check_raw(&root.join("raw"), &mut problems);
    for path in files_below(root) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.parent() == Some(root) && name != LOCK_FILE && is_partial(name) {
            problems.push(Problem {
                path,
                what: "an unfinished file of a write that stopped".into(),
                fix: Fix::Vacuum,
            });
        }
    }
    problems
}

/// Remove what [`check`] says `store vacuum` removes; the leftovers, each
/// removed (or, with `dry_run`, to be removed). Keeps every version.
pub fn vacuum(root: &Path, dry_run: bool) -> std::io::Result<Vec<Problem>> {
    let leftovers: Vec<Problem> = check(root)
        .into_iter()
        .filter(|p| p.fix == Fix::Vacuum)
        .collect();
    if dry_run {
        return Ok(leftovers);
    }
    let index = root.join("raw").join(INDEX);
    for problem in &leftovers {
        if problem.path == index {
            trim_last_line(&index)?;
        } else {
            match std::fs::remove_file(&problem.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(leftovers)
}

/// Cut an incomplete last line off the index, durably.
fn trim_last_line(index: &Path) -> std::io::Result<()> {
    let text = std::fs::read(index)?;
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let keep = body.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    crate::durable::write(index, &text[..keep])
}
