//! Tests of strategy `"nsga2"` over a table of the shipped ResNet-18
//! spec's grid (`flow/tests/data/explore-resnet18-grid.csv`), so that the
//! search is measured against the whole grid without simulating it.

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Map, Value as Json};

use super::hypervolume::Bounds;
use super::points::grid_index;
use super::search::{Evaluator, Outcome, SearchResult, nsga2, outcome};
use super::spec::{Nsga2, Spec};
use crate::error::FlowError;

fn manifest(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn resnet18_spec() -> Spec {
    let path = manifest("../examples/explore-resnet18.toml");
    Spec::parse(&std::fs::read_to_string(&path).unwrap(), "explore-resnet18.toml").unwrap()
}

/// The grid's result lines, by point index, as JSON objects of the table's columns.
fn grid_lines() -> Vec<Json> {
    let text = std::fs::read_to_string(manifest("tests/data/explore-resnet18-grid.csv")).unwrap();
    let mut rows = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let mut out = Vec::new();
    for (n, row) in rows.enumerate() {
        let mut m = Map::new();
        for (h, cell) in header.iter().zip(row.split(',')) {
            let v = if cell.is_empty() { Json::Null } else { serde_json::from_str(cell).unwrap() };
            m.insert((*h).to_string(), v);
        }
        assert_eq!(m["index"].as_u64(), Some(n as u64), "rows are in point order");
        out.push(Json::Object(m));
    }
    out
}

/// Looks configs up in the grid table, counting the distinct ones asked.
struct Table<'a> {
    spec: &'a Spec,
    lines: &'a [Json],
    asked: HashSet<Vec<usize>>,
    calls: usize,
}

impl Evaluator for Table<'_> {
    fn evaluate(&mut self, configs: &[Vec<usize>]) -> Result<Vec<Outcome>, FlowError> {
        let nw = self.spec.workloads.len();
        Ok(configs
            .iter()
            .map(|g| {
                self.asked.insert(g.clone());
                self.calls += 1;
                let c = grid_index(self.spec, g) as usize;
                let lines: Vec<&Json> = (0..nw).map(|w| &self.lines[c * nw + w]).collect();
                outcome(self.spec, &lines)
            })
            .collect())
    }
}

fn radices(spec: &Spec) -> Vec<usize> {
    spec.space.iter().map(|(_, v)| v.len()).collect()
}

/// Every config of the grid with its outcome.
fn whole_grid(spec: &Spec, lines: &[Json]) -> Vec<Outcome> {
    let nw = spec.workloads.len();
    (0..lines.len() / nw).map(|c| outcome(spec, &(0..nw).map(|w| &lines[c * nw + w]).collect::<Vec<_>>())).collect()
}

fn search(spec: &Spec, lines: &[Json], settings: Nsga2) -> (SearchResult, usize, usize) {
    let mut table = Table { spec, lines, asked: HashSet::new(), calls: 0 };
    let r = nsga2(&radices(spec), &settings, &mut table).unwrap();
    (r, table.asked.len(), table.calls)
}

#[test]
fn nsga2_reaches_95_percent_of_the_grid_hypervolume_with_a_quarter_of_its_evaluations() {
    let spec = resnet18_spec();
    let lines = grid_lines();
    let grid: Vec<Vec<f64>> =
        whole_grid(&spec, &lines).into_iter().filter(Outcome::feasible).map(|o| o.objectives).collect();
    let configs = lines.len() / spec.workloads.len();
    assert_eq!((configs, spec.objectives.len()), (675, 3));
    let bounds = Bounds::of(&grid).unwrap();
    let full = bounds.hypervolume(&grid);
    let settings = Nsga2 { population: Nsga2::POPULATION, generations: Nsga2::GENERATIONS, seed: 1 };
    let (r, distinct, calls) = search(&spec, &lines, settings);
    assert_eq!(distinct, calls, "no config is evaluated twice");
    let ratio = bounds.hypervolume(&r.feasible_objectives()) / full;
    eprintln!("nsga2: {distinct} of {configs} configs, hypervolume {ratio:.4} of the grid's ({full:.4})");
    assert!(distinct * 4 <= configs, "{distinct} configs evaluated");
    assert!(ratio >= 0.95, "hypervolume ratio {ratio}");
}

#[test]
fn nsga2_is_deterministic_and_evaluates_its_budget() {
    let spec = resnet18_spec();
    let lines = grid_lines();
    let settings = Nsga2 { population: 8, generations: 3, seed: 42 };
    let (a, distinct, _) = search(&spec, &lines, settings);
    let (b, _, _) = search(&spec, &lines, settings);
    assert_eq!(a.evaluated, b.evaluated);
    assert_eq!(distinct as u128, settings.budget(spec.grid_size()));
    let (c, _, _) = search(&spec, &lines, Nsga2 { seed: 43, ..settings });
    assert_ne!(a.evaluated, c.evaluated);
}

#[test]
fn nsga2_stops_at_an_exhausted_grid() {
    let spec = resnet18_spec();
    let lines = grid_lines();
    let settings = Nsga2 { population: 200, generations: 10, seed: 0 };
    let (r, distinct, calls) = search(&spec, &lines, settings);
    assert_eq!((distinct, calls, r.evaluated.len()), (675, 675, 675));
}

/// The grid's Pareto-optimal configs (objective vectors of the feasible front).
fn grid_front(all: &[Outcome]) -> Vec<Vec<f64>> {
    let feasible: Vec<&Vec<f64>> = all.iter().filter(|o| o.feasible()).map(|o| &o.objectives).collect();
    let dominated = |p: &Vec<f64>| feasible.iter().any(|q| *q != p && q.iter().zip(p).all(|(a, b)| a <= b));
    feasible.iter().filter(|p| !dominated(p)).map(|p| (*p).clone()).collect()
}

#[test]
fn nsga2_finds_more_of_the_true_front_than_random_sampling_of_the_same_size() {
    use rand::SeedableRng;
    let spec = resnet18_spec();
    let lines = grid_lines();
    let all = whole_grid(&spec, &lines);
    let front = grid_front(&all);
    let settings = Nsga2 { population: Nsga2::POPULATION, generations: Nsga2::GENERATIONS, seed: 0 };
    let budget = settings.budget(spec.grid_size()) as usize;
    let (mut by_search, mut by_chance) = (0, 0);
    for seed in 0..5 {
        let (r, _, _) = search(&spec, &lines, Nsga2 { seed, ..settings });
        by_search += r.feasible_objectives().iter().filter(|o| front.contains(o)).count();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let sample = rand::seq::index::sample(&mut rng, all.len(), budget);
        by_chance += sample.iter().filter(|&i| all[i].feasible() && front.contains(&all[i].objectives)).count();
    }
    eprintln!("front of {}: found {by_search} by nsga2, {by_chance} by chance, over 5 seeds", front.len());
    assert!(by_search > by_chance, "{by_search} vs {by_chance}");
}

#[test]
fn a_configs_outcome_is_the_weighted_mean_of_its_workloads_and_its_total_violation() {
    let text = "objectives = [\"seconds\", \"gops\", \"lut\"]\n[[workload]]\nmodel = \"digits-cnn\"\nweight = 3\n[[workload]]\nmodel = \"digits-cnn\"\nmethod = \"dense\"\n[constraints]\nlut_max = 100\n";
    let spec = Spec::parse(text, "w.toml").unwrap();
    let line = |s: f64, g: f64, lut: f64, feasible: bool| serde_json::json!({"seconds": s, "gops": g, "lut": lut, "feasible": feasible});
    let (a, b) = (line(1.0, 10.0, 50.0, true), line(5.0, 2.0, 50.0, true));
    let o = outcome(&spec, &[&a, &b]);
    assert_eq!(o, Outcome { objectives: vec![2.0, -8.0, 50.0], violation: 0.0 });
    let (a, b) = (line(1.0, 10.0, 150.0, false), line(5.0, 2.0, 150.0, false));
    assert_eq!(outcome(&spec, &[&a, &b]).violation, 1.0);
    let invalid = serde_json::json!({"feasible": false, "reason": "invalid config: x"});
    assert_eq!(outcome(&spec, &[&a, &invalid]).violation, f64::INFINITY);
}

#[test]
fn the_shipped_search_spec_searches_the_grid_specs_space_on_a_quarter_of_it() {
    let grid = resnet18_spec();
    let path = manifest("../examples/explore-resnet18-nsga2.toml");
    let search = Spec::parse(&std::fs::read_to_string(&path).unwrap(), "explore-resnet18-nsga2.toml").unwrap();
    assert_eq!(
        (&search.space, &search.objectives, &search.workloads),
        (&grid.space, &grid.objectives, &grid.workloads)
    );
    assert_eq!(search.constraints, grid.constraints);
    let super::spec::Strategy::Nsga2(settings) = search.strategy else { panic!("{:?}", search.strategy) };
    assert_eq!(settings, Nsga2 { population: Nsga2::POPULATION, generations: Nsga2::GENERATIONS, seed: 1 });
    assert!(settings.budget(grid.grid_size()) * 4 <= grid.grid_size());
}

/// A made-up space: two conflicting objectives of the genes, infeasible
/// where the genes sum to a multiple of 5, invalid where they sum to 7.
struct Synthetic;

impl Evaluator for Synthetic {
    fn evaluate(&mut self, configs: &[Vec<usize>]) -> Result<Vec<Outcome>, FlowError> {
        Ok(configs
            .iter()
            .map(|g| {
                let sum: usize = g.iter().sum();
                let first = g.first().copied().unwrap_or(0) as f64;
                match sum {
                    7 => Outcome { objectives: Vec::new(), violation: f64::INFINITY },
                    s => Outcome {
                        objectives: vec![s as f64, 10.0 - first + (s % 3) as f64],
                        violation: if s % 5 == 0 { 1.0 + first } else { 0.0 },
                    },
                }
            })
            .collect())
    }
}

proptest::proptest! {
    #[test]
    fn nsga2_evaluates_its_budget_of_distinct_grid_configs_deterministically(
        radices in proptest::collection::vec(1..5usize, 0..5),
        population in 4..12usize,
        generations in 1..5usize,
        seed in 0..1000u64,
    ) {
        let settings = Nsga2 { population, generations, seed };
        let a = nsga2(&radices, &settings, &mut Synthetic).unwrap();
        let b = nsga2(&radices, &settings, &mut Synthetic).unwrap();
        proptest::prop_assert_eq!(&a.evaluated, &b.evaluated);
        let grid: u128 = radices.iter().map(|&r| r as u128).product();
        proptest::prop_assert_eq!(a.evaluated.len() as u128, settings.budget(grid));
        let distinct: HashSet<&Vec<usize>> = a.evaluated.iter().map(|(g, _)| g).collect();
        proptest::prop_assert_eq!(distinct.len(), a.evaluated.len());
        for (g, _) in &a.evaluated {
            proptest::prop_assert!(g.len() == radices.len() && g.iter().zip(&radices).all(|(v, r)| v < r));
        }
    }
}
