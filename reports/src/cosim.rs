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
    /// What kinds of instructions it compared.
    pub mix: InstrMix,
}

/// Counts of the instructions a co-simulation exercised that differ in
/// hardware path: GEMMs by array mapping and the im2col gathers.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct InstrMix {
    /// GEMMs, output-stationary.
    pub gemm_os: usize,
    /// GEMMs, weight-stationary.
    pub gemm_ws: usize,
    /// `load2col` gathers.
    pub load2col: usize,
}

impl InstrMix {
    fn add(&mut self, o: &InstrMix) {
        self.gemm_os += o.gemm_os;
        self.gemm_ws += o.gemm_ws;
        self.load2col += o.load2col;
    }
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
        let instructions = results.iter().map(|r| r.instructions).sum::<usize>();
        let mut mix = InstrMix::default();
        results.iter().for_each(|r| mix.add(&r.mix));
        let share = |n: usize| if instructions > 0 { 100.0 * n as f64 / instructions as f64 } else { 0.0 };
        s.push_str(&format!(
            "cosim `{arch}`: {} program(s), {instructions} instructions: every issue and retirement cycle and every total matches; {dram}; Verilator {:.2} M cycles/s\n",
            results.len(),
            verilator_cycles_per_second / 1e6
        ));
        s.push_str(&format!(
            "instruction mix: {} output-stationary GEMMs ({:.1} %), {} weight-stationary ({:.1} %), {} load2col ({:.1} %)\n",
            mix.gemm_os,
            share(mix.gemm_os),
            mix.gemm_ws,
            share(mix.gemm_ws),
            mix.load2col,
            share(mix.load2col)
        ));
    }
    s
}
