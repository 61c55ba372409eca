//! The Verilog emitter: one generator per unit, and [`emit`], which
//! returns the whole design for a config.

pub mod controller;
pub mod datapath;
pub mod decode;
pub mod dma;
pub mod top;
pub mod util;
pub mod vector;

use std::fmt::Write as _;
use std::path::Path;

use nmsat_dataflow::ArchConfig;

use crate::error::RtlError;
use crate::params::{DEFAULT_IMEM_BITS, MAX_IMEM_BITS, Params};
use crate::vast::Module;

/// A deliberate bug, for tests that show co-simulation catches RTL faults.
/// A fault-injection build ([`EmitOptions::fault_injection`]) has all of
/// them, each switched on at run time by the `fault_sel` input of `sat_top`
/// ([`Fault::code`]), so one Verilated build serves every fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The DMA grant mux selects `t` instead of `max(t, channel_free)`: a
    /// transfer starts while the channel is still busy.
    DmaGrantIgnoresBusyChannel,
    /// The mode comparator is tied off: a GEMM of another mode never waits
    /// for the array to drain.
    ModeSwitchNeverDrains,
    /// Lane 0 of every PE inverts the low bit of its activation-mux select:
    /// N:M GEMMs multiply the wrong activation.
    ActivationMuxSelect,
    /// The DMA engine's stores from the output buffer in `i16` shift the
    /// accumulators right without rounding: a data fault only the DRAM
    /// image shows (timing is unchanged).
    DmaStoreTruncates,
}

impl Fault {
    /// All faults.
    pub const ALL: [Fault; 4] = [
        Fault::DmaGrantIgnoresBusyChannel,
        Fault::ModeSwitchNeverDrains,
        Fault::ActivationMuxSelect,
        Fault::DmaStoreTruncates,
    ];

    /// Its `fault_sel` value (0 selects no fault).
    pub fn code(self) -> u8 {
        match self {
            Fault::DmaGrantIgnoresBusyChannel => 1,
            Fault::ModeSwitchNeverDrains => 2,
            Fault::ActivationMuxSelect => 3,
            Fault::DmaStoreTruncates => 4,
        }
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::DmaGrantIgnoresBusyChannel => "dma-grant-ignores-busy-channel",
            Fault::ModeSwitchNeverDrains => "mode-switch-never-drains",
            Fault::ActivationMuxSelect => "activation-mux-select",
            Fault::DmaStoreTruncates => "dma-store-truncates",
        }
    }
}

/// What to emit besides the config itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// Instruction-memory address bits per queue.
    pub imem_bits: u32,
    /// Build in every [`Fault`], selected at run time by a `fault_sel`
    /// input of `sat_top` (tests only).
    pub fault_injection: bool,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions { imem_bits: DEFAULT_IMEM_BITS, fault_injection: false }
    }
}

/// Bits of the `fault_sel` input of a fault-injection build.
pub const FAULT_SEL_BITS: u32 = 3;

/// `(fault_sel == f) ? faulty : normal` in a fault-injection build, else `normal`.
pub fn fault_mux(faults: bool, f: Fault, faulty: &str, normal: &str) -> String {
    if faults {
        format!("((fault_sel == {FAULT_SEL_BITS}'d{}) ? {faulty} : {normal})", f.code())
    } else {
        normal.to_string()
    }
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlFile {
    /// File name (`<module>.v`).
    pub name: String,
    /// Contents.
    pub text: String,
}

/// The generated design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Design {
    /// The modules, one file each, leaves first.
    pub files: Vec<RtlFile>,
    /// Name of the top module.
    pub top: String,
    /// The parameters it was generated from.
    pub params: Params,
    /// Whether it is a fault-injection build (`fault_sel` input on `sat_top`).
    pub fault_injection: bool,
}

/// Name of the file list written next to the Verilog.
pub const FILE_LIST: &str = "sat.f";

impl Design {
    /// The file list (`-f` format for Verilator and Yosys scripts): one file per line, leaves first.
    pub fn file_list(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            let _ = writeln!(s, "{}", f.name);
        }
        s
    }

    /// Writes every file and the file list into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>, RtlError> {
        let io = |path: &Path, source| RtlError::Io { path: path.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut out = Vec::new();
        for f in &self.files {
            let path = dir.join(&f.name);
            std::fs::write(&path, &f.text).map_err(|e| io(&path, e))?;
            out.push(path);
        }
        let list = dir.join(FILE_LIST);
        std::fs::write(&list, self.file_list()).map_err(|e| io(&list, e))?;
        out.push(list);
        Ok(out)
    }

    /// A 64-bit FNV-1a hash of every file name and text: the cache key of a Verilated build.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv::default();
        for f in &self.files {
            h.write(f.name.as_bytes());
            h.write(&[0]);
            h.write(f.text.as_bytes());
            h.write(&[0]);
        }
        h.0
    }
}

/// FNV-1a, 64-bit.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Mixes in bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Generates the Verilog of `arch`.
pub fn emit(arch: &ArchConfig, opts: &EmitOptions) -> Result<Design, RtlError> {
    if !(4..=MAX_IMEM_BITS).contains(&opts.imem_bits) {
        return Err(RtlError::Unsupported(format!(
            "instruction memory of 2^{} words per queue is outside 2^4..=2^{MAX_IMEM_BITS}",
            opts.imem_bits
        )));
    }
    let problems = arch.validate();
    if !problems.is_empty() {
        return Err(RtlError::Unsupported(format!("config `{}` is invalid: {}", arch.name, problems[0].message)));
    }
    let p = Params::new(arch, opts.imem_bits);
    if p.fill < 3 {
        return Err(RtlError::Unsupported(format!(
            "config `{}`: the PE array's fill and drain of {} cycles is shorter than the RTL's 3-cycle operand, multiply and accumulate pipeline",
            arch.name, p.fill
        )));
    }
    let bufs = datapath::buffers(&p);
    let mut modules: Vec<Module> = vec![
        decode::dma_decode(&p),
        decode::compute_decode(&p),
        controller::iqueue(&p),
        controller::controller(&p, opts.fault_injection),
    ];
    modules.extend(bufs.iter().map(|b| datapath::buffer(&p, b)));
    if p.line_buffer > 0 {
        modules.push(dma::line_buffer(&p));
    }
    modules.extend([
        datapath::pe(&p, opts.fault_injection),
        datapath::pe_array(&p, opts.fault_injection),
        datapath::gemm(&p, opts.fault_injection),
        vector::lossgrad(&p),
        vector::vector(&p),
        datapath::sparsifier(&p),
        dma::dma(&p, opts.fault_injection),
    ]);
    modules.push(top::top(&p, &bufs, opts.fault_injection));
    let files = modules
        .into_iter()
        .map(|m| {
            let mut text = String::new();
            text.push_str("// Generated by nmsat-rtl from an ArchConfig; do not edit.\n");
            for l in p.header() {
                let _ = writeln!(text, "// {l}");
            }
            if opts.fault_injection {
                let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                let _ = writeln!(text, "// FAULT-INJECTION BUILD (tests only): fault_sel selects {}", names.join(", "));
            }
            text.push_str("//\n");
            text.push_str(&m.render());
            // The top is SystemVerilog-compatible Verilog in a `.sv` file (so
            // SV tooling can wrap it directly); every unit is a Verilog-2005 `.v`.
            let ext = if m.name == "sat_top" { "sv" } else { "v" };
            RtlFile { name: format!("{}.{ext}", m.name), text }
        })
        .collect();
    Ok(Design { files, top: "sat_top".into(), params: p, fault_injection: opts.fault_injection })
}
