//! `nmsat arch import`: a SCALE-Sim v3 config (`.cfg`, INI) as an
//! [`ArchConfig`].
//!
//! SCALE-Sim describes a systolic array of one-MAC PEs with three
//! double-buffered SRAMs counted in kB of one-byte words
//! (`scalesim/single_layer_sim.py`: `word_size = 1`), a dataflow and an
//! interface bandwidth in words per cycle (or `CALC`: sized per layer so
//! the array never stalls). What maps, maps one to one: array height and
//! width to `pe_array.rows`/`cols`, one MAC per PE to `lanes = 1`, the
//! dataflow, and the word counts of the SRAMs and the interface (a word
//! becomes one nmsat element: 2 bytes of int16, or one accumulator in the
//! output buffer). Everything SCALE-Sim has no equivalent for is a stated
//! choice ([`Choice`]), written as a comment next to the field in the TOML
//! and returned for the CLI to print.
//!
//! Keys SCALE-Sim reads but nmsat does not model (memory offsets, request
//! buffers, custom SRAM layouts, Ramulator traces) are listed as ignored;
//! keys SCALE-Sim itself does not read (e.g. `MemoryBanks`) too.

mod ini;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::arch::ArchConfig;
use crate::error::ConfigError;
use crate::nm::MAX_M;
use ini::{Entry, Ini};

/// Errors of reading a SCALE-Sim config.
#[derive(Debug, Error)]
pub enum CfgError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not valid INI.
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A key SCALE-Sim requires is absent.
    #[error("{file}: `[{section}]` has no `{key}` ({why})")]
    Missing {
        /// The file.
        file: String,
        /// The section it belongs in.
        section: String,
        /// The key.
        key: String,
        /// What it is needed for.
        why: String,
    },
    /// A key's value is not what SCALE-Sim (or nmsat) accepts.
    #[error("{file}:{line}: `{key}` = `{value}`: {expected}")]
    Value {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// The imported config breaks one of nmsat's rules (a bug in the
    /// mapping: every value is range-checked first).
    #[error("the config imported from {file} is not valid: {source}")]
    Invalid {
        /// The file.
        file: String,
        /// The rules it breaks.
        source: ConfigError,
    },
}

/// A field SCALE-Sim has no equivalent for, and the value chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Dotted `ArchConfig` field, e.g. `clock_mhz`.
    pub field: String,
    /// The value written.
    pub value: String,
    /// Why this value.
    pub why: String,
}

/// An imported config.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The config (valid by [`ArchConfig::validate`]).
    pub config: ArchConfig,
    /// Its TOML text, with the source of every field as comments.
    pub toml: String,
    /// Every field chosen because SCALE-Sim has no equivalent.
    pub choices: Vec<Choice>,
    /// Keys of the file that were read but not used, each with the reason.
    pub ignored: Vec<String>,
}

/// The largest array side nmsat accepts (`pe_array.rows`/`cols`).
const MAX_SIDE: u64 = 1024;
/// Bytes of an operand element (int16) and of an accumulator (48 bits).
const ELEM: u64 = 2;
const ACC: u64 = 6;

/// Reads and imports a SCALE-Sim config file.
pub fn import_file(path: &Path) -> Result<Imported, CfgError> {
    let text = std::fs::read_to_string(path).map_err(|source| CfgError::Io { path: path.to_path_buf(), source })?;
    import(&text, &path.display().to_string())
}

/// Imports the text of a SCALE-Sim config; `file` names it in errors and
/// its last path component in the TOML's header.
pub fn import(text: &str, file: &str) -> Result<Imported, CfgError> {
    let ini = ini::parse(file, text)?;
    let r = Reader { ini: &ini, file };
    let s = Scalesim::read(&r)?;
    let (toml, choices) = s.render(file.rsplit(['/', '\\']).next().unwrap_or(file));
    let config = ArchConfig::from_toml_str(&toml, file)
        .map_err(|source| CfgError::Invalid { file: file.to_string(), source })?;
    Ok(Imported { config, toml, choices, ignored: ignored(&ini) })
}

/// Looks keys up with errors that name the file, line and key.
struct Reader<'a> {
    ini: &'a Ini,
    file: &'a str,
}

impl Reader<'_> {
    fn entry(&self, section: &str, key: &str, why: &str) -> Result<&Entry, CfgError> {
        self.ini.get(section, key).ok_or_else(|| CfgError::Missing {
            file: self.file.to_string(),
            section: section.to_string(),
            key: key.to_string(),
            why: why.to_string(),
        })
    }

    fn bad(&self, e: &Entry, expected: impl Into<String>) -> CfgError {
        CfgError::Value {
            file: self.file.to_string(),
            line: e.line,
            key: e.key.clone(),
            value: e.value.clone(),
            expected: expected.into(),
        }
    }

    /// A whole number in `1..=max`.
    fn positive(&self, e: &Entry, max: u64, what: &str) -> Result<u64, CfgError> {
        match e.value.parse::<u64>() {
            Ok(v) if (1..=max).contains(&v) => Ok(v),
            Ok(v) if v > max => Err(self.bad(e, format!("{what} is at most {max}"))),
            _ => Err(self.bad(e, format!("{what} must be a whole number in 1..={max}"))),
        }
    }

    fn number(&self, section: &str, key: &str, max: u64, what: &str) -> Result<(u64, usize), CfgError> {
        let e = self.entry(section, key, what)?;
        Ok((self.positive(e, max, what)?, e.line))
    }
}

/// The dataflows of SCALE-Sim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dataflow {
    Os,
    Ws,
    Is,
}

/// What a SCALE-Sim config says, read and range-checked.
struct Scalesim {
    run_name: String,
    rows: u64,
    cols: u64,
    /// kB of words: ifmap, filter, ofmap.
    sram_kb: [u64; 3],
    dataflow: Dataflow,
    /// `Some(words/cycle)` in USER mode, `None` in CALC mode.
    bandwidth: Option<u64>,
    /// `Some(M)` when sparsity support is on.
    block: Option<u64>,
}

/// Largest SRAM in kB: 16 Mi int16 elements (the ISA's 24-bit buffer
/// addresses) are 16384 kB of one-byte words.
const MAX_SRAM_KB: u64 = 16 * 1024;

impl Scalesim {
    fn read(r: &Reader<'_>) -> Result<Self, CfgError> {
        let a = "architecture_presets";
        let name = r.entry("general", "run_name", "the config's name")?;
        if name.value.is_empty() {
            return Err(r.bad(name, "a non-empty name"));
        }
        let side = |k: &str, f: &str| r.number(a, k, MAX_SIDE, &format!("the array's {f} (nmsat's `pe_array.{f}`)"));
        let (rows, _) = side("ArrayHeight", "rows")?;
        let (cols, _) = side("ArrayWidth", "cols")?;
        let sram = |k: &str| r.number(a, k, MAX_SRAM_KB, "an SRAM size in kB of words").map(|v| v.0);
        let sram_kb = [sram("IfmapSramSzkB")?, sram("FilterSramSzkB")?, sram("OfmapSramSzkB")?];
        let df = r.entry(a, "Dataflow", "os, ws or is")?;
        let dataflow = match df.value.as_str() {
            "os" => Dataflow::Os,
            "ws" => Dataflow::Ws,
            "is" => Dataflow::Is,
            _ => return Err(r.bad(df, "one of os, ws, is (lower case, as SCALE-Sim compares it)")),
        };
        let mode = r.entry("run_presets", "InterfaceBandwidth", "USER or CALC")?;
        let bandwidth = match mode.value.as_str() {
            "CALC" => None,
            "USER" => {
                let e = r.entry(a, "Bandwidth", "the interface bandwidth in words/cycle of USER mode")?;
                let first = e.value.split(',').next().unwrap_or("").trim();
                match first.parse::<u64>() {
                    Ok(v) if (1..=1 << 20).contains(&v) => Some(v),
                    _ => return Err(r.bad(e, "words per cycle, a whole number in 1..=1048576 (a list uses its first)")),
                }
            }
            _ => return Err(r.bad(mode, "USER or CALC")),
        };
        let block = match r.ini.get("sparsity", "SparsitySupport") {
            None => None,
            Some(e) if e.value.eq_ignore_ascii_case("false") => None,
            Some(e) if e.value.eq_ignore_ascii_case("true") => {
                let b = r.entry("sparsity", "BlockSize", "the block size M of sparsity support")?;
                let m = r.positive(b, u64::from(MAX_M), "BlockSize (nmsat's largest M)")?;
                if !m.is_power_of_two() || m < 2 {
                    return Err(r.bad(b, "a power of two in 2..=16 (nmsat's activation mux)"));
                }
                Some(m)
            }
            Some(e) => return Err(r.bad(e, "true or false")),
        };
        for (section, key) in [
            (a, "IfmapOffset"),
            (a, "FilterOffset"),
            (a, "OfmapOffset"),
            (a, "ReadRequestBuffer"),
            (a, "WriteRequestBuffer"),
        ] {
            if let Some(e) = r.ini.get(section, key)
                && e.value.parse::<u64>().is_err()
            {
                return Err(r.bad(e, "a whole number (SCALE-Sim reads it with int())"));
            }
        }
        Ok(Scalesim { run_name: name.value.clone(), rows, cols, sram_kb, dataflow, bandwidth, block })
    }
}

/// Keys that are read by nothing here, with the reason.
fn ignored(ini: &Ini) -> Vec<String> {
    let used: &[(&str, &str)] = &[
        ("general", "run_name"),
        ("architecture_presets", "ArrayHeight"),
        ("architecture_presets", "ArrayWidth"),
        ("architecture_presets", "IfmapSramSzkB"),
        ("architecture_presets", "FilterSramSzkB"),
        ("architecture_presets", "OfmapSramSzkB"),
        ("architecture_presets", "Dataflow"),
        ("architecture_presets", "Bandwidth"),
        ("run_presets", "InterfaceBandwidth"),
        ("sparsity", "SparsitySupport"),
        ("sparsity", "BlockSize"),
    ];
    let scalesim_reads: &[&str] = &[
        "IfmapOffset",
        "FilterOffset",
        "OfmapOffset",
        "ReadRequestBuffer",
        "WriteRequestBuffer",
        "UseRamulatorTrace",
        "SparseRep",
        "OptimizedMapping",
        "RandomNumberGeneratorSeed",
    ];
    let mut out = Vec::new();
    for s in &ini.sections {
        for e in &s.entries {
            if used.iter().any(|(sec, k)| *sec == s.name && e.key.eq_ignore_ascii_case(k)) {
                continue;
            }
            let why = if s.name == "layout" {
                "custom SRAM layouts and bank models are not modelled (nmsat's buffer ports are sized not to stall)"
            } else if scalesim_reads.iter().any(|k| e.key.eq_ignore_ascii_case(k)) {
                "no nmsat equivalent (nmsat lays out its own memory and has no request buffers or DRAM traces)"
            } else {
                "SCALE-Sim v3 does not read it either"
            };
            out.push(format!("[{}] {} (line {}): {why}", s.name, e.key, e.line));
        }
    }
    out
}

impl Scalesim {
    /// The TOML text and the choices made.
    fn render(&self, file: &str) -> (String, Vec<Choice>) {
        let mut choices = Vec::new();
        let mut t = String::new();
        let mut chose = |t: &mut String, field: &str, value: String, why: &str| {
            let _ = writeln!(t, "# chosen (no SCALE-Sim equivalent): {why}");
            let key = field.rsplit('.').next().unwrap_or(field);
            let _ = writeln!(t, "{key} = {value}");
            choices.push(Choice { field: field.to_string(), value, why: why.to_string() });
        };
        let (rows, cols) = (self.rows, self.cols);
        let _ = writeln!(t, "# Imported from the SCALE-Sim config `{file}` by `nmsat arch import`.");
        let _ = writeln!(t, "# A SCALE-Sim word (1 byte there) is one nmsat element: 2 bytes of int16, or one");
        let _ = writeln!(t, "# 48-bit accumulator in the output buffer. \"chosen\" marks a field SCALE-Sim has");
        let _ = writeln!(t, "# no equivalent for.");
        let _ = writeln!(t, "name = {}", toml_string(&self.run_name));
        chose(&mut t, "clock_mhz", "200".into(), "SCALE-Sim counts cycles only; nmsat's default clock");
        let _ = writeln!(t, "\n[pe_array]\n# ArrayHeight x ArrayWidth");
        let _ = writeln!(t, "rows = {rows}\ncols = {cols}");
        let _ = writeln!(t, "# a SCALE-Sim PE is one MAC");
        let _ = writeln!(t, "lanes = 1");
        let (mux, patterns) = match self.block {
            Some(m) => (m, format!("[\"1:{m}\"]")),
            None => (1, "[]".to_string()),
        };
        match self.block {
            Some(m) => {
                let _ = writeln!(t, "# SparsitySupport = true, BlockSize = {m}: the mux selects one of M");
                let _ = writeln!(t, "mux_inputs = {mux}");
            }
            None => chose(&mut t, "pe_array.mux_inputs", "1".into(), "SparsitySupport is off: dense only, no mux"),
        }
        let ws_needs_os = "nmsat adds \"os\": a training step's WG GEMMs read a transposed activation, which \
                           only OS streams (docs/adr-004-weight-stationary.md)";
        match self.dataflow {
            Dataflow::Os => {
                let _ = writeln!(t, "# Dataflow = os\ndataflows = [\"os\"]");
            }
            Dataflow::Ws => {
                chose(&mut t, "pe_array.dataflows", "[\"ws\", \"os\"]".into(), &format!("Dataflow = ws; {ws_needs_os}"))
            }
            Dataflow::Is => chose(
                &mut t,
                "pe_array.dataflows",
                "[\"ws\", \"os\"]".into(),
                &format!(
                    "Dataflow = is; nmsat has no input-stationary mode: IS is WS of the transposed GEMM; {ws_needs_os}"
                ),
            ),
        }
        let _ = writeln!(t, "\n[sparsity]");
        match self.block {
            Some(m) => {
                let _ = writeln!(t, "# SCALE-Sim runs any N:{m} per layer; one MAC per PE runs N = 1 only");
                let _ = writeln!(t, "patterns = {patterns}");
            }
            None => {
                let _ = writeln!(t, "# SparsitySupport = false: dense only");
                let _ = writeln!(t, "patterns = {patterns}");
            }
        }
        let _ = writeln!(t, "\n[numerics]");
        chose(&mut t, "numerics.format", "\"int16\"".into(), "SCALE-Sim models no number format; nmsat's only one");
        chose(&mut t, "numerics.accumulator_bits", "48".into(), "nmsat's default accumulator width");
        let bufs = [
            ("activation", "IfmapSramSzkB", self.sram_kb[0], ELEM, rows * ELEM * self.block.unwrap_or(1)),
            ("weight", "FilterSramSzkB", self.sram_kb[1], ELEM, cols * (ELEM + 1)),
            ("output", "OfmapSramSzkB", self.sram_kb[2], ACC, cols * ACC),
        ];
        for (name, key, kb, per, need) in bufs {
            let words = kb * 1024;
            let _ = writeln!(t, "\n[buffers.{name}]\n# {key} = {kb}: {words} words of {per} bytes");
            let _ = writeln!(t, "bytes = {}", words * per);
            chose(&mut t, &format!("buffers.{name}.banks"), "1".into(), "SCALE-Sim's compute model has no banks");
            let port = need.next_power_of_two();
            chose(
                &mut t,
                &format!("buffers.{name}.port_bytes"),
                port.to_string(),
                "SCALE-Sim's array never waits on its SRAMs: a port as wide as the array's per-cycle demand",
            );
        }
        let _ = writeln!(t, "\n[dram]");
        match self.bandwidth {
            Some(w) => {
                let _ =
                    writeln!(t, "# InterfaceBandwidth = USER, Bandwidth = {w} words/cycle; nmsat has one DRAM channel");
                let _ = writeln!(t, "bytes_per_cycle = {}", w * ELEM);
            }
            None => chose(
                &mut t,
                "dram.bytes_per_cycle",
                ((rows + cols) * ELEM).to_string(),
                "InterfaceBandwidth = CALC sizes the interface per layer so it never stalls; nmsat needs one \
                 figure: the array's edge demand, ArrayHeight + ArrayWidth words/cycle (not unlimited)",
            ),
        }
        chose(&mut t, "dram.latency_cycles", "0".into(), "SCALE-Sim's interface has no latency (without Ramulator)");
        chose(&mut t, "dram.burst_bytes", "64".into(), "SCALE-Sim moves words, not bursts; nmsat's default burst");
        chose(
            &mut t,
            "dram.im2col",
            "\"line_buffer\"".into(),
            "SCALE-Sim fetches each ifmap word once per SRAM fill; nmsat's on-chip im2col does too",
        );
        chose(
            &mut t,
            "dram.line_buffer_bytes",
            "262144".into(),
            "the im2col line buffer's size (ADR 003); sat-vu9p's value",
        );
        let _ = writeln!(t, "\n[sparsifier]");
        chose(&mut t, "sparsifier.lanes", "32".into(), "SCALE-Sim has no sparsifier; sat-vu9p's value");
        let _ = writeln!(t, "\n[vector_unit]");
        chose(&mut t, "vector_unit.lanes", "32".into(), "SCALE-Sim has no vector unit; sat-vu9p's value");
        (t, choices)
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests;
