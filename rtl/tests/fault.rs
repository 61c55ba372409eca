//! A deliberately broken RTL is caught: co-simulation names the first
//! differing instruction and cycle (or, for a data fault, the first
//! differing DRAM byte and its region) and writes a VCD of the failing run.

use nmsat_dataflow::ArchConfig;
use nmsat_rtl::Fault;
use nmsat_rtl::cosim::{DramCheck, RunOptions, cosim_program, model_for};
use nmsat_sim::testgen::random_program;

fn caught(fault: Fault) {
    let arch = ArchConfig::preset("tiny").unwrap();
    let model = model_for(&arch, Some(fault)).expect("Verilator build");
    let vcd = std::env::temp_dir().join(format!("nmsat-fault-{}-{}.vcd", fault.name(), std::process::id()));
    for seed in 0..20 {
        let p = random_program(&arch, seed, 60);
        let r = cosim_program(&model, &arch, &p, &RunOptions::default(), Some(&vcd)).unwrap();
        if r.comparison.passed() {
            continue;
        }
        let m = r.comparison.first.clone().expect("a per-instruction mismatch is named");
        assert!(m.index < p.instrs.len());
        assert_eq!(m.text, p.instrs[m.index].to_text());
        let problems = r.comparison.problems().join("\n");
        assert!(problems.contains(&format!("instruction {}", m.index)), "{problems}");
        assert!(problems.contains(&format!("first difference at cycle {}", m.cycle())), "{problems}");
        let written = std::fs::metadata(&vcd).expect("a VCD is written on a mismatch").len();
        assert!(written > 1000, "VCD of {written} bytes");
        let _ = std::fs::remove_file(&vcd);
        return;
    }
    panic!("fault {} went unnoticed in 20 random programs", fault.name());
}

#[test]
fn dma_grant_fault_is_caught() {
    caught(Fault::DmaGrantIgnoresBusyChannel);
}

#[test]
fn mode_switch_fault_is_caught() {
    caught(Fault::ModeSwitchNeverDrains);
}

/// Stores that requantize without rounding move the wrong bytes with the
/// right timing: only the DRAM image comparison catches them, naming the
/// first differing byte and the region that holds it.
#[test]
fn dma_data_fault_is_caught() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let model = model_for(&arch, Some(Fault::DmaStoreTruncates)).expect("Verilator build");
    for seed in 0..20 {
        let p = random_program(&arch, seed, 60);
        let r = cosim_program(&model, &arch, &p, &RunOptions::default(), None).unwrap();
        let c = &r.comparison;
        if c.passed() {
            continue;
        }
        assert!(c.first.is_none() && c.rtl_total == c.rust_total, "timing is unaffected: {:?}", c.problems());
        let DramCheck::Differs { addr, region: Some((name, off)), .. } = &c.dram else {
            panic!("a DRAM difference with its region: {:?}", c.dram)
        };
        assert_eq!(name, "scratch");
        assert_eq!(off, addr);
        let problems = c.problems().join("\n");
        assert!(
            problems.contains(&format!("DRAM differs first at byte {addr:#x} (region `scratch` + {off:#x})")),
            "{problems}"
        );
        return;
    }
    panic!("the truncating store went unnoticed in 20 random programs");
}
