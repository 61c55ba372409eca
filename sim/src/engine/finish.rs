//! The statistics of a finished run: the buckets' counters summed into the
//! run's totals and laid out as one row per layer and pass.

use std::collections::BTreeMap;

use nmsat_dataflow::isa::Queue;
use nmsat_dataflow::program::{NO_LAYER, Program, Tag};
use nmsat_dataflow::workload::Pass;

use super::events::BUF_NAMES;
use super::{Bucket, Engine, RunResult, SimMode, Source};
use crate::stats::{LayerPassStats, StallCause, UnitEvents};

impl<S: Source> Engine<'_, S> {
    pub(super) fn finish(mut self, mode: SimMode) -> RunResult {
        self.flush_attribution();
        let arch = self.arch;
        let mut s = std::mem::take(&mut self.stats);
        for b in &mut self.buckets {
            for (name, c) in BUF_NAMES.iter().zip(b.bufs.iter_mut()) {
                if let Some(c) = c.take() {
                    b.events.buffers.insert((*name).to_string(), c);
                }
            }
        }
        let mut total = UnitEvents::default();
        for b in &self.buckets {
            total.add(&b.events);
        }
        total.derive();
        s.pe_array = total.pe_array;
        s.buffers = total.buffers;
        s.dma = total.dma;
        s.vector_unit = total.vector_unit;
        s.sparsifier = total.sparsifier;
        s.arch = arch.name.clone();
        s.mode = mode.name().into();
        s.instructions = self.retired as u64;
        s.seconds = s.total_cycles as f64 / (f64::from(arch.clock_mhz) * 1e6);
        s.macs_dense_equivalent = s.pe_array.macs_dense_equivalent;
        s.macs_executed = s.pe_array.macs_dense_mode + s.pe_array.macs_sparse_mode;
        s.dram_bytes = s.dma.dram_read_bytes + s.dma.dram_write_bytes;
        let mult = arch.derived().multipliers as f64;
        if s.total_cycles > 0 {
            s.throughput_gops = 2.0 * s.macs_dense_equivalent as f64 / s.seconds / 1e9;
            s.pe_utilization = s.macs_executed as f64 / (s.total_cycles as f64 * mult);
        }
        for (qs, counts) in self.qstats.iter_mut().zip(self.qstalls) {
            for (c, v) in StallCause::ALL.iter().zip(counts) {
                if v > 0 {
                    qs.stalls.insert(*c, v);
                }
            }
        }
        for (q, qs) in Queue::ALL.iter().zip(self.qstats.iter()) {
            for (c, v) in &qs.stalls {
                *s.stalls.entry(*c).or_insert(0) += v;
            }
            s.queues.insert(q.name().to_string(), qs.clone());
        }
        for c in StallCause::ALL {
            s.stalls.entry(c).or_insert(0);
        }
        let buckets = std::mem::take(&mut self.buckets);
        let mut rows = layer_rows(self.header, buckets);
        for (key, r) in rows.iter_mut() {
            r.cycles = self.attributed.get(key).copied().unwrap_or(0);
            if r.cycles > 0 {
                r.pe_utilization = r.macs_executed as f64 / (r.cycles as f64 * mult);
            }
        }
        for p in Pass::ALL {
            s.passes.insert(p, 0);
        }
        for ((_, pass), c) in &self.attributed {
            *s.passes.entry(*pass).or_insert(0) += c;
        }
        // Order layers as the program lists them, passes in FF, BP, WG, WU order.
        s.layers = rows.into_values().collect();
        RunResult {
            stats: s,
            retire: std::mem::take(&mut self.retire),
            window_peak: self.window_peak,
            machine: self.machine.take(),
        }
    }
}

/// One row per (layer, pass) bucket of a layer (not the program's own
/// instructions, such as `halt`), with the GEMM shape of the header's
/// records.
fn layer_rows(header: &Program, buckets: Vec<Bucket>) -> BTreeMap<(u32, Pass), LayerPassStats> {
    let mut rows: BTreeMap<(u32, Pass), LayerPassStats> = BTreeMap::new();
    for b in buckets {
        let (layer, pass) = b.key;
        if layer == NO_LAYER || b.rows.instructions == 0 {
            continue;
        }
        let (first, last) = b.rows.span.unwrap_or((0, 0));
        let mut stalls = BTreeMap::new();
        for (c, v) in StallCause::ALL.iter().zip(b.stalls) {
            stalls.insert(*c, v);
        }
        let mut events = b.events;
        events.derive();
        let row = LayerPassStats {
            name: header.layer_name(Tag { layer, pass }).to_string(),
            pass,
            mode: "vector".into(),
            instructions: b.rows.instructions,
            dram_bytes: b.rows.dram_bytes,
            macs_executed: b.rows.macs_executed,
            macs_dense_equivalent: b.rows.macs_dense_equivalent,
            span_cycles: last - first,
            stalls,
            events,
            ..LayerPassStats::default()
        };
        rows.insert((layer, pass), row);
    }
    for g in &header.info.gemms {
        if let Some(li) = header.layers.iter().position(|l| *l == g.layer) {
            if let Some(r) = rows.get_mut(&(li as u32, g.pass)) {
                if g.m * g.n * g.k > r.m * r.n * r.k {
                    r.m = g.m;
                    r.n = g.n;
                    r.k = g.k;
                    r.mode = g.mode.clone();
                }
            }
        }
    }
    // A weight update has no GEMM: report the weight it updates (K x N of FF, K = 1).
    for r in rows.values_mut().filter(|r| r.pass == Pass::Wu) {
        if let Some(g) = header.info.gemms.iter().find(|g| g.layer == r.name && g.pass == Pass::Ff) {
            r.m = g.k;
            r.n = g.n;
            r.k = 1;
        }
    }
    rows
}
