//! `nmsat sim MODEL|PROGRAM`: simulate one training step on SAT.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nmsat_flow::{Input, Schedule, load_arch, load_input};
use nmsat_sim::{SimOptions, simulate};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{DataflowFlags, ModeArg, StepFlags};

/// Arguments of `nmsat sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// A built-in model, a model file (`.nm`, `.layers.csv`, SCALE-Sim `.csv`),
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
    /// Write a Chrome-trace/Perfetto JSON timeline of the queues to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Dataflow optimizations to switch off (for a model).
    #[command(flatten)]
    pub dataflow: DataflowFlags,
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
    let (program, arch) = match load_input(&args.input)? {
        Input::Program(p) => {
            let arch = match &args.arch {
                Some(a) => load_arch(Some(a))?,
                None => p.arch.clone(),
            };
            (*p, arch)
        }
        Input::Model(m) => {
            let req = args.step.request(*m, load_arch(args.arch.as_deref())?, &args.dataflow);
            (req.compile(Schedule::Fastest)?, req.arch)
        }
    };
    let run = simulate(&program, &arch, args.mode.into(), SimOptions::default()).map_err(CliError::input)?;
    if let Some(t) = &args.trace {
        let json = nmsat_sim::trace::chrome_trace(&program, &run.retire);
        let text = serde_json::to_string(&json).map_err(CliError::input)?;
        std::fs::write(t, text).map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", t.display())))?;
    }
    let s = &run.stats;
    match args.format {
        SimFormat::Json => println!("{}", serde_json::to_string_pretty(s).map_err(CliError::input)?),
        SimFormat::Csv => print!("{}", nmsat_reports::sim::csv(s)),
        SimFormat::Table => print!("{}", nmsat_reports::sim::text(s, &program.info)),
    }
    Ok(())
}
