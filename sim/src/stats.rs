//! Statistics of a simulated run: typed, serializable, deterministic, and
//! complete enough for the energy model (event counts per unit and action),
//! for bottleneck analysis (stalls by cause) and for per-layer reports.

use std::collections::BTreeMap;

use nmsat_dataflow::workload::Pass;
use serde::Serialize;

/// Why a queue could not start its next instruction in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StallCause {
    /// Waiting for a token from the load queue (data not loaded yet).
    TokenFromLoad,
    /// Waiting for a token from the compute queue (a buffer half still in use, or results not ready).
    TokenFromCompute,
    /// Waiting for a token from the store queue (a staging buffer not yet written back).
    TokenFromStore,
    /// The queue's unit is still occupied by its previous instruction.
    UnitBusy,
    /// A compute instruction waits for an in-flight instruction of another
    /// unit that touches the same buffer range (the scoreboard).
    DataHazard,
    /// A GEMM waits for the array to drain before switching between dense
    /// and N:M mode (no interleave mapping).
    ModeSwitch,
}

impl StallCause {
    /// All causes, in report order.
    pub const ALL: [StallCause; 6] = [
        StallCause::TokenFromLoad,
        StallCause::TokenFromCompute,
        StallCause::TokenFromStore,
        StallCause::UnitBusy,
        StallCause::DataHazard,
        StallCause::ModeSwitch,
    ];
}

/// Event counts of the PE array.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeArrayEvents {
    /// GEMM instructions executed.
    pub gemms: u64,
    /// GEMMs in dense mode.
    pub gemms_dense: u64,
    /// GEMMs in N:M mode.
    pub gemms_sparse: u64,
    /// GEMMs mapped weight-stationary (the others output-stationary; ADR 004).
    #[serde(skip_serializing_if = "is_zero")]
    pub gemms_ws: u64,
    /// MACs executed in dense mode.
    pub macs_dense_mode: u64,
    /// MACs executed in N:M mode (compressed K).
    pub macs_sparse_mode: u64,
    /// Dense-equivalent MACs (the dense GEMMs' work).
    pub macs_dense_equivalent: u64,
    /// M:1 activation-mux selections.
    pub mux_selects: u64,
    /// Sub-tiles walked.
    pub subtiles: u64,
    /// Cycles streaming operands (including port and drain stalls).
    pub stream_cycles: u64,
    /// Cycles of stream lost to buffer-port bandwidth.
    pub port_stall_cycles: u64,
    /// Cycles of stream lost to accumulator drain.
    pub drain_stall_cycles: u64,
    /// Pipeline fill and final drain cycles (the tail of each GEMM).
    pub fill_drain_cycles: u64,
    /// Multiplier slots during the stream (`stream_cycles · multipliers`).
    pub mac_slots: u64,
    /// Lane-steps of the PEs holding an output (see `timing::GemmTiming::lane_slots`).
    pub lane_slots: u64,
    /// MACs executed / lane slots: how well the lanes of busy PEs are used.
    pub lane_utilization: f64,
    /// Outputs / (sub-tiles · rows · cols): how well the PE grid is covered.
    pub spatial_utilization: f64,
    /// Output elements of all GEMMs (for the spatial utilization).
    pub outputs: u64,
    /// PE positions offered by all sub-tiles.
    pub pe_positions: u64,
}

/// Event counts of one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BufferEvents {
    /// Elements read.
    pub reads: u64,
    /// Elements written.
    pub writes: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
}

/// Event counts of the DMA engine and DRAM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DmaEvents {
    /// Load transfers.
    pub loads: u64,
    /// Store transfers.
    pub stores: u64,
    /// Payload bytes read from DRAM.
    pub dram_read_bytes: u64,
    /// Payload bytes written to DRAM.
    pub dram_write_bytes: u64,
    /// Bytes on the channel after burst rounding.
    pub dram_burst_bytes: u64,
    /// Cycles the DRAM channel carried data.
    pub channel_busy_cycles: u64,
    /// Cycles transfers waited for the channel.
    pub channel_wait_cycles: u64,
}

/// Event counts of the vector unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VectorEvents {
    /// Instructions by op name.
    pub ops: BTreeMap<String, u64>,
    /// Elements processed by op name.
    pub elements: BTreeMap<String, u64>,
    /// Busy cycles.
    pub busy_cycles: u64,
}

/// Event counts of the sparsifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SparsifierEvents {
    /// Instructions.
    pub ops: u64,
    /// Groups of M sorted.
    pub groups: u64,
    /// Weights read.
    pub weights_in: u64,
    /// Compressed values written.
    pub values_out: u64,
    /// Busy cycles.
    pub busy_cycles: u64,
}

/// Event counts per unit and action (the energy model's input), of a whole
/// run or of one layer and pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnitEvents {
    /// PE array events.
    pub pe_array: PeArrayEvents,
    /// Buffer events by buffer name (`activation`, `weight`, `output`).
    pub buffers: BTreeMap<String, BufferEvents>,
    /// DMA and DRAM events.
    pub dma: DmaEvents,
    /// Vector-unit events.
    pub vector_unit: VectorEvents,
    /// Sparsifier events.
    pub sparsifier: SparsifierEvents,
}

impl UnitEvents {
    /// Adds `o`'s counts (not the derived ratios, see [`UnitEvents::derive`]).
    pub(crate) fn add(&mut self, o: &UnitEvents) {
        let (p, q) = (&mut self.pe_array, &o.pe_array);
        p.gemms += q.gemms;
        p.gemms_dense += q.gemms_dense;
        p.gemms_sparse += q.gemms_sparse;
        p.gemms_ws += q.gemms_ws;
        p.macs_dense_mode += q.macs_dense_mode;
        p.macs_sparse_mode += q.macs_sparse_mode;
        p.macs_dense_equivalent += q.macs_dense_equivalent;
        p.mux_selects += q.mux_selects;
        p.subtiles += q.subtiles;
        p.stream_cycles += q.stream_cycles;
        p.port_stall_cycles += q.port_stall_cycles;
        p.drain_stall_cycles += q.drain_stall_cycles;
        p.fill_drain_cycles += q.fill_drain_cycles;
        p.mac_slots += q.mac_slots;
        p.lane_slots += q.lane_slots;
        p.outputs += q.outputs;
        p.pe_positions += q.pe_positions;
        for (name, b) in &o.buffers {
            let a = self.buffers.entry(name.clone()).or_default();
            a.reads += b.reads;
            a.writes += b.writes;
            a.read_bytes += b.read_bytes;
            a.write_bytes += b.write_bytes;
        }
        let (d, e) = (&mut self.dma, &o.dma);
        d.loads += e.loads;
        d.stores += e.stores;
        d.dram_read_bytes += e.dram_read_bytes;
        d.dram_write_bytes += e.dram_write_bytes;
        d.dram_burst_bytes += e.dram_burst_bytes;
        d.channel_busy_cycles += e.channel_busy_cycles;
        d.channel_wait_cycles += e.channel_wait_cycles;
        let (v, w) = (&mut self.vector_unit, &o.vector_unit);
        for (op, n) in &w.ops {
            *v.ops.entry(op.clone()).or_insert(0) += n;
        }
        for (op, n) in &w.elements {
            *v.elements.entry(op.clone()).or_insert(0) += n;
        }
        v.busy_cycles += w.busy_cycles;
        let (a, b) = (&mut self.sparsifier, &o.sparsifier);
        a.ops += b.ops;
        a.groups += b.groups;
        a.weights_in += b.weights_in;
        a.values_out += b.values_out;
        a.busy_cycles += b.busy_cycles;
    }

    /// Fills in the PE array's derived ratios from its counts.
    pub(crate) fn derive(&mut self) {
        let pe = &mut self.pe_array;
        if pe.lane_slots > 0 {
            pe.lane_utilization = (pe.macs_dense_mode + pe.macs_sparse_mode) as f64 / pe.lane_slots as f64;
            pe.spatial_utilization = pe.outputs as f64 / pe.pe_positions as f64;
        }
    }
}

/// Busy and stall cycles of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Instructions retired.
    pub instructions: u64,
    /// Cycles the queue's unit was occupied.
    pub busy_cycles: u64,
    /// Cycles the queue had an instruction it could not start, by cause.
    pub stalls: BTreeMap<StallCause, u64>,
    /// Cycles with nothing left to issue.
    pub idle_cycles: u64,
}

/// Statistics of one (layer, pass).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LayerPassStats {
    /// Layer name.
    pub name: String,
    /// Pass.
    pub pass: Pass,
    /// GEMM rows (sum over its GEMM instructions' `m` is not meaningful;
    /// this is the `M` of its largest GEMM shape as compiled).
    #[serde(rename = "M")]
    pub m: u64,
    /// GEMM columns (see `M`).
    #[serde(rename = "N")]
    pub n: u64,
    /// GEMM reduction (see `M`).
    #[serde(rename = "K")]
    pub k: u64,
    /// `dense`, an N:M pattern, or `vector` for passes without GEMMs.
    pub mode: String,
    /// Cycles of the step attributed to it (the compute queue's current or
    /// awaited instruction); the rows sum to `total_cycles`.
    pub cycles: u64,
    /// First start to last retirement of its instructions.
    pub span_cycles: u64,
    /// MACs executed / (cycles · multipliers).
    pub pe_utilization: f64,
    /// DRAM payload bytes of its DMA instructions.
    pub dram_bytes: u64,
    /// Dense-equivalent MACs.
    pub macs_dense_equivalent: u64,
    /// MACs executed.
    pub macs_executed: u64,
    /// Instructions.
    pub instructions: u64,
    /// Queue-cycles its instructions waited at the head of their queue, by
    /// cause (summed over queues; the layers' rows sum to the run's
    /// `stalls`).
    pub stalls: BTreeMap<StallCause, u64>,
    /// Event counts of its instructions, per unit and action (the layers'
    /// rows sum to the run's counts).
    pub events: UnitEvents,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Config name.
    pub arch: String,
    /// `fast` or `cycle`.
    pub mode: String,
    /// Cycles from the first start to the last retirement.
    pub total_cycles: u64,
    /// Seconds at the config's clock.
    pub seconds: f64,
    /// Cycles per pass (sum of the layers' attributed cycles).
    pub passes: BTreeMap<Pass, u64>,
    /// Per layer and pass.
    pub layers: Vec<LayerPassStats>,
    /// Dense-equivalent MACs of all GEMMs.
    pub macs_dense_equivalent: u64,
    /// MACs the PE array executed.
    pub macs_executed: u64,
    /// DRAM payload bytes (read + write).
    pub dram_bytes: u64,
    /// Dense-equivalent GOPS (2 ops per MAC) at the clock.
    pub throughput_gops: f64,
    /// MACs executed / (total cycles · multipliers).
    pub pe_utilization: f64,
    /// Stall cycles by cause, summed over queues.
    pub stalls: BTreeMap<StallCause, u64>,
    /// Per queue.
    pub queues: BTreeMap<String, QueueStats>,
    /// PE array events.
    pub pe_array: PeArrayEvents,
    /// Buffer events by buffer name (`activation`, `weight`, `output`).
    pub buffers: BTreeMap<String, BufferEvents>,
    /// DMA and DRAM events.
    pub dma: DmaEvents,
    /// Vector-unit events.
    pub vector_unit: VectorEvents,
    /// Sparsifier events.
    pub sparsifier: SparsifierEvents,
    /// Instructions retired.
    pub instructions: u64,
}

/// Serde's test for a count left out of the JSON when nothing happened.
fn is_zero(n: &u64) -> bool {
    *n == 0
}
