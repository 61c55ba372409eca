//! Layers and networks of the functional reference: linear, conv2d (im2col),
//! ReLU, max/avg pooling, flatten; forward, backward and update through a
//! [`Backend`], with the N:M operands of each training method.
//!
//! **Layout.** Activations are NHWC ([`Tensor`]). A weight layer is the GEMM
//! `Out[M×N] = In[M×K] · W[K×N]` with `N = C_out` and `K = R·S·C_in`
//! ordered `(r, s, c)` with `c` fastest, so an N:M group along `K` is `M`
//! consecutive input channels at one kernel position (as in NVIDIA's and
//! SR-STE's conv pruning). Layers have no bias (the layer tables count
//! weights only, and the SAT GEMM has none).
//!
//! **Passes of a weight layer.** FF: `O = X · W_ff`. BP: `dX = dO · W_bpᵀ`
//! (skipped for the first layer: nothing needs the input's gradient).
//! WG: `dW = Xᵀ · dO`, always dense. The master weights stay dense; the
//! operands are re-derived from them after every update ([`WeightLayer::refresh`]).

pub use nmsat_dataflow::Method;
use nmsat_dataflow::nm::{self, GroupAxis};
use nmsat_dataflow::sparsity::{DenseReason, LayerSparsity, decide};
use nmsat_dataflow::{CompressedNm, Matrix, NmOverride, NmPattern, Pass};
use serde::Serialize;

use crate::reference::backend::{Backend, Element, GemmInfo, Operand};
use crate::reference::error::TrainError;

/// A batch shape `(n, h, w, c)`.
pub type Nhwc = (usize, usize, usize, usize);

/// A per-sample shape `(h, w, c)`.
pub type Hwc = (usize, usize, usize);

/// An NHWC batch of activations or gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor<T> {
    /// Batch.
    pub n: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Channels (features for a flat tensor).
    pub c: usize,
    /// `n·h·w·c` values, channel fastest.
    pub data: Vec<T>,
}

impl<T: Copy> Tensor<T> {
    /// Wraps `data`; panics on a length mismatch (a programming error).
    pub fn new(n: usize, h: usize, w: usize, c: usize, data: Vec<T>) -> Self {
        assert_eq!(data.len(), n * h * w * c, "tensor data length");
        Self { n, h, w, c, data }
    }

    /// Values per sample.
    pub fn sample_len(&self) -> usize {
        self.h * self.w * self.c
    }

    fn into_matrix(self, cols: usize) -> Matrix<T> {
        let rows = self.data.len() / cols;
        Matrix::from_vec(rows, cols, self.data).expect("tensor reshapes exactly")
    }
}

/// A layer of a network description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSpec {
    /// Fully connected `c_in → c_out` (the input is flattened if needed).
    Linear {
        /// Name, e.g. `fc1`.
        name: String,
        /// Input features.
        c_in: usize,
        /// Output features.
        c_out: usize,
    },
    /// 2-D convolution, no groups, zero padding.
    Conv {
        /// Name, e.g. `conv1`.
        name: String,
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
        /// Kernel height and width.
        kernel: (usize, usize),
        /// Stride (h, w).
        stride: (usize, usize),
        /// Padding (h, w).
        pad: (usize, usize),
    },
    /// ReLU.
    Relu,
    /// Max pooling, `k×k` window, no padding.
    MaxPool {
        /// Window size.
        k: usize,
        /// Stride.
        stride: usize,
    },
    /// Average pooling, `k×k` window, no padding.
    AvgPool {
        /// Window size.
        k: usize,
        /// Stride.
        stride: usize,
    },
    /// NHWC to a flat feature vector per sample.
    Flatten,
}

/// How one pass of a weight layer runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassPlan {
    /// The N:M pattern of the weight operand, `None` when dense.
    pub nm: Option<NmPattern>,
    /// Why the operand is dense although the method prunes, if it is.
    pub dense_reason: Option<String>,
    /// False when the pass is not executed (the first layer's BP).
    pub executed: bool,
}

/// Zero counts of the operands a layer actually used, over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ZeroCounts {
    /// Zeros in FF weight operands.
    pub ff_zeros: u64,
    /// Elements of FF weight operands.
    pub ff_total: u64,
    /// Zeros in BP weight operands (`Wᵀ`).
    pub bp_zeros: u64,
    /// Elements of BP weight operands.
    pub bp_total: u64,
    /// Zeros in weight gradients.
    pub dw_zeros: u64,
    /// Elements of weight gradients.
    pub dw_total: u64,
}

/// A stored weight operand: dense or N:M compressed (groups along its rows).
#[derive(Debug, Clone, PartialEq)]
pub enum StoredOperand<T> {
    /// Dense.
    Dense(Matrix<T>),
    /// N:M compressed.
    Nm(CompressedNm<T>),
}

impl<T: Element> StoredOperand<T> {
    /// Borrows it as a GEMM operand.
    pub fn as_operand(&self) -> Operand<'_, T> {
        match self {
            StoredOperand::Dense(m) => Operand::Dense(m),
            StoredOperand::Nm(c) => Operand::Nm(c),
        }
    }
}

/// Geometry of a convolution (a linear layer is a 1×1 conv on a 1×1 image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Kernel (R, S).
    pub kernel: (usize, usize),
    /// Stride (h, w).
    pub stride: (usize, usize),
    /// Padding (h, w).
    pub pad: (usize, usize),
}

/// A linear or convolutional layer with dense master weights and the
/// operands its method derives from them.
#[derive(Debug, Clone)]
pub struct WeightLayer<B: Backend> {
    /// Name from the model.
    pub name: String,
    /// Convolution geometry, `None` for a linear layer.
    pub conv: Option<ConvGeom>,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Dense master weights `W[K×N]`.
    pub master: Matrix<B::Master>,
    /// Momentum, same shape.
    pub velocity: Matrix<B::Master>,
    /// The FF plan.
    pub ff: PassPlan,
    /// The BP plan.
    pub bp: PassPlan,
    /// The FF operand `W_ff[K×N]`.
    pub ff_operand: StoredOperand<B::Act>,
    /// The BP operand `W_bpᵀ[N×K]`, `None` when BP is not executed.
    pub bp_operand: Option<StoredOperand<B::Act>>,
    /// The FF mask (`true` = kept), when FF is N:M.
    pub ff_mask: Option<Matrix<bool>>,
    /// The BP mask over `W` (`true` = kept), when BP is N:M.
    pub bp_mask: Option<Matrix<bool>>,
    /// Masks fixed by [`WeightLayer::fix_masks`] instead of chosen by magnitude.
    fixed: bool,
    /// Apply SR-STE's term to weights the FF mask prunes.
    sr_ste: bool,
    /// The last weight gradient.
    pub grad: Option<Matrix<B::Act>>,
    /// Operand statistics.
    pub zeros: ZeroCounts,
    cache: Option<(Matrix<B::Act>, Nhwc)>,
}

impl<B: Backend> WeightLayer<B> {
    /// The reduction length `K = R·S·C_in`.
    pub fn k(&self) -> usize {
        self.master.rows()
    }

    /// Re-derives the FF and BP operands (and masks) from the master
    /// weights: top-N magnitude of the **master** weights per group, along
    /// `K` for FF and along `C_out` for BP, applied to the backend's weight
    /// operand. Called after every update (the SAT's pre-generation).
    pub fn refresh(&mut self, be: &B) -> Result<(), TrainError> {
        let wq = be.weight_operand(&self.master);
        if !self.fixed {
            self.ff_mask = self.ff.nm.map(|p| nm::select_mask(&self.master, p, GroupAxis::Rows)).transpose()?;
            self.bp_mask = match (self.bp.executed, self.bp.nm) {
                (true, Some(p)) => Some(nm::select_mask(&self.master, p, GroupAxis::Cols)?),
                _ => None,
            };
        }
        self.ff_operand = match (self.ff.nm, &self.ff_mask) {
            (Some(p), Some(mask)) => {
                StoredOperand::Nm(CompressedNm::compress(&nm::apply_mask(&wq, mask), p, GroupAxis::Rows)?)
            }
            _ => StoredOperand::Dense(wq.clone()),
        };
        self.bp_operand = if !self.bp.executed {
            None
        } else {
            Some(match (self.bp.nm, &self.bp_mask) {
                (Some(p), Some(mask)) => {
                    StoredOperand::Nm(CompressedNm::compress(&nm::apply_mask(&wq, mask), p, GroupAxis::Cols)?)
                }
                _ => StoredOperand::Dense(transpose(&wq)),
            })
        };
        Ok(())
    }

    /// Replaces magnitude-chosen masks with fixed ones (for tests such as
    /// gradient checks): `ff` must be N:M along `K`, `bp` along `C_out`.
    pub fn fix_masks(
        &mut self,
        be: &B,
        p: NmPattern,
        ff: Option<Matrix<bool>>,
        bp: Option<Matrix<bool>>,
    ) -> Result<(), TrainError> {
        self.fixed = true;
        self.ff.nm = ff.as_ref().map(|_| p);
        self.bp.nm = bp.as_ref().map(|_| p);
        self.ff_mask = ff;
        self.bp_mask = bp;
        self.refresh(be)
    }

    fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        match self.conv {
            None => (1, 1),
            Some(g) => {
                ((h + 2 * g.pad.0 - g.kernel.0) / g.stride.0 + 1, (w + 2 * g.pad.1 - g.kernel.1) / g.stride.1 + 1)
            }
        }
    }

    fn forward(
        &mut self,
        be: &mut B,
        idx: usize,
        x: Tensor<B::Act>,
        train: bool,
    ) -> Result<Tensor<B::Act>, TrainError> {
        let shape = (x.n, x.h, x.w, x.c);
        let (p, q) = self.out_hw(x.h, x.w);
        let a = match self.conv {
            None => x.into_matrix(self.k()),
            Some(g) => im2col(&x, g, p, q),
        };
        let op = self.ff_operand.as_operand();
        self.zeros.ff_zeros += op.zeros() as u64;
        self.zeros.ff_total += (self.k() * self.c_out) as u64;
        let out = be.gemm(GemmInfo { layer: idx, pass: Pass::Ff }, &a, op)?;
        if train {
            self.cache = Some((a, shape));
        }
        Ok(Tensor::new(shape.0, p, q, self.c_out, out.into_vec()))
    }

    fn backward(&mut self, be: &mut B, idx: usize, dy: Tensor<B::Act>) -> Result<Option<Tensor<B::Act>>, TrainError> {
        let (a, (n, h, w, c)) = self.cache.take().expect("backward without a training forward");
        let (p, q) = (dy.h, dy.w);
        let d_out = dy.into_matrix(self.c_out);
        let dw = be.gemm(GemmInfo { layer: idx, pass: Pass::Wg }, &transpose(&a), Operand::Dense(&d_out))?;
        self.zeros.dw_zeros += dw.data().iter().filter(|v| v.is_zero()).count() as u64;
        self.zeros.dw_total += dw.data().len() as u64;
        self.grad = Some(dw);
        let Some(bp) = self.bp_operand.as_ref() else { return Ok(None) };
        let op = bp.as_operand();
        self.zeros.bp_zeros += op.zeros() as u64;
        self.zeros.bp_total += (self.k() * self.c_out) as u64;
        let info = GemmInfo { layer: idx, pass: Pass::Bp };
        Ok(Some(match self.conv {
            None => Tensor::new(n, h, w, c, be.gemm(info, &d_out, op)?.into_vec()),
            Some(g) => match transposed_gather(g, (h, w, c), (p, q), self.c_out) {
                // The transposed convolution: one accumulation over every tap and
                // output channel, requantized once (what the SAT computes).
                Some(tg) => {
                    let cols = gather(d_out.data(), &tg, n * h * w);
                    let taps = g.kernel.0 * g.kernel.1;
                    let w2 = match bp {
                        StoredOperand::Dense(m) => StoredOperand::Dense(tap_blocks_dense(m, taps, c)),
                        StoredOperand::Nm(cn) => StoredOperand::Nm(cn.tap_blocks(taps, c).expect("K = taps·C_in")),
                    };
                    Tensor::new(n, h, w, c, be.gemm(info, &cols, w2.as_operand())?.into_vec())
                }
                None => col2im(&be.gemm(info, &d_out, op)?, g, (n, h, w, c), p, q),
            },
        }))
    }

    fn update(&mut self, be: &mut B, idx: usize) -> Result<(), TrainError> {
        let dw = self.grad.take().expect("update without a gradient");
        let pruned = if self.sr_ste { self.ff_mask.as_ref().map(|m| m.map(|k| !k)) } else { None };
        be.weight_update(idx, &mut self.master, &mut self.velocity, &dw, pruned.as_ref())?;
        self.grad = Some(dw);
        self.refresh(be)
    }
}

/// The transpose, in 16×16 tiles so reads and writes stay in cache (a hot
/// path: WG needs `Xᵀ`).
fn transpose<T: Element>(a: &Matrix<T>) -> Matrix<T> {
    const TILE: usize = 16;
    let (r, c) = (a.rows(), a.cols());
    let src = a.data();
    let mut out = vec![T::default(); r * c];
    for i0 in (0..r).step_by(TILE) {
        for j0 in (0..c).step_by(TILE) {
            for i in i0..(i0 + TILE).min(r) {
                for j in j0..(j0 + TILE).min(c) {
                    out[j * r + i] = src[i * c + j];
                }
            }
        }
    }
    Matrix::from_vec(c, r, out).expect("transpose shape")
}

/// The gather of a convolution's BP as a transposed convolution over its
/// output gradient (`p × q × c_out` per sample): the kernel flipped, the
/// gradient dilated by the stride, padded by `k − 1 − pad` (plus the rows the
/// forward stride skipped), so that its output is the `h × w` input.
/// `None` for geometries the SAT does not run this way (unequal strides,
/// padding wider than the kernel), which keep the col2im formulation.
pub fn transposed_gather(
    g: ConvGeom,
    (h, w, c): (usize, usize, usize),
    (p, q): (usize, usize),
    c_out: usize,
) -> Option<nmsat_dataflow::im2col::ConvGeom> {
    if g.stride.0 != g.stride.1 {
        return None;
    }
    let f = |v: usize| u32::try_from(v).ok();
    let ff = nmsat_dataflow::im2col::ConvGeom {
        ih: f(h)?,
        iw: f(w)?,
        ic: f(c)?,
        kh: f(g.kernel.0)?,
        kw: f(g.kernel.1)?,
        cs: f(g.stride.0)?,
        pad_h: f(g.pad.0)?,
        pad_w: f(g.pad.1)?,
        dil: 1,
        opad_h: 0,
        opad_w: 0,
    };
    (ff.out_hw() == (p as u64, q as u64)).then_some(())?;
    ff.transposed(f(c_out)?)
}

/// The im2col matrix (`pixels × g.k()`) of the NHWC tensor `x` under `g`
/// (entries as [`nmsat_dataflow::im2col::ConvGeom::element`], a tap's
/// channels copied at once).
fn gather<T: Element>(x: &[T], g: &nmsat_dataflow::im2col::ConvGeom, pixels: usize) -> Matrix<T> {
    let k = g.k() as usize;
    let (p, q) = g.out_hw();
    let (p, q) = (p as usize, q as usize);
    let (ih, iw, ic) = (g.ih as usize, g.iw as usize, g.ic as usize);
    let (kh, kw, cs, dil) = (g.kh as usize, g.kw as usize, g.cs.max(1) as usize, g.dil.max(1) as usize);
    let src = |pos: usize, k: usize, pad: usize, extent: usize| -> Option<usize> {
        let y = (pos * cs + k).checked_sub(pad)?;
        (y % dil == 0 && y / dil < extent).then_some(y / dil)
    };
    let mut out = vec![T::default(); pixels * k];
    if p == 0 || q == 0 {
        return Matrix::from_vec(pixels, k, out).expect("gather shape");
    }
    for (i, row) in out.chunks_exact_mut(k.max(1)).enumerate() {
        let (b, oy, ox) = (i / (p * q), (i / q) % p, i % q);
        for ky in 0..kh {
            let Some(iy) = src(oy, ky, g.pad_h as usize, ih) else { continue };
            for kx in 0..kw {
                let Some(ix) = src(ox, kx, g.pad_w as usize, iw) else { continue };
                let from = ((b * ih + iy) * iw + ix) * ic;
                let to = (ky * kw + kx) * ic;
                row[to..to + ic].copy_from_slice(&x[from..from + ic]);
            }
        }
    }
    Matrix::from_vec(pixels, k, out).expect("gather shape")
}

/// The dense counterpart of [`CompressedNm::tap_blocks`]: `Wᵀ` (`C_out ×
/// taps·C_in`) to `W′` (`taps·C_out × C_in`), taps flipped.
fn tap_blocks_dense<T: Element>(wt: &Matrix<T>, taps: usize, c_in: usize) -> Matrix<T> {
    let rows = wt.rows();
    let mut out = Vec::with_capacity(taps * rows * c_in);
    for t in 0..taps {
        let src = taps - 1 - t;
        for r in 0..rows {
            out.extend_from_slice(&wt.row(r)[src * c_in..(src + 1) * c_in]);
        }
    }
    Matrix::from_vec(taps * rows, c_in, out).expect("tap blocks shape")
}

/// im2col of an NHWC batch: row `(n, p, q)`, column `(r·S + s)·C + c`.
fn im2col<T: Element>(x: &Tensor<T>, g: ConvGeom, p: usize, q: usize) -> Matrix<T> {
    let (r, s) = g.kernel;
    let k = r * s * x.c;
    let mut out = vec![T::default(); x.n * p * q * k];
    for n in 0..x.n {
        for oy in 0..p {
            for ox in 0..q {
                let row = ((n * p + oy) * q + ox) * k;
                for ky in 0..r {
                    let iy = (oy * g.stride.0 + ky) as isize - g.pad.0 as isize;
                    if iy < 0 || iy >= x.h as isize {
                        continue;
                    }
                    for kx in 0..s {
                        let ix = (ox * g.stride.1 + kx) as isize - g.pad.1 as isize;
                        if ix < 0 || ix >= x.w as isize {
                            continue;
                        }
                        let src = ((n * x.h + iy as usize) * x.w + ix as usize) * x.c;
                        let dst = row + (ky * s + kx) * x.c;
                        out[dst..dst + x.c].copy_from_slice(&x.data[src..src + x.c]);
                    }
                }
            }
        }
    }
    Matrix::from_vec(x.n * p * q, k, out).expect("im2col shape")
}

/// Adds the rows of `d_cols` back into an NHWC gradient (im2col's transpose).
/// Elements of padded positions are dropped. Additions are exact for `f32`
/// in a fixed order; for `int16` they saturate (the vector unit's add).
fn col2im<T: Element>(d_cols: &Matrix<T>, g: ConvGeom, (n, h, w, c): Nhwc, p: usize, q: usize) -> Tensor<T> {
    let (r, s) = g.kernel;
    let k = r * s * c;
    let mut out = vec![T::default(); n * h * w * c];
    for b in 0..n {
        for oy in 0..p {
            for ox in 0..q {
                let row = &d_cols.data()[((b * p + oy) * q + ox) * k..][..k];
                for ky in 0..r {
                    let iy = (oy * g.stride.0 + ky) as isize - g.pad.0 as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..s {
                        let ix = (ox * g.stride.1 + kx) as isize - g.pad.1 as isize;
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        let dst = ((b * h + iy as usize) * w + ix as usize) * c;
                        let src = (ky * s + kx) * c;
                        for i in 0..c {
                            out[dst + i] = out[dst + i].acc(row[src + i]);
                        }
                    }
                }
            }
        }
    }
    Tensor::new(n, h, w, c, out)
}

/// A non-weight layer with its forward cache.
#[derive(Debug, Clone)]
enum Shape {
    Relu { mask: Vec<bool> },
    MaxPool { k: usize, stride: usize, argmax: Vec<usize>, input: Nhwc },
    AvgPool { k: usize, stride: usize, input: Nhwc },
    Flatten { input: Nhwc },
}

/// One layer of a [`Network`].
#[derive(Debug, Clone)]
pub enum Layer<B: Backend> {
    /// Linear or conv.
    Weight(Box<WeightLayer<B>>),
    /// ReLU, pooling or flatten.
    Other(OtherLayer),
}

/// ReLU, pooling or flatten, with its forward cache.
#[derive(Debug, Clone)]
pub struct OtherLayer(Shape);

/// A feed-forward network of [`Layer`]s ending in logits.
#[derive(Debug, Clone)]
pub struct Network<B: Backend> {
    /// The layers in order.
    pub layers: Vec<Layer<B>>,
    /// Input (h, w, c) per sample.
    pub input: Hwc,
    /// Whether the first layer computes its input gradient (gradient checks).
    pub input_grad: bool,
}

/// How [`Network::build`] treats weights.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// The training method.
    pub method: Method,
    /// The N:M pattern of sparse methods.
    pub pattern: NmPattern,
    /// Compute the first layer's input gradient too (normally skipped).
    pub input_grad: bool,
}

impl<B: Backend> Network<B> {
    /// The weight layer `spec` (linear or conv) on an `h × w × c` input:
    /// its shapes checked, each pass's sparsity decided by the workspace's
    /// one policy, its master weights drawn from `init`.
    fn weight_layer(
        be: &B,
        spec: &LayerSpec,
        (h, w, c): Hwc,
        opts: BuildOptions,
        first: bool,
        init: &mut impl FnMut(usize) -> f32,
    ) -> Result<WeightLayer<B>, TrainError> {
        let shape_err = |msg: String| TrainError::Shape(msg);
        let (LayerSpec::Linear { name, c_in, c_out } | LayerSpec::Conv { name, c_in, c_out, .. }) = spec else {
            return Err(shape_err("not a weight layer".to_string()));
        };
        let conv = match spec {
            LayerSpec::Conv { kernel, stride, pad, .. } => {
                if *c_in != c {
                    return Err(shape_err(format!("{name}: expects {c_in} input channels, gets {c}")));
                }
                if kernel.0 > h + 2 * pad.0 || kernel.1 > w + 2 * pad.1 || stride.0 == 0 || stride.1 == 0 {
                    return Err(shape_err(format!("{name}: kernel does not fit a {h}x{w} input")));
                }
                Some(ConvGeom { kernel: *kernel, stride: *stride, pad: *pad })
            }
            _ => {
                if *c_in != h * w * c {
                    return Err(shape_err(format!(
                        "{name}: expects {c_in} inputs, gets {}x{}x{} = {}",
                        h,
                        w,
                        c,
                        h * w * c
                    )));
                }
                None
            }
        };
        let k = match conv {
            Some(g) => g.kernel.0 * g.kernel.1 * c_in,
            None => *c_in,
        };
        // The workspace's one sparsity policy (as the compiler lowers).
        let plan = |pass: Pass, reduction: usize| -> PassPlan {
            let layer = LayerSparsity { nm: NmOverride::Inherit, first };
            let d = decide(opts.method, pass, opts.pattern, layer, reduction as u64);
            PassPlan {
                nm: d.operand.map(|o| o.pattern),
                dense_reason: d.dense_reason.map(|r| r.to_string()),
                executed: true,
            }
        };
        let ff = plan(Pass::Ff, k);
        let mut bp = plan(Pass::Bp, *c_out);
        if first && !opts.input_grad {
            bp = PassPlan { nm: None, dense_reason: Some(DenseReason::NoInputGradient.to_string()), executed: false };
        }
        let data: Vec<B::Master> = (0..k * c_out).map(|_| be.master(init(k))).collect();
        let master = Matrix::from_vec(k, *c_out, data).expect("shape");
        let zero = be.master(0.0);
        let mut layer = WeightLayer {
            name: name.clone(),
            conv,
            c_in: *c_in,
            c_out: *c_out,
            velocity: Matrix::filled(k, *c_out, zero),
            master,
            ff,
            bp,
            ff_operand: StoredOperand::Dense(Matrix::default()),
            bp_operand: None,
            ff_mask: None,
            bp_mask: None,
            fixed: false,
            sr_ste: opts.method == Method::Srste,
            grad: None,
            zeros: ZeroCounts::default(),
            cache: None,
        };
        layer.refresh(be)?;
        Ok(layer)
    }

    /// Builds a network for NHWC inputs of shape `input`, drawing initial
    /// weights from `init(fan_in)` (one call per weight, row-major `K×N`,
    /// layer by layer). Checks every shape and applies the method's rules:
    /// the first weight layer is dense; a pass whose reduction (`K` for FF,
    /// `C_out` for BP) is not a multiple of `M` runs dense; each dense
    /// choice records its reason.
    pub fn build(
        be: &B,
        specs: &[LayerSpec],
        input: Hwc,
        opts: BuildOptions,
        mut init: impl FnMut(usize) -> f32,
    ) -> Result<Self, TrainError> {
        let (mut h, mut w, mut c) = input;
        let mut layers = Vec::new();
        let mut first = true;
        for spec in specs {
            let shape_err = |msg: String| TrainError::Shape(msg);
            match spec {
                LayerSpec::Linear { c_out, .. } | LayerSpec::Conv { c_out, .. } => {
                    let layer = Self::weight_layer(be, spec, (h, w, c), opts, first, &mut init)?;
                    (h, w) = layer.out_hw(h, w);
                    c = *c_out;
                    first = false;
                    layers.push(Layer::Weight(Box::new(layer)));
                }
                LayerSpec::Relu => layers.push(Layer::Other(OtherLayer(Shape::Relu { mask: Vec::new() }))),
                LayerSpec::MaxPool { k, stride } | LayerSpec::AvgPool { k, stride } => {
                    if *k == 0 || *stride == 0 || *k > h || *k > w {
                        return Err(shape_err(format!("a {k}x{k} pooling window does not fit a {h}x{w} input")));
                    }
                    let input = (0, h, w, c);
                    let avg = matches!(spec, LayerSpec::AvgPool { .. });
                    if avg && be.kind() == crate::reference::backend::NumericsKind::Int16 && !(k * k).is_power_of_two()
                    {
                        return Err(shape_err(format!(
                            "int16 average pooling needs a power-of-two window, not {k}x{k}"
                        )));
                    }
                    (h, w) = ((h - k) / stride + 1, (w - k) / stride + 1);
                    layers.push(Layer::Other(OtherLayer(if avg {
                        Shape::AvgPool { k: *k, stride: *stride, input }
                    } else {
                        Shape::MaxPool { k: *k, stride: *stride, argmax: Vec::new(), input }
                    })));
                }
                LayerSpec::Flatten => {
                    layers.push(Layer::Other(OtherLayer(Shape::Flatten { input: (0, h, w, c) })));
                    c *= h * w;
                    (h, w) = (1, 1);
                }
            }
        }
        Ok(Self { layers, input, input_grad: opts.input_grad })
    }

    /// The weight layers in order.
    pub fn weight_layers(&self) -> impl Iterator<Item = &WeightLayer<B>> {
        self.layers.iter().filter_map(|l| match l {
            Layer::Weight(w) => Some(&**w),
            Layer::Other(_) => None,
        })
    }

    /// The weight layers in order, mutably.
    pub fn weight_layers_mut(&mut self) -> impl Iterator<Item = &mut WeightLayer<B>> {
        self.layers.iter_mut().filter_map(|l| match l {
            Layer::Weight(w) => Some(&mut **w),
            Layer::Other(_) => None,
        })
    }

    /// Runs the network; with `train` it keeps what backward needs.
    pub fn forward(&mut self, be: &mut B, mut x: Tensor<B::Act>, train: bool) -> Result<Tensor<B::Act>, TrainError> {
        let mut idx = 0;
        for layer in &mut self.layers {
            x = match layer {
                Layer::Weight(wl) => {
                    idx += 1;
                    wl.forward(be, idx - 1, x, train)?
                }
                Layer::Other(o) => o.forward(be, x),
            };
        }
        Ok(x)
    }

    /// Back-propagates the logits' gradient; leaves each weight layer's
    /// gradient in [`WeightLayer::grad`]. Returns the input's gradient when
    /// the network was built with `input_grad`.
    pub fn backward(&mut self, be: &mut B, mut dy: Tensor<B::Act>) -> Result<Option<Tensor<B::Act>>, TrainError> {
        let mut idx = self.weight_layers().count();
        for layer in self.layers.iter_mut().rev() {
            dy = match layer {
                Layer::Weight(wl) => {
                    idx -= 1;
                    let Some(d) = wl.backward(be, idx, dy)? else { return Ok(None) };
                    d
                }
                Layer::Other(o) => o.backward(be, dy),
            };
        }
        Ok(Some(dy))
    }

    /// Applies every layer's weight update and re-derives its operands.
    pub fn update(&mut self, be: &mut B) -> Result<(), TrainError> {
        for (i, wl) in self.weight_layers_mut().enumerate() {
            wl.update(be, i)?;
        }
        Ok(())
    }
}

impl OtherLayer {
    fn forward<B: Backend>(&mut self, be: &B, x: Tensor<B::Act>) -> Tensor<B::Act> {
        match &mut self.0 {
            Shape::Relu { mask } => {
                let zero = B::Act::default();
                *mask = x.data.iter().map(|&v| v > zero).collect();
                let data = x.data.iter().map(|&v| if v > zero { v } else { zero }).collect();
                Tensor { data, ..x }
            }
            Shape::Flatten { input } => {
                *input = (x.n, x.h, x.w, x.c);
                let c = x.sample_len();
                Tensor { h: 1, w: 1, c, ..x }
            }
            Shape::MaxPool { k, stride, argmax, input } => {
                *input = (x.n, x.h, x.w, x.c);
                let (k, st) = (*k, *stride);
                let (p, q) = ((x.h - k) / st + 1, (x.w - k) / st + 1);
                let mut out = Vec::with_capacity(x.n * p * q * x.c);
                argmax.clear();
                for n in 0..x.n {
                    for oy in 0..p {
                        for ox in 0..q {
                            for c in 0..x.c {
                                let mut best = usize::MAX;
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let i = ((n * x.h + oy * st + ky) * x.w + ox * st + kx) * x.c + c;
                                        // First maximum in window order wins ties.
                                        if best == usize::MAX || x.data[i] > x.data[best] {
                                            best = i;
                                        }
                                    }
                                }
                                argmax.push(best);
                                out.push(x.data[best]);
                            }
                        }
                    }
                }
                Tensor::new(x.n, p, q, x.c, out)
            }
            Shape::AvgPool { k, stride, input } => {
                *input = (x.n, x.h, x.w, x.c);
                let (k, st) = (*k, *stride);
                let (p, q) = ((x.h - k) / st + 1, (x.w - k) / st + 1);
                let mut out = Vec::with_capacity(x.n * p * q * x.c);
                let mut win = Vec::with_capacity(k * k);
                for n in 0..x.n {
                    for oy in 0..p {
                        for ox in 0..q {
                            for c in 0..x.c {
                                win.clear();
                                for ky in 0..k {
                                    for kx in 0..k {
                                        win.push(x.data[((n * x.h + oy * st + ky) * x.w + ox * st + kx) * x.c + c]);
                                    }
                                }
                                out.push(be.average(&win));
                            }
                        }
                    }
                }
                Tensor::new(x.n, p, q, x.c, out)
            }
        }
    }

    fn backward<B: Backend>(&mut self, be: &B, dy: Tensor<B::Act>) -> Tensor<B::Act> {
        match &self.0 {
            Shape::Relu { mask } => {
                let data = dy.data.iter().zip(mask).map(|(&d, &m)| if m { d } else { B::Act::default() }).collect();
                Tensor { data, ..dy }
            }
            Shape::Flatten { input: (n, h, w, c) } => Tensor::new(*n, *h, *w, *c, dy.data),
            Shape::MaxPool { argmax, input: (n, h, w, c), .. } => {
                let mut out = vec![B::Act::default(); n * h * w * c];
                for (&i, &d) in argmax.iter().zip(&dy.data) {
                    out[i] = out[i].acc(d);
                }
                Tensor::new(*n, *h, *w, *c, out)
            }
            Shape::AvgPool { k, stride, input: (n, h, w, c) } => {
                let (k, st) = (*k, *stride);
                let mut out = vec![B::Act::default(); n * h * w * c];
                for b in 0..*n {
                    for oy in 0..dy.h {
                        for ox in 0..dy.w {
                            for ch in 0..*c {
                                let d = be.share(dy.data[((b * dy.h + oy) * dy.w + ox) * c + ch], k * k);
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let i = ((b * h + oy * st + ky) * w + ox * st + kx) * c + ch;
                                        out[i] = out[i].acc(d);
                                    }
                                }
                            }
                        }
                    }
                }
                Tensor::new(*n, *h, *w, *c, out)
            }
        }
    }
}

#[cfg(test)]
mod transposed_tests {
    use super::*;

    /// The transposed-convolution BP (gather of dO, taps flipped) equals the
    /// col2im formulation (dO·Wᵀ, then overlapping contributions added), in
    /// exact integer-valued f32 arithmetic, for padded and strided kernels,
    /// dense and N:M operands.
    #[test]
    fn transposed_gather_equals_col2im() {
        let cases = [
            (8, 8, 3, 1, 1, 2, 4),
            (8, 8, 3, 2, 1, 3, 8),
            (7, 5, 3, 2, 0, 2, 8),
            (6, 6, 1, 2, 0, 4, 8),
            (5, 5, 5, 1, 2, 1, 4),
        ];
        for (h, w, k, s, pad, c_in, c_out) in cases {
            let g = ConvGeom { kernel: (k, k), stride: (s, s), pad: (pad, pad) };
            let (p, q) = ((h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1);
            let n = 2;
            let kk = k * k * c_in;
            let val = |i: usize, m: usize| ((i * 7919 + m * 31) % 13) as f32 - 6.0;
            let wmat = Matrix::from_fn(kk, c_out, |i, j| val(i * c_out + j, 1));
            let d_out = Matrix::from_fn(n * p * q, c_out, |i, j| val(i * c_out + j, 2));
            let tg = transposed_gather(g, (h, w, c_in), (p, q), c_out).expect("geometry");
            let cols = gather(d_out.data(), &tg, n * h * w);
            let p28 = NmPattern::new(2, 4).unwrap();
            let dense = transpose(&wmat);
            let pruned = nm::prune(&wmat, p28, GroupAxis::Cols).unwrap();
            let cn = CompressedNm::compress(&pruned, p28, GroupAxis::Cols).unwrap();
            for (wt, w2) in [
                (dense.clone(), tap_blocks_dense(&dense, k * k, c_in)),
                (transpose(&pruned), cn.tap_blocks(k * k, c_in).unwrap().decompress()),
            ] {
                let mm = |a: &Matrix<f32>, b: &Matrix<f32>| {
                    Matrix::from_fn(a.rows(), b.cols(), |i, j| {
                        (0..a.cols()).map(|x| a.get(i, x) * b.get(x, j)).sum::<f32>()
                    })
                };
                let want = col2im(&mm(&d_out, &wt), g, (n, h, w, c_in), p, q);
                let got = mm(&cols, &w2);
                assert_eq!(got.data(), &want.data[..], "h{h} w{w} k{k} s{s} pad{pad}");
            }
        }
    }
}
