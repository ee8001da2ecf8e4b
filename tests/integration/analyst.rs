//! What an analyst and an on-call engineer see: results in every format,
//! to stdout or whole to a file; logs fit for a terminal, a cron file and a
//! log collector; shell completions and a manual page.

use std::process::Command;

use crate::support::{Workdir, succeeded};

const BY_PERIOD: &str = "SELECT period, COUNT(*) AS area_rows, SUM(ended) AS ended \
                         FROM outcomes GROUP BY period ORDER BY period";

#[test]
fn a_cron_run_logs_plain_lines_and_json_on_request() {
    let work = Workdir::new();
    // stderr is a pipe here, as in `praktik run 2>>log` from cron.
    let output = work.praktik().args(["-v", "run"]).output().unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "an escape code in the cron log:\n{log}"
    );

    let output = work
        .praktik()
        .args(["-v", "--log-format", "json", "run"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty(), "{log}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object()),
        "{log}"
    );
}

#[test]
fn completions_and_the_manual_page_describe_every_command() {
    let work = Workdir::new();
    for shell in ["bash", "zsh", "fish"] {
        let (script, _) = work.ok(&["completions", shell]);
        for command in ["report", "query", "completions"] {
            assert!(script.contains(command), "{shell}: {command}");
        }
    }
    let (page, _) = work.ok(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH praktik 1"),
        "{page}"
    );
    assert!(
        page.contains("report") && page.contains("\\-\\-log\\-format"),
        "{page}"
    );
    let (help, _) = work.ok(&["report", "--help"]);
    assert!(
        help.contains("Examples:") && help.contains("--lang en"),
        "{help}"
    );
}

#[test]
fn query_results_go_to_a_file_whole_in_every_format() {
    let work = Workdir::new();
    work.ok(&["pull", "--from", "2019Q1", "--to", "2019Q4"]);
    let (csv, _) = work.ok(&["query", BY_PERIOD, "--format", "csv"]);
    assert_eq!(csv.lines().count(), 5, "{csv}");

    let (md, _) = work.ok(&["query", BY_PERIOD, "--format", "markdown"]);
    assert_eq!(md.lines().nth(1), Some("|---|---:|---:|"), "{md}");
    assert!(md.contains("| 2019Q3 | 936 |"), "{md}");

    let (jsonl, _) = work.ok(&["query", BY_PERIOD, "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2]["period"], "2019Q3");

    // Parquet only to a file; DuckDB reads it and agrees.
    let err = work.fails(&["query", BY_PERIOD, "--format", "parquet"], 2);
    assert!(err.contains("add --out FILE"), "{err}");
    let (stdout, _) = work.ok(&[
        "query",
        BY_PERIOD,
        "--format",
        "parquet",
        "--out",
        "by_period.parquet",
    ]);
    assert!(stdout.is_empty());
    let script = "import duckdb, sys; print(duckdb.sql(\"SELECT period, area_rows, ended FROM read_parquet('by_period.parquet') ORDER BY period\").fetchall())";
    let output = Command::new("python3")
        .args(["-c", script])
        .current_dir(work.path())
        .output()
        .expect("python3 with duckdb (tests/requirements.txt)");
    let theirs = succeeded(&output);
    for row in &rows {
        assert!(
            theirs.contains(&format!(
                "('{}', {}, {})",
                row["period"].as_str().unwrap(),
                row["area_rows"],
                row["ended"]
            )),
            "{theirs} lacks {row}"
        );
    }

    // A file that cannot be written fails before the query runs, and a
    // failing query leaves no file behind.
    let err = work.fails(
        &[
            "query",
            "SELECT nosuch FROM outcomes",
            "--out",
            "nowhere/x.csv",
        ],
        1,
    );
    assert!(err.contains("cannot write to nowhere/x.csv"), "{err}");
    work.fails(
        &[
            "query",
            "SELECT nosuch FROM outcomes",
            "--format",
            "csv",
            "--out",
            "x.csv",
        ],
        1,
    );
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("x.csv") || n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_sql_error_points_at_the_place_and_suggests_the_name() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let err = work.fails(&["query", "SELECT period,\n  shre_pct FROM outcomes"], 1);
    assert!(
        err.contains("at line 2, column 3:\n      shre_pct FROM outcomes\n      ^^^^^^^^\n"),
        "{err}"
    );
    assert!(err.contains("Did you mean 'outcomes.share_pct'?"), "{err}");
    let err = work.fails(&["query", "SELECT * FROM outcome"], 1);
    assert!(err.contains("                  ^^^^^^^\n"), "{err}");
    assert!(
        err.contains("there is no table `outcome`; did you mean `outcomes`?"),
        "{err}"
    );
    let err = work.fails(&["query", "SELECT 1 FRM x"], 1);
    assert!(
        err.contains("at line 1, column 14:\n    SELECT 1 FRM x\n                 ^\n"),
        "{err}"
    );
    // The shell says the same and goes on.
    let output = work
        .praktik()
        .arg("sql")
        .write_stdin("SELECT * FROM outcome;\nSELECT 41 + 1 AS answer;\n")
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(err.contains("did you mean `outcomes`?"), "{err}");
    assert!(out.contains("42"), "{out}");
}

#[test]
fn schema_and_the_shell_describe_every_column() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let (all, _) = work.ok(&["schema"]);
    for table in ["outcomes", "areas", "benefit_groups", "runs"] {
        assert!(all.lines().any(|l| l == table), "{table} in\n{all}");
    }
    let (outcomes, _) = work.ok(&["schema", "outcomes"]);
    let share = outcomes
        .lines()
        .find(|l| l.contains("| share_pct"))
        .unwrap();
    assert!(
        share.contains("Float64") && share.contains("| yes") && share.contains("in per cent"),
        "{share}"
    );
    let output = work
        .praktik()
        .arg("sql")
        .write_stdin("\\d outcomes\n\\d outcome\n")
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(out.contains("| in_work_or_education |"), "{out}");
    assert!(
        err.contains("the tables are areas, benefit_groups, outcomes, runs"),
        "{err}"
    );
}

#[test]
fn as_of_names_a_version_a_table_or_a_moment() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    work.write("changed.csv", crate::support::changed_2019q3());
    work.ok(&["pull", "--source", "file:changed.csv"]);
    let sql = "SELECT ended FROM outcomes WHERE period = '2019Q3' AND area_code = '101' AND benefit_group = 'dagpenge'";
    let ended = |as_of: &[&str]| {
        let mut args = vec!["query", sql, "--format", "csv"];
        args.extend_from_slice(as_of);
        work.ok(&args)
            .0
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let now = ended(&[]);
    assert_eq!(now, "200");
    let before = ended(&["--as-of", "0"]);
    assert_ne!(before, now);
    assert_eq!(ended(&["--as-of", "outcomes=0"]), before);
    assert_eq!(ended(&["--as-of", &between]), before);
    assert_eq!(ended(&["--as-of", "outcomes=1"]), now);
    // Before the first commit the table did not exist.
    let err = work.fails(&["query", sql, "--as-of", "2000-01-01"], 1);
    assert!(err.contains("there is no table `outcomes`"), "{err}");
    let err = work.fails(&["query", sql, "--as-of", "outcome=1"], 2);
    assert!(err.contains("outcomes=3,internships=5"), "{err}");
}

#[test]
fn a_query_opens_only_the_tables_it_reads() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    // The run ledger's log damaged: a query of outcomes does not need it.
    let log = work
        .path()
        .join("store/runs/_delta_log/00000000000000000000.json");
    std::fs::write(&log, "not a delta log\n").unwrap();
    let (out, _) = work.ok(&[
        "query",
        "SELECT count(*) AS n FROM outcomes",
        "--format",
        "csv",
    ]);
    assert_eq!(out, "n\n936\n");
    // A query that reads it says what is wrong.
    let err = work.fails(&["query", "SELECT * FROM runs"], 1);
    assert!(err.contains("runs"), "{err}");
}

/// A grouping by the quarter takes each file's batches as one group (the
/// quarter is one value per file), and gives what grouping row by row gives:
/// the same statement with a key DataFusion must compute per row (it calls
/// `random()`) is the check.
#[test]
fn a_grouping_by_the_quarter_takes_a_file_at_a_time_and_agrees_with_row_by_row() {
    let work = Workdir::new();
    work.ok(&["run"]);
    for (select, table) in [
        (
            "count(*) AS n, sum(ended) AS ended, round(avg(share_pct), 6) AS share, \
             max(area_code) AS last_area",
            "outcomes",
        ),
        (
            "count(*) AS n, round(avg(hours_per_week), 6) AS hours, \
             sum(CASE WHEN status_3m = 'ordinary_job' THEN 1 ELSE 0 END) AS job, \
             count(*) FILTER (WHERE status_3m IS NULL) AS unknown",
            "internships",
        ),
    ] {
        let by_file =
            format!("SELECT period AS q, {select} FROM {table} GROUP BY period ORDER BY q");
        let by_row = format!(
            "SELECT CASE WHEN random() < 2 THEN period END AS q, {select} FROM {table} \
             GROUP BY CASE WHEN random() < 2 THEN period END ORDER BY q"
        );
        let (plan, _) = work.ok(&["query", &format!("EXPLAIN {by_file}"), "--format", "csv"]);
        assert!(plan.contains("PartitionGroupsExec"), "{plan}");
        let (plan, _) = work.ok(&["query", &format!("EXPLAIN {by_row}"), "--format", "csv"]);
        assert!(!plan.contains("PartitionGroupsExec"), "{plan}");

        let (ours, _) = work.ok(&["query", &by_file, "--format", "csv"]);
        let (theirs, _) = work.ok(&["query", &by_row, "--format", "csv"]);
        assert!(ours.lines().count() > 4, "{ours}");
        assert_eq!(ours, theirs, "{table}");
    }
}

/// A filter on the quarter leaves the other quarters' files out of the
/// plan (they are neither opened nor read) and is not applied to their rows
/// again, and gives what the same filter gives row by row (`random()` keeps
/// it from being used on the files). A filter on other columns beside it is
/// still applied to the rows (above the scan, over a store this small).
#[test]
fn a_filter_on_the_quarter_plans_only_that_quarters_files() {
    let work = Workdir::new();
    work.ok(&["run"]);
    let plan_of = |sql: &str| {
        let (plan, _) = work.ok(&["query", &format!("EXPLAIN {sql}"), "--format", "csv"]);
        let filters: Vec<String> = plan
            .lines()
            .filter_map(|line| line.split_once("FilterExec: "))
            .map(|(_, predicate)| predicate.to_string())
            .collect();
        // Over a store as small as the demo's, the Parquet scan is given no
        // filter to build a pruning predicate from (`Engine::for_size`):
        // what is filtered is filtered above it.
        assert!(!plan.contains("predicate="), "{plan}");
        (plan.matches(".parquet").count(), filters)
    };
    for (filter, quarters, filtered_again) in [
        ("period = '2019Q3'", 1, None),
        ("period >= '2024Q1'", 4, None),
        (
            "period IN ('2016Q1', '2020Q2') OR period = '2024Q4'",
            3,
            None,
        ),
        ("period = '1999Q1'", 0, None),
        ("period = '2019Q3' AND ended > 40", 1, Some("ended@")),
        ("(period = '2019Q3' OR ended > 40)", 36, Some("period@")),
    ] {
        let sql = format!(
            "SELECT benefit_group, count(*) AS n, sum(ended) AS ended FROM outcomes \
             WHERE {filter} GROUP BY benefit_group ORDER BY benefit_group"
        );
        let (files, filters) = plan_of(&sql);
        // The demo store is read in one partition, whose group the plan
        // shows as its first five files and an ellipsis.
        assert_eq!(files, quarters.min(5), "{filter}");
        match filtered_again {
            None => assert!(filters.is_empty(), "{filter}: {filters:?}"),
            Some(column) => assert!(
                filters.len() == 1 && filters[0].contains(column),
                "{filter}: {filters:?}"
            ),
        }
        if filtered_again == Some("ended@") {
            assert!(!filters[0].contains("period@"), "{filters:?}");
        }
        let by_row = sql.replace(
            filter,
            &filter.replace("period", "(CASE WHEN random() < 2 THEN period END)"),
        );
        // All 36: the demo store is read in one partition, whose group the
        // plan shows as its first five files and an ellipsis.
        let (plan, _) = work.ok(&["query", &format!("EXPLAIN {by_row}"), "--format", "csv"]);
        assert!(
            plan.matches(".parquet").count() == 5 && plan.contains(".parquet, ...]"),
            "{plan}"
        );
        let (ours, _) = work.ok(&["query", &sql, "--format", "csv"]);
        let (theirs, _) = work.ok(&["query", &by_row, "--format", "csv"]);
        assert_eq!(ours, theirs, "{filter}");
        assert_eq!(ours.lines().count() > 1, quarters > 0, "{ours}");
    }
}

/// Each file's footer is read once per engine: after one query over all
/// quarters, every file of the table is in the session's metadata cache,
/// and a second query finds them there instead of reading them again.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_query_finds_every_files_footer_cached() {
    let work = Workdir::new();
    work.ok(&["pull", "--from", "2019Q1", "--to", "2019Q4"]);
    let store = praktik::store::Store::open_folder(&work.path().join("store")).unwrap();
    let engine = praktik::engine::Engine::open(&store, None).await.unwrap();
    let cache = engine
        .context()
        .runtime_env()
        .cache_manager
        .get_file_metadata_cache();
    let sql = "SELECT period, count(*) AS n FROM outcomes GROUP BY period";
    let none = praktik::engine::Params::new();
    engine.sql("first", sql, &none).await.unwrap();
    let entries = cache.list_entries();
    let files = work
        .table_files_of("outcomes")
        .iter()
        .filter(|(path, _)| path.ends_with(".parquet"))
        .count();
    assert_eq!(files, 4);
    assert_eq!(entries.len(), files, "{entries:?}");
    assert!(entries.values().all(|e| e.hits == 0));
    engine.sql("second", sql, &none).await.unwrap();
    assert!(cache.list_entries().values().all(|e| e.hits >= 1));
}
