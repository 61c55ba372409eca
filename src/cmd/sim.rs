//! `nmsat sim MODEL|PROGRAM`: simulate one training step on SAT.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::timing::TimingModel;
use nmsat_flow::stream::DEFAULT_MAX_STREAM_STEPS;
use nmsat_flow::{Input, load_arch, load_input_with};
use nmsat_sim::trace::TraceWriter;
use nmsat_sim::{SimOptions, Stats, simulate};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{DataflowFlags, ModeArg, StepFlags};

/// Arguments of `nmsat sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// A built-in model, a model file (`.nm`, `.onnx`, `.layers.csv`, SCALE-Sim `.csv`),
    /// or a program written by `nmsat compile -o`.
    pub input: String,
    /// SAT config (TOML file or preset name); default: the program's own
    /// config, or the built-in sat-vu9p for a model.
    #[arg(long)]
    pub arch: Option<String>,
    /// Method, pattern and batch (for a model).
    #[command(flatten)]
    pub step: StepFlags,
    /// `fast` (event-driven) or `cycle` (steps every cycle); both give the same results.
    #[arg(long, value_enum, default_value_t = ModeArg::Fast)]
    pub mode: ModeArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SimFormat::Table)]
    pub format: SimFormat,
    /// Write a Chrome-trace/Perfetto JSON timeline of the queues to this file
    /// (written as the run goes; slices in the order instructions start).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Refuse a model's step of more GEMM reduction steps than this (a bound
    /// on run time: one step is one or a few instructions, simulated at
    /// about a million a second), checked before anything is compiled.
    #[arg(long, default_value_t = DEFAULT_MAX_STREAM_STEPS, value_parser = clap::value_parser!(u128))]
    pub max_steps: u128,
    /// Dataflow optimizations to switch off (for a model).
    #[command(flatten)]
    pub dataflow: DataflowFlags,
    /// ONNX: skip operators nmsat does not support (each listed as a note) instead of refusing the graph.
    #[arg(long)]
    pub skip_unsupported: bool,
    /// Time GEMMs and DMA as SCALE-Sim v3's output-stationary, stall-free
    /// (CALC) model does, for comparisons with SCALE-Sim: every sub-tile pays
    /// rows + cols - 2 cycles of fill and drain, DMA takes one cycle
    /// (docs/scalesim.md). Not the SAT's timing.
    #[arg(long)]
    pub scalesim_compat: bool,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimFormat {
    /// Every statistic as JSON.
    Json,
    /// One CSV row per layer and pass.
    Csv,
    /// A summary and a per-layer table.
    Table,
}

/// Runs `nmsat sim`.
pub fn run(args: SimArgs) -> CliResult {
    let opts = nmsat_compiler::LoadOptions { skip_unsupported: args.skip_unsupported };
    let (stats, info) = match load_input_with(&args.input, &opts)? {
        Input::Program(p) => {
            let arch = match &args.arch {
                Some(a) => load_arch(Some(a))?,
                None => p.arch.clone(),
            };
            (simulate_whole(&args, &p, &arch)?, p.info)
        }
        Input::Model(m) => {
            crate::cmd::common::print_notes(&m);
            // Compiled and simulated as a stream: memory stays flat.
            let mut req = args.step.request(*m, load_arch(args.arch.as_deref())?, &args.dataflow);
            req.dataflow.timing = timing(&args);
            req.check_size(args.max_steps)?;
            let step = match &args.trace {
                Some(path) => traced(path, &req.arch.name, |obs| {
                    req.simulate_observed(args.mode.into(), args.max_steps, Some(obs))
                })?,
                None => req.simulate(args.mode.into(), args.max_steps)?,
            };
            (step.stats, step.header.info)
        }
    };
    match args.format {
        SimFormat::Json => println!("{}", serde_json::to_string_pretty(&stats).map_err(CliError::input)?),
        SimFormat::Csv => print!("{}", nmsat_reports::sim::csv(&stats)),
        SimFormat::Table => print!("{}", nmsat_reports::sim::text(&stats, &info)),
    }
    Ok(())
}

/// The timing rules `--scalesim-compat` selects.
fn timing(args: &SimArgs) -> TimingModel {
    if args.scalesim_compat { TimingModel::ScalesimOs } else { TimingModel::Sat }
}

/// Runs `sim` with a trace written to `path` as it goes (through a
/// temporary file renamed at the end: nothing is left on failure).
fn traced<T>(
    path: &Path,
    arch_name: &str,
    sim: impl FnOnce(&mut dyn FnMut(&Program, &nmsat_sim::Started)) -> Result<T, nmsat_flow::FlowError>,
) -> Result<T, CliError> {
    let name = path.file_name().map_or_else(|| "trace".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let io = |e: std::io::Error| CliError::input(anyhow::anyhow!("{}: {e}", path.display()));
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = TraceWriter::new(std::io::BufWriter::new(file), arch_name);
    let r = sim(&mut |h, s| w.event(h, s));
    let done = r.map_err(CliError::from).and_then(|v| w.finish().map_err(io).map(|_| v));
    match done {
        Ok(v) => {
            std::fs::rename(&tmp, path).map_err(io)?;
            Ok(v)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Simulates a whole program, writing the trace when asked.
fn simulate_whole(args: &SimArgs, program: &Program, arch: &ArchConfig) -> Result<Stats, CliError> {
    let opts = SimOptions { timing: timing(args), ..SimOptions::default() };
    let run = simulate(program, arch, args.mode.into(), opts).map_err(CliError::input)?;
    if let Some(t) = &args.trace {
        let json = nmsat_sim::trace::chrome_trace(program, &run.retire);
        let text = serde_json::to_string(&json).map_err(CliError::input)?;
        std::fs::write(t, text).map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", t.display())))?;
    }
    Ok(run.stats)
}
