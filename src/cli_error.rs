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

    /// Prints the error and its causes to stderr, each once: a cause whose
    /// text the message before it already includes is not repeated.
    pub fn report(&self) {
        eprintln!("error: {}", self.message());
    }

    /// The error and its causes, joined by `: `, each cause said once.
    pub fn message(&self) -> String {
        let mut msg = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            if !msg.contains(&text) {
                if !msg.is_empty() {
                    msg.push_str(": ");
                }
                msg.push_str(&text);
            }
        }
        msg
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read x: {0}")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::IsADirectory, "Is a directory (os error 21)");
        assert_eq!(CliError::input(Outer(io)).message(), "cannot read x: Is a directory (os error 21)");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(CliError::check(e).message(), "outer: inner");
    }
}
