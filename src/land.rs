//! Keep every pulled body byte for byte under the store's `raw/` folder,
//! named by its SHA-256, before anything parses it. A later fix can re-derive
//! every table from there.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::extract::Extract;

#[derive(Debug, thiserror::Error)]
#[error("cannot keep the body of {input} under {path}; check that the store folder is writable")]
pub struct LandError {
    input: String,
    path: PathBuf,
    #[source]
    cause: std::io::Error,
}

/// What landing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub path: PathBuf,
    /// False when the same bytes were already there.
    pub new: bool,
    pub bytes: u64,
}

/// Write the body to `raw_dir/<sha256>.<ext>` (if not already there) and
/// record where it came from in `raw_dir/index.jsonl`.
pub fn land(raw_dir: &Path, extract: &Extract) -> Result<Landed, LandError> {
    let name = format!("{}.{}", extract.sha256, extract.format.extension());
    let path = raw_dir.join(name);
    let fail = |path: &Path, cause| LandError {
        input: extract.input.clone(),
        path: path.to_path_buf(),
        cause,
    };
    std::fs::create_dir_all(raw_dir).map_err(|e| fail(raw_dir, e))?;
    let bytes = extract.body.len() as u64;
    if path.exists() {
        return Ok(Landed {
            path,
            new: false,
            bytes,
        });
    }
    // Write under a temporary name and rename, so a killed pull never leaves
    // a half body under a hash name.
    let staging = raw_dir.join(format!(".{}.partial", extract.sha256));
    std::fs::write(&staging, &extract.body).map_err(|e| fail(&staging, e))?;
    std::fs::rename(&staging, &path).map_err(|e| fail(&path, e))?;

    let index = raw_dir.join("index.jsonl");
    let entry = serde_json::json!({
        "sha256": extract.sha256,
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
        .map_err(|e| fail(&index, e))?;
    writeln!(file, "{entry}").map_err(|e| fail(&index, e))?;
    Ok(Landed {
        path,
        new: true,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Format;

    #[test]
    fn keeps_the_body_by_hash_once() {
        let dir = tempfile::tempdir().unwrap();
        let extract = Extract::new(
            "file",
            "x.csv".into(),
            Format::OutcomesCsv,
            b"a,b\n1,2\n".to_vec(),
            None,
        );
        let first = land(dir.path(), &extract).unwrap();
        assert!(first.new);
        assert_eq!(std::fs::read(&first.path).unwrap(), extract.body);
        assert!(first.path.ends_with(format!("{}.csv", extract.sha256)));
        let again = land(dir.path(), &extract).unwrap();
        assert!(!again.new);
        let index = std::fs::read_to_string(dir.path().join("index.jsonl")).unwrap();
        assert_eq!(index.lines().count(), 1);
    }
}
