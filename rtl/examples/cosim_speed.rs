//! Simulated cycles per second of the Verilated RTL versus the Rust
//! simulator's `cycle` and `fast` modes on the same program (BENCHMARKS.md).
//!
//! ```sh
//! nmsat compile digits-cnn --arch tiny -o /tmp/cnn.sat
//! cargo run --release -p nmsat-rtl --example cosim_speed -- /tmp/cnn.sat
//! ```

use std::path::Path;
use std::time::Instant;

use nmsat_dataflow::program::Program;
use nmsat_rtl::cosim::{RunOptions, model_for, run};
use nmsat_sim::{SimMode, SimOptions, simulate};

fn best_of<F: FnMut() -> u64>(n: usize, mut f: F) -> (u64, f64) {
    let mut best = f64::INFINITY;
    let mut cycles = 0;
    for _ in 0..n {
        let t = Instant::now();
        cycles = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (cycles, best)
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: cosim_speed PROGRAM.sat");
    let p = Program::load(Path::new(&path)).expect("a program written by `nmsat compile -o`");
    let arch = p.arch.clone();
    let model = model_for(&arch, None).expect("Verilator build");
    let (cycles, fast) =
        best_of(5, || simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap().stats.total_cycles);
    let (_, cycle) =
        best_of(5, || simulate(&p, &arch, SimMode::Cycle, SimOptions::default()).unwrap().stats.total_cycles);
    let mut rtl_loop = f64::INFINITY;
    let (_, rtl_process) = best_of(5, || {
        let r = run(&model, &p, &RunOptions::default(), 4 * cycles + 10_000).unwrap();
        rtl_loop = rtl_loop.min(r.seconds);
        r.total_cycles
    });
    println!("program {path}: {} instructions, {cycles} cycles on `{}`", p.instrs.len(), arch.name);
    println!("| simulator | wall time (best of 5) | simulated cycles/s |");
    println!("|---|---|---|");
    for (name, s) in [
        ("Rust `fast`", fast),
        ("Rust `cycle`", cycle),
        ("Verilator RTL, simulation loop", rtl_loop),
        ("Verilator RTL, whole testbench process (load + run + write)", rtl_process),
    ] {
        println!("| {name} | {:.3} ms | {:.3} M |", s * 1e3, cycles as f64 / s / 1e6);
    }
}
