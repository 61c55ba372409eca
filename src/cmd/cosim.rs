//! `nmsat cosim`: run programs on the Verilated RTL and on the Rust
//! cycle-mode simulator, and compare every instruction's issue and
//! retirement cycle, the total cycles and the final DRAM image
//! ([`nmsat_flow::cosim`] decides what runs and what is compared).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nmsat_flow::cosim::{model_job, program_job, random_jobs, rtl_model, run_jobs};
use nmsat_flow::{FlowError, Input, load_arch, load_input};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{DataflowFlags, StepFlags};
use crate::progress::{Reporter, heartbeat};

/// Arguments of `nmsat cosim`.
#[derive(Debug, Args)]
pub struct CosimArgs {
    /// A built-in model, a model file, or a program written by `nmsat compile -o`
    /// (omit it with `--random`).
    pub input: Option<String>,
    /// SAT config (TOML file or preset name); default: the program's own config,
    /// or the built-in sat-vu9p.
    #[arg(long)]
    pub arch: Option<String>,
    /// Co-simulate this many random programs instead of an input.
    #[arg(long, conflicts_with = "input", value_parser = clap::value_parser!(u64).range(1..))]
    pub random: Option<u64>,
    /// Seed of the first random program (the others use the following seeds).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Instructions per random program (before the final `halt`; at most 100000,
    /// which the Verilated model runs in minutes).
    #[arg(long, default_value_t = 60, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub length: usize,
    /// Method, pattern and batch (for a model).
    #[command(flatten)]
    pub step: StepFlags,
    /// Write a VCD of the RTL run here (of the first failing program with `--random`);
    /// without it a mismatch writes `cosim-fail.vcd`.
    #[arg(long)]
    pub vcd: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CosimFormat::Table)]
    pub format: CosimFormat,
    /// Dataflow optimizations to switch off (for a model).
    #[command(flatten)]
    pub dataflow: DataflowFlags,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CosimFormat {
    /// One JSON object per run.
    Json,
    /// A summary line per program and a total.
    Table,
}

/// Runs `nmsat cosim`.
pub fn run(args: CosimArgs) -> CliResult {
    let (arch, jobs) = match (&args.input, args.random) {
        (None, None) => return Err(CliError::input(anyhow::anyhow!("give a MODEL or PROGRAM, or --random N"))),
        (_, Some(n)) => {
            let arch = load_arch(args.arch.as_deref())?;
            let jobs = random_jobs(&arch, args.seed, n, args.length);
            (arch, jobs)
        }
        (Some(input), None) => match load_input(input)? {
            Input::Program(p) => {
                let arch = match &args.arch {
                    Some(a) => load_arch(Some(a))?,
                    None => p.arch.clone(),
                };
                (arch, vec![program_job(input.clone(), *p)])
            }
            Input::Model(m) => {
                let req = args.step.request(*m, load_arch(args.arch.as_deref())?, &args.dataflow);
                let name = format!("{input} ({} {})", req.method, req.nm);
                let (job, notes) = model_job(&req, name)?;
                notes.iter().for_each(|n| eprintln!("note: {n}"));
                (req.arch, vec![job])
            }
        },
    };
    let t0 = std::time::Instant::now();
    let model = heartbeat(&format!("cosim: the Verilated model of `{}` (built once, then cached)", arch.name), || {
        rtl_model(&arch)
    })?;
    if model.built {
        eprintln!(
            "built the Verilated model of `{}` in {:.0} s ({})",
            arch.name,
            t0.elapsed().as_secs_f64(),
            model.dir.display()
        );
    }
    let fail_vcd = args.vcd.clone().unwrap_or_else(|| PathBuf::from("cosim-fail.vcd"));
    let mut rep = (jobs.len() > 1).then(|| Reporter::new("cosim".into(), jobs.len() as u64, "programs"));
    let run = run_jobs(&model, &arch, &jobs, (args.vcd.as_deref(), &fail_vcd), &mut |n| {
        if let Some(r) = &mut rep {
            r.set_position(n as u64);
        }
    })?;
    if let Some(r) = rep {
        r.finish();
    }
    match args.format {
        CosimFormat::Json => println!("{}", serde_json::to_string_pretty(&run.results).map_err(CliError::input)?),
        CosimFormat::Table => {
            print!("{}", nmsat_reports::cosim::text(&arch.name, &run.results, run.cycles_per_second()))
        }
    }
    match run.failure(&arch.name) {
        Some(e) => Err(FlowError::into(e)),
        None => Ok(()),
    }
}
