//! Energy and bottleneck reports as text.

use super::bottleneck::{BottleneckReport, GapPart};
use super::model::{EnergyFigures, EnergyReport};
use crate::table::table;

/// The summary lines, the per-pass table and the per-unit table.
pub fn text(r: &EnergyReport) -> String {
    let t = &r.total;
    let mut out = format!(
        "energy on `{}` under table `{}`: {} over {:.6} s ({} cycles at {} MHz), {} W average\n",
        r.arch,
        r.table,
        joules(t.energy_j),
        t.seconds,
        t.cycles,
        r.clock_mhz,
        opt(t.average_power_w, 3)
    );
    out.push_str(&format!(
        "dense-equivalent: {} GOPS, {} GOPS/W, {} pJ/MAC; executed: {} GOPS, {} GOPS/W, {} pJ/MAC; EDP {:.4e} J*s\n",
        opt(t.gops_dense_equivalent, 1),
        opt(t.gops_per_w_dense_equivalent, 2),
        opt(t.pj_per_dense_equivalent_mac, 3),
        opt(t.gops_executed, 1),
        opt(t.gops_per_w_executed, 2),
        opt(t.pj_per_executed_mac, 3),
        t.energy_delay_product_j_s
    ));
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push('\n');
    let total = t.energy_fj;
    let mut rows: Vec<Vec<String>> = r.passes.iter().map(|p| pass_row(p.pass.name(), &p.figures, total)).collect();
    rows.push(pass_row("(other)", &r.unattributed.figures, total));
    rows.push(pass_row("total", t, total));
    out.push_str(&table(
        &["pass", "cycles", "energy_uJ", "share", "power_W", "pJ/MAC_dense_eq", "GOPS/W_dense_eq"],
        &rows,
    ));
    out.push('\n');
    let units: Vec<Vec<String>> = r
        .by_unit
        .iter()
        .map(|u| vec![u.component.clone(), format!("{:.3}", u.energy_pj / 1e6), percent(u.share)])
        .collect();
    out.push_str(&table(&["unit", "energy_uJ", "share"], &units));
    out
}

/// The bottleneck attribution: cycles by bound kind, where the gap to the
/// array's MAC-count bound goes, and one row per layer and pass.
pub fn bottleneck_text(b: &BottleneckReport) -> String {
    let g = &b.against_array;
    let by: Vec<String> = b.cycles_by_bound.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let mut out = format!(
        "cycles by bound: {}
",
        by.join(", ")
    );
    out.push_str(&format!(
        "{} cycles against a MAC-count bound of {:.0} ({} multipliers busy every cycle): gap {:.0} cycles\n\n",
        g.measured_cycles, g.bound_cycles, b.multipliers, g.gap_cycles
    ));
    let part = |p: &GapPart| {
        vec![
            p.part.clone(),
            p.rows.to_string(),
            p.cycles.to_string(),
            format!("{:.0}", p.gap_cycles),
            p.share_of_gap.map_or_else(|| "-".to_string(), percent),
        ]
    };
    let parts: Vec<Vec<String>> = g.by_bound.iter().chain(&g.by_pass).map(part).collect();
    out.push_str(&table(&["part", "rows", "cycles", "gap_cycles", "share_of_gap"], &parts));
    out.push('\n');
    let rows: Vec<Vec<String>> = b
        .layers
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.pass.to_string(),
                l.mode.clone(),
                l.cycles.to_string(),
                l.bound.name().to_string(),
                opt(l.compute_occupancy, 2),
                opt(l.dma_occupancy, 2),
                opt(l.arithmetic_intensity, 1),
                format!("{:.1}", l.roofline_gops),
                opt(l.achieved_gops, 1),
            ]
        })
        .collect();
    let header =
        ["layer", "pass", "mode", "cycles", "bound", "compute_occ", "dma_occ", "MACs/B", "roofline_GOPS", "GOPS"];
    out.push_str(&table(&header, &rows));
    out
}

fn pass_row(name: &str, f: &EnergyFigures, total_fj: u128) -> Vec<String> {
    let share = if total_fj > 0 { f.energy_fj as f64 / total_fj as f64 } else { 0.0 };
    vec![
        name.to_string(),
        f.cycles.to_string(),
        format!("{:.3}", f.energy_pj / 1e6),
        percent(share),
        opt(f.average_power_w, 3),
        opt(f.pj_per_dense_equivalent_mac, 3),
        opt(f.gops_per_w_dense_equivalent, 2),
    ]
}

fn percent(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

/// Joules with a readable prefix.
fn joules(j: f64) -> String {
    match j.abs() {
        x if x >= 1.0 => format!("{j:.3} J"),
        x if x >= 1e-3 => format!("{:.3} mJ", j * 1e3),
        x if x >= 1e-6 => format!("{:.3} uJ", j * 1e6),
        _ => format!("{:.3} nJ", j * 1e9),
    }
}
