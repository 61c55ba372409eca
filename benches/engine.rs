//! Issue 7: simulator speed. Simulates whole training steps compiled by the
//! real pipeline (model → `step_workload` → `compile_step` → `simulate`) and
//! reports simulated cycles per wall second (criterion throughput in
//! "elements" = simulated cycles):
//!
//! - ResNet-18 CIFAR-10, BDWP 2:8, batch 32, in `fast` and in `cycle` mode;
//! - ResNet-50 ImageNet, BDWP 2:8, batch 64, in `fast` mode (budget: well under 2 s).
//!
//! All on the default config (`sat-vu9p`). Programs are compiled once,
//! outside the timed loop; `simulate` includes its static program check.
//! Compile time is measured by the `schedule` bench.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use nmsat_compiler::{LowerOptions, Method, load_model, step_workload};
use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, compile_step};
use nmsat_sim::{SimMode, SimOptions, simulate};

/// The BDWP 2:8 training step of built-in `model` at `batch`, compiled for `arch`.
fn program(arch: &ArchConfig, model: &str, batch: u64) -> Program {
    let m = load_model(model).expect("built-in model loads");
    let opts = LowerOptions::new(Method::Bdwp, "2:8".parse().expect("valid pattern"), batch);
    let step = step_workload(&m, &opts).expect("step lowers");
    compile_step(arch, &step, &DataflowOptions::default()).expect("step compiles")
}

/// Simulated cycles of `p` (the throughput unit of a run).
fn cycles(p: &Program, arch: &ArchConfig) -> u64 {
    simulate(p, arch, SimMode::Fast, SimOptions::default()).expect("simulates").stats.total_cycles
}

fn bench(c: &mut Criterion) {
    let arch = ArchConfig::default_preset();

    let r18 = program(&arch, "resnet18-cifar10", 32);
    let r18_cycles = cycles(&r18, &arch);
    let mut g = c.benchmark_group("sim resnet18-cifar10 bdwp 2:8 batch 32");
    g.throughput(Throughput::Elements(r18_cycles));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for mode in [SimMode::Fast, SimMode::Cycle] {
        g.bench_function(mode.name(), |b| {
            b.iter(|| black_box(simulate(black_box(&r18), &arch, mode, SimOptions::default()).expect("simulates")))
        });
    }
    g.finish();

    let r50 = program(&arch, "resnet50-imagenet", 64);
    let r50_cycles = cycles(&r50, &arch);
    let mut g = c.benchmark_group("sim resnet50-imagenet bdwp 2:8 batch 64");
    g.throughput(Throughput::Elements(r50_cycles));
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("fast", |b| {
        b.iter(|| black_box(simulate(black_box(&r50), &arch, SimMode::Fast, SimOptions::default()).expect("simulates")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
