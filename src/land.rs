//! Keep every pulled body under the store's `raw/` folder, named by its
//! SHA-256, before anything parses it. Person-level bodies pass the CPR
//! screen on the way in ([`crate::privacy`]), so what is kept holds no CPR
//! number. The body streams through: a file larger than memory is landed
//! without being held. A later fix can re-derive every table from `raw/`.

use std::io::{BufRead, BufWriter, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::extract::{Body, Extract, Format};
use crate::privacy;
use crate::validate::ValidateError;

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
    /// The CPR screen turned the body away; nothing was kept.
    #[error(transparent)]
    Rejected(#[from] ValidateError),
}

/// A body as kept under `raw/`: the extract (now reading from the kept
/// file), its SHA-256 and whether it was new.
#[derive(Debug, Clone)]
pub struct Landed {
    pub extract: Extract,
    /// SHA-256 of the kept bytes, lower-case hex.
    pub sha256: String,
    pub path: PathBuf,
    /// False when the same bytes were already there.
    pub new: bool,
    pub bytes: u64,
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

/// Screen the body and write it to `raw_dir/<sha256>.<ext>` (if not already
/// there), recording where it came from in `raw_dir/index.jsonl`. `salt`
/// turns CPR numbers into pseudonymous keys; without it a body holding one
/// is rejected and nothing is kept.
pub fn land(raw_dir: &Path, extract: Extract, salt: Option<&str>) -> Result<Landed, LandError> {
    std::fs::create_dir_all(raw_dir).map_err(|e| write_error(&extract, raw_dir, e))?;
    if extract.format == Format::InternshipsParquet {
        privacy::check_parquet(&extract)?;
    }
    // Write under a temporary name and rename, so a killed or rejected pull
    // never leaves a body under a hash name (the temporary file is removed
    // when it is dropped).
    let staging = tempfile::Builder::new()
        .prefix(".landing-")
        .suffix(".partial")
        .tempfile_in(raw_dir)
        .map_err(|e| write_error(&extract, raw_dir, e))?;
    let staging_path = staging.path().to_path_buf();
    let (hasher, bytes) = {
        let mut out = Hashing {
            inner: BufWriter::with_capacity(1 << 20, staging.as_file()),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let mut input = extract
            .reader()
            .map_err(|cause| read_error(&extract, cause))?;
        match extract.format {
            Format::InternshipsCsv | Format::InternshipsJsonl => {
                privacy::screen_text(&extract, salt, &mut input, &mut out, &staging_path)?
            }
            _ => copy(&extract, &mut input, &mut out, &staging_path)?,
        }
        out.flush()
            .map_err(|e| write_error(&extract, &staging_path, e))?;
        (out.hasher, out.bytes)
    };
    let sha256 = hex::encode(hasher.finalize());
    let path = raw_dir.join(format!("{sha256}.{}", extract.format.extension()));
    let new = !path.exists();
    if new {
        staging
            .persist(&path)
            .map_err(|e| write_error(&extract, &path, e.error))?;
        let index = raw_dir.join("index.jsonl");
        let entry = serde_json::json!({
            "sha256": sha256,
            "file": path.file_name().and_then(|n| n.to_str()),
            "source": extract.source,
            "input": extract.input,
            "period": extract.period.map(|p| p.to_string()),
            "pulled_at": extract.pulled_at.to_rfc3339(),
            "bytes": bytes,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index)
            .map_err(|e| write_error(&extract, &index, e))?;
        writeln!(file, "{entry}").map_err(|e| write_error(&extract, &index, e))?;
    }
    Ok(Landed {
        extract: Extract {
            body: Body::File(path.clone()),
            ..extract
        },
        sha256,
        path,
        new,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_body_by_hash_once() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"a,b\n1,2\n".to_vec();
        let extract = || {
            Extract::new(
                "file",
                "x.csv".into(),
                Format::OutcomesCsv,
                body.clone(),
                None,
            )
        };
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
}
