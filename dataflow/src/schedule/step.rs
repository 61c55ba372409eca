//! The step driver: plans every GEMM of a training step and emits them in
//! the order the dataflow optimizations call for.

use std::collections::BTreeMap;

use super::builder::{Builder, Hazards};
use super::job::{GemmJob, OutKind, WSource, WuPlan};
use super::tile::{emit_gemm_job, emit_interleaved, interleave_pays};
use super::tiling::{Mapped, budget, choose_tiling, map_gemm};
use super::wu::emit_loss;
use super::{DataflowOptions, LayerWork, ScheduleError, StepWorkload};
use crate::arch::ArchConfig;
use crate::isa::{Deps, DmaFormat, Instr, NM_CHUNK};
use crate::program::{CompileInfo, GemmRecord, NO_LAYER, Program, RegionKind, Tag};
use crate::tokens::assign_tokens;
use crate::workload::{Gemm, GemmKind, Pass};

/// A convolution's BP as the transposed convolution over dO: the gather's
/// geometry and `(taps, C_out, C_in)`, when the layer's geometry is known and
/// `g` is its BP GEMM (`None` keeps the size-only model).
pub(super) fn bp_tap_blocks(l: &LayerWork, g: &Gemm, batch: u64) -> Option<(crate::im2col::ConvGeom, (u64, u64, u64))> {
    let geo = l.conv.and_then(|c| c.geom)?;
    if g.pass != Pass::Bp || g.kind != GemmKind::Weight || g.n != geo.k() {
        return None;
    }
    let tg = geo.transposed(u32::try_from(g.k).ok()?)?;
    let (p, q) = geo.out_hw();
    let c_in = u64::from(geo.ic);
    // Compressed tap blocks start on whole 16-column chunks.
    if g.m * g.count != batch * p * q || (g.sparse.is_some() && c_in % NM_CHUNK != 0) {
        return None;
    }
    Some((tg, (u64::from(geo.kh) * u64::from(geo.kw), g.k, c_in)))
}

/// Whether the interleave mapping may alternate BP and WG tiles in `step`
/// (splitting the activation buffer into two banks), as opposed to only
/// running its GEMMs drain-free in sequence.
///
/// Tile interleaving pairs a sparse BP with its layer's dense WG. Where
/// every BP is dense (dense training, SR-STE) there is no such pair, and the
/// halved activation slots cost more than interleaving two dense GEMMs gains
/// (ResNet-18 CIFAR b32 on sat-vu9p: +0.8% cycles dense, +1.0% SR-STE).
/// Without pre-generation the sparse BP sparsifies its weight tiles on the
/// compute queue through one scratch slot, which interleaving cannot overlap
/// (ResNet-18: 27.8 M cycles apart, 37.3 M interleaved). The naive schedule
/// (no offline scheduling) has no two tiles in flight.
pub fn can_interleave_tiles(step: &StepWorkload, opts: &DataflowOptions) -> bool {
    let sparse_bp = step.layers.iter().flat_map(|l| &l.gemms).any(|g| g.pass == Pass::Bp && g.sparse.is_some());
    opts.interleave && opts.pregen && opts.offline_schedule && sparse_bp
}

/// Compiles one training step into a SAT program.
pub fn compile_step(arch: &ArchConfig, step: &StepWorkload, opts: &DataflowOptions) -> Result<Program, ScheduleError> {
    compile_step_with(arch, step, opts, true)
}

/// Compiles one training step, choosing whether the interleave mapping may
/// alternate BP and WG tiles (`interleave_tiles`; it needs the activation
/// buffer split into two banks, which can cost more than it gains). With it
/// off and `opts.interleave` on, the GEMMs run in sequence but keep the
/// drain-free mode switches and the one-burst weight layout.
/// `nmsat_sim::compile_fastest` simulates both and keeps the faster.
pub fn compile_step_with(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    interleave_tiles: bool,
) -> Result<Program, ScheduleError> {
    for l in &step.layers {
        for g in &l.gemms {
            if let Some(s) = g.sparse {
                if !arch.supports(s.pattern) {
                    return Err(ScheduleError::Unsupported {
                        arch: arch.name.clone(),
                        pattern: s.pattern,
                        supported: arch.sparsity.patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                    });
                }
            }
        }
    }
    let budget = budget(arch, opts.offline_schedule, interleave_tiles && can_interleave_tiles(step, opts));
    let mut b = Builder {
        arch,
        prog: Program::new(arch.clone()),
        deps: Vec::new(),
        hz: Hazards::default(),
        region_ids: BTreeMap::new(),
        budget,
        a_ring: [0; 2],
        o_ring: 0,
        o_held: vec![false; budget.o_slots as usize],
        s_ring: 0,
        numerics: step.numerics,
        load_synced_with_store: None,
        store_synced_with_load: None,
        pending: Default::default(),
        tile_seq: 0,
        p_ring: 0,
        a_keys: vec![None; (budget.a_banks * budget.slots) as usize],
        w_keys: vec![None; budget.w_slots as usize],
        w_used: vec![0; budget.w_slots as usize],
        step: 0,
    };
    b.prog.info = CompileInfo {
        model: step.model.clone(),
        method: step.method.clone(),
        nm: step.nm.map(|p| p.to_string()),
        batch: step.batch,
        passes: opts.names(),
        gemms: Vec::new(),
    };
    for l in &step.layers {
        b.prog.layer_index(&l.name);
        for g in &l.gemms {
            b.prog.info.gemms.push(GemmRecord {
                layer: g.layer.clone(),
                pass: g.pass,
                m: g.m,
                n: g.n,
                k: g.k,
                count: g.count,
                mode: g.sparse.map_or("dense".to_string(), |s| s.pattern.to_string()),
            });
        }
    }
    let fm = step.numerics.formats;
    let ff_shift = i8::try_from(fm.ff_shift()).unwrap_or(i8::MAX);
    let bp_shift = i8::try_from(fm.bp_shift()).unwrap_or(i8::MAX);
    // Plan every GEMM.
    let mut ff_jobs = Vec::new();
    // Per layer: the BP weight GEMM, the WG weight GEMM (with fused WU), other GEMMs.
    let mut back: Vec<(Option<GemmJob>, Option<GemmJob>, Vec<GemmJob>)> = Vec::new();
    let mut prev_out: Option<(usize, u64, u64)> = None; // region, addr, elements
    let n_layers = step.layers.len();
    for (li, l) in step.layers.iter().enumerate() {
        let layer_idx = b.prog.layer_index(&l.name);
        let ff = l.gemms.iter().find(|g| g.pass == Pass::Ff);
        let weighted = l.gemms.iter().any(|g| g.kind == GemmKind::Weight);
        let mut extra_jobs = Vec::new();
        let mut bp_main = None;
        let mut wg_main = None;
        let dout_elems = ff.map_or(0, |f| f.m * f.count * f.n);
        for g in &l.gemms {
            let mut mp = map_gemm(g, l.conv);
            let tag = Tag { layer: layer_idx, pass: g.pass };
            let cap = |what: &str, v: u64| -> Result<(), ScheduleError> {
                if v >= 1 << 20 {
                    return Err(ScheduleError::TooLarge { layer: l.name.clone(), what: what.into(), value: v });
                }
                Ok(())
            };
            // FF and WG of a convolution with known geometry gather im2col tiles
            // from the NHWC input tensor (its pixels are FF's rows, WG's reduction).
            let im2col = l.conv.and_then(|c| c.geom).filter(|geo| {
                let (p, q) = geo.out_hw();
                let pixels = step.batch * p * q;
                g.kind == GemmKind::Weight
                    && match g.pass {
                        Pass::Ff => mp.m == pixels && mp.k == geo.k(),
                        Pass::Wg => mp.k == pixels && mp.m == geo.k(),
                        _ => false,
                    }
            });
            mp.gather = im2col.map(|geo| (geo, g.pass == Pass::Wg));
            // BP of a convolution with known geometry: the transposed convolution
            // over dO, gathered by load2col (rows: input pixels, reduction: taps·C_out).
            let bp_gather = bp_tap_blocks(l, g, step.batch);
            if let Some((tg, (taps, c_out, c_in))) = bp_gather {
                mp = Mapped {
                    m: step.batch * tg.out_hw().0 * tg.out_hw().1,
                    n: c_in,
                    k: taps * c_out,
                    mode: mp.mode,
                    a_reuse: (1, 1),
                    gather: Some((tg, false)),
                };
            }
            let elems_a = match im2col {
                Some(geo) => step.batch * geo.image_elems(),
                None => mp.m * mp.k * mp.a_reuse.1 / mp.a_reuse.0,
            };
            // Activation operand region (aliasing the previous layer's output when the sizes match).
            let a_region = match g.pass {
                Pass::Ff => match prev_out {
                    Some((id, addr, e)) if e == elems_a && g.kind == GemmKind::Weight => (id, addr),
                    _ => {
                        let kind = if li == 0 { RegionKind::Input } else { RegionKind::Activation };
                        let (id, addr) = b.region(&format!("{}.{}.in", l.name, g.pass), kind, 2 * elems_a);
                        (id, addr)
                    }
                },
                Pass::Bp => {
                    let elems = if g.kind == GemmKind::Weight { dout_elems } else { elems_a };
                    b.region(&format!("{}.dout", l.name), RegionKind::Gradient, 2 * elems)
                }
                Pass::Wg | Pass::Wu => {
                    // WG reads the FF input (Xᵀ) and dO; both regions exist already.
                    let name = format!("{}.{}.in", l.name, Pass::Ff);
                    match b.region_ids.get(&name) {
                        Some(&id) => (id, b.prog.regions[id].addr),
                        None => match ff_jobs.iter().rev().find(|j: &&GemmJob| j.tag.layer == layer_idx) {
                            Some(j) => j.a_region,
                            None => b.region(&name, RegionKind::Activation, 2 * elems_a),
                        },
                    }
                }
            };
            let ibits = g.sparse.map_or(0, |s| u64::from(s.pattern.index_bits()));
            let w_fmt = match g.sparse {
                Some(_) if opts.pregen => (2 * 16 + 2 * ibits, 16), // bytes per value incl. indices
                _ => (2, 1),
            };
            let o_tiles = if g.pass == Pass::Wg && weighted { 3 } else { 1 };
            let masked = li > 0 && step.layers[li - 1].relu;
            let on_the_fly = g.sparse.is_some() && !opts.pregen && g.pass != Pass::Wg;
            let k_block = None;
            let tiling =
                choose_tiling(arch, &mp, &b.budget, o_tiles, w_fmt, &l.name, g.pass, masked, on_the_fly, k_block)?;
            cap("tile rows", tiling.tm)?;
            cap("tile columns", tiling.tn)?;
            cap("tile reduction", tiling.tk)?;
            let w_src = match (g.pass, g.kind) {
                (Pass::Wg, _) => {
                    // The "weight" operand of WG is dO (PQB × C_out).
                    let (id, addr) =
                        b.region(&format!("{}.dout", l.name), RegionKind::Gradient, 2 * dout_elems.max(mp.k * mp.n));
                    WSource::Dense { region: (id, addr), transposed: false }
                }
                (_, GemmKind::Attention) => {
                    let (id, addr) =
                        b.region(&format!("{}.{}.attn_b", l.name, g.pass), RegionKind::Activation, 2 * mp.k * mp.n);
                    WSource::Dense { region: (id, addr), transposed: false }
                }
                (pass, GemmKind::Weight) => {
                    let dense = b.region(&format!("{}.w", l.name), RegionKind::Weights, 2 * mp.k * mp.n);
                    match g.sparse {
                        // The transposed convolution reads W′ᵀ (C_in × taps·C_out) as stored.
                        None if bp_gather.is_some() => WSource::Dense {
                            region: b.region(&format!("{}.w_bpT", l.name), RegionKind::Weights, 2 * mp.k * mp.n),
                            transposed: true,
                        },
                        None => WSource::Dense { region: dense, transposed: pass == Pass::Bp },
                        Some(s) => {
                            let dir = if pass == Pass::Ff { "w_ff" } else { "w_bp" };
                            let kind = if pass == Pass::Ff { RegionKind::WeightsFf } else { RegionKind::WeightsBp };
                            let rows = mp.k * u64::from(s.pattern.n()) / u64::from(s.pattern.m());
                            if !opts.pregen {
                                let (kk, nn) = if pass == Pass::Ff { (mp.k, mp.n) } else { (mp.n, mp.k) };
                                let master =
                                    b.region(&format!("{}.master", l.name), RegionKind::MasterWeights, 4 * kk * nn);
                                WSource::SparsifyOnTheFly {
                                    pattern: s.pattern,
                                    region: master,
                                    axis: u8::from(pass != Pass::Ff),
                                }
                            } else if opts.interleave {
                                let bytes = rows * DmaFormat::NmRow.row_bytes(mp.n, s.pattern.index_bits());
                                let v = b.region(&format!("{}.{dir}", l.name), kind, bytes);
                                WSource::Compressed { pattern: s.pattern, values: v, indices: None }
                            } else {
                                let v = b.region(&format!("{}.{dir}.values", l.name), kind, 2 * rows * mp.n);
                                let ib = rows * DmaFormat::NmIndices.row_bytes(mp.n, s.pattern.index_bits());
                                let i = b.region(&format!("{}.{dir}.indices", l.name), RegionKind::Indices, ib);
                                WSource::Compressed { pattern: s.pattern, values: v, indices: Some(i) }
                            }
                        }
                    }
                }
            };
            let out = match g.pass {
                Pass::Wg if weighted => {
                    let (kk, nn) = ff.map_or((mp.m, mp.n), |f| (f.k, f.n));
                    let master = b.region(&format!("{}.master", l.name), RegionKind::MasterWeights, 4 * kk * nn);
                    let momentum = b.region(&format!("{}.momentum", l.name), RegionKind::Momentum, 4 * kk * nn);
                    let ff_sparse = l.gemms.iter().find(|x| x.pass == Pass::Ff).and_then(|x| x.sparse);
                    let bp_sparse = l.gemms.iter().find(|x| x.pass == Pass::Bp).and_then(|x| x.sparse);
                    let needs_dense = ff_sparse.is_none() || bp_sparse.is_none() || !opts.pregen;
                    let dense_w = if needs_dense {
                        Some(b.region(&format!("{}.w", l.name), RegionKind::Weights, 2 * kk * nn))
                    } else {
                        None
                    };
                    let pre =
                        |b: &mut Builder, s: Option<crate::workload::NmOperand>, dir: &str, rows: u64, cols: u64| {
                            let s = s?;
                            if !opts.pregen {
                                return None;
                            }
                            let kind = if dir == "w_ff" { RegionKind::WeightsFf } else { RegionKind::WeightsBp };
                            let crow = rows * u64::from(s.pattern.n()) / u64::from(s.pattern.m());
                            if opts.interleave {
                                let bytes = crow * DmaFormat::NmRow.row_bytes(cols, s.pattern.index_bits());
                                Some((s.pattern, b.region(&format!("{}.{dir}.next", l.name), kind, bytes), None))
                            } else {
                                let v = b.region(&format!("{}.{dir}.next.values", l.name), kind, 2 * crow * cols);
                                let ib = crow * DmaFormat::NmIndices.row_bytes(cols, s.pattern.index_bits());
                                let i = b.region(&format!("{}.{dir}.next.indices", l.name), RegionKind::Indices, ib);
                                Some((s.pattern, v, Some(i)))
                            }
                        };
                    let ffp = pre(&mut b, ff_sparse, "w_ff", kk, nn);
                    let bpp = pre(&mut b, bp_sparse, "w_bp", nn, kk);
                    let bp_dense_taps = l
                        .gemms
                        .iter()
                        .find(|x| x.pass == Pass::Bp && x.sparse.is_none())
                        .and_then(|x| bp_tap_blocks(l, x, step.batch))
                        .map(|(_, (taps, c_out, c_in))| {
                            let r = b.region(&format!("{}.w_bpT", l.name), RegionKind::Weights, 2 * kk * nn);
                            (r, taps, c_in, c_out)
                        });
                    OutKind::WeightUpdate(Box::new(WuPlan {
                        master,
                        momentum,
                        dense_w,
                        bp_dense_taps,
                        ff: ffp,
                        bp: bpp,
                        sr_ste: ff_sparse
                            .filter(|_| step.method == "srste" && step.numerics.shifts.sr_ste_shift.is_some())
                            .map(|s| s.pattern),
                        cols: nn,
                        rows: kk,
                    }))
                }
                Pass::Bp => {
                    let elems = mp.m * mp.n;
                    let region = match li {
                        0 => b.region(&format!("{}.din", l.name), RegionKind::Gradient, 2 * elems),
                        _ => {
                            let prev = &step.layers[li - 1].name;
                            let name = format!("{prev}.dout");
                            match b.region_ids.get(&name) {
                                Some(&id) if b.prog.regions[id].bytes == 2 * elems => (id, b.prog.regions[id].addr),
                                Some(_) => b.region(&format!("{}.din", l.name), RegionKind::Gradient, 2 * elems),
                                None => b.region(&name, RegionKind::Gradient, 2 * elems),
                            }
                        }
                    };
                    let mask = if li > 0 && step.layers[li - 1].relu {
                        Some(a_region_of_ff(&b, &l.name, layer_idx, &ff_jobs))
                    } else {
                        None
                    };
                    let mask = mask.flatten();
                    OutKind::Activation { region, relu: false, mask, row: mp.n, shift: bp_shift }
                }
                _ => {
                    let elems = mp.m * mp.n;
                    let name = if li + 1 < n_layers { format!("{}.out", l.name) } else { format!("{}.logits", l.name) };
                    let region = b.region(&name, RegionKind::Activation, 2 * elems);
                    OutKind::Activation {
                        region,
                        relu: l.relu && g.pass == Pass::Ff,
                        mask: None,
                        row: mp.n,
                        shift: ff_shift,
                    }
                }
            };
            let a_trans =
                g.pass == Pass::Wg && g.kind == GemmKind::Weight && (mp.a_reuse == (1, 1) || im2col.is_some());
            let job = GemmJob {
                tag,
                layer: l.name.clone(),
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
            };
            match g.pass {
                Pass::Ff => {
                    if g.kind == GemmKind::Weight {
                        if let OutKind::Activation { region, .. } = &job.out {
                            prev_out = Some((region.0, region.1, mp.m * mp.n));
                        }
                    }
                    ff_jobs.push(job);
                }
                Pass::Bp if g.kind == GemmKind::Weight => bp_main = Some(job),
                Pass::Wg if g.kind == GemmKind::Weight => wg_main = Some(job),
                _ => extra_jobs.push(job),
            }
        }
        back.push((bp_main, wg_main, extra_jobs));
    }
    // Forward pass.
    for j in &ff_jobs {
        emit_gemm_job(&mut b, j, opts)?;
    }
    // Loss gradient.
    b.flush();
    emit_loss(&mut b, step, &ff_jobs)?;
    // Backward: layers in reverse; BP of layer l interleaved with WG(+WU) of layer l.
    if opts.interleave {
        // Interleave mapping: each layer's sparse BP and dense WG (with its
        // weight update) run together, mode switches cost no drain, and the
        // WG of layer l fills the gap while BP of layer l-1 waits for dX_l.
        for (bp, wg, extra) in back.iter().rev() {
            match (bp, wg) {
                (Some(bp), Some(wg))
                    if b.budget.a_banks == 2 && b.budget.o_slots >= 3 && interleave_pays(arch, bp, wg) =>
                {
                    emit_interleaved(&mut b, bp, wg, opts)?;
                }
                _ => {
                    for j in bp.iter().chain(wg.iter()) {
                        emit_gemm_job(&mut b, j, opts)?;
                    }
                }
            }
            for j in extra {
                emit_gemm_job(&mut b, j, opts)?;
            }
        }
    } else {
        // Without it: the same layer order, but every mode switch (sparse BP
        // to dense WG and back) drains the array (`il = 0`), and compressed
        // weights come as separate value and index arrays (two DMAs).
        for (bp, wg, extra) in back.iter().rev() {
            for j in bp.iter().chain(wg.iter()).chain(extra.iter()) {
                emit_gemm_job(&mut b, j, opts)?;
            }
        }
    }
    b.flush();
    let halt_tag = Tag { layer: NO_LAYER, pass: Pass::Wu };
    b.prog.push(Instr::Halt { deps: Deps::default() }, halt_tag);
    b.deps.push(Vec::new());
    let mut prog = b.prog;
    assign_tokens(&mut prog.instrs, &b.deps);
    Ok(prog)
}

pub(super) fn a_region_of_ff(b: &Builder, _name: &str, layer: u32, ff_jobs: &[GemmJob]) -> Option<(usize, u64)> {
    let _ = b;
    ff_jobs.iter().find(|j| j.tag.layer == layer).map(|j| j.a_region)
}
