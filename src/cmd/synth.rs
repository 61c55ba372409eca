//! `nmsat synth --arch CONFIG`: Yosys `synth_xilinx -family xcup` resource counts.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nmsat_rtl::params::DEFAULT_IMEM_BITS;
use nmsat_rtl::synth::{SynthProgress, VU9P, synth_hierarchical, synth_module};
use nmsat_rtl::{EmitOptions, RtlError, emit};

use crate::cli_error::{CliError, CliResult};
use nmsat_flow::load_arch;
use nmsat_reports::table;

/// Arguments of `nmsat synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// SAT config (TOML file or preset name); default the built-in sat-vu9p.
    #[arg(long)]
    pub arch: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SynthFormat::Table)]
    pub format: SynthFormat,
    /// Working directory for the Verilog, the Yosys logs and `stat.txt`
    /// files (default: one under the system temporary directory named by the
    /// config and the design's hash, so an interrupted run resumes).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Instruction-memory address bits per queue.
    #[arg(long, default_value_t = DEFAULT_IMEM_BITS)]
    pub imem_bits: u32,
    /// Synthesise only this module and its hierarchy (e.g. `sat_pe_array`;
    /// default the whole SAT, `sat_top`).
    #[arg(long)]
    pub top: Option<String>,
    /// One Yosys run over the whole hierarchy instead of one run per module
    /// (same counts: `synth_xilinx` does not flatten; slower, no progress,
    /// nothing reused after an interruption).
    #[arg(long)]
    pub single: bool,
    /// Yosys runs at a time in the per-module synthesis (default: the cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SynthFormat {
    /// The report as JSON.
    Json,
    /// A table of resources and their VU9P share.
    Table,
}

fn tool_error(e: RtlError) -> CliError {
    CliError::input(e)
}

/// Runs `nmsat synth`.
pub fn run(args: SynthArgs) -> CliResult {
    let arch = load_arch(args.arch.as_deref())?;
    let design =
        emit(&arch, &EmitOptions { imem_bits: args.imem_bits, fault_injection: false }).map_err(CliError::input)?;
    // The default directory is named by the design's hash, so rerunning the
    // same command after an interruption reuses every finished module.
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("nmsat-synth-{}-{:016x}", arch.name, design.hash())));
    let top = args.top.clone().unwrap_or_else(|| design.top.clone());
    let r = if args.single {
        synth_module(&design, &dir, &top).map_err(tool_error)?
    } else {
        let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        eprintln!("synth: one Yosys run per module under `{top}`, {jobs} at a time, in {}", dir.display());
        let progress = |p: SynthProgress<'_>| match p {
            SynthProgress::Started { module } => eprintln!("synth: {module} ..."),
            SynthProgress::Finished { run: r, done, total } => {
                let how = if r.cached { "reused".to_string() } else { format!("{:.0} s", r.seconds) };
                eprintln!(
                    "synth: [{done}/{total}] {} ({how}): {} LUT, {} FF, {} DSP",
                    r.module, r.own.luts, r.own.ffs, r.own.dsps
                );
            }
        };
        synth_hierarchical(&design, &dir, &top, jobs, &progress).map_err(tool_error)?
    };
    // The result beside the runs, for `nmsat report --synth DIR`.
    let json = serde_json::to_string_pretty(&r).map_err(CliError::input)?;
    std::fs::write(dir.join("synth.json"), format!("{json}\n"))
        .map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", dir.join("synth.json").display())))?;
    match args.format {
        SynthFormat::Json => println!("{json}"),
        SynthFormat::Table => {
            let how = if r.runs.is_empty() {
                format!("in {:.0} s", r.seconds)
            } else {
                let reused = r.runs.iter().filter(|m| m.cached).count();
                let yosys: f64 = r.runs.iter().map(|m| m.seconds).sum();
                format!(
                    "one run per module: {} runs ({reused} reused), {yosys:.0} s of Yosys time, {:.0} s wall",
                    r.runs.len(),
                    r.seconds
                )
            };
            println!(
                "{}: synth_xilinx -family xcup of `{}` (top `{}`), {how} (logs {})",
                r.yosys,
                r.config,
                r.top,
                r.log.display()
            );
            let (res, share) = (&r.resources, &r.vu9p_percent);
            let rows = vec![
                vec!["LUT".into(), res.luts.to_string(), VU9P.luts.to_string(), format!("{:.3} %", share.luts)],
                vec!["FF".into(), res.ffs.to_string(), VU9P.ffs.to_string(), format!("{:.3} %", share.ffs)],
                vec!["DSP48E2".into(), res.dsps.to_string(), VU9P.dsps.to_string(), format!("{:.3} %", share.dsps)],
                vec![
                    "BRAM36".into(),
                    format!("{}", res.bram36),
                    format!("{}", VU9P.bram36),
                    format!("{:.3} %", share.bram36),
                ],
                vec!["URAM".into(), res.uram.to_string(), VU9P.uram.to_string(), format!("{:.3} %", share.uram)],
            ];
            print!("{}", table(&["resource", "used", "VU9P", "share"], &rows));
            if !r.runs.is_empty() {
                let rows: Vec<Vec<String>> = r
                    .runs
                    .iter()
                    .map(|m| {
                        vec![
                            m.module.clone(),
                            m.instances.to_string(),
                            m.own.luts.to_string(),
                            m.own.ffs.to_string(),
                            m.own.dsps.to_string(),
                            format!("{}", m.own.bram36),
                            format!("{:.0}", m.seconds),
                        ]
                    })
                    .collect();
                println!("per module (one instance, submodules excluded):");
                print!("{}", table(&["module", "instances", "LUT", "FF", "DSP48E2", "BRAM36", "Yosys s"], &rows));
            }
            println!(
                "DSP48E2 = {} PEs x {} per PE (one per lane) + {} outside the PE array",
                r.pes, r.dsps_per_pe, r.dsps_outside_array
            );
            let b: Vec<String> = r.buffers_bram36.iter().map(|(n, c)| format!("{n} {c}")).collect();
            if b.is_empty() {
                return Ok(());
            }
            println!(
                "BRAM36 = {} for the instruction memories (synthesised) + {} for the operand buffers ({}; from their geometry, the buffers are black boxes)",
                r.logic.bram36,
                r.resources.bram36 - r.logic.bram36,
                b.join(", ")
            );
        }
    }
    Ok(())
}
