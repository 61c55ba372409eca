//! Design-space exploration (`nmsat explore`): a TOML spec of workloads and
//! a space of `ArchConfig` values over a preset, evaluated point by point
//! (a simulated training step, its energy and an estimate of the FPGA
//! resources), into a resumable, shardable `results.jsonl`, and the Pareto
//! front of two objectives.
//!
//! - [`spec`]: the spec and its checks.
//! - [`points`]: the deterministic list of points and their configs.
//! - [`resources`]: the resource model.
//! - [`eval`]: one point's result line.
//! - [`results`]: the results file, resuming and merging shards.
//! - [`pareto`]: the non-dominated points.
//! - [`hypervolume`]: the hypervolume of a front.
//! - [`search`]: strategy `"nsga2"`, a multi-objective search over the grid.
//! - [`report`]: `explore report`, the run's page (fronts, [`sensitivity`],
//!   best configs), and `explore pareto --chart`; [`references`]: the presets
//!   evaluated beside the run.

mod best;
pub mod eval;
pub mod hypervolume;
mod live;
pub mod pareto;
pub mod points;
pub mod references;
pub mod report;
pub mod resources;
pub mod results;
pub mod search;
pub mod sensitivity;
pub mod spec;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_search;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::FlowError;
use eval::{Context, evaluate, fnv1a64, point_key};
use points::{Point, config_toml, field_names, points};
use spec::{Spec, Strategy};

pub use results::merge;

/// A shard: the points whose index % `count` == `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("`{s}` is not I/N"))?;
        let (index, count) = (i.trim().parse::<u64>(), n.trim().parse::<u64>());
        match (index, count) {
            (Ok(index), Ok(count)) if count > 0 && index < count => Ok(Shard { index, count }),
            _ => Err(format!("`{s}` is not I/N with 0 <= I < N")),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The spec file.
    pub spec: PathBuf,
    /// The run directory.
    pub out: PathBuf,
    /// Worker threads (0: one per core).
    pub jobs: usize,
    /// Only this shard's points.
    pub shard: Option<Shard>,
    /// List the work without evaluating.
    pub dry_run: bool,
}

/// Progress of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Points done (computed or reused).
    pub done: usize,
    /// Points of this run (the shard's).
    pub total: usize,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunSummary {
    /// Configs in the spec's list (the grid's for a search).
    pub configs: usize,
    /// Points in the spec's list (configs × workloads); for a search, its
    /// budget of points.
    pub points: usize,
    /// Points of this run (the shard's; the search's evaluated points).
    pub in_shard: usize,
    /// Points evaluated now.
    pub computed: usize,
    /// Points found done in the results file.
    pub reused: usize,
    /// Points of this run recorded as infeasible (computed now or reused).
    pub infeasible: usize,
    /// What a search did (strategy `"nsga2"`).
    pub search: Option<SearchSummary>,
}

impl RunSummary {
    /// What a dry run prints: the points (or the search's budget).
    pub fn plan(&self) -> String {
        match self.search {
            Some(q) => format!(
                "nsga2: population {} x ({} generations + 1): at most {} of the grid's {} configs x {} workloads = {} points evaluated",
                q.settings.population,
                q.settings.generations,
                q.budget,
                self.configs,
                self.points / q.budget.max(1),
                self.points
            ),
            None => format!(
                "{} configs x {} workloads = {} points; {} in this shard",
                self.configs,
                self.points / self.configs.max(1),
                self.points,
                self.in_shard
            ),
        }
    }
}

/// What a search did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchSummary {
    /// Its settings.
    pub settings: spec::Nsga2,
    /// The most configs it evaluates.
    pub budget: usize,
    /// Distinct configs it evaluated.
    pub evaluated: usize,
    /// Of those, the feasible ones.
    pub feasible: usize,
    /// Non-dominated feasible configs on the spec's objectives.
    pub front: usize,
    /// Their hypervolume, normalised by the feasible configs' ranges
    /// ([`hypervolume::Bounds`]); 0 without a feasible config.
    pub hypervolume: f64,
}

/// Infeasible points of a run and why, for the error when none is feasible.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    infeasible: usize,
    points: usize,
    reasons: std::collections::BTreeMap<String, usize>,
}

impl Tally {
    /// Counts `line`; an infeasible one adds each of its reasons, a
    /// violated constraint counted by its name (`lut_max`).
    pub(crate) fn add(&mut self, line: &serde_json::Value) {
        self.points += 1;
        if line["feasible"] == true {
            return;
        }
        self.infeasible += 1;
        let reason = line["reason"].as_str().unwrap_or("no reason recorded");
        let mut kinds: Vec<String> = reason
            .split("; ")
            .map(|part| {
                let words: Vec<&str> = part.split_whitespace().collect();
                match words.as_slice() {
                    [_, "=", _, ">" | "<", bound, "=", _] => (*bound).to_string(),
                    _ => part.to_string(),
                }
            })
            .collect();
        kinds.dedup();
        for k in kinds {
            *self.reasons.entry(k).or_default() += 1;
        }
    }

    /// The `n` commonest reasons with their counts, most frequent first
    /// (ties by name).
    pub(crate) fn commonest(&self, n: usize) -> Vec<(&str, usize)> {
        let mut reasons: Vec<(&str, usize)> = self.reasons.iter().map(|(r, c)| (r.as_str(), *c)).collect();
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        reasons.truncate(n);
        reasons
    }

    /// The error when every point of the run is infeasible.
    pub(crate) fn none_feasible(&self, spec: &Path, out: &Path) -> Option<FlowError> {
        if self.points == 0 || self.infeasible < self.points {
            return None;
        }
        let top: Vec<String> = self.commonest(3).iter().map(|(r, n)| format!("{r} ({n} points)")).collect();
        Some(FlowError::Request(format!(
            "{}: no feasible point: all {} points are infeasible; most common reasons: {} (results in {})",
            spec.display(),
            self.points,
            top.join(", "),
            results::results_path(out).display()
        )))
    }
}

/// Reads and parses the spec at `path`; returns its text too.
pub fn load_spec(path: &Path) -> Result<(String, Spec), FlowError> {
    let text = std::fs::read_to_string(path).map_err(|e| FlowError::io(path, &e))?;
    let spec = Spec::parse(&text, &path.display().to_string())?;
    Ok((text, spec))
}

/// The context of `spec`: its models, the energy table and the base preset.
fn context(spec: Spec, origin: &str) -> Result<Context, FlowError> {
    let models = spec
        .workloads
        .iter()
        .map(|w| {
            nmsat_compiler::load_model(&w.model)
                .map_err(|e| FlowError::Request(format!("{origin}: workload `{}`: {e}", w.model)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let base = crate::input::load_arch(Some(&spec.base))?;
    let table = nmsat_reports::energy::EnergyTable::builtin("fpga-vu9p")?;
    let fields = field_names(&spec);
    Ok(Context { spec, models, table, base, fields })
}

fn write_file(path: &Path, text: &str) -> Result<(), FlowError> {
    std::fs::write(path, text).map_err(|e| FlowError::io(path, &e))
}

/// Creates the run directory, or checks that it holds this spec's run.
fn prepare_dir(out: &Path, text: &str) -> Result<(), FlowError> {
    let hash = format!("{:016x}", fnv1a64(text.as_bytes()));
    std::fs::create_dir_all(out).map_err(|e| FlowError::io(out, &e))?;
    match results::read_spec_hash(out)? {
        Some(h) if h != hash => Err(FlowError::Request(format!(
            "{}: holds the run of another spec (hash {h}, this spec's is {hash}); use another directory",
            out.display()
        ))),
        _ => {
            write_file(&out.join("spec.toml"), text)?;
            write_file(&out.join("spec.hash"), &format!("{hash}\n"))
        }
    }
}

/// Runs the spec: evaluates the shard's points not yet in the results
/// file, in parallel chunks, appending their lines in point order
/// (strategy `"nsga2"`: the search's points, evaluated the same way).
/// When every point of a whole run is infeasible, the results are written
/// and the run is an error saying how many and why.
pub fn run(opts: &RunOptions, progress: &mut dyn FnMut(Progress)) -> Result<RunSummary, FlowError> {
    let (text, spec) = load_spec(&opts.spec)?;
    if let Strategy::Nsga2(settings) = spec.strategy {
        return live::run_search(opts, &text, spec, settings, progress);
    }
    let all = points(&spec)?;
    let configs = all.len() / spec.workloads.len();
    let shard = opts.shard.unwrap_or(Shard { index: 0, count: 1 });
    let mine: Vec<Point> = all.iter().filter(|p| p.index % shard.count == shard.index).cloned().collect();
    let mut summary = RunSummary {
        configs,
        points: all.len(),
        in_shard: mine.len(),
        computed: 0,
        reused: 0,
        infeasible: 0,
        search: None,
    };
    if opts.dry_run {
        return Ok(summary);
    }
    let ctx = context(spec, &opts.spec.display().to_string())?;
    prepare_dir(&opts.out, &text)?;
    let path = results::results_path(&opts.out);
    let existing = results::read_and_repair(&path)?;
    let done: HashMap<&str, &serde_json::Value> =
        existing.iter().filter_map(|l| Some((l["key"].as_str()?, l))).collect();
    let mut tally = Tally::default();
    let mut todo: Vec<&Point> = Vec::new();
    for p in &mine {
        let key = point_key(&config_toml(&ctx.base, &p.values), &ctx.spec.workloads[p.workload], ctx.spec.schedule);
        match done.get(key.as_str()) {
            Some(line) => tally.add(line),
            None => todo.push(p),
        }
    }
    summary.reused = mine.len() - todo.len();
    let pool = thread_pool(opts.jobs)?;
    let mut out = results::Appender::open(&path)?;
    let chunk = pool.current_num_threads().max(1) * 2;
    progress(Progress { done: summary.reused, total: mine.len() });
    for batch in todo.chunks(chunk) {
        let lines: Vec<_> = pool.install(|| batch.par_iter().map(|p| evaluate(&ctx, p)).collect());
        for l in &lines {
            tally.add(l);
            out.push(l)?;
        }
        summary.computed += lines.len();
        progress(Progress { done: summary.reused + summary.computed, total: mine.len() });
    }
    summary.infeasible = tally.infeasible;
    match tally.none_feasible(&opts.spec, &opts.out) {
        Some(e) if shard.count == 1 => Err(e),
        _ => Ok(summary),
    }
}

/// A pool of `jobs` worker threads (0: one per core).
fn thread_pool(jobs: usize) -> Result<rayon::ThreadPool, FlowError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| FlowError::Request(format!("cannot start worker threads: {e}")))
}
