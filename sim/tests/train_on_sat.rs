//! Training on the simulated SAT is bit-identical to the int16 reference.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_sim::SimMode;
use nmsat_sim::reference::backend::Hyper;
use nmsat_sim::reference::{CpuInt16, Dataset, Method, ModelKind, NumericsKind, TrainConfig, Trainer};
use nmsat_sim::sat_backend::SatBackend;

fn config(model: ModelKind, method: Method) -> TrainConfig {
    let mut cfg = TrainConfig::new(model, method);
    cfg.nm = NmPattern::new(2, 8).unwrap();
    cfg.numerics = NumericsKind::Int16;
    cfg
}

fn hyper(cfg: &TrainConfig, data: &Dataset) -> Hyper {
    Hyper {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        lambda_w: cfg.lambda_w,
        batch: cfg.batch.min(data.train.len()),
    }
}

fn same_after_steps(model: ModelKind, method: Method, arch: &str, steps: usize, mode: SimMode) {
    let data = Dataset::digits().unwrap();
    let cfg = config(model, method);
    let h = hyper(&cfg, &data);
    let mut cpu = Trainer::new(CpuInt16::new(cfg.formats, &h).unwrap(), &data, &cfg).unwrap();
    let sat_be = SatBackend::new(CpuInt16::new(cfg.formats, &h).unwrap(), ArchConfig::preset(arch).unwrap(), mode);
    let mut sat = Trainer::new(sat_be, &data, &cfg).unwrap();
    let b = cpu.batch();
    for s in 0..steps {
        let idx: Vec<usize> = (s * b..(s + 1) * b).collect();
        let lc = cpu.step(&idx).unwrap();
        let ls = sat.step(&idx).unwrap();
        assert_eq!(lc.to_bits(), ls.to_bits(), "loss differs at step {s}");
    }
    for (c, s) in cpu.net.weight_layers().zip(sat.net.weight_layers()) {
        assert_eq!(c.master, s.master, "{}: master weights differ", c.name);
        assert_eq!(c.velocity, s.velocity, "{}: momentum differs", c.name);
    }
    assert!(sat.backend.cycles.gemm > 0 && sat.backend.cycles.update > 0 && sat.backend.cycles.loss > 0);
}

#[test]
fn mlp_bdwp_2_8_on_tiny_is_bit_identical() {
    same_after_steps(ModelKind::Mlp, Method::Bdwp, "tiny", 3, SimMode::Cycle);
}

#[test]
fn mlp_dense_and_bdwp_on_the_default_config_are_bit_identical() {
    same_after_steps(ModelKind::Mlp, Method::Dense, "sat-vu9p", 4, SimMode::Fast);
    same_after_steps(ModelKind::Mlp, Method::Bdwp, "sat-vu9p", 4, SimMode::Fast);
}

#[test]
fn cnn_bdwp_2_8_is_bit_identical() {
    same_after_steps(ModelKind::Cnn, Method::Bdwp, "sat-mid", 2, SimMode::Fast);
}
