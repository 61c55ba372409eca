//! Errors of the RTL crate.

use std::path::PathBuf;

/// What can go wrong emitting, building, co-simulating or synthesising.
#[derive(Debug, thiserror::Error)]
pub enum RtlError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An external tool is not installed.
    #[error("{tool} not found; install it with apt-get install -y {package}")]
    ToolMissing {
        /// The command.
        tool: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// An external tool ran and failed.
    #[error("{tool} failed (exit {code:?}); log: {log}\n{tail}")]
    ToolFailed {
        /// The command.
        tool: String,
        /// Its exit code.
        code: Option<i32>,
        /// Where its full output is.
        log: PathBuf,
        /// The last lines of its output.
        tail: String,
    },
    /// The program cannot run on the RTL (too long, bad options).
    #[error("{0}")]
    Unsupported(String),
    /// The testbench printed something the harness does not understand.
    #[error("testbench output: {0}")]
    Protocol(String),
    /// The Rust simulator refused the program.
    #[error(transparent)]
    Sim(#[from] nmsat_sim::SimError),
}
