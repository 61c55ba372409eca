//! `nmsat sim MODEL|PROGRAM`: simulate one training step on SAT.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use nmsat_compiler::{LowerOptions, load_model};
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::program::Program;
use nmsat_sim::{SimMode, SimOptions, Stats, simulate};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{DataflowFlags, compile_program, load_arch, table};
use crate::cmd::compile::MethodArg;

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
    /// Training method (for a model).
    #[arg(long, value_enum, default_value_t = MethodArg::Bdwp)]
    pub method: MethodArg,
    /// N:M pattern (for a model).
    #[arg(long, default_value = "2:8", value_parser = parse_nm)]
    pub nm: NmPattern,
    /// Samples per training step (for a model).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
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

fn parse_nm(s: &str) -> Result<NmPattern, String> {
    s.parse::<NmPattern>().map_err(|e| e.to_string())
}

/// `--mode`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Event-driven.
    Fast,
    /// Cycle by cycle.
    Cycle,
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

fn is_program(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"NMSATPRG"
}

/// Runs `nmsat sim`.
pub fn run(args: SimArgs) -> CliResult {
    let path = Path::new(&args.input);
    let (program, arch) = if path.is_file() && is_program(path) {
        let p = Program::load(path).map_err(CliError::input)?;
        let arch = match &args.arch {
            Some(a) => load_arch(Some(a))?,
            None => p.arch.clone(),
        };
        (p, arch)
    } else {
        let model = load_model(&args.input).map_err(CliError::input)?;
        let arch = load_arch(args.arch.as_deref())?;
        let opts = LowerOptions::new(args.method.into(), args.nm, args.batch);
        let p = compile_program(&model, &opts, &arch, args.dataflow.options())?;
        (p, arch)
    };
    let mode = match args.mode {
        ModeArg::Fast => SimMode::Fast,
        ModeArg::Cycle => SimMode::Cycle,
    };
    let run = simulate(&program, &arch, mode, SimOptions::default()).map_err(CliError::input)?;
    if let Some(t) = &args.trace {
        let json = nmsat_sim::trace::chrome_trace(&program, &run.retire);
        let text = serde_json::to_string(&json).map_err(CliError::input)?;
        std::fs::write(t, text).map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", t.display())))?;
    }
    let s = &run.stats;
    match args.format {
        SimFormat::Json => println!("{}", serde_json::to_string_pretty(s).map_err(CliError::input)?),
        SimFormat::Csv => {
            // One row per layer and pass: cycles, work, stalls by cause and
            // the busy cycles of each unit (every count is in the JSON too).
            let causes: Vec<String> = nmsat_sim::StallCause::ALL
                .iter()
                .map(|c| {
                    format!(
                        "stall_{}",
                        serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
                    )
                })
                .collect();
            println!(
                "layer,pass,M,N,K,mode,cycles,span_cycles,pe_utilization,dram_bytes,macs_dense_equivalent,macs_executed,instructions,{},array_stream_cycles,dma_channel_cycles,vector_busy_cycles,sparsifier_busy_cycles",
                causes.join(",")
            );
            for l in &s.layers {
                let stalls: Vec<String> = nmsat_sim::StallCause::ALL
                    .iter()
                    .map(|c| l.stalls.get(c).copied().unwrap_or(0).to_string())
                    .collect();
                let e = &l.events;
                println!(
                    "{},{},{},{},{},{},{},{},{:.4},{},{},{},{},{},{},{},{},{}",
                    l.name,
                    l.pass,
                    l.m,
                    l.n,
                    l.k,
                    l.mode,
                    l.cycles,
                    l.span_cycles,
                    l.pe_utilization,
                    l.dram_bytes,
                    l.macs_dense_equivalent,
                    l.macs_executed,
                    l.instructions,
                    stalls.join(","),
                    e.pe_array.stream_cycles,
                    e.dma.channel_busy_cycles,
                    e.vector_unit.busy_cycles,
                    e.sparsifier.busy_cycles
                );
            }
        }
        SimFormat::Table => print!("{}", render(s, &program)),
    }
    Ok(())
}

fn render(s: &Stats, p: &Program) -> String {
    let mut out = String::new();
    let info = &p.info;
    out.push_str(&format!(
        "{} on `{}` ({} mode): method {}{} batch {}\n",
        info.model,
        s.arch,
        s.mode,
        info.method,
        info.nm.as_deref().map(|n| format!(" {n}")).unwrap_or_default(),
        info.batch
    ));
    out.push_str(&format!(
        "total {} cycles = {:.6} s, {:.1} GOPS dense-equivalent, PE utilization {:.3}, {} DRAM bytes\n",
        s.total_cycles, s.seconds, s.throughput_gops, s.pe_utilization, s.dram_bytes
    ));
    let passes: Vec<String> = s.passes.iter().map(|(p, c)| format!("{p} {c}")).collect();
    out.push_str(&format!("passes: {}\n", passes.join(", ")));
    let stalls: Vec<String> = s.stalls.iter().filter(|(_, v)| **v > 0).map(|(c, v)| format!("{c:?} {v}")).collect();
    out.push_str(&format!("stalls (queue-cycles): {}\n\n", stalls.join(", ")));
    let rows: Vec<Vec<String>> = s
        .layers
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.pass.to_string(),
                format!("{}x{}x{}", l.m, l.n, l.k),
                l.mode.clone(),
                l.cycles.to_string(),
                format!("{:.3}", l.pe_utilization),
                l.dram_bytes.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(&["layer", "pass", "MxNxK", "mode", "cycles", "pe_util", "dram_bytes"], &rows));
    out
}
