//! The presets evaluated on a run's workloads, to place them beside the
//! explored configs (`explore report`, `explore pareto --chart`).
//!
//! Each preset's step is simulated like any point (same schedule choice,
//! energy table, resource model and constraints) and kept in the run
//! directory's `presets.jsonl`, keyed like a point, so a second report
//! reuses them. The default preset (`sat-vu9p`, the paper-like SAT) is
//! labelled as such; a spec whose base is a config file adds that file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nmsat_dataflow::ArchConfig;
use rayon::prelude::*;
use serde_json::{Map, Value as Json, json};

use super::eval::{Context, outcome, point_key};
use super::points::config_toml;
use super::results::{Appender, read_and_repair};
use crate::error::FlowError;

/// The file of the presets' results in a run directory.
pub fn presets_path(dir: &Path) -> PathBuf {
    dir.join("presets.jsonl")
}

/// The configs to mark: every built-in preset, then the spec's base when
/// it is a file; each with its label.
fn marked_configs(ctx: &Context) -> Vec<(String, ArchConfig)> {
    let default_name = ArchConfig::default_preset().name.clone();
    let mut out: Vec<(String, ArchConfig)> = nmsat_dataflow::arch::PRESETS
        .iter()
        .filter_map(|(name, _)| {
            let arch = ArchConfig::preset(name)?;
            let label = if *name == default_name { format!("{name} (default)") } else { name.to_string() };
            Some((label, arch))
        })
        .collect();
    if ArchConfig::preset(&ctx.spec.base).is_none() {
        out.push((format!("base {}", ctx.spec.base), ctx.base.clone()));
    }
    out
}

/// The result lines of every marked config on every workload of `ctx`:
/// read from `presets.jsonl` in `dir` when there, else simulated (on
/// `jobs` threads, 0 = one per core) and appended to it; with how many
/// were simulated now. Lines carry `preset` (the label) besides a point's
/// fields.
pub fn references(dir: &Path, ctx: &Context, jobs: usize) -> Result<(Vec<Json>, usize), FlowError> {
    let path = presets_path(dir);
    let stored = read_and_repair(&path)?;
    let done: HashMap<&str, &Json> = stored.iter().filter_map(|l| Some((l["key"].as_str()?, l))).collect();
    let mut jobs_todo: Vec<(String, ArchConfig, usize, String)> = Vec::new();
    let mut out: Vec<Option<Json>> = Vec::new();
    for (label, arch) in marked_configs(ctx) {
        for (w, wl) in ctx.spec.workloads.iter().enumerate() {
            let key = point_key(&config_toml(&arch, &[]), wl, ctx.spec.schedule);
            match done.get(key.as_str()) {
                Some(l) => out.push(Some((*l).clone())),
                None => {
                    out.push(None);
                    jobs_todo.push((label.clone(), arch.clone(), w, key));
                }
            }
        }
    }
    let simulated = jobs_todo.len();
    if !jobs_todo.is_empty() {
        let pool = super::thread_pool(jobs)?;
        let fresh: Vec<Json> = pool.install(|| {
            jobs_todo
                .par_iter()
                .map(|(label, arch, w, key)| {
                    let mut line = Map::new();
                    line.insert("preset".into(), json!(label));
                    line.insert("key".into(), json!(key));
                    line.insert("workload".into(), json!(ctx.spec.workloads[*w].label()));
                    outcome(ctx, Ok(arch.clone()), *w, &mut line);
                    Json::Object(line)
                })
                .collect()
        });
        let mut file = Appender::open(&path)?;
        let mut fresh = fresh.into_iter();
        for slot in out.iter_mut().filter(|s| s.is_none()) {
            if let Some(l) = fresh.next() {
                file.push(&l)?;
                *slot = Some(l);
            }
        }
    }
    Ok((out.into_iter().flatten().collect(), simulated))
}
