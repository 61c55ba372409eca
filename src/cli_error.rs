//! How the CLI turns library errors into messages and exit codes:
//! 0 success, 1 a check failed, 2 bad input or usage.

use std::process::ExitCode;

/// An error that ends a command, with the exit code it implies.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    error: anyhow::Error,
}

impl CliError {
    /// Bad input or usage (exit 2): malformed files, impossible shapes.
    pub fn input(error: impl Into<anyhow::Error>) -> Self {
        Self { code: 2, error: error.into() }
    }

    /// A check that ran and failed (exit 1), e.g. a co-simulation mismatch.
    pub fn check(error: impl Into<anyhow::Error>) -> Self {
        Self { code: 1, error: error.into() }
    }

    /// Prints the error chain to stderr.
    pub fn report(&self) {
        eprintln!("error: {:#}", self.error);
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl From<nmsat_flow::FlowError> for CliError {
    /// A failed check exits 1, anything else is bad input (exit 2).
    fn from(e: nmsat_flow::FlowError) -> Self {
        if e.is_check_failure() { Self::check(e) } else { Self::input(e) }
    }
}

/// Result of a CLI command.
pub type CliResult = Result<(), CliError>;
