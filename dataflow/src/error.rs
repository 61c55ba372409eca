//! Error types of the dataflow crate.

use std::path::PathBuf;

use thiserror::Error;

use crate::nm::{GroupAxis, NmPattern};

/// A matrix was built from a buffer of the wrong length.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("a {rows}x{cols} matrix needs {} elements, got {len}", rows * cols)]
pub struct ShapeError {
    /// Requested rows.
    pub rows: usize,
    /// Requested columns.
    pub cols: usize,
    /// Elements supplied.
    pub len: usize,
}

/// Errors of N:M pattern parsing and N:M formats.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NmError {
    /// The text is not a valid `N:M` pattern.
    #[error("invalid N:M pattern `{text}`: {reason}")]
    BadPattern {
        /// What was given.
        text: String,
        /// Why it is rejected.
        reason: String,
    },
    /// The grouped dimension is not a multiple of M (nmsat never pads).
    #[error("cannot form groups of {m} along {axis:?}: dimension {len} is not a multiple of {m}")]
    NotDivisible {
        /// Length of the grouped dimension.
        len: usize,
        /// Group size.
        m: u32,
        /// The grouped axis.
        axis: GroupAxis,
    },
    /// Compression was asked of a matrix that is not N:M.
    #[error("matrix is not {pattern} sparse along {axis:?}; prune it first")]
    NotNm {
        /// Expected pattern.
        pattern: NmPattern,
        /// Grouped axis.
        axis: GroupAxis,
    },
}

/// One problem found in an architecture configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the field, e.g. `pe_array.rows`.
    pub field: String,
    /// 1-based line in the TOML file, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: `{}`: {}", self.field, self.message),
            None => write!(f, "`{}`: {}", self.field, self.message),
        }
    }
}

/// Errors of loading an [`crate::arch::ArchConfig`].
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not match the schema (unknown or
    /// mistyped field).
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        /// File name or `<builtin>`.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message, naming the field.
        message: String,
    },
    /// The configuration parses but violates one or more rules.
    #[error("{origin}: {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// File name or `<builtin>`.
        origin: String,
        /// Every problem found, in field order.
        problems: Vec<ConfigProblem>,
    },
}

/// Errors of instruction encoding, decoding and the text form.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum IsaError {
    /// No instruction has this opcode.
    #[error("unknown opcode {0}")]
    Opcode(u8),
    /// A field value is out of range or invalid.
    #[error("`{mnemonic}` field `{field}`: {reason}")]
    Field {
        /// Instruction mnemonic.
        mnemonic: &'static str,
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The text form does not parse.
    #[error("{0}")]
    Text(String),
}

/// Errors of reading or checking a SAT program file.
#[derive(Debug, Error)]
pub enum ProgramError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a valid program.
    #[error("{origin}: {message}")]
    Format {
        /// File name.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// An instruction does not decode.
    #[error("{origin}: instruction {index}: {source}")]
    Instr {
        /// File name.
        origin: String,
        /// Instruction index.
        index: usize,
        /// The cause.
        source: IsaError,
    },
    /// A line of assembly does not parse.
    #[error("{origin}:{line}: {source}")]
    Asm {
        /// File name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// The cause.
        source: IsaError,
    },
}

/// A violation found by the program checker (capacity, bounds, tokens).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("instruction {index} (`{text}`): {message}")]
pub struct CheckError {
    /// Instruction index.
    pub index: usize,
    /// Its text form.
    pub text: String,
    /// What is wrong.
    pub message: String,
}
