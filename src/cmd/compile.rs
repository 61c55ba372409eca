//! `nmsat compile MODEL`: a model's training step as GEMMs, a graph, DOT, or a SAT program.

use clap::{Args, ValueEnum};
use nmsat_compiler::{LoadOptions, TrainingGraph, load_model_with, totals};
use nmsat_flow::{Schedule, load_arch};
use nmsat_reports::gemms::GemmTotals;

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{DataflowFlags, StepFlags};

/// Arguments of `nmsat compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Built-in model name (see `nmsat models`) or a file: `.nm`, `.onnx`, `.layers.csv`, SCALE-Sim `.csv`.
    #[arg(required_unless_present = "list_passes")]
    pub model: Option<String>,
    /// List the dataflow optimizations (name, what it does, what switching
    /// it off does) and exit.
    #[arg(long)]
    pub list_passes: bool,
    /// Method, pattern and batch of the step.
    #[command(flatten)]
    pub step: StepFlags,
    /// What to print (default: `gemms`, or nothing when `-o` is given).
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Output format (`--emit dot` is always DOT, `--emit asm` always text).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// SAT config for `-o` and `--emit asm`: a TOML file or a preset name
    /// (`sat-vu9p`, `sat-mid`, `tiny`); default the built-in sat-vu9p.
    #[arg(long)]
    pub arch: Option<String>,
    /// Write the SAT program of the training step (instructions, memory map,
    /// config) to this file (read by `nmsat sim` and `nmsat disasm`).
    #[arg(short = 'o', long = "output")]
    pub output: Option<std::path::PathBuf>,
    /// Which dataflow optimizations to switch off.
    #[command(flatten)]
    pub dataflow: DataflowFlags,
    /// ONNX: skip operators nmsat does not support (each listed as a note) instead of refusing the graph.
    #[arg(long)]
    pub skip_unsupported: bool,
}

/// `--emit`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Emit {
    /// The GEMMs of one training step with totals.
    Gemms,
    /// The training graph's nodes and tensor edges.
    Graph,
    /// The training graph in Graphviz DOT.
    Dot,
    /// The SAT program's disassembly with a per-layer, per-pass summary.
    Asm,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// JSON.
    Json,
    /// CSV with a header row.
    Csv,
    /// An aligned text table.
    Table,
}

/// Runs `nmsat compile`.
pub fn run(args: CompileArgs) -> CliResult {
    if args.list_passes {
        print!("{}", nmsat_reports::passes::text());
        return Ok(());
    }
    if let Some(path) = &args.output {
        nmsat_dataflow::program::Program::check_writable(path).map_err(CliError::input)?;
    }
    let opts = LoadOptions { skip_unsupported: args.skip_unsupported };
    let model = load_model_with(args.model.as_deref().unwrap_or_default(), &opts).map_err(CliError::input)?;
    crate::cmd::common::print_notes(&model);
    let req = args.step.request(model, load_arch(args.arch.as_deref())?, &args.dataflow);
    let opts = req.lower_options();
    let graph = TrainingGraph::build(&req.model, &opts).map_err(CliError::input)?;
    let emit = args.emit.unwrap_or(if args.output.is_some() { Emit::Asm } else { Emit::Gemms });
    if let Some(path) = &args.output {
        // The program file carries the step's memory image.
        let step = req.compile_with_image(Schedule::Fastest)?;
        let p = &step.program;
        p.save(path).map_err(CliError::input)?;
        let image_bytes: usize = p.image.iter().map(|(_, b)| b.len()).sum();
        eprintln!(
            "wrote {}: {} instructions, {} DRAM bytes in {} regions, memory image of {image_bytes} bytes in {} blocks, for `{}`",
            path.display(),
            p.instrs.len(),
            p.dram_bytes,
            p.regions.len(),
            p.image.len(),
            req.arch.name
        );
        if let Some(note) = step.image.note() {
            eprintln!("note: {note}");
        }
        if args.emit.is_none() {
            return Ok(());
        }
        if matches!(emit, Emit::Asm) {
            print!("{}", nmsat_reports::asm::asm_with_summary(p));
            return Ok(());
        }
    }
    match emit {
        Emit::Asm => print!("{}", nmsat_reports::asm::asm_with_summary(&req.compile(Schedule::Fastest)?)),
        Emit::Dot => print!("{}", graph.to_dot()),
        Emit::Gemms => {
            let gemms = graph.gemms();
            let t = totals(&gemms).map_err(CliError::input)?;
            let t = GemmTotals { macs_dense: t.macs_dense, macs_sparse_equivalent: t.macs_sparse_equivalent };
            match args.format {
                Format::Json => println!("{}", nmsat_reports::gemms::json(&gemms, t).map_err(CliError::input)?),
                Format::Csv => print!("{}", nmsat_reports::gemms::csv(&gemms)),
                Format::Table => {
                    let what = format!("{} at batch {}, {}", req.model.name, opts.batch, req.method.name_with(opts.nm));
                    print!("{}", nmsat_reports::gemms::text(&gemms, t, &what));
                }
            }
        }
        Emit::Graph => match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&graph.to_json()).map_err(CliError::input)?),
            Format::Csv => {
                println!("{}", TrainingGraph::EDGE_HEADER.join(","));
                graph.edge_cells().iter().for_each(|r| println!("{}", nmsat_reports::csv_line(r)));
            }
            Format::Table => print!("{}", nmsat_reports::table(&TrainingGraph::EDGE_HEADER, &graph.edge_cells())),
        },
    }
    Ok(())
}
