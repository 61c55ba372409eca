//! The RTL's parameter set, derived once from an [`ArchConfig`].
//!
//! Every emitted module is fully elaborated from these numbers (no Verilog
//! parameters to get out of step): the header comment of each file lists
//! them, and [`Params::header`] is the generated "parameter package".

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::check::capacity;
use nmsat_dataflow::isa::Buf;

/// Bits of a timestamp (the controller's cycle counter and every deadline).
pub const TIME_BITS: u32 = 48;
/// Bits of a token counter and of the per-entry counts of the retirement queue.
pub const COUNT_BITS: u32 = 20;
/// Width of an encoded instruction.
pub const INSTR_BITS: u32 = 256;
/// Default instruction-memory address bits per queue (1024 instructions each).
pub const DEFAULT_IMEM_BITS: u32 = 10;
/// Largest instruction-memory address bits accepted (counts must fit [`COUNT_BITS`]).
pub const MAX_IMEM_BITS: u32 = 18;

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
    /// Pipeline fill plus drain of a tile (`timing.rs`).
    pub fill: u32,
    /// Supported patterns.
    pub patterns: Vec<Pat>,
    /// Capacities in elements of A, W, O.
    pub cap: [u64; 3],
    /// Bytes per cycle of A, W, O (`banks · port_bytes`).
    pub bw: [u64; 3],
    /// Banks of A, W, O.
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
        let cap = [capacity(arch, Buf::A), capacity(arch, Buf::W), capacity(arch, Buf::O)];
        let max_cap = cap.iter().copied().max().unwrap_or(1);
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
            dram_bpc: arch.dram.bytes_per_cycle,
            dram_latency: arch.dram.latency_cycles,
            dram_burst: arch.dram.burst_bytes,
            vec_lanes: arch.vector_unit.lanes,
            sp_lanes: arch.sparsifier.lanes,
            imem_bits,
            gemm_slots,
            rob_depth,
        }
    }

    /// The parameter block printed at the top of every generated file.
    pub fn header(&self) -> Vec<String> {
        let pats: Vec<String> = self.patterns.iter().map(|p| format!("{}:{}", p.n, p.m)).collect();
        vec![
            format!("config `{}`:", self.name),
            format!(
                "  PE array {}x{} PEs x {} lanes, {}-input activation muxes, fill+drain {} cycles",
                self.rows, self.cols, self.lanes, self.mux_inputs, self.fill
            ),
            format!("  N:M patterns {}", if pats.is_empty() { "none".to_string() } else { pats.join(", ") }),
            format!(
                "  buffers (elements): A {} x16b, W {} x(16b+4b index), O {} x{}b; bytes/cycle A {} W {} O {}",
                self.cap[0], self.cap[1], self.cap[2], self.acc_bits, self.bw[0], self.bw[1], self.bw[2]
            ),
            format!(
                "  DRAM {} B/cycle, latency {}, burst {} B; vector unit {} lanes; sparsifier {} lanes",
                self.dram_bpc, self.dram_latency, self.dram_burst, self.vec_lanes, self.sp_lanes
            ),
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
        assert_eq!(p.range_bits, 14);
        assert_eq!((p.gemm_slots, p.rob_depth), (16, 16));
    }
}
