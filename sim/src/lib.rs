//! `nmsat-sim`: the SAT simulator.
//!
//! - [`engine`]: executes a [`nmsat_dataflow::program::Program`] on an
//!   [`nmsat_dataflow::ArchConfig`] with the timing rules of
//!   [`nmsat_dataflow::timing`], in `cycle` or `fast` mode, and returns
//!   [`Stats`] and the start/retire cycle of every instruction.
//! - [`stats`]: the typed statistics (per unit and action, stalls by cause,
//!   per layer and pass) that reports and the energy model read.
//! - [`trace`]: a Chrome-trace/Perfetto timeline of a run.

pub mod engine;
pub mod error;
pub mod stats;
pub mod testgen;
pub mod trace;

pub use engine::{Retire, RunResult, SimMode, SimOptions, simulate};
pub use error::SimError;
pub use stats::Stats;
