//! Energy reference tables: component → action → energy per unit, in the
//! shape of Accelergy's energy reference tables (ERT), read from TOML.
//!
//! ```toml
//! name = "example"
//! description = "what the numbers are for"
//!
//! [primitives.int16_mult]          # optional named operations
//! energy_pj = 0.787
//! source = "..."
//! derived = "interpolated between 8- and 32-bit"
//!
//! [pe_array.mac_dense]             # component.action
//! uses = { int16_mult = 1, int32_add = 1 }   # or energy_pj = 0.887
//! per = "mac"
//! source = "..."
//!
//! [activation_buffer.read]
//! per = "64bit_word"
//! sram = [{ size_bytes = 8192, energy_pj = 10.0 }, { size_bytes = 32768, energy_pj = 20.0 }]
//! size = "buffer"                  # or "bank": which capacity picks the point
//! source = "..."
//!
//! [device.static]
//! power_w = 3.0                    # static power, charged per cycle at the clock
//! source = "..."
//! ```
//!
//! Every entry names its `source`; `derived` says how a number was
//! obtained from its source (interpolated, summed, scaled) and `note` what
//! it leaves out or what it was checked against. The components and actions
//! are those of [`super::actions`]; a table must give every required
//! action, and is refused, with the field and its line, for an unknown
//! component, action, key or unit, or a negative, non-finite or absurdly
//! large number.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::actions::Unit;
use super::error::TableError;
use super::parse;

/// The built-in tables by name, the files of `reports/energy-tables/`.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("asic-45nm", include_str!("../../energy-tables/asic-45nm.toml")),
    ("fpga-vu9p", include_str!("../../energy-tables/fpga-vu9p.toml")),
];

/// Largest energy per unit a table may give, in pJ (1 mJ).
pub(crate) const MAX_ENERGY_PJ: f64 = 1e9;
/// Largest static power a table may give, in W.
pub(crate) const MAX_POWER_W: f64 = 1e5;

/// An energy reference table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyTable {
    /// Short name (`asic-45nm`).
    pub name: String,
    /// What the table models.
    pub description: String,
    /// Where it was read from (file path or built-in name).
    pub origin: String,
    /// Named operations that entries may be built from, by name.
    pub primitives: BTreeMap<String, Primitive>,
    /// The actions' entries, in catalogue order.
    pub entries: Vec<Entry>,
}

/// A named operation with its energy (e.g. a 16-bit multiply).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Primitive {
    /// Energy of one operation in pJ.
    pub energy_pj: f64,
    /// Where the number comes from.
    pub source: String,
    /// How it was obtained from the source, when not quoted directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<String>,
    /// What it leaves out or was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The energy of one action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// Component (`pe_array`, `activation_buffer`, `dram`, ...).
    pub component: String,
    /// Action (`mac_dense`, `read`, ...).
    pub action: String,
    /// The energy, in one of the forms a table may give it.
    pub value: EntryValue,
    /// What the energy is per (a cycle for static power).
    pub per: Unit,
    /// Where the number comes from.
    pub source: String,
    /// How it was obtained from the source, when not quoted directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<String>,
    /// What it leaves out or was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The forms an entry's energy may take.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryValue {
    /// A fixed energy per unit, in pJ.
    EnergyPj(f64),
    /// A sum of primitives: primitive name → operations per unit.
    Uses(BTreeMap<String, f64>),
    /// An SRAM energy per unit by capacity, interpolated linearly in
    /// log2(capacity) between points and clamped to the end points.
    Sram {
        /// Which capacity picks the point.
        size: SizeBasis,
        /// Points in increasing capacity.
        points: Vec<SramPoint>,
    },
    /// Static power in W, charged per cycle at the config's clock.
    PowerW(f64),
}

/// One point of an SRAM energy curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SramPoint {
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Energy per unit at that capacity, in pJ.
    pub energy_pj: f64,
}

/// Which capacity of a buffer picks its point on an SRAM curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeBasis {
    /// The buffer's whole capacity (`buffers.X.bytes`).
    Buffer,
    /// One bank's capacity (`bytes / banks`), the array one access reaches.
    Bank,
}

impl EnergyTable {
    /// Parses and checks a table; `origin` names it in messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, TableError> {
        parse::parse(text, origin)
    }

    /// Reads, parses and checks a table file.
    pub fn from_file(path: &Path) -> Result<Self, TableError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| TableError::Io { path: path.to_path_buf(), source })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// A built-in table by name (see [`EnergyTable::names`]).
    pub fn builtin(name: &str) -> Result<Self, TableError> {
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Self::from_toml(text, n),
            None => Err(TableError::UnknownBuiltin {
                name: name.to_string(),
                known: Self::names().iter().map(|s| s.to_string()).collect(),
            }),
        }
    }

    /// The names of the built-in tables.
    pub fn names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// The entry of `component.action`, if the table gives it.
    pub fn entry(&self, component: &str, action: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.component == component && e.action == action)
    }
}

impl SizeBasis {
    /// The name used in tables.
    pub(crate) fn from_name(s: &str) -> Option<SizeBasis> {
        match s {
            "buffer" => Some(SizeBasis::Buffer),
            "bank" => Some(SizeBasis::Bank),
            _ => None,
        }
    }
}
