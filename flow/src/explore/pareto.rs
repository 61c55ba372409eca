//! The Pareto front of two objectives over a run's feasible points, and
//! its hypervolume.

use std::path::Path;

use serde_json::Value as Json;

use super::hypervolume::Bounds;
use super::points::field_names;
use super::results::{read_and_repair, results_path};
use super::spec::{MAXIMISED, OBJECTIVES};
use crate::error::FlowError;

/// True when `a` is at least as good as `b` on both objectives and better on one.
fn dominates(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 <= b.0 && a.1 <= b.1 && (a.0 < b.0 || a.1 < b.1)
}

/// The non-dominated feasible lines of `lines` on `x` and `y`, per
/// workload, sorted by workload then `x`. Objectives in [`MAXIMISED`] are
/// maximised, the others minimised.
pub fn front(lines: &[Json], x: &str, y: &str) -> Vec<Json> {
    let sign = |o: &str| if MAXIMISED.contains(&o) { -1.0 } else { 1.0 };
    let pts: Vec<(&Json, (f64, f64))> = lines
        .iter()
        .filter(|l| l["feasible"] == true)
        .filter_map(|l| Some((l, (l[x].as_f64()? * sign(x), l[y].as_f64()? * sign(y)))))
        .collect();
    let mut out: Vec<(&Json, (f64, f64))> = pts
        .iter()
        .filter(|(l, p)| !pts.iter().any(|(m, q)| m["workload"] == l["workload"] && dominates(*q, *p)))
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        let w = |l: &Json| l["workload"].as_str().unwrap_or_default().to_string();
        w(a.0).cmp(&w(b.0)).then(a.1.0.total_cmp(&b.1.0))
    });
    out.into_iter().map(|(l, _)| l.clone()).collect()
}

/// The hypervolume of each workload's front of `lines` on `x` and `y`
/// (maximised objectives negated), normalised by the ranges of that
/// workload's feasible points in `bounds_from` (the same lines, or
/// another run's to compare with it) with the reference point at 1.1
/// ([`Bounds`]): at most 1.21. In workload order of first appearance in
/// `bounds_from`.
pub fn front_hypervolumes(lines: &[Json], bounds_from: &[Json], x: &str, y: &str) -> Vec<(String, f64)> {
    let sign = |o: &str| if MAXIMISED.contains(&o) { -1.0 } else { 1.0 };
    let point = |l: &Json| Some(vec![l[x].as_f64()? * sign(x), l[y].as_f64()? * sign(y)]);
    let mut workloads: Vec<String> = Vec::new();
    for l in bounds_from.iter().filter(|l| l["feasible"] == true) {
        let w = l["workload"].as_str().unwrap_or_default().to_string();
        if !workloads.contains(&w) {
            workloads.push(w);
        }
    }
    let front = front(lines, x, y);
    workloads
        .into_iter()
        .map(|w| {
            let of = |ls: &[Json], feasible_only: bool| -> Vec<Vec<f64>> {
                ls.iter()
                    .filter(|l| l["workload"] == w.as_str() && (!feasible_only || l["feasible"] == true))
                    .filter_map(point)
                    .collect()
            };
            let hv = Bounds::of(&of(bounds_from, true)).map_or(0.0, |b| b.hypervolume(&of(&front, false)));
            (w, hv)
        })
        .collect()
}

fn cell(v: &Json) -> String {
    match v {
        Json::Number(n) if n.is_f64() => format!("{:.4e}", n.as_f64().unwrap_or(0.0)),
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The Pareto front of the run in `dir` on `x` and `y`, as an aligned
/// table, then each workload's [`front_hypervolumes`]: normalised by the
/// run's own feasible points, or, with `against` (another run of the same
/// space, e.g. the grid of a search), by that run's, which is then given
/// too with the ratio.
pub fn pareto_table(dir: &Path, x: &str, y: &str, against: Option<&Path>) -> Result<String, FlowError> {
    for o in [x, y] {
        if !OBJECTIVES.contains(&o) {
            return Err(FlowError::Request(format!("`{o}` is not an objective (known: {})", OBJECTIVES.join(", "))));
        }
    }
    let spec_path = dir.join("spec.toml");
    let (_, spec) = super::load_spec(&spec_path)?;
    let fields = field_names(&spec);
    let lines = read_and_repair(&results_path(dir))?;
    let mut header: Vec<&str> = vec!["workload", "index"];
    header.extend(fields.iter().map(String::as_str));
    header.extend([x, y]);
    let rows: Vec<Vec<String>> =
        front(&lines, x, y).iter().map(|l| header.iter().map(|h| cell(&l[*h])).collect()).collect();
    let mut out = nmsat_reports::table::table(&header, &rows);
    let Some(other) = against else {
        for (w, hv) in front_hypervolumes(&lines, &lines, x, y) {
            out.push_str(&format!("hypervolume of the front on ({x}, {y}), {w}: {hv:.4} (of at most 1.21)\n"));
        }
        return Ok(out);
    };
    let theirs = read_and_repair(&results_path(other))?;
    let mine = front_hypervolumes(&lines, &theirs, x, y);
    for ((w, hv), (_, them)) in mine.iter().zip(front_hypervolumes(&theirs, &theirs, x, y)) {
        let ratio = if them > 0.0 { hv / them } else { 0.0 };
        out.push_str(&format!(
            "hypervolume of the front on ({x}, {y}), {w}: {hv:.4}, {}'s {them:.4}, ratio {ratio:.4} (normalised by {}'s feasible points)\n",
            other.display(),
            other.display()
        ));
    }
    Ok(out)
}
