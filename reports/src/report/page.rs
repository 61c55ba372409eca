//! The report's HTML page.

use super::summary::{Summary, run_cells};
use super::{ReportInput, RunAnalysis, charts::focus};
use crate::charts::Chart;
use crate::html::{Block, ConfigSummary, DataTable, EnergyTableSummary, Figure, Page, Resources, Section};
use crate::prior::PRIOR;
use nmsat_dataflow::arch::{Im2col, Stationarity};

/// What each chart shows, after its title.
const CAPTIONS: [&str; 8] = [
    "Compute-busy cycles and stall queue-cycles by cause, summed over the three queues.",
    "Energy per component under the energy table (dynamic per action plus static per cycle).",
    "Measured speedup over dense training against each method's MAC-count bound; the line is the 1.75x Fang et al. report for SAT + BDWP 2:8 averaged over their networks.",
    "MACs executed over the multiplier slots of each layer's attributed cycles.",
    "Achieved dense-equivalent GOPS of each layer and pass against the config's compute and DRAM roofs.",
    "The step with each dataflow optimization switched off.",
    "Modelled SAT figures (dense-equivalent operations, energy from the table) beside published figures of FPGA training accelerators (as their authors count operations).",
    "Busy intervals per unit over one step, merged and downsampled.",
];

fn config(input: &ReportInput<'_>) -> ConfigSummary {
    let a = input.arch;
    let b = &a.buffers;
    let kib = |x: u64| format!("{} KiB", x / 1024);
    ConfigSummary {
        name: a.name.clone(),
        array: format!("{} x {} PEs", a.pe_array.rows, a.pe_array.cols),
        lanes: format!("{} lanes per PE, {}:1 activation mux", a.pe_array.lanes, a.pe_array.mux_inputs),
        buffers: vec![
            ("activation".into(), format!("{}, {} banks", kib(b.activation.bytes), b.activation.banks)),
            ("weight".into(), format!("{}, {} banks", kib(b.weight.bytes), b.weight.banks)),
            ("output".into(), format!("{}, {} banks", kib(b.output.bytes), b.output.banks)),
        ],
        dram: format!(
            "{} B/cycle ({:.1} GB/s), latency {} cycles, {} B bursts",
            a.dram.bytes_per_cycle,
            a.derived().dram_gbytes_per_second,
            a.dram.latency_cycles,
            a.dram.burst_bytes
        ),
        clock_mhz: f64::from(a.clock_mhz),
        im2col: match a.dram.im2col {
            Im2col::LineBuffer => format!("line buffer, {}", kib(a.dram.line_buffer_bytes)),
            Im2col::Dram => "dram (tap segments)".into(),
        },
        dataflows: a
            .pe_array
            .dataflows
            .iter()
            .map(|f| match f {
                Stationarity::Os => "output-stationary",
                Stationarity::Ws => "weight-stationary",
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn energy_table(input: &ReportInput<'_>) -> EnergyTableSummary {
    let mut sources: Vec<String> = input.table.entries.iter().map(|e| e.source.clone()).collect();
    sources.sort();
    sources.dedup();
    EnergyTableSummary { name: format!("{} ({})", input.table.name, input.table.description), sources }
}

fn runs_table(s: &Summary) -> DataTable {
    DataTable {
        caption: "Every simulated training step".into(),
        header: ["model", "method", "cycles", "speedup", "MAC bound", "energy (mJ)", "power (W)", "GOPS", "GOPS/W"]
            .map(String::from)
            .to_vec(),
        rows: s.runs.iter().map(|r| run_cells(r, "")).collect(),
    }
}

fn prior_table() -> DataTable {
    DataTable {
        caption: "Published FPGA training accelerators".into(),
        header: ["work", "venue", "device", "precision", "GOPS", "GOPS/W", "source"].map(String::from).to_vec(),
        rows: PRIOR
            .iter()
            .map(|p| {
                vec![
                    p.name.into(),
                    p.venue.into(),
                    p.device.into(),
                    p.precision.into(),
                    format!("{}", p.gops),
                    p.gops_per_w.map_or_else(|| "-".into(), |g| format!("{g}")),
                    p.source.into(),
                ]
            })
            .collect(),
    }
}

/// The page: summary, config and tables, the eight charts, bottlenecks, prior work.
pub(super) fn page(input: &ReportInput<'_>, analysis: &[RunAnalysis], summary: &Summary, charts: Vec<Chart>) -> Page {
    let f = focus(input);
    let mut setup =
        vec![Block::KeyValues(config(input).key_values()), Block::KeyValues(energy_table(input).key_values())];
    if let Some((tool, rows)) = &input.resources {
        setup.push(Block::KeyValues(Resources { tool: tool.clone(), rows: rows.clone() }.key_values()));
    }
    let figures = charts
        .into_iter()
        .zip(CAPTIONS)
        .enumerate()
        .map(|(i, (chart, caption))| {
            let trace = if i == 7 { input.trace_file.clone() } else { None };
            Block::Figure(Figure { chart, caption: caption.into(), trace })
        })
        .collect();
    let gap = crate::energy::bottleneck_text(&analysis[f].bottlenecks);
    Page {
        title: format!("nmsat report: {} on `{}`", models(input), input.arch.name),
        subtitle: Some(format!(
            "batch {}, energy table `{}`; every number simulated by nmsat {} (fast mode, cycle-accurate timing)",
            input.batch,
            input.table.name,
            env!("CARGO_PKG_VERSION")
        )),
        sections: vec![
            Section {
                heading: "Summary".into(),
                blocks: vec![Block::Table(runs_table(summary))],
            },
            Section { heading: "Hardware and energy model".into(), blocks: setup },
            Section { heading: "Charts".into(), blocks: figures },
            Section {
                heading: format!("Bottlenecks: {}", input.focus),
                blocks: vec![Block::Pre(gap)],
            },
            Section {
                heading: "Prior FPGA training accelerators".into(),
                blocks: vec![
                    Block::Prose("Figures as their authors publish them; operation counting differs between works, so they give context rather than a like-for-like comparison.".into()),
                    Block::Table(prior_table()),
                ],
            },
        ],
    }
}

fn models(input: &ReportInput<'_>) -> String {
    let mut m: Vec<&str> = Vec::new();
    for r in &input.runs {
        if !m.contains(&r.model.as_str()) {
            m.push(&r.model);
        }
    }
    m.join(", ")
}
