//! The report's eight charts, from the runs and their analysis.

use nmsat_dataflow::Method;
use nmsat_sim::StallCause;

use super::{ReportInput, RunAnalysis, RunInput};
use crate::charts::{
    AblationData, AblationRow, Chart, ChartError, CyclesBar, CyclesData, EnergyBar, EnergyData, EnergySeries, GopsData,
    GopsRow, ModelSpeedup, PriorWork, Reference, RooflineData, RooflinePoint, SpeedupData, TimelineData, UnitTimeline,
    UtilisationData, UtilisationSeries,
};
use crate::prior::PRIOR;

/// Timeline rectangles per unit at most.
const TIMELINE_RECTS: usize = 400;

/// The index of the focus run: the first model's last run.
pub(super) fn focus(input: &ReportInput<'_>) -> usize {
    let first = input.runs.first().map(|r| r.model.clone()).unwrap_or_default();
    input.runs.iter().rposition(|r| r.model == first).unwrap_or(0)
}

/// The stall cause as named in JSON.
pub(super) fn cause_name(c: StallCause) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// All eight, in the page's order.
pub(super) fn all(input: &ReportInput<'_>, analysis: &[RunAnalysis]) -> Result<Vec<Chart>, ChartError> {
    let f = focus(input);
    let run = &input.runs[f];
    let what = format!("{} {}, batch {}", run.model, run.label(), input.batch);
    Ok(vec![
        crate::charts::cycles(&cycles(run, &analysis[f], &what))?,
        crate::charts::energy(&energy(input, analysis))?,
        crate::charts::speedup(&speedup(input))?,
        crate::charts::utilisation(&utilisation(run, &what))?,
        crate::charts::roofline(&roofline(input, &analysis[f], &what))?,
        crate::charts::ablation(&AblationData {
            title: format!("Dataflow ablation: {}", input.focus),
            rows: input.ablation.iter().map(|(v, c)| AblationRow { variant: v.clone(), cycles: *c as f64 }).collect(),
        })?,
        crate::charts::gops(&gops(input, analysis))?,
        crate::charts::timeline(&TimelineData {
            title: format!("Timeline of one step: {what}"),
            total_cycles: input.timeline.total_cycles,
            clock_mhz: Some(f64::from(input.arch.clock_mhz)),
            units: input
                .timeline
                .units
                .iter()
                .map(|(u, iv)| UnitTimeline { unit: u.clone(), intervals: iv.clone() })
                .collect(),
            max_rects: TIMELINE_RECTS,
        })?,
    ])
}

/// Per layer and pass: the compute-busy cycles and the stall queue-cycles by cause.
fn cycles(run: &RunInput, a: &RunAnalysis, what: &str) -> CyclesData {
    let mut categories = vec!["compute busy".to_string()];
    categories.extend(StallCause::ALL.iter().map(|c| format!("stall: {}", cause_name(*c))));
    let bars = run
        .stats
        .layers
        .iter()
        .zip(&a.bottlenecks.layers)
        .map(|(l, b)| {
            let mut v = vec![b.compute_busy_cycles as f64];
            v.extend(StallCause::ALL.iter().map(|c| l.stalls.get(c).copied().unwrap_or(0) as f64));
            CyclesBar { layer: l.name.clone(), pass: l.pass.to_string(), cycles: v }
        })
        .collect();
    CyclesData { title: format!("Queue-cycles per layer and pass (busy, stalls by cause): {what}"), categories, bars }
}

/// One bar per run of the first model, stacked by component.
fn energy(input: &ReportInput<'_>, analysis: &[RunAnalysis]) -> EnergyData {
    let first = input.runs.first().map(|r| r.model.clone()).unwrap_or_default();
    let picked: Vec<usize> = (0..input.runs.len()).filter(|&i| input.runs[i].model == first).collect();
    let components: Vec<String> =
        analysis.first().map(|a| a.energy.by_unit.iter().map(|u| u.component.clone()).collect()).unwrap_or_default();
    let bars = picked
        .iter()
        .map(|&i| EnergyBar {
            method: input.runs[i].label(),
            joules: components
                .iter()
                .map(|c| {
                    let by = &analysis[i].energy.by_unit;
                    by.iter().find(|u| &u.component == c).map_or(0.0, |u| u.energy_pj * 1e-12)
                })
                .collect(),
        })
        .collect();
    EnergyData {
        title: format!("Energy per step by component: {first}, batch {}, table {}", input.batch, input.table.name),
        series: components.into_iter().map(|c| EnergySeries { unit: c, action: "all".into() }).collect(),
        bars,
    }
}

/// Speedup over dense per model and method, against the MAC-count bound and the paper's 1.75×.
fn speedup(input: &ReportInput<'_>) -> SpeedupData {
    let mut methods: Vec<String> = Vec::new();
    for r in input.runs.iter().filter(|r| r.method != Method::Dense) {
        if !methods.contains(&r.label()) {
            methods.push(r.label());
        }
    }
    let mut models: Vec<ModelSpeedup> = Vec::new();
    for r in &input.runs {
        if !models.iter().any(|m| m.model == r.model) {
            let of = |l: &str, f: fn(&RunInput) -> f64| {
                input.runs.iter().find(|x| x.model == r.model && x.label() == l).map_or(0.0, f)
            };
            models.push(ModelSpeedup {
                model: r.model.clone(),
                speedup: methods.iter().map(|l| of(l, |x| x.speedup_over_dense)).collect(),
                mac_bound: methods.iter().map(|l| of(l, |x| x.mac_bound)).collect(),
            });
        }
    }
    SpeedupData {
        title: format!("Speedup over dense training on `{}`, batch {}", input.arch.name, input.batch),
        methods,
        models,
        reference: Some(Reference::paper()),
    }
}

/// PE utilisation per layer, one series per pass.
fn utilisation(run: &RunInput, what: &str) -> UtilisationData {
    let mut layers: Vec<String> = Vec::new();
    for l in &run.stats.layers {
        if !layers.contains(&l.name) {
            layers.push(l.name.clone());
        }
    }
    let series = ["FF", "BP", "WG"]
        .iter()
        .map(|p| UtilisationSeries {
            pass: p.to_string(),
            values: layers
                .iter()
                .map(|n| {
                    run.stats.layers.iter().find(|l| &l.name == n && l.pass.name() == *p).map(|l| l.pe_utilization)
                })
                .collect(),
        })
        .collect();
    UtilisationData { title: format!("PE utilisation per layer: {what}"), layers, series }
}

/// Every layer and pass of the focus run under the config's roofs.
fn roofline(input: &ReportInput<'_>, a: &RunAnalysis, what: &str) -> RooflineData {
    let d = input.arch.derived();
    RooflineData {
        title: format!("Roofline of `{}`: {what}", input.arch.name),
        peak_gops: d.peak_dense_gops,
        dram_gbps: d.dram_gbytes_per_second,
        points: a
            .bottlenecks
            .layers
            .iter()
            .filter_map(|l| {
                Some(RooflinePoint {
                    layer: l.name.clone(),
                    pass: l.pass.to_string(),
                    intensity: l.arithmetic_intensity?,
                    gops: l.achieved_gops?,
                })
            })
            .collect(),
    }
}

/// Modelled GOPS and GOPS/W of the first model's runs beside published accelerators.
fn gops(input: &ReportInput<'_>, analysis: &[RunAnalysis]) -> GopsData {
    let first = input.runs.first().map(|r| r.model.clone()).unwrap_or_default();
    GopsData {
        title: format!("GOPS and GOPS/W: modelled SAT ({first}, `{}`) and published FPGA trainers", input.arch.name),
        modelled: input
            .runs
            .iter()
            .zip(analysis)
            .filter(|(r, _)| r.model == first)
            .map(|(r, a)| GopsRow {
                method: format!("SAT {}", r.label()),
                gops: a.energy.total.gops_dense_equivalent.unwrap_or(0.0),
                gops_per_watt: a.energy.total.gops_per_w_dense_equivalent,
            })
            .collect(),
        prior: PRIOR
            .iter()
            .map(|p| PriorWork {
                name: p.name.into(),
                venue: p.venue.into(),
                device: p.device.into(),
                precision: p.precision.into(),
                gops: p.gops,
                gops_per_watt: p.gops_per_w,
            })
            .collect(),
    }
}
