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
    let p = &design.params;
    let widths = [16u64, 16 + u64::from(crate::emit::datapath::INDEX_BITS), u64::from(p.acc_bits)];
    ["A", "W", "O"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let banks = u64::from(p.banks[i]);
            (name.to_string(), banks * bram36_for(p.cap[i].div_ceil(banks), widths[i]))
        })
        .collect()
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
    /// Wall seconds Yosys took.
    pub seconds: f64,
    /// The Yosys log.
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

/// Runs Yosys on the hierarchy under one module of `design` (`sat_top` for
/// the whole SAT; e.g. `sat_pe_array` for the PE array alone, which
/// synthesises in minutes where the whole design takes hours) and returns
/// its resource counts. The operand buffers' block RAMs are counted only
/// for the whole design.
pub fn synth_module(design: &Design, dir: &Path, top: &str) -> Result<SynthReport, RtlError> {
    let version = crate::cosim::tool_version("yosys", "-V")?;
    let files = design.write(dir)?;
    let sources: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "v" || e == "sv"))
        .map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default())
        .collect();
    let modules: Vec<&str> = sources.iter().filter_map(|s| s.split('.').next()).collect();
    if !modules.contains(&top) {
        return Err(RtlError::Unsupported(format!(
            "no module `{top}` in the design of `{}`; modules: {}",
            design.params.name,
            modules.join(", ")
        )));
    }
    // The behavioural multi-port buffers are read as black boxes; their
    // block RAMs are counted from the buffer geometry.
    let (bufs, logic): (Vec<&String>, Vec<&String>) = sources.iter().partition(|s| s.starts_with("sat_buf_"));
    let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
    let script = format!(
        "read_verilog -lib {}; read_verilog -sv {}; synth_xilinx -family xcup -top {}; tee -o stat.txt stat",
        join(&bufs),
        join(&logic),
        top
    );
    let log = dir.join("yosys.log");
    let t0 = Instant::now();
    let out = Command::new("yosys")
        .current_dir(dir)
        .arg("-q")
        .arg("-l")
        .arg("yosys.log")
        .arg("-p")
        .arg(&script)
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
    let stat_path = dir.join("stat.txt");
    let stat = std::fs::read_to_string(&stat_path).map_err(|e| RtlError::Io { path: stat_path, source: e })?;
    let cells = parse_stat(&stat);
    let logic = resources(&cells);
    let buffers_bram36 = if top == design.top { buffer_bram36(design) } else { Vec::new() };
    let modules: Vec<(String, Resources)> = parse_modules(&stat).into_iter().map(|(n, c)| (n, resources(&c))).collect();
    let dsps_per_pe = modules.iter().find(|(n, _)| n == "sat_pe").map_or(0, |(_, r)| r.dsps);
    // PEs in the synthesised hierarchy: counted from Yosys's instance tree.
    let pes = if top == "sat_pe" { 1 } else { hierarchy_count(&stat, "sat_pe") };
    let mut total = logic;
    total.bram36 += buffers_bram36.iter().map(|(_, n)| *n as f64).sum::<f64>();
    Ok(SynthReport {
        config: design.params.name.clone(),
        top: top.to_string(),
        yosys: version,
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
        seconds,
        log,
    })
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
    fn bram_packing_by_hand() {
        // 4096 x 16 fits two 4K x 9 RAMB36; 1024 x 256 needs eight 1K x 36.
        assert_eq!(bram36_for(4096, 16), 2);
        assert_eq!(bram36_for(1024, 256), 8);
        assert_eq!(bram36_for(16384, 48), 24);
    }
}
