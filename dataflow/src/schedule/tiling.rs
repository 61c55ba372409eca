//! How a GEMM maps onto the array and which tiles it is cut into: the
//! buffer budget, the candidate tile sizes and the cost model that picks one.

use super::ScheduleError;
use super::builder::EPILOGUE_LAG;
use super::contract::ConvShape;
use crate::arch::{ArchConfig, Im2col, Stationarity};
use crate::check::capacity;
use crate::isa::{Buf, GemmMode, NM_CHUNK, VecOp};
use crate::timing::{self, TimingModel};
use crate::workload::{Gemm, GemmKind, Pass};

/// A GEMM as the array runs it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mapped {
    pub(super) m: u64,
    pub(super) n: u64,
    pub(super) k: u64,
    pub(super) mode: GemmMode,
    /// Raw-input reuse of the activation operand: DRAM bytes = expanded · den / num.
    pub(super) a_reuse: (u64, u64),
    /// The operand is gathered by `load2col` (geometry; read transposed, as WG):
    /// its DRAM bursts are `ConvGeom::gather_bursts` of the tile.
    pub(super) gather: Option<(crate::im2col::ConvGeom, bool)>,
}

pub(super) fn map_gemm(g: &Gemm, conv: Option<ConvShape>) -> Mapped {
    let mode = g.sparse.map_or(GemmMode::Dense, |s| GemmMode::Nm(s.pattern));
    let m = g.m * g.count;
    let reuse = |c: ConvShape| {
        let s2 = c.stride * c.stride;
        if c.taps > s2 { (c.taps, s2) } else { (1, 1) }
    };
    match (g.pass, conv, g.kind) {
        // A 1x1 kernel's BP is already a plain GEMM (the col2im has no overlap).
        (Pass::Bp, Some(c), GemmKind::Weight) if c.taps > 1 => {
            let s2 = c.stride * c.stride;
            // Transposed convolution: K' = C_out·taps/s², N' = C_in, M' = M·s².
            let k2 = g.k * c.taps / s2;
            let n2 = g.n / c.taps.max(1);
            let ok = k2 > 0 && n2 > 0 && g.n % c.taps == 0 && (g.k * c.taps) % s2 == 0;
            let ok = ok && g.sparse.is_none_or(|s| k2 % u64::from(s.pattern.m()) == 0);
            if ok {
                // Each dO element feeds `taps` positions of the transposed-conv im2col.
                Mapped { m: m * s2, n: n2, k: k2, mode, a_reuse: (c.taps.max(1), 1), gather: None }
            } else {
                Mapped { m, n: g.n, k: g.k, mode, a_reuse: (1, 1), gather: None }
            }
        }
        (Pass::Ff | Pass::Wg, Some(c), GemmKind::Weight) => {
            Mapped { m, n: g.n, k: g.k, mode, a_reuse: reuse(c), gather: None }
        }
        _ => Mapped { m, n: g.n, k: g.k, mode, a_reuse: (1, 1), gather: None },
    }
}

/// Chosen tiling of one GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tiling {
    pub(super) tm: u64,
    pub(super) tn: u64,
    pub(super) tk: u64,
    /// Output columns outer (weights reused across row tiles) or rows outer.
    pub(super) n_outer: bool,
    /// The array mapping of its GEMMs.
    pub(super) flow: Stationarity,
}

/// Buffer budget: slot sizes in elements.
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    pub(super) slots: u64,
    /// Activation slot banks: two under the interleave mapping (one per
    /// interleaved GEMM, each double-buffered), else one.
    pub(super) a_banks: u64,
    pub(super) a_slot: u64,
    pub(super) stage_slot: u64,
    pub(super) w_slot: u64,
    /// Sparsifier output slots (pre-generation), after the operand slots.
    pub(super) pregen_slot: u64,
    /// Weight operand slots: half stream, half hold resident weights (so two
    /// interleaved GEMMs keep their resident weights apart).
    pub(super) w_slots: u64,
    /// Output slots: three, so a tile's deferred epilogue can still read its
    /// slot while the next two tiles accumulate.
    pub(super) o_slots: u64,
    pub(super) o_slot: u64,
}

impl Budget {
    /// Activation-buffer address of staging slot `slot` (after the operand slots in use).
    pub(super) fn stage_base(&self, slot: u64) -> u64 {
        self.a_banks * self.slots * self.a_slot + slot * self.stage_slot
    }
}

pub(super) fn budget(arch: &ArchConfig, offline: bool, interleave: bool) -> Budget {
    // Always sized for two slots so that the naive schedule differs only in
    // how many it uses, not in its tiles.
    let a = capacity(arch, Buf::A);
    let w = capacity(arch, Buf::W);
    let o = capacity(arch, Buf::O);
    // Activation buffer: `a_banks` banks of two operand slots, then two
    // staging slots, all of one size.
    let a_banks = if interleave { 2 } else { 1 };
    Budget {
        slots: if offline { 2 } else { 1 },
        a_banks,
        w_slots: if offline { 4 } else { 1 },
        a_slot: a / (2 * a_banks + 2),
        stage_slot: a / (2 * a_banks + 2),
        w_slot: w / 6,
        pregen_slot: w / 6,
        o_slots: if offline { EPILOGUE_LAG + 2 } else { 1 },
        // The same slot size either way, so the naive schedule has the same
        // tiles; one more slot's worth after them is the master-weight
        // scratch of on-the-fly sparsification.
        o_slot: o / (EPILOGUE_LAG + 3),
    }
}

/// Whether every `load2col` of a gathered operand cut into `tm × tk` tiles
/// fetches a raw window ([`crate::im2col::ConvGeom::line_window`]) that fits
/// the line buffer (always, without one). Tile starts repeat their position
/// in the image every `P·Q / gcd(tile, P·Q)` pixel tiles, so those and every
/// column tile are checked, unless a whole image per tile and one more fit.
fn window_fits(arch: &ArchConfig, mp: &Mapped, tm: u64, tk: u64) -> bool {
    let Some((geom, trans)) = mp.gather else { return true };
    if arch.dram.im2col != Im2col::LineBuffer {
        return true;
    }
    let cap = arch.dram.line_buffer_bytes / 2;
    let (pix_dim, pix_t, col_dim, col_t) = if trans { (mp.k, tk, mp.m, tm) } else { (mp.m, tm, mp.k, tk) };
    // A network repeats its layers' shapes (and a pass's gather its FF's):
    // the answer is remembered per thread.
    thread_local! {
        static FITS: std::cell::RefCell<std::collections::HashMap<WindowKey, bool>> = Default::default();
    }
    let key = (geom, pix_dim, pix_t, col_dim, col_t, cap);
    if let Some(f) = FITS.with(|m| m.borrow().get(&key).copied()) {
        return f;
    }
    let f = windows_fit(&geom, (pix_dim, pix_t), (col_dim, col_t), cap);
    FITS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= 1 << 16 {
            m.clear();
        }
        m.insert(key, f);
    });
    f
}

/// A gather's shape for [`window_fits`]: geometry, pixels and pixel tile,
/// columns and column tile, line-buffer elements.
type WindowKey = (crate::im2col::ConvGeom, u64, u64, u64, u64, u64);

/// [`window_fits`] computed: every `pix_t × col_t` tile of `pix_dim × col_dim`.
fn windows_fit(
    geom: &crate::im2col::ConvGeom,
    (pix_dim, pix_t): (u64, u64),
    (col_dim, col_t): (u64, u64),
    cap: u64,
) -> bool {
    let (p, q) = geom.out_hw();
    let pq = (p * q).max(1);
    if (pix_t.div_ceil(pq) + 1) * geom.image_elems() <= cap {
        return true;
    }
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let period = pq / gcd(pix_t, pq).max(1);
    (0..pix_dim.div_ceil(pix_t).min(period)).all(|i| {
        let p0 = i * pix_t;
        (0..col_dim.div_ceil(col_t)).all(|j| {
            let c0 = j * col_t;
            let w = geom.line_window(p0, pix_t.min(pix_dim - p0), c0, col_t.min(col_dim - c0));
            w.elems() <= cap
        })
    })
}

fn candidates(dim: u64, unit: u64, align: u64) -> Vec<u64> {
    let unit = unit.max(1).next_multiple_of(align.max(1));
    let mut v = vec![dim];
    let mut x = unit;
    while x < dim {
        v.push(x);
        x *= 2;
    }
    // Also an even split into few tiles, which avoids a tiny last tile.
    for parts in 2..=8u64 {
        let t = dim.div_ceil(parts).next_multiple_of(unit);
        if t < dim {
            v.push(t);
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Estimated cycles of a tiling, from the timing rules: per reduction step
/// the array streams one tile while the DMA brings the next operands; with
/// `slots` buffers a load may only start when the step `slots` back has
/// retired, so a step also needs `(stream + tail + dma + latency)/slots`.
/// Operands that stay resident (full reduction in one tile) are not reloaded.
fn tiling_cost(arch: &ArchConfig, tr: &Traffic, slots: u64, epilogue: u64) -> u64 {
    let g = tr.gemm;
    let lat = u64::from(arch.dram.latency_cycles);
    let dma_step = tr.dma.div_ceil(tr.steps);
    if slots > 1 {
        let p = g.stream.max(dma_step).max((g.stream + g.tail + dma_step + lat).div_ceil(slots));
        tr.steps * p + tr.tiles * epilogue + g.tail + lat
    } else {
        tr.steps * (g.stream + g.tail + dma_step + lat) + tr.tiles * (epilogue + tr.o_beats + lat)
    }
}

/// What a GEMM under a tiling asks of the array and the DRAM channel.
pub(super) struct Traffic {
    /// Reduction steps (GEMM instructions) and output tiles.
    pub(super) steps: u64,
    pub(super) tiles: u64,
    /// Timing of one step.
    pub(super) gemm: timing::GemmTiming,
    /// DRAM channel cycles of all operand loads and output stores.
    pub(super) dma: u64,
    /// DRAM channel cycles of one activation tile (the first, standing for all).
    pub(super) a_beats: u64,
    /// How often each activation tile is loaded (once, or once per column tile).
    pub(super) a_reloads: u64,
    /// DRAM channel cycles of one output tile's store.
    o_beats: u64,
}

/// DRAM channel cycles of `rows` rows of `row_bytes` each, whole bursts.
fn dram_beats(arch: &ArchConfig, rows: u64, row_bytes: u64) -> u64 {
    let bpc = u64::from(arch.dram.bytes_per_cycle);
    let burst = u64::from(arch.dram.burst_bytes);
    (rows * row_bytes.div_ceil(burst) * burst).div_ceil(bpc)
}

/// DRAM channel cycles of one `tm × tk` activation tile of `mp` (a gathered
/// operand's first tile standing for every tile's).
fn a_tile_beats(arch: &ArchConfig, mp: &Mapped, tm: u64, tk: u64) -> u64 {
    match mp.gather {
        Some((geom, trans)) => {
            let (rows, cols) = if trans { (tk, tm) } else { (tm, tk) };
            timing::load2col_beats(arch, &geom, 0, rows, 0, cols)
        }
        None => dram_beats(arch, tm, 2 * (tk * mp.a_reuse.1).div_ceil(mp.a_reuse.0)),
    }
}

pub(super) fn traffic(arch: &ArchConfig, mp: &Mapped, t: &Tiling, w_bytes_per_elem: (u64, u64)) -> Traffic {
    traffic_of(arch, mp, t, w_bytes_per_elem, a_tile_beats(arch, mp, t.tm, t.tk))
}

/// [`traffic`] with the activation tile's DRAM cycles given.
fn traffic_of(arch: &ArchConfig, mp: &Mapped, t: &Tiling, w_bytes_per_elem: (u64, u64), a_beats: u64) -> Traffic {
    let (mt, nt, kt) = (mp.m.div_ceil(t.tm), mp.n.div_ceil(t.tn), mp.k.div_ceil(t.tk));
    let g = timing::gemm_in(arch, t.flow, mp.mode, t.tm, t.tn, t.tk);
    let beats = |rows: u64, row_bytes: u64| dram_beats(arch, rows, row_bytes);
    let (num, den) = mp.mode.expansion();
    let (wn, wd) = w_bytes_per_elem;
    let w_beats = beats(t.tk * den / num, (t.tn * wn).div_ceil(wd));
    let o_beats = beats(t.tm, 2 * t.tn);
    // Resident operands (the whole reduction in one step) load once per
    // tile of the other dimension, streamed ones once per step.
    let a_reloads = if kt == 1 && !t.n_outer { 1 } else { nt };
    let w_loads = if kt == 1 && t.n_outer { nt } else { mt * nt * kt };
    Traffic {
        steps: mt * nt * kt,
        tiles: mt * nt,
        gemm: g,
        dma: a_reloads * mt * kt * a_beats + w_loads * w_beats + mt * nt * o_beats,
        a_beats,
        a_reloads,
        o_beats,
    }
}

/// What a GEMM's tiling must leave room for besides its shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct TileNeeds<'a> {
    /// Layer name and pass, for the error.
    pub(super) layer: &'a str,
    pub(super) pass: Pass,
    /// Tiles an output slot holds per output tile: three under a fused
    /// weight update (gradient, momentum, master weights), else one.
    pub(super) o_tiles: u64,
    /// Weight operand bytes per element (numerator, denominator).
    pub(super) w_fmt: (u64, u64),
    /// The output is masked by ReLU' (BP behind a ReLU): vector work per tile.
    pub(super) masked: bool,
    /// Weight tiles are sparsified on the fly (no pre-generation): the
    /// dense tile is staged in the output buffer's scratch slot.
    pub(super) on_the_fly: bool,
    /// The timing rules tilings are costed with.
    pub(super) timing: TimingModel,
    /// The array mappings to choose from (`DataflowChoice::mappings`).
    pub(super) flows: &'a [Stationarity],
}

/// The tiling of `mp` that the cost model ([`tiling_cost`]) rates fastest
/// among those that fit the budget `b`.
pub(super) fn choose_tiling(
    arch: &ArchConfig,
    mp: &Mapped,
    b: &Budget,
    needs: &TileNeeds<'_>,
) -> Result<Tiling, ScheduleError> {
    let TileNeeds { layer, pass, o_tiles, w_fmt, masked, on_the_fly, timing, flows } = *needs;
    // Vector-unit work per output tile (it drains the array pipeline first).
    let fill = u64::from(arch.pipeline_fill_drain_cycles());
    let epilogue = |len: u64| match pass {
        Pass::Wg if o_tiles > 1 => fill + timing::vector(arch, VecOp::Sgd, len) + 2 * timing::sparsify(arch, 8, len, 1),
        Pass::Bp if masked => fill + timing::vector(arch, VecOp::ReluBwd, len),
        _ => 0,
    };
    let pe = &arch.pe_array;
    let m_align = match mp.mode {
        GemmMode::Nm(p) => u64::from(p.m()),
        GemmMode::Dense => 1,
    };
    let (num, den) = mp.mode.expansion();
    let k_unit = (u64::from(pe.lanes) * num / den).max(m_align);
    // Tiles whose output feeds the sparsifier (fused WU) need whole groups and chunks.
    let n_align = if pass == Pass::Wg { NM_CHUNK } else { 1 };
    // Fewest cycles first; among equal estimates the fewest reduction steps
    // (instructions), so a compute-bound GEMM on a small array is not cut
    // into the smallest tiles that cost the same.
    let mut best: Option<((u64, u64), Tiling)> = None;
    let tms = candidates(mp.m, u64::from(pe.rows), if pass == Pass::Wg { NM_CHUNK } else { 1 });
    let tns = candidates(mp.n, u64::from(pe.cols), if mp.mode.pattern().is_some() { NM_CHUNK } else { n_align });
    let tks = candidates(mp.k, k_unit, m_align);
    // DRAM channel cycles of a (tm, tk) activation tile when such tiles fit
    // the activation slot and their raw windows the line buffer, by tm then
    // tk (the windows only of tiles the slot takes): computed once, as every
    // output-column tiling, loop order and mapping loads the same tiles.
    let a_tiles: Vec<Vec<Option<u64>>> = tms
        .iter()
        .map(|&tm| {
            tks.iter()
                .map(|&tk| {
                    (tm * tk <= b.a_slot && window_fits(arch, mp, tm, tk)).then(|| a_tile_beats(arch, mp, tm, tk))
                })
                .collect()
        })
        .collect();
    for (ti, &tm) in tms.iter().enumerate() {
        for &tn in &tns {
            if tm * tn * o_tiles > b.o_slot || tm * tn > b.stage_slot || (o_tiles > 1 && tm * tn > b.pregen_slot) {
                continue;
            }
            for (ki, &tk) in tks.iter().enumerate() {
                let Some(a_beats) = a_tiles[ti][ki] else { continue };
                if tk % m_align != 0 && tk != mp.k {
                    continue;
                }
                let tk_eff = tk * den / num;
                if tm * tk > b.a_slot || tk_eff * tn > b.w_slot {
                    continue;
                }
                // Without pre-generation the dense weight tile is staged for the sparsifier.
                if on_the_fly && tk * tn > b.o_slot {
                    continue;
                }
                for (n_outer, &flow) in [true, false].into_iter().flat_map(|o| flows.iter().map(move |f| (o, f))) {
                    let t = Tiling { tm, tn, tk, n_outer, flow };
                    let c = match timing {
                        TimingModel::Sat => {
                            let tr = traffic_of(arch, mp, &t, w_fmt, a_beats);
                            tiling_cost(arch, &tr, b.slots, epilogue(tm * tn))
                        }
                        // SCALE-Sim's model: the array's time alone (its DMA never
                        // stalls), each output tile's first reduction step paying the folds.
                        TimingModel::ScalesimOs => {
                            let (tiles, kt) = (mp.m.div_ceil(tm) * mp.n.div_ceil(tn), mp.k.div_ceil(tk));
                            let first = timing.gemm(arch, mp.mode, flow, true, tm, tn, tk).stream;
                            tiles * (first + (kt - 1) * timing.gemm(arch, mp.mode, flow, false, tm, tn, tk).stream)
                        }
                    };
                    let c = (c, mp.m.div_ceil(tm) * mp.n.div_ceil(tn) * mp.k.div_ceil(tk));
                    if best.is_none_or(|(bc, _)| c < bc) {
                        best = Some((c, t));
                    }
                }
            }
        }
    }
    best.map(|(_, t)| t).ok_or_else(|| ScheduleError::NoTiling {
        layer: layer.to_string(),
        pass,
        m: mp.m,
        n: mp.n,
        k: mp.k,
        arch: arch.name.clone(),
        reason: format!(
            "no tile fits (activation slot {} elements, weight slot {}, output slot {}; reduction unit {k_unit}{})",
            b.a_slot,
            b.w_slot,
            b.o_slot,
            if mp.gather.is_some() && arch.dram.im2col == Im2col::LineBuffer {
                format!("; line buffer {} bytes", arch.dram.line_buffer_bytes)
            } else {
                String::new()
            }
        ),
    })
}
