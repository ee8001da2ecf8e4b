//! Durability: one writer at a time; faults injected at every step of a pull
//! (failpoints, with the `failpoints` feature), kill -9 at many moments, four
//! writers at once, and a damaged store. After each, every table is exactly
//! as before or as after (read by Python `deltalake`, tests/table_state.py),
//! `store check` passes once `store vacuum` took the leftovers away, and the
//! next pull completes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Workdir, succeeded};

/// Each table's rows as Python `deltalake` reads them, by table.
fn state(work: &Workdir, with_time: bool) -> BTreeMap<String, String> {
    let mut command = Command::new("python3");
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/table_state.py"))
        .arg(work.path().join("store"));
    if with_time {
        command.arg("--with-pulled-at");
    }
    let output = command.output().expect("python3 runs");
    let text = succeeded(&output);
    let mut tables = BTreeMap::new();
    for section in text.split("== ").filter(|s| !s.is_empty()) {
        let name = section.split_whitespace().next().unwrap().to_string();
        tables.insert(name, section.to_string());
    }
    tables
}

/// Two states must be equal; on failure, say where they first differ.
fn assert_same(now: &BTreeMap<String, String>, expected: &BTreeMap<String, String>, what: &str) {
    for (table, rows) in expected {
        let got = now.get(table).map(String::as_str).unwrap_or("(missing)");
        if got != rows {
            let first = got
                .lines()
                .zip(rows.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("got      {a}\nexpected {b}"))
                .unwrap_or_else(|| "one is a prefix of the other".into());
            panic!("{what}: `{table}` differs:\n{first}");
        }
    }
    assert_eq!(now.len(), expected.len(), "{what}: tables");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A new working folder holding a copy of `work`'s.
fn clone(work: &Workdir) -> Workdir {
    let copy = Workdir::new();
    copy_dir(work.path(), copy.path());
    copy
}

/// `store vacuum`, then `store check` must pass.
fn vacuum_and_check(work: &Workdir) {
    work.ok(&["store", "vacuum"]);
    let output = work.praktik().args(["store", "check"]).output().unwrap();
    assert!(
        output.status.success(),
        "store check after vacuum:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_second_writer_is_refused_naming_the_holder_and_the_lock_dies_with_its_process() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let path = work.path().join("store/.praktik.lock");
    {
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.lock().unwrap();
        file.set_len(0).unwrap();
        file.write_all(b"process 4711 on the test").unwrap();
        let stderr = work.fails(&["pull", "--period", "2019Q4"], 1);
        assert!(stderr.contains("process 4711 on the test"), "{stderr}");
        // Waiting gives up after the time given, naming the holder too.
        let started = Instant::now();
        let stderr = work.fails(&["pull", "--period", "2019Q4", "--wait", "1"], 1);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert!(stderr.contains("waited 1 s"), "{stderr}");
        // Reading is never locked out.
        work.ok(&["query", "SELECT COUNT(*) FROM outcomes"]);
    }
    // The holder's file is closed (as when its process dies): the next run
    // takes the lock, with no stale file to remove by hand.
    work.ok(&["pull", "--period", "2019Q4"]);
    assert!(path.exists());
}

#[test]
fn four_writers_at_once_lose_no_commit() {
    let work = Workdir::new();
    let quarters = ["2019Q1", "2019Q2", "2019Q3", "2019Q4"];
    let bin = assert_cmd::cargo::cargo_bin("praktik");
    let start = |wait: &str, period: &str| {
        Command::new(&bin)
            .current_dir(work.path())
            .args(["pull", "--period", period, "--wait", wait])
            .output()
    };
    // With --wait each one gets its turn.
    let outputs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = quarters
            .iter()
            .map(|q| s.spawn(move || start("120", q).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for output in &outputs {
        succeeded(output);
    }
    let (held, _) = work.ok(&[
        "query",
        "SELECT DISTINCT period FROM outcomes ORDER BY period",
        "--format",
        "csv",
    ]);
    assert_eq!(held, "period\n2019Q1\n2019Q2\n2019Q3\n2019Q4\n");
    vacuum_and_check(&work);
    // Without it, each either succeeds or is refused naming the holder.
    let outputs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ["2018Q1", "2018Q2", "2018Q3", "2018Q4"]
            .iter()
            .map(|q| s.spawn(move || (q.to_string(), start("0", q).unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut stored = Vec::new();
    for (quarter, output) in outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => stored.push(quarter),
            Some(1) => assert!(stderr.contains("another praktik is writing"), "{stderr}"),
            other => panic!("{other:?}: {stderr}"),
        }
    }
    assert!(!stored.is_empty());
    let (count, _) = work.ok(&[
        "query",
        "SELECT COUNT(DISTINCT period) AS n FROM outcomes",
        "--format",
        "csv",
    ]);
    assert_eq!(count, format!("n\n{}\n", 4 + stored.len()));
}

/// A store with demo 2019Q3, and a folder source holding a changed 2019Q3
/// and 140,000 person-level internships (three batches).
fn before_a_pull() -> Workdir {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    std::fs::create_dir(work.path().join("in")).unwrap();
    work.write("in/changed.csv", crate::support::changed_2019q3());
    work.ok(&[
        "demo",
        "generate",
        "--rows",
        "140000",
        "--out",
        "in/people.csv",
    ]);
    work
}

const PULL: [&str; 3] = ["pull", "--source", "file:in"];

/// Run `args` in `work` with `failpoint` set: it must exit 1 saying `says`.
#[cfg(feature = "failpoints")]
fn fails_at(work: &Workdir, args: &[&str], failpoint: &str, says: &str) {
    let output = work
        .praktik()
        .args(args)
        .env("FAILPOINTS", failpoint)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{failpoint}: {stderr}");
    assert!(stderr.contains(says), "{failpoint}: {stderr}");
}

#[cfg(feature = "failpoints")]
#[test]
fn a_fault_at_any_step_leaves_each_table_before_or_after_and_the_next_pull_completes() {
    let base = before_a_pull();
    let before = state(&base, false);
    let done = clone(&base);
    done.ok(&PULL);
    let after = state(&done, false);
    assert_ne!(before, after);
    for (failpoint, says) in [
        ("pull-after-landing=return", "failpoint"),
        ("land-before-index=return", "failpoint"),
        ("pull-mid-batch=return", "failpoint"),
        ("store-before-commit=return", "failpoint"),
        // The person-level table's files fail to finish while its check
        // compares the ids (the last extract's files are finished then).
        (
            "store-finish-files=return(enospc)",
            "No space left on device",
        ),
        // The second table's files fail to finish while the first's are done.
        (
            "store-finish-files=1*off->return(enospc)",
            "No space left on device",
        ),
        ("store-after-log-entry=return", "the commit stands"),
        // Flushing the data files to the disk fails before the commit
        // names them, or the log entry's after the commit.
        ("store-sync-files=return(eio)", "Input/output error"),
        ("store-sync-files=1*off->return(eio)", "Input/output error"),
        ("durable-sync-in-place=return(eio)", "cannot flush"),
        ("store-sync-log-entry=return(eio)", "the commit stands"),
        ("pull-before-index-line=return", "failpoint"),
        ("durable-persist=return(enospc)", "No space left on device"),
        ("durable-append=return(enospc)", "No space left on device"),
        ("durable-persist=return(eio)", "Input/output error"),
        // The copy of the file into raw/ cannot be flushed to the disk.
        ("durable-flush=return(eio)", "Input/output error"),
        ("store-write=return(enospc)", "No space left on device"),
        ("store-write=1*off->return(eio)", "Input/output error"),
    ] {
        let work = clone(&base);
        fails_at(&work, &PULL, failpoint, says);
        let now = state(&work, false);
        for (table, rows) in &now {
            assert!(
                *rows == before[table] || *rows == after[table],
                "{failpoint}: `{table}` is neither as before nor as after"
            );
        }
        vacuum_and_check(&work);
        work.ok(&PULL);
        assert_same(
            &state(&work, false),
            &after,
            &format!("{failpoint}: the next pull"),
        );
        vacuum_and_check(&work);
    }
}

/// The bodies of a pull are flushed side by side, moved to their names
/// together (one fsync of `raw/`) and indexed in one append: a fault while
/// flushing or moving the third, or before or while indexing, leaves the
/// tables as they were, indexes only bodies that are in place, leaves
/// nothing a vacuum cannot clear, and the next pull completes.
#[cfg(feature = "failpoints")]
#[test]
fn a_fault_while_keeping_a_pulls_bodies_indexes_only_bodies_in_place() {
    let base = Workdir::new();
    base.ok(&["pull", "--period", "2019Q3"]);
    let before = state(&base, false);
    let pull = ["pull", "--from", "2019Q4", "--to", "2020Q2"];
    let done = clone(&base);
    done.ok(&pull);
    let after = state(&done, false);
    let lines = |work: &Workdir| {
        work.read("store/raw/index.jsonl")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let held = lines(&base).len();
    let bodies = |work: &Workdir| {
        std::fs::read_dir(work.path().join("store/raw"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "index.jsonl")
            .collect::<Vec<_>>()
    };
    // Six bodies (three quarters, outcomes and person-level).
    assert_eq!(lines(&done).len(), held + 6);
    for (failpoint, says, indexed, in_place) in [
        (
            "durable-persist=2*off->return(enospc)",
            "No space left on device",
            2,
            2,
        ),
        // The bodies are flushed side by side: the third fails, the two
        // before it are kept, and nothing of the ones after it.
        (
            "durable-flush=2*off->return(enospc)",
            "No space left on device",
            2,
            2,
        ),
        ("land-before-index=return", "failpoint", 0, 6),
        (
            "durable-append=return(enospc)",
            "No space left on device",
            0,
            6,
        ),
    ] {
        let work = clone(&base);
        fails_at(&work, &pull, failpoint, says);
        assert_same(&state(&work, false), &before, failpoint);
        let index = lines(&work);
        assert_eq!(index.len(), held + indexed, "{failpoint}");
        let kept = bodies(&work);
        assert_eq!(kept.len(), held + in_place, "{failpoint}: {kept:?}");
        for line in &index {
            let file = line["file"].as_str().unwrap();
            assert!(kept.iter().any(|k| k == file), "{failpoint}: {file}");
        }
        vacuum_and_check(&work);
        work.ok(&pull);
        assert_same(&state(&work, false), &after, failpoint);
        // Each body once, and a line more for each one landed by the failed
        // pull and stored by this one.
        assert_eq!(lines(&work).len(), held + 6 + indexed, "{failpoint}");
        vacuum_and_check(&work);
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn a_full_disk_while_writing_a_report_keeps_the_last_good_one() {
    let work = Workdir::new();
    work.ok(&["run"]);
    let letter = work.read("out/reports/2019Q3/letter.html");
    let output = work
        .praktik()
        .arg("run")
        .env("FAILPOINTS", "durable-write=return(enospc)")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("No space left on device"));
    assert_eq!(work.read("out/reports/2019Q3/letter.html"), letter);
    let leftovers: Vec<_> = std::fs::read_dir(work.path().join("out/reports/2019Q3"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Kill `args` with SIGKILL at `moments` points spread over `duration`;
/// after each: vacuum and check pass, and `args` run again completes with
/// the rows of an undisturbed run.
fn kill_sweep(prepare: &dyn Fn() -> Workdir, args: &[&str], moments: u32) {
    let reference = prepare();
    let started = Instant::now();
    reference.ok(args);
    let duration = started.elapsed();
    let expected = state(&reference, false);
    let bin = assert_cmd::cargo::cargo_bin("praktik");
    for i in 0..moments {
        let work = prepare();
        let at = duration * (i + 1) / (moments + 1);
        let mut child = Command::new(&bin)
            .current_dir(work.path())
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        vacuum_and_check(&work);
        work.ok(args);
        assert_same(
            &state(&work, false),
            &expected,
            &format!("killed after {at:?} of {duration:?}"),
        );
        vacuum_and_check(&work);
    }
}

#[test]
fn kill_9_during_the_demo_run_loses_nothing() {
    kill_sweep(&Workdir::new, &["run"], 20);
}

#[test]
fn kill_9_during_a_200000_row_pull_loses_nothing() {
    let generated = Workdir::new();
    generated.ok(&[
        "demo",
        "generate",
        "--rows",
        "200000",
        "--out",
        "people.csv",
    ]);
    let people = generated.path().join("people.csv");
    let prepare = || {
        let work = Workdir::new();
        std::fs::copy(&people, work.path().join("people.csv")).unwrap();
        work
    };
    kill_sweep(&prepare, &["pull", "--source", "file:people.csv"], 20);
}

#[test]
fn a_damaged_store_is_named_by_check_and_recovered_by_rebuild() {
    let work = Workdir::new();
    work.ok(&["pull", "--from", "2019Q3", "--to", "2019Q4"]);
    work.write("changed.csv", crate::support::changed_2019q3());
    work.ok(&["pull", "--source", "file:changed.csv", "--allow-shrink"]);
    let sound = state(&work, true);
    vacuum_and_check(&work);

    // The last log entry cut in half, and a data file gone.
    let log = work.path().join("store/outcomes/_delta_log");
    let mut entries: Vec<_> = std::fs::read_dir(&log)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    let last = entries.last().unwrap().clone();
    let text = std::fs::read(&last).unwrap();
    std::fs::write(&last, &text[..text.len() / 2]).unwrap();
    let mut parquet = Vec::new();
    crate::support::collect_files(&work.path().join("store/internships"), &mut parquet);
    let gone = parquet
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap()
        .clone();
    std::fs::remove_file(&gone).unwrap();
    let output = work.praktik().args(["store", "check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        listed.contains(&last.display().to_string()) && listed.contains("not complete JSON"),
        "{listed}"
    );
    assert!(
        listed.contains(&gone.display().to_string()) && listed.contains("missing"),
        "{listed}"
    );
    assert!(listed.contains("store rebuild"), "{listed}");

    let (_, said) = work.ok(&["store", "rebuild"]);
    assert!(said.contains("rebuilt `outcomes`"), "{said}");
    assert_same(&state(&work, true), &sound, "rebuild gives the same rows");
    vacuum_and_check(&work);
    // And the store goes on: a pull after the rebuild works.
    work.write("q4.csv", crate::support::demo_csv("2019Q4"));
    work.ok(&["pull", "--source", "file:q4.csv"]);

    // A kept body emptied, and a cut-off index line.
    let raw = work.path().join("store/raw");
    let changed = crate::support::changed_2019q3();
    let body = std::fs::read_dir(&raw)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read(p).is_ok_and(|b| b == changed.as_bytes()))
        .unwrap();
    std::fs::write(&body, b"").unwrap();
    let mut index = std::fs::OpenOptions::new()
        .append(true)
        .open(raw.join("index.jsonl"))
        .unwrap();
    index.write_all(b"{\"sha256\":\"ab").unwrap();
    let output = work.praktik().args(["store", "check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        listed.contains(&body.display().to_string()) && listed.contains("does not match"),
        "{listed}"
    );
    assert!(
        listed.contains("index.jsonl") && listed.contains("not complete"),
        "{listed}"
    );
    // Vacuum trims the cut-off line; pulling the body again lands it anew.
    work.ok(&["store", "vacuum"]);
    work.ok(&["pull", "--source", "file:changed.csv"]);
    assert_eq!(std::fs::read(&body).unwrap(), changed.as_bytes());
    vacuum_and_check(&work);
}

#[test]
fn a_pull_that_would_damage_a_quarter_is_refused() {
    let work = Workdir::new();
    work.write("first.csv", crate::support::demo_csv("2019Q3"));
    work.ok(&["pull", "--source", "file:first.csv"]);
    let before = work.table_files();
    // Half the rows gone.
    let half: String = crate::support::demo_csv("2019Q3")
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    work.write("half.csv", &half);
    let stderr = work.fails(&["pull", "--source", "file:half.csv"], 1);
    assert!(
        stderr.contains("would shrink 2019Q3") && stderr.contains("--allow-shrink"),
        "{stderr}"
    );
    // A benefit group gone.
    let no_dagpenge: String = crate::support::demo_csv("2019Q3")
        .lines()
        .filter(|l| !l.contains(",dagpenge,"))
        .map(|l| format!("{l}\n"))
        .collect();
    work.write("no-dagpenge.csv", &no_dagpenge);
    let stderr = work.fails(&["pull", "--source", "file:no-dagpenge.csv"], 1);
    assert!(
        stderr.contains("would take the benefit group(s) dagpenge out of 2019Q3"),
        "{stderr}"
    );
    assert_eq!(work.table_files(), before);
    work.ok(&["pull", "--source", "file:half.csv", "--allow-shrink"]);
    // The demo never mixes into real figures.
    let stderr = work.fails(&["run"], 1);
    assert!(
        stderr.contains("holds real figures (source file)"),
        "{stderr}"
    );
    // --from after --to is wrong usage.
    work.fails(&["pull", "--from", "2019Q4", "--to", "2019Q1"], 2);
}

#[test]
fn a_real_source_takes_the_demo_quarters_away() {
    let work = Workdir::new();
    work.ok(&["pull", "--from", "2019Q3", "--to", "2019Q4"]);
    work.write("real.csv", crate::support::changed_2019q3());
    let (_, stderr) = work.ok(&["pull", "--source", "file:real.csv"]);
    assert!(stderr.contains("never mixes demo and real"), "{stderr}");
    let (sources, _) = work.ok(&[
        "query",
        "SELECT DISTINCT source, CAST(period AS VARCHAR) AS period FROM outcomes UNION ALL SELECT DISTINCT source, CAST(period AS VARCHAR) FROM internships",
        "--format",
        "csv",
    ]);
    assert_eq!(sources, "source,period\nfile,2019Q3\n");
    vacuum_and_check(&work);
}

#[cfg(feature = "failpoints")]
#[test]
fn a_failure_after_the_log_entry_does_not_undo_the_commit() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    work.write("changed.csv", crate::support::changed_2019q3());
    let output = work
        .praktik()
        .args(["pull", "--source", "file:changed.csv"])
        .env("FAILPOINTS", "store-after-log-entry=return")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the commit stands"), "{stderr}");
    // The new version is there and every file it names is readable.
    let (share, _) = work.ok(&[
        "query",
        "SELECT share_pct FROM outcomes WHERE period = '2019Q3' AND area_code = '101' AND benefit_group = 'dagpenge'",
        "--format",
        "csv",
    ]);
    assert_eq!(share.trim(), "share_pct\n35.0");
    vacuum_and_check(&work);
    // The next pull of the same file finds it stored.
    work.ok(&["pull", "--source", "file:changed.csv"]);
}

#[cfg(feature = "failpoints")]
#[test]
fn a_write_that_does_not_commit_removes_its_own_files_and_no_others() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q2"]);
    // Another tool's file where the next write puts its own.
    let partition = work.path().join("store/outcomes/period=2019Q3");
    std::fs::create_dir_all(&partition).unwrap();
    std::fs::write(partition.join("foreign.parquet"), b"not praktik's").unwrap();
    let output = work
        .praktik()
        .args(["pull", "--period", "2019Q3"])
        .env("FAILPOINTS", "store-after-flush=return")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the table is as it was"), "{stderr}");
    // Its own file (whole: the write failed after flushing it) is gone.
    let left: Vec<_> = std::fs::read_dir(&partition)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["foreign.parquet"]);
    let output = work.praktik().args(["store", "check"]).output().unwrap();
    let listed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(listed.lines().count(), 1, "only the foreign file: {listed}");
    assert!(listed.contains("foreign.parquet"), "{listed}");
}

#[test]
fn in_a_folder_one_file_gives_each_quarter_and_a_stray_row_changes_nothing() {
    let work = Workdir::new();
    std::fs::create_dir(work.path().join("in")).unwrap();
    let q3 = crate::support::demo_csv("2019Q3");
    work.write("in/a-2019Q3.csv", &q3);
    // The 2019Q4 file holds one late row of 2019Q3 too.
    let stray = q3.lines().nth(5).unwrap();
    work.write(
        "in/b-2019Q4.csv",
        format!("{}{stray}\n", crate::support::demo_csv("2019Q4")),
    );
    let (_, stderr) = work.ok(&["pull", "--source", "file:in"]);
    assert!(
        stderr.contains("left out")
            && stderr.contains("b-2019Q4.csv")
            && stderr.contains("a-2019Q3.csv"),
        "{stderr}"
    );
    let (rows, _) = work.ok(&[
        "query",
        "SELECT CAST(period AS VARCHAR) AS period, COUNT(*) AS n FROM outcomes GROUP BY period ORDER BY period",
        "--format",
        "csv",
    ]);
    let lines = |csv: &str| csv.lines().count() - 1;
    assert_eq!(
        rows,
        format!(
            "period,n\n2019Q3,{}\n2019Q4,{}\n",
            lines(&q3),
            lines(&crate::support::demo_csv("2019Q4"))
        )
    );
    // The next run finds nothing to change: the store does not flip.
    let (_, stderr) = work.ok(&["pull", "--source", "file:in"]);
    assert!(stderr.contains("nothing changed"), "{stderr}");
}

#[test]
fn every_run_and_pull_is_in_the_ledger_and_status_says_what_is_stale() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    work.ok(&["report", "letter", "--period", "2019Q3"]);
    work.fails(&["pull", "--source", "file:missing.csv"], 1);
    // A later pull of 2019Q3 makes the letter older than its data.
    work.write("changed.csv", crate::support::changed_2019q3());
    std::thread::sleep(Duration::from_millis(20));
    work.ok(&["pull", "--source", "file:changed.csv"]);
    let (runs, _) = work.ok(&[
        "query",
        "SELECT command, source, outcome, versions, error IS NOT NULL AS failed FROM runs ORDER BY started_at",
        "--format",
        "csv",
    ]);
    assert_eq!(
        runs,
        "command,source,outcome,versions,failed\n\
         pull,demo,ok,outcomes=0,false\n\
         pull,file:missing.csv,failed,,true\n\
         pull,file:changed.csv,ok,outcomes=1,false\n"
    );
    let (status, _) = work.ok(&["status"]);
    assert!(
        status.contains("last runs:") && status.contains("failed"),
        "{status}"
    );
    assert!(
        status.contains("letter.html is older than the data of 2019Q3"),
        "{status}"
    );
    assert!(
        !status.contains("the last pull"),
        "the last pull succeeded: {status}"
    );
    work.fails(&["pull", "--source", "file:missing.csv"], 1);
    let (status, _) = work.ok(&["status"]);
    assert!(
        status.contains("stale: the last pull")
            && status.contains("source file:missing.csv) failed"),
        "{status}"
    );
    vacuum_and_check(&work);
}

#[test]
fn the_systemd_units_verify() {
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze is not on this machine; the units are not verified here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    let bin = assert_cmd::cargo::cargo_bin("praktik");
    for unit in ["praktik.service", "praktik-worker.service"] {
        let text = std::fs::read_to_string(format!("{deploy}/{unit}"))
            .unwrap()
            .replace("/usr/local/bin/praktik", &bin.display().to_string())
            .replace("/srv/praktik", &dir.path().display().to_string())
            .replace("User=praktik", "User=root");
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    std::fs::copy(
        format!("{deploy}/praktik.timer"),
        dir.path().join("praktik.timer"),
    )
    .unwrap();
    let output = Command::new(analyze)
        .arg("verify")
        .arg(dir.path().join("praktik.service"))
        .arg(dir.path().join("praktik.timer"))
        .arg(dir.path().join("praktik-worker.service"))
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}

#[test]
fn vacuum_keeps_every_version_unless_told_to_give_old_ones_up() {
    let work = Workdir::new();
    work.write("first.csv", crate::support::demo_csv("2019Q3"));
    work.ok(&["pull", "--source", "file:first.csv"]);
    work.write("changed.csv", crate::support::changed_2019q3());
    work.ok(&["pull", "--source", "file:changed.csv"]);
    let old_share = || {
        work.ok(&[
            "query",
            "SELECT share_pct FROM outcomes WHERE area_code = '101' AND benefit_group = 'dagpenge'",
            "--format",
            "csv",
            "--as-of",
            "0",
        ])
        .0
    };
    let before = old_share();
    work.ok(&["store", "vacuum"]);
    assert_eq!(old_share(), before, "a plain vacuum keeps version 0");
    let (listed, _) = work.ok(&["store", "vacuum", "--older-than", "0", "--dry-run"]);
    assert_eq!(
        listed.matches("would remove outcomes/").count(),
        1,
        "{listed}"
    );
    assert_eq!(old_share(), before, "a dry run removes nothing");
    work.ok(&["store", "vacuum", "--older-than", "0"]);
    vacuum_and_check(&work);
    let (now, _) = work.ok(&[
        "query",
        "SELECT share_pct FROM outcomes WHERE area_code = '101' AND benefit_group = 'dagpenge'",
        "--format",
        "csv",
    ]);
    assert_eq!(now, "share_pct\n35.0\n");
    // Version 0's file is gone: reading it fails, saying so.
    let output = work
        .praktik()
        .args(["query", "SELECT share_pct FROM outcomes", "--as-of", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[tokio::test]
async fn a_write_that_does_not_commit_takes_away_only_its_own_files() {
    use praktik::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_folder(dir.path()).unwrap();
    let batch = |csv: String| {
        let extract = praktik::extract::Extract::new(
            "file",
            "x.csv".into(),
            praktik::extract::Format::OutcomesCsv,
            csv.into_bytes(),
            None,
        );
        let landed = praktik::land::land(&store.raw_dir(), extract, None).unwrap();
        praktik::validate::check_csv(&landed).unwrap()
    };
    let q3 = batch(crate::support::demo_csv("2019Q3"));
    let q4 = batch(crate::support::demo_csv("2019Q4"));
    // Two writes under way at once; the second commits while the first is open.
    let mut first = store.begin_write("outcomes").await.unwrap();
    let mut second = store.begin_write("outcomes").await.unwrap();
    first.write(q3.batch).await.unwrap();
    second.write(q4.batch).await.unwrap();
    let periods: Vec<_> = q4.periods.iter().copied().collect();
    second.commit(&periods, &periods, Vec::new()).await.unwrap();
    drop(first);
    let table = store.existing_table("outcomes", None).await.unwrap();
    let files: Vec<String> = table.get_file_uris().unwrap().collect();
    assert_eq!(files.len(), 1);
    for uri in files {
        let path = url::Url::parse(&uri)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .unwrap_or_else(|| std::path::PathBuf::from(&uri));
        assert!(path.exists(), "the committed file {uri} is still there");
    }
    // And the table reads.
    assert_eq!(table.get_file_uris().unwrap().count(), 1);
}

#[test]
fn rebuild_reads_an_index_written_before_it_recorded_formats() {
    let work = Workdir::new();
    work.ok(&["pull", "--from", "2019Q3", "--to", "2019Q4"]);
    let sound = state(&work, true);
    let index = work.path().join("store/raw/index.jsonl");
    let older: String = std::fs::read_to_string(&index)
        .unwrap()
        .lines()
        .map(|line| {
            let mut entry: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            assert!(entry.remove("format").is_some());
            format!("{}\n", serde_json::Value::Object(entry))
        })
        .collect();
    std::fs::write(&index, older).unwrap();
    work.ok(&["store", "rebuild"]);
    assert_same(&state(&work, true), &sound, "rebuild from an older index");
}

#[test]
fn a_body_pulled_again_unchanged_costs_its_hash_not_a_second_check() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    // The same bytes for the quarter asked for: no parse at all (the
    // failpoint would fail the pull if the extract were checked again).
    let output = work
        .praktik()
        .args(["pull", "--period", "2019Q3"])
        .env("FAILPOINTS", "check-only=return")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // A file of two quarters: the commit that wrote it names them, so
    // pulling it again unchanged is its hash too.
    let work = Workdir::new();
    let q4 = crate::support::demo_csv("2019Q4");
    let (_, q4_rows) = q4.split_once('\n').unwrap();
    let both = work.write(
        "both.csv",
        format!("{}{q4_rows}", crate::support::demo_csv("2019Q3")),
    );
    let source = format!("file:{}", both.display());
    work.ok(&["pull", "--source", &source]);
    let again = |work: &Workdir| {
        let output = work
            .praktik()
            .args(["pull", "--source", &source])
            .env("FAILPOINTS", "check-only=return")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        stderr
    };
    let said = again(&work);
    assert!(said.contains("nothing changed"), "{said}");
    // Once another body gave one of its quarters, the file is the newer
    // word again: pulled again, it is written, and the quarter is its own.
    let share = |work: &Workdir| {
        work.ok(&[
            "query",
            "SELECT share_pct FROM outcomes WHERE period = '2019Q3' AND area_code = '101' AND benefit_group = 'dagpenge'",
            "--format",
            "csv",
        ])
        .0
    };
    let original = share(&work);
    work.write("changed.csv", crate::support::changed_2019q3());
    work.ok(&["pull", "--source", "file:changed.csv"]);
    assert_eq!(share(&work).trim(), "share_pct\n35.0");
    let said = again(&work);
    assert!(!said.contains("nothing changed"), "{said}");
    assert_eq!(share(&work), original);
    // A store whose commits do not name their bodies (written before they
    // did) checks the file again: the failpoint fails that pull.
    let older = Workdir::new();
    older.ok(&["pull", "--source", &source]);
    for entry in std::fs::read_dir(older.path().join("store/outcomes/_delta_log")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replace("praktik.bodies", "praktik.other")).unwrap();
        }
    }
    let output = older
        .praktik()
        .args(["pull", "--source", &source])
        .env("FAILPOINTS", "check-only=return")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("check-only"));
}

/// deltalake's object store writes data files and log entries without
/// fsync; a pull flushes every data file (and its folder) to the disk
/// before a log entry names it, and the log entry before the pull ends, so
/// that a power cut cannot leave a commit naming an empty file. Seen in the
/// system calls of a real pull.
#[test]
fn every_file_a_commit_names_is_flushed_to_the_disk_before_the_commit() {
    let work = Workdir::new();
    let trace = work.path().join("fsyncs.txt");
    let mut strace = Command::new("strace");
    for (name, _) in std::env::vars() {
        if name.starts_with("PRAKTIK_") {
            strace.env_remove(name);
        }
    }
    let output = strace
        .args(["-f", "-y", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(assert_cmd::cargo::cargo_bin("praktik"))
        .args(["pull", "--from", "2019Q4", "--to", "2020Q3"])
        .current_dir(work.path())
        .output()
        .expect("strace runs (scripts/test installs it)");
    succeeded(&output);
    let calls = std::fs::read_to_string(&trace).unwrap();
    let store = work.path().join("store").canonicalize().unwrap();
    // The first system call that flushes `path` (strace -y names each
    // descriptor's file), as its line in the trace.
    let flushed = |path: &Path| {
        let shown = format!("<{}>", path.display());
        calls
            .lines()
            .position(|line| line.contains(&shown))
            .unwrap_or_else(|| panic!("{} was never flushed:\n{calls}", path.display()))
    };
    let mut tables = 0;
    for table in ["outcomes", "internships"] {
        let folder = store.join(table);
        if !folder.exists() {
            continue;
        }
        tables += 1;
        let entry = flushed(&folder.join("_delta_log/00000000000000000000.json"));
        flushed(&folder.join("_delta_log"));
        let data: Vec<_> = work
            .table_files_of(table)
            .into_iter()
            .filter(|(path, _)| path.ends_with(".parquet"))
            .collect();
        assert!(data.len() >= 4, "{table}: {data:?}");
        for (path, _) in data {
            let file = folder.join(&path);
            assert!(flushed(&file) < entry, "{path} flushed after the commit");
            assert!(flushed(file.parent().unwrap()) < entry, "{path}'s folder");
        }
    }
    assert_eq!(tables, 2, "both tables written: {calls}");
    flushed(&store);
}

/// A first write killed before its log entry was named leaves the table's
/// log folder without an entry (empty once `store vacuum` removed the
/// unfinished one): the table was never written, and the next pull
/// creates it rather than failing to open it.
#[test]
fn a_log_folder_without_an_entry_is_a_table_not_yet_written() {
    for leftover in [None, Some("_commit_7c1f.json.tmp")] {
        let work = Workdir::new();
        let log = work.path().join("store/internships/_delta_log");
        std::fs::create_dir_all(&log).unwrap();
        if let Some(name) = leftover {
            std::fs::write(log.join(name), "{\"commitInfo\":{}}\n").unwrap();
            work.ok(&["store", "vacuum"]);
        }
        work.ok(&["store", "check"]);
        let people = work.path().join("people.csv");
        work.ok(&[
            "demo",
            "generate",
            "--rows",
            "1000",
            "--out",
            people.to_str().unwrap(),
        ]);
        work.ok(&["pull", "--source", "file:people.csv"]);
        let (status, _) = work.ok(&["status"]);
        assert!(status.contains("internships"), "{status}");
        work.ok(&["store", "check"]);
    }
}

/// A file written to while it is pulled — here after it was landed and kept
/// under `raw/`, with the same bytes and its old modification time put back
/// — fails the pull before anything is committed: the rows checked from it
/// might not be those kept.
#[test]
#[cfg(feature = "failpoints")]
fn a_file_written_to_during_its_pull_is_refused_and_the_store_is_unchanged() {
    let work = Workdir::new();
    work.write("q3.csv", crate::support::demo_csv("2019Q3"));
    work.ok(&["pull", "--source", "file:q3.csv"]);
    let before = state(&work, true);
    let text = crate::support::demo_csv("2019Q3").replace("2019Q3", "2019Q4");
    let source = work.write("q4.csv", &text);
    let modified = std::fs::metadata(&source).unwrap().modified().unwrap();
    let pull = work
        .praktik_process()
        .args(["pull", "--source", "file:q4.csv"])
        .env("FAILPOINTS", "pull-after-landing=sleep(3000)")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the body is kept (its index line written), the file is written
    // to while the pull waits at the failpoint.
    let index = work.path().join("store/raw/index.jsonl");
    let started = Instant::now();
    while !std::fs::read_to_string(&index).is_ok_and(|i| i.contains("q4.csv")) {
        assert!(started.elapsed() < Duration::from_secs(30), "never kept");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&source, &text).unwrap();
    let file = std::fs::File::options().write(true).open(&source).unwrap();
    file.set_modified(modified).unwrap();
    let output = pull.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("q4.csv changed while it was being pulled")
            && stderr.contains("pull it again"),
        "{stderr}"
    );
    assert_same(&state(&work, true), &before, "nothing committed");
    work.ok(&["pull", "--source", "file:q4.csv"]);
}
