//! The pipeline's errors: each stage's own, plus what the pipeline itself
//! refuses. [`FlowError::is_check_failure`] tells a failed check (a
//! co-simulation mismatch) from bad input.

use thiserror::Error;

/// Why a pipeline call failed.
#[derive(Debug, Error)]
pub enum FlowError {
    /// A model that cannot be read or lowered.
    #[error(transparent)]
    Compile(#[from] nmsat_compiler::CompileError),
    /// An `ArchConfig` that cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] nmsat_dataflow::ConfigError),
    /// A step the scheduler cannot map onto the config.
    #[error(transparent)]
    Schedule(#[from] nmsat_dataflow::schedule::ScheduleError),
    /// A program file that cannot be read or written.
    #[error(transparent)]
    Program(#[from] nmsat_dataflow::ProgramError),
    /// A program the simulator refuses (deadlock, range).
    #[error(transparent)]
    Sim(#[from] nmsat_sim::SimError),
    /// A step image that cannot be built.
    #[error(transparent)]
    StepImage(#[from] nmsat_sim::step_image::StepImageError),
    /// A training run that cannot proceed.
    #[error(transparent)]
    Train(#[from] nmsat_sim::reference::TrainError),
    /// A data set that cannot be read.
    #[error(transparent)]
    Dataset(#[from] nmsat_sim::reference::DatasetError),
    /// RTL emission, Verilator or Yosys.
    #[error(transparent)]
    Rtl(#[from] nmsat_rtl::RtlError),
    /// An energy table that cannot be read or is invalid.
    #[error(transparent)]
    Energy(#[from] nmsat_reports::energy::TableError),
    /// A chart that cannot be drawn.
    #[error("cannot draw a chart: {0}")]
    Chart(String),
    /// A file the pipeline could not read or write.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// What failed.
        message: String,
    },
    /// A request the pipeline cannot serve, in words.
    #[error("{0}")]
    Request(String),
    /// A check that ran and failed (e.g. the RTL does not co-simulate).
    #[error("{0}")]
    CheckFailed(String),
}

impl FlowError {
    /// True for a check that ran and failed, false for bad input.
    pub fn is_check_failure(&self) -> bool {
        matches!(self, FlowError::CheckFailed(_))
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        FlowError::Io { path: path.display().to_string(), message: e.to_string() }
    }
}
