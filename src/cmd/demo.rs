//! `nmsat demo`: the whole pipeline in one run, on the paper's questions.
//!
//! 1. Algorithm: does BDWP train? The digits MLP with dense, SR-STE and
//!    BDWP N:M on the functional reference (real data, test accuracy).
//! 2. Architecture and dataflow: how fast is one training step on SAT? A
//!    model (default ResNet-18 on CIFAR-10, batch 32) compiled for a config
//!    and simulated for each method, per pass, against the MAC-count bound.
//! 3. Dataflow ablation: what each of pre-generation, offline scheduling
//!    and the interleave mapping is worth on the BDWP step.
//! 4. RTL: the Verilog of `tiny` co-simulated under Verilator against the
//!    Rust cycle-mode simulator on one digits-MLP BDWP step (every
//!    retirement cycle and the final DRAM image).
//!
//! Every number is computed in this run. The tables go to stdout and to
//! `DIR/demo.md`, every figure to `DIR/demo.json`; progress and wall times
//! to stderr, so the same arguments write byte-identical files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use nmsat_compiler::{LowerOptions, Method as CMethod, load_model};
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_rtl::cosim::{RunOptions, cosim_program, model_for};
use nmsat_sim::reference::{Dataset, Method, ModelKind, TrainConfig, train};
use nmsat_sim::{SimMode, SimOptions, Stats, simulate};
use serde::Serialize;

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::{compile_program, load_arch, step_program, table};

/// Arguments of `nmsat demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for `demo.md` and `demo.json` (created; both files are
    /// replaced whole).
    #[arg(long, short = 'o', default_value = "nmsat-demo")]
    pub out: PathBuf,
    /// Model of the accelerator sections (built-in name or model file).
    #[arg(long, default_value = "resnet18-cifar10")]
    pub model: String,
    /// Samples per training step in the accelerator sections.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// N:M pattern of SR-STE and BDWP.
    #[arg(long, default_value = "2:8", value_parser = parse_nm)]
    pub nm: NmPattern,
    /// SAT config of the accelerator sections (TOML file or preset; default sat-vu9p).
    #[arg(long)]
    pub arch: Option<String>,
    /// Skip the Verilator co-simulation (section 4).
    #[arg(long)]
    pub no_rtl: bool,
    /// Epochs of the digits training runs (section 1) [default: the MLP's 30].
    #[arg(long)]
    pub epochs: Option<usize>,
}

fn parse_nm(s: &str) -> Result<NmPattern, String> {
    s.parse::<NmPattern>().map_err(|e| e.to_string())
}

/// One digits training run.
#[derive(Debug, Serialize)]
struct TrainRow {
    method: String,
    epochs: usize,
    steps: usize,
    final_train_loss: f64,
    test_accuracy: f64,
}

/// One simulated training step.
#[derive(Debug, Serialize)]
struct StepRow {
    method: String,
    cycles: u64,
    speedup_over_dense: f64,
    mac_bound: f64,
    passes: Vec<(String, u64)>,
    pe_utilization: f64,
    dram_bytes: u64,
    throughput_gops: f64,
}

/// One ablation of the BDWP step.
#[derive(Debug, Serialize)]
struct AblationRow {
    dataflow: String,
    cycles: u64,
    slowdown: f64,
}

/// The co-simulation result.
#[derive(Debug, Serialize)]
struct RtlRow {
    config: String,
    program: String,
    instructions: usize,
    rtl_cycles: u64,
    rust_cycles: u64,
    passed: bool,
    dram: String,
}

/// Everything the demo measured.
#[derive(Debug, Serialize)]
struct Demo {
    nm: String,
    model: String,
    arch: String,
    batch: u64,
    training: Vec<TrainRow>,
    step: Vec<StepRow>,
    ablation: Vec<AblationRow>,
    rtl: Option<RtlRow>,
    rtl_skipped: Option<String>,
}

fn say(msg: &str) {
    eprintln!("demo: {msg}");
}

/// Dense-equivalent step time over the method's, from MAC counts alone: FF,
/// BP and WG take a third of a dense step each; N:M passes do N/M of it.
fn mac_bound(method: CMethod, nm: NmPattern) -> f64 {
    let d = nm.density();
    match method {
        CMethod::Dense => 1.0,
        CMethod::Srste => 3.0 / (2.0 + d),
        CMethod::Bdwp => 3.0 / (1.0 + 2.0 * d),
    }
}

fn simulate_step(
    model: &nmsat_compiler::Model,
    arch: &nmsat_dataflow::ArchConfig,
    method: CMethod,
    nm: NmPattern,
    batch: u64,
    dataflow: DataflowOptions,
) -> Result<Stats, CliError> {
    let opts = LowerOptions::new(method, nm, batch);
    let p = compile_program(model, &opts, arch, dataflow)?;
    Ok(simulate(&p, arch, SimMode::Fast, SimOptions::default()).map_err(CliError::input)?.stats)
}

/// Appends a plain-text table as a fenced block (aligned in a terminal and
/// in rendered Markdown alike).
fn push_table(md: &mut String, t: &str) {
    md.push_str("```text\n");
    md.push_str(t);
    md.push_str("```\n");
}

fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", path.display())))
}

/// Runs `nmsat demo`.
pub fn run(args: DemoArgs) -> CliResult {
    let t0 = Instant::now();
    let arch = load_arch(args.arch.as_deref())?;
    let model = load_model(&args.model).map_err(CliError::input)?;
    std::fs::create_dir_all(&args.out).map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", args.out.display())))?;
    let nm = args.nm;
    let mut md = String::new();
    let _ = writeln!(md, "# nmsat demo: BDWP {nm} on SAT\n");

    // 1. Algorithm.
    let data = Dataset::digits().map_err(CliError::input)?;
    let mut training = Vec::new();
    for (name, meth) in [("dense", Method::Dense), ("SR-STE", Method::Srste), ("BDWP", Method::Bdwp)] {
        let mut cfg = TrainConfig { nm, ..TrainConfig::new(ModelKind::Mlp, meth) };
        if let Some(e) = args.epochs {
            cfg.epochs = e.max(1);
        }
        say(&format!("training the digits MLP with {name} ({} epochs)", cfg.epochs));
        let r = train(&data, &cfg, &mut |_| {}).map_err(CliError::input)?;
        training.push(TrainRow {
            method: if meth == Method::Dense { name.to_string() } else { format!("{name} {nm}") },
            epochs: r.epochs,
            steps: r.steps,
            final_train_loss: r.train_loss.last().copied().unwrap_or(f64::NAN),
            test_accuracy: r.test_accuracy,
        });
    }
    let _ = writeln!(
        md,
        "## 1. Algorithm: BDWP trains\n\nDigits MLP (64-128-64-10, {} training / {} test images), f32 reference, SGD with momentum:\n",
        data.train.len(),
        data.test.len()
    );
    let rows: Vec<Vec<String>> = training
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

    // 2. One training step on SAT.
    let mut step = Vec::new();
    let full = DataflowOptions::default();
    for (name, method) in [("dense", CMethod::Dense), ("SR-STE", CMethod::Srste), ("BDWP", CMethod::Bdwp)] {
        say(&format!("compiling and simulating one batch-{} step of {} ({name})", args.batch, model.name));
        let s = simulate_step(&model, &arch, method, nm, args.batch, full)?;
        let dense = step.first().map_or(s.total_cycles, |d: &StepRow| d.cycles);
        step.push(StepRow {
            method: if method == CMethod::Dense { name.to_string() } else { format!("{name} {nm}") },
            cycles: s.total_cycles,
            speedup_over_dense: dense as f64 / s.total_cycles.max(1) as f64,
            mac_bound: mac_bound(method, nm),
            passes: s.passes.iter().map(|(p, c)| (p.to_string(), *c)).collect(),
            pe_utilization: s.pe_utilization,
            dram_bytes: s.dram_bytes,
            throughput_gops: s.throughput_gops,
        });
    }
    let _ = writeln!(
        md,
        "\n## 2. Architecture and dataflow: one training step on `{}`\n\n{}, batch {}, simulated cycle-accurately (fast mode; cycles per pass are each pass's busy span):\n",
        arch.name, model.name, args.batch
    );
    let pass_names: Vec<String> =
        step.first().map(|s| s.passes.iter().map(|(p, _)| p.clone()).collect()).unwrap_or_default();
    let mut header: Vec<String> = vec!["method".into(), "cycles".into(), "speedup".into(), "MAC bound".into()];
    header.extend(pass_names.iter().cloned());
    header.extend(["PE util".into(), "DRAM MB".into(), "GOPS".into()]);
    let rows: Vec<Vec<String>> = step
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
            ]);
            r
        })
        .collect();
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    push_table(&mut md, &table(&h, &rows));
    if let Some(b) = step.last() {
        let _ = writeln!(
            md,
            "\nBDWP {nm} reaches {:.1} % of its MAC-count bound (Fang et al. report 1.75x for SAT + BDWP 2:8 over dense, averaged over their networks).",
            100.0 * b.speedup_over_dense / b.mac_bound
        );
    }

    // 3. Dataflow ablation of the BDWP step.
    let mut ablation = Vec::new();
    let variants = [
        ("full (interleave, pre-generation, offline schedule)", full),
        ("--no-pregen", DataflowOptions { pregen: false, ..full }),
        ("--no-offline-schedule", DataflowOptions { offline_schedule: false, ..full }),
        ("--no-interleave", DataflowOptions { interleave: false, ..full }),
    ];
    for (name, opts) in variants {
        let cycles = if let (true, Some(b)) = (opts == full, step.last()) {
            b.cycles
        } else {
            say(&format!("simulating the BDWP step with {name}"));
            simulate_step(&model, &arch, CMethod::Bdwp, nm, args.batch, opts)?.total_cycles
        };
        let base = ablation.first().map_or(cycles, |a: &AblationRow| a.cycles);
        ablation.push(AblationRow { dataflow: name.to_string(), cycles, slowdown: cycles as f64 / base.max(1) as f64 });
    }
    let _ = writeln!(md, "\n## 3. Dataflow ablation: BDWP {nm} step\n");
    let rows: Vec<Vec<String>> = ablation
        .iter()
        .map(|a| vec![a.dataflow.clone(), a.cycles.to_string(), format!("{:.3}x", a.slowdown)])
        .collect();
    push_table(&mut md, &table(&["dataflow", "cycles", "slower than full"], &rows));

    // 4. RTL co-simulation.
    let _ = writeln!(md, "\n## 4. RTL: Verilator against the Rust simulator\n");
    let (rtl, rtl_skipped) = if args.no_rtl {
        (None, Some("--no-rtl".to_string()))
    } else {
        match cosim_step(nm) {
            Ok(r) => (Some(r), None),
            Err(RtlSkip::Missing(why)) => (None, Some(why)),
            Err(RtlSkip::Failed(e)) => return Err(e),
        }
    };
    match (&rtl, &rtl_skipped) {
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

    let demo = Demo {
        nm: nm.to_string(),
        model: model.name.clone(),
        arch: arch.name.clone(),
        batch: args.batch,
        training,
        step,
        ablation,
        rtl,
        rtl_skipped,
    };
    let json = serde_json::to_string_pretty(&demo).map_err(CliError::input)?;
    write_atomically(&args.out.join("demo.json"), &(json + "\n"))?;
    write_atomically(&args.out.join("demo.md"), &md)?;
    print!("{md}");
    say(&format!(
        "wrote {} and {} in {:.0} s",
        args.out.join("demo.md").display(),
        args.out.join("demo.json").display(),
        t0.elapsed().as_secs_f64()
    ));
    if demo.rtl.as_ref().is_some_and(|r| !r.passed) {
        return Err(CliError::check(anyhow::anyhow!(
            "the RTL does not co-simulate with the Rust simulator (section 4)"
        )));
    }
    Ok(())
}

/// Why section 4 did not produce a result.
enum RtlSkip {
    /// Verilator is not installed: the demo goes on without it.
    Missing(String),
    /// Anything else is an error.
    Failed(CliError),
}

/// One digits-MLP BDWP step on `tiny`, on the Verilated RTL and the Rust simulator.
fn cosim_step(nm: NmPattern) -> Result<RtlRow, RtlSkip> {
    let fail = |e: CliError| RtlSkip::Failed(e);
    let arch = load_arch(Some("tiny")).map_err(fail)?;
    let model = load_model("digits-mlp").map_err(|e| fail(CliError::input(e)))?;
    let opts = LowerOptions::new(CMethod::Bdwp, nm, 8);
    let full = DataflowOptions::default();
    let (p, _) = step_program(&model, &opts, &arch, full, false).map_err(fail)?;
    say("building the Verilated model of `tiny` (cached after the first run)");
    let t0 = Instant::now();
    let m = match model_for(&arch, None) {
        Ok(m) => m,
        Err(e @ nmsat_rtl::RtlError::ToolMissing { .. }) => return Err(RtlSkip::Missing(e.to_string())),
        Err(e) => return Err(fail(CliError::input(e))),
    };
    if m.built {
        say(&format!("built it in {:.0} s ({})", t0.elapsed().as_secs_f64(), m.dir.display()));
    }
    say("co-simulating one digits-MLP BDWP step");
    let r = cosim_program(&m, &arch, &p, &RunOptions::default(), None).map_err(|e| fail(CliError::input(e)))?;
    if r.rtl.seconds > 0.0 {
        say(&format!("Verilator ran at {:.2} M cycles/s", r.rtl.sim_cycles as f64 / r.rtl.seconds / 1e6));
    }
    let c = &r.comparison;
    let dram = c.dram.summary();
    Ok(RtlRow {
        config: arch.name.clone(),
        program: format!("digits-mlp BDWP {nm} step, batch 8"),
        instructions: c.instructions,
        rtl_cycles: c.rtl_total,
        rust_cycles: c.rust_total,
        passed: c.passed(),
        dram,
    })
}
