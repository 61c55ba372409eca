//! What one instruction costs and counts: its occupancy of a unit, its
//! events per unit and action, and its share of a layer/pass row.

use std::collections::BTreeMap;

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::arch::Stationarity;
use nmsat_dataflow::isa::{Buf, GemmMode, Instr, NO_SHIFT, VecOp};
use nmsat_dataflow::timing::{self, TimingModel};

use crate::stats::{BufferEvents, UnitEvents};

/// Precomputed occupancy of one instruction.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cost {
    Dma { beats: u64 },
    Gemm { stream: u64, tail: u64 },
    Unit { cycles: u64 },
    Halt,
}

pub(super) fn cost(arch: &ArchConfig, model: TimingModel, i: &Instr) -> Cost {
    match *i {
        Instr::Load { .. } | Instr::Store { .. } | Instr::Load2col { .. } => {
            Cost::Dma { beats: model.dma_beats(timing::transfer(arch, i).map_or(1, |d| d.beats)) }
        }
        Instr::Gemm { mode, acc, m, n, k, ws, .. } => {
            let t = model.gemm(arch, mode, Stationarity::from_ws(ws), !acc, u64::from(m), u64::from(n), u64::from(k));
            Cost::Gemm { stream: t.stream, tail: t.tail }
        }
        Instr::Vec { op, len, .. } => Cost::Unit { cycles: timing::vector(arch, op, u64::from(len)) },
        Instr::Sparsify { pattern, rows, cols, .. } => {
            Cost::Unit { cycles: timing::sparsify(arch, u64::from(pattern.m()), u64::from(rows), u64::from(cols)) }
        }
        Instr::Sync { .. } => Cost::Unit { cycles: timing::SYNC_CYCLES },
        Instr::Halt { .. } => Cost::Halt,
    }
}

/// The three buffers' counters of one layer/pass bucket, by [`Buf`] (as
/// an array: a `String`-keyed map lookup per access was a tenth of `fast`
/// mode's time); `None` until first used, like the map entries they become.
pub(super) type BufCounters = [Option<BufferEvents>; 3];

/// The names of the buffers in the statistics, by [`Buf`] (`Buf as usize`).
pub(super) const BUF_NAMES: [&str; 3] = ["activation", "weight", "output"];

/// One buffer's counters in `bufs`, created on first use.
fn buf_at(bufs: &mut BufCounters, b: Buf) -> &mut BufferEvents {
    bufs[b as usize].get_or_insert_with(BufferEvents::default)
}

/// A named counter, created on first use.
fn count_mut<'m>(m: &'m mut BTreeMap<String, u64>, name: &str) -> &'m mut u64 {
    if !m.contains_key(name) {
        m.insert(name.to_string(), 0);
    }
    m.get_mut(name).expect("inserted above")
}

/// What a layer/pass row sums over its instructions as they start (the
/// run keeps no per-instruction record, so a streamed program's rows come
/// out the same as a whole one's).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RowCounts {
    pub instructions: u64,
    pub dram_bytes: u64,
    pub macs_executed: u64,
    pub macs_dense_equivalent: u64,
    /// First start and last retirement, once any instruction started.
    pub span: Option<(u64, u64)>,
}

impl RowCounts {
    /// Adds one instruction that started at `start` and retires at `done`.
    pub(super) fn add(&mut self, arch: &ArchConfig, model: TimingModel, instr: &Instr, start: u64, done: u64) {
        self.instructions += 1;
        self.span = Some(self.span.map_or((start, done), |(a, b)| (a.min(start), b.max(done))));
        match *instr {
            Instr::Load { .. } | Instr::Store { .. } | Instr::Load2col { .. } => {
                self.dram_bytes += timing::transfer(arch, instr).map_or(0, |d| d.bytes);
            }
            Instr::Gemm { mode, acc, m, n, k, ws, .. } => {
                let t =
                    model.gemm(arch, mode, Stationarity::from_ws(ws), !acc, u64::from(m), u64::from(n), u64::from(k));
                self.macs_executed += t.macs_executed;
                self.macs_dense_equivalent += u64::from(m) * u64::from(n) * u64::from(k);
            }
            _ => {}
        }
    }
}

/// Adds the events of one instruction to `s`.
pub(super) fn count_into(
    arch: &ArchConfig,
    model: TimingModel,
    instr: &Instr,
    s: &mut UnitEvents,
    bufs: &mut BufCounters,
) {
    let eb = u64::from(arch.element_bytes());
    let ab = u64::from(arch.accumulator_bytes());
    let elem_bytes = |b: Buf| if b == Buf::O { ab } else { eb };
    match *instr {
        Instr::Load { buf, fmt, index_bits, rows, cols, .. } => {
            let d = timing::dma(arch, fmt, u32::from(index_bits), u64::from(rows), u64::from(cols));
            s.dma.loads += 1;
            s.dma.dram_read_bytes += d.bytes;
            s.dma.dram_burst_bytes += d.burst_bytes;
            let n = u64::from(rows) * u64::from(cols);
            let b = buf_at(bufs, buf);
            b.writes += n;
            b.write_bytes += n * elem_bytes(buf);
        }
        Instr::Load2col { rows, cols, .. } => {
            let d = timing::transfer(arch, instr).unwrap_or_default();
            s.dma.loads += 1;
            s.dma.dram_read_bytes += d.bytes;
            s.dma.dram_burst_bytes += d.burst_bytes;
            let n = u64::from(rows) * u64::from(cols);
            let b = buf_at(bufs, Buf::A);
            b.writes += n;
            b.write_bytes += n * eb;
        }
        Instr::Store { buf, fmt, index_bits, rows, cols, .. } => {
            let d = timing::dma(arch, fmt, u32::from(index_bits), u64::from(rows), u64::from(cols));
            s.dma.stores += 1;
            s.dma.dram_write_bytes += d.bytes;
            s.dma.dram_burst_bytes += d.burst_bytes;
            let n = u64::from(rows) * u64::from(cols);
            let b = buf_at(bufs, buf);
            b.reads += n;
            b.read_bytes += n * elem_bytes(buf);
        }
        Instr::Gemm { .. } => count_gemm(arch, model, instr, s, bufs),
        Instr::Vec { .. } => count_vec(arch, instr, s, bufs),
        Instr::Sparsify { pattern, master, mask_out, rows, cols, .. } => {
            let n = u64::from(rows) * u64::from(cols);
            let out = if mask_out { 0 } else { n * u64::from(pattern.n()) / u64::from(pattern.m()) };
            let sp = &mut s.sparsifier;
            sp.ops += 1;
            sp.groups += n / u64::from(pattern.m());
            sp.weights_in += n;
            sp.values_out += out;
            sp.busy_cycles += timing::sparsify(arch, u64::from(pattern.m()), u64::from(rows), u64::from(cols));
            if master {
                let o = buf_at(bufs, Buf::O);
                o.reads += n;
                o.read_bytes += n * ab;
            } else {
                let a = buf_at(bufs, Buf::A);
                a.reads += n;
                a.read_bytes += n * eb;
            }
            if mask_out {
                let a = buf_at(bufs, Buf::A);
                a.writes += n;
                a.write_bytes += n * eb;
            } else {
                let w = buf_at(bufs, Buf::W);
                w.writes += out;
                w.write_bytes += out * eb + (out * u64::from(pattern.index_bits())).div_ceil(8);
            }
        }
        Instr::Sync { .. } | Instr::Halt { .. } => {}
    }
}

/// A `gemm`'s PE-array events and its operand-buffer traffic.
fn count_gemm(arch: &ArchConfig, model: TimingModel, instr: &Instr, s: &mut UnitEvents, bufs: &mut BufCounters) {
    let Instr::Gemm { mode, acc, m, n, k, ws, .. } = *instr else { return };
    let eb = u64::from(arch.element_bytes());
    let ab = u64::from(arch.accumulator_bytes());
    let t = model.gemm(arch, mode, Stationarity::from_ws(ws), !acc, u64::from(m), u64::from(n), u64::from(k));
    let pe = &mut s.pe_array;
    pe.gemms += 1;
    pe.gemms_ws += u64::from(ws);
    let dense_eq = u64::from(m) * u64::from(n) * u64::from(k);
    match mode {
        GemmMode::Dense => {
            pe.gemms_dense += 1;
            pe.macs_dense_mode += t.macs_executed;
        }
        GemmMode::Nm(_) => {
            pe.gemms_sparse += 1;
            pe.macs_sparse_mode += t.macs_executed;
        }
    }
    pe.macs_dense_equivalent += dense_eq;
    pe.mux_selects += t.mux_selects;
    pe.subtiles += t.subtiles;
    pe.stream_cycles += t.stream;
    pe.port_stall_cycles += t.port_stall;
    pe.drain_stall_cycles += t.drain_stall;
    pe.fill_drain_cycles += t.tail;
    pe.mac_slots += t.mac_slots;
    pe.lane_slots += t.lane_slots;
    pe.outputs += u64::from(m) * u64::from(n);
    pe.pe_positions += t.subtiles * u64::from(arch.pe_array.rows) * u64::from(arch.pe_array.cols);
    let a = buf_at(bufs, Buf::A);
    a.reads += t.act_reads;
    a.read_bytes += t.act_reads * eb;
    let w = buf_at(bufs, Buf::W);
    w.reads += t.weight_reads;
    let ibits = mode.pattern().map_or(0, |p| u64::from(p.index_bits()));
    w.read_bytes += t.weight_reads * eb + (t.weight_reads * ibits).div_ceil(8);
    let o = buf_at(bufs, Buf::O);
    o.writes += t.acc_writes;
    o.write_bytes += t.acc_writes * ab;
    if acc {
        o.reads += t.acc_writes;
        o.read_bytes += t.acc_writes * ab;
    }
}

/// A vector instruction's busy cycles and its operand-buffer traffic.
fn count_vec(arch: &ArchConfig, instr: &Instr, s: &mut UnitEvents, bufs: &mut BufCounters) {
    let Instr::Vec { op, len, p5, aux, .. } = *instr else { return };
    let eb = u64::from(arch.element_bytes());
    let ab = u64::from(arch.accumulator_bytes());
    let len = u64::from(len);
    // SR-STE's pruned flags are one more activation-buffer operand.
    let mask_reads = if op == VecOp::Sgd && p5 != NO_SHIFT { len } else { 0 };
    let v = &mut s.vector_unit;
    *count_mut(&mut v.ops, op.name()) += 1;
    *count_mut(&mut v.elements, op.name()) += len;
    v.busy_cycles += timing::vector(arch, op, len);
    let (a_r, a_w, o_r, o_w) = match op {
        VecOp::Requant => (0, len, len, 0),
        VecOp::ReluBwd => (len, 0, len, len),
        VecOp::Add => (2 * len, len, 0, 0),
        VecOp::Sgd => (mask_reads, len, 3 * len, 2 * len),
        VecOp::LossGrad => {
            // Whole rows: each logit read three times (max, sum, output), one label per row.
            let classes = u64::from(aux.max(1));
            let rows = len / classes;
            (3 * rows * classes + rows, rows * classes, 0, 0)
        }
        VecOp::Clear => (0, 0, 0, len),
    };
    let a = buf_at(bufs, Buf::A);
    a.reads += a_r;
    a.writes += a_w;
    a.read_bytes += a_r * eb;
    a.write_bytes += a_w * eb;
    let o = buf_at(bufs, Buf::O);
    o.reads += o_r;
    o.writes += o_w;
    o.read_bytes += o_r * ab;
    o.write_bytes += o_w * ab;
}
