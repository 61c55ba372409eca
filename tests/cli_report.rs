//! `nmsat report`: the files it writes, their numbers against `nmsat sim`,
//! determinism, and bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../reports/tests/support/chromium.rs"]
mod chromium;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for sub in [d.to_path_buf(), d.join("charts")] {
        for e in std::fs::read_dir(&sub).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                v.push((p.strip_prefix(d).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

const ARGS: [&str; 8] = ["report", "resnet20-cifar10", "digits-cnn", "--arch", "sat-mid", "--batch", "8", "-o"];

#[test]
fn report_writes_the_page_charts_and_summaries_and_matches_sim() {
    let d = dir("main");
    let mut args = ARGS.to_vec();
    let ds = d.display().to_string();
    args.push(&ds);
    let (code, out, err) = nmsat(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("GOPS/W"), "{out}");
    let f = files(&d);
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["index.html", "summary.json", "summary.csv"] {
        assert!(names.contains(&want), "{names:?}");
    }
    let svgs: Vec<_> = f.iter().filter(|(n, _)| n.ends_with(".svg")).collect();
    assert_eq!(svgs.len(), 8, "{names:?}");
    assert_eq!(f.iter().filter(|(n, _)| n.ends_with(".png")).count(), 8);
    for (n, bytes) in &svgs {
        let text = std::str::from_utf8(bytes).unwrap();
        roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{n} is not well-formed XML: {e}"));
    }
    let html = std::fs::read_to_string(d.join("index.html")).unwrap();
    assert!(!html.contains("<script"), "the page needs no script");
    // The real page in a real browser: no console message, eight figures, a screenshot.
    let index = d.join("index.html");
    let shot = d.join("screenshot.png");
    let run = chromium::headless(&d, &index, &format!("--screenshot={}", shot.display()));
    assert_eq!(chromium::console_lines(&run.stderr), Vec::<&str>::new(), "console messages");
    assert!(std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 10_000, "no screenshot");
    let dom = chromium::headless(&d, &index, "--dump-dom");
    assert_eq!(dom.stdout.matches("<figure").count(), 8, "eight figures in the DOM");
    for stale in ["screenshot.png", "chromium.out", "chromium.err"] {
        let _ = std::fs::remove_file(d.join(stale));
    }
    for p in std::fs::read_dir(&d).unwrap().flatten() {
        if p.file_name().to_string_lossy().starts_with("profile-") {
            let _ = std::fs::remove_dir_all(p.path());
        }
    }
    // The summary's cycles are the simulator's, run by run.
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["schema_version"], 1);
    assert_eq!(s["config"]["name"], "sat-mid");
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6, "2 models x dense, srste 2:8, bdwp 2:8");
    for r in runs {
        let (model, method) = (r["model"].as_str().unwrap().replace('_', "-"), r["method"].as_str().unwrap());
        let (code, json, err) = nmsat(&[
            "sim", &model, "--arch", "sat-mid", "--batch", "8", "--method", method, "--nm", "2:8", "--format", "json",
        ]);
        assert_eq!(code, 0, "{err}");
        let sim: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(r["total_cycles"], sim["total_cycles"], "{model} {method}");
        let e = &r["energy"];
        assert!(e["energy_pj"].as_f64().unwrap() > 0.0 && e["gops_per_w_dense_equivalent"].as_f64().unwrap() > 0.0);
    }
    let csv = std::fs::read_to_string(d.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    // The same inputs give the same bytes, every file.
    let d2 = dir("again");
    let mut args = ARGS.to_vec();
    let ds2 = d2.display().to_string();
    args.push(&ds2);
    assert_eq!(nmsat(&args).0, 0);
    assert!(files(&d2) == f, "a second report differs");
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&d2);
}

#[test]
fn bad_energy_tables_and_models_exit_2_and_write_nothing() {
    let d = dir("bad");
    let table = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bad-table-{}.toml", std::process::id()));
    std::fs::write(&table, "[pe_array]\nmac = -1.0\n").unwrap();
    let ds = d.display().to_string();
    let ts = table.display().to_string();
    for args in [
        vec!["digits-mlp", "--energy-table", &ts, "-o", &ds],
        vec!["digits-mlp", "--energy-table", "no-such-table", "-o", &ds],
        vec!["no-such-model", "-o", &ds],
        vec!["digits-mlp", "--synth", "/nonexistent/synth.json", "-o", &ds],
    ] {
        let mut a = vec!["report"];
        a.extend(args.iter().copied());
        let (code, _, err) = nmsat(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!d.exists(), "{a:?} left {}", d.display());
    }
    let _ = std::fs::remove_file(&table);
}
