//! Limits checked before a run allocates.

use nmsat_dataflow::ArchConfig;
use nmsat_sim::testgen::random_program;
use nmsat_sim::{SimError, SimMode, SimOptions, simulate};

#[test]
fn a_run_with_data_refuses_dram_it_cannot_hold_before_allocating() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let mut p = random_program(&arch, 1, 10);
    p.dram_bytes = 1 << 34;
    let e = simulate(&p, &arch, SimMode::Fast, SimOptions { data: true, ..SimOptions::default() }).unwrap_err();
    assert!(matches!(e, SimError::DramTooLarge { bytes, .. } if bytes == 1 << 34), "{e}");
    // Timing alone does not hold DRAM.
    assert!(simulate(&p, &arch, SimMode::Fast, SimOptions::default()).is_ok());
}
