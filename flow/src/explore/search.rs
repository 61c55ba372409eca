//! Strategy `"nsga2"`: a small, deterministic NSGA-II over the grid.
//!
//! A candidate is a config given as one value index per `[space]` key
//! (its genes), so every candidate is a grid point. The search keeps a
//! population of distinct configs; each generation breeds as many new
//! ones by binary tournament (on rank, then crowding distance), uniform
//! crossover and a per-gene mutation (a step to a neighbouring value, or
//! any value), never a config evaluated before; parents and offspring are
//! then sorted into non-dominated fronts and the best fill the next
//! population, the last front cut by crowding distance. Every config is
//! evaluated once: a search of `population` and `generations` evaluates
//! exactly `population × (generations + 1)` distinct configs (fewer when
//! the grid is smaller).
//!
//! Domination is constraint-domination: a feasible config beats an
//! infeasible one; of two infeasible ones the smaller total violation
//! wins; of two feasible ones, Pareto domination on the objectives (all
//! minimised: maximised objectives are negated).
//!
//! With several workloads, a config's objective is the weighted mean over
//! the workloads (`Σ wᵢ·fᵢ / Σ wᵢ`, the workloads' `weight`): the expected
//! step time or energy of a mix of steps in those proportions, and, for
//! what does not depend on the workload (LUT, FF, DSP, BRAM), the value
//! itself. A config is feasible when every one of its points is.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value as Json;

use super::spec::{MAXIMISED, Nsga2, Spec};
use crate::error::FlowError;

/// What the search knows of a config.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The spec's objectives, minimised (maximised ones negated); empty
    /// when the config has none (an invalid config).
    pub objectives: Vec<f64>,
    /// 0 when feasible; else the total relative excess over the
    /// constraints, infinite for a config without objectives.
    pub violation: f64,
}

impl Outcome {
    /// True when the config meets every constraint.
    pub fn feasible(&self) -> bool {
        self.violation == 0.0
    }
}

/// Evaluates configs for the search: the real simulation, or a table.
pub trait Evaluator {
    /// The outcomes of `configs` (gene vectors), in their order.
    fn evaluate(&mut self, configs: &[Vec<usize>]) -> Result<Vec<Outcome>, FlowError>;
}

/// What a search did: every config it evaluated, in evaluation order.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// Genes and outcome of each evaluated config, in evaluation order.
    pub evaluated: Vec<(Vec<usize>, Outcome)>,
}

impl SearchResult {
    /// The objective vectors of the feasible evaluated configs.
    pub fn feasible_objectives(&self) -> Vec<Vec<f64>> {
        self.evaluated.iter().filter(|(_, o)| o.feasible()).map(|(_, o)| o.objectives.clone()).collect()
    }
}

/// The outcome of a config from its points' result lines (one per
/// workload, in the spec's order), by the rule in the module doc.
pub fn outcome(spec: &Spec, lines: &[&Json]) -> Outcome {
    let total: f64 = spec.workloads.iter().map(|w| w.weight).sum();
    let mut violation = 0.0;
    let mut objectives = vec![0.0; spec.objectives.len()];
    for (line, w) in lines.iter().zip(&spec.workloads) {
        let excess: f64 = spec
            .constraints
            .iter()
            .filter_map(|c| {
                let v = line[&c.objective].as_f64()?;
                let over = if c.is_max { v - c.limit } else { c.limit - v };
                Some((over / c.limit.abs().max(f64::MIN_POSITIVE)).max(0.0))
            })
            .sum();
        let values: Option<Vec<f64>> = spec.objectives.iter().map(|o| line[o].as_f64()).collect();
        match values {
            Some(values) if line["feasible"] == true || excess > 0.0 => {
                violation += excess;
                for (acc, (v, o)) in objectives.iter_mut().zip(values.iter().zip(&spec.objectives)) {
                    let sign = if MAXIMISED.contains(&o.as_str()) { -1.0 } else { 1.0 };
                    *acc += sign * v * w.weight / total;
                }
            }
            // No objectives, or infeasible for another reason than a constraint.
            _ => return Outcome { objectives: Vec::new(), violation: f64::INFINITY },
        }
    }
    Outcome { objectives, violation }
}

/// True when `a` constraint-dominates `b`.
fn dominates(a: &Outcome, b: &Outcome) -> bool {
    match (a.feasible(), b.feasible()) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a.violation < b.violation,
        (true, true) => {
            let pairs = || a.objectives.iter().zip(&b.objectives);
            pairs().all(|(x, y)| x <= y) && pairs().any(|(x, y)| x < y)
        }
    }
}

/// The non-dominated fronts of `outcomes` (as indices into it), best first.
fn fronts(outcomes: &[&Outcome]) -> Vec<Vec<usize>> {
    let n = outcomes.len();
    let mut beaten_by = vec![0usize; n];
    let mut beats: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            if i != j && dominates(outcomes[i], outcomes[j]) {
                beats[i].push(j);
                beaten_by[j] += 1;
            }
        }
    }
    let mut out = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| beaten_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &beats[i] {
                beaten_by[j] -= 1;
                if beaten_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        out.push(std::mem::take(&mut current));
        current = next;
    }
    out
}

/// The crowding distance of each member of `front` (infinite at the ends
/// of each objective's range).
fn crowding(outcomes: &[&Outcome], front: &[usize]) -> Vec<f64> {
    let mut dist = vec![0.0; front.len()];
    let k = front.iter().map(|&i| outcomes[i].objectives.len()).min().unwrap_or(0);
    for m in 0..k {
        let mut order: Vec<usize> = (0..front.len()).collect();
        let value = |p: usize| outcomes[front[p]].objectives[m];
        order.sort_by(|&a, &b| value(a).total_cmp(&value(b)).then(a.cmp(&b)));
        let (lo, hi) = (value(order[0]), value(order[order.len() - 1]));
        dist[order[0]] = f64::INFINITY;
        dist[order[order.len() - 1]] = f64::INFINITY;
        if hi > lo {
            for w in order.windows(3) {
                dist[w[1]] += (value(w[2]) - value(w[0])) / (hi - lo);
            }
        }
    }
    dist
}

/// Rank (front number) and crowding distance of each of `outcomes`.
fn rank_and_crowd(outcomes: &[&Outcome]) -> (Vec<Vec<usize>>, Vec<(usize, f64)>) {
    let fronts = fronts(outcomes);
    let mut score = vec![(0usize, 0.0f64); outcomes.len()];
    for (r, f) in fronts.iter().enumerate() {
        for (&i, d) in f.iter().zip(crowding(outcomes, f)) {
            score[i] = (r, d);
        }
    }
    (fronts, score)
}

/// The search's state: the grid's shape, its generator and what it has evaluated.
struct Search<'a> {
    radices: &'a [usize],
    rng: ChaCha8Rng,
    seen: HashSet<Vec<usize>>,
    result: SearchResult,
}

impl Search<'_> {
    fn grid_size(&self) -> u128 {
        self.radices.iter().map(|&r| r as u128).product()
    }

    fn random_genes(&mut self) -> Vec<usize> {
        self.radices.iter().map(|&r| self.rng.gen_range(0..r)).collect()
    }

    /// Mutates each gene with probability 1/(genes that can change), at
    /// least one when `force`: half the time a step to a neighbouring
    /// value, else any other value.
    fn mutate(&mut self, genes: &mut [usize], force: bool) {
        let free: Vec<usize> = (0..genes.len()).filter(|&i| self.radices[i] > 1).collect();
        if free.is_empty() {
            return;
        }
        let forced = force.then(|| free[self.rng.gen_range(0..free.len())]);
        for &i in &free {
            if Some(i) != forced && !self.rng.gen_bool(1.0 / free.len() as f64) {
                continue;
            }
            let r = self.radices[i];
            genes[i] = if self.rng.gen_bool(0.5) {
                match genes[i] {
                    0 => 1,
                    g if g + 1 == r => g - 1,
                    g => {
                        if self.rng.gen_bool(0.5) {
                            g + 1
                        } else {
                            g - 1
                        }
                    }
                }
            } else {
                (genes[i] + self.rng.gen_range(1..r)) % r
            };
        }
    }

    /// A config not evaluated and not in `batch`: `genes`, mutated
    /// further while it is not new, else a random new one, else the first
    /// new one in grid order (the caller leaves at least one).
    fn novel(&mut self, batch: &[Vec<usize>], mut genes: Vec<usize>) -> Vec<usize> {
        let fresh = |s: &Self, g: &Vec<usize>| !s.seen.contains(g) && !batch.contains(g);
        for _ in 0..64 {
            if fresh(self, &genes) {
                return genes;
            }
            self.mutate(&mut genes, true);
        }
        for _ in 0..4096 {
            let g = self.random_genes();
            if fresh(self, &g) {
                return g;
            }
        }
        // A nearly exhausted grid: the first new config in grid order.
        let mut g = vec![0; self.radices.len()];
        loop {
            if fresh(self, &g) {
                return g;
            }
            for i in (0..g.len()).rev() {
                g[i] += 1;
                if g[i] < self.radices[i] {
                    break;
                }
                g[i] = 0;
            }
        }
    }

    /// Evaluates `batch` (all new), recording it; returns the indices of
    /// the results of `batch`.
    fn evaluate(&mut self, eval: &mut dyn Evaluator, batch: Vec<Vec<usize>>) -> Result<Vec<usize>, FlowError> {
        let outcomes = eval.evaluate(&batch)?;
        if outcomes.len() != batch.len() {
            return Err(FlowError::Request("the evaluator returned a wrong number of outcomes".into()));
        }
        let start = self.result.evaluated.len();
        for (g, o) in batch.into_iter().zip(outcomes) {
            self.seen.insert(g.clone());
            self.result.evaluated.push((g, o));
        }
        Ok((start..self.result.evaluated.len()).collect())
    }

    /// Binary tournament on (rank, crowding) among `pop`.
    fn tournament(&mut self, pop: &[usize], score: &[(usize, f64)]) -> usize {
        let (a, b) = (self.rng.gen_range(0..pop.len()), self.rng.gen_range(0..pop.len()));
        let better =
            |x: usize, y: usize| score[x].0 < score[y].0 || (score[x].0 == score[y].0 && score[x].1 > score[y].1);
        if better(b, a) { b } else { a }
    }

    /// `n` new children of `pop` (indices into the evaluated list).
    fn offspring(&mut self, pop: &[usize], n: usize) -> Vec<Vec<usize>> {
        let outcomes: Vec<&Outcome> = pop.iter().map(|&i| &self.result.evaluated[i].1).collect();
        let (_, score) = rank_and_crowd(&outcomes);
        let mut batch: Vec<Vec<usize>> = Vec::with_capacity(n);
        while batch.len() < n {
            let (p1, p2) = (self.tournament(pop, &score), self.tournament(pop, &score));
            let (a, b) = (self.result.evaluated[pop[p1]].0.clone(), self.result.evaluated[pop[p2]].0.clone());
            let mut child = a.clone();
            if self.rng.gen_bool(0.9) {
                for (i, g) in child.iter_mut().enumerate() {
                    if self.rng.gen_bool(0.5) {
                        *g = b[i];
                    }
                }
            }
            self.mutate(&mut child, false);
            let child = self.novel(&batch, child);
            batch.push(child);
        }
        batch
    }

    /// The best `n` of `members` by rank, the last front cut by crowding.
    fn survivors(&self, members: &[usize], n: usize) -> Vec<usize> {
        let outcomes: Vec<&Outcome> = members.iter().map(|&i| &self.result.evaluated[i].1).collect();
        let (fronts, score) = rank_and_crowd(&outcomes);
        let mut out = Vec::with_capacity(n);
        for f in fronts {
            if out.len() + f.len() <= n {
                out.extend(f.iter().map(|&i| members[i]));
                continue;
            }
            let mut f = f;
            f.sort_by(|&a, &b| score[b].1.total_cmp(&score[a].1).then(a.cmp(&b)));
            out.extend(f.iter().take(n - out.len()).map(|&i| members[i]));
            break;
        }
        out
    }
}

/// Runs NSGA-II over the grid whose keys have `radices` values each,
/// with `settings`, evaluating through `eval` (each config once).
pub fn nsga2(radices: &[usize], settings: &Nsga2, eval: &mut dyn Evaluator) -> Result<SearchResult, FlowError> {
    let mut s = Search {
        radices,
        rng: ChaCha8Rng::seed_from_u64(settings.seed),
        seen: HashSet::new(),
        result: SearchResult { evaluated: Vec::new() },
    };
    let grid = s.grid_size();
    if grid == 0 {
        return Ok(s.result);
    }
    let first = settings.population.min(usize::try_from(grid).unwrap_or(usize::MAX));
    let mut batch = Vec::with_capacity(first);
    for _ in 0..first {
        let g = s.random_genes();
        let g = s.novel(&batch, g);
        batch.push(g);
    }
    let mut pop = s.evaluate(eval, batch)?;
    for _ in 0..settings.generations {
        let left = grid - s.seen.len() as u128;
        let n = settings.population.min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            break;
        }
        let children = s.offspring(&pop, n);
        let mut members = pop.clone();
        members.extend(s.evaluate(eval, children)?);
        pop = s.survivors(&members, settings.population);
    }
    Ok(s.result)
}
