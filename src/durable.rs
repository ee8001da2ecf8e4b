//! Writing files so that a crash, a kill or a full disk never leaves a
//! half-written one under its real name, and a file that was said to be
//! written survives a power cut: a unique temporary name in the same folder,
//! fsync, rename, fsync the folder. Appended lines go out in one write a call,
//! from one writer at a time, and are fsynced. Files another library wrote
//! in place are fsynced there, with their folders.

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

/// Write several files of `folder` as [`write`] writes one: readers see
/// each old file or the whole new one. The new files are flushed side by
/// side and the folder once for all of them, not one after the other. At a
/// failure the error names the file; files before it in `files` may have
/// their new content, the others keep their old.
pub fn write_in_folder(
    folder: &Path,
    files: &[(PathBuf, &[u8])],
) -> Result<(), (PathBuf, std::io::Error)> {
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let written = (|| {
            let mut file = staging(folder)?;
            fail::fail_point!("durable-write", |how| Err(injected(how)));
            file.write_all(bytes)?;
            Ok(file)
        })();
        staged.push((written.map_err(|e| (path.clone(), e))?, path.clone()));
    }
    let handles: Vec<&std::fs::File> = staged.iter().map(|(file, _)| file.as_file()).collect();
    if let Err((at, cause)) = flush_staged(&handles) {
        return Err((files[at].0.clone(), cause));
    }
    persist_synced(staged, folder).map_err(|unfinished| (unfinished.path, unfinished.cause))
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

/// Make `files`, written in place without fsync (Delta's data files and
/// log entries, which its object store writes so), durable: each file's
/// content, several files at a time, then the entries of every folder from
/// each file's own up to `top`. The error names the file or folder.
pub fn sync_in_place(files: &[PathBuf], top: &Path) -> std::io::Result<()> {
    let sync = |file: &PathBuf| -> std::io::Result<()> {
        fail::fail_point!("durable-sync-in-place", |how| Err(not_flushed(
            file,
            injected(how)
        )));
        std::fs::File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(|e| not_flushed(file, e))
    };
    several_at_once(files, sync).map_err(|(_, cause)| cause)?;
    let mut folders = std::collections::BTreeSet::new();
    for file in files {
        let mut folder = file.parent();
        while let Some(f) = folder.filter(|f| f.starts_with(top)) {
            if !folders.insert(f) {
                break;
            }
            folder = f.parent();
        }
    }
    folders
        .into_iter()
        .try_for_each(|folder| sync_folder(folder).map_err(|e| not_flushed(folder, e)))
}

/// Flush fully written staging files (see [`staging`]) to the disk,
/// several at a time, before [`persist_synced`] moves them to their names.
/// At a failure, the files before the first one that failed are flushed;
/// its place in `files` and the cause are returned.
pub fn flush_staged(files: &[&std::fs::File]) -> Result<(), (usize, std::io::Error)> {
    let injected = (0..files.len()).find_map(|at| injected_flush_fault().map(|e| (at, e)));
    let flushed = injected.as_ref().map_or(files.len(), |(at, _)| *at);
    several_at_once(&files[..flushed], |file| file.sync_all())?;
    injected.map_or(Ok(()), Err)
}

/// The fault a test injects into flushing the next staging file (the
/// failpoint `durable-flush`, taken in the files' order), if any.
fn injected_flush_fault() -> Option<std::io::Error> {
    fail::fail_point!("durable-flush", |how| Some(injected(how)));
    None
}

/// Run `flush` on every item, eight threads at a time: a disk's
/// journal takes the fsyncs of several threads in one commit. The failure
/// of the first item in order that failed, with its place; every thread
/// has ended by then.
fn several_at_once<T: Sync>(
    items: &[T],
    flush: impl Fn(&T) -> std::io::Result<()> + Sync,
) -> Result<(), (usize, std::io::Error)> {
    /// Files flushed at once: more threads than cores, as they wait on
    /// the disk, not the processor.
    const AT_ONCE: usize = 8;
    let each = |(at, item): (usize, &T)| flush(item).map_err(|cause| (at, cause));
    if items.len() <= 1 {
        return items.iter().enumerate().try_for_each(each);
    }
    let per_thread = items.len().div_ceil(AT_ONCE);
    std::thread::scope(|scope| {
        let flushing: Vec<_> = items
            .chunks(per_thread)
            .enumerate()
            .map(|(chunk, part)| {
                let first = chunk * per_thread;
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .try_for_each(|(i, item)| each((first + i, item)))
                })
            })
            .collect();
        flushing.into_iter().try_for_each(|thread| {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// `cause`, naming the file or folder that could not be flushed.
fn not_flushed(path: &Path, cause: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        cause.kind(),
        format!("cannot flush {} to the disk: {cause}", path.display()),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_written_in_place_are_flushed_or_the_one_that_failed_is_named() {
        let root = tempfile::tempdir().expect("tempdir");
        let table = root.path().join("t");
        let mut files = Vec::new();
        for quarter in ["2024Q1", "2024Q2"] {
            let folder = table.join(format!("period={quarter}"));
            std::fs::create_dir_all(&folder).expect("folder");
            for part in 0..9 {
                let file = folder.join(format!("part-{part}.parquet"));
                std::fs::write(&file, quarter).expect("file");
                files.push(file);
            }
        }
        sync_in_place(&files, root.path()).expect("every file flushed");
        sync_in_place(&[], root.path()).expect("nothing to flush");

        files.insert(5, table.join("period=2024Q1/gone.parquet"));
        let err = sync_in_place(&files, root.path()).expect_err("a missing file");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .starts_with(&format!("cannot flush {}", files[5].display())),
            "{err}"
        );
    }

    #[test]
    fn several_at_once_gives_the_first_failure_in_order_and_flushes_staging_files() {
        let items: Vec<usize> = (0..20).collect();
        let seen = Mutex::new(Vec::new());
        let failing = |at: &usize| {
            seen.lock().expect("lock").push(*at);
            if *at == 5 || *at == 13 {
                Err(std::io::Error::from_raw_os_error(28))
            } else {
                Ok(())
            }
        };
        let (at, cause) = several_at_once(&items, failing).expect_err("two fail");
        assert_eq!((at, cause.raw_os_error()), (5, Some(28)));
        // Each file at most once, and every one before the first failure.
        let mut seen = seen.into_inner().expect("lock");
        seen.sort_unstable();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert!((0..=5).all(|i| seen.contains(&i)), "{seen:?}");
        assert_eq!(
            several_at_once(&[7], |i| Err(std::io::Error::other(i.to_string())))
                .map_err(|(at, e)| (at, e.to_string())),
            Err((0, "7".to_string()))
        );
        several_at_once::<u8>(&[], |_| Err(std::io::Error::other("none"))).expect("nothing");
        let all = std::sync::atomic::AtomicUsize::new(0);
        several_at_once(&items, |_| {
            all.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })
        .expect("none fails");
        assert_eq!(all.into_inner(), items.len());

        let folder = tempfile::tempdir().expect("tempdir");
        let staged: Vec<_> = (0..11)
            .map(|i| {
                let mut file = staging(folder.path()).expect("staging");
                write!(file, "body {i}").expect("write");
                file
            })
            .collect();
        let files: Vec<&std::fs::File> = staged.iter().map(|f| f.as_file()).collect();
        flush_staged(&files).expect("flushed");
        flush_staged(&[]).expect("nothing to flush");
    }

    #[test]
    fn several_files_of_a_folder_are_written_whole_and_nothing_is_left_staged() {
        let folder = tempfile::tempdir().expect("tempdir");
        let old = folder.path().join("report.html");
        std::fs::write(&old, "old").expect("old file");
        let files: Vec<(PathBuf, &[u8])> = vec![
            (old.clone(), b"new html"),
            (folder.path().join("report.md"), b"markdown"),
            (folder.path().join("chart.svg"), b"<svg/>"),
        ];
        write_in_folder(folder.path(), &files).expect("written");
        for (path, bytes) in &files {
            assert_eq!(std::fs::read(path).expect("read"), *bytes);
        }
        let names: Vec<String> = std::fs::read_dir(folder.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");

        let elsewhere = folder.path().join("gone");
        let err = write_in_folder(&elsewhere, &[(elsewhere.join("x.md"), b"x")])
            .expect_err("no such folder");
        assert_eq!(err.0, elsewhere.join("x.md"));
        assert_eq!(err.1.kind(), std::io::ErrorKind::NotFound);
        write_in_folder(folder.path(), &[]).expect("nothing to write");
    }
}
