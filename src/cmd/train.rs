//! `nmsat train`: N:M sparse training on real data with the functional
//! reference (`nmsat_sim::reference`), and `--sweep` for the accuracy table.

use std::io::IsTerminal;
use std::path::Path;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nmsat_dataflow::NmPattern;
use nmsat_sim::reference::train::Schedule;
use nmsat_sim::reference::{Dataset, Method, ModelKind, NumericsKind, Progress, TrainConfig, TrainReport, train};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::table;

/// Arguments of `nmsat train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// `digits` (built in) or a CSV file: numeric features then an integer
    /// label per row, optional header line.
    #[arg(long, default_value = "digits")]
    pub dataset: String,
    /// Model: the digits layer tables' MLP (64-128-64-10) or CNN.
    #[arg(long, value_enum, default_value_t = ModelArg::Mlp)]
    pub model: ModelArg,
    /// Training method.
    #[arg(long, value_enum, default_value_t = MethodArg::Bdwp)]
    pub method: MethodArg,
    /// N:M pattern of `srste` and `bdwp`.
    #[arg(long, default_value = "2:8")]
    pub nm: String,
    /// Epochs [default: 30 for mlp, 8 for cnn].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Learning rate (cosine-decayed per epoch) [default: 0.05].
    #[arg(long)]
    pub lr: Option<f32>,
    /// Learning-rate schedule over epochs.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Cosine)]
    pub schedule: ScheduleArg,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// L2 weight decay.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f32,
    /// SR-STE's λ_W (srste only).
    #[arg(long, default_value_t = 2e-4)]
    pub lambda_w: f32,
    /// Seed of initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Numeric path: f32, or the SAT's int16 fixed point.
    #[arg(long, value_enum, default_value_t = NumericsArg::F32)]
    pub numerics: NumericsArg,
    /// Where the arithmetic runs: the CPU reference, or the simulated SAT
    /// (every GEMM, loss gradient and weight update as a SAT program on the
    /// simulator's datapath; always int16 numerics).
    #[arg(long, value_enum, default_value_t = OnArg::Cpu)]
    pub on: OnArg,
    /// SAT config for `--on sat` (TOML file or preset name; default sat-vu9p).
    #[arg(long)]
    pub arch: Option<String>,
    /// Simulation mode for `--on sat` (identical results; `cycle` steps every cycle).
    #[arg(long, value_enum, default_value_t = SimModeArg::Fast)]
    pub sim_mode: SimModeArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Run the accuracy sweep instead: dense/srste/bdwp x 2:4, 2:8, 1:8 x
    /// mlp, cnn x seeds 0-2 (a markdown table, or JSON with --format json).
    /// --model, --method, --nm and --seed are ignored; the other options
    /// apply to every run.
    #[arg(long)]
    pub sweep: bool,
}

/// `--model`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    /// digits_mlp.
    Mlp,
    /// digits_cnn.
    Cnn,
}

/// `--method`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MethodArg {
    /// No pruning.
    Dense,
    /// Forward-only N:M with SR-STE's regulariser.
    Srste,
    /// N:M in FF and (separately pruned) in BP.
    Bdwp,
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    /// Constant learning rate.
    Constant,
    /// Cosine decay per epoch.
    Cosine,
}

/// `--on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnArg {
    /// The CPU reference.
    Cpu,
    /// The simulated SAT.
    Sat,
}

/// `--sim-mode`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SimModeArg {
    /// Event-driven.
    Fast,
    /// Cycle by cycle.
    Cycle,
}

/// `--numerics`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NumericsArg {
    /// IEEE f32.
    F32,
    /// The SAT's int16 fixed point.
    Int16,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// JSON on stdout.
    Json,
    /// A human-readable summary.
    Table,
}

fn model_kind(m: ModelArg) -> ModelKind {
    match m {
        ModelArg::Mlp => ModelKind::Mlp,
        ModelArg::Cnn => ModelKind::Cnn,
    }
}

fn method(m: MethodArg) -> Method {
    match m {
        MethodArg::Dense => Method::Dense,
        MethodArg::Srste => Method::Srste,
        MethodArg::Bdwp => Method::Bdwp,
    }
}

fn load_dataset(arg: &str) -> Result<Dataset, CliError> {
    if arg == "digits" && !Path::new(arg).exists() {
        return Dataset::digits().map_err(CliError::input);
    }
    Dataset::from_path(Path::new(arg)).map_err(CliError::input)
}

fn config(a: &TrainArgs, model: ModelKind, meth: Method, nm: NmPattern, seed: u64) -> TrainConfig {
    TrainConfig {
        nm,
        epochs: a.epochs.unwrap_or_else(|| TrainConfig::default_epochs(model)),
        batch: a.batch,
        lr: a.lr.unwrap_or_else(|| TrainConfig::default_lr(model)),
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        lambda_w: a.lambda_w,
        seed,
        schedule: match a.schedule {
            ScheduleArg::Constant => Schedule::Constant,
            ScheduleArg::Cosine => Schedule::Cosine,
        },
        numerics: match a.numerics {
            NumericsArg::F32 => NumericsKind::F32,
            NumericsArg::Int16 => NumericsKind::Int16,
        },
        ..TrainConfig::new(model, meth)
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(len: u64, label: String) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} steps {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label);
    bar
}

fn run_one(data: &Dataset, cfg: &TrainConfig, label: String) -> Result<TrainReport, CliError> {
    let steps = cfg.epochs * (data.train.len() / cfg.batch.clamp(1, data.train.len().max(1))).max(1);
    let bar = progress_bar(steps as u64, label);
    let mut on_step = |p: &Progress| {
        bar.inc(1);
        if p.step == p.steps_per_epoch {
            bar.set_message(format!("epoch {} loss {:.4}", p.epoch + 1, p.loss));
        }
    };
    let report = train(data, cfg, &mut on_step).map_err(CliError::input);
    bar.finish_and_clear();
    report
}

/// Runs `nmsat train`.
pub fn run(a: TrainArgs) -> CliResult {
    let nm: NmPattern = a.nm.parse().map_err(CliError::input)?;
    let data = load_dataset(&a.dataset)?;
    if a.sweep {
        return sweep(&a, &data);
    }
    let mut cfg = config(&a, model_kind(a.model), method(a.method), nm, a.seed);
    let label = format!("{} {} {}", cfg.model.name(), cfg.method.name(), cfg.nm);
    if a.on == OnArg::Sat {
        cfg.numerics = NumericsKind::Int16;
        let arch = crate::cmd::common::load_arch(a.arch.as_deref())?;
        let mode = match a.sim_mode {
            SimModeArg::Fast => nmsat_sim::SimMode::Fast,
            SimModeArg::Cycle => nmsat_sim::SimMode::Cycle,
        };
        let steps = cfg.epochs * (data.train.len() / cfg.batch.clamp(1, data.train.len().max(1))).max(1);
        let bar = progress_bar(steps as u64, format!("{label} on SAT"));
        let mut on_step = |p: &Progress| {
            bar.inc(1);
            if p.step == p.steps_per_epoch {
                bar.set_message(format!("epoch {} loss {:.4}", p.epoch + 1, p.loss));
            }
        };
        let r = nmsat_sim::sat_backend::train_on_sat(&data, &cfg, &arch, mode, &mut on_step).map_err(CliError::input);
        bar.finish_and_clear();
        let r = r?;
        match a.format {
            FormatArg::Json => println!("{}", serde_json::to_string_pretty(&r).map_err(CliError::input)?),
            FormatArg::Table => {
                print!("{}", render(&r.report));
                let s = &r.sat;
                println!(
                    "on SAT `{}` ({} mode): {} kernels, {:.0} cycles per training step = {:.3} ms at the clock; {} training cycles, {} evaluation cycles",
                    s.arch,
                    s.mode,
                    s.kernels,
                    s.cycles_per_step,
                    s.seconds_per_step * 1e3,
                    s.train_cycles,
                    s.eval_cycles
                );
            }
        }
        return Ok(());
    }
    let report = run_one(&data, &cfg, label)?;
    match a.format {
        FormatArg::Json => {
            println!("{}", serde_json::to_string_pretty(&report).map_err(CliError::input)?);
        }
        FormatArg::Table => print!("{}", render(&report)),
    }
    Ok(())
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn sparsity(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.3}", v))
}

fn render(r: &TrainReport) -> String {
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

/// One cell of the sweep.
#[derive(serde::Serialize)]
struct SweepRow {
    model: ModelKind,
    method: Method,
    nm: Option<NmPattern>,
    seeds: Vec<u64>,
    test_accuracy: Vec<f64>,
    mean: f64,
}

const SWEEP_SEEDS: [u64; 3] = [0, 1, 2];

fn sweep(a: &TrainArgs, data: &Dataset) -> CliResult {
    let patterns: Vec<NmPattern> =
        ["2:4", "2:8", "1:8"].iter().map(|p| p.parse().map_err(CliError::input)).collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for model in [ModelKind::Mlp, ModelKind::Cnn] {
        let mut cells: Vec<(Method, Option<NmPattern>)> = vec![(Method::Dense, None)];
        for m in [Method::Srste, Method::Bdwp] {
            cells.extend(patterns.iter().map(|&p| (m, Some(p))));
        }
        for (meth, p) in cells {
            let mut accs = Vec::new();
            for seed in SWEEP_SEEDS {
                let cfg = config(a, model, meth, p.unwrap_or(patterns[1]), seed);
                let label = format!(
                    "{} {} {} seed {seed}",
                    model.name(),
                    meth.name(),
                    p.map(|p| p.to_string()).unwrap_or_default()
                );
                accs.push(run_one(data, &cfg, label)?.test_accuracy);
            }
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            rows.push(SweepRow { model, method: meth, nm: p, seeds: SWEEP_SEEDS.to_vec(), test_accuracy: accs, mean });
        }
    }
    match a.format {
        FormatArg::Json => println!("{}", serde_json::to_string_pretty(&rows).map_err(CliError::input)?),
        FormatArg::Table => {
            println!("| model | method | N:M | seed 0 | seed 1 | seed 2 | mean |");
            println!("|---|---|---|---|---|---|---|");
            for r in &rows {
                let accs: Vec<String> = r.test_accuracy.iter().map(|&x| format!("{:.1}", 100.0 * x)).collect();
                println!(
                    "| {} | {} | {} | {} | {:.1} |",
                    r.model.name(),
                    r.method.name(),
                    r.nm.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                    accs.join(" | "),
                    100.0 * r.mean
                );
            }
        }
    }
    Ok(())
}
