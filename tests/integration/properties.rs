//! Property tests for every parser at the front door: random bodies and
//! valid bodies mutated at random never panic; each either loads or is
//! rejected with a message. Each parser gets 5,000 cases, run through the
//! whole front door (classify, CPR screen, landing, parsing, checking).

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use praktik::extract::{Extract, Format};
use praktik::source::jobindsats::Settings;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const CASES: u32 = 5_000;

fn outcomes_csv() -> Vec<u8> {
    String::from_utf8(praktik::source::demo::extract_csv(
        "2019Q3".parse().unwrap(),
    ))
    .unwrap()
    .lines()
    .take(12)
    .map(|l| format!("{l}\n"))
    .collect::<String>()
    .into_bytes()
}

fn person_csv() -> Vec<u8> {
    b"Praktik_id;CPR;Kommune;Ydelsesgruppe;Praktiktype;Startdato;Slutdato;Timer pr. uge;Status 3 mdr\n\
K1;0101901234;101;dagpenge;jobpraktik;01-01-2024;2024-02-01;18,5;Uddannelse\n\
K2;P2;751;kontanthjaelp_jobparat;udviklingspraktik;2024-01-02;2024-02-02;37;\n"
        .to_vec()
}

fn person_jsonl() -> Vec<u8> {
    b"{\"internship_id\":\"J1\",\"person_key\":\"010190-1234\",\"municipality_code\":\"101\",\"benefit_group\":\"dagpenge\",\"internship_type\":\"jobpraktik\",\"start_date\":\"2024-01-01\",\"end_date\":\"2024-02-01\"}\n\
{\"internship_id\":\"J2\",\"person_key\":\"P2\",\"municipality_code\":\"851\",\"benefit_group\":\"dagpenge\",\"internship_type\":\"kompetencepraktik\",\"start_date\":\"2024-01-02\",\"end_date\":\"2024-02-02\"}\n"
        .to_vec()
}

fn person_parquet() -> Vec<u8> {
    let text = |values: [&str; 2]| -> ArrayRef { Arc::new(StringArray::from(values.to_vec())) };
    let columns = [
        ("internship_id", text(["Q1", "Q2"])),
        ("person_key", text(["P1", "P2"])),
        ("municipality_code", text(["101", "461"])),
        ("benefit_group", text(["dagpenge", "dagpenge"])),
        ("internship_type", text(["jobpraktik", "jobpraktik"])),
        ("start_date", text(["2024-01-01", "2024-01-02"])),
        ("end_date", text(["2024-02-01", "2024-02-02"])),
    ];
    crate::support::parquet_bytes(columns.to_vec())
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/jobindsats/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A change to a body: overwrite, insert or delete a byte, or cut it off.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the parsers more often than others.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b";,\n\r\"{}[]:-0123456789 ".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut body: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = body.len();
        match *m {
            Mutation::Set(i, b) if len > 0 => body[i % len] = b,
            Mutation::Insert(i, b) => body.insert(i % (len + 1), b),
            Mutation::Delete(i) if len > 0 => {
                body.remove(i % len);
            }
            Mutation::Truncate(i) => body.truncate(i % (len + 1)),
            _ => {}
        }
    }
    body
}

/// Random bytes half the time, a mutated valid body the other half.
fn bodies(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(mutation(), 1..8).prop_map(move |m| apply(seed.clone(), &m)),
    ]
}

fn front_door(format: Format, name: &str, seed: Vec<u8>) {
    let raw = tempfile::tempdir().unwrap();
    let settings = Settings::default();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let (loaded, rejected) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner
        .run(&bodies(seed), |body| {
            let extract = Extract::new("file", name.to_string(), format, body, None);
            match praktik::pipeline::check_body(raw.path(), extract, &settings, Some("salt")) {
                Ok(_) => loaded.set(loaded.get() + 1),
                Err(error) => {
                    let message = praktik::describe_error(&error);
                    prop_assert!(message.len() > 20, "{message}");
                    prop_assert!(
                        !message.contains("0101901234") && !message.contains("010190-1234"),
                        "{message}"
                    );
                    rejected.set(rejected.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    // The valid body itself loads; random ones mostly do not.
    assert!(
        rejected.get() > 0,
        "{name}: {} loaded, {} rejected",
        loaded.get(),
        rejected.get()
    );
}

#[test]
fn outcomes_csv_never_panics() {
    let seed = outcomes_csv();
    let raw = tempfile::tempdir().unwrap();
    let valid = Extract::new(
        "file",
        "o.csv".into(),
        Format::OutcomesCsv,
        seed.clone(),
        None,
    );
    praktik::pipeline::check_body(raw.path(), valid, &Settings::default(), None).unwrap();
    front_door(Format::OutcomesCsv, "outcomes.csv", seed);
}

#[test]
fn person_csv_never_panics() {
    front_door(Format::InternshipsCsv, "people.csv", person_csv());
}

#[test]
fn json_lines_never_panic() {
    front_door(Format::InternshipsJsonl, "people.jsonl", person_jsonl());
}

#[test]
fn parquet_never_panics() {
    front_door(
        Format::InternshipsParquet,
        "people.parquet",
        person_parquet(),
    );
}

#[test]
fn jobindsats_v3_never_panics() {
    front_door(
        Format::JobindsatsV3,
        "jobindsats v3",
        fixture("v3-data-2019Q03.json"),
    );
}

#[test]
fn jobindsats_v2_never_panics() {
    front_door(
        Format::JobindsatsV2,
        "jobindsats v2",
        fixture("v2-data-2019Q3.json"),
    );
}
