//! A planned GEMM: where its operands live in DRAM, how it is tiled and
//! what happens to its output (activation store or fused weight update).

use super::tiling::{Mapped, Tiling};
use crate::nm::NmPattern;
use crate::program::Tag;

/// How one GEMM's operands live in DRAM and what happens to its output.
#[derive(Debug, Clone)]
pub(super) struct GemmJob {
    pub(super) tag: Tag,
    pub(super) layer: String,
    pub(super) mp: Mapped,
    pub(super) tiling: Tiling,
    /// Weight operand bytes per element (numerator, denominator), as the tiling saw them.
    pub(super) w_fmt: (u64, u64),
    /// Activation operand region and row length in elements (raw).
    pub(super) a_region: (usize, u64),
    pub(super) a_row: u64,
    /// The activation operand is read transposed from a row-major `K×M` block
    /// (WG of a linear layer: `Xᵀ` from `X` as stored).
    pub(super) a_trans: bool,
    /// The activation operand is the im2col matrix of the NHWC tensor at
    /// `a_region`, gathered by `load2col` (FF and WG of a convolution).
    pub(super) im2col: Option<crate::im2col::ConvGeom>,
    /// BP of a convolution as a transposed convolution: `(taps, C_out, C_in)`.
    /// Its weight tile (rows `(t′, k)`, columns `c`) is read from the stored
    /// `W_bp` (`C_out × taps·C_in`) or `W` (`taps·C_in × C_out`) at the
    /// flipped tap's block; a reduction tile never spans two taps.
    pub(super) tap_blocks: Option<(u64, u64, u64)>,
    /// Weight operand source.
    pub(super) w_src: WSource,
    pub(super) out: OutKind,
}

#[derive(Debug, Clone)]
pub(super) enum WSource {
    /// Dense int16 `k×n` (row-major) region, or `n×k` when `transposed`
    /// (a dense BP reads `Wᵀ` from the `K×N` weight as stored).
    Dense { region: (usize, u64), transposed: bool },
    /// Compressed, interleaved (one DMA) or split values/indices.
    Compressed { pattern: NmPattern, values: (usize, u64), indices: Option<(usize, u64)> },
    /// Dense int16 weights, sparsified on the fly (no pre-generation).
    SparsifyOnTheFly { pattern: NmPattern, region: (usize, u64), axis: u8 },
}

#[derive(Debug, Clone)]
pub(super) enum OutKind {
    /// Requantize by `shift` into int16 (with ReLU) and store; in BP optionally mask by ReLU'.
    Activation { region: (usize, u64), relu: bool, mask: Option<(usize, u64)>, row: u64, shift: i8 },
    /// Fused weight update of a `k×n` weight (WG output tile = weight tile).
    WeightUpdate(Box<WuPlan>),
}

/// A DRAM region: its index in the memory map and its address.
pub(super) type RegionRef = (usize, u64);
/// Where pre-generated weights go: pattern, values (or interleaved) region, split indices region.
pub(super) type PregenTarget = (NmPattern, RegionRef, Option<RegionRef>);

#[derive(Debug, Clone)]
pub(super) struct WuPlan {
    pub(super) master: (usize, u64),
    pub(super) momentum: (usize, u64),
    pub(super) dense_w: Option<(usize, u64)>,
    pub(super) ff: Option<PregenTarget>,
    pub(super) bp: Option<PregenTarget>,
    /// A convolution whose dense BP runs as a transposed convolution: its
    /// weights are also stored as `W′ᵀ` (`C_in × taps·C_out`, taps flipped)
    /// in this region, `(region, taps, C_in, C_out)`.
    pub(super) bp_dense_taps: Option<((usize, u64), u64, u64, u64)>,
    /// SR-STE: the FF pattern whose pruned mask (chosen on the master
    /// weights before the update, as FF chose it) gates the decay term.
    pub(super) sr_ste: Option<NmPattern>,
    /// Columns of the full weight (`N`).
    pub(super) cols: u64,
    /// Rows of the full weight (`K`).
    pub(super) rows: u64,
}

/// Reduction steps of a job (output tiles × K-steps, each at least one
/// `gemm` instruction), counted without building the tile list: the bound
/// the scheduler checks before it emits anything.
pub(super) fn reduction_steps(j: &GemmJob) -> u128 {
    let t = j.tiling;
    let tiles = u128::from(j.mp.m.div_ceil(t.tm.max(1))) * u128::from(j.mp.n.div_ceil(t.tn.max(1)));
    tiles * u128::from(j.mp.k.div_ceil(t.tk.max(1)).max(1))
}

/// Output tiles (m0, n0, tm, tn) of a job, in its loop order.
pub(super) fn tile_list(j: &GemmJob) -> Vec<(u64, u64, u64, u64)> {
    let t = j.tiling;
    let mut v = Vec::new();
    let ms: Vec<u64> = (0..j.mp.m.div_ceil(t.tm)).map(|i| i * t.tm).collect();
    let ns: Vec<u64> = (0..j.mp.n.div_ceil(t.tn)).map(|i| i * t.tn).collect();
    if t.n_outer {
        for &n0 in &ns {
            for &m0 in &ms {
                v.push((m0, n0, t.tm.min(j.mp.m - m0), t.tn.min(j.mp.n - n0)));
            }
        }
    } else {
        for &m0 in &ms {
            for &n0 in &ns {
                v.push((m0, n0, t.tm.min(j.mp.m - m0), t.tn.min(j.mp.n - n0)));
            }
        }
    }
    v
}

/// MACs the array executes for reduction step `ki` of an output tile (the
/// interleave mapping balances two GEMMs by them).
pub(super) fn step_macs(j: &GemmJob, (_, _, tm, tn): (u64, u64, u64, u64), ki: u64) -> u64 {
    let (num, den) = j.mp.mode.expansion();
    let tk = j.tiling.tk.min(j.mp.k - ki * j.tiling.tk);
    (tm * tn * tk * num).div_ceil(den)
}
