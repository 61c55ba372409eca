//! From the GEMMs of a training step to a SAT program: mapping, tiling,
//! buffer allocation, the three dataflow optimizations and token
//! assignment.
//!
//! # Mapping
//! Every GEMM runs output-stationary on the PE array. Convolutions use an
//! im2col address generator in front of the array: the activation buffer
//! holds raw input windows and the DMA moves raw bytes (a window's halo
//! shared by neighbouring tiles is not re-fetched, an under-count of at most
//! `(R − stride)/(tile rows · stride)` of the activation traffic). The BP of
//! a convolution runs as the transposed convolution of `dO` (one output row
//! per input pixel, reduction `K' = C_out·R·S`, taps outer, `C_out` inner,
//! so N:M groups still run along `C_out`): a long reduction instead of the
//! col2im GEMM's `K = C_out`, so the array is not drain-bound, at the price
//! of multiplying the zeros of a stride's dilation (and of a padding written
//! into the input): `(H_in·W_in)/(H_out·W_out)` times the col2im MACs.
//!
//! # Tiling
//! Each GEMM gets the tile sizes `(tm, tn, tk)` and loop order (output
//! rows outer or output columns outer, reduction inner) that minimise the
//! cost model of [`crate::timing`] (compute cycles against DRAM cycles)
//! under the buffer budget: the activation buffer is split into operand
//! and staging halves, weight and output buffers into slots; every slot is
//! double-buffered when offline scheduling is on.
//!
//! # The dataflow optimizations (each can be switched off)
//! Each is an [`Optimization`] that describes itself ([`Optimization::info`]);
//! [`optimizations`] lists them, [`DataflowOptions`] switches them by value
//! or by name ([`DataflowOptions::disable`]) and the scheduler asks
//! [`DataflowOptions::is_on`].
//! - **interleave mapping**: output tiles of BP(l) (sparse) and WG(l)
//!   (dense, with the fused weight update) alternate on the array, so the
//!   memory-bound sparse tiles overlap the compute-bound dense ones; compressed
//!   weights are stored values-and-indices interleaved per 16-column chunk so
//!   one DMA feeds both. Off: the GEMMs run one after the other and values
//!   and indices are separate arrays, fetched by two DMAs.
//! - **pre-generation**: the weight update of step t runs the sparsifier and
//!   writes compressed `W_ff` and transposed `W_bp` for step t+1. Off: FF and
//!   BP load dense int16 weights and sparsify them on the critical path.
//! - **offline scheduling**: double-buffered slots and dependency tokens
//!   let DMA overlap compute. Off: one slot per buffer, so every tile's
//!   load, compute and store run one after another (a naive in-order schedule).
//!
//! # Layout
//! - `contract`: what the scheduler is given (the step) and its errors;
//!   `options`: the optimizations and which are on.
//! - `step`: the driver ([`compile_step`]); `plan`: each GEMM's mapping,
//!   tiling, DRAM regions and epilogue as a job (`job`).
//! - `tiling`: the mapping on the array, the buffer budget and the cost model.
//! - `builder`: instruction emission with hazard tracking and deferred epilogues.
//! - `tile`: a job tile by tile, and two jobs interleaved; `operands`: the
//!   operand loads of a reduction step; `wu`: the weight-update epilogue and
//!   the loss gradient.
//! - `kernels`: standalone single-kernel programs ([`compile_gemm`] and co.).

mod builder;
mod contract;
mod job;
mod kernels;
mod operands;
mod options;
mod plan;
mod step;
mod tile;
mod tiling;
mod wu;

pub use builder::ProgramSink;
pub use contract::{ConvShape, LayerWork, ScheduleError, StepNumerics, StepWorkload};
pub use kernels::{GemmOperand, KernelProgram, compile_gemm, compile_loss_grad, compile_sgd};
pub use options::{DataflowChoice, DataflowOptions, Optimization, PassInfo, UnknownPass, optimizations};
pub use step::{
    MAX_REDUCTION_STEPS, TileInterleave, can_interleave_tiles, compile_step, compile_step_stream, compile_step_with,
    interleaved_layers, step_size,
};
pub use wu::NO_WEIGHT_DECAY;

/// A convolution's BP runs as the transposed convolution over `dO` only
/// while the zeros it multiplies (stride dilation, padding written into the
/// input) cost at most this many times `stride²`: its MACs are
/// `(H_in·W_in)/(H_out·W_out)` times the col2im GEMM's. Beyond it (e.g. a
/// filter spanning a 64-wide input: 64 times) the BP runs as the col2im GEMM.
pub const MAX_BP_ZERO_FACTOR: u64 = 4;
