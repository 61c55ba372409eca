//! `nmsat compile MODEL`: a model's training step as GEMMs, a graph, or DOT.

use clap::{Args, ValueEnum};
use nmsat_compiler::graph::group_dim_name;
use nmsat_compiler::{LowerOptions, Method, TrainingGraph, load_model, totals};
use nmsat_dataflow::{Gemm, GemmKind, NmPattern};
use serde::Serialize;

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::table;

/// Arguments of `nmsat compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Built-in model name (see `nmsat models`) or a file: `.nm`, `.layers.csv`, SCALE-Sim `.csv`.
    #[arg(required_unless_present = "list_passes")]
    pub model: Option<String>,
    /// List the dataflow optimizations (name, what it does, what switching
    /// it off does) and exit.
    #[arg(long)]
    pub list_passes: bool,
    /// Training method: which passes use N:M weights.
    #[arg(long, value_enum, default_value_t = MethodArg::Bdwp)]
    pub method: MethodArg,
    /// N:M pattern of the sparse passes (layers may override it).
    #[arg(long, default_value = "2:8", value_parser = parse_nm)]
    pub nm: NmPattern,
    /// Samples per training step.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
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
    pub dataflow: crate::cmd::common::DataflowFlags,
}

fn parse_nm(s: &str) -> Result<NmPattern, String> {
    s.parse::<NmPattern>().map_err(|e| e.to_string())
}

/// `--method`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    /// Dense training.
    Dense,
    /// Forward-only N:M (SR-STE style).
    Srste,
    /// N:M in FF and BP (BDWP).
    Bdwp,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Dense => Method::Dense,
            MethodArg::Srste => Method::Srste,
            MethodArg::Bdwp => Method::Bdwp,
        }
    }
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

/// One row of `--emit gemms` (field names as in issue 5).
#[derive(Serialize)]
struct GemmRow<'a> {
    layer: &'a str,
    pass: &'static str,
    #[serde(rename = "M")]
    m: u64,
    #[serde(rename = "N")]
    n: u64,
    #[serde(rename = "K")]
    k: u64,
    count: u64,
    sparse_operand: Option<&'static str>,
    nm: Option<String>,
    dense_reason: Option<&'a str>,
    kind: &'static str,
    group_dim: Option<&'static str>,
    what: &'a str,
}

impl<'a> GemmRow<'a> {
    fn new(g: &'a Gemm) -> Self {
        GemmRow {
            layer: &g.layer,
            pass: g.pass.name(),
            m: g.m,
            n: g.n,
            k: g.k,
            count: g.count,
            sparse_operand: g.sparse.map(|_| "weight"),
            nm: g.sparse.map(|s| s.pattern.to_string()),
            dense_reason: g.dense_reason.as_deref(),
            kind: match g.kind {
                GemmKind::Weight => "weight",
                GemmKind::Attention => "attention",
            },
            group_dim: g.sparse.map(|s| group_dim_name(s.group_dim)),
            what: &g.what,
        }
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.layer.to_string(),
            self.pass.to_string(),
            self.m.to_string(),
            self.n.to_string(),
            self.k.to_string(),
            self.count.to_string(),
            self.sparse_operand.unwrap_or("").to_string(),
            self.nm.clone().unwrap_or_default(),
            self.group_dim.unwrap_or("").to_string(),
            self.kind.to_string(),
            self.what.to_string(),
            self.dense_reason.unwrap_or("").to_string(),
        ]
    }
}

/// `--emit gemms --format json`: fields in the order of issue 5.
#[derive(Serialize)]
struct GemmsOut<'a> {
    gemms: Vec<GemmRow<'a>>,
    totals: nmsat_compiler::Totals,
}

const GEMM_HEADER: [&str; 12] =
    ["layer", "pass", "M", "N", "K", "count", "sparse_operand", "nm", "group_dim", "kind", "what", "dense_reason"];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn csv_line(cells: &[String]) -> String {
    cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",")
}

/// Bytes of a program's memory image.
fn image_bytes(p: &nmsat_dataflow::program::Program) -> usize {
    p.image.iter().map(|(_, b)| b.len()).sum()
}

/// Runs `nmsat compile`.
pub fn run(args: CompileArgs) -> CliResult {
    if args.list_passes {
        for o in nmsat_dataflow::schedule::optimizations() {
            let i = o.info();
            println!("{:<16}  {}. Off: {}.", i.name, i.description, i.when_off);
        }
        return Ok(());
    }
    let model = load_model(args.model.as_deref().unwrap_or_default()).map_err(CliError::input)?;
    let opts = LowerOptions::new(args.method.into(), args.nm, args.batch);
    let graph = TrainingGraph::build(&model, &opts).map_err(CliError::input)?;
    let emit = args.emit.unwrap_or(if args.output.is_some() { Emit::Asm } else { Emit::Gemms });
    if args.output.is_some() || matches!(emit, Emit::Asm) {
        let arch = crate::cmd::common::load_arch(args.arch.as_deref())?;
        let (program, image_note) = if args.output.is_some() {
            // The program file carries the step's memory image.
            let (p, image) = crate::cmd::common::step_program(&model, &opts, &arch, args.dataflow.options(), true)?;
            (p, image.note())
        } else {
            (crate::cmd::common::compile_program(&model, &opts, &arch, args.dataflow.options())?, None)
        };
        if let Some(path) = &args.output {
            program.save(path).map_err(CliError::input)?;
            let image = format!(", memory image of {} bytes in {} blocks", image_bytes(&program), program.image.len());
            eprintln!(
                "wrote {}: {} instructions, {} DRAM bytes in {} regions{image}, for `{}`",
                path.display(),
                program.instrs.len(),
                program.dram_bytes,
                program.regions.len(),
                arch.name
            );
            if let Some(note) = &image_note {
                eprintln!("note: {note}");
            }
            if args.emit.is_none() {
                return Ok(());
            }
        }
        if matches!(emit, Emit::Asm) {
            print!("{}", crate::cmd::common::asm_with_summary(&program));
            return Ok(());
        }
    }
    match emit {
        Emit::Asm => unreachable!("handled above"),
        Emit::Dot => print!("{}", graph.to_dot()),
        Emit::Gemms => {
            let gemms = graph.gemms();
            let t = totals(&gemms).map_err(CliError::input)?;
            let rows: Vec<GemmRow<'_>> = gemms.iter().map(GemmRow::new).collect();
            match args.format {
                Format::Json => {
                    let out = GemmsOut { gemms: rows, totals: t };
                    println!("{}", serde_json::to_string_pretty(&out).map_err(CliError::input)?);
                }
                Format::Csv => {
                    println!("{}", GEMM_HEADER.join(","));
                    for r in &rows {
                        println!("{}", csv_line(&r.cells()));
                    }
                }
                Format::Table => {
                    let cells: Vec<Vec<String>> = rows.iter().map(GemmRow::cells).collect();
                    print!("{}", table(&GEMM_HEADER, &cells));
                    println!();
                    println!(
                        "{} GEMMs, {} at batch {}, {}: {} MACs dense, {} sparse-equivalent",
                        rows.len(),
                        model.name,
                        opts.batch,
                        describe(&opts),
                        t.macs_dense,
                        t.macs_sparse_equivalent
                    );
                }
            }
        }
        Emit::Graph => match args.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&graph.to_json()).map_err(CliError::input)?),
            Format::Csv | Format::Table => {
                let header = ["from", "to", "tensor", "role", "shape", "elements", "nm", "group_dim"];
                let rows: Vec<Vec<String>> = graph
                    .edges()
                    .map(|(from, to, t)| {
                        vec![
                            from.to_string(),
                            to.to_string(),
                            t.name.clone(),
                            format!("{:?}", t.role).to_lowercase(),
                            t.shape.iter().map(u64::to_string).collect::<Vec<_>>().join("x"),
                            t.elements.to_string(),
                            t.nm.map(|n| n.pattern.to_string()).unwrap_or_default(),
                            t.nm.map(|n| group_dim_name(n.group_dim).to_string()).unwrap_or_default(),
                        ]
                    })
                    .collect();
                if matches!(args.format, Format::Csv) {
                    println!("{}", header.join(","));
                    for r in &rows {
                        println!("{}", csv_line(r));
                    }
                } else {
                    print!("{}", table(&header, &rows));
                }
            }
        },
    }
    Ok(())
}

fn describe(o: &LowerOptions) -> String {
    match o.method {
        Method::Dense => "dense".to_string(),
        m => format!("{m} {}", o.nm),
    }
}
