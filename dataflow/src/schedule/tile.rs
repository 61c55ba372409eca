//! Emitting a planned GEMM tile by tile: operand loads, the GEMMs of each
//! reduction step, the epilogue, and the interleaving of two GEMMs.

use super::builder::{Builder, EPILOGUE_LAG, Res, u32c};
use super::job::{GemmJob, OutKind, RegionRef, WSource, step_macs, tile_list};
use super::operands::{TileRect, load_activation, load_weights};
use super::tiling::traffic;
use super::wu::emit_wu;
use super::{DataflowOptions, Optimization, ScheduleError};
use crate::arch::ArchConfig;
use crate::isa::{Buf, Deps, DmaFormat, Instr, NO_SHIFT, VecOp};

/// Array cycles and DRAM channel cycles of a whole job by the cost model,
/// its epilogue's traffic included (ReLU masks in; master weights and
/// momentum in and out, compressed weights out).
fn job_load(arch: &ArchConfig, j: &GemmJob) -> (u64, u64) {
    let mut tr = traffic(arch, &j.mp, &j.tiling, j.w_fmt);
    let bpc = u64::from(arch.dram.bytes_per_cycle);
    // A gathered operand's tiles differ (padding, strides): count every
    // distinct block instead of the first one, times its reloads.
    if let Some((geom, trans)) = j.mp.gather {
        let (t, mp) = (j.tiling, j.mp);
        let (mt, kt) = (mp.m.div_ceil(t.tm), mp.k.div_ceil(t.tk));
        let block = |m0: u64, k0: u64| {
            let (tm, tk) = (t.tm.min(mp.m - m0), t.tk.min(mp.k - k0));
            let (p0, rows, c0, cols) = if trans { (k0, tk, m0, tm) } else { (m0, tm, k0, tk) };
            crate::timing::load2col_beats(arch, &geom, p0, rows, c0, cols)
        };
        let exact: u64 =
            (0..mt).flat_map(|mi| (0..kt).map(move |ki| (mi * t.tm, ki * t.tk))).map(|(m0, k0)| block(m0, k0)).sum();
        tr.dma = tr.dma - tr.a_reloads * mt * kt * tr.a_beats + tr.a_reloads * exact;
    }
    let outputs = j.mp.m * j.mp.n;
    let epilogue_bytes = match &j.out {
        OutKind::Activation { mask: Some(_), .. } => 2 * outputs,
        OutKind::Activation { .. } => 0,
        // int32 master and momentum in and out, two compressed copies at most
        // half the int16 weights each.
        OutKind::WeightUpdate(_) => 16 * outputs + 2 * outputs,
    };
    (tr.steps * tr.gemm.stream, tr.dma + epilogue_bytes.div_ceil(bpc))
}

/// Emits a GEMM on its own: its output tiles one after the other.
pub(super) fn emit_gemm_job(b: &mut Builder, j: &GemmJob, opts: &DataflowOptions) -> Result<(), ScheduleError> {
    for t in tile_list(j) {
        emit_tile(b, j, t, opts)?;
    }
    Ok(())
}

/// Whether interleaving two GEMMs is expected to save at least
/// [`INTERLEAVE_MIN_GAIN`] of running them one after the other: back to
/// back (`apart`, tiled for the one-bank layout) each takes the longer of
/// its array and DRAM time; interleaved (`together`, tiled for the halved
/// slots of the two-bank layout) the pair takes the longer of the sums. A
/// layer whose BP and WG are both compute-bound (or both memory-bound)
/// gains nothing and would only lose the halved activation slots and the
/// shared channel's jitter.
pub(super) fn interleave_pays(arch: &ArchConfig, apart: (&GemmJob, &GemmJob), together: (&GemmJob, &GemmJob)) -> bool {
    let one = |j: &GemmJob| {
        let (p, d) = job_load(arch, j);
        p.max(d)
    };
    let apart = one(apart.0) + one(apart.1);
    let (px, dx) = job_load(arch, together.0);
    let (py, dy) = job_load(arch, together.1);
    let together = (px + py).max(dx + dy);
    apart.saturating_sub(together) * INTERLEAVE_MIN_GAIN.1 >= apart * INTERLEAVE_MIN_GAIN.0
}

/// The least gain (numerator, denominator) for which a layer's BP and WG
/// are interleaved.
const INTERLEAVE_MIN_GAIN: (u64, u64) = (1, 20);

/// The interleave mapping of two independent GEMMs (a layer's sparse BP and
/// dense WG): their reduction steps alternate on the array so that each
/// has done the same share of its MACs at any point. One tile of each is
/// open at a time, in its own output slot; the operand loads of one
/// stream while the other computes, so a compute-bound GEMM (the BP of a
/// strided convolution) hides a memory-bound one (its WG with the fused
/// weight update), and mode switches cost no drain (`il`).
pub(super) fn emit_interleaved(
    b: &mut Builder,
    x: &GemmJob,
    y: &GemmJob,
    opts: &DataflowOptions,
) -> Result<(), ScheduleError> {
    let jobs = [x, y];
    let tiles = [tile_list(x), tile_list(y)];
    let total: [u64; 2] = [0, 1].map(|i| {
        let j = jobs[i];
        let kt = j.mp.k.div_ceil(j.tiling.tk);
        tiles[i].iter().flat_map(|t| (0..kt).map(move |ki| step_macs(j, *t, ki))).sum::<u64>().max(1)
    });
    let mut next = [0usize; 2];
    let mut done = [0u64; 2];
    let mut open: [Option<OpenTile>; 2] = [None, None];
    loop {
        let live = |i: usize| open[i].is_some() || next[i] < tiles[i].len();
        // The GEMM that is behind in its share of MACs goes next.
        let i = match (live(0), live(1)) {
            (false, false) => break,
            (true, false) => 0,
            (false, true) => 1,
            (true, true) => {
                usize::from(u128::from(done[1]) * u128::from(total[0]) < u128::from(done[0]) * u128::from(total[1]))
            }
        };
        let j = jobs[i];
        let mut t = match open[i].take() {
            Some(t) => t,
            None => {
                let t = begin_tile(b, j, tiles[i][next[i]], i as u64);
                next[i] += 1;
                t
            }
        };
        done[i] += step_macs(j, t.tile, t.ki);
        tile_step(b, j, &mut t, opts);
        if t.ki < t.kt {
            open[i] = Some(t);
        } else {
            end_tile(b, j, t)?;
        }
    }
    Ok(())
}

/// One output tile: its reduction steps and its epilogue.
fn emit_tile(b: &mut Builder, j: &GemmJob, tile: TileRect, opts: &DataflowOptions) -> Result<(), ScheduleError> {
    let mut open = begin_tile(b, j, tile, 0);
    while open.ki < open.kt {
        tile_step(b, j, &mut open, opts);
    }
    end_tile(b, j, open)
}

/// An output tile whose reduction steps are being emitted: it holds its
/// output slot until its epilogue.
#[derive(Debug, Clone, Copy)]
struct OpenTile {
    tile: TileRect,
    o_slot: u64,
    /// Next reduction step, and how many there are.
    ki: u64,
    kt: u64,
    /// Activation bank its operands load into (one per interleaved GEMM).
    bank: u64,
}

/// Opens an output tile: takes an output slot no other open tile holds.
fn begin_tile(b: &mut Builder, j: &GemmJob, tile: TileRect, bank: u64) -> OpenTile {
    // An epilogue may lag its tile by up to EPILOGUE_LAG tiles; older ones go out
    // now, before this tile reuses their output slot.
    b.tile_seq += 1;
    let seq = b.tile_seq;
    b.flush_before(seq.saturating_sub(EPILOGUE_LAG));
    let o_slot = b.take_o_slot();
    OpenTile { tile, o_slot, ki: 0, kt: j.mp.k.div_ceil(j.tiling.tk), bank }
}

/// Emits the next reduction step of an open tile: its operand loads
/// (operands already in a slot, same job and same tile, are reused, not
/// reloaded) and its GEMM.
fn tile_step(b: &mut Builder, j: &GemmJob, open: &mut OpenTile, opts: &DataflowOptions) {
    let (m0, n0, _, _) = open.tile;
    let k0 = open.ki * j.tiling.tk;
    let tk = j.tiling.tk.min(j.mp.k - k0);
    let (a_slot, a_loaded) = b.take_a_slot((j.tag, m0, k0), open.bank);
    let (w_slot, w_loaded) = b.take_w_slot((j.tag, k0, n0), open.kt == 1);
    if !a_loaded {
        load_activation(b, j, open.tile, (k0, tk), a_slot);
    }
    if !w_loaded {
        load_weights(b, j, open.tile, (k0, tk), w_slot);
    }
    b.release_dma();
    emit_gemm(b, j, open, (tk, a_slot, w_slot), opts);
    b.release_one();
    open.ki += 1;
}

/// The GEMM of one reduction step (`tk` deep) from activation slot `a_slot`
/// and weight slot `w_slot` into the open tile's output slot.
fn emit_gemm(
    b: &mut Builder,
    j: &GemmJob,
    open: &OpenTile,
    (tk, a_slot, w_slot): (u64, u64, u64),
    opts: &DataflowOptions,
) {
    let (_, _, tm, tn) = open.tile;
    let o_res = Res::OSlot(open.o_slot);
    // A weight update stages master weights and momentum in the top two
    // thirds of a slot (`emit_wu`); accumulators that reach there wait for it.
    let o_writes: Vec<Res> =
        if tm * tn > b.budget.o_slot / 3 { vec![o_res, Res::OWu(open.o_slot)] } else { vec![o_res] };
    let gemm = Instr::Gemm {
        deps: Deps::default(),
        mode: j.mp.mode,
        acc: open.ki > 0,
        il: opts.is_on(Optimization::Interleave),
        at: j.a_trans,
        wt: matches!(j.w_src, WSource::Dense { transposed: true, .. }),
        m: u32c(tm),
        n: u32c(tn),
        k: u32c(tk),
        a: u32c(a_slot * b.budget.a_slot),
        a_stride: u32c(if j.a_trans { tm } else { tk }),
        w: u32c(w_slot * b.budget.w_slot),
        o: u32c(open.o_slot * b.budget.o_slot),
        ws: j.tiling.flow.ws() && tk > 0,
    };
    b.emit(gemm, j.tag, &[Res::ASlot(a_slot), Res::WSlot(w_slot)], &o_writes);
}

/// Closes an open tile: frees its output slot for the next tile and queues
/// its epilogue (requantize and store, ReLU backward, or the weight update).
fn end_tile(b: &mut Builder, j: &GemmJob, open: OpenTile) -> Result<(), ScheduleError> {
    b.o_held[open.o_slot as usize] = false;
    match &j.out {
        OutKind::Activation { region, relu, mask, row, shift } => {
            if let Some(mask) = mask {
                defer_relu_bwd(b, j, &open, *mask, *row);
            }
            // The store path requantizes (and applies ReLU) on the way out.
            let (m0, n0, tm, tn) = open.tile;
            let store = Instr::Store {
                deps: Deps::default(),
                buf: Buf::O,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: region.1 + 2 * (m0 * row + n0),
                sram: u32c(open.o_slot * b.budget.o_slot),
                rows: u32c(tm),
                cols: u32c(tn),
                stride: 2 * row,
                shift: *shift,
                relu: *relu,
            };
            b.defer(store, j.tag, &[Res::OSlot(open.o_slot)], &[Res::Dram(region.0)]);
        }
        OutKind::WeightUpdate(wu) => emit_wu(b, wu, j, open.tile, open.o_slot)?,
    }
    Ok(())
}

/// ReLU backward of a BP tile: zero the gradient where the forward
/// activation (`mask`, rows of `row` elements) was not positive.
fn defer_relu_bwd(b: &mut Builder, j: &GemmJob, open: &OpenTile, mask: RegionRef, row: u64) {
    let (m0, n0, tm, tn) = open.tile;
    let o_res = Res::OSlot(open.o_slot);
    let o_base = open.o_slot * b.budget.o_slot;
    let m_slot = Builder::next(&mut b.s_ring, b.budget.slots);
    let a_res = Res::Stage(m_slot);
    let a_base = b.budget.stage_base(m_slot);
    let load = Instr::Load {
        deps: Deps::default(),
        buf: Buf::A,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram: mask.1 + 2 * (m0 * row + n0),
        sram: u32c(a_base),
        rows: u32c(tm),
        cols: u32c(tn),
        stride: 2 * row,
    };
    b.defer(load, j.tag, &[Res::Dram(mask.0)], &[a_res]);
    let relu_bwd = Instr::Vec {
        deps: Deps::default(),
        op: VecOp::ReluBwd,
        len: u32c(tm * tn),
        src: u32c(o_base),
        src2: u32c(a_base),
        dst: u32c(o_base),
        aux: 0,
        shift: 0,
        p1: 0,
        p2: 0,
        p3: 0,
        p4: 0,
        mask: 0,
        p5: NO_SHIFT,
    };
    b.defer(relu_bwd, j.tag, &[o_res, a_res], &[o_res]);
}
