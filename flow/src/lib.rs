//! `nmsat-flow`: the nmsat pipeline as a library.
//!
//! model → training graph → SAT program → simulation (→ RTL co-simulation),
//! as calls the CLI, the reports, exploration and tests share:
//!
//! - [`input`]: configs (`--arch`: presets or TOML) and inputs (models or
//!   program files).
//! - [`step`]: a typed [`StepRequest`] compiles to a program with or
//!   without a memory image ([`CompiledStep`], [`StepImage`]: the int16
//!   reference's step for the digits models, seeded synthetic state
//!   otherwise) and simulates ([`simulate_step`]).
//! - [`choose`]: the candidate schedules compiled and simulated, the fastest kept.
//! - [`stream`]: compile and simulate as one stream, in bounded memory.
//! - [`cosim`]: which programs co-simulate, whether their DRAM can be
//!   compared, and the run against the Verilated RTL.
//! - [`train`]: training on real data on the CPU reference or the
//!   simulated SAT, and the accuracy sweep.
//! - [`demo`]: the demo's four sections.
//! - [`explore`]: design-space exploration over configs and workloads.
//!
//! Rendering is [`nmsat_reports`]'s; every error is a [`FlowError`].

pub mod choose;
pub mod cosim;
pub mod demo;
pub mod error;
pub mod explore;
pub mod input;
pub mod models;
pub mod report;
pub mod step;
pub mod stream;
pub mod train;

pub use choose::{Choice, compile_fastest, simulate_fastest};
pub use error::FlowError;
pub use input::{Input, load_arch, load_input, load_input_with};
pub use step::{CompiledStep, Schedule, SimulatedStep, StepImage, StepRequest, simulate_step};
