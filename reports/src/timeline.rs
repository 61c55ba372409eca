//! The busy intervals of one simulated step per unit (PE array, DMA,
//! vector unit, sparsifier), merged and downsampled for a timeline chart.

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
/// or overlap, and downsampled to at most `max_per_unit` intervals per unit
/// by joining the neighbours with the shortest gap between them (so the
/// total busy time can only grow, by at most the gaps closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// Cycles of the whole step.
    pub total_cycles: u64,
    /// Per unit (in [`UNITS`] order), its intervals in time order.
    pub units: Vec<(String, Vec<(u64, u64)>)>,
}

/// The timeline of `program` from its instructions' start and retire cycles.
pub fn timeline(program: &Program, retire: &[Retire], total_cycles: u64, max_per_unit: usize) -> Timeline {
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
            (u.to_string(), downsample(merge(v), max_per_unit.max(1)))
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

/// Joins neighbours across the smallest gaps until at most `max` remain:
/// the gaps kept are the `max - 1` largest (ties to the earlier gap).
fn downsample(v: Vec<(u64, u64)>, max: usize) -> Vec<(u64, u64)> {
    if v.len() <= max {
        return v;
    }
    let mut gaps: Vec<(u64, usize)> = v.windows(2).enumerate().map(|(i, w)| (w[1].0 - w[0].1, i)).collect();
    // Largest gaps first; on a tie the earlier one.
    gaps.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut keep: Vec<usize> = gaps.iter().take(max - 1).map(|&(_, i)| i).collect();
    keep.sort_unstable();
    let mut out = Vec::with_capacity(max);
    let mut start = v[0].0;
    for &i in &keep {
        out.push((start, v[i].1));
        start = v[i + 1].0;
    }
    out.push((start, v[v.len() - 1].1));
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn merges_touching_intervals_and_keeps_the_largest_gaps() {
        assert_eq!(merge(vec![(0, 2), (2, 5), (7, 9)]), vec![(0, 5), (7, 9)]);
        let v = vec![(0, 1), (2, 3), (10, 11), (12, 13)];
        assert_eq!(downsample(v.clone(), 2), vec![(0, 3), (10, 13)]);
        assert_eq!(downsample(v.clone(), 1), vec![(0, 13)]);
        assert_eq!(downsample(v.clone(), 9), v);
    }

    proptest! {
        /// Downsampling covers every original interval, stays sorted and
        /// disjoint, and keeps at most `max` intervals.
        #[test]
        fn downsampling_covers_the_original(raw in proptest::collection::vec((0u64..1000, 1u64..50), 0..60), max in 1usize..10) {
            let mut v: Vec<(u64, u64)> = raw.into_iter().map(|(s, l)| (s, s + l)).collect();
            v.sort_unstable();
            let m = merge(v.clone());
            let d = downsample(m.clone(), max);
            prop_assert!(d.len() <= max.max(1));
            prop_assert!(d.windows(2).all(|w| w[0].1 < w[1].0));
            for (s, e) in v {
                prop_assert!(d.iter().any(|&(a, b)| a <= s && e <= b));
            }
        }
    }
}
