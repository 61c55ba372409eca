//! Issue 5 acceptance 6: lowering ResNet-50 (ImageNet) at batch 256 must take
//! well under 50 ms. Measures loading the built-in model, building the BDWP
//! training graph and collecting its GEMMs, separately and together.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use nmsat_compiler::{LowerOptions, Method, TrainingGraph, find_builtin, lower};

fn bench(c: &mut Criterion) {
    let b = find_builtin("resnet50-imagenet").expect("resnet50-imagenet is built in");
    let opts = LowerOptions::new(Method::Bdwp, "2:8".parse().expect("valid pattern"), 256);
    let model = b.load().expect("built-in loads");
    c.bench_function("load resnet50-imagenet", |bch| bch.iter(|| black_box(b.load().expect("loads"))));
    c.bench_function("lower resnet50-imagenet bdwp 2:8 batch 256", |bch| {
        bch.iter(|| black_box(lower(black_box(&model), &opts).expect("lowers")))
    });
    c.bench_function("load + graph + gemms resnet50-imagenet batch 256", |bch| {
        bch.iter(|| {
            let m = b.load().expect("loads");
            let g = TrainingGraph::build(&m, &opts).expect("builds");
            black_box(g.gemms())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
