//! The best config of a run, per workload and for the weighted mix of its
//! workloads, as a config file ready for `nmsat arch check`.
//!
//! "Best" ranks feasible points by the spec's objectives in order: the
//! first decides, the next break ties, then the lowest point index (the
//! results are deterministic, so is the choice). For the mix, a config
//! counts only when it is feasible for every workload, and it is ranked by
//! the workloads' weighted sum of each objective.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value as Json;
use toml::Value;

use super::pareto::minimised;
use super::points::apply;
use super::report::Loaded;
use crate::error::FlowError;

/// A best config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Best {
    /// What it is best for (a workload label, or "the weighted mix").
    pub(crate) title: String,
    /// How it was chosen, in words.
    pub(crate) why: String,
    /// Its result lines: one per workload it was chosen for.
    pub(crate) lines: Vec<Json>,
    /// The config file's text.
    pub(crate) toml: String,
    /// The file name in the report directory.
    pub(crate) file: String,
}

/// `label` as a file-name part: letters and digits, the rest as `-`.
fn slug(label: &str) -> String {
    let s: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    s.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-")
}

fn compare(a: &[f64], b: &[f64]) -> Ordering {
    a.iter().zip(b).map(|(x, y)| x.total_cmp(y)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

/// The config of `line` (a point of the run) as TOML named `name`, with a
/// comment saying where it comes from.
fn config_of(ld: &Loaded, line: &Json, name: &str, origin: &str) -> Result<String, FlowError> {
    let mut values: Vec<(String, Value)> = Vec::new();
    for ((key, _), field) in ld.ctx.spec.space.iter().zip(&ld.ctx.fields) {
        let v: Value = serde_json::from_value(line[field.as_str()].clone()).map_err(|e| {
            FlowError::Request(format!("result line {}: field `{field}` is not a config value: {e}", line["index"]))
        })?;
        values.push((key.clone(), v));
    }
    values.push(("name".into(), Value::String(name.to_string())));
    let (text, arch) = apply(&ld.ctx.base, &values);
    arch.map_err(|e| FlowError::Request(format!("the config of point {} is invalid: {e}", line["index"])))?;
    Ok(format!("# {origin}\n# Written by `nmsat explore report`; check it with `nmsat arch check FILE`.\n{text}"))
}

/// The best feasible point of each workload.
pub(crate) fn best_per_workload(ld: &Loaded) -> Result<Vec<Best>, FlowError> {
    let objs: Vec<&str> = ld.ctx.spec.objectives.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for wl in &ld.ctx.spec.workloads {
        let label = wl.label();
        let best = ld
            .lines
            .iter()
            .filter(|l| l["workload"] == label.as_str() && l["feasible"] == true)
            .filter_map(|l| Some((l, minimised(l, &objs)?)))
            .min_by(|a, b| compare(&a.1, &b.1).then(a.0["index"].as_u64().cmp(&b.0["index"].as_u64())));
        let Some((line, _)) = best else { continue };
        let s = slug(&label);
        let origin = format!("best config for {label} by {} (point {})", objs.join(", then "), line["index"]);
        out.push(Best {
            title: label.clone(),
            why: format!(
                "The feasible point with the best {} (ties broken by {}, then the lowest index): point {}.",
                objs[0],
                if objs.len() > 1 { objs[1..].join(", then ") } else { "nothing else".into() },
                line["index"]
            ),
            lines: vec![line.clone()],
            toml: config_of(ld, line, &format!("explore-{s}"), &origin)?,
            file: format!("best-{s}.toml"),
        });
    }
    Ok(out)
}

/// The config feasible for every workload with the best weighted sum of
/// each objective; `None` when no config is feasible for all.
pub(crate) fn best_for_mix(ld: &Loaded) -> Result<Option<Best>, FlowError> {
    let spec = &ld.ctx.spec;
    let objs: Vec<&str> = spec.objectives.iter().map(String::as_str).collect();
    let mut by_config: BTreeMap<String, Vec<Option<&Json>>> = BTreeMap::new();
    for l in &ld.lines {
        let key: Vec<String> = ld.ctx.fields.iter().map(|f| l[f.as_str()].to_string()).collect();
        let slots = by_config.entry(key.join("\u{1f}")).or_insert_with(|| vec![None; spec.workloads.len()]);
        if let Some(w) = spec.workloads.iter().position(|w| l["workload"] == w.label().as_str()) {
            slots[w] = Some(l);
        }
    }
    let mut scored: Vec<(Vec<f64>, u64, Vec<&Json>)> = Vec::new();
    for slots in by_config.values() {
        let lines: Option<Vec<&Json>> = slots.iter().copied().collect();
        let Some(lines) = lines.filter(|ls| ls.iter().all(|l| l["feasible"] == true)) else { continue };
        let mut sum = vec![0.0; objs.len()];
        let mut ok = true;
        for (l, w) in lines.iter().zip(&spec.workloads) {
            match minimised(l, &objs) {
                Some(v) => sum.iter_mut().zip(v).for_each(|(s, x)| *s += w.weight * x),
                None => ok = false,
            }
        }
        let index = lines.iter().filter_map(|l| l["index"].as_u64()).min().unwrap_or(u64::MAX);
        if ok {
            scored.push((sum, index, lines));
        }
    }
    let Some((_, _, lines)) = scored.into_iter().min_by(|a, b| compare(&a.0, &b.0).then(a.1.cmp(&b.1))) else {
        return Ok(None);
    };
    let origin = format!("best config for the weighted mix of {} workloads by {}", spec.workloads.len(), objs[0]);
    Ok(Some(Best {
        title: "the weighted mix".into(),
        why: format!(
            "Among the configs feasible for every workload, the one with the smallest weighted sum of {} over the \
             workloads (weights from the spec; ties broken by the next objectives, then the lowest index).",
            objs[0]
        ),
        toml: config_of(ld, lines[0], "explore-mix", &origin)?,
        lines: lines.into_iter().cloned().collect(),
        file: "best-mix.toml".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("resnet18-cifar10/bdwp/2:8/b32"), "resnet18-cifar10-bdwp-2-8-b32");
        assert_eq!(slug("../x y"), "x-y");
    }
}
