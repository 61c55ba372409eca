//! From the GEMMs of a training step to a SAT program: mapping, tiling,
//! buffer allocation, the three dataflow optimizations and token
//! assignment.
//!
//! # Mapping
//! Every GEMM runs output-stationary on the PE array. Convolutions use an
//! im2col address generator in front of the array: the activation buffer
//! holds raw input windows and the DMA moves raw bytes (a window's halo
//! shared by neighbouring tiles is not re-fetched, an under-count of at most
//! `(R − stride)/(tile rows · stride)` of the activation traffic). The BP of
//! a convolution runs as the transposed convolution of `dO` (reduction
//! `K' = C_out·R·S/stride²`, taps outer, `C_out` inner, so N:M groups still
//! run along `C_out`), which has the MACs of the col2im GEMM but a long
//! reduction instead of `K = C_out`, so the array is not drain-bound.
//!
//! # Tiling
//! Each GEMM gets the tile sizes `(tm, tn, tk)` and loop order (output
//! rows outer or output columns outer, reduction inner) that minimise the
//! cost model of [`crate::timing`] (compute cycles against DRAM cycles)
//! under the buffer budget: the activation buffer is split into operand
//! and staging halves, weight and output buffers into slots; every slot is
//! double-buffered when offline scheduling is on.
//!
//! # The dataflow optimizations (each can be switched off)
//! - **interleave mapping**: output tiles of BP(l) (sparse) and WG(l)
//!   (dense, with the fused weight update) alternate on the array, so the
//!   memory-bound sparse tiles overlap the compute-bound dense ones; compressed
//!   weights are stored values-and-indices interleaved per 16-column chunk so
//!   one DMA feeds both. Off: the GEMMs run one after the other and values
//!   and indices are separate arrays, fetched by two DMAs.
//! - **pre-generation**: the weight update of step t runs the sparsifier and
//!   writes compressed `W_ff` and transposed `W_bp` for step t+1. Off: FF and
//!   BP load dense int16 weights and sparsify them on the critical path.
//! - **offline scheduling**: double-buffered slots and dependency tokens
//!   let DMA overlap compute. Off: one slot per buffer, so every tile's
//!   load, compute and store run one after another (a naive in-order schedule).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::arch::ArchConfig;
use crate::check::capacity;
use crate::isa::{Buf, Deps, DmaFormat, GemmMode, Instr, NM_CHUNK, NO_SHIFT, Queue, VecOp};
use crate::nm::NmPattern;
use crate::program::{CompileInfo, GemmRecord, NO_LAYER, Program, RegionKind, Tag};
use crate::timing;
use crate::tokens::assign_tokens;
use crate::workload::{Gemm, GemmKind, Pass};

/// Which dataflow optimizations are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataflowOptions {
    /// Interleave mapping.
    pub interleave: bool,
    /// Pre-generation of N:M sparse weights.
    pub pregen: bool,
    /// Offline scheduling (double buffering, overlap); off gives a naive in-order schedule.
    pub offline_schedule: bool,
}

impl Default for DataflowOptions {
    fn default() -> Self {
        Self { interleave: true, pregen: true, offline_schedule: true }
    }
}

impl DataflowOptions {
    /// Names of the enabled passes, for the program header.
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.interleave {
            v.push("interleave".to_string());
        }
        if self.pregen {
            v.push("pregen".to_string());
        }
        if self.offline_schedule {
            v.push("offline-schedule".to_string());
        }
        v
    }
}

/// Convolution geometry the mapping needs (im2col reuse, transposed BP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvShape {
    /// Kernel taps `R·S`.
    pub taps: u64,
    /// Stride (square).
    pub stride: u64,
    /// The input geometry per sample (`ic × ih × iw`, kernel, stride,
    /// padding), when known: FF and WG then gather their activation operand
    /// with `load2col`; without it the operand's DRAM traffic is modelled
    /// but its data is not the im2col matrix.
    pub geom: Option<crate::im2col::ConvGeom>,
}

/// One layer of the step: its GEMMs and what the vector unit does around them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerWork {
    /// Name.
    pub name: String,
    /// Its GEMMs (FF, BP, WG for weight layers; attention GEMMs otherwise).
    pub gemms: Vec<Gemm>,
    /// Convolution geometry, when a convolution.
    pub conv: Option<ConvShape>,
    /// Followed by a ReLU (FF applies it, BP masks with it).
    pub relu: bool,
}

/// The int16 settings a training step's program bakes in: fixed-point
/// formats (requantization shifts) and the optimizer's power-of-two
/// hyperparameters. Timing does not depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepNumerics {
    /// Fractional bits per tensor kind.
    pub formats: crate::numerics::Formats,
    /// SGD shifts.
    pub shifts: crate::numerics::SgdShifts,
}

impl Default for StepNumerics {
    fn default() -> Self {
        let formats = crate::numerics::Formats::default();
        Self {
            formats,
            shifts: crate::numerics::SgdShifts {
                grad_align: formats.grad_align_shift(),
                lr_shift: 9,
                momentum_shift: Some(3),
                weight_decay_shift: None,
                sr_ste_shift: None,
            },
        }
    }
}

/// The step the scheduler compiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepWorkload {
    /// Model name.
    pub model: String,
    /// Method name.
    pub method: String,
    /// Pattern, when the method is sparse.
    pub nm: Option<NmPattern>,
    /// Batch size.
    pub batch: u64,
    /// Layers in forward order.
    pub layers: Vec<LayerWork>,
    /// Output classes of the loss (columns of the last FF output).
    pub classes: u64,
    /// The int16 settings baked into the program.
    pub numerics: StepNumerics,
}

impl StepWorkload {
    /// Groups GEMMs by layer in order of first appearance; every layer but
    /// the last is taken to be followed by a ReLU.
    pub fn from_gemms(model: &str, method: &str, nm: Option<NmPattern>, batch: u64, gemms: &[Gemm]) -> Self {
        let mut layers: Vec<LayerWork> = Vec::new();
        for g in gemms {
            match layers.iter_mut().find(|l| l.name == g.layer) {
                Some(l) => l.gemms.push(g.clone()),
                None => {
                    layers.push(LayerWork { name: g.layer.clone(), gemms: vec![g.clone()], conv: None, relu: true })
                }
            }
        }
        if let Some(l) = layers.last_mut() {
            l.relu = false;
        }
        let classes = layers.last().and_then(|l| l.gemms.iter().find(|g| g.pass == Pass::Ff)).map_or(1, |g| g.n.max(1));
        Self {
            model: model.to_string(),
            method: method.to_string(),
            nm,
            batch,
            layers,
            classes,
            numerics: StepNumerics::default(),
        }
    }
}

/// Errors of scheduling.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// A GEMM cannot be tiled into the buffers of this config.
    #[error("layer `{layer}` {pass}: GEMM {m}x{n}x{k} cannot be tiled into the buffers of `{arch}`: {reason}")]
    NoTiling {
        /// Layer.
        layer: String,
        /// Pass.
        pass: Pass,
        /// Rows.
        m: u64,
        /// Columns.
        n: u64,
        /// Reduction.
        k: u64,
        /// Config name.
        arch: String,
        /// Why.
        reason: String,
    },
    /// The config does not run a pattern the workload needs.
    #[error("`{arch}` does not support N:M pattern {pattern} (supported: {supported})")]
    Unsupported {
        /// Config name.
        arch: String,
        /// Pattern.
        pattern: NmPattern,
        /// Supported list.
        supported: String,
    },
    /// A field of the program exceeds its encoding.
    #[error("layer `{layer}`: {what} = {value} exceeds the instruction encoding")]
    TooLarge {
        /// Layer.
        layer: String,
        /// Field.
        what: String,
        /// Value.
        value: u64,
    },
}

/// A GEMM as the array runs it.
#[derive(Debug, Clone, Copy)]
struct Mapped {
    m: u64,
    n: u64,
    k: u64,
    mode: GemmMode,
    /// Raw-input reuse of the activation operand: DRAM bytes = expanded · den / num.
    a_reuse: (u64, u64),
    /// The operand is gathered by `load2col` (geometry; read transposed, as WG):
    /// its DRAM bursts are `ConvGeom::gather_bursts` of the tile.
    gather: Option<(crate::im2col::ConvGeom, bool)>,
}

fn map_gemm(g: &Gemm, conv: Option<ConvShape>) -> Mapped {
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
struct Tiling {
    tm: u64,
    tn: u64,
    tk: u64,
    /// Output columns outer (weights reused across row tiles) or rows outer.
    n_outer: bool,
}

/// Buffer budget: slot sizes in elements.
#[derive(Debug, Clone, Copy)]
struct Budget {
    slots: u64,
    /// Activation slot banks: two under the interleave mapping (one per
    /// interleaved GEMM, each double-buffered), else one.
    a_banks: u64,
    a_slot: u64,
    stage_slot: u64,
    w_slot: u64,
    /// Sparsifier output slots (pre-generation), after the operand slots.
    pregen_slot: u64,
    /// Weight operand slots: half stream, half hold resident weights (so two
    /// interleaved GEMMs keep their resident weights apart).
    w_slots: u64,
    /// Output slots: three, so a tile's deferred epilogue can still read its
    /// slot while the next two tiles accumulate.
    o_slots: u64,
    o_slot: u64,
}

impl Budget {
    /// Activation-buffer address of staging slot `slot` (after the operand slots in use).
    fn stage_base(&self, slot: u64) -> u64 {
        self.a_banks * self.slots * self.a_slot + slot * self.stage_slot
    }
}

fn budget(arch: &ArchConfig, offline: bool, interleave: bool) -> Budget {
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
fn tiling_cost(
    arch: &ArchConfig,
    mp: &Mapped,
    t: &Tiling,
    w_bytes_per_elem: (u64, u64),
    slots: u64,
    epilogue: u64,
) -> u64 {
    let tr = traffic(arch, mp, t, w_bytes_per_elem);
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
struct Traffic {
    /// Reduction steps (GEMM instructions) and output tiles.
    steps: u64,
    tiles: u64,
    /// Timing of one step.
    gemm: timing::GemmTiming,
    /// DRAM channel cycles of all operand loads and output stores.
    dma: u64,
    /// DRAM channel cycles of one activation tile (the first, standing for all).
    a_beats: u64,
    /// How often each activation tile is loaded (once, or once per column tile).
    a_reloads: u64,
    /// DRAM channel cycles of one output tile's store.
    o_beats: u64,
}

fn traffic(arch: &ArchConfig, mp: &Mapped, t: &Tiling, w_bytes_per_elem: (u64, u64)) -> Traffic {
    let (mt, nt, kt) = (mp.m.div_ceil(t.tm), mp.n.div_ceil(t.tn), mp.k.div_ceil(t.tk));
    let g = timing::gemm(arch, mp.mode, t.tm, t.tn, t.tk);
    let bpc = u64::from(arch.dram.bytes_per_cycle);
    let burst = u64::from(arch.dram.burst_bytes);
    let beats = |rows: u64, row_bytes: u64| (rows * row_bytes.div_ceil(burst) * burst).div_ceil(bpc);
    let a_beats = match mp.gather {
        // The first tile's tap segments stand for every tile's.
        Some((geom, trans)) => {
            let (rows, cols) = if trans { (t.tk, t.tm) } else { (t.tm, t.tk) };
            (geom.gather_bursts(arch.dram.im2col, 0, rows, 0, cols, burst) * burst).div_ceil(bpc)
        }
        None => beats(t.tm, 2 * (t.tk * mp.a_reuse.1).div_ceil(mp.a_reuse.0)),
    };
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

#[allow(clippy::too_many_arguments)]
fn choose_tiling(
    arch: &ArchConfig,
    mp: &Mapped,
    b: &Budget,
    o_tiles: u64,
    w_fmt: (u64, u64),
    layer: &str,
    pass: Pass,
    masked: bool,
    on_the_fly: bool,
    k_block: Option<u64>,
) -> Result<Tiling, ScheduleError> {
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
    let mut best: Option<(u64, Tiling)> = None;
    let tms = candidates(mp.m, u64::from(pe.rows), if pass == Pass::Wg { NM_CHUNK } else { 1 });
    let tns = candidates(mp.n, u64::from(pe.cols), if mp.mode.pattern().is_some() { NM_CHUNK } else { n_align });
    let mut tks = candidates(mp.k, k_unit, m_align);
    // A reduction tile stays inside one block (a transposed convolution's tap).
    if let Some(kb) = k_block {
        tks.push(kb);
        tks.retain(|&t| t <= kb && kb % t == 0);
        tks.sort_unstable();
        tks.dedup();
    }
    for &tm in &tms {
        for &tn in &tns {
            if tm * tn * o_tiles > b.o_slot || tm * tn > b.stage_slot || (o_tiles > 1 && tm * tn > b.pregen_slot) {
                continue;
            }
            for &tk in &tks {
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
                for n_outer in [true, false] {
                    let t = Tiling { tm, tn, tk, n_outer };
                    let c = tiling_cost(arch, mp, &t, w_fmt, b.slots, epilogue(tm * tn));
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
            "no tile fits (activation slot {} elements, weight slot {}, output slot {}; reduction unit {k_unit})",
            b.a_slot, b.w_slot, b.o_slot
        ),
    })
}

/// A buffer or DRAM resource for hazard tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Res {
    ASlot(u64),
    Stage(u64),
    WSlot(u64),
    OSlot(u64),
    /// The weight-update staging part of an output slot (master weights and
    /// momentum, after the accumulators): apart from `OSlot` so the WU loads
    /// of a tile need not wait for its GEMMs to finish.
    OWu(u64),
    PSlot(u64),
    OScratch,
    /// A whole DRAM region (by index in the memory map).
    Dram(usize),
    /// One tile of a DRAM region (region, first element): disjoint from the
    /// region's other tiles, overlapping the whole region. The weight update
    /// reads and writes master weights and momentum tile by tile, so tile
    /// j's loads need not wait for tile j−1's stores.
    DramTile(usize, u64),
}

impl Res {
    /// Whether two resources overlap.
    fn overlaps(self, other: Res) -> bool {
        match (self, other) {
            (Res::Dram(a), Res::DramTile(b, _)) | (Res::DramTile(b, _), Res::Dram(a)) => a == b,
            _ => self == other,
        }
    }

    /// The resources whose hazard entries an access to `self` must consult,
    /// beyond `self`: the tiles of a region, or a tile's region.
    fn others(self, hz: &Hazards) -> Vec<Res> {
        match self {
            Res::Dram(r) if !hz.tiled.contains(&r) => Vec::new(),
            Res::Dram(r) => hz
                .writer
                .range(Res::DramTile(r, 0)..=Res::DramTile(r, u64::MAX))
                .map(|(k, _)| *k)
                .chain(hz.readers.range(Res::DramTile(r, 0)..=Res::DramTile(r, u64::MAX)).map(|(k, _)| *k))
                .collect(),
            Res::DramTile(r, _) => vec![Res::Dram(r)],
            _ => Vec::new(),
        }
    }
}

#[derive(Default)]
struct Hazards {
    writer: BTreeMap<Res, usize>,
    readers: BTreeMap<Res, Vec<usize>>,
    /// DRAM regions accessed tile by tile (`Res::DramTile`) at some point.
    tiled: std::collections::BTreeSet<usize>,
}

/// Builds the program while tracking hazards.
struct Builder<'a> {
    arch: &'a ArchConfig,
    prog: Program,
    deps: Vec<Vec<usize>>,
    hz: Hazards,
    region_ids: BTreeMap<String, usize>,
    budget: Budget,
    /// Round-robin position in each activation bank.
    a_ring: [u64; 2],
    o_ring: u64,
    /// Output slots held by open tiles (two are open at once under the
    /// interleave mapping).
    o_held: Vec<bool>,
    s_ring: u64,
    /// Epilogue instructions deferred into the next tile's reduction loop
    /// (software pipelining: the vector unit and sparsifier work of tile j
    /// overlaps the GEMMs of tile j+1 instead of blocking in-order issue).
    pending: std::collections::VecDeque<Deferred>,
    /// Sequence number of the tile being emitted.
    tile_seq: u64,
    p_ring: u64,
    /// The int16 settings baked into epilogues.
    numerics: StepNumerics,
    /// Latest store the load queue has synchronised with (through a sync).
    load_synced_with_store: Option<usize>,
    /// Latest load the store queue has synchronised with.
    store_synced_with_load: Option<usize>,
    /// Which operand tile each slot holds (for reuse).
    a_keys: Vec<Option<SlotKey>>,
    w_keys: Vec<Option<SlotKey>>,
    /// Last step each weight slot was used in (least recently used is replaced).
    w_used: Vec<u64>,
    step: u64,
}

/// A deferred instruction: its tile sequence number, the instruction, its
/// tag and the resources it reads and writes.
type Deferred = (u64, Instr, Tag, Vec<Res>, Vec<Res>);

/// Identifies an operand tile: the GEMM (by tag) and the tile's origin.
type SlotKey = (Tag, u64, u64);

/// `p4` of `vec sgd` that disables weight decay.
pub const NO_WEIGHT_DECAY: u8 = crate::isa::NO_SHIFT;

/// How many tiles a tile's epilogue may trail its GEMMs by (software
/// pipelining depth); the output buffer has this many slots plus two.
const EPILOGUE_LAG: u64 = 2;

impl<'a> Builder<'a> {
    fn region(&mut self, name: &str, kind: RegionKind, bytes: u64) -> (usize, u64) {
        if let Some(&id) = self.region_ids.get(name) {
            return (id, self.prog.regions[id].addr);
        }
        let addr = self.prog.alloc(name, kind, bytes.max(1));
        let id = self.prog.regions.len() - 1;
        self.region_ids.insert(name.to_string(), id);
        (id, addr)
    }

    /// Emits `instr`, waiting for the hazards on `reads` and `writes`. A
    /// deferred instruction that touches the same resources goes out first
    /// (with everything deferred before it), so deferral never reorders a
    /// dependent pair.
    fn emit(&mut self, instr: Instr, tag: Tag, reads: &[Res], writes: &[Res]) -> usize {
        let hit = |set: &[Res], x: &Res| set.iter().any(|y| y.overlaps(*x));
        let touches = |r: &[Res], w: &[Res]| {
            w.iter().any(|x| hit(reads, x) || hit(writes, x)) || r.iter().any(|x| hit(writes, x))
        };
        if let Some(last) = self.pending.iter().rposition(|p| touches(&p.3, &p.4)) {
            for _ in 0..=last {
                if let Some((_, i, t, r, w)) = self.pending.pop_front() {
                    self.emit_now(i, t, &r, &w);
                }
            }
        }
        self.emit_now(instr, tag, reads, writes)
    }

    /// Emits `instr` right away (deferred instructions leave the queue in
    /// order through here, so none overtakes another).
    fn emit_now(&mut self, instr: Instr, tag: Tag, reads: &[Res], writes: &[Res]) -> usize {
        let q = instr.queue();
        let mut d: Vec<usize> = Vec::new();
        for r in reads {
            for x in std::iter::once(*r).chain(r.others(&self.hz)) {
                if let Some(&w) = self.hz.writer.get(&x) {
                    d.push(w);
                }
            }
        }
        for r in writes {
            for x in std::iter::once(*r).chain(r.others(&self.hz)) {
                if let Some(&w) = self.hz.writer.get(&x) {
                    d.push(w);
                }
                if let Some(rs) = self.hz.readers.get(&x) {
                    d.extend(rs.iter().copied());
                }
            }
        }
        // Load <-> store dependencies go through a compute sync, unless an
        // earlier instruction of this queue already synchronised with a
        // later (or the same) instruction of the other queue.
        let covered = match q {
            Queue::Load => self.load_synced_with_store,
            Queue::Store => self.store_synced_with_load,
            Queue::Compute => None,
        };
        let crossing = |p: usize| {
            let qp = self.prog.instrs[p].queue();
            matches!((qp, q), (Queue::Load, Queue::Store) | (Queue::Store, Queue::Load))
        };
        d.retain(|&p| !(crossing(p) && covered.is_some_and(|c| p <= c)));
        let cross: Vec<usize> = d.iter().copied().filter(|&p| crossing(p)).collect();
        if let Some(&latest) = cross.iter().max() {
            match q {
                Queue::Load => self.load_synced_with_store = Some(latest),
                Queue::Store => self.store_synced_with_load = Some(latest),
                Queue::Compute => {}
            }
        }
        if !cross.is_empty() {
            let s = self.prog.push(Instr::Sync { deps: Deps::default() }, tag);
            self.deps.push(cross.clone());
            d.retain(|p| !cross.contains(p));
            d.push(s);
        }
        d.sort_unstable();
        d.dedup();
        let i = self.prog.push(instr, tag);
        self.deps.push(d);
        for r in reads.iter().chain(writes) {
            if let Res::DramTile(region, _) = r {
                self.hz.tiled.insert(*region);
            }
        }
        for r in reads {
            self.hz.readers.entry(*r).or_default().push(i);
        }
        for r in writes {
            // A write of a whole region supersedes its tiles' entries (it
            // depends on all of them).
            if let Res::Dram(_) = r {
                for x in r.others(&self.hz) {
                    self.hz.writer.remove(&x);
                    self.hz.readers.remove(&x);
                }
            }
            self.hz.writer.insert(*r, i);
            self.hz.readers.remove(r);
        }
        i
    }

    /// Queues an epilogue instruction for later emission.
    fn defer(&mut self, instr: Instr, tag: Tag, reads: &[Res], writes: &[Res]) {
        self.pending.push_back((self.tile_seq, instr, tag, reads.to_vec(), writes.to_vec()));
    }

    /// Emits deferred instructions up to and including the next compute one.
    fn release_one(&mut self) {
        while let Some((_, i, t, r, w)) = self.pending.pop_front() {
            let compute = i.queue() == Queue::Compute;
            self.emit_now(i, t, &r, &w);
            if compute {
                break;
            }
        }
    }

    /// Emits the deferred DMA instructions at the front of the queue, up to
    /// the first compute one. Called before a tile's GEMM so that an
    /// epilogue's loads (and any sync they need) enter the compute order
    /// before that GEMM: a sync retires in order, and behind the GEMM it
    /// would hold the loads until the GEMM finished.
    fn release_dma(&mut self) {
        while self.pending.front().is_some_and(|p| p.1.queue() != Queue::Compute) {
            let Some((_, i, t, r, w)) = self.pending.pop_front() else { break };
            self.emit_now(i, t, &r, &w);
        }
    }

    /// Emits the deferred instructions of tiles before `seq`.
    fn flush_before(&mut self, seq: u64) {
        while self.pending.front().is_some_and(|p| p.0 < seq) {
            let Some((_, i, t, r, w)) = self.pending.pop_front() else { break };
            self.emit_now(i, t, &r, &w);
        }
    }

    /// Emits every deferred instruction.
    fn flush(&mut self) {
        self.flush_before(u64::MAX);
    }

    /// The next output slot in the ring that no open tile holds.
    fn take_o_slot(&mut self) -> u64 {
        let n = self.budget.o_slots;
        let mut s = Builder::next(&mut self.o_ring, n);
        for _ in 0..n {
            if !self.o_held[s as usize] {
                break;
            }
            s = Builder::next(&mut self.o_ring, n);
        }
        self.o_held[s as usize] = true;
        s
    }

    fn next(ring: &mut u64, slots: u64) -> u64 {
        let s = *ring % slots;
        *ring += 1;
        s
    }
}

/// How one GEMM's operands live in DRAM and what happens to its output.
#[derive(Debug, Clone)]
struct GemmJob {
    tag: Tag,
    layer: String,
    mp: Mapped,
    tiling: Tiling,
    /// Weight operand bytes per element (numerator, denominator), as the tiling saw them.
    w_fmt: (u64, u64),
    /// Activation operand region and row length in elements (raw).
    a_region: (usize, u64),
    a_row: u64,
    /// The activation operand is read transposed from a row-major `K×M` block
    /// (WG of a linear layer: `Xᵀ` from `X` as stored).
    a_trans: bool,
    /// The activation operand is the im2col matrix of the NHWC tensor at
    /// `a_region`, gathered by `load2col` (FF and WG of a convolution).
    im2col: Option<crate::im2col::ConvGeom>,
    /// BP of a convolution as a transposed convolution: `(taps, C_out, C_in)`.
    /// Its weight tile (rows `(t′, k)`, columns `c`) is read from the stored
    /// `W_bp` (`C_out × taps·C_in`) or `W` (`taps·C_in × C_out`) at the
    /// flipped tap's block; a reduction tile never spans two taps.
    tap_blocks: Option<(u64, u64, u64)>,
    /// Weight operand source.
    w_src: WSource,
    out: OutKind,
}

#[derive(Debug, Clone)]
enum WSource {
    /// Dense int16 `k×n` (row-major) region, or `n×k` when `transposed`
    /// (a dense BP reads `Wᵀ` from the `K×N` weight as stored).
    Dense { region: (usize, u64), transposed: bool },
    /// Compressed, interleaved (one DMA) or split values/indices.
    Compressed { pattern: NmPattern, values: (usize, u64), indices: Option<(usize, u64)> },
    /// Dense int16 weights, sparsified on the fly (no pre-generation).
    SparsifyOnTheFly { pattern: NmPattern, region: (usize, u64), axis: u8 },
}

#[derive(Debug, Clone)]
enum OutKind {
    /// Requantize by `shift` into int16 (with ReLU) and store; in BP optionally mask by ReLU'.
    Activation { region: (usize, u64), relu: bool, mask: Option<(usize, u64)>, row: u64, shift: i8 },
    /// Fused weight update of a `k×n` weight (WG output tile = weight tile).
    WeightUpdate(Box<WuPlan>),
}

/// A DRAM region: its index in the memory map and its address.
type RegionRef = (usize, u64);
/// Where pre-generated weights go: pattern, values (or interleaved) region, split indices region.
type PregenTarget = (NmPattern, RegionRef, Option<RegionRef>);

#[derive(Debug, Clone)]
struct WuPlan {
    master: (usize, u64),
    momentum: (usize, u64),
    dense_w: Option<(usize, u64)>,
    ff: Option<PregenTarget>,
    bp: Option<PregenTarget>,
    /// A convolution whose dense BP runs as a transposed convolution: its
    /// weights are also stored as `W′ᵀ` (`C_in × taps·C_out`, taps flipped)
    /// in this region, `(region, taps, C_in, C_out)`.
    bp_dense_taps: Option<((usize, u64), u64, u64, u64)>,
    /// SR-STE: the FF pattern whose pruned mask (chosen on the master
    /// weights before the update, as FF chose it) gates the decay term.
    sr_ste: Option<NmPattern>,
    /// Columns of the full weight (`N`).
    cols: u64,
    /// Rows of the full weight (`K`).
    rows: u64,
}

/// A convolution's BP as the transposed convolution over dO: the gather's
/// geometry and `(taps, C_out, C_in)`, when the layer's geometry is known and
/// `g` is its BP GEMM (`None` keeps the size-only model).
fn bp_tap_blocks(l: &LayerWork, g: &Gemm, batch: u64) -> Option<(crate::im2col::ConvGeom, (u64, u64, u64))> {
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

fn a_region_of_ff(b: &Builder, _name: &str, layer: u32, ff_jobs: &[GemmJob]) -> Option<(usize, u64)> {
    let _ = b;
    ff_jobs.iter().find(|j| j.tag.layer == layer).map(|j| j.a_region)
}

/// Output tiles (m0, n0, tm, tn) of a job, in its loop order.
fn tile_list(j: &GemmJob) -> Vec<(u64, u64, u64, u64)> {
    let t = j.tiling;
    let mut v = Vec::new();
    let ms: Vec<u64> = (0..j.mp.m.div_ceil(t.tm)).map(|i| i * t.tm).collect();
    let ns: Vec<u64> = (0..j.mp.n.div_ceil(t.tn)).map(|i| i * t.tn).collect();
    if t.n_outer {
        for &n0 in &ns {
            for &m0 in &ms {
                v.push((m0, n0, t.tm.min(j.mp.m - m0), t.tn.min(j.mp.n - n0)));
            }
        }
    } else {
        for &m0 in &ms {
            for &n0 in &ns {
                v.push((m0, n0, t.tm.min(j.mp.m - m0), t.tn.min(j.mp.n - n0)));
            }
        }
    }
    v
}

fn emit_gemm_job(b: &mut Builder, j: &GemmJob, opts: &DataflowOptions) -> Result<(), ScheduleError> {
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
fn interleave_pays(arch: &ArchConfig, x: &GemmJob, y: &GemmJob) -> bool {
    let (px, dx) = job_load(arch, x);
    let (py, dy) = job_load(arch, y);
    let apart = px.max(dx) + py.max(dy);
    let together = (px + py).max(dx + dy);
    (apart - together) * INTERLEAVE_MIN_GAIN.1 >= apart * INTERLEAVE_MIN_GAIN.0
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
fn emit_interleaved(b: &mut Builder, x: &GemmJob, y: &GemmJob, opts: &DataflowOptions) -> Result<(), ScheduleError> {
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

fn u32c(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// One output tile: its reduction steps and its epilogue.
fn emit_tile(
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
struct OpenTile {
    tile: (u64, u64, u64, u64),
    o_slot: u64,
    /// Next reduction step, and how many there are.
    ki: u64,
    kt: u64,
    /// Activation bank its operands load into (one per interleaved GEMM).
    bank: u64,
}

/// MACs the array executes for reduction step `ki` of an output tile (the
/// interleave mapping balances two GEMMs by them).
fn step_macs(j: &GemmJob, (_, _, tm, tn): (u64, u64, u64, u64), ki: u64) -> u64 {
    let (num, den) = j.mp.mode.expansion();
    let tk = j.tiling.tk.min(j.mp.k - ki * j.tiling.tk);
    (tm * tn * tk * num).div_ceil(den)
}

/// Opens an output tile: takes an output slot no other open tile holds.
fn begin_tile(b: &mut Builder, j: &GemmJob, tile: (u64, u64, u64, u64), bank: u64) -> OpenTile {
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
fn tile_step(b: &mut Builder, j: &GemmJob, open: &mut OpenTile, opts: &DataflowOptions) -> Result<(), ScheduleError> {
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
fn end_tile(b: &mut Builder, j: &GemmJob, open: OpenTile, opts: &DataflowOptions) -> Result<(), ScheduleError> {
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

#[allow(clippy::too_many_lines)]
fn emit_wu(
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
fn emit_loss(b: &mut Builder, step: &StepWorkload, ff_jobs: &[GemmJob]) -> Result<(), ScheduleError> {
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

/// The right-hand operand of a standalone GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmOperand {
    /// Dense `k×n` int16, row-major.
    Dense,
    /// N:M compressed along `k`: `(k·N/M) × n` values and indices in the
    /// interleaved `nm_row` layout.
    Nm(NmPattern),
}

/// A standalone program and where its operands live in DRAM.
#[derive(Debug, Clone)]
pub struct KernelProgram {
    /// The program (memory image empty: the caller fills the inputs).
    pub program: Program,
    /// DRAM byte addresses of the inputs, in the order the kernel documents.
    pub inputs: Vec<u64>,
    /// DRAM byte address of the output.
    pub output: u64,
}

fn kernel_builder(arch: &ArchConfig) -> Builder<'_> {
    let budget = budget(arch, true, false);
    Builder {
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
        numerics: StepNumerics::default(),
        load_synced_with_store: None,
        store_synced_with_load: None,
        pending: Default::default(),
        tile_seq: 0,
        p_ring: 0,
        a_keys: vec![None; (budget.a_banks * budget.slots) as usize],
        w_keys: vec![None; budget.w_slots as usize],
        w_used: vec![0; budget.w_slots as usize],
        step: 0,
    }
}

fn finish_kernel(mut b: Builder<'_>) -> Program {
    b.flush();
    b.prog.push(Instr::Halt { deps: Deps::default() }, Tag { layer: NO_LAYER, pass: Pass::Ff });
    b.deps.push(Vec::new());
    let mut prog = b.prog;
    assign_tokens(&mut prog.instrs, &b.deps);
    prog
}

/// `C[m×n] = requantize(A[m×k] · B[k×n], shift)` as a SAT program, tiled and
/// scheduled like a training step's GEMM. Inputs: `A` (int16, row-major),
/// `B` (see [`GemmOperand`]); output `C` (int16, row-major). Used to run the
/// reference trainer's GEMMs on the simulated SAT.
pub fn compile_gemm(
    arch: &ArchConfig,
    m: u64,
    n: u64,
    k: u64,
    operand: GemmOperand,
    shift: u32,
    pass: Pass,
) -> Result<KernelProgram, ScheduleError> {
    let mode = match operand {
        GemmOperand::Dense => GemmMode::Dense,
        GemmOperand::Nm(p) => {
            if !arch.supports(p) {
                return Err(ScheduleError::Unsupported {
                    arch: arch.name.clone(),
                    pattern: p,
                    supported: arch.sparsity.patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
                });
            }
            GemmMode::Nm(p)
        }
    };
    let mut b = kernel_builder(arch);
    let layer = b.prog.layer_index("gemm");
    let a = b.region("a", RegionKind::Activation, 2 * m * k);
    let w_src = match operand {
        GemmOperand::Dense => {
            WSource::Dense { region: b.region("b", RegionKind::Weights, 2 * k * n), transposed: false }
        }
        GemmOperand::Nm(p) => {
            let rows = k * u64::from(p.n()) / u64::from(p.m());
            let bytes = rows * DmaFormat::NmRow.row_bytes(n, p.index_bits());
            WSource::Compressed { pattern: p, values: b.region("b", RegionKind::WeightsFf, bytes), indices: None }
        }
    };
    let c = b.region("c", RegionKind::Activation, 2 * m * n);
    let mp = Mapped { m, n, k, mode, a_reuse: (1, 1), gather: None };
    let w_fmt = match operand {
        GemmOperand::Nm(p) => (2 * 16 + 2 * u64::from(p.index_bits()), 16),
        GemmOperand::Dense => (2, 1),
    };
    let tiling = choose_tiling(arch, &mp, &b.budget, 1, w_fmt, "gemm", pass, false, false, None)?;
    let b_addr = match &w_src {
        WSource::Dense { region, .. } | WSource::SparsifyOnTheFly { region, .. } => region.1,
        WSource::Compressed { values, .. } => values.1,
    };
    let shift = i8::try_from(shift).map_err(|_| ScheduleError::TooLarge {
        layer: "gemm".into(),
        what: "requantize shift".into(),
        value: u64::from(shift),
    })?;
    let job = GemmJob {
        tag: Tag { layer, pass },
        layer: "gemm".into(),
        mp,
        tiling,
        w_fmt,
        a_region: a,
        a_row: k,
        a_trans: false,
        im2col: None,
        tap_blocks: None,
        w_src,
        out: OutKind::Activation { region: c, relu: false, mask: None, row: n, shift },
    };
    emit_gemm_job(&mut b, &job, &DataflowOptions::default())?;
    Ok(KernelProgram { program: finish_kernel(b), inputs: vec![a.1, b_addr], output: c.1 })
}

fn dma1(buf: Buf, fmt: DmaFormat, dram: u64, sram: u64, n: u64, store: bool) -> Instr {
    let stride = if fmt == DmaFormat::I32 { 4 * n } else { 2 * n };
    if store {
        Instr::Store {
            deps: Deps::default(),
            buf,
            fmt,
            index_bits: 0,
            dram,
            sram: u32c(sram),
            rows: 1,
            cols: u32c(n),
            stride,
            shift: 0,
            relu: false,
        }
    } else {
        Instr::Load {
            deps: Deps::default(),
            buf,
            fmt,
            index_bits: 0,
            dram,
            sram: u32c(sram),
            rows: 1,
            cols: u32c(n),
            stride,
        }
    }
}

/// The vector unit's SGD-with-momentum update of `len` master weights.
/// Inputs: `dW` (as `i32`, requantized by `grad_shift` on the unit), master
/// weights and momentum (`i32`); it writes the new master weights and
/// momentum in place and the int16 operand weights at `output`. `params` are
/// `vec sgd`'s `p1..p4`: learning-rate shift, momentum shift (0: none),
/// gradient alignment (left shift), weight-decay shift (0xFF: none).
/// With `sr_ste` (SR-STE's shift), a fourth input holds one int16 flag per
/// weight (non-zero: pruned by the FF mask) that gates SR-STE's decay term.
pub fn compile_sgd(arch: &ArchConfig, len: u64, grad_shift: i8, params: [u8; 4], sr_ste: Option<u8>) -> KernelProgram {
    let mut b = kernel_builder(arch);
    let layer = b.prog.layer_index("sgd");
    let tag = Tag { layer, pass: Pass::Wu };
    let g = b.region("grad", RegionKind::WeightGradient, 4 * len);
    let w = b.region("master", RegionKind::MasterWeights, 4 * len);
    let v = b.region("momentum", RegionKind::Momentum, 4 * len);
    let q = b.region("weights", RegionKind::Weights, 2 * len);
    let pruned = sr_ste.map(|_| b.region("pruned", RegionKind::Activation, 2 * len));
    let chunk = (b.budget.o_slot / 3).min(b.budget.stage_slot).max(1);
    let mut off = 0;
    while off < len {
        let n = chunk.min(len - off);
        let o_slot = Builder::next(&mut b.o_ring, b.budget.o_slots);
        let o_res = Res::OSlot(o_slot);
        let o_base = o_slot * b.budget.o_slot;
        let s_slot = Builder::next(&mut b.s_ring, b.budget.slots);
        let s_res = Res::Stage(s_slot);
        let s_base = b.budget.stage_base(s_slot);
        for (i, r) in [g, w, v].iter().enumerate() {
            let instr = dma1(Buf::O, DmaFormat::I32, r.1 + 4 * off, o_base + i as u64 * n, n, false);
            b.emit(instr, tag, &[Res::Dram(r.0)], &[o_res]);
        }
        // The flags go where the new operand weights will be written.
        if let Some(r) = pruned {
            b.emit(dma1(Buf::A, DmaFormat::I16, r.1 + 2 * off, s_base, n, false), tag, &[Res::Dram(r.0)], &[s_res]);
        }
        let sgd_reads = if pruned.is_some() { vec![o_res, s_res] } else { vec![o_res] };
        b.emit(
            Instr::Vec {
                deps: Deps::default(),
                op: VecOp::Sgd,
                len: u32c(n),
                src: u32c(o_base),
                src2: u32c(o_base + 2 * n),
                dst: u32c(o_base + n),
                aux: u32c(s_base),
                shift: grad_shift,
                p1: params[0],
                p2: params[1],
                p3: params[2],
                p4: params[3],
                mask: if sr_ste.is_some() { u32c(s_base) } else { 0 },
                p5: sr_ste.unwrap_or(NO_SHIFT),
            },
            tag,
            &sgd_reads,
            &[o_res, s_res],
        );
        for (i, r) in [(1u64, w), (2, v)] {
            let instr = dma1(Buf::O, DmaFormat::I32, r.1 + 4 * off, o_base + i * n, n, true);
            b.emit(instr, tag, &[o_res], &[Res::Dram(r.0)]);
        }
        b.emit(dma1(Buf::A, DmaFormat::I16, q.1 + 2 * off, s_base, n, true), tag, &[s_res], &[Res::Dram(q.0)]);
        off += n;
    }
    let mut inputs = vec![g.1, w.1, v.1];
    inputs.extend(pruned.map(|r| r.1));
    KernelProgram { program: finish_kernel(b), inputs, output: q.1 }
}

/// The vector unit's softmax cross-entropy gradient of `rows × classes`
/// int16 logits with one int16 label per row, in the fixed-point formats
/// `act_frac` and `grad_frac`. Inputs: logits, labels; output: the gradient.
pub fn compile_loss_grad(arch: &ArchConfig, rows: u64, classes: u64, act_frac: u8, grad_frac: u8) -> KernelProgram {
    let mut b = kernel_builder(arch);
    let layer = b.prog.layer_index("loss");
    let tag = Tag { layer, pass: Pass::Bp };
    let logits = b.region("logits", RegionKind::Activation, 2 * rows * classes);
    let labels = b.region("labels", RegionKind::Labels, 2 * rows);
    let grad = b.region("grad", RegionKind::Gradient, 2 * rows * classes);
    let per = (b.budget.a_slot / (classes + 1)).min(b.budget.stage_slot / classes.max(1)).max(1);
    let mut r0 = 0;
    while r0 < rows {
        let n = per.min(rows - r0);
        let a_slot = Builder::next(&mut b.a_ring[0], b.budget.slots);
        let a_res = Res::ASlot(a_slot);
        let a_base = a_slot * b.budget.a_slot;
        let s_slot = Builder::next(&mut b.s_ring, b.budget.slots);
        let s_res = Res::Stage(s_slot);
        let s_base = b.budget.stage_base(s_slot);
        let len = n * classes;
        b.emit(
            dma1(Buf::A, DmaFormat::I16, logits.1 + 2 * r0 * classes, a_base, len, false),
            tag,
            &[Res::Dram(logits.0)],
            &[a_res],
        );
        b.emit(
            dma1(Buf::A, DmaFormat::I16, labels.1 + 2 * r0, a_base + len, n, false),
            tag,
            &[Res::Dram(labels.0)],
            &[a_res],
        );
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
                p1: act_frac,
                p2: grad_frac,
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
            dma1(Buf::A, DmaFormat::I16, grad.1 + 2 * r0 * classes, s_base, len, true),
            tag,
            &[s_res],
            &[Res::Dram(grad.0)],
        );
        r0 += n;
    }
    KernelProgram { program: finish_kernel(b), inputs: vec![logits.1, labels.1], output: grad.1 }
}
