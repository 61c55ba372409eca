//! `summary.json`, `summary.csv` and the terminal summary of a report.

use std::collections::BTreeMap;

use nmsat_dataflow::ArchConfig;
use serde::Serialize;

use super::{ReportInput, RunAnalysis};
use crate::energy::{EnergyFigures, GapSummary, UnitEnergy};
use crate::prior::{PRIOR, PriorAccelerator};
use crate::table::{csv_line, table};

/// The version of `summary.json`'s layout; raised when a field changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;

/// One layer and pass of a run, in brief.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSummary {
    /// Layer name.
    pub name: String,
    /// Pass.
    pub pass: String,
    /// Attributed cycles.
    pub cycles: u64,
    /// Energy in pJ.
    pub energy_pj: f64,
    /// `compute`, `dma`, `dependency` or `hidden`.
    pub bound: String,
    /// Dense-equivalent MACs per DRAM byte.
    pub arithmetic_intensity: Option<f64>,
    /// Achieved over the roofline at that intensity.
    pub roofline_fraction: Option<f64>,
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Model.
    pub model: String,
    /// `dense`, `srste`, `bdwp`.
    pub method: String,
    /// The pattern of a sparse method.
    pub nm: Option<String>,
    /// Samples per step.
    pub batch: u64,
    /// Cycles of the step (as `nmsat sim` reports them).
    pub total_cycles: u64,
    /// Seconds at the clock.
    pub seconds: f64,
    /// Dense cycles over these.
    pub speedup_over_dense: f64,
    /// The MAC-count bound on it.
    pub mac_bound: f64,
    /// Busy span per pass.
    pub passes: BTreeMap<String, u64>,
    /// PE utilisation.
    pub pe_utilization: f64,
    /// DRAM payload bytes.
    pub dram_bytes: u64,
    /// Energy, power, GOPS, GOPS/W, pJ/MAC and EDP of the step.
    pub energy: EnergyFigures,
    /// Energy per component.
    pub energy_by_unit: Vec<UnitEnergy>,
    /// Energy per pass (pJ).
    pub energy_by_pass_pj: BTreeMap<String, f64>,
    /// Cycles by what bounds each layer and pass.
    pub cycles_by_bound: BTreeMap<String, u64>,
    /// Where the cycles beyond the dense run's MAC-count bound go (sparse runs).
    pub gap_to_mac_bound: Option<GapSummary>,
    /// Per layer and pass.
    pub layers: Vec<LayerSummary>,
}

/// Everything `summary.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The nmsat version that wrote it.
    pub nmsat_version: String,
    /// The resolved config.
    pub config: ArchConfig,
    /// The energy table's name and origin.
    pub energy_table: String,
    /// Where the table was read from.
    pub energy_table_origin: String,
    /// Samples per step.
    pub batch: u64,
    /// Every run.
    pub runs: Vec<RunSummary>,
    /// What the ablation is of.
    pub ablation_of: String,
    /// Variant and cycles.
    pub ablation: Vec<(String, u64)>,
    /// Published accelerators shown beside the modelled SAT.
    pub prior_accelerators: Vec<PriorAccelerator>,
    /// Resources from synthesis, when given.
    pub resources: Option<BTreeMap<String, String>>,
}

impl Summary {
    /// The summary of `input` and its analysis.
    pub fn new(input: &ReportInput<'_>, analysis: &[RunAnalysis]) -> Self {
        let runs = input
            .runs
            .iter()
            .zip(analysis)
            .map(|(r, a)| {
                let s = &r.stats;
                RunSummary {
                    model: r.model.clone(),
                    method: r.method.name().to_string(),
                    nm: r.nm.map(|p| p.to_string()),
                    batch: input.batch,
                    total_cycles: s.total_cycles,
                    seconds: s.seconds,
                    speedup_over_dense: r.speedup_over_dense,
                    mac_bound: r.mac_bound,
                    passes: s.passes.iter().map(|(p, c)| (p.to_string(), *c)).collect(),
                    pe_utilization: s.pe_utilization,
                    dram_bytes: s.dram_bytes,
                    energy: a.energy.total.clone(),
                    energy_by_unit: a.energy.by_unit.clone(),
                    energy_by_pass_pj: a
                        .energy
                        .passes
                        .iter()
                        .map(|p| (p.pass.to_string(), p.figures.energy_pj))
                        .collect(),
                    cycles_by_bound: a.bottlenecks.cycles_by_bound.clone(),
                    gap_to_mac_bound: a.gap.as_ref().map(|g| g.gap.clone()),
                    layers: a
                        .bottlenecks
                        .layers
                        .iter()
                        .zip(&a.energy.layers)
                        .map(|(b, e)| LayerSummary {
                            name: b.name.clone(),
                            pass: b.pass.to_string(),
                            cycles: b.cycles,
                            energy_pj: e.figures.energy_pj,
                            bound: b.bound.name().to_string(),
                            arithmetic_intensity: b.arithmetic_intensity,
                            roofline_fraction: b.roofline_fraction,
                        })
                        .collect(),
                }
            })
            .collect();
        Summary {
            schema_version: SCHEMA_VERSION,
            nmsat_version: env!("CARGO_PKG_VERSION").to_string(),
            config: input.arch.clone(),
            energy_table: input.table.name.clone(),
            energy_table_origin: input.table.origin.clone(),
            batch: input.batch,
            runs,
            ablation_of: input.focus.clone(),
            ablation: input.ablation.clone(),
            prior_accelerators: PRIOR.to_vec(),
            resources: input.resources.as_ref().map(|(_, rows)| rows.iter().cloned().collect()),
        }
    }
}

const CSV_HEADER: [&str; 14] = [
    "model",
    "method",
    "nm",
    "batch",
    "total_cycles",
    "seconds",
    "speedup_over_dense",
    "mac_bound",
    "pe_utilization",
    "dram_bytes",
    "energy_pj",
    "average_power_w",
    "gops_dense_equivalent",
    "gops_per_w_dense_equivalent",
];

fn opt(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v:.6}"))
}

fn cells(r: &RunSummary) -> Vec<String> {
    let e = &r.energy;
    vec![
        r.model.clone(),
        r.method.clone(),
        r.nm.clone().unwrap_or_default(),
        r.batch.to_string(),
        r.total_cycles.to_string(),
        format!("{:.9}", r.seconds),
        format!("{:.6}", r.speedup_over_dense),
        format!("{:.6}", r.mac_bound),
        format!("{:.6}", r.pe_utilization),
        r.dram_bytes.to_string(),
        format!("{:.3}", e.energy_pj),
        opt(e.average_power_w),
        opt(e.gops_dense_equivalent),
        opt(e.gops_per_w_dense_equivalent),
    ]
}

/// One CSV row per run.
pub fn csv(s: &Summary) -> String {
    let mut out = CSV_HEADER.join(",") + "\n";
    for r in &s.runs {
        out.push_str(&csv_line(&cells(r)));
        out.push('\n');
    }
    out
}

/// The cells of one run's row in the run tables; `ratio` follows the
/// speedup and its bound (`x` in the terminal, nothing on the page).
pub(super) fn run_cells(r: &RunSummary, ratio: &str) -> Vec<String> {
    let e = &r.energy;
    vec![
        r.model.clone(),
        r.nm.as_ref().map_or_else(|| r.method.clone(), |p| format!("{} {p}", r.method)),
        r.total_cycles.to_string(),
        format!("{:.3}{ratio}", r.speedup_over_dense),
        format!("{:.3}{ratio}", r.mac_bound),
        format!("{:.3}", e.energy_j * 1e3),
        e.average_power_w.map_or_else(|| "-".into(), |w| format!("{w:.2}")),
        e.gops_dense_equivalent.map_or_else(|| "-".into(), |g| format!("{g:.0}")),
        e.gops_per_w_dense_equivalent.map_or_else(|| "-".into(), |g| format!("{g:.1}")),
    ]
}

/// A terminal table: per run, cycles, speedup, energy, power and efficiency.
pub fn text(s: &Summary) -> String {
    let rows: Vec<Vec<String>> = s.runs.iter().map(|r| run_cells(r, "x")).collect();
    let header = ["model", "method", "cycles", "speedup", "MAC bound", "energy mJ", "power W", "GOPS", "GOPS/W"];
    format!("energy table `{}` on `{}`, batch {}:\n{}", s.energy_table, s.config.name, s.batch, table(&header, &rows))
}
