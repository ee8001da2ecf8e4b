//! Queries spread over DataFusion Distributed workers: three `praktik
//! worker` processes on loopback, and every named query and a set of an
//! analyst's queries answering the same distributed as in one process.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Workdir;

/// Worker processes, killed when dropped.
pub struct Workers {
    pub children: Vec<Child>,
    pub urls: Vec<String>,
}

impl Workers {
    /// `count` workers started in `work` (so that they read its
    /// `praktik.toml`), with `env` set.
    pub fn start(work: &Workdir, count: usize, env: &[(&str, &str)]) -> Workers {
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..count {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("praktik"));
            for (name, _) in std::env::vars() {
                if name.starts_with("PRAKTIK_") {
                    cmd.env_remove(name);
                }
            }
            cmd.current_dir(work.path())
                .args(["worker", "--listen", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (name, value) in env {
                cmd.env(name, value);
            }
            children.push(cmd.spawn().unwrap());
            urls.push(format!("http://127.0.0.1:{port}"));
        }
        for url in &urls {
            let address = url.trim_start_matches("http://");
            let started = Instant::now();
            while TcpStream::connect(address).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the worker at {url} did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Workers { children, urls }
    }

    pub fn flag(&self) -> String {
        self.urls.join(",")
    }

    /// Stop the `i`th worker as a crash would.
    pub fn kill(&mut self, i: usize) {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every named query with parameters that fit the demo store, and an
/// analyst's queries over all quarters.
pub const QUERIES: &[&[&str]] = &[
    &[
        "--file",
        "effect_by_area",
        "--param",
        "period=2019Q3",
        "--param",
        "areas=101,751,851,461,561/563,730",
    ],
    &[
        "--file",
        "effect_by_municipality",
        "--param",
        "period=2024Q4",
    ],
    &[
        "--file",
        "effect_by_type",
        "--param",
        "period=2024Q4",
        "--param",
        "municipality=101",
    ],
    &[
        "--file",
        "outcomes_by_type",
        "--param",
        "period=2024Q2",
        "--param",
        "municipality=*",
    ],
    &["--file", "persons_by_year"],
    &[
        "--file",
        "quarter_checks",
        "--param",
        "period=2024Q4",
        "--param",
        "areas=101,751,851,461,561/563,730",
    ],
    &[
        "--file",
        "briefing_trend",
        "--param",
        "area=101",
        "--param",
        "areas=101,751,851,461,561/563,730",
        "--param",
        "period=2024Q4",
        "--param",
        "quarters=8",
    ],
    &[
        "--file",
        "trend",
        "--param",
        "area=101",
        "--param",
        "period=2024Q4",
        "--param",
        "quarters=8",
    ],
    &["--file", "stored_extracts"],
    &["--file", "stored_groups"],
    &["--file", "stored_internship_extracts"],
    &[
        "SELECT period, benefit_group, SUM(ended) AS ended, ROUND(AVG(share_pct), 6) AS mean FROM outcomes GROUP BY period, benefit_group ORDER BY period, benefit_group",
    ],
    &[
        "SELECT a.region, SUM(o.ended) AS ended FROM outcomes o JOIN areas a ON a.area_code = o.area_code WHERE o.period >= '2023Q1' AND a.area_kind = 'kommune' GROUP BY a.region ORDER BY ended DESC, a.region",
    ],
    &[
        "SELECT period, area_code, share_pct, RANK() OVER (PARTITION BY period ORDER BY share_pct DESC, area_code) AS r FROM outcomes WHERE benefit_group = 'dagpenge' ORDER BY period, r LIMIT 200",
    ],
    &[
        "SELECT municipality_code, COUNT(DISTINCT person_key) AS persons, COUNT(*) AS internships FROM internships GROUP BY municipality_code ORDER BY persons DESC, municipality_code LIMIT 30",
    ],
    &[
        "WITH rates AS (SELECT area_code, SUBSTR(period, 1, 4) AS year, SUM(in_work_or_education) AS worked, SUM(ended) AS ended FROM outcomes GROUP BY 1, 2), national AS (SELECT year, SUM(worked) * 1.0 / SUM(ended) AS rate FROM rates GROUP BY year) SELECT r.area_code, r.year, ROUND(r.worked * 1.0 / r.ended - n.rate, 9) AS above FROM rates r JOIN national n USING (year) WHERE r.ended > 0 ORDER BY above DESC, r.area_code, r.year LIMIT 25",
    ],
];

/// The query's CSV, in one process or on `workers`.
pub fn answer(run: &dyn Fn(&[&str]) -> String, query: &[&str], workers: Option<&str>) -> String {
    let mut args: Vec<&str> = Vec::new();
    if let Some(workers) = workers {
        args.extend(["--workers", workers]);
    }
    args.push("query");
    args.extend(query);
    args.extend(["--format", "csv"]);
    run(&args)
}

#[test]
fn every_query_answers_the_same_on_three_workers_as_in_one_process() {
    let work = Workdir::new();
    work.ok(&["pull"]);
    // Small tasks, so that even the demo store is spread over every worker.
    work.write("praktik.toml", "[engine]\nbytes_per_task = 1\n");
    let mut workers = Workers::start(&work, 3, &[]);
    let run = |args: &[&str]| work.ok(args).0;
    for query in QUERIES {
        let local = answer(&run, query, None);
        assert!(local.lines().count() > 1, "{query:?} returns rows");
        assert_eq!(
            answer(&run, query, Some(&workers.flag())),
            local,
            "{query:?}"
        );
    }
    // A report reads the same through the workers.
    let letter = |workers: Option<&str>| {
        let mut args = Vec::new();
        if let Some(workers) = workers {
            args.extend(["--workers", workers]);
        }
        args.extend(["report", "letter", "--format", "md"]);
        work.ok(&args);
        work.read("out/reports/2019Q3/letter.md")
    };
    assert_eq!(letter(Some(&workers.flag())), letter(None));
    // The plan is really spread: stages of tasks on the workers.
    let (plan, _) = work.ok(&[
        "--workers",
        &workers.flag(),
        "query",
        "EXPLAIN ANALYZE SELECT benefit_group, COUNT(*) FROM outcomes GROUP BY benefit_group",
        "--format",
        "csv",
    ]);
    assert!(
        plan.contains("DistributedExec") && plan.contains("Stage 1"),
        "{plan}"
    );
    assert!(plan.contains("tasks=3"), "every worker has a task: {plan}");

    // A worker gone: an error that says so, or the right answer; never a
    // wrong one.
    workers.kill(1);
    let query = QUERIES[11];
    let local = answer(&run, query, None);
    let mut args = vec!["--workers", &workers.urls[0], "query"];
    let flag = workers.flag();
    args[1] = &flag;
    args.extend(query);
    args.extend(["--format", "csv"]);
    let output = work.praktik().args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        assert_eq!(stdout, local);
    } else {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stdout.is_empty(), "no partial answer: {stdout}");
        assert!(
            stderr.contains(&workers.urls[1]) || stderr.contains("worker"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_worker_killed_during_a_query_ends_it_with_an_error_never_a_wrong_answer() {
    let work = Workdir::new();
    work.ok(&["pull"]);
    work.write("praktik.toml", "[engine]\nbytes_per_task = 1\n");
    let mut workers = Workers::start(&work, 3, &[]);
    // Every pair of internships ended in the same year: seconds of work on
    // every worker. The right count, cheaply, in one process.
    let pairs = "SELECT COUNT(*) AS pairs FROM internships a JOIN internships b ON SUBSTR(a.period, 1, 4) = SUBSTR(b.period, 1, 4)";
    let right = work
        .ok(&[
            "query",
            "SELECT SUM(n * n) AS pairs FROM (SELECT COUNT(*) AS n FROM internships GROUP BY SUBSTR(period, 1, 4))",
            "--format",
            "csv",
        ])
        .0;
    let mut query = Command::new(assert_cmd::cargo::cargo_bin("praktik"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PRAKTIK_") {
            query.env_remove(name);
        }
    }
    let query = query
        .current_dir(work.path())
        .args([
            "--workers",
            &workers.flag(),
            "query",
            pairs,
            "--format",
            "csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut query = query;
    assert!(
        query.try_wait().unwrap().is_none(),
        "the query still runs when the worker dies"
    );
    workers.kill(1);
    let output = query.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    if output.status.success() {
        // The dead worker had done its part: then the answer is whole.
        assert_eq!(stdout, right);
    } else {
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stdout.is_empty(), "no partial answer: {stdout}");
        // The dead worker named; or, should it still have accepted a
        // connection while its process ended, the broken connection said.
        let named = stderr.contains(&format!("the worker(s) {}/ do not answer", workers.urls[1]));
        let broken = stderr.contains("a connection to a worker broke during the query");
        assert!(
            (named || broken) && stderr.contains("not retried"),
            "{stderr}"
        );
    }
    // The others still answer, rightly.
    let left = format!("{},{}", workers.urls[0], workers.urls[2]);
    let (again, _) = work.ok(&["--workers", &left, "query", pairs, "--format", "csv"]);
    assert_eq!(again, right);
}

#[test]
fn workers_not_built_in_or_not_urls_are_clear_errors() {
    let work = Workdir::new();
    let err = work.fails(&["--workers", "not a url", "status"], 2);
    assert!(err.contains("not a worker URL"), "{err}");
}

#[test]
fn a_table_with_deletion_vectors_is_refused_not_misread() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    // Another writer upgraded the table to deletion vectors.
    work.write(
        "store/outcomes/_delta_log/00000000000000000001.json",
        "{\"commitInfo\":{\"timestamp\":1764400000000,\"operation\":\"SET TBLPROPERTIES\"}}\n\
         {\"protocol\":{\"minReaderVersion\":3,\"minWriterVersion\":7,\"readerFeatures\":[\"deletionVectors\"],\"writerFeatures\":[\"deletionVectors\"]}}\n",
    );
    let err = work.fails(
        &[
            "--workers",
            "http://127.0.0.1:9",
            "query",
            "SELECT COUNT(*) FROM outcomes",
        ],
        1,
    );
    assert!(
        err.contains("`outcomes` uses deletionVectors") && err.contains("without workers"),
        "{err}"
    );
    // In one process deltalake's own scan reads it.
    let (count, _) = work.ok(&[
        "query",
        "SELECT COUNT(*) AS n FROM outcomes",
        "--format",
        "csv",
    ]);
    assert_eq!(count, "n\n936\n");
}
