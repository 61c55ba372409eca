//! Training runs of the functional reference (`nmsat train`): a summary with
//! a per-layer table of the operands used, and the accuracy sweep.

use nmsat_dataflow::{Method, NmPattern};
use nmsat_sim::reference::{ModelKind, NumericsKind, TrainReport};
use nmsat_sim::sat_backend::SatRunSummary;
use serde::Serialize;

use crate::table::table;

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn sparsity(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

/// The run's summary and the per-layer operand table.
pub fn text(r: &TrainReport) -> String {
    let mut out = format!(
        "{} on {}: method {}{}, {} numerics, {} epochs x {} steps of {} (seed {})\n",
        r.model.name(),
        r.dataset,
        r.method.name(),
        r.nm.map(|p| format!(" {p}")).unwrap_or_default(),
        match r.numerics {
            NumericsKind::F32 => "f32",
            NumericsKind::Int16 => "int16",
        },
        r.epochs,
        r.steps / r.epochs.max(1),
        r.batch,
        r.seed
    );
    out.push_str(&format!(
        "test accuracy {} ({} test / {} train samples); final train loss {:.4}\n\n",
        pct(r.test_accuracy),
        r.test_samples,
        r.train_samples,
        r.train_loss.last().copied().unwrap_or(f64::NAN)
    ));
    let rows: Vec<Vec<String>> = r
        .layers
        .iter()
        .map(|l| {
            let note = [&l.ff.dense_reason, &l.bp.dense_reason]
                .iter()
                .zip(["FF", "BP"])
                .filter_map(|(r, p)| r.as_ref().map(|r| format!("{p}: {r}")))
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                l.name.clone(),
                format!("{}x{}", l.k, l.c_out),
                l.ff.operand.clone(),
                sparsity(l.ff.sparsity),
                l.bp.operand.clone(),
                sparsity(l.bp.sparsity),
                format!("{:.3}", l.dw_sparsity),
                note,
            ]
        })
        .collect();
    out.push_str(&table(&["layer", "KxN", "FF W", "FF zeros", "BP W^T", "BP zeros", "dW zeros", "note"], &rows));
    out
}

/// The line `nmsat train --on sat` adds: what training on the simulated SAT cost.
pub fn sat_summary(s: &SatRunSummary) -> String {
    format!(
        "on SAT `{}` ({} mode): {} kernels, {:.0} cycles per training step = {:.3} ms at the clock; {} training cycles, {} evaluation cycles\n",
        s.arch,
        s.mode,
        s.kernels,
        s.cycles_per_step,
        s.seconds_per_step * 1e3,
        s.train_cycles,
        s.eval_cycles
    )
}

/// One cell of the accuracy sweep: a model, method and pattern over seeds.
#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    /// Model.
    pub model: ModelKind,
    /// Method.
    pub method: Method,
    /// Pattern (`None` for dense).
    pub nm: Option<NmPattern>,
    /// Seeds run.
    pub seeds: Vec<u64>,
    /// Test accuracy per seed.
    pub test_accuracy: Vec<f64>,
    /// Their mean.
    pub mean: f64,
}

/// The sweep as a Markdown table (accuracies in percent).
pub fn sweep_markdown(rows: &[SweepRow]) -> String {
    let mut s =
        String::from("| model | method | N:M | seed 0 | seed 1 | seed 2 | mean |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        let accs: Vec<String> = r.test_accuracy.iter().map(|&x| format!("{:.1}", 100.0 * x)).collect();
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} |\n",
            r.model.name(),
            r.method.name(),
            r.nm.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            accs.join(" | "),
            100.0 * r.mean
        ));
    }
    s
}
