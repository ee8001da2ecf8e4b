//! An independent reader (Python `deltalake` and DuckDB, see
//! tests/crosscheck.py and tests/requirements.txt) reads the store the demo
//! job wrote and agrees with `praktik query` on the 2019Q3 figures.

use std::process::Command;

use crate::support::Workdir;

const AREAS: &str = "000,101,751,851,461,561/563,730";

#[test]
fn python_deltalake_and_duckdb_read_the_same_figures_as_praktik_query() {
    let work = Workdir::new();
    work.ok(&["run"]);
    // Make a second version that replaces 2019Q3, so a reader that ignored
    // the Delta log would see the superseded files too.
    let changed = crate::support::changed_2019q3();
    work.write("changed.csv", changed);
    work.ok(&["pull", "--source", "file:changed.csv"]);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crosscheck.py");
    let output = Command::new("python3")
        .args([
            script,
            &work.path().join("store").display().to_string(),
            "2019Q3",
            AREAS,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the cross-check needs the Python packages in tests/requirements.txt \
         (pip install -r tests/requirements.txt):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(theirs["version"], 1);

    let (json, _) = work.ok(&[
        "query",
        "SELECT area_code, benefit_group, ended, in_work_or_education, share_pct FROM outcomes \
         WHERE period = $period AND array_has(string_to_array($areas, ','), area_code) \
         ORDER BY area_code, benefit_group",
        "--param",
        "period=2019Q3",
        "--param",
        &format!("areas={AREAS}"),
        "--format",
        "json",
    ]);
    let ours: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let ours: Vec<serde_json::Value> = ours
        .iter()
        .map(|r| {
            serde_json::json!([
                r["area_code"],
                r["benefit_group"],
                r["ended"],
                r["in_work_or_education"],
                r["share_pct"]
            ])
        })
        .collect();
    assert_eq!(ours.len(), 7 * 9);
    assert_eq!(
        serde_json::Value::Array(ours.clone()),
        theirs["deltalake"],
        "Python deltalake disagrees"
    );
    assert_eq!(
        serde_json::Value::Array(ours.clone()),
        theirs["duckdb"],
        "DuckDB disagrees"
    );
    let kbh_dagpenge = ours
        .iter()
        .find(|r| r[0] == "101" && r[1] == "dagpenge")
        .unwrap();
    assert_eq!(kbh_dagpenge[4], 35.0, "the newest version is read");
}

/// `praktik export` of `table` read by DuckDB, Polars and pandas, each
/// against `praktik query`: per quarter the rows and the sum of `column`.
fn export_agrees(work: &Workdir, table: &str, column: &str, per_quarter: &str) {
    let dir = format!("export/{table}");
    work.ok(&["export", table, "--to", &dir]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/export_check.py");
    let output = Command::new("python3")
        .args([
            script,
            &work.path().join(&dir).display().to_string(),
            column,
        ])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "the export check needs duckdb, polars and pandas (tests/requirements.txt):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (json, _) = work.ok(&["query", per_quarter, "--format", "json"]);
    let ours: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(ours.len() > 4, "{json}");
    for reader in ["duckdb", "polars", "pandas"] {
        let seen = theirs[reader].as_object().unwrap();
        assert_eq!(
            seen.len(),
            ours.len(),
            "{reader} sees other quarters than praktik"
        );
        for row in &ours {
            let period = row["period"].as_str().unwrap();
            assert_eq!(
                seen[period],
                serde_json::json!([row["n"], row["s"]]),
                "{reader}, {table} {period}"
            );
        }
    }
}

#[test]
fn duckdb_polars_and_pandas_read_an_export_as_praktik_query_does() {
    let work = Workdir::new();
    for period in ["2019Q1", "2019Q2", "2019Q3", "2019Q4", "2020Q1"] {
        let csv = crate::support::with_row(
            &crate::support::demo_csv(period),
            "101",
            "dagpenge",
            "100,30,30.0",
        );
        let name = format!("{period}.csv");
        work.write(&name, csv);
        work.ok(&["pull", "--source", &format!("file:{name}")]);
    }
    // A later version replaces 2019Q3: the export holds only its rows.
    work.write("changed.csv", crate::support::changed_2019q3());
    work.ok(&["pull", "--source", "file:changed.csv"]);
    work.ok(&["demo", "generate", "--rows", "3000", "--out", "people.csv"]);
    work.ok(&["pull", "--source", "file:people.csv"]);
    export_agrees(
        &work,
        "outcomes",
        "ended",
        "SELECT period, COUNT(*) AS n, ROUND(SUM(COALESCE(CAST(ended AS DOUBLE), 0)), 3) AS s \
         FROM outcomes GROUP BY period ORDER BY period",
    );
    export_agrees(
        &work,
        "internships",
        "hours_per_week",
        "SELECT period, COUNT(*) AS n, ROUND(SUM(COALESCE(hours_per_week, 0)), 3) AS s \
         FROM internships GROUP BY period ORDER BY period",
    );

    // A folder with files is refused; --force replaces only the export's own.
    let err = work.fails(&["export", "outcomes", "--to", "export/outcomes"], 1);
    assert!(err.contains("add --force"), "{err}");
    work.write("export/outcomes/NOTES.txt", "kept");
    work.ok(&[
        "export",
        "outcomes",
        "--to",
        "export/outcomes",
        "--force",
        "--as-of",
        "0",
    ]);
    assert_eq!(work.read("export/outcomes/NOTES.txt"), "kept");
    let manifest = work.read("export/outcomes/.praktik-export.json");
    assert!(manifest.contains("\"version\": 0"), "{manifest}");
    let err = work.fails(&["export", "nosuch", "--to", "x"], 2);
    assert!(
        err.contains("outcomes, internships, runs") || err.contains("internships, outcomes, runs"),
        "{err}"
    );
}
