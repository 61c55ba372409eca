//! `nmsat cosim`: run a program on the Verilated RTL and on the Rust
//! cycle-mode simulator, and compare every instruction's issue and
//! retirement cycle, the total cycles and the final DRAM image.
//!
//! A model's training step carries a memory image (`nmsat_sim::step_image`:
//! the int16 reference's first step for the built-in digits models, seeded
//! synthetic state for any other model), so its DRAM is compared too,
//! unless the config gathers im2col tiles with a line buffer the RTL does
//! not build yet (then timing only, and the output says why).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use nmsat_compiler::{LowerOptions, Model, load_model};
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::program::Program;
use nmsat_rtl::RtlError;
use nmsat_rtl::cosim::{CosimReport, DramCheck, RunOptions, cosim_program, model_for};
use nmsat_sim::testgen::random_program;
use serde::Serialize;

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{DataflowFlags, load_arch, step_program};
use crate::cmd::compile::MethodArg;

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
    #[arg(long, conflicts_with = "input")]
    pub random: Option<u64>,
    /// Seed of the first random program (the others use the following seeds).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Instructions per random program (before the final `halt`).
    #[arg(long, default_value_t = 60)]
    pub length: usize,
    /// Training method (for a model).
    #[arg(long, value_enum, default_value_t = MethodArg::Bdwp)]
    pub method: MethodArg,
    /// N:M pattern (for a model).
    #[arg(long, default_value = "2:8", value_parser = parse_nm)]
    pub nm: NmPattern,
    /// Samples per training step (for a model).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
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

fn parse_nm(s: &str) -> Result<NmPattern, String> {
    s.parse::<NmPattern>().map_err(|e| e.to_string())
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CosimFormat {
    /// One JSON object per run.
    Json,
    /// A summary line per program and a total.
    Table,
}

/// One program's result, for `--format json`.
#[derive(Debug, Serialize)]
struct ProgramResult {
    name: String,
    instructions: usize,
    rtl_cycles: u64,
    rust_cycles: u64,
    passed: bool,
    problems: Vec<String>,
    dram: String,
    dram_compared: bool,
    rtl_cycles_per_second: f64,
    vcd: Option<PathBuf>,
}

fn rtl_error(e: RtlError) -> CliError {
    CliError::input(e)
}

fn is_program(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"NMSATPRG"
}

/// One training step of `model` on `arch` with its memory image, and why
/// its DRAM cannot be compared when the RTL cannot move its data.
fn model_program(
    model: &Model,
    args: &CosimArgs,
    arch: &nmsat_dataflow::ArchConfig,
) -> Result<(Program, Option<String>), CliError> {
    let opts = LowerOptions::new(args.method.into(), args.nm, args.batch);
    let (p, image) = step_program(model, &opts, arch, args.dataflow.options(), false)?;
    if let Some(note) = image.note() {
        eprintln!("note: {note}");
    }
    if arch.dram.im2col == nmsat_dataflow::arch::Im2col::LineBuffer
        && p.instrs.iter().any(|i| matches!(i, nmsat_dataflow::isa::Instr::Load2col { .. }))
    {
        return Ok((
            p,
            Some(format!(
                "`{}` gathers im2col tiles with a line buffer (dram.im2col = \"line_buffer\"), which the RTL does not build yet; configs with dram.im2col = \"dram\" compare the data",
                arch.name
            )),
        ));
    }
    Ok((p, None))
}

/// Runs `nmsat cosim`.
pub fn run(args: CosimArgs) -> CliResult {
    // The programs to run, with their names and why their DRAM is not compared.
    let (arch, programs): (_, Vec<(String, Program, Option<String>)>) = match (&args.input, args.random) {
        (None, None) => return Err(CliError::input(anyhow::anyhow!("give a MODEL or PROGRAM, or --random N"))),
        (_, Some(n)) => {
            let arch = load_arch(args.arch.as_deref())?;
            let progs = (0..n)
                .map(|i| {
                    let seed = args.seed + i;
                    (format!("random seed {seed}"), random_program(&arch, seed, args.length), None)
                })
                .collect();
            (arch, progs)
        }
        (Some(input), None) => {
            let path = Path::new(input);
            if path.is_file() && is_program(path) {
                let p = Program::load(path).map_err(CliError::input)?;
                let arch = match &args.arch {
                    Some(a) => load_arch(Some(a))?,
                    None => p.arch.clone(),
                };
                let why = p.image.is_empty().then(|| "the program file has no memory image".to_string());
                (arch, vec![(input.clone(), p, why)])
            } else {
                let model = load_model(input).map_err(CliError::input)?;
                let arch = load_arch(args.arch.as_deref())?;
                let (p, why) = model_program(&model, &args, &arch)?;
                if let Some(why) = &why {
                    eprintln!("note: {input} is co-simulated on timing only ({why})");
                }
                (arch, vec![(format!("{input} ({} {})", p.info.method, args.nm), p, why)])
            }
        }
    };
    let t0 = std::time::Instant::now();
    let model = model_for(&arch, None).map_err(rtl_error)?;
    if model.built {
        eprintln!(
            "built the Verilated model of `{}` in {:.0} s ({})",
            arch.name,
            t0.elapsed().as_secs_f64(),
            model.dir.display()
        );
    }
    let fail_vcd = args.vcd.clone().unwrap_or_else(|| PathBuf::from("cosim-fail.vcd"));
    let single = programs.len() == 1;
    let mut results = Vec::new();
    let mut failed: Option<(String, CosimReport)> = None;
    let (mut instrs, mut cycles, mut secs, mut compared) = (0usize, 0u64, 0f64, 0usize);
    for (name, p, why) in &programs {
        let opts = RunOptions { vcd: if single { args.vcd.clone() } else { None }, ..RunOptions::default() };
        let mut r = cosim_program(&model, &arch, p, &opts, Some(&fail_vcd)).map_err(rtl_error)?;
        if let (Some(why), DramCheck::Skipped(_)) = (why, &r.comparison.dram) {
            r.comparison.dram = DramCheck::Skipped(why.clone());
        }
        let c = &r.comparison;
        let dram_compared = !matches!(c.dram, DramCheck::Skipped(_));
        compared += usize::from(dram_compared);
        instrs += c.instructions;
        cycles += r.rtl.sim_cycles;
        secs += r.rtl.seconds;
        let dram = c.dram.summary();
        results.push(ProgramResult {
            name: name.clone(),
            instructions: c.instructions,
            rtl_cycles: c.rtl_total,
            rust_cycles: c.rust_total,
            passed: c.passed(),
            problems: c.problems(),
            dram,
            dram_compared,
            rtl_cycles_per_second: if r.rtl.seconds > 0.0 { r.rtl.sim_cycles as f64 / r.rtl.seconds } else { 0.0 },
            vcd: r.vcd.clone(),
        });
        if !c.passed() {
            failed = Some((name.clone(), r));
            break;
        }
    }
    match args.format {
        CosimFormat::Json => println!("{}", serde_json::to_string_pretty(&results).map_err(CliError::input)?),
        CosimFormat::Table => {
            for r in &results {
                println!(
                    "{}: {} instructions, {} cycles (RTL) / {} (Rust cycle mode): {}; DRAM {}",
                    r.name,
                    r.instructions,
                    r.rtl_cycles,
                    r.rust_cycles,
                    if r.passed { "match" } else { "MISMATCH" },
                    r.dram
                );
            }
            if failed.is_none() {
                let dram = match compared {
                    0 => "no DRAM image compared (timing only)".to_string(),
                    n if n == results.len() => "every final DRAM image is bit-exact".to_string(),
                    n => format!("the final DRAM images of {n} of {} program(s) are bit-exact", results.len()),
                };
                println!(
                    "cosim `{}`: {} program(s), {} instructions: every issue and retirement cycle and every total matches; {dram}; Verilator {:.2} M cycles/s",
                    arch.name,
                    results.len(),
                    instrs,
                    if secs > 0.0 { cycles as f64 / secs / 1e6 } else { 0.0 }
                );
            }
        }
    }
    if let Some((name, r)) = failed {
        let mut msg =
            format!("{name} on `{}` does not co-simulate:\n  {}", arch.name, r.comparison.problems().join("\n  "));
        if let Some(v) = &r.vcd {
            msg.push_str(&format!("\n  VCD of the RTL run: {}", v.display()));
        }
        return Err(CliError::check(anyhow::anyhow!(msg)));
    }
    Ok(())
}
