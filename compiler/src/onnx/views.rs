//! The operator table, and the operators that only move or reshape data:
//! they make no layer (except `Flatten` to a vector), their outputs keep the
//! producers of their inputs, and the ones that copy data are listed as not
//! modelled with their element counts.

use crate::error::Location;
use crate::model::{LayerKind, PoolOp, Shape, VectorOp};

use super::Importer;
use super::ops::{bad, input, shape, union};
use super::proto::NodeProto;
use super::values::{Act, Attrs, Const, Fail, OpResult, Val, axis, ir_shape, product, tensor_dims, tensor_ints};

/// Elementwise operators with no vector-unit operator of their own.
const ELEMENTWISE: &[&str] = &[
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Sqrt",
    "Sigmoid",
    "Tanh",
    "Exp",
    "Log",
    "Neg",
    "Abs",
    "Reciprocal",
    "HardSigmoid",
    "HardSwish",
    "LeakyRelu",
    "PRelu",
    "Elu",
    "Selu",
    "Softplus",
    "Mish",
    "Max",
    "Min",
];

/// `Reduce*` operators (suffixes), not modelled (e.g. a LayerNorm exported as `ReduceMean`, `Sub`, `Pow`, …).
const REDUCE: &[&str] = &["Mean", "Sum", "Max", "Min", "Prod", "L1", "L2", "SumSquare", "LogSumExp"];

impl Importer<'_> {
    /// Imports one node by its operator type.
    pub(crate) fn op(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        if !n.domain.is_empty() && n.domain != "ai.onnx" {
            return Err(Fail::Unsupported(format!("operator `{}` of domain `{}`", n.op_type, n.domain)));
        }
        match n.op_type.as_str() {
            "Conv" => self.conv(n, loc),
            "Gemm" => self.gemm(n, loc),
            "MatMul" => self.matmul(n, loc),
            "MaxPool" => self.pool(n, loc, PoolOp::Max, false),
            "AveragePool" => self.pool(n, loc, PoolOp::Avg, false),
            "GlobalMaxPool" => self.pool(n, loc, PoolOp::Max, true),
            "GlobalAveragePool" => self.pool(n, loc, PoolOp::Avg, true),
            "Relu" | "Clip" => self.vector(n, loc, VectorOp::Relu),
            "Gelu" | "Erf" => self.vector(n, loc, VectorOp::Gelu),
            "Softmax" | "LogSoftmax" => self.vector(n, loc, VectorOp::Softmax),
            "BatchNormalization" | "LayerNormalization" | "InstanceNormalization" | "GroupNormalization" => {
                self.vector(n, loc, VectorOp::Norm)
            }
            "Add" => self.add(n, loc),
            op if ELEMENTWISE.contains(&op) => self.elementwise(n, loc),
            "Identity" | "Dropout" | "Cast" => {
                let v = self.val(input(n, 0, loc)?, loc)?;
                (0..n.output.len()).for_each(|i| self.set(n, i, v.clone()));
                Ok(())
            }
            "Constant" => self.constant(n, loc),
            "Shape" => self.shape_of(n, loc),
            "Flatten" => self.flatten(n, loc),
            "Reshape" => self.reshape(n, loc),
            "Squeeze" | "Unsqueeze" => self.squeeze(n, loc),
            "Transpose" => self.transpose(n, loc),
            "Concat" => self.concat(n, loc),
            "Split" => self.split(n, loc),
            "Pad" => self.pad(n, loc),
            "Gather" => self.gather(n, loc),
            "Slice" => self.slice(n, loc),
            op if op.starts_with("Reduce") && REDUCE.contains(&&op[6..]) => self.reduce(n, loc),
            other => Err(Fail::Unsupported(format!("operator `{other}` is not supported"))),
        }
    }

    /// Integer contents of optional input `i`, or of attribute `attr` (older opsets).
    fn ints_of(&self, n: &NodeProto, i: usize, attr: &str, loc: &Location) -> OpResult<Option<Vec<i64>>> {
        if let Some(name) = n.input.get(i).filter(|s| !s.is_empty()) {
            return match self.val(name, loc)? {
                Val::Const(Const { ints: Some(v), .. }) => Ok(Some(v)),
                _ => Err(Fail::Unsupported(format!("input `{name}` is not a constant integer tensor nmsat can read"))),
            };
        }
        Ok(Attrs(n).ints(attr))
    }

    /// Sets output 0 to a view of `x` with `dims` (same producers).
    fn view(&mut self, n: &NodeProto, x: &Act, dims: Vec<u64>) {
        self.set(n, 0, Val::Act(Act { dims, srcs: x.srcs.clone(), softmax: x.softmax }));
    }

    fn constant(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let a = Attrs(n);
        let c = if let Some(t) = a.tensor("value") {
            Const { dims: tensor_dims(t, loc)?, ints: tensor_ints(t) }
        } else if a.has("value_int") {
            Const { dims: vec![], ints: Some(vec![a.int("value_int", 0)]) }
        } else if let Some(v) = a.ints("value_ints") {
            Const { dims: vec![v.len() as u64], ints: Some(v) }
        } else if a.has("value_float") {
            Const { dims: vec![], ints: None }
        } else {
            return Err(Fail::Unsupported("a Constant without a tensor, int or float value".into()));
        };
        self.set(n, 0, Val::Const(c));
        Ok(())
    }

    fn shape_of(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let d: Vec<i64> = v.dims().iter().map(|&x| x as i64).collect();
        let r = d.len() as i64;
        let clamp = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
        let (s, e) = (clamp(Attrs(n).int("start", 0)), clamp(Attrs(n).int("end", r)));
        let ints = d.get(s..e.max(s)).unwrap_or(&[]).to_vec();
        self.set(n, 0, Val::Const(Const { dims: vec![ints.len() as u64], ints: Some(ints) }));
        Ok(())
    }

    fn flatten(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let ax = axis(Attrs(n).int("axis", 1), v.dims().len() + 1)?;
        let dims = vec![product(&v.dims()[..ax]), product(&v.dims()[ax..])];
        match v {
            Val::Const(_) => self.set(n, 0, Val::Const(Const { dims, ints: None })),
            Val::Act(x) if ax == 1 => self.flat_layer(n, loc, &x, dims),
            Val::Act(_) => return Err(Fail::Unsupported(format!("Flatten with axis={ax} (it would merge the batch)"))),
        }
        Ok(())
    }

    /// An activation reshaped to `[batch, n]`: a `flatten` layer when it was not flat already.
    fn flat_layer(&mut self, n: &NodeProto, loc: &Location, x: &Act, dims: Vec<u64>) {
        if x.sample().len() <= 1 {
            return self.view(n, x, dims);
        }
        let src = self.push(n, loc, LayerKind::Flatten, x.srcs.clone(), ir_shape(x.sample()), Shape::vector(dims[1]));
        self.set(n, 0, Val::Act(Act { dims, srcs: vec![src], softmax: false }));
    }

    fn reshape(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let out = n.output.first().cloned().unwrap_or_default();
        let dims = match self.ints_of(n, 1, "shape", loc) {
            Ok(Some(target)) => reshape_dims(v.dims(), &target, Attrs(n).int("allowzero", 0) != 0)
                .ok_or_else(|| shape(loc, &format!("{:?} cannot be reshaped to {target:?}", v.dims())))?,
            // A shape computed at run time: take value_info's when it has one.
            _ => match (&v, self.info.get(&out)) {
                (Val::Act(x), Some(d)) => std::iter::once(x.dims[0]).chain(d.iter().copied()).collect(),
                _ => {
                    return Err(Fail::Unsupported(
                        "a Reshape to a shape that is neither constant nor in value_info".into(),
                    ));
                }
            },
        };
        match v {
            Val::Const(c) => self.set(n, 0, Val::Const(Const { dims, ints: c.ints })),
            Val::Act(x) => {
                if dims.first() != x.dims.first() || product(&dims) != product(&x.dims) {
                    return Err(Fail::Unsupported(format!(
                        "a Reshape of {:?} to {dims:?} changes the batch dimension",
                        x.dims
                    )));
                }
                if dims.len() == 2 { self.flat_layer(n, loc, &x, dims) } else { self.view(n, &x, dims) }
            }
        }
        Ok(())
    }

    fn squeeze(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let axes = self.ints_of(n, 1, "axes", loc)?;
        let mut dims = v.dims().to_vec();
        if n.op_type == "Unsqueeze" {
            let axes = axes.ok_or_else(|| bad(loc, "Unsqueeze needs axes"))?;
            let rank = dims.len() + axes.len();
            let mut at: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<OpResult<_>>()?;
            at.sort_unstable();
            for a in at {
                if matches!(v, Val::Act(_)) && a == 0 {
                    return Err(Fail::Unsupported("an Unsqueeze before the batch dimension".into()));
                }
                dims.insert(a.min(dims.len()), 1);
            }
        } else {
            let first = usize::from(matches!(v, Val::Act(_)));
            let drop: Vec<usize> = match axes {
                Some(a) => a.iter().map(|&x| axis(x, dims.len())).collect::<OpResult<_>>()?,
                None => (first..dims.len()).filter(|&i| dims[i] == 1).collect(),
            };
            if drop.iter().any(|&i| dims[i] != 1 || i < first) {
                return Err(shape(loc, &format!("cannot squeeze axes {drop:?} of {dims:?}")));
            }
            dims = dims.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, &d)| d).collect();
        }
        match v {
            Val::Const(c) => self.set(n, 0, Val::Const(Const { dims, ints: c.ints })),
            Val::Act(x) => self.view(n, &x, dims),
        }
        Ok(())
    }

    fn transpose(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let r = v.dims().len();
        let perm: Vec<usize> = match Attrs(n).ints("perm") {
            Some(p) => p.iter().map(|&a| axis(a, r)).collect::<OpResult<_>>()?,
            None => (0..r).rev().collect(),
        };
        let mut seen = perm.clone();
        seen.sort_unstable();
        if seen != (0..r).collect::<Vec<_>>() {
            return Err(bad(loc, &format!("perm {perm:?} is not a permutation of {r} axes")));
        }
        let dims: Vec<u64> = perm.iter().map(|&p| v.dims()[p]).collect();
        match v {
            Val::Const(_) => self.set(n, 0, Val::Const(Const { dims, ints: None })),
            Val::Act(x) => {
                if perm.first() != Some(&0) {
                    return Err(Fail::Unsupported("a Transpose that moves the batch dimension".into()));
                }
                self.unmodelled("Transpose", x.elements());
                self.view(n, &x, dims);
            }
        }
        Ok(())
    }

    fn concat(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let vals: Vec<Val> =
            n.input.iter().filter(|s| !s.is_empty()).map(|s| self.val(s, loc)).collect::<OpResult<_>>()?;
        let Some(first) = vals.first() else { return Err(bad(loc, "Concat of no inputs")) };
        let r = first.dims().len();
        let ax = axis(Attrs(n).int("axis", 0), r)?;
        let mut dims = first.dims().to_vec();
        dims[ax] = 0;
        let mut srcs = Vec::new();
        let mut ints: Option<Vec<i64>> = Some(Vec::new());
        for v in &vals {
            let d = v.dims();
            if d.len() != r || d.iter().enumerate().any(|(i, &x)| i != ax && x != dims[i]) {
                return Err(shape(
                    loc,
                    &format!("inputs {:?} and {d:?} do not concatenate on axis {ax}", first.dims()),
                ));
            }
            dims[ax] = dims[ax].saturating_add(d[ax]);
            match v {
                Val::Act(a) => srcs = union(&srcs, &a.srcs),
                Val::Const(c) => match (&mut ints, &c.ints) {
                    (Some(acc), Some(x)) => acc.extend(x),
                    _ => ints = None,
                },
            }
        }
        if srcs.is_empty() {
            self.set(n, 0, Val::Const(Const { dims, ints: ints.filter(|_| r == 1) }));
            return Ok(());
        }
        if ax == 0 {
            return Err(Fail::Unsupported("a Concat along the batch dimension".into()));
        }
        let a = Act { dims, srcs, softmax: false };
        self.unmodelled("Concat", a.elements());
        self.set(n, 0, Val::Act(a));
        Ok(())
    }

    fn split(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let r = v.dims().len();
        let ax = axis(Attrs(n).int("axis", 0), r)?;
        let total = v.dims()[ax];
        let parts = n.output.len().max(1) as u64;
        let sizes: Vec<u64> = match self.ints_of(n, 1, "split", loc)? {
            Some(s) => super::values::sizes(&s, "split")?,
            None if total % parts == 0 => vec![total / parts; parts as usize],
            None => {
                let chunk = total.div_ceil(parts);
                (0..parts).map(|i| chunk.min(total.saturating_sub(i.saturating_mul(chunk)))).collect()
            }
        };
        if sizes.len() != n.output.len() || sizes.iter().try_fold(0u64, |a, &b| a.checked_add(b)) != Some(total) {
            return Err(shape(
                loc,
                &format!("split sizes {sizes:?} do not divide {total} into {} outputs", n.output.len()),
            ));
        }
        if let Val::Act(x) = &v {
            if ax == 0 {
                return Err(Fail::Unsupported("a Split along the batch dimension".into()));
            }
            self.unmodelled("Split", x.elements());
        }
        for (i, s) in sizes.iter().enumerate() {
            let mut dims = v.dims().to_vec();
            dims[ax] = *s;
            let out = match &v {
                Val::Act(x) => Val::Act(Act { dims, srcs: x.srcs.clone(), softmax: x.softmax }),
                Val::Const(_) => Val::Const(Const { dims, ints: None }),
            };
            self.set(n, i, out);
        }
        Ok(())
    }

    fn pad(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let x = self.act(input(n, 0, loc)?, loc)?;
        let r = x.dims.len();
        let pads = self.ints_of(n, 1, "pads", loc)?.ok_or_else(|| bad(loc, "Pad needs pads"))?;
        let axes: Vec<usize> = match self.ints_of(n, 3, "", loc)? {
            Some(a) => a.iter().map(|&v| axis(v, r)).collect::<OpResult<_>>()?,
            None => (0..r).collect(),
        };
        if pads.len() != 2 * axes.len() {
            return Err(bad(loc, &format!("{} pads for {} axes", pads.len(), axes.len())));
        }
        let mut dims = x.dims.clone();
        for (j, &a) in axes.iter().enumerate() {
            let (b, e) = (pads[j], pads[j + axes.len()]);
            if a == 0 && (b, e) != (0, 0) {
                return Err(Fail::Unsupported("a Pad of the batch dimension".into()));
            }
            let d = i64::try_from(dims[a]).ok().and_then(|d| d.checked_add(b)?.checked_add(e));
            dims[a] = d
                .and_then(|d| u64::try_from(d).ok())
                .filter(|&d| d > 0)
                .ok_or_else(|| shape(loc, "the pads leave no elements (or overflow)"))?;
        }
        let out = Act { dims, srcs: x.srcs.clone(), softmax: x.softmax };
        self.unmodelled("Pad", out.elements());
        self.set(n, 0, Val::Act(out));
        Ok(())
    }

    fn gather(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let data = self.val(input(n, 0, loc)?, loc)?;
        let idx = self.val(input(n, 1, loc)?, loc)?;
        let ax = axis(Attrs(n).int("axis", 0), data.dims().len())?;
        let d = data.dims();
        let dims: Vec<u64> = d[..ax].iter().chain(idx.dims()).chain(&d[ax + 1..]).copied().collect();
        match (&data, &idx) {
            (Val::Const(c), Val::Const(i)) => {
                let ints = match (&c.ints, &i.ints) {
                    (Some(cv), Some(iv)) if d.len() == 1 => iv
                        .iter()
                        .map(|&k| cv.get(if k < 0 { (k + d[0] as i64) as usize } else { k as usize }).copied())
                        .collect(),
                    _ => None,
                };
                self.set(n, 0, Val::Const(Const { dims, ints }));
            }
            // An embedding lookup: the table's rows for the token ids.
            (Val::Const(_), Val::Act(ids)) if ax == 0 => {
                let a = Act { dims, srcs: ids.srcs.clone(), softmax: false };
                self.unmodelled("Gather (embedding lookup)", a.elements());
                self.set(n, 0, Val::Act(a));
            }
            (Val::Act(x), Val::Const(_)) if ax != 0 => {
                let a = Act { dims, srcs: x.srcs.clone(), softmax: x.softmax };
                self.unmodelled("Gather", a.elements());
                self.set(n, 0, Val::Act(a));
            }
            _ => {
                return Err(Fail::Unsupported(
                    "a Gather of this form (indices computed at run time, or along the batch)".into(),
                ));
            }
        }
        Ok(())
    }
}

impl Importer<'_> {
    /// `Reduce*`: axes from the attribute (or input 1, opset 18), `keepdims`; not modelled.
    fn reduce(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let r = v.dims().len();
        let axes: Vec<usize> = match self.ints_of(n, 1, "axes", loc)? {
            Some(a) if !a.is_empty() => a.iter().map(|&x| axis(x, r)).collect::<OpResult<_>>()?,
            _ if Attrs(n).int("noop_with_empty_axes", 0) != 0 => Vec::new(),
            _ => (0..r).collect(),
        };
        let keep = Attrs(n).int("keepdims", 1) != 0;
        let dims: Vec<u64> = (0..r)
            .filter_map(|i| match (axes.contains(&i), keep) {
                (false, _) => Some(v.dims()[i]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        match v {
            Val::Const(_) => self.set(n, 0, Val::Const(Const { dims, ints: None })),
            Val::Act(x) => {
                if axes.contains(&0) {
                    return Err(Fail::Unsupported(format!("a {} over the batch dimension", n.op_type)));
                }
                self.unmodelled(&n.op_type, x.elements());
                self.view(n, &x, dims);
            }
        }
        Ok(())
    }

    /// `Slice` with constant starts, ends, axes and steps (opset ≥ 10 inputs, or attributes).
    fn slice(&mut self, n: &NodeProto, loc: &Location) -> OpResult {
        let v = self.val(input(n, 0, loc)?, loc)?;
        let r = v.dims().len();
        let need = |x: Option<Vec<i64>>, what: &str| x.ok_or_else(|| bad(loc, &format!("Slice needs {what}")));
        let starts = need(self.ints_of(n, 1, "starts", loc)?, "starts")?;
        let ends = need(self.ints_of(n, 2, "ends", loc)?, "ends")?;
        let axes: Vec<usize> = match self.ints_of(n, 3, "axes", loc)? {
            Some(a) => a.iter().map(|&x| axis(x, r)).collect::<OpResult<_>>()?,
            None => (0..starts.len().min(r)).collect(),
        };
        let steps = self.ints_of(n, 4, "", loc)?.unwrap_or_else(|| vec![1; axes.len()]);
        if starts.len() != axes.len() || ends.len() != axes.len() || steps.len() != axes.len() {
            return Err(bad(loc, "Slice starts, ends, axes and steps differ in length"));
        }
        let mut dims = v.dims().to_vec();
        for (j, &a) in axes.iter().enumerate() {
            if matches!(v, Val::Act(_)) && a == 0 {
                return Err(Fail::Unsupported("a Slice of the batch dimension".into()));
            }
            dims[a] = slice_len(dims[a], starts[j], ends[j], steps[j]).ok_or_else(|| bad(loc, "a Slice step of 0"))?;
        }
        match v {
            Val::Const(c) => {
                let ints = c.ints.filter(|_| r == 1 && steps == [1]).and_then(|x| {
                    let s = clamp_index(starts[0], x.len() as u64, false) as usize;
                    x.get(s..s + dims[0] as usize).map(<[i64]>::to_vec)
                });
                self.set(n, 0, Val::Const(Const { dims, ints }));
            }
            Val::Act(x) => {
                let a = Act { dims, srcs: x.srcs.clone(), softmax: x.softmax };
                self.unmodelled("Slice", a.elements());
                self.set(n, 0, Val::Act(a));
            }
        }
        Ok(())
    }
}

/// An index clamped into `[0, d]` (`[-1, d-1]` for negative steps), negatives counted from the end.
fn clamp_index(i: i64, d: u64, negative_step: bool) -> i64 {
    let d = i64::try_from(d).unwrap_or(i64::MAX);
    let i = if i < 0 { i.saturating_add(d) } else { i };
    if negative_step { i.clamp(-1, d - 1) } else { i.clamp(0, d) }
}

/// Elements `Slice` keeps of a dimension of `d`; `None` for a step of 0.
fn slice_len(d: u64, start: i64, end: i64, step: i64) -> Option<u64> {
    if step == 0 {
        return None;
    }
    let (s, e) = (clamp_index(start, d, step < 0), clamp_index(end, d, step < 0));
    let span = if step > 0 { e.saturating_sub(s) } else { s.saturating_sub(e) };
    let step = step.unsigned_abs();
    Some(if span <= 0 { 0 } else { (span as u64).div_ceil(step) })
}

/// ONNX `Reshape` semantics: `0` copies the input dim (unless `allowzero`), `-1` is inferred.
fn reshape_dims(input: &[u64], target: &[i64], allowzero: bool) -> Option<Vec<u64>> {
    let total = product(input);
    let mut dims = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                dims.push(1);
            }
            0 if !allowzero => dims.push(*input.get(i)?),
            t if t > 0 => dims.push(t as u64),
            _ => return None,
        }
    }
    let known = product(&dims);
    if let Some(i) = infer {
        if known == 0 || total % known != 0 {
            return None;
        }
        dims[i] = total / known;
    }
    (product(&dims) == total).then_some(dims)
}

#[cfg(test)]
mod tests {
    use super::reshape_dims;

    #[test]
    fn slice_follows_onnx() {
        use super::slice_len;
        assert_eq!(slice_len(10, 0, 3, 1), Some(3));
        assert_eq!(slice_len(10, -3, i64::MAX, 1), Some(3));
        assert_eq!(slice_len(10, 1, 10, 2), Some(5));
        assert_eq!(slice_len(10, -1, i64::MIN, -1), Some(10));
        assert_eq!(slice_len(10, 5, 2, 1), Some(0));
        assert_eq!(slice_len(10, 0, 3, 0), None);
    }

    #[test]
    fn reshape_follows_onnx() {
        assert_eq!(reshape_dims(&[1, 32, 4, 4], &[1, -1], false), Some(vec![1, 512]));
        assert_eq!(reshape_dims(&[1, 32, 4, 4], &[0, -1], false), Some(vec![1, 512]));
        assert_eq!(reshape_dims(&[1, 6, 8], &[1, 6, 2, 4], false), Some(vec![1, 6, 2, 4]));
        assert_eq!(reshape_dims(&[1, 6, 8], &[1, 5, -1], false), None);
        assert_eq!(reshape_dims(&[1, 6, 8], &[-1, -1], false), None);
    }
}
