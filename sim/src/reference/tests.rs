//! Whole-module tests: the operands of a training step (FF N:M along K, BP
//! its own N:M mask along C_out, WG dense, master weights dense), gradient
//! checks against finite differences for every layer type, determinism.

use nmsat_dataflow::nm::{self, GroupAxis};
use nmsat_dataflow::{CompressedNm, Matrix, NmPattern, Pass};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::backend::{Backend, CpuF32, CpuInt16, Element, GemmInfo, Hyper, NumericsKind, Operand, softmax_f64};
use super::network::{BuildOptions, LayerSpec, Method, Network, Tensor};
use super::*;

/// A backend that records every GEMM (its operands and result) and
/// forwards to an inner backend.
struct Recorder<B: Backend> {
    inner: B,
    log: Vec<Call<B::Act>>,
}

#[derive(Debug, Clone)]
enum Rec<T> {
    Dense(Matrix<T>),
    Nm(CompressedNm<T>),
}

#[derive(Debug, Clone)]
struct Call<T> {
    info: GemmInfo,
    a: Matrix<T>,
    b: Rec<T>,
    out: Matrix<T>,
}

impl<B: Backend> Backend for Recorder<B> {
    type Act = B::Act;
    type Master = B::Master;
    fn kind(&self) -> NumericsKind {
        self.inner.kind()
    }
    fn gemm(
        &mut self,
        info: GemmInfo,
        a: &Matrix<Self::Act>,
        b: Operand<'_, Self::Act>,
    ) -> Result<Matrix<Self::Act>, TrainError> {
        let out = self.inner.gemm(info, a, b)?;
        let b = match b {
            Operand::Dense(m) => Rec::Dense(m.clone()),
            Operand::Nm(c) => Rec::Nm(c.clone()),
        };
        self.log.push(Call { info, a: a.clone(), b, out: out.clone() });
        Ok(out)
    }
    fn weight_update(
        &mut self,
        layer: usize,
        w: &mut Matrix<Self::Master>,
        v: &mut Matrix<Self::Master>,
        dw: &Matrix<Self::Act>,
        pruned: Option<&Matrix<bool>>,
    ) -> Result<(), TrainError> {
        self.inner.weight_update(layer, w, v, dw, pruned)
    }
    fn weight_operand(&self, w: &Matrix<Self::Master>) -> Matrix<Self::Act> {
        self.inner.weight_operand(w)
    }
    fn loss_grad(&mut self, logits: &Matrix<Self::Act>, labels: &[usize]) -> Result<Matrix<Self::Act>, TrainError> {
        self.inner.loss_grad(logits, labels)
    }
    fn input(&self, x: f32) -> Self::Act {
        self.inner.input(x)
    }
    fn master(&self, x: f32) -> Self::Master {
        self.inner.master(x)
    }
    fn logit_value(&self, x: Self::Act) -> f64 {
        self.inner.logit_value(x)
    }
    fn average(&self, vals: &[Self::Act]) -> Self::Act {
        self.inner.average(vals)
    }
    fn share(&self, dy: Self::Act, count: usize) -> Self::Act {
        self.inner.share(dy, count)
    }
    fn set_lr(&mut self, lr: f32) {
        self.inner.set_lr(lr)
    }
}

fn hyper() -> Hyper {
    Hyper { lr: 0.1, momentum: 0.9, weight_decay: 0.0, lambda_w: 2e-4, batch: 2 }
}

fn p24() -> NmPattern {
    NmPattern::new(2, 4).unwrap()
}

/// fc1 (first, 4→8) → ReLU → fc2 (8→8), whose weights are crafted so that
/// the top-2-of-4 masks along K and along C_out differ.
fn crafted<B: Backend>(be: &B, method: Method) -> Network<B> {
    let specs = [
        LayerSpec::Linear { name: "fc1".into(), c_in: 4, c_out: 8 },
        LayerSpec::Relu,
        LayerSpec::Linear { name: "fc2".into(), c_in: 8, c_out: 8 },
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let opts = BuildOptions { method, pattern: p24(), input_grad: false };
    let mut net = Network::build(be, &specs, (1, 1, 4), opts, |_| rng.gen_range(0.1f32..0.5)).unwrap();
    // W[k][n] = 1 + k + 8·((k + 3n) mod 8) / 10: every element distinct and
    // non-zero, and the largest two of a group of rows are not the largest
    // two of a group of columns.
    let w = Matrix::from_fn(8, 8, |k, n| 0.05 + 0.01 * (k as f32) + 0.1 * (((k + 3 * n) % 8) as f32) / 8.0);
    let fc2 = net.weight_layers_mut().nth(1).unwrap();
    fc2.master = w.map(|v| be.master(v));
    fc2.refresh(be).unwrap();
    net
}

fn one_step<B: Backend>(be: &mut B, net: &mut Network<B>) {
    let x = Tensor::new(2, 1, 1, 4, [0.5f32, 1.0, 0.25, 0.75, 1.0, 0.0, 0.5, 0.5].map(|v| be.input(v)).to_vec());
    let out = net.forward(be, x, true).unwrap();
    let logits = Matrix::from_vec(2, 8, out.data).unwrap();
    let d = be.loss_grad(&logits, &[3, 5]).unwrap();
    net.backward(be, Tensor::new(2, 1, 1, 8, d.into_vec())).unwrap();
    net.update(be).unwrap();
}

#[test]
fn bdwp_step_uses_nm_w_in_ff_separate_nm_wt_in_bp_dense_wg_and_dense_masters() {
    let mut be = Recorder { inner: CpuF32 { hyper: hyper() }, log: Vec::new() };
    let mut net = crafted(&be, Method::Bdwp);
    let w0 = net.weight_layers().nth(1).unwrap().master.clone();
    one_step(&mut be, &mut net);
    let p = p24();
    let call = |layer: usize, pass: Pass| be.log.iter().find(|c| c.info == GemmInfo { layer, pass }).cloned();

    // FF of fc2: compressed N:M along K = the top-2-of-4 of W per column.
    let Some(Call { b: Rec::Nm(ff), .. }) = call(1, Pass::Ff) else { panic!("FF of fc2 is not N:M") };
    assert_eq!(ff.pattern(), p);
    let ff_w = ff.decompress();
    assert!(nm::is_nm(&ff_w, p, GroupAxis::Rows));
    assert_eq!(ff_w, nm::prune(&w0, p, GroupAxis::Rows).unwrap());

    // BP of fc2: Wᵀ, compressed N:M along its rows (C_out), with its own mask.
    let Some(Call { b: Rec::Nm(bp), .. }) = call(1, Pass::Bp) else { panic!("BP of fc2 is not N:M") };
    let bp_wt = bp.decompress();
    assert_eq!((bp_wt.rows(), bp_wt.cols()), (8, 8));
    assert!(nm::is_nm(&bp_wt, p, GroupAxis::Rows), "Wᵀ not N:M along C_out");
    assert_eq!(bp_wt, nm::prune(&w0, p, GroupAxis::Cols).unwrap().transpose());
    let mask_t = |m: &Matrix<f32>| m.map(|v| v != 0.0);
    assert_ne!(mask_t(&bp_wt), mask_t(&ff_w.transpose()), "BP mask equals the transposed FF mask");
    // The transposed FF mask is not even N:M along C_out here.
    assert!(!nm::is_nm(&ff_w.transpose(), p, GroupAxis::Rows));

    // WG of fc2: dense operand, dense result (non-zero where FF pruned).
    let Some(Call { b: Rec::Dense(_), out: dw, .. }) = call(1, Pass::Wg) else { panic!("WG of fc2 is not dense") };
    let pruned_with_grad =
        (0..8).flat_map(|k| (0..8).map(move |n| (k, n))).filter(|&(k, n)| ff_w.get(k, n) == 0.0 && dw.get(k, n) != 0.0);
    assert!(pruned_with_grad.count() > 0, "dW is zero wherever FF pruned");

    // fc1 is the first layer: dense FF, and no BP at all.
    assert!(matches!(call(0, Pass::Ff), Some(Call { b: Rec::Dense(_), .. })));
    assert!(call(0, Pass::Bp).is_none());

    // Master weights stay dense, and the pruned ones moved too (straight-through).
    let fc2 = net.weight_layers().nth(1).unwrap();
    assert!(fc2.master.data().iter().all(|&v| v != 0.0));
    assert!(!nm::is_nm(&fc2.master, p, GroupAxis::Rows));
    for k in 0..8 {
        for n in 0..8 {
            if ff_w.get(k, n) == 0.0 && dw.get(k, n) != 0.0 {
                assert_ne!(fc2.master.get(k, n), w0.get(k, n));
            }
        }
    }
    // And the masks were re-selected from the updated master weights.
    assert_eq!(fc2.ff_mask.as_ref().unwrap(), &nm::select_mask(&fc2.master, p, GroupAxis::Rows).unwrap());
    assert_eq!(fc2.bp_mask.as_ref().unwrap(), &nm::select_mask(&fc2.master, p, GroupAxis::Cols).unwrap());
}

#[test]
fn srste_prunes_ff_only_and_dense_prunes_nothing() {
    let mut be = Recorder { inner: CpuF32 { hyper: hyper() }, log: Vec::new() };
    let mut net = crafted(&be, Method::Srste);
    let w0 = net.weight_layers().nth(1).unwrap().master.clone();
    one_step(&mut be, &mut net);
    let ff = be.log.iter().find(|c| c.info == GemmInfo { layer: 1, pass: Pass::Ff }).unwrap();
    assert!(matches!(&ff.b, Rec::Nm(c) if c.decompress() == nm::prune(&w0, p24(), GroupAxis::Rows).unwrap()));
    let bp = be.log.iter().find(|c| c.info == GemmInfo { layer: 1, pass: Pass::Bp }).unwrap();
    assert!(matches!(&bp.b, Rec::Dense(m) if *m == w0.transpose()));

    let mut be = Recorder { inner: CpuF32 { hyper: hyper() }, log: Vec::new() };
    let mut net = crafted(&be, Method::Dense);
    one_step(&mut be, &mut net);
    assert!(be.log.iter().all(|c| matches!(c.b, Rec::Dense(_))));
}

#[test]
fn int16_bdwp_step_has_the_same_structure() {
    let inner = CpuInt16::new(nmsat_dataflow::numerics::Formats::default(), &hyper()).unwrap();
    let mut be = Recorder { inner, log: Vec::new() };
    let mut net = crafted(&be, Method::Bdwp);
    let w0 = be.weight_operand(&net.weight_layers().nth(1).unwrap().master);
    one_step(&mut be, &mut net);
    let get = |pass| be.log.iter().find(|c| c.info == GemmInfo { layer: 1, pass }).unwrap();
    assert!(
        matches!(&get(Pass::Ff).b, Rec::Nm(c) if c.decompress() == nm::prune(&w0, p24(), GroupAxis::Rows).unwrap())
    );
    assert!(
        matches!(&get(Pass::Bp).b, Rec::Nm(c) if c.decompress() == nm::prune(&w0, p24(), GroupAxis::Cols).unwrap().transpose())
    );
    assert!(matches!(&get(Pass::Wg).b, Rec::Dense(_)));
    assert!(net.weight_layers().all(|l| l.master.data().iter().all(|&v| v != 0)));
}

#[test]
fn every_int16_gemm_of_a_training_step_is_requantized_48_bit_dots() {
    let formats = nmsat_dataflow::numerics::Formats::default();
    let inner = CpuInt16::new(formats, &hyper()).unwrap();
    let mut be = Recorder { inner, log: Vec::new() };
    let specs = [
        LayerSpec::Conv { name: "c1".into(), c_in: 1, c_out: 8, kernel: (3, 3), stride: (1, 1), pad: (1, 1) },
        LayerSpec::Relu,
        LayerSpec::Conv { name: "c2".into(), c_in: 8, c_out: 8, kernel: (3, 3), stride: (2, 2), pad: (1, 1) },
        LayerSpec::Relu,
        LayerSpec::Flatten,
        LayerSpec::Linear { name: "fc".into(), c_in: 8 * 2 * 2, c_out: 4 },
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let opts = BuildOptions { method: Method::Bdwp, pattern: p24(), input_grad: false };
    let mut net = Network::build(&be, &specs, (4, 4, 1), opts, |_| rng.gen_range(-0.5f32..0.5)).unwrap();
    for step in 0..3 {
        let x = Tensor::new(2, 4, 4, 1, (0..32).map(|i| be.input(((i * 7 + step) % 11) as f32 / 11.0)).collect());
        let out = net.forward(&mut be, x, true).unwrap();
        let logits = Matrix::from_vec(2, 4, out.data).unwrap();
        let d = be.loss_grad(&logits, &[1, 2]).unwrap();
        net.backward(&mut be, Tensor::new(2, 1, 1, 4, d.into_vec())).unwrap();
        net.update(&mut be).unwrap();
    }
    assert!(be.log.iter().any(|c| matches!(c.b, Rec::Nm(_))));
    for call in &be.log {
        let shift = match call.info.pass {
            Pass::Ff => formats.ff_shift(),
            Pass::Bp => formats.bp_shift(),
            _ => formats.wg_shift(),
        };
        let b = match &call.b {
            Rec::Dense(m) => m.clone(),
            Rec::Nm(c) => c.decompress(),
        };
        for i in 0..call.a.rows() {
            for j in 0..b.cols() {
                let col: Vec<i16> = (0..b.rows()).map(|k| b.get(k, j)).collect();
                let want =
                    nmsat_dataflow::numerics::requantize(nmsat_dataflow::numerics::dot(call.a.row(i), &col), shift);
                assert_eq!(call.out.get(i, j), want, "{:?} ({i},{j})", call.info);
            }
        }
    }
}

// ---------------------------------------------------------------- gradient checks

/// Σ r ⊙ f(x) in f64: the scalar whose gradient the checks compare.
fn projected(net: &mut Network<CpuF32>, be: &mut CpuF32, x: &Tensor<f32>, r: &[f32]) -> f64 {
    let out = net.forward(be, x.clone(), false).unwrap();
    out.data.iter().zip(r).map(|(&o, &w)| f64::from(o) * f64::from(w)).sum()
}

fn close(analytic: f32, numeric: f64, what: &str) {
    let a = f64::from(analytic);
    assert!((a - numeric).abs() <= 2e-3 + 1e-2 * numeric.abs(), "{what}: analytic {a} vs numeric {numeric}");
}

/// A transposable N:M mask (N:M along rows and along columns):
/// keep `(k, n)` iff `(k + n) mod M < N`.
fn transposable(k: usize, n: usize, p: NmPattern) -> Matrix<bool> {
    Matrix::from_fn(k, n, |i, j| (i + j) % p.m() as usize).map(|v| v < p.n() as usize)
}

/// Checks dX and dW of `specs` on a batch of 2 against central differences;
/// with `sparse`, every weight layer gets a fixed transposable 2:4 mask (so
/// FF and BP use compressed operands of the same masked W).
fn grad_check(specs: &[LayerSpec], input: (usize, usize, usize), sparse: bool) {
    let mut be = CpuF32 { hyper: hyper() };
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let opts = BuildOptions { method: Method::Dense, pattern: p24(), input_grad: true };
    let mut net = Network::build(&be, specs, input, opts, |_| rng.gen_range(-0.5f32..0.5)).unwrap();
    if sparse {
        for l in net.weight_layers_mut() {
            let (k, n) = (l.master.rows(), l.master.cols());
            let m = transposable(k, n, p24());
            assert!(nm::is_nm(&nm::apply_mask(&l.master, &m), p24(), GroupAxis::Cols));
            l.fix_masks(&be, p24(), Some(m.clone()), Some(m)).unwrap();
            assert!(matches!(l.ff_operand, network::StoredOperand::Nm(_)));
            assert!(matches!(l.bp_operand, Some(network::StoredOperand::Nm(_))));
        }
    }
    let (h, w, c) = input;
    let x = Tensor::new(2, h, w, c, (0..2 * h * w * c).map(|_| rng.gen_range(-1f32..1.0)).collect());
    let out = net.forward(&mut be, x.clone(), true).unwrap();
    let r: Vec<f32> = (0..out.data.len()).map(|_| rng.gen_range(-1f32..1.0)).collect();
    let dx = net.backward(&mut be, Tensor { data: r.clone(), ..out }).unwrap().expect("input gradient");
    let eps = 1e-3f32;
    for i in 0..x.data.len() {
        let mut xp = x.clone();
        xp.data[i] += eps;
        let mut xm = x.clone();
        xm.data[i] -= eps;
        let fd =
            (projected(&mut net, &mut be, &xp, &r) - projected(&mut net, &mut be, &xm, &r)) / (2.0 * f64::from(eps));
        close(dx.data[i], fd, &format!("dX[{i}]"));
    }
    let layers = net.weight_layers().count();
    for li in 0..layers {
        let (dw, mask, k, n) = {
            let l = net.weight_layers().nth(li).unwrap();
            (l.grad.clone().unwrap(), l.ff_mask.clone(), l.master.rows(), l.master.cols())
        };
        let mut pruned_grads = 0;
        for e in 0..k * n {
            let kept = mask.as_ref().is_none_or(|m| m.data()[e]);
            let at = |delta: f32, net: &mut Network<CpuF32>, be: &mut CpuF32| {
                let l = net.weight_layers_mut().nth(li).unwrap();
                l.master.data_mut()[e] += delta;
                l.refresh(be).unwrap();
                let v = projected(net, be, &x, &r);
                let l = net.weight_layers_mut().nth(li).unwrap();
                l.master.data_mut()[e] -= delta;
                l.refresh(be).unwrap();
                v
            };
            let fd = (at(eps, &mut net, &mut be) - at(-eps, &mut net, &mut be)) / (2.0 * f64::from(eps));
            if kept {
                close(dw.data()[e], fd, &format!("layer {li} dW[{e}]"));
            } else {
                // A pruned weight does not affect the output, but WG is dense:
                // it still gets the straight-through gradient.
                assert_eq!(fd, 0.0, "pruned weight {e} of layer {li} changes the output");
                pruned_grads += usize::from(dw.data()[e] != 0.0);
            }
        }
        if mask.is_some() {
            assert!(pruned_grads > 0, "layer {li}: no straight-through gradient on pruned weights");
        }
    }
}

fn conv(name: &str, c_in: usize, c_out: usize, k: usize, stride: usize, pad: usize) -> LayerSpec {
    LayerSpec::Conv { name: name.into(), c_in, c_out, kernel: (k, k), stride: (stride, stride), pad: (pad, pad) }
}

#[test]
fn grad_check_linear_relu_dense_and_sparse() {
    let specs = [
        LayerSpec::Linear { name: "a".into(), c_in: 8, c_out: 12 },
        LayerSpec::Relu,
        LayerSpec::Linear { name: "b".into(), c_in: 12, c_out: 4 },
    ];
    grad_check(&specs, (1, 1, 8), false);
    grad_check(&specs, (1, 1, 8), true);
}

#[test]
fn grad_check_conv_stride_pad_flatten_dense_and_sparse() {
    let specs = [
        conv("c1", 4, 8, 3, 1, 1),
        LayerSpec::Relu,
        conv("c2", 8, 4, 3, 2, 1),
        LayerSpec::Flatten,
        LayerSpec::Linear { name: "fc".into(), c_in: 4 * 3 * 3, c_out: 4 },
    ];
    grad_check(&specs, (5, 5, 4), false);
    grad_check(&specs, (5, 5, 4), true);
}

#[test]
fn grad_check_pooling() {
    let specs =
        [conv("c", 2, 4, 3, 1, 0), LayerSpec::MaxPool { k: 2, stride: 2 }, LayerSpec::AvgPool { k: 2, stride: 1 }];
    grad_check(&specs, (7, 7, 2), false);
    let specs = [
        LayerSpec::AvgPool { k: 3, stride: 2 },
        LayerSpec::Flatten,
        LayerSpec::Linear { name: "f".into(), c_in: 8, c_out: 4 },
    ];
    grad_check(&specs, (5, 5, 2), false);
}

#[test]
fn grad_check_softmax_cross_entropy() {
    let mut be = CpuF32 { hyper: hyper() };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let logits = Matrix::from_fn(3, 5, |_, _| rng.gen_range(-2f32..2.0));
    let labels = [1, 4, 0];
    let g = be.loss_grad(&logits, &labels).unwrap();
    let loss =
        |z: &Matrix<f32>| -> f64 { labels.iter().enumerate().map(|(r, &y)| -softmax_f64(z.row(r))[y].ln()).sum() };
    for r in 0..3 {
        for c in 0..5 {
            let mut zp = logits.clone();
            zp.set(r, c, zp.get(r, c) + 1e-3);
            let mut zm = logits.clone();
            zm.set(r, c, zm.get(r, c) - 1e-3);
            close(g.get(r, c), (loss(&zp) - loss(&zm)) / 2e-3, "dlogits");
        }
    }
}

#[test]
fn build_reports_why_passes_stay_dense() {
    let be = CpuF32 { hyper: hyper() };
    let specs = [
        LayerSpec::Linear { name: "a".into(), c_in: 8, c_out: 12 },
        LayerSpec::Relu,
        LayerSpec::Linear { name: "b".into(), c_in: 12, c_out: 10 },
    ];
    let opts = BuildOptions { method: Method::Bdwp, pattern: NmPattern::new(2, 8).unwrap(), input_grad: false };
    let net = Network::build(&be, &specs, (1, 1, 8), opts, |_| 0.1).unwrap();
    let l: Vec<_> = net.weight_layers().collect();
    assert_eq!(l[0].ff.dense_reason.as_deref(), Some("first layer: kept dense by convention (its input is the data)"));
    assert!(!l[0].bp.executed && l[0].bp_operand.is_none());
    assert_eq!(l[1].ff.dense_reason.as_deref(), Some("reduction C_in·R·S=12 is not a multiple of M=8 (2:8)"));
    assert_eq!(l[1].bp.dense_reason.as_deref(), Some("reduction C_out=10 is not a multiple of M=8 (2:8)"));
    // Shape errors are typed, not panics.
    let bad = [LayerSpec::Linear { name: "a".into(), c_in: 9, c_out: 4 }];
    assert!(matches!(Network::build(&be, &bad, (1, 1, 8), opts, |_| 0.1), Err(TrainError::Shape(_))));
    let int = CpuInt16::new(Default::default(), &hyper()).unwrap();
    let pool = [LayerSpec::AvgPool { k: 3, stride: 1 }];
    assert!(matches!(Network::build(&int, &pool, (4, 4, 1), opts, |_| 0.1), Err(TrainError::Shape(_))));
}

// ---------------------------------------------------------------- runs

fn digits() -> Dataset {
    Dataset::digits().unwrap()
}

#[test]
fn same_seed_same_report_and_other_seed_differs() {
    let d = digits();
    let mut cfg = TrainConfig { epochs: 2, ..TrainConfig::new(ModelKind::Mlp, Method::Bdwp) };
    let a = train(&d, &cfg, &mut |_| {}).unwrap();
    let b = train(&d, &cfg, &mut |_| {}).unwrap();
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    cfg.seed = 1;
    let c = train(&d, &cfg, &mut |_| {}).unwrap();
    assert_ne!(a.train_loss, c.train_loss);
    assert!(a.test_accuracy > 0.8, "{}", a.test_accuracy);
    // Sparsity as measured: fc2 both ways 2:8, fc3 FF only.
    assert_eq!(a.layers[1].ff.sparsity, Some(0.75));
    assert_eq!(a.layers[1].bp.sparsity, Some(0.75));
    assert_eq!(a.layers[2].bp.sparsity, Some(0.0));
    assert_eq!(a.layers[0].bp.sparsity, None);
    assert!(a.layers.iter().all(|l| l.master_sparsity == 0.0));
}

#[test]
fn int16_training_learns_and_is_deterministic() {
    let d = digits();
    let cfg =
        TrainConfig { epochs: 3, numerics: NumericsKind::Int16, ..TrainConfig::new(ModelKind::Mlp, Method::Bdwp) };
    let a = train(&d, &cfg, &mut |_| {}).unwrap();
    let b = train(&d, &cfg, &mut |_| {}).unwrap();
    assert_eq!(a, b);
    assert!(a.test_accuracy > 0.8, "{}", a.test_accuracy);
    assert!(a.int16.is_some());
    assert!(a.train_loss[2] < a.train_loss[0]);
}

#[test]
fn bad_configs_are_errors() {
    let d = digits();
    for cfg in [
        TrainConfig { epochs: 0, ..TrainConfig::new(ModelKind::Mlp, Method::Dense) },
        TrainConfig { batch: 0, ..TrainConfig::new(ModelKind::Mlp, Method::Dense) },
        TrainConfig { lr: f32::NAN, ..TrainConfig::new(ModelKind::Mlp, Method::Dense) },
        TrainConfig { momentum: 1.5, ..TrainConfig::new(ModelKind::Mlp, Method::Dense) },
    ] {
        assert!(matches!(train(&d, &cfg, &mut |_| {}), Err(TrainError::Config(_))), "{cfg:?}");
    }
    let iris_like = Dataset::from_csv_str("1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n2,3,1\n", "t.csv").unwrap();
    let cfg = TrainConfig::new(ModelKind::Cnn, Method::Dense);
    assert!(matches!(train(&iris_like, &cfg, &mut |_| {}), Err(TrainError::Shape(_))));
    // The MLP adapts to any feature and class count.
    let cfg = TrainConfig { epochs: 1, ..TrainConfig::new(ModelKind::Mlp, Method::Bdwp) };
    let r = train(&iris_like, &cfg, &mut |_| {}).unwrap();
    assert_eq!((r.classes, r.batch), (2, 4));
}

#[test]
fn element_zero_is_default() {
    assert!(0f32.is_zero() && 0i16.is_zero() && !1i16.is_zero());
}
