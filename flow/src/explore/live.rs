//! Strategy `"nsga2"` on the real thing: the search of [`super::search`]
//! over an evaluator that simulates each config's points, or reuses their
//! lines from the results file. A point's line is the grid's line: the
//! same key and the same index (`grid config index × workloads +
//! workload`), so a search's results resume, merge and mix with a grid
//! run's like any others.

use std::collections::HashMap;

use rayon::prelude::*;
use serde_json::Value as Json;

use super::eval::{Context, evaluate, point_key};
use super::hypervolume::Bounds;
use super::points::{Point, config_toml, grid_index, values_at};
use super::search::{Evaluator, Outcome, nsga2, outcome};
use super::spec::{Nsga2, Spec};
use super::{Progress, RunOptions, RunSummary, SearchSummary, Tally, context, prepare_dir, results, thread_pool};
use crate::error::FlowError;

/// The evaluator of a live search: what the results file already holds,
/// where new lines go and what the run has counted.
struct Live<'a> {
    ctx: &'a Context,
    pool: rayon::ThreadPool,
    done: HashMap<String, Json>,
    out: results::Appender,
    summary: RunSummary,
    tally: Tally,
    total: usize,
    progress: &'a mut dyn FnMut(Progress),
}

impl Live<'_> {
    /// The points of config `genes`, one per workload.
    fn points(&self, genes: &[usize]) -> Vec<Point> {
        let spec = &self.ctx.spec;
        let nw = spec.workloads.len() as u128;
        let values = values_at(spec, genes);
        let base = grid_index(spec, genes) * nw;
        (0..spec.workloads.len())
            .map(|w| Point {
                index: u64::try_from(base + w as u128).unwrap_or(u64::MAX),
                values: values.clone(),
                workload: w,
            })
            .collect()
    }

    fn key(&self, p: &Point) -> String {
        let ctx = self.ctx;
        point_key(&config_toml(&ctx.base, &p.values), &ctx.spec.workloads[p.workload], ctx.spec.schedule)
    }
}

impl Evaluator for Live<'_> {
    fn evaluate(&mut self, configs: &[Vec<usize>]) -> Result<Vec<Outcome>, FlowError> {
        let points: Vec<(Point, String)> = configs
            .iter()
            .flat_map(|g| self.points(g))
            .map(|p| {
                let key = self.key(&p);
                (p, key)
            })
            .collect();
        let todo: Vec<&(Point, String)> = points.iter().filter(|(_, k)| !self.done.contains_key(k)).collect();
        let reused = points.len() - todo.len();
        for (_, k) in points.iter().filter(|(_, k)| self.done.contains_key(k)) {
            self.tally.add(&self.done[k]);
        }
        self.summary.reused += reused;
        let chunk = self.pool.current_num_threads().max(1) * 2;
        let ctx = self.ctx;
        for batch in todo.chunks(chunk) {
            let lines: Vec<Json> = self.pool.install(|| batch.par_iter().map(|(p, _)| evaluate(ctx, p)).collect());
            for ((_, key), line) in batch.iter().zip(lines) {
                self.out.push(&line)?;
                self.tally.add(&line);
                self.done.insert(key.clone(), line);
            }
            self.summary.computed += batch.len();
            let done = self.summary.computed + self.summary.reused;
            (self.progress)(Progress { done, total: self.total });
        }
        if todo.is_empty() {
            (self.progress)(Progress { done: self.summary.computed + self.summary.reused, total: self.total });
        }
        let nw = ctx.spec.workloads.len();
        Ok(points
            .chunks(nw)
            .map(|config| {
                let lines: Vec<&Json> = config.iter().map(|(_, k)| &self.done[k]).collect();
                outcome(&ctx.spec, &lines)
            })
            .collect())
    }
}

/// The summary of a search before it runs: its budget.
fn planned(spec: &Spec, settings: Nsga2) -> (RunSummary, usize) {
    let nw = spec.workloads.len();
    let budget = usize::try_from(settings.budget(spec.grid_size())).unwrap_or(usize::MAX);
    let search = SearchSummary { settings, budget, evaluated: 0, feasible: 0, front: 0, hypervolume: 0.0 };
    let summary = RunSummary {
        configs: usize::try_from(spec.grid_size()).unwrap_or(usize::MAX),
        points: budget.saturating_mul(nw),
        in_shard: 0,
        computed: 0,
        reused: 0,
        infeasible: 0,
        search: Some(search),
    };
    (summary, budget)
}

/// Runs strategy `"nsga2"` of the spec (`text`, parsed as `spec`): the
/// search, its points written to the results file as they are evaluated.
pub(crate) fn run_search(
    opts: &RunOptions,
    text: &str,
    spec: Spec,
    settings: Nsga2,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, FlowError> {
    if opts.shard.is_some_and(|s| s.count > 1) {
        return Err(FlowError::Request(format!(
            "{}: --shard splits a list of points, and strategy \"nsga2\" picks its points as it runs: run it whole",
            opts.spec.display()
        )));
    }
    let (mut summary, budget) = planned(&spec, settings);
    if opts.dry_run {
        return Ok(summary);
    }
    let radices: Vec<usize> = spec.space.iter().map(|(_, v)| v.len()).collect();
    let ctx = context(spec, &opts.spec.display().to_string())?;
    prepare_dir(&opts.out, text)?;
    let path = results::results_path(&opts.out);
    let done: HashMap<String, Json> = results::read_and_repair(&path)?
        .into_iter()
        .filter_map(|l| Some((l["key"].as_str()?.to_string(), l)))
        .collect();
    let total = summary.points;
    let mut live = Live {
        ctx: &ctx,
        pool: thread_pool(opts.jobs)?,
        done,
        out: results::Appender::open(&path)?,
        summary,
        tally: Tally::default(),
        total,
        progress,
    };
    (live.progress)(Progress { done: 0, total });
    let result = nsga2(&radices, &settings, &mut live)?;
    summary = live.summary;
    summary.in_shard = summary.computed + summary.reused;
    summary.infeasible = live.tally.infeasible;
    let feasible = result.feasible_objectives();
    let front = front_of(&feasible);
    summary.search = Some(SearchSummary {
        settings,
        budget,
        evaluated: result.evaluated.len(),
        feasible: feasible.len(),
        front: front.len(),
        hypervolume: Bounds::of(&feasible).map_or(0.0, |b| b.hypervolume(&front)),
    });
    match live.tally.none_feasible(&opts.spec, &opts.out) {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// The non-dominated vectors of `points` (minimised).
pub(crate) fn front_of(points: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let dominates = |a: &Vec<f64>, b: &Vec<f64>| a.iter().zip(b).all(|(x, y)| x <= y) && a != b;
    points.iter().filter(|p| !points.iter().any(|q| dominates(q, p))).cloned().collect()
}
