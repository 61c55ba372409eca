//! Co-simulation results (`nmsat cosim`): one line per program and a total.

use std::path::PathBuf;

use serde::Serialize;

/// One program's co-simulation result.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramResult {
    /// What ran (a file, a model step, `random seed N`).
    pub name: String,
    /// Instructions compared.
    pub instructions: usize,
    /// Total cycles of the RTL.
    pub rtl_cycles: u64,
    /// Total cycles of the Rust cycle-mode simulator.
    pub rust_cycles: u64,
    /// Every issue and retirement cycle, the totals and the DRAM image (where compared) match.
    pub passed: bool,
    /// What did not match.
    pub problems: Vec<String>,
    /// The DRAM comparison in words.
    pub dram: String,
    /// Whether the final DRAM images were compared.
    pub dram_compared: bool,
    /// Verilator's speed on this program.
    pub rtl_cycles_per_second: f64,
    /// The VCD written, if any.
    pub vcd: Option<PathBuf>,
}

/// The per-program lines and, when all passed, the summary line.
pub fn text(arch: &str, results: &[ProgramResult], verilator_cycles_per_second: f64) -> String {
    let mut s = String::new();
    for r in results {
        s.push_str(&format!(
            "{}: {} instructions, {} cycles (RTL) / {} (Rust cycle mode): {}; DRAM {}\n",
            r.name,
            r.instructions,
            r.rtl_cycles,
            r.rust_cycles,
            if r.passed { "match" } else { "MISMATCH" },
            r.dram
        ));
    }
    if results.iter().all(|r| r.passed) {
        let compared = results.iter().filter(|r| r.dram_compared).count();
        let dram = match compared {
            0 => "no DRAM image compared (timing only)".to_string(),
            n if n == results.len() => "every final DRAM image is bit-exact".to_string(),
            n => format!("the final DRAM images of {n} of {} program(s) are bit-exact", results.len()),
        };
        s.push_str(&format!(
            "cosim `{arch}`: {} program(s), {} instructions: every issue and retirement cycle and every total matches; {dram}; Verilator {:.2} M cycles/s\n",
            results.len(),
            results.iter().map(|r| r.instructions).sum::<usize>(),
            verilator_cycles_per_second / 1e6
        ));
    }
    s
}
