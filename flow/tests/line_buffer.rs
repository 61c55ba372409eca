//! ADR 003: the im2col line buffer bounds the scheduler's conv tiles. Every
//! `load2col` a step compiles to fetches a raw window that fits
//! `dram.line_buffer_bytes` (the checker agrees), a smaller line buffer
//! means smaller tiles and a longer step, and one too small for any tile is
//! refused with the line buffer named.

use nmsat_compiler::load_model;
use nmsat_dataflow::check::check_program;
use nmsat_dataflow::isa::Instr;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_dataflow::{ArchConfig, Method};
use nmsat_flow::{Schedule, StepRequest};
use nmsat_sim::{SimMode, SimOptions, simulate};

fn resnet18_with(line_buffer_bytes: u64) -> StepRequest {
    let mut arch = ArchConfig::preset("sat-vu9p").unwrap();
    arch.dram.line_buffer_bytes = line_buffer_bytes;
    StepRequest {
        model: load_model("resnet18-cifar10").unwrap(),
        method: Method::Bdwp,
        nm: "2:8".parse().unwrap(),
        batch: 2,
        dataflow: DataflowOptions::default(),
        arch,
    }
}

#[test]
fn every_gathered_window_fits_the_line_buffer_and_a_smaller_one_costs_cycles() {
    let mut cycles = Vec::new();
    for bytes in [262_144, 16_384] {
        let req = resnet18_with(bytes);
        let p = req.compile(Schedule::CostModel).unwrap();
        let problems = check_program(&p, &req.arch);
        assert!(problems.is_empty(), "{bytes} B: {problems:?}");
        let mut gathers = 0;
        for i in &p.instrs {
            if let Instr::Load2col { rows, cols, p0, k0, geom, .. } = *i {
                let w = geom.line_window(u64::from(p0), u64::from(rows), u64::from(k0), u64::from(cols));
                assert!(2 * w.elems() <= bytes, "{bytes} B: {i:?} fetches {w:?}");
                gathers += 1;
            }
        }
        assert!(gathers > 100, "{gathers}");
        cycles.push(simulate(&p, &req.arch, SimMode::Fast, SimOptions::default()).unwrap().stats.total_cycles);
    }
    assert!(cycles[1] > cycles[0], "{cycles:?}");
}

#[test]
fn a_line_buffer_too_small_for_any_tile_is_named() {
    // One input row of conv1's 32x32x64 output is 4 KiB: a 3x3 tile's window needs more than 2 KiB.
    let e = resnet18_with(2048).compile(Schedule::CostModel).unwrap_err().to_string();
    assert!(e.contains("line buffer 2048 bytes"), "{e}");
}
