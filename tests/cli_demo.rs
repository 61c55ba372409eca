//! End-to-end tests of `nmsat demo` (the README's main job).

use std::path::Path;
use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn demo_runs_every_section_and_is_deterministic() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-demo-{}", std::process::id()));
    let (a, b) = (base.join("a"), base.join("b"));
    let small = ["--model", "digits-cnn", "--arch", "tiny", "--batch", "8", "--epochs", "3"];
    let run = |dir: &Path, extra: &[&str]| {
        let d = dir.to_string_lossy().to_string();
        let (code, out, err) = nmsat(&[&["demo", "-o", d.as_str()], &small[..], extra].concat());
        assert_eq!(code, 0, "{err}");
        out
    };
    let out = run(&a, &[]);
    for section in ["## 1. Algorithm", "## 2. Architecture", "## 3. Dataflow ablation", "## 4. RTL"] {
        assert!(out.contains(section), "{section} in\n{out}");
    }
    assert_eq!(out, read(&a.join("demo.md")), "stdout is demo.md");
    let v: serde_json::Value = serde_json::from_str(&read(&a.join("demo.json"))).unwrap();
    let step = v["step"].as_array().unwrap();
    let methods: Vec<&str> = step.iter().map(|s| s["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["dense", "SR-STE 2:8", "BDWP 2:8"]);
    let cycles: Vec<u64> = step.iter().map(|s| s["cycles"].as_u64().unwrap()).collect();
    assert!(cycles[2] < cycles[0], "BDWP is faster than dense: {cycles:?}");
    for s in step {
        let speedup = s["speedup_over_dense"].as_f64().unwrap();
        let expect = cycles[0] as f64 / s["cycles"].as_f64().unwrap();
        assert!((speedup - expect).abs() < 1e-9);
        let passes: u64 = s["passes"].as_array().unwrap().iter().map(|p| p[1].as_u64().unwrap()).sum();
        assert!(passes > 0 && passes <= s["cycles"].as_u64().unwrap());
        assert!(s["energy_mj"].as_f64().unwrap() > 0.0 && s["gops_per_w"].as_f64().unwrap() > 0.0, "{s}");
    }
    // The HTML report of the same steps, whose summary carries the same cycles.
    let summary: serde_json::Value = serde_json::from_str(&read(&a.join("report/summary.json"))).unwrap();
    let report_cycles: Vec<u64> =
        summary["runs"].as_array().unwrap().iter().map(|r| r["total_cycles"].as_u64().unwrap()).collect();
    assert_eq!(report_cycles, cycles);
    assert!(read(&a.join("report/index.html")).contains("<svg"));
    assert_eq!(v["ablation"][0]["cycles"].as_u64(), Some(cycles[2]), "the full dataflow is the BDWP step");
    assert_eq!(v["ablation"].as_array().map(Vec::len), Some(4));
    for t in v["training"].as_array().unwrap() {
        assert!(t["test_accuracy"].as_f64().unwrap() > 0.5, "{t}");
    }
    assert_eq!(v["rtl"]["passed"], true, "{}", v["rtl"]);
    assert_eq!(v["rtl"]["dram"], "bit-exact");
    assert_eq!(v["rtl"]["rtl_cycles"], v["rtl"]["rust_cycles"]);
    // Same arguments, byte-identical files (the RTL section skipped this time
    // on both sides to keep the test short).
    run(&a, &["--no-rtl"]);
    run(&b, &["--no-rtl"]);
    for f in ["demo.md", "demo.json", "report/index.html", "report/summary.json", "report/summary.csv"] {
        assert_eq!(read(&a.join(f)), read(&b.join(f)), "{f}");
    }
    assert!(read(&b.join("demo.md")).contains("skipped: --no-rtl"));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn demo_refuses_bad_input_and_writes_nothing() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-demo-bad-{}", std::process::id()));
    let d = dir.to_string_lossy().to_string();
    let (code, _, err) = nmsat(&["demo", "-o", &d, "--nm", "3:2"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = nmsat(&["demo", "-o", &d, "--model", "no-such-model", "--no-rtl"]);
    assert_ne!(code, 0);
    assert!(err.contains("no-such-model"), "{err}");
    assert!(!dir.join("demo.md").exists() && !dir.join("demo.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
