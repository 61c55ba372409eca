//! Key-value tables of what the report is about: the accelerator config,
//! the energy table and the synthesis resources.

use super::KeyValues;

/// The accelerator config, each value already formatted with its unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSummary {
    /// Config name (`sat-64`).
    pub name: String,
    /// PE array (`32 × 32 PEs`).
    pub array: String,
    /// Lanes per PE (`8 lanes, 2:8 groups`).
    pub lanes: String,
    /// Buffers, name and size (`("weight", "256 KiB")`).
    pub buffers: Vec<(String, String)>,
    /// DRAM (`DDR4, 25.6 GB/s, 64-byte bursts`).
    pub dram: String,
    /// Clock (MHz).
    pub clock_mhz: f64,
    /// im2col mode (`line_buffer, 256 KiB`, `dram`).
    pub im2col: String,
    /// The array mappings the compiler may choose from (`output-stationary, weight-stationary`).
    pub dataflows: String,
}

/// The energy table the model used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnergyTableSummary {
    /// Table name (`sat-28nm`).
    pub name: String,
    /// Where its numbers come from, one entry per source.
    pub sources: Vec<String>,
}

/// FPGA or ASIC resources reported by synthesis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// What produced them (`yosys 0.23, synth_xilinx`).
    pub tool: String,
    /// Resource and amount (`("LUT", "41,230")`, `("DSP", "1,024")`).
    pub rows: Vec<(String, String)>,
}

/// Blank values shown as a dash.
fn or_dash(s: &str) -> String {
    if s.trim().is_empty() { "–".into() } else { s.to_string() }
}

impl ConfigSummary {
    /// As a key-value table.
    pub fn key_values(&self) -> KeyValues {
        let mut rows = vec![
            ("config".to_string(), or_dash(&self.name)),
            ("PE array".into(), or_dash(&self.array)),
            ("lanes".into(), or_dash(&self.lanes)),
        ];
        rows.extend(self.buffers.iter().map(|(n, s)| (format!("{n} buffer"), or_dash(s))));
        rows.push(("DRAM".into(), or_dash(&self.dram)));
        let clock = if self.clock_mhz.is_finite() && self.clock_mhz > 0.0 {
            format!("{} MHz", self.clock_mhz)
        } else {
            "–".into()
        };
        rows.push(("clock".into(), clock));
        rows.push(("im2col".into(), or_dash(&self.im2col)));
        rows.push(("dataflows".into(), or_dash(&self.dataflows)));
        KeyValues { caption: "Accelerator config".into(), rows }
    }
}

impl EnergyTableSummary {
    /// As a key-value table, one row per source.
    pub fn key_values(&self) -> KeyValues {
        let mut rows = vec![("energy table".to_string(), or_dash(&self.name))];
        rows.extend(self.sources.iter().enumerate().map(|(i, s)| (format!("source {}", i + 1), or_dash(s))));
        KeyValues { caption: "Energy table".into(), rows }
    }
}

impl Resources {
    /// As a key-value table.
    pub fn key_values(&self) -> KeyValues {
        let mut rows = vec![("synthesis".to_string(), or_dash(&self.tool))];
        rows.extend(self.rows.iter().map(|(k, v)| (k.clone(), or_dash(v))));
        KeyValues { caption: "Resources from synthesis".into(), rows }
    }
}
