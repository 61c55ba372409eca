//! `nmsat report MODEL...`: energy, throughput and bottlenecks of training
//! steps as an HTML page with charts, `summary.json` and `summary.csv`
//! ([`nmsat_flow::report`] runs and writes it).

use std::path::PathBuf;

use clap::Args;
use nmsat_compiler::load_model;
use nmsat_dataflow::{Method, NmPattern};
use nmsat_flow::load_arch;
use nmsat_flow::report::{ReportRequest, build, load_energy_table, load_synth, run as run_report, write_report};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::DataflowFlags;

/// Arguments of `nmsat report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Models: built-in names or model files (`.nm`, `.onnx`, `.layers.csv`, SCALE-Sim `.csv`).
    #[arg(required = true)]
    pub models: Vec<String>,
    /// Output directory (replaced whole, only once the report is complete).
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
    /// SAT config (TOML file or preset; default sat-vu9p).
    #[arg(long)]
    pub arch: Option<String>,
    /// Methods, comma-separated (dense always runs: speedups are over it).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "dense,srste,bdwp")]
    pub methods: Vec<Method>,
    /// N:M patterns of the sparse methods, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2:8")]
    pub nm: Vec<NmPattern>,
    /// Samples per training step.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Energy table: a built-in name (`fpga-vu9p`, `asic-45nm`) or a TOML file.
    #[arg(long, default_value = "fpga-vu9p")]
    pub energy_table: String,
    /// Resources from `nmsat synth --format json` (a file, or a directory with `synth.json`).
    #[arg(long)]
    pub synth: Option<PathBuf>,
    /// Also write the Perfetto trace of the timeline's step (`trace.json`; large for big steps).
    #[arg(long)]
    pub trace: bool,
    /// Dataflow optimizations to switch off.
    #[command(flatten)]
    pub dataflow: DataflowFlags,
}

/// Runs `nmsat report`.
pub fn run(args: ReportArgs) -> CliResult {
    let t0 = std::time::Instant::now();
    let table = load_energy_table(&args.energy_table)?;
    let resources = args.synth.as_deref().map(load_synth).transpose()?;
    let models = args.models.iter().map(|m| load_model(m)).collect::<Result<Vec<_>, _>>().map_err(CliError::input)?;
    let req = ReportRequest {
        models,
        methods: args.methods.clone(),
        patterns: args.nm.clone(),
        batch: args.batch,
        arch: load_arch(args.arch.as_deref())?,
        dataflow: args.dataflow.options(),
    };
    let runs = run_report(&req, &mut |m| eprintln!("report: {m}"))?;
    let trace = if args.trace {
        let json = nmsat_sim::trace::chrome_trace(&runs.timeline_program, &runs.timeline_retire);
        Some(serde_json::to_string(&json).map_err(CliError::input)?)
    } else {
        None
    };
    let out = build(&req, &runs, &table, resources, trace.as_ref().map(|_| "trace.json".to_string()))?;
    write_report(&args.out, &out, trace.as_deref())?;
    print!("{}", out.text);
    eprintln!(
        "report: wrote {} (index.html, summary.json, summary.csv, {} charts as SVG and PNG) in {:.1} s",
        args.out.display(),
        out.page.figures().count(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
