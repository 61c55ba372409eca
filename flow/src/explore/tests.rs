//! Tests of exploration on the small spec (`examples/explore-small.toml`).

use std::path::{Path, PathBuf};

use super::*;
use crate::error::FlowError;
use crate::step::Schedule;

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/explore-small.toml")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmsat-explore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run_to(out: &Path, shard: Option<Shard>) -> RunSummary {
    let opts = RunOptions { spec: small(), out: out.to_path_buf(), jobs: 2, shard, dry_run: false };
    run(&opts, &mut |_| {}).unwrap()
}

fn results(dir: &Path) -> String {
    std::fs::read_to_string(results::results_path(dir)).unwrap()
}

#[test]
fn the_same_spec_gives_the_same_results_twice() {
    let (a, b) = (tmp("same-a"), tmp("same-b"));
    let s = run_to(&a, None);
    run_to(&b, None);
    assert_eq!((s.points, s.computed, s.reused), (8, 8, 0));
    assert_eq!(results(&a), results(&b));
    assert_eq!(results(&a).lines().count(), 8);
    // Run again in place: everything is reused, nothing changes.
    let again = run_to(&a, None);
    assert_eq!((again.computed, again.reused), (0, 8));
    assert_eq!(results(&a), results(&b));
}

#[test]
fn two_shards_merged_equal_the_whole_run() {
    let (whole, s0, s1, merged) = (tmp("whole"), tmp("s0"), tmp("s1"), tmp("merged"));
    run_to(&whole, None);
    assert_eq!(run_to(&s0, Some("0/2".parse().unwrap())).in_shard, 4);
    run_to(&s1, Some("1/2".parse().unwrap()));
    let counts = merge(&[s0.clone(), s1.clone(), s0.clone()], &merged).unwrap();
    assert_eq!((counts.lines, counts.duplicates), (8, 4));
    assert_eq!(results(&merged), results(&whole));
    // A shard of another spec is refused.
    std::fs::write(s1.join("spec.hash"), "0000000000000000\n").unwrap();
    let err = merge(&[s0, s1], &tmp("merged2")).unwrap_err().to_string();
    assert!(err.contains("spec hash"), "{err}");
}

#[test]
fn a_merge_into_one_of_its_shards_keeps_it_a_run_directory() {
    let (whole, s0, s1) = (tmp("into-whole"), tmp("into-s0"), tmp("into-s1"));
    run_to(&whole, None);
    run_to(&s0, Some("0/2".parse().unwrap()));
    run_to(&s1, Some("1/2".parse().unwrap()));
    let counts = merge(&[s0.clone(), s1], &s0).unwrap();
    assert_eq!((counts.lines, counts.points, counts.missing), (8, 8, vec![]));
    assert_eq!(results(&s0), results(&whole));
    // Its spec survived the merge onto itself: a rerun in it reuses everything.
    assert_eq!(std::fs::read_to_string(s0.join("spec.toml")).unwrap(), std::fs::read_to_string(small()).unwrap());
    let again = run_to(&s0, None);
    assert_eq!((again.computed, again.reused), (0, 8));
}

#[test]
fn a_merge_names_the_points_no_shard_holds() {
    let (s0, s1, merged) = (tmp("gap-s0"), tmp("gap-s1"), tmp("gap-merged"));
    run_to(&s0, Some("0/3".parse().unwrap()));
    let counts = merge(std::slice::from_ref(&s0), &merged).unwrap();
    assert_eq!((counts.lines, counts.points, counts.missing), (3, 8, vec![1, 2, 4, 5, 7]));
    // A shard that never ran is not a run directory: refused, saying so.
    let err = merge(&[s0, s1], &merged).unwrap_err().to_string();
    assert!(err.contains("gap-s1") && err.contains("not a run directory"), "{err}");
}

#[test]
fn a_truncated_last_line_resumes_to_the_uninterrupted_file() {
    let (whole, cut) = (tmp("uncut"), tmp("cut"));
    run_to(&whole, None);
    let full = results(&whole);
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::copy(whole.join("spec.hash"), cut.join("spec.hash")).unwrap();
    // Three complete lines and half of the fourth, as a kill mid-write leaves.
    let ends: Vec<usize> = full.match_indices('\n').map(|(i, _)| i + 1).collect();
    let partial = &full[..ends[2] + (ends[3] - ends[2]) / 2];
    std::fs::write(results::results_path(&cut), partial).unwrap();
    let s = run_to(&cut, None);
    assert_eq!((s.reused, s.computed), (3, 5));
    assert_eq!(results(&cut), full);
}

#[test]
fn infeasible_points_are_recorded_with_their_reason() {
    let dir = tmp("infeasible");
    let s = run_to(&dir, None);
    // The 4x4 points, and since tiny has a line buffer (ADR 003, whose LUTs the resource model's
    // `sat_dma` formula takes from its line_buffer term) 4x2 at 16 B/cycle.
    assert_eq!(s.infeasible, 3);
    let text = results(&dir);
    let bad: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l["feasible"] == false)
        .collect();
    assert_eq!(bad.len(), 3);
    for l in &bad {
        assert_eq!(l["rows"].as_i64(), Some(4));
        assert!(l["reason"].as_str().unwrap().contains("lut_max"), "{l}");
    }
}

#[test]
fn an_invalid_config_is_a_result_not_an_error() {
    let spec =
        "base = \"tiny\"\n[[workload]]\nmodel = \"digits-cnn\"\nbatch = 2\n[space]\n\"pe_array.lanes\" = [4, 3]\n";
    let dir = tmp("invalid");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("spec.toml.in");
    std::fs::write(&path, spec).unwrap();
    let opts = RunOptions { spec: path, out: dir.join("run"), jobs: 1, shard: None, dry_run: false };
    let s = run(&opts, &mut |_| {}).unwrap();
    assert_eq!((s.points, s.infeasible), (2, 1));
    let text = results(&dir.join("run"));
    let last: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(last["feasible"], false);
    assert!(last["reason"].as_str().unwrap().starts_with("invalid config"), "{last}");
}

fn parse_err(text: &str) -> String {
    match Spec::parse(text, "s.toml") {
        Err(e @ FlowError::Request(_)) => e.to_string(),
        other => panic!("expected a request error, got {other:?}"),
    }
}

#[test]
fn bad_specs_name_the_file_and_the_key() {
    let w = "[[workload]]\nmodel = \"digits-cnn\"\n";
    let e = parse_err(&format!("{w}[space]\n\"pe_array.rows\" = [2]\ncolour = 3\n"));
    assert!(e.contains("s.toml") && e.contains("`colour`") && e.contains("not an ArchConfig field"), "{e}");
    let e = parse_err(&format!("{w}[space]\n\"pe_array.rows\" = []\n"));
    assert!(e.contains("`pe_array.rows`, line 4") && e.contains("empty"), "{e}");
    let e = parse_err(&format!("{w}[constraints]\nwatts_max = 3\n"));
    assert!(e.contains("`watts_max`") && e.contains("not an objective"), "{e}");
    let e = parse_err(&format!("strategee = \"grid\"\n{w}"));
    assert!(e.contains("`strategee`") && e.contains("unknown key"), "{e}");
    let e = parse_err(&format!("{w}[space]\n\"pe_array.rows\" = [\"8\"]\n"));
    assert!(e.contains("is a string, the field is a integer"), "{e}");
    // The line is the key's own, not the first line that mentions its name.
    let e = parse_err(&format!("# colour was tried\n{w}[space]\ncolour = 3\n"));
    assert!(e.contains("`colour`, line 5"), "{e}");
    let e = parse_err(&format!("{w}[space.\"pe_array.rows\"]\nfrom = 2\nto = 8\nstp = 2\n"));
    assert!(e.contains("`pe_array.rows`, line 6: unknown range key `stp`"), "{e}");
    let e = parse_err(&format!("objectives = [\"seconds\",\n \"speed\"]\n{w}"));
    assert!(e.contains("`speed`, line 2: unknown objective"), "{e}");
    let e = parse_err(&format!("{w}[[workload]]\nmodel = \"digits-cnn\"\nnm = \"9:8\"\n"));
    assert!(e.contains("`workload.nm`, line 5"), "{e}");
    let e = parse_err(&format!("strategy = \"random\"\n{w}"));
    assert!(e.contains("`strategy`, line 1: strategy \"random\" needs samples"), "{e}");
    let e = parse_err(&format!("generations = 3\n{w}"));
    assert!(e.contains("`generations`, line 1: `generations` is a key of strategy \"nsga2\""), "{e}");
    let e = parse_err(&format!("schedule = \"quick\"\n{w}"));
    assert!(e.contains("`schedule`, line 1") && e.contains("\"cost-model\""), "{e}");
}

#[test]
fn the_schedule_choice_is_part_of_the_key() {
    let w = "[[workload]]\nmodel = \"digits-cnn\"\n";
    let fastest = Spec::parse(w, "a.toml").unwrap();
    let cost = Spec::parse(&format!("schedule = \"cost-model\"\n{w}"), "b.toml").unwrap();
    assert_eq!((fastest.schedule, cost.schedule), (Schedule::Fastest, Schedule::CostModel));
    let wl = &fastest.workloads[0];
    assert_ne!(eval::point_key("x", wl, Schedule::Fastest), eval::point_key("x", wl, Schedule::CostModel));
}

#[test]
fn random_sampling_is_seeded_and_without_replacement() {
    let text = "strategy = \"random\"\nsamples = 5\nseed = 7\n[[workload]]\nmodel = \"digits-cnn\"\n[space]\n\"pe_array.rows\" = { from = 2, to = 16, step = 2 }\n\"pe_array.cols\" = [2, 4]\n";
    let spec = Spec::parse(text, "r.toml").unwrap();
    let a = points::points(&spec).unwrap();
    let b = points::points(&spec).unwrap();
    let values = |p: &[points::Point]| p.iter().map(|p| format!("{:?}", p.values)).collect::<Vec<_>>();
    assert_eq!(values(&a), values(&b));
    let mut distinct = values(&a);
    distinct.sort();
    distinct.dedup();
    assert_eq!((a.len(), distinct.len()), (5, 5));
}

#[test]
fn field_names_are_the_shortest_unique_suffixes() {
    let text = "[[workload]]\nmodel = \"digits-cnn\"\n[space]\n\"pe_array.rows\" = [2]\n\"buffers.activation.bytes\" = [65536]\n\"buffers.weight.bytes\" = [65536]\n";
    let spec = Spec::parse(text, "f.toml").unwrap();
    assert_eq!(points::field_names(&spec), ["rows", "activation_bytes", "weight_bytes"]);
}

#[test]
fn the_front_maximises_gops_and_minimises_the_rest() {
    let line =
        |w: &str, gops: f64, lut: u64| serde_json::json!({"workload": w, "feasible": true, "gops": gops, "lut": lut});
    let lines = [line("a", 10.0, 100), line("a", 20.0, 200), line("a", 15.0, 300), line("b", 1.0, 1000)];
    let front = pareto::front(&lines, &["gops", "lut"]);
    let got: Vec<(f64, u64)> =
        front.iter().map(|l| (l["gops"].as_f64().unwrap(), l["lut"].as_u64().unwrap())).collect();
    assert_eq!(got, [(20.0, 200), (10.0, 100), (1.0, 1000)]);
}

#[test]
fn an_interrupted_search_resumes_to_the_uninterrupted_file() {
    let text = "base = \"tiny\"\nstrategy = \"nsga2\"\npopulation = 4\ngenerations = 2\nseed = 9\n[[workload]]\nmodel = \"digits-cnn\"\nbatch = 4\n[[workload]]\nmodel = \"digits-cnn\"\nmethod = \"dense\"\nbatch = 4\n[space]\n\"pe_array.rows\" = [2, 4]\n\"pe_array.cols\" = [2, 4]\n\"pe_array.lanes\" = [2, 4]\n\"dram.bytes_per_cycle\" = [8, 16]\n[constraints]\nlut_max = 85000\n";
    let dir = tmp("search-resume");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("nsga2.toml");
    std::fs::write(&spec, text).unwrap();
    let go = |out: &str| {
        let opts = RunOptions { spec: spec.clone(), out: dir.join(out), jobs: 2, shard: None, dry_run: false };
        run(&opts, &mut |_| {}).unwrap()
    };
    let whole = go("whole");
    let q = whole.search.unwrap();
    assert_eq!((q.budget, q.evaluated, whole.computed, whole.points), (12, 12, 24, 24));
    let full = results(&dir.join("whole"));
    // Seven complete lines and part of the eighth, as a kill mid-write leaves.
    let cut = dir.join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let ends: Vec<usize> = full.match_indices('\n').map(|(i, _)| i + 1).collect();
    std::fs::write(results::results_path(&cut), &full[..ends[6] + 9]).unwrap();
    let resumed = go("cut");
    assert_eq!((resumed.reused, resumed.computed), (7, 17));
    assert_eq!(results(&cut), full);
    assert_eq!(resumed.search, whole.search);
}
