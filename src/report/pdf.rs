//! PDF by printing the rendered HTML in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ReportError;

/// How long Chromium may take to print one letter.
const PRINT_TIMEOUT: Duration = Duration::from_secs(60);

/// The names Chromium goes by on the PATH.
const CANDIDATES: [&str; 4] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// The configured browser, else the first Chromium on the PATH.
pub fn find_chromium(configured: Option<&Path>) -> Result<PathBuf, ReportError> {
    if let Some(path) = configured {
        return Ok(path.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| CANDIDATES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or(ReportError::NoChromium)
}

/// Print `html` to `pdf` (A4, as the HTML's `@page` rule says).
pub fn print(chromium: &Path, html: &Path, pdf: &Path) -> Result<(), ReportError> {
    let failed = |detail: String| ReportError::Pdf {
        path: pdf.to_path_buf(),
        detail,
    };
    let profile =
        tempfile::tempdir().map_err(|e| failed(format!("no temporary profile folder: {e}")))?;
    let staging = pdf.with_extension("pdf.partial");
    let url = url::Url::from_file_path(html)
        .map_err(|()| failed(format!("{} is not an absolute path", html.display())))?;
    // A cleared environment: the browser never sees the Jobindsats token or
    // the person salt. It needs only a home for its profile and a PATH.
    let mut child = Command::new(chromium)
        .env_clear()
        .env("HOME", profile.path())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", staging.display()))
        .arg(url.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", chromium.display())))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > PRINT_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "Chromium did not finish within {} s",
                    PRINT_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(failed(format!("lost Chromium: {e}"))),
        }
    };
    let printed = std::fs::metadata(&staging).map(|m| m.len()).unwrap_or(0);
    if !status.success() || printed == 0 {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        let _ = std::fs::remove_file(&staging);
        let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        return Err(failed(format!(
            "Chromium exited with {status} and printed nothing: {tail}"
        )));
    }
    std::fs::File::open(&staging)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&staging, pdf))
        .and_then(|()| crate::durable::sync_folder(pdf.parent().unwrap_or(Path::new("."))))
        .map_err(|e| failed(format!("cannot move the PDF into place: {e}")))
}
