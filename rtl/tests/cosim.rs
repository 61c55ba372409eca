//! Co-simulation of random programs on `tiny`: every instruction's issue
//! and retirement cycle, the total and the final DRAM image (the programs
//! carry a random memory image) equal the Rust cycle-mode simulator with
//! data. Verilator is required: the test fails, not skips, without it.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::arch::Im2col;
use nmsat_rtl::cosim::{DramCheck, RunOptions, cosim_program, model_for};
use nmsat_sim::testgen::{Coverage, random_program};

#[test]
fn twenty_random_programs_on_tiny() {
    twenty_random_programs(&ArchConfig::preset("tiny").unwrap());
}

/// The same on `tiny` with the `"dram"` gather (ADR 002) instead of its
/// line buffer (ADR 003): both gathers are built and compared.
#[test]
fn twenty_random_programs_on_tiny_with_the_dram_gather() {
    let mut arch = ArchConfig::preset("tiny").unwrap();
    arch.name = "tiny-dram-gather".into();
    arch.dram.im2col = Im2col::Dram;
    arch.dram.line_buffer_bytes = 0;
    assert!(arch.validate().is_empty());
    twenty_random_programs(&arch);
}

fn twenty_random_programs(arch: &ArchConfig) {
    let arch = arch.clone();
    let model = model_for(&arch, None).expect("Verilator build (apt-get install -y verilator)");
    let mut cov = Coverage::default();
    let mut instructions = 0;
    for seed in 0..20 {
        let p = random_program(&arch, seed, 60);
        cov.add(&p);
        let r = cosim_program(&model, &arch, &p, &RunOptions::default(), None).unwrap();
        let c = &r.comparison;
        assert!(c.passed(), "seed {seed}: {:?}", c.problems());
        assert_eq!(c.dram, DramCheck::Equal, "seed {seed}: the DRAM image must be compared");
        assert!(c.rust_total > 0 && r.rtl.sim_cycles > c.rust_total);
        instructions += c.instructions;
    }
    assert_eq!(cov.missing(&arch), Vec::<String>::new(), "the 20 programs must cover every feature");
    assert_eq!(instructions, 20 * 61);
}
