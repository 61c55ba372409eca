//! Lowering layers to the GEMMs of one training step, in the col2im
//! convention of `data/models/README.md`, for any batch size.
//!
//! For a conv/linear layer with forward GEMM `(M, N, K)` per group
//! (`M = H_out·W_out` or tokens, `N = C_out/groups`, `K = C_in/groups·R·S`,
//! `count = groups`) and batch `B`:
//!
//! | pass | GEMM | N:M operand (when the method sparsifies the pass) |
//! |---|---|---|
//! | FF | `(M·B, N, K)` `O = X·W` | `W_ff`, groups along `K = C_in·R·S` |
//! | BP | `(M·B, K, N)` `dX = dO·Wᵀ` | `W_bp`, groups along `C_out` |
//! | WG | `(K, N, M·B)` `dW = Xᵀ·dO` | none: always dense |
//!
//! Attention matmuls (per head, `count = heads·B`): `Q·Kᵀ` is
//! `(T_q, T_k, d)` with BP `dQ = dS·K` `(T_q, d, T_k)` and `dK = dSᵀ·Q`
//! `(T_k, d, T_q)`; `A·V` is `(T_q, d, T_k)` with BP `dA = dO·Vᵀ`
//! `(T_q, T_k, d)` and `dV = Aᵀ·dO` `(T_k, d, T_q)`. They have no weights and
//! stay dense.
//!
//! N:M applies to a weight GEMM when the method sparsifies its pass
//! ([`Method::sparsifies`]; the rule is [`nmsat_dataflow::sparsity`]), the layer is not a first layer (one whose input
//! does not depend on any weight; kept dense by convention) and the
//! reduction dimension is a multiple of `M`. Otherwise the GEMM is dense and
//! [`Gemm::dense_reason`] says why. A per-layer override (`nm=dense` or
//! `nm=4:8` in the DSL, SCALE-Sim's `Sparsity` column) replaces the default
//! pattern; an explicit pattern also lifts the first-layer convention.

pub use nmsat_dataflow::Method;
use nmsat_dataflow::sparsity::{LayerSparsity, NmDecision, decide};
use nmsat_dataflow::{Gemm, GemmKind, NmPattern, Pass};
use serde::Serialize;

use crate::error::{CompileError, Location, mul};
use crate::graph::TrainingGraph;
use crate::model::{AttnOp, Input, Layer, LayerKind, Model};

/// What to lower for: method, default N:M pattern and batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LowerOptions {
    /// Training method.
    pub method: Method,
    /// The N:M pattern of sparse passes, unless a layer overrides it.
    pub nm: NmPattern,
    /// Samples per step (must be at least 1).
    pub batch: u64,
}

impl LowerOptions {
    /// Options for `method` at `nm` and `batch`.
    pub fn new(method: Method, nm: NmPattern, batch: u64) -> Self {
        Self { method, nm, batch }
    }
}

impl Default for LowerOptions {
    /// BDWP at 2:8 (the paper's headline setting), batch 1.
    fn default() -> Self {
        Self { method: Method::Bdwp, nm: NmPattern::new(2, 8).expect("2:8 is a valid pattern"), batch: 1 }
    }
}

/// Lowers a model to the GEMMs of one training step (FF in layer order, then
/// BP and WG in reverse layer order): the training graph's GEMMs.
pub fn lower(model: &Model, opts: &LowerOptions) -> Result<Vec<Gemm>, CompileError> {
    Ok(TrainingGraph::build(model, opts)?.gemms())
}

/// Totals of a GEMM list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    /// Σ M·N·K·count.
    pub macs_dense: u64,
    /// Σ M·N·K·count, sparse GEMMs scaled by N/M: the work an ideal N:M engine does.
    pub macs_sparse_equivalent: u64,
}

/// Sums a GEMM list, or reports an overflow.
pub fn totals(gemms: &[Gemm]) -> Result<Totals, CompileError> {
    let mut t = Totals::default();
    for g in gemms {
        let loc = Location::Layer { name: g.layer.clone() };
        let macs = mul(mul(mul(g.m, g.n, &loc, "MACs")?, g.k, &loc, "MACs")?, g.count, &loc, "MACs")?;
        let exec = match g.sparse {
            Some(s) => {
                mul(macs / u64::from(s.pattern.m()), u64::from(s.pattern.n()), &loc, "MACs")?
                    + (macs % u64::from(s.pattern.m())) * u64::from(s.pattern.n()) / u64::from(s.pattern.m())
            }
            None => macs,
        };
        t.macs_dense =
            t.macs_dense.checked_add(macs).ok_or_else(|| CompileError::overflow(loc.clone(), "total MACs overflow"))?;
        t.macs_sparse_equivalent = t
            .macs_sparse_equivalent
            .checked_add(exec)
            .ok_or_else(|| CompileError::overflow(loc.clone(), "total MACs overflow"))?;
    }
    Ok(t)
}

/// Per-layer facts the lowering and the graph share.
#[derive(Debug, Clone)]
pub(crate) struct Analysis {
    /// Some input depends on a weight: the layer needs a BP node.
    pub needs_bp: Vec<bool>,
    /// Consumers of each layer's output, in order.
    pub consumers: Vec<Vec<usize>>,
}

impl Analysis {
    pub fn new(model: &Model) -> Self {
        let n = model.layers.len();
        let mut requires_grad = vec![false; n];
        let mut needs_bp = vec![false; n];
        let mut consumers = vec![Vec::new(); n];
        for (i, l) in model.layers.iter().enumerate() {
            let mut any = false;
            for inp in &l.inputs {
                if let Input::Layer(p) = inp
                    && p.index() < i
                {
                    any |= requires_grad[p.index()];
                    if !consumers[p.index()].contains(&i) {
                        consumers[p.index()].push(i);
                    }
                }
            }
            needs_bp[i] = any;
            requires_grad[i] = any || l.kind.has_weights();
        }
        Self { needs_bp, consumers }
    }

    /// A weight layer none of whose inputs depends on a weight: the network's first layer(s).
    pub fn is_first(&self, model: &Model, i: usize) -> bool {
        model.layers[i].kind.has_weights() && !self.needs_bp[i]
    }
}

/// Forward GEMM geometry of a weight layer per sample: `(M, N, K, groups)`.
pub(crate) fn weight_dims(layer: &Layer) -> Result<Option<(u64, u64, u64, u64)>, CompileError> {
    let loc = &layer.origin;
    Ok(match layer.kind {
        LayerKind::Conv(c) => {
            let g = c.groups.max(1);
            let k = mul(mul(c.c_in / g, c.kernel.0, loc, "K")?, c.kernel.1, loc, "K")?;
            Some((mul(layer.out_positions(), 1, loc, "M")?, c.c_out / g, k, g))
        }
        LayerKind::Linear(l) => Some((layer.out_positions(), l.out_features, l.in_features, 1)),
        _ => None,
    })
}

/// Whether a weight GEMM of `pass` is N:M: the workspace's one sparsity
/// policy ([`nmsat_dataflow::sparsity::decide`]) applied to the layer.
pub(crate) fn nm_choice(opts: &LowerOptions, layer: &Layer, pass: Pass, reduction: u64, first: bool) -> NmDecision {
    decide(opts.method, pass, opts.nm, LayerSparsity { nm: layer.nm, first }, reduction)
}

fn gemm(
    layer: &Layer,
    pass: Pass,
    kind: GemmKind,
    (m, n, k, count): (u64, u64, u64, u64),
    choice: NmDecision,
    what: &str,
) -> Result<Gemm, CompileError> {
    let loc = &layer.origin;
    mul(mul(mul(m, n, loc, "M·N·K·count")?, k, loc, "M·N·K·count")?, count, loc, "M·N·K·count")?;
    Ok(Gemm {
        layer: layer.name.clone(),
        pass,
        kind,
        m,
        n,
        k,
        count,
        sparse: choice.operand,
        dense_reason: choice.dense_reason.map(|r| r.to_string()),
        what: what.to_string(),
    })
}

/// The GEMMs of one layer in one pass (`Pass::Wu` has none).
pub(crate) fn layer_gemms(
    layer: &Layer,
    pass: Pass,
    opts: &LowerOptions,
    first: bool,
) -> Result<Vec<Gemm>, CompileError> {
    let b = opts.batch;
    let loc = &layer.origin;
    if let Some((m, n, k, g)) = weight_dims(layer)? {
        let mb = mul(m, b, loc, "M·batch")?;
        let w = GemmKind::Weight;
        return Ok(match pass {
            Pass::Ff => vec![gemm(layer, pass, w, (mb, n, k, g), nm_choice(opts, layer, pass, k, first), "O=X*W")?],
            Pass::Bp => {
                vec![gemm(layer, pass, w, (mb, k, n, g), nm_choice(opts, layer, pass, n, first), "dX=dO*W^T")?]
            }
            Pass::Wg => vec![gemm(layer, pass, w, (k, n, mb, g), NmDecision::DENSE, "dW=X^T*dO")?],
            Pass::Wu => Vec::new(),
        });
    }
    if let LayerKind::AttnMatmul(a) = layer.kind {
        let c = mul(a.heads, b, loc, "heads·batch")?;
        let (tq, tk, d) = (a.tokens_q, a.tokens_k, a.head_dim);
        let at = GemmKind::Attention;
        let mk = |dims, what: &str| gemm(layer, pass, at, dims, NmDecision::DENSE, what);
        return match (a.op, pass) {
            (AttnOp::QkT, Pass::Ff) => Ok(vec![mk((tq, tk, d, c), "S=Q*K^T")?]),
            (AttnOp::QkT, Pass::Bp) => Ok(vec![mk((tq, d, tk, c), "dQ=dS*K")?, mk((tk, d, tq, c), "dK=dS^T*Q")?]),
            (AttnOp::AttnV, Pass::Ff) => Ok(vec![mk((tq, d, tk, c), "O=A*V")?]),
            (AttnOp::AttnV, Pass::Bp) => Ok(vec![mk((tq, tk, d, c), "dA=dO*V^T")?, mk((tk, d, tq, c), "dV=A^T*dO")?]),
            _ => Ok(Vec::new()),
        };
    }
    Ok(Vec::new())
}

/// The one GEMM of a layer of a SCALE-Sim training-pass file: the row's own
/// geometry, labelled with the file's pass (`M·B` for FF/BP rows, `K·B` for WG rows).
pub(crate) fn pass_file_gemm(
    layer: &Layer,
    pass: Pass,
    opts: &LowerOptions,
    first: bool,
) -> Result<Vec<Gemm>, CompileError> {
    let loc = &layer.origin;
    let Some((m, n, k, g)) = weight_dims(layer)? else { return Ok(Vec::new()) };
    let b = opts.batch;
    let (dims, what) = match pass {
        Pass::Wg => ((m, n, mul(k, b, loc, "K·batch")?, g), "dW=X^T*dO"),
        Pass::Bp => ((mul(m, b, loc, "M·batch")?, n, k, g), "dX=dO*W^T"),
        _ => ((mul(m, b, loc, "M·batch")?, n, k, g), "O=X*W"),
    };
    let choice = if pass == Pass::Wg { NmDecision::DENSE } else { nm_choice(opts, layer, pass, k, first) };
    Ok(vec![gemm(layer, pass, GemmKind::Weight, dims, choice, what)?])
}

#[cfg(test)]
mod tests {
    use nmsat_dataflow::{GroupDim, NmOperand};

    use super::*;

    #[test]
    fn totals_scale_sparse_gemms() {
        let g = |sparse| Gemm {
            layer: "l".into(),
            pass: Pass::Ff,
            kind: GemmKind::Weight,
            m: 4,
            n: 4,
            k: 8,
            count: 2,
            sparse,
            dense_reason: None,
            what: String::new(),
        };
        let p = NmPattern::new(2, 8).unwrap();
        let t = totals(&[g(None), g(Some(NmOperand { pattern: p, group_dim: GroupDim::CinRS }))]).unwrap();
        assert_eq!(t.macs_dense, 512);
        assert_eq!(t.macs_sparse_equivalent, 256 + 64);
        let mut big = g(None);
        big.m = u64::MAX;
        assert!(totals(&[big]).is_err());
    }
}
