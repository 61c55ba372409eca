//! `nmsat-dataflow`: the contract every nmsat stage shares.
//!
//! - [`arch`]: [`ArchConfig`], the typed, validated description of a SAT
//!   instance, with its presets and derived figures.
//! - [`nm`]: N:M patterns, mask selection along either matrix dimension,
//!   the compressed values + indices format the PE array reads, checks.
//! - [`matrix`]: the small row-major [`Matrix`] those work on.
//! - [`sparsity`]: the training [`Method`]s and the one sparsity policy
//!   (which GEMM operand is N:M along which dimension, or why it is dense).
//! - [`numerics`]: the SAT's int16 fixed-point arithmetic (requantize,
//!   ReLU, loss gradient, SGD update), the bit-exact definition shared by
//!   the functional reference, the simulator and the RTL.
//!
//! The SAT ISA, tiling and the dataflow passes (interleave mapping,
//! pre-generation, offline scheduling) will live here too; see
//! `docs/status.md` for what exists today.

pub mod access;
pub mod arch;
pub mod check;
pub mod error;
pub mod im2col;
pub mod isa;
pub mod matrix;
pub mod nm;
pub mod numerics;
pub mod program;
pub mod scalesim_cfg;
pub mod schedule;
pub mod sparsity;
pub mod timing;
pub mod tokens;
pub mod workload;

pub use arch::ArchConfig;
pub use error::{CheckError, ConfigError, ConfigProblem, IsaError, NmError, ProgramError, ShapeError};
pub use matrix::Matrix;
pub use nm::{CompressedNm, GroupAxis, NmPattern};
pub use sparsity::{DenseReason, LayerSparsity, Method, NmDecision, NmOverride};
pub use workload::{Gemm, GemmKind, GroupDim, NmOperand, Pass};
