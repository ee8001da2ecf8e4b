//! Copying a large file into a new one past the page cache (`O_DIRECT`),
//! where the file system allows. The copy of a 1.5 GB extract kept under
//! `raw/` went through the page cache with `copy_file_range`: 2.2–3.0 s of
//! the kernel's time on a VM whose fresh cache pages are slow to touch the
//! first time (0.4 s once the pages were reused), beside the check that
//! needs both cores, for bytes no one reads again soon. Written past the
//! cache, the copy cost 0.3–0.4 s of processor time, most of it copying the
//! file out of the page cache; read past it as well, ~0.1 s (`dd` with
//! direct reads and writes: 0.12 s of the kernel's time), and the disk does
//! the rest (1.5 GB read and written in 1.8 s, while the check runs).
//! Elsewhere (a file system without `O_DIRECT`, another system), or when a
//! direct write fails, it is an ordinary copy.

use std::fs::File;
use std::io::Seek;
use std::path::Path;

/// Bytes read and written at a time.
const CHUNK: usize = 4 << 20;

/// The alignment `O_DIRECT` asks of a buffer, a file offset and a length:
/// the page size, a multiple of every disk's logical block.
const ALIGN: usize = 4096;

/// Why a copy failed: reading the file copied, or writing the copy.
#[derive(Debug)]
pub enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copy all of `from` (from its start), the file at `source`, into `to`,
/// an empty file at `path`; how many bytes.
pub fn copy(source: &Path, from: &mut File, to: &mut File, path: &Path) -> Result<u64, CopyError> {
    #[cfg(target_os = "linux")]
    match direct(source, from, to, path) {
        Ok(copied) => return Ok(copied),
        Err(cause) => {
            tracing::debug!(path = %path.display(), ?cause, "copying through the page cache instead");
            from.rewind().map_err(CopyError::Read)?;
            to.set_len(0).map_err(CopyError::Write)?;
            to.rewind().map_err(CopyError::Write)?;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (source, path);
    ordinary(from, to)
}

/// [`copy`] through the page cache, a buffer at a time.
fn ordinary(from: &mut File, to: &mut File) -> Result<u64, CopyError> {
    use std::io::{Read, Write};
    let mut buffer = vec![0u8; 256 << 10];
    let mut copied = 0u64;
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        let read = buffer.get(..n).unwrap_or_default();
        to.write_all(read).map_err(CopyError::Write)?;
        copied += n as u64;
    }
}

/// [`copy`] with the whole blocks written through a second handle on
/// `path` opened with `O_DIRECT`, and the last partial block (if any)
/// through `to`; read through a handle on `source` opened so too, if the
/// file system allows.
#[cfg(target_os = "linux")]
fn direct(source: &Path, from: &File, to: &File, path: &Path) -> Result<u64, CopyError> {
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .map_err(CopyError::Write)?;
    let direct_from = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(source)
        .ok()
        .filter(|direct| same_file(direct, from));
    let mut space = vec![0u8; CHUNK + ALIGN];
    let start = space.as_ptr().align_offset(ALIGN);
    let buffer = space
        .get_mut(start..start + CHUNK)
        .ok_or_else(|| CopyError::Write(std::io::Error::other("no aligned buffer")))?;
    let mut at = 0u64;
    loop {
        let n = fill_at(direct_from.as_ref(), from, buffer, at).map_err(CopyError::Read)?;
        let whole = n / ALIGN * ALIGN;
        fail::fail_point!("direct-copy", at > 0, |_| Err(CopyError::Write(
            std::io::Error::other("injected by the failpoint direct-copy")
        )));
        direct
            .write_all_at(&buffer[..whole], at)
            .map_err(CopyError::Write)?;
        to.write_all_at(&buffer[whole..n], at + whole as u64)
            .map_err(CopyError::Write)?;
        at += n as u64;
        if n < CHUNK {
            return Ok(at);
        }
    }
}

/// Whether `a` and `b` are handles on the same file (not one that took
/// the other's name in between).
#[cfg(target_os = "linux")]
fn same_file(a: &File, b: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Read the file from `at` into `buffer` until it is full or the file
/// ends; how many bytes. Through `direct` (opened with `O_DIRECT`, if it
/// could be) while the place in `buffer` is aligned, through `from` after
/// a short read.
#[cfg(target_os = "linux")]
fn fill_at(
    direct: Option<&File>,
    from: &File,
    buffer: &mut [u8],
    at: u64,
) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while let Some(rest) = buffer.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        let place = at + filled as u64;
        let read = match direct {
            Some(direct) if filled % ALIGN == 0 => direct.read_at(rest, place),
            _ => from.read_at(rest, place),
        };
        match read {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from block to block, `n` of them.
    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
    }

    fn copied(n: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        std::fs::write(&source, bytes(n)).unwrap();
        let mut to = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        let path = to.path().to_path_buf();
        let mut from = File::open(&source).unwrap();
        let count = copy(&source, &mut from, to.as_file_mut(), &path).unwrap();
        assert_eq!(count, n as u64);
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn every_length_is_copied_exactly() {
        for n in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            CHUNK - 1,
            CHUNK,
            CHUNK + ALIGN,
            2 * CHUNK + 5,
        ] {
            assert!(copied(n) == bytes(n), "{n} bytes");
        }
    }

    /// Read past the page cache or through it (a file system without
    /// `O_DIRECT`), a chunk gives the same bytes, a short last one too.
    #[test]
    fn a_chunk_reads_the_same_past_the_page_cache_and_through_it() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        let n = CHUNK + 3 * ALIGN + 5;
        std::fs::write(&source, bytes(n)).unwrap();
        let from = File::open(&source).unwrap();
        let direct = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(&source)
            .ok()
            .filter(|d| same_file(d, &from));
        let mut space = vec![0u8; CHUNK + ALIGN];
        let start = space.as_ptr().align_offset(ALIGN);
        let buffer = &mut space[start..start + CHUNK];
        for handle in [direct.as_ref(), None] {
            let mut read = Vec::new();
            for at in [0, CHUNK as u64, 2 * CHUNK as u64] {
                let k = fill_at(handle, &from, buffer, at).unwrap();
                read.extend_from_slice(&buffer[..k]);
            }
            assert!(read == bytes(n), "direct: {}", handle.is_some());
        }
    }

    /// A file that cannot be read is told as such, not as a failed write,
    /// whether the read past the page cache or the ordinary one fails.
    #[test]
    fn a_source_that_cannot_be_read_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a folder");
        std::fs::create_dir(&source).unwrap();
        let mut from = File::open(&source).unwrap();
        let mut to = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        let path = to.path().to_path_buf();
        let copied = copy(&source, &mut from, to.as_file_mut(), &path);
        assert!(matches!(copied, Err(CopyError::Read(_))), "{copied:?}");
        let mut from = File::open(&source).unwrap();
        let copied = ordinary(&mut from, to.as_file_mut());
        assert!(matches!(copied, Err(CopyError::Read(_))), "{copied:?}");
    }

    /// A direct write that fails part-way (the failpoint fails every write
    /// after the first chunk) leaves a copy made the ordinary way, whole.
    #[test]
    #[cfg(feature = "failpoints")]
    fn a_direct_write_that_fails_gives_way_to_an_ordinary_copy() {
        let _scenario = fail::FailScenario::setup();
        fail::cfg("direct-copy", "return").unwrap();
        let n = 2 * CHUNK + ALIGN + 3;
        let copy = copied(n);
        fail::remove("direct-copy");
        assert!(copy == bytes(n));
    }
}
