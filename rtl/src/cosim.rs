//! Verilator co-simulation against the Rust cycle-mode simulator.
//!
//! [`build`] Verilates the design with the shipped testbench
//! (`rtl/cosim/tb.cpp`) into a cache directory keyed by a hash of the
//! Verilog, the testbench and the Verilator version, so each config is
//! built once; concurrent builds of the same key are serialised by a lock
//! file. [`run`] writes the program and memory image for the testbench,
//! runs it and reads back every instruction's issue and retirement cycle.
//! [`compare`] checks them, the total and (when both sides produced one)
//! the final DRAM image against `nmsat_sim`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::check::capacity;
use nmsat_dataflow::isa::{Buf, Queue};
use nmsat_dataflow::program::Program;
use nmsat_sim::{Retire, RunResult, SimMode, SimOptions, simulate};

use crate::emit::{Design, EmitOptions, Fnv, emit};
use crate::error::RtlError;

/// The testbench, compiled with every model.
pub const TESTBENCH: &str = include_str!("../cosim/tb.cpp");

/// Instruction-memory address bits of co-simulation builds (65,536 instructions per queue).
pub const COSIM_IMEM_BITS: u32 = 16;

/// Environment variable that overrides the build cache directory.
pub const CACHE_ENV: &str = "NMSAT_COSIM_DIR";

/// The emit options of a co-simulation build (a larger instruction memory
/// than the synthesis default), with every fault built in when `fault_injection`.
pub fn cosim_options(fault_injection: bool) -> EmitOptions {
    EmitOptions { imem_bits: COSIM_IMEM_BITS, fault_injection }
}

/// Where Verilated models are cached: `$NMSAT_COSIM_DIR`, else the
/// workspace's `target/nmsat-cosim`, else the system temporary directory.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os(CACHE_ENV) {
        return PathBuf::from(d);
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target");
    if target.is_dir() {
        return target.join("nmsat-cosim");
    }
    std::env::temp_dir().join("nmsat-cosim")
}

/// The version line of `tool`, or [`RtlError::ToolMissing`].
pub fn tool_version(tool: &str, arg: &str) -> Result<String, RtlError> {
    let out = Command::new(tool)
        .arg(arg)
        .output()
        .map_err(|_| RtlError::ToolMissing { tool: tool.into(), package: tool.into() })?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// A Verilated model ready to run.
#[derive(Debug, Clone)]
pub struct Model {
    /// The testbench executable.
    pub exe: PathBuf,
    /// Its cache directory.
    pub dir: PathBuf,
    /// The cache key.
    pub hash: u64,
    /// Whether this call built it (false: reused from the cache).
    pub built: bool,
    /// The fault switched on in every run (a fault-injection build).
    pub fault: Option<crate::Fault>,
}

/// Verilates `design` (or reuses the cached build) under `root`.
pub fn build(design: &Design, root: &Path) -> Result<Model, RtlError> {
    let version = tool_version("verilator", "--version")?;
    let mut h = Fnv(design.hash());
    h.write(TESTBENCH.as_bytes());
    h.write(version.as_bytes());
    h.write(BUILD_FLAGS.join(" ").as_bytes());
    h.write(design_flags(design).join(" ").as_bytes());
    let hash = h.0;
    let dir = root.join(format!("{}-{hash:016x}", design.params.name));
    let exe = dir.join("obj").join("Vsat_top");
    if exe.is_file() {
        return Ok(Model { exe, dir, hash, built: false, fault: None });
    }
    let io = |path: &Path, source| RtlError::Io { path: path.to_path_buf(), source };
    std::fs::create_dir_all(root).map_err(|e| io(root, e))?;
    // One builder per key: others wait for its result.
    let lock = root.join(format!("{}-{hash:016x}.lock", design.params.name));
    let started = Instant::now();
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(_) => {
                if exe.is_file() {
                    return Ok(Model { exe, dir, hash, built: false, fault: None });
                }
                // A lock older than 20 minutes belongs to a builder that died.
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .map(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(1200))
                    .unwrap_or(true);
                if stale || started.elapsed() > Duration::from_secs(1800) {
                    let _ = std::fs::remove_file(&lock);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    let result = build_locked(design, &dir, &exe);
    let _ = std::fs::remove_file(&lock);
    result.map(|()| Model { exe, dir, hash, built: true, fault: None })
}

/// Verilator flags of every build: fast to compile, traced for VCDs.
const BUILD_FLAGS: &[&str] = &[
    "--cc",
    "--exe",
    "--build",
    "-j",
    "2",
    "--trace",
    "--x-assign",
    "fast",
    "--x-initial",
    "0",
    "-Wno-fatal",
    "-CFLAGS",
    "-O1",
    "--top-module",
    "sat_top",
];

/// The testbench's compile-time constants of `design`: the DMA engine's
/// units per cycle and DRAM window bytes (the memory interface's shape).
fn design_flags(design: &Design) -> Vec<String> {
    let d = design.params.dma;
    let mut v = vec![
        "-CFLAGS".into(),
        format!("-DNMSAT_DMA_UNITS={}", d.units),
        "-CFLAGS".into(),
        format!("-DNMSAT_DMA_WINDOW={}", d.window),
    ];
    if design.fault_injection {
        v.extend(["-CFLAGS".into(), "-DNMSAT_FAULTS=1".into()]);
    }
    v
}

fn build_locked(design: &Design, dir: &Path, exe: &Path) -> Result<(), RtlError> {
    if exe.is_file() {
        return Ok(());
    }
    let io = |path: &Path, source| RtlError::Io { path: path.to_path_buf(), source };
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let src = tmp.join("src");
    let files = design.write(&src)?;
    let tb = src.join("tb.cpp");
    std::fs::write(&tb, TESTBENCH).map_err(|e| io(&tb, e))?;
    let log = tmp.join("build.log");
    let mut cmd = Command::new("verilator");
    cmd.args(BUILD_FLAGS).args(design_flags(design)).arg("-Mdir").arg(tmp.join("obj")).arg("-o").arg("Vsat_top");
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "v" || e == "sv")) {
        cmd.arg(f);
    }
    cmd.arg(&tb);
    let out =
        cmd.output().map_err(|_| RtlError::ToolMissing { tool: "verilator".into(), package: "verilator".into() })?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    std::fs::write(&log, &text).map_err(|e| io(&log, e))?;
    if !out.status.success() || !tmp.join("obj").join("Vsat_top").is_file() {
        return Err(RtlError::ToolFailed {
            tool: "verilator".into(),
            code: out.status.code(),
            log,
            tail: tail(&text, 15),
        });
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    Ok(())
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Options of one RTL run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Write a VCD of the whole run here.
    pub vcd: Option<PathBuf>,
    /// Stop after this many cycles (0: twice the Rust simulator's total plus 10,000).
    pub max_cycles: u64,
    /// Initial buffer contents written through the test port: buffer (0 A,
    /// 1 W as `index << 16 | value`, 2 O), first element, values.
    pub buffers: Vec<(u8, u64, Vec<u64>)>,
    /// Read every buffer back after the run ([`RtlRun::buffers`]).
    pub dump_buffers: bool,
}

/// How an RTL run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtlStatus {
    /// `done` was reached.
    Ok,
    /// The cycle limit was reached first.
    Timeout,
    /// The RTL raised its internal error flag.
    InternalError(String),
    /// The trace port showed something impossible (an issue past the end of a queue, …).
    Protocol(String),
}

/// What the RTL did.
#[derive(Debug, Clone)]
pub struct RtlRun {
    /// Issue and retirement cycle of every instruction (`u64::MAX` when it never happened).
    pub retire: Vec<Retire>,
    /// Total cycles.
    pub total_cycles: u64,
    /// How the run ended.
    pub status: RtlStatus,
    /// Cycles simulated.
    pub sim_cycles: u64,
    /// Wall seconds of the simulation loop (excluding loading).
    pub seconds: f64,
    /// Final DRAM image, when the RTL moves data.
    pub dram: Option<Vec<u8>>,
    /// Final contents of A, W and O, when requested.
    pub buffers: Option<[Vec<u64>; 3]>,
}

/// Runs `program` on `model`.
pub fn run(model: &Model, program: &Program, opts: &RunOptions, max_cycles: u64) -> Result<RtlRun, RtlError> {
    use std::fmt::Write as _;
    let cap = 1usize << COSIM_IMEM_BITS;
    for q in Queue::ALL {
        let n = program.instrs.iter().filter(|i| i.queue() == q).count();
        if n > cap {
            return Err(RtlError::Unsupported(format!(
                "the {} queue holds {n} instructions; the co-simulation build holds {cap} per queue",
                q.name()
            )));
        }
    }
    let mut input = String::new();
    let _ = writeln!(input, "MAXC {max_cycles}");
    if let Some(f) = model.fault {
        let _ = writeln!(input, "FAULT {}", f.code());
    }
    for (i, ins) in program.instrs.iter().enumerate() {
        let bytes = ins.encode().map_err(|e| RtlError::Unsupported(format!("instruction {i}: {e}")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(input, "I {i} {} {hex}", ins.queue().code());
    }
    for (sel, start, vals) in &opts.buffers {
        let hex: Vec<String> = vals.iter().map(|v| format!("{v:x}")).collect();
        let _ = writeln!(input, "BUF {sel} {start} {}", hex.join(" "));
    }
    if opts.dump_buffers {
        for b in Buf::ALL {
            let _ = writeln!(input, "DUMP {} {}", b.code(), capacity(&program.arch, b));
        }
    }
    let _ = writeln!(input, "DRAM {}", program.dram_bytes);
    for (addr, bytes) in &program.image {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(input, "SEG {addr} {hex}");
    }
    let work = model.dir.join("runs");
    let io = |path: &Path, source| RtlError::Io { path: path.to_path_buf(), source };
    std::fs::create_dir_all(&work).map_err(|e| io(&work, e))?;
    let stem = format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "");
    let inp = work.join(format!("{stem}.in"));
    let outp = work.join(format!("{stem}.out"));
    std::fs::write(&inp, input).map_err(|e| io(&inp, e))?;
    let mut cmd = Command::new(&model.exe);
    cmd.arg(&inp).arg(&outp);
    if let Some(v) = &opts.vcd {
        cmd.arg(v);
    }
    let out = cmd.output().map_err(|e| io(&model.exe, e))?;
    let _ = std::fs::remove_file(&inp);
    if !out.status.success() {
        return Err(RtlError::ToolFailed {
            tool: model.exe.display().to_string(),
            code: out.status.code(),
            log: outp.clone(),
            tail: tail(&String::from_utf8_lossy(&out.stderr), 10),
        });
    }
    let text = std::fs::read_to_string(&outp).map_err(|e| io(&outp, e))?;
    let _ = std::fs::remove_file(&outp);
    parse_output(&text, program.instrs.len())
}

fn parse_output(text: &str, n: usize) -> Result<RtlRun, RtlError> {
    let bad = |l: &str| RtlError::Protocol(format!("unexpected line `{l}`"));
    let mut run = RtlRun {
        retire: vec![Retire { start: u64::MAX, done: u64::MAX }; n],
        total_cycles: 0,
        status: RtlStatus::Ok,
        sim_cycles: 0,
        seconds: 0.0,
        dram: None,
        buffers: None,
    };
    let cyc = |s: &str| -> Result<u64, RtlError> {
        let v: i64 = s.parse().map_err(|_| RtlError::Protocol(format!("bad number `{s}`")))?;
        Ok(if v < 0 { u64::MAX } else { v as u64 })
    };
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["R", i, s, d] => {
                let i: usize = i.parse().map_err(|_| bad(l))?;
                if i >= n {
                    return Err(bad(l));
                }
                run.retire[i] = Retire { start: cyc(s)?, done: cyc(d)? };
            }
            ["TOTAL", t] => run.total_cycles = cyc(t)?,
            ["CYCLES", c, "SECONDS", s] => {
                run.sim_cycles = cyc(c)?;
                run.seconds = s.parse().map_err(|_| bad(l))?;
            }
            ["STATUS", "ok"] => run.status = RtlStatus::Ok,
            ["STATUS", "timeout"] => run.status = RtlStatus::Timeout,
            ["STATUS", "error", rest @ ..] => run.status = RtlStatus::InternalError(rest.join(" ")),
            ["STATUS", rest @ ..] => run.status = RtlStatus::Protocol(rest.join(" ")),
            ["M", hex] => {
                let hex = hex.as_bytes();
                if hex.len() % 2 != 0 {
                    return Err(bad("M <odd number of hex digits>"));
                }
                let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
                let bytes = hex
                    .chunks_exact(2)
                    .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| bad("M <bad hex>"))?;
                run.dram = Some(bytes);
            }
            ["M"] => run.dram = Some(Vec::new()),
            ["B", sel, vals @ ..] => {
                let sel: usize = sel.parse().map_err(|_| bad(l))?;
                let vals = vals
                    .iter()
                    .map(|v| u64::from_str_radix(v, 16))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| bad(l))?;
                let bufs = run.buffers.get_or_insert_with(Default::default);
                *bufs.get_mut(sel).ok_or_else(|| bad(l))? = vals;
            }
            _ => return Err(bad(l)),
        }
    }
    Ok(run)
}

/// The first point where the RTL and the Rust simulator disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Instruction index.
    pub index: usize,
    /// Its text.
    pub text: String,
    /// `issue` or `retire`.
    pub what: &'static str,
    /// RTL cycle (`None`: never happened).
    pub rtl: Option<u64>,
    /// Rust cycle.
    pub rust: u64,
}

impl Mismatch {
    /// The earlier of the two cycles: where the runs diverge.
    pub fn cycle(&self) -> u64 {
        self.rtl.map_or(self.rust, |r| r.min(self.rust))
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rtl = self.rtl.map_or("never".to_string(), |c| format!("cycle {c}"));
        write!(
            f,
            "instruction {} `{}`: {} at {rtl} in the RTL, cycle {} in the Rust simulator (first difference at cycle {})",
            self.index,
            self.text,
            self.what,
            self.rust,
            self.cycle()
        )
    }
}

/// The DRAM-image part of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DramCheck {
    /// Not compared, and why.
    Skipped(String),
    /// Bit-exact.
    Equal,
    /// The first differing byte.
    Differs {
        /// Byte address.
        addr: u64,
        /// RTL byte.
        rtl: u8,
        /// Rust byte.
        rust: u8,
        /// The program region holding it and the byte's offset in it.
        region: Option<(String, u64)>,
    },
}

impl DramCheck {
    /// One line for reports: `bit-exact`, `not compared: …` or where it differs.
    pub fn summary(&self) -> String {
        match self {
            DramCheck::Skipped(why) => format!("not compared: {why}"),
            DramCheck::Equal => "bit-exact".into(),
            DramCheck::Differs { addr, region, .. } => match region {
                Some((name, off)) => format!("differs at {addr:#x} (`{name}` + {off:#x})"),
                None => format!("differs at {addr:#x}"),
            },
        }
    }
}

/// Result of comparing one RTL run with the Rust simulator.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Instructions compared.
    pub instructions: usize,
    /// RTL total cycles.
    pub rtl_total: u64,
    /// Rust total cycles.
    pub rust_total: u64,
    /// How the RTL run ended.
    pub status: RtlStatus,
    /// The earliest differing issue or retirement, if any.
    pub first: Option<Mismatch>,
    /// DRAM image.
    pub dram: DramCheck,
}

impl Comparison {
    /// True when cycles, every instruction and (if compared) the DRAM image agree.
    pub fn passed(&self) -> bool {
        self.status == RtlStatus::Ok
            && self.first.is_none()
            && self.rtl_total == self.rust_total
            && !matches!(self.dram, DramCheck::Differs { .. })
    }

    /// One line per problem (empty when it passed).
    pub fn problems(&self) -> Vec<String> {
        let mut v = Vec::new();
        match &self.status {
            RtlStatus::Ok => {}
            RtlStatus::Timeout => v.push(format!("the RTL did not finish within {} cycles", self.rtl_total)),
            RtlStatus::InternalError(s) => v.push(format!("the RTL raised its error flag: {s}")),
            RtlStatus::Protocol(s) => v.push(format!("trace protocol: {s}")),
        }
        if let Some(m) = &self.first {
            v.push(format!("first mismatch: {m}"));
        }
        if self.rtl_total != self.rust_total {
            v.push(format!("total cycles: RTL {} vs Rust {}", self.rtl_total, self.rust_total));
        }
        if let DramCheck::Differs { addr, rtl, rust, region } = &self.dram {
            let at = match region {
                Some((name, off)) => format!(" (region `{name}` + {off:#x})"),
                None => " (outside every named region)".into(),
            };
            v.push(format!("DRAM differs first at byte {addr:#x}{at}: RTL {rtl:#04x} vs Rust {rust:#04x}"));
        }
        v
    }
}

/// Compares an RTL run with the Rust cycle-mode result; `rust_dram` is the
/// simulator's final DRAM image when it computes data.
pub fn compare(program: &Program, rust: &RunResult, rtl: &RtlRun, rust_dram: Option<&[u8]>) -> Comparison {
    let mut first: Option<Mismatch> = None;
    for (i, (r, v)) in rust.retire.iter().zip(&rtl.retire).enumerate() {
        for (what, want, got) in [("issue", r.start, v.start), ("retire", r.done, v.done)] {
            if want != got {
                let m = Mismatch {
                    index: i,
                    text: program.instrs[i].to_text(),
                    what,
                    rtl: (got != u64::MAX).then_some(got),
                    rust: want,
                };
                if first.as_ref().is_none_or(|f| (m.cycle(), m.index) < (f.cycle(), f.index)) {
                    first = Some(m);
                }
            }
        }
    }
    let region = |addr: u64| {
        program
            .regions
            .iter()
            .find(|r| (r.addr..r.addr + r.bytes).contains(&addr))
            .map(|r| (r.name.clone(), addr - r.addr))
    };
    let dram = match (rust_dram, &rtl.dram) {
        (Some(a), Some(b)) => match a.iter().zip(b.iter()).position(|(x, y)| x != y) {
            Some(p) => DramCheck::Differs { addr: p as u64, rtl: b[p], rust: a[p], region: region(p as u64) },
            None if a.len() != b.len() => {
                let p = a.len().min(b.len()) as u64;
                DramCheck::Differs { addr: p, rtl: 0, rust: 0, region: region(p) }
            }
            None => DramCheck::Equal,
        },
        (None, _) => DramCheck::Skipped("the Rust simulator ran without data".into()),
        (_, None) => DramCheck::Skipped("the RTL run produced no DRAM image".into()),
    };
    Comparison {
        instructions: program.instrs.len(),
        rtl_total: rtl.total_cycles,
        rust_total: rust.stats.total_cycles,
        status: rtl.status.clone(),
        first,
        dram,
    }
}

/// Everything a co-simulation produced.
#[derive(Debug, Clone)]
pub struct CosimReport {
    /// The comparison.
    pub comparison: Comparison,
    /// The RTL run.
    pub rtl: RtlRun,
    /// The model used.
    pub model: Model,
    /// Where a VCD was written (requested, or automatically on a mismatch).
    pub vcd: Option<PathBuf>,
}

/// Runs `program` on the Rust simulator (cycle mode) and on `model`, and
/// compares them. On a mismatch without `opts.vcd`, the RTL run is repeated
/// with a VCD written to `fail_vcd`.
pub fn cosim_program(
    model: &Model,
    arch: &ArchConfig,
    program: &Program,
    opts: &RunOptions,
    fail_vcd: Option<&Path>,
) -> Result<CosimReport, RtlError> {
    // The DRAM image is compared when the program carries one: without it
    // both sides start from zeros and the comparison says little.
    let data = !program.image.is_empty();
    let rust = simulate(program, arch, SimMode::Cycle, SimOptions { data, ..SimOptions::default() })?;
    let max = if opts.max_cycles > 0 { opts.max_cycles } else { 2 * rust.stats.total_cycles + 10_000 };
    let rtl = run(model, program, opts, max)?;
    let rust_dram = rust.machine.as_ref().map(|m| m.dram.as_slice());
    let mut comparison = compare(program, &rust, &rtl, rust_dram);
    if !data {
        comparison.dram = DramCheck::Skipped("the program has no memory image (timing only)".into());
    }
    let mut vcd = opts.vcd.clone();
    if !comparison.passed() && vcd.is_none() {
        if let Some(path) = fail_vcd {
            let again = RunOptions { vcd: Some(path.to_path_buf()), max_cycles: max, ..opts.clone() };
            run(model, program, &again, max)?;
            vcd = Some(path.to_path_buf());
        }
    }
    Ok(CosimReport { comparison, rtl, model: model.clone(), vcd })
}

/// Emits and builds the co-simulation model of `arch` in the cache; with a
/// `fault`, the fault-injection build (shared by every fault) with that
/// fault switched on in its runs.
pub fn model_for(arch: &ArchConfig, fault: Option<crate::Fault>) -> Result<Model, RtlError> {
    let design = emit(arch, &cosim_options(fault.is_some()))?;
    Ok(Model { fault, ..build(&design, &cache_root())? })
}
