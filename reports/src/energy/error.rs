//! Why an energy table was refused.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// One problem found in an energy table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableProblem {
    /// Dotted path of the field, e.g. `pe_array.mac_dense.energy_pj`.
    pub field: String,
    /// 1-based line in the TOML text, when the field (or its table) is in it.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TableProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: `{}`: {}", self.field, self.message),
            None => write!(f, "`{}`: {}", self.field, self.message),
        }
    }
}

/// Errors of loading an [`super::EnergyTable`]. The CLI maps every variant
/// to exit status 2 (bad input).
#[derive(Debug, Error)]
pub enum TableError {
    /// The file could not be read.
    #[error("cannot read energy table {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not TOML.
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        /// File name, or the built-in table's name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The TOML parses but is not a complete, valid energy table.
    #[error("{origin}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// File name, or the built-in table's name.
        origin: String,
        /// Every problem found, in line order.
        problems: Vec<TableProblem>,
    },
    /// No built-in table has this name.
    #[error("unknown energy table `{name}`; built-in tables: {}", known.join(", "))]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The built-in names.
        known: Vec<String>,
    },
}
