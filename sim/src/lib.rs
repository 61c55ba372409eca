//! `nmsat-sim`: the SAT simulator and the functional reference.
//!
//! - [`engine`]: executes a [`nmsat_dataflow::program::Program`] on an
//!   [`nmsat_dataflow::ArchConfig`] with the timing rules of
//!   [`nmsat_dataflow::timing`], in `cycle` or `fast` mode, and returns
//!   [`Stats`] and the start/retire cycle of every instruction.
//! - [`stats`]: the typed statistics (per unit and action, stalls by cause,
//!   per layer and pass) that reports and the energy model read.
//! - [`datapath`]: what each instruction does to DRAM and the buffers (the
//!   int16 arithmetic of `numerics`), applied when a run carries data.
//! - [`trace`]: a Chrome-trace/Perfetto timeline of a run.
//! - [`testgen`]: seeded random, race-free programs with random memory images.
//! - [`step_image`]: the memory image of a whole training step from the
//!   int16 reference's state.
//! - [`reference`](mod@reference): N:M sparse training (dense, SR-STE, BDWP) on the CPU in
//!   `f32` or the SAT's int16 arithmetic, the golden model the simulator
//!   must match.

pub mod datapath;
pub mod engine;
pub mod error;
pub mod reference;
pub mod sat_backend;
pub mod stats;
pub mod step_image;
pub mod testgen;
pub mod trace;

pub use engine::{
    OnStart, Retire, RunResult, SimMode, SimOptions, Source, Started, simulate, simulate_stream,
    simulate_stream_observed,
};
pub use error::SimError;
pub use stats::{LayerPassStats, StallCause, Stats, UnitEvents};
