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
    // Three over lut_max: the 4x4 points and 4x2 at 16 B/cycle (tiny has a line buffer, ADR 003).
    assert!(err.contains("8 points: 8 computed, 0 reused, 3 infeasible"), "{err}");
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
    assert!(out.contains("hypervolume of the front on (seconds, lut), digits-cnn/bdwp/2:8/b8: "), "{out}");
    let (code, out, _) = nmsat(&["explore", &small(), "-o", s(&dir("dry")), "--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("8 configs x 1 workloads = 8 points"), "{out}");
}

/// The small spec with a fourth key (16 configs) and strategy `"nsga2"`
/// of 4 configs a generation for 2 generations: 12 configs evaluated.
const NSGA2: &str = "base = \"tiny\"
objectives = [\"seconds\", \"energy_j\", \"lut\"]
strategy = \"nsga2\"
population = 4
generations = 2
seed = 3

[[workload]]
model = \"digits-cnn\"
method = \"bdwp\"
nm = \"2:8\"
batch = 8

[space]
\"pe_array.rows\" = [2, 4]
\"pe_array.cols\" = [2, 4]
\"pe_array.lanes\" = [2, 4]
\"dram.bytes_per_cycle\" = [8, 16]

[constraints]
lut_max = 85000
";

#[test]
fn nsga2_is_deterministic_resumes_and_states_its_budget() {
    let (a, b) = (dir("nsga-a"), dir("nsga-b"));
    std::fs::create_dir_all(&a).unwrap();
    let spec = a.join("nsga2.toml");
    std::fs::write(&spec, NSGA2).unwrap();
    let (code, out, err) = nmsat(&["explore", s(&spec), "-o", s(&a.join("dry")), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "nsga2: population 4 x (2 generations + 1): at most 12 of the grid's 16 configs x 1 workloads = 12 points evaluated\n"
    );
    let (ra, rb) = (a.join("run"), b.join("run"));
    for d in [&ra, &rb] {
        let (code, _, err) = nmsat(&["explore", s(&spec), "-o", s(d), "--jobs", "2"]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("nsga2 evaluated 12 of 16 configs"), "{err}");
        assert!(err.contains("12 points: 12 computed, 0 reused"), "{err}");
    }
    let read = |d: &Path| std::fs::read_to_string(d.join("results.jsonl")).unwrap();
    assert_eq!(read(&ra), read(&rb));
    assert_eq!(read(&ra).lines().count(), 12);
    let (code, _, err) = nmsat(&["explore", s(&spec), "-o", s(&ra)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("12 points: 0 computed, 12 reused"), "{err}");
    assert_eq!(read(&ra), read(&rb));
    let (code, out, err) = nmsat(&["explore", "pareto", s(&ra), "--x", "seconds", "--y", "lut", "--against", s(&rb)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{}'s ", rb.display())) && out.contains("ratio 1.0000"), "{out}");
    let (code, _, err) = nmsat(&["explore", s(&spec), "-o", s(&a.join("shard")), "--shard", "0/2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("strategy \"nsga2\" picks its points as it runs"), "{err}");
}

/// Writes `text` as `name` in `d`, runs it and returns stderr, asserting exit 2.
fn refused(d: &Path, name: &str, text: &str) -> String {
    let p = d.join(name);
    std::fs::write(&p, text).unwrap();
    let (code, _, err) = nmsat(&["explore", s(&p), "-o", s(&d.join(format!("run-{name}")))]);
    assert_eq!(code, 2, "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    err
}

#[test]
fn bad_specs_exit_2_naming_the_file_the_line_and_the_key() {
    let d = dir("bad");
    std::fs::create_dir_all(&d).unwrap();
    let w = "[[workload]]\nmodel = \"digits-cnn\"\n";
    let cases = [
        ("top.toml", format!("# strategee is a typo\nstrategee = \"grid\"\n{w}"), "`strategee`, line 2: unknown key"),
        (
            "workload.toml",
            format!("{w}batch = 8\n[[workload]]\nmodel = \"digits-cnn\"\nbacth = 8\n"),
            "`workload.bacth`, line 6: unknown key (known: model, method, nm, batch, weight)",
        ),
        (
            "space.toml",
            format!("{w}[space]\n\"pe_array.rows\" = [2]\n\"pe_array.rowz\" = [2]\n"),
            "`pe_array.rowz`, line 5: unknown key: not an ArchConfig field (use dotted keys such as \"pe_array.rows\")",
        ),
        (
            "constraint.toml",
            format!("{w}[constraints]\nlut_max = 1\nlut_limit = 2\n"),
            "`lut_limit`, line 5: unknown key: a constraint is OBJECTIVE_max or OBJECTIVE_min",
        ),
        (
            "objective.toml",
            format!("{w}[constraints]\nspeed_max = 1\n"),
            "`speed_max`, line 4: `speed` is not an objective (known: seconds, energy_j, power_w, gops, gops_per_w, edp_j_s, lut, ff, dsp, bram36)",
        ),
        (
            "empty.toml",
            format!("{w}[space]\n\"dram.bytes_per_cycle\" = []\n"),
            "`dram.bytes_per_cycle`, line 4: empty list of values",
        ),
        (
            "range.toml",
            format!("{w}[space]\n\"pe_array.rows\" = [2, 4]\n\"pe_array.cols\" = {{ from = 8, to = 4 }}\n"),
            "`pe_array.cols`, line 5: empty range (from > to)",
        ),
        (
            "population.toml",
            format!("strategy = \"nsga2\"\npopulation = 2\n{w}"),
            "`population`, line 2: 2 is not in 4..=100000",
        ),
        (
            "samples.toml",
            format!("strategy = \"nsga2\"\n\nsamples = 3\n{w}"),
            "`samples`, line 3: `samples` is a key of strategy \"random\", and this spec's strategy is \"nsga2\"",
        ),
    ];
    for (name, text, want) in cases {
        let err = refused(&d, name, &text);
        let path = d.join(name);
        assert_eq!(err, format!("error: {}: {want}\n", path.display()), "{name}");
    }
}

#[test]
fn no_feasible_point_exits_2_with_the_count_and_the_reasons_and_keeps_the_results() {
    let d = dir("none-feasible");
    std::fs::create_dir_all(&d).unwrap();
    let text = "base = \"tiny\"\n[[workload]]\nmodel = \"digits-cnn\"\nbatch = 2\n[space]\n\"pe_array.rows\" = [2, 4]\n[constraints]\nlut_max = 1000\n";
    let err = refused(&d, "none.toml", text);
    let run = d.join("run-none.toml");
    assert!(
        err.contains(
            "none.toml: no feasible point: all 2 points are infeasible; most common reasons: lut_max (2 points)"
        ),
        "{err}"
    );
    assert!(err.contains(&run.join("results.jsonl").display().to_string()), "{err}");
    assert_eq!(std::fs::read_to_string(run.join("results.jsonl")).unwrap().lines().count(), 2);
}

/// A sweep killed with SIGKILL while it writes results, then rerun, gives
/// the uninterrupted run's results file byte for byte and says how many
/// points it reused.
#[test]
fn a_sweep_killed_with_sigkill_resumes_to_the_same_results() {
    let (whole, killed) = (dir("kill-whole"), dir("kill-killed"));
    std::fs::create_dir_all(&killed).unwrap();
    // 64 configs of ResNet-20 at batch 2: long enough to be killed mid-run.
    let spec = killed.with_extension("toml");
    std::fs::write(
        &spec,
        "base = \"tiny\"\nobjectives = [\"seconds\"]\n[[workload]]\nmodel = \"resnet20-cifar10\"\nmethod = \"bdwp\"\n\
         nm = \"2:8\"\nbatch = 2\n[space]\n\"pe_array.rows\" = [1, 2, 3, 4]\n\"pe_array.cols\" = [1, 2, 3, 4]\n\
         \"dram.bytes_per_cycle\" = [8, 16, 24, 32]\n",
    )
    .unwrap();
    let results = killed.join("results.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nmsat"))
        .args(["explore", s(&spec), "-o", s(&killed), "--jobs", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once a few points are written (or the run ended first).
    loop {
        let lines = std::fs::read_to_string(&results).map(|t| t.lines().count()).unwrap_or(0);
        if lines >= 3 || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = std::fs::read_to_string(&results).unwrap().lines().filter(|l| l.ends_with('}')).count();
    let (code, _, err) = nmsat(&["explore", s(&spec), "-o", s(&killed)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{} computed, {done} reused", 64 - done)), "{done} lines before the kill: {err}");
    let (code, _, err) = nmsat(&["explore", s(&spec), "-o", s(&whole)]);
    assert_eq!(code, 0, "{err}");
    let a = std::fs::read_to_string(&results).unwrap();
    let b = std::fs::read_to_string(whole.join("results.jsonl")).unwrap();
    assert_eq!(a, b, "killed and resumed vs uninterrupted");
}
