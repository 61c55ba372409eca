//! Issue 6: compiling (lowering + scheduling) the ResNet-50 ImageNet BDWP 2:8
//! batch-64 training step to a SAT program for the default config (budget:
//! under 2 s). Measured end to end (load the built-in model, `step_workload`,
//! `compile_step`) and the scheduler alone.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use nmsat_compiler::{LowerOptions, Method, load_model, step_workload};
use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::schedule::{DataflowOptions, compile_step};

fn bench(c: &mut Criterion) {
    let arch = ArchConfig::default_preset();
    let opts = LowerOptions::new(Method::Bdwp, "2:8".parse().expect("valid pattern"), 64);
    let df = DataflowOptions::default();
    let mut g = c.benchmark_group("compile resnet50-imagenet bdwp 2:8 batch 64");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("load + step_workload + compile_step", |b| {
        b.iter(|| {
            let m = load_model("resnet50-imagenet").expect("loads");
            let step = step_workload(&m, &opts).expect("lowers");
            black_box(compile_step(&arch, &step, &df).expect("compiles"))
        })
    });
    let m = load_model("resnet50-imagenet").expect("loads");
    let step = step_workload(&m, &opts).expect("lowers");
    g.bench_function("compile_step", |b| {
        b.iter(|| black_box(compile_step(&arch, black_box(&step), &df).expect("compiles")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
