//! `nmsat train`: N:M sparse training on real data with the functional
//! reference (`nmsat_sim::reference`), and `--sweep` for the accuracy table.

use clap::{Args, ValueEnum};
use nmsat_dataflow::{Method, NmPattern};
use nmsat_flow::FlowError;
use nmsat_flow::train::{load_dataset, on_cpu, on_sat, steps};
use nmsat_sim::reference::train::Schedule;
use nmsat_sim::reference::{Dataset, ModelKind, NumericsKind, TrainConfig, TrainReport};

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::ModeArg;
use crate::progress::{Reporter, on_step};

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
    #[arg(long, value_enum, default_value_t = Method::Bdwp)]
    pub method: Method,
    /// N:M pattern of `srste` and `bdwp`.
    #[arg(long, default_value = "2:8")]
    pub nm: NmPattern,
    /// Epochs [default: 30 for mlp, 8 for cnn].
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
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
    #[arg(long, value_enum, default_value_t = ModeArg::Fast)]
    pub sim_mode: ModeArg,
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

fn run_one(data: &Dataset, cfg: &TrainConfig, label: String) -> Result<TrainReport, FlowError> {
    let mut rep = Reporter::new(label, steps(data, cfg), "steps");
    let report = on_cpu(data, cfg, &mut on_step(&mut rep));
    rep.finish();
    report
}

/// Runs `nmsat train`.
pub fn run(a: TrainArgs) -> CliResult {
    let data = load_dataset(&a.dataset)?;
    if a.sweep {
        let config = |model, method, nm, seed| config(&a, model, method, nm, seed);
        let rows = nmsat_flow::train::sweep(&config, &mut |cfg, label| run_one(&data, cfg, label))?;
        match a.format {
            FormatArg::Json => println!("{}", serde_json::to_string_pretty(&rows).map_err(CliError::input)?),
            FormatArg::Table => print!("{}", nmsat_reports::train::sweep_markdown(&rows)),
        }
        return Ok(());
    }
    let cfg = config(&a, model_kind(a.model), a.method, a.nm, a.seed);
    let label = format!("{} {} {}", cfg.model.name(), cfg.method.name(), cfg.nm);
    if a.on == OnArg::Sat {
        let arch = nmsat_flow::load_arch(a.arch.as_deref())?;
        let mut rep = Reporter::new(format!("{label} on SAT"), steps(&data, &cfg), "steps");
        let r = on_sat(&data, &cfg, &arch, a.sim_mode.into(), &mut on_step(&mut rep));
        rep.finish();
        let r = r?;
        match a.format {
            FormatArg::Json => println!("{}", serde_json::to_string_pretty(&r).map_err(CliError::input)?),
            FormatArg::Table => {
                print!("{}", nmsat_reports::train::text(&r.report));
                print!("{}", nmsat_reports::train::sat_summary(&r.sat));
            }
        }
        return Ok(());
    }
    let report = run_one(&data, &cfg, label)?;
    match a.format {
        FormatArg::Json => println!("{}", serde_json::to_string_pretty(&report).map_err(CliError::input)?),
        FormatArg::Table => print!("{}", nmsat_reports::train::text(&report)),
    }
    Ok(())
}
