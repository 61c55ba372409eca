//! The deterministic list of points: configs (the grid in spec order, or a
//! seeded sample of it) × workloads, and each config applied to the base
//! preset through its TOML so every `ArchConfig` field can vary.

use nmsat_dataflow::ArchConfig;
use rand::SeedableRng;
use toml::{Table, Value};

use super::spec::{Spec, Strategy};
use crate::error::FlowError;

/// One point: a config (its values for the space's keys) and a workload.
#[derive(Debug, Clone)]
pub struct Point {
    /// Position in the run's list (what shards split and results are ordered by).
    pub index: u64,
    /// The space's keys and this point's values, in spec order.
    pub values: Vec<(String, Value)>,
    /// Index into the spec's workloads.
    pub workload: usize,
}

/// The grid indices of the configs, in evaluation order.
fn config_indices(spec: &Spec) -> Result<Vec<u128>, FlowError> {
    let size = spec.grid_size();
    match spec.strategy {
        Strategy::Grid => {
            if size > 10_000_000 {
                return Err(FlowError::Request(format!("the grid has {size} configs; use strategy = \"random\"")));
            }
            Ok((0..size).collect())
        }
        Strategy::Random { samples, seed } => {
            let len = usize::try_from(size).unwrap_or(usize::MAX);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let n = samples.min(len);
            Ok(rand::seq::index::sample(&mut rng, len, n).into_iter().map(|i| i as u128).collect())
        }
        Strategy::Nsga2(_) => {
            Err(FlowError::Request("strategy \"nsga2\" picks its configs as it runs, not as a list".into()))
        }
    }
}

/// The values of grid config `i` (mixed radix, the last key fastest).
fn decode(spec: &Spec, mut i: u128) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(spec.space.len());
    for (k, vals) in spec.space.iter().rev() {
        let n = vals.len() as u128;
        out.push((k.clone(), vals[(i % n) as usize].clone()));
        i /= n;
    }
    out.reverse();
    out
}

/// The values of the config whose value index for each space key is
/// `genes[i]` (each `< the key's list length`).
pub fn values_at(spec: &Spec, genes: &[usize]) -> Vec<(String, Value)> {
    spec.space.iter().zip(genes).map(|((k, vals), &g)| (k.clone(), vals[g.min(vals.len() - 1)].clone())).collect()
}

/// The grid index of the config with value indices `genes` (the grid's
/// own order: mixed radix, the last key fastest).
pub fn grid_index(spec: &Spec, genes: &[usize]) -> u128 {
    spec.space.iter().zip(genes).fold(0u128, |acc, ((_, vals), &g)| acc * vals.len() as u128 + g as u128)
}

/// Every point of `spec`: each config × each workload, config-major.
pub fn points(spec: &Spec) -> Result<Vec<Point>, FlowError> {
    let configs = config_indices(spec)?;
    let nw = spec.workloads.len();
    let mut out = Vec::with_capacity(configs.len() * nw);
    for (c, &grid) in configs.iter().enumerate() {
        let values = decode(spec, grid);
        for w in 0..nw {
            out.push(Point { index: (c * nw + w) as u64, values: values.clone(), workload: w });
        }
    }
    Ok(out)
}

/// The TOML of `base` with `values` set at their dotted keys.
pub fn config_toml(base: &ArchConfig, values: &[(String, Value)]) -> String {
    let mut root: Table = base.to_toml().parse().expect("a config's own TOML parses");
    for (key, v) in values {
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().expect("keys are not empty");
        let mut cur = &mut root;
        for p in parts {
            cur = cur.get_mut(p).and_then(Value::as_table_mut).expect("keys were checked against the base");
        }
        cur.insert(last.to_string(), v.clone());
    }
    toml::to_string(&root).expect("a table serialises")
}

/// The config of a point, or why it is invalid.
pub fn apply(base: &ArchConfig, values: &[(String, Value)]) -> (String, Result<ArchConfig, String>) {
    let text = config_toml(base, values);
    let arch = ArchConfig::from_toml_str(&text, "explore point").map_err(|e| e.to_string());
    let arch = arch.and_then(|a| {
        let problems = a.validate();
        if problems.is_empty() {
            Ok(a)
        } else {
            Err(problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))
        }
    });
    (text, arch)
}

/// The result field names of the space's keys: the shortest dotted suffix
/// unique among them, its dots as underscores (`rows`, `activation_bytes`).
pub fn field_names(spec: &Spec) -> Vec<String> {
    let keys: Vec<Vec<&str>> = spec.space.iter().map(|(k, _)| k.split('.').collect()).collect();
    let suffix = |parts: &[&str], n: usize| parts[parts.len().saturating_sub(n)..].join("_");
    keys.iter()
        .map(|p| {
            (1..=p.len())
                .map(|n| suffix(p, n))
                .enumerate()
                .find(|(i, name)| keys.iter().filter(|o| suffix(o, i + 1) == *name).count() == 1)
                .map(|(_, name)| name)
                .unwrap_or_else(|| p.join("_"))
        })
        .collect()
}
