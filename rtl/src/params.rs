//! The RTL's parameter set, derived once from an [`ArchConfig`].
//!
//! Every emitted module is fully elaborated from these numbers (no Verilog
//! parameters to get out of step): the header comment of each file lists
//! them, and [`Params::header`] is the generated "parameter package".

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::check::capacity;
use nmsat_dataflow::isa::{Buf, DmaFormat, GemmMode, INSTR_BITS as ISA_INSTR_BITS, MAX_INDEX_BITS, NM_CHUNK};

/// Bits of a timestamp (the controller's cycle counter and every deadline).
pub const TIME_BITS: u32 = 48;
/// Bits of a token counter and of the per-entry counts of the retirement queue.
pub const COUNT_BITS: u32 = 20;
/// Width of an encoded instruction.
pub const INSTR_BITS: u32 = ISA_INSTR_BITS;
/// Default instruction-memory address bits per queue (1024 instructions each).
pub const DEFAULT_IMEM_BITS: u32 = 10;
/// Largest instruction-memory address bits accepted (counts must fit [`COUNT_BITS`]).
pub const MAX_IMEM_BITS: u32 = 18;

/// Bits of a DRAM byte address in the DMA engine and on the memory interface
/// (the width of the instructions' `dram` and `stride` fields).
pub const DRAM_ADDR_BITS: u32 = crate::emit::util::fbits("load", "dram");
const _: () = assert!(
    crate::emit::util::fbits("load", "stride") == DRAM_ADDR_BITS
        && crate::emit::util::fbits("load2col", "dram") == DRAM_ADDR_BITS,
    "DRAM addresses and strides have one width"
);

/// Geometry of the DMA data engine (see `emit::dma`). It moves a transfer
/// as *units*: up to `E` consecutive columns of one row, `E` fixed per
/// format and sized to a *slice* of `B` bytes (`B` the smaller of a burst
/// and the largest power of two in the bytes per cycle, so it divides a
/// burst). No row has more units than slices, and `units · B` covers the
/// bytes per cycle, so a transfer never needs more cycles than the channel
/// beats `timing::dma` charges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmaGeom {
    /// Units per cycle: `ceil(bytes_per_cycle / B)`.
    pub units: u32,
    /// Elements per unit of 16-bit rows (`i16`, `nm_values`, `o` stored as `i16`): `B / 2`.
    pub e16: u32,
    /// Elements per unit of `i32` rows: `max(1, B / 4)`.
    pub e32: u32,
    /// Elements per unit of `nm_indices` rows of `ib` = 1..=[`MAX_INDEX_BITS`]
    /// index bits (at `ib - 1`): `8 * ceil(B / ib)` (a whole number of
    /// bytes, at least a slice's worth).
    pub eidx: [u32; MAX_INDEX_BITS as usize],
    /// Chunks of [`NM_CHUNK`] columns per unit of `nm_row` rows: `ceil(B /
    /// chunk_bytes(1))` (the smallest chunk, with 1-bit indices).
    pub krow: u32,
    /// Bytes of the DRAM window of one unit (the widest format).
    pub window: u32,
}

impl DmaGeom {
    /// The geometry for a DRAM channel of `bytes_per_cycle` and bursts of `burst` bytes.
    pub fn new(bytes_per_cycle: u32, burst: u32) -> Self {
        let pow2 = if bytes_per_cycle == 0 { 1 } else { 1 << (31 - bytes_per_cycle.leading_zeros()) };
        let b = burst.min(pow2).max(2);
        let units = bytes_per_cycle.div_ceil(b).max(1);
        let word = |f: DmaFormat| f.row_bytes(1, 0) as u32;
        let e16 = (b / word(DmaFormat::I16)).max(1);
        let e32 = (b / word(DmaFormat::I32)).max(1);
        let eidx = std::array::from_fn(|i| 8 * b.div_ceil(i as u32 + 1));
        let krow = b.div_ceil(chunk_bytes(1)).max(1);
        let idx_bytes = (1..=MAX_INDEX_BITS).map(|ib| ib * b.div_ceil(ib)).max().unwrap_or(b);
        let window = (word(DmaFormat::I16) * e16)
            .max(word(DmaFormat::I32) * e32)
            .max(idx_bytes)
            .max(krow * chunk_bytes(MAX_INDEX_BITS));
        DmaGeom { units, e16, e32, eidx, krow, window }
    }

    /// Elements per unit of `nm_row` rows.
    pub fn erow(&self) -> u32 {
        NM_CHUNK as u32 * self.krow
    }

    /// Lanes of the weight buffer's DMA ports that move values (with their indices).
    pub fn lanes_w(&self) -> u32 {
        self.e16.max(self.erow())
    }

    /// Lanes of the weight buffer's DMA ports that move indices only (`nm_indices`).
    pub fn lanes_i(&self) -> u32 {
        self.eidx[0]
    }
}

/// DRAM bytes of one `nm_row` chunk ([`NM_CHUNK`] columns) with `ib`-bit indices.
pub fn chunk_bytes(ib: u32) -> u32 {
    DmaFormat::NmRow.row_bytes(NM_CHUNK, ib) as u32
}

/// One supported N:M pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pat {
    /// Kept values per group.
    pub n: u32,
    /// Group size.
    pub m: u32,
    /// `log2(M)`.
    pub ibits: u32,
}

impl Pat {
    /// Its GEMM mode.
    pub fn mode(&self) -> GemmMode {
        GemmMode::Nm(NmPattern::new(self.n, self.m).expect("a config's pattern"))
    }
}

/// Numbers every module is generated from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Config name.
    pub name: String,
    /// PE rows.
    pub rows: u32,
    /// PE columns.
    pub cols: u32,
    /// Multipliers per PE.
    pub lanes: u32,
    /// `log2(lanes)`.
    pub lanes_log2: u32,
    /// Activation-mux inputs per lane (the largest M).
    pub mux_inputs: u32,
    /// The config lists `"ws"`: the GEMM engine builds the weight-stationary
    /// mode (else its `ws` inputs are tied off and Yosys removes the logic).
    pub ws: bool,
    /// Pipeline fill plus drain of a tile (`timing.rs`).
    pub fill: u32,
    /// Supported patterns.
    pub patterns: Vec<Pat>,
    /// Capacities in elements of A, W, O (indexed by [`Buf::code`]).
    pub cap: [u64; 3],
    /// Bytes per cycle of A, W, O (`banks · port_bytes`; by [`Buf::code`]).
    pub bw: [u64; 3],
    /// Banks of A, W, O (by [`Buf::code`]).
    pub banks: [u32; 3],
    /// Bits of a buffer range bound (start or end) in the scoreboard.
    pub range_bits: u32,
    /// Accumulator bits.
    pub acc_bits: u32,
    /// DRAM bytes per cycle.
    pub dram_bpc: u32,
    /// DRAM latency.
    pub dram_latency: u32,
    /// DRAM burst bytes.
    pub dram_burst: u32,
    /// Elements of the im2col line buffer (`dram.line_buffer_bytes / 2`, ADR
    /// 003); 0 for the `"dram"` gather.
    pub line_buffer: u64,
    /// Units per cycle of the line buffer's expansion into `A`
    /// (`timing::DmaUnits::expand_units`; the DRAM side's without one).
    pub expand_units: u32,
    /// The DMA data engine's geometry.
    pub dma: DmaGeom,
    /// Vector-unit lanes.
    pub vec_lanes: u32,
    /// Sparsifier lanes.
    pub sp_lanes: u32,
    /// Instruction-memory address bits per queue.
    pub imem_bits: u32,
    /// Depth of the GEMM scoreboard ring (GEMMs that can be in flight, rounded up to a power of two).
    pub gemm_slots: u32,
    /// Depth of the compute retirement queue.
    pub rob_depth: u32,
}

/// `ceil(log2(x))` for `x >= 1`.
pub fn clog2(x: u64) -> u32 {
    if x <= 1 { 0 } else { 64 - (x - 1).leading_zeros() }
}

impl Params {
    /// Derives the parameters of `arch` with `imem_bits` instruction-address bits per queue.
    pub fn new(arch: &ArchConfig, imem_bits: u32) -> Self {
        let pe = &arch.pe_array;
        let b = &arch.buffers;
        let cap = Buf::ALL.map(|b| capacity(arch, b));
        let has_lb = arch.dram.im2col == nmsat_dataflow::arch::Im2col::LineBuffer;
        let lb = if has_lb { arch.dram.line_buffer_bytes / 2 } else { 0 };
        let max_cap = cap.iter().copied().max().unwrap_or(1).max(lb);
        let fill = arch.pipeline_fill_drain_cycles();
        // At most `max_tail + 1` GEMMs are in flight (each streams at least
        // one cycle and lives `stream + tail`); the retirement queue holds one
        // entry per distinct retirement cycle, at most one per executing
        // instruction of each unit plus the one issuing.
        let max_tail = u64::from(fill + pe.rows);
        let gemm_slots = (max_tail + 2).next_power_of_two() as u32;
        let rob_depth = (max_tail + 6).next_power_of_two() as u32;
        let mut patterns: Vec<Pat> =
            arch.sparsity.patterns.iter().map(|p| Pat { n: p.n(), m: p.m(), ibits: p.index_bits() }).collect();
        patterns.sort_by_key(|p| (p.m, p.n));
        Params {
            name: arch.name.clone(),
            rows: pe.rows,
            cols: pe.cols,
            lanes: pe.lanes,
            lanes_log2: pe.lanes.trailing_zeros(),
            mux_inputs: pe.mux_inputs,
            fill,
            patterns,
            cap,
            bw: [b.activation.bytes_per_cycle(), b.weight.bytes_per_cycle(), b.output.bytes_per_cycle()],
            banks: [b.activation.banks, b.weight.banks, b.output.banks],
            range_bits: clog2(max_cap + 1) + 1,
            acc_bits: arch.numerics.accumulator_bits,
            ws: arch.pe_array.dataflows.contains(&nmsat_dataflow::arch::Stationarity::Ws),
            dram_bpc: arch.dram.bytes_per_cycle,
            dram_latency: arch.dram.latency_cycles,
            dram_burst: arch.dram.burst_bytes,
            line_buffer: lb,
            expand_units: if has_lb {
                nmsat_dataflow::timing::DmaUnits::new(arch).expand_units
            } else {
                DmaGeom::new(arch.dram.bytes_per_cycle, arch.dram.burst_bytes).units
            },
            dma: DmaGeom::new(arch.dram.bytes_per_cycle, arch.dram.burst_bytes),
            vec_lanes: arch.vector_unit.lanes,
            sp_lanes: arch.sparsifier.lanes,
            imem_bits,
            gemm_slots,
            rob_depth,
        }
    }

    /// Units per cycle of the DMA engine's writes into `A`: the line buffer's
    /// expansion units, or the DRAM side's without one.
    pub fn a_dma_units(&self) -> u32 {
        if self.line_buffer > 0 { self.expand_units.max(self.dma.units) } else { self.dma.units }
    }

    /// The parameter block printed at the top of every generated file.
    pub fn header(&self) -> Vec<String> {
        let (a, w, o) = (Buf::A as usize, Buf::W as usize, Buf::O as usize);
        let pats: Vec<String> = self.patterns.iter().map(|p| format!("{}:{}", p.n, p.m)).collect();
        vec![
            format!("config `{}`:", self.name),
            format!(
                "  PE array {}x{} PEs x {} lanes, {}-input activation muxes, fill+drain {} cycles",
                self.rows, self.cols, self.lanes, self.mux_inputs, self.fill
            ),
            format!("  N:M patterns {}", if pats.is_empty() { "none".to_string() } else { pats.join(", ") }),
            format!(
                "  buffers (elements): A {} x16b, W {} x(16b+{MAX_INDEX_BITS}b index), O {} x{}b; bytes/cycle A {} W {} O {}",
                self.cap[a], self.cap[w], self.cap[o], self.acc_bits, self.bw[a], self.bw[w], self.bw[o]
            ),
            format!(
                "  DRAM {} B/cycle, latency {}, burst {} B; vector unit {} lanes; sparsifier {} lanes",
                self.dram_bpc, self.dram_latency, self.dram_burst, self.vec_lanes, self.sp_lanes
            ),
            if self.line_buffer > 0 {
                format!(
                    "  DMA engine: {} unit(s) per cycle, {}-byte DRAM windows; im2col line buffer {} elements, {} expansion units per cycle",
                    self.dma.units, self.dma.window, self.line_buffer, self.expand_units
                )
            } else {
                format!("  DMA engine: {} unit(s) per cycle, {}-byte DRAM windows", self.dma.units, self.dma.window)
            },
            format!(
                "  controller: {}-bit time, {} instructions per queue, {} GEMM scoreboard slots, {}-entry retirement queue",
                TIME_BITS,
                1u64 << self.imem_bits,
                self.gemm_slots,
                self.rob_depth
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clog2_by_hand() {
        assert_eq!([clog2(1), clog2(2), clog2(3), clog2(4), clog2(5), clog2(1024)], [0, 1, 2, 2, 3, 10]);
    }

    #[test]
    fn tiny_params() {
        let p = Params::new(&ArchConfig::preset("tiny").unwrap(), DEFAULT_IMEM_BITS);
        assert_eq!((p.rows, p.cols, p.lanes, p.fill), (2, 2, 4, 5));
        assert_eq!(p.cap, [4096, 4096, 4096]);
        // The 32 KiB line buffer (16,384 elements) is tiny's largest memory.
        assert_eq!(p.range_bits, 16);
        assert_eq!((p.gemm_slots, p.rob_depth), (16, 16));
        // 16-byte bursts, 16 bytes per cycle: one unit per cycle.
        let d = p.dma;
        assert_eq!((d.units, d.e16, d.e32, d.eidx, d.krow, d.window), (1, 8, 4, [128, 64, 48, 32], 1, 40));
    }

    /// A transfer of `rows` rows of `cols` moves in `ceil(rows · units_per_row
    /// / units)` cycles, never more than its `timing::dma` beats.
    #[test]
    fn dma_units_never_exceed_the_beats() {
        for (bpc, burst) in [(16, 16), (32, 64), (128, 64), (8, 2), (24, 16), (100, 256), (4, 1024), (200, 64)] {
            let d = DmaGeom::new(bpc, burst);
            for ib in 1..=MAX_INDEX_BITS {
                let formats = [
                    (DmaFormat::I16, d.e16),
                    (DmaFormat::I32, d.e32),
                    (DmaFormat::NmValues, d.e16),
                    (DmaFormat::NmIndices, d.eidx[ib as usize - 1]),
                    (DmaFormat::NmRow, d.erow()),
                ];
                for (fmt, e) in formats {
                    for cols in 1..600u64 {
                        let units = cols.div_ceil(u64::from(e));
                        let bursts = fmt.row_bytes(cols, ib).div_ceil(u64::from(burst));
                        for rows in 1..=5u64 {
                            let cycles = (rows * units).div_ceil(u64::from(d.units));
                            let beats = (rows * bursts * u64::from(burst)).div_ceil(u64::from(bpc)).max(1);
                            assert!(cycles <= beats, "{fmt:?} ib {ib} {rows}x{cols} bpc {bpc} burst {burst}");
                        }
                    }
                    // The unit's bytes fit the window.
                    let bytes = match fmt {
                        DmaFormat::I16 | DmaFormat::NmValues => 2 * e,
                        DmaFormat::I32 => 4 * e,
                        DmaFormat::NmIndices => e * ib / 8,
                        DmaFormat::NmRow => d.krow * chunk_bytes(ib),
                    };
                    assert!(bytes <= d.window, "{fmt:?} ib {ib}: {bytes} > {}", d.window);
                }
            }
        }
    }
}
