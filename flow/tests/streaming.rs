//! Compile → simulate as a stream: the same statistics as the whole
//! program, with the scheduler and the simulator holding a small window.

use nmsat_dataflow::isa::Instr;
use nmsat_dataflow::program::{Program, Tag};
use nmsat_dataflow::schedule::{
    DataflowOptions, MAX_REDUCTION_STEPS, ProgramSink, StepWorkload, TileInterleave, compile_step_stream,
    compile_step_with,
};
use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_flow::stream::simulate_streamed;
use nmsat_sim::{SimMode, SimOptions, simulate};

fn workload(model: &str, method: Method, batch: u64) -> StepWorkload {
    let m = nmsat_compiler::load_model(model).unwrap();
    let opts = nmsat_compiler::LowerOptions::new(method, NmPattern::new(2, 8).unwrap(), batch);
    nmsat_compiler::step_workload(&m, &opts).unwrap()
}

/// Collects what a stream delivers.
#[derive(Default)]
struct Collect {
    header: Option<Program>,
    instrs: Vec<(Instr, Tag)>,
}

impl ProgramSink for Collect {
    fn header(&mut self, header: &Program) {
        assert!(self.header.is_none() && self.instrs.is_empty(), "the header comes once, first");
        self.header = Some(header.clone());
    }
    fn instr(&mut self, instr: Instr, tag: Tag) {
        assert!(self.header.is_some(), "an instruction before the header");
        self.instrs.push((instr, tag));
    }
}

#[test]
fn a_streamed_program_is_the_whole_program() {
    let arch = ArchConfig::preset("sat-mid").unwrap();
    for method in [Method::Dense, Method::Bdwp] {
        let w = workload("resnet20-cifar10", method, 4);
        for tiles in [TileInterleave::Auto, TileInterleave::Off] {
            let whole = compile_step_with(&arch, &w, &DataflowOptions::default(), tiles).unwrap();
            let mut c = Collect::default();
            compile_step_stream(&arch, &w, &DataflowOptions::default(), tiles, &mut c, MAX_REDUCTION_STEPS).unwrap();
            let header = c.header.unwrap();
            assert_eq!(header.regions, whole.regions, "the memory map is complete before the first instruction");
            assert_eq!(header.dram_bytes, whole.dram_bytes);
            assert_eq!(header.layers, whole.layers);
            let (instrs, tags): (Vec<Instr>, Vec<Tag>) = c.instrs.into_iter().unzip();
            assert!(instrs == whole.instrs && tags == whole.tags, "{method} {tiles:?}");
        }
    }
}

#[test]
fn streamed_statistics_equal_the_whole_programs_and_the_windows_stay_small() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let opts = DataflowOptions::default();
    for method in [Method::Srste, Method::Bdwp] {
        let w = workload("resnet20-cifar10", method, 4);
        let whole = compile_step_with(&arch, &w, &opts, TileInterleave::Auto).unwrap();
        let expected = simulate(&whole, &arch, SimMode::Fast, SimOptions::default()).unwrap();
        let s = simulate_streamed(&arch, &w, &opts, TileInterleave::Auto, SimMode::Fast, MAX_REDUCTION_STEPS).unwrap();
        assert_eq!(s.run.stats, expected.stats, "{method}");
        let n = whole.instrs.len();
        assert!(n > 100_000, "{n} instructions: too few to show a bound");
        eprintln!("{method}: {n} instructions, scheduler {}, simulator {}", s.scheduler_peak, s.run.window_peak);
        // Measured at batch 4: 143,051 / 164,087 instructions; the scheduler held 5,121 / 4,292, the simulator 391 / 387.
        assert!(s.scheduler_peak < n / 20, "scheduler held {} of {n}", s.scheduler_peak);
        assert!(s.run.window_peak < n / 20, "simulator held {} of {n}", s.run.window_peak);
    }
}

#[test]
fn a_step_over_the_bound_is_refused_before_compiling() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let w = workload("resnet20-cifar10", Method::Dense, 1);
    let err = simulate_streamed(&arch, &w, &DataflowOptions::default(), TileInterleave::Auto, SimMode::Fast, 1000)
        .unwrap_err()
        .to_string();
    assert!(err.contains("GEMM reduction steps") && err.contains("1000"), "{err}");
}

#[test]
fn a_loss_row_wider_than_a_slot_is_refused_before_compiling() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("streaming-wide-loss");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wide_head.nm");
    std::fs::write(&path, "model wide_head {\n  input 64\n  linear head out=50000\n}\n").unwrap();
    let m = nmsat_compiler::load_model(path.to_str().unwrap()).unwrap();
    let opts = nmsat_compiler::LowerOptions::new(Method::Dense, NmPattern::new(2, 8).unwrap(), 2);
    let w = nmsat_compiler::step_workload(&m, &opts).unwrap();
    let arch = ArchConfig::preset("tiny").unwrap();
    let err = nmsat_dataflow::schedule::step_size(&arch, &w, &DataflowOptions::default()).unwrap_err().to_string();
    assert!(err.contains("50000 logits") && err.contains("activation slot"), "{err}");
    let err = simulate_streamed(
        &arch,
        &w,
        &DataflowOptions::default(),
        TileInterleave::Auto,
        SimMode::Fast,
        MAX_REDUCTION_STEPS,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("50000 logits"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
