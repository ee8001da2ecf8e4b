//! Helpers: a fresh folder with the real binary, and looking at the store.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The stdout of a finished command that had to succeed; its exit status
/// and stderr are the failure's message if it did not.
pub fn succeeded(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A temporary working folder for one test.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The real binary, run in this folder with no PRAKTIK_* variables.
    pub fn praktik(&self) -> Command {
        let mut cmd = Command::cargo_bin("praktik").expect("the praktik binary is built");
        cmd.current_dir(self.path());
        for (name, _) in std::env::vars() {
            if name.starts_with("PRAKTIK_") {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// [`Workdir::praktik`] as a process to start and wait for.
    pub fn praktik_process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("praktik"));
        cmd.current_dir(self.path());
        for (name, _) in std::env::vars() {
            if name.starts_with("PRAKTIK_") {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// Run praktik with `args`, expect success, return (stdout, stderr).
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let output = self.praktik().args(args).output().expect("praktik runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(
            output.status.success(),
            "praktik {args:?} failed:\n{stderr}"
        );
        (stdout, stderr)
    }

    /// Run praktik with `args`, expect exit `code`, return stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.praktik().args(args).output().expect("praktik runs");
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(
            output.status.code(),
            Some(code),
            "praktik {args:?}:\n{stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "no data on stdout after a failure"
        );
        stderr
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative))
            .unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    pub fn write(&self, relative: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::write(&path, text).expect("write a fixture");
        path
    }

    /// Every file under the store's table folder with its size: a fingerprint
    /// that changes if anything is written.
    pub fn table_files(&self) -> Vec<(String, u64)> {
        self.table_files_of("outcomes")
    }

    /// The same for any table of the store.
    pub fn table_files_of(&self, table: &str) -> Vec<(String, u64)> {
        let mut files = Vec::new();
        let root = self.path().join("store").join(table);
        walk(&root, &root, &mut files);
        files.sort();
        files
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let size = entry.metadata().map(|m| m.len()).unwrap_or_default();
            out.push((path.strip_prefix(root).unwrap().display().to_string(), size));
        }
    }
}

/// The demo extract of `period`, as the demo source lands it.
pub fn demo_csv(period: &str) -> String {
    String::from_utf8(praktik::source::demo::extract_csv(period.parse().unwrap())).unwrap()
}

/// `csv` with the line for (area, group) replaced by `ended,in_work,share`.
pub fn with_row(csv: &str, area: &str, group: &str, counts: &str) -> String {
    let mut found = false;
    let text: Vec<String> = csv
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() > 4 && cells[1] == area && cells[3] == group {
                found = true;
                format!(
                    "{},{},{},{},{counts}",
                    cells[0], cells[1], cells[2], cells[3]
                )
            } else {
                line.to_string()
            }
        })
        .collect();
    assert!(found, "no row for {area} {group}");
    text.join("\n") + "\n"
}

/// The demo extract of 2019Q3 with København's dagpenge row changed to 200
/// ended, 70 in work or education, 35.0 %: pulled after the demo, it makes
/// a version that replaces 2019Q3.
pub fn changed_2019q3() -> String {
    with_row(&demo_csv("2019Q3"), "101", "dagpenge", "200,70,35.0")
}

/// A Parquet file's bytes holding `columns` (each nullable), in one row group.
pub fn parquet_bytes(columns: Vec<(&str, arrow::array::ArrayRef)>) -> Vec<u8> {
    use arrow::datatypes::{Field, Schema};
    let schema = std::sync::Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|c| c.1).collect(),
    )
    .expect("columns of one length");
    let mut out = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).expect("a writer");
    writer.write(&batch).expect("write the batch");
    writer.close().expect("close the file");
    out
}

/// Every file below `dir`.
pub fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)
        } else {
            out.push(path)
        }
    }
}

/// Snapshot settings for rendered reports: the time a store was pulled and
/// the tool's version are replaced, in Danish and English.
pub fn redacted() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(
        r"hentet \d+\. \w+ \d{4} kl\. \d\d\.\d\d UTC",
        "hentet [TIME]",
    );
    settings.add_filter(r"pulled \d+ \w+ \d{4} at \d\d:\d\d UTC", "pulled [TIME]");
    settings.add_filter(r"praktik \d+\.\d+\.\d+", "praktik [VERSION]");
    settings
}
