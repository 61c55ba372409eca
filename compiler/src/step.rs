//! From a model to the step the dataflow scheduler compiles: the lowered
//! GEMMs grouped by layer, with the convolution geometry the mapping needs
//! and which layers a ReLU follows.

use nmsat_dataflow::im2col::ConvGeom;
use nmsat_dataflow::schedule::{ConvShape, LayerWork, StepNumerics, StepWorkload};
use nmsat_dataflow::workload::Pass;

use crate::error::CompileError;
use crate::lower::{LowerOptions, lower};
use crate::model::{Connectivity, ConvSpec, Input, LayerKind, Model, Shape, VectorOp};

/// The training step of `model` under `opts`, ready for
/// [`nmsat_dataflow::schedule::compile_step`].
///
/// With exact connectivity (the `.nm` DSL, ONNX) a weight layer counts as
/// followed by a ReLU when a ReLU reads it directly or through norm and
/// residual-add layers (`conv → norm → relu`, `conv → add → relu`: its
/// output gradient is masked by that ReLU's derivative); layer tables and SCALE-Sim
/// files record no activations, so every weight layer but the last is taken
/// to be followed by one (the usual CNN/MLP structure).
pub fn step_workload(model: &Model, opts: &LowerOptions) -> Result<StepWorkload, CompileError> {
    let gemms = lower(model, opts)?;
    let mut layers: Vec<LayerWork> = Vec::new();
    for g in &gemms {
        match layers.iter_mut().find(|l| l.name == g.layer) {
            Some(l) => l.gemms.push(g.clone()),
            None => layers.push(LayerWork { name: g.layer.clone(), gemms: vec![g.clone()], conv: None, relu: false }),
        }
    }
    // Forward order of first appearance is FF order; keep it.
    let relu_after = relu_after(model);
    let n = layers.len();
    for (i, lw) in layers.iter_mut().enumerate() {
        let Some(id) = model.find(&lw.name) else { continue };
        let layer = model.layer(id);
        // A training-pass file's rows are already that pass's GEMMs: no geometry.
        if let (LayerKind::Conv(c), None) = (layer.kind, model.pass_file) {
            let stride = c.stride.0.max(c.stride.1).max(1);
            let geom = conv_geom(&c, &layer.in_shape, stride).filter(|g| out_matches(g, &layer.out_shape));
            lw.conv = Some(ConvShape { taps: c.kernel.0 * c.kernel.1, stride, geom });
        }
        lw.relu = match model.connectivity {
            Connectivity::Exact => relu_after[id.index()],
            Connectivity::TableOrder => i + 1 < n && layer.kind.has_weights(),
        };
    }
    let classes = layers
        .iter()
        .rev()
        .find_map(|l| l.gemms.iter().find(|g| g.pass == Pass::Ff && g.kind == nmsat_dataflow::GemmKind::Weight))
        .map_or(1, |g| g.n.max(1));
    Ok(StepWorkload {
        model: model.name.clone(),
        method: opts.method.to_string(),
        nm: (opts.method != crate::Method::Dense).then_some(opts.nm),
        batch: opts.batch,
        layers,
        classes,
        numerics: step_numerics(opts.method, opts.batch),
    })
}

/// Per layer: a ReLU reads its output directly or through norm/add layers.
fn relu_after(model: &Model) -> Vec<bool> {
    let n = model.layers.len();
    let mut consumers = vec![Vec::new(); n];
    for (i, l) in model.layers.iter().enumerate() {
        for inp in &l.inputs {
            if let Input::Layer(p) = inp
                && p.index() < i
            {
                consumers[p.index()].push(i);
            }
        }
    }
    let mut after = vec![false; n];
    for i in (0..n).rev() {
        after[i] = consumers[i].iter().any(|&c| match model.layers[c].kind {
            LayerKind::Vector { op: VectorOp::Relu } => true,
            LayerKind::Vector { op: VectorOp::Norm } | LayerKind::Add => after[c],
            _ => false,
        });
    }
    after
}

/// SR-STE's default `λ_W` (Zhou et al. 2021), which the int16 path rounds to
/// a power of two per summed gradient: `λ_W·B = 2^-shift`.
pub const SR_STE_LAMBDA_W: f64 = 2e-4;

/// The default int16 settings of a step; SR-STE turns on its decay term of
/// pruned weights (which costs a mask pass of the sparsifier per update tile).
fn step_numerics(method: crate::Method, batch: u64) -> StepNumerics {
    let mut n = StepNumerics::default();
    if method == crate::Method::Srste {
        let shift = -(SR_STE_LAMBDA_W * batch.max(1) as f64).log2().round();
        n.shifts.sr_ste_shift = Some(shift.clamp(0.0, 30.0) as u32);
    }
    n
}

/// Whether the im2col geometry gives the layer's output map (not so for a
/// dilated or asymmetrically padded convolution, which is then modelled by size).
fn out_matches(g: &ConvGeom, out: &Shape) -> bool {
    matches!(*out, Shape::Map { h, w, .. } if g.out_hw() == (h, w))
}

/// The im2col geometry of an ordinary convolution (`None` for grouped or
/// non-square-strided ones, whose operand the scheduler models by size only).
fn conv_geom(c: &ConvSpec, input: &Shape, stride: u64) -> Option<ConvGeom> {
    let Shape::Map { c: ic, h, w } = *input else { return None };
    if c.groups != 1 || c.stride.0 != c.stride.1 || ic != c.c_in {
        return None;
    }
    let f = |v: u64| u32::try_from(v).ok();
    let geom = ConvGeom {
        ih: f(h)?,
        iw: f(w)?,
        ic: f(ic)?,
        kh: f(c.kernel.0)?,
        kw: f(c.kernel.1)?,
        cs: f(stride)?,
        pad_h: f(c.pad.0)?,
        pad_w: f(c.pad.1)?,
        dil: 1,
        opad_h: 0,
        opad_w: 0,
    };
    (geom.out_hw().0 > 0).then_some(geom)
}
