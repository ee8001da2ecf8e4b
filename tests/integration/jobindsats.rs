//! The Jobindsats source against a real HTTP server on loopback (wiremock)
//! that plays the API's responses from tests/fixtures/jobindsats, including
//! its failures. After every failure the store is exactly as it was.

use std::time::{Duration, Instant};

use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::Workdir;

const TOKEN: &str = "tok-SECRET-4711-do-not-leak";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/jobindsats/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn v3_body() -> String {
    String::from_utf8(fixture("v3-data-2019Q03.json")).unwrap()
}

/// A folder configured for the Jobindsats source at `url`.
fn workdir(url: &str, extra: &str) -> Workdir {
    let work = Workdir::new();
    work.write(
        "praktik.toml",
        format!(
            "source = \"jobindsats\"\n\n[jobindsats]\nurl = \"{url}\"\nbackoff_ms = 10\ntimeout_secs = 2\nretries = 2\n{extra}"
        ),
    );
    work
}

/// Run praktik in `work` with the key set; (success, stdout, stderr).
fn praktik(work: &Workdir, args: &[&str]) -> (bool, String, String) {
    let output = work
        .praktik()
        .env("JOBINDSATS_TOKEN", TOKEN)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

async fn v3_server(periods: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/table/Y14D03"))
        .and(header("Authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "id": "Y14D03", "periods": periods })),
        )
        .mount(&server)
        .await;
    server
}

fn v3_data(period: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/v3/data/Y14D03"))
        .and(query_param("period.Q", period))
        .and(header("Authorization", format!("Bearer {TOKEN}").as_str()))
}

/// Table 1 as the Markdown letter shows it, and its sentences.
fn letter_parts(md: &str) -> (Vec<String>, Vec<String>) {
    let table = md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Jobcenter"))
        .map(str::to_string)
        .collect();
    let sentences = md
        .lines()
        .filter(|l| {
            l.starts_with("Det fremgår")
                || l.starts_with("Kommunen har")
                || l.starts_with("Derimod")
        })
        .map(str::to_string)
        .collect();
    (table, sentences)
}

fn demo_letter() -> String {
    let demo = Workdir::new();
    demo.ok(&["pull", "--period", "2019Q3"]);
    demo.ok(&["report", "letter", "--format", "md"]);
    demo.read("out/reports/2019Q3/letter.md")
}

#[tokio::test(flavor = "multi_thread")]
async fn v3_figures_make_the_same_letter_as_the_demo() {
    let server = v3_server(&["2019Q02", "2019Q03"]).await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("v3-data-2019Q03.json")))
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "");
    let (ok, _, stderr) = praktik(&work, &["pull", "--period", "2019Q3"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("stored 22 rows for 2019Q3 as version 0"),
        "{stderr}"
    );

    let (csv, _) = work.ok(&[
        "query",
        "SELECT area_code, ended, in_work_or_education, share_pct FROM outcomes WHERE benefit_group = 'dagpenge' AND area_code IN ('000', '101') ORDER BY area_code",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv, "area_code,ended,in_work_or_education,share_pct\n000,35120,,32.5\n101,2875,,33.0\n",
        "counts the API does not give stay missing"
    );
    let (csv, _) = work.ok(&[
        "query",
        "SELECT ended, share_pct FROM outcomes WHERE area_code = '563'",
        "--format",
        "csv",
    ]);
    assert_eq!(
        csv, "ended,share_pct\n,\n",
        "a suppressed cell is null, never zero"
    );

    work.ok(&["report", "letter", "--format", "md"]);
    let md = work.read("out/reports/2019Q3/letter.md");
    assert!(md.contains("Kilde: Jobindsats\n"), "{md}");
    assert!(!md.contains("DEMODATA"));
    assert_eq!(
        letter_parts(&md),
        letter_parts(&demo_letter()),
        "same table and sentences as the demo source"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_figures_make_the_same_letter_as_the_demo() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/tables/Y14D03/json"))
        .and(header("Authorization", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!([{ "Period": ["2019Q2", "2019Q3"], "Area": ["Hele landet"] }]),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/data/Y14D03/json"))
        .and(header("Authorization", TOKEN))
        .and(body_json(
            serde_json::json!({ "area": "*", "period": ["2019Q3"] }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("v2-data-2019Q3.json")))
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "api = \"v2\"\n");
    let (ok, _, stderr) = praktik(&work, &["pull", "--period", "2019Q3"]);
    assert!(ok, "{stderr}");
    work.ok(&["report", "letter", "--format", "md"]);
    let md = work.read("out/reports/2019Q3/letter.md");
    assert_eq!(letter_parts(&md), letter_parts(&demo_letter()));
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_fetches_what_is_missing_and_stores_a_revision_as_a_new_version() {
    let server = v3_server(&["2019Q02", "2019Q03"]).await;
    let q2 = v3_body().replace("2019Q03", "2019Q02");
    v3_data("2019Q02")
        .respond_with(ResponseTemplate::new(200).set_body_string(q2))
        .mount(&server)
        .await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("v3-data-2019Q03.json")))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "recheck_latest = 1\n");

    let (ok, _, stderr) = praktik(&work, &["pull"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("stored 44 rows for 2019Q2–2019Q3 (2 quarters) as version 0"),
        "{stderr}"
    );

    // Nothing new: only the newest quarter is asked again, and nothing changes.
    let (ok, _, stderr) = praktik(&work, &["pull"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("nothing changed"), "{stderr}");

    // STAR revises 2019Q3: the next pull stores it as version 1.
    let revised = v3_body().replace("14.8", "15.1");
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_string(revised))
        .mount(&server)
        .await;
    let (ok, _, stderr) = praktik(&work, &["pull"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("stored 22 rows for 2019Q3 as version 1"),
        "{stderr}"
    );
    let (status, _) = work.ok(&["status"]);
    assert!(status.contains("version 1, 2 quarters"), "{status}");
    assert!(
        status.contains("source jobindsats  periods 2019Q3"),
        "{status}"
    );

    let data_requests = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/v3/data"))
        .count();
    assert_eq!(data_requests, 4, "2 quarters, then the newest twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried() {
    let server = v3_server(&["2019Q03"]).await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("v3-data-2019Q03.json")))
        .with_priority(3)
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "");
    let started = Instant::now();
    let (ok, _, stderr) = praktik(&work, &["pull", "--period", "2019Q3", "-v"]);
    assert!(ok, "{stderr}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert!(
        stderr.contains("HTTP 500") && stderr.contains("HTTP 429"),
        "each retry is logged: {stderr}"
    );
}

/// A failure case: the message a user sees, and the table untouched.
async fn fails_cleanly(work: &Workdir, args: &[&str], expected: &[&str]) -> String {
    let before = work.table_files();
    let (ok, stdout, stderr) = praktik(work, args);
    assert!(!ok, "expected a failure:\n{stderr}");
    assert!(stdout.is_empty());
    for text in expected {
        assert!(stderr.contains(text), "expected `{text}` in:\n{stderr}");
    }
    assert!(
        !stderr.contains(TOKEN),
        "the key leaked into an error:\n{stderr}"
    );
    assert_eq!(work.table_files(), before, "the table changed");
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_end_with_a_clear_message_and_an_unchanged_store() {
    let server = v3_server(&["2019Q02", "2019Q03"]).await;
    let work = workdir(&server.uri(), "");
    // Start from a store with data in it.
    work.ok(&["pull", "--source", "demo", "--period", "2019Q3"]);

    let q2 = |template: ResponseTemplate| v3_data("2019Q02").respond_with(template);
    let mut cases: Vec<(&str, ResponseTemplate, Vec<&str>)> = vec![
        (
            "server error every time",
            ResponseTemplate::new(503),
            vec![
                "gave up on GET",
                "/v3/data/Y14D03?period.Q=2019Q02",
                "after 3 attempts",
                "HTTP 503",
            ],
        ),
        (
            "slower than the timeout",
            ResponseTemplate::new(200)
                .set_body_string(v3_body())
                .set_delay(Duration::from_secs(4)),
            vec!["no complete answer within the timeout (2 s)"],
        ),
        (
            "not JSON",
            ResponseTemplate::new(200).set_body_string("<html>Service Unavailable</html>"),
            vec![
                "the body is not JSON (32 bytes received",
                "period.Q=2019Q02",
                "the extract was rejected",
            ],
        ),
        (
            "cut-off JSON",
            ResponseTemplate::new(200).set_body_string(&v3_body()[..600]),
            vec!["the body is not JSON (600 bytes received"],
        ),
        (
            "wrong key",
            ResponseTemplate::new(401).set_body_bytes(fixture("v2-bad-key.json")),
            vec![
                "refused the key (HTTP 401)",
                "wrong or has expired",
                "JOBINDSATS_TOKEN",
            ],
        ),
        (
            "422",
            ResponseTemplate::new(422).set_body_bytes(fixture("v3-error-422.json")),
            vec![
                "cannot serve",
                "(HTTP 422): Unknown period type: K",
                "5d0c7d1e-8a53-4f4e-9a57-3c2f0b1e9a11",
            ],
        ),
        (
            "404",
            ResponseTemplate::new(404).set_body_string("no such table"),
            vec!["answered GET", "with HTTP 404: no such table"],
        ),
        (
            "a column missing",
            ResponseTemplate::new(200).set_body_string(
                v3_body()
                    .replace(
                        "\"I ordinær beskæftigelse eller uddannelse 3 mdr. efter (pct.)\"",
                        "\"Andel (pct.)\"",
                    )
                    .replace("2019Q03", "2019Q02"),
            ),
            vec![
                "no column for the share in work or education",
                "Andel (pct.)",
            ],
        ),
        (
            "an unknown area",
            ResponseTemplate::new(200).set_body_string(
                v3_body()
                    .replace("\"Randers\"", "\"Randerz\"")
                    .replace("2019Q03", "2019Q02"),
            ),
            vec![
                "row 19: the area `Randerz` is not a known",
                "[jobindsats.areas]",
            ],
        ),
        (
            "another quarter than asked",
            ResponseTemplate::new(200).set_body_string(v3_body()),
            vec![
                "row 1, column `period`: `2019Q03` is not valid: the extract was pulled for 2019Q2",
            ],
        ),
    ];
    for (what, template, expected) in cases.drain(..) {
        server.reset().await;
        Mock::given(method("GET"))
            .and(path("/v3/table/Y14D03"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({ "periods": ["2019Q02", "2019Q03"] })),
            )
            .mount(&server)
            .await;
        q2(template).mount(&server).await;
        eprintln!("case: {what}");
        fails_cleanly(&work, &["pull", "--period", "2019Q2"], &expected).await;
    }

    fails_cleanly(
        &work,
        &["pull", "--period", "2031Q1"],
        &["the Jobindsats table Y14D03 does not list 2031Q1; it has 2019Q2 to 2019Q3"],
    )
    .await;

    let refused = workdir("http://127.0.0.1:9", "");
    fails_cleanly(
        &refused,
        &["pull"],
        &[
            "gave up on GET http://127.0.0.1:9/v3/table/Y14D03",
            "could not connect",
        ],
    )
    .await;

    let no_key = work
        .praktik()
        .args(["pull"])
        .env_remove("JOBINDSATS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&no_key.stderr)
            .contains("no Jobindsats key: set the environment variable JOBINDSATS_TOKEN")
    );
}

/// The quarters of a pull are checked side by side; of two bad ones the
/// error of the first is the one given, as when they were checked one by
/// one, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn of_two_bad_quarters_the_first_is_named() {
    let server = v3_server(&["2019Q02", "2019Q03"]).await;
    let work = workdir(&server.uri(), "");
    work.ok(&["pull", "--source", "demo", "--period", "2019Q3"]);
    v3_data("2019Q02")
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                v3_body()
                    .replace("\"Randers\"", "\"Randerz\"")
                    .replace("2019Q03", "2019Q02"),
            ),
        )
        .mount(&server)
        .await;
    v3_data("2019Q03")
        .respond_with(
            ResponseTemplate::new(200).set_body_string("<html>Service Unavailable</html>"),
        )
        .mount(&server)
        .await;
    let stderr = fails_cleanly(
        &work,
        &["pull", "--from", "2019Q2", "--to", "2019Q3"],
        &["row 19: the area `Randerz` is not a known"],
    )
    .await;
    assert!(!stderr.contains("not JSON"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_area_can_be_skipped_with_a_warning() {
    let server = v3_server(&["2019Q03"]).await;
    let body = v3_body().replace("\"Randers\"", "\"Randerz\"");
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "unknown_areas = \"skip\"\n");
    let (ok, _, stderr) = praktik(&work, &["pull", "--period", "2019Q3"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("unknown area left out") && stderr.contains("Randerz"),
        "{stderr}"
    );
    assert!(stderr.contains("stored 19 rows"), "{stderr}");
}

#[test]
fn a_body_cut_off_in_transfer_names_the_bytes_received() {
    // A server that promises 5000 bytes, sends 100 and hangs up.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(3) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n";
            let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
            let _ = std::io::Write::write_all(&mut stream, &[b' '; 100]);
        }
    });
    let work = workdir(&url, "");
    let (ok, _, stderr) = praktik(&work, &["pull"]);
    assert!(!ok);
    assert!(
        stderr.contains("the connection broke after 100 bytes of the body"),
        "{stderr}"
    );
    assert!(stderr.contains(&url), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_is_never_written_anywhere() {
    let server = v3_server(&["2019Q03"]).await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fixture("v3-data-2019Q03.json")))
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "");
    let (ok, stdout, stderr) = praktik(&work, &["-vv", "pull", "--period", "2019Q3"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("DEBUG"), "the most verbose log was on");
    let (_, stdout2, stderr2) = praktik(&work, &["-vv", "report", "letter", "--format", "html,md"]);
    for text in [stdout, stderr, stdout2, stderr2] {
        assert!(!text.contains(TOKEN), "the key is in the output");
    }
    let mut files = Vec::new();
    crate::support::collect_files(work.path(), &mut files);
    assert!(files.len() > 5);
    for file in files {
        if file.file_name().is_some_and(|n| n == "praktik.toml") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the key is in {}",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_the_map_lost_is_a_warning_and_a_recheck_that_would_drop_it_is_refused() {
    let server = v3_server(&["2019Q03"]).await;
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_string(v3_body()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // The API renames a group between two runs; the map does not know it.
    let renamed = v3_body().replace("\"A-dagpenge\"", "\"Dagpenge\"");
    v3_data("2019Q03")
        .respond_with(ResponseTemplate::new(200).set_body_string(renamed))
        .mount(&server)
        .await;
    let work = workdir(&server.uri(), "");
    let (ok, _, stderr) = praktik(&work, &["pull"]);
    assert!(ok, "{stderr}");
    let before = work.table_files();
    let (ok, _, stderr) = praktik(&work, &["pull"]);
    assert!(!ok);
    assert!(
        stderr.contains("WARN") && stderr.contains("Dagpenge / Målgrupper i alt"),
        "the unmapped label is a warning at default verbosity: {stderr}"
    );
    assert!(
        stderr.contains("would take the benefit group(s) dagpenge out of 2019Q3"),
        "{stderr}"
    );
    assert_eq!(work.table_files(), before);
}
