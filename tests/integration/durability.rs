//! Durability: one writer at a time, and a commit that stands once its log
//! entry exists (faults injected through failpoints, with the `failpoints`
//! feature).

use std::io::Write;

use crate::support::Workdir;

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
        // Reading is never locked out.
        work.ok(&["query", "SELECT COUNT(*) FROM outcomes"]);
    }
    // The holder's file is closed (as when its process dies): the next run
    // takes the lock, with no stale file to remove by hand.
    work.ok(&["pull", "--period", "2019Q4"]);
    assert!(path.exists());
}

#[cfg(feature = "failpoints")]
#[test]
fn a_failure_after_the_log_entry_does_not_undo_the_commit() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let changed = crate::support::changed_2019q3();
    work.write("changed.csv", changed);
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
    let (count, _) = work.ok(&[
        "query",
        "SELECT COUNT(*) AS n FROM outcomes",
        "--format",
        "csv",
    ]);
    assert!(count.starts_with("n\n"), "{count}");
    // The next pull of the same file finds it stored.
    work.ok(&["pull", "--source", "file:changed.csv"]);
}
