//! `nmsat-rtl`: Verilog of SAT, Verilator co-simulation against the Rust
//! simulator, and Yosys resource estimates.
//!
//! - [`vast`]: a small Verilog AST and printer; every module is built as a
//!   value and printed, so the output is uniform and deterministic.
//! - [`params`]: the numbers every module is generated from, derived once
//!   from an [`nmsat_dataflow::ArchConfig`].
//! - [`emit`]: one generator per hardware unit and [`emit::emit`], which
//!   returns the whole design (files plus a file list).
//! - [`cosim`]: builds the Verilated model (cached by a hash of the
//!   Verilog), runs a program on it and compares every instruction's
//!   issue and retirement cycle, the total and the DRAM image with
//!   `nmsat_sim` in cycle mode.
//! - [`synth`]: runs Yosys `synth_xilinx` and reads the resource counts.

pub mod cosim;
pub mod emit;
pub mod error;
pub mod params;
pub mod synth;
pub mod vast;

pub use emit::{Design, EmitOptions, Fault, emit};
pub use error::RtlError;
