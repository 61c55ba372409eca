//! The compiler's one error type. Every variant says where the problem is:
//! a file with line and column (the `.nm` DSL), a file with row and field
//! (CSV front ends), a whole file (I/O), or the command-line argument.

use std::fmt;

use thiserror::Error;

/// Where a problem is, so a user can go straight to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A position in a text file (1-based line and column, columns in characters).
    Text {
        /// File path or `builtin:NAME`.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A cell of a CSV file (1-based line of the row in the file, column name).
    Cell {
        /// File path or `builtin:NAME`.
        file: String,
        /// 1-based line of the row.
        row: usize,
        /// Column (field) name as the header spells it, or what was expected.
        field: String,
    },
    /// A whole file (it cannot be read, or is empty).
    File {
        /// File path.
        file: String,
    },
    /// A command-line argument (a model name that is neither a file nor built in).
    Argument {
        /// The argument as given.
        arg: String,
    },
    /// A node of an ONNX graph.
    Node {
        /// File path.
        file: String,
        /// The node's name (or `#index` when it has none).
        node: String,
        /// Its operator type (`Conv`, `MatMul`, …).
        op: String,
    },
    /// A layer or tensor of a model (an arithmetic limit found while lowering it).
    Layer {
        /// The layer's (or tensor's) name.
        name: String,
    },
}

impl Location {
    /// Computes the text location of byte `offset` in `text` (clamped to its length).
    pub fn at_offset(file: &str, text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |p| p + 1);
        let column = before[line_start..].chars().count() + 1;
        Location::Text { file: file.to_string(), line, column }
    }

    /// A cell location.
    pub fn cell(file: &str, row: usize, field: &str) -> Location {
        Location::Cell { file: file.to_string(), row, field: field.to_string() }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Text { file, line, column } => write!(f, "{file}:{line}:{column}"),
            Location::Cell { file, row, field } => write!(f, "{file}: row {row}, field `{field}`"),
            Location::File { file } => write!(f, "{file}"),
            Location::Argument { arg } => write!(f, "model argument `{arg}`"),
            Location::Node { file, node, op } => write!(f, "{file}: node `{node}` ({op})"),
            Location::Layer { name } => write!(f, "layer `{name}`"),
        }
    }
}

/// Everything that can go wrong between a model argument and its GEMMs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompileError {
    /// The text does not follow the grammar (DSL syntax, an unterminated block, a CSV without a usable header).
    #[error("{loc}: syntax error: {message}")]
    Syntax {
        /// Where.
        loc: Location,
        /// What was expected or found.
        message: String,
    },
    /// A value is not acceptable: an unknown layer kind, a zero or negative dimension, a bad N:M pattern.
    #[error("{loc}: {message}")]
    Value {
        /// Where.
        loc: Location,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Shapes do not fit: a layer's input is not what the previous layer gives, a residual's branches differ.
    #[error("{loc}: shape mismatch: {message}")]
    Shape {
        /// Where.
        loc: Location,
        /// The two shapes and why they must agree.
        message: String,
    },
    /// A number does not fit in 64 bits once scaled (dimensions, batch, MACs).
    #[error("{loc}: {message}")]
    Overflow {
        /// Where (the layer that overflowed).
        loc: Location,
        /// What overflowed.
        message: String,
    },
    /// A file cannot be read.
    #[error("{loc}: cannot read: {message}")]
    Io {
        /// The file.
        loc: Location,
        /// The operating system's reason.
        message: String,
    },
    /// The argument is neither an existing file nor a built-in model.
    #[error("{loc}: no such file and no built-in model of that name; built-in models: {}", known.join(", "))]
    UnknownModel {
        /// The argument.
        loc: Location,
        /// The built-in names (hyphenated).
        known: Vec<String>,
    },
}

impl CompileError {
    /// The location the error points at.
    pub fn location(&self) -> &Location {
        match self {
            CompileError::Syntax { loc, .. }
            | CompileError::Value { loc, .. }
            | CompileError::Shape { loc, .. }
            | CompileError::Overflow { loc, .. }
            | CompileError::Io { loc, .. }
            | CompileError::UnknownModel { loc, .. } => loc,
        }
    }

    pub(crate) fn value(loc: Location, message: impl Into<String>) -> Self {
        CompileError::Value { loc, message: message.into() }
    }

    pub(crate) fn syntax(loc: Location, message: impl Into<String>) -> Self {
        CompileError::Syntax { loc, message: message.into() }
    }

    pub(crate) fn shape(loc: Location, message: impl Into<String>) -> Self {
        CompileError::Shape { loc, message: message.into() }
    }

    pub(crate) fn overflow(loc: Location, message: impl Into<String>) -> Self {
        CompileError::Overflow { loc, message: message.into() }
    }
}

/// `a * b`, or an overflow error at `loc`.
pub(crate) fn mul(a: u64, b: u64, loc: &Location, what: &str) -> Result<u64, CompileError> {
    a.checked_mul(b).ok_or_else(|| CompileError::overflow(loc.clone(), format!("{what} overflows 64 bits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_line_and_column() {
        let t = "ab\ncdé\nf";
        assert_eq!(Location::at_offset("x", t, 0).to_string(), "x:1:1");
        assert_eq!(Location::at_offset("x", t, 3).to_string(), "x:2:1");
        // 'é' is two bytes; offset 7 is just past it: column 4 in characters.
        assert_eq!(Location::at_offset("x", t, 7).to_string(), "x:2:4");
        assert_eq!(Location::at_offset("x", t, 6).to_string(), "x:2:3");
        assert_eq!(Location::at_offset("x", t, 999).to_string(), "x:3:2");
    }

    #[test]
    fn messages_name_the_place() {
        let e = CompileError::value(Location::cell("m.csv", 4, "C_in"), "must be positive");
        assert_eq!(e.to_string(), "m.csv: row 4, field `C_in`: must be positive");
        assert!(matches!(e.location(), Location::Cell { row: 4, .. }));
    }
}
