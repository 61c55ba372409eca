//! Bottleneck attribution: for each layer and pass, what bounds it
//! (compute, DMA or dependencies), where it sits under the config's
//! roofline, and where the gap between a run and its MAC-count bound goes.
//!
//! # The rule
//!
//! A row's `cycles` are the cycles the simulator attributed to it (the
//! compute queue's current or awaited instruction was the row's). Its
//! *compute busy* cycles are its instructions' PE-array stream cycles plus
//! vector-unit and sparsifier busy cycles; its *DMA busy* cycles are the
//! cycles its transfers held the DRAM channel. Then:
//!
//! 1. no attributed cycles: **hidden** (its work overlapped other rows');
//! 2. otherwise, if the busier of the two resources was busy for at least
//!    [`BUSY_THRESHOLD`] of the row's cycles, the row is bound by it:
//!    **compute** when compute busy ≥ DMA busy, else **DMA**;
//! 3. otherwise neither resource explains the time and the stalls decide:
//!    waits for a token from the load queue (data not loaded yet: DRAM
//!    latency) count for **DMA**, waits for a token from the compute queue
//!    (a buffer half still in use) for **compute**, and data hazards, mode
//!    switches and waits on the store queue for **dependency**; the
//!    largest wins, **dependency** on a tie or without stalls (pipeline
//!    fill and drain, latency chains). `unit_busy` stalls are not evidence:
//!    summed over queues they do not say which unit was busy.
//!
//! The roofline of a row is `min(peak, intensity × DRAM bytes per cycle)`
//! in dense-equivalent MACs per cycle, with `peak` the array's
//! dense-equivalent peak for the row's mode (`multipliers · M/N` for N:M,
//! `multipliers` for dense; for a row of no known mode, such as a
//! standalone kernel, `multipliers` × its dense-equivalent over executed
//! MACs) and `intensity` its dense-equivalent MACs per DRAM byte.

use std::collections::BTreeMap;

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::workload::Pass;
use nmsat_sim::{LayerPassStats, StallCause, Stats};
use serde::Serialize;

/// The share of a row's cycles a resource must be busy to bound it.
pub const BUSY_THRESHOLD: f64 = 0.5;

/// What bounds a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The PE array, vector unit or sparsifier.
    Compute,
    /// The DRAM channel, or waiting for loads.
    Dma,
    /// Waiting on results, hazards, mode switches or latency.
    Dependency,
    /// No cycles of its own: overlapped with other rows.
    Hidden,
}

impl Bound {
    /// Every kind, in report order.
    pub const ALL: [Bound; 4] = [Bound::Compute, Bound::Dma, Bound::Dependency, Bound::Hidden];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Bound::Compute => "compute",
            Bound::Dma => "dma",
            Bound::Dependency => "dependency",
            Bound::Hidden => "hidden",
        }
    }
}

/// One layer and pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerBottleneck {
    /// Layer name.
    pub name: String,
    /// Pass.
    pub pass: Pass,
    /// `dense`, an N:M pattern, or `vector`.
    pub mode: String,
    /// Attributed cycles.
    pub cycles: u64,
    /// What bounds it.
    pub bound: Bound,
    /// Which step of the rule decided, in words.
    pub reason: String,
    /// PE-array stream + vector-unit + sparsifier busy cycles.
    pub compute_busy_cycles: u64,
    /// DRAM channel cycles of its transfers.
    pub dma_busy_cycles: u64,
    /// Compute busy / cycles; `None` without cycles.
    pub compute_occupancy: Option<f64>,
    /// DMA busy / cycles; `None` without cycles.
    pub dma_occupancy: Option<f64>,
    /// MACs executed / (cycles · multipliers), as the simulator reports it:
    /// low in a compute-bound row means short or ragged reductions, port or
    /// drain stalls.
    pub pe_utilization: f64,
    /// Stall queue-cycles by cause.
    pub stalls: BTreeMap<StallCause, u64>,
    /// Dense-equivalent MACs.
    pub macs_dense_equivalent: u64,
    /// MACs executed.
    pub macs_executed: u64,
    /// DRAM payload bytes.
    pub dram_bytes: u64,
    /// Dense-equivalent MACs per DRAM byte; `None` without DRAM bytes.
    pub arithmetic_intensity: Option<f64>,
    /// The array's dense-equivalent peak for its mode, MACs per cycle: for a
    /// row without a known mode, `multipliers` × its dense-equivalent over
    /// executed MACs; 0 without MACs.
    pub peak_macs_per_cycle: u64,
    /// `min(peak, intensity × DRAM bytes per cycle)`, MACs per cycle.
    pub roofline_macs_per_cycle: f64,
    /// Dense-equivalent MACs per attributed cycle; `None` without cycles.
    pub achieved_macs_per_cycle: Option<f64>,
    /// The roofline in dense-equivalent GOPS.
    pub roofline_gops: f64,
    /// Achieved dense-equivalent GOPS; `None` without cycles.
    pub achieved_gops: Option<f64>,
    /// Achieved / roofline; `None` when either is undefined or the roofline is 0.
    pub roofline_fraction: Option<f64>,
    /// Roofline − achieved, in GOPS (negative when work ran in others' cycles).
    pub gap_to_roofline_gops: Option<f64>,
    /// `cycles · multipliers − MACs executed`: multiplier slots it left idle.
    pub lost_multiplier_slots: i128,
}

/// One part of a gap (a bound kind, a pass, or the unattributed rest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapPart {
    /// `compute`, `dma`, `dependency`, `hidden`, a pass (`FF`...) or `unattributed`.
    pub part: String,
    /// Rows in it.
    pub rows: usize,
    /// Their measured cycles.
    pub cycles: u64,
    /// Cycles their executed MACs take at the bound's cycles per MAC.
    pub bound_cycles: f64,
    /// `cycles − bound_cycles`.
    pub gap_cycles: f64,
    /// Share of the whole gap; `None` when there is no gap.
    pub share_of_gap: Option<f64>,
}

/// Where a run's cycles beyond a MAC-count bound go.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapSummary {
    /// Cycles one executed MAC costs at the bound.
    pub cycles_per_mac: f64,
    /// The run's executed MACs at that cost.
    pub bound_cycles: f64,
    /// The run's cycles.
    pub measured_cycles: u64,
    /// `measured − bound` (= Σ of each breakdown's `gap_cycles`).
    pub gap_cycles: f64,
    /// By the rows' bound kind, plus `unattributed`.
    pub by_bound: Vec<GapPart>,
    /// By pass, plus `unattributed`.
    pub by_pass: Vec<GapPart>,
}

/// Bottlenecks of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BottleneckReport {
    /// Config name.
    pub arch: String,
    /// Clock in MHz.
    pub clock_mhz: u32,
    /// Multipliers in the array.
    pub multipliers: u64,
    /// DRAM bytes per cycle.
    pub dram_bytes_per_cycle: u32,
    /// The rule's threshold.
    pub busy_threshold: f64,
    /// Per layer and pass, in the simulator's order.
    pub layers: Vec<LayerBottleneck>,
    /// Attributed cycles by bound kind (every kind; `unattributed` last).
    pub cycles_by_bound: BTreeMap<String, u64>,
    /// The gap to the array's MAC-count bound (every multiplier busy every cycle).
    pub against_array: GapSummary,
    /// PE-array stream cycles lost to buffer ports.
    pub port_stall_cycles: u64,
    /// PE-array stream cycles lost to accumulator drains.
    pub drain_stall_cycles: u64,
    /// Pipeline fill and drain cycles of the GEMMs.
    pub fill_drain_cycles: u64,
}

/// A run against a dense run of the same work: the measured speedup, the
/// MAC-count bound, and where the difference goes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeedupGap {
    /// Dense cycles / run cycles.
    pub measured_speedup: f64,
    /// Dense executed MACs / run executed MACs.
    pub mac_count_bound: f64,
    /// The run's cycles beyond `dense cycles / mac_count_bound`, at the
    /// dense run's cycles per MAC.
    pub gap: GapSummary,
}

/// The bottleneck attribution of `stats`, a run on `arch`.
pub fn bottlenecks(stats: &Stats, arch: &ArchConfig) -> BottleneckReport {
    let d = arch.derived();
    let layers: Vec<LayerBottleneck> = stats.layers.iter().map(|l| row(l, arch)).collect();
    let mut cycles_by_bound: BTreeMap<String, u64> = Bound::ALL.iter().map(|b| (b.name().to_string(), 0)).collect();
    for l in &layers {
        *cycles_by_bound.entry(l.bound.name().to_string()).or_insert(0) += l.cycles;
    }
    let in_rows: u64 = layers.iter().map(|l| l.cycles).sum();
    cycles_by_bound.insert("unattributed".into(), stats.total_cycles.saturating_sub(in_rows));
    let pe = &stats.pe_array;
    BottleneckReport {
        arch: arch.name.clone(),
        clock_mhz: arch.clock_mhz,
        multipliers: d.multipliers,
        dram_bytes_per_cycle: arch.dram.bytes_per_cycle,
        busy_threshold: BUSY_THRESHOLD,
        against_array: gap(stats, &layers, 1.0 / d.multipliers.max(1) as f64),
        layers,
        cycles_by_bound,
        port_stall_cycles: pe.port_stall_cycles,
        drain_stall_cycles: pe.drain_stall_cycles,
        fill_drain_cycles: pe.fill_drain_cycles,
    }
}

/// `run` against `dense`, the same work without sparsity, both on `arch`.
pub fn speedup_gap(run: &Stats, dense: &Stats, arch: &ArchConfig) -> SpeedupGap {
    let layers: Vec<LayerBottleneck> = run.layers.iter().map(|l| row(l, arch)).collect();
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let cycles_per_mac = ratio(dense.total_cycles, dense.macs_executed);
    SpeedupGap {
        measured_speedup: ratio(dense.total_cycles, run.total_cycles),
        mac_count_bound: ratio(dense.macs_executed, run.macs_executed),
        gap: gap(run, &layers, cycles_per_mac),
    }
}

/// The attribution of one row.
fn row(l: &LayerPassStats, arch: &ArchConfig) -> LayerBottleneck {
    let e = &l.events;
    let compute = e.pe_array.stream_cycles + e.vector_unit.busy_cycles + e.sparsifier.busy_cycles;
    let dma = e.dma.channel_busy_cycles;
    let occ = |busy: u64| (l.cycles > 0).then(|| busy as f64 / l.cycles as f64);
    let (bound, reason) = classify(l, compute, dma);
    let d = arch.derived();
    // A row of unknown mode (a standalone kernel) with MACs: the peak at its
    // mix of dense and N:M work.
    let mix = (l.macs_executed > 0)
        .then(|| (d.multipliers as f64 * l.macs_dense_equivalent as f64 / l.macs_executed as f64).round() as u64);
    let peak = match l.mode.as_str() {
        "dense" => d.peak_dense_macs_per_cycle,
        m => d.peak_dense_equivalent_macs_per_cycle.get(m).copied().or(mix).unwrap_or(0),
    };
    let intensity = (l.dram_bytes > 0).then(|| l.macs_dense_equivalent as f64 / l.dram_bytes as f64);
    let bandwidth = f64::from(arch.dram.bytes_per_cycle);
    let roofline = intensity.map_or(peak as f64, |i| (peak as f64).min(i * bandwidth));
    let achieved = occ(l.macs_dense_equivalent);
    let gops = |macs_per_cycle: f64| 2.0 * macs_per_cycle * f64::from(arch.clock_mhz) / 1000.0;
    LayerBottleneck {
        name: l.name.clone(),
        pass: l.pass,
        mode: l.mode.clone(),
        cycles: l.cycles,
        bound,
        reason,
        compute_busy_cycles: compute,
        dma_busy_cycles: dma,
        compute_occupancy: occ(compute),
        dma_occupancy: occ(dma),
        pe_utilization: l.pe_utilization,
        stalls: l.stalls.clone(),
        macs_dense_equivalent: l.macs_dense_equivalent,
        macs_executed: l.macs_executed,
        dram_bytes: l.dram_bytes,
        arithmetic_intensity: intensity,
        peak_macs_per_cycle: peak,
        roofline_macs_per_cycle: roofline,
        achieved_macs_per_cycle: achieved,
        roofline_gops: gops(roofline),
        achieved_gops: achieved.map(gops),
        roofline_fraction: achieved.filter(|_| roofline > 0.0).map(|a| a / roofline),
        gap_to_roofline_gops: achieved.map(|a| gops(roofline) - gops(a)),
        lost_multiplier_slots: i128::from(l.cycles) * i128::from(d.multipliers) - i128::from(l.macs_executed),
    }
}

/// The rule of the module documentation.
fn classify(l: &LayerPassStats, compute: u64, dma: u64) -> (Bound, String) {
    if l.cycles == 0 {
        return (Bound::Hidden, "no attributed cycles".into());
    }
    let busiest = compute.max(dma) as f64 / l.cycles as f64;
    if busiest >= BUSY_THRESHOLD {
        let (b, what) = if compute >= dma { (Bound::Compute, "compute units") } else { (Bound::Dma, "DRAM channel") };
        return (b, format!("{what} busy {:.0} % of its cycles", 100.0 * busiest));
    }
    let s = |c: StallCause| l.stalls.get(&c).copied().unwrap_or(0);
    let load = s(StallCause::TokenFromLoad);
    let compute_wait = s(StallCause::TokenFromCompute);
    let dep = s(StallCause::DataHazard) + s(StallCause::ModeSwitch) + s(StallCause::TokenFromStore);
    let why = format!(
        "no resource busy {:.0} %; stalls: load {load}, compute {compute_wait}, dependency {dep}",
        100.0 * BUSY_THRESHOLD
    );
    let bound = if load > compute_wait && load > dep {
        Bound::Dma
    } else if compute_wait > load && compute_wait > dep {
        Bound::Compute
    } else {
        Bound::Dependency
    };
    (bound, why)
}

/// The gap of `stats` to its executed MACs at `cycles_per_mac`, by bound
/// kind and by pass; the cycles and MACs no row holds are `unattributed`.
fn gap(stats: &Stats, layers: &[LayerBottleneck], cycles_per_mac: f64) -> GapSummary {
    let bound_cycles = stats.macs_executed as f64 * cycles_per_mac;
    let gap_cycles = stats.total_cycles as f64 - bound_cycles;
    let part = |name: &str, rows: Vec<&LayerBottleneck>| {
        let cycles: u64 = rows.iter().map(|l| l.cycles).sum();
        let bound: f64 = rows.iter().map(|l| l.macs_executed as f64 * cycles_per_mac).sum();
        new_part(name, rows.len(), cycles, bound, gap_cycles)
    };
    let rest_cycles = stats.total_cycles.saturating_sub(layers.iter().map(|l| l.cycles).sum());
    let rest_macs = stats.macs_executed.saturating_sub(layers.iter().map(|l| l.macs_executed).sum());
    let rest = new_part("unattributed", 0, rest_cycles, rest_macs as f64 * cycles_per_mac, gap_cycles);
    let mut by_bound: Vec<GapPart> =
        Bound::ALL.iter().map(|&b| part(b.name(), layers.iter().filter(|l| l.bound == b).collect())).collect();
    by_bound.push(rest.clone());
    let mut by_pass: Vec<GapPart> =
        Pass::ALL.iter().map(|&p| part(p.name(), layers.iter().filter(|l| l.pass == p).collect())).collect();
    by_pass.push(rest);
    GapSummary { cycles_per_mac, bound_cycles, measured_cycles: stats.total_cycles, gap_cycles, by_bound, by_pass }
}

fn new_part(name: &str, rows: usize, cycles: u64, bound_cycles: f64, whole_gap: f64) -> GapPart {
    let gap_cycles = cycles as f64 - bound_cycles;
    GapPart {
        part: name.to_string(),
        rows,
        cycles,
        bound_cycles,
        gap_cycles,
        share_of_gap: (whole_gap.abs() > 0.0).then(|| gap_cycles / whole_gap),
    }
}
