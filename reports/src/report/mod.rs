//! The report of a set of simulated steps (`nmsat report`): energy,
//! bottlenecks, eight charts, `summary.json`, `summary.csv` and the HTML
//! page, assembled from the simulator's statistics and the energy model.
//! Every number comes from the [`Stats`] passed in and the energy table.

mod charts;
mod page;
mod summary;

use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_sim::Stats;

use crate::charts::ChartError;
use crate::energy::{BottleneckReport, EnergyReport, EnergyTable, SpeedupGap, bottlenecks, energy, speedup_gap};
use crate::html::Page;
use crate::timeline::Timeline;

pub use summary::{SCHEMA_VERSION, Summary};

/// One simulated step.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// Model name.
    pub model: String,
    /// Method.
    pub method: Method,
    /// Pattern (`None` for dense).
    pub nm: Option<NmPattern>,
    /// Its statistics.
    pub stats: Stats,
    /// Dense cycles of the same model over these.
    pub speedup_over_dense: f64,
    /// The method's MAC-count bound on that speedup.
    pub mac_bound: f64,
}

impl RunInput {
    /// `dense`, `BDWP 2:8`.
    pub fn label(&self) -> String {
        self.nm.map_or_else(|| self.method.label().to_string(), |p| self.method.label_with(p))
    }
}

/// What the report is built from.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// The config every run simulated.
    pub arch: &'a ArchConfig,
    /// Samples per step.
    pub batch: u64,
    /// The energy table.
    pub table: &'a EnergyTable,
    /// Every run, models in order, dense first within a model.
    pub runs: Vec<RunInput>,
    /// The ablation: variant and cycles, the full dataflow first.
    pub ablation: Vec<(String, u64)>,
    /// What the ablation (and the per-layer charts and the timeline) are of.
    pub focus: String,
    /// The busy intervals of the focus step.
    pub timeline: &'a Timeline,
    /// The Perfetto trace file of the focus step, relative to the report directory.
    pub trace_file: Option<String>,
    /// Resources from synthesis: what produced them and (resource, amount) rows.
    pub resources: Option<(String, Vec<(String, String)>)>,
}

/// The energy and bottlenecks of one run.
#[derive(Debug, Clone)]
pub struct RunAnalysis {
    /// The energy under the table.
    pub energy: EnergyReport,
    /// Per layer and pass: what bounds it, and its roofline.
    pub bottlenecks: BottleneckReport,
    /// Against the model's dense run (none for dense itself).
    pub gap: Option<SpeedupGap>,
}

/// Everything the report writes.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// The HTML page with its charts.
    pub page: Page,
    /// `summary.json`.
    pub summary_json: String,
    /// `summary.csv`.
    pub summary_csv: String,
    /// A plain-text summary for the terminal.
    pub text: String,
}

/// The energy and bottlenecks of every run, in order.
pub fn analyse(input: &ReportInput<'_>) -> Vec<RunAnalysis> {
    input
        .runs
        .iter()
        .map(|r| {
            let dense = input.runs.iter().find(|d| d.model == r.model && d.method == Method::Dense);
            RunAnalysis {
                energy: energy(&r.stats, input.arch, input.table),
                bottlenecks: bottlenecks(&r.stats, input.arch),
                gap: dense.filter(|_| r.method != Method::Dense).map(|d| speedup_gap(&r.stats, &d.stats, input.arch)),
            }
        })
        .collect()
}

/// Builds the page, the summary files and the text.
pub fn build(input: &ReportInput<'_>) -> Result<ReportOutput, ChartError> {
    let analysis = analyse(input);
    let summary = Summary::new(input, &analysis);
    let summary_json = serde_json::to_string_pretty(&summary).map_err(|e| ChartError::Draw(e.to_string()))? + "\n";
    let charts = charts::all(input, &analysis)?;
    Ok(ReportOutput {
        page: page::page(input, &analysis, &summary, charts),
        summary_json,
        summary_csv: summary::csv(&summary),
        text: summary::text(&summary),
    })
}
