//! `ArchConfig`: one typed description of a SAT instance, shared by the
//! compiler, the simulator, the RTL emitter and the reports.
//!
//! A config is read from TOML ([`ArchConfig::from_toml_str`],
//! [`ArchConfig::from_file`]); unknown fields are rejected and every rule is
//! checked in one place ([`ArchConfig::validate`]), which reports *all*
//! problems with the field and line they concern. Derived figures (peak
//! MACs per cycle, on-chip bytes, peak GOPS) come from
//! [`ArchConfig::derived`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ConfigProblem};
use crate::nm::NmPattern;

/// The preset the CLI uses when no `--arch` is given: SAT sized for a VU9P.
pub const DEFAULT_PRESET: &str = include_str!("../../configs/sat-vu9p.toml");

/// Built-in presets by name, the same files as in `configs/`.
pub const PRESETS: &[(&str, &str)] = &[
    ("sat-vu9p", DEFAULT_PRESET),
    ("sat-mid", include_str!("../../configs/sat-mid.toml")),
    ("tiny", include_str!("../../configs/tiny.toml")),
];

/// Numeric format of GEMM operands and the datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumericFormat {
    /// 16-bit two's complement operands, wide integer accumulators and
    /// power-of-two scaling with round-half-up and saturation.
    Int16,
}

impl NumericFormat {
    /// Bytes of one operand element.
    pub fn element_bytes(self) -> u32 {
        match self {
            NumericFormat::Int16 => 2,
        }
    }
}

/// Stationarity of the systolic array for one GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stationarity {
    /// Output-stationary: each PE accumulates one output element.
    Os,
    /// Weight-stationary: each PE holds a `lanes`-wide slice of weights.
    Ws,
}

impl Stationarity {
    /// The mapping a `gemm`'s `ws` bit names.
    pub fn from_ws(ws: bool) -> Self {
        if ws { Stationarity::Ws } else { Stationarity::Os }
    }

    /// The `gemm`'s `ws` bit of this mapping.
    pub fn ws(self) -> bool {
        self == Stationarity::Ws
    }
}

/// The PE array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeArray {
    /// PE rows; in OS mapping row `i` shares the activation stream of output row `i`.
    pub rows: u32,
    /// PE columns; column `j` shares the weight stream of output column `j`.
    pub cols: u32,
    /// Multipliers per PE (and width of its adder tree): in dense mode the
    /// reduction advances by `lanes` elements per cycle.
    pub lanes: u32,
    /// Inputs of each lane's activation mux: the largest supported M.
    pub mux_inputs: u32,
    /// Dataflows the interconnect can switch between; the compiler picks
    /// one per GEMM.
    pub dataflows: Vec<Stationarity>,
}

/// The N:M patterns the PE array executes natively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sparsity {
    /// Supported patterns, e.g. `["2:4", "2:8"]`.
    pub patterns: Vec<NmPattern>,
}

/// Datapath numerics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numerics {
    /// Operand format.
    pub format: NumericFormat,
    /// Accumulator width in bits (32..=64).
    pub accumulator_bits: u32,
}

/// One on-chip SRAM buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    /// Capacity in bytes, both halves of the double buffer together.
    pub bytes: u64,
    /// Independent banks (a power of two); one access per bank per cycle.
    pub banks: u32,
    /// Bytes one bank's port delivers per cycle; `banks · port_bytes` is the
    /// buffer's bandwidth, which can starve the PE array (a port stall).
    pub port_bytes: u32,
}

impl Buffer {
    /// Bytes per cycle over all banks.
    pub fn bytes_per_cycle(&self) -> u64 {
        u64::from(self.banks) * u64::from(self.port_bytes)
    }
}

/// The three operand buffers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffers {
    /// Activations (and, in WG, the output gradient used as an activation).
    pub activation: Buffer,
    /// Weights: dense, or compressed values with their indices.
    pub weight: Buffer,
    /// Outputs / accumulators.
    pub output: Buffer,
}

/// The off-chip memory model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dram {
    /// Sustained bandwidth in bytes per accelerator cycle.
    pub bytes_per_cycle: u32,
    /// Latency from request to first byte, in cycles.
    pub latency_cycles: u32,
    /// Burst size in bytes (a power of two); transfers are rounded up to bursts.
    pub burst_bytes: u32,
    /// How the DMA engine gathers im2col tiles (`load2col`); optional in
    /// TOML, `dram` when absent.
    #[serde(default)]
    pub im2col: Im2col,
    /// Bytes of the im2col line buffer (ADR 003): required (positive) when
    /// `im2col = "line_buffer"`, ignored otherwise (so an exploration may
    /// sweep `dram.im2col` over a line-buffer config). A `load2col`'s raw
    /// window ([`crate::im2col::ConvGeom::line_window`]) must fit it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line_buffer_bytes: u64,
}

fn is_zero(x: &u64) -> bool {
    *x == 0
}

/// Largest line buffer a config may name, in bytes (1 MiB): a fetch's runs
/// (up to one per element) stay within the DMA engine's 20-bit row counter.
pub const MAX_LINE_BUFFER_BYTES: u64 = 1 << 20;

/// How the DMA engine gathers an im2col tile (`load2col`, ADR 002).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Im2col {
    /// Each tile row is read from DRAM as its kernel-tap segments, each
    /// rounded up to bursts (up to `kh·kw` times the raw input's traffic).
    #[default]
    Dram,
    /// The raw input window is fetched once into an on-chip line buffer of
    /// `dram.line_buffer_bytes`, then expanded into the activation buffer
    /// (ADR 003: two phases, both on the DMA engine).
    LineBuffer,
}

/// The sparsifier (the paper's SORE): top-N-of-M lanes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sparsifier {
    /// Parallel lanes; each sorts one group of M in M cycles.
    pub lanes: u32,
}

/// The vector unit (weight update, ReLU, scaling, loss gradient).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorUnit {
    /// Elements processed per cycle.
    pub lanes: u32,
}

/// A complete SAT instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchConfig {
    /// Short name shown in reports.
    pub name: String,
    /// Clock frequency in MHz, used to turn cycles into seconds.
    pub clock_mhz: u32,
    /// The PE array.
    pub pe_array: PeArray,
    /// Supported N:M patterns.
    pub sparsity: Sparsity,
    /// Datapath numerics.
    pub numerics: Numerics,
    /// On-chip buffers.
    pub buffers: Buffers,
    /// Off-chip memory.
    pub dram: Dram,
    /// The sparsifier.
    pub sparsifier: Sparsifier,
    /// The vector unit.
    pub vector_unit: VectorUnit,
}

/// Figures that follow from a config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    /// PEs in the array.
    pub pes: u64,
    /// Multipliers in the array (`rows·cols·lanes`).
    pub multipliers: u64,
    /// Dense MACs per cycle at full utilization.
    pub peak_dense_macs_per_cycle: u64,
    /// For each supported pattern, dense-equivalent MACs per cycle
    /// (`peak_dense · M/N`): the work of the dense GEMM it replaces.
    pub peak_dense_equivalent_macs_per_cycle: BTreeMap<String, u64>,
    /// Activation mux inputs in the array (`multipliers · mux_inputs`).
    pub mux_inputs_total: u64,
    /// On-chip buffer bytes in total.
    pub on_chip_bytes: u64,
    /// DRAM bytes per cycle.
    pub dram_bytes_per_cycle: u32,
    /// DRAM bandwidth in GB/s at the clock.
    pub dram_gbytes_per_second: f64,
    /// Peak dense throughput in GOPS (2 ops per MAC) at the clock.
    pub peak_dense_gops: f64,
    /// Peak dense-equivalent GOPS per pattern at the clock.
    pub peak_dense_equivalent_gops: BTreeMap<String, f64>,
    /// Cycles of pipeline fill plus drain of one tile (adder tree and array skew).
    pub pipeline_fill_drain_cycles: u32,
}

impl ArchConfig {
    /// Parses and validates TOML text; `origin` names it in messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let parse_error = |e: toml::de::Error| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Parse { origin: origin.to_string(), line, column, message: e.message().trim().to_string() }
        };
        // First the syntax, then every unknown or missing field at once,
        // then the types, then the rules.
        let table: toml::Table = text.parse().map_err(parse_error)?;
        let mut problems = Vec::new();
        schema_problems(&table, &schema(), "", &mut problems);
        if !problems.is_empty() {
            for p in &mut problems {
                p.line = find_field_line(text, &p.field);
            }
            problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            return Err(ConfigError::Invalid { origin: origin.to_string(), problems });
        }
        let cfg: ArchConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Parse { origin: origin.to_string(), line, column, message: e.message().trim().to_string() }
        })?;
        let mut problems = cfg.validate();
        if !problems.is_empty() {
            for p in &mut problems {
                p.line = find_field_line(text, &p.field);
            }
            return Err(ConfigError::Invalid { origin: origin.to_string(), problems });
        }
        Ok(cfg)
    }

    /// Reads, parses and validates a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// A built-in preset by name (`sat-vu9p`, `sat-mid`, `tiny`).
    pub fn preset(name: &str) -> Option<Self> {
        PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, t)| Self::from_toml_str(t, n).expect("built-in presets are valid"))
    }

    /// The default config (`configs/sat-vu9p.toml`).
    pub fn default_preset() -> Self {
        Self::preset("sat-vu9p").expect("default preset exists")
    }

    /// Serializes back to TOML (the resolved config).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serializes")
    }

    /// Bytes of one operand element.
    pub fn element_bytes(&self) -> u32 {
        self.numerics.format.element_bytes()
    }

    /// Bytes of one accumulator in the output buffer.
    pub fn accumulator_bytes(&self) -> u32 {
        self.numerics.accumulator_bits.div_ceil(8)
    }

    /// Whether the PE array runs `p` natively.
    pub fn supports(&self, p: NmPattern) -> bool {
        self.sparsity.patterns.contains(&p)
    }

    /// Checks every rule and returns all problems (empty when valid).
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut v = Vec::new();
        let mut bad = |field: &str, message: String| {
            v.push(ConfigProblem { field: field.to_string(), line: None, message });
        };
        if self.name.trim().is_empty() {
            bad("name", "must not be empty".into());
        }
        if self.clock_mhz == 0 || self.clock_mhz > 5000 {
            bad("clock_mhz", format!("{} MHz is outside 1..=5000", self.clock_mhz));
        }
        self.validate_array(&mut bad);
        self.validate_patterns(&mut bad);
        let acc = self.numerics.accumulator_bits;
        if !(32..=64).contains(&acc) {
            bad("numerics.accumulator_bits", format!("{acc} is outside 32..=64"));
        }
        self.validate_buffers(&mut bad);
        self.validate_dram(&mut bad);
        if self.sparsifier.lanes == 0 {
            bad("sparsifier.lanes", "must be positive".into());
        }
        if self.vector_unit.lanes == 0 || !self.vector_unit.lanes.is_power_of_two() {
            bad("vector_unit.lanes", format!("{} must be a power of two", self.vector_unit.lanes));
        }
        v
    }

    /// The PE array's rules (`validate`): its shape, lanes, mux and dataflows.
    fn validate_array(&self, bad: &mut dyn FnMut(&str, String)) {
        let pe = &self.pe_array;
        for (f, x) in [("pe_array.rows", pe.rows), ("pe_array.cols", pe.cols)] {
            if x == 0 || x > 1024 {
                bad(f, format!("{x} is outside 1..=1024"));
            }
        }
        if pe.lanes == 0 || !pe.lanes.is_power_of_two() || pe.lanes > 256 {
            bad("pe_array.lanes", format!("{} must be a power of two in 1..=256 (it sizes an adder tree)", pe.lanes));
        }
        if pe.mux_inputs == 0 || !pe.mux_inputs.is_power_of_two() || pe.mux_inputs > crate::nm::MAX_M {
            bad("pe_array.mux_inputs", format!("{} must be a power of two in 1..={}", pe.mux_inputs, crate::nm::MAX_M));
        }
        if pe.dataflows.is_empty() {
            bad("pe_array.dataflows", "needs at least one of \"os\", \"ws\"".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &pe.dataflows {
            if !seen.insert(*d) {
                bad("pe_array.dataflows", format!("{d:?} listed twice"));
            }
        }
    }

    /// The sparsity patterns' rules: each once, within the mux, whole groups per lane set.
    fn validate_patterns(&self, bad: &mut dyn FnMut(&str, String)) {
        let pe = &self.pe_array;
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.sparsity.patterns {
            if !seen.insert(*p) {
                bad("sparsity.patterns", format!("{p} listed twice"));
            }
            if p.m() > pe.mux_inputs {
                bad(
                    "sparsity.patterns",
                    format!(
                        "{p}: M = {} exceeds the {}-input activation mux (pe_array.mux_inputs)",
                        p.m(),
                        pe.mux_inputs
                    ),
                );
            }
            if pe.lanes != 0 && pe.lanes % p.n() != 0 {
                bad(
                    "sparsity.patterns",
                    format!("{p}: {} lanes do not split into whole groups of N = {}", pe.lanes, p.n()),
                );
            }
            if p.n() == p.m() {
                bad("sparsity.patterns", format!("{p} is dense; list only sparse patterns"));
            }
        }
    }

    /// The operand buffers' rules: addressable, one double-buffered tile, whole banks.
    fn validate_buffers(&self, bad: &mut dyn FnMut(&str, String)) {
        let pe = &self.pe_array;
        let eb = u64::from(self.element_bytes());
        let ab = u64::from(self.accumulator_bytes());
        let (rows, cols, lanes) = (u64::from(pe.rows), u64::from(pe.cols), u64::from(pe.lanes));
        // Widest K-step of one cycle: lanes·M/N activations for the sparsest pattern.
        let max_expand =
            self.sparsity.patterns.iter().map(|p| u64::from(p.m() / p.n().max(1))).max().unwrap_or(1).max(1);
        // The smallest tile the array can run: one K-step per PE row/column,
        // twice for double buffering.
        let min_act = 2 * rows * lanes * max_expand * eb;
        let min_wgt = 2 * cols * lanes * (eb + 1);
        let min_out = 2 * rows * cols * ab;
        // Buffers are element-addressed by the ISA's `sram` fields.
        let addr_bits = crate::isa::field_pos("load", "sram").bits;
        for (name, b, min, elem) in [
            ("buffers.activation", &self.buffers.activation, min_act, eb),
            ("buffers.weight", &self.buffers.weight, min_wgt, eb),
            ("buffers.output", &self.buffers.output, min_out, ab),
        ] {
            if b.bytes / elem.max(1) > 1u64 << addr_bits {
                bad(
                    &format!("{name}.bytes"),
                    format!(
                        "{} bytes are {} elements, beyond the {} the ISA's {addr_bits}-bit buffer addresses reach",
                        b.bytes,
                        b.bytes / elem.max(1),
                        1u64 << addr_bits
                    ),
                );
            }
            if b.bytes == 0 {
                bad(&format!("{name}.bytes"), "must be positive".into());
            } else if b.bytes < min {
                bad(
                    &format!("{name}.bytes"),
                    format!(
                        "{} bytes cannot hold one double-buffered tile of this PE array ({min} bytes needed)",
                        b.bytes
                    ),
                );
            }
            if b.port_bytes == 0 || !b.port_bytes.is_power_of_two() {
                bad(&format!("{name}.port_bytes"), format!("{} must be a power of two", b.port_bytes));
            }
            if b.banks == 0 || !b.banks.is_power_of_two() {
                bad(&format!("{name}.banks"), format!("{} must be a power of two", b.banks));
            } else if b.bytes % (u64::from(b.banks) * 2 * eb) != 0 {
                bad(
                    &format!("{name}.banks"),
                    format!("{} bytes do not split into {} banks of whole elements in two halves", b.bytes, b.banks),
                );
            }
        }
    }

    /// The DRAM channel's and the line buffer's rules.
    fn validate_dram(&self, bad: &mut dyn FnMut(&str, String)) {
        let eb = u64::from(self.element_bytes());
        let d = &self.dram;
        if d.bytes_per_cycle == 0 {
            bad("dram.bytes_per_cycle", "must be positive".into());
        }
        if d.latency_cycles > 100_000 {
            bad("dram.latency_cycles", format!("{} is implausibly large (max 100000)", d.latency_cycles));
        }
        if d.burst_bytes == 0 || !d.burst_bytes.is_power_of_two() || u64::from(d.burst_bytes) < eb {
            bad("dram.burst_bytes", format!("{} must be a power of two of at least one element", d.burst_bytes));
        }
        let lb = d.line_buffer_bytes;
        match d.im2col {
            Im2col::LineBuffer if lb == 0 => {
                bad("dram.line_buffer_bytes", "required (a positive size) when im2col = \"line_buffer\"".into())
            }
            Im2col::LineBuffer if lb % 2 != 0 || lb > MAX_LINE_BUFFER_BYTES => bad(
                "dram.line_buffer_bytes",
                format!("{lb} must be a whole number of elements of at most {MAX_LINE_BUFFER_BYTES} bytes"),
            ),
            _ => {}
        }
    }

    /// Derived figures.
    pub fn derived(&self) -> Derived {
        let pe = &self.pe_array;
        let pes = u64::from(pe.rows) * u64::from(pe.cols);
        let mult = pes * u64::from(pe.lanes);
        let ghz = f64::from(self.clock_mhz) / 1000.0;
        let mut eq = BTreeMap::new();
        let mut eq_gops = BTreeMap::new();
        for p in &self.sparsity.patterns {
            let v = mult * u64::from(p.m()) / u64::from(p.n());
            eq.insert(p.to_string(), v);
            eq_gops.insert(p.to_string(), 2.0 * v as f64 * ghz);
        }
        let b = &self.buffers;
        Derived {
            pes,
            multipliers: mult,
            peak_dense_macs_per_cycle: mult,
            peak_dense_equivalent_macs_per_cycle: eq,
            mux_inputs_total: mult * u64::from(pe.mux_inputs),
            on_chip_bytes: b.activation.bytes + b.weight.bytes + b.output.bytes,
            dram_bytes_per_cycle: self.dram.bytes_per_cycle,
            dram_gbytes_per_second: f64::from(self.dram.bytes_per_cycle) * ghz,
            peak_dense_gops: 2.0 * mult as f64 * ghz,
            peak_dense_equivalent_gops: eq_gops,
            pipeline_fill_drain_cycles: self.pipeline_fill_drain_cycles(),
        }
    }

    /// Fill plus drain of one tile: the adder tree depth, one multiply
    /// stage, and the skew across the array's rows and columns.
    pub fn pipeline_fill_drain_cycles(&self) -> u32 {
        let pe = &self.pe_array;
        pe.lanes.trailing_zeros() + 1 + pe.rows + pe.cols - 2
    }
}

/// The shape every config must have: the default preset as a TOML table
/// (all fields are required, none optional).
/// Fields a config may leave out (their serde default applies).
const OPTIONAL: &[&str] = &["dram.im2col", "dram.line_buffer_bytes"];

fn schema() -> toml::Table {
    DEFAULT_PRESET.parse().expect("default preset parses")
}

fn schema_problems(have: &toml::Table, want: &toml::Table, prefix: &str, out: &mut Vec<ConfigProblem>) {
    let path = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    for (k, v) in have {
        match want.get(k) {
            None => out.push(ConfigProblem {
                field: path(k),
                line: None,
                message: format!(
                    "unknown field; expected one of: {}",
                    want.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                ),
            }),
            Some(toml::Value::Table(w)) => match v {
                toml::Value::Table(h) => schema_problems(h, w, &path(k), out),
                _ => out.push(ConfigProblem { field: path(k), line: None, message: "must be a table".into() }),
            },
            Some(_) => {}
        }
    }
    for k in want.keys() {
        if !have.contains_key(k) && !OPTIONAL.contains(&path(k).as_str()) {
            out.push(ConfigProblem { field: path(k), line: None, message: "missing field".into() });
        }
    }
}

/// 1-based (line, column) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Line of `a.b.c = …` in a TOML text: the key `c` under table `[a.b]`, or a
/// dotted key. Good enough for hand-written configs; `None` when absent.
fn find_field_line(text: &str, field: &str) -> Option<usize> {
    let (table, key) = match field.rsplit_once('.') {
        Some((t, k)) => (t, k),
        None => ("", field),
    };
    let mut current = String::new();
    let mut table_line = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            current = line.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if current == table {
                table_line = Some(i + 1);
            }
            continue;
        }
        if let Some((k, _)) = line.split_once('=') {
            let k = k.trim();
            let full = if current.is_empty() { k.to_string() } else { format!("{current}.{k}") };
            if full == field || (current == table && k == key) {
                return Some(i + 1);
            }
        }
    }
    table_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_and_2_8_is_4x() {
        for (name, _) in PRESETS {
            let c = ArchConfig::preset(name).unwrap();
            assert!(c.validate().is_empty());
            let d = c.derived();
            if let Some(&v) = d.peak_dense_equivalent_macs_per_cycle.get("2:8") {
                assert_eq!(v, 4 * d.peak_dense_macs_per_cycle);
            }
        }
        let d = ArchConfig::default_preset().derived();
        assert_eq!(d.peak_dense_equivalent_macs_per_cycle["2:4"], 2 * d.peak_dense_macs_per_cycle);
    }

    #[test]
    fn toml_roundtrip() {
        let c = ArchConfig::default_preset();
        let again = ArchConfig::from_toml_str(&c.to_toml(), "x").unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn unknown_field_names_field_and_line() {
        let text = DEFAULT_PRESET.replacen("[dram]", "[dram]\nbogus = 3", 1);
        let e = ArchConfig::from_toml_str(&text, "f.toml").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("`dram.bogus`"), "{s}");
        let line = text.lines().position(|l| l.starts_with("bogus")).unwrap() + 1;
        assert!(s.contains(&format!("line {line}: `dram.bogus`")), "{s}");
    }

    #[test]
    fn im2col_is_optional_and_checked() {
        assert_eq!(ArchConfig::default_preset().dram.im2col, Im2col::LineBuffer);
        let without = DEFAULT_PRESET.replacen("im2col = \"line_buffer\"\n", "", 1).replacen(
            "line_buffer_bytes = 262144\n",
            "",
            1,
        );
        assert_eq!(without.len() + 50, DEFAULT_PRESET.len());
        assert_eq!(ArchConfig::from_toml_str(&without, "f.toml").unwrap().dram.im2col, Im2col::Dram);
        let bad = DEFAULT_PRESET.replacen("im2col = \"line_buffer\"", "im2col = \"sideways\"", 1);
        let s = ArchConfig::from_toml_str(&bad, "f.toml").unwrap_err().to_string();
        let line = bad.lines().position(|l| l.starts_with("im2col")).unwrap() + 1;
        assert!(s.contains("sideways") && s.contains(&format!(":{line}:")), "{s}");
    }

    #[test]
    fn a_line_buffer_needs_its_size() {
        assert_eq!(ArchConfig::default_preset().dram.line_buffer_bytes, 262_144);
        let missing = DEFAULT_PRESET.replacen("line_buffer_bytes = 262144\n", "", 1);
        let s = ArchConfig::from_toml_str(&missing, "f.toml").unwrap_err().to_string();
        assert!(s.contains("dram.line_buffer_bytes") && s.contains("required"), "{s}");
        let odd = DEFAULT_PRESET.replacen("line_buffer_bytes = 262144", "line_buffer_bytes = 2097152", 1);
        let s = ArchConfig::from_toml_str(&odd, "f.toml").unwrap_err().to_string();
        assert!(s.contains("at most 1048576 bytes"), "{s}");
        // Ignored by the dram gather (an exploration may sweep im2col); absent, not written back.
        let dram = DEFAULT_PRESET.replacen("im2col = \"line_buffer\"", "im2col = \"dram\"", 1);
        assert!(ArchConfig::from_toml_str(&dram, "f.toml").is_ok());
        let c = ArchConfig::from_toml_str(&dram.replacen("line_buffer_bytes = 262144\n", "", 1), "f").unwrap();
        assert!(!c.to_toml().contains("line_buffer_bytes"));
    }

    #[test]
    fn all_problems_reported_with_lines() {
        let text = DEFAULT_PRESET.replacen("rows = 16", "rows = 0", 1).replacen("lanes = 8", "lanes = 6", 1).replacen(
            "latency_cycles = 64",
            "latency_cycles = 64\nburst_bytes_unused_marker = 0",
            0,
        );
        let e = ArchConfig::from_toml_str(&text, "f.toml").unwrap_err();
        let ConfigError::Invalid { problems, .. } = e else { panic!("{e}") };
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"pe_array.rows"), "{fields:?}");
        assert!(fields.contains(&"pe_array.lanes"), "{fields:?}");
        let rows = problems.iter().find(|p| p.field == "pe_array.rows").unwrap();
        let want = text.lines().position(|l| l.trim() == "rows = 0").unwrap() + 1;
        assert_eq!(rows.line, Some(want));
    }

    #[test]
    fn pattern_wider_than_mux_is_rejected() {
        let text = DEFAULT_PRESET.replacen("mux_inputs = 8", "mux_inputs = 4", 1);
        let e = ArchConfig::from_toml_str(&text, "f").unwrap_err().to_string();
        assert!(e.contains("exceeds the 4-input activation mux"), "{e}");
    }

    #[test]
    fn tiny_buffer_rejected() {
        let text = DEFAULT_PRESET.replacen("bytes = 524288", "bytes = 64", 1);
        let e = ArchConfig::from_toml_str(&text, "f").unwrap_err().to_string();
        assert!(e.contains("cannot hold one double-buffered tile"), "{e}");
    }

    #[test]
    fn buffers_beyond_the_isa_addresses_are_rejected() {
        // 64 MiB of int16 activations: 32 Mi elements, beyond 24-bit element addresses.
        let text = DEFAULT_PRESET.replacen("bytes = 524288", "bytes = 67108864", 1);
        let e = ArchConfig::from_toml_str(&text, "f").unwrap_err().to_string();
        assert!(e.contains("buffers.activation.bytes") && e.contains("24-bit buffer addresses"), "{e}");
        let ok = DEFAULT_PRESET.replacen("bytes = 524288", "bytes = 33554432", 1);
        assert!(ArchConfig::from_toml_str(&ok, "f").is_ok(), "16 Mi elements are addressable");
    }

    #[test]
    fn malformed_toml_has_line() {
        let e = ArchConfig::from_toml_str("name = \"x\"\nrows = [\n", "bad.toml").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { line: 2 | 3, .. }), "{e}");
    }
}
