//! The busy intervals of one simulated step per unit (PE array, DMA,
//! vector unit, sparsifier), merged, for the timeline chart.

use std::collections::BTreeMap;

use nmsat_dataflow::isa::Instr;
use nmsat_dataflow::program::Program;
use nmsat_sim::Retire;
use serde::Serialize;

/// The units a timeline shows, in display order.
pub const UNITS: [&str; 4] = ["PE array", "DMA", "vector unit", "sparsifier"];

/// The unit that executes `i`, if any (`sync` and `halt` occupy none).
pub fn unit_of(i: &Instr) -> Option<&'static str> {
    match i {
        Instr::Gemm { .. } => Some(UNITS[0]),
        Instr::Load { .. } | Instr::Store { .. } | Instr::Load2col { .. } => Some(UNITS[1]),
        Instr::Vec { .. } => Some(UNITS[2]),
        Instr::Sparsify { .. } => Some(UNITS[3]),
        _ => None,
    }
}

/// Busy intervals `[start, end)` in cycles per unit, merged where they touch
/// or overlap (the timeline chart downsamples them to its resolution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// Cycles of the whole step.
    pub total_cycles: u64,
    /// Per unit (in [`UNITS`] order), its intervals in time order.
    pub units: Vec<(String, Vec<(u64, u64)>)>,
}

/// The timeline of `program` from its instructions' start and retire cycles.
pub fn timeline(program: &Program, retire: &[Retire], total_cycles: u64) -> Timeline {
    let mut by_unit: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for (i, r) in program.instrs.iter().zip(retire) {
        if let Some(u) = unit_of(i)
            && r.done > r.start
        {
            by_unit.entry(u).or_default().push((r.start, r.done));
        }
    }
    let units = UNITS
        .iter()
        .map(|u| {
            let mut v = by_unit.remove(u).unwrap_or_default();
            v.sort_unstable();
            (u.to_string(), merge(v))
        })
        .collect();
    Timeline { total_cycles, units }
}

/// Merges sorted intervals that overlap or touch.
fn merge(v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn merges_touching_intervals() {
        assert_eq!(merge(vec![(0, 2), (2, 5), (7, 9)]), vec![(0, 5), (7, 9)]);
        assert_eq!(merge(vec![(0, 9), (2, 5)]), vec![(0, 9)]);
    }

    proptest! {
        /// Merging covers every original interval and leaves them sorted and disjoint.
        #[test]
        fn merging_covers_the_original(raw in proptest::collection::vec((0u64..1000, 1u64..50), 0..60)) {
            let mut v: Vec<(u64, u64)> = raw.into_iter().map(|(s, l)| (s, s + l)).collect();
            v.sort_unstable();
            let m = merge(v.clone());
            prop_assert!(m.windows(2).all(|w| w[0].1 < w[1].0));
            for (s, e) in v {
                prop_assert!(m.iter().any(|&(a, b)| a <= s && e <= b));
            }
        }
    }
}
