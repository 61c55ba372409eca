//! One training epoch of the functional reference on digits (1437 samples,
//! batch 32, BDWP 2:8): `mlp` and `cnn`, each in f32 and int16.
//! Run: `cargo bench -p nmsat-sim --bench train_epoch`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use nmsat_sim::reference::backend::{CpuF32, CpuInt16, Hyper};
use nmsat_sim::reference::{Dataset, Method, ModelKind, NumericsKind, TrainConfig, Trainer};

fn hyper(cfg: &TrainConfig) -> Hyper {
    Hyper {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        lambda_w: cfg.lambda_w,
        batch: cfg.batch,
    }
}

fn epochs(c: &mut Criterion) {
    let data = Dataset::digits().expect("digits");
    let mut g = c.benchmark_group("epoch");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for (name, model, numerics) in [
        ("mlp_bdwp_2_8_f32", ModelKind::Mlp, NumericsKind::F32),
        ("mlp_bdwp_2_8_int16", ModelKind::Mlp, NumericsKind::Int16),
        ("cnn_bdwp_2_8_f32", ModelKind::Cnn, NumericsKind::F32),
        ("cnn_bdwp_2_8_int16", ModelKind::Cnn, NumericsKind::Int16),
    ] {
        let cfg = TrainConfig { numerics, ..TrainConfig::new(model, Method::Bdwp) };
        g.bench_function(name, |b| match numerics {
            NumericsKind::F32 => {
                let mut t = Trainer::new(CpuF32 { hyper: hyper(&cfg) }, &data, &cfg).expect("builds");
                b.iter(|| t.epoch(0, &mut |_| {}).expect("trains"));
            }
            NumericsKind::Int16 => {
                let be = CpuInt16::new(cfg.formats, &hyper(&cfg)).expect("valid formats");
                let mut t = Trainer::new(be, &data, &cfg).expect("builds");
                b.iter(|| t.epoch(0, &mut |_| {}).expect("trains"));
            }
        });
    }
    g.finish();
}

criterion_group!(benches, epochs);
criterion_main!(benches);
