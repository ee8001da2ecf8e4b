//! Extracts in files on disk: an outcomes CSV, or a person-level extract
//! (CSV, Parquet or JSON lines), or a folder of them.

use std::path::{Path, PathBuf};

use super::{PullError, Wanted};
use crate::classify::{classify, head};
use crate::extract::{Body, Extract};

pub(super) fn pull(path: &Path, wanted: &Wanted) -> Result<Vec<Extract>, PullError> {
    let period = match wanted {
        Wanted::All => None,
        Wanted::Periods(list) if list.len() == 1 => Some(list[0]),
        Wanted::Periods(_) => return Err(PullError::FileRange),
    };
    let read_err = |path: &Path, cause| PullError::ReadFile {
        path: path.to_path_buf(),
        cause,
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| read_err(path, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .iter()
        .map(|file| {
            // Only the head is read here: the body streams when it is landed.
            let head = std::fs::File::open(file)
                .and_then(head)
                .map_err(|e| read_err(file, e))?;
            let name = file.display().to_string();
            let (format, _) =
                classify(&name, &head, None).map_err(|reason| PullError::Unclassified {
                    path: file.clone(),
                    reason: reason.0,
                })?;
            Ok(Extract::with_body(
                "file",
                name,
                format,
                Body::File(file.clone()),
                period,
            ))
        })
        .collect()
}
