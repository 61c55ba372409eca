//! The hypervolume of a minimisation front: the measure of the region
//! that the front's points dominate, bounded by a reference point.
//!
//! Exact for any number of objectives by slicing: sorted on the last
//! objective, each slab between two consecutive values is the
//! hypervolume of the points below it in one objective fewer, down to a
//! sort-and-sweep in 2-D. Cost about `n^(k-1) log n` for `n` points and
//! `k` objectives: fine for the 2 and 3 objectives of a spec and the few
//! hundred points of a front.
//!
//! Objectives live on different scales (seconds, joules, LUTs), so a
//! front is compared through [`Bounds`]: each objective normalised to
//! `[0, 1]` between its minimum and maximum over a reference set of points
//! (all the feasible points of the run, or of the grid when a search is
//! compared with it), and the reference point at `1.1` in every normalised
//! objective (the reference set's nadir plus 10 % of each range, so the
//! extreme points of the front still count). The largest possible value is
//! `1.1^k`.

/// The hypervolume of `points` (minimised) bounded by `reference`: the
/// measure of the points `x <= reference` that some point `p <= x`
/// dominates. A point that is not below `reference` in every objective
/// (or is not finite) adds nothing.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let k = reference.len();
    let inside: Vec<&[f64]> = points
        .iter()
        .map(Vec::as_slice)
        .filter(|p| p.len() == k && p.iter().zip(reference).all(|(v, r)| v.is_finite() && v < r))
        .collect();
    slice(inside, reference)
}

fn slice(mut pts: Vec<&[f64]>, reference: &[f64]) -> f64 {
    let k = reference.len();
    if pts.is_empty() || k == 0 {
        return 0.0;
    }
    match k {
        1 => reference[0] - pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min),
        2 => sweep(pts, reference),
        _ => {
            pts.sort_by(|a, b| a[k - 1].total_cmp(&b[k - 1]));
            let mut volume = 0.0;
            for i in 0..pts.len() {
                let top = pts.get(i + 1).map_or(reference[k - 1], |p| p[k - 1]);
                let height = top - pts[i][k - 1];
                if height > 0.0 {
                    let below: Vec<&[f64]> = pts[..=i].iter().map(|p| &p[..k - 1]).collect();
                    volume += slice(below, &reference[..k - 1]) * height;
                }
            }
            volume
        }
    }
}

/// The 2-D area: sorted on x, each point that improves on the best y so
/// far adds the rectangle from its x to the reference, between its y and
/// that best y.
fn sweep(mut pts: Vec<&[f64]>, reference: &[f64]) -> f64 {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let (mut area, mut best_y) = (0.0, reference[1]);
    for p in pts {
        if p[1] < best_y {
            area += (reference[0] - p[0]) * (best_y - p[1]);
            best_y = p[1];
        }
    }
    area
}

/// Per-objective ranges that normalise a front: see the module doc.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    /// The minimum of each objective over the reference set.
    pub lo: Vec<f64>,
    /// The maximum of each objective over the reference set.
    pub hi: Vec<f64>,
}

/// Where the reference point sits in each normalised objective.
pub const REFERENCE: f64 = 1.1;

impl Bounds {
    /// The bounds of `points` (each of `k` objectives); `None` when there
    /// are none.
    pub fn of(points: &[Vec<f64>]) -> Option<Bounds> {
        let k = points.first()?.len();
        let mut b = Bounds { lo: vec![f64::INFINITY; k], hi: vec![f64::NEG_INFINITY; k] };
        for p in points.iter().filter(|p| p.len() == k) {
            for (i, v) in p.iter().enumerate().filter(|(_, v)| v.is_finite()) {
                b.lo[i] = b.lo[i].min(*v);
                b.hi[i] = b.hi[i].max(*v);
            }
        }
        b.lo.iter().all(|v| v.is_finite()).then_some(b)
    }

    /// `p` normalised: `(v - lo) / (hi - lo)` per objective (a range of
    /// zero width counts as 1).
    pub fn normalise(&self, p: &[f64]) -> Vec<f64> {
        p.iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(v, (lo, hi))| {
                let span = if hi > lo { hi - lo } else { 1.0 };
                (v - lo) / span
            })
            .collect()
    }

    /// The hypervolume of `points` normalised by these bounds, with the
    /// reference point at [`REFERENCE`] in every objective.
    pub fn hypervolume(&self, points: &[Vec<f64>]) -> f64 {
        let normal: Vec<Vec<f64>> = points.iter().map(|p| self.normalise(p)).collect();
        hypervolume(&normal, &vec![REFERENCE; self.lo.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn int_points(k: usize, max: usize) -> impl Strategy<Value = Vec<Vec<f64>>> {
        prop::collection::vec(prop::collection::vec((0..10u8).prop_map(f64::from), k), 0..max)
    }

    /// Unit cells `[c, c+1)^k` of `[0, 10)^k` that some point dominates.
    fn cells(points: &[Vec<f64>], k: u32) -> f64 {
        let dominated = |cell: &[f64]| points.iter().any(|p| p.iter().zip(cell).all(|(a, b)| a <= b));
        (0..10usize.pow(k))
            .filter(|n| dominated(&(0..k).map(|d| ((n / 10usize.pow(d)) % 10) as f64).collect::<Vec<_>>()))
            .count() as f64
    }

    #[test]
    fn known_fronts() {
        let r2 = [4.0, 4.0];
        assert_eq!(hypervolume(&[vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]], &r2), 6.0);
        assert_eq!(hypervolume(&[vec![1.0, 1.0, 1.0]], &[2.0, 3.0, 4.0]), 6.0);
        assert_eq!(hypervolume(&[vec![5.0, 0.0]], &r2), 0.0);
        assert_eq!(hypervolume(&[], &r2), 0.0);
        let b = Bounds::of(&[vec![0.0, 10.0], vec![2.0, 30.0]]).unwrap();
        assert_eq!(b.normalise(&[1.0, 20.0]), [0.5, 0.5]);
        assert!((b.hypervolume(&[vec![0.0, 10.0]]) - 1.21).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn two_d_matches_a_count_of_cells(pts in int_points(2, 12)) {
            prop_assert_eq!(hypervolume(&pts, &[10.0, 10.0]), cells(&pts, 2));
        }

        #[test]
        fn three_d_matches_a_count_of_cells(pts in int_points(3, 8)) {
            prop_assert_eq!(hypervolume(&pts, &[10.0, 10.0, 10.0]), cells(&pts, 3));
        }

        #[test]
        fn a_front_covers_at_least_any_subset(pts in int_points(3, 10), keep in prop::collection::vec(any::<bool>(), 10)) {
            let sub: Vec<Vec<f64>> = pts.iter().zip(&keep).filter(|(_, k)| **k).map(|(p, _)| p.clone()).collect();
            let r = [10.0, 10.0, 10.0];
            prop_assert!(hypervolume(&sub, &r) <= hypervolume(&pts, &r));
            let r2 = [10.0, 10.0];
            let flat = |v: &[Vec<f64>]| v.iter().map(|p| p[..2].to_vec()).collect::<Vec<_>>();
            prop_assert!(hypervolume(&flat(&sub), &r2) <= hypervolume(&flat(&pts), &r2));
        }

        #[test]
        fn a_dominated_point_adds_nothing(pts in int_points(3, 8).prop_filter("some", |p| !p.is_empty()),
                                           pick in 0..8usize, worse in prop::collection::vec(0..3u8, 3)) {
            let p = &pts[pick % pts.len()];
            let dominated: Vec<f64> = p.iter().zip(&worse).map(|(v, w)| v + f64::from(*w)).collect();
            let mut more = pts.clone();
            more.push(dominated);
            let r = [12.0, 12.0, 12.0];
            prop_assert_eq!(hypervolume(&more, &r), hypervolume(&pts, &r));
        }
    }
}
