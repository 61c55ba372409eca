//! The operand loads of one reduction step: the activation block (as
//! stored, read transposed, or gathered by `load2col`) and the weight tile
//! (dense, compressed in one or two arrays, or sparsified on the fly),
//! segment by segment where a transposed convolution's tile spans taps.

use super::builder::{Builder, Res, u32c};
use super::job::{GemmJob, RegionRef, WSource};
use crate::isa::{Buf, Deps, DmaFormat, Instr};
use crate::nm::NmPattern;
use crate::program::Tag;

/// An output tile: first row and column, rows and columns.
pub(super) type TileRect = (u64, u64, u64, u64);

/// Loads the activation operand of reduction step `k0..k0 + tk` of `tile`
/// into activation slot `a_slot`.
pub(super) fn load_activation(b: &mut Builder, j: &GemmJob, tile: TileRect, (k0, tk): (u64, u64), a_slot: u64) {
    let arch = b.arch;
    let mp = j.mp;
    let (m0, _, tm, _) = tile;
    let a_base = a_slot * b.budget.a_slot;
    let load = match j.im2col {
        // FF: pixels m0.. by columns k0..; WG (read transposed): pixels k0.. by columns m0...
        Some(geom) => {
            let (p0, rows, c0, cols) = if j.a_trans { (k0, tk, m0, tm) } else { (m0, tm, k0, tk) };
            let bursts = geom.gather_bursts(arch.dram.im2col, p0, rows, c0, cols, u64::from(arch.dram.burst_bytes));
            Instr::Load2col {
                deps: Deps::default(),
                dram: j.a_region.1,
                sram: u32c(a_base),
                rows: u32c(rows),
                cols: u32c(cols),
                p0: u32c(p0),
                k0: u32c(c0),
                geom,
                bursts: u32c(bursts),
            }
        }
        None => {
            // Raw rows (im2col reuse shrinks the columns moved). WG of a
            // linear layer reads Xᵀ: it loads the X block (batch rows,
            // feature columns) as stored and the GEMM reads it transposed.
            let raw_cols = (tk * mp.a_reuse.1).div_ceil(mp.a_reuse.0).max(1);
            let a_row_raw = (j.a_row * mp.a_reuse.1).div_ceil(mp.a_reuse.0).max(1);
            let (dram, rows, cols, stride) = if j.a_trans {
                (j.a_region.1 + 2 * (k0 * mp.m + m0), tk, tm, 2 * mp.m)
            } else {
                (j.a_region.1 + 2 * (m0 * a_row_raw + k0 * mp.a_reuse.1 / mp.a_reuse.0), tm, raw_cols, 2 * a_row_raw)
            };
            Instr::Load {
                deps: Deps::default(),
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram,
                sram: u32c(a_base),
                rows: u32c(rows),
                cols: u32c(cols),
                stride,
            }
        }
    };
    b.emit(load, j.tag, &[Res::Dram(j.a_region.0)], &[Res::ASlot(a_slot)]);
}

/// One piece of a weight tile as it is read: where it sits in the stored
/// operand and in the weight buffer.
#[derive(Debug, Clone, Copy)]
struct WSegment {
    /// Origin (row, column) in the stored operand, and the operand's full
    /// rows and columns.
    k0: u64,
    n0: u64,
    k_full: u64,
    n_full: u64,
    /// Reduction rows (before compression) and columns.
    tk: u64,
    tn: u64,
    /// Rows as stored (compressed N:M rows), at weight-buffer address `sram`.
    rows: u64,
    sram: u64,
}

/// Loads the weight operand of reduction step `k0..k0 + tk` of `tile` into
/// weight slot `w_slot`.
///
/// A transposed convolution's compressed (or sparsified) tile is read tap
/// by tap: each segment of its reduction from the flipped tap's block of
/// the stored `C_out × taps·C_in` operand; the segments stack as
/// consecutive compressed rows of the weight tile. Its dense operand is
/// stored as `W′ᵀ` already and reads in one piece, as does any other tile.
pub(super) fn load_weights(b: &mut Builder, j: &GemmJob, tile: TileRect, (k0, tk): (u64, u64), w_slot: u64) {
    let (num, den) = j.mp.mode.expansion();
    let (_, n0, _, tn) = tile;
    let by_tap = match (j.tap_blocks, &j.w_src) {
        (Some(blocks), WSource::Compressed { .. } | WSource::SparsifyOnTheFly { .. }) => Some(blocks),
        _ => None,
    };
    let w_base = w_slot * b.budget.w_slot;
    let mut sk0 = k0;
    while sk0 < k0 + tk {
        let (seg_end, at) = match by_tap {
            Some((taps, c_out, c_in)) => {
                let end = ((sk0 / c_out + 1) * c_out).min(k0 + tk);
                (end, (sk0 % c_out, (taps - 1 - sk0 / c_out) * c_in + n0, c_out, taps * c_in))
            }
            None => (k0 + tk, (sk0, n0, j.mp.k, j.mp.n)),
        };
        let stk = seg_end - sk0;
        let (wk0, wn0, k_full, n_full) = at;
        let seg = WSegment {
            k0: wk0,
            n0: wn0,
            k_full,
            n_full,
            tk: stk,
            tn,
            rows: stk * den / num,
            sram: w_base + (sk0 - k0) * den / num * tn,
        };
        let w_res = Res::WSlot(w_slot);
        match &j.w_src {
            WSource::Dense { region, transposed } => load_dense(b, j.tag, &seg, *region, *transposed, w_res),
            WSource::Compressed { pattern, values, indices } => {
                load_compressed(b, j.tag, &seg, *pattern, (*values, *indices), w_res);
            }
            WSource::SparsifyOnTheFly { pattern, region, axis } => {
                sparsify_on_the_fly(b, j.tag, &seg, (*pattern, *axis), *region, w_res);
            }
        }
        sk0 = seg_end;
    }
}

/// Dense int16 weights, `k×n` as stored or read transposed from `n×k`.
fn load_dense(b: &mut Builder, tag: Tag, s: &WSegment, region: RegionRef, transposed: bool, w_res: Res) {
    let (dram, rows, cols, stride) = if transposed {
        (region.1 + 2 * (s.n0 * s.k_full + s.k0), s.tn, s.tk, 2 * s.k_full)
    } else {
        (region.1 + 2 * (s.k0 * s.n_full + s.n0), s.tk, s.tn, 2 * s.n_full)
    };
    let load = Instr::Load {
        deps: Deps::default(),
        buf: Buf::W,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram,
        sram: u32c(s.sram),
        rows: u32c(rows),
        cols: u32c(cols),
        stride,
    };
    b.emit(load, tag, &[Res::Dram(region.0)], &[w_res]);
}

/// Pre-generated compressed weights: one DMA of the interleaved `nm_row`
/// layout, or two of separate values and indices.
fn load_compressed(
    b: &mut Builder,
    tag: Tag,
    s: &WSegment,
    pattern: NmPattern,
    (values, indices): (RegionRef, Option<RegionRef>),
    w_res: Res,
) {
    let ib = pattern.index_bits();
    let r0 = s.k0 * u64::from(pattern.n()) / u64::from(pattern.m());
    let load = |fmt: DmaFormat, dram: u64, stride: u64| Instr::Load {
        deps: Deps::default(),
        buf: Buf::W,
        fmt,
        index_bits: ib as u8,
        dram,
        sram: u32c(s.sram),
        rows: u32c(s.rows),
        cols: u32c(s.tn),
        stride,
    };
    match indices {
        None => {
            let row = DmaFormat::NmRow.row_bytes(s.n_full, ib);
            let off = DmaFormat::NmRow.row_bytes(s.n0, ib);
            b.emit(load(DmaFormat::NmRow, values.1 + r0 * row + off, row), tag, &[Res::Dram(values.0)], &[w_res]);
        }
        Some(ix) => {
            let dram = values.1 + 2 * (r0 * s.n_full + s.n0);
            b.emit(load(DmaFormat::NmValues, dram, 2 * s.n_full), tag, &[Res::Dram(values.0)], &[w_res]);
            let row = DmaFormat::NmIndices.row_bytes(s.n_full, ib);
            let off = DmaFormat::NmIndices.row_bytes(s.n0, ib).min(row.saturating_sub(1));
            b.emit(load(DmaFormat::NmIndices, ix.1 + r0 * row + off, row), tag, &[Res::Dram(ix.0)], &[w_res]);
        }
    }
}

/// No pre-generation: the master-weight tile comes from DRAM and the
/// sparsifier selects and compresses it on the critical path. FF prunes W
/// (k×n) along k (`axis` 0); BP prunes the K×N master block of Wᵀ (n×k)
/// along its columns and writes it transposed (`axis` 1).
fn sparsify_on_the_fly(
    b: &mut Builder,
    tag: Tag,
    s: &WSegment,
    (pattern, axis): (NmPattern, u8),
    master: RegionRef,
    w_res: Res,
) {
    let scratch = Res::OScratch;
    let s_base = b.budget.o_slots * b.budget.o_slot;
    let (r0, c0, rows, cols, full) =
        if axis == 0 { (s.k0, s.n0, s.tk, s.tn, s.n_full) } else { (s.n0, s.k0, s.tn, s.tk, s.k_full) };
    let load = Instr::Load {
        deps: Deps::default(),
        buf: Buf::O,
        fmt: DmaFormat::I32,
        index_bits: 0,
        dram: master.1 + 4 * (r0 * full + c0),
        sram: u32c(s_base),
        rows: u32c(rows),
        cols: u32c(cols),
        stride: 4 * full,
    };
    b.emit(load, tag, &[Res::Dram(master.0)], &[scratch]);
    let sparsify = Instr::Sparsify {
        deps: Deps::default(),
        pattern,
        axis,
        master: true,
        mask_out: false,
        rows: u32c(rows),
        cols: u32c(cols),
        src: u32c(s_base),
        dst: u32c(s.sram),
    };
    b.emit(sparsify, tag, &[scratch], &[w_res]);
}
