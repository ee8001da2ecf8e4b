//! `praktik sql` as an analyst uses it: typed into a pseudo-terminal (Tab,
//! Up, Ctrl-C, Ctrl-D, a narrow window), and fed a script on standard input.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use rexpect::session::{PtySession, spawn_command};

use crate::support::Workdir;

/// `praktik sql` in a pseudo-terminal `columns` wide, in `work`'s folder,
/// keeping its history under `work/xdg`.
fn shell(work: &Workdir, columns: u16) -> PtySession {
    let bin = assert_cmd::cargo::cargo_bin("praktik");
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("stty cols {columns} rows 50 && exec \"$0\" sql"))
        .arg(&bin)
        .current_dir(work.path())
        .env("TERM", "xterm")
        .env("XDG_DATA_HOME", work.path().join("xdg"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PRAKTIK_") {
            cmd.env_remove(name);
        }
    }
    let mut session = spawn_command(cmd, Some(60_000)).expect("praktik sql starts in a pty");
    session.exp_string("praktik> ").expect("the prompt");
    session
}

/// What the terminal showed: rexpect reads each byte as a char.
fn utf8(seen: &str) -> String {
    let bytes: Vec<u8> = seen.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).to_string()
}

/// Wait for the prompt: the line editor is reading keys again.
fn ready(session: &mut PtySession) {
    session.exp_string("praktik> ").expect("the prompt");
}

/// Press keys (`\t`, `\x1b[A` for Up).
fn keys(session: &mut PtySession, text: &str) {
    session.send(text).expect("type");
    session.flush().expect("flush");
}

/// Type `text` and Enter.
fn enter(session: &mut PtySession, text: &str) {
    keys(session, &format!("{text}\r"));
}

#[test]
fn the_shell_at_a_terminal_completes_recalls_cancels_and_remembers() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let mut sh = shell(&work, 140);

    // Tab completes a table name.
    keys(&mut sh, "SELECT count(*) AS n FROM outc");
    keys(&mut sh, "\t");
    // `FROM outc` would fail: the count proves the name was completed.
    enter(&mut sh, ";");
    sh.exp_string("1 row").expect("Tab completed the table");
    ready(&mut sh);

    // Up brings the statement back; Enter runs it again.
    keys(&mut sh, "\x1b[A");
    sh.exp_string("FROM outcomes;")
        .expect("Up recalled the statement");
    enter(&mut sh, "");
    sh.exp_string("1 row").expect("the count again");
    ready(&mut sh);

    // A statement over several lines runs at its `;`.
    enter(&mut sh, "SELECT 6 * 7");
    enter(&mut sh, "  AS answer;");
    sh.exp_string("42").expect("the multi-line statement ran");
    ready(&mut sh);

    // \d TABLE lists the columns with their meaning.
    enter(&mut sh, "\\d outcomes");
    sh.exp_string("share_pct").unwrap();
    sh.exp_string("in per cent").expect("the column's meaning");
    ready(&mut sh);

    // A typo: a caret under it and the nearest name.
    enter(&mut sh, "SELECT shre_pct FROM outcomes;");
    sh.exp_string("^^^^^^^^").expect("a caret");
    sh.exp_string("Did you mean 'outcomes.share_pct'?")
        .expect("a suggestion");
    ready(&mut sh);

    // Ctrl-C during a long query: the prompt comes back, the shell lives.
    enter(&mut sh, "SELECT sum(value) FROM range(1000000000000);");
    std::thread::sleep(Duration::from_millis(1500));
    sh.send_control('c').unwrap();
    sh.exp_string("cancelled")
        .expect("Ctrl-C cancelled the query");
    ready(&mut sh);
    // Ctrl-C during a file's statement stops the whole file.
    work.write(
        "slow.sql",
        "SELECT sum(value) FROM range(1000000000000);\nSELECT 'not reached' AS marker;\n",
    );
    enter(&mut sh, "\\i slow.sql");
    std::thread::sleep(Duration::from_millis(1500));
    sh.send_control('c').unwrap();
    sh.exp_string("cancelled")
        .expect("Ctrl-C cancelled the file");
    let rest = sh.exp_string("praktik> ").unwrap();
    assert!(!rest.contains("not reached"), "{rest}");
    // Ctrl-C on a half-typed line gives a fresh line.
    keys(&mut sh, "SELECT 'half");
    sh.send_control('c').unwrap();
    ready(&mut sh);
    enter(&mut sh, "SELECT 41 + 1 AS alive;");
    sh.exp_string("alive").unwrap();
    sh.exp_string("1 row").expect("the shell still answers");
    ready(&mut sh);

    // A CPR number never reaches the history file.
    enter(&mut sh, "SELECT '070391-1234' AS x;");
    sh.exp_string("not kept in the history").unwrap();
    ready(&mut sh);
    enter(&mut sh, "\\history");
    sh.exp_string("SELECT 41 + 1 AS alive;").unwrap();
    ready(&mut sh);

    // Ctrl-D leaves.
    sh.send_control('d').unwrap();
    sh.exp_eof().expect("Ctrl-D left the shell");

    let history = work.path().join("xdg/praktik/sql_history");
    let kept = std::fs::read_to_string(&history).expect("the history is kept");
    assert!(
        kept.contains("SELECT count(*) AS n FROM outcomes;"),
        "{kept}"
    );
    assert!(!kept.contains("070391"), "{kept}");
    let mode = std::fs::metadata(&history).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner reads the history");

    // The next use of the shell recalls the last one's statements.
    let mut sh = shell(&work, 100);
    keys(&mut sh, "\x1b[A");
    sh.exp_string("\\history").unwrap();
    keys(&mut sh, "\x1b[A");
    sh.exp_string("SELECT 41 + 1 AS alive;")
        .expect("history from the last use");
    enter(&mut sh, "");
    sh.exp_string("42").unwrap();
    ready(&mut sh);
    enter(&mut sh, "\\q");
    sh.exp_eof().unwrap();
}

#[test]
fn wide_and_long_results_fit_the_terminal() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let mut sh = shell(&work, 70);
    enter(
        &mut sh,
        "SELECT * FROM outcomes ORDER BY area_code, benefit_group;",
    );
    let shown = utf8(
        &sh.exp_string("rows (40 shown")
            .expect("a long result shows its ends"),
    );
    let box_lines: Vec<&str> = shown
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with(['┌', '│', '├', '└']))
        .collect();
    assert_eq!(
        box_lines.len(),
        4 + 1 + 40 + 1,
        "borders, names, types, 40 rows and the gap:\n{shown}"
    );
    for line in &box_lines {
        assert!(
            line.chars().count() <= 70,
            "wider than the terminal: {line}"
        );
    }
    assert!(
        shown.contains('…'),
        "cut cells or left-out columns are marked"
    );
    ready(&mut sh);
    assert!(
        box_lines[1].contains("period") || box_lines[1].contains("area_code"),
        "{shown}"
    );
    // Every row, in another format.
    enter(&mut sh, "\\format csv");
    sh.exp_string("results as csv").unwrap();
    ready(&mut sh);
    enter(&mut sh, "SELECT area_code FROM outcomes;");
    let csv = sh.exp_string("praktik> ").unwrap();
    let rows = csv
        .lines()
        .filter(|l| {
            l.trim_end_matches('\r')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '/')
        })
        .filter(|l| !l.trim().is_empty())
        .count();
    assert!(rows > 40, "csv shows every row ({rows})");
    enter(&mut sh, "\\q");
    sh.exp_eof().unwrap();
}

/// `praktik sql` fed `script` on standard input: (stdout, stderr, exit code).
fn script(work: &Workdir, script: &str) -> (String, String, Option<i32>) {
    let output = work
        .praktik()
        .arg("sql")
        .env("XDG_DATA_HOME", work.path().join("xdg"))
        .write_stdin(script)
        .output()
        .expect("praktik sql runs");
    (
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
        output.status.code(),
    )
}

#[test]
fn a_script_prints_only_results_and_errors_and_fails_with_the_line() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    let (out, err, code) = script(
        &work,
        "\\format csv\n\
         SELECT area_code, ended FROM outcomes\n  \
           WHERE area_code = '101' AND benefit_group = 'dagpenge';\n\
         \\run effect_by_area period=2019Q3 areas=101,751\n\
         SELECT nope\n  FROM outcomes;\n\
         \\fromat csv\n\
         \\o result.json\n\
         \\format json\n\
         SELECT 1 AS one;\n\
         \\o\n\
         \\timing on\n\
         SELECT 2 AS two\n",
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        !out.contains("praktik>") && !err.contains("praktik>") && !err.contains("results as"),
        "no prompt"
    );
    let (direct, _) = work.ok(&[
        "query",
        "SELECT area_code, ended FROM outcomes WHERE area_code = '101' AND benefit_group = 'dagpenge'",
        "--format",
        "csv",
    ]);
    let (named, _) = work.ok(&[
        "query",
        "--file",
        "effect_by_area",
        "--param",
        "period=2019Q3",
        "--param",
        "areas=101,751",
        "--format",
        "csv",
    ]);
    assert!(
        out.starts_with(&format!("{direct}{named}")),
        "{out}\n---\n{direct}{named}"
    );
    assert!(
        err.contains("the statement at line 5 of the input failed"),
        "{err}"
    );
    assert!(err.contains("did you mean `\\format`?"), "{err}");
    assert!(
        err.contains("2 of 11 statements and commands failed"),
        "{err}"
    );
    assert_eq!(work.read("result.json").trim(), "[{\"one\":1}]");
    // Back at the terminal, still in the format last chosen.
    assert!(out.trim_end().ends_with("[{\"two\":2}]"), "{out}");
    assert!(err.contains("Run time: "), "{err}");

    let (out, err, code) = script(&work, "SELECT 1 AS fine;\n");
    assert_eq!((code, out.contains("fine")), (Some(0), true), "{err}");
}

#[test]
fn tables_versions_and_included_files() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    work.ok(&["pull", "--period", "2019Q4"]);
    work.write(
        "checks.sql",
        "SELECT 'from the file' AS origin;\nSELECT x FROM nowhere;\n",
    );
    let (out, err, code) = script(
        &work,
        "\\format csv\n\\d\n\\as-of outcomes=0\n\\d\n\\as-of\n\\i checks.sql\n\\i missing.sql\n\\q\nSELECT 'not run' AS after;\n",
    );
    assert_eq!(code, Some(1), "{err}");
    let outcome_rows: Vec<&str> = out.lines().filter(|l| l.starts_with("outcomes,")).collect();
    assert_eq!(outcome_rows.len(), 2, "{out}");
    assert!(outcome_rows[0].contains(",2,2019Q3,2019Q4,1,"), "{out}");
    assert!(outcome_rows[1].contains(",1,2019Q3,2019Q3,0,"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("areas,")), "{out}");
    assert!(out.contains("from the file"), "{out}");
    assert!(
        err.contains("the statement at line 2 of checks.sql failed"),
        "{err}"
    );
    assert!(err.contains("cannot read missing.sql"), "{err}");
    assert!(!out.contains("not run"), "\\q stops the script: {out}");
}

#[test]
fn a_history_that_cannot_be_written_is_said_and_the_shell_goes_on() {
    let work = Workdir::new();
    work.ok(&["pull", "--period", "2019Q3"]);
    // The data folder is a file: no history folder can be made in it.
    work.write("xdg", "not a folder");
    let mut sh = shell(&work, 100);
    enter(&mut sh, "SELECT 6 * 7 AS answer;");
    sh.exp_string("cannot keep the history")
        .expect("the failure is said");
    sh.exp_string("42").expect("the statement still ran");
    ready(&mut sh);
    // Kept in memory for this use.
    keys(&mut sh, "\x1b[A");
    sh.exp_string("SELECT 6 * 7 AS answer;").unwrap();
    enter(&mut sh, "");
    sh.exp_string("42").unwrap();
    ready(&mut sh);
    enter(&mut sh, "\\q");
    sh.exp_eof().unwrap();
    assert_eq!(work.read("xdg"), "not a folder");
}
