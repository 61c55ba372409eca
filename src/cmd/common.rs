//! Arguments shared by subcommands.

use clap::Args;
use nmsat_dataflow::schedule::{DataflowChoice, DataflowOptions, Optimization};
use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_flow::StepRequest;

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
    /// The PE array's mapping per GEMM (ADR 004): `os` output-stationary,
    /// `ws` weight-stationary wherever a GEMM can run so, `auto` the faster
    /// of the two per GEMM and pass by the cost model, weighed against
    /// all-OS and all-WS by simulation (the default); among the config's
    /// `pe_array.dataflows`.
    #[arg(long, value_enum)]
    pub dataflow: Option<DataflowArg>,
}

/// `--dataflow`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DataflowArg {
    /// Output-stationary.
    Os,
    /// Weight-stationary.
    Ws,
    /// Per GEMM, the faster of the two.
    Auto,
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
        let mut o = off.fold(DataflowOptions::default(), DataflowOptions::without);
        if let Some(d) = self.dataflow {
            o.dataflow = match d {
                DataflowArg::Os => DataflowChoice::Os,
                DataflowArg::Ws => DataflowChoice::Ws,
                DataflowArg::Auto => DataflowChoice::Auto,
            };
        }
        o
    }
}

/// What a model's training step is: method, pattern, batch.
#[derive(Debug, Clone, Copy, Args)]
pub struct StepFlags {
    /// Training method: which passes use N:M weights.
    #[arg(long, value_enum, default_value_t = Method::Bdwp)]
    pub method: Method,
    /// N:M pattern of the sparse passes (layers may override it).
    #[arg(long, default_value = "2:8")]
    pub nm: NmPattern,
    /// Samples per training step.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
}

impl StepFlags {
    /// The request for `model` on `arch` with these flags and `dataflow`.
    pub fn request(&self, model: nmsat_compiler::Model, arch: ArchConfig, dataflow: &DataflowFlags) -> StepRequest {
        StepRequest { model, method: self.method, nm: self.nm, batch: self.batch, dataflow: dataflow.options(), arch }
    }
}

/// `--mode` of the simulator.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// Event-driven.
    Fast,
    /// Cycle by cycle.
    Cycle,
}

impl From<ModeArg> for nmsat_sim::SimMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Fast => nmsat_sim::SimMode::Fast,
            ModeArg::Cycle => nmsat_sim::SimMode::Cycle,
        }
    }
}

/// Prints a model's front-end notes (what an ONNX import did not model or skipped) on stderr.
pub fn print_notes(model: &nmsat_compiler::Model) {
    for n in &model.notes {
        eprintln!("note: {n}");
    }
}
