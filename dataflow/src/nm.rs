//! N:M fine-grained structured sparsity: patterns, mask selection, the
//! compressed format the SAT PE array reads, and checks.
//!
//! An N:M pattern keeps at most `N` non-zero values in every group of `M`
//! consecutive elements along the *reduction* dimension of a GEMM operand.
//! For a weight `W[K×N]` in the forward pass the groups run along `K`
//! (rows, [`GroupAxis::Rows`]); for the backward pass the operand is `Wᵀ`,
//! whose reduction runs along `C_out`, i.e. along the columns of `W`
//! ([`GroupAxis::Cols`]). BDWP selects the two masks separately.
//!
//! **Padding rule.** nmsat refuses to group a dimension that is not a
//! multiple of `M` ([`NmError::NotDivisible`]); it never pads silently. The
//! compiler keeps such layers dense and records why, as the paper's
//! practice does for the first layer and the classifier's backward pass.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::NmError;
use crate::matrix::Matrix;

/// Largest group size nmsat supports; indices then fit in [`MAX_INDEX_BITS`] bits.
pub const MAX_M: u32 = 16;

/// Bits of one in-group index of a group of `m` (`log2(m)` for the powers
/// of two a pattern allows; 0 for `m <= 1`): the width of the indices in
/// the compressed formats, the DMA's `ibits` field and the RTL's selects.
pub const fn index_bits(m: u32) -> u32 {
    if m <= 1 { 0 } else { u32::BITS - (m - 1).leading_zeros() }
}

/// Bits of an index of the largest group ([`MAX_M`]): the width of the
/// weight buffer's index side-band.
pub const MAX_INDEX_BITS: u32 = index_bits(MAX_M);

/// An N:M sparsity pattern: at most `n` non-zeros in every group of `m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NmPattern {
    n: u32,
    m: u32,
}

impl NmPattern {
    /// Builds a pattern, rejecting `n == 0`, `m == 0`, `n > m`, `m > MAX_M`
    /// and an `m` that is not a power of two (the in-group index is
    /// `log2(m)` bits wide in hardware).
    pub fn new(n: u32, m: u32) -> Result<Self, NmError> {
        let text = format!("{n}:{m}");
        if m == 0 {
            return Err(NmError::BadPattern { text, reason: "M must be at least 1".into() });
        }
        if n == 0 {
            return Err(NmError::BadPattern { text, reason: "N must be at least 1".into() });
        }
        if n > m {
            return Err(NmError::BadPattern { text, reason: "N cannot exceed M".into() });
        }
        if m > MAX_M {
            return Err(NmError::BadPattern { text, reason: format!("M above {MAX_M} is not supported") });
        }
        if !m.is_power_of_two() {
            return Err(NmError::BadPattern {
                text,
                reason: "M must be a power of two (indices are log2(M) bits)".into(),
            });
        }
        Ok(Self { n, m })
    }

    /// Kept values per group.
    pub fn n(self) -> u32 {
        self.n
    }

    /// Group size.
    pub fn m(self) -> u32 {
        self.m
    }

    /// Bits of one in-group index, `log2(M)` (0 for M = 1): [`index_bits`].
    pub fn index_bits(self) -> u32 {
        index_bits(self.m)
    }

    /// Compute speedup of the sparse PE array over dense: `M / N` as a ratio
    /// `(M, N)` so callers stay in integers.
    pub fn speedup_ratio(self) -> (u32, u32) {
        (self.m, self.n)
    }

    /// Density `N / M`.
    pub fn density(self) -> f64 {
        f64::from(self.n) / f64::from(self.m)
    }
}

impl fmt::Display for NmPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.n, self.m)
    }
}

impl FromStr for NmPattern {
    type Err = NmError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| NmError::BadPattern { text: s.to_string(), reason: reason.to_string() };
        let (a, b) = s.trim().split_once(':').ok_or_else(|| bad("expected the form N:M, e.g. 2:8"))?;
        let n: u32 = a.trim().parse().map_err(|_| bad("N is not a non-negative integer"))?;
        let m: u32 = b.trim().parse().map_err(|_| bad("M is not a non-negative integer"))?;
        NmPattern::new(n, m)
    }
}

impl Serialize for NmPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NmPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Which dimension of a matrix the N:M groups run along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupAxis {
    /// Groups of `M` consecutive rows within one column: `W[K×N]` along `K`.
    Rows,
    /// Groups of `M` consecutive columns within one row: `W[K×N]` along `N`
    /// (`C_out`), i.e. the rows of `Wᵀ`, the BP operand.
    Cols,
}

impl GroupAxis {
    /// The other axis.
    pub fn flip(self) -> Self {
        match self {
            GroupAxis::Rows => GroupAxis::Cols,
            GroupAxis::Cols => GroupAxis::Rows,
        }
    }
}

/// An element whose magnitude decides which values an N:M mask keeps.
pub trait Magnitude: Copy + Default + PartialEq {
    /// `|self|` as an `f64` (exact for `i16`/`i32`, and for `f32`).
    fn magnitude(self) -> f64;
}

impl Magnitude for f32 {
    fn magnitude(self) -> f64 {
        f64::from(self).abs()
    }
}
impl Magnitude for f64 {
    fn magnitude(self) -> f64 {
        self.abs()
    }
}
impl Magnitude for i16 {
    fn magnitude(self) -> f64 {
        f64::from(self).abs()
    }
}
impl Magnitude for i32 {
    fn magnitude(self) -> f64 {
        f64::from(self).abs()
    }
}

fn check_divisible(len: usize, p: NmPattern, axis: GroupAxis) -> Result<(), NmError> {
    if len % p.m as usize != 0 {
        return Err(NmError::NotDivisible { len, m: p.m, axis });
    }
    Ok(())
}

/// Positions of the `n` largest magnitudes among `vals`, in ascending
/// position order. Ties go to the lower position, so the choice is
/// deterministic. With fewer than `n` values, all are kept.
pub fn top_n_in_group<T: Magnitude>(vals: &[T], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..vals.len()).collect();
    // Stable sort by descending magnitude keeps lower indices first on ties.
    order.sort_by(|&a, &b| vals[b].magnitude().total_cmp(&vals[a].magnitude()));
    let mut keep: Vec<usize> = order.into_iter().take(n).collect();
    keep.sort_unstable();
    keep
}

/// Selects the N:M mask of `w` (top-N magnitude in every group of M along
/// `axis`, ties to the lower index). `true` marks a kept element.
pub fn select_mask<T: Magnitude>(w: &Matrix<T>, p: NmPattern, axis: GroupAxis) -> Result<Matrix<bool>, NmError> {
    let (outer, inner) = match axis {
        GroupAxis::Rows => (w.cols(), w.rows()),
        GroupAxis::Cols => (w.rows(), w.cols()),
    };
    check_divisible(inner, p, axis)?;
    let m = p.m as usize;
    let mut mask = Matrix::filled(w.rows(), w.cols(), false);
    let mut group = Vec::with_capacity(m);
    for o in 0..outer {
        for g in 0..inner / m {
            group.clear();
            for i in 0..m {
                group.push(at(w, axis, o, g * m + i));
            }
            for i in top_n_in_group(&group, p.n as usize) {
                let (r, c) = rc(axis, o, g * m + i);
                mask.set(r, c, true);
            }
        }
    }
    Ok(mask)
}

fn rc(axis: GroupAxis, outer: usize, inner: usize) -> (usize, usize) {
    match axis {
        GroupAxis::Rows => (inner, outer),
        GroupAxis::Cols => (outer, inner),
    }
}

fn at<T: Copy>(w: &Matrix<T>, axis: GroupAxis, outer: usize, inner: usize) -> T {
    let (r, c) = rc(axis, outer, inner);
    w.get(r, c)
}

/// Zeroes every element the mask drops.
pub fn apply_mask<T: Copy + Default>(w: &Matrix<T>, mask: &Matrix<bool>) -> Matrix<T> {
    assert_eq!((w.rows(), w.cols()), (mask.rows(), mask.cols()), "mask shape differs from matrix shape");
    let data = w.data().iter().zip(mask.data()).map(|(&v, &k)| if k { v } else { T::default() }).collect();
    Matrix::from_vec(w.rows(), w.cols(), data).expect("shape preserved")
}

/// Prunes `w` to N:M along `axis` (mask selection then masking).
pub fn prune<T: Magnitude>(w: &Matrix<T>, p: NmPattern, axis: GroupAxis) -> Result<Matrix<T>, NmError> {
    let mask = select_mask(w, p, axis)?;
    Ok(apply_mask(w, &mask))
}

/// True when every group of `M` along `axis` has at most `N` non-zeros.
/// A dimension that is not a multiple of `M` is never N:M.
pub fn is_nm<T: Magnitude>(w: &Matrix<T>, p: NmPattern, axis: GroupAxis) -> bool {
    let (outer, inner) = match axis {
        GroupAxis::Rows => (w.cols(), w.rows()),
        GroupAxis::Cols => (w.rows(), w.cols()),
    };
    if inner % p.m as usize != 0 {
        return false;
    }
    let m = p.m as usize;
    (0..outer).all(|o| {
        (0..inner / m).all(|g| (0..m).filter(|&i| at(w, axis, o, g * m + i) != T::default()).count() <= p.n as usize)
    })
}

/// A matrix in the compressed N:M format the SAT PE array reads.
///
/// The logical operand is `rows × cols` with groups along the *rows*
/// (the reduction dimension `K` of the GEMM it feeds). The compressed form
/// is `(rows·N/M) × cols`: compressed row `g·N + j` holds, for every
/// column, the `j`-th kept value of group `g` and its in-group index
/// (`0..M`, `log2(M)` bits). Kept values stay in ascending index order;
/// a group with fewer than `N` non-zeros is filled with explicit zeros at
/// the lowest unused indices, so every group has exactly `N` slots.
///
/// This is a dense `K'×cols` matrix with `K' = K·N/M`: a PE reads `lanes`
/// consecutive compressed rows per cycle exactly as it reads `lanes` dense
/// rows, and uses each index to steer its M:1 activation mux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedNm<T> {
    pattern: NmPattern,
    rows: usize,
    values: Matrix<T>,
    indices: Matrix<u8>,
}

impl<T: Magnitude> CompressedNm<T> {
    /// Compresses `w`, which must already be N:M along `axis`. With
    /// [`GroupAxis::Cols`] the result describes `wᵀ` (groups along the rows
    /// of `wᵀ`), which is how the BP operand is stored.
    pub fn compress(w: &Matrix<T>, p: NmPattern, axis: GroupAxis) -> Result<Self, NmError> {
        let src = match axis {
            GroupAxis::Rows => w.clone(),
            GroupAxis::Cols => w.transpose(),
        };
        check_divisible(src.rows(), p, axis)?;
        if !is_nm(&src, p, GroupAxis::Rows) {
            return Err(NmError::NotNm { pattern: p, axis });
        }
        let (m, n) = (p.m as usize, p.n as usize);
        let groups = src.rows() / m;
        let mut values = Matrix::filled(groups * n, src.cols(), T::default());
        let mut indices = Matrix::filled(groups * n, src.cols(), 0u8);
        for c in 0..src.cols() {
            for g in 0..groups {
                let mut nz: Vec<usize> = (0..m).filter(|&i| src.get(g * m + i, c) != T::default()).collect();
                // Fill up to N slots with explicit zeros at the lowest unused indices.
                let mut i = 0;
                while nz.len() < n {
                    if !nz.contains(&i) {
                        nz.push(i);
                    }
                    i += 1;
                }
                nz.sort_unstable();
                for (j, &i) in nz.iter().enumerate() {
                    values.set(g * n + j, c, src.get(g * m + i, c));
                    indices.set(g * n + j, c, i as u8);
                }
            }
        }
        Ok(Self { pattern: p, rows: src.rows(), values, indices })
    }

    /// Prunes `w` along `axis` and compresses the result in one step.
    pub fn prune_and_compress(w: &Matrix<T>, p: NmPattern, axis: GroupAxis) -> Result<Self, NmError> {
        let pruned = prune(w, p, axis)?;
        Self::compress(&pruned, p, axis)
    }

    /// The operand of a convolution's BP as a transposed convolution.
    ///
    /// `self` is the BP operand `Wᵀ` (`C_out × K`, groups along `C_out`,
    /// `K = taps·C_in` with taps outer). The result is `W′` (`taps·C_out ×
    /// C_in`): row block `t′` is `Wᵀ`'s column block of the flipped tap
    /// `taps − 1 − t′`, so groups still run along `C_out` within each tap and
    /// no group is re-selected. `None` when `K` is not `taps · c_in`.
    pub fn tap_blocks(&self, taps: usize, c_in: usize) -> Option<Self>
    where
        T: Copy,
    {
        if taps == 0 || c_in == 0 || self.values.cols() != taps * c_in {
            return None;
        }
        let rows = self.values.rows();
        let mut values = Vec::with_capacity(rows * taps * c_in);
        let mut indices = Vec::with_capacity(rows * taps * c_in);
        for t in 0..taps {
            let src = taps - 1 - t;
            for r in 0..rows {
                values.extend_from_slice(&self.values.row(r)[src * c_in..(src + 1) * c_in]);
                indices.extend_from_slice(&self.indices.row(r)[src * c_in..(src + 1) * c_in]);
            }
        }
        Some(Self {
            pattern: self.pattern,
            rows: taps * self.rows,
            values: Matrix::from_vec(taps * rows, c_in, values).ok()?,
            indices: Matrix::from_vec(taps * rows, c_in, indices).ok()?,
        })
    }

    /// Expands back to the dense logical operand (`rows × cols`, groups
    /// along rows; for a [`GroupAxis::Cols`] compression that is `wᵀ`).
    pub fn decompress(&self) -> Matrix<T> {
        let (m, n) = (self.pattern.m as usize, self.pattern.n as usize);
        let mut out = Matrix::filled(self.rows, self.values.cols(), T::default());
        for c in 0..self.values.cols() {
            for r in 0..self.values.rows() {
                let g = r / n;
                let i = self.indices.get(r, c) as usize;
                let v = self.values.get(r, c);
                if v != T::default() {
                    out.set(g * m + i, c, v);
                }
            }
        }
        out
    }
}

impl<T> CompressedNm<T> {
    /// The pattern.
    pub fn pattern(&self) -> NmPattern {
        self.pattern
    }

    /// Rows of the logical (uncompressed) operand, the reduction length.
    pub fn logical_rows(&self) -> usize {
        self.rows
    }

    /// Compressed values, `(rows·N/M) × cols`.
    pub fn values(&self) -> &Matrix<T> {
        &self.values
    }

    /// In-group indices, same shape as [`Self::values`], each `< M`.
    pub fn indices(&self) -> &Matrix<u8> {
        &self.indices
    }

    /// Bytes of values plus bit-packed indices, for a value of `value_bytes`.
    pub fn storage_bytes(&self, value_bytes: usize) -> usize {
        let slots = self.values.rows() * self.values.cols();
        slots * value_bytes + (slots * self.pattern.index_bits() as usize).div_ceil(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_rejects_patterns() {
        assert_eq!("2:8".parse::<NmPattern>().unwrap(), NmPattern::new(2, 8).unwrap());
        assert_eq!(" 1 : 4 ".parse::<NmPattern>().unwrap().to_string(), "1:4");
        for bad in ["0:4", "5:4", "2:0", "2:6", "2-8", "a:8", "", "2:32", "-1:4"] {
            assert!(bad.parse::<NmPattern>().is_err(), "{bad} accepted");
        }
        assert_eq!(NmPattern::new(2, 8).unwrap().index_bits(), 3);
    }

    #[test]
    fn tie_break_prefers_lower_index() {
        assert_eq!(top_n_in_group(&[1i16, -3, 3, 2], 2), vec![1, 2]);
        assert_eq!(top_n_in_group(&[5i16, 5, 5, 5], 2), vec![0, 1]);
        assert_eq!(top_n_in_group(&[0i16, 0, 0, 0, 0, 0, 0, 9], 2), vec![0, 7]);
    }

    #[test]
    fn two_axes_give_different_masks() {
        // 4x4 with a pattern whose row-wise and column-wise top-2 differ.
        let w = Matrix::from_vec(4, 4, vec![9i16, 1, 1, 1, 8, 1, 1, 1, 7, 1, 1, 1, 6, 1, 1, 2]).unwrap();
        let p = NmPattern::new(2, 4).unwrap();
        let a = select_mask(&w, p, GroupAxis::Rows).unwrap();
        let b = select_mask(&w, p, GroupAxis::Cols).unwrap();
        assert_ne!(a, b);
        assert!(is_nm(&apply_mask(&w, &a), p, GroupAxis::Rows));
        assert!(is_nm(&apply_mask(&w, &b), p, GroupAxis::Cols));
    }

    #[test]
    fn refuses_non_divisible_dimension() {
        let w = Matrix::filled(10, 4, 1i16);
        let p = NmPattern::new(2, 4).unwrap();
        assert!(matches!(select_mask(&w, p, GroupAxis::Rows), Err(NmError::NotDivisible { len: 10, .. })));
        assert!(select_mask(&w, p, GroupAxis::Cols).is_ok());
        assert!(!is_nm(&w, p, GroupAxis::Rows));
    }

    #[test]
    fn compressed_layout_is_values_then_indices_per_group() {
        let w = Matrix::from_vec(8, 1, vec![0i16, 4, 0, 0, 0, 0, -7, 0]).unwrap();
        let c = CompressedNm::compress(&w, NmPattern::new(2, 8).unwrap(), GroupAxis::Rows).unwrap();
        assert_eq!(c.values().data(), &[4, -7]);
        assert_eq!(c.indices().data(), &[1, 6]);
        // A group with a single non-zero is padded with an explicit zero.
        let w = Matrix::from_vec(4, 1, vec![0i16, 0, 3, 0]).unwrap();
        let c = CompressedNm::compress(&w, NmPattern::new(2, 4).unwrap(), GroupAxis::Rows).unwrap();
        assert_eq!(c.values().data(), &[0, 3]);
        assert_eq!(c.indices().data(), &[0, 2]);
        assert_eq!(c.decompress(), w);
        assert_eq!(c.storage_bytes(2), 2 * 2 + 1);
    }

    #[test]
    fn compress_rejects_unpruned() {
        let w = Matrix::filled(4, 2, 1i16);
        let p = NmPattern::new(2, 4).unwrap();
        assert!(matches!(CompressedNm::compress(&w, p, GroupAxis::Rows), Err(NmError::NotNm { .. })));
    }

    fn pattern() -> impl Strategy<Value = NmPattern> {
        prop_oneof![
            Just((1, 2)),
            Just((1, 4)),
            Just((2, 4)),
            Just((1, 8)),
            Just((2, 8)),
            Just((4, 8)),
            Just((3, 8)),
            Just((4, 16))
        ]
        .prop_map(|(n, m)| NmPattern::new(n, m).unwrap())
    }

    fn matrix_for(p: NmPattern) -> impl Strategy<Value = (Matrix<i16>, GroupAxis)> {
        let m = p.m() as usize;
        (1usize..4, 1usize..6, any::<bool>()).prop_flat_map(move |(groups, other, rows_axis)| {
            let axis = if rows_axis { GroupAxis::Rows } else { GroupAxis::Cols };
            let (r, c) = if rows_axis { (groups * m, other) } else { (other, groups * m) };
            // Small value range so ties are frequent.
            proptest::collection::vec(-4i16..=4, r * c).prop_map(move |d| (Matrix::from_vec(r, c, d).unwrap(), axis))
        })
    }

    proptest! {
        #[test]
        fn mask_keeps_exactly_n_largest((p, (w, axis)) in pattern().prop_flat_map(|p| (Just(p), matrix_for(p)))) {
            let mask = select_mask(&w, p, axis).unwrap();
            let m = p.m() as usize;
            let (outer, inner) = match axis { GroupAxis::Rows => (w.cols(), w.rows()), GroupAxis::Cols => (w.rows(), w.cols()) };
            for o in 0..outer {
                for g in 0..inner / m {
                    let kept: Vec<usize> = (0..m).filter(|&i| at(&mask, axis, o, g*m+i)).collect();
                    prop_assert_eq!(kept.len(), (p.n() as usize).min(m));
                    let min_kept = kept.iter().map(|&i| at(&w, axis, o, g*m+i).magnitude()).fold(f64::INFINITY, f64::min);
                    for i in 0..m {
                        if !kept.contains(&i) {
                            prop_assert!(at(&w, axis, o, g*m+i).magnitude() <= min_kept);
                        }
                    }
                }
            }
        }

        #[test]
        fn prune_is_nm_and_roundtrips((p, (w, axis)) in pattern().prop_flat_map(|p| (Just(p), matrix_for(p)))) {
            let pruned = prune(&w, p, axis).unwrap();
            prop_assert!(is_nm(&pruned, p, axis));
            let c = CompressedNm::compress(&pruned, p, axis).unwrap();
            prop_assert!(c.indices().data().iter().all(|&i| u32::from(i) < p.m()));
            let back = c.decompress();
            let expect = match axis { GroupAxis::Rows => pruned.clone(), GroupAxis::Cols => pruned.transpose() };
            prop_assert_eq!(back, expect);
            // Pruning is idempotent.
            prop_assert_eq!(prune(&pruned, p, axis).unwrap(), pruned);
        }

        #[test]
        fn any_masked_matrix_roundtrips((p, (w, axis), bits) in pattern().prop_flat_map(|p| (Just(p), matrix_for(p), any::<u64>()))) {
            // An arbitrary N:M mask (not magnitude-chosen) also round-trips.
            let m = p.m() as usize;
            let mut masked = w.clone();
            let (outer, inner) = match axis { GroupAxis::Rows => (w.cols(), w.rows()), GroupAxis::Cols => (w.rows(), w.cols()) };
            let mut k = bits;
            for o in 0..outer {
                for g in 0..inner / m {
                    let mut keep = 0;
                    for i in 0..m {
                        k = k.rotate_left(7) ^ 0x9e37_79b9_7f4a_7c15;
                        let (r, c) = rc(axis, o, g*m+i);
                        if keep < p.n() && k & 1 == 1 { keep += 1; } else { masked.set(r, c, 0); }
                    }
                }
            }
            let c = CompressedNm::compress(&masked, p, axis).unwrap();
            let expect = match axis { GroupAxis::Rows => masked.clone(), GroupAxis::Cols => masked.transpose() };
            prop_assert_eq!(c.decompress(), expect);
        }
    }
}
