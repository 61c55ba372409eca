//! End-to-end tests of `nmsat explore` on the small spec.

use std::path::{Path, PathBuf};
use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-explore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn small() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/explore-small.toml").display().to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn run_shards_merge_and_pareto() {
    let (whole, a, b, m) = (dir("whole"), dir("a"), dir("b"), dir("m"));
    let (code, _, err) = nmsat(&["explore", &small(), "-o", s(&whole), "--jobs", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("8 points: 8 computed, 0 reused, 2 infeasible"), "{err}");
    let (code, _, err) = nmsat(&["explore", &small(), "-o", s(&whole)]);
    assert_eq!(code, 0);
    assert!(err.contains("0 computed, 8 reused"), "{err}");
    for (d, shard) in [(&a, "0/2"), (&b, "1/2")] {
        assert_eq!(nmsat(&["explore", &small(), "-o", s(d), "--shard", shard]).0, 0);
    }
    let (code, _, err) = nmsat(&["explore", "merge", s(&a), s(&b), "-o", s(&m)]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let read = |d: &Path| std::fs::read_to_string(d.join("results.jsonl")).unwrap();
    assert_eq!(read(&m), read(&whole));
    // A merge without shard b says which points are missing.
    let (code, _, err) = nmsat(&["explore", "merge", s(&a), "-o", s(&dir("half"))]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: 4 of the spec's 8 points are in no directory (index 1, 3, 5, 7)"), "{err}");
    let (code, out, err) = nmsat(&["explore", "pareto", s(&whole), "--x", "seconds", "--y", "lut"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("workload") && out.contains("digits-cnn/bdwp/2:8/b8"), "{out}");
    let (code, out, _) = nmsat(&["explore", &small(), "-o", s(&dir("dry")), "--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("8 configs x 1 workloads = 8 points"), "{out}");
}

#[test]
fn bad_specs_exit_2_naming_the_key() {
    let d = dir("bad");
    std::fs::create_dir_all(&d).unwrap();
    let w = "[[workload]]\nmodel = \"digits-cnn\"\n";
    for (name, text, key) in [
        ("unknown.toml", format!("{w}[space]\n\"pe_array.rowz\" = [2]\n"), "pe_array.rowz"),
        ("empty.toml", format!("{w}[space]\n\"dram.bytes_per_cycle\" = []\n"), "dram.bytes_per_cycle"),
        ("objective.toml", format!("{w}[constraints]\nspeed_max = 1\n"), "speed_max"),
    ] {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        let (code, _, err) = nmsat(&["explore", s(&p), "-o", s(&d.join("run"))]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(name) && err.contains(key), "{name}: {err}");
    }
}
