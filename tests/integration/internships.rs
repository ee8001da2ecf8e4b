//! Person-level extracts: real Danish exports in every encoding, a catalogue
//! of bad ones, CPR numbers kept out of the store, and the per-type figures
//! checked against an independent computation.

use crate::support::{Workdir, succeeded};

const HEADER: &str = "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Branche;Timer pr. uge;Status 3 mdr;Status 6 mdr;Status 12 mdr";

/// A small Danish export: `;`, decimal comma, Danish statuses with æøå.
fn danish_csv() -> String {
    let mut text = format!("{HEADER}\n");
    let statuses = [
        "Ordinær beskæftigelse",
        "Uddannelse",
        "Fleksjob",
        "Førtidspension",
        "På ydelse",
        "Andet",
    ];
    for i in 0..40 {
        let kind = ["jobpraktik", "udviklingspraktik", "kompetencepraktik"][i % 3];
        text.push_str(&format!(
            "K{i:03};P{:03};101;kontanthjaelp_jobparat;{kind};01-03-2023;{:02}-05-2023;Rådgivning og øvrige;18,5;{};{};{}\n",
            i % 31,
            1 + i % 28,
            statuses[i % 6],
            statuses[(i + 1) % 6],
            statuses[(i + 2) % 6],
        ));
    }
    text
}

/// Each quarter's rows and its first id.
const PER_QUARTER: [&str; 4] = [
    "query",
    "SELECT CAST(period AS VARCHAR) AS period, COUNT(*) AS n, MIN(internship_id) AS first FROM internships GROUP BY period ORDER BY period",
    "--format",
    "csv",
];

/// Pull `file` with a salt for CPR numbers; it must pass.
fn pull_with_salt(work: &Workdir, file: &str) {
    let output = work
        .praktik()
        .env("PRAKTIK_PERSON_SALT", "a-long-secret")
        .args(["pull", "--source", &format!("file:{file}")])
        .output()
        .unwrap();
    succeeded(&output);
}

fn rows(work: &Workdir) -> String {
    work.ok(&[
        "query",
        "SELECT internship_id, person_key, municipality_code, internship_type, start_date, end_date, industry, hours_per_week, status_3m, status_6m, status_12m FROM internships ORDER BY internship_id",
        "--format",
        "csv",
    ])
    .0
}

/// The same export as an English-language system writes it: `,`, decimal point.
fn english(danish: &str) -> String {
    let header = "internship_id,person_key,municipality_code,benefit_group,internship_type,start_date,end_date,industry,hours_per_week,status_3m,status_6m,status_12m";
    let lines: Vec<String> = danish
        .lines()
        .skip(1)
        .map(|l| {
            l.split(';')
                .map(|c| c.replace(',', "."))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    format!("{header}\n{}\n", lines.join("\n"))
}

/// `text` with every cell quoted from line `from` on.
fn quoted_from_line(text: &str, from: usize) -> String {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            if i + 1 < from {
                format!("{line}\n")
            } else {
                let cells: Vec<String> = line.split(';').map(|c| format!("\"{c}\"")).collect();
                format!("{}\n", cells.join(";"))
            }
        })
        .collect()
}

#[test]
fn a_danish_export_loads_the_same_in_every_encoding() {
    let text = danish_csv();
    let (latin, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("utf8.csv", text.clone().into_bytes()),
        (
            "bom.csv",
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        ),
        ("cp1252.csv", latin.into_owned()),
        ("crlf.csv", text.replace('\n', "\r\n").into_bytes()),
        ("english.csv", english(&text).into_bytes()),
        // Plain lines are split at their delimiters; from the first quote
        // on, the csv crate reads the rest.
        ("quoted.csv", quoted_from_line(&text, 20).into_bytes()),
    ];
    let mut seen = Vec::new();
    for (name, body) in variants {
        let work = Workdir::new();
        work.write(name, body);
        let (_, stderr) = work.ok(&["pull", "--source", &format!("file:{name}")]);
        assert!(
            stderr.contains("stored 40 rows for 2023Q2"),
            "{name}: {stderr}"
        );
        let loaded = rows(&work);
        assert!(
            loaded.contains("Rådgivning og øvrige") && loaded.contains("foertidspension"),
            "{name}: {loaded}"
        );
        assert!(
            loaded.contains(",18.5,"),
            "{name}: decimal comma read: {loaded}"
        );
        seen.push((name, loaded));
    }
    for (name, loaded) in &seen[1..] {
        assert_eq!(loaded, &seen[0].1, "{name} differs from UTF-8");
    }
}

#[test]
fn rows_in_runs_of_a_quarter_and_rows_mixed_are_stored_alike() {
    let ordered = Workdir::new();
    ordered.ok(&["demo", "generate", "--rows", "20000", "--out", "x.csv"]);
    let text = std::fs::read_to_string(ordered.path().join("x.csv")).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    // The quarter a line's end date (`dd-mm-yyyy`, the 7th cell) falls in.
    let quarter = |line: &str| {
        let end = line.split(';').nth(6).unwrap();
        (
            end[6..10].to_string(),
            (end[3..5].parse::<u32>().unwrap() - 1) / 3,
        )
    };
    let mut lines: Vec<&str> = body.lines().collect();
    lines.sort_by_key(|l| quarter(l));
    ordered.write("x.csv", format!("{header}\n{}\n", lines.join("\n")));
    // The same lines in an order where neighbours seldom share a quarter.
    let mixed = Workdir::new();
    lines.sort_by_key(|l| {
        l.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
    });
    mixed.write("x.csv", format!("{header}\n{}\n", lines.join("\n")));
    let stored = |work: &Workdir| {
        work.ok(&["pull", "--source", "file:x.csv"]);
        let rows = work.ok(&[
            "query",
            "SELECT period, internship_id, person_key, municipality_code, end_date, status_3m FROM internships ORDER BY internship_id",
            "--format",
            "csv",
        ]).0;
        let quarters: std::collections::BTreeSet<String> = work
            .table_files_of("internships")
            .into_iter()
            .filter_map(|(path, _)| path.split_once('/').map(|(folder, _)| folder.to_string()))
            .filter(|folder| folder.starts_with("period="))
            .collect();
        (rows, quarters)
    };
    let (by_runs, folders) = stored(&ordered);
    assert!(
        by_runs.lines().count() > 20000 && folders.len() > 15,
        "{folders:?}"
    );
    assert_eq!((by_runs, folders), stored(&mixed));
}

#[test]
fn parquet_json_lines_and_a_folder_load_too() {
    let work = Workdir::new();
    work.ok(&["demo", "generate", "--rows", "500", "--out", "x.csv"]);
    work.ok(&[
        "demo",
        "generate",
        "--rows",
        "500",
        "--format",
        "parquet",
        "--out",
        "x.parquet",
    ]);
    work.ok(&["pull", "--source", "file:x.csv"]);
    let from_csv = rows(&work);
    work.ok(&["pull", "--source", "file:x.parquet"]);
    assert_eq!(
        rows(&work),
        from_csv,
        "Parquet gives the same rows as the Danish CSV"
    );

    let jsonl: String = danish_csv()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(';').collect();
            format!(
                "{{\"internship_id\":\"{}\",\"person_key\":\"{}\",\"municipality_code\":{},\"benefit_group\":\"{}\",\"internship_type\":\"{}\",\"start_date\":\"{}\",\"end_date\":\"{}\",\"hours_per_week\":18.5,\"status_3m\":\"{}\"}}\n",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[9]
            )
        })
        .collect();
    let folder = Workdir::new();
    std::fs::create_dir(folder.path().join("extracts")).unwrap();
    folder.write("extracts/a.jsonl", jsonl);
    folder.write(
        "extracts/b.csv",
        danish_csv().replace("2023;", "2022;").replace("K0", "L0"),
    );
    let (_, stderr) = folder.ok(&["pull", "--source", "file:extracts"]);
    assert!(
        stderr.contains("pulled 2 extract(s)")
            && stderr.contains("stored 80 rows for 2022Q2–2023Q2 (2 quarters)"),
        "{stderr}"
    );
}

#[test]
fn in_a_folder_each_quarter_comes_from_one_file_and_a_bad_file_that_gives_none_still_rejects_the_pull()
 {
    let work = Workdir::new();
    std::fs::create_dir(work.path().join("in")).unwrap();
    let may = danish_csv();
    // The July file holds two late rows of May too (ids of their own).
    let july = danish_csv()
        .replace("-05-2023;", "-07-2023;")
        .replace("K0", "J0");
    let late: Vec<String> = may
        .lines()
        .skip(1)
        .take(2)
        .map(|l| l.replacen('K', "L", 1))
        .collect();
    work.write("in/a-may.csv", &may);
    work.write("in/b-july.csv", format!("{july}{}\n", late.join("\n")));
    let (_, stderr) = work.ok(&["pull", "--source", "file:in"]);
    assert!(
        stderr.contains("left out") && stderr.contains("b-july.csv"),
        "{stderr}"
    );
    let (stored, _) = work.ok(&PER_QUARTER);
    assert_eq!(
        stored, "period,n,first\n2023Q2,40,K000\n2023Q3,40,J000\n",
        "2023Q2 comes from the May file, which holds more of it"
    );

    // A third file holds fewer rows of the quarter than the May file, so it
    // gives nothing; a bad row in it still rejects the pull, as alone.
    let bad: Vec<String> = may
        .lines()
        .skip(1)
        .take(3)
        .enumerate()
        .map(|(i, l)| {
            let l = l.replacen('K', "M", 1);
            if i == 2 {
                l.replace(";101;", ";999;")
            } else {
                l
            }
        })
        .collect();
    work.write("in/c-late.csv", format!("{HEADER}\n{}\n", bad.join("\n")));
    let stderr = work.fails(&["pull", "--source", "file:in"], 1);
    assert!(
        stderr.contains("c-late.csv") && stderr.contains("999"),
        "the bad file and its cell are named: {stderr}"
    );
    assert_eq!(work.ok(&PER_QUARTER).0, stored, "the store is as it was");
}

/// A rebuild leaves out a body its check rejects again — here one whose
/// index line now says it was pulled before its statuses could be known —
/// and the quarter it gave comes from the body before it again.
#[test]
fn a_rebuild_leaves_out_a_body_rejected_again_and_its_quarter_goes_back_to_the_one_before() {
    let work = Workdir::new();
    let may = danish_csv();
    work.write("may.csv", &may);
    work.ok(&["pull", "--source", "file:may.csv"]);
    work.write("again.csv", may.replace("K0", "N0"));
    work.ok(&["pull", "--source", "file:again.csv"]);
    assert_eq!(work.ok(&PER_QUARTER).0, "period,n,first\n2023Q2,40,N000\n");

    let index = work.path().join("store/raw/index.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&index)
        .unwrap()
        .lines()
        .map(|line| {
            let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
            if entry["input"]
                .as_str()
                .is_some_and(|i| i.ends_with("again.csv"))
            {
                entry["pulled_at"] = "2000-01-01T00:00:00+00:00".into();
            }
            entry.to_string()
        })
        .collect();
    std::fs::write(&index, format!("{}\n", lines.join("\n"))).unwrap();
    let (_, said) = work.ok(&["store", "rebuild"]);
    assert!(
        said.contains("2 bodies read from raw/, 1 rejected again")
            && said.contains("again.csv")
            && said.contains("cannot be known before"),
        "{said}"
    );
    assert_eq!(
        work.ok(&PER_QUARTER).0,
        "period,n,first\n2023Q2,40,K000\n",
        "2023Q2 from may.csv again"
    );
}

/// A rebuild of a body large enough to be counted in parts (over twice
/// the 4 MiB a part is given) gives each quarter the rows the pull gave it.
#[test]
fn a_large_body_rebuilt_gives_the_quarters_and_rows_it_was_pulled_with() {
    let work = Workdir::new();
    work.ok(&[
        "demo",
        "generate",
        "--rows",
        "100000",
        "--out",
        "people.csv",
    ]);
    let size = std::fs::metadata(work.path().join("people.csv"))
        .unwrap()
        .len();
    assert!(size > 8 << 20, "{size} bytes: too few for two parts");
    work.ok(&["pull", "--source", "file:people.csv"]);
    let pulled = work.ok(&PER_QUARTER).0;
    assert!(pulled.lines().count() > 10, "{pulled}");
    let (_, said) = work.ok(&["store", "rebuild"]);
    assert!(
        said.contains("1 body read from raw/, 0 rejected again"),
        "{said}"
    );
    assert_eq!(work.ok(&PER_QUARTER).0, pulled);
}

/// (what is wrong, the extract, what the message must say)
fn catalogue() -> Vec<(&'static str, String, &'static str)> {
    let good = danish_csv();
    let first = good.lines().nth(1).unwrap().to_string();
    let with_first = |line: String| good.replacen(&first, &line, 1);
    let cells: Vec<String> = first.split(';').map(str::to_string).collect();
    let set = |i: usize, value: &str| {
        let mut c = cells.clone();
        c[i] = value.to_string();
        with_first(c.join(";"))
    };
    vec![
        (
            "unknown header",
            good.replacen("Branche", "Brancheområde", 1),
            "the header has the column `Brancheområde`, which neither",
        ),
        (
            "missing column",
            good.replacen("Praktiktype;", "", 1)
                .lines()
                .map(|l| {
                    if l.starts_with("Praktik_id") {
                        l.to_string()
                    } else {
                        let mut c: Vec<&str> = l.split(';').collect();
                        c.remove(4);
                        c.join(";")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n"),
            "the header lacks the column `internship_type`",
        ),
        (
            "type outside the three",
            set(4, "praktikplads"),
            "column `internship_type`: `praktikplads` is not valid: expected one of: jobpraktik, udviklingspraktik, kompetencepraktik",
        ),
        (
            "end before start",
            set(6, "01-02-2023"),
            "column `end_date`: `01-02-2023` is not valid: the internship cannot end before it starts (2023-03-01)",
        ),
        (
            "a date that is no date",
            set(5, "31-02-2023"),
            "column `start_date`: `31-02-2023` is not valid: a date such as",
        ),
        (
            "status before its horizon",
            set(6, "01-11-2026").replacen(&cells[5], "01-10-2026", 1),
            "cannot be known before",
        ),
        (
            "unknown status",
            set(9, "Ferie"),
            "column `status_3m`: `Ferie` is not valid: expected one of: ordinary_job",
        ),
        (
            "unknown municipality",
            set(2, "999"),
            "column `municipality_code`: `999` is not valid: a municipality code",
        ),
        (
            "a jobcentre is not a municipality",
            set(2, "561/563"),
            "column `municipality_code`: `561/563` is not valid",
        ),
        (
            "unknown benefit group",
            set(3, "kontanthjælp"),
            "column `benefit_group`: `kontanthjælp` is not valid",
        ),
        (
            "hours out of range",
            set(8, "120"),
            "column `hours_per_week`: `120` is not valid: hours per week between 0 and 80",
        ),
        (
            "hours not a number",
            set(8, "fuld tid"),
            "column `hours_per_week`: `fuld tid` is not valid",
        ),
        (
            "empty id",
            set(0, ""),
            "column `internship_id`: `` is not valid: every internship needs an id",
        ),
        (
            "empty person",
            set(1, ""),
            "column `person`: `` is not valid: every internship needs a person key",
        ),
        (
            "the same id twice",
            format!("{good}{first}\n"),
            "line 42 has the same internship id as line 2",
        ),
        (
            "a CPR number without a salt",
            set(1, "010190-1234"),
            "a CPR number may not be stored; set the secret PRAKTIK_PERSON_SALT",
        ),
        (
            "a ragged line",
            with_first(cells[..6].join(";")),
            "line 2: the file is not readable CSV: the line has 6 fields where the header has 12",
        ),
        (
            "no rows",
            format!("{HEADER}\n"),
            "the extract has no data rows",
        ),
    ]
}

#[test]
fn every_bad_person_level_extract_is_rejected_whole_and_the_store_is_unchanged() {
    let work = Workdir::new();
    work.write("good.csv", danish_csv());
    work.ok(&["pull", "--source", "file:good.csv"]);
    let before = work.table_files_of("internships");
    let cases = catalogue();
    assert!(cases.len() >= 15);
    for (what, body, expected) in cases {
        work.write("bad.csv", &body);
        let stderr = work.fails(&["pull", "--source", "file:bad.csv"], 1);
        assert!(
            stderr.contains("bad.csv"),
            "{what}: names the file: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{what}: expected `{expected}` in:\n{stderr}"
        );
        assert_eq!(
            work.table_files_of("internships"),
            before,
            "{what}: the table changed"
        );
    }
}

#[test]
fn no_cpr_number_reaches_the_store() {
    let cprs = ["010190-1234", "2412851111", "311299-0001"];
    let mut text = danish_csv();
    for (i, cpr) in cprs.iter().enumerate() {
        text = text.replacen(&format!(";P{:03};", i), &format!(";{cpr};"), 1);
    }
    let work = Workdir::new();
    work.write("cpr.csv", &text);
    let stderr = work.fails(&["pull", "--source", "file:cpr.csv"], 1);
    assert!(stderr.contains("PRAKTIK_PERSON_SALT"), "{stderr}");
    assert!(
        !cprs.iter().any(|c| stderr.contains(c)),
        "the error does not repeat the CPR number"
    );
    assert!(
        !work.path().join("store/raw").exists()
            || std::fs::read_dir(work.path().join("store/raw"))
                .unwrap()
                .count()
                == 0,
        "nothing was landed"
    );

    pull_with_salt(&work, "cpr.csv");
    let keys = rows(&work);
    assert_eq!(keys.lines().count(), 41);
    let mut files = Vec::new();
    crate::support::collect_files(&work.path().join("store"), &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "parquet"))
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for cpr in cprs {
            for form in [cpr.to_string(), cpr.replace('-', "")] {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{form} is in {}",
                    file.display()
                );
            }
        }
    }
}

/// A file large enough to be checked in parts is cut while it is landed;
/// when the CPR screen rewrites it (each CPR number becomes a longer key),
/// the rows are read from the screened copy, which the file's cut does not
/// fit: it is cut again, and every row arrives whole.
#[test]
fn a_large_file_the_screen_rewrote_is_checked_from_its_screened_copy() {
    let work = Workdir::new();
    work.ok(&["demo", "generate", "--rows", "70000", "--out", "x.csv"]);
    let text = work.read("x.csv");
    assert!(text.len() > 8 << 20, "two parts of at least 4 MiB");
    let mut replaced = 0;
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut cells: Vec<&str> = line.split(';').collect();
            let cpr = format!("{:02}0190-{:04}", 1 + i % 28, i % 10_000);
            if i > 0 && i % 500 == 0 {
                cells[1] = &cpr;
                replaced += 1;
            }
            cells.join(";")
        })
        .collect();
    work.write("x.csv", lines.join("\n") + "\n");
    pull_with_salt(&work, "x.csv");
    let (found, _) = work.ok(&[
        "query",
        "SELECT count(*) AS n, sum(CASE WHEN length(person_key) = 64 THEN 1 ELSE 0 END) AS keyed \
         FROM internships",
        "--format",
        "csv",
    ]);
    assert_eq!(
        found.lines().nth(1).unwrap(),
        format!("70000,{replaced}"),
        "{found}"
    );
}

#[test]
fn the_type_report_shows_what_the_query_and_duckdb_compute() {
    let work = Workdir::new();
    work.ok(&["demo", "generate", "--rows", "20000", "--out", "people.csv"]);
    work.ok(&["pull", "--source", "file:people.csv"]);
    work.ok(&[
        "report",
        "type-effects",
        "--period",
        "2022Q3",
        "--format",
        "md",
    ]);
    let md = work.read("out/reports/2022Q3/type-effects.md");
    assert!(!md.contains("DEMODATA"), "a file extract is not demo data");

    let (json, _) = work.ok(&[
        "query",
        "--file",
        "sql/effect_by_type.sql",
        "--param",
        "period=2022Q3",
        "--param",
        "municipality=101",
        "--format",
        "json",
    ]);
    let ours: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crosscheck_types.py");
    let output = std::process::Command::new("python3")
        .args([
            script,
            &work.path().join("people.csv").display().to_string(),
            "2022Q3",
            "101",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pip install -r tests/requirements.txt:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(theirs.len(), 3);
    for t in &theirs {
        let kind = t["internship_type"].as_str().unwrap();
        let row = ours
            .iter()
            .find(|r| {
                r["internship_type"] == kind && r["benefit_group"] == "alle" && r["measure"] == "3m"
            })
            .unwrap();
        for key in ["n", "x", "share_pct", "low_pct", "high_pct"] {
            assert_eq!(
                row[key].as_f64(),
                t[key].as_f64(),
                "{kind} {key}: praktik {} DuckDB {}",
                row[key],
                t[key]
            );
        }
        let name = format!("{}{}", kind[..1].to_uppercase(), &kind[1..]);
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap();
        let shown = |v: &serde_json::Value| format!("{:.1}", v.as_f64().unwrap()).replace('.', ",");
        let cell = format!(
            "{} ({}–{})",
            shown(&t["share_pct"]),
            shown(&t["low_pct"]),
            shown(&t["high_pct"])
        );
        assert!(
            line.contains(&cell),
            "the report shows {cell} for {kind}: {line}"
        );
    }
}

/// More rows than one batch, so that files are written before the bad row
/// is met: the rejection must take them away again.
#[test]
fn a_bad_row_after_many_good_ones_leaves_the_table_as_it_was() {
    let work = Workdir::new();
    work.write("good.csv", danish_csv());
    work.ok(&["pull", "--source", "file:good.csv"]);
    let before = work.table_files_of("internships");
    work.ok(&["demo", "generate", "--rows", "150000", "--out", "big.csv"]);
    let big = work.read("big.csv");
    let lines = big.lines().count();
    assert!(lines > 150_000, "{lines} lines");
    let first = big.lines().nth(1).unwrap();
    let id = first.split(';').next().unwrap();

    // The first row's id again on the last line: a duplicate far apart.
    work.write("dup.csv", format!("{big}{first}\n"));
    let stderr = work.fails(&["pull", "--source", "file:dup.csv"], 1);
    assert!(
        stderr.contains(&format!(
            "line {} has the same internship id as line 2",
            lines + 1
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(id), "the id itself is not shown: {stderr}");
    assert_eq!(
        work.table_files_of("internships"),
        before,
        "after the duplicate"
    );

    // An unknown municipality on the last line.
    let mut cells: Vec<&str> = first.split(';').collect();
    cells[0] = "NEW-1";
    cells[2] = "999";
    work.write("bad.csv", format!("{big}{}\n", cells.join(";")));
    let stderr = work.fails(&["pull", "--source", "file:bad.csv"], 1);
    assert!(
        stderr.contains(&format!(
            "line {}, column `municipality_code`: `999`",
            lines + 1
        )),
        "{stderr}"
    );
    assert_eq!(
        work.table_files_of("internships"),
        before,
        "after the bad municipality"
    );

    // The good big file goes in whole, in one commit.
    work.ok(&["pull", "--source", "file:big.csv"]);
    let count = work
        .ok(&[
            "query",
            "SELECT count(*) AS n FROM internships",
            "--format",
            "csv",
        ])
        .0;
    // Its quarters include the small file's (2023Q2), which it replaces.
    assert_eq!(count.lines().nth(1), Some((lines - 1).to_string().as_str()));
}

/// The person key, the label columns and the provenance text are written
/// without statistics (random keys, labels every row group holds, one value
/// a file: a range skips nothing a query of ours asks for); the other
/// columns keep theirs, a lookup of one person still finds them, and a
/// filter on a label or a body's SHA-256 still finds every row that holds it.
#[test]
fn keys_labels_and_provenance_have_no_range_statistics_and_are_still_found() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    const UNRANGED: [&str; 9] = [
        "person_key",
        "source",
        "extract_sha256",
        "benefit_group",
        "internship_type",
        "industry",
        "status_3m",
        "status_6m",
        "status_12m",
    ];
    let work = Workdir::new();
    work.ok(&["run"]);
    let files: Vec<String> = work
        .table_files_of("internships")
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.ends_with(".parquet"))
        .collect();
    assert!(files.len() > 15, "{files:?}");
    for path in &files {
        let file = std::fs::File::open(work.path().join("store/internships").join(path)).unwrap();
        let reader = SerializedFileReader::new(file).unwrap();
        let metadata = reader.metadata();
        let schema = metadata.file_metadata().schema_descr();
        for group in metadata.row_groups() {
            for (i, chunk) in group.columns().iter().enumerate() {
                let name = schema.column(i).name().to_string();
                let ranged = chunk
                    .statistics()
                    .is_some_and(|s| s.min_bytes_opt().is_some());
                assert_eq!(ranged, !UNRANGED.contains(&name.as_str()), "{path} {name}");
            }
        }
    }
    let (key, _) = work.ok(&[
        "query",
        "SELECT person_key FROM internships ORDER BY internship_id LIMIT 1",
        "--format",
        "csv",
    ]);
    let key = key.lines().nth(1).unwrap();
    let (found, _) = work.ok(&[
        "query",
        &format!("SELECT count(*) AS n FROM internships WHERE person_key = '{key}'"),
        "--format",
        "csv",
    ]);
    let n: u64 = found.lines().nth(1).unwrap().parse().unwrap();
    assert!(n >= 1, "{found}");
    // A filter on each label finds as many rows as counting them all does.
    let (found, _) = work.ok(&[
        "query",
        "SELECT (SELECT count(*) FROM internships WHERE status_12m = 'ordinary_job') AS filtered, \
         (SELECT sum(CASE WHEN status_12m = 'ordinary_job' THEN 1 ELSE 0 END) FROM internships) AS counted, \
         (SELECT count(*) FROM internships WHERE internship_type = 'jobpraktik') AS typed, \
         (SELECT sum(CASE WHEN internship_type = 'jobpraktik' THEN 1 ELSE 0 END) FROM internships) AS all_typed",
        "--format",
        "csv",
    ]);
    let counts: Vec<u64> = found
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(counts[0] > 0 && counts[2] > 0, "{found}");
    assert_eq!((counts[0], counts[2]), (counts[1], counts[3]), "{found}");
    // A filter on one body's SHA-256 finds its rows, and only those.
    let (found, _) = work.ok(&[
        "query",
        "WITH one AS (SELECT min(extract_sha256) AS sha FROM internships) \
         SELECT (SELECT count(*) FROM internships WHERE extract_sha256 = (SELECT sha FROM one)) AS filtered, \
         (SELECT sum(CASE WHEN extract_sha256 = (SELECT sha FROM one) THEN 1 ELSE 0 END) FROM internships) AS counted",
        "--format",
        "csv",
    ]);
    let (filtered, counted) = found.lines().nth(1).unwrap().split_once(',').unwrap();
    assert!(filtered.parse::<u64>().unwrap() > 0, "{found}");
    assert_eq!(filtered, counted, "{found}");
}

/// Every row of an extract longer than one batch carries the extract's
/// provenance: the last, shorter batch as much as the full ones.
#[test]
fn every_batch_of_a_long_extract_carries_its_provenance() {
    let work = Workdir::new();
    work.ok(&["demo", "generate", "--rows", "70000", "--out", "x.csv"]);
    work.ok(&["pull", "--source", "file:x.csv"]);
    let raw: Vec<String> = std::fs::read_dir(work.path().join("store/raw"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".csv").map(str::to_string))
        .collect();
    assert_eq!(raw.len(), 1, "{raw:?}");
    let (found, _) = work.ok(&[
        "query",
        "SELECT count(*) AS n, count(DISTINCT extract_sha256) AS bodies, \
         min(extract_sha256) AS sha, count(DISTINCT source) AS sources, \
         count(DISTINCT pulled_at) AS times FROM internships",
        "--format",
        "csv",
    ]);
    assert_eq!(
        found.lines().nth(1).unwrap(),
        format!("70000,1,{},1,1", raw[0]),
        "{found}"
    );
}
