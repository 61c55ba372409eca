//! Yosys synthesis for Xilinx UltraScale+ (`synth_xilinx -family xcup`)
//! and the resource counts it reports, with their share of a VU9P.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::emit::Design;
use crate::error::RtlError;

/// Resources of a Xilinx VU9P (XCVU9P): CLB LUTs, CLB flip-flops, DSP48E2
/// slices, 36-kbit block RAMs and UltraRAMs.
pub const VU9P: Resources = Resources { luts: 1_182_240, ffs: 2_364_480, dsps: 6_840, bram36: 2_160.0, uram: 960 };

/// Resource counts of a synthesised design.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Resources {
    /// LUTs (logic, distributed RAM and shift registers).
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// DSP48E2 slices.
    pub dsps: u64,
    /// Block RAMs in 36-kbit equivalents (a RAMB18 counts one half).
    pub bram36: f64,
    /// UltraRAMs.
    pub uram: u64,
}

/// Block RAMs (36-kbit) a `depth × width` memory takes, packed in the
/// cheapest RAMB36E2 aspect ratio (32K×1 … 512×72).
pub fn bram36_for(depth: u64, width: u64) -> u64 {
    [(32768u64, 1u64), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72)]
        .iter()
        .map(|&(d, w)| depth.div_ceil(d) * width.div_ceil(w))
        .min()
        .unwrap_or(0)
}

/// The block RAMs of the operand buffers, from their geometry: each buffer
/// is `banks` banks of `cap / banks` elements (the Verilog buffers are
/// behavioural multi-port models, synthesised as black boxes).
pub fn buffer_bram36(design: &Design) -> Vec<(String, u64)> {
    params_buffer_bram36(&design.params)
}

/// [`buffer_bram36`] from the parameters alone (no emitted design needed),
/// for estimates over many configs.
pub fn params_buffer_bram36(p: &crate::params::Params) -> Vec<(String, u64)> {
    let widths = [16u64, 16 + u64::from(crate::emit::datapath::INDEX_BITS), u64::from(p.acc_bits)];
    let mut v: Vec<(String, u64)> = ["A", "W", "O"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let banks = u64::from(p.banks[i]);
            (name.to_string(), banks * bram36_for(p.cap[i].div_ceil(banks), widths[i]))
        })
        .collect();
    // The im2col line buffer (ADR 003): banked like A, 16-bit elements.
    if p.line_buffer > 0 {
        let banks = u64::from(p.banks[0]);
        v.push(("LB".to_string(), banks * bram36_for(p.line_buffer.div_ceil(banks), 16)));
    }
    v
}

/// A synthesis result.
#[derive(Debug, Clone, Serialize)]
pub struct SynthReport {
    /// Config name.
    pub config: String,
    /// The module synthesised with its hierarchy (`sat_top`: the whole SAT).
    pub top: String,
    /// Yosys version line.
    pub yosys: String,
    /// The command script that ran.
    pub script: String,
    /// Resource counts of the synthesised logic (everything but the operand buffers).
    pub logic: Resources,
    /// Block RAMs of the operand buffers A, W, O, from their geometry.
    pub buffers_bram36: Vec<(String, u64)>,
    /// Logic plus buffers.
    pub resources: Resources,
    /// DSP slices of one PE (`sat_pe`, synthesised once).
    pub dsps_per_pe: u64,
    /// PEs in the synthesised hierarchy (from Yosys's instance tree).
    pub pes: u64,
    /// DSP slices outside the PE array (decoders, GEMM address arithmetic).
    pub dsps_outside_array: u64,
    /// Resources of each module (one instance), as Yosys reports them.
    pub modules: Vec<(String, Resources)>,
    /// Percent of a VU9P per resource.
    pub vu9p_percent: Share,
    /// Every cell type and its count, as Yosys reported them.
    pub cells: Vec<(String, u64)>,
    /// The per-module runs of a hierarchical synthesis, parents first
    /// (empty for a single Yosys run).
    pub runs: Vec<ModuleRun>,
    /// Wall seconds Yosys took.
    pub seconds: f64,
    /// The Yosys log (the directory of the per-module logs for a
    /// hierarchical synthesis).
    pub log: PathBuf,
}

/// Parses the cell list of Yosys's `stat` output (the last design summary in it).
pub fn parse_stat(text: &str) -> Vec<(String, u64)> {
    // `stat` prints one block per module and, for a hierarchy, a final
    // "design hierarchy" block; the last "Number of cells" block wins.
    let mut blocks: Vec<Vec<(String, u64)>> = Vec::new();
    let mut cur: Option<Vec<(String, u64)>> = None;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Number of cells:") {
            if let Some(c) = cur.take() {
                blocks.push(c);
            }
            cur = Some(Vec::new());
            continue;
        }
        if let Some(c) = cur.as_mut() {
            let w: Vec<&str> = t.split_whitespace().collect();
            match w.as_slice() {
                [name, count] if name.chars().next().is_some_and(|ch| ch.is_ascii_uppercase() || ch == '$') => {
                    if let Ok(n) = count.parse::<u64>() {
                        c.push((name.to_string(), n));
                        continue;
                    }
                    blocks.push(cur.take().unwrap_or_default());
                }
                [] => {}
                _ => {
                    blocks.push(cur.take().unwrap_or_default());
                }
            }
        }
    }
    if let Some(c) = cur.take() {
        blocks.push(c);
    }
    blocks.into_iter().rev().find(|b| !b.is_empty()).unwrap_or_default()
}

/// The cell list of every module block (`=== name ===`) of `stat` output.
pub fn parse_modules(text: &str) -> Vec<(String, Vec<(String, u64)>)> {
    let mut out = Vec::new();
    for chunk in text.split("=== ").skip(1) {
        let Some((name, rest)) = chunk.split_once(" ===") else { continue };
        if name.contains(' ') {
            continue; // "design hierarchy"
        }
        out.push((name.to_string(), parse_stat(rest)));
    }
    out
}

/// How many instances of `module` the "design hierarchy" block of `stat`
/// output lists (0 when it lists none or there is no hierarchy).
pub fn hierarchy_count(text: &str, module: &str) -> u64 {
    let Some(start) = text.find("=== design hierarchy ===") else { return 0 };
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with("Number of"))
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>().as_slice() {
            [name, n] if *name == module => n.parse::<u64>().ok(),
            _ => None,
        })
        .sum()
}

/// Sums Xilinx primitives into [`Resources`].
pub fn resources(cells: &[(String, u64)]) -> Resources {
    let mut r = Resources::default();
    for (name, n) in cells {
        let n = *n;
        let lut_ram = |name: &str| -> Option<u64> {
            // Distributed RAM primitives and the LUTs each occupies.
            Some(match name {
                "RAM32X1S" | "RAM64X1S" | "RAM32X1D" | "RAM128X1S" => 1,
                "RAM64X1D" | "RAM128X1D" | "RAM256X1S" => 2,
                "RAM256X1D" | "RAM512X1S" => 4,
                "RAM32M" | "RAM64M" => 4,
                "RAM32M16" | "RAM64M8" => 8,
                _ => return None,
            })
        };
        let is_lut = name.starts_with("LUT") && name[3..].chars().all(|c| c.is_ascii_digit());
        if is_lut || name.starts_with("SRL") {
            r.luts += n;
        } else if let Some(l) = lut_ram(name) {
            r.luts += l * n;
        } else if name.starts_with("FD") {
            r.ffs += n;
        } else if name.starts_with("DSP48") {
            r.dsps += n;
        } else if name.starts_with("RAMB36") {
            r.bram36 += n as f64;
        } else if name.starts_with("RAMB18") {
            r.bram36 += n as f64 / 2.0;
        } else if name.starts_with("URAM") {
            r.uram += n;
        }
    }
    r
}

/// A share of a VU9P, in percent per resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Share {
    /// LUTs.
    pub luts: f64,
    /// Flip-flops.
    pub ffs: f64,
    /// DSP slices.
    pub dsps: f64,
    /// Block RAM (36-kbit equivalents).
    pub bram36: f64,
    /// UltraRAM.
    pub uram: f64,
}

/// `r` as a percentage of [`VU9P`].
pub fn vu9p_share(r: &Resources) -> Share {
    let p = |a: u64, b: u64| a as f64 * 100.0 / b as f64;
    Share {
        luts: p(r.luts, VU9P.luts),
        ffs: p(r.ffs, VU9P.ffs),
        dsps: p(r.dsps, VU9P.dsps),
        bram36: r.bram36 * 100.0 / VU9P.bram36,
        uram: p(r.uram, VU9P.uram),
    }
}

/// Runs Yosys on `design` (written to `dir`) and returns its resource counts.
pub fn synth(design: &Design, dir: &Path) -> Result<SynthReport, RtlError> {
    synth_module(design, dir, &design.top)
}

/// A module name and the name of its source file.
type ModuleFile = (String, String);

/// Module names of `design` (file stems) and their source file names.
fn module_files(design: &Design) -> Vec<ModuleFile> {
    design
        .files
        .iter()
        .filter(|f| f.name.ends_with(".v") || f.name.ends_with(".sv"))
        .filter_map(|f| f.name.split('.').next().map(|stem| (stem.to_string(), f.name.clone())))
        .collect()
}

fn check_top(design: &Design, top: &str) -> Result<(), RtlError> {
    let modules = module_files(design);
    if modules.iter().any(|(m, _)| m == top) {
        return Ok(());
    }
    let names: Vec<&str> = modules.iter().map(|(m, _)| m.as_str()).collect();
    Err(RtlError::Unsupported(format!(
        "no module `{top}` in the design of `{}`; modules: {}",
        design.params.name,
        names.join(", ")
    )))
}

/// The behavioural multi-port operand buffers, read as black boxes (their
/// block RAMs are counted from the buffer geometry).
fn is_buffer(module: &str) -> bool {
    module.starts_with("sat_buf_")
}

/// Runs `yosys -p script` in `dir`, logging to `yosys.log`; returns the
/// wall seconds.
fn run_yosys(dir: &Path, script: &str) -> Result<f64, RtlError> {
    let log = dir.join("yosys.log");
    let t0 = Instant::now();
    let out = Command::new("yosys")
        .current_dir(dir)
        .arg("-q")
        .arg("-l")
        .arg("yosys.log")
        .arg("-p")
        .arg(script)
        .output()
        .map_err(|_| RtlError::ToolMissing { tool: "yosys".into(), package: "yosys".into() })?;
    let seconds = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        return Err(RtlError::ToolFailed {
            tool: "yosys".into(),
            code: out.status.code(),
            log,
            tail: lines[lines.len().saturating_sub(15)..].join("\n"),
        });
    }
    Ok(seconds)
}

fn read(path: &Path) -> Result<String, RtlError> {
    std::fs::read_to_string(path).map_err(|e| RtlError::Io { path: path.to_path_buf(), source: e })
}

fn write(path: &Path, text: &str) -> Result<(), RtlError> {
    std::fs::write(path, text).map_err(|e| RtlError::Io { path: path.to_path_buf(), source: e })
}

/// Runs Yosys once on the hierarchy under one module of `design` (`sat_top`
/// for the whole SAT; e.g. `sat_pe_array` for the PE array alone) and
/// returns its resource counts. The operand buffers' block RAMs are counted
/// only for the whole design. [`synth_hierarchical`] gives the same counts
/// module by module, in parallel and resumable.
pub fn synth_module(design: &Design, dir: &Path, top: &str) -> Result<SynthReport, RtlError> {
    let version = crate::cosim::tool_version("yosys", "-V")?;
    check_top(design, top)?;
    design.write(dir)?;
    let (bufs, logic): (Vec<ModuleFile>, Vec<ModuleFile>) =
        module_files(design).into_iter().partition(|(m, _)| is_buffer(m));
    let join = |v: &[ModuleFile]| v.iter().map(|(_, f)| f.as_str()).collect::<Vec<_>>().join(" ");
    let script = format!(
        "read_verilog -lib {}; read_verilog -sv {}; synth_xilinx -family xcup -top {}; tee -o stat.txt stat",
        join(&bufs),
        join(&logic),
        top
    );
    let seconds = run_yosys(dir, &script)?;
    let stat = read(&dir.join("stat.txt"))?;
    let cells = parse_stat(&stat);
    let modules: Vec<(String, Resources)> = parse_modules(&stat).into_iter().map(|(n, c)| (n, resources(&c))).collect();
    let dsps_per_pe = modules.iter().find(|(n, _)| n == "sat_pe").map_or(0, |(_, r)| r.dsps);
    // PEs in the synthesised hierarchy: counted from Yosys's instance tree.
    let pes = if top == "sat_pe" { 1 } else { hierarchy_count(&stat, "sat_pe") };
    let log = dir.join("yosys.log");
    let runs = Vec::new();
    Ok(report(design, top, Found { yosys: version, script, cells, modules, dsps_per_pe, pes, runs, seconds, log }))
}

/// What a synthesis found, before the buffers and shares are added.
struct Found {
    yosys: String,
    script: String,
    cells: Vec<(String, u64)>,
    modules: Vec<(String, Resources)>,
    dsps_per_pe: u64,
    pes: u64,
    runs: Vec<ModuleRun>,
    seconds: f64,
    log: PathBuf,
}

fn report(design: &Design, top: &str, f: Found) -> SynthReport {
    let Found { yosys, script, cells, modules, dsps_per_pe, pes, runs, seconds, log } = f;
    let logic = resources(&cells);
    let buffers_bram36 = if top == design.top { buffer_bram36(design) } else { Vec::new() };
    let mut total = logic;
    total.bram36 += buffers_bram36.iter().map(|(_, n)| *n as f64).sum::<f64>();
    SynthReport {
        config: design.params.name.clone(),
        top: top.to_string(),
        yosys,
        script,
        logic,
        buffers_bram36,
        resources: total,
        dsps_per_pe,
        pes,
        dsps_outside_array: logic.dsps.saturating_sub(dsps_per_pe * pes),
        modules,
        vu9p_percent: vu9p_share(&total),
        cells,
        runs,
        seconds,
        log,
    }
}

/// Progress of a [`synth_hierarchical`] synthesis.
#[derive(Debug, Clone, Copy)]
pub enum SynthProgress<'a> {
    /// A module's run begins (or its cached result is checked).
    Started {
        /// The module.
        module: &'a str,
    },
    /// A module's run ended.
    Finished {
        /// The run.
        run: &'a ModuleRun,
        /// Runs finished so far.
        done: usize,
        /// Runs in all.
        total: usize,
    },
}

/// One module's Yosys run in a [`synth_hierarchical`] synthesis.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleRun {
    /// The module.
    pub module: String,
    /// Its instances in the synthesised hierarchy.
    pub instances: u64,
    /// Resources of one instance, its submodules excluded.
    pub own: Resources,
    /// Wall seconds of its Yosys run (of the cached run when reused).
    pub seconds: f64,
    /// Whether the result was reused from an earlier run in the same directory.
    pub cached: bool,
    /// Its Yosys log.
    pub log: PathBuf,
}

/// I/O and global clock buffers, which `synth_xilinx` puts on a top
/// module's ports.
fn is_port_buffer(cell: &str) -> bool {
    matches!(cell, "IBUF" | "OBUF" | "OBUFT" | "IOBUF" | "BUFG" | "BUFGCTRL" | "IBUFG")
}

/// The Verilog text of `module` (empty when the design has no such module).
fn module_text<'d>(design: &'d Design, module: &str) -> &'d str {
    design
        .files
        .iter()
        .find(|f| f.name.split('.').next() == Some(module) && (f.name.ends_with(".v") || f.name.ends_with(".sv")))
        .map_or("", |f| f.text.as_str())
}

/// `module`'s declaration with its ports and no body: what `read_verilog
/// -lib` keeps of a submodule anyway. A parent's run reads and is keyed by
/// its children's stubs, so a change inside a child re-runs only the child.
/// The whole text when the header is not found.
pub fn black_box(text: &str, module: &str) -> String {
    let head = format!("module {module} (");
    let Some(start) = text.lines().position(|l| l.trim_start().starts_with(&head)) else {
        return text.to_string();
    };
    let lines: Vec<&str> = text.lines().collect();
    match lines[start..].iter().position(|l| l.trim() == ");") {
        Some(n) => {
            let mut out = format!("// black box of {module}: ports only\n");
            for l in &lines[start..=start + n] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("endmodule\n");
            out
        }
        None => text.to_string(),
    }
}

/// The modules of `design` that `module`'s text instantiates (an instance
/// line starts with the module's name), in design order.
pub fn children(design: &Design, module: &str) -> Vec<String> {
    let files = module_files(design);
    let text = module_text(design, module);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first != module && files.iter().any(|(m, _)| m == first) && !out.iter().any(|o| o == first) {
            out.push(first.to_string());
        }
    }
    out
}

/// Instances of each of `modules` in one module's `stat` block (black-box
/// cells are listed by module name).
pub fn parse_instances(text: &str, modules: &[String]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("===") && line.contains("design hierarchy") {
            break;
        }
        if let [name, n] = line.split_whitespace().collect::<Vec<_>>().as_slice()
            && modules.iter().any(|m| m == name)
            && let Ok(n) = n.parse::<u64>()
        {
            match out.iter_mut().find(|(m, _)| m == name) {
                Some(e) => e.1 += n,
                None => out.push((name.to_string(), n)),
            }
        }
    }
    out
}

/// Synthesises every module of the hierarchy under `top` in its own Yosys
/// run, its submodules read as black boxes, on `jobs` threads, and sums the
/// counts by instance. `synth_xilinx` does not flatten, so each module is
/// mapped on its own in a single run too: the totals are those of
/// [`synth_module`], but the runs proceed in parallel, report progress
/// through `progress` (a module starting or finished) and are kept in
/// `dir/<module>/`: a rerun after an interruption reuses every module whose
/// sources, Yosys version and script are unchanged.
pub fn synth_hierarchical(
    design: &Design,
    dir: &Path,
    top: &str,
    jobs: usize,
    progress: &(dyn Fn(SynthProgress<'_>) + Sync),
) -> Result<SynthReport, RtlError> {
    let version = crate::cosim::tool_version("yosys", "-V")?;
    check_top(design, top)?;
    let t0 = Instant::now();
    let cx = RunContext { design, dir, version: &version, files: module_files(design) };
    let order = hierarchy(design, top);
    let synthesised: Vec<String> = order.iter().filter(|m| !is_buffer(m)).cloned().collect();
    // Longest first (by source size) so the two cores finish together.
    let mut queue: Vec<String> = synthesised.clone();
    queue.sort_by_key(|m| std::cmp::Reverse(module_text(design, m).len()));
    let module_names: Vec<String> = cx.files.iter().map(|(m, _)| m.clone()).collect();
    let mut done = run_parallel(&cx, queue, jobs, progress)?;
    let count = instance_counts(top, &order, &done, &module_names);
    let (runs, mut cells) = sum_cells(top, &synthesised, &mut done, &count);
    cells.sort();
    let modules: Vec<(String, Resources)> = runs.iter().map(|r| (r.module.clone(), r.own)).collect();
    let dsps_per_pe = runs.iter().find(|r| r.module == "sat_pe").map_or(0, |r| r.own.dsps);
    let pes = runs.iter().find(|r| r.module == "sat_pe").map_or(0, |r| r.instances);
    let script = format!(
        "per module M under {top}: read_verilog -lib <M's submodules>; read_verilog -sv M; synth_xilinx -family xcup -top M; tee -o stat.txt stat"
    );
    design.write(dir)?;
    let (seconds, log) = (t0.elapsed().as_secs_f64(), dir.to_path_buf());
    Ok(report(design, top, Found { yosys: version, script, cells, modules, dsps_per_pe, pes, runs, seconds, log }))
}

/// The modules under `top` (itself included), parents before children.
fn hierarchy(design: &Design, top: &str) -> Vec<String> {
    let mut order: Vec<String> = vec![top.to_string()];
    let mut i = 0;
    while i < order.len() {
        for c in children(design, &order[i]) {
            if !order.contains(&c) {
                order.push(c);
            }
        }
        i += 1;
    }
    order
}

/// What every module's run of a [`synth_hierarchical`] synthesis shares.
struct RunContext<'a> {
    /// The design.
    design: &'a Design,
    /// The directory of the runs (`dir/<module>/` each).
    dir: &'a Path,
    /// Yosys's version, part of every run's cache key.
    version: &'a str,
    /// The design's modules and their source files.
    files: Vec<ModuleFile>,
}

impl RunContext<'_> {
    /// The source file name of `module` (empty if it has none).
    fn file_of(&self, module: &str) -> String {
        self.files.iter().find(|(n, _)| n == module).map(|(_, f)| f.clone()).unwrap_or_default()
    }
}

/// Runs the modules of `queue` in order on `jobs` threads (at most one per
/// module), reporting each start and finish through `progress`; the first
/// failure stops the threads from taking further modules and is returned.
/// The results come in the order the runs finished, each with its `stat`.
fn run_parallel(
    cx: &RunContext<'_>,
    queue: Vec<String>,
    jobs: usize,
    progress: &(dyn Fn(SynthProgress<'_>) + Sync),
) -> Result<Vec<(ModuleRun, String)>, RtlError> {
    let total = queue.len();
    let queue = std::sync::Mutex::new(queue);
    let done: std::sync::Mutex<Vec<(ModuleRun, String)>> = std::sync::Mutex::new(Vec::new());
    let failed: std::sync::Mutex<Option<RtlError>> = std::sync::Mutex::new(None);
    let threads = jobs.clamp(1, total.max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
                        return;
                    }
                    let next = queue.lock().ok().and_then(|mut q| if q.is_empty() { None } else { Some(q.remove(0)) });
                    let Some(m) = next else { return };
                    progress(SynthProgress::Started { module: &m });
                    match run_module(cx, &m) {
                        Ok(r) => {
                            if let Ok(mut d) = done.lock() {
                                d.push(r);
                                progress(SynthProgress::Finished { run: &d[d.len() - 1].0, done: d.len(), total });
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failed.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(done.into_inner().unwrap_or_default())
}

/// Synthesises module `m` in `dir/<m>/` (its children as black boxes), or
/// reuses the run there when its cache key (Yosys's version, the script,
/// the module's text and its children's stubs) is unchanged. Returns the
/// run (its instances still 0) and its `stat` text.
fn run_module(cx: &RunContext<'_>, m: &str) -> Result<(ModuleRun, String), RtlError> {
    let sub = cx.dir.join(m);
    std::fs::create_dir_all(&sub).map_err(|e| RtlError::Io { path: sub.clone(), source: e })?;
    let (script, stubs) = module_sources(cx, &sub, m)?;
    let mut h = crate::emit::Fnv::default();
    for part in
        [cx.version, script.as_str(), module_text(cx.design, m)].into_iter().chain(stubs.iter().map(String::as_str))
    {
        h.write(part.as_bytes());
        h.write(&[0]);
    }
    let key = format!("{:016x}", h.0);
    let (key_path, stat_path, secs_path) = (sub.join("key.txt"), sub.join("stat.txt"), sub.join("seconds.txt"));
    let cached = read(&key_path).ok().is_some_and(|k| k.trim() == key) && stat_path.exists();
    let seconds = if cached {
        read(&secs_path).ok().and_then(|s| s.trim().parse::<f64>().ok()).unwrap_or(0.0)
    } else {
        // A stale key must not vouch for a half-finished run.
        let _ = std::fs::remove_file(&key_path);
        let _ = std::fs::remove_file(&stat_path);
        let s = run_yosys(&sub, &script)?;
        write(&secs_path, &format!("{s:.1}\n"))?;
        write(&key_path, &format!("{key}\n"))?;
        s
    };
    let stat = read(&stat_path)?;
    let run = ModuleRun {
        module: m.to_string(),
        instances: 0,
        own: resources(&parse_stat(&stat)),
        seconds,
        cached,
        log: sub.join("yosys.log"),
    };
    Ok((run, stat))
}

/// Writes module `m`'s source and its children's black boxes into `sub`;
/// returns the Yosys script that synthesises it and the children's stubs.
fn module_sources(cx: &RunContext<'_>, sub: &Path, m: &str) -> Result<(String, Vec<String>), RtlError> {
    let kids = children(cx.design, m);
    let mut lib: Vec<String> = Vec::new();
    let stubs: Vec<String> = kids.iter().map(|k| black_box(module_text(cx.design, k), k)).collect();
    for (k, stub) in kids.iter().zip(&stubs) {
        let f = cx.file_of(k);
        write(&sub.join(&f), stub)?;
        lib.push(f);
    }
    let own = cx.file_of(m);
    write(&sub.join(&own), module_text(cx.design, m))?;
    let script = if lib.is_empty() {
        format!("read_verilog -sv {own}; synth_xilinx -family xcup -top {m}; tee -o stat.txt stat")
    } else {
        format!(
            "read_verilog -lib {}; read_verilog -sv {own}; synth_xilinx -family xcup -top {m}; tee -o stat.txt stat",
            lib.join(" ")
        )
    };
    Ok((script, stubs))
}

/// The instances of each module under `top`: a module's count times the
/// instances its `stat` lists of each child, summed over `order`'s
/// parents-first walk.
fn instance_counts(
    top: &str,
    order: &[String],
    done: &[(ModuleRun, String)],
    module_names: &[String],
) -> Vec<(String, u64)> {
    let mut count: Vec<(String, u64)> = vec![(top.to_string(), 1)];
    for m in order {
        let n = count.iter().find(|(x, _)| x == m).map_or(0, |(_, n)| *n);
        let Some((_, stat)) = done.iter().find(|(r, _)| &r.module == m) else { continue };
        for (c, k) in parse_instances(stat, module_names) {
            match count.iter_mut().find(|(x, _)| *x == c) {
                Some(e) => e.1 += n * k,
                None => count.push((c, n * k)),
            }
        }
    }
    count
}

/// The runs of `synthesised`, in its order, with their instance counts,
/// and the design's cells: each run's cells times its instances (the port
/// buffers of runs other than `top`'s left out). Takes the runs out of `done`.
fn sum_cells(
    top: &str,
    synthesised: &[String],
    done: &mut Vec<(ModuleRun, String)>,
    count: &[(String, u64)],
) -> (Vec<ModuleRun>, Vec<(String, u64)>) {
    let mut runs: Vec<ModuleRun> = Vec::new();
    let mut cells: Vec<(String, u64)> = Vec::new();
    for m in synthesised {
        let Some(pos) = done.iter().position(|(r, _)| &r.module == m) else { continue };
        let (mut run, stat) = done.swap_remove(pos);
        run.instances = count.iter().find(|(x, _)| x == m).map_or(0, |(_, n)| *n);
        for (c, k) in parse_stat(&stat) {
            // Each run maps its module as a top, with I/O and clock buffers on
            // its ports; in the whole design only `top`'s ports have them.
            if m != top && is_port_buffer(&c) {
                continue;
            }
            match cells.iter_mut().find(|(x, _)| *x == c) {
                Some(e) => e.1 += run.instances * k,
                None => cells.push((c, run.instances * k)),
            }
        }
        runs.push(run);
    }
    (runs, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_instances_in_the_design_hierarchy() {
        let text = "=== sat_pe ===\n   Number of cells: 3\n\n=== design hierarchy ===\n\n   sat_pe_array                      1\n     sat_pe                         64\n\n   Number of wires:  9\n";
        assert_eq!(hierarchy_count(text, "sat_pe"), 64);
        assert_eq!(hierarchy_count(text, "sat_dma"), 0);
        assert_eq!(hierarchy_count("=== sat_pe ===\n", "sat_pe"), 0);
    }

    #[test]
    fn parses_a_stat_block() {
        let text = "\n=== sat_top ===\n\n   Number of wires:                 10\n   Number of cells:                 7\n     CARRY8                          1\n     DSP48E2                         2\n     FDRE                           30\n     LUT2                            4\n     LUT6                            5\n     RAMB18E2                        1\n     RAMB36E2                        2\n     RAM64M                          1\n\n   Estimated number of LCs:         9\n";
        let cells = parse_stat(text);
        assert_eq!(cells.len(), 8);
        let r = resources(&cells);
        assert_eq!((r.luts, r.ffs, r.dsps, r.bram36), (13, 30, 2, 2.5));
    }

    #[test]
    fn module_blocks() {
        let text = "=== sat_pe ===\n\n   Number of cells:   2\n     DSP48E2   4\n     LUT6  9\n\n=== design hierarchy ===\n\n   Number of cells:   7\n     DSP48E2   16\n";
        let m = parse_modules(text);
        assert_eq!(m.len(), 1);
        assert_eq!(resources(&m[0].1).dsps, 4);
        assert_eq!(resources(&parse_stat(text)).dsps, 16);
    }

    #[test]
    fn a_black_box_keeps_the_ports_and_drops_the_body() {
        let arch = nmsat_dataflow::ArchConfig::preset("tiny").unwrap();
        let d = crate::emit(&arch, &crate::EmitOptions { imem_bits: 10, fault_injection: false }).unwrap();
        let text = module_text(&d, "sat_lossgrad");
        let stub = black_box(text, "sat_lossgrad");
        assert!(stub.contains("module sat_lossgrad (") && stub.contains("output wire [63:0] wr_data"));
        assert!(stub.trim_end().ends_with(");\nendmodule"), "{stub}");
        assert!(!stub.contains("function") && stub.len() * 10 < text.len());
        // Another body with the same ports gives the same stub.
        let edited = text.replace("17'd32768", "17'd32767");
        assert_ne!(edited, text);
        assert_eq!(black_box(&edited, "sat_lossgrad"), stub);
        // Text it cannot parse stays whole.
        assert_eq!(black_box("module x; endmodule", "x"), "module x; endmodule");
    }

    #[test]
    fn instances_of_black_box_children() {
        let text = "=== sat_gemm ===\n   Number of cells:  9\n     FDRE  4\n     sat_pe_array  1\n\n=== design hierarchy ===\n   sat_pe 4\n";
        let m = vec!["sat_pe_array".to_string(), "sat_pe".to_string()];
        assert_eq!(parse_instances(text, &m), vec![("sat_pe_array".to_string(), 1)]);
    }

    #[test]
    fn the_hierarchy_of_tiny() {
        let arch = nmsat_dataflow::ArchConfig::preset("tiny").unwrap();
        let d = crate::emit(&arch, &crate::EmitOptions { imem_bits: 10, fault_injection: false }).unwrap();
        assert_eq!(children(&d, "sat_pe_array"), ["sat_pe"]);
        assert_eq!(children(&d, "sat_gemm"), ["sat_pe_array"]);
        assert!(children(&d, "sat_pe").is_empty());
        let top = children(&d, "sat_top");
        for m in ["sat_controller", "sat_dma", "sat_gemm", "sat_vector", "sat_sparsifier", "sat_buf_a"] {
            assert!(top.iter().any(|t| t == m), "{m} in {top:?}");
        }
        assert!(check_top(&d, "sat_nope").is_err());
    }

    #[test]
    fn bram_packing_by_hand() {
        // 4096 x 16 fits two 4K x 9 RAMB36; 1024 x 256 needs eight 1K x 36.
        assert_eq!(bram36_for(4096, 16), 2);
        assert_eq!(bram36_for(1024, 256), 8);
        assert_eq!(bram36_for(16384, 48), 24);
    }
}
