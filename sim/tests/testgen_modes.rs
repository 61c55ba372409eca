//! The seeded random programs of `testgen` run identically in `fast` and
//! `cycle` mode on every preset (the RTL co-simulation compares against
//! `cycle` mode, the reports use `fast`).

use nmsat_dataflow::ArchConfig;
use nmsat_sim::testgen::{Coverage, Features, random_program_with};
use nmsat_sim::{SimMode, SimOptions, simulate};

#[test]
fn fast_equals_cycle_on_random_programs() {
    for name in ["tiny", "sat-mid", "sat-vu9p"] {
        let arch = ArchConfig::preset(name).unwrap();
        let mut cov = Coverage::default();
        for seed in 0..25 {
            let p = random_program_with(&arch, seed, 80, Features::ALL);
            cov.add(&p);
            let f = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
            let c = simulate(&p, &arch, SimMode::Cycle, SimOptions::default()).unwrap();
            assert_eq!(f.retire, c.retire, "{name} seed {seed}");
            assert_eq!(f.stats.total_cycles, c.stats.total_cycles, "{name} seed {seed}");
            assert!(c.stats.total_cycles > 0);
        }
        for f in ["sgd sr-ste", "sparsify master", "sparsify mask"] {
            assert!(cov.features.contains(f), "{name}: no {f}");
        }
    }
}
