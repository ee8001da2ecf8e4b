//! The real binary in a fresh folder: the whole job, twice; queries; reports
//! from an earlier version; usage errors.

use crate::support::{Workdir, demo_csv, with_row};

const TABLE_1: [(&str, [&str; 3]); 7] = [
    ("Hele landet", ["19,2", "5,0", "32,5"]),
    ("København", ["14,8", "5,6", "33,0"]),
    ("Aarhus", ["24,0", "3,6", "29,8"]),
    ("Aalborg", ["21,7", "9,2", "30,7"]),
    ("Odense", ["13,0", "3,0", "35,6"]),
    ("Esbjerg/Fanø", ["18,9", "3,8", "30,8"]),
    ("Randers", ["21,4", "5,3", "16,7"]),
];

fn log_versions(work: &Workdir) -> usize {
    std::fs::read_dir(work.path().join("store/outcomes/_delta_log"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .count()
}

#[test]
fn run_on_a_fresh_folder_writes_the_letter_and_a_second_run_changes_nothing() {
    let work = Workdir::new();
    let (_, stderr) = work.ok(&["run"]);
    assert!(stderr.contains("DEMO source"), "{stderr}");
    assert!(
        stderr.contains("stored 33696 rows for 2016Q1–2024Q4 (36 quarters) as version 0"),
        "{stderr}"
    );
    assert!(work.path().join("store/raw/index.jsonl").exists());
    let raw_bodies = std::fs::read_dir(work.path().join("store/raw"))
        .unwrap()
        .count();
    assert_eq!(
        raw_bodies,
        36 + 21 + 1,
        "36 outcome bodies, 21 person-level ones and the index"
    );
    assert!(
        stderr.contains(
            "stored 63870 rows for 2019Q4–2024Q4 (21 quarters) as version 0 of `internships`"
        ),
        "{stderr}"
    );

    let md = work.read("out/reports/2019Q3/letter.md");
    for (area, shares) in TABLE_1 {
        let line = md
            .lines()
            .find(|l| l.contains(&format!("| {area} |")) || l.contains(&format!("**{area}**")))
            .unwrap_or_else(|| panic!("{area} in\n{md}"));
        for share in shares {
            assert!(
                line.contains(&format!(" {share} |")),
                "{area} {share} in {line}"
            );
        }
    }
    assert!(md.contains("DEMODATA"), "the letter says it is demo data");
    assert!(md.contains(
        "fsv. angår de jobparate kontanthjælpsmodtagere ligger under landsgennemsnittet"
    ));
    assert!(md.contains("på 14,8 pct."));
    assert!(md.contains("den næsthøjeste afgangseffekt til ordinært arbejde/uddannelse for henholdsvis de aktivitetsparate kontanthjælpsmodtagere samt dagpengemodtagerne blandt landets 6 største kommuner"));
    let html = work.read("out/reports/2019Q3/letter.html");
    assert!(
        html.contains(" data-row=\"area_code=101 benefit_group=kontanthjaelp_jobparat\"")
            && html.contains(">14,8</td>")
    );
    // The scheduled run also leaves the council briefing for the newest quarter.
    let briefing = work.read("out/reports/2024Q4/briefing.md");
    assert!(briefing.contains("## Sammenfatning") && briefing.contains("4. kvartal 2024"));
    assert!(html.contains("class=\"demo-mark\""));
    assert!(html.contains("Tabel 1: Andel af borgere, der 3 mdr. efter endt virksomhedspraktik, er i ordinær beskæftigelse eller uddannelse, 3. kvartal 2019."));

    let before = work.table_files();
    let versions = log_versions(&work);
    let (_, stderr) = work.ok(&["run"]);
    assert!(stderr.contains("nothing changed"), "{stderr}");
    assert_eq!(
        work.table_files(),
        before,
        "the second run wrote nothing to the table"
    );
    assert_eq!(log_versions(&work), versions);

    let (status, _) = work.ok(&["status"]);
    assert!(status.contains("version 0, 36 quarters"), "{status}");
    assert!(status.contains("2019Q3"), "{status}");
}

#[test]
fn query_returns_the_figures_the_letter_shows() {
    let work = Workdir::new();
    work.ok(&["pull", "--from", "2017Q3", "--to", "2019Q4"]);
    let (csv, _) = work.ok(&[
        "query",
        "SELECT area_name, benefit_group, share_pct FROM outcomes WHERE period = '2019Q3' \
         AND area_code IN ('000','101') AND benefit_group = 'kontanthjaelp_jobparat' ORDER BY area_code",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv,
        "area_name,benefit_group,share_pct\nHele landet,kontanthjaelp_jobparat,19.2\nKøbenhavn,kontanthjaelp_jobparat,14.8\n"
    );

    let (json, _) = work.ok(&[
        "query",
        "--file",
        "sql/effect_by_area.sql",
        "--param",
        "period=2019Q3",
        "--param",
        "areas=101,751,851,461,561/563,730",
        "--format",
        "json",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let kbh_akt = rows
        .iter()
        .find(|r| r["area_code"] == "101" && r["benefit_group"] == "kontanthjaelp_aktivitetsparat")
        .unwrap();
    assert_eq!(kbh_akt["share_pct"], 5.6);
    assert_eq!(kbh_akt["rank_in_set"], 2);
    assert_eq!(kbh_akt["set_size"], 6);
    assert_eq!(kbh_akt["country_share_pct"], 5.0);

    let (table, _) = work.ok(&[
        "query",
        "--file",
        "trend",
        "--param",
        "area=101",
        "--param",
        "period=2019Q3",
        "--param",
        "quarters=8",
    ]);
    assert!(
        table.contains("| 2017Q4 |") && table.contains("| 2019Q3 |"),
        "{table}"
    );
    assert!(
        !table.contains("| 2017Q3 |") && !table.contains("| 2019Q4 |"),
        "{table}"
    );
    assert_eq!(
        table.matches("| 2018Q2 |").count(),
        9,
        "one row per benefit group"
    );
}

#[test]
fn changing_one_number_changes_the_table_and_the_sentences_and_as_of_keeps_the_old() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    // København's aktivitetsparate: 9,5 pct. puts it above Aalborg's 9,2.
    let changed = with_row(
        &demo_csv("2019Q3"),
        "101",
        "kontanthjaelp_aktivitetsparat",
        "400,38,9.5",
    );
    work.write("changed.csv", changed);
    let (_, stderr) = work.ok(&["pull", "--source", "file:changed.csv"]);
    assert!(stderr.contains("as version 1"), "{stderr}");

    work.ok(&["report", "letter", "--format", "md"]);
    let md = work.read("out/reports/2019Q3/letter.md");
    let kbh = md.lines().find(|l| l.starts_with("| København |")).unwrap();
    assert!(kbh.contains(" 9,5 |"), "{kbh}");
    assert!(md.contains("Kommunen har den højeste afgangseffekt til ordinært arbejde/uddannelse for de aktivitetsparate kontanthjælpsmodtagere"), "{md}");
    assert!(
        md.contains(
            "den næsthøjeste afgangseffekt til ordinært arbejde/uddannelse for dagpengemodtagerne"
        ),
        "{md}"
    );
    assert!(
        md.contains("kilde file"),
        "the provenance names the file source"
    );

    work.ok(&["report", "letter", "--format", "md", "--as-of", "0"]);
    let md = work.read("out/reports/2019Q3/letter.md");
    assert!(
        md.lines()
            .find(|l| l.starts_with("| København |"))
            .unwrap()
            .contains(" 5,6 |")
    );
    assert!(md.contains("lagerversion 0"));

    let stderr = work.fails(&["report", "letter", "--as-of", "7"], 1);
    assert!(
        stderr.contains("has no version 7; its newest is 1"),
        "{stderr}"
    );
}

#[test]
fn wrong_usage_exits_2_and_says_what_to_do() {
    let work = Workdir::new();
    let stderr = work.fails(&["pull", "--period", "2019Q5"], 2);
    assert!(stderr.contains("`2019Q5` is not a quarter"), "{stderr}");
    let stderr = work.fails(&["pull", "--source", "ftp://x"], 2);
    assert!(stderr.contains("`ftp://x` is not a source"), "{stderr}");

    work.ok(&["pull", "--period", "2019Q3"]);
    let stderr = work.fails(
        &[
            "query",
            "--file",
            "effect_by_area",
            "--param",
            "period=2019Q3",
        ],
        2,
    );
    assert!(
        stderr.contains("needs the parameter `areas`: add --param areas=VALUE"),
        "{stderr}"
    );
    let stderr = work.fails(&["query", "SELECT 1", "--param", "perod=2019Q3"], 2);
    assert!(stderr.contains("has no parameter `perod`"), "{stderr}");
    let stderr = work.fails(&["report", "nosuch"], 2);
    assert!(
        stderr
            .contains("no report named `nosuch`; the reports are: briefing, letter, type-effects"),
        "{stderr}"
    );
    let stderr = work.fails(&["query", "SELECT 1", "--format", "xml"], 2);
    assert!(stderr.contains("`xml` is not an output format"), "{stderr}");
}

#[test]
fn failures_exit_1_with_the_cause() {
    let work = Workdir::new();
    let stderr = work.fails(&["report", "letter"], 1);
    assert!(
        stderr.contains("the store is empty; run `praktik pull`"),
        "{stderr}"
    );
    let stderr = work.fails(&["pull", "--period", "2031Q1"], 1);
    assert!(
        stderr.contains("no data for 2031Q1; it covers 2016Q1 to 2024Q4"),
        "{stderr}"
    );
    work.ok(&["pull", "--period", "2019Q3"]);
    let stderr = work.fails(&["report", "letter", "--period", "2019Q2"], 1);
    assert!(
        stderr.contains("no figures for 2019Q2; pull them with `praktik pull --period 2019Q2`"),
        "{stderr}"
    );
    let stderr = work.fails(&["query", "SELECT nope FROM outcomes"], 1);
    assert!(
        stderr.contains("the query failed") && stderr.contains("nope"),
        "{stderr}"
    );
    let stderr = work.fails(&["query", "DELETE FROM outcomes"], 1);
    assert!(stderr.contains("the query failed"), "{stderr}");

    work.write("praktik.toml", "stroe = \"x\"\n");
    let stderr = work.fails(&["status"], 1);
    assert!(
        stderr.contains("praktik.toml is not valid") && stderr.contains("stroe"),
        "{stderr}"
    );
}

#[test]
fn configuration_moves_the_store_and_the_output() {
    let work = Workdir::new();
    work.write(
        "praktik.toml",
        "store = \"data/lager\"\nout = \"rapporter\"\n",
    );
    work.ok(&["pull", "--period", "2019Q3"]);
    assert!(work.path().join("data/lager/outcomes/_delta_log").is_dir());
    work.ok(&["report", "letter"]);
    assert!(
        work.path()
            .join("rapporter/reports/2019Q3/letter.html")
            .is_file()
    );
    let output = work
        .praktik()
        .env("PRAKTIK_STORE", "andet")
        .args(["status"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("not written yet"));
}

#[test]
fn the_sql_shell_runs_statements_from_stdin_and_survives_errors() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let output = work
        .praktik()
        .arg("sql")
        .write_stdin("\\d\nSELECT share_pct\n  FROM outcomes WHERE area_code = '101'\n  AND benefit_group = 'dagpenge';\nSELECT nope;\nSELECT 1 + 1 AS two;\n\\q\nSELECT 3;\n")
        .output()
        .unwrap();
    // It went on after the error, and its exit says one failed.
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("outcomes") && stdout.contains("benefit_groups"),
        "\\d lists tables: {stdout}"
    );
    assert!(stdout.contains("| 33.0 "), "{stdout}");
    assert!(
        stderr.contains("error: the statement at line 5 of the input failed")
            && stderr.contains("nope"),
        "{stderr}"
    );
    assert!(
        stdout.contains("| 2   "),
        "the shell went on after the error: {stdout}"
    );
    assert!(!stdout.contains("| 3 "), "\\q ended the shell");
}

#[test]
fn a_reader_that_stops_early_is_no_error() {
    use std::io::BufRead;
    let work = Workdir::new();
    work.ok(&["pull"]);
    // As `praktik query … | head -1`: read one line, close the pipe.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("praktik"))
        .current_dir(work.path())
        .args(["query", "SELECT * FROM outcomes", "--format", "csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("period,"), "{first}");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn a_store_url_is_refused_not_taken_for_a_folder() {
    let work = Workdir::new();
    for command in ["status", "run", "sql"] {
        let err = work.fails(&["--store", "gs://bucket/x", command], 1);
        assert!(
            err.contains("the store `gs://bucket/x` is a URL praktik cannot keep a store at")
                && err.contains("--store")
                && err.contains("s3://bucket/prefix"),
            "{err}"
        );
    }
    // In a praktik.toml a URL is not taken for a path beside the file.
    work.write("praktik.toml", "store = \"az://container/x\"\n");
    let err = work.fails(&["status"], 1);
    assert!(err.contains("`az://container/x`"), "{err}");
    std::fs::remove_file(work.path().join("praktik.toml")).unwrap();
    let output = work
        .praktik()
        .env("PRAKTIK_STORE", "gs://bucket/prefix")
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("gs://bucket/prefix"));
    for folder in ["s3:", "gs:", "az:"] {
        assert!(!work.path().join(folder).exists(), "{folder} was created");
    }
    // A file:// URL is the folder it names.
    let store = work.path().join("by-url");
    work.ok(&[
        "--store",
        &format!("file://{}", store.display()),
        "pull",
        "--period",
        "2019Q3",
    ]);
    assert!(store.join("outcomes").join("_delta_log").is_dir());
}
