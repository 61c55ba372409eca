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
use nmsat_dataflow::schedule::{DataflowOptions, Optimization};
use nmsat_dataflow::{Method, NmPattern};
use nmsat_reports::demo::{AblationRow, Demo, RtlRow, StepRow, TrainRow};
use nmsat_rtl::RtlError;
use nmsat_rtl::cosim::{RunOptions, cosim_program};
use nmsat_sim::reference::{Dataset, ModelKind, TrainConfig, train};

use crate::error::FlowError;
use crate::step::{Schedule, StepRequest, simulate_step};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// The step of sections 2 and 3 (its method is ignored: all three run).
    pub step: StepRequest,
    /// Epochs of the digits runs (`None`: the MLP's default).
    pub epochs: Option<usize>,
    /// Run section 4.
    pub rtl: bool,
}

/// Runs the demo; `say` receives progress messages.
pub fn run(req: &DemoRequest, say: &mut dyn FnMut(&str)) -> Result<Demo, FlowError> {
    let nm = req.step.nm;
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
    let full = DataflowOptions::default();
    let mut step = Vec::new();
    for method in Method::ALL {
        say(&format!(
            "compiling and simulating one batch-{} step of {} ({})",
            req.step.batch,
            req.step.model.name,
            method.label()
        ));
        let s = simulate_step(&StepRequest { dataflow: full, ..req.step.with_method(method) })?.stats;
        let dense = step.first().map_or(s.total_cycles, |d: &StepRow| d.cycles);
        step.push(StepRow {
            method: method.label_with(nm),
            cycles: s.total_cycles,
            speedup_over_dense: dense as f64 / s.total_cycles.max(1) as f64,
            mac_bound: method.mac_bound(nm),
            passes: s.passes.iter().map(|(p, c)| (p.to_string(), *c)).collect(),
            pe_utilization: s.pe_utilization,
            dram_bytes: s.dram_bytes,
            throughput_gops: s.throughput_gops,
        });
    }
    let ablation = ablation(req, step.last().map(|b| b.cycles), say)?;
    let (rtl, rtl_skipped) = if req.rtl {
        match cosim_step(nm, say) {
            Ok(r) => (Some(r), None),
            Err(FlowError::Rtl(e @ RtlError::ToolMissing { .. })) => (None, Some(e.to_string())),
            Err(e) => return Err(e),
        }
    } else {
        (None, Some("--no-rtl".to_string()))
    };
    Ok(Demo {
        nm: nm.to_string(),
        model: req.step.model.name.clone(),
        arch: req.step.arch.name.clone(),
        batch: req.step.batch,
        training,
        step,
        ablation,
        rtl,
        rtl_skipped,
        digits_split: (data.train.len(), data.test.len()),
    })
}

/// Section 3: the BDWP step with each optimization off (`full`: its cycles
/// with everything on, when section 2 has them).
fn ablation(req: &DemoRequest, full: Option<u64>, say: &mut dyn FnMut(&str)) -> Result<Vec<AblationRow>, FlowError> {
    let all = DataflowOptions::default();
    let mut variants = vec![("full (interleave, pre-generation, offline schedule)".to_string(), all)];
    for o in [Optimization::Pregen, Optimization::OfflineSchedule, Optimization::Interleave] {
        variants.push((format!("--no-{}", o.info().name), all.without(o)));
    }
    let mut rows: Vec<AblationRow> = Vec::new();
    for (name, opts) in variants {
        let cycles = match (opts == all, full) {
            (true, Some(c)) => c,
            _ => {
                say(&format!("simulating the BDWP step with {name}"));
                simulate_step(&StepRequest { dataflow: opts, ..req.step.with_method(Method::Bdwp) })?.stats.total_cycles
            }
        };
        let base = rows.first().map_or(cycles, |a| a.cycles);
        rows.push(AblationRow { dataflow: name, cycles, slowdown: cycles as f64 / base.max(1) as f64 });
    }
    Ok(rows)
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
