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
    /// A multi-objective evolutionary search over the grid (NSGA-II).
    Nsga2(Nsga2),
}

/// The settings of strategy `"nsga2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nsga2 {
    /// Configs per generation.
    pub population: usize,
    /// Generations after the first population.
    pub generations: usize,
    /// The generator's seed.
    pub seed: u64,
}

impl Nsga2 {
    /// The default population.
    pub const POPULATION: usize = 24;
    /// The default number of generations.
    pub const GENERATIONS: usize = 6;

    /// The most configs the search evaluates: the first population and one
    /// offspring population per generation, at most the grid.
    pub fn budget(&self, grid: u128) -> u128 {
        (self.population as u128 * (self.generations as u128 + 1)).min(grid)
    }
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

/// A step of the path to a key of the spec: a table key or an array index.
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    At(usize),
}

/// The spec's text where it came from, parsed once more with its spans so
/// that every error names the line of the key it is about.
struct Src<'a> {
    origin: &'a str,
    text: &'a str,
    doc: Option<toml_edit::ImDocument<&'a str>>,
}

/// The span of the key (or element) at `path` under `item`.
fn span_at(item: &toml_edit::Item, path: &[Seg]) -> Option<std::ops::Range<usize>> {
    let Some((first, rest)) = path.split_first() else { return item.span() };
    match *first {
        Seg::Key(k) => {
            let (key, next) = item.as_table_like()?.get_key_value(k)?;
            if rest.is_empty() { key.span().or_else(|| next.span()) } else { span_at(next, rest) }
        }
        Seg::At(n) => {
            let next = match item {
                toml_edit::Item::ArrayOfTables(a) => toml_edit::Item::Table(a.get(n)?.clone()),
                _ => toml_edit::Item::Value(item.as_array()?.get(n)?.clone()),
            };
            span_at(&next, rest)
        }
    }
}

impl<'a> Src<'a> {
    fn new(origin: &'a str, text: &'a str) -> Self {
        Src { origin, text, doc: toml_edit::ImDocument::parse(text).ok() }
    }

    /// The byte offset of the key at `path`.
    fn offset(&self, path: &[Seg]) -> Option<usize> {
        span_at(self.doc.as_ref()?.as_item(), path).map(|r| r.start)
    }

    /// The 1-based line of the key at `path` (else of the first line
    /// mentioning `label`).
    fn line(&self, label: &str, path: &[Seg]) -> Option<usize> {
        match self.offset(path) {
            Some(off) => Some(self.text[..off.min(self.text.len())].matches('\n').count() + 1),
            None => self.text.lines().position(|l| l.contains(label)).map(|n| n + 1),
        }
    }

    /// An error about the key at `path`, shown as `label`, naming the file
    /// and the line.
    fn err(&self, label: &str, path: &[Seg], msg: impl std::fmt::Display) -> FlowError {
        let line = self.line(label, path).map(|n| format!(", line {n}")).unwrap_or_default();
        FlowError::Request(format!("{}: `{label}`{line}: {msg}", self.origin))
    }

    /// An error about top-level key `key`.
    fn top(&self, key: &str, msg: impl std::fmt::Display) -> FlowError {
        self.err(key, &[Seg::Key(key)], msg)
    }
}

fn int(src: &Src, label: &str, path: &[Seg], v: &Value) -> Result<u64, FlowError> {
    v.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or_else(|| src.err(label, path, "expected an integer >= 0"))
}

fn string<'v>(src: &Src, label: &str, path: &[Seg], v: &'v Value) -> Result<&'v str, FlowError> {
    v.as_str().ok_or_else(|| src.err(label, path, "expected a string"))
}

fn number(src: &Src, label: &str, path: &[Seg], v: &Value) -> Result<f64, FlowError> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64)).ok_or_else(|| src.err(label, path, "expected a number"))
}

/// The strategy keys as written, before they are checked together.
#[derive(Default)]
struct StrategyKeys {
    name: Option<String>,
    samples: Option<u64>,
    population: Option<u64>,
    generations: Option<u64>,
    seed: Option<u64>,
}

impl StrategyKeys {
    /// The strategy, or the key that does not fit it.
    fn check(&self, src: &Src) -> Result<Strategy, FlowError> {
        let name = self.name.as_deref().unwrap_or("grid");
        let seed = self.seed.unwrap_or(0);
        let not_for = |key: &str, of: &str| {
            src.top(key, format!("`{key}` is a key of strategy \"{of}\", and this spec's strategy is \"{name}\""))
        };
        if name != "random" && self.samples.is_some() {
            return Err(not_for("samples", "random"));
        }
        if name != "nsga2" {
            for (key, v) in [("population", self.population), ("generations", self.generations)] {
                if v.is_some() {
                    return Err(not_for(key, "nsga2"));
                }
            }
        }
        match name {
            "grid" => Ok(Strategy::Grid),
            "random" => match self.samples {
                Some(samples) if samples > 0 => Ok(Strategy::Random { samples: samples as usize, seed }),
                Some(_) => Err(src.top("samples", "strategy \"random\" needs samples >= 1")),
                None => Err(src.top("strategy", "strategy \"random\" needs samples >= 1")),
            },
            "nsga2" => {
                let population = self.population.unwrap_or(Nsga2::POPULATION as u64);
                let generations = self.generations.unwrap_or(Nsga2::GENERATIONS as u64);
                if !(4..=100_000).contains(&population) {
                    return Err(src.top("population", format!("{population} is not in 4..=100000")));
                }
                if !(1..=100_000).contains(&generations) {
                    return Err(src.top("generations", format!("{generations} is not in 1..=100000")));
                }
                Ok(Strategy::Nsga2(Nsga2 { population: population as usize, generations: generations as usize, seed }))
            }
            s => Err(src.top("strategy", format!("`{s}` is not \"grid\", \"random\" or \"nsga2\""))),
        }
    }
}

impl Spec {
    /// Parses and checks the spec `text` read from `origin`.
    pub fn parse(text: &str, origin: &str) -> Result<Spec, FlowError> {
        let root: Table = text.parse().map_err(|e: toml::de::Error| FlowError::Request(format!("{origin}: {e}")))?;
        let src = Src::new(origin, text);
        let mut spec = Spec {
            base: "sat-vu9p".into(),
            workloads: Vec::new(),
            space: Vec::new(),
            constraints: Vec::new(),
            objectives: vec!["seconds".into(), "energy_j".into()],
            strategy: Strategy::Grid,
            schedule: Schedule::Fastest,
        };
        let mut keys = StrategyKeys::default();
        for (k, v) in &root {
            let path = [Seg::Key(k)];
            match k.as_str() {
                "base" => spec.base = string(&src, k, &path, v)?.to_string(),
                "workload" => spec.workloads = workloads(&src, v)?,
                "space" => {}
                "constraints" => spec.constraints = constraints(&src, v)?,
                "objectives" => spec.objectives = objectives(&src, v)?,
                "strategy" => keys.name = Some(string(&src, k, &path, v)?.to_string()),
                "samples" => keys.samples = Some(int(&src, k, &path, v)?),
                "population" => keys.population = Some(int(&src, k, &path, v)?),
                "generations" => keys.generations = Some(int(&src, k, &path, v)?),
                "seed" => keys.seed = Some(int(&src, k, &path, v)?),
                "schedule" => {
                    spec.schedule = match string(&src, k, &path, v)? {
                        "fastest" => Schedule::Fastest,
                        "cost-model" => Schedule::CostModel,
                        s => return Err(src.top(k, format!("`{s}` is not \"fastest\" or \"cost-model\""))),
                    }
                }
                _ => return Err(src.top(k, "unknown key")),
            }
        }
        spec.strategy = keys.check(&src)?;
        if spec.workloads.is_empty() {
            return Err(src.top("workload", "at least one [[workload]] is needed"));
        }
        if spec.objectives.is_empty() {
            return Err(src.top("objectives", "at least one objective is needed"));
        }
        let base = ArchConfig::preset(&spec.base)
            .ok_or_else(|| src.top("base", format!("`{}` is not a preset", spec.base)))?;
        let base: Table = base.to_toml().parse().map_err(|e| FlowError::Request(format!("base preset: {e}")))?;
        let space = root.get("space").map(|v| v.as_table().ok_or_else(|| src.top("space", "expected a table")));
        if let Some(space) = space.transpose()? {
            spec.space = space_values(&src, space, &base)?;
        }
        Ok(spec)
    }

    /// Configs in the grid (the product of the list lengths).
    pub fn grid_size(&self) -> u128 {
        self.space.iter().map(|(_, v)| v.len() as u128).product()
    }
}

fn workloads(src: &Src, v: &Value) -> Result<Vec<Workload>, FlowError> {
    let list = v.as_array().ok_or_else(|| src.top("workload", "expected [[workload]] tables"))?;
    let mut out = Vec::new();
    for (i, w) in list.iter().enumerate() {
        let at = [Seg::Key("workload"), Seg::At(i)];
        let t = w.as_table().ok_or_else(|| src.err("workload", &at, "expected a table"))?;
        let mut wl = Workload {
            model: String::new(),
            method: Method::Bdwp,
            nm: NmPattern::new(2, 8).map_err(|e| FlowError::Request(e.to_string()))?,
            batch: 32,
            weight: 1.0,
        };
        for (k, v) in t {
            let path = [Seg::Key("workload"), Seg::At(i), Seg::Key(k)];
            let label = format!("workload.{k}");
            let bad = |e: String| src.err(&label, &path, e);
            match k.as_str() {
                "model" => wl.model = string(src, &label, &path, v)?.to_string(),
                "method" => wl.method = string(src, &label, &path, v)?.parse().map_err(&bad)?,
                "nm" => wl.nm = string(src, &label, &path, v)?.parse().map_err(|e| bad(format!("{e}")))?,
                "batch" => wl.batch = int(src, &label, &path, v)?.max(1),
                "weight" => {
                    wl.weight = number(src, &label, &path, v)?;
                    if !(wl.weight.is_finite() && wl.weight > 0.0) {
                        return Err(bad(format!("{} is not a weight > 0", wl.weight)));
                    }
                }
                _ => return Err(bad("unknown key (known: model, method, nm, batch, weight)".into())),
            }
        }
        if wl.model.is_empty() {
            return Err(src.err("workload", &at, "every [[workload]] needs a model"));
        }
        out.push(wl);
    }
    Ok(out)
}

fn objectives(src: &Src, v: &Value) -> Result<Vec<String>, FlowError> {
    let list = v.as_array().ok_or_else(|| src.top("objectives", "expected a list"))?;
    let mut out: Vec<String> = Vec::new();
    for (i, o) in list.iter().enumerate() {
        let path = [Seg::Key("objectives"), Seg::At(i)];
        let o = string(src, "objectives", &path, o)?;
        if !OBJECTIVES.contains(&o) {
            return Err(src.err(o, &path, format!("unknown objective (known: {})", OBJECTIVES.join(", "))));
        }
        if out.iter().any(|x| x == o) {
            return Err(src.err(o, &path, "listed twice"));
        }
        out.push(o.to_string());
    }
    Ok(out)
}

fn constraints(src: &Src, v: &Value) -> Result<Vec<Constraint>, FlowError> {
    let t = v.as_table().ok_or_else(|| src.top("constraints", "expected a table"))?;
    let mut out = Vec::new();
    for (k, v) in t {
        let path = [Seg::Key("constraints"), Seg::Key(k)];
        let (objective, is_max) = match (k.strip_suffix("_max"), k.strip_suffix("_min")) {
            (Some(o), _) => (o, true),
            (_, Some(o)) => (o, false),
            _ => return Err(src.err(k, &path, "unknown key: a constraint is OBJECTIVE_max or OBJECTIVE_min")),
        };
        if !OBJECTIVES.contains(&objective) {
            let known = OBJECTIVES.join(", ");
            return Err(src.err(k, &path, format!("`{objective}` is not an objective (known: {known})")));
        }
        let limit = number(src, k, &path, v)?;
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

fn space_values(src: &Src, space: &Table, base: &Table) -> Result<Vec<(String, Vec<Value>)>, FlowError> {
    let mut out = Vec::new();
    for (k, v) in space {
        let path = [Seg::Key("space"), Seg::Key(k)];
        let Some(current) = lookup(base, k).filter(|c| !c.is_table()) else {
            return Err(src.err(
                k,
                &path,
                "unknown key: not an ArchConfig field (use dotted keys such as \"pe_array.rows\")",
            ));
        };
        let values = match v {
            Value::Array(a) => a.clone(),
            Value::Table(t) => range(src, k, &path, t)?,
            _ => return Err(src.err(k, &path, "expected a list of values or { from, to, step }")),
        };
        if values.is_empty() {
            let what = if v.is_table() { "empty range (from > to)" } else { "empty list of values" };
            return Err(src.err(k, &path, what));
        }
        if let Some(w) = values.iter().find(|x| x.type_str() != current.type_str()) {
            let msg = format!("{w} is a {}, the field is a {}", w.type_str(), current.type_str());
            return Err(src.err(k, &path, msg));
        }
        out.push((k.clone(), values));
    }
    // Spec order: where each key appears in the text.
    out.sort_by_key(|(k, _)| src.offset(&[Seg::Key("space"), Seg::Key(k)]).unwrap_or(usize::MAX));
    Ok(out)
}

fn range(src: &Src, key: &str, path: &[Seg], t: &Table) -> Result<Vec<Value>, FlowError> {
    let get = |f: &str| -> Result<i64, FlowError> {
        t.get(f)
            .and_then(Value::as_integer)
            .ok_or_else(|| src.err(key, path, format!("a range needs an integer `{f}`")))
    };
    if let Some(extra) = t.keys().find(|f| !["from", "to", "step"].contains(&f.as_str())) {
        let mut at = path.to_vec();
        at.push(Seg::Key(extra));
        return Err(src.err(key, &at, format!("unknown range key `{extra}` (known: from, to, step)")));
    }
    let (from, to) = (get("from")?, get("to")?);
    let step = if t.contains_key("step") { get("step")? } else { 1 };
    if step <= 0 {
        return Err(src.err(key, path, "a range's step must be >= 1"));
    }
    if to.saturating_sub(from) / step > 1_000_000 {
        return Err(src.err(key, path, "a range of more than a million values"));
    }
    Ok((from..=to).step_by(step as usize).map(Value::Integer).collect())
}
