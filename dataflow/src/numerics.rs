//! The SAT's `int16` fixed-point arithmetic: **the** definition that the
//! functional reference (`nmsat-sim`'s `reference` module), the cycle
//! simulator's vector unit and the Verilog all implement, bit for bit.
//!
//! Everything here is integer-only and deterministic: shifts, adds,
//! multiplies, compares, a 17-entry table and a restoring divider.
//!
//! # Number formats
//!
//! A value `v` is stored as a two's-complement integer `q` with a fixed
//! number of fractional bits `f` (a power-of-two scale): `v = q / 2^f`.
//! [`Formats`] fixes `f` per tensor kind (activations, weights, gradients,
//! weight gradients); the scales never change during training, so every
//! shift below is a compile-time constant of the program.
//!
//! # The GEMM
//!
//! `C = A·B` with `i16` operands: each product `a·b` (exact, 31 bits) is
//! added into a **wrapping 48-bit** accumulator ([`ACCUMULATOR_BITS`]); the
//! result is then [`requantize`]d: an arithmetic right shift by a constant
//! with **round-half-up** (ties toward +∞) and **saturation** to `i16`.
//! Because wrapping is addition modulo `2^48`, summing in `i64` and wrapping
//! once at the end ([`wrap_acc`]) gives the same bits as wrapping after every
//! addition, which is how [`dot`] is computed.
//!
//! # Rounding rule
//!
//! [`round_shift`]`(x, s) = floor((x + 2^(s-1)) / 2^s)` for `s > 0` and `x`
//! for `s = 0`, computed exactly (the adder is wide enough never to overflow).
//!
//! # Master weights and the update
//!
//! Master weights are `i32` with [`MASTER_EXTRA_BITS`] = 12 more fractional
//! bits than the `i16` weight operand (with the default `weight_frac` = 12,
//! master weights are Q8.24: range ±128, resolution 2⁻²⁴ ≈ 6·10⁻⁸), so the
//! small `lr·dW` steps of late training do not vanish. The momentum buffer is
//! an `i32` in the same format. See [`sgd_update`].
//!
//! # Loss gradient
//!
//! [`softmax_xent_grad`] computes `softmax(z) − onehot(y)` per sample with
//! a table-plus-linear-interpolation `exp` ([`exp_neg`]) and a restoring
//! divider ([`restoring_divide`]), then requantizes to the gradient format.
//!
//! # Other vector-unit operations
//!
//! [`relu`] / [`relu_backward`]; [`add_sat`] for summing gradient
//! contributions (col2im, pooling backward); [`mean_pow2`] / [`share_pow2`]
//! for average pooling over power-of-two windows; max pooling is compares
//! only (first maximum in window order wins; its gradient goes there).
//! N:M mask selection uses `nm::select_mask` on the `i32` master weights.

use serde::{Deserialize, Serialize};

/// Width of the GEMM accumulators in bits (the SAT's `accumulator_bits`).
pub const ACCUMULATOR_BITS: u32 = 48;

/// Extra fractional bits of an `i32` master weight over the `i16` weight
/// operand: `weight = saturate_i16(round_shift(master, MASTER_EXTRA_BITS))`.
pub const MASTER_EXTRA_BITS: u32 = 12;

/// Fractional bits of probabilities inside the loss-gradient unit (Q15:
/// `1.0 = 32768`).
pub const PROB_FRAC: u32 = 15;

/// `round(2^(-i/16) · 2^15)` for `i = 0..=16`: the `exp` table of the
/// vector unit (17 entries of 16 bits, the last one for interpolation).
pub const EXP2_TABLE: [u32; 17] = [
    32768, 31379, 30048, 28774, 27554, 26386, 25268, 24196, 23170, 22188, 21247, 20347, 19484, 18658, 17867, 17109,
    16384,
];

/// `round(log2(e) · 2^14)`: converts a natural-log argument to a base-2 one.
pub const LOG2E_Q14: i64 = 23637;

/// Sign-extends the low `bits` bits of `x`: the value a `bits`-wide
/// two's-complement register holds after receiving `x` (wrapping).
pub fn wrap_acc(x: i64, bits: u32) -> i64 {
    assert!((1..=64).contains(&bits), "accumulator width {bits} outside 1..=64");
    let sh = 64 - bits;
    (x << sh) >> sh
}

/// Arithmetic right shift by `s` with round-half-up (ties toward +∞):
/// `floor((x + 2^(s-1)) / 2^s)`, and `x` itself when `s = 0`. Exact for
/// every `i64` (computed in `i128`).
pub fn round_shift(x: i64, s: u32) -> i64 {
    assert!(s < 64, "shift {s} too large");
    if s == 0 {
        return x;
    }
    ((i128::from(x) + (1i128 << (s - 1))) >> s) as i64
}

/// Clamps to the `i16` range `[-32768, 32767]`.
pub fn saturate_i16(x: i64) -> i16 {
    x.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// Clamps to the `i32` range.
pub fn saturate_i32(x: i64) -> i32 {
    x.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Turns a GEMM accumulator into an `i16` output: wrap to
/// [`ACCUMULATOR_BITS`], [`round_shift`] by `shift`, saturate to `i16`.
pub fn requantize(acc: i64, shift: u32) -> i16 {
    saturate_i16(round_shift(wrap_acc(acc, ACCUMULATOR_BITS), shift))
}

/// One multiply-accumulate into a wrapping 48-bit accumulator.
pub fn mac(acc: i64, a: i16, b: i16) -> i64 {
    wrap_acc(acc.wrapping_add(i64::from(a) * i64::from(b)), ACCUMULATOR_BITS)
}

/// Dot product of two `i16` vectors into a wrapping 48-bit accumulator
/// (identical to folding [`mac`] from 0).
pub fn dot(a: &[i16], b: &[i16]) -> i64 {
    assert_eq!(a.len(), b.len(), "dot of unequal lengths");
    let s: i64 = a.iter().zip(b).map(|(&x, &y)| i64::from(x) * i64::from(y)).sum();
    wrap_acc(s, ACCUMULATOR_BITS)
}

/// ReLU: `max(x, 0)`.
pub fn relu(x: i16) -> i16 {
    x.max(0)
}

/// ReLU's backward mask: passes `dy` where the forward *input* `x` was
/// positive, else 0 (the derivative at 0 is taken as 0).
pub fn relu_backward(x: i16, dy: i16) -> i16 {
    if x > 0 { dy } else { 0 }
}

/// Saturating `i16` addition: how the vector unit sums gradient
/// contributions (col2im of a convolution's BP, pooling backward).
pub fn add_sat(a: i16, b: i16) -> i16 {
    a.saturating_add(b)
}

/// Mean of a pooling window whose size is `2^k`: the exact sum, then
/// [`round_shift`] by `k`, saturated (a window that is not a power of two
/// is refused by the model builder).
pub fn mean_pow2(vals: &[i16]) -> i16 {
    assert!(vals.len().is_power_of_two(), "window of {} is not a power of two", vals.len());
    let s: i64 = vals.iter().map(|&x| i64::from(x)).sum();
    saturate_i16(round_shift(s, vals.len().trailing_zeros()))
}

/// Average pooling's backward: each of the `2^k` inputs of a window gets
/// `round_shift(dy, k)`.
pub fn share_pow2(dy: i16, count: usize) -> i16 {
    assert!(count.is_power_of_two(), "window of {count} is not a power of two");
    saturate_i16(round_shift(i64::from(dy), count.trailing_zeros()))
}

/// Quantizes a real number to `frac` fractional bits: round half away from
/// zero, saturate to `i16`. Used only at the edge of the datapath (input
/// features, initial weights), never inside it.
pub fn quantize_f32(v: f32, frac: u32) -> i16 {
    saturate_i16(quantize_f64_wide(f64::from(v), frac))
}

/// Quantizes a real number to an `i32` with `frac` fractional bits
/// (round half away from zero, saturated): initial master weights.
pub fn quantize_f32_i32(v: f32, frac: u32) -> i32 {
    saturate_i32(quantize_f64_wide(f64::from(v), frac))
}

fn quantize_f64_wide(v: f64, frac: u32) -> i64 {
    let scaled = (v * (1u64 << frac) as f64).round();
    if scaled.is_nan() {
        0
    } else {
        // `as` saturates at the i64 range; the callers saturate further.
        scaled as i64
    }
}

/// The real value of `q` with `frac` fractional bits (for reporting only).
pub fn dequantize(q: i64, frac: u32) -> f64 {
    q as f64 / (1u64 << frac) as f64
}

/// Fractional bits of each tensor kind of the int16 training path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Formats {
    /// Activations, inputs and logits (default 10: range ±32, step ≈ 0.001).
    pub act_frac: u32,
    /// Weight operands (default 12: range ±8). Master weights carry
    /// [`MASTER_EXTRA_BITS`] more.
    pub weight_frac: u32,
    /// Output/input gradients `dO`, `dX` (default 13: range ±4); at most
    /// [`PROB_FRAC`].
    pub grad_frac: u32,
    /// Weight gradients `dW` (default 10: range ±32).
    pub dw_frac: u32,
}

impl Default for Formats {
    fn default() -> Self {
        Self { act_frac: 10, weight_frac: 12, grad_frac: 13, dw_frac: 10 }
    }
}

impl Formats {
    /// Checks the relations the shifts below rely on; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.grad_frac > PROB_FRAC {
            return Err(format!("grad_frac {} exceeds {PROB_FRAC}", self.grad_frac));
        }
        if self.act_frac + self.grad_frac < self.dw_frac {
            return Err("dw_frac exceeds act_frac + grad_frac".into());
        }
        if self.master_frac() >= 31 || self.dw_frac > self.master_frac() {
            return Err("master format (weight_frac + 12) must be below 31 bits and hold dw_frac".into());
        }
        if self.act_frac > 15 || self.weight_frac > 15 {
            return Err("act_frac and weight_frac must be at most 15".into());
        }
        Ok(())
    }

    /// Fractional bits of master weights and momentum: `weight_frac + 12`.
    pub fn master_frac(&self) -> u32 {
        self.weight_frac + MASTER_EXTRA_BITS
    }

    /// Requantize shift of the FF GEMM `act·weight → act`: `weight_frac`.
    pub fn ff_shift(&self) -> u32 {
        self.weight_frac
    }

    /// Requantize shift of the BP GEMM `grad·weightᵀ → grad`: `weight_frac`.
    pub fn bp_shift(&self) -> u32 {
        self.weight_frac
    }

    /// Requantize shift of the WG GEMM `actᵀ·grad → dW`:
    /// `act_frac + grad_frac − dw_frac`.
    pub fn wg_shift(&self) -> u32 {
        self.act_frac + self.grad_frac - self.dw_frac
    }

    /// Left shift aligning a `dW` to the master format: `master_frac − dw_frac`.
    pub fn grad_align_shift(&self) -> u32 {
        self.master_frac() - self.dw_frac
    }
}

/// The weight operand of a master weight:
/// `saturate_i16(round_shift(master, MASTER_EXTRA_BITS))`.
pub fn weight_from_master(master: i32) -> i16 {
    saturate_i16(round_shift(i64::from(master), MASTER_EXTRA_BITS))
}

/// Power-of-two hyperparameters of [`sgd_update`]. A `None` shift disables
/// its term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SgdShifts {
    /// `dW` (dw format) to master format: `master_frac − dw_frac`, a left shift.
    pub grad_align: u32,
    /// Learning rate per summed gradient: `lr/B = 2^-lr_shift`.
    pub lr_shift: u32,
    /// Momentum `μ = 1 − 2^-momentum_shift` (3 gives 0.875, 4 gives 0.9375).
    pub momentum_shift: Option<u32>,
    /// Weight decay relative to the summed gradient: `wd·B = 2^-shift`.
    pub weight_decay_shift: Option<u32>,
    /// SR-STE's sparse-refined term on pruned weights: `λ_W·B = 2^-shift`.
    pub sr_ste_shift: Option<u32>,
}

/// One SGD-with-momentum step on one master weight `w` and its momentum `v`
/// (both `i32` in the master format), given its weight gradient `dw` (dw
/// format, the batch **sum**) and whether the FF mask pruned it (`pruned`,
/// used only by the SR-STE term):
///
/// ```text
/// g  = (dw << grad_align)
///    + round_shift(w, weight_decay_shift)              (if enabled)
///    + round_shift(w, sr_ste_shift)   if pruned        (if enabled)
/// v' = saturate_i32(v − round_shift(v, momentum_shift) + g)   (no momentum: v' = saturate_i32(g))
/// w' = saturate_i32(w − round_shift(v', lr_shift))
/// ```
///
/// all in wide integers, saturated only when written back. This is
/// PyTorch's `v = μv + g; w −= lr·v` with power-of-two `μ`, `lr`, `wd`.
pub fn sgd_update(w: i32, v: i32, dw: i16, pruned: bool, s: &SgdShifts) -> (i32, i32) {
    let w64 = i64::from(w);
    let mut g = i64::from(dw) << s.grad_align;
    if let Some(k) = s.weight_decay_shift {
        g += round_shift(w64, k);
    }
    if pruned {
        if let Some(k) = s.sr_ste_shift {
            g += round_shift(w64, k);
        }
    }
    let v64 = i64::from(v);
    let v_new = match s.momentum_shift {
        Some(k) => saturate_i32(v64 - round_shift(v64, k) + g),
        None => saturate_i32(g),
    };
    let w_new = saturate_i32(w64 - round_shift(i64::from(v_new), s.lr_shift));
    (w_new, v_new)
}

/// `2^(-u / 2^16)` in Q15 for `u ≥ 0` (a Q16 exponent): table lookup on the
/// top 4 fraction bits, linear interpolation on the low 12, then a
/// round-half-up shift by the integer part; 0 once the integer part
/// exceeds 15. Non-increasing in `u`, `2^15` at `u = 0`.
pub fn exp2_neg_q16(u: u64) -> u32 {
    let n = u >> 16;
    if n > 15 {
        return 0;
    }
    let f = u & 0xFFFF;
    let idx = (f >> 12) as usize;
    let r = (f & 0xFFF) as i64;
    let e0 = i64::from(EXP2_TABLE[idx]);
    let e1 = i64::from(EXP2_TABLE[idx + 1]);
    let y = e0 - round_shift((e0 - e1) * r, 12);
    round_shift(y, n as u32) as u32
}

/// `e^(-d / 2^frac)` in Q15 for `d ≥ 0` (a non-negative difference of two
/// values with `frac` fractional bits): `t = d·LOG2E_Q14` is turned into a
/// Q16 base-2 exponent by a round-half-up shift of `frac + 14 − 16` (or a
/// left shift when that is negative) and fed to [`exp2_neg_q16`].
pub fn exp_neg(d: u32, frac: u32) -> u32 {
    let t = i64::from(d) * LOG2E_Q14; // Q(frac + 14), < 2^47
    let q = frac + 14;
    let u = if q >= 16 { round_shift(t, q - 16) } else { t << (16 - q) };
    exp2_neg_q16(u as u64)
}

/// Unsigned restoring division `floor(num / den)` as the vector unit does it:
/// 32 steps of shift-in-a-bit, compare, subtract. `num < 2^32`, `den > 0`.
pub fn restoring_divide(num: u64, den: u64) -> u64 {
    assert!(den > 0, "division by zero");
    assert!(num < 1 << 32, "numerator exceeds 32 bits");
    let mut rem = 0u64;
    let mut q = 0u64;
    for i in (0..32).rev() {
        rem = (rem << 1) | ((num >> i) & 1);
        if rem >= den {
            rem -= den;
            q |= 1 << i;
        }
    }
    q
}

/// Softmax of one row of logits (`act_frac` fractional bits) in Q15:
/// `e_i = exp_neg(max − z_i)`, `p_i = restoring_divide(e_i << 15, Σe)`.
/// Each `p_i ≤ 2^15`, and the largest logit gets the largest probability.
pub fn softmax_q15(logits: &[i16], act_frac: u32) -> Vec<u32> {
    let Some(&mx) = logits.iter().max() else {
        return Vec::new();
    };
    let e: Vec<u32> = logits.iter().map(|&z| exp_neg((i32::from(mx) - i32::from(z)) as u32, act_frac)).collect();
    // The maximum contributes exactly 2^15, so the sum is never 0.
    let sum: u64 = e.iter().map(|&x| u64::from(x)).sum();
    e.iter().map(|&x| restoring_divide(u64::from(x) << PROB_FRAC, sum) as u32).collect()
}

/// The softmax cross-entropy gradient of one sample with respect to its
/// logits, `softmax(z) − onehot(label)`, in the gradient format:
/// `saturate_i16(round_shift(p_i − [i = label]·2^15, 15 − grad_frac))`.
/// It is the gradient of the per-sample loss; the batch's `1/B` lives in
/// the learning-rate shift.
pub fn softmax_xent_grad(logits: &[i16], label: usize, act_frac: u32, grad_frac: u32) -> Vec<i16> {
    assert!(grad_frac <= PROB_FRAC, "grad_frac above {PROB_FRAC}");
    softmax_q15(logits, act_frac)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let g = i64::from(p) - if i == label { 1 << PROB_FRAC } else { 0 };
            saturate_i16(round_shift(g, PROB_FRAC - grad_frac))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_shift_is_half_up() {
        assert_eq!(round_shift(5, 1), 3); // 2.5 → 3
        assert_eq!(round_shift(-5, 1), -2); // -2.5 → -2
        assert_eq!(round_shift(-6, 2), -1); // -1.5 → -1
        assert_eq!(round_shift(7, 0), 7);
        assert_eq!(round_shift(i64::MAX, 1), 1 << 62);
    }

    #[test]
    fn requantize_wraps_then_rounds_then_saturates() {
        assert_eq!(requantize(3 << 12, 12), 3);
        assert_eq!(requantize(1 << 40, 12), i16::MAX);
        assert_eq!(requantize(-(1 << 40), 12), i16::MIN);
        // 2^47 wraps to -2^47 in a 48-bit register.
        assert_eq!(wrap_acc(1 << 47, 48), -(1 << 47));
        assert_eq!(requantize(1 << 47, 0), i16::MIN);
        assert_eq!(requantize((1 << 48) + 5, 0), 5);
    }

    #[test]
    fn dot_equals_folded_mac() {
        let a = [i16::MAX, i16::MIN, 7, -3];
        let b = [i16::MAX, i16::MIN, -9, 11];
        let folded = a.iter().zip(&b).fold(0i64, |acc, (&x, &y)| mac(acc, x, y));
        assert_eq!(dot(&a, &b), folded);
    }

    #[test]
    fn exp_table_matches_exp2() {
        for (i, &t) in EXP2_TABLE.iter().enumerate() {
            let want = 2f64.powf(-(i as f64) / 16.0) * 32768.0;
            assert!((f64::from(t) - want).abs() <= 0.5, "entry {i}");
        }
        assert_eq!(exp_neg(0, 10), 32768);
    }

    #[test]
    fn exp_neg_is_accurate() {
        for d in (0..20_000u32).step_by(37) {
            let want = (-(f64::from(d)) / 1024.0).exp() * 32768.0;
            let got = f64::from(exp_neg(d, 10));
            assert!((got - want).abs() <= 2.0 + want * 2e-3, "d={d}: {got} vs {want}");
        }
    }

    #[test]
    fn loss_gradient_of_confident_correct_sample_is_near_zero() {
        let z = [0i16, 10 << 10, 0, 0];
        let g = softmax_xent_grad(&z, 1, 10, 13);
        assert!(g.iter().all(|&x| x.abs() <= 2), "{g:?}");
        let g = softmax_xent_grad(&z, 0, 10, 13);
        assert!(g[0] <= -(1 << 13) + 2 && g[1] >= (1 << 13) - 2, "{g:?}");
        // Equal logits: p = 1/4 each.
        let g = softmax_xent_grad(&[5, 5, 5, 5], 2, 10, 13);
        assert_eq!(g, vec![2048, 2048, -6144, 2048]);
    }

    #[test]
    fn sgd_update_follows_the_formula() {
        let s = SgdShifts {
            grad_align: 14,
            lr_shift: 8,
            momentum_shift: Some(3),
            weight_decay_shift: None,
            sr_ste_shift: Some(7),
        };
        // v' = 0 − 0 + (1 << 14) = 16384, w' = w − 64.
        assert_eq!(sgd_update(1000, 0, 1, false, &s), (1000 - 64, 16384));
        // Pruned: g gains round_shift(1000, 7) = 8.
        assert_eq!(sgd_update(1000, 0, 1, true, &s), (1000 - 64, 16392));
        // Momentum decays: v' = 800 − 100 + 0.
        assert_eq!(sgd_update(0, 800, 0, false, &s), (-3, 700));
        // Saturation instead of overflow.
        assert_eq!(sgd_update(i32::MIN, i32::MAX, i16::MAX, false, &s).0, i32::MIN);
    }

    #[test]
    fn pooling_helpers_round_half_up() {
        assert_eq!(mean_pow2(&[1, 2, 3, 4]), 3); // 2.5 → 3
        assert_eq!(mean_pow2(&[-1, -2, -3, -4]), -2); // -2.5 → -2
        assert_eq!(share_pow2(6, 4), 2); // 1.5 → 2
        assert_eq!(add_sat(i16::MAX, 1), i16::MAX);
    }

    #[test]
    fn default_formats_are_valid() {
        let f = Formats::default();
        f.validate().unwrap();
        assert_eq!((f.ff_shift(), f.bp_shift(), f.wg_shift(), f.grad_align_shift()), (12, 12, 13, 14));
        assert!(Formats { grad_frac: 16, ..f }.validate().is_err());
    }

    proptest! {
        #[test]
        fn requantize_saturates_and_is_monotone(a in -(1i64 << 46)..(1i64 << 46), b in -(1i64 << 46)..(1i64 << 46), s in 0u32..30) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(requantize(lo, s) <= requantize(hi, s));
            let r = i64::from(requantize(a, s));
            let exact = a as f64 / (1u64 << s) as f64;
            if exact > -32768.5 && exact < 32767.5 {
                prop_assert!((r as f64 - exact).abs() <= 0.5);
            }
        }

        #[test]
        fn round_shift_is_nearest(x in any::<i64>(), s in 1u32..40) {
            let r = round_shift(x, s) as f64;
            let exact = x as f64 / (1u64 << s) as f64;
            prop_assert!((r - exact).abs() <= 0.5 + exact.abs() * 1e-15);
        }

        #[test]
        fn wrapping_sum_is_associative(xs in proptest::collection::vec((any::<i16>(), any::<i16>()), 0..64)) {
            let (a, b): (Vec<i16>, Vec<i16>) = xs.into_iter().unzip();
            let stepwise = a.iter().zip(&b).fold(0i64, |acc, (&x, &y)| mac(acc, x, y));
            prop_assert_eq!(dot(&a, &b), stepwise);
            prop_assert!((-(1i64 << 47)..(1i64 << 47)).contains(&stepwise));
        }

        #[test]
        fn exp2_is_monotone(u in 0u64..(20 << 16), du in 0u64..4096) {
            prop_assert!(exp2_neg_q16(u + du) <= exp2_neg_q16(u));
            prop_assert!(exp2_neg_q16(u) <= 32768);
        }

        #[test]
        fn divider_is_floor_division(num in 0u64..(1 << 32), den in 1u64..(1 << 40)) {
            prop_assert_eq!(restoring_divide(num, den), num / den);
        }

        #[test]
        fn softmax_is_a_distribution(z in proptest::collection::vec(any::<i16>(), 1..16), frac in 6u32..14) {
            let p = softmax_q15(&z, frac);
            let sum: u64 = p.iter().map(|&x| u64::from(x)).sum();
            // Floor division loses at most one unit per entry.
            prop_assert!(sum <= 32768 && sum + z.len() as u64 >= 32768);
            let imax = (0..z.len()).max_by_key(|&i| (z[i], std::cmp::Reverse(i))).unwrap();
            prop_assert!(p.iter().all(|&x| x <= p[imax]));
            // Larger logit, no smaller probability.
            for i in 0..z.len() { for j in 0..z.len() { if z[i] > z[j] { prop_assert!(p[i] >= p[j]); } } }
        }

        #[test]
        fn loss_gradient_is_bounded_and_signed(z in proptest::collection::vec(any::<i16>(), 2..12), label in 0usize..12, g in 8u32..=15) {
            let label = label % z.len();
            let d = softmax_xent_grad(&z, label, 10, g);
            let one = 1i64 << g;
            for (i, &x) in d.iter().enumerate() {
                if i == label { prop_assert!(x <= 0 && i64::from(x) >= -one); }
                else { prop_assert!(x >= 0 && i64::from(x) <= one.min(32767)); }
            }
        }

        #[test]
        fn sgd_moves_against_the_gradient(w in -(1i32 << 28)..(1i32 << 28), dw in 1i16..i16::MAX) {
            let s = SgdShifts { grad_align: 14, lr_shift: 8, momentum_shift: Some(3), weight_decay_shift: None, sr_ste_shift: None };
            let (w1, v1) = sgd_update(w, 0, dw, false, &s);
            prop_assert!(w1 < w && v1 > 0);
            let (w2, _) = sgd_update(w, 0, -dw, false, &s);
            prop_assert!(w2 > w);
        }

        #[test]
        fn relu_and_backward(x in any::<i16>(), dy in any::<i16>()) {
            prop_assert!(relu(x) >= 0 && relu(x) >= x);
            prop_assert_eq!(relu_backward(x, dy), if x > 0 { dy } else { 0 });
        }
    }
}
