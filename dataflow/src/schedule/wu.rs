//! The epilogues that are more than a store: the fused weight update of a
//! WG tile (SGD, SR-STE, pre-generation of compressed weights) and the loss
//! gradient between the forward and backward passes.

use super::builder::{Builder, Res, u32c};
use super::job::{GemmJob, OutKind, WuPlan};
use super::{DataflowOptions, ScheduleError, StepWorkload};
use crate::isa::{Buf, Deps, DmaFormat, Instr, NO_SHIFT, VecOp};
use crate::program::{RegionKind, Tag};
use crate::workload::Pass;

/// `p4` of `vec sgd` that disables weight decay.
pub const NO_WEIGHT_DECAY: u8 = crate::isa::NO_SHIFT;

#[allow(clippy::too_many_lines)]
pub(super) fn emit_wu(
    b: &mut Builder,
    wu: &WuPlan,
    j: &GemmJob,
    (m0, n0, tm, tn): (u64, u64, u64, u64),
    o_slot: u64,
    _opts: &DataflowOptions,
) -> Result<(), ScheduleError> {
    let tag = Tag { layer: j.tag.layer, pass: Pass::Wu };
    let slots = b.budget.slots;
    let o_res = Res::OSlot(o_slot);
    let u_res = Res::OWu(o_slot);
    let len = tm * tn;
    let o_base = o_slot * b.budget.o_slot;
    // Master weights and momentum are staged at the top of the slot, so a
    // later tile's accumulators (at its bottom) can only reach them if they
    // take more than a third of the slot (see `emit_tile`).
    let top = o_base + b.budget.o_slot;
    let (grad, mom, master) = (o_base, top - 2 * len, top - len);
    let cols = wu.cols;
    let d32 = |r: &(usize, u64)| r.1 + 4 * (m0 * cols + n0);
    for (src, at) in [(&wu.master, master), (&wu.momentum, mom)] {
        b.defer(
            Instr::Load {
                deps: Deps::default(),
                buf: Buf::O,
                fmt: DmaFormat::I32,
                index_bits: 0,
                dram: d32(src),
                sram: u32c(at),
                rows: u32c(tm),
                cols: u32c(tn),
                stride: 4 * cols,
            },
            tag,
            &[Res::DramTile(src.0, m0 * cols + n0)],
            &[u_res],
        );
    }
    let s_slot = Builder::next(&mut b.s_ring, slots);
    let s_res = Res::Stage(s_slot);
    let s_base = b.budget.stage_base(s_slot);
    // SR-STE: the sparsifier writes the FF mask's pruned flags where the
    // SGD then writes the new operand weights (it reads each flag first).
    let sr_ste = match (wu.sr_ste, b.numerics.shifts.sr_ste_shift) {
        (Some(p), Some(shift)) => {
            if tm % u64::from(p.m()) != 0 {
                return Err(ScheduleError::NoTiling {
                    layer: j.layer.clone(),
                    pass: Pass::Wu,
                    m: tm,
                    n: tn,
                    k: 0,
                    arch: b.arch.name.clone(),
                    reason: format!("an SR-STE weight-update tile of {tm} rows splits N:M groups of {}", p.m()),
                });
            }
            b.defer(
                Instr::Sparsify {
                    deps: Deps::default(),
                    pattern: p,
                    axis: 0,
                    master: true,
                    mask_out: true,
                    rows: u32c(tm),
                    cols: u32c(tn),
                    src: u32c(master),
                    dst: u32c(s_base),
                },
                tag,
                &[u_res],
                &[s_res],
            );
            Some(u8::try_from(shift).unwrap_or(NO_SHIFT - 1))
        }
        _ => None,
    };
    let sgd_reads = if sr_ste.is_some() { vec![o_res, u_res, s_res] } else { vec![o_res, u_res] };
    b.defer(
        Instr::Vec {
            deps: Deps::default(),
            op: VecOp::Sgd,
            len: u32c(len),
            src: u32c(grad),
            src2: u32c(mom),
            dst: u32c(master),
            aux: u32c(s_base),
            shift: i8::try_from(b.numerics.formats.wg_shift()).unwrap_or(i8::MAX),
            p1: b.numerics.shifts.lr_shift as u8,
            p2: b.numerics.shifts.momentum_shift.map_or(0, |x| x as u8),
            p3: b.numerics.shifts.grad_align as u8,
            p4: b.numerics.shifts.weight_decay_shift.map_or(NO_WEIGHT_DECAY, |x| x as u8),
            mask: if sr_ste.is_some() { u32c(s_base) } else { 0 },
            p5: sr_ste.unwrap_or(NO_SHIFT),
        },
        tag,
        &sgd_reads,
        &[u_res, s_res],
    );
    for (src, at) in [(&wu.master, master), (&wu.momentum, mom)] {
        b.defer(
            Instr::Store {
                deps: Deps::default(),
                buf: Buf::O,
                fmt: DmaFormat::I32,
                index_bits: 0,
                dram: d32(src),
                sram: u32c(at),
                rows: u32c(tm),
                cols: u32c(tn),
                stride: 4 * cols,
                shift: 0,
                relu: false,
            },
            tag,
            &[u_res],
            &[Res::DramTile(src.0, m0 * cols + n0)],
        );
    }
    if let Some((region, taps, c_in, c_out)) = wu.bp_dense_taps {
        // Row (t, c) of the tile goes to row c, column block taps − 1 − t of W′ᵀ.
        let kp = taps * c_out;
        let mut r = m0;
        while r < m0 + tm {
            let (t, c) = (r / c_in, r % c_in);
            let run = (c_in - c).min(m0 + tm - r);
            b.defer(
                Instr::Store {
                    deps: Deps::default(),
                    buf: Buf::A,
                    fmt: DmaFormat::I16,
                    index_bits: 0,
                    dram: region.1 + 2 * (c * kp + (taps - 1 - t) * c_out + n0),
                    sram: u32c(s_base + (r - m0) * tn),
                    rows: u32c(run),
                    cols: u32c(tn),
                    stride: 2 * kp,
                    shift: 0,
                    relu: false,
                },
                tag,
                &[s_res],
                &[Res::Dram(region.0)],
            );
            r += run;
        }
    }
    if let Some(dw) = &wu.dense_w {
        b.defer(
            Instr::Store {
                deps: Deps::default(),
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: dw.1 + 2 * (m0 * cols + n0),
                sram: u32c(s_base),
                rows: u32c(tm),
                cols: u32c(tn),
                stride: 2 * cols,
                shift: 0,
                relu: false,
            },
            tag,
            &[s_res],
            &[Res::Dram(dw.0)],
        );
    }
    // Pre-generation: W_ff (groups along rows = K) and W_bp (along columns, transposed).
    for (plan, axis) in [(&wu.ff, 0u8), (&wu.bp, 1u8)] {
        let Some((p, values, indices)) = plan else { continue };
        let grouped = if axis == 0 { tm } else { tn };
        if grouped % u64::from(p.m()) != 0 {
            continue;
        }
        let p_slot = Builder::next(&mut b.p_ring, slots);
        let w_res = Res::PSlot(p_slot);
        let w_base = 4 * b.budget.w_slot + p_slot * b.budget.pregen_slot;
        b.defer(
            // Masks are chosen on the updated master weights, as BDWP does.
            Instr::Sparsify {
                deps: Deps::default(),
                pattern: *p,
                axis,
                master: true,
                mask_out: false,
                rows: u32c(tm),
                cols: u32c(tn),
                src: u32c(master),
                dst: u32c(w_base),
            },
            tag,
            &[u_res],
            &[w_res],
        );
        // Compressed block: axis 0 → (tm·N/M) × tn at rows m0·N/M, cols n0 of a (K·N/M)×N matrix;
        // axis 1 → (tn·N/M) × tm at rows n0·N/M, cols m0 of an (N·N/M)×K matrix.
        let (crows, ccols, r0, c0, full_cols) = if axis == 0 {
            (tm * u64::from(p.n()) / u64::from(p.m()), tn, m0 * u64::from(p.n()) / u64::from(p.m()), n0, cols)
        } else {
            (tn * u64::from(p.n()) / u64::from(p.m()), tm, n0 * u64::from(p.n()) / u64::from(p.m()), m0, wu.rows)
        };
        let ib = p.index_bits();
        match indices {
            None => {
                let row = DmaFormat::NmRow.row_bytes(full_cols, ib);
                b.defer(
                    Instr::Store {
                        deps: Deps::default(),
                        buf: Buf::W,
                        fmt: DmaFormat::NmRow,
                        index_bits: ib as u8,
                        dram: values.1 + r0 * row + DmaFormat::NmRow.row_bytes(c0, ib),
                        sram: u32c(w_base),
                        rows: u32c(crows),
                        cols: u32c(ccols),
                        stride: row,
                        shift: 0,
                        relu: false,
                    },
                    tag,
                    &[w_res],
                    &[Res::Dram(values.0)],
                );
            }
            Some(ix) => {
                b.defer(
                    Instr::Store {
                        deps: Deps::default(),
                        buf: Buf::W,
                        fmt: DmaFormat::NmValues,
                        index_bits: ib as u8,
                        dram: values.1 + 2 * (r0 * full_cols + c0),
                        sram: u32c(w_base),
                        rows: u32c(crows),
                        cols: u32c(ccols),
                        stride: 2 * full_cols,
                        shift: 0,
                        relu: false,
                    },
                    tag,
                    &[w_res],
                    &[Res::Dram(values.0)],
                );
                let row = DmaFormat::NmIndices.row_bytes(full_cols, ib);
                b.defer(
                    Instr::Store {
                        deps: Deps::default(),
                        buf: Buf::W,
                        fmt: DmaFormat::NmIndices,
                        index_bits: ib as u8,
                        dram: ix.1 + r0 * row + (c0 * u64::from(ib) / 8).min(row.saturating_sub(1)),
                        sram: u32c(w_base),
                        rows: u32c(crows),
                        cols: u32c(ccols),
                        stride: row,
                        shift: 0,
                        relu: false,
                    },
                    tag,
                    &[w_res],
                    &[Res::Dram(ix.0)],
                );
            }
        }
    }
    Ok(())
}

/// Softmax cross-entropy gradient of the logits, row chunks that fit a slot.
pub(super) fn emit_loss(b: &mut Builder, step: &StepWorkload, ff_jobs: &[GemmJob]) -> Result<(), ScheduleError> {
    let Some(last) = ff_jobs.last() else { return Ok(()) };
    let OutKind::Activation { region: logits, .. } = &last.out else { return Ok(()) };
    let classes = step.classes.max(1);
    let rows_total = last.mp.m;
    let tag = Tag { layer: last.tag.layer, pass: Pass::Bp };
    let labels = b.region("labels", RegionKind::Labels, 2 * rows_total);
    let grad = b.region(&format!("{}.dout", last.layer), RegionKind::Gradient, 2 * rows_total * last.mp.n);
    let per = (b.budget.a_slot / (classes + 1)).max(1);
    let slots = b.budget.slots;
    let mut r0 = 0;
    while r0 < rows_total {
        let rows = per.min(rows_total - r0);
        let a_slot = Builder::next(&mut b.a_ring[0], slots);
        b.a_keys[a_slot as usize] = None;
        let a_res = Res::ASlot(a_slot);
        let a_base = a_slot * b.budget.a_slot;
        let len = rows * classes;
        b.emit(
            Instr::Load {
                deps: Deps::default(),
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: logits.1 + 2 * r0 * classes,
                sram: u32c(a_base),
                rows: u32c(rows),
                cols: u32c(classes),
                stride: 2 * classes,
            },
            tag,
            &[Res::Dram(logits.0)],
            &[a_res],
        );
        b.emit(
            Instr::Load {
                deps: Deps::default(),
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: labels.1 + 2 * r0,
                sram: u32c(a_base + len),
                rows: 1,
                cols: u32c(rows),
                stride: 2 * rows,
            },
            tag,
            &[Res::Dram(labels.0)],
            &[a_res],
        );
        let s_slot = Builder::next(&mut b.s_ring, slots);
        let s_res = Res::Stage(s_slot);
        let s_base = b.budget.stage_base(s_slot);
        b.emit(
            Instr::Vec {
                deps: Deps::default(),
                op: VecOp::LossGrad,
                len: u32c(len),
                src: u32c(a_base),
                src2: u32c(a_base + len),
                dst: u32c(s_base),
                aux: u32c(classes),
                shift: 0,
                p1: step.numerics.formats.act_frac as u8,
                p2: step.numerics.formats.grad_frac as u8,
                p3: 0,
                p4: 0,
                mask: 0,
                p5: NO_SHIFT,
            },
            tag,
            &[a_res],
            &[s_res],
        );
        b.emit(
            Instr::Store {
                deps: Deps::default(),
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: grad.1 + 2 * r0 * classes,
                sram: u32c(s_base),
                rows: u32c(rows),
                cols: u32c(classes),
                stride: 2 * classes,
                shift: 0,
                relu: false,
            },
            tag,
            &[s_res],
            &[Res::Dram(grad.0)],
        );
        r0 += rows;
    }
    Ok(())
}
