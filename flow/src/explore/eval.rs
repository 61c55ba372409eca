//! Evaluating one point: the config, a simulated step of the workload,
//! its time, energy, throughput and resources, and the constraints.

use nmsat_compiler::Model;
use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_reports::energy::{EnergyTable, energy};
use serde_json::{Map, Value as Json, json};

use super::points::{Point, apply};
use super::resources::estimate;
use super::spec::{Spec, Workload};
use crate::step::{Schedule, StepRequest, simulate_step_with};

/// What every evaluation shares: the spec, its loaded models, the energy
/// table, the base config and the result field names.
pub struct Context {
    /// The spec.
    pub spec: Spec,
    /// One model per workload.
    pub models: Vec<Model>,
    /// The energy table (fpga-vu9p).
    pub table: EnergyTable,
    /// The preset the space modifies.
    pub base: ArchConfig,
    /// Result field name of each space key.
    pub fields: Vec<String>,
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and release.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The result key of a point: its config TOML, workload, schedule choice and the version.
pub fn point_key(config_toml: &str, workload: &Workload, schedule: Schedule) -> String {
    let sched = match schedule {
        Schedule::Fastest => "",
        Schedule::CostModel => "\nschedule=cost-model",
    };
    let text = format!("{config_toml}\n{}\n{}{sched}", workload.label(), env!("CARGO_PKG_VERSION"));
    format!("{:016x}", fnv1a64(text.as_bytes()))
}

/// The objectives of a simulated step of `workload` on `arch`, or why none.
fn objectives(ctx: &Context, arch: &ArchConfig, w: usize) -> Result<Map<String, Json>, String> {
    let wl = &ctx.spec.workloads[w];
    let req = StepRequest {
        model: ctx.models[w].clone(),
        method: wl.method,
        nm: wl.nm,
        batch: wl.batch,
        dataflow: DataflowOptions::default(),
        arch: arch.clone(),
    };
    let step = simulate_step_with(&req, ctx.spec.schedule).map_err(|e| e.to_string())?;
    let f = energy(&step.stats, arch, &ctx.table).total;
    let r = estimate(arch).map_err(|e| e.to_string())?;
    let mut m = Map::new();
    m.insert("cycles".into(), json!(f.cycles));
    m.insert("seconds".into(), json!(f.seconds));
    m.insert("energy_j".into(), json!(f.energy_j));
    m.insert("power_w".into(), json!(f.average_power_w));
    m.insert("gops".into(), json!(f.gops_dense_equivalent));
    m.insert("gops_per_w".into(), json!(f.gops_per_w_dense_equivalent));
    m.insert("edp_j_s".into(), json!(f.energy_delay_product_j_s));
    m.insert("lut".into(), json!(r.lut));
    m.insert("ff".into(), json!(r.ff));
    m.insert("dsp".into(), json!(r.dsp));
    m.insert("bram36".into(), json!(r.bram36));
    Ok(m)
}

/// The constraints `m` violates, in words.
fn violations(spec: &Spec, m: &Map<String, Json>) -> Vec<String> {
    spec.constraints
        .iter()
        .filter_map(|c| {
            let v = m.get(&c.objective).and_then(Json::as_f64)?;
            let ok = if c.is_max { v <= c.limit } else { v >= c.limit };
            let (op, word) = if c.is_max { (">", "max") } else { ("<", "min") };
            (!ok).then(|| format!("{} = {v} {op} {}_{word} = {}", c.objective, c.objective, c.limit))
        })
        .collect()
}

/// The result line of `point`: its index, key, values, workload,
/// objectives, resources, feasibility and reason.
pub fn evaluate(ctx: &Context, point: &Point) -> Json {
    let wl = &ctx.spec.workloads[point.workload];
    let (toml, arch) = apply(&ctx.base, &point.values);
    let mut line = Map::new();
    line.insert("index".into(), json!(point.index));
    line.insert("key".into(), json!(point_key(&toml, wl, ctx.spec.schedule)));
    for (name, (_, v)) in ctx.fields.iter().zip(&point.values) {
        line.insert(name.clone(), serde_json::to_value(v).unwrap_or(Json::Null));
    }
    line.insert("workload".into(), json!(wl.label()));
    line.insert("weight".into(), json!(wl.weight));
    outcome(ctx, arch, point.workload, &mut line);
    Json::Object(line)
}

/// Adds to `line` the objectives of a step of workload `w` on `arch` (or
/// the reason there are none), `feasible` and `reason`.
pub(crate) fn outcome(ctx: &Context, arch: Result<ArchConfig, String>, w: usize, line: &mut Map<String, Json>) {
    let result = arch.map_err(|e| format!("invalid config: {e}")).and_then(|a| objectives(ctx, &a, w));
    let reason = match result {
        Ok(m) => {
            let v = violations(&ctx.spec, &m);
            line.extend(m);
            (!v.is_empty()).then(|| v.join("; "))
        }
        Err(e) => Some(e),
    };
    line.insert("feasible".into(), json!(reason.is_none()));
    line.insert("reason".into(), json!(reason));
}
