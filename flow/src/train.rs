//! Training on real data through the pipeline: one run on the CPU reference
//! or the simulated SAT, and the accuracy sweep.

use std::path::Path;

use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_reports::train::SweepRow;
use nmsat_sim::SimMode;
use nmsat_sim::reference::{Dataset, ModelKind, NumericsKind, Progress, TrainConfig, TrainReport, train};
use nmsat_sim::sat_backend::{SatTrainReport, train_on_sat};

use crate::error::FlowError;

/// `digits` (built in, unless a file of that name exists) or a CSV file.
pub fn load_dataset(arg: &str) -> Result<Dataset, FlowError> {
    if arg == "digits" && !Path::new(arg).exists() {
        return Ok(Dataset::digits()?);
    }
    Ok(Dataset::from_path(Path::new(arg))?)
}

/// Optimizer steps of a run of `cfg` on `data` (for progress bars).
pub fn steps(data: &Dataset, cfg: &TrainConfig) -> u64 {
    (cfg.epochs * (data.train.len() / cfg.batch.clamp(1, data.train.len().max(1))).max(1)) as u64
}

/// Trains on the CPU reference.
pub fn on_cpu(
    data: &Dataset,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<TrainReport, FlowError> {
    Ok(train(data, cfg, progress)?)
}

/// Trains on the simulated SAT `arch` (always int16 numerics): every GEMM,
/// loss gradient and weight update a SAT program; a kernel the config cannot
/// run is an error naming the kernel and the config.
pub fn on_sat(
    data: &Dataset,
    cfg: &TrainConfig,
    arch: &ArchConfig,
    mode: SimMode,
    progress: &mut dyn FnMut(&Progress),
) -> Result<SatTrainReport, FlowError> {
    let cfg = TrainConfig { numerics: NumericsKind::Int16, ..cfg.clone() };
    Ok(train_on_sat(data, &cfg, arch, mode, progress)?)
}

/// The seeds of the sweep.
pub const SWEEP_SEEDS: [u64; 3] = [0, 1, 2];

/// The accuracy sweep: dense, SR-STE and BDWP at 2:4, 2:8 and 1:8 on the
/// digits MLP and CNN, seeds 0-2, each run configured by `config(model,
/// method, pattern, seed)`; `run` trains one configuration (with its label).
pub fn sweep(
    config: &dyn Fn(ModelKind, Method, NmPattern, u64) -> TrainConfig,
    run: &mut dyn FnMut(&TrainConfig, String) -> Result<TrainReport, FlowError>,
) -> Result<Vec<SweepRow>, FlowError> {
    let patterns: Vec<NmPattern> = ["2:4", "2:8", "1:8"]
        .iter()
        .map(|p| p.parse().map_err(|e: nmsat_dataflow::NmError| FlowError::Request(e.to_string())))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for model in [ModelKind::Mlp, ModelKind::Cnn] {
        let mut cells: Vec<(Method, Option<NmPattern>)> = vec![(Method::Dense, None)];
        for m in [Method::Srste, Method::Bdwp] {
            cells.extend(patterns.iter().map(|&p| (m, Some(p))));
        }
        for (method, p) in cells {
            let mut accs = Vec::new();
            for seed in SWEEP_SEEDS {
                let cfg = config(model, method, p.unwrap_or(patterns[1]), seed);
                let label = format!(
                    "{} {} {} seed {seed}",
                    model.name(),
                    method.name(),
                    p.map(|p| p.to_string()).unwrap_or_default()
                );
                accs.push(run(&cfg, label)?.test_accuracy);
            }
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            rows.push(SweepRow { model, method, nm: p, seeds: SWEEP_SEEDS.to_vec(), test_accuracy: accs, mean });
        }
    }
    Ok(rows)
}
