//! Planning a training step: every GEMM becomes a [`GemmJob`] (its mapping
//! on the array, tiling, DRAM regions and epilogue). Regions are allocated
//! as the GEMMs are planned, in layer order, so the memory map follows the
//! step's order.

use super::builder::Builder;
use super::job::{GemmJob, OutKind, PregenTarget, RegionRef, WSource, WuPlan};
use super::tiling::{Budget, Mapped, TileNeeds, Tiling, choose_tiling, map_gemm};
use super::{DataflowOptions, LayerWork, Optimization, ScheduleError, StepWorkload};
use crate::arch::ArchConfig;
use crate::im2col::ConvGeom;
use crate::isa::{DmaFormat, NM_CHUNK};
use crate::nm::NmPattern;
use crate::program::{RegionKind, Tag};
use crate::workload::{Gemm, GemmKind, NmOperand, Pass};

/// The planned GEMMs of a step, grouped as they are emitted.
pub(super) struct StepPlan {
    /// The FF GEMMs in layer order.
    pub(super) ff: Vec<GemmJob>,
    /// Each layer's backward GEMMs, in forward layer order.
    pub(super) back: Vec<LayerBack>,
}

/// A layer's backward GEMMs.
#[derive(Default)]
pub(super) struct LayerBack {
    /// The BP of its weights.
    pub(super) bp: Option<GemmJob>,
    /// The WG of its weights, with the fused weight update.
    pub(super) wg: Option<GemmJob>,
    /// Its other backward GEMMs (attention).
    pub(super) extra: Vec<GemmJob>,
    /// Its BP and WG tiled for the activation buffer in two banks (the
    /// interleave mapping's layout), when the step was planned with one.
    pub(super) pair: Option<(GemmJob, GemmJob)>,
}

/// What planning one layer's GEMMs shares.
struct LayerCx<'s> {
    step: &'s StepWorkload,
    opts: &'s DataflowOptions,
    /// The layer and its index in the step.
    l: &'s LayerWork,
    li: usize,
    /// Its index in the program's layer table.
    layer: u32,
    /// Its FF GEMM.
    ff: Option<&'s Gemm>,
    /// It has weights (its WG then carries the weight update).
    weighted: bool,
    /// Elements of its output gradient dO (the FF output).
    dout_elems: u64,
}

impl LayerCx<'_> {
    /// Whether the previous layer ends in a ReLU (whose derivative masks this BP's output).
    fn after_relu(&self) -> bool {
        self.li > 0 && self.step.layers[self.li - 1].relu
    }

    fn pregen(&self) -> bool {
        self.opts.is_on(Optimization::Pregen)
    }

    fn interleave(&self) -> bool {
        self.opts.is_on(Optimization::Interleave)
    }
}

/// A weight layer's FF output, which the next layer's FF reads when the
/// sizes match: its region and elements.
type FfOutput = (RegionRef, u64);

/// Plans every GEMM of `step`, allocating their DRAM regions in `b`, each
/// tiled for `b`'s buffer layout; with `banks2`, each weight layer's BP and
/// WG are also tiled for that two-bank layout ([`LayerBack::pair`]).
pub(super) fn plan_step(
    b: &mut Builder,
    step: &StepWorkload,
    opts: &DataflowOptions,
    banks2: Option<&Budget>,
) -> Result<StepPlan, ScheduleError> {
    let mut plan = StepPlan { ff: Vec::new(), back: Vec::new() };
    let mut prev_out: Option<FfOutput> = None;
    for (li, l) in step.layers.iter().enumerate() {
        let ff = l.gemms.iter().find(|g| g.pass == Pass::Ff);
        let cx = LayerCx {
            step,
            opts,
            l,
            li,
            layer: b.prog.layer_index(&l.name),
            ff,
            weighted: l.gemms.iter().any(|g| g.kind == GemmKind::Weight),
            dout_elems: ff.map_or(0, |f| f.m * f.count * f.n),
        };
        let mut back = LayerBack::default();
        let (mut bp2, mut wg2) = (None, None);
        for g in &l.gemms {
            let job = plan_gemm(b, &cx, g, prev_out, &plan.ff)?;
            if let (Some(budget), GemmKind::Weight, Pass::Bp | Pass::Wg) = (banks2, g.kind, g.pass) {
                let tiling = tile(b.arch, budget, &cx, g, (&job.mp, job.a_trans), job.w_fmt)?;
                let two = GemmJob { tiling, ..job.clone() };
                if g.pass == Pass::Bp { bp2 = Some(two) } else { wg2 = Some(two) }
            }
            match (g.pass, g.kind) {
                (Pass::Ff, kind) => {
                    if let (GemmKind::Weight, OutKind::Activation { region, .. }) = (kind, &job.out) {
                        prev_out = Some((*region, job.mp.m * job.mp.n));
                    }
                    plan.ff.push(job);
                }
                (Pass::Bp, GemmKind::Weight) => back.bp = Some(job),
                (Pass::Wg, GemmKind::Weight) => back.wg = Some(job),
                _ => back.extra.push(job),
            }
        }
        back.pair = bp2.zip(wg2);
        plan.back.push(back);
    }
    Ok(plan)
}

/// How the array runs a GEMM and where its activation operand comes from.
struct Mapping {
    mp: Mapped,
    /// FF and WG of a convolution with known geometry gather im2col tiles
    /// from the NHWC input tensor (its pixels are FF's rows, WG's reduction).
    im2col: Option<ConvGeom>,
    /// BP of a convolution with known geometry: the transposed convolution
    /// over dO, gathered by `load2col` (rows: input pixels, reduction:
    /// taps·C_out), and its `(taps, C_out, C_in)`.
    bp_gather: Option<(ConvGeom, (u64, u64, u64))>,
}

/// Plans one GEMM of a layer. `ff_jobs` are the FF GEMMs planned so far.
fn plan_gemm(
    b: &mut Builder,
    cx: &LayerCx,
    g: &Gemm,
    prev_out: Option<FfOutput>,
    ff_jobs: &[GemmJob],
) -> Result<GemmJob, ScheduleError> {
    let mapping = map_operands(cx, g);
    let a_region = activation_region(b, cx, g, &mapping, prev_out, ff_jobs);
    let Mapping { mp, im2col, bp_gather } = mapping;
    let w_fmt = weight_format(cx, g);
    // WG of a linear layer reads Xᵀ from X as stored (as does a gathered WG).
    let a_trans = g.pass == Pass::Wg && g.kind == GemmKind::Weight && (mp.a_reuse == (1, 1) || im2col.is_some());
    let tiling = tile(b.arch, &b.budget, cx, g, (&mp, a_trans), w_fmt)?;
    let w_src = weight_source(b, cx, g, &mp, bp_gather.is_some());
    let out = output(b, cx, g, &mp, ff_jobs);
    Ok(GemmJob {
        tag: Tag { layer: cx.layer, pass: g.pass },
        layer: cx.l.name.clone(),
        mp,
        tiling,
        w_fmt,
        a_region,
        a_row: mp.k,
        a_trans,
        im2col: im2col.or(bp_gather.map(|(tg, _)| tg)),
        tap_blocks: bp_gather.map(|(_, tb)| tb),
        w_src,
        out,
    })
}

/// The GEMM as the array runs it, with the gathers of a convolution whose
/// geometry is known.
fn map_operands(cx: &LayerCx, g: &Gemm) -> Mapping {
    let mut mp = map_gemm(g, cx.l.conv);
    let batch = cx.step.batch;
    let im2col = cx.l.conv.and_then(|c| c.geom).filter(|geo| {
        let (p, q) = geo.out_hw();
        let pixels = batch * p * q;
        g.kind == GemmKind::Weight
            && match g.pass {
                Pass::Ff => mp.m == pixels && mp.k == geo.k(),
                Pass::Wg => mp.k == pixels && mp.m == geo.k(),
                _ => false,
            }
    });
    mp.gather = im2col.map(|geo| (geo, g.pass == Pass::Wg));
    let bp_gather = bp_tap_blocks(cx.l, g, batch);
    if let Some((tg, (taps, c_out, c_in))) = bp_gather {
        mp = Mapped {
            m: batch * tg.out_hw().0 * tg.out_hw().1,
            n: c_in,
            k: taps * c_out,
            mode: mp.mode,
            a_reuse: (1, 1),
            gather: Some((tg, false)),
        };
    }
    Mapping { mp, im2col, bp_gather }
}

/// A convolution's BP as the transposed convolution over dO: the gather's
/// geometry and `(taps, C_out, C_in)`, when the layer's geometry is known and
/// `g` is its BP GEMM (`None` keeps the size-only model).
fn bp_tap_blocks(l: &LayerWork, g: &Gemm, batch: u64) -> Option<(ConvGeom, (u64, u64, u64))> {
    let geo = l.conv.and_then(|c| c.geom)?;
    if g.pass != Pass::Bp || g.kind != GemmKind::Weight || g.n != geo.k() {
        return None;
    }
    let (p, q) = geo.out_hw();
    let stride2 = u64::from(geo.cs) * u64::from(geo.cs);
    if u64::from(geo.ih) * u64::from(geo.iw) > super::MAX_BP_ZERO_FACTOR * stride2 * p * q {
        return None;
    }
    let tg = geo.transposed(u32::try_from(g.k).ok()?)?;
    let c_in = u64::from(geo.ic);
    // Compressed tap blocks start on whole 16-column chunks.
    if g.m * g.count != batch * p * q || (g.sparse.is_some() && c_in % NM_CHUNK != 0) {
        return None;
    }
    Some((tg, (u64::from(geo.kh) * u64::from(geo.kw), g.k, c_in)))
}

/// The activation operand's region: FF reads the previous weight layer's
/// output when the sizes match (else its own input region), BP reads dO,
/// WG reads the FF input (`Xᵀ`), which exists already.
fn activation_region(
    b: &mut Builder,
    cx: &LayerCx,
    g: &Gemm,
    m: &Mapping,
    prev_out: Option<FfOutput>,
    ff_jobs: &[GemmJob],
) -> RegionRef {
    let (l, mp) = (cx.l, &m.mp);
    let elems_a = match m.im2col {
        Some(geo) => cx.step.batch * geo.image_elems(),
        None => mp.m * mp.k * mp.a_reuse.1 / mp.a_reuse.0,
    };
    match g.pass {
        Pass::Ff => match prev_out {
            Some((region, e)) if e == elems_a && g.kind == GemmKind::Weight => region,
            _ => {
                let kind = if cx.li == 0 { RegionKind::Input } else { RegionKind::Activation };
                b.region(&format!("{}.{}.in", l.name, g.pass), kind, 2 * elems_a)
            }
        },
        Pass::Bp => {
            // A training-pass file's BP has no FF GEMM: its dO is its own `M×K` operand.
            let elems = if g.kind == GemmKind::Weight && cx.dout_elems > 0 { cx.dout_elems } else { elems_a };
            b.region(&format!("{}.dout", l.name), RegionKind::Gradient, 2 * elems)
        }
        Pass::Wg | Pass::Wu => {
            let name = format!("{}.{}.in", l.name, Pass::Ff);
            match b.region_ids.get(&name) {
                Some(&id) => (id, b.prog.regions[id].addr),
                None => match ff_jobs.iter().rev().find(|j| j.tag.layer == cx.layer) {
                    Some(j) => j.a_region,
                    None => b.region(&name, RegionKind::Activation, 2 * elems_a),
                },
            }
        }
    }
}

/// Weight operand bytes per element (numerator, denominator) as the tiling
/// sees them: pre-generated N:M weights arrive compressed (values with their
/// indices), all others as dense int16.
fn weight_format(cx: &LayerCx, g: &Gemm) -> (u64, u64) {
    let ibits = g.sparse.map_or(0, |s| u64::from(s.pattern.index_bits()));
    match g.sparse {
        Some(_) if cx.pregen() => (2 * 16 + 2 * ibits, 16), // bytes per value incl. indices
        _ => (2, 1),
    }
}

/// The GEMM's tiling, within what the instruction encoding can hold.
fn tile(
    arch: &ArchConfig,
    budget: &Budget,
    cx: &LayerCx,
    g: &Gemm,
    (mp, a_trans): (&Mapped, bool),
    w_fmt: (u64, u64),
) -> Result<Tiling, ScheduleError> {
    let flows = cx.opts.dataflow.mappings(arch, a_trans).map_err(|reason| ScheduleError::NoTiling {
        layer: cx.l.name.clone(),
        pass: g.pass,
        m: mp.m,
        n: mp.n,
        k: mp.k,
        arch: arch.name.clone(),
        reason,
    })?;
    let needs = TileNeeds {
        layer: &cx.l.name,
        pass: g.pass,
        o_tiles: if g.pass == Pass::Wg && cx.weighted { 3 } else { 1 },
        w_fmt,
        masked: cx.after_relu(),
        on_the_fly: g.sparse.is_some() && !cx.pregen() && g.pass != Pass::Wg,
        timing: cx.opts.timing,
        flows: &flows,
    };
    let tiling = choose_tiling(arch, mp, budget, &needs)?;
    for (what, value) in [("tile rows", tiling.tm), ("tile columns", tiling.tn), ("tile reduction", tiling.tk)] {
        if value >= 1 << 20 {
            return Err(ScheduleError::TooLarge { layer: cx.l.name.clone(), what: what.into(), value });
        }
    }
    Ok(tiling)
}

/// Where the weight operand comes from: dO for WG, the second operand of an
/// attention GEMM, or the layer's weights (dense, compressed or sparsified on
/// the fly). `transposed_conv`: the GEMM is a convolution's BP run as the
/// transposed convolution.
fn weight_source(b: &mut Builder, cx: &LayerCx, g: &Gemm, mp: &Mapped, transposed_conv: bool) -> WSource {
    let l = cx.l;
    match (g.pass, g.kind) {
        (Pass::Wg, _) => {
            // The "weight" operand of WG is dO (PQB × C_out).
            let bytes = 2u64.saturating_mul(cx.dout_elems.max(mp.k.saturating_mul(mp.n)));
            WSource::Dense {
                region: b.region(&format!("{}.dout", l.name), RegionKind::Gradient, bytes),
                transposed: false,
            }
        }
        (_, GemmKind::Attention) => {
            let bytes = 2u64.saturating_mul(mp.k).saturating_mul(mp.n);
            let region = b.region(&format!("{}.{}.attn_b", l.name, g.pass), RegionKind::Activation, bytes);
            WSource::Dense { region, transposed: false }
        }
        (pass, GemmKind::Weight) => {
            let dense =
                b.region(&format!("{}.w", l.name), RegionKind::Weights, 2u64.saturating_mul(mp.k).saturating_mul(mp.n));
            match g.sparse {
                // The transposed convolution reads W′ᵀ (C_in × taps·C_out) as stored.
                None if transposed_conv => WSource::Dense {
                    region: b.region(
                        &format!("{}.w_bpT", l.name),
                        RegionKind::Weights,
                        2u64.saturating_mul(mp.k).saturating_mul(mp.n),
                    ),
                    transposed: true,
                },
                None => WSource::Dense { region: dense, transposed: pass == Pass::Bp },
                Some(s) => sparse_weight_source(b, cx, pass, mp, s.pattern),
            }
        }
    }
}

/// The N:M weights of FF or BP: pre-generated and compressed (one
/// interleaved array under the interleave mapping, else values and indices
/// apart), or, without pre-generation, the master weights sparsified on the fly.
fn sparse_weight_source(b: &mut Builder, cx: &LayerCx, pass: Pass, mp: &Mapped, pattern: NmPattern) -> WSource {
    let l = cx.l;
    let dir = if pass == Pass::Ff { "w_ff" } else { "w_bp" };
    let kind = if pass == Pass::Ff { RegionKind::WeightsFf } else { RegionKind::WeightsBp };
    let rows = mp.k * u64::from(pattern.n()) / u64::from(pattern.m());
    if !cx.pregen() {
        let (kk, nn) = if pass == Pass::Ff { (mp.k, mp.n) } else { (mp.n, mp.k) };
        let master = b.region(&format!("{}.master", l.name), RegionKind::MasterWeights, 4 * kk * nn);
        WSource::SparsifyOnTheFly { pattern, region: master, axis: u8::from(pass != Pass::Ff) }
    } else if cx.interleave() {
        let bytes = rows * DmaFormat::NmRow.row_bytes(mp.n, pattern.index_bits());
        let v = b.region(&format!("{}.{dir}", l.name), kind, bytes);
        WSource::Compressed { pattern, values: v, indices: None }
    } else {
        let v = b.region(&format!("{}.{dir}.values", l.name), kind, 2 * rows * mp.n);
        let ib = rows * DmaFormat::NmIndices.row_bytes(mp.n, pattern.index_bits());
        let i = b.region(&format!("{}.{dir}.indices", l.name), RegionKind::Indices, ib);
        WSource::Compressed { pattern, values: v, indices: Some(i) }
    }
}

/// What happens to the GEMM's output: the weight update (WG of a weight
/// layer), or a requantized store (BP: the input gradient, masked by ReLU';
/// FF: the activation, or the logits of the last layer).
fn output(b: &mut Builder, cx: &LayerCx, g: &Gemm, mp: &Mapped, ff_jobs: &[GemmJob]) -> OutKind {
    let l = cx.l;
    let fm = cx.step.numerics.formats;
    let elems = mp.m * mp.n;
    match g.pass {
        Pass::Wg if cx.weighted => OutKind::WeightUpdate(Box::new(wu_plan(b, cx, mp))),
        Pass::Bp => {
            let region = match cx.li {
                0 => b.region(&format!("{}.din", l.name), RegionKind::Gradient, 2 * elems),
                li => {
                    // dX of this layer is dO of the previous one.
                    let name = format!("{}.dout", cx.step.layers[li - 1].name);
                    match b.region_ids.get(&name) {
                        Some(&id) if b.prog.regions[id].bytes == 2 * elems => (id, b.prog.regions[id].addr),
                        Some(_) => b.region(&format!("{}.din", l.name), RegionKind::Gradient, 2 * elems),
                        None => b.region(&name, RegionKind::Gradient, 2 * elems),
                    }
                }
            };
            // ReLU' is read off the forward activation: this layer's FF input.
            let mask = if cx.after_relu() {
                ff_jobs.iter().find(|j| j.tag.layer == cx.layer).map(|j| j.a_region)
            } else {
                None
            };
            let shift = i8::try_from(fm.bp_shift()).unwrap_or(i8::MAX);
            OutKind::Activation { region, relu: false, mask, row: mp.n, shift }
        }
        _ => {
            let last = cx.li + 1 == cx.step.layers.len();
            let name = if last { format!("{}.logits", l.name) } else { format!("{}.out", l.name) };
            let region = b.region(&name, RegionKind::Activation, 2 * elems);
            let shift = i8::try_from(fm.ff_shift()).unwrap_or(i8::MAX);
            OutKind::Activation { region, relu: l.relu && g.pass == Pass::Ff, mask: None, row: mp.n, shift }
        }
    }
}

/// The weight update fused into a weight layer's WG: master weights and
/// momentum, the dense operand weights where a pass still reads them, the
/// pre-generated N:M weights of the next step, and SR-STE's decay mask.
fn wu_plan(b: &mut Builder, cx: &LayerCx, mp: &Mapped) -> WuPlan {
    let l = cx.l;
    let (kk, nn) = cx.ff.map_or((mp.m, mp.n), |f| (f.k, f.n));
    let master = b.region(&format!("{}.master", l.name), RegionKind::MasterWeights, 4 * kk * nn);
    let momentum = b.region(&format!("{}.momentum", l.name), RegionKind::Momentum, 4 * kk * nn);
    let ff_sparse = l.gemms.iter().find(|x| x.pass == Pass::Ff).and_then(|x| x.sparse);
    let bp_sparse = l.gemms.iter().find(|x| x.pass == Pass::Bp).and_then(|x| x.sparse);
    let needs_dense = ff_sparse.is_none() || bp_sparse.is_none() || !cx.pregen();
    let dense_w =
        if needs_dense { Some(b.region(&format!("{}.w", l.name), RegionKind::Weights, 2 * kk * nn)) } else { None };
    let ff = pregen_target(b, cx, ff_sparse, "w_ff", kk, nn);
    let bp = pregen_target(b, cx, bp_sparse, "w_bp", nn, kk);
    let bp_dense_taps = l
        .gemms
        .iter()
        .find(|x| x.pass == Pass::Bp && x.sparse.is_none())
        .and_then(|x| bp_tap_blocks(l, x, cx.step.batch))
        .map(|(_, (taps, c_out, c_in))| {
            let r = b.region(&format!("{}.w_bpT", l.name), RegionKind::Weights, 2 * kk * nn);
            (r, taps, c_in, c_out)
        });
    let srste = cx.step.method == "srste" && cx.step.numerics.shifts.sr_ste_shift.is_some();
    WuPlan {
        master,
        momentum,
        dense_w,
        bp_dense_taps,
        ff,
        bp,
        sr_ste: ff_sparse.filter(|_| srste).map(|s| s.pattern),
        cols: nn,
        rows: kk,
    }
}

/// Where the weight update writes the next step's compressed `dir` weights
/// (`w_ff` or `w_bp`, `rows × cols` before compression), with pre-generation
/// on and the pass sparse.
fn pregen_target(
    b: &mut Builder,
    cx: &LayerCx,
    s: Option<NmOperand>,
    dir: &str,
    rows: u64,
    cols: u64,
) -> Option<PregenTarget> {
    let s = s?;
    if !cx.pregen() {
        return None;
    }
    let l = cx.l;
    let kind = if dir == "w_ff" { RegionKind::WeightsFf } else { RegionKind::WeightsBp };
    let crow = rows * u64::from(s.pattern.n()) / u64::from(s.pattern.m());
    if cx.interleave() {
        let bytes = crow * DmaFormat::NmRow.row_bytes(cols, s.pattern.index_bits());
        Some((s.pattern, b.region(&format!("{}.{dir}.next", l.name), kind, bytes), None))
    } else {
        let v = b.region(&format!("{}.{dir}.next.values", l.name), kind, 2 * crow * cols);
        let ib = crow * DmaFormat::NmIndices.row_bytes(cols, s.pattern.index_bits());
        let i = b.region(&format!("{}.{dir}.next.indices", l.name), RegionKind::Indices, ib);
        Some((s.pattern, v, Some(i)))
    }
}
