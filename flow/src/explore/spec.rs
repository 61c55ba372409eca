//! The exploration spec (TOML): workloads, the space of `ArchConfig`
//! values over a base preset, constraints, objectives and the strategy.
//!
//! Every mistake is a [`FlowError::Request`] naming the file and the key
//! (and its line where the text shows it).

use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use toml::{Table, Value};

use crate::error::FlowError;
use crate::step::Schedule;

/// The objectives a point reports, each minimised except those in
/// [`MAXIMISED`].
pub const OBJECTIVES: &[&str] =
    &["seconds", "energy_j", "power_w", "gops", "gops_per_w", "edp_j_s", "lut", "ff", "dsp", "bram36"];

/// Objectives where more is better.
pub const MAXIMISED: &[&str] = &["gops", "gops_per_w"];

/// One workload: a training step of `model` under `method` at `nm` and `batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Model name or file.
    pub model: String,
    /// Training method.
    pub method: Method,
    /// N:M pattern.
    pub nm: NmPattern,
    /// Samples per step.
    pub batch: u64,
    /// Weight of the workload (recorded with each result).
    pub weight: f64,
}

impl Workload {
    /// The workload's label in results: `model/method/N:M/bBATCH`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}/b{}", self.model, self.method, self.nm, self.batch)
    }
}

/// How configs are picked from the space.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// The whole cartesian product, in spec order (the last key varies fastest).
    Grid,
    /// `samples` distinct grid points drawn with `seed`.
    Random {
        /// How many configs.
        samples: usize,
        /// The generator's seed.
        seed: u64,
    },
}

/// A constraint: `objective <= limit` (`_max`) or `objective >= limit` (`_min`).
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// The objective.
    pub objective: String,
    /// True for an upper bound.
    pub is_max: bool,
    /// The bound.
    pub limit: f64,
}

/// A parsed, checked spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The preset the space modifies.
    pub base: String,
    /// The workloads, each evaluated at every config.
    pub workloads: Vec<Workload>,
    /// Dotted `ArchConfig` keys and their values, in spec order.
    pub space: Vec<(String, Vec<Value>)>,
    /// Constraints on objectives.
    pub constraints: Vec<Constraint>,
    /// The objectives of interest (all are recorded).
    pub objectives: Vec<String>,
    /// Grid or random.
    pub strategy: Strategy,
    /// How each point's schedule is chosen: `"fastest"` (the default, what
    /// `nmsat sim` reports: both candidate schedules simulated) or
    /// `"cost-model"` (the scheduler's choice, simulated once).
    pub schedule: Schedule,
}

/// An error about `key` in `origin`, with its line when the text shows it.
fn bad(origin: &str, text: &str, key: &str, msg: impl std::fmt::Display) -> FlowError {
    let line = text.lines().position(|l| l.contains(key)).map(|n| format!(", line {}", n + 1)).unwrap_or_default();
    FlowError::Request(format!("{origin}: `{key}`{line}: {msg}"))
}

fn int(origin: &str, text: &str, key: &str, v: &Value) -> Result<u64, FlowError> {
    v.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or_else(|| bad(origin, text, key, "expected an integer >= 0"))
}

fn string<'a>(origin: &str, text: &str, key: &str, v: &'a Value) -> Result<&'a str, FlowError> {
    v.as_str().ok_or_else(|| bad(origin, text, key, "expected a string"))
}

impl Spec {
    /// Parses and checks the spec `text` read from `origin`.
    pub fn parse(text: &str, origin: &str) -> Result<Spec, FlowError> {
        let root: Table = text.parse().map_err(|e: toml::de::Error| FlowError::Request(format!("{origin}: {e}")))?;
        let mut spec = Spec {
            base: "sat-vu9p".into(),
            workloads: Vec::new(),
            space: Vec::new(),
            constraints: Vec::new(),
            objectives: vec!["seconds".into(), "energy_j".into()],
            strategy: Strategy::Grid,
            schedule: Schedule::Fastest,
        };
        let (mut samples, mut seed, mut strategy) = (None, 0u64, "grid".to_string());
        for (k, v) in &root {
            match k.as_str() {
                "base" => spec.base = string(origin, text, k, v)?.to_string(),
                "workload" => spec.workloads = workloads(origin, text, v)?,
                "space" => {}
                "constraints" => spec.constraints = constraints(origin, text, v)?,
                "objectives" => spec.objectives = objectives(origin, text, v)?,
                "strategy" => strategy = string(origin, text, k, v)?.to_string(),
                "samples" => samples = Some(int(origin, text, k, v)? as usize),
                "seed" => seed = int(origin, text, k, v)?,
                "schedule" => {
                    spec.schedule = match string(origin, text, k, v)? {
                        "fastest" => Schedule::Fastest,
                        "cost-model" => Schedule::CostModel,
                        s => return Err(bad(origin, text, k, format!("`{s}` is not \"fastest\" or \"cost-model\""))),
                    }
                }
                _ => return Err(bad(origin, text, k, "unknown key")),
            }
        }
        spec.strategy = match (strategy.as_str(), samples) {
            ("grid", _) => Strategy::Grid,
            ("random", Some(samples)) if samples > 0 => Strategy::Random { samples, seed },
            ("random", _) => return Err(bad(origin, text, "samples", "strategy \"random\" needs samples >= 1")),
            (s, _) => return Err(bad(origin, text, "strategy", format!("`{s}` is not grid or random"))),
        };
        if spec.workloads.is_empty() {
            return Err(bad(origin, text, "workload", "at least one [[workload]] is needed"));
        }
        let base = ArchConfig::preset(&spec.base)
            .ok_or_else(|| bad(origin, text, "base", format!("`{}` is not a preset", spec.base)))?;
        let base: Table = base.to_toml().parse().map_err(|e| FlowError::Request(format!("base preset: {e}")))?;
        let space =
            root.get("space").map(|v| v.as_table().ok_or_else(|| bad(origin, text, "space", "expected a table")));
        if let Some(space) = space.transpose()? {
            spec.space = space_values(origin, text, space, &base)?;
        }
        Ok(spec)
    }

    /// Configs in the grid (the product of the list lengths).
    pub fn grid_size(&self) -> u128 {
        self.space.iter().map(|(_, v)| v.len() as u128).product()
    }
}

fn workloads(origin: &str, text: &str, v: &Value) -> Result<Vec<Workload>, FlowError> {
    let list = v.as_array().ok_or_else(|| bad(origin, text, "workload", "expected [[workload]] tables"))?;
    let mut out = Vec::new();
    for w in list {
        let t = w.as_table().ok_or_else(|| bad(origin, text, "workload", "expected a table"))?;
        let mut wl = Workload {
            model: String::new(),
            method: Method::Bdwp,
            nm: "2:8".parse().expect("2:8 is a pattern"),
            batch: 32,
            weight: 1.0,
        };
        for (k, v) in t {
            match k.as_str() {
                "model" => wl.model = string(origin, text, k, v)?.to_string(),
                "method" => wl.method = string(origin, text, k, v)?.parse().map_err(|e| bad(origin, text, k, e))?,
                "nm" => wl.nm = string(origin, text, k, v)?.parse().map_err(|e| bad(origin, text, k, e))?,
                "batch" => wl.batch = int(origin, text, k, v)?.max(1),
                "weight" => {
                    wl.weight = v
                        .as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .ok_or_else(|| bad(origin, text, k, "expected a number"))?
                }
                _ => return Err(bad(origin, text, &format!("workload.{k}"), "unknown key")),
            }
        }
        if wl.model.is_empty() {
            return Err(bad(origin, text, "workload", "every [[workload]] needs a model"));
        }
        out.push(wl);
    }
    Ok(out)
}

fn objectives(origin: &str, text: &str, v: &Value) -> Result<Vec<String>, FlowError> {
    let list = v.as_array().ok_or_else(|| bad(origin, text, "objectives", "expected a list"))?;
    let mut out = Vec::new();
    for o in list {
        let o = string(origin, text, "objectives", o)?;
        if !OBJECTIVES.contains(&o) {
            return Err(bad(origin, text, o, format!("unknown objective (known: {})", OBJECTIVES.join(", "))));
        }
        out.push(o.to_string());
    }
    Ok(out)
}

fn constraints(origin: &str, text: &str, v: &Value) -> Result<Vec<Constraint>, FlowError> {
    let t = v.as_table().ok_or_else(|| bad(origin, text, "constraints", "expected a table"))?;
    let mut out = Vec::new();
    for (k, v) in t {
        let (objective, is_max) = match (k.strip_suffix("_max"), k.strip_suffix("_min")) {
            (Some(o), _) => (o, true),
            (_, Some(o)) => (o, false),
            _ => return Err(bad(origin, text, k, "a constraint is OBJECTIVE_max or OBJECTIVE_min")),
        };
        if !OBJECTIVES.contains(&objective) {
            let known = OBJECTIVES.join(", ");
            return Err(bad(origin, text, k, format!("`{objective}` is not an objective (known: {known})")));
        }
        let limit = v
            .as_float()
            .or_else(|| v.as_integer().map(|i| i as f64))
            .ok_or_else(|| bad(origin, text, k, "expected a number"))?;
        out.push(Constraint { objective: objective.to_string(), is_max, limit });
    }
    Ok(out)
}

/// The value at dotted `key` in `table`.
pub fn lookup<'a>(table: &'a Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let mut cur = table.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

fn space_values(origin: &str, text: &str, space: &Table, base: &Table) -> Result<Vec<(String, Vec<Value>)>, FlowError> {
    let mut out = Vec::new();
    for (k, v) in space {
        let Some(current) = lookup(base, k).filter(|c| !c.is_table()) else {
            return Err(bad(origin, text, k, "not an ArchConfig field (use dotted keys such as \"pe_array.rows\")"));
        };
        let values = match v {
            Value::Array(a) => a.clone(),
            Value::Table(t) => range(origin, text, k, t)?,
            _ => return Err(bad(origin, text, k, "expected a list of values or { from, to, step }")),
        };
        if values.is_empty() {
            return Err(bad(origin, text, k, "empty list of values"));
        }
        if let Some(w) = values.iter().find(|x| x.type_str() != current.type_str()) {
            return Err(bad(
                origin,
                text,
                k,
                format!("{w} is a {}, the field is a {}", w.type_str(), current.type_str()),
            ));
        }
        out.push((k.clone(), values));
    }
    // Spec order: where each key first appears in the text.
    out.sort_by_key(|(k, _)| text.find(&format!("\"{k}\"")).or_else(|| text.find(k.as_str())).unwrap_or(usize::MAX));
    Ok(out)
}

fn range(origin: &str, text: &str, key: &str, t: &Table) -> Result<Vec<Value>, FlowError> {
    let get = |f: &str| -> Result<i64, FlowError> {
        t.get(f)
            .and_then(Value::as_integer)
            .ok_or_else(|| bad(origin, text, key, format!("a range needs an integer `{f}`")))
    };
    if let Some(extra) = t.keys().find(|f| !["from", "to", "step"].contains(&f.as_str())) {
        return Err(bad(origin, text, key, format!("unknown range key `{extra}`")));
    }
    let (from, to) = (get("from")?, get("to")?);
    let step = if t.contains_key("step") { get("step")? } else { 1 };
    if step <= 0 {
        return Err(bad(origin, text, key, "a range's step must be >= 1"));
    }
    Ok((from..=to).step_by(step as usize).map(Value::Integer).collect())
}
