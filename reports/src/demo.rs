//! The demo's results (`nmsat demo`) and their Markdown: BDWP training on
//! digits, one simulated step per method against the MAC-count bound, the
//! dataflow ablation and the RTL co-simulation.

use std::fmt::Write as _;

use serde::Serialize;

use crate::table::table;

/// One digits training run.
#[derive(Debug, Clone, Serialize)]
pub struct TrainRow {
    /// Method label (`dense`, `BDWP 2:8`).
    pub method: String,
    /// Epochs run.
    pub epochs: usize,
    /// Optimizer steps.
    pub steps: usize,
    /// Mean training loss of the last epoch.
    pub final_train_loss: f64,
    /// Test accuracy (fraction).
    pub test_accuracy: f64,
}

/// One simulated training step.
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    /// Method label.
    pub method: String,
    /// Total cycles.
    pub cycles: u64,
    /// Dense cycles over these.
    pub speedup_over_dense: f64,
    /// The method's MAC-count bound on that speedup.
    pub mac_bound: f64,
    /// Busy span per pass.
    pub passes: Vec<(String, u64)>,
    /// PE utilization.
    pub pe_utilization: f64,
    /// DRAM bytes moved.
    pub dram_bytes: u64,
    /// Dense-equivalent GOPS.
    pub throughput_gops: f64,
    /// Energy of the step under the demo's energy table, mJ.
    pub energy_mj: f64,
    /// Its average power, W.
    pub average_power_w: f64,
    /// Dense-equivalent GOPS per watt.
    pub gops_per_w: f64,
}

/// One ablation of the BDWP step.
#[derive(Debug, Clone, Serialize)]
pub struct AblationRow {
    /// Which dataflow ran.
    pub dataflow: String,
    /// Total cycles.
    pub cycles: u64,
    /// Cycles over the full dataflow's.
    pub slowdown: f64,
}

/// The co-simulation result.
#[derive(Debug, Clone, Serialize)]
pub struct RtlRow {
    /// Config name.
    pub config: String,
    /// What ran.
    pub program: String,
    /// Instructions compared.
    pub instructions: usize,
    /// RTL cycles.
    pub rtl_cycles: u64,
    /// Rust cycle-mode cycles.
    pub rust_cycles: u64,
    /// Everything matched.
    pub passed: bool,
    /// The DRAM comparison in words.
    pub dram: String,
}

/// Everything the demo measured (also its JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Demo {
    /// N:M pattern of SR-STE and BDWP.
    pub nm: String,
    /// Model of the accelerator sections.
    pub model: String,
    /// Config of the accelerator sections.
    pub arch: String,
    /// Batch of the accelerator sections.
    pub batch: u64,
    /// Section 1.
    pub training: Vec<TrainRow>,
    /// Section 2.
    pub step: Vec<StepRow>,
    /// Section 3.
    pub ablation: Vec<AblationRow>,
    /// Section 4, when it ran.
    pub rtl: Option<RtlRow>,
    /// Why section 4 did not run.
    pub rtl_skipped: Option<String>,
    /// The energy table of sections 2 and 3.
    pub energy_table: String,
    /// Training / test images of the digits data set.
    #[serde(skip)]
    pub digits_split: (usize, usize),
}

/// A plain-text table as a fenced block (aligned in a terminal and in
/// rendered Markdown alike).
fn push_table(md: &mut String, t: &str) {
    md.push_str("```text\n");
    md.push_str(t);
    md.push_str("```\n");
}

/// The demo's Markdown.
pub fn markdown(d: &Demo) -> String {
    let nm = &d.nm;
    let mut md = String::new();
    let _ = writeln!(md, "# nmsat demo: BDWP {nm} on SAT\n");
    let _ = writeln!(
        md,
        "## 1. Algorithm: BDWP trains\n\nDigits MLP (64-128-64-10, {} training / {} test images), f32 reference, SGD with momentum:\n",
        d.digits_split.0, d.digits_split.1
    );
    let rows: Vec<Vec<String>> = d
        .training
        .iter()
        .map(|t| {
            vec![
                t.method.clone(),
                t.epochs.to_string(),
                format!("{:.4}", t.final_train_loss),
                format!("{:.1} %", 100.0 * t.test_accuracy),
            ]
        })
        .collect();
    push_table(&mut md, &table(&["method", "epochs", "final train loss", "test accuracy"], &rows));
    step_section(&mut md, d);
    let _ = writeln!(md, "\n## 3. Dataflow ablation: BDWP {nm} step\n");
    let rows: Vec<Vec<String>> = d
        .ablation
        .iter()
        .map(|a| vec![a.dataflow.clone(), a.cycles.to_string(), format!("{:.3}x", a.slowdown)])
        .collect();
    push_table(&mut md, &table(&["dataflow", "cycles", "slower than full"], &rows));
    let _ = writeln!(md, "\n## 4. RTL: Verilator against the Rust simulator\n");
    match (&d.rtl, &d.rtl_skipped) {
        (Some(r), _) => {
            let _ = writeln!(
                md,
                "{} on `{}`: {} instructions, {} cycles in the RTL, {} in the Rust cycle-mode simulator: {}; final DRAM image {}.",
                r.program,
                r.config,
                r.instructions,
                r.rtl_cycles,
                r.rust_cycles,
                if r.passed { "every retirement cycle matches" } else { "MISMATCH" },
                r.dram,
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(md, "skipped: {why}");
        }
        (None, None) => {}
    }
    md
}

/// Section 2: one step per method.
fn step_section(md: &mut String, d: &Demo) {
    let _ = writeln!(
        md,
        "\n## 2. Architecture and dataflow: one training step on `{}`\n\n{}, batch {}, simulated cycle-accurately (fast mode; cycles per pass are each pass's busy span; energy from the `{}` table, see `docs/energy.md`; the HTML report with charts is `report/index.html`):\n",
        d.arch, d.model, d.batch, d.energy_table
    );
    let pass_names: Vec<String> =
        d.step.first().map(|s| s.passes.iter().map(|(p, _)| p.clone()).collect()).unwrap_or_default();
    let mut header: Vec<String> = vec!["method".into(), "cycles".into(), "speedup".into(), "MAC bound".into()];
    header.extend(pass_names.iter().cloned());
    header.extend(["PE util".into(), "DRAM MB".into(), "GOPS".into(), "energy mJ".into(), "W".into(), "GOPS/W".into()]);
    let rows: Vec<Vec<String>> = d
        .step
        .iter()
        .map(|s| {
            let mut r = vec![
                s.method.clone(),
                s.cycles.to_string(),
                format!("{:.3}x", s.speedup_over_dense),
                format!("{:.3}x", s.mac_bound),
            ];
            r.extend(s.passes.iter().map(|(_, c)| c.to_string()));
            r.extend([
                format!("{:.3}", s.pe_utilization),
                format!("{:.1}", s.dram_bytes as f64 / 1e6),
                format!("{:.0}", s.throughput_gops),
                format!("{:.1}", s.energy_mj),
                format!("{:.2}", s.average_power_w),
                format!("{:.1}", s.gops_per_w),
            ]);
            r
        })
        .collect();
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    push_table(md, &table(&h, &rows));
    if let Some(b) = d.step.last() {
        let _ = writeln!(
            md,
            "\nBDWP {} reaches {:.1} % of its MAC-count bound (Fang et al. report 1.75x for SAT + BDWP 2:8 over dense, averaged over their networks).",
            d.nm,
            100.0 * b.speedup_over_dense / b.mac_bound
        );
    }
}
