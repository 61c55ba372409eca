//! Emitting a planned GEMM tile by tile: operand loads, the GEMMs of each
//! reduction step, the epilogue, and the interleaving of two GEMMs.

use super::builder::{Builder, EPILOGUE_LAG, Res, u32c};
use super::job::{GemmJob, OutKind, WSource, step_macs, tile_list};
use super::tiling::traffic;
use super::wu::emit_wu;
use super::{DataflowOptions, ScheduleError};
use crate::arch::ArchConfig;
use crate::isa::{Buf, Deps, DmaFormat, Instr, NO_SHIFT, VecOp};

/// Array cycles and DRAM channel cycles of a whole job by the cost model,
/// its epilogue's traffic included (ReLU masks in; master weights and
/// momentum in and out, compressed weights out).
pub(super) fn job_load(arch: &ArchConfig, j: &GemmJob) -> (u64, u64) {
    let mut tr = traffic(arch, &j.mp, &j.tiling, j.w_fmt);
    let bpc = u64::from(arch.dram.bytes_per_cycle);
    // A gathered operand's tiles differ (padding, strides): count every
    // distinct block instead of the first one, times its reloads.
    if let Some((geom, trans)) = j.mp.gather {
        let (t, mp) = (j.tiling, j.mp);
        let (mt, kt) = (mp.m.div_ceil(t.tm), mp.k.div_ceil(t.tk));
        let burst = u64::from(arch.dram.burst_bytes);
        let block = |m0: u64, k0: u64| {
            let (tm, tk) = (t.tm.min(mp.m - m0), t.tk.min(mp.k - k0));
            let (p0, rows, c0, cols) = if trans { (k0, tk, m0, tm) } else { (m0, tm, k0, tk) };
            (geom.gather_bursts(arch.dram.im2col, p0, rows, c0, cols, burst) * burst).div_ceil(bpc)
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

pub(super) fn emit_gemm_job(b: &mut Builder, j: &GemmJob, opts: &DataflowOptions) -> Result<(), ScheduleError> {
    for t in tile_list(j) {
        emit_tile(b, j, t, opts)?;
    }
    Ok(())
}

/// Whether interleaving two GEMMs is expected to save at least
/// [`INTERLEAVE_MIN_GAIN`] of running them one after the other: back to
/// back each takes the longer of its array and DRAM time; interleaved the
/// pair takes the longer of the sums. A layer whose BP and WG are both
/// compute-bound (or both memory-bound) gains nothing and would only lose
/// the halved activation slots and the shared channel's jitter.
pub(super) fn interleave_pays(arch: &ArchConfig, x: &GemmJob, y: &GemmJob) -> bool {
    let (px, dx) = job_load(arch, x);
    let (py, dy) = job_load(arch, y);
    let apart = px.max(dx) + py.max(dy);
    let together = (px + py).max(dx + dy);
    (apart - together) * INTERLEAVE_MIN_GAIN.1 >= apart * INTERLEAVE_MIN_GAIN.0
}

/// The least gain (numerator, denominator) for which a layer's BP and WG
/// are interleaved.
pub(super) const INTERLEAVE_MIN_GAIN: (u64, u64) = (1, 20);

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
        tile_step(b, j, &mut t, opts)?;
        if t.ki < t.kt {
            open[i] = Some(t);
        } else {
            end_tile(b, j, t, opts)?;
        }
    }
    Ok(())
}

/// One output tile: its reduction steps and its epilogue.
pub(super) fn emit_tile(
    b: &mut Builder,
    j: &GemmJob,
    tile: (u64, u64, u64, u64),
    opts: &DataflowOptions,
) -> Result<(), ScheduleError> {
    let mut open = begin_tile(b, j, tile, 0);
    while open.ki < open.kt {
        tile_step(b, j, &mut open, opts)?;
    }
    end_tile(b, j, open, opts)
}

/// An output tile whose reduction steps are being emitted: it holds its
/// output slot until its epilogue.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenTile {
    pub(super) tile: (u64, u64, u64, u64),
    pub(super) o_slot: u64,
    /// Next reduction step, and how many there are.
    pub(super) ki: u64,
    pub(super) kt: u64,
    /// Activation bank its operands load into (one per interleaved GEMM).
    pub(super) bank: u64,
}

/// Opens an output tile: takes an output slot no other open tile holds.
pub(super) fn begin_tile(b: &mut Builder, j: &GemmJob, tile: (u64, u64, u64, u64), bank: u64) -> OpenTile {
    // An epilogue may lag its tile by up to EPILOGUE_LAG tiles; older ones go out
    // now, before this tile reuses their output slot.
    b.tile_seq += 1;
    let seq = b.tile_seq;
    b.flush_before(seq.saturating_sub(EPILOGUE_LAG));
    let o_slot = b.take_o_slot();
    OpenTile { tile, o_slot, ki: 0, kt: j.mp.k.div_ceil(j.tiling.tk), bank }
}

/// Emits the next reduction step of an open tile: its operand loads and GEMM.
#[allow(clippy::too_many_lines)]
pub(super) fn tile_step(
    b: &mut Builder,
    j: &GemmJob,
    open: &mut OpenTile,
    opts: &DataflowOptions,
) -> Result<(), ScheduleError> {
    let arch = b.arch;
    let slots = b.budget.slots;
    let mp = j.mp;
    let t = j.tiling;
    let (num, den) = mp.mode.expansion();
    let (m0, n0, tm, tn) = open.tile;
    let o_slot = open.o_slot;
    let o_res = Res::OSlot(o_slot);
    let o_base = o_slot * b.budget.o_slot;
    let tag = j.tag;
    let kt = open.kt;
    let ki = open.ki;
    {
        let k0 = ki * t.tk;
        let tk = t.tk.min(mp.k - k0);
        // Operands already in a slot (same job, same tile) are reused, not reloaded.
        let a_key = (j.tag, m0, k0);
        let w_key = (j.tag, k0, n0);
        let a_hit = b.a_keys.iter().position(|k| *k == Some(a_key));
        let w_hit = b.w_keys.iter().position(|k| *k == Some(w_key));
        let a_slot = match a_hit {
            Some(s) => s as u64,
            None => {
                let s = open.bank * slots + Builder::next(&mut b.a_ring[open.bank as usize], slots);
                b.a_keys[s as usize] = Some(a_key);
                s
            }
        };
        let w_slot = match w_hit {
            Some(s) => s as u64,
            None => {
                // Weights reused by the following tiles (the whole reduction in
                // one tile) go to a resident slot, least recently used first;
                // weights used once stream through the other slots in turn.
                let resident = kt == 1 && b.w_keys.len() > 1;
                let half = b.w_keys.len() / 2;
                let range = if b.w_keys.len() == 1 {
                    0..1
                } else if resident {
                    half..b.w_keys.len()
                } else {
                    0..half
                };
                let s = range.min_by_key(|&s| (b.w_used[s], s)).unwrap_or(0) as u64;
                b.w_keys[s as usize] = Some(w_key);
                s
            }
        };
        b.step += 1;
        b.w_used[w_slot as usize] = b.step;
        let a_res = Res::ASlot(a_slot);
        let w_res = Res::WSlot(w_slot);
        let a_base = a_slot * b.budget.a_slot;
        let w_base = w_slot * b.budget.w_slot;
        // Activation operand: raw rows (im2col reuse shrinks the columns moved).
        let raw_cols = (tk * mp.a_reuse.1).div_ceil(mp.a_reuse.0).max(1);
        let a_row_raw = (j.a_row * mp.a_reuse.1).div_ceil(mp.a_reuse.0).max(1);
        // WG of a linear layer reads Xᵀ: it loads the X block (batch rows,
        // feature columns) as stored and the GEMM reads it transposed.
        let a_trans = j.a_trans;
        let (a_dram, a_rows, a_cols, a_stride_bytes) = if a_trans {
            (j.a_region.1 + 2 * (k0 * mp.m + m0), tk, tm, 2 * mp.m)
        } else {
            (j.a_region.1 + 2 * (m0 * a_row_raw + k0 * mp.a_reuse.1 / mp.a_reuse.0), tm, raw_cols, 2 * a_row_raw)
        };
        if a_hit.is_none() {
            let load = match j.im2col {
                // FF: pixels m0.. by columns k0..; WG (read transposed): pixels k0.. by columns m0...
                Some(geom) => {
                    let (p0, rows, c0, cols) = if a_trans { (k0, tk, m0, tm) } else { (m0, tm, k0, tk) };
                    let bursts =
                        geom.gather_bursts(arch.dram.im2col, p0, rows, c0, cols, u64::from(arch.dram.burst_bytes));
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
                None => Instr::Load {
                    deps: Deps::default(),
                    buf: Buf::A,
                    fmt: DmaFormat::I16,
                    index_bits: 0,
                    dram: a_dram,
                    sram: u32c(a_base),
                    rows: u32c(a_rows),
                    cols: u32c(a_cols),
                    stride: a_stride_bytes,
                },
            };
            b.emit(load, tag, &[Res::Dram(j.a_region.0)], &[a_res]);
        }
        // Weight operand. A transposed convolution's tile is read tap by tap
        // (each segment of its reduction from the flipped tap's block of the
        // stored `C_out × taps·C_in` operand); its dense operand is stored
        // as `W′ᵀ` already and reads in one piece.
        let segments: Vec<(u64, u64)> = match (j.tap_blocks, &j.w_src) {
            (Some((_, c_out, _)), WSource::Compressed { .. } | WSource::SparsifyOnTheFly { .. }) => {
                let mut v = Vec::new();
                let mut a = k0;
                while a < k0 + tk {
                    let e = ((a / c_out + 1) * c_out).min(k0 + tk);
                    v.push((a, e - a));
                    a = e;
                }
                v
            }
            _ => vec![(k0, tk)],
        };
        for &(sk0, stk) in &segments {
            let (k0, tk) = (sk0, stk);
            let tk_eff = tk * den / num;
            // Segments stack as consecutive compressed rows of the weight tile.
            let w_base = w_base + (sk0 - segments[0].0) * den / num * tn;
            let (wk0, wn0, wk_full, wn_full) = match (j.tap_blocks, &j.w_src) {
                (Some((taps, c_out, c_in)), WSource::Compressed { .. } | WSource::SparsifyOnTheFly { .. }) => {
                    (k0 % c_out, (taps - 1 - k0 / c_out) * c_in + n0, c_out, taps * c_in)
                }
                _ => (k0, n0, mp.k, mp.n),
            };
            match &j.w_src {
                _ if w_hit.is_some() => {}
                WSource::Dense { region, transposed } => {
                    let (dram, rows, cols, stride) = if *transposed {
                        (region.1 + 2 * (wn0 * wk_full + wk0), tn, tk, 2 * wk_full)
                    } else {
                        (region.1 + 2 * (wk0 * wn_full + wn0), tk, tn, 2 * wn_full)
                    };
                    b.emit(
                        Instr::Load {
                            deps: Deps::default(),
                            buf: Buf::W,
                            fmt: DmaFormat::I16,
                            index_bits: 0,
                            dram,
                            sram: u32c(w_base),
                            rows: u32c(rows),
                            cols: u32c(cols),
                            stride,
                        },
                        tag,
                        &[Res::Dram(region.0)],
                        &[w_res],
                    );
                }
                WSource::Compressed { pattern, values, indices } => {
                    let ib = pattern.index_bits();
                    let r0 = wk0 * u64::from(pattern.n()) / u64::from(pattern.m());
                    match indices {
                        None => {
                            let row = DmaFormat::NmRow.row_bytes(wn_full, ib);
                            let off = DmaFormat::NmRow.row_bytes(wn0, ib);
                            b.emit(
                                Instr::Load {
                                    deps: Deps::default(),
                                    buf: Buf::W,
                                    fmt: DmaFormat::NmRow,
                                    index_bits: ib as u8,
                                    dram: values.1 + r0 * row + off,
                                    sram: u32c(w_base),
                                    rows: u32c(tk_eff),
                                    cols: u32c(tn),
                                    stride: row,
                                },
                                tag,
                                &[Res::Dram(values.0)],
                                &[w_res],
                            );
                        }
                        Some(ix) => {
                            b.emit(
                                Instr::Load {
                                    deps: Deps::default(),
                                    buf: Buf::W,
                                    fmt: DmaFormat::NmValues,
                                    index_bits: ib as u8,
                                    dram: values.1 + 2 * (r0 * wn_full + wn0),
                                    sram: u32c(w_base),
                                    rows: u32c(tk_eff),
                                    cols: u32c(tn),
                                    stride: 2 * wn_full,
                                },
                                tag,
                                &[Res::Dram(values.0)],
                                &[w_res],
                            );
                            let row = DmaFormat::NmIndices.row_bytes(wn_full, ib);
                            b.emit(
                                Instr::Load {
                                    deps: Deps::default(),
                                    buf: Buf::W,
                                    fmt: DmaFormat::NmIndices,
                                    index_bits: ib as u8,
                                    dram: ix.1
                                        + r0 * row
                                        + DmaFormat::NmIndices.row_bytes(wn0, ib).min(row.saturating_sub(1)),
                                    sram: u32c(w_base),
                                    rows: u32c(tk_eff),
                                    cols: u32c(tn),
                                    stride: row,
                                },
                                tag,
                                &[Res::Dram(ix.0)],
                                &[w_res],
                            );
                        }
                    }
                }
                WSource::SparsifyOnTheFly { pattern, region, axis } => {
                    // No pre-generation: the master-weight tile comes from DRAM and
                    // the sparsifier selects and compresses it on the critical path.
                    // FF prunes W (k×n) along k; BP prunes the K×N master block of
                    // Wᵀ (n×k) along its columns and writes it transposed.
                    let scratch = Res::OScratch;
                    let s_base = b.budget.o_slots * b.budget.o_slot;
                    let (r0, c0, rows, cols, full) =
                        if *axis == 0 { (wk0, wn0, tk, tn, wn_full) } else { (wn0, wk0, tn, tk, wk_full) };
                    b.emit(
                        Instr::Load {
                            deps: Deps::default(),
                            buf: Buf::O,
                            fmt: DmaFormat::I32,
                            index_bits: 0,
                            dram: region.1 + 4 * (r0 * full + c0),
                            sram: u32c(s_base),
                            rows: u32c(rows),
                            cols: u32c(cols),
                            stride: 4 * full,
                        },
                        tag,
                        &[Res::Dram(region.0)],
                        &[scratch],
                    );
                    b.emit(
                        Instr::Sparsify {
                            deps: Deps::default(),
                            pattern: *pattern,
                            axis: *axis,
                            master: true,
                            mask_out: false,
                            rows: u32c(rows),
                            cols: u32c(cols),
                            src: u32c(s_base),
                            dst: u32c(w_base),
                        },
                        tag,
                        &[scratch],
                        &[w_res],
                    );
                }
            }
        }
        b.release_dma();
        // A weight update stages master weights and momentum in the top two
        // thirds of a slot (`emit_wu`); accumulators that reach there wait for it.
        let o_writes: Vec<Res> =
            if tm * tn > b.budget.o_slot / 3 { vec![o_res, Res::OWu(o_slot)] } else { vec![o_res] };
        b.emit(
            Instr::Gemm {
                deps: Deps::default(),
                mode: mp.mode,
                acc: ki > 0,
                il: opts.interleave,
                at: a_trans,
                wt: matches!(j.w_src, WSource::Dense { transposed: true, .. }),
                m: u32c(tm),
                n: u32c(tn),
                k: u32c(tk),
                a: u32c(a_base),
                a_stride: u32c(if a_trans { tm } else { tk }),
                w: u32c(w_base),
                o: u32c(o_base),
            },
            tag,
            &[a_res, w_res],
            &o_writes,
        );
        b.release_one();
    }
    open.ki += 1;
    Ok(())
}

/// Closes an open tile: frees its output slot for the next tile and queues
/// its epilogue (requantize and store, ReLU backward, or the weight update).
pub(super) fn end_tile(
    b: &mut Builder,
    j: &GemmJob,
    open: OpenTile,
    opts: &DataflowOptions,
) -> Result<(), ScheduleError> {
    let slots = b.budget.slots;
    let (m0, n0, tm, tn) = open.tile;
    let o_slot = open.o_slot;
    let o_res = Res::OSlot(o_slot);
    let o_base = o_slot * b.budget.o_slot;
    let tag = j.tag;
    b.o_held[o_slot as usize] = false;
    match &j.out {
        OutKind::Activation { region, relu, mask, row, shift } => {
            let len = tm * tn;
            if let Some(mask) = mask {
                // ReLU backward: zero the gradient where the forward activation was not positive.
                let m_slot = Builder::next(&mut b.s_ring, slots);
                let a_res = Res::Stage(m_slot);
                let a_base = b.budget.stage_base(m_slot);
                b.defer(
                    Instr::Load {
                        deps: Deps::default(),
                        buf: Buf::A,
                        fmt: DmaFormat::I16,
                        index_bits: 0,
                        dram: mask.1 + 2 * (m0 * row + n0),
                        sram: u32c(a_base),
                        rows: u32c(tm),
                        cols: u32c(tn),
                        stride: 2 * row,
                    },
                    tag,
                    &[Res::Dram(mask.0)],
                    &[a_res],
                );
                b.defer(
                    Instr::Vec {
                        deps: Deps::default(),
                        op: VecOp::ReluBwd,
                        len: u32c(len),
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
                    },
                    tag,
                    &[o_res, a_res],
                    &[o_res],
                );
            }
            // The store path requantizes (and applies ReLU) on the way out.
            b.defer(
                Instr::Store {
                    deps: Deps::default(),
                    buf: Buf::O,
                    fmt: DmaFormat::I16,
                    index_bits: 0,
                    dram: region.1 + 2 * (m0 * row + n0),
                    sram: u32c(o_base),
                    rows: u32c(tm),
                    cols: u32c(tn),
                    stride: 2 * row,
                    shift: *shift,
                    relu: *relu,
                },
                tag,
                &[o_res],
                &[Res::Dram(region.0)],
            );
        }
        OutKind::WeightUpdate(wu) => emit_wu(b, wu, j, (m0, n0, tm, tn), o_slot, opts)?,
    }
    Ok(())
}
