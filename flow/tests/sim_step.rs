//! Compiling whole training steps (model → compiler → scheduler) and simulating them.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::check::check_program;
use nmsat_dataflow::schedule::{DataflowOptions, StepWorkload, compile_step};
use nmsat_sim::{SimMode, SimOptions, simulate};

/// The training step of a built-in model, through the compiler.
fn workload(model: &str, method: &str, nm: Option<NmPattern>, batch: u64) -> StepWorkload {
    let m = nmsat_compiler::load_model(&model.replace('_', "-")).unwrap();
    let method: nmsat_dataflow::Method = method.parse().unwrap();
    let opts = nmsat_compiler::LowerOptions::new(method, nm.unwrap_or(NmPattern::new(2, 8).unwrap()), batch);
    nmsat_compiler::step_workload(&m, &opts).unwrap()
}

fn cycles(arch: &ArchConfig, w: &StepWorkload, opts: DataflowOptions) -> u64 {
    let p = compile_step(arch, w, &opts).unwrap();
    let errs = check_program(&p, arch);
    assert!(errs.is_empty(), "{:?}", &errs[..errs.len().min(3)]);
    let r = simulate(&p, arch, SimMode::Fast, SimOptions::default()).unwrap();
    assert_eq!(r.stats.passes.values().sum::<u64>(), r.stats.total_cycles);
    if std::env::var("NMSAT_DEBUG").is_ok() {
        let s = &r.stats;
        eprintln!(
            "{} {:?}: total {} passes {:?}\n  pe {:?}\n  dma {:?}\n  stalls {:?}\n  queues {:?}",
            w.method, opts, s.total_cycles, s.passes, s.pe_array, s.dma, s.stalls, s.queues
        );
    }
    r.stats.total_cycles
}

#[test]
fn digits_mlp_fast_equals_cycle_on_tiny() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let w = workload("digits_mlp", "bdwp", Some(NmPattern::new(2, 8).unwrap()), 8);
    let p = compile_step(&arch, &w, &DataflowOptions::default()).unwrap();
    let f = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
    let c = simulate(&p, &arch, SimMode::Cycle, SimOptions::default()).unwrap();
    assert_eq!(f.retire, c.retire);
    assert_eq!(f.stats.total_cycles, c.stats.total_cycles);
    assert!(p.instrs.iter().any(|i| matches!(i, nmsat_dataflow::isa::Instr::Sparsify { .. })));
}

#[test]
fn resnet18_bdwp_speedup_and_ablations() {
    let arch = ArchConfig::default_preset();
    let p28 = NmPattern::new(2, 8).unwrap();
    let p24 = NmPattern::new(2, 4).unwrap();
    let o = DataflowOptions::default();
    let dense = cycles(&arch, &workload("resnet18_cifar10", "dense", None, 32), o);
    let bdwp = cycles(&arch, &workload("resnet18_cifar10", "bdwp", Some(p28), 32), o);
    let srste = cycles(&arch, &workload("resnet18_cifar10", "srste", Some(p28), 32), o);
    let bdwp24 = cycles(&arch, &workload("resnet18_cifar10", "bdwp", Some(p24), 32), o);
    let sp = dense as f64 / bdwp as f64;
    eprintln!("dense {dense} bdwp {bdwp} ({sp:.3}x) srste {srste} bdwp2:4 {bdwp24}");
    assert!(bdwp < srste && srste < dense);
    assert!(bdwp < bdwp24 && bdwp24 < dense);
    let w = workload("resnet18_cifar10", "bdwp", Some(p28), 32);
    // Issue 6, acceptance 4: each dataflow optimization, switched off, slows
    // the step (BENCHMARKS.md, "Dataflow ablation").
    for off in [
        DataflowOptions { pregen: false, ..o },
        DataflowOptions { offline_schedule: false, ..o },
        DataflowOptions { interleave: false, ..o },
    ] {
        let c = cycles(&arch, &w, off);
        eprintln!("{off:?}: {c} ({:.4}x of full)", c as f64 / bdwp as f64);
        assert!(c > bdwp, "{off:?} does not slow the step");
    }
}

#[test]
#[ignore = "diagnostic: prints the tiles chosen for ResNet-18"]
fn print_tiles() {
    let arch = ArchConfig::default_preset();
    let method = std::env::var("NMSAT_METHOD").unwrap_or_else(|_| "bdwp".into());
    let w = workload("resnet18_cifar10", &method, Some(NmPattern::new(2, 8).unwrap()), 32);
    let opts =
        DataflowOptions { interleave: std::env::var("NMSAT_NOINTERLEAVE").is_err(), ..DataflowOptions::default() };
    let p = compile_step(&arch, &w, &opts).unwrap();
    let r = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in p.instrs.iter().zip(&p.tags) {
        if let nmsat_dataflow::isa::Instr::Gemm { m, n, k, mode, .. } = i {
            if seen.insert((t.layer, t.pass)) {
                eprintln!("{} {} {mode} tile {m}x{n}x{k}", p.layer_name(*t), t.pass);
            }
        }
    }
    for l in &r.stats.layers {
        eprintln!(
            "{} {} {}x{}x{} {} cycles {} util {:.2} dram {}",
            l.name, l.pass, l.m, l.n, l.k, l.mode, l.cycles, l.pe_utilization, l.dram_bytes
        );
    }
}

#[test]
#[ignore = "diagnostic: prints the first instructions of one layer's FF with their timing"]
fn print_timeline() {
    let arch = ArchConfig::default_preset();
    let w = workload("resnet18_cifar10", "dense", None, 32);
    let p = compile_step(&arch, &w, &DataflowOptions::default()).unwrap();
    let r = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
    let skip: usize = std::env::var("NMSAT_SKIP").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    for (i, (ins, rt)) in p.instrs.iter().zip(&r.retire).enumerate().skip(skip).take(40) {
        eprintln!("{i:>4} {:>8} {:>8} {} ; {} {}", rt.start, rt.done, ins, p.layer_name(p.tags[i]), p.tags[i].pass);
    }
    eprintln!("total {}", r.stats.total_cycles);
}

#[test]
fn compile_fastest_keeps_the_faster_of_the_two_schedules() {
    use nmsat_dataflow::schedule::{DataflowChoice, TileInterleave, compile_step_with};
    let arch = ArchConfig::default_preset();
    let o = DataflowOptions::default();
    let run = |p: &nmsat_dataflow::program::Program| {
        simulate(p, &arch, SimMode::Fast, SimOptions::default()).unwrap().stats.total_cycles
    };
    // ResNet-20 (no strided-layer imbalance worth two banks) and the digits CNN.
    for (model, batch) in [("resnet20_cifar10", 8), ("digits_cnn", 32)] {
        let w = workload(model, "bdwp", None, batch);
        // Under the default `--dataflow auto` the all-OS and all-WS programs are candidates too.
        let mut all = Vec::new();
        for dataflow in [DataflowChoice::Auto, DataflowChoice::Os, DataflowChoice::Ws] {
            let o = DataflowOptions { dataflow, ..o };
            let tiles = run(&compile_step_with(&arch, &w, &o, TileInterleave::Auto).unwrap());
            let seq = run(&compile_step_with(&arch, &w, &o, TileInterleave::Off).unwrap());
            all.push((dataflow, tiles, seq));
        }
        let best = run(&nmsat_flow::compile_fastest(&arch, &w, &o).unwrap());
        eprintln!("{model}: (mapping, interleaved tiles, in sequence) {all:?}, chosen {best}");
        assert_eq!(best, all.iter().map(|&(_, t, s)| t.min(s)).min().unwrap());
    }
}

#[test]
fn per_layer_stalls_and_events_sum_to_the_run() {
    // The reports read per-layer, per-pass events (energy) and stalls
    // (bottlenecks): every count must land in exactly one row.
    let sat = ArchConfig::default_preset();
    let tiny = ArchConfig::preset("tiny").unwrap();
    let full = DataflowOptions::default();
    let naive = DataflowOptions { pregen: false, offline_schedule: false, interleave: false, ..Default::default() };
    for (arch, model, method, batch, opts) in [
        (&sat, "resnet9_cifar10", "bdwp", 8, full),
        (&sat, "digits_cnn", "srste", 32, naive),
        (&tiny, "digits_mlp", "dense", 8, full),
    ] {
        let w = workload(model, method, None, batch);
        let p = compile_step(arch, &w, &opts).unwrap();
        let s = simulate(&p, arch, SimMode::Fast, SimOptions::default()).unwrap().stats;
        let what = format!("{model} {method} on {}", arch.name);
        for c in nmsat_sim::StallCause::ALL {
            let rows: u64 = s.layers.iter().map(|l| l.stalls[&c]).sum();
            assert_eq!(rows, s.stalls[&c], "{what}: {c:?}");
        }
        let sum = |f: &dyn Fn(&nmsat_sim::UnitEvents) -> u64| s.layers.iter().map(|l| f(&l.events)).sum::<u64>();
        assert_eq!(sum(&|e| e.pe_array.gemms), s.pe_array.gemms, "{what}");
        assert_eq!(sum(&|e| e.pe_array.macs_sparse_mode + e.pe_array.macs_dense_mode), s.macs_executed, "{what}");
        assert_eq!(sum(&|e| e.pe_array.mux_selects), s.pe_array.mux_selects, "{what}");
        assert_eq!(sum(&|e| e.pe_array.stream_cycles), s.pe_array.stream_cycles, "{what}");
        assert_eq!(sum(&|e| e.dma.dram_read_bytes + e.dma.dram_write_bytes), s.dram_bytes, "{what}");
        assert_eq!(sum(&|e| e.dma.channel_busy_cycles), s.dma.channel_busy_cycles, "{what}");
        assert_eq!(sum(&|e| e.dma.channel_wait_cycles), s.dma.channel_wait_cycles, "{what}");
        assert_eq!(sum(&|e| e.vector_unit.busy_cycles), s.vector_unit.busy_cycles, "{what}");
        assert_eq!(sum(&|e| e.sparsifier.groups), s.sparsifier.groups, "{what}");
        for (name, b) in &s.buffers {
            let get = |e: &nmsat_sim::UnitEvents| e.buffers.get(name).map_or(0, |x| x.reads + x.writes);
            assert_eq!(sum(&get), b.reads + b.writes, "{what}: {name}");
        }
        for l in &s.layers {
            assert_eq!(l.events.pe_array.macs_dense_mode + l.events.pe_array.macs_sparse_mode, l.macs_executed);
            assert_eq!(l.events.dma.dram_read_bytes + l.events.dma.dram_write_bytes, l.dram_bytes);
        }
        assert!(s.stalls.values().sum::<u64>() > 0, "{what}: some stalls to attribute");
    }
}

#[test]
fn a_synthetic_image_trains_any_model_on_the_datapath() {
    // Models without an int16 reference get seeded random state; the step
    // must read it (every master weight region changes, momentum too) and
    // the image must be reproducible from its seed.
    for (model, method) in [("resnet20_cifar10", "bdwp"), ("digits_cnn", "srste")] {
        let arch = ArchConfig::preset("tiny").unwrap();
        let w = workload(model, method, None, 2);
        let mut p = compile_step(&arch, &w, &DataflowOptions::default()).unwrap();
        p.image = nmsat_sim::step_image::synthetic_image(&p, 7).unwrap();
        assert_eq!(p.image, nmsat_sim::step_image::synthetic_image(&p, 7).unwrap());
        assert_ne!(p.image, nmsat_sim::step_image::synthetic_image(&p, 8).unwrap());
        let before = nmsat_sim::datapath::Machine::new(&p, &arch).dram;
        let r = simulate(&p, &arch, SimMode::Fast, SimOptions { data: true, ..SimOptions::default() }).unwrap();
        let after = r.machine.unwrap().dram;
        let masters: Vec<_> = p.regions.iter().filter(|r| r.name.ends_with(".master")).collect();
        assert!(!masters.is_empty());
        for reg in masters {
            let span = reg.addr as usize..(reg.addr + reg.bytes) as usize;
            assert!(before[span.clone()].iter().any(|&b| b != 0), "{model}: {} initialised", reg.name);
            assert_ne!(before[span.clone()], after[span], "{model}: {} updated", reg.name);
        }
    }
}
