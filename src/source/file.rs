//! An outcomes extract in a file on disk.

use std::path::Path;

use super::{PullError, Wanted};
use crate::extract::{Extract, Format};

pub(super) fn pull(path: &Path, wanted: &Wanted) -> Result<Extract, PullError> {
    let period = match wanted {
        Wanted::All => None,
        Wanted::Periods(list) if list.len() == 1 => Some(list[0]),
        Wanted::Periods(_) => return Err(PullError::FileRange),
    };
    let body = std::fs::read(path).map_err(|cause| PullError::ReadFile {
        path: path.to_path_buf(),
        cause,
    })?;
    Ok(Extract::new(
        "file",
        path.display().to_string(),
        Format::OutcomesCsv,
        body,
        period,
    ))
}
