//! The demo: the pipeline on the paper's questions, in one call.
//!
//! 1. Algorithm: does BDWP train? The digits MLP with dense, SR-STE and
//!    BDWP N:M on the functional reference (real data, test accuracy).
//! 2. Architecture and dataflow: one training step of a model on a config
//!    per method, per pass, against the MAC-count bound.
//! 3. Dataflow ablation: what each dataflow optimization is worth on the
//!    BDWP step.
//! 4. RTL: the Verilog of `tiny` co-simulated under Verilator against the
//!    Rust cycle-mode simulator on one digits-MLP BDWP step.
//!
//! Every number is computed in the call; [`nmsat_reports::demo`] renders it.

use nmsat_compiler::load_model;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_dataflow::{Method, NmPattern};
use nmsat_reports::demo::{AblationRow, Demo, RtlRow, StepRow, TrainRow};
use nmsat_reports::energy::EnergyTable;
use nmsat_reports::report::ReportOutput;
use nmsat_rtl::RtlError;
use nmsat_rtl::cosim::{RunOptions, cosim_program};
use nmsat_sim::reference::{Dataset, ModelKind, TrainConfig, train};

use crate::error::FlowError;
use crate::report::ReportRequest;
use crate::step::{Schedule, StepRequest};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// The step of sections 2 and 3 (its method is ignored: all three run).
    pub step: StepRequest,
    /// Epochs of the digits runs (`None`: the MLP's default).
    pub epochs: Option<usize>,
    /// Run section 4.
    pub rtl: bool,
    /// The energy table of sections 2 and 3.
    pub energy_table: EnergyTable,
}

/// Runs the demo; `say` receives progress messages. Returns the results
/// and the HTML report of sections 2 and 3.
pub fn run(req: &DemoRequest, say: &mut dyn FnMut(&str)) -> Result<(Demo, ReportOutput), FlowError> {
    let nm = req.step.nm;
    let report_req = ReportRequest {
        models: vec![req.step.model.clone()],
        methods: Method::ALL.to_vec(),
        patterns: vec![nm],
        batch: req.step.batch,
        arch: req.step.arch.clone(),
        dataflow: DataflowOptions::default(),
    };
    // A step too large is refused before the training runs.
    crate::report::preflight(&report_req)?;
    let data = Dataset::digits()?;
    let mut training = Vec::new();
    for method in Method::ALL {
        let mut cfg = TrainConfig { nm, ..TrainConfig::new(ModelKind::Mlp, method) };
        if let Some(e) = req.epochs {
            cfg.epochs = e;
        }
        say(&format!("training the digits MLP with {} ({} epochs)", method.label(), cfg.epochs));
        let r = train(&data, &cfg, &mut |_| {})?;
        training.push(TrainRow {
            method: method.label_with(nm),
            epochs: r.epochs,
            steps: r.steps,
            final_train_loss: r.train_loss.last().copied().unwrap_or(f64::NAN),
            test_accuracy: r.test_accuracy,
        });
    }
    say(&format!(
        "compiling and simulating one batch-{} step of {} per method, and the ablation",
        req.step.batch, req.step.model.name
    ));
    let runs = crate::report::run(&report_req, say)?;
    let step: Vec<StepRow> = runs.runs.iter().map(|r| step_row(r, &req.step.arch, &req.energy_table)).collect();
    let base = runs.ablation.first().map_or(1, |a| a.cycles.max(1));
    let ablation = runs
        .ablation
        .iter()
        .map(|a| AblationRow { dataflow: a.variant.clone(), cycles: a.cycles, slowdown: a.cycles as f64 / base as f64 })
        .collect();
    let report = crate::report::build(&report_req, &runs, &req.energy_table, None, None)?;
    let (rtl, rtl_skipped) = if req.rtl {
        match cosim_step(nm, say) {
            Ok(r) => (Some(r), None),
            Err(FlowError::Rtl(e @ RtlError::ToolMissing { .. })) => (None, Some(e.to_string())),
            Err(e) => return Err(e),
        }
    } else {
        (None, Some("--no-rtl".to_string()))
    };
    Ok((
        Demo {
            nm: nm.to_string(),
            model: req.step.model.name.clone(),
            arch: req.step.arch.name.clone(),
            batch: req.step.batch,
            training,
            step,
            ablation,
            rtl,
            rtl_skipped,
            energy_table: req.energy_table.name.clone(),
            digits_split: (data.train.len(), data.test.len()),
        },
        report,
    ))
}

/// Section 2's row of one simulated step, with its energy under `table`.
fn step_row(r: &crate::report::ReportRun, arch: &nmsat_dataflow::ArchConfig, table: &EnergyTable) -> StepRow {
    let s = &r.stats;
    let e = nmsat_reports::energy::energy(s, arch, table).total;
    StepRow {
        method: r.nm.map_or_else(|| r.method.label().to_string(), |p| r.method.label_with(p)),
        cycles: s.total_cycles,
        speedup_over_dense: r.speedup_over_dense,
        mac_bound: r.mac_bound,
        passes: s.passes.iter().map(|(p, c)| (p.to_string(), *c)).collect(),
        pe_utilization: s.pe_utilization,
        dram_bytes: s.dram_bytes,
        throughput_gops: s.throughput_gops,
        energy_mj: e.energy_j * 1e3,
        average_power_w: e.average_power_w.unwrap_or(0.0),
        gops_per_w: e.gops_per_w_dense_equivalent.unwrap_or(0.0),
    }
}

/// Section 4: one digits-MLP BDWP step (batch 8) on `tiny`, on the
/// Verilated RTL and the Rust simulator.
fn cosim_step(nm: NmPattern, say: &mut dyn FnMut(&str)) -> Result<RtlRow, FlowError> {
    let arch = crate::input::load_arch(Some("tiny"))?;
    let req = StepRequest {
        model: load_model("digits-mlp")?,
        method: Method::Bdwp,
        nm,
        batch: 8,
        dataflow: DataflowOptions::default(),
        arch: arch.clone(),
    };
    let p = req.compile_with_image(Schedule::CostModel)?.program;
    say("building the Verilated model of `tiny` (cached after the first run)");
    let t0 = std::time::Instant::now();
    let m = crate::cosim::rtl_model(&arch)?;
    if m.built {
        say(&format!("built it in {:.0} s ({})", t0.elapsed().as_secs_f64(), m.dir.display()));
    }
    say("co-simulating one digits-MLP BDWP step");
    let r = cosim_program(&m, &arch, &p, &RunOptions::default(), None)?;
    if r.rtl.seconds > 0.0 {
        say(&format!("Verilator ran at {:.2} M cycles/s", r.rtl.sim_cycles as f64 / r.rtl.seconds / 1e6));
    }
    let c = &r.comparison;
    Ok(RtlRow {
        config: arch.name.clone(),
        program: format!("digits-mlp BDWP {nm} step, batch 8"),
        instructions: c.instructions,
        rtl_cycles: c.rtl_total,
        rust_cycles: c.rust_total,
        passed: c.passed(),
        dram: c.dram.summary(),
    })
}
