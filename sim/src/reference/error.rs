//! Errors of the functional reference: bad data sets and impossible models.

use thiserror::Error;

/// A data set that cannot be used; every variant names where the problem is.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DatasetError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path given.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The bytes are not valid (gzip or UTF-8) text.
    #[error("{origin}: not readable text: {message}")]
    Encoding {
        /// File name.
        origin: String,
        /// What failed.
        message: String,
    },
    /// A row has a different number of cells from the first data row.
    #[error("{origin}:{line}: expected {expected} cells (as on line {first_line}), found {found}")]
    Ragged {
        /// File name.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// Cells on the first data row.
        expected: usize,
        /// The first data row's line number.
        first_line: usize,
        /// Cells on this row.
        found: usize,
    },
    /// A feature cell is not a finite number.
    #[error("{origin}:{line}: cell {column} (`{cell}`) is not a finite number")]
    NonNumeric {
        /// File name.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The cell's text.
        cell: String,
    },
    /// The last cell of a row is not an integer label.
    #[error("{origin}:{line}: label `{cell}` (last cell) is not an integer")]
    BadLabel {
        /// File name.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// The cell's text.
        cell: String,
    },
    /// A row has no feature cells (a label alone).
    #[error("{origin}:{line}: a row needs at least one feature followed by a label")]
    TooFewCells {
        /// File name.
        origin: String,
        /// 1-based line number.
        line: usize,
    },
    /// No data rows at all.
    #[error("{origin}: no data rows")]
    Empty {
        /// File name.
        origin: String,
    },
    /// Every row has the same label, so there is nothing to classify.
    #[error("{origin}: every row has label {label}; classification needs at least two classes")]
    SingleClass {
        /// File name.
        origin: String,
        /// The only label.
        label: i64,
    },
}

/// A model or training configuration that cannot run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TrainError {
    /// The data set does not fit the model (e.g. a CNN needs a square image).
    #[error("{0}")]
    Shape(String),
    /// A hyperparameter is out of range.
    #[error("{0}")]
    Config(String),
    /// A data set problem.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A kernel the backend cannot run (e.g. a GEMM no tiling of the SAT
    /// config can hold): names the kernel and the config.
    #[error("{0}")]
    Backend(String),
    /// An N:M format problem (a bug if it happens: layers are checked first).
    #[error(transparent)]
    Nm(#[from] nmsat_dataflow::NmError),
}
