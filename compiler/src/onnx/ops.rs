//! The operators that become IR layers: convolutions, fully connected
//! layers, attention matmuls, pools, residual adds and vector-unit operators.

use crate::error::{CompileError, Location};
use crate::model::{AttnOp, AttnSpec, ConvSpec, Input, LayerKind, LinearSpec, PoolOp, PoolSpec, Shape, VectorOp};

use super::Importer;
use super::proto::NodeProto;
use super::values::{Act, Attrs, Fail, OpResult, Val, broadcast, ir_shape, product, sizes};

/// Union of activation sources, in first-seen order.
pub(crate) fn union(a: &[Input], b: &[Input]) -> Vec<Input> {
    let mut v = a.to_vec();
    for x in b {
        if !v.contains(x) {
            v.push(*x);
        }
    }
    v
}

/// Spatial window geometry shared by Conv and the pools.
struct Window {
    kernel: (u64, u64),
    stride: (u64, u64),
    /// Begin and end padding per axis: `(top, left, bottom, right)`.
    pads: (u64, u64, u64, u64),
    dilation: (u64, u64),
}

impl Window {
    /// Reads `strides`, `pads`, `dilations` and `auto_pad` for a 2-D window of `kernel` on an `h×w` input.
    fn read(n: &NodeProto, kernel: (u64, u64), (h, w): (u64, u64)) -> OpResult<Window> {
        let a = Attrs(n);
        let pair = |name: &str| -> OpResult<(u64, u64)> {
            match a.ints(name) {
                None => Ok((1, 1)),
                Some(v) if v.len() == 2 => {
                    let s = sizes(&v, name)?;
                    if s.contains(&0) {
                        return Err(Fail::Unsupported(format!("{name} of 0")));
                    }
                    Ok((s[0], s[1]))
                }
                Some(v) => Err(Fail::Unsupported(format!("{name} {v:?}: only 2-D windows are supported"))),
            }
        };
        let stride = pair("strides")?;
        let dilation = pair("dilations")?;
        let span = |k: u64, d: u64| k.saturating_sub(1).saturating_mul(d).saturating_add(1);
        let eff = (span(kernel.0, dilation.0), span(kernel.1, dilation.1));
        let auto = a.string("auto_pad", "NOTSET");
        let pads = match auto.as_str() {
            "NOTSET" => match a.ints("pads") {
                None => (0, 0, 0, 0),
                Some(v) if v.len() == 4 => {
                    let p = sizes(&v, "pads")?;
                    (p[0], p[1], p[2], p[3])
                }
                Some(v) => return Err(Fail::Unsupported(format!("pads {v:?}: only 2-D windows are supported"))),
            },
            "VALID" => (0, 0, 0, 0),
            "SAME_UPPER" | "SAME_LOWER" => {
                let total = |i: u64, s: u64, k: u64| {
                    i.div_ceil(s).saturating_sub(1).saturating_mul(s).saturating_add(k).saturating_sub(i)
                };
                let (th, tw) = (total(h, stride.0, eff.0), total(w, stride.1, eff.1));
                if auto == "SAME_UPPER" {
                    (th / 2, tw / 2, th - th / 2, tw - tw / 2)
                } else {
                    (th - th / 2, tw - tw / 2, th / 2, tw / 2)
                }
            }
            other => return Err(Fail::Unsupported(format!("auto_pad `{other}`"))),
        };
        Ok(Window { kernel, stride, pads, dilation })
    }

    /// Output size, `None` when the window does not fit.
    fn out(&self, (h, w): (u64, u64), ceil: bool) -> Option<(u64, u64)> {
        let one = |i: u64, k: u64, d: u64, s: u64, p0: u64, p1: u64| {
            let eff = k.checked_sub(1)?.checked_mul(d)?.checked_add(1)?;
            let padded = i.checked_add(p0)?.checked_add(p1)?;
            let span = padded.checked_sub(eff)?;
            (if ceil { span.div_ceil(s) } else { span / s }).checked_add(1)
        };
        Some((
            one(h, self.kernel.0, self.dilation.0, self.stride.0, self.pads.0, self.pads.2)?,
            one(w, self.kernel.1, self.dilation.1, self.stride.1, self.pads.1, self.pads.3)?,
        ))
    }
}

/// `[N, C, H, W]` of a 4-D activation.
fn nchw(x: &Act, what: &str) -> OpResult<(u64, u64, u64)> {
    match *x.sample() {
        [c, h, w] => Ok((c, h, w)),
        _ => Err(Fail::Unsupported(format!(
            "{what} of a {}-D tensor (only 2-D maps, NCHW, are supported)",
            x.dims.len()
        ))),
    }
}

impl Importer<'_> {
    pub(crate) fn conv(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let x = self.act(input(n, 0, loc)?, loc)?;
        let Val::Const(wt) = self.val(input(n, 1, loc)?, loc)? else {
            return Err(Fail::Unsupported("a Conv whose weight is computed, not a constant".into()));
        };
        let (c, h, w) = nchw(&x, "Conv")?;
        let [m, cg, kh, kw] = wt.dims[..] else {
            return Err(Fail::Unsupported(format!("a Conv weight of dims {:?} (only 2-D kernels)", wt.dims)));
        };
        let g = u64::try_from(Attrs(n).int("group", 1))
            .ok()
            .filter(|&g| g > 0)
            .ok_or_else(|| bad(loc, "group must be positive"))?;
        if cg.checked_mul(g) != Some(c) || m % g != 0 || kh == 0 || kw == 0 {
            return Err(bad(loc, &format!("weight {:?} with group={g} does not fit {c} input channels", wt.dims)));
        }
        let win = Window::read(n, (kh, kw), (h, w))?;
        let (ho, wo) = win
            .out((h, w), false)
            .ok_or_else(|| shape(loc, &format!("a {kh}x{kw} kernel does not fit the {c}x{h}x{w} input")))?;
        let spec = ConvSpec {
            c_in: c,
            c_out: m,
            kernel: (kh, kw),
            stride: win.stride,
            pad: (win.pads.0, win.pads.1),
            groups: g,
        };
        let out = Shape::Map { c: m, h: ho, w: wo };
        let src = self.push(n, loc, LayerKind::Conv(spec), x.srcs.clone(), Shape::Map { c, h, w }, out);
        self.set(n, 0, Val::Act(Act { dims: vec![x.dims[0], m, ho, wo], srcs: vec![src], softmax: false }));
        Ok(())
    }

    pub(crate) fn pool(&mut self, n: &NodeProto, loc: &Location, op: PoolOp, global: bool) -> OpResult {
        let x = self.act(input(n, 0, loc)?, loc)?;
        let (c, h, w) = nchw(&x, &n.op_type)?;
        let (spec, ho, wo) = if global {
            (PoolSpec { op, kernel: (h, w), stride: (h, w), pad: (0, 0), global: true }, 1, 1)
        } else {
            let k = Attrs(n).ints("kernel_shape").ok_or_else(|| bad(loc, "kernel_shape is required"))?;
            let k = sizes(&k, "kernel_shape")?;
            let [kh, kw] = k[..] else { return Err(Fail::Unsupported(format!("kernel_shape {k:?} (only 2-D pools)"))) };
            if kh == 0 || kw == 0 {
                return Err(bad(loc, "a kernel of size 0"));
            }
            let win = Window::read(n, (kh, kw), (h, w))?;
            if win.dilation != (1, 1) {
                return Err(Fail::Unsupported("a dilated pool".into()));
            }
            let ceil = Attrs(n).int("ceil_mode", 0) != 0;
            let (ho, wo) = win.out((h, w), ceil).ok_or_else(|| shape(loc, "the window does not fit the input"))?;
            (
                PoolSpec { op, kernel: (kh, kw), stride: win.stride, pad: (win.pads.0, win.pads.1), global: false },
                ho,
                wo,
            )
        };
        let src = self.push(
            n,
            loc,
            LayerKind::Pool(spec),
            x.srcs.clone(),
            Shape::Map { c, h, w },
            Shape::Map { c, h: ho, w: wo },
        );
        self.set(n, 0, Val::Act(Act { dims: vec![x.dims[0], c, ho, wo], srcs: vec![src], softmax: false }));
        Ok(())
    }

    /// `Gemm`: `Y = op(A)·op(B) + C` with one constant operand.
    pub(crate) fn gemm(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let a = self.val(input(n, 0, loc)?, loc)?;
        let b = self.val(input(n, 1, loc)?, loc)?;
        let (ta, tb) = (Attrs(n).int("transA", 0) != 0, Attrs(n).int("transB", 0) != 0);
        let (Val::Act(x), Val::Const(wt)) = (&a, &b) else {
            return Err(Fail::Unsupported("a Gemm whose second operand is not a constant weight".into()));
        };
        if ta {
            return Err(Fail::Unsupported(
                "a Gemm with transA=1 on an activation (the batch must stay the rows)".into(),
            ));
        }
        let [k] = *x.sample() else {
            return Err(shape(loc, &format!("Gemm needs a 2-D input, got {:?}", x.dims)));
        };
        let [r0, r1] = wt.dims[..] else { return Err(shape(loc, &format!("Gemm weight of dims {:?}", wt.dims))) };
        let (wk, out) = if tb { (r1, r0) } else { (r0, r1) };
        if wk != k {
            return Err(shape(
                loc,
                &format!("the weight {:?} (transB={}) needs {wk} input features, got {k}", wt.dims, u8::from(tb)),
            ));
        }
        self.linear(n, loc, x, k, out)
    }

    fn linear(&mut self, n: &NodeProto, loc: &Location, x: &Act, k: u64, out: u64) -> OpResult {
        let sample = x.sample();
        let (in_shape, out_shape) = if sample.len() <= 1 {
            (Shape::vector(k), Shape::vector(out))
        } else {
            let tokens = product(&sample[..sample.len() - 1]);
            (Shape::Seq { tokens, dim: k }, Shape::Seq { tokens, dim: out })
        };
        let spec = LinearSpec { in_features: k, out_features: out };
        let src = self.push(n, loc, LayerKind::Linear(spec), x.srcs.clone(), in_shape, out_shape);
        let mut dims = x.dims.clone();
        if let Some(last) = dims.last_mut() {
            *last = out;
        }
        self.set(n, 0, Val::Act(Act { dims, srcs: vec![src], softmax: false }));
        Ok(())
    }

    /// `W·X` with `W` `[M, K]` and `X` `[…, K, N]`: a linear layer from `K` to
    /// `M` features applied to each of the `N` columns (and leading dims).
    fn left_weight(&mut self, n: &NodeProto, loc: &Location, w: &[u64], x: &Act) -> OpResult {
        let [m, k] = *w else {
            return Err(Fail::Unsupported(format!("a MatMul weight of dims {w:?} (only 2-D weights)")));
        };
        let r = x.dims.len();
        if r < 3 || x.dims[r - 2] != k {
            return Err(shape(loc, &format!("the weight {w:?} needs an input [batch, …, {k}, N], got {:?}", x.dims)));
        }
        let tokens = product(&x.dims[1..r - 2]).saturating_mul(x.dims[r - 1]);
        let spec = LinearSpec { in_features: k, out_features: m };
        let (i, o) = (Shape::Seq { tokens, dim: k }, Shape::Seq { tokens, dim: m });
        let src = self.push(n, loc, LayerKind::Linear(spec), x.srcs.clone(), i, o);
        let mut dims = x.dims.clone();
        dims[r - 2] = m;
        self.set(n, 0, Val::Act(Act { dims, srcs: vec![src], softmax: false }));
        Ok(())
    }

    /// `MatMul`: activation × weight → linear; activation × activation → attention matmul.
    pub(crate) fn matmul(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let a = self.val(input(n, 0, loc)?, loc)?;
        let b = self.val(input(n, 1, loc)?, loc)?;
        match (&a, &b) {
            (Val::Act(x), Val::Const(wt)) => {
                let [k, out] = wt.dims[..] else {
                    return Err(Fail::Unsupported(format!("a MatMul weight of dims {:?} (only 2-D weights)", wt.dims)));
                };
                if x.dims.len() < 2 || x.dims.last() != Some(&k) {
                    return Err(shape(loc, &format!("input {:?} does not end in the weight's {k} rows", x.dims)));
                }
                self.linear(n, loc, x, k, out)
            }
            (Val::Act(x), Val::Act(y)) => self.act_matmul(n, loc, x, y),
            (Val::Const(wt), Val::Act(x)) => self.left_weight(n, loc, &wt.dims, x),
            (Val::Const(ca), Val::Const(cb)) => {
                let dims = matmul_dims(&ca.dims, &cb.dims).ok_or_else(|| shape(loc, "operands do not multiply"))?;
                self.set(n, 0, Val::Const(super::values::Const { dims, ints: None }));
                Ok(())
            }
        }
    }

    fn act_matmul(&mut self, n: &NodeProto, loc: &Location, x: &Act, y: &Act) -> OpResult {
        let dims = matmul_dims(&x.dims, &y.dims)
            .filter(|d| d.len() >= 3 && d[0] == x.dims[0])
            .ok_or_else(|| shape(loc, &format!("operands {:?} and {:?} do not multiply per sample", x.dims, y.dims)))?;
        let r = x.dims.len();
        let (m, k) = (x.dims[r - 2], x.dims[r - 1]);
        let nn = dims[dims.len() - 1];
        let heads = product(&dims[1..dims.len() - 2]);
        let (spec, out_shape) = if x.softmax {
            let s = AttnSpec { op: AttnOp::AttnV, heads, head_dim: nn, tokens_q: m, tokens_k: k };
            (s, Shape::Seq { tokens: m, dim: heads.saturating_mul(nn) })
        } else {
            (
                AttnSpec { op: AttnOp::QkT, heads, head_dim: k, tokens_q: m, tokens_k: nn },
                Shape::Heads { heads, rows: m, cols: nn },
            )
        };
        let srcs = union(&x.srcs, &y.srcs);
        let src = self.push(n, loc, LayerKind::AttnMatmul(spec), srcs, ir_shape(x.sample()), out_shape);
        self.set(n, 0, Val::Act(Act { dims, srcs: vec![src], softmax: false }));
        Ok(())
    }

    /// A vector-unit operator on input 0 (shape unchanged).
    pub(crate) fn vector(&mut self, n: &NodeProto, loc: &Location, op: VectorOp) -> OpResult {
        let x = self.act(input(n, 0, loc)?, loc)?;
        let s = ir_shape(x.sample());
        let from_attn = x
            .srcs
            .iter()
            .any(|i| matches!(i, Input::Layer(l) if matches!(self.layers[l.index()].kind, LayerKind::AttnMatmul(_))));
        let s = match (op, s, from_attn, x.sample()) {
            (VectorOp::Softmax, _, true, [h, r, c]) => Shape::Heads { heads: *h, rows: *r, cols: *c },
            _ => s,
        };
        let src = self.push(n, loc, LayerKind::Vector { op }, x.srcs.clone(), s, s);
        let softmax = op == VectorOp::Softmax;
        self.set(n, 0, Val::Act(Act { dims: x.dims.clone(), srcs: vec![src], softmax }));
        Ok(())
    }

    /// `Add` of two activations: a residual add; with a constant: a bias, not modelled.
    pub(crate) fn add(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let a = self.val(input(n, 0, loc)?, loc)?;
        let b = self.val(input(n, 1, loc)?, loc)?;
        let (Val::Act(x), Val::Act(y)) = (&a, &b) else {
            return self.elementwise(n, loc);
        };
        let dims = broadcast(&x.dims, &y.dims)
            .ok_or_else(|| shape(loc, &format!("{:?} and {:?} do not broadcast", x.dims, y.dims)))?;
        let s = ir_shape(&dims[1..]);
        let src = self.push(n, loc, LayerKind::Add, union(&x.srcs, &y.srcs), s, s);
        self.set(n, 0, Val::Act(Act { dims, srcs: vec![src], softmax: false }));
        Ok(())
    }

    /// An elementwise operator without a vector-unit operator: output is the
    /// broadcast of the inputs, listed as not modelled.
    pub(crate) fn elementwise(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let mut dims: Vec<u64> = Vec::new();
        let mut srcs: Vec<Input> = Vec::new();
        let mut softmax = false;
        let mut any_act = false;
        for name in n.input.iter().filter(|i| !i.is_empty()) {
            let v = self.val(name, loc)?;
            dims = broadcast(&dims, v.dims())
                .ok_or_else(|| shape(loc, &format!("inputs of dims {dims:?} and {:?} do not broadcast", v.dims())))?;
            if let Val::Act(a) = v {
                srcs = union(&srcs, &a.srcs);
                softmax |= a.softmax;
                any_act = true;
            }
        }
        let v = if any_act {
            let srcs = self.latest(srcs);
            let a = Act { dims, srcs, softmax };
            self.unmodelled(&n.op_type, a.elements());
            Val::Act(a)
        } else {
            Val::Const(super::values::Const { dims, ints: None })
        };
        for i in 0..n.output.len() {
            self.set(n, i, v.clone());
        }
        Ok(())
    }
}

impl Importer<'_> {
    /// `srcs` without those that are ancestors of another: in `x·f(x)` (GELU,
    /// Swish) the data path runs through `f`, the layer nearest the output.
    fn latest(&self, srcs: Vec<Input>) -> Vec<Input> {
        let keep: Vec<bool> = srcs.iter().map(|&a| !srcs.iter().any(|&b| a != b && self.is_ancestor(a, b))).collect();
        srcs.into_iter().zip(keep).filter(|(_, k)| *k).map(|(s, _)| s).collect()
    }

    /// Whether `a` feeds `b` (through any path).
    fn is_ancestor(&self, a: Input, b: Input) -> bool {
        let Input::Layer(b) = b else { return false };
        let mut stack = vec![b];
        let mut seen = vec![false; self.layers.len()];
        while let Some(x) = stack.pop() {
            for &i in &self.layers[x.index()].inputs {
                if i == a {
                    return true;
                }
                if let Input::Layer(p) = i
                    && !std::mem::replace(&mut seen[p.index()], true)
                {
                    stack.push(p);
                }
            }
        }
        false
    }
}

/// Output dims of a numpy matmul (rank ≥ 2 operands; leading dims broadcast).
fn matmul_dims(a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
    if a.len() < 2 || b.len() < 2 || a[a.len() - 1] != b[b.len() - 2] {
        return None;
    }
    let mut lead = broadcast(&a[..a.len() - 2], &b[..b.len() - 2])?;
    lead.push(a[a.len() - 2]);
    lead.push(b[b.len() - 1]);
    Some(lead)
}

/// Input `i` of `n`, or an error.
pub(crate) fn input<'n>(n: &'n NodeProto, i: usize, loc: &Location) -> OpResult<&'n str> {
    n.input
        .get(i)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(loc, &format!("input {i} is missing")))
}

/// A value error at `loc`.
pub(crate) fn bad(loc: &Location, msg: &str) -> Fail {
    Fail::Error(CompileError::value(loc.clone(), msg.to_string()))
}

/// A shape error at `loc`.
pub(crate) fn shape(loc: &Location, msg: &str) -> Fail {
    Fail::Error(CompileError::shape(loc.clone(), msg.to_string()))
}
