//! SAT timing rules: how many cycles each unit spends on an instruction.
//!
//! These functions are the one definition of SAT timing. The simulator's
//! `fast` and `cycle` modes both take unit occupancies from here (the cycle
//! mode then steps every cycle of them, the fast mode jumps between
//! events), the compiler's tiling uses them as its cost model, and the RTL
//! controller is generated to the same rules. Timing never depends on data
//! values, which is what makes offline scheduling exact.
//!
//! # The rules
//!
//! **GEMM (output-stationary).** A tile `O[m×n] (+)= A[m×k]·W[k×n]` runs as
//! `⌈m/rows⌉·⌈n/cols⌉` sub-tiles of at most `rows×cols` outputs. Per
//! sub-tile the reduction advances `lanes·M/N` logical elements per *K-step*
//! (`lanes` in dense mode), so it has `⌈k_eff/lanes⌉` K-steps with
//! `k_eff = k·N/M`. One K-step takes one cycle unless the buffers cannot feed
//! it: the activation buffer must deliver `rows_used·lanes·M/N` elements
//! and the weight buffer `cols_used·lanes` values (plus their indices) per
//! K-step, at `banks·port_bytes` bytes per cycle each; otherwise a K-step
//! takes `⌈need/available⌉` cycles (a *port stall*). Each PE has two
//! accumulator sets, so sub-tile `i` drains (one PE row per cycle, `rows_used`
//! cycles) while sub-tile `i+1` streams: the sub-tile period is
//! `max(stream, rows_used)`, the excess being a *drain stall*. The tile
//! adds one pipeline fill/drain ([`ArchConfig::pipeline_fill_drain_cycles`])
//! plus the last sub-tile's drain. Consecutive GEMMs overlap: the next may
//! start streaming as soon as this one has streamed its last sub-tile.
//!
//! **GEMM (weight-stationary, ADR 004).** With `ws = 1` the array holds
//! weights instead of outputs. With `k_steps = ⌈k_eff/lanes⌉` as above, a
//! *fold* covers `rows` K-steps of the reduction and `cols` output columns:
//! PE row `r` holds the `lanes × cols` compressed weights of the fold's
//! K-step `r`, loaded from the weight buffer one PE row per `cpw` cycles
//! (`cpw` = the weight bytes of a row over the port, at least 1), so a
//! fold's *weight fill* takes `fill = r_used·cpw` cycles with
//! `r_used = min(k_steps, rows)`. Then the `m` rows of `A` stream past,
//! one per `cpa` cycles (`cpa`: the `r_used·lanes·M/N` activations of a row
//! over the activation port), every PE row's lanes pick their activations
//! by index as in OS, and each column's partial sum over the PE rows is
//! added into `O` (overwritten by a fold that starts the accumulation). A
//! tile has `⌈k_steps/rows⌉·⌈n/cols⌉` folds (column blocks outer); each PE
//! keeps two weight sets, so fold `f + 1` fills while fold `f` streams: the
//! fold period is `max(m·cpa, fill)` and the stream
//! `fill + (folds − 1)·period + m·cpa` (the first fill exposed). The tail is
//! the pipeline fill/drain alone: no accumulators to drain. OS rounds `m` up
//! to `rows`, WS rounds `k_steps` up to `rows` and pays the fill; WS needs
//! `at = 0` (a transposed `A` cannot deliver one row's reduction window
//! per cycle).
//!
//! **DMA.** A transfer of `rows` rows moves `rows·⌈row_bytes/burst⌉` bursts;
//! the DRAM channel carries `bytes_per_cycle` per cycle, so the transfer
//! occupies the channel for `⌈bursts·burst/bytes_per_cycle⌉` *beats*. It is
//! granted the channel at `max(start, channel_free)` (load before store when
//! both ask in the same cycle) and completes `latency` cycles after its
//! last beat. A `load2col` on a config with a line buffer (ADR 003) fetches
//! its raw window (the bursts) and then expands it into the activation
//! buffer on the same engine, holding the channel for both phases:
//! `⌈bursts·burst/bytes_per_cycle⌉ + ⌈rows·units_per_row/expand_units⌉`
//! ([`load2col_expansion`]).
//!
//! **Vector unit.** `passes·⌈len/lanes⌉ + VECTOR_PIPELINE` cycles, where
//! `passes` is 1 for element-wise ops and 2 for SGD (read-modify-write of
//! master weights and momentum). The loss gradient has its own small unit,
//! one element per cycle through one exponential and one divider, in three
//! passes (max, sum of exponentials, output): `3·len + VECTOR_PIPELINE`. It
//! runs once per step on `batch × classes` logits, and a lane-parallel one
//! was 42 % of `sat-mid`'s LUTs (docs/rtl.md).
//!
//! **Sparsifier.** Each of its lanes sorts one group of `M` in `M` cycles:
//! `⌈groups/lanes⌉·M + SPARSIFIER_PIPELINE` cycles for `rows·cols/M` groups.
//!
//! # SCALE-Sim compatibility
//!
//! [`TimingModel::ScalesimOs`] (`nmsat sim --scalesim-compat`) replaces the
//! GEMM and DMA rules by SCALE-Sim v3's output-stationary compute model in
//! its stall-free (`CALC`) mode (`docs/scalesim.md`): every sub-tile (a
//! SCALE-Sim *fold*) streams its `k_steps` K-steps and then pays the
//! array's skewed fill and drain, `rows + cols − 2` cycles, before the next
//! may start (one accumulator set, no overlap); buffer ports never stall;
//! a DMA transfer takes one channel cycle and no latency. A SCALE-Sim fold
//! always spans the whole reduction (its compute model ignores SRAM
//! capacity), so where nmsat's tiling splits K over several GEMMs only the
//! one that starts the accumulation (`acc = 0`) pays the fill and drain.
//! The default, [`TimingModel::Sat`], is the SAT's rules above.

use crate::arch::{ArchConfig, Stationarity};
use crate::isa::{DmaFormat, GemmMode, VecOp};

/// Pipeline depth of the vector unit in cycles.
pub const VECTOR_PIPELINE: u64 = 4;
/// Pipeline depth of the sparsifier in cycles.
pub const SPARSIFIER_PIPELINE: u64 = 2;
/// Duration of a `sync` or `halt`.
pub const SYNC_CYCLES: u64 = 1;

/// Timing of one GEMM tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GemmTiming {
    /// Sub-tiles the array walks.
    pub subtiles: u64,
    /// K-steps per sub-tile.
    pub k_steps: u64,
    /// Cycles per K-step (1 unless a buffer port limits it).
    pub cycles_per_k_step: u64,
    /// Cycles between the starts of consecutive sub-tiles.
    pub period: u64,
    /// Cycles the array spends streaming this tile (`subtiles·period`):
    /// when the next GEMM may start.
    pub stream: u64,
    /// Fill plus the final drain, after the stream.
    pub tail: u64,
    /// `stream + tail`: when results are in the output buffer.
    pub total: u64,
    /// Cycles of the stream lost to buffer ports.
    pub port_stall: u64,
    /// Cycles of the stream lost to draining accumulators (OS) or to
    /// loading stationary weights (WS: the first fill and fill-bound folds).
    pub drain_stall: u64,
    /// Multiply-accumulates executed (compressed K for N:M).
    pub macs_executed: u64,
    /// Multiplier-cycles available during the stream (`stream·rows·cols·lanes`).
    pub mac_slots: u64,
    /// Lane-steps of the PEs that hold an output (`m·n·k_steps·lanes`): the
    /// MACs executed over this is the per-lane utilization (short or ragged
    /// reductions leave lanes idle).
    pub lane_slots: u64,
    /// Activation elements read from the activation buffer.
    pub act_reads: u64,
    /// Weight values read from the weight buffer.
    pub weight_reads: u64,
    /// Accumulators written to the output buffer (read too when accumulating).
    pub acc_writes: u64,
    /// M:1 activation-mux selections (N:M mode only).
    pub mux_selects: u64,
}

/// Which timing rules apply: the SAT's (the default) or SCALE-Sim's
/// output-stationary compute model, for comparisons with SCALE-Sim.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimingModel {
    /// The SAT's rules (module docs).
    #[default]
    Sat,
    /// SCALE-Sim v3's OS compute model, stall-free: per sub-tile
    /// `k_steps + rows + cols − 2` cycles, no port stalls, DMA in one cycle
    /// without latency.
    ScalesimOs,
}

impl TimingModel {
    /// Whether this is the default ([`TimingModel::Sat`]).
    pub fn is_sat(&self) -> bool {
        *self == TimingModel::Sat
    }

    /// Timing of a GEMM tile under these rules ([`gemm_in`] for the SAT's);
    /// `starts` says whether it starts its outputs' accumulation (`acc = 0`).
    /// SCALE-Sim's model is output-stationary: a weight-stationary GEMM
    /// keeps the SAT's timing under it.
    #[allow(clippy::too_many_arguments)]
    pub fn gemm(
        self,
        arch: &ArchConfig,
        mode: GemmMode,
        flow: Stationarity,
        starts: bool,
        m: u64,
        n: u64,
        k: u64,
    ) -> GemmTiming {
        let t = gemm_in(arch, flow, mode, m, n, k);
        match self {
            TimingModel::Sat => t,
            TimingModel::ScalesimOs if flow == Stationarity::Ws => t,
            TimingModel::ScalesimOs if t.subtiles == 0 => t,
            TimingModel::ScalesimOs => {
                let pe = &arch.pe_array;
                // SCALE-Sim's fold: T K-steps, then C − 1 cycles for the last
                // operands to cross the columns and R − 1 of row skew.
                let fill_drain = if starts { u64::from(pe.rows) + u64::from(pe.cols) - 2 } else { 0 };
                let period = t.k_steps + fill_drain;
                let stream = t.subtiles * period;
                GemmTiming {
                    cycles_per_k_step: 1,
                    period,
                    stream,
                    tail: 0,
                    total: stream,
                    port_stall: 0,
                    drain_stall: t.subtiles * fill_drain,
                    mac_slots: stream * u64::from(pe.rows) * u64::from(pe.cols) * u64::from(pe.lanes),
                    ..t
                }
            }
        }
    }

    /// DRAM channel cycles of a transfer of `beats` beats under these rules.
    pub fn dma_beats(self, beats: u64) -> u64 {
        match self {
            TimingModel::Sat => beats,
            TimingModel::ScalesimOs => 1,
        }
    }

    /// DRAM latency under these rules.
    pub fn dram_latency(self, arch: &ArchConfig) -> u64 {
        match self {
            TimingModel::Sat => u64::from(arch.dram.latency_cycles),
            TimingModel::ScalesimOs => 0,
        }
    }
}

/// Timing of a GEMM tile of `m×n×k` in `mode` on `arch` under the
/// mapping `flow` ([`gemm`] for OS, [`gemm_ws`] for WS).
pub fn gemm_in(arch: &ArchConfig, flow: Stationarity, mode: GemmMode, m: u64, n: u64, k: u64) -> GemmTiming {
    match flow {
        Stationarity::Os => gemm(arch, mode, m, n, k),
        Stationarity::Ws => gemm_ws(arch, mode, m, n, k),
    }
}

/// Timing of a weight-stationary GEMM tile of `m×n×k` in `mode` on `arch`
/// (module docs).
pub fn gemm_ws(arch: &ArchConfig, mode: GemmMode, m: u64, n: u64, k: u64) -> GemmTiming {
    let pe = &arch.pe_array;
    let (rows, cols, lanes) = (u64::from(pe.rows), u64::from(pe.cols), u64::from(pe.lanes));
    if m == 0 || n == 0 || k == 0 {
        return gemm(arch, mode, m, n, k);
    }
    let (num, den) = mode.expansion();
    let k_eff = (k * den).div_ceil(num);
    let k_steps = k_eff.div_ceil(lanes);
    let r_used = k_steps.min(rows);
    let c_used = n.min(cols);
    let folds_k = k_steps.div_ceil(rows);
    let folds = folds_k * n.div_ceil(cols);
    let eb = u64::from(arch.element_bytes());
    let act_bytes = r_used * lanes * num / den * eb;
    let ibits = mode.pattern().map_or(0, |p| u64::from(p.index_bits()));
    let wgt_bytes = c_used * lanes * eb + (c_used * lanes * ibits).div_ceil(8);
    let cpa = act_bytes.div_ceil(arch.buffers.activation.bytes_per_cycle()).max(1);
    let cpw = wgt_bytes.div_ceil(arch.buffers.weight.bytes_per_cycle()).max(1);
    let fill = r_used * cpw;
    let run = m * cpa;
    let period = run.max(fill);
    let stream = fill + (folds - 1) * period + run;
    let tail = u64::from(arch.pipeline_fill_drain_cycles());
    let macs_executed = m * n * k_eff;
    GemmTiming {
        subtiles: folds,
        k_steps: m,
        cycles_per_k_step: cpa,
        period,
        stream,
        tail,
        total: stream + tail,
        port_stall: folds * m * (cpa - 1),
        drain_stall: stream - folds * run,
        macs_executed,
        mac_slots: stream * rows * cols * lanes,
        lane_slots: m * n * k_steps * lanes,
        act_reads: folds * m * r_used * lanes * num / den,
        weight_reads: folds * r_used * c_used * lanes,
        acc_writes: folds_k * m * n,
        mux_selects: if mode.pattern().is_some() { macs_executed } else { 0 },
    }
}

/// Timing of an output-stationary GEMM tile of `m×n×k` in `mode` on `arch`.
pub fn gemm(arch: &ArchConfig, mode: GemmMode, m: u64, n: u64, k: u64) -> GemmTiming {
    let pe = &arch.pe_array;
    let (rows, cols, lanes) = (u64::from(pe.rows), u64::from(pe.cols), u64::from(pe.lanes));
    if m == 0 || n == 0 || k == 0 {
        return GemmTiming { cycles_per_k_step: 1, total: 1, stream: 1, period: 0, ..GemmTiming::default() };
    }
    let (num, den) = mode.expansion();
    let k_eff = (k * den).div_ceil(num);
    let k_steps = k_eff.div_ceil(lanes);
    let rows_used = m.min(rows);
    let cols_used = n.min(cols);
    let subtiles = m.div_ceil(rows) * n.div_ceil(cols);
    let eb = u64::from(arch.element_bytes());
    let act_bytes = rows_used * lanes * num / den * eb;
    let ibits = mode.pattern().map_or(0, |p| u64::from(p.index_bits()));
    let wgt_bytes = cols_used * lanes * eb + (cols_used * lanes * ibits).div_ceil(8);
    let cpk = act_bytes
        .div_ceil(arch.buffers.activation.bytes_per_cycle())
        .max(wgt_bytes.div_ceil(arch.buffers.weight.bytes_per_cycle()))
        .max(1);
    let stream_per = k_steps * cpk;
    let period = stream_per.max(rows_used);
    let stream = subtiles * period;
    let tail = u64::from(arch.pipeline_fill_drain_cycles()) + rows_used;
    let macs_executed = m * n * k_eff;
    GemmTiming {
        subtiles,
        k_steps,
        cycles_per_k_step: cpk,
        period,
        stream,
        tail,
        total: stream + tail,
        port_stall: subtiles * k_steps * (cpk - 1),
        drain_stall: subtiles * (period - stream_per),
        macs_executed,
        mac_slots: stream * rows * cols * lanes,
        lane_slots: m * n * k_steps * lanes,
        act_reads: m.div_ceil(rows) * n.div_ceil(cols) * rows_used * k_steps * lanes * num / den,
        weight_reads: m.div_ceil(rows) * n.div_ceil(cols) * cols_used * k_steps * lanes,
        acc_writes: m * n,
        mux_selects: if mode.pattern().is_some() { macs_executed } else { 0 },
    }
}

/// DRAM traffic of one DMA transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DmaTiming {
    /// Payload bytes.
    pub bytes: u64,
    /// Bytes on the channel after rounding every row up to whole bursts.
    pub burst_bytes: u64,
    /// Channel cycles.
    pub beats: u64,
}

/// Traffic of a DMA of `rows × cols` elements in `fmt`.
pub fn dma(arch: &ArchConfig, fmt: DmaFormat, index_bits: u32, rows: u64, cols: u64) -> DmaTiming {
    let row = fmt.row_bytes(cols, index_bits);
    let burst = u64::from(arch.dram.burst_bytes);
    let burst_bytes = rows * row.div_ceil(burst) * burst;
    DmaTiming {
        bytes: rows * row,
        burst_bytes,
        beats: burst_bytes.div_ceil(u64::from(arch.dram.bytes_per_cycle)).max(1),
    }
}

/// The DRAM transfer of a `load`, `store` or `load2col`; `None` for other
/// instructions. A `load2col` reads `bursts` bursts
/// ([`crate::im2col::ConvGeom::gather_bursts`] under the config's
/// `dram.im2col`; its bytes are those bursts') and, with a line buffer,
/// holds the channel for its expansion too ([`load2col_expansion`]).
pub fn transfer(arch: &ArchConfig, i: &crate::isa::Instr) -> Option<DmaTiming> {
    use crate::isa::Instr;
    match *i {
        Instr::Load { fmt, index_bits, rows, cols, .. } | Instr::Store { fmt, index_bits, rows, cols, .. } => {
            Some(dma(arch, fmt, u32::from(index_bits), u64::from(rows), u64::from(cols)))
        }
        Instr::Load2col { bursts, rows, cols, k0, geom, .. } => {
            let burst_bytes = u64::from(bursts) * u64::from(arch.dram.burst_bytes);
            let fetch = burst_bytes.div_ceil(u64::from(arch.dram.bytes_per_cycle));
            let expand = load2col_expansion(arch, &geom, u64::from(rows), u64::from(k0), u64::from(cols));
            Some(DmaTiming { bytes: burst_bytes, burst_bytes, beats: (fetch + expand).max(1) })
        }
        _ => None,
    }
}

/// The DMA engine's unit geometry: elements of a 16-bit unit and units per
/// cycle on the DRAM side, and units per cycle of a line buffer's expansion
/// (ADR 003). A unit is a slice of `B` bytes, `B` the smaller of a burst
/// and the largest power of two in the channel's bytes per cycle; the
/// channel side moves `ceil(bytes_per_cycle / B)` units a cycle, the
/// expansion as many as the activation buffer's write port takes
/// (`banks · port_bytes / B`, at least the channel side's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaUnits {
    /// Bytes of a unit's slice, `B`.
    pub slice: u32,
    /// 16-bit elements per unit, `B / 2`.
    pub e16: u32,
    /// Units per cycle on the DRAM side.
    pub units: u32,
    /// Units per cycle of a line buffer's expansion into `A`.
    pub expand_units: u32,
}

impl DmaUnits {
    /// The geometry of `arch`'s DMA engine.
    pub fn new(arch: &ArchConfig) -> Self {
        let bpc = arch.dram.bytes_per_cycle;
        let pow2 = if bpc == 0 { 1 } else { 1 << (31 - bpc.leading_zeros()) };
        let slice = arch.dram.burst_bytes.min(pow2).max(2);
        let units = bpc.div_ceil(slice).max(1);
        let a_port = u32::try_from(arch.buffers.activation.bytes_per_cycle()).unwrap_or(u32::MAX);
        DmaUnits { slice, e16: slice / 2, units, expand_units: (a_port / slice).max(units) }
    }
}

/// Cycles of a line buffer's expansion of a `rows × cols` im2col tile from
/// column `k0` into `A` (0 without a line buffer): every tile row is its
/// tap segments ([`crate::im2col::ConvGeom::segments`]), each cut into
/// units of at most `E` elements, and the engine moves
/// [`DmaUnits::expand_units`] units a cycle, running on from one tile row
/// into the next: `ceil(rows · Σ_seg ceil(len / E) / units)`.
pub fn load2col_expansion(arch: &ArchConfig, geom: &crate::im2col::ConvGeom, rows: u64, k0: u64, cols: u64) -> u64 {
    if arch.dram.im2col != crate::arch::Im2col::LineBuffer {
        return 0;
    }
    let u = DmaUnits::new(arch);
    // Units of E elements are row bursts of 2·E bytes.
    (rows * geom.row_bursts(k0, cols, 2 * u64::from(u.e16))).div_ceil(u64::from(u.expand_units))
}

/// Channel cycles of a `load2col` of the `rows × cols` tile from pixel `p0`
/// and column `k0` under the config's gather (what [`transfer`] gives the
/// instruction the scheduler emits): the fetch's (or the DRAM gather's)
/// bursts at the channel's rate, plus the line buffer's expansion.
pub fn load2col_beats(
    arch: &ArchConfig,
    geom: &crate::im2col::ConvGeom,
    p0: u64,
    rows: u64,
    k0: u64,
    cols: u64,
) -> u64 {
    let burst = u64::from(arch.dram.burst_bytes);
    let bursts = geom.gather_bursts(arch.dram.im2col, p0, rows, k0, cols, burst);
    let fetch = (bursts * burst).div_ceil(u64::from(arch.dram.bytes_per_cycle));
    (fetch + load2col_expansion(arch, geom, rows, k0, cols)).max(1)
}

/// Cycles of a vector-unit op over `len` elements.
pub fn vector(arch: &ArchConfig, op: VecOp, len: u64) -> u64 {
    match op {
        VecOp::Sgd => 2 * len.div_ceil(u64::from(arch.vector_unit.lanes)) + VECTOR_PIPELINE,
        VecOp::LossGrad => 3 * len + VECTOR_PIPELINE,
        _ => len.div_ceil(u64::from(arch.vector_unit.lanes)) + VECTOR_PIPELINE,
    }
}

/// Cycles of the sparsifier over a `rows × cols` block in groups of `m`.
pub fn sparsify(arch: &ArchConfig, m: u64, rows: u64, cols: u64) -> u64 {
    let groups = (rows * cols).div_ceil(m.max(1));
    groups.div_ceil(u64::from(arch.sparsifier.lanes)) * m + SPARSIFIER_PIPELINE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nm::NmPattern;

    #[test]
    fn dense_and_sparse_tile_by_hand() {
        let a = ArchConfig::default_preset(); // 16x16x8, A 1024 B/cycle, W 512 B/cycle
        // Dense 16x16x512: 64 K-steps of 1 cycle, one sub-tile, fill/drain 34 + drain 16.
        let t = gemm(&a, GemmMode::Dense, 16, 16, 512);
        assert_eq!((t.k_steps, t.cycles_per_k_step, t.stream, t.total), (64, 1, 64, 64 + 34 + 16));
        // 2:8 needs 16*8*4*2 = 1024 activation bytes per K-step: exactly one cycle.
        let p = GemmMode::Nm(NmPattern::new(2, 8).unwrap());
        let t = gemm(&a, p, 16, 16, 512);
        assert_eq!((t.k_steps, t.cycles_per_k_step, t.stream), (16, 1, 16));
        assert_eq!(t.macs_executed, 16 * 16 * 128);
        // 1:8 needs 2048 B per K-step: two cycles (a port stall per K-step).
        let p = GemmMode::Nm(NmPattern::new(1, 8).unwrap());
        let t = gemm(&a, p, 16, 16, 512);
        assert_eq!((t.k_steps, t.cycles_per_k_step, t.stream, t.port_stall), (8, 2, 16, 8));
        // Short K: drain-bound, 16 cycles per sub-tile.
        let t = gemm(&a, GemmMode::Dense, 64, 16, 64);
        assert_eq!((t.subtiles, t.period, t.stream, t.drain_stall), (4, 16, 64, 4 * 8));
    }

    #[test]
    fn weight_stationary_tile_by_hand() {
        let a = ArchConfig::default_preset(); // 16x16x8
        // m = 20 rows, 64 K-steps: OS walks 2 sub-tiles of 64 K-steps (12 PE rows idle in the second).
        let os = gemm(&a, GemmMode::Dense, 20, 16, 512);
        assert_eq!((os.subtiles, os.stream), (2, 128));
        // WS: 4 folds of 16 K-steps, fill 16 (one PE row of 256 B per cycle), 20 rows each.
        let ws = gemm_ws(&a, GemmMode::Dense, 20, 16, 512);
        assert_eq!((ws.subtiles, ws.k_steps, ws.period, ws.stream, ws.tail), (4, 20, 20, 16 + 3 * 20 + 20, 34));
        assert_eq!((ws.drain_stall, ws.acc_writes, ws.macs_executed), (16, 4 * 20 * 16, os.macs_executed));
        // One row: fill-bound (16 cycles per fold), one cycle worse than OS.
        let (os, ws) = (gemm(&a, GemmMode::Dense, 1, 16, 512), gemm_ws(&a, GemmMode::Dense, 1, 16, 512));
        assert_eq!((os.stream, ws.period, ws.stream), (64, 16, 16 + 3 * 16 + 1));
        // Short reduction (2 K-steps): 2 PE rows hold weights; OS is drain-bound.
        let ws = gemm_ws(&a, GemmMode::Dense, 64, 32, 16);
        assert_eq!((ws.subtiles, ws.period, ws.stream), (2, 64, 2 + 64 + 64));
        assert_eq!(gemm(&a, GemmMode::Dense, 64, 32, 16).stream, 8 * 16);
        // 1:8 needs 2 cycles per activation row (2048 B of 1024 B/cycle), as OS per K-step.
        let p = GemmMode::Nm(NmPattern::new(1, 8).unwrap());
        let ws = gemm_ws(&a, p, 32, 16, 1024);
        assert_eq!((ws.cycles_per_k_step, ws.port_stall), (2, 32));
        assert_eq!(gemm_in(&a, Stationarity::Os, p, 32, 16, 1024), gemm(&a, p, 32, 16, 1024));
    }

    #[test]
    fn scalesim_os_folds_pay_fill_and_drain_each() {
        let mut a = ArchConfig::default_preset();
        a.pe_array.lanes = 1;
        // 40x40 outputs on 16x16: 3x3 folds of K = 100 K-steps + 30 fill/drain each.
        let t = TimingModel::ScalesimOs.gemm(&a, GemmMode::Dense, Stationarity::Os, true, 40, 40, 100);
        assert_eq!((t.subtiles, t.period, t.stream, t.tail, t.total), (9, 130, 9 * 130, 0, 9 * 130));
        // A later chunk of the same reduction: the fold already paid.
        let t = TimingModel::ScalesimOs.gemm(&a, GemmMode::Dense, Stationarity::Os, false, 40, 40, 100);
        assert_eq!((t.period, t.stream), (100, 900));
        let sat = gemm(&a, GemmMode::Dense, 40, 40, 100);
        assert_eq!(TimingModel::Sat.gemm(&a, GemmMode::Dense, Stationarity::Os, true, 40, 40, 100), sat);
        assert_eq!(TimingModel::Sat.gemm(&a, GemmMode::Dense, Stationarity::Os, false, 40, 40, 100), sat);
        assert_eq!((TimingModel::ScalesimOs.dma_beats(77), TimingModel::ScalesimOs.dram_latency(&a)), (1, 0));
        assert_eq!((TimingModel::Sat.dma_beats(77), TimingModel::Sat.dram_latency(&a)), (77, 64));
    }

    #[test]
    fn line_buffer_gather_by_hand() {
        let mut a = ArchConfig::default_preset(); // 128 B/cycle, burst 64: E = 32, U = 2; A 1024 B/cycle: X = 16
        assert_eq!(DmaUnits::new(&a), DmaUnits { slice: 64, e16: 32, units: 2, expand_units: 16 });
        let g = crate::im2col::ConvGeom {
            ih: 8,
            iw: 8,
            ic: 16,
            kh: 3,
            kw: 3,
            cs: 1,
            pad_h: 1,
            pad_w: 1,
            dil: 1,
            opad_h: 0,
            opad_w: 0,
        };
        // One image, every column: 8 rows of 256 B (4 bursts) = 16 beats; 64 rows of 9 tap
        // units (16 channels each, one unit) = 576 units / 16 = 36 cycles.
        assert_eq!(load2col_beats(&a, &g, 0, 64, 0, 144), 16 + 36);
        // Channels 4..12 of tap 0: a slice, 64 pixel runs of 16 B (a burst each) = 32 beats;
        // but only kernel row 0 reaches rows 0..=6: 7 rows, 56 runs = 28 beats; 64 units / 16 = 4.
        assert_eq!(load2col_beats(&a, &g, 0, 64, 4, 8), 28 + 4);
        a.dram.im2col = crate::arch::Im2col::Dram;
        assert_eq!(load2col_expansion(&a, &g, 64, 0, 144), 0);
    }

    #[test]
    fn dma_by_hand() {
        let a = ArchConfig::default_preset(); // 128 B/cycle, burst 64
        let d = dma(&a, DmaFormat::I16, 0, 10, 100); // 200 B rows -> 4 bursts each
        assert_eq!((d.bytes, d.burst_bytes, d.beats), (2000, 2560, 20));
        // Interleaved 2:8 row of 32 columns: 2 chunks of 32 + 6 bytes.
        let d = dma(&a, DmaFormat::NmRow, 3, 1, 32);
        assert_eq!(d.bytes, 76);
    }
}
