//! The energy model: Σ actions × energy per action, in integer
//! femtojoules, per layer and pass, per pass, per unit and action, and for
//! the run.
//!
//! Each (row, action) is charged once, rounded half up to a femtojoule;
//! every aggregate is an integer sum of those charges, so the actions of a
//! row sum exactly to the row, the rows of a pass to the pass, and the
//! passes plus the unattributed bucket to the total. Static energy is
//! charged per cycle: a layer-pass row gets its attributed `cycles`; the
//! cycles of the run that no row holds (and any event the rows do not
//! hold) go to the unattributed bucket.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::workload::Pass;
use nmsat_sim::{Stats, UnitEvents};
use serde::Serialize;

use super::actions::{Counter, Unit, components, count};
use super::rates::{ActionRate, resolve};
use super::table::EnergyTable;

/// Energy and the figures that follow from it, for a row, a pass or a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyFigures {
    /// Energy in femtojoules (exact sum of the charges).
    pub energy_fj: u128,
    /// Energy in picojoules.
    pub energy_pj: f64,
    /// Energy in joules.
    pub energy_j: f64,
    /// Cycles.
    pub cycles: u64,
    /// Seconds at the config's clock.
    pub seconds: f64,
    /// Energy / seconds; `None` without cycles.
    pub average_power_w: Option<f64>,
    /// Dense-equivalent MACs.
    pub macs_dense_equivalent: u64,
    /// MACs executed.
    pub macs_executed: u64,
    /// Dense-equivalent GOPS (2 ops per MAC); `None` without cycles.
    pub gops_dense_equivalent: Option<f64>,
    /// Executed GOPS; `None` without cycles.
    pub gops_executed: Option<f64>,
    /// Dense-equivalent GOPS per watt (= dense-equivalent ops per nJ); `None` without energy.
    pub gops_per_w_dense_equivalent: Option<f64>,
    /// Executed GOPS per watt; `None` without energy.
    pub gops_per_w_executed: Option<f64>,
    /// pJ per dense-equivalent MAC; `None` without MACs.
    pub pj_per_dense_equivalent_mac: Option<f64>,
    /// pJ per executed MAC; `None` without MACs.
    pub pj_per_executed_mac: Option<f64>,
    /// Energy-delay product in joule-seconds.
    pub energy_delay_product_j_s: f64,
}

/// The energy of one action in a row, pass or run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionEnergy {
    /// Component.
    pub component: String,
    /// Action.
    pub action: String,
    /// Count, in `counted` units.
    pub count: u64,
    /// What `count` counts (bytes for energies given per bit or word).
    pub counted: Unit,
    /// Energy in femtojoules.
    pub energy_fj: u128,
    /// Energy in picojoules.
    pub energy_pj: f64,
}

/// The energy of one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitEnergy {
    /// Component (`pe_array`, `activation_buffer`, ..., `device`).
    pub component: String,
    /// Energy in femtojoules.
    pub energy_fj: u128,
    /// Energy in picojoules.
    pub energy_pj: f64,
    /// Share of the enclosing row's, pass's or run's energy (0 when it has none).
    pub share: f64,
}

/// One layer and pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerPassEnergy {
    /// Layer name.
    pub name: String,
    /// Pass.
    pub pass: Pass,
    /// `dense`, an N:M pattern, or `vector`.
    pub mode: String,
    /// Energy and figures (static energy for its attributed cycles).
    pub figures: EnergyFigures,
    /// Per component.
    pub by_unit: Vec<UnitEnergy>,
    /// Per action, in catalogue order.
    pub actions: Vec<ActionEnergy>,
}

/// One pass (the sum of its layers' rows).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassEnergy {
    /// Pass.
    pub pass: Pass,
    /// Energy and figures.
    pub figures: EnergyFigures,
    /// Per component.
    pub by_unit: Vec<UnitEnergy>,
}

/// What the run counted outside every layer-pass row: cycles no row was
/// attributed and events of instructions without a layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnattributedEnergy {
    /// Energy and figures.
    pub figures: EnergyFigures,
    /// Per action, in catalogue order.
    pub actions: Vec<ActionEnergy>,
}

/// The energy of a simulated run under one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyReport {
    /// Table name.
    pub table: String,
    /// Where the table was read from.
    pub table_origin: String,
    /// Config name.
    pub arch: String,
    /// Clock in MHz.
    pub clock_mhz: u32,
    /// The table's energies resolved for the config, in catalogue order.
    pub rates: Vec<ActionRate>,
    /// The run.
    pub total: EnergyFigures,
    /// Per component.
    pub by_unit: Vec<UnitEnergy>,
    /// Per action, in catalogue order.
    pub by_action: Vec<ActionEnergy>,
    /// Per pass, FF, BP, WG, WU (every pass, zero when absent).
    pub passes: Vec<PassEnergy>,
    /// Per layer and pass, in the simulator's order.
    pub layers: Vec<LayerPassEnergy>,
    /// Outside every row; `total` = Σ passes + this.
    pub unattributed: UnattributedEnergy,
    /// Inconsistencies met (rows counting more than the run), if any.
    pub notes: Vec<String>,
}

/// Counts and charges of a row, pass or run, one slot per rate.
#[derive(Debug, Clone, Default)]
struct Bucket {
    cycles: u64,
    macs_dense_equivalent: u64,
    macs_executed: u64,
    counts: Vec<u64>,
    energy: Vec<u128>,
}

impl Bucket {
    fn zero(n: usize) -> Bucket {
        Bucket { counts: vec![0; n], energy: vec![0; n], ..Bucket::default() }
    }

    fn charged(rates: &[ActionRate], counts: Vec<u64>, cycles: u64, macs: (u64, u64)) -> Bucket {
        let energy = rates.iter().zip(&counts).map(|(r, &n)| r.charge_fj(n)).collect();
        Bucket { cycles, macs_dense_equivalent: macs.0, macs_executed: macs.1, counts, energy }
    }

    fn add(&mut self, o: &Bucket) {
        self.cycles += o.cycles;
        self.macs_dense_equivalent += o.macs_dense_equivalent;
        self.macs_executed += o.macs_executed;
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        for (a, b) in self.energy.iter_mut().zip(&o.energy) {
            *a += b;
        }
    }

    fn total_fj(&self) -> u128 {
        self.energy.iter().sum()
    }
}

/// The energy of `stats` (a run on `arch`) under `table`.
pub fn energy(stats: &Stats, arch: &ArchConfig, table: &EnergyTable) -> EnergyReport {
    let rates = resolve(table, arch);
    let own_ops: Vec<&str> = rates
        .iter()
        .filter_map(|r| match r.counter {
            Counter::Vector(op) => Some(op),
            _ => None,
        })
        .collect();
    let counts = |e: &UnitEvents, cycles: u64| -> Vec<u64> {
        rates.iter().map(|r| count(r.counter, r.per, e, cycles, &own_ops)).collect()
    };
    let rows: Vec<Bucket> = stats
        .layers
        .iter()
        .map(|l| {
            Bucket::charged(&rates, counts(&l.events, l.cycles), l.cycles, (l.macs_dense_equivalent, l.macs_executed))
        })
        .collect();
    let run_events = UnitEvents {
        pe_array: stats.pe_array.clone(),
        buffers: stats.buffers.clone(),
        dma: stats.dma.clone(),
        vector_unit: stats.vector_unit.clone(),
        sparsifier: stats.sparsifier.clone(),
    };
    let run = Bucket::charged(&rates, counts(&run_events, stats.total_cycles), stats.total_cycles, (0, 0));
    let mut in_rows = Bucket::zero(rates.len());
    for r in &rows {
        in_rows.add(r);
    }
    let mut notes = Vec::new();
    if !stats.arch.is_empty() && stats.arch != arch.name {
        notes.push(format!("the run is of config `{}`, its energy computed for `{}`", stats.arch, arch.name));
    }
    let rest_counts: Vec<u64> = rates
        .iter()
        .zip(run.counts.iter().zip(&in_rows.counts))
        .map(|(r, (&all, &rows))| {
            if rows > all {
                notes.push(format!("{}.{}: the rows count {rows}, more than the run's {all}", r.component, r.action));
            }
            all.saturating_sub(rows)
        })
        .collect();
    let rest_macs = (
        stats.macs_dense_equivalent.saturating_sub(in_rows.macs_dense_equivalent),
        stats.macs_executed.saturating_sub(in_rows.macs_executed),
    );
    let rest_cycles = stats.total_cycles.saturating_sub(in_rows.cycles);
    let rest = Bucket::charged(&rates, rest_counts, rest_cycles, rest_macs);
    report(stats, arch, table, rates, &rows, &rest, notes)
}

/// Assembles the report from the charged rows and the rest.
fn report(
    stats: &Stats,
    arch: &ArchConfig,
    table: &EnergyTable,
    rates: Vec<ActionRate>,
    rows: &[Bucket],
    rest: &Bucket,
    notes: Vec<String>,
) -> EnergyReport {
    let mhz = arch.clock_mhz;
    let layers = stats
        .layers
        .iter()
        .zip(rows)
        .map(|(l, b)| LayerPassEnergy {
            name: l.name.clone(),
            pass: l.pass,
            mode: l.mode.clone(),
            figures: figures(b, mhz),
            by_unit: by_unit(&rates, b),
            actions: actions(&rates, b),
        })
        .collect();
    let mut all = rest.clone();
    let passes = Pass::ALL
        .iter()
        .map(|&p| {
            let mut b = Bucket::zero(rates.len());
            for (l, r) in stats.layers.iter().zip(rows) {
                if l.pass == p {
                    b.add(r);
                }
            }
            all.add(&b);
            PassEnergy { pass: p, figures: figures(&b, mhz), by_unit: by_unit(&rates, &b) }
        })
        .collect();
    EnergyReport {
        table: table.name.clone(),
        table_origin: table.origin.clone(),
        arch: arch.name.clone(),
        clock_mhz: mhz,
        total: figures(&all, mhz),
        by_unit: by_unit(&rates, &all),
        by_action: actions(&rates, &all),
        passes,
        layers,
        unattributed: UnattributedEnergy { figures: figures(rest, mhz), actions: actions(&rates, rest) },
        rates,
        notes,
    }
}

fn actions(rates: &[ActionRate], b: &Bucket) -> Vec<ActionEnergy> {
    rates
        .iter()
        .zip(b.counts.iter().zip(&b.energy))
        .map(|(r, (&count, &fj))| ActionEnergy {
            component: r.component.clone(),
            action: r.action.clone(),
            count,
            counted: r.counted(),
            energy_fj: fj,
            energy_pj: fj as f64 / 1000.0,
        })
        .collect()
}

fn by_unit(rates: &[ActionRate], b: &Bucket) -> Vec<UnitEnergy> {
    let total = b.total_fj();
    components()
        .into_iter()
        .map(|c| {
            let fj: u128 = rates.iter().zip(&b.energy).filter(|(r, _)| r.component == c).map(|(_, e)| e).sum();
            UnitEnergy {
                component: c.to_string(),
                energy_fj: fj,
                energy_pj: fj as f64 / 1000.0,
                share: if total > 0 { fj as f64 / total as f64 } else { 0.0 },
            }
        })
        .collect()
}

/// Energy, power, throughput and efficiency of a bucket at `mhz`.
fn figures(b: &Bucket, mhz: u32) -> EnergyFigures {
    let fj = b.total_fj();
    let j = fj as f64 * 1e-15;
    let seconds = b.cycles as f64 / (f64::from(mhz.max(1)) * 1e6);
    let (de, ex) = (b.macs_dense_equivalent, b.macs_executed);
    let per_s = |x: f64| (b.cycles > 0).then(|| x / seconds);
    let per_j = |macs: u64| (fj > 0).then(|| 2.0 * macs as f64 / (j * 1e9));
    let per_mac = |macs: u64| (macs > 0).then(|| fj as f64 / 1000.0 / macs as f64);
    EnergyFigures {
        energy_fj: fj,
        energy_pj: fj as f64 / 1000.0,
        energy_j: j,
        cycles: b.cycles,
        seconds,
        average_power_w: per_s(j),
        macs_dense_equivalent: de,
        macs_executed: ex,
        gops_dense_equivalent: per_s(2.0 * de as f64 / 1e9),
        gops_executed: per_s(2.0 * ex as f64 / 1e9),
        gops_per_w_dense_equivalent: per_j(de),
        gops_per_w_executed: per_j(ex),
        pj_per_dense_equivalent_mac: per_mac(de),
        pj_per_executed_mac: per_mac(ex),
        energy_delay_product_j_s: j * seconds,
    }
}
