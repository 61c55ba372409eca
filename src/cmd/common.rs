//! Helpers shared by subcommands: loading `--arch`, printing tables.

use std::path::Path;

use nmsat_dataflow::ArchConfig;

use crate::cli_error::CliError;

/// Loads `--arch`: a preset name (`tiny`, `sat-mid`, `sat-vu9p`), a TOML
/// path, or the default preset when absent.
pub fn load_arch(arg: Option<&str>) -> Result<ArchConfig, CliError> {
    match arg {
        None => Ok(ArchConfig::default_preset()),
        Some(a) => {
            if let Some(c) = ArchConfig::preset(a) {
                if !Path::new(a).exists() {
                    return Ok(c);
                }
            }
            ArchConfig::from_file(Path::new(a)).map_err(CliError::input)
        }
    }
}

/// Renders rows of cells as an aligned plain-text table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < width.len() {
                width[i] = width[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = width[i])).collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    line(width.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>().iter().map(|s| s.as_str()).collect(), &mut out);
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect(), &mut out);
    }
    out
}
