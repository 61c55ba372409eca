//! End-to-end tests of `nmsat explore report` and `nmsat explore pareto
//! --z/--chart` on a two-workload run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-exreport-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A CNN and an MLP on 8 configs of `tiny`, the MLP weighted 3x.
const MIX: &str = "base = \"tiny\"
objectives = [\"seconds\", \"energy_j\", \"lut\"]

[[workload]]
model = \"digits-cnn\"
batch = 8

[[workload]]
model = \"digits-mlp\"
method = \"dense\"
batch = 8
weight = 3.0

[space]
\"pe_array.rows\" = [2, 4]
\"pe_array.cols\" = [2, 4]
\"dram.bytes_per_cycle\" = [8, 16]

[constraints]
lut_max = 82000
";

/// Runs the mix spec into a fresh directory.
fn run_mix(name: &str) -> PathBuf {
    let d = dir(name);
    std::fs::create_dir_all(&d).unwrap();
    let spec = d.join("mix.toml");
    std::fs::write(&spec, MIX).unwrap();
    let run = d.join("run");
    let (code, _, err) = nmsat(&["explore", s(&spec), "-o", s(&run)]);
    assert_eq!(code, 0, "{err}");
    run
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_report_has_fronts_sensitivity_and_best_configs_that_arch_check_accepts() {
    let run = run_mix("report");
    let (code, _, err) = nmsat(&["explore", "report", s(&run)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("report of 16 points (6 preset steps simulated)"), "{err}");
    let out = run.join("report");
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    for needle in [
        "Fronts: digits-cnn/bdwp/2:8/b8",
        "Fronts: digits-mlp/dense/2:8/b8",
        "Sensitivity: digits-mlp/dense/2:8/b8",
        "Best config: the weighted mix",
        "sat-vu9p (default)",
    ] {
        assert!(page.contains(needle), "the page lacks {needle}");
    }
    for pair in ["seconds-energy_j", "seconds-lut", "energy_j-lut"] {
        for w in [1, 2] {
            let svg = std::fs::read_to_string(out.join(format!("charts/front-{w}-{pair}.svg"))).unwrap();
            assert!(svg.contains("Pareto front (") && svg.contains("tiny"), "{pair}");
        }
    }
    for f in ["best-digits-cnn-bdwp-2-8-b8.toml", "best-digits-mlp-dense-2-8-b8.toml", "best-mix.toml"] {
        let (code, out, err) = nmsat(&["arch", "check", s(&out.join(f))]);
        assert_eq!(code, 0, "{f}: {out}{err}");
    }
    // The best CNN config is the feasible CNN point with the least seconds.
    let results = lines(&run.join("results.jsonl"));
    let cnn = results
        .iter()
        .filter(|l| l["workload"] == "digits-cnn/bdwp/2:8/b8" && l["feasible"] == true)
        .min_by(|a, b| a["seconds"].as_f64().unwrap().total_cmp(&b["seconds"].as_f64().unwrap()))
        .unwrap();
    let best = std::fs::read_to_string(out.join("best-digits-cnn-bdwp-2-8-b8.toml")).unwrap();
    assert!(best.contains(&format!("(point {})", cnn["index"])), "{best}");
    assert!(best.contains(&format!("bytes_per_cycle = {}", cnn["bytes_per_cycle"])), "{best}");
    // The presets are kept; a second report simulates none and is identical.
    assert_eq!(lines(&run.join("presets.jsonl")).len(), 6);
    let (code, _, err) = nmsat(&["explore", "report", s(&run)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(0 preset steps simulated)"), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("index.html")).unwrap(), page);
}

#[test]
fn pareto_takes_a_third_objective_and_draws_the_front() {
    let run = run_mix("pareto");
    let charts = run.join("fronts");
    let args = ["explore", "pareto", s(&run), "--x", "seconds", "--y", "lut", "--z", "energy_j", "--chart", s(&charts)];
    let (code, out, err) = nmsat(&args);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    assert!(header.contains("seconds") && header.contains("lut") && header.contains("energy_j"), "{out}");
    assert!(out.contains("hypervolume of the front on (seconds, lut, energy_j), digits-mlp/dense/2:8/b8: "), "{out}");
    assert!(out.contains("(of at most 1.3310)"), "{out}");
    let page = std::fs::read_to_string(charts.join("index.html")).unwrap();
    assert!(page.contains("Pareto front on (seconds, lut, energy_j)"));
    assert!(charts.join("charts/front-1-seconds-lut.png").is_file());
    // Without a directory the charts go into the run directory.
    let (code, _, err) = nmsat(&["explore", "pareto", s(&run), "--x", "gops", "--y", "dsp", "--chart"]);
    assert_eq!(code, 0, "{err}");
    assert!(run.join("pareto/charts/front-2-gops-dsp.svg").is_file(), "{err}");
}

#[test]
fn reports_of_what_is_not_a_run_exit_2() {
    let empty = dir("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, err) = nmsat(&["explore", "report", s(&empty)]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "error: {}: not a run directory (no spec.toml; `nmsat explore SPEC -o DIR` makes one)",
            empty.display()
        )
    );
    let run = run_mix("bad-objective");
    let (code, _, err) = nmsat(&["explore", "pareto", s(&run), "--x", "seconds", "--y", "speed", "--chart"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`speed` is not an objective (known: seconds, energy_j,"), "{err}");
    assert!(!run.join("pareto").exists(), "nothing written");
}
