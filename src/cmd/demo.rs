//! `nmsat demo`: the whole pipeline in one run, on the paper's questions
//! ([`nmsat_flow::demo`] runs it, [`nmsat_reports::demo`] writes it).
//!
//! The tables go to stdout and to `DIR/demo.md`, every figure to
//! `DIR/demo.json`; progress and wall times to stderr, so the same
//! arguments write byte-identical files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use nmsat_compiler::load_model;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_dataflow::{Method, NmPattern};
use nmsat_flow::demo::DemoRequest;
use nmsat_flow::{StepRequest, load_arch};

use crate::cli_error::{CliError, CliResult};

/// Arguments of `nmsat demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for `demo.md` and `demo.json` (created; both files are
    /// replaced whole).
    #[arg(long, short = 'o', default_value = "nmsat-demo")]
    pub out: PathBuf,
    /// Model of the accelerator sections (built-in name or model file).
    #[arg(long, default_value = "resnet18-cifar10")]
    pub model: String,
    /// Samples per training step in the accelerator sections.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// N:M pattern of SR-STE and BDWP.
    #[arg(long, default_value = "2:8")]
    pub nm: NmPattern,
    /// SAT config of the accelerator sections (TOML file or preset; default sat-vu9p).
    #[arg(long)]
    pub arch: Option<String>,
    /// Skip the Verilator co-simulation (section 4).
    #[arg(long)]
    pub no_rtl: bool,
    /// Energy table of the accelerator sections: a built-in name (`fpga-vu9p`, `asic-45nm`) or a TOML file.
    #[arg(long, default_value = "fpga-vu9p")]
    pub energy_table: String,
    /// Epochs of the digits training runs (section 1) [default: the MLP's 30].
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub epochs: Option<usize>,
}

fn say(msg: &str) {
    eprintln!("demo: {msg}");
}

fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", path.display())))
}

/// Runs `nmsat demo`.
pub fn run(args: DemoArgs) -> CliResult {
    let t0 = Instant::now();
    let step = StepRequest {
        arch: load_arch(args.arch.as_deref())?,
        model: load_model(&args.model).map_err(CliError::input)?,
        method: Method::Bdwp,
        nm: args.nm,
        batch: args.batch,
        dataflow: DataflowOptions::default(),
    };
    let energy_table = nmsat_flow::report::load_energy_table(&args.energy_table)?;
    let req = DemoRequest { step, epochs: args.epochs, rtl: !args.no_rtl, energy_table };
    let (demo, report) = nmsat_flow::demo::run(&req, &mut say)?;
    // Only now: a run that fails leaves no directory behind.
    std::fs::create_dir_all(&args.out).map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", args.out.display())))?;
    nmsat_flow::report::write_report(&args.out.join("report"), &report, None)?;
    let md = nmsat_reports::demo::markdown(&demo);
    let json = serde_json::to_string_pretty(&demo).map_err(CliError::input)?;
    write_atomically(&args.out.join("demo.json"), &(json + "\n"))?;
    write_atomically(&args.out.join("demo.md"), &md)?;
    print!("{md}");
    say(&format!(
        "wrote {}, {} and {} in {:.0} s",
        args.out.join("demo.md").display(),
        args.out.join("demo.json").display(),
        args.out.join("report/index.html").display(),
        t0.elapsed().as_secs_f64()
    ));
    if demo.rtl.as_ref().is_some_and(|r| !r.passed) {
        return Err(CliError::check(anyhow::anyhow!(
            "the RTL does not co-simulate with the Rust simulator (section 4)"
        )));
    }
    Ok(())
}
