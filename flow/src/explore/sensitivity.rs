//! How much each objective moves with each parameter: the main effect of a
//! parameter over a run's feasible points.
//!
//! For one workload, one parameter and one objective, the feasible points
//! are grouped by the parameter's value and each group's median taken (the
//! other parameters vary inside the group). The spread is the largest
//! median over the smallest: 1.0 when the parameter does not matter, 2.0
//! when one value halves the objective against another. Medians, not means,
//! so one extreme config does not decide it. A value with few feasible
//! points is biased by the constraints (at 32×32 only the configs that fit
//! remain), so each level also reports its feasible share.

use serde_json::Value as Json;

/// One parameter value's group.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// The value as written in results (`16`, `"line_buffer"`).
    pub value: String,
    /// Points of the workload with this value.
    pub points: usize,
    /// Of those, the feasible ones.
    pub feasible: usize,
    /// Median of each objective over the feasible ones (`None` without one).
    pub medians: Vec<Option<f64>>,
}

/// One parameter's effect on every objective, for one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// The parameter's result field name.
    pub parameter: String,
    /// Its values in order of first appearance in the results.
    pub levels: Vec<Level>,
    /// Per objective, the largest level median over the smallest (both
    /// positive), or `None` with fewer than two levels that have one.
    pub spread: Vec<Option<f64>>,
    /// Per objective, the value whose median is best (smallest, or largest
    /// for a maximised objective).
    pub best: Vec<Option<String>>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The main effect of each of `parameters` on each of `objectives` over
/// the lines of `workload` (`maximised[i]` when objective `i` is better
/// larger).
pub fn effects(
    lines: &[Json],
    workload: &str,
    parameters: &[String],
    objectives: &[&str],
    maximised: &[bool],
) -> Vec<Effect> {
    let mine: Vec<&Json> = lines.iter().filter(|l| l["workload"] == workload).collect();
    parameters
        .iter()
        .map(|p| {
            let mut values: Vec<String> = Vec::new();
            for l in &mine {
                let v = text(&l[p.as_str()]);
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            let levels: Vec<Level> = values
                .into_iter()
                .map(|value| {
                    let group: Vec<&&Json> = mine.iter().filter(|l| text(&l[p.as_str()]) == value).collect();
                    let ok: Vec<&&Json> = group.iter().copied().filter(|l| l["feasible"] == true).collect();
                    let medians =
                        objectives.iter().map(|o| median(ok.iter().filter_map(|l| l[*o].as_f64()).collect())).collect();
                    Level { value, points: group.len(), feasible: ok.len(), medians }
                })
                .collect();
            let per_objective = |i: usize| -> (Option<f64>, Option<String>) {
                let meds: Vec<(f64, &str)> =
                    levels.iter().filter_map(|l| Some((l.medians[i]?, l.value.as_str()))).collect();
                if meds.len() < 2 {
                    return (None, meds.first().map(|m| m.1.to_string()));
                }
                let lo = meds.iter().min_by(|a, b| a.0.total_cmp(&b.0)).copied();
                let hi = meds.iter().max_by(|a, b| a.0.total_cmp(&b.0)).copied();
                let (Some(lo), Some(hi)) = (lo, hi) else { return (None, None) };
                let spread = (lo.0 > 0.0).then(|| hi.0 / lo.0);
                let best = if maximised[i] { hi.1 } else { lo.1 };
                (spread, Some(best.to_string()))
            };
            let (spread, best) = (0..objectives.len()).map(per_objective).unzip();
            Effect { parameter: p.clone(), levels, spread, best }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_parameter_that_halves_time_has_spread_two() {
        let l = |rows: u64, lanes: u64, s: f64| json!({"workload": "w", "feasible": true, "rows": rows, "lanes": lanes, "seconds": s});
        let lines = [
            l(4, 4, 2.0),
            l(4, 8, 2.0),
            l(8, 4, 1.0),
            l(8, 8, 1.0),
            json!({"workload": "w", "feasible": false, "rows": 16, "lanes": 4}),
        ];
        let e = effects(&lines, "w", &["rows".into(), "lanes".into()], &["seconds"], &[false]);
        assert_eq!(e[0].spread, [Some(2.0)]);
        assert_eq!(e[0].best, [Some("8".to_string())]);
        assert_eq!((e[0].levels[2].points, e[0].levels[2].feasible, e[0].levels[2].medians[0]), (1, 0, None));
        assert_eq!(e[1].spread, [Some(1.0)]);
        let other = effects(&lines, "v", &["rows".into()], &["seconds"], &[false]);
        assert!(other[0].levels.is_empty() && other[0].spread == [None]);
    }

    #[test]
    fn a_maximised_objective_prefers_the_largest_median() {
        let l = |rows: u64, g: f64| json!({"workload": "w", "feasible": true, "rows": rows, "gops": g});
        let lines = [l(4, 10.0), l(4, 30.0), l(8, 40.0)];
        let e = effects(&lines, "w", &["rows".into()], &["gops"], &[true]);
        assert_eq!(e[0].best, [Some("8".to_string())]);
        assert_eq!(e[0].spread, [Some(2.0)]);
    }
}
