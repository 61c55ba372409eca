//! Which dataflow optimizations the scheduler applies.

use serde::{Deserialize, Serialize};

/// Which dataflow optimizations are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataflowOptions {
    /// Interleave mapping.
    pub interleave: bool,
    /// Pre-generation of N:M sparse weights.
    pub pregen: bool,
    /// Offline scheduling (double buffering, overlap); off gives a naive in-order schedule.
    pub offline_schedule: bool,
}

impl Default for DataflowOptions {
    fn default() -> Self {
        Self { interleave: true, pregen: true, offline_schedule: true }
    }
}

impl DataflowOptions {
    /// Names of the enabled passes, for the program header.
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.interleave {
            v.push("interleave".to_string());
        }
        if self.pregen {
            v.push("pregen".to_string());
        }
        if self.offline_schedule {
            v.push("offline-schedule".to_string());
        }
        v
    }
}
