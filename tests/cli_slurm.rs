//! `nmsat explore` scaled out on Slurm: a single-node Slurm (started by
//! `scripts/slurm-local` in a temporary directory) runs one shard per task
//! of a job array of `scripts/explore-slurm.sbatch`, the script
//! `docs/cluster.md` shows; the merged shards equal a local run of the same
//! spec point for point.
//!
//! Needs the Debian packages `slurm-wlm` and `munge` (`scripts/test`
//! installs them); the test fails, not skips, without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// 12 configs x 3 workloads = 36 points of digits-cnn at batch 4; the 4x4
/// arrays break `lut_max`, so infeasible points are merged too.
const SPEC: &str = r#"base = "tiny"
objectives = ["seconds", "energy_j", "lut"]

[[workload]]
model = "digits-cnn"
method = "bdwp"
nm = "2:8"
batch = 4

[[workload]]
model = "digits-cnn"
method = "srste"
nm = "2:4"
batch = 4

[[workload]]
model = "digits-cnn"
method = "dense"
batch = 4

[space]
"pe_array.rows" = [2, 4]
"pe_array.cols" = [2, 4]
"dram.bytes_per_cycle" = [4, 8, 16]

[constraints]
lut_max = 85000
"#;

const POINTS: usize = 36;
/// Shards: not a divisor of the point count, so the shards are uneven.
const SHARDS: usize = 5;
/// How long the array may take before the test gives up (it takes seconds).
const DEADLINE: Duration = Duration::from_secs(600);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A command without the Slurm variables of any job the test runs inside,
/// talking to the Slurm whose config is `conf`.
fn slurm_cmd(program: &str, conf: &Path) -> Command {
    let mut c = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("SLURM_") || k.starts_with("SBATCH_") || k.starts_with("SQUEUE_") {
            c.env_remove(k);
        }
    }
    c.env("SLURM_CONF", conf);
    c.env("PATH", format!("{}:/usr/sbin:/sbin", std::env::var("PATH").unwrap_or_default()));
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A running local Slurm; dropping it stops the daemons and removes its
/// directory, whether the test passed or not.
struct Slurm {
    dir: PathBuf,
    conf: PathBuf,
}

impl Slurm {
    fn start() -> Slurm {
        // Under /tmp, short: the munge socket's path must fit a Unix socket.
        let dir = std::env::temp_dir().join(format!("nmsat-slurm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let conf = dir.join("slurm.conf");
        let slurm = Slurm { dir, conf };
        let out = slurm_cmd("bash", &slurm.conf)
            .arg(repo("scripts/slurm-local"))
            .arg("start")
            .arg(&slurm.dir)
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "scripts/slurm-local start failed:\n{}", text(&out));
        slurm
    }

    fn cmd(&self, program: &str) -> Command {
        slurm_cmd(program, &self.conf)
    }

    /// The daemons' logs and the array tasks' logs in `task_logs`.
    fn logs(&self, task_logs: &Path) -> String {
        let mut s = self
            .cmd("bash")
            .arg(repo("scripts/slurm-local"))
            .arg("logs")
            .arg(&self.dir)
            .output()
            .map(|o| text(&o))
            .unwrap_or_else(|e| format!("(no daemon logs: {e})"));
        let mut files: Vec<PathBuf> = std::fs::read_dir(task_logs)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            s += &format!("===== {}\n{}\n", f.display(), std::fs::read_to_string(&f).unwrap_or_default());
        }
        s
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let stopped = self.cmd("bash").arg(repo("scripts/slurm-local")).arg("stop").arg(&self.dir).status();
        if !matches!(stopped, Ok(s) if s.success()) {
            eprintln!("scripts/slurm-local stop {}: {stopped:?}", self.dir.display());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nmsat(args: &[&Path]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("nmsat runs");
    assert!(out.status.success(), "nmsat {args:?}:\n{}", text(&out));
    text(&out)
}

/// `v` with the keys of every object sorted.
fn canonical(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut kv: Vec<(String, Value)> = m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            kv.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(kv.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// The lines of a results file as canonical JSON, sorted.
fn results(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    let mut lines: Vec<String> =
        text.lines().map(|l| canonical(serde_json::from_str(l).unwrap()).to_string()).collect();
    lines.sort();
    lines
}

fn index_of(line: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["index"].as_u64().unwrap()
}

#[test]
fn a_job_array_of_shards_merges_to_the_local_run() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-slurm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let (run, local, task_logs) = (work.join("run"), work.join("local"), work.join("logs"));
    std::fs::create_dir_all(&task_logs).unwrap();
    let spec = work.join("spec.toml");
    std::fs::write(&spec, SPEC).unwrap();

    let slurm = Slurm::start();
    let submitted = slurm
        .cmd("sbatch")
        .arg("--parsable")
        .arg(format!("--array=0-{}", SHARDS - 1))
        .arg(format!("--output={}/%A_%a.log", task_logs.display()))
        .arg(format!("--chdir={}", work.display()))
        .arg(repo("scripts/explore-slurm.sbatch"))
        .arg(&spec)
        .arg(&run)
        .arg(SHARDS.to_string())
        .env("NMSAT", env!("CARGO_BIN_EXE_nmsat"))
        .output()
        .expect("sbatch runs");
    assert!(submitted.status.success(), "sbatch failed:\n{}\n{}", text(&submitted), slurm.logs(&task_logs));
    let job = String::from_utf8_lossy(&submitted.stdout).trim().to_string();

    // Wait until no task of the array is queued or running.
    let t0 = Instant::now();
    loop {
        let q = slurm.cmd("squeue").args(["-h", "-j", &job, "-o", "%i %T"]).output().expect("squeue runs");
        if q.status.success() && q.stdout.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < DEADLINE,
            "job array {job} not done after {DEADLINE:?}; squeue:\n{}\n{}",
            text(&q),
            slurm.logs(&task_logs)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every task completed with exit code 0.
    let shown = slurm.cmd("scontrol").args(["-o", "show", "job", &job]).output().expect("scontrol runs");
    let tasks: Vec<String> = String::from_utf8_lossy(&shown.stdout).lines().map(str::to_string).collect();
    let ok = |t: &String| t.contains("JobState=COMPLETED") && t.contains(" ExitCode=0:0");
    assert!(
        tasks.len() == SHARDS && tasks.iter().all(ok),
        "job array {job}: not every task completed:\n{}\n{}",
        text(&shown),
        slurm.logs(&task_logs)
    );
    let logs = slurm.logs(&task_logs);
    drop(slurm);

    // Each shard holds exactly its points.
    let shard_dirs: Vec<PathBuf> = (0..SHARDS).map(|i| run.join(format!("shard-{i}"))).collect();
    for (i, d) in shard_dirs.iter().enumerate() {
        let mine = results(d);
        assert!(!mine.is_empty(), "shard {i} is empty\n{logs}");
        assert!(mine.iter().all(|l| index_of(l) % SHARDS as u64 == i as u64), "shard {i}: {mine:?}");
    }
    let mut merge: Vec<&Path> = vec![Path::new("explore"), Path::new("merge")];
    merge.extend(shard_dirs.iter().map(PathBuf::as_path));
    let merged = run.join("merged");
    merge.extend([Path::new("-o"), merged.as_path()]);
    let said = nmsat(&merge);
    assert!(said.contains(&format!("merged {POINTS} lines")) && said.contains("(0 duplicates dropped)"), "{said}");

    nmsat(&[Path::new("explore"), &spec, Path::new("-o"), &local, Path::new("--jobs"), Path::new("2")]);
    let (m, l) = (results(&merged), results(&local));
    assert_eq!(l.len(), POINTS);
    assert!(l.iter().any(|x| x.contains(r#""feasible":false"#)), "the spec has infeasible points");
    for (a, b) in m.iter().zip(&l) {
        assert_eq!(a, b, "merged vs local");
    }
    assert_eq!(m.len(), l.len());
    let _ = std::fs::remove_dir_all(&work);
}
