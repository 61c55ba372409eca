//! The Pareto front of two objectives over a run's feasible points, and
//! its hypervolume.

use std::path::Path;

use serde_json::Value as Json;

use super::hypervolume::Bounds;
use super::points::field_names;
use super::results::{read_and_repair, results_path};
use super::spec::{MAXIMISED, OBJECTIVES};
use crate::error::FlowError;

/// True when `a` is at least as good as `b` on every objective and better on one.
fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// `line`'s values of `objs`, maximised ones negated so that all are
/// minimised; `None` when one is missing.
pub(crate) fn minimised(line: &Json, objs: &[&str]) -> Option<Vec<f64>> {
    objs.iter().map(|o| Some(line[*o].as_f64()? * if MAXIMISED.contains(o) { -1.0 } else { 1.0 })).collect()
}

/// The non-dominated feasible lines of `lines` on the objectives `objs`,
/// per workload, sorted by workload then the first objective (then the
/// others, then the index). Objectives in [`MAXIMISED`] are maximised, the
/// others minimised.
pub fn front(lines: &[Json], objs: &[&str]) -> Vec<Json> {
    let pts: Vec<(&Json, Vec<f64>)> =
        lines.iter().filter(|l| l["feasible"] == true).filter_map(|l| Some((l, minimised(l, objs)?))).collect();
    let mut out: Vec<&(&Json, Vec<f64>)> = pts
        .iter()
        .filter(|(l, p)| !pts.iter().any(|(m, q)| m["workload"] == l["workload"] && dominates(q, p)))
        .collect();
    let w = |l: &Json| l["workload"].as_str().unwrap_or_default().to_string();
    out.sort_by(|a, b| {
        let by_values = a.1.iter().zip(&b.1).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne());
        let index = |l: &Json| l["index"].as_u64().unwrap_or(u64::MAX);
        w(a.0).cmp(&w(b.0)).then(by_values.unwrap_or(std::cmp::Ordering::Equal)).then(index(a.0).cmp(&index(b.0)))
    });
    out.into_iter().map(|(l, _)| (*l).clone()).collect()
}

/// Workloads of the feasible lines, in order of first appearance.
pub(crate) fn workloads(lines: &[Json]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines.iter().filter(|l| l["feasible"] == true) {
        let w = l["workload"].as_str().unwrap_or_default().to_string();
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// The hypervolume of each workload's front of `lines` on `objs`
/// (maximised objectives negated), normalised by the ranges of that
/// workload's feasible points in `bounds_from` (the same lines, or
/// another run's to compare with it) with the reference point at 1.1
/// ([`Bounds`]): at most 1.1^k. In workload order of first appearance in
/// `bounds_from`.
pub fn front_hypervolumes(lines: &[Json], bounds_from: &[Json], objs: &[&str]) -> Vec<(String, f64)> {
    let front = front(lines, objs);
    workloads(bounds_from)
        .into_iter()
        .map(|w| {
            let of = |ls: &[Json], feasible_only: bool| -> Vec<Vec<f64>> {
                ls.iter()
                    .filter(|l| l["workload"] == w.as_str() && (!feasible_only || l["feasible"] == true))
                    .filter_map(|l| minimised(l, objs))
                    .collect()
            };
            let hv = Bounds::of(&of(bounds_from, true)).map_or(0.0, |b| b.hypervolume(&of(&front, false)));
            (w, hv)
        })
        .collect()
}

/// Checks that every name in `objs` is an objective.
pub(crate) fn check_objectives(objs: &[&str]) -> Result<(), FlowError> {
    match objs.iter().find(|o| !OBJECTIVES.contains(o)) {
        Some(o) => Err(FlowError::Request(format!("`{o}` is not an objective (known: {})", OBJECTIVES.join(", ")))),
        None => Ok(()),
    }
}

fn cell(v: &Json) -> String {
    match v {
        Json::Number(n) if n.is_f64() => format!("{:.4e}", n.as_f64().unwrap_or(0.0)),
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The Pareto front of the run in `dir` on the objectives `objs` (two or
/// three), as an aligned table, then each workload's
/// [`front_hypervolumes`]: normalised by the run's own feasible points,
/// or, with `against` (another run of the same space, e.g. the grid of a
/// search), by that run's, which is then given too with the ratio.
pub fn pareto_table(dir: &Path, objs: &[&str], against: Option<&Path>) -> Result<String, FlowError> {
    check_objectives(objs)?;
    let spec_path = dir.join("spec.toml");
    let (_, spec) = super::load_spec(&spec_path)?;
    let fields = field_names(&spec);
    let lines = read_and_repair(&results_path(dir))?;
    let mut header: Vec<&str> = vec!["workload", "index"];
    header.extend(fields.iter().map(String::as_str));
    header.extend(objs);
    let rows: Vec<Vec<String>> =
        front(&lines, objs).iter().map(|l| header.iter().map(|h| cell(&l[*h])).collect()).collect();
    let mut out = nmsat_reports::table::table(&header, &rows);
    let names = objs.join(", ");
    let most = 1.1f64.powi(objs.len() as i32);
    let Some(other) = against else {
        for (w, hv) in front_hypervolumes(&lines, &lines, objs) {
            out.push_str(&format!("hypervolume of the front on ({names}), {w}: {hv:.4} (of at most {most:.4})\n"));
        }
        return Ok(out);
    };
    let theirs = read_and_repair(&results_path(other))?;
    let mine = front_hypervolumes(&lines, &theirs, objs);
    for ((w, hv), (_, them)) in mine.iter().zip(front_hypervolumes(&theirs, &theirs, objs)) {
        let ratio = if them > 0.0 { hv / them } else { 0.0 };
        out.push_str(&format!(
            "hypervolume of the front on ({names}), {w}: {hv:.4}, {}'s {them:.4}, ratio {ratio:.4} (normalised by {}'s feasible points)\n",
            other.display(),
            other.display()
        ));
    }
    Ok(out)
}
