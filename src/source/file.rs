//! Extracts in files on disk: an outcomes CSV, or a person-level extract
//! (CSV, Parquet or JSON lines), or a folder of them.

use std::path::{Path, PathBuf};

use super::{PullError, Wanted};
use crate::extract::{Body, Extract, Format};
use crate::validate::person_rows::is_internship_header;

/// The first line of a file (or as much of it as fits in 64 KiB).
fn first_line(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut head = Vec::with_capacity(1 << 16);
    std::fs::File::open(path)?
        .take(1 << 16)
        .read_to_end(&mut head)?;
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    Ok(String::from_utf8_lossy(line).into_owned())
}

/// What a file holds, by its name and first line.
fn format_of(path: &Path, first: &str) -> Format {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_lowercase();
    match extension.as_str() {
        "parquet" => Format::InternshipsParquet,
        "jsonl" | "ndjson" => Format::InternshipsJsonl,
        _ => {
            if is_internship_header(first) {
                Format::InternshipsCsv
            } else {
                Format::OutcomesCsv
            }
        }
    }
}

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
            // Only the first line is read here: the body streams when it is landed.
            let first = first_line(file).map_err(|e| read_err(file, e))?;
            Ok(Extract::with_body(
                "file",
                file.display().to_string(),
                format_of(file, &first),
                Body::File(file.clone()),
                period,
            ))
        })
        .collect()
}
