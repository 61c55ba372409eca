//! Helpers shared by subcommands: loading `--arch`, printing tables.

use std::path::Path;

use clap::Args;
use nmsat_compiler::{LowerOptions, Method as CMethod, Model, step_workload};
use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, Optimization, StepNumerics, compile_step};
use nmsat_sim::reference::{Dataset, Method, ModelKind};
use nmsat_sim::step_image::{StepImageError, StepSetup, step_image, synthetic_image};

use crate::cli_error::CliError;

/// The dataflow ablation switches shared by `compile`, `sim` and `cosim`.
#[derive(Debug, Clone, Args)]
pub struct DataflowFlags {
    /// Switch off dataflow optimizations by name (comma-separated,
    /// repeatable): interleave, pregen, offline-schedule (alias offline).
    /// `nmsat compile --list-passes` says what each does.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub disable: Vec<Optimization>,
    /// Same as `--disable interleave`.
    #[arg(long)]
    pub no_interleave: bool,
    /// Same as `--disable pregen`.
    #[arg(long)]
    pub no_pregen: bool,
    /// Same as `--disable offline-schedule`.
    #[arg(long)]
    pub no_offline_schedule: bool,
}

impl DataflowFlags {
    /// The scheduler options these flags select.
    pub fn options(&self) -> DataflowOptions {
        let aliases = [
            (self.no_interleave, Optimization::Interleave),
            (self.no_pregen, Optimization::Pregen),
            (self.no_offline_schedule, Optimization::OfflineSchedule),
        ];
        let off = aliases.into_iter().filter(|&(no, _)| no).map(|(_, o)| o).chain(self.disable.iter().copied());
        off.fold(DataflowOptions::default(), DataflowOptions::without)
    }
}

/// The reference model of a built-in model that has a step image.
fn reference_model(model: &Model) -> Option<ModelKind> {
    match model.source.as_str() {
        "builtin:digits_mlp" => Some(ModelKind::Mlp),
        "builtin:digits_cnn" => Some(ModelKind::Cnn),
        _ => None,
    }
}

/// Where a step program's memory image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepImage {
    /// The int16 reference's first step (the digits models).
    Reference,
    /// Seeded random state ([`nmsat_sim::step_image::synthetic_image`]), and why
    /// the reference's is not available.
    Synthetic(String),
}

impl StepImage {
    /// A note for the user, for a synthetic image.
    pub fn note(&self) -> Option<String> {
        match self {
            StepImage::Reference => None,
            StepImage::Synthetic(why) => Some(format!(
                "the memory image is synthetic (seeded random inputs, labels, master weights and momentum, with the operand and compressed weights derived from them; not a trained network's state): {why}"
            )),
        }
    }
}

/// One training step of `model` on `arch` with a memory image: the int16
/// reference's first step (digits data set, the reference's initial
/// weights, pre-generated compressed weights, zero momentum), compiled with
/// the reference's numerics, where the model is a built-in digits model;
/// otherwise a seeded synthetic image with the default numerics. `fastest`
/// picks the schedule by simulation ([`nmsat_sim::compile_fastest`]) instead
/// of `compile_step`'s.
pub fn step_program(
    model: &Model,
    opts: &LowerOptions,
    arch: &ArchConfig,
    dataflow: DataflowOptions,
    fastest: bool,
) -> Result<(Program, StepImage), CliError> {
    let compile = |step: &nmsat_dataflow::schedule::StepWorkload| {
        if fastest { nmsat_sim::compile_fastest(arch, step, &dataflow) } else { compile_step(arch, step, &dataflow) }
            .map_err(CliError::input)
    };
    let synthetic = |why: String| -> Result<(Program, StepImage), CliError> {
        let mut p = compile(&step_workload(model, opts).map_err(CliError::input)?)?;
        p.image = synthetic_image(&p, 0).map_err(CliError::input)?;
        Ok((p, StepImage::Synthetic(why)))
    };
    let Some(kind) = reference_model(model) else {
        return synthetic(format!("`{}` has no int16 reference (the built-in digits models do)", model.name));
    };
    let data = Dataset::digits().map_err(CliError::input)?;
    let rmethod = match opts.method {
        CMethod::Dense => Method::Dense,
        CMethod::Srste => Method::Srste,
        CMethod::Bdwp => Method::Bdwp,
    };
    let setup = match StepSetup::new(&data, kind, rmethod, opts.nm, opts.batch as usize) {
        Ok(s) => s,
        Err(e @ StepImageError::Unsupported { .. }) => return synthetic(e.to_string()),
        Err(e) => return Err(CliError::input(e)),
    };
    let mut step = step_workload(model, opts).map_err(CliError::input)?;
    let (formats, shifts) = setup.numerics();
    step.numerics = StepNumerics { formats, shifts };
    let mut p = compile(&step)?;
    p.image = step_image(&p, &setup).map_err(CliError::input)?;
    Ok((p, StepImage::Reference))
}

/// Compiles one training step of `model` into a SAT program for `arch`.
pub fn compile_program(
    model: &Model,
    opts: &LowerOptions,
    arch: &ArchConfig,
    dataflow: DataflowOptions,
) -> Result<Program, CliError> {
    let step = step_workload(model, opts).map_err(CliError::input)?;
    // With the interleave mapping on, the step is compiled with and without
    // tile interleaving and the faster by simulation is kept.
    nmsat_sim::compile_fastest(arch, &step, &dataflow).map_err(CliError::input)
}

/// The disassembly followed by the per-layer, per-pass summary.
pub fn asm_with_summary(p: &Program) -> String {
    let mut s = p.disassemble();
    let rows: Vec<Vec<String>> = p
        .summary()
        .into_iter()
        .map(|r| {
            vec![
                r.layer,
                r.pass.to_string(),
                r.loads.to_string(),
                r.computes.to_string(),
                r.stores.to_string(),
                r.dram_bytes.to_string(),
                r.macs_dense.to_string(),
                r.macs_executed.to_string(),
            ]
        })
        .collect();
    s.push_str("\n; summary per layer and pass\n");
    for line in
        table(&["layer", "pass", "loads", "computes", "stores", "dram_bytes", "macs_dense", "macs_executed"], &rows)
            .lines()
    {
        s.push_str("; ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// Loads `--arch`: a preset name (`tiny`, `sat-mid`, `sat-vu9p`), a TOML
/// path, or the default preset when absent.
pub fn load_arch(arg: Option<&str>) -> Result<ArchConfig, CliError> {
    match arg {
        None => Ok(ArchConfig::default_preset()),
        Some(a) => {
            if let Some(c) = ArchConfig::preset(a) {
                // A file of that name wins (a directory does not: `--dir
                // sat-mid` must not hide the preset `sat-mid`).
                if !Path::new(a).is_file() {
                    return Ok(c);
                }
            }
            ArchConfig::from_file(Path::new(a)).map_err(CliError::input)
        }
    }
}

/// Renders rows of cells as an aligned plain-text table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = width[i])).collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    line(width.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>().iter().map(|s| s.as_str()).collect(), &mut out);
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect(), &mut out);
    }
    out
}
