//! Keep every pulled body under the store's `raw/` folder, named by its
//! SHA-256, before anything parses it. Person-level bodies pass the CPR
//! screen on the way in ([`crate::privacy`]), so what is kept holds no CPR
//! number. The body streams through: a file larger than memory is landed
//! without being held. A later fix can re-derive every table from `raw/`.

use std::io::{BufRead, BufWriter, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::classify;
use crate::durable;
use crate::extract::{Body, Extract};
use crate::privacy::screen::Screen;
use crate::privacy::{self, Layout, ScreenError};
use crate::read_once::ReadOnce;
use crate::validate::csv_parts::LineStarts;
use crate::validate::person_rows::column_of;

#[derive(Debug, thiserror::Error)]
pub enum LandError {
    #[error("cannot read {input}; check that it exists and is readable")]
    Read {
        input: String,
        #[source]
        cause: std::io::Error,
    },
    #[error(
        "cannot keep the body of {input} under {path}; check that the store folder is writable"
    )]
    Write {
        input: String,
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    /// The file changed while it was read; nothing of it was kept.
    #[error("{input} changed while it was being pulled ({path}); pull it again once it is written")]
    Changed { input: String, path: PathBuf },
    /// What the body holds could not be told; nothing was kept.
    #[error("{input}: rejected before anything of it was kept: {reason}")]
    Unclassified { input: String, reason: String },
    /// The CPR screen turned the body away; nothing was kept.
    #[error("{input}: rejected before anything of it was kept: {cause}")]
    Screened {
        input: String,
        #[source]
        cause: ScreenError,
    },
}

/// A body as kept under `raw/`: the extract (reading the kept bytes), its
/// SHA-256 and whether it was new.
#[derive(Debug, Clone)]
pub struct Landed {
    pub extract: Extract,
    /// SHA-256 of the kept bytes, lower-case hex.
    pub sha256: String,
    pub path: PathBuf,
    /// False when the same bytes were already there.
    pub new: bool,
    pub bytes: u64,
    /// Where the body's lines start, if its landing read them (a text file
    /// the screen passed unchanged): the check cuts a large CSV at them.
    pub line_starts: Option<Arc<LineStarts>>,
    /// The state of the file the body is read from where it was pulled
    /// from, as it was before the landing read it ([`Landed::finish`]
    /// checks that it still is).
    source: Option<FileState>,
    /// The keeping under `raw/` still under way, if any (shared by the
    /// bodies kept together).
    copying: Arc<Mutex<Copying>>,
}

impl Deref for Landed {
    type Target = Extract;
    fn deref(&self) -> &Extract {
        &self.extract
    }
}

/// Everything written through it is hashed and counted on the way.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Copy `input` to `out`, telling a failed read from a failed write.
pub(crate) fn copy(
    extract: &Extract,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    staging: &Path,
) -> Result<(), LandError> {
    loop {
        let chunk = input
            .fill_buf()
            .map_err(|cause| read_error(extract, cause))?;
        if chunk.is_empty() {
            return Ok(());
        }
        let n = chunk.len();
        out.write_all(chunk)
            .map_err(|cause| write_error(extract, staging, cause))?;
        input.consume(n);
    }
}

pub(crate) fn read_error(extract: &Extract, cause: std::io::Error) -> LandError {
    LandError::Read {
        input: extract.input.clone(),
        cause,
    }
}

pub(crate) fn write_error(extract: &Extract, path: &Path, cause: std::io::Error) -> LandError {
    LandError::Write {
        input: extract.input.clone(),
        path: path.to_path_buf(),
        cause,
    }
}

/// Whether a JSON key names the person.
fn is_person_key(key: &str) -> bool {
    column_of(key) == Some(1)
}

/// The screen error as a landing error of `extract`.
fn screen_error(extract: &Extract, staging: &Path, error: ScreenError) -> LandError {
    match error {
        ScreenError::Read(cause) => read_error(extract, cause),
        ScreenError::Write(cause) => write_error(extract, staging, cause),
        cause => LandError::Screened {
            input: extract.input.clone(),
            cause,
        },
    }
}

/// Screen `input` into `out`, with a screen for `layout`; how many CPR
/// numbers it replaced. `note` is handed each run of lines as it is read
/// (see [`Screen::run_noting`]).
fn screen(
    extract: &Extract,
    layout: Layout,
    salt: Option<&str>,
    (input, out): (&mut dyn BufRead, &mut dyn Write),
    staging: &Path,
    note: &mut dyn FnMut(&[u8], usize),
) -> Result<usize, LandError> {
    let screen = Screen {
        layout,
        is_person_key: &is_person_key,
        salt,
    };
    screen
        .run_noting(input, out, note)
        .map_err(|e| screen_error(extract, staging, e))
}

/// The SHA-256 and length of the body as it will be kept (screened), and
/// how many CPR numbers screening replaced; the screened body is written to
/// `out`.
fn screened(
    extract: &Extract,
    layout: Layout,
    salt: Option<&str>,
    out: &mut dyn Write,
    staging: &Path,
) -> Result<(String, u64, usize), LandError> {
    let mut out = Hashing {
        inner: out,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut input = extract
        .reader()
        .map_err(|cause| read_error(extract, cause))?;
    let replaced = if layout == Layout::Parquet {
        copy(extract, &mut input, &mut out, staging)?;
        0
    } else {
        screen(
            extract,
            layout,
            salt,
            (&mut input, &mut out),
            staging,
            &mut |_, _| {},
        )?
    };
    out.flush().map_err(|e| write_error(extract, staging, e))?;
    Ok((hex::encode(out.hasher.finalize()), out.bytes, replaced))
}

/// What the first read of a file did beside its hash, on the thread that
/// screened it, once the screen let it through: while the hash still runs
/// (SHA-256 is the slowest of the three), a file landed before is compared
/// with its kept copy, and a new one is copied to a staging file under
/// `raw/`. A text file is never copied before the screen has passed it.
enum Beside {
    Nothing,
    /// The file holds the same bytes as the body kept at this path.
    Kept(PathBuf),
    /// The file copied to a staging file (waited for when dropped, so that
    /// no half copy is left behind).
    Copying(StagedCopy),
}

/// A copy to a staging file under way on a thread of its own.
struct StagedCopy {
    staged: PathBuf,
    thread: Option<std::thread::JoinHandle<Result<tempfile::NamedTempFile, LandError>>>,
}

impl StagedCopy {
    fn start(extract: &Extract, source: &Path, raw_dir: &Path) -> Result<StagedCopy, LandError> {
        let staged = staging(extract, raw_dir)?;
        let path = staged.path().to_path_buf();
        let (input, source) = (extract.input.clone(), source.to_path_buf());
        let thread = std::thread::spawn(move || copy_to(&source, staged, &input));
        Ok(StagedCopy {
            staged: path,
            thread: Some(thread),
        })
    }

    /// The staging file, once the copy is done.
    fn finish(mut self, input: &str) -> Result<tempfile::NamedTempFile, LandError> {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(copied)) => copied,
            _ => Err(LandError::Write {
                input: input.to_string(),
                path: self.staged.clone(),
                cause: std::io::Error::other("the copying thread stopped"),
            }),
        }
    }
}

impl Drop for StagedCopy {
    fn drop(&mut self) {
        if let Some(copying) = self.thread.take() {
            let _ = copying.join();
        }
    }
}

/// Copy the file `source` to `staged`, past the page cache where the file
/// system allows ([`crate::direct_copy`]).
fn copy_to(
    source: &Path,
    mut staged: tempfile::NamedTempFile,
    input: &str,
) -> Result<tempfile::NamedTempFile, LandError> {
    use crate::direct_copy::CopyError;
    let unreadable = |cause| LandError::Read {
        input: input.to_string(),
        cause,
    };
    let mut from = std::fs::File::open(source).map_err(unreadable)?;
    let path = staged.path().to_path_buf();
    crate::direct_copy::copy(source, &mut from, staged.as_file_mut(), &path).map_err(
        |e| match e {
            CopyError::Read(cause) => unreadable(cause),
            CopyError::Write(cause) => LandError::Write {
                input: input.to_string(),
                path: path.clone(),
                cause,
            },
        },
    )?;
    Ok(staged)
}

/// What the first read of a body found.
struct FirstRead {
    /// SHA-256 and length of the body as it will be kept.
    sha256: String,
    bytes: u64,
    /// How many CPR numbers screening replaces.
    replaced: usize,
    beside: Beside,
    /// Where the lines of a file the screen passed unchanged start, noted
    /// on the screen's way through it (for the check's cut, see
    /// [`LineStarts`]).
    line_starts: Option<LineStarts>,
}

/// The first read of a body: its SHA-256 and length as it will be kept,
/// how many CPR numbers screening replaces, and what was done beside. A
/// text file is scanned and hashed on two threads at once; only if the scan
/// replaces something is the screened text hashed again.
///
/// A file that holds the same bytes as the body an earlier pull of it kept
/// is not screened again: what is kept passed the screen when it was
/// landed (or is the screen's output). That holds once the hash shows the
/// kept copy is what its name says; if not, the file is screened after all.
fn first_read(
    extract: &Extract,
    layout: Layout,
    salt: Option<&str>,
    raw_dir: &Path,
) -> Result<FirstRead, LandError> {
    let screened_whole = || {
        let (sha256, bytes, replaced) =
            screened(extract, layout, salt, &mut std::io::sink(), raw_dir)?;
        Ok(FirstRead {
            sha256,
            bytes,
            replaced,
            beside: Beside::Nothing,
            line_starts: None,
        })
    };
    let path = match &extract.body {
        Body::File(path) if layout != Layout::Parquet => path,
        _ => return screened_whole(),
    };
    let Some(kept) = kept_before(raw_dir, extract, path) else {
        return match first_read_once(extract, layout, salt, raw_dir, path)? {
            Some(read) => Ok(read),
            None => screened_whole(),
        };
    };
    let file = path.clone();
    let hashing = std::thread::spawn(move || hash_file(&file));
    let kept = Some(kept).filter(|kept| same_bytes(kept, extract).unwrap_or(false));
    let scanned = kept.is_none().then(|| scan(extract, layout, salt, raw_dir));
    let beside = match (kept, &scanned) {
        (Some(kept), _) => Beside::Kept(kept),
        (None, Some(Ok((0, _)))) => {
            StagedCopy::start(extract, path, raw_dir).map_or(Beside::Nothing, Beside::Copying)
        }
        _ => Beside::Nothing,
    };
    let hashed = hashing
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread stopped")));
    let (replaced, line_starts) = match scanned {
        Some(scanned) => scanned.map(|(replaced, starts)| (replaced, Some(starts)))?,
        None => {
            let named = |kept: &Path| {
                hashed
                    .as_ref()
                    .is_ok_and(|(sha256, _)| *kept == kept_path(raw_dir, extract, sha256))
            };
            match &beside {
                Beside::Kept(kept) if named(kept) => (0, None),
                _ => scan(extract, layout, salt, raw_dir).map(|(r, starts)| (r, Some(starts)))?,
            }
        }
    };
    if replaced > 0 {
        return screened_whole();
    }
    let (sha256, bytes) = hashed.map_err(|cause| read_error(extract, cause))?;
    Ok(FirstRead {
        sha256,
        bytes,
        replaced: 0,
        beside,
        line_starts,
    })
}

/// [`first_read`] of a file no earlier pull kept at its length, screened
/// and hashed from one read of it ([`ReadOnce`]); `None` if the screen
/// would replace something (the screened text is hashed as it is written).
fn first_read_once(
    extract: &Extract,
    layout: Layout,
    salt: Option<&str>,
    raw_dir: &Path,
    path: &Path,
) -> Result<Option<FirstRead>, LandError> {
    let mut input = ReadOnce::open(path).map_err(|cause| read_error(extract, cause))?;
    let (replaced, starts) = scan_from(&mut input, extract, layout, salt, raw_dir)?;
    if replaced > 0 {
        return Ok(None);
    }
    // Copied while the hash takes the last buffers.
    let beside = StagedCopy::start(extract, path, raw_dir).map_or(Beside::Nothing, Beside::Copying);
    let (sha256, bytes) = input.finish().map_err(|cause| read_error(extract, cause))?;
    Ok(Some(FirstRead {
        sha256,
        bytes,
        replaced: 0,
        beside,
        line_starts: Some(starts),
    }))
}

/// Where `raw_dir` keeps a body of `extract`'s format whose SHA-256 is
/// `sha256`.
fn kept_path(raw_dir: &Path, extract: &Extract, sha256: &str) -> PathBuf {
    raw_dir.join(format!("{sha256}.{}", extract.format.extension()))
}

/// Screen the body without keeping the screened text: how many CPR numbers
/// the screen would replace, and where the body's lines start.
fn scan(
    extract: &Extract,
    layout: Layout,
    salt: Option<&str>,
    raw_dir: &Path,
) -> Result<(usize, LineStarts), LandError> {
    let mut input = extract
        .reader()
        .map_err(|cause| read_error(extract, cause))?;
    scan_from(&mut input, extract, layout, salt, raw_dir)
}

/// [`scan`] of the body as `input` reads it.
fn scan_from(
    input: &mut dyn BufRead,
    extract: &Extract,
    layout: Layout,
    salt: Option<&str>,
    raw_dir: &Path,
) -> Result<(usize, LineStarts), LandError> {
    let mut starts = LineStarts::default();
    let replaced = screen(
        extract,
        layout,
        salt,
        (input, &mut std::io::sink()),
        raw_dir,
        &mut |run, line_feeds| starts.note(run, line_feeds),
    )?;
    Ok((replaced, starts))
}

/// The body kept under `raw/` that an earlier pull of the same input
/// landed with the same length as the file at `source` now has, if the
/// index names one: most likely the same bytes pulled again.
pub(crate) fn kept_before(raw_dir: &Path, extract: &Extract, source: &Path) -> Option<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Line {
        file: String,
        input: String,
        bytes: u64,
    }
    let length = std::fs::metadata(source).ok()?.len();
    let index = std::fs::read(raw_dir.join(INDEX)).ok()?;
    index
        .split(|b| *b == b'\n')
        .rev()
        .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
        .find(|line| line.input == extract.input && line.bytes == length)
        .map(|line| raw_dir.join(line.file))
}

/// How the body is laid out, checked against the format its source gave.
fn classify(extract: &Extract) -> Result<Layout, LandError> {
    let head = extract
        .reader()
        .and_then(classify::head)
        .map_err(|cause| read_error(extract, cause))?;
    let (format, layout) = classify::classify(&extract.input, &head, Some(extract.format))
        .map_err(|reason| LandError::Unclassified {
            input: extract.input.clone(),
            reason: reason.0,
        })?;
    if format != extract.format {
        return Err(LandError::Unclassified {
            input: extract.input.clone(),
            reason: format!(
                "it holds {format:?}, not the {:?} its source named",
                extract.format
            ),
        });
    }
    Ok(layout)
}

/// Screen a Parquet body (see [`privacy::parquet::screen`]): how many CPR
/// numbers its person column holds; with `out`, the screened file is
/// written there.
fn screen_parquet(
    extract: &Extract,
    salt: Option<&str>,
    out: Option<std::fs::File>,
) -> Result<usize, LandError> {
    let screened = match &extract.body {
        Body::Bytes(bytes) => {
            privacy::parquet::screen(bytes::Bytes::from(bytes.clone()), &is_person_key, salt, out)
        }
        Body::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| read_error(extract, e))?;
            privacy::parquet::screen(file, &is_person_key, salt, out)
        }
    };
    screened.map_err(|e| screen_error(extract, Path::new(""), e))
}

/// The buffer of a read beside the hash: small enough that what is read
/// into it is still in the core's cache when it is hashed or compared (with
/// 1 MiB, hashing 1.5 GB took 1.10 s; with 128 KiB, 1.05 s).
const READ_BUFFER: usize = 128 << 10;

/// The SHA-256 and length of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut out = Hashing {
        inner: std::io::sink(),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut file = std::io::BufReader::with_capacity(READ_BUFFER, std::fs::File::open(path)?);
    std::io::copy(&mut file, &mut out)?;
    Ok((hex::encode(out.hasher.finalize()), out.bytes))
}

/// Land a Parquet body whose person column held CPR numbers: the file is
/// written anew with their keys, and only that is kept.
fn land_rewritten_parquet(
    raw_dir: &Path,
    extract: Extract,
    salt: Option<&str>,
    replaced: usize,
) -> Result<(Landed, Option<Staged>), LandError> {
    let staged = staging(&extract, raw_dir)?;
    let file = staged
        .reopen()
        .map_err(|e| write_error(&extract, staged.path(), e))?;
    screen_parquet(&extract, salt, Some(file))?;
    let (sha256, bytes) =
        hash_file(staged.path()).map_err(|e| write_error(&extract, staged.path(), e))?;
    let path = kept_path(raw_dir, &extract, &sha256);
    let new = !intact(&path, &sha256, bytes, None);
    let kept = if new {
        Some(Entry::of(&extract, &sha256, &path, bytes).staged(staged))
    } else {
        None
    };
    tracing::info!(input = %extract.input, values = replaced, "CPR numbers replaced by pseudonymous keys before landing");
    let landed = Landed {
        extract: Extract {
            body: Body::File(path.clone()),
            ..extract
        },
        sha256,
        path,
        new,
        bytes,
        line_starts: None,
        source: None,
        copying: Arc::new(Mutex::new(Copying::default())),
    };
    Ok((landed, kept))
}

/// The index of `raw/`: one JSON line per body landed, and one more each
/// time a body landed before is stored again, in the order they happened.
pub const INDEX: &str = "index.jsonl";

/// What the index of `raw/` says about one body.
#[derive(Debug, Clone)]
struct Entry {
    sha256: String,
    format: crate::extract::Format,
    path: PathBuf,
    source: String,
    input: String,
    period: Option<crate::period::Period>,
    pulled_at: chrono::DateTime<chrono::Utc>,
    bytes: u64,
}

impl Entry {
    /// The entry of `extract`'s body, kept as `sha256` at `path`.
    fn of(extract: &Extract, sha256: &str, path: &Path, bytes: u64) -> Entry {
        Entry {
            sha256: sha256.to_string(),
            format: extract.format,
            path: path.to_path_buf(),
            source: extract.source.clone(),
            input: extract.input.clone(),
            period: extract.period,
            pulled_at: extract.pulled_at,
            bytes,
        }
    }

    /// This entry's body, fully written to a staging file; [`keep_all`]
    /// flushes it to the disk, moves it to its hash name and indexes it.
    fn staged(self, file: tempfile::NamedTempFile) -> Staged {
        Staged { file, entry: self }
    }

    /// This body's line of `raw/index.jsonl`.
    fn line(&self) -> String {
        serde_json::json!({
            "sha256": self.sha256,
            "file": self.path.file_name().and_then(|n| n.to_str()),
            "format": self.format.code(),
            "source": self.source,
            "input": self.input,
            "period": self.period.map(|p| p.to_string()),
            "pulled_at": self.pulled_at.to_rfc3339(),
            "bytes": self.bytes,
        })
        .to_string()
    }
}

/// Append the lines of `entries` to `raw/index.jsonl`, in one durable write.
fn record(raw_dir: &Path, entries: &[Entry]) -> Result<(), LandError> {
    let Some(first) = entries.first() else {
        return Ok(());
    };
    let index = raw_dir.join(INDEX);
    let lines: Vec<String> = entries.iter().map(Entry::line).collect();
    durable::append_lines(&index, &lines).map_err(|cause| LandError::Write {
        input: first.input.clone(),
        path: index.clone(),
        cause,
    })
}

/// A body written under a temporary name in `raw/`, still to be flushed,
/// moved to its hash name and indexed.
struct Staged {
    file: tempfile::NamedTempFile,
    entry: Entry,
}

/// Flush staged bodies to the disk, several at a time, then move them to
/// their hash names in order, with one fsync of `raw/` for all of them, and
/// index them in one durable append. At a failure the bodies before it are
/// moved and indexed, then it is returned: a body gets its name only once
/// its bytes are durable, and is indexed only once it is durable under its
/// name.
fn keep_all(raw_dir: &Path, mut staged: Vec<Staged>) -> Result<(), LandError> {
    let Some(first) = staged.first().map(|s| s.entry.clone()) else {
        return Ok(());
    };
    let flushed = {
        let files: Vec<&std::fs::File> = staged.iter().map(|s| s.file.as_file()).collect();
        durable::flush_staged(&files)
    };
    // The bodies from the first that failed on are not kept (their staging
    // files are removed as they are dropped).
    let unflushed = flushed.err().map(|(at, cause)| {
        let failed = staged.split_off(at);
        let path = failed[0].file.path().to_path_buf();
        LandError::Write {
            input: failed[0].entry.input.clone(),
            path,
            cause,
        }
    });
    let (files, entries): (Vec<_>, Vec<_>) = staged
        .into_iter()
        .map(|s| ((s.file, s.entry.path.clone()), s.entry))
        .unzip();
    let persisted = durable::persist_synced(files, raw_dir);
    let moved = persisted
        .as_ref()
        .map_or_else(|e| e.moved, |()| entries.len());
    fail::fail_point!("land-before-index", |_| Err(LandError::Write {
        input: first.input.clone(),
        path: first.path.clone(),
        cause: std::io::Error::other("failpoint"),
    }));
    record(raw_dir, &entries[..moved])?;
    persisted.map_err(|unfinished| LandError::Write {
        input: entries
            .get(unfinished.moved)
            .map_or(first.input, |e| e.input.clone()),
        path: unfinished.path,
        cause: unfinished.cause,
    })?;
    unflushed.map_or(Ok(()), Err)
}

/// Keeping bodies under `raw/` while they are checked: a large file's copy,
/// or a pull's bodies flushed and named (see [`land_all`]). Dropping it
/// waits for it, so that no half copy is left behind.
#[derive(Debug, Default)]
struct Copying(Option<std::thread::JoinHandle<Result<(), LandError>>>);

impl Copying {
    /// Wait for the keeping; `None` if it panicked. The first to wait gets
    /// its outcome: the pull waits for every body and stops at a failure.
    fn wait(&mut self) -> Option<Result<(), LandError>> {
        match self.0.take().map(std::thread::JoinHandle::join) {
            None => Some(Ok(())),
            Some(Ok(result)) => Some(result),
            Some(Err(_)) => None,
        }
    }
}

impl Drop for Copying {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

fn staging(extract: &Extract, raw_dir: &Path) -> Result<tempfile::NamedTempFile, LandError> {
    // Write under a temporary name and rename, so a killed or rejected pull
    // never leaves a body under a hash name (the temporary file is removed
    // when it is dropped).
    durable::staging(raw_dir).map_err(|e| write_error(extract, raw_dir, e))
}

/// Whether the body kept at `path` has the length and SHA-256 it is named
/// by; a damaged one is landed again. `same_as` is the extract just hashed
/// to `sha256`, when its bytes are the ones to keep: the kept file is then
/// compared with it byte by byte, which costs a fraction of hashing the file
/// again (a re-pull of an unchanged extract is its hash and little more).
fn intact(path: &Path, sha256: &str, bytes: u64, same_as: Option<&Extract>) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if meta.len() != bytes {
        tracing::warn!(path = %path.display(), "a kept body has the wrong length; it is landed again");
        return false;
    }
    let same = match same_as {
        Some(extract) => same_bytes(path, extract).unwrap_or(false),
        None => hash_file(path).is_ok_and(|(hash, _)| hash == sha256),
    };
    if !same {
        tracing::warn!(path = %path.display(), "a kept body does not match its SHA-256; it is landed again");
    }
    same
}

/// Whether the file at `path` holds the bytes of `extract`'s body.
fn same_bytes(path: &Path, extract: &Extract) -> std::io::Result<bool> {
    let open = |path: &Path| {
        std::fs::File::open(path).map(|f| std::io::BufReader::with_capacity(READ_BUFFER, f))
    };
    let mut kept = open(path)?;
    let mut body: Box<dyn BufRead> = match &extract.body {
        Body::File(source) => Box::new(open(source)?),
        Body::Bytes(bytes) => Box::new(bytes.as_slice()),
    };
    loop {
        let (a, b) = (kept.fill_buf()?, body.fill_buf()?);
        let n = a.len().min(b.len());
        if n == 0 {
            return Ok(a.is_empty() && b.is_empty());
        }
        if a[..n] != b[..n] {
            return Ok(false);
        }
        kept.consume(n);
        body.consume(n);
    }
}

/// Keep the body under `raw_dir/<sha256>.<ext>` (if not already there),
/// recording where it came from in `raw_dir/index.jsonl`. `salt` turns CPR
/// numbers into pseudonymous keys; without it a body holding one is
/// rejected and nothing is kept.
///
/// The body is first read once to screen and hash it. If screening changed
/// nothing, the bytes to keep are the body's own: a file is then copied on a
/// thread of its own, from the moment the screen has passed it while the
/// hash still runs, and kept while the caller checks it ([`Landed::finish`]
/// waits for the copy); a file pulled before is compared with its kept copy
/// instead. Otherwise the screened body is written, and read from `raw/`
/// from then on.
pub fn land(raw_dir: &Path, extract: Extract, salt: Option<&str>) -> Result<Landed, LandError> {
    let (landed, staged) = stage(raw_dir, extract, salt)?;
    keep_all(raw_dir, staged.into_iter().collect())?;
    Ok(landed)
}

/// [`land`] every body of a pull, in their order: they are screened, hashed
/// and written on a thread per core, then flushed, moved to their hash
/// names with one fsync of `raw/` and indexed in one append, in the order
/// given. At the first body turned away, the bodies before it are kept and
/// indexed (as one by one) and its error returned; nothing of the ones
/// after it is kept.
///
/// Unless a body is to be read from its name under `raw/` (one the screen
/// changed), the bodies are kept on a thread of their own while the caller
/// checks them, as a large file's copy is: waiting on the disk, beside the
/// checks' work. [`Landed::finish`] waits for it, and gives a failure to
/// keep them.
pub fn land_all(
    raw_dir: &Path,
    extracts: Vec<Extract>,
    salt: Option<&str>,
) -> Result<Vec<Landed>, LandError> {
    let mut landed = Vec::with_capacity(extracts.len());
    let mut staged = Vec::new();
    let mut failed = None;
    for result in crate::parallel::map_in_order(extracts, |extract| stage(raw_dir, extract, salt)) {
        match result {
            Ok((mut body, kept)) => {
                // The same bytes twice in one pull are kept once.
                if let Some(kept) = kept {
                    if staged
                        .iter()
                        .any(|s: &Staged| s.entry.sha256 == body.sha256)
                    {
                        body.new = false;
                    } else {
                        staged.push(kept);
                    }
                }
                landed.push(body);
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let read_from_raw = landed
        .iter()
        .any(|l| matches!(&l.extract.body, Body::File(p) if *p == l.path));
    if failed.is_some() || read_from_raw || staged.is_empty() {
        keep_all(raw_dir, staged)?;
        return failed.map_or(Ok(landed), Err);
    }
    let raw_dir = raw_dir.to_path_buf();
    let keeping = std::thread::spawn(move || keep_all(&raw_dir, staged));
    let keeping = Arc::new(Mutex::new(Copying(Some(keeping))));
    for body in &mut landed {
        let copied = body.copying.lock().is_ok_and(|c| c.0.is_some());
        if !copied {
            body.copying = Arc::clone(&keeping);
        }
    }
    Ok(landed)
}

/// All of [`land`] but moving a body written here to its name and indexing
/// it: that body is given back staged. (A file copied on a thread of its
/// own is kept and indexed by that thread.)
fn stage(
    raw_dir: &Path,
    extract: Extract,
    salt: Option<&str>,
) -> Result<(Landed, Option<Staged>), LandError> {
    // Before the file is first read.
    let before = source_state(&extract);
    let layout = classify(&extract)?;
    std::fs::create_dir_all(raw_dir).map_err(|e| write_error(&extract, raw_dir, e))?;
    if layout == Layout::Parquet {
        let replaced = screen_parquet(&extract, salt, None)?;
        if replaced > 0 {
            return land_rewritten_parquet(raw_dir, extract, salt, replaced);
        }
    }
    let source = before.clone();
    let FirstRead {
        sha256,
        bytes,
        replaced,
        beside,
        line_starts,
    } = first_read(&extract, layout, salt, raw_dir)?;
    let path = kept_path(raw_dir, &extract, &sha256);
    let new = match &beside {
        Beside::Kept(kept) if *kept == path => false,
        _ => !intact(&path, &sha256, bytes, (replaced == 0).then_some(&extract)),
    };
    let entry = Entry::of(&extract, &sha256, &path, bytes);
    let mut copying = Copying::default();
    let mut kept = None;
    // The body a replacement was written to; otherwise the extract keeps
    // its own (moved, not copied: an in-memory body may be large).
    let screened_body = if replaced > 0 {
        tracing::info!(input = %extract.input, values = replaced, "CPR numbers replaced by pseudonymous keys before landing");
        if new {
            let staged = staging(&extract, raw_dir)?;
            let mut out = BufWriter::with_capacity(1 << 20, staged.as_file());
            screened(&extract, layout, salt, &mut out, staged.path())?;
            out.flush()
                .map_err(|e| write_error(&extract, staged.path(), e))?;
            drop(out);
            kept = Some(entry.staged(staged));
        }
        Some(Body::File(path.clone()))
    } else {
        if new {
            match &extract.body {
                Body::Bytes(body) => {
                    let staged = staging(&extract, raw_dir)?;
                    staged
                        .as_file()
                        .write_all(body)
                        .map_err(|e| write_error(&extract, staged.path(), e))?;
                    kept = Some(entry.staged(staged));
                }
                Body::File(source) => {
                    let copy = match beside {
                        Beside::Copying(copy) => copy,
                        _ => StagedCopy::start(&extract, source, raw_dir)?,
                    };
                    let (source, raw_dir) = (source.clone(), raw_dir.to_path_buf());
                    copying.0 = Some(std::thread::spawn(move || {
                        copy_file(&source, copy, &raw_dir, entry, before)
                    }));
                }
            }
        }
        None
    };
    let landed = Landed {
        // The lines noted are those of the body read: not of a replacement.
        line_starts: line_starts
            .filter(|_| screened_body.is_none())
            .map(Arc::new),
        extract: match screened_body {
            Some(body) => Extract { body, ..extract },
            None => extract,
        },
        sha256,
        path,
        new,
        bytes,
        source,
        copying: Arc::new(Mutex::new(copying)),
    };
    Ok((landed, kept))
}

/// What a file's metadata says of its bytes, to notice a file that changes
/// while it is being landed: its length and modification time and, on
/// Unix, which file it is and when its content or metadata last changed
/// (the change time, which no one can set back) — so that a file rewritten
/// in place at the same length with its old modification time restored (as
/// `cp -p` and `rsync -t` leave it), or another file moved to its name, is
/// noticed too: its copy under `raw/` could hold bytes the screen never read.
#[derive(Debug, Clone, PartialEq)]
struct FileState {
    bytes: u64,
    modified: std::time::SystemTime,
    #[cfg(unix)]
    identity_and_change: (u64, u64, i64, i64),
}

impl FileState {
    fn of(path: &Path) -> Option<FileState> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileState {
            bytes: meta.len(),
            modified: meta.modified().ok()?,
            #[cfg(unix)]
            identity_and_change: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
            },
        })
    }
}

/// [`LandError::Changed`] unless the file at `path` (of `input`) is still
/// as it was `before`.
fn unchanged_since(before: Option<&FileState>, path: &Path, input: &str) -> Result<(), LandError> {
    if FileState::of(path).as_ref() == before {
        return Ok(());
    }
    Err(LandError::Changed {
        input: input.to_string(),
        path: path.to_path_buf(),
    })
}

/// The state of the file `extract` reads, if it reads a file.
fn source_state(extract: &Extract) -> Option<FileState> {
    match &extract.body {
        Body::File(path) => FileState::of(path),
        Body::Bytes(_) => None,
    }
}

/// Finish `copy` of the file `source`, check that the file did not change
/// since `before`, and keep it as `entry`.
fn copy_file(
    source: &Path,
    copy: StagedCopy,
    raw_dir: &Path,
    entry: Entry,
    before: Option<FileState>,
) -> Result<(), LandError> {
    let staged = copy.finish(&entry.input)?;
    fail::fail_point!("land-before-state-check", |_| Err(LandError::Write {
        input: entry.input.clone(),
        path: source.to_path_buf(),
        cause: std::io::Error::other("failpoint land-before-state-check"),
    }));
    unchanged_since(before.as_ref(), source, &entry.input)?;
    keep_all(raw_dir, vec![entry.staged(staged)])
}

impl Landed {
    /// Record in the index that this body, landed before, was stored again.
    pub fn record_stored_again(&self, raw_dir: &Path) -> Result<(), LandError> {
        record(
            raw_dir,
            &[Entry::of(self, &self.sha256, &self.path, self.bytes)],
        )
    }

    /// Wait until the body is kept under `raw/`; a table may refer to it
    /// only after that. A body read where it was pulled from (a file) must
    /// also be as it was when it was landed: otherwise the rows checked
    /// from it may not be those of the body kept.
    pub fn finish(&self) -> Result<(), LandError> {
        let stopped = || {
            write_error(
                self,
                &self.path,
                std::io::Error::other("keeping it under raw/ stopped unexpectedly"),
            )
        };
        let mut copying = self.copying.lock().map_err(|_| stopped())?;
        copying.wait().unwrap_or_else(|| Err(stopped()))?;
        match (&self.extract.body, &self.source) {
            (Body::File(path), Some(before)) if *path != self.path => {
                unchanged_since(Some(before), path, &self.input)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Format;

    /// A body whose file cannot be read when it is copied under `raw/` is
    /// told as a file that cannot be read (it was told as a store folder
    /// that cannot be written), and names the input.
    #[test]
    fn a_copy_whose_source_cannot_be_read_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("export");
        std::fs::create_dir(&source).unwrap();
        let staged = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        let err = copy_to(&source, staged, "file:export").unwrap_err();
        assert!(matches!(err, LandError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot read file:export"), "{err}");
    }

    /// An outcomes CSV of one row with this share.
    fn outcomes(share: &str) -> Vec<u8> {
        format!("period,area_code,area_name,benefit_group,ended,in_work_or_education,share_pct\n2019Q3,101,K,dagpenge,10,3,{share}\n").into_bytes()
    }

    /// A person-level CSV of one internship of this person.
    fn internship(person: &str) -> String {
        let header = "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato\n";
        format!("{header}K1;{person};101;dagpenge;jobpraktik;2024-01-01;2024-02-01\n")
    }

    /// The extract `x.csv` in `format`, in memory.
    fn in_memory(format: Format, body: Vec<u8>) -> Extract {
        Extract::new("file", "x.csv".into(), format, body, None)
    }

    /// The extract `x.csv` in `format`, read from the file at `path`.
    fn from_file(format: Format, path: &Path) -> Extract {
        Extract::with_body(
            "file",
            "x.csv".into(),
            format,
            Body::File(path.to_path_buf()),
            None,
        )
    }

    #[test]
    fn keeps_the_body_by_hash_once() {
        let dir = tempfile::tempdir().unwrap();
        let body = outcomes("30.0");
        let extract = || in_memory(Format::OutcomesCsv, body.clone());
        let first = land(dir.path(), extract(), None).unwrap();
        assert!(first.new);
        assert_eq!(std::fs::read(&first.path).unwrap(), body);
        assert_eq!(first.sha256, hex::encode(Sha256::digest(&body)));
        assert!(first.path.ends_with(format!("{}.csv", first.sha256)));
        assert_eq!(first.bytes().unwrap().as_ref(), body.as_slice());
        let again = land(dir.path(), extract(), None).unwrap();
        assert!(!again.new);
        let index = std::fs::read_to_string(dir.path().join("index.jsonl")).unwrap();
        assert_eq!(index.lines().count(), 1);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "no staging file is left: {names:?}");
    }

    /// A kept body damaged in place (its length the same) is found when the
    /// same extract is pulled again, from memory or from a file, and is
    /// landed again whole.
    #[test]
    fn a_damaged_kept_body_is_landed_again() {
        let dir = tempfile::tempdir().unwrap();
        let body = outcomes("30.0");
        let source = dir.path().join("extract.csv");
        std::fs::write(&source, &body).unwrap();
        let raw = dir.path().join("raw");
        let in_memory = || in_memory(Format::OutcomesCsv, body.clone());
        let from_file = || from_file(Format::OutcomesCsv, &source);
        let extracts: [&dyn Fn() -> Extract; 2] = [&in_memory, &from_file];
        for extract in extracts {
            let first = land(&raw, extract(), None).unwrap();
            first.finish().unwrap();
            let mut damaged = body.clone();
            *damaged.last_mut().unwrap() = b'9';
            std::fs::write(&first.path, &damaged).unwrap();
            let again = land(&raw, extract(), None).unwrap();
            again.finish().unwrap();
            assert!(again.new, "the damaged body is landed again");
            assert_eq!(std::fs::read(&again.path).unwrap(), body);
            let intact = land(&raw, extract(), None).unwrap();
            assert!(!intact.new, "the repaired body is kept as it is");
            std::fs::remove_dir_all(&raw).unwrap();
        }
    }

    /// A file pulled again with the same length but other bytes is a new
    /// body: the copy kept from its last pull is not taken for it.
    #[test]
    fn a_file_rewritten_at_the_same_length_is_a_new_body() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("extract.csv");
        let raw = dir.path().join("raw");
        let pull = |text: Vec<u8>| {
            std::fs::write(&source, &text).unwrap();
            let landed = land(&raw, from_file(Format::OutcomesCsv, &source), None).unwrap();
            landed.finish().unwrap();
            assert_eq!(std::fs::read(&landed.path).unwrap(), text);
            landed
        };
        let first = pull(outcomes("30.0"));
        let again = pull(outcomes("30.0"));
        assert!(first.new && !again.new);
        assert_eq!(first.path, again.path);
        let changed = pull(outcomes("31.0"));
        assert!(changed.new);
        assert_ne!(changed.sha256, first.sha256);
        assert_eq!(std::fs::read(&first.path).unwrap(), outcomes("30.0"));
        let names: Vec<_> = std::fs::read_dir(&raw)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.len(),
            3,
            "two bodies and the index, no staging file: {names:?}"
        );
    }

    /// A file equal to its kept copy is not screened again, but only if the
    /// kept copy is what its name says: one changed in place to the same
    /// length, holding a CPR number, with the file changed to match it, is
    /// screened and turned away.
    #[test]
    fn a_kept_copy_that_is_not_what_its_name_says_does_not_spare_the_screen() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("extract.csv");
        let raw = dir.path().join("raw");
        let pull = |text: &str| {
            std::fs::write(&source, text).unwrap();
            land(&raw, from_file(Format::InternshipsCsv, &source), None)
        };
        let first = pull(&internship("P0000000001")).unwrap();
        first.finish().unwrap();
        assert!(
            !pull(&internship("P0000000001")).unwrap().new,
            "the same bytes"
        );
        let cpr = internship("010190-1234");
        assert_eq!(cpr.len(), internship("P0000000001").len());
        std::fs::write(&first.path, &cpr).unwrap();
        let error = pull(&cpr).unwrap_err();
        assert!(matches!(error, LandError::Screened { .. }), "{error}");
    }

    /// The bodies of a pull are kept in their order, the same bytes once,
    /// and at a body turned away those before it are kept and indexed and
    /// nothing after it is.
    #[test]
    fn a_pulls_bodies_are_kept_in_order_up_to_the_first_turned_away() {
        let dir = tempfile::tempdir().unwrap();
        let body = internship;
        let extract = |name: &str, text: String| {
            Extract::new(
                "file",
                name.into(),
                Format::InternshipsCsv,
                text.into_bytes(),
                None,
            )
        };
        let bodies = || {
            (0..12)
                .map(|i| extract(&format!("b{i}"), body(&format!("P{i}"))))
                .collect::<Vec<_>>()
        };
        let raw = dir.path().join("raw");
        let mut all = bodies();
        all.push(extract("again", body("P3")));
        let landed = land_all(&raw, all, None).unwrap();
        let inputs: Vec<&str> = landed.iter().map(|l| l.input.as_str()).collect();
        assert_eq!(inputs[..3], ["b0", "b1", "b2"]);
        assert_eq!(inputs[12], "again");
        assert!(landed[..12].iter().all(|l| l.new));
        assert!(!landed[12].new, "the same bytes as b3");
        assert_eq!(landed[12].sha256, landed[3].sha256);
        // Kept on a thread of their own, which each body's finish waits for.
        for kept in &landed {
            kept.finish().unwrap();
        }
        let index = std::fs::read_to_string(raw.join(INDEX)).unwrap();
        let indexed: Vec<String> = index
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["input"].to_string())
            .collect();
        let expected: Vec<String> = (0..12).map(|i| format!("\"b{i}\"")).collect();
        assert_eq!(indexed, expected, "in order, once each");
        for kept in &landed {
            assert_eq!(
                std::fs::read(&kept.path).unwrap(),
                kept.bytes().unwrap().as_ref()
            );
        }

        // The sixth of a second pull holds a CPR number and there is no salt.
        let raw = dir.path().join("raw2");
        let mut all = bodies();
        all[5] = extract("cpr", body("010190-1234"));
        let turned = land_all(&raw, all, None);
        assert!(
            matches!(&turned, Err(LandError::Screened { input, .. }) if input == "cpr"),
            "{turned:?}"
        );
        let index = std::fs::read_to_string(raw.join(INDEX)).unwrap();
        assert_eq!(index.lines().count(), 5, "{index}");
        let mut kept: Vec<String> = std::fs::read_dir(&raw)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != INDEX)
            .collect();
        kept.sort();
        assert_eq!(
            kept.len(),
            5,
            "only the five before it, no staging file: {kept:?}"
        );
        for line in index.lines() {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(kept.contains(&line["file"].as_str().unwrap().to_string()));
        }

        // With a salt the CPR number is replaced, and that body is read from
        // its name under raw/: all of the pull is kept before it returns.
        let raw = dir.path().join("raw3");
        let mut all = bodies();
        all[5] = extract("cpr", body("010190-1234"));
        let landed = land_all(&raw, all, Some("salt")).unwrap();
        assert!(matches!(&landed[5].body, Body::File(p) if *p == landed[5].path));
        let index = std::fs::read_to_string(raw.join(INDEX)).unwrap();
        assert_eq!(index.lines().count(), 12, "{index}");
        for kept in &landed {
            let read = kept.bytes().unwrap();
            assert_eq!(std::fs::read(&kept.path).unwrap(), read.as_ref());
            assert!(!String::from_utf8_lossy(&read).contains("010190"));
        }
    }

    /// A file rewritten in place while it is landed, at the same length and
    /// with its modification time set back (as `cp -p` or `rsync -t` leave
    /// it), is not kept: its copy could hold bytes the screen never read.
    #[test]
    #[cfg(feature = "failpoints")]
    fn a_file_rewritten_while_it_is_landed_is_not_kept_even_with_its_old_time() {
        let _scenario = fail::FailScenario::setup();
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        let source = dir.path().join("people.csv");
        std::fs::write(&source, internship("P1")).unwrap();
        let modified = std::fs::metadata(&source).unwrap().modified().unwrap();
        let rewritten = source.clone();
        fail::cfg_callback("land-before-state-check", move || {
            std::fs::write(&rewritten, internship("P2")).unwrap();
            let file = std::fs::File::options()
                .write(true)
                .open(&rewritten)
                .unwrap();
            file.set_modified(modified).unwrap();
        })
        .unwrap();
        let landed = land(&raw, from_file(Format::InternshipsCsv, &source), None).unwrap();
        let refused = landed.finish().unwrap_err();
        fail::remove("land-before-state-check");
        assert!(
            matches!(&refused, LandError::Changed { path, .. } if *path == source),
            "{refused:?}"
        );
        assert!(!landed.path.exists(), "nothing kept");
        let after = std::fs::metadata(&source).unwrap();
        assert_eq!(
            (after.len(), after.modified().unwrap()),
            (internship("P1").len() as u64, modified),
            "length and time as before"
        );
    }

    /// A file kept under `raw/` and then rewritten, while its rows are still
    /// checked from it where it was pulled from, is refused when the pull
    /// waits for its bodies: the rows might not be those kept.
    #[test]
    fn a_file_rewritten_after_it_was_kept_is_refused_before_a_table_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("people.csv");
        std::fs::write(&source, internship("P1")).unwrap();
        let modified = std::fs::metadata(&source).unwrap().modified().unwrap();
        let raw = dir.path().join("raw");
        let landed = land(&raw, from_file(Format::InternshipsCsv, &source), None).unwrap();
        landed.finish().unwrap();
        assert!(landed.path.exists(), "kept");
        std::fs::write(&source, internship("P2")).unwrap();
        let file = std::fs::File::options().write(true).open(&source).unwrap();
        file.set_modified(modified).unwrap();
        let refused = landed.finish().unwrap_err();
        assert!(
            matches!(&refused, LandError::Changed { path, .. } if *path == source),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("pull it again"), "{refused}");
    }

    #[test]
    fn a_file_is_copied_alongside_and_a_cpr_is_replaced_before_it_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        let source = dir.path().join("people.csv");
        let clean = internship("P1");
        std::fs::write(&source, &clean).unwrap();
        let from_file = |format| from_file(format, &source);
        let landed = land(&raw, from_file(Format::InternshipsCsv), None).unwrap();
        landed.finish().unwrap();
        assert!(landed.new);
        assert_eq!(std::fs::read_to_string(&landed.path).unwrap(), clean);
        assert_eq!(landed.sha256, hex::encode(Sha256::digest(&clean)));
        // Nothing replaced: the checker reads the file where it is.
        assert!(matches!(&landed.body, Body::File(p) if *p == source));

        std::fs::write(&source, internship("010190-1234")).unwrap();
        let rejected = land(&raw, from_file(Format::InternshipsCsv), None);
        assert!(
            matches!(rejected, Err(LandError::Screened { .. })),
            "{rejected:?}"
        );
        let landed = land(&raw, from_file(Format::InternshipsCsv), Some("salt")).unwrap();
        landed.finish().unwrap();
        let kept = std::fs::read_to_string(&landed.path).unwrap();
        assert!(!kept.contains("010190"), "{kept}");
        assert_eq!(landed.sha256, hex::encode(Sha256::digest(&kept)));
        // Replaced: the checker reads the screened copy.
        assert!(matches!(&landed.body, Body::File(p) if *p == landed.path));
        let staging: Vec<_> = std::fs::read_dir(&raw)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(staging.is_empty());
    }
}
