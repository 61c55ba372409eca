//! What the scheduler is given and what it reports: the step to compile
//! (layers, their GEMMs, convolution geometry, int16 settings) and its errors.

use serde::{Deserialize, Serialize};

use crate::arch::ArchConfig;
use crate::nm::NmPattern;
use crate::workload::{Gemm, Pass};

/// Convolution geometry the mapping needs (im2col reuse, transposed BP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvShape {
    /// Kernel taps `R·S`.
    pub taps: u64,
    /// Stride (square).
    pub stride: u64,
    /// The input geometry per sample (`ic × ih × iw`, kernel, stride,
    /// padding), when known: FF and WG then gather their activation operand
    /// with `load2col`; without it the operand's DRAM traffic is modelled
    /// but its data is not the im2col matrix.
    pub geom: Option<crate::im2col::ConvGeom>,
}

/// One layer of the step: its GEMMs and what the vector unit does around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWork {
    /// Name.
    pub name: String,
    /// Its GEMMs (FF, BP, WG for weight layers; attention GEMMs otherwise).
    pub gemms: Vec<Gemm>,
    /// Convolution geometry, when a convolution.
    pub conv: Option<ConvShape>,
    /// Followed by a ReLU (FF applies it, BP masks with it).
    pub relu: bool,
}

/// The int16 settings a training step's program bakes in: fixed-point
/// formats (requantization shifts) and the optimizer's power-of-two
/// hyperparameters. Timing does not depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepNumerics {
    /// Fractional bits per tensor kind.
    pub formats: crate::numerics::Formats,
    /// SGD shifts.
    pub shifts: crate::numerics::SgdShifts,
}

impl Default for StepNumerics {
    fn default() -> Self {
        let formats = crate::numerics::Formats::default();
        Self {
            formats,
            shifts: crate::numerics::SgdShifts {
                grad_align: formats.grad_align_shift(),
                lr_shift: 9,
                momentum_shift: Some(3),
                weight_decay_shift: None,
                sr_ste_shift: None,
            },
        }
    }
}

/// The step the scheduler compiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepWorkload {
    /// Model name.
    pub model: String,
    /// Method name.
    pub method: String,
    /// Pattern, when the method is sparse.
    pub nm: Option<NmPattern>,
    /// Batch size.
    pub batch: u64,
    /// Layers in forward order.
    pub layers: Vec<LayerWork>,
    /// Output classes of the loss (columns of the last FF output).
    pub classes: u64,
    /// The int16 settings baked into the program.
    pub numerics: StepNumerics,
}

impl StepWorkload {
    /// Groups GEMMs by layer in order of first appearance; every layer but
    /// the last is taken to be followed by a ReLU.
    pub fn from_gemms(model: &str, method: &str, nm: Option<NmPattern>, batch: u64, gemms: &[Gemm]) -> Self {
        let mut layers: Vec<LayerWork> = Vec::new();
        for g in gemms {
            match layers.iter_mut().find(|l| l.name == g.layer) {
                Some(l) => l.gemms.push(g.clone()),
                None => {
                    layers.push(LayerWork { name: g.layer.clone(), gemms: vec![g.clone()], conv: None, relu: true })
                }
            }
        }
        if let Some(l) = layers.last_mut() {
            l.relu = false;
        }
        let classes = layers.last().and_then(|l| l.gemms.iter().find(|g| g.pass == Pass::Ff)).map_or(1, |g| g.n.max(1));
        Self {
            model: model.to_string(),
            method: method.to_string(),
            nm,
            batch,
            layers,
            classes,
            numerics: StepNumerics::default(),
        }
    }
}

/// Errors of scheduling.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// A GEMM cannot be tiled into the buffers of this config.
    #[error("layer `{layer}` {pass}: GEMM {m}x{n}x{k} cannot be tiled into the buffers of `{arch}`: {reason}")]
    NoTiling {
        /// Layer.
        layer: String,
        /// Pass.
        pass: Pass,
        /// Rows.
        m: u64,
        /// Columns.
        n: u64,
        /// Reduction.
        k: u64,
        /// Config name.
        arch: String,
        /// Why.
        reason: String,
    },
    /// The loss gradient's rows do not fit an activation slot.
    #[error(
        "the loss gradient of layer `{layer}` needs a whole row of {classes} logits and its label in one activation slot, which holds {slot} elements on `{arch}`; use a config with a larger activation buffer (or a model with fewer classes)"
    )]
    LossRowTooWide {
        /// The last layer.
        layer: String,
        /// Classes (logits per row).
        classes: u64,
        /// Elements per activation slot.
        slot: u64,
        /// Config name.
        arch: String,
    },
    /// The config does not run a pattern the workload needs.
    #[error("`{arch}` does not support N:M pattern {pattern} (supported: {supported})")]
    Unsupported {
        /// Config name.
        arch: String,
        /// Pattern.
        pattern: NmPattern,
        /// Supported list.
        supported: String,
    },
    /// The step has more GEMM reduction steps than allowed: a program built
    /// whole holds every instruction in memory (`compile -o`, traces,
    /// co-simulation); a streamed run is bounded in time (`--max-steps`).
    #[error(
        "the step needs {steps} GEMM reduction steps on `{arch}` (each at least one instruction), more than the limit of {limit} ({}); use a config with larger buffers or array, or a smaller batch",
        if *limit == crate::schedule::MAX_REDUCTION_STEPS { "for a program built whole, about 500 bytes per instruction; `nmsat sim` without `--trace` streams larger steps" } else { "for one streamed run, about a million instructions per second; `nmsat sim --max-steps` raises it" }
    )]
    StepTooLarge {
        /// Config name.
        arch: String,
        /// Reduction steps the step needs.
        steps: u128,
        /// The limit.
        limit: u128,
    },
    /// A GEMM too large for 64-bit sizes: refused before planning.
    #[error("layer `{layer}`: the {pass} GEMM {m}x{n}x{k} is too large to schedule (its MAC count overflows 64 bits)")]
    GemmTooLarge {
        /// Layer.
        layer: String,
        /// Pass.
        pass: Pass,
        /// Rows.
        m: u64,
        /// Columns.
        n: u64,
        /// Reduction.
        k: u64,
    },
    /// A field of the program exceeds its encoding.
    #[error("layer `{layer}`: {what} = {value} exceeds the instruction encoding")]
    TooLarge {
        /// Layer.
        layer: String,
        /// Field.
        what: String,
        /// Value.
        value: u64,
    },
}

impl ScheduleError {
    /// `arch` does not run `pattern`.
    pub(super) fn unsupported(arch: &ArchConfig, pattern: NmPattern) -> Self {
        ScheduleError::Unsupported {
            arch: arch.name.clone(),
            pattern,
            supported: match arch.sparsity.patterns.as_slice() {
                [] => "none: the config is dense only; use --method dense".to_string(),
                ps => ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            },
        }
    }
}
