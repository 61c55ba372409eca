//! The functional reference: N:M sparse training on the CPU, in plain Rust.
//!
//! It trains MLPs and small CNNs (linear, conv2d by im2col, ReLU, max/avg
//! pooling, flatten, softmax cross-entropy, SGD with momentum and weight
//! decay) with three methods ([`Method`]):
//!
//! - `dense`: no pruning;
//! - `srste`: N:M `W` in FF (groups along `K = R·S·C_in`), dense `Wᵀ` in BP,
//!   and SR-STE's sparse-refined term `λ_W·(¬mask ⊙ W)` on the master weights;
//! - `bdwp`: N:M `W` in FF along `K` **and** a separately selected N:M `Wᵀ`
//!   in BP along `C_out`; WG dense; dense master weights updated by WG
//!   (straight-through) and both masks re-selected after every update.
//!
//! Two numeric paths ([`NumericsKind`]): `f32`, and the SAT's int16 fixed
//! point defined in [`nmsat_dataflow::numerics`]. All arithmetic of a step
//! goes through a [`Backend`], so the cycle simulator can stand in for the
//! CPU and train bit-identically.
//!
//! Entry points: [`Dataset`] (digits or a CSV), [`TrainConfig`], [`train()`]
//! (or [`Trainer`] for step-by-step control), [`TrainReport`].

pub mod backend;
pub mod dataset;
pub mod error;
pub mod model;
pub mod network;
pub mod train;

#[cfg(test)]
mod tests;

pub use backend::{Backend, CpuF32, CpuInt16, Element, GemmInfo, Hyper, NumericsKind, Operand};
pub use dataset::Dataset;
pub use error::{DatasetError, TrainError};
pub use model::ModelKind;
pub use network::{LayerSpec, Method, Network, Tensor, WeightLayer};
pub use train::{Progress, TrainConfig, TrainReport, Trainer, train};
