//! The arithmetic of training, behind one small trait.
//!
//! Every GEMM of a training step (FF, BP, WG) and every weight update goes
//! through [`Backend`]. [`CpuF32`] is plain `f32`; [`CpuInt16`] is the SAT's
//! int16 fixed-point arithmetic exactly as [`nmsat_dataflow::numerics`]
//! defines it, so a simulator backend that implements the same trait
//! trains bit-identically.
//!
//! A GEMM is always `C[M×N] = A[M×K] · B[K×N]` where `B` is an [`Operand`]:
//! dense, or N:M-compressed with groups along `K` (the form the PE array
//! reads). For BP the operand is `Wᵀ[C_out × K_ff]`, compressed along
//! `C_out`.

use nmsat_dataflow::nm::Magnitude;
use nmsat_dataflow::numerics::{self, Formats, SgdShifts};
use nmsat_dataflow::{CompressedNm, Matrix, Pass};
use serde::Serialize;

use crate::reference::error::TrainError;

/// An element of activations, gradients and weight operands (`f32` or `i16`).
pub trait Element: Magnitude + PartialOrd + std::fmt::Debug + Send + Sync + 'static {
    /// True for the additive identity (what N:M pruning writes).
    fn is_zero(self) -> bool {
        self == Self::default()
    }

    /// Adds two gradient contributions (col2im, pooling backward): plain
    /// addition for `f32`, saturating addition for `i16` (the vector unit's
    /// adder).
    fn acc(self, other: Self) -> Self;
}

impl Element for f32 {
    fn acc(self, other: f32) -> f32 {
        self + other
    }
}

impl Element for i16 {
    fn acc(self, other: i16) -> i16 {
        numerics::add_sat(self, other)
    }
}

/// The right-hand operand of a GEMM: `K×N` dense, or N:M compressed along `K`.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'a, T> {
    /// A dense `K×N` matrix.
    Dense(&'a Matrix<T>),
    /// An N:M operand: `K×N` logically, stored as values + in-group indices.
    Nm(&'a CompressedNm<T>),
}

impl<T: Element> Operand<'_, T> {
    /// `(K, N)` of the logical operand.
    pub fn logical_shape(&self) -> (usize, usize) {
        match self {
            Operand::Dense(m) => (m.rows(), m.cols()),
            Operand::Nm(c) => (c.logical_rows(), c.values().cols()),
        }
    }

    /// The logical operand as a dense matrix (zeros where pruned).
    pub fn to_dense(&self) -> Matrix<T> {
        match self {
            Operand::Dense(m) => (*m).clone(),
            Operand::Nm(c) => c.decompress(),
        }
    }

    /// Zero elements of the logical operand.
    pub fn zeros(&self) -> usize {
        let (k, n) = self.logical_shape();
        match self {
            Operand::Dense(m) => m.data().iter().filter(|v| v.is_zero()).count(),
            Operand::Nm(c) => k * n - c.values().data().iter().filter(|v| !v.is_zero()).count(),
        }
    }
}

/// What a GEMM is, for backends that record or schedule it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmInfo {
    /// Index of the weight layer in the network (0 = first).
    pub layer: usize,
    /// FF, BP or WG.
    pub pass: Pass,
}

/// Which numeric path a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NumericsKind {
    /// IEEE `f32` everywhere.
    F32,
    /// The SAT's int16 fixed point ([`nmsat_dataflow::numerics`]).
    Int16,
}

/// The arithmetic of a training step. Implemented by [`CpuF32`] and
/// [`CpuInt16`]; a simulator implements it to train on the simulated SAT.
///
/// Conventions: `loss_grad` returns the gradient of the **sum** of the
/// per-sample losses (`softmax − onehot`); `weight_update` divides by the
/// batch (`f32`) or has it folded into its learning-rate shift (`int16`).
pub trait Backend {
    /// Activation, gradient and weight-operand element.
    type Act: Element;
    /// Master-weight (and momentum) element.
    type Master: Magnitude + std::fmt::Debug;

    /// Which numeric path this is.
    fn kind(&self) -> NumericsKind;

    /// `a[M×K] · b[K×N]`, requantized to `Act` as the pass demands.
    /// Fails ([`TrainError::Backend`]) when the backend cannot run the kernel.
    fn gemm(
        &mut self,
        info: GemmInfo,
        a: &Matrix<Self::Act>,
        b: Operand<'_, Self::Act>,
    ) -> Result<Matrix<Self::Act>, TrainError>;

    /// One optimizer step of one layer's dense master weights `w` and their
    /// momentum `v` from the layer's weight gradient `dw` (batch sum).
    /// `pruned` marks weights the FF mask dropped (SR-STE's term applies
    /// to them only); `None` for methods without that term.
    fn weight_update(
        &mut self,
        layer: usize,
        w: &mut Matrix<Self::Master>,
        v: &mut Matrix<Self::Master>,
        dw: &Matrix<Self::Act>,
        pruned: Option<&Matrix<bool>>,
    ) -> Result<(), TrainError>;

    /// The GEMM weight operand derived from master weights (dense).
    fn weight_operand(&self, w: &Matrix<Self::Master>) -> Matrix<Self::Act>;

    /// `softmax(logits) − onehot(labels)` per row.
    fn loss_grad(&mut self, logits: &Matrix<Self::Act>, labels: &[usize]) -> Result<Matrix<Self::Act>, TrainError>;

    /// An input feature as an activation.
    fn input(&self, x: f32) -> Self::Act;

    /// An initial master weight from its real value.
    fn master(&self, x: f32) -> Self::Master;

    /// The real value of a logit (for the reported loss only).
    fn logit_value(&self, x: Self::Act) -> f64;

    /// The mean of a pooling window (for `int16`, `vals.len()` is a power of two).
    fn average(&self, vals: &[Self::Act]) -> Self::Act;

    /// The share of a gradient each of `count` averaged inputs receives.
    fn share(&self, dy: Self::Act, count: usize) -> Self::Act;

    /// Sets the learning rate for the following updates (the schedule).
    fn set_lr(&mut self, lr: f32);
}

/// Optimizer hyperparameters, shared by both numeric paths.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hyper {
    /// Learning rate.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// SR-STE's λ_W (only used when the caller passes `pruned` masks).
    pub lambda_w: f32,
    /// Samples per step.
    pub batch: usize,
}

/// `f32` CPU arithmetic: PyTorch-style SGD (`g = dW/B + wd·w [+ λ_W·w on
/// pruned]`, `v = μv + g`, `w −= lr·v`).
#[derive(Debug, Clone)]
pub struct CpuF32 {
    /// Hyperparameters.
    pub hyper: Hyper,
}

impl Backend for CpuF32 {
    type Act = f32;
    type Master = f32;

    fn kind(&self) -> NumericsKind {
        NumericsKind::F32
    }

    fn gemm(&mut self, _info: GemmInfo, a: &Matrix<f32>, b: Operand<'_, f32>) -> Result<Matrix<f32>, TrainError> {
        let n = b.logical_shape().1;
        let mut out = Matrix::filled(a.rows(), n, 0f32);
        match b {
            Operand::Dense(b) => gemm_dense(a, b, out.data_mut(), |acc: &mut f32, x, y| *acc += x * y),
            Operand::Nm(c) => gemm_nm(a, c, out.data_mut(), |acc: &mut f32, x, y| *acc += x * y),
        }
        Ok(out)
    }

    fn weight_update(
        &mut self,
        _layer: usize,
        w: &mut Matrix<f32>,
        v: &mut Matrix<f32>,
        dw: &Matrix<f32>,
        pruned: Option<&Matrix<bool>>,
    ) -> Result<(), TrainError> {
        let h = self.hyper;
        let inv_b = 1.0 / h.batch as f32;
        for i in 0..w.data().len() {
            let wi = w.data()[i];
            let mut g = dw.data()[i] * inv_b + h.weight_decay * wi;
            if let Some(p) = pruned {
                if p.data()[i] {
                    g += h.lambda_w * wi;
                }
            }
            let vi = h.momentum * v.data()[i] + g;
            v.data_mut()[i] = vi;
            w.data_mut()[i] = wi - h.lr * vi;
        }
        Ok(())
    }

    fn weight_operand(&self, w: &Matrix<f32>) -> Matrix<f32> {
        w.clone()
    }

    fn loss_grad(&mut self, logits: &Matrix<f32>, labels: &[usize]) -> Result<Matrix<f32>, TrainError> {
        let mut out = Matrix::filled(logits.rows(), logits.cols(), 0f32);
        for (r, &label) in labels.iter().enumerate() {
            let p = softmax_f64(logits.row(r));
            for (c, &pc) in p.iter().enumerate() {
                out.set(r, c, (pc - if c == label { 1.0 } else { 0.0 }) as f32);
            }
        }
        Ok(out)
    }

    fn input(&self, x: f32) -> f32 {
        x
    }

    fn master(&self, x: f32) -> f32 {
        x
    }

    fn logit_value(&self, x: f32) -> f64 {
        f64::from(x)
    }

    fn average(&self, vals: &[f32]) -> f32 {
        vals.iter().sum::<f32>() / vals.len() as f32
    }

    fn share(&self, dy: f32, count: usize) -> f32 {
        dy / count as f32
    }

    fn set_lr(&mut self, lr: f32) {
        self.hyper.lr = lr;
    }
}

/// Softmax in `f64` (max-subtracted), for the `f32` path and reported losses.
pub fn softmax_f64<T: Copy + Into<f64>>(row: &[T]) -> Vec<f64> {
    let v: Vec<f64> = row.iter().map(|&x| x.into()).collect();
    let mx = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = v.iter().map(|&x| (x - mx).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

/// The SAT's int16 arithmetic on the CPU: GEMMs with `i16` operands and
/// wrapping 48-bit accumulators, requantized by the pass's shift
/// ([`Formats::ff_shift`], [`Formats::bp_shift`], [`Formats::wg_shift`]);
/// `i32` master weights updated by [`numerics::sgd_update`]; the loss
/// gradient of [`numerics::softmax_xent_grad`].
#[derive(Debug, Clone)]
pub struct CpuInt16 {
    /// Fixed-point formats.
    pub formats: Formats,
    /// The update's shifts.
    pub shifts: SgdShifts,
    /// Samples per step (for [`Backend::set_lr`]).
    pub batch: usize,
}

impl CpuInt16 {
    /// Derives the power-of-two hyperparameters from real ones (see
    /// [`sgd_shifts`]).
    pub fn new(formats: Formats, hyper: &Hyper) -> Result<Self, String> {
        formats.validate()?;
        Ok(Self { formats, shifts: sgd_shifts(&formats, hyper)?, batch: hyper.batch })
    }

    /// Requantize shift of a pass.
    pub fn shift(&self, pass: Pass) -> u32 {
        match pass {
            Pass::Ff => self.formats.ff_shift(),
            Pass::Bp => self.formats.bp_shift(),
            Pass::Wg | Pass::Wu => self.formats.wg_shift(),
        }
    }
}

/// `round(log2(x))` as a shift for `2^-shift ≈ x`, `None` when `x` is 0.
fn shift_for(x: f64, what: &str) -> Result<Option<u32>, String> {
    if x == 0.0 {
        return Ok(None);
    }
    if !(x.is_finite() && x > 0.0) {
        return Err(format!("{what} must be a positive number, got {x}"));
    }
    let s = -x.log2().round();
    if !(0.0..=30.0).contains(&s) {
        return Err(format!("{what} {x} is outside the int16 path's range 2^-30..1"));
    }
    Ok(Some(s as u32))
}

/// The power-of-two hyperparameters of the int16 path, each the nearest
/// power of two in the log domain: `lr/B = 2^-lr_shift`,
/// `μ = 1 − 2^-momentum_shift` (0.9 → 0.875), `wd·B = 2^-shift`,
/// `λ_W·B = 2^-shift` (the gradient is the batch sum, hence the `B`).
pub fn sgd_shifts(formats: &Formats, h: &Hyper) -> Result<SgdShifts, String> {
    let b = h.batch as f64;
    let lr_shift = shift_for(f64::from(h.lr) / b, "lr/batch")?.ok_or("lr must be positive")?;
    if !(0.0..1.0).contains(&h.momentum) {
        return Err(format!("momentum must be in [0, 1), got {}", h.momentum));
    }
    let momentum_shift = shift_for(1.0 - f64::from(h.momentum), "1 - momentum")?.filter(|&s| s > 0);
    Ok(SgdShifts {
        grad_align: formats.grad_align_shift(),
        lr_shift,
        momentum_shift,
        weight_decay_shift: shift_for(f64::from(h.weight_decay) * b, "weight_decay·batch")?,
        sr_ste_shift: shift_for(f64::from(h.lambda_w) * b, "lambda_w·batch")?,
    })
}

impl Backend for CpuInt16 {
    type Act = i16;
    type Master = i32;

    fn kind(&self) -> NumericsKind {
        NumericsKind::Int16
    }

    fn gemm(&mut self, info: GemmInfo, a: &Matrix<i16>, b: Operand<'_, i16>) -> Result<Matrix<i16>, TrainError> {
        let n = b.logical_shape().1;
        let mut acc = vec![0i64; a.rows() * n];
        let mac = |acc: &mut i64, x: i16, y: i16| *acc += i64::from(i32::from(x) * i32::from(y));
        match b {
            Operand::Dense(b) => gemm_dense(a, b, &mut acc, mac),
            Operand::Nm(c) => gemm_nm(a, c, &mut acc, mac),
        }
        let shift = self.shift(info.pass);
        // Summing in i64 then wrapping once equals wrapping every addition.
        let data = acc.into_iter().map(|x| numerics::requantize(x, shift)).collect();
        Ok(Matrix::from_vec(a.rows(), n, data).expect("shape"))
    }

    fn weight_update(
        &mut self,
        _layer: usize,
        w: &mut Matrix<i32>,
        v: &mut Matrix<i32>,
        dw: &Matrix<i16>,
        pruned: Option<&Matrix<bool>>,
    ) -> Result<(), TrainError> {
        let mut shifts = self.shifts;
        if pruned.is_none() {
            shifts.sr_ste_shift = None;
        }
        for i in 0..w.data().len() {
            let p = pruned.is_some_and(|m| m.data()[i]);
            let (nw, nv) = numerics::sgd_update(w.data()[i], v.data()[i], dw.data()[i], p, &shifts);
            w.data_mut()[i] = nw;
            v.data_mut()[i] = nv;
        }
        Ok(())
    }

    fn weight_operand(&self, w: &Matrix<i32>) -> Matrix<i16> {
        w.map(numerics::weight_from_master)
    }

    fn loss_grad(&mut self, logits: &Matrix<i16>, labels: &[usize]) -> Result<Matrix<i16>, TrainError> {
        let mut data = Vec::with_capacity(logits.rows() * logits.cols());
        for (r, &label) in labels.iter().enumerate() {
            data.extend(numerics::softmax_xent_grad(
                logits.row(r),
                label,
                self.formats.act_frac,
                self.formats.grad_frac,
            ));
        }
        Ok(Matrix::from_vec(logits.rows(), logits.cols(), data).expect("shape"))
    }

    fn input(&self, x: f32) -> i16 {
        numerics::quantize_f32(x, self.formats.act_frac)
    }

    fn master(&self, x: f32) -> i32 {
        numerics::quantize_f32_i32(x, self.formats.master_frac())
    }

    fn logit_value(&self, x: i16) -> f64 {
        numerics::dequantize(i64::from(x), self.formats.act_frac)
    }

    fn average(&self, vals: &[i16]) -> i16 {
        numerics::mean_pow2(vals)
    }

    fn share(&self, dy: i16, count: usize) -> i16 {
        numerics::share_pow2(dy, count)
    }

    /// `lr_shift = round(log2(B / lr))`, clamped to `0..=30`.
    fn set_lr(&mut self, lr: f32) {
        let s = (self.batch as f64 / f64::from(lr)).log2().round();
        self.shifts.lr_shift = if s.is_nan() { 30 } else { s.clamp(0.0, 30.0) as u32 };
    }
}

/// Dense kernel: `acc[i, :] += a[i, k] · b[k, :]`, skipping zero `a[i, k]`
/// (a pure speed-up: the products would be 0).
fn gemm_dense<T: Element, A: Copy>(a: &Matrix<T>, b: &Matrix<T>, acc: &mut [A], mac: impl Fn(&mut A, T, T)) {
    assert_eq!(a.cols(), b.rows(), "GEMM inner dimensions differ");
    let n = b.cols();
    for i in 0..a.rows() {
        let out = &mut acc[i * n..(i + 1) * n];
        for (k, &x) in a.row(i).iter().enumerate() {
            if x.is_zero() {
                continue;
            }
            for (o, &y) in out.iter_mut().zip(b.row(k)) {
                mac(o, x, y);
            }
        }
    }
}

/// N:M kernel: compressed row `g·N + j` holds, per column, the `j`-th kept
/// value of group `g` and its index; it multiplies `a[i, g·M + index]`.
fn gemm_nm<T: Element, A: Copy>(a: &Matrix<T>, c: &CompressedNm<T>, acc: &mut [A], mac: impl Fn(&mut A, T, T)) {
    assert_eq!(a.cols(), c.logical_rows(), "GEMM inner dimensions differ");
    let (m, nn) = (c.pattern().m() as usize, c.pattern().n() as usize);
    let vals = c.values();
    let idx = c.indices();
    let n = vals.cols();
    for i in 0..a.rows() {
        let arow = a.row(i);
        let out = &mut acc[i * n..(i + 1) * n];
        for r in 0..vals.rows() {
            let base = (r / nn) * m;
            let group = &arow[base..base + m];
            for ((o, &y), &j) in out.iter_mut().zip(vals.row(r)).zip(idx.row(r)) {
                mac(o, group[j as usize], y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmsat_dataflow::{GroupAxis, NmPattern};
    use proptest::prelude::*;

    fn hyper() -> Hyper {
        Hyper { lr: 0.1, momentum: 0.9, weight_decay: 5e-4, lambda_w: 2e-4, batch: 32 }
    }

    #[test]
    fn shifts_are_nearest_powers_of_two() {
        let s = sgd_shifts(&Formats::default(), &hyper()).unwrap();
        // lr/B = 0.003125 ≈ 2^-8; 1-μ = 0.1 ≈ 2^-3; wd·B = 0.016 ≈ 2^-6; λ·B = 0.0064 ≈ 2^-7.
        assert_eq!(
            (s.lr_shift, s.momentum_shift, s.weight_decay_shift, s.sr_ste_shift),
            (8, Some(3), Some(6), Some(7))
        );
        assert!(sgd_shifts(&Formats::default(), &Hyper { lr: -1.0, ..hyper() }).is_err());
        assert!(sgd_shifts(&Formats::default(), &Hyper { momentum: 1.0, ..hyper() }).is_err());
        let none = sgd_shifts(&Formats::default(), &Hyper { momentum: 0.0, weight_decay: 0.0, ..hyper() }).unwrap();
        assert_eq!((none.momentum_shift, none.weight_decay_shift), (None, None));
    }

    fn mat(r: usize, c: usize, v: Vec<i16>) -> Matrix<i16> {
        Matrix::from_vec(r, c, v).unwrap()
    }

    proptest! {
        #[test]
        fn nm_kernel_equals_dense_kernel(a in proptest::collection::vec(-300i16..300, 3 * 16), b in proptest::collection::vec(-300i16..300, 16 * 5)) {
            let a = mat(3, 16, a);
            let p = NmPattern::new(2, 8).unwrap();
            let w = nmsat_dataflow::nm::prune(&mat(16, 5, b), p, GroupAxis::Rows).unwrap();
            let c = CompressedNm::compress(&w, p, GroupAxis::Rows).unwrap();
            let mut be = CpuInt16::new(Formats::default(), &hyper()).unwrap();
            let info = GemmInfo { layer: 0, pass: Pass::Ff };
            prop_assert_eq!(be.gemm(info, &a, Operand::Nm(&c)).unwrap(), be.gemm(info, &a, Operand::Dense(&w)).unwrap());
            // And the int16 GEMM is requantize(dot) element by element.
            let d = be.gemm(info, &a, Operand::Dense(&w)).unwrap();
            for i in 0..3 { for j in 0..5 {
                let col: Vec<i16> = (0..16).map(|k| w.get(k, j)).collect();
                prop_assert_eq!(d.get(i, j), numerics::requantize(numerics::dot(a.row(i), &col), 12));
            }}
            let af = a.map(f32::from);
            let wf = w.map(f32::from);
            let cf = CompressedNm::compress(&wf, p, GroupAxis::Rows).unwrap();
            let mut f = CpuF32 { hyper: hyper() };
            prop_assert_eq!(f.gemm(info, &af, Operand::Nm(&cf)).unwrap(), f.gemm(info, &af, Operand::Dense(&wf)).unwrap());
        }
    }

    #[test]
    fn operand_counts_zeros() {
        let p = NmPattern::new(1, 4).unwrap();
        let w = mat(4, 2, vec![1, 0, 2, 3, 0, 0, 0, 4]);
        let pruned = nmsat_dataflow::nm::prune(&w, p, GroupAxis::Rows).unwrap();
        let c = CompressedNm::compress(&pruned, p, GroupAxis::Rows).unwrap();
        assert_eq!(Operand::Nm(&c).zeros(), 6);
        assert_eq!(Operand::Dense(&w).zeros(), 4);
        assert_eq!(Operand::Nm(&c).to_dense(), pruned);
    }

    #[test]
    fn f32_update_is_sgd_with_momentum() {
        let mut be = CpuF32 { hyper: Hyper { lr: 0.5, momentum: 0.5, weight_decay: 0.0, lambda_w: 1.0, batch: 2 } };
        let mut w = Matrix::from_vec(1, 2, vec![1.0f32, 1.0]).unwrap();
        let mut v = Matrix::from_vec(1, 2, vec![2.0f32, 0.0]).unwrap();
        let dw = Matrix::from_vec(1, 2, vec![4.0f32, 4.0]).unwrap();
        let pruned = Matrix::from_vec(1, 2, vec![false, true]).unwrap();
        be.weight_update(0, &mut w, &mut v, &dw, Some(&pruned)).unwrap();
        // v = 0.5·2 + 4/2 = 3 → w = 1 − 1.5; pruned: v = 0 + 2 + 1·1 = 3 → w = −0.5.
        assert_eq!(v.data(), &[3.0, 3.0]);
        assert_eq!(w.data(), &[-0.5, -0.5]);
    }
}
