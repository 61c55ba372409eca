//! Headless Chromium for the report tests (shared by `reports/tests` and the
//! CLI's `tests/cli_report.rs`): fails, never skips, when Chromium is missing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Chromium binary: `NMSAT_CHROMIUM`, else `chromium` or
/// `chromium-browser` on the PATH.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("NMSAT_CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium is required for this test and was not found on the PATH: apt-get install -y chromium (scripts/test installs it)"
    );
}

/// Output of one headless run.
pub struct Run {
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Runs headless Chromium on `page` with `action` (`--screenshot=...` or
/// `--dump-dom`), a fresh profile and no network features, killed after a
/// minute.
pub fn headless(work: &Path, page: &Path, action: &str) -> Run {
    let profile = work.join(format!("profile-{}", action.trim_start_matches('-').split('=').next().unwrap_or("")));
    let (out_path, err_path) = (work.join("chromium.out"), work.join("chromium.err"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("chromium did not start: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {action} took over a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    assert!(status.success(), "chromium {action} failed ({status}):\n{}", run.stderr);
    run
}

/// The page's console messages: Chromium logs each one (error, warning or
/// log alike, uncaught exceptions and refused loads included) as a
/// `CONSOLE` line on stderr. The report page has no script, so any such
/// line is a fault.
pub fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
}
