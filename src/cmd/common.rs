//! Arguments shared by subcommands.

use clap::Args;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_flow::StepRequest;

/// The dataflow ablation switches shared by `compile` and `sim`.
#[derive(Debug, Clone, Copy, Args)]
pub struct DataflowFlags {
    /// Switch off the interleave mapping (BP chain before WG, mode switches
    /// drain the array, values and indices in separate arrays).
    #[arg(long)]
    pub no_interleave: bool,
    /// Switch off pre-generation: FF/BP load dense weights and run the
    /// sparsifier on the critical path.
    #[arg(long)]
    pub no_pregen: bool,
    /// Switch off offline scheduling: one buffer slot each, a naive in-order schedule.
    #[arg(long)]
    pub no_offline_schedule: bool,
}

impl DataflowFlags {
    /// The scheduler options these flags select.
    pub fn options(&self) -> DataflowOptions {
        DataflowOptions {
            interleave: !self.no_interleave,
            pregen: !self.no_pregen,
            offline_schedule: !self.no_offline_schedule,
        }
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
