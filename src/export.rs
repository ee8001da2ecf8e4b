//! `praktik export`: a plain copy of one table's snapshot that DuckDB,
//! Polars and pandas read without knowing about Delta Lake: Parquet (or CSV)
//! files, hive-partitioned by quarter (`period=2019Q3/…`), so that no reader
//! sees the files a later pull replaced.
//!
//! The copy is written into a staging folder beside the target and moved in
//! only when complete. A target folder that holds files is refused unless
//! `--force`, which replaces only the files an earlier export wrote there
//! (listed in its manifest), never other files.

use std::path::{Path, PathBuf};

use datafusion::dataframe::DataFrameWriteOptions;

use crate::engine::Engine;
use crate::schema::RUNS;

/// The list of files an export wrote, kept in the target folder.
pub const MANIFEST: &str = ".praktik-export.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Parquet,
    Csv,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("there is no table `{table}` to export; the tables are: {known}")]
    UnknownTable { table: String, known: String },
    #[error(
        "{dir} already holds files; export into an empty or new folder, or add --force to replace what an earlier export wrote there (other files are kept)"
    )]
    FolderNotEmpty { dir: PathBuf },
    #[error("cannot write the export to {path}")]
    Files {
        path: PathBuf,
        #[source]
        cause: std::io::Error,
    },
    #[error("cannot export `{table}`")]
    Write {
        table: String,
        #[source]
        cause: Box<datafusion::error::DataFusionError>,
    },
    #[error(
        "the manifest {path} of an earlier export is not readable; remove the folder's old export by hand"
    )]
    Manifest { path: PathBuf },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub dir: PathBuf,
    pub files: usize,
    /// The table version exported (none for the run ledger).
    pub version: Option<u64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    table: String,
    version: Option<u64>,
    /// Paths relative to the folder.
    files: Vec<String>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ExportError + '_ {
    move |cause| ExportError::Files {
        path: path.to_path_buf(),
        cause,
    }
}

/// Every file below `dir`, relative to it, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = crate::upkeep::files_below(dir)
        .iter()
        .filter_map(|p| p.strip_prefix(dir).ok())
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    files.sort();
    files
}

/// Export `table` as the engine sees it into the folder `to`.
pub async fn export(
    engine: &Engine,
    table: &str,
    to: &Path,
    format: ExportFormat,
    force: bool,
) -> Result<Exported, ExportError> {
    let mut known: Vec<String> = engine.versions().keys().cloned().collect();
    known.push(RUNS.to_string());
    if !known.iter().any(|t| t == table) {
        return Err(ExportError::UnknownTable {
            table: table.into(),
            known: known.join(", "),
        });
    }
    // What is there already: an earlier export's files may be replaced.
    let manifest_path = to.join(MANIFEST);
    let present = if to.is_dir() {
        files_in(to)
    } else {
        Vec::new()
    };
    let earlier: Vec<String> = if present.is_empty() {
        Vec::new()
    } else if !force {
        return Err(ExportError::FolderNotEmpty {
            dir: to.to_path_buf(),
        });
    } else if manifest_path.is_file() {
        let text = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|_| ExportError::Manifest {
                path: manifest_path.clone(),
            })?;
        manifest.files
    } else {
        Vec::new()
    };

    let parent = crate::durable::folder_of(to).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".praktik-export-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let written = staging.path().join("data");
    let failed = |cause| ExportError::Write {
        table: table.into(),
        cause: Box::new(cause),
    };
    let frame = engine.context().table(table).await.map_err(failed)?;
    let partitioned = frame.schema().has_column_with_unqualified_name("period");
    let mut options = DataFrameWriteOptions::new();
    if partitioned {
        options = options.with_partition_by(vec!["period".into()]);
    }
    let target = format!("{}/", written.display());
    match format {
        ExportFormat::Parquet => frame.write_parquet(&target, options, None).await,
        ExportFormat::Csv => frame.write_csv(&target, options, None).await,
    }
    .map_err(failed)?;
    let files = files_in(&written);
    let manifest = Manifest {
        table: table.into(),
        version: engine.versions().get(table).copied(),
        files: files.clone(),
    };
    let manifest_text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    crate::durable::write(&written.join(MANIFEST), manifest_text.as_bytes())
        .map_err(io(&written))?;

    if present.is_empty() {
        // A new or empty folder: the whole copy appears at once.
        if to.is_dir() {
            std::fs::remove_dir(to).map_err(io(to))?;
        }
        std::fs::rename(&written, to).map_err(io(to))?;
    } else {
        // --force: take away what the earlier export wrote, then move in.
        for old in &earlier {
            let path = to.join(old);
            if path.is_file() {
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        }
        for file in &files {
            let (from, into) = (written.join(file), to.join(file));
            if let Some(folder) = into.parent() {
                std::fs::create_dir_all(folder).map_err(io(folder))?;
            }
            std::fs::rename(&from, &into).map_err(io(&into))?;
        }
        crate::durable::write(&manifest_path, manifest_text.as_bytes())
            .map_err(io(&manifest_path))?;
        remove_empty_folders(to);
    }
    crate::durable::sync_folder(&parent).map_err(io(&parent))?;
    Ok(Exported {
        dir: to.to_path_buf(),
        files: files.len(),
        version: manifest.version,
    })
}

/// Remove the folders below `dir` an earlier export left empty.
fn remove_empty_folders(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_empty_folders(&path);
            // Fails, as it should, when the folder still holds something.
            let _ = std::fs::remove_dir(&path);
        }
    }
}
