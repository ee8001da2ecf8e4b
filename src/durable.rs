//! Writing files so that a crash, a kill or a full disk never leaves a
//! half-written one under its real name, and a file that was said to be
//! written survives a power cut: a unique temporary name in the same folder,
//! fsync, rename, fsync the folder. Appended lines go out in one write a call,
//! from one writer at a time, and are fsynced.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One appender at a time within the process (the store's lock keeps other
/// processes out).
static APPENDING: Mutex<()> = Mutex::new(());

/// Make the folder's entries (a rename, a new file) durable.
pub fn sync_folder(folder: &Path) -> std::io::Result<()> {
    std::fs::File::open(folder)?.sync_all()
}

/// A staging file in `folder` whose name says it is unfinished.
pub fn staging(folder: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(".staging-")
        .suffix(".partial")
        .tempfile_in(folder)
}

/// Move a fully written staging file to `path`, durably.
pub fn persist(staged: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    staged.as_file().sync_all()?;
    persist_synced(vec![(staged, path.to_path_buf())], folder_of(path)).map_err(|e| e.cause)
}

/// Move staging files in `folder`, each fully written and fsynced, to
/// their paths in the same folder, in order, and make the folder's entries
/// durable with one fsync for all of them. At a failure the files moved
/// before it are made durable too; the failure says how many were moved
/// and durable (0 if the folder's fsync failed) and which path failed.
pub fn persist_synced(
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
    folder: &Path,
) -> Result<(), Unfinished> {
    let mut moved = 0;
    let mut failed = None;
    for (file, path) in staged {
        let persisted = (|| {
            fail::fail_point!("durable-persist", |how| Err(injected(how)));
            file.persist(&path).map(drop).map_err(|e| e.error)
        })();
        if let Err(cause) = persisted {
            failed = Some(Unfinished { moved, path, cause });
            break;
        }
        moved += 1;
    }
    if moved > 0 {
        sync_folder(folder).map_err(|cause| Unfinished {
            moved: 0,
            path: folder.to_path_buf(),
            cause,
        })?;
    }
    failed.map_or(Ok(()), Err)
}

/// How far [`persist_synced`] came before `path` failed.
#[derive(Debug)]
pub struct Unfinished {
    /// Files moved to their paths and durable there.
    pub moved: usize,
    pub path: PathBuf,
    pub cause: std::io::Error,
}

/// The folder `path` is in; `.` for a bare file name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    }
}

/// Write `bytes` to `path`: readers see the old file or the whole new one.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut staged = staging(folder_of(path))?;
    fail::fail_point!("durable-write", |how| Err(injected(how)));
    staged.write_all(bytes)?;
    persist(staged, path)
}

/// Append `lines` (each without its end) to `path` in one write, durably.
pub fn append_lines(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    fail::fail_point!("durable-append", |how| Err(injected(how)));
    let _one = APPENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut text = lines.join("\n");
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_data()?;
    if new {
        sync_folder(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// The error a failpoint injects: `return(enospc)` a full disk, anything
/// else an I/O error.
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn injected(how: Option<String>) -> std::io::Error {
    match how.as_deref() {
        Some("enospc") => std::io::Error::from_raw_os_error(28),
        _ => std::io::Error::from_raw_os_error(5),
    }
}
