//! Co-simulation through the pipeline: which programs run (a program file,
//! a model's step with its memory image, random programs), whether their
//! DRAM can be compared, and the run on the Verilated RTL against the Rust
//! cycle-mode simulator.

use std::path::{Path, PathBuf};

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::isa::Instr;
use nmsat_dataflow::program::Program;
use nmsat_reports::cosim::{InstrMix, ProgramResult};
use nmsat_rtl::cosim::{CosimReport, DramCheck, Model as RtlModel, RunOptions, cosim_program, model_for};
use nmsat_sim::testgen::random_program;

use crate::error::FlowError;
use crate::step::{Schedule, StepRequest};

/// A program to co-simulate.
#[derive(Debug, Clone)]
pub struct CosimJob {
    /// What it is, for the report.
    pub name: String,
    /// The program.
    pub program: Program,
    /// Why its final DRAM cannot be compared, if it cannot.
    pub timing_only: Option<String>,
}

/// The image policy of co-simulation: why the DRAM of `p` on `arch` cannot
/// be compared, if it cannot (no memory image). Both im2col gathers,
/// `"dram"` and the line buffer (ADR 003), move their data in the RTL.
pub fn timing_only_reason(_arch: &ArchConfig, p: &Program) -> Option<String> {
    if p.image.is_empty() {
        return Some("the program has no memory image".to_string());
    }
    None
}

/// A model's training step with its memory image, and notes for the user
/// (a synthetic image; timing only).
pub fn model_job(req: &StepRequest, name: String) -> Result<(CosimJob, Vec<String>), FlowError> {
    let step = req.compile_with_image(Schedule::CostModel)?;
    let mut notes: Vec<String> = step.image.note().into_iter().collect();
    let timing_only = timing_only_reason(&req.arch, &step.program);
    if let Some(why) = &timing_only {
        notes.push(format!("{name} is co-simulated on timing only ({why})"));
    }
    Ok((CosimJob { name, program: step.program, timing_only }, notes))
}

/// A program file's job (its DRAM is compared when it carries an image).
pub fn program_job(name: String, program: Program) -> CosimJob {
    let timing_only = program.image.is_empty().then(|| "the program file has no memory image".to_string());
    CosimJob { name, program, timing_only }
}

/// `count` seeded random programs of `length` instructions, seeds from `seed` on.
pub fn random_jobs(arch: &ArchConfig, seed: u64, count: u64, length: usize) -> Vec<CosimJob> {
    (0..count)
        .map(|i| {
            let s = seed + i;
            CosimJob { name: format!("random seed {s}"), program: random_program(arch, s, length), timing_only: None }
        })
        .collect()
}

/// The Verilated model of `arch` (built, or taken from the cache) and
/// whether it was built now.
pub fn rtl_model(arch: &ArchConfig) -> Result<RtlModel, FlowError> {
    Ok(model_for(arch, None)?)
}

/// The results of a co-simulation run, in order; the run stops at the first
/// mismatch, whose report comes last.
#[derive(Debug)]
pub struct CosimRun {
    /// One result per program run.
    pub results: Vec<ProgramResult>,
    /// The failing program's report, if one failed.
    pub failed: Option<(String, CosimReport)>,
    /// RTL cycles simulated and Verilator's seconds, summed.
    pub rtl_cycles: u64,
    /// Verilator's seconds, summed.
    pub rtl_seconds: f64,
}

impl CosimRun {
    /// Verilator's speed over the run.
    pub fn cycles_per_second(&self) -> f64 {
        if self.rtl_seconds > 0.0 { self.rtl_cycles as f64 / self.rtl_seconds } else { 0.0 }
    }

    /// The failure as an error naming the program, the config, the problems and the VCD.
    pub fn failure(&self, arch: &str) -> Option<FlowError> {
        let (name, r) = self.failed.as_ref()?;
        let mut msg = format!("{name} on `{arch}` does not co-simulate:\n  {}", r.comparison.problems().join("\n  "));
        if let Some(v) = &r.vcd {
            msg.push_str(&format!("\n  VCD of the RTL run: {}", v.display()));
        }
        Some(FlowError::CheckFailed(msg))
    }
}

/// The GEMMs by mapping and the gathers of `p`.
fn mix(p: &Program) -> InstrMix {
    let mut m = InstrMix::default();
    for i in &p.instrs {
        match i {
            Instr::Gemm { ws: true, .. } => m.gemm_ws += 1,
            Instr::Gemm { .. } => m.gemm_os += 1,
            Instr::Load2col { .. } => m.load2col += 1,
            _ => {}
        }
    }
    m
}

/// Runs `jobs` on `model` and the Rust cycle-mode simulator. `vcd` is the
/// VCD of a single job's RTL run; a mismatch writes its VCD to `fail_vcd`.
/// `done` is told how many jobs have finished after each one.
pub fn run_jobs(
    model: &RtlModel,
    arch: &ArchConfig,
    jobs: &[CosimJob],
    (vcd, fail_vcd): (Option<&Path>, &Path),
    done: &mut dyn FnMut(usize),
) -> Result<CosimRun, FlowError> {
    let single = jobs.len() == 1;
    let mut run = CosimRun { results: Vec::new(), failed: None, rtl_cycles: 0, rtl_seconds: 0.0 };
    for job in jobs {
        let opts = RunOptions { vcd: if single { vcd.map(PathBuf::from) } else { None }, ..RunOptions::default() };
        let mut r = cosim_program(model, arch, &job.program, &opts, Some(fail_vcd))?;
        if let (Some(why), DramCheck::Skipped(_)) = (&job.timing_only, &r.comparison.dram) {
            r.comparison.dram = DramCheck::Skipped(why.clone());
        }
        let c = &r.comparison;
        run.rtl_cycles += r.rtl.sim_cycles;
        run.rtl_seconds += r.rtl.seconds;
        run.results.push(ProgramResult {
            name: job.name.clone(),
            instructions: c.instructions,
            rtl_cycles: c.rtl_total,
            rust_cycles: c.rust_total,
            passed: c.passed(),
            problems: c.problems(),
            dram: c.dram.summary(),
            dram_compared: !matches!(c.dram, DramCheck::Skipped(_)),
            rtl_cycles_per_second: if r.rtl.seconds > 0.0 { r.rtl.sim_cycles as f64 / r.rtl.seconds } else { 0.0 },
            vcd: r.vcd.clone(),
            mix: mix(&job.program),
        });
        done(run.results.len());
        if !c.passed() {
            run.failed = Some((job.name.clone(), r));
            break;
        }
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use nmsat_dataflow::Method;
    use nmsat_dataflow::schedule::DataflowOptions;

    use nmsat_dataflow::arch::Im2col;
    use nmsat_dataflow::isa::Instr;

    use super::*;

    fn cnn_on(arch: &str) -> StepRequest {
        StepRequest {
            model: nmsat_compiler::load_model("digits-cnn").unwrap(),
            method: Method::Bdwp,
            nm: "2:8".parse().unwrap(),
            batch: 2,
            dataflow: DataflowOptions::default(),
            arch: ArchConfig::preset(arch).unwrap(),
        }
    }

    #[test]
    fn line_buffer_and_dram_gathers_both_compare_data() {
        let mut dram = cnn_on("tiny");
        dram.arch.dram.im2col = Im2col::Dram;
        dram.arch.dram.line_buffer_bytes = 0;
        assert!(dram.arch.validate().is_empty());
        for req in [cnn_on("sat-vu9p"), cnn_on("tiny"), cnn_on("sat-mid"), dram] {
            let (job, notes) = model_job(&req, "cnn".into()).unwrap();
            assert!(job.program.instrs.iter().any(|i| matches!(i, Instr::Load2col { .. })), "{}", req.arch.name);
            assert_eq!(job.timing_only, None, "{}", req.arch.name);
            assert!(notes.is_empty(), "{notes:?}");
        }
    }

    #[test]
    fn program_files_without_an_image_are_timing_only_and_random_jobs_are_seeded() {
        let arch = ArchConfig::preset("tiny").unwrap();
        let jobs = random_jobs(&arch, 7, 2, 10);
        assert_eq!(jobs[1].name, "random seed 8");
        assert_eq!(jobs[0].program.instrs, random_jobs(&arch, 7, 1, 10)[0].program.instrs);
        let mut p = jobs[0].program.clone();
        p.image.clear();
        assert!(program_job("p".into(), p).timing_only.is_some());
    }
}
