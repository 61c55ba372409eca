//! The training methods and the one sparsity policy of nmsat: which operand
//! of which GEMM runs N:M, grouped along which dimension, or why it stays
//! dense.
//!
//! The compiler (lowering a model to GEMMs) and the functional reference
//! (training on real data) both ask [`decide`]; the reasons they report are
//! the [`DenseReason`]s below, worded once.
//!
//! | method | FF `O = X·W` | BP `dX = dO·Wᵀ` | WG `dW = Xᵀ·dO` |
//! |---|---|---|---|
//! | dense | dense | dense | dense |
//! | SR-STE | `W` N:M along `C_in·R·S` | dense | dense |
//! | BDWP | `W` N:M along `C_in·R·S` | `Wᵀ` N:M along `C_out` | dense |
//!
//! A sparsified pass still runs dense when the layer overrides it
//! (`nm=dense`), when the layer is a first layer (its input is the data;
//! kept dense by convention unless the layer names a pattern), or when the
//! reduction dimension is not a multiple of `M` (never padded).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::nm::NmPattern;
use crate::workload::{GroupDim, NmOperand, Pass};

/// A training method: which passes use N:M weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Dense training: nothing is sparse.
    Dense,
    /// SR-STE-style forward-only N:M (Zhou et al. 2021): FF sparse, BP and WG dense.
    Srste,
    /// BDWP (Fang et al.): FF and BP sparse with two masks, WG dense.
    Bdwp,
}

impl Method {
    /// All methods, dense first.
    pub const ALL: [Method; 3] = [Method::Dense, Method::Srste, Method::Bdwp];

    /// True when this method runs `pass` with N:M weights.
    pub fn sparsifies(self, pass: Pass) -> bool {
        matches!((self, pass), (Method::Srste | Method::Bdwp, Pass::Ff) | (Method::Bdwp, Pass::Bp))
    }

    /// Lower-case name (`dense`, `srste`, `bdwp`), as parsed and serialised.
    pub fn name(self) -> &'static str {
        match self {
            Method::Dense => "dense",
            Method::Srste => "srste",
            Method::Bdwp => "bdwp",
        }
    }

    /// The name as written in prose and tables (`dense`, `SR-STE`, `BDWP`).
    pub fn label(self) -> &'static str {
        match self {
            Method::Dense => "dense",
            Method::Srste => "SR-STE",
            Method::Bdwp => "BDWP",
        }
    }

    /// The label with the pattern of the sparse methods (`dense`, `BDWP 2:8`).
    pub fn label_with(self, nm: NmPattern) -> String {
        match self {
            Method::Dense => self.label().to_string(),
            m => format!("{} {nm}", m.label()),
        }
    }

    /// The name with the pattern of the sparse methods (`dense`, `bdwp 2:8`).
    pub fn name_with(self, nm: NmPattern) -> String {
        match self {
            Method::Dense => self.name().to_string(),
            m => format!("{} {nm}", m.name()),
        }
    }

    /// The dense-equivalent step time over this method's, from MAC counts
    /// alone: FF, BP and WG are a third of a dense step each and an N:M pass
    /// does `N/M` of its MACs. The bound a perfect N:M engine reaches.
    pub fn mac_bound(self, nm: NmPattern) -> f64 {
        let d = nm.density();
        let sparse = Pass::TRAINING.iter().filter(|&&p| self.sparsifies(p)).count() as f64;
        3.0 / (3.0 - sparse + sparse * d)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown method `{s}` (expected dense, srste or bdwp)"))
    }
}

/// A layer's own choice of N:M pattern (the `.nm` DSL's `nm=`, SCALE-Sim's
/// `Sparsity` column), over the method's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NmOverride {
    /// Use the method's pattern (`--nm`) and the default rules.
    #[default]
    Inherit,
    /// Keep this layer dense in every pass.
    Dense,
    /// Use this pattern for this layer (also lifts the first-layer convention).
    Pattern(NmPattern),
}

/// Why a weight GEMM of a pass the method sparsifies stays dense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseReason {
    /// The layer says `nm=dense`.
    LayerOverride,
    /// The layer's input is the data (no weight before it): dense by convention.
    FirstLayer,
    /// The reduction dimension is not a multiple of `M`; N:M groups are never padded.
    NotMultiple {
        /// The dimension the groups run along.
        dim: GroupDim,
        /// Its length.
        reduction: u64,
        /// The pattern asked for.
        pattern: NmPattern,
    },
    /// The first layer's BP is not run at all: nothing needs the data's gradient.
    NoInputGradient,
}

impl fmt::Display for DenseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenseReason::LayerOverride => f.write_str("layer override: dense"),
            DenseReason::FirstLayer => f.write_str("first layer: kept dense by convention (its input is the data)"),
            DenseReason::NotMultiple { dim, reduction, pattern } => {
                write!(f, "reduction {}={reduction} is not a multiple of M={} ({pattern})", dim.symbol(), pattern.m())
            }
            DenseReason::NoInputGradient => f.write_str("first layer: no input gradient needed"),
        }
    }
}

/// The dimension a pass's weight operand is grouped along: `C_in·R·S` (the
/// FF reduction of `W`), `C_out` for BP (the reduction of `Wᵀ`).
pub fn group_dim(pass: Pass) -> GroupDim {
    match pass {
        Pass::Bp => GroupDim::Cout,
        _ => GroupDim::CinRS,
    }
}

/// How one weight GEMM runs: its N:M operand, or dense and (when the
/// method would have sparsified it) why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NmDecision {
    /// The N:M weight operand, `None` when dense.
    pub operand: Option<NmOperand>,
    /// Why the GEMM is dense although its method sparsifies the pass.
    pub dense_reason: Option<DenseReason>,
}

impl NmDecision {
    /// Dense because the method does not sparsify the pass (no reason to give).
    pub const DENSE: NmDecision = NmDecision { operand: None, dense_reason: None };

    fn dense(why: DenseReason) -> Self {
        NmDecision { operand: None, dense_reason: Some(why) }
    }
}

/// What the policy needs to know of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSparsity {
    /// The layer's override of the default pattern.
    pub nm: NmOverride,
    /// A weight layer whose input depends on no weight (the data's first layer).
    pub first: bool,
}

/// The sparsity policy: whether the weight GEMM of `pass` of a layer is N:M
/// under `method` with default pattern `default`, given the pass's
/// reduction length (`C_in·R·S` for FF, `C_out` for BP). WG and WU are
/// always dense.
pub fn decide(method: Method, pass: Pass, default: NmPattern, layer: LayerSparsity, reduction: u64) -> NmDecision {
    if !method.sparsifies(pass) {
        return NmDecision::DENSE;
    }
    let (pattern, explicit) = match layer.nm {
        NmOverride::Dense => return NmDecision::dense(DenseReason::LayerOverride),
        NmOverride::Pattern(p) => (p, true),
        NmOverride::Inherit => (default, false),
    };
    if layer.first && !explicit {
        return NmDecision::dense(DenseReason::FirstLayer);
    }
    let dim = group_dim(pass);
    if reduction % u64::from(pattern.m()) != 0 {
        return NmDecision::dense(DenseReason::NotMultiple { dim, reduction, pattern });
    }
    NmDecision { operand: Some(NmOperand { pattern, group_dim: dim }), dense_reason: None }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn p(s: &str) -> NmPattern {
        s.parse().unwrap()
    }

    #[test]
    fn methods_parse_and_choose_passes() {
        assert_eq!("BDWP".parse::<Method>().unwrap(), Method::Bdwp);
        assert!("sparse".parse::<Method>().unwrap_err().contains("dense, srste or bdwp"));
        assert!(Method::Bdwp.sparsifies(Pass::Bp) && !Method::Bdwp.sparsifies(Pass::Wg));
        assert!(Method::Srste.sparsifies(Pass::Ff) && !Method::Srste.sparsifies(Pass::Bp));
        assert!(!Method::Dense.sparsifies(Pass::Ff));
        assert_eq!(Method::Bdwp.label_with(p("2:8")), "BDWP 2:8");
        assert_eq!(Method::Dense.label_with(p("2:8")), "dense");
    }

    #[test]
    fn mac_bounds_are_the_papers() {
        let nm = p("2:8");
        assert_eq!(Method::Dense.mac_bound(nm), 1.0);
        assert!((Method::Srste.mac_bound(nm) - 3.0 / 2.25).abs() < 1e-12);
        assert!((Method::Bdwp.mac_bound(nm) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn reasons_are_worded_once() {
        let l = LayerSparsity { nm: NmOverride::Inherit, first: false };
        let d = decide(Method::Bdwp, Pass::Bp, p("2:8"), l, 10);
        assert_eq!(d.dense_reason.unwrap().to_string(), "reduction C_out=10 is not a multiple of M=8 (2:8)");
        let first = LayerSparsity { first: true, ..l };
        assert!(
            decide(Method::Srste, Pass::Ff, p("2:4"), first, 8)
                .dense_reason
                .unwrap()
                .to_string()
                .starts_with("first layer")
        );
        let named = LayerSparsity { nm: NmOverride::Pattern(p("1:4")), first: true };
        assert_eq!(decide(Method::Bdwp, Pass::Ff, p("2:8"), named, 8).operand.unwrap().pattern, p("1:4"));
        let off = LayerSparsity { nm: NmOverride::Dense, first: false };
        assert_eq!(decide(Method::Bdwp, Pass::Ff, p("2:8"), off, 8).dense_reason, Some(DenseReason::LayerOverride));
    }

    proptest! {
        /// An N:M operand is chosen exactly when the method sparsifies the
        /// pass and nothing forbids it; WG is never sparse; a dense GEMM of a
        /// sparsified pass always says why.
        #[test]
        fn decisions_are_consistent(m in 0usize..3, pass in 0usize..4, first: bool, red in 1u64..200, ov in 0usize..3) {
            let method = Method::ALL[m];
            let pass = [Pass::Ff, Pass::Bp, Pass::Wg, Pass::Wu][pass];
            let nm = [NmOverride::Inherit, NmOverride::Dense, NmOverride::Pattern(p("1:4"))][ov];
            let d = decide(method, pass, p("2:8"), LayerSparsity { nm, first }, red);
            if !method.sparsifies(pass) {
                prop_assert_eq!(d, NmDecision::DENSE);
            } else {
                prop_assert!(d.operand.is_some() != d.dense_reason.is_some());
            }
            if let Some(op) = d.operand {
                prop_assert_eq!(red % u64::from(op.pattern.m()), 0);
                prop_assert_eq!(op.group_dim, group_dim(pass));
            }
        }
    }
}
