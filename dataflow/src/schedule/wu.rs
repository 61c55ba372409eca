//! The epilogues that are more than a store: the fused weight update of a
//! WG tile (SGD with momentum, SR-STE's decay mask, the dense copies, and
//! pre-generation of the next step's compressed weights) and the loss
//! gradient between the forward and backward passes.

use super::builder::{Builder, Res, u32c};
use super::job::{GemmJob, OutKind, PregenTarget, RegionRef, WuPlan};
use super::operands::TileRect;
use super::{ScheduleError, StepWorkload};
use crate::isa::{Buf, Deps, DmaFormat, Instr, NO_SHIFT, VecOp};
use crate::nm::NmPattern;
use crate::program::{RegionKind, Tag};
use crate::workload::Pass;

/// `p4` of `vec sgd` that disables weight decay.
pub const NO_WEIGHT_DECAY: u8 = crate::isa::NO_SHIFT;

/// Where one WG tile's weight update works.
#[derive(Debug, Clone, Copy)]
struct WuTile {
    tag: Tag,
    /// The weight tile: first row and column, rows and columns.
    m0: u64,
    n0: u64,
    tm: u64,
    tn: u64,
    /// The output slot: the gradient accumulators at its bottom
    /// (`o_res`), master weights and momentum staged at its top (`u_res`).
    o_res: Res,
    u_res: Res,
    grad: u64,
    mom: u64,
    master: u64,
    /// Staging slot of the int16 results (operand weights, SR-STE's flags).
    s_res: Res,
    s_base: u64,
}

impl WuTile {
    fn len(&self) -> u64 {
        self.tm * self.tn
    }
}

/// Queues the weight update of WG tile `tile`, whose gradient is in output
/// slot `o_slot`: load master weights and momentum, SGD, store them back
/// with the int16 weights FF and BP read next step (dense, `W′ᵀ` of a
/// transposed convolution, or pre-generated N:M).
pub(super) fn emit_wu(
    b: &mut Builder,
    wu: &WuPlan,
    j: &GemmJob,
    tile: TileRect,
    o_slot: u64,
) -> Result<(), ScheduleError> {
    let (m0, n0, tm, tn) = tile;
    let len = tm * tn;
    let o_base = o_slot * b.budget.o_slot;
    // Master weights and momentum are staged at the top of the slot, so a
    // later tile's accumulators (at its bottom) can only reach them if they
    // take more than a third of the slot (see `emit_gemm`).
    let top = o_base + b.budget.o_slot;
    let s_slot = Builder::next(&mut b.s_ring, b.budget.slots);
    let t = WuTile {
        tag: Tag { layer: j.tag.layer, pass: Pass::Wu },
        m0,
        n0,
        tm,
        tn,
        o_res: Res::OSlot(o_slot),
        u_res: Res::OWu(o_slot),
        grad: o_base,
        mom: top - 2 * len,
        master: top - len,
        s_res: Res::Stage(s_slot),
        s_base: b.budget.stage_base(s_slot),
    };
    defer_state(b, wu, &t, false);
    let sr_ste = defer_sr_ste_flags(b, wu, j, &t)?;
    defer_sgd(b, &t, sr_ste);
    defer_state(b, wu, &t, true);
    if let Some(taps) = wu.bp_dense_taps {
        defer_transposed_conv_weights(b, &t, taps);
    }
    if let Some(dw) = &wu.dense_w {
        let store = store_i16(dw.1 + 2 * (m0 * wu.cols + n0), t.s_base, (tm, tn), 2 * wu.cols);
        b.defer(store, t.tag, &[t.s_res], &[Res::Dram(dw.0)]);
    }
    // Pre-generation: W_ff (groups along rows = K) and W_bp (along columns, transposed).
    for (target, axis) in [(&wu.ff, 0u8), (&wu.bp, 1u8)] {
        if let Some(target) = target {
            defer_pregen(b, wu, &t, *target, axis);
        }
    }
    Ok(())
}

/// Loads (`store` false) or stores the int32 master weights and momentum
/// of the tile, tile by tile in DRAM so that a tile's loads need not wait
/// for the previous tile's stores.
fn defer_state(b: &mut Builder, wu: &WuPlan, t: &WuTile, store: bool) {
    let cols = wu.cols;
    let at = t.m0 * cols + t.n0;
    for (src, sram) in [(&wu.master, t.master), (&wu.momentum, t.mom)] {
        let (dram, rows, cols_, stride) = (src.1 + 4 * at, u32c(t.tm), u32c(t.tn), 4 * cols);
        let tile_res = Res::DramTile(src.0, at);
        if store {
            let instr = Instr::Store {
                deps: Deps::default(),
                buf: Buf::O,
                fmt: DmaFormat::I32,
                index_bits: 0,
                dram,
                sram: u32c(sram),
                rows,
                cols: cols_,
                stride,
                shift: 0,
                relu: false,
            };
            b.defer(instr, t.tag, &[t.u_res], &[tile_res]);
        } else {
            let instr = Instr::Load {
                deps: Deps::default(),
                buf: Buf::O,
                fmt: DmaFormat::I32,
                index_bits: 0,
                dram,
                sram: u32c(sram),
                rows,
                cols: cols_,
                stride,
            };
            b.defer(instr, t.tag, &[tile_res], &[t.u_res]);
        }
    }
}

/// SR-STE: the sparsifier writes the FF mask's pruned flags where the SGD
/// then writes the new operand weights (it reads each flag first). Returns
/// the SR-STE shift for the SGD, when SR-STE is on.
fn defer_sr_ste_flags(b: &mut Builder, wu: &WuPlan, j: &GemmJob, t: &WuTile) -> Result<Option<u8>, ScheduleError> {
    let (Some(p), Some(shift)) = (wu.sr_ste, b.numerics.shifts.sr_ste_shift) else { return Ok(None) };
    if t.tm % u64::from(p.m()) != 0 {
        return Err(ScheduleError::NoTiling {
            layer: j.layer.clone(),
            pass: Pass::Wu,
            m: t.tm,
            n: t.tn,
            k: 0,
            arch: b.arch.name.clone(),
            reason: format!("an SR-STE weight-update tile of {} rows splits N:M groups of {}", t.tm, p.m()),
        });
    }
    let sparsify = Instr::Sparsify {
        deps: Deps::default(),
        pattern: p,
        axis: 0,
        master: true,
        mask_out: true,
        rows: u32c(t.tm),
        cols: u32c(t.tn),
        src: u32c(t.master),
        dst: u32c(t.s_base),
    };
    b.defer(sparsify, t.tag, &[t.u_res], &[t.s_res]);
    Ok(Some(u8::try_from(shift).unwrap_or(NO_SHIFT - 1)))
}

/// SGD with momentum on the vector unit: updates master weights and
/// momentum in place and writes the int16 operand weights to the staging slot.
fn defer_sgd(b: &mut Builder, t: &WuTile, sr_ste: Option<u8>) {
    let sh = b.numerics.shifts;
    let sgd = Instr::Vec {
        deps: Deps::default(),
        op: VecOp::Sgd,
        len: u32c(t.len()),
        src: u32c(t.grad),
        src2: u32c(t.mom),
        dst: u32c(t.master),
        aux: u32c(t.s_base),
        shift: i8::try_from(b.numerics.formats.wg_shift()).unwrap_or(i8::MAX),
        p1: sh.lr_shift as u8,
        p2: sh.momentum_shift.map_or(0, |x| x as u8),
        p3: sh.grad_align as u8,
        p4: sh.weight_decay_shift.map_or(NO_WEIGHT_DECAY, |x| x as u8),
        mask: if sr_ste.is_some() { u32c(t.s_base) } else { 0 },
        p5: sr_ste.unwrap_or(NO_SHIFT),
    };
    let reads = if sr_ste.is_some() { vec![t.o_res, t.u_res, t.s_res] } else { vec![t.o_res, t.u_res] };
    b.defer(sgd, t.tag, &reads, &[t.u_res, t.s_res]);
}

/// A row-major int16 store from the activation buffer, no requantization.
fn store_i16(dram: u64, sram: u64, (rows, cols): (u64, u64), stride: u64) -> Instr {
    Instr::Store {
        deps: Deps::default(),
        buf: Buf::A,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram,
        sram: u32c(sram),
        rows: u32c(rows),
        cols: u32c(cols),
        stride,
        shift: 0,
        relu: false,
    }
}

/// The dense weights of a convolution whose BP runs as a transposed
/// convolution, also stored as `W′ᵀ` (`C_in × taps·C_out`, taps flipped):
/// row (t, c) of the tile goes to row c, column block taps − 1 − t.
fn defer_transposed_conv_weights(b: &mut Builder, t: &WuTile, (region, taps, c_in, c_out): (RegionRef, u64, u64, u64)) {
    let kp = taps * c_out;
    let mut r = t.m0;
    while r < t.m0 + t.tm {
        let (tap, c) = (r / c_in, r % c_in);
        let run = (c_in - c).min(t.m0 + t.tm - r);
        let dram = region.1 + 2 * (c * kp + (taps - 1 - tap) * c_out + t.n0);
        let store = store_i16(dram, t.s_base + (r - t.m0) * t.tn, (run, t.tn), 2 * kp);
        b.defer(store, t.tag, &[t.s_res], &[Res::Dram(region.0)]);
        r += run;
    }
}

/// Pre-generation of one pass's weights for the next step: the sparsifier
/// picks the N:M masks on the updated master weights (as BDWP does) and
/// compresses them, along rows for `W_ff` (`axis` 0) or along columns and
/// transposed for `W_bp` (`axis` 1); the compressed block is stored. A tile
/// that splits N:M groups is skipped.
fn defer_pregen(b: &mut Builder, wu: &WuPlan, t: &WuTile, (p, values, indices): PregenTarget, axis: u8) {
    let grouped = if axis == 0 { t.tm } else { t.tn };
    if grouped % u64::from(p.m()) != 0 {
        return;
    }
    let p_slot = Builder::next(&mut b.p_ring, b.budget.slots);
    let w_res = Res::PSlot(p_slot);
    let w_base = 4 * b.budget.w_slot + p_slot * b.budget.pregen_slot;
    let sparsify = Instr::Sparsify {
        deps: Deps::default(),
        pattern: p,
        axis,
        master: true,
        mask_out: false,
        rows: u32c(t.tm),
        cols: u32c(t.tn),
        src: u32c(t.master),
        dst: u32c(w_base),
    };
    b.defer(sparsify, t.tag, &[t.u_res], &[w_res]);
    // Compressed block: axis 0 → (tm·N/M) × tn at rows m0·N/M, cols n0 of a (K·N/M)×N matrix;
    // axis 1 → (tn·N/M) × tm at rows n0·N/M, cols m0 of an (N·N/M)×K matrix.
    let nm = |x: u64| x * u64::from(p.n()) / u64::from(p.m());
    let block = if axis == 0 {
        CompressedBlock { rows: nm(t.tm), cols: t.tn, r0: nm(t.m0), c0: t.n0, full_cols: wu.cols }
    } else {
        CompressedBlock { rows: nm(t.tn), cols: t.tm, r0: nm(t.n0), c0: t.m0, full_cols: wu.rows }
    };
    defer_store_compressed(b, t.tag, p, (values, indices), &block, (w_base, w_res));
}

/// A block of a compressed weight matrix: its rows and columns, origin and
/// the matrix's full columns.
#[derive(Debug, Clone, Copy)]
struct CompressedBlock {
    rows: u64,
    cols: u64,
    r0: u64,
    c0: u64,
    full_cols: u64,
}

/// Stores a compressed block from the sparsifier's slot (`w_base`): in the
/// interleaved `nm_row` layout (one DMA), or as values and indices apart.
fn defer_store_compressed(
    b: &mut Builder,
    tag: Tag,
    p: NmPattern,
    (values, indices): (RegionRef, Option<RegionRef>),
    k: &CompressedBlock,
    (w_base, w_res): (u64, Res),
) {
    let ib = p.index_bits();
    let store = |fmt: DmaFormat, dram: u64, stride: u64| Instr::Store {
        deps: Deps::default(),
        buf: Buf::W,
        fmt,
        index_bits: ib as u8,
        dram,
        sram: u32c(w_base),
        rows: u32c(k.rows),
        cols: u32c(k.cols),
        stride,
        shift: 0,
        relu: false,
    };
    match indices {
        None => {
            let row = DmaFormat::NmRow.row_bytes(k.full_cols, ib);
            let dram = values.1 + k.r0 * row + DmaFormat::NmRow.row_bytes(k.c0, ib);
            b.defer(store(DmaFormat::NmRow, dram, row), tag, &[w_res], &[Res::Dram(values.0)]);
        }
        Some(ix) => {
            let dram = values.1 + 2 * (k.r0 * k.full_cols + k.c0);
            b.defer(store(DmaFormat::NmValues, dram, 2 * k.full_cols), tag, &[w_res], &[Res::Dram(values.0)]);
            let row = DmaFormat::NmIndices.row_bytes(k.full_cols, ib);
            let dram = ix.1 + k.r0 * row + (k.c0 * u64::from(ib) / 8).min(row.saturating_sub(1));
            b.defer(store(DmaFormat::NmIndices, dram, row), tag, &[w_res], &[Res::Dram(ix.0)]);
        }
    }
}

/// Softmax cross-entropy gradient of the logits (the last FF's output) into
/// the last layer's dO, in row chunks that fit a slot.
pub(super) fn emit_loss(b: &mut Builder, step: &StepWorkload, ff_jobs: &[GemmJob]) {
    let Some(last) = ff_jobs.last() else { return };
    let OutKind::Activation { region: logits, .. } = &last.out else { return };
    let classes = step.classes.max(1);
    let rows_total = last.mp.m;
    let tag = Tag { layer: last.tag.layer, pass: Pass::Bp };
    let Some([labels, grad]) = loss_regions(b, ff_jobs) else { return };
    let per = (b.budget.a_slot / (classes + 1)).max(1);
    let fm = step.numerics.formats;
    let mut r0 = 0;
    while r0 < rows_total {
        let rows = per.min(rows_total - r0);
        let chunk = LossChunk { r0, rows, classes, act_frac: fm.act_frac as u8, grad_frac: fm.grad_frac as u8 };
        emit_loss_chunk(b, tag, &chunk, [*logits, labels, grad]);
        r0 += rows;
    }
}

/// The DRAM regions of the loss gradient (labels, gradient of the logits),
/// allocated on first call. The driver calls it before emitting anything,
/// so the memory map is complete when the first instruction goes out (a
/// streamed program's header comes first).
pub(super) fn loss_regions(b: &mut Builder, ff_jobs: &[GemmJob]) -> Option<[RegionRef; 2]> {
    let last = ff_jobs.last()?;
    let OutKind::Activation { .. } = &last.out else { return None };
    let rows_total = last.mp.m;
    let labels = b.region("labels", RegionKind::Labels, 2 * rows_total);
    let grad = b.region(&format!("{}.dout", last.layer), RegionKind::Gradient, 2 * rows_total * last.mp.n);
    Some([labels, grad])
}

/// Refuses a step whose loss-gradient row (its logits and label) does not
/// fit an activation slot: `vec lossgrad` needs whole rows.
pub(super) fn check_loss(b: &Builder, step: &StepWorkload, ff_jobs: &[GemmJob]) -> Result<(), ScheduleError> {
    let Some(last) = ff_jobs.last() else { return Ok(()) };
    let OutKind::Activation { .. } = &last.out else { return Ok(()) };
    let classes = step.classes.max(1);
    if classes + 1 > b.budget.a_slot {
        return Err(ScheduleError::LossRowTooWide {
            layer: last.layer.clone(),
            classes,
            slot: b.budget.a_slot,
            arch: b.arch.name.clone(),
        });
    }
    Ok(())
}

/// Rows `r0..r0 + rows` of the loss gradient and its fixed-point formats.
#[derive(Debug, Clone, Copy)]
struct LossChunk {
    r0: u64,
    rows: u64,
    classes: u64,
    act_frac: u8,
    grad_frac: u8,
}

/// One chunk of the loss gradient: load its logits and labels, run
/// `vec lossgrad`, store the gradient.
fn emit_loss_chunk(b: &mut Builder, tag: Tag, c: &LossChunk, [logits, labels, grad]: [RegionRef; 3]) {
    let slots = b.budget.slots;
    let a_slot = Builder::next(&mut b.a_ring[0], slots);
    b.a_keys[a_slot as usize] = None;
    let a_res = Res::ASlot(a_slot);
    let a_base = a_slot * b.budget.a_slot;
    let len = c.rows * c.classes;
    let load = |dram: u64, sram: u64, rows: u64, cols: u64, stride: u64| Instr::Load {
        deps: Deps::default(),
        buf: Buf::A,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram,
        sram: u32c(sram),
        rows: u32c(rows),
        cols: u32c(cols),
        stride,
    };
    let logits_in = load(logits.1 + 2 * c.r0 * c.classes, a_base, c.rows, c.classes, 2 * c.classes);
    b.emit(logits_in, tag, &[Res::Dram(logits.0)], &[a_res]);
    let labels_in = load(labels.1 + 2 * c.r0, a_base + len, 1, c.rows, 2 * c.rows);
    b.emit(labels_in, tag, &[Res::Dram(labels.0)], &[a_res]);
    let s_slot = Builder::next(&mut b.s_ring, slots);
    let s_res = Res::Stage(s_slot);
    let s_base = b.budget.stage_base(s_slot);
    let loss = Instr::Vec {
        deps: Deps::default(),
        op: VecOp::LossGrad,
        len: u32c(len),
        src: u32c(a_base),
        src2: u32c(a_base + len),
        dst: u32c(s_base),
        aux: u32c(c.classes),
        shift: 0,
        p1: c.act_frac,
        p2: c.grad_frac,
        p3: 0,
        p4: 0,
        mask: 0,
        p5: NO_SHIFT,
    };
    b.emit(loss, tag, &[a_res], &[s_res]);
    let store = store_i16(grad.1 + 2 * c.r0 * c.classes, s_base, (c.rows, c.classes), 2 * c.classes);
    b.emit(store, tag, &[s_res], &[Res::Dram(grad.0)]);
}
