//! Errors of the simulator.

use nmsat_dataflow::CheckError;
use thiserror::Error;

/// Why a simulation could not run to completion.
#[derive(Debug, Error)]
pub enum SimError {
    /// The program violates its config (buffer capacity, DRAM range, pattern).
    #[error("program check failed ({} problem(s)):\n{}", errors.len(), errors.iter().take(20).map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Check {
        /// Every violation.
        errors: Vec<CheckError>,
    },
    /// No instruction can ever start again: a token is never produced.
    #[error("deadlock at cycle {cycle}: {}", waiting.iter().map(|(i, t, w)| format!("instruction {i} (`{t}`) {w}")).collect::<Vec<_>>().join("; "))]
    Deadlock {
        /// Cycle at which progress stopped.
        cycle: u64,
        /// Each blocked queue head: index, text, reason.
        waiting: Vec<(usize, String, String)>,
    },
    /// A run with data would hold more DRAM than the simulator allocates.
    #[error(
        "the program's DRAM is {bytes} bytes; simulating its data holds all of it in memory, at most {limit} bytes"
    )]
    DramTooLarge {
        /// The program's DRAM bytes.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The run exceeded the cycle limit.
    #[error("simulation exceeded the limit of {cycles} cycles")]
    Timeout {
        /// The limit.
        cycles: u64,
    },
}
