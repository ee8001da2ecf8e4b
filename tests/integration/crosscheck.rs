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
