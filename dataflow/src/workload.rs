//! The workload the compiler hands to the dataflow passes: the GEMMs of one
//! training step, with the pass each belongs to and which operand is N:M.
//!
//! Conventions (col2im, as SCALE-Sim and `data/models/README.md`): a layer's
//! forward GEMM is `Out[M×N] = In[M×K] · W[K×N]` with `M` = output pixels ×
//! batch (× tokens), `N = C_out`, `K = C_in/groups·R·S`. Then
//! - FF: `(M, N, K)`, weight operand `W[K×N]`, N:M groups along `K`;
//! - BP: `(M, K_ff, N_ff)` i.e. `dX = dO·Wᵀ`, weight operand `Wᵀ`, groups
//!   along `C_out` (the BP reduction);
//! - WG: `(K_ff, N_ff, M_ff)` i.e. `dW = Xᵀ·dO`, always dense.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::nm::NmPattern;

/// A training pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Pass {
    /// Forward (feed-forward).
    #[default]
    Ff,
    /// Backward: the input/error gradient.
    Bp,
    /// Weight gradient.
    Wg,
    /// Weight update (vector unit; also pre-generates N:M weights).
    Wu,
}

impl Pass {
    /// All passes in execution order.
    pub const ALL: [Pass; 4] = [Pass::Ff, Pass::Bp, Pass::Wg, Pass::Wu];

    /// The three GEMM passes of a training step (WU runs on the vector unit).
    pub const TRAINING: [Pass; 3] = [Pass::Ff, Pass::Bp, Pass::Wg];

    /// Upper-case short name (`FF`, `BP`, `WG`, `WU`).
    pub fn name(self) -> &'static str {
        match self {
            Pass::Ff => "FF",
            Pass::Bp => "BP",
            Pass::Wg => "WG",
            Pass::Wu => "WU",
        }
    }
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a GEMM multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GemmKind {
    /// One operand is a layer's weight (or its transpose), the other an activation/gradient.
    Weight,
    /// Two activations (attention `QKᵀ`, `AV` and their gradients): no weights, always dense.
    Attention,
}

/// Which operand of a GEMM is N:M sparse and along which dimension its
/// groups run. The sparse operand is always the `K×N` ("weight") operand
/// of the GEMM and its groups always run along that GEMM's `K`; the
/// `group_dim` records what `K` means for the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NmOperand {
    /// The pattern.
    pub pattern: NmPattern,
    /// The layer dimension the groups run along.
    pub group_dim: GroupDim,
}

/// The layer dimension an N:M group runs along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupDim {
    /// `C_in·R·S`: the FF reduction of `W`.
    CinRS,
    /// `C_out`: the BP reduction of `Wᵀ`.
    Cout,
}

impl GroupDim {
    /// The name as users read it in tables and JSON (`C_in*R*S`, `C_out`).
    pub fn name(self) -> &'static str {
        match self {
            GroupDim::CinRS => "C_in*R*S",
            GroupDim::Cout => "C_out",
        }
    }

    /// The name as written in prose and messages (`C_in·R·S`, `C_out`).
    pub fn symbol(self) -> &'static str {
        match self {
            GroupDim::CinRS => "C_in·R·S",
            GroupDim::Cout => "C_out",
        }
    }
}

/// One GEMM of a training step: `count` independent products of `M×K` by `K×N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gemm {
    /// Layer name from the model.
    pub layer: String,
    /// Pass it belongs to.
    pub pass: Pass,
    /// Weight or attention GEMM.
    pub kind: GemmKind,
    /// Rows of the output.
    pub m: u64,
    /// Columns of the output.
    pub n: u64,
    /// Reduction length.
    pub k: u64,
    /// Number of identical independent GEMMs (e.g. attention heads, groups).
    pub count: u64,
    /// The N:M operand, `None` when the GEMM runs dense.
    pub sparse: Option<NmOperand>,
    /// Why a weight GEMM of an N:M method stays dense (first layer, `K % M != 0`, override).
    pub dense_reason: Option<String>,
    /// The product in words, e.g. `O=X*W`, `dX=dO*W^T`, `dQ=dS*K`: tells apart the
    /// several GEMMs one layer has in one pass (attention BP has two).
    pub what: String,
}

impl Gemm {
    /// Dense MACs: `M·N·K·count`.
    pub fn macs(&self) -> u64 {
        self.m * self.n * self.k * self.count
    }

    /// MACs actually executed: dense MACs scaled by `N/M` when sparse.
    pub fn macs_executed(&self) -> u64 {
        match self.sparse {
            Some(s) => self.macs() * u64::from(s.pattern.n()) / u64::from(s.pattern.m()),
            None => self.macs(),
        }
    }
}
