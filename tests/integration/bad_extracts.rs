//! Bad extracts: each is rejected whole with a message naming the file, the
//! line and the column, and the table is exactly as it was.

use crate::support::{Workdir, demo_csv, with_row};

/// (what is wrong, the extract, what the message must say)
fn catalogue() -> Vec<(&'static str, String, &'static str)> {
    let good = demo_csv("2019Q3");
    let header = good.lines().next().unwrap().to_string();
    let line_of = |area: &str, group: &str| {
        good.lines()
            .position(|l| l.contains(&format!(",{area},")) && l.contains(group))
            .unwrap()
            + 1
    };
    let kbh_line = line_of("101", "kontanthjaelp_jobparat");
    vec![
        (
            "share above 100",
            with_row(&good, "101", "kontanthjaelp_jobparat", "10,5,140.0"),
            "column `share_pct`: `140.0` is not valid: a share in percent lies between 0 and 100",
        ),
        (
            "negative count",
            with_row(&good, "101", "kontanthjaelp_jobparat", "-3,,"),
            "column `ended`: `-3` is not valid: a count cannot be below zero",
        ),
        (
            "more in work than ended",
            with_row(&good, "101", "kontanthjaelp_jobparat", "10,11,"),
            "column `in_work_or_education`: `11` is not valid: it is more than the 10 ended internships",
        ),
        (
            "share disagrees with counts",
            with_row(&good, "101", "kontanthjaelp_jobparat", "100,15,25.0"),
            "15 of 100 is 15.00 pct., which does not round to 25",
        ),
        (
            "count not a number",
            with_row(&good, "101", "kontanthjaelp_jobparat", "ti,,"),
            "column `ended`: `ti` is not valid: expected a whole number",
        ),
        (
            "unknown area",
            good.replacen("2019Q3,101,København,", "2019Q3,999,København,", 1),
            "column `area_code`: `999` is not valid",
        ),
        (
            "area name does not fit the code",
            good.replacen("2019Q3,101,København,", "2019Q3,101,Kobenhavn,", 1),
            "column `area_name`: `Kobenhavn` is not valid: area 101 is named `København`",
        ),
        (
            "unknown benefit group",
            good.replacen(",kontanthjaelp_jobparat,", ",kontanthjælp,", 1),
            "column `benefit_group`: `kontanthjælp` is not valid",
        ),
        (
            "period not a quarter",
            good.replacen("2019Q3,101,", "2019Q5,101,", 1),
            "column `period`: `2019Q5` is not valid: `2019Q5` is not a quarter",
        ),
        (
            "duplicate key",
            format!("{good}{}\n", good.lines().nth(kbh_line - 1).unwrap()),
            "repeats the key (period 2019Q3, area 101, benefit group kontanthjaelp_jobparat)",
        ),
        (
            "unknown column",
            extra_column(&good),
            "the header has the column `note`, which neither",
        ),
        (
            "missing column",
            format!(
                "{}\n{}",
                header.replace(",share_pct", ""),
                good.lines()
                    .skip(1)
                    .map(|l| l.rsplit_once(',').unwrap().0.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            "the header lacks the column `share_pct`",
        ),
        (
            "ragged line",
            good.replacen(
                "2019Q3,101,København,kontanthjaelp_jobparat,",
                "2019Q3,101,København,",
                1,
            ),
            "is not readable CSV",
        ),
        (
            "no rows",
            format!("{header}\n"),
            "the extract has no data rows",
        ),
        (
            "share of nothing",
            with_row(&good, "101", "kontanthjaelp_jobparat", "0,0,5.0"),
            "there is no share of zero ended internships",
        ),
    ]
}

fn extra_column(csv: &str) -> String {
    let lines: Vec<String> = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},note")
            } else {
                format!("{l},x")
            }
        })
        .collect();
    lines.join("\n") + "\n"
}

#[test]
fn every_bad_extract_is_rejected_whole_and_the_store_is_unchanged() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let before = work.table_files();
    let (status_before, _) = work.ok(&["status"]);
    for (what, body, expected) in catalogue() {
        work.write("bad.csv", &body);
        let stderr = work.fails(&["pull", "--source", "file:bad.csv"], 1);
        assert!(
            stderr.contains("the extract was rejected and the store is unchanged")
                || stderr.contains("rejected before anything of it was kept"),
            "{what}: {stderr}"
        );
        assert!(
            stderr.contains("bad.csv"),
            "{what}: names the input: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{what}: expected `{expected}` in:\n{stderr}"
        );
        assert_eq!(work.table_files(), before, "{what}: the table changed");
    }
    let (status_after, _) = work.ok(&["status"]);
    // The tables are as they were; only the run ledger has the failed pulls.
    let tables = |status: &str| status.split("last runs:").next().unwrap_or("").to_string();
    assert_eq!(tables(&status_before), tables(&status_after));
    assert!(
        status_after.contains("failed  source file:bad.csv"),
        "{status_after}"
    );
}

#[test]
fn a_rejected_extract_is_still_kept_under_raw() {
    let work = Workdir::new();
    work.write("bad.csv", "period,area_code\n2019Q3,101\n");
    work.fails(&["pull", "--source", "file:bad.csv"], 1);
    let index = work.read("store/raw/index.jsonl");
    assert!(index.contains("bad.csv"), "{index}");
}

#[test]
fn a_bad_line_is_named_by_its_number() {
    let work = Workdir::new();
    let good = demo_csv("2019Q3");
    let line = good
        .lines()
        .position(|l| l.starts_with("2019Q3,751,Aarhus,dagpenge,"))
        .unwrap()
        + 1;
    let bad = with_row(&good, "751", "dagpenge", "10,5,140.0");
    work.write("bad.csv", bad);
    let stderr = work.fails(&["pull", "--source", "file:bad.csv"], 1);
    assert!(
        stderr.contains(&format!("bad.csv: line {line}, column `share_pct`")),
        "{stderr}"
    );
}
