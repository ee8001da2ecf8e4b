//! Privacy proven with adversarial files: every form of a CPR number, in
//! every format and column type, and files that cannot be classified. After
//! all of them, independent readers (tests/privacy_scan.py: pyarrow for the
//! Parquet values, JSON parsing for the Delta log and its statistics) find
//! no form of any CPR number in the store, `raw/`, the index, the reports or
//! the log lines written at `-vv`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, Decimal128Array, DictionaryArray, Float64Array, Int32Array, Int64Array,
    StringArray, UInt64Array,
};
use arrow::datatypes::Int32Type;

use crate::support::{Workdir, succeeded};

const SALT: &str = "test-pepper-4711";

/// One person's CPR number as test inputs write it: ten digits, with a dash,
/// with a space, nine digits (Excel dropped the leading zero), nine digits
/// (a digit lost), and a substitute number (day + 60) in two forms.
const FORMS: [&str; 7] = [
    "0703911234",
    "070391-1234",
    "070391 1234",
    "703911234",
    "070391234",
    "670391-1234",
    "6703911234",
];

const HEADER: &str = "Praktik_id;CPR;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Branche";

/// A person-level CSV of six internships; the first has `person`, `id` and
/// `industry` as given.
fn person_csv(person: &str, id: &str, industry: &str) -> String {
    let mut text = format!("{HEADER}\n");
    for i in 1..=6 {
        let (person, id, industry) = if i == 1 {
            (person.to_string(), id.to_string(), industry.to_string())
        } else {
            (format!("P{i}"), format!("K{i}"), "Handel".to_string())
        };
        text.push_str(&format!(
            "{id};{person};101;dagpenge;jobpraktik;2024-01-0{i};2024-02-0{i};{industry}\n"
        ));
    }
    text
}

fn person_jsonl(key: &str, value: &str) -> String {
    (1..=6)
        .map(|i| {
            let person = if i == 1 && key == "person_key" { value.to_string() } else { format!("\"P{i}\"") };
            let extra = if i == 1 && key != "person_key" { format!(",\"{key}\":{value}") } else { String::new() };
            format!(
                "{{\"internship_id\":\"J{i}\",\"person_key\":{person},\"municipality_code\":\"101\",\"benefit_group\":\"dagpenge\",\"internship_type\":\"jobpraktik\",\"start_date\":\"2024-01-0{i}\",\"end_date\":\"2024-02-0{i}\"{extra}}}\n"
            )
        })
        .collect()
}

/// A person-level Parquet file whose person column is `person` (six rows),
/// with an `industry` column if one is given.
fn person_parquet(path: &Path, person: ArrayRef, industry: Option<ArrayRef>) {
    let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
        Arc::new(StringArray::from((1..=6).map(f).collect::<Vec<_>>()))
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("internship_id", text(&|i| format!("Q{i}"))),
        ("person_key", person),
        ("municipality_code", text(&|_| "101".into())),
        ("benefit_group", text(&|_| "dagpenge".into())),
        ("internship_type", text(&|_| "jobpraktik".into())),
        ("start_date", text(&|i| format!("2024-01-0{i}"))),
        ("end_date", text(&|i| format!("2024-02-0{i}"))),
    ];
    let columns = columns
        .into_iter()
        .chain(industry.map(|i| ("industry", i)))
        .collect();
    std::fs::write(path, crate::support::parquet_bytes(columns)).unwrap();
}

/// The CPR number in the first of six values, the others plain keys.
fn first_of_six<T: Clone>(cpr: T, other: impl Fn(usize) -> T) -> Vec<T> {
    (1..=6)
        .map(|i| if i == 1 { cpr.clone() } else { other(i) })
        .collect()
}

enum Expect {
    /// Stored, with the CPR number replaced by its key.
    Stored,
    /// Rejected with exit 1 before anything was kept.
    Rejected,
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    if dir.exists() {
        crate::support::collect_files(dir, &mut files);
    }
    let mut files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    files.sort();
    files
}

#[test]
fn no_form_of_a_cpr_number_is_kept_anywhere() {
    let work = Workdir::new();
    let cases = work.path().join("cases");
    std::fs::create_dir(&cases).unwrap();
    let mut inputs: Vec<(String, bool, Expect)> = Vec::new();
    let mut add = |name: &str, body: Vec<u8>, salt: bool, expect: Expect| {
        std::fs::write(cases.join(name), body).unwrap();
        inputs.push((name.to_string(), salt, expect));
    };
    // Each form in the person column: replaced by its key.
    for (i, form) in FORMS.iter().enumerate() {
        add(
            &format!("person-form-{i}.csv"),
            person_csv(form, "K1", "Handel").into_bytes(),
            true,
            Expect::Stored,
        );
    }
    add(
        "person-quoted.csv",
        person_csv("\"070391-1234\"", "K1", "Handel").into_bytes(),
        true,
        Expect::Stored,
    );
    let cp1252 = encoding_rs::WINDOWS_1252
        .encode(&person_csv("070391-1234", "K1", "Rådgivning"))
        .0
        .into_owned();
    add("person-windows-1252.csv", cp1252, true, Expect::Stored);
    add(
        "person.jsonl",
        person_jsonl("person_key", "\"070391 1234\"").into_bytes(),
        true,
        Expect::Stored,
    );
    // Without the salt, a CPR number in the person column is refused.
    add(
        "person-no-salt.csv",
        person_csv("0703911234", "K1", "Handel").into_bytes(),
        false,
        Expect::Rejected,
    );
    add(
        "person-9-digits-no-salt.csv",
        person_csv("703911234", "K1", "Handel").into_bytes(),
        false,
        Expect::Rejected,
    );
    // Anywhere else: refused, whatever the form.
    add(
        "in-industry.csv",
        person_csv("P1", "K1", "070391 1234").into_bytes(),
        true,
        Expect::Rejected,
    );
    add(
        "case-id-like-a-cpr.csv",
        person_csv("P1", "6703911234", "Handel").into_bytes(),
        true,
        Expect::Rejected,
    );
    add(
        "in-jsonl-other-key.jsonl",
        person_jsonl("note", "703911234").into_bytes(),
        true,
        Expect::Rejected,
    );
    add(
        "outcomes-with-cpr.csv",
        b"period,area_code,area_name,benefit_group,ended,in_work_or_education,share_pct\n2019Q3,101,070391-1234,dagpenge,10,3,30.0\n".to_vec(),
        true,
        Expect::Rejected,
    );
    // Files that cannot be classified: refused before landing.
    add(
        "headerless.csv",
        person_csv("0703911234", "K1", "Handel")
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
        true,
        Expect::Rejected,
    );
    add(
        "id-cpr-header.csv",
        person_csv("0703911234", "K1", "Handel")
            .replacen("Praktik_id;CPR", "ID;CPR", 1)
            .into_bytes(),
        true,
        Expect::Rejected,
    );
    add(
        "title-row.csv",
        format!(
            "Udtræk fra sagssystemet 070391-1234\n{}",
            person_csv("P1", "K1", "Handel")
        )
        .into_bytes(),
        true,
        Expect::Rejected,
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            person_csv("0703911234", "K1", "Handel")
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    add("utf16.csv", utf16, true, Expect::Rejected);
    add(
        "workbook.xlsx",
        b"PK\x03\x04\x14\x00\x00\x00 0703911234".to_vec(),
        true,
        Expect::Rejected,
    );
    add("empty.csv", Vec::new(), true, Expect::Rejected);
    add(
        "not-parquet.parquet",
        person_csv("P1", "K1", "Handel").into_bytes(),
        true,
        Expect::Rejected,
    );
    // Parquet: the person column is screened in every type and written
    // anew with the keys.
    let parquet_cases: Vec<(&str, ArrayRef)> = vec![
        (
            "text",
            Arc::new(StringArray::from(first_of_six(
                "070391-1234".to_string(),
                |i| format!("P{i}"),
            ))),
        ),
        (
            "int64",
            Arc::new(Int64Array::from(first_of_six(703911234, |i| i as i64))),
        ),
        (
            "int32",
            Arc::new(Int32Array::from(first_of_six(703911234, |i| i as i32))),
        ),
        (
            "uint64",
            Arc::new(UInt64Array::from(first_of_six(6703911234, |i| i as u64))),
        ),
        (
            "float64",
            Arc::new(Float64Array::from(first_of_six(703911234.0, |i| i as f64))),
        ),
        (
            "decimal",
            Arc::new(
                Decimal128Array::from(first_of_six(703911234, |i| i as i128))
                    .with_precision_and_scale(12, 0)
                    .unwrap(),
            ),
        ),
        (
            "binary",
            Arc::new(BinaryArray::from(first_of_six(&b"070391 1234"[..], |_| {
                &b"P"[..]
            }))),
        ),
        (
            "dictionary",
            Arc::new(
                first_of_six("0703911234", |_| "P")
                    .into_iter()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ),
    ];
    for (name, person) in parquet_cases {
        person_parquet(&cases.join(format!("person-{name}.parquet")), person, None);
        inputs.push((format!("person-{name}.parquet"), true, Expect::Stored));
    }
    let text_person = || -> ArrayRef {
        Arc::new(StringArray::from(first_of_six(
            "0703911234".to_string(),
            |i| format!("P{i}"),
        )))
    };
    person_parquet(&cases.join("parquet-no-salt.parquet"), text_person(), None);
    inputs.push(("parquet-no-salt.parquet".into(), false, Expect::Rejected));
    // Anywhere else in a Parquet file, in any type: refused.
    for (name, industry) in [
        (
            "int64",
            Arc::new(Int64Array::from(first_of_six(703911234, |i| i as i64))) as ArrayRef,
        ),
        (
            "dictionary",
            Arc::new(
                first_of_six("070391 1234", |_| "Handel")
                    .into_iter()
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
        ),
        (
            "float64",
            Arc::new(Float64Array::from(first_of_six(6703911234.0, |i| i as f64))),
        ),
    ] {
        let name = format!("parquet-industry-{name}.parquet");
        let person: ArrayRef = Arc::new(StringArray::from(
            (1..=6).map(|i| format!("P{i}")).collect::<Vec<_>>(),
        ));
        person_parquet(&cases.join(&name), person, Some(industry));
        inputs.push((name, true, Expect::Rejected));
    }
    // One line of 1 GiB: refused from its first 64 KiB.
    {
        use std::io::Write;
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(cases.join("one-line.csv")).unwrap());
        let block = vec![b'7'; 1 << 20];
        for _ in 0..1024 {
            file.write_all(&block).unwrap();
        }
        inputs.push(("one-line.csv".into(), true, Expect::Rejected));
    }
    assert!(inputs.len() >= 20);

    let mut log = String::new();
    let mut keys = std::collections::BTreeMap::new();
    let store = work.path().join("store");
    for (name, salt, expect) in &inputs {
        let before = (
            files_under(&store.join("raw")),
            work.table_files_of("internships"),
            work.table_files(),
        );
        let mut command = work.praktik();
        command.args(["pull", "-vv", "--source", &format!("file:cases/{name}")]);
        if *salt {
            command.env("PRAKTIK_PERSON_SALT", SALT);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        log.push_str(&stderr);
        log.push_str(&String::from_utf8_lossy(&output.stdout));
        match expect {
            Expect::Stored => {
                assert!(output.status.success(), "{name}: {stderr}");
                let (key, _) = work.ok(&[
                    "query",
                    "SELECT person_key FROM internships WHERE internship_id IN ('K1', 'J1', 'Q1')",
                    "--format",
                    "csv",
                ]);
                keys.insert(name.clone(), key);
            }
            Expect::Rejected => {
                assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
                assert!(
                    stderr.contains(name.as_str()),
                    "{name}: the error names the file: {stderr}"
                );
                let after = (
                    files_under(&store.join("raw")),
                    work.table_files_of("internships"),
                    work.table_files(),
                );
                assert_eq!(before, after, "{name}: nothing is kept");
            }
        }
    }
    // Every form of one number, in every format and Parquet type, gave one
    // key: the ten digits, and nine where Excel dropped the leading zero;
    // the truncated number and the substitute number are other numbers.
    let number = |name: &str| match name {
        "person-form-4.csv" => "truncated",
        "person-form-5.csv" | "person-form-6.csv" | "person-uint64.parquet" => "substitute",
        _ => "0703911234",
    };
    let mut by_number: std::collections::BTreeMap<&str, std::collections::BTreeSet<&String>> =
        Default::default();
    for (name, key) in &keys {
        assert!(
            key.starts_with("person_key\n") && key.lines().nth(1).unwrap().len() == 64,
            "{name}: {key}"
        );
        by_number.entry(number(name)).or_default().insert(key);
    }
    assert_eq!(by_number.len(), 3, "{keys:?}");
    assert!(by_number.values().all(|k| k.len() == 1), "{keys:?}");
    let distinct: std::collections::BTreeSet<_> = by_number.values().flatten().collect();
    assert_eq!(distinct.len(), 3, "{keys:?}");

    // The report and its log lines.
    let output = work
        .praktik()
        .args(["report", "type-effects", "--period", "2024Q1", "-vv"])
        .output()
        .unwrap();
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    succeeded(&output);
    for form in FORMS {
        assert!(!log.contains(form), "a log line holds {form}:\n{log}");
    }
    for folder in ["store", "out"] {
        let scan = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/privacy_scan.py"
            ))
            .arg(work.path().join(folder))
            .args(FORMS)
            .output()
            .expect("python3 runs");
        assert!(
            scan.status.success(),
            "{folder}: {}{}",
            String::from_utf8_lossy(&scan.stdout),
            String::from_utf8_lossy(&scan.stderr)
        );
    }
}

#[test]
fn the_salt_and_the_token_stay_out_of_every_output() {
    let work = Workdir::new();
    work.write("people.csv", person_csv("0703911234", "K1", "Handel"));
    let output = work
        .praktik()
        .args(["pull", "-vv", "--source", "file:people.csv"])
        .env("PRAKTIK_PERSON_SALT", SALT)
        .env("JOBINDSATS_TOKEN", "token-0815-secret")
        .output()
        .unwrap();
    assert!(output.status.success());
    let seen = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !seen.contains(SALT) && !seen.contains("token-0815-secret"),
        "{seen}"
    );
}

#[test]
fn sql_cannot_write_to_the_store_or_the_disk() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let before = work.table_files();
    let target = work.path().join("copied.csv");
    for statement in [
        format!("COPY (SELECT * FROM outcomes) TO '{}'", target.display()),
        format!("COPY outcomes TO '{}' STORED AS CSV", target.display()),
        "INSERT INTO outcomes SELECT * FROM outcomes".to_string(),
        "DELETE FROM outcomes".to_string(),
        "UPDATE outcomes SET share_pct = 0".to_string(),
        format!(
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{}'",
            work.path().display()
        ),
        "CREATE TABLE x AS SELECT * FROM outcomes".to_string(),
        "DROP TABLE outcomes".to_string(),
    ] {
        let stderr = work.fails(&["query", &statement], 1);
        assert!(stderr.contains("error"), "{statement}: {stderr}");
        let output = work
            .praktik()
            .arg("sql")
            .write_stdin(format!("{statement};\n"))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            said.to_lowercase().contains("error") || said.contains("not supported"),
            "{statement}: {said}"
        );
        assert!(!target.exists(), "{statement} wrote a file");
        assert_eq!(work.table_files(), before, "{statement} changed the table");
    }
    // The table still answers.
    work.ok(&["query", "SELECT COUNT(*) FROM outcomes"]);
}

/// Every named query that counts people, on a real Delta store holding
/// cells of 1 to 4 and of 5 or more: the small ones come back NULL, and the
/// base of every shown cell (its first count column) is 5 or more.
#[test]
fn every_named_query_suppresses_cells_of_fewer_than_5_on_a_real_store() {
    let work = Workdir::new();
    // Outcomes: five municipalities with 1 to 5 ended internships.
    let mut outcomes = String::from(
        "period,area_code,area_name,benefit_group,ended,in_work_or_education,share_pct\n2019Q3,000,,dagpenge,1000,300,30.0\n",
    );
    for (code, ended) in [("101", 1), ("751", 2), ("851", 3), ("461", 4), ("730", 5)] {
        let share = (1000.0_f64 / f64::from(ended)).round() / 10.0;
        outcomes.push_str(&format!("2019Q3,{code},,dagpenge,{ended},1,{share:.1}\n"));
    }
    work.write("outcomes.csv", outcomes);
    work.ok(&["pull", "--source", "file:outcomes.csv"]);
    // Internships: in 101, 4 jobpraktik and 6 udviklingspraktik; in 751, 3.
    let mut people = String::from(
        "Praktik_id;Person;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Status 3 mdr;Status 6 mdr;Status 12 mdr\n",
    );
    for (i, (code, kind)) in std::iter::repeat_n(("101", "jobpraktik"), 4)
        .chain(std::iter::repeat_n(("101", "udviklingspraktik"), 6))
        .chain(std::iter::repeat_n(("751", "jobpraktik"), 3))
        .enumerate()
    {
        people.push_str(&format!(
            "K{i};P{i};{code};dagpenge;{kind};2024-03-01;2024-05-0{};ordinary_job;education;on_benefit\n",
            1 + i % 9
        ));
    }
    // And one internship that ended in 2024Q3: a quarter of one person.
    people.push_str(
        "K99;P99;101;dagpenge;jobpraktik;2024-06-01;2024-07-15;ordinary_job;education;on_benefit\n",
    );
    work.write("people.csv", people);
    work.ok(&["pull", "--source", "file:people.csv"]);

    let query = |name: &str, params: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["query", "--file", name, "--format", "json"];
        for p in params {
            args.extend(["--param", p]);
        }
        let (out, _) = work.ok(&args);
        serde_json::from_str(&out).unwrap()
    };
    let checks: [(&str, &[&str], &[&str]); 7] = [
        (
            "effect_by_area",
            &["period=2019Q3", "areas=101,751,851,461,730"],
            &["ended", "in_work_or_education", "share_pct"],
        ),
        (
            "trend",
            &["area=101", "period=2019Q3", "quarters=4"],
            &["ended", "in_work_or_education", "share_pct"],
        ),
        (
            "effect_by_type",
            &["period=2024Q2", "municipality=101"],
            &["n", "x", "share_pct", "low_pct", "high_pct"],
        ),
        (
            "outcomes_by_type",
            &["period=2024Q2", "municipality=101"],
            &["internships", "share_pct"],
        ),
        (
            "effect_by_municipality",
            &["period=2024Q2"],
            &["n", "x", "share_pct"],
        ),
        ("persons_by_year", &[], &["people", "internships"]),
        ("stored_internship_extracts", &[], &["row_count"]),
    ];
    for (name, params, counts) in checks {
        let rows = query(name, params);
        let (mut hidden, mut shown) = (0, 0);
        for row in &rows {
            let suppressed = match row.get("suppressed") {
                Some(flag) => flag.as_bool().unwrap(),
                None => row.get(counts[0]).is_none_or(serde_json::Value::is_null),
            };
            for column in counts {
                let value = row.get(*column).unwrap_or(&serde_json::Value::Null);
                if suppressed {
                    assert!(
                        value.is_null(),
                        "{name}: {column} shown in a suppressed row {row}"
                    );
                } else if let Some(n) = value.as_i64().filter(|_| column == &counts[0]) {
                    // The base of a shown cell (the people behind it) is 5 or more.
                    assert!(n >= 5, "{name}: {column} = {n} in {row}");
                }
            }
            if suppressed { hidden += 1 } else { shown += 1 }
        }
        assert!(
            hidden > 0,
            "{name}: the crafted store has small cells: {rows:?}"
        );
        assert!(
            shown > 0 || name == "trend",
            "{name}: and large ones: {rows:?}"
        );
    }
}

#[test]
fn chromium_runs_with_no_secret_in_its_environment() {
    use std::os::unix::fs::PermissionsExt;
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    // A stand-in for Chromium that writes down the environment it was given
    // and prints a one-line "PDF".
    let fake = work.write(
        "fake-chromium",
        "#!/bin/sh\nenv > \"$(dirname \"$0\")/chromium-env.txt\"\nfor a in \"$@\"; do case \"$a\" in --print-to-pdf=*) echo '%PDF-1.4 stand-in' > \"${a#--print-to-pdf=}\";; esac; done\n",
    );
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    work.write(
        "praktik.toml",
        format!("chromium = \"{}\"\n", fake.display()),
    );
    let output = work
        .praktik()
        .args(["report", "letter", "--period", "2019Q3", "--format", "pdf"])
        .env("JOBINDSATS_TOKEN", "token-0815-secret")
        .env("PRAKTIK_PERSON_SALT", SALT)
        .output()
        .unwrap();
    succeeded(&output);
    let env = work.read("chromium-env.txt");
    assert!(env.contains("HOME="), "the stand-in ran: {env}");
    for secret in ["token-0815-secret", SALT, "JOBINDSATS", "PRAKTIK_"] {
        assert!(!env.contains(secret), "Chromium saw {secret}:\n{env}");
    }
}
