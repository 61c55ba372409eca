//! `nmsat explore report RUN_DIR`: one HTML page for a run, with the
//! Pareto fronts of each workload on every pair of the spec's objectives
//! (the presets marked), the sensitivity of each objective to each
//! parameter, and the best config per workload (and for the weighted mix)
//! as TOML ready for `nmsat arch check`; `nmsat explore pareto --chart`
//! draws the front of one pair (or triple) the same way.

use std::path::{Path, PathBuf};

use nmsat_reports::charts::{MarkedPoint, ScatterData, scatter};
use nmsat_reports::html::{Block, DataTable, Figure, KeyValues, Page, Section};
use serde_json::Value as Json;

use super::best::{Best, best_for_mix, best_per_workload};
use super::eval::Context;
use super::pareto::{check_objectives, front, front_hypervolumes, workloads};
use super::references::references;
use super::results::{read_and_repair, results_path};
use super::sensitivity::effects;
use super::spec::{MAXIMISED, Strategy};
use super::{Tally, context, load_spec};
use crate::error::FlowError;

/// What `explore report` and `explore pareto --chart` read and write.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The run directory.
    pub dir: PathBuf,
    /// Where the page goes (default `RUN_DIR/report`), replaced whole.
    pub out: Option<PathBuf>,
    /// Threads for simulating the presets (0: one per core).
    pub jobs: usize,
}

impl ReportOptions {
    /// The output directory.
    pub fn out_dir(&self, default_name: &str) -> PathBuf {
        self.out.clone().unwrap_or_else(|| self.dir.join(default_name))
    }
}

/// What a report wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    /// The page's directory (`index.html`, `charts/`, `best-*.toml`).
    pub out: PathBuf,
    /// Result lines read.
    pub lines: usize,
    /// Preset steps simulated now (0 when `presets.jsonl` had them all).
    pub presets_simulated: usize,
    /// The best-config files written, with their workload.
    pub best_files: Vec<(String, PathBuf)>,
}

/// A run's spec, context, result lines and the presets' lines.
pub(crate) struct Loaded {
    pub(crate) ctx: Context,
    pub(crate) lines: Vec<Json>,
    pub(crate) presets: Vec<Json>,
    pub(crate) presets_simulated: usize,
}

/// Reads the run in `dir` and evaluates (or reads back) the presets.
pub(crate) fn load(dir: &Path, jobs: usize) -> Result<Loaded, FlowError> {
    let spec_path = dir.join("spec.toml");
    if !spec_path.is_file() {
        return Err(FlowError::Request(format!(
            "{}: not a run directory (no spec.toml; `nmsat explore SPEC -o DIR` makes one)",
            dir.display()
        )));
    }
    let (_, spec) = load_spec(&spec_path)?;
    let lines = read_and_repair(&results_path(dir))?;
    if lines.is_empty() {
        return Err(FlowError::Request(format!("{}: the run has no results yet", dir.display())));
    }
    let ctx = context(spec, &spec_path.display().to_string())?;
    let (presets, presets_simulated) = references(dir, &ctx, jobs)?;
    Ok(Loaded { ctx, lines, presets, presets_simulated })
}

/// The axis description of an objective.
fn describe(o: &str) -> &'static str {
    match o {
        "seconds" => "seconds per step (s)",
        "energy_j" => "energy per step (J)",
        "power_w" => "average power (W)",
        "gops" => "throughput (GOPS, dense-equivalent)",
        "gops_per_w" => "efficiency (GOPS/W, dense-equivalent)",
        "edp_j_s" => "energy-delay product (J·s)",
        "lut" => "LUTs (resource model)",
        "ff" => "flip-flops (resource model)",
        "dsp" => "DSP48E2 (resource model)",
        "bram36" => "BRAM36 (resource model)",
        _ => "value",
    }
}

/// A number for a table: integers as such, others to four significant digits.
pub(crate) fn num(v: &Json) -> String {
    match v {
        Json::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Json::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{x:.0}")
            } else if x != 0.0 && (x.abs() < 0.01 || x.abs() >= 1e6) {
                format!("{x:.4e}")
            } else {
                format!("{x:.4}")
            }
        }
        Json::String(s) => s.clone(),
        Json::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The front chart of workload `w` (number `wi`) on `x` and `y`; with `z`,
/// the front is the three-objective one, drawn unjoined.
pub(crate) fn front_chart(
    ld: &Loaded,
    w: &str,
    wi: usize,
    x: &str,
    y: &str,
    z: Option<&str>,
) -> Result<Figure, FlowError> {
    let mine: Vec<Json> = ld.lines.iter().filter(|l| l["workload"] == w).cloned().collect();
    let xy = |l: &Json| Some((l[x].as_f64()?, l[y].as_f64()?));
    let points = mine.iter().filter(|l| l["feasible"] == true).filter_map(xy).collect();
    let objs: Vec<&str> = [Some(x), Some(y), z].into_iter().flatten().collect();
    let front_pts = front(&mine, &objs).iter().filter_map(xy).collect();
    let marked = ld
        .presets
        .iter()
        .filter(|l| l["workload"] == w)
        .filter_map(|l| {
            let (px, py) = xy(l)?;
            let label = l["preset"].as_str().unwrap_or("preset");
            let label = if l["feasible"] == true { label.to_string() } else { format!("{label}, infeasible") };
            Some(MarkedPoint { label, x: px, y: py })
        })
        .collect();
    let title = match z {
        Some(z) => format!("{w}: {x} vs {y} (front on {x}, {y}, {z})"),
        None => format!("{w}: {x} vs {y}"),
    };
    let data = ScatterData {
        title,
        name: format!("front-{}-{x}-{y}", wi + 1),
        x_desc: describe(x).into(),
        y_desc: describe(y).into(),
        points,
        front: front_pts,
        join_front: z.is_none(),
        marked,
    };
    let chart = scatter(&data).map_err(|e| FlowError::Request(e.to_string()))?;
    let caption = match z {
        Some(_) => "Grey: every feasible config; blue: the configs no other beats in all three objectives \
                    (projected, so some look dominated here); squares: the presets."
            .to_string(),
        None => "Grey: every feasible config; blue: the Pareto front; squares: the presets.".to_string(),
    };
    Ok(Figure { chart, caption, trace: None })
}

/// The front of `objs` for workload `w` as a table (at most `limit` rows).
fn front_table(ld: &Loaded, w: &str, objs: &[&str], limit: usize) -> DataTable {
    let mine: Vec<Json> = ld.lines.iter().filter(|l| l["workload"] == w).cloned().collect();
    let f = front(&mine, objs);
    let mut header = vec!["index".to_string()];
    header.extend(ld.ctx.fields.iter().cloned());
    header.extend(objs.iter().map(|o| o.to_string()));
    let rows = f.iter().take(limit).map(|l| header.iter().map(|h| num(&l[h.as_str()])).collect()).collect();
    let more = if f.len() > limit { format!(", the first {limit} shown") } else { String::new() };
    DataTable { caption: format!("The front on ({}): {} configs{more}", objs.join(", "), f.len()), header, rows }
}

/// The "Run" section: the spec and what the results hold.
fn run_section(ld: &Loaded, dir: &Path) -> Section {
    let spec = &ld.ctx.spec;
    let mut tally = Tally::default();
    ld.lines.iter().for_each(|l| tally.add(l));
    let strategy = match &spec.strategy {
        Strategy::Grid => "grid".to_string(),
        Strategy::Random { samples, seed } => format!("random, {samples} samples, seed {seed}"),
        Strategy::Nsga2(s) => {
            format!("nsga2, population {}, {} generations, seed {}", s.population, s.generations, s.seed)
        }
    };
    let reasons: Vec<String> = tally.commonest(5).iter().map(|(r, n)| format!("{r} ({n})")).collect();
    let mut rows = vec![
        ("run directory".to_string(), dir.display().to_string()),
        ("base config".into(), spec.base.clone()),
        ("strategy".into(), strategy),
        ("points".into(), format!("{} ({} feasible)", tally.points, tally.points - tally.infeasible)),
        ("objectives".into(), spec.objectives.join(", ")),
    ];
    if !reasons.is_empty() {
        rows.push(("why points are infeasible".into(), reasons.join("; ")));
    }
    for (w, wl) in spec.workloads.iter().enumerate() {
        rows.push((format!("workload {}", w + 1), format!("{} (weight {})", wl.label(), wl.weight)));
    }
    let objs: Vec<&str> = spec.objectives.iter().map(String::as_str).collect();
    let hv: Vec<String> = front_hypervolumes(&ld.lines, &ld.lines, &objs)
        .into_iter()
        .map(|(w, v)| format!("{w}: {v:.4} of at most {:.4}", 1.1f64.powi(objs.len() as i32)))
        .collect();
    rows.push(("hypervolume of the fronts (normalised)".into(), hv.join("; ")));
    let kv = KeyValues { caption: "The run".into(), rows };
    Section { heading: "Run".into(), blocks: vec![Block::KeyValues(kv)] }
}

/// One section per workload: a chart per pair of objectives and the front.
fn front_sections(ld: &Loaded) -> Result<Vec<Section>, FlowError> {
    let objs: Vec<&str> = ld.ctx.spec.objectives.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for (wi, w) in workloads(&ld.lines).iter().enumerate() {
        let mut blocks = Vec::new();
        for i in 0..objs.len() {
            for j in i + 1..objs.len() {
                blocks.push(Block::Figure(front_chart(ld, w, wi, objs[i], objs[j], None)?));
            }
        }
        blocks.push(Block::Table(front_table(ld, w, &objs, 40)));
        out.push(Section { heading: format!("Fronts: {w}"), blocks });
    }
    Ok(out)
}

/// The sensitivity of each objective to each parameter, per workload.
fn sensitivity_section(ld: &Loaded) -> Section {
    let objs: Vec<&str> = ld.ctx.spec.objectives.iter().map(String::as_str).collect();
    let max: Vec<bool> = objs.iter().map(|o| MAXIMISED.contains(o)).collect();
    let mut blocks = vec![Block::Prose(
        "For each parameter, the feasible points are grouped by its value and each group's median taken (the \
         other parameters vary inside a group). The spread is the largest median over the smallest: 1.00x when \
         the parameter does not move the objective. The best value is the one with the best median. A value \
         with few feasible points is biased by the constraints: the detail table gives each value's feasible \
         share."
            .into(),
    )];
    for w in workloads(&ld.lines) {
        let e = effects(&ld.lines, &w, &ld.ctx.fields, &objs, &max);
        let mut header = vec!["parameter".to_string()];
        header.extend(objs.iter().map(|o| format!("{o}: spread (best value)")));
        let rows = e
            .iter()
            .map(|p| {
                let mut r = vec![p.parameter.clone()];
                r.extend(p.spread.iter().zip(&p.best).map(|(s, b)| match (s, b) {
                    (Some(s), Some(b)) => format!("{s:.2}x ({b})"),
                    _ => "-".into(),
                }));
                r
            })
            .collect();
        blocks.push(Block::Table(DataTable { caption: format!("Sensitivity: {w}"), header, rows }));
        let mut header: Vec<String> = ["parameter", "value", "points", "feasible"].map(String::from).to_vec();
        header.extend(objs.iter().map(|o| format!("median {o}")));
        let rows = e
            .iter()
            .flat_map(|p| {
                p.levels.iter().map(|l| {
                    let mut r =
                        vec![p.parameter.clone(), l.value.clone(), l.points.to_string(), l.feasible.to_string()];
                    r.extend(l.medians.iter().map(|m| m.map_or("-".into(), |m| num(&serde_json::json!(m)))));
                    r
                })
            })
            .collect();
        blocks.push(Block::Table(DataTable { caption: format!("Per value: {w}"), header, rows }));
    }
    Section { heading: "Sensitivity".into(), blocks }
}

/// The blocks showing one best config against the default preset.
fn best_blocks(ld: &Loaded, b: &Best) -> Vec<Block> {
    let objs: Vec<&str> = ld.ctx.spec.objectives.iter().map(String::as_str).collect();
    let mut blocks = vec![Block::Prose(b.why.clone())];
    let params = ld.ctx.fields.iter().map(|f| (f.clone(), num(&b.lines[0][f.as_str()]))).collect();
    blocks.push(Block::KeyValues(KeyValues { caption: "Parameters".into(), rows: params }));
    let default = ld.presets.iter().filter(|p| p["preset"].as_str().is_some_and(|s| s.ends_with("(default)")));
    let mut header = vec!["workload".to_string(), "objective".into(), "best config".into()];
    let default: Vec<&Json> = default.collect();
    let name = default.first().and_then(|p| p["preset"].as_str()).unwrap_or("default").to_string();
    header.extend([name, "ratio".into()]);
    let mut rows = Vec::new();
    for l in &b.lines {
        let w = l["workload"].as_str().unwrap_or_default();
        let d = default.iter().find(|p| p["workload"] == w);
        for o in &objs {
            let (v, dv) = (l[*o].as_f64(), d.and_then(|d| d[*o].as_f64()));
            let ratio = match (v, dv) {
                (Some(v), Some(dv)) if dv != 0.0 => format!("{:.3}", v / dv),
                _ => "-".into(),
            };
            rows.push(vec![w.into(), o.to_string(), num(&l[*o]), d.map_or("-".into(), |d| num(&d[*o])), ratio]);
        }
    }
    blocks.push(Block::Table(DataTable { caption: "Against the default preset".into(), header, rows }));
    blocks.push(Block::Prose(format!("{} (`nmsat arch check` accepts it):", b.file)));
    blocks.push(Block::Pre(b.toml.clone()));
    blocks
}

/// Builds the page and the best configs' files.
pub(crate) fn page(ld: &Loaded, dir: &Path) -> Result<(Page, Vec<Best>), FlowError> {
    let mut sections = vec![run_section(ld, dir)];
    sections.extend(front_sections(ld)?);
    sections.push(sensitivity_section(ld));
    let mut bests = best_per_workload(ld)?;
    if ld.ctx.spec.workloads.len() > 1
        && let Some(m) = best_for_mix(ld)?
    {
        bests.push(m);
    }
    if bests.is_empty() {
        let blocks = vec![Block::Prose("No workload has a feasible point.".into())];
        sections.push(Section { heading: "Best configs".into(), blocks });
    }
    for b in &bests {
        sections.push(Section { heading: format!("Best config: {}", b.title), blocks: best_blocks(ld, b) });
    }
    sections.push(presets_section(ld));
    let spec = &ld.ctx.spec;
    let page = Page {
        title: format!("Exploration: {}", dir.file_name().map_or("run".into(), |n| n.to_string_lossy().to_string())),
        subtitle: Some(format!(
            "{} points over {} parameters on base {}; objectives {}",
            ld.lines.len(),
            spec.space.len(),
            spec.base,
            spec.objectives.join(", ")
        )),
        sections,
    };
    Ok((page, bests))
}

/// The presets' results table.
fn presets_section(ld: &Loaded) -> Section {
    let objs: Vec<&str> = ld.ctx.spec.objectives.iter().map(String::as_str).collect();
    let mut header = vec!["preset".to_string(), "workload".into()];
    header.extend(objs.iter().map(|o| o.to_string()));
    header.extend(["feasible".into(), "reason".into()]);
    let rows = ld
        .presets
        .iter()
        .map(|p| {
            let mut r = vec![num(&p["preset"]), num(&p["workload"])];
            r.extend(objs.iter().map(|o| num(&p[*o])));
            r.extend([num(&p["feasible"]), num(&p["reason"])]);
            r
        })
        .collect();
    let prose = "Each built-in preset simulated on each workload like a point of the run (same schedule choice, \
                 energy table, resource model and constraints); kept in presets.jsonl in the run directory.";
    Section {
        heading: "Presets".into(),
        blocks: vec![Block::Prose(prose.into()), Block::Table(DataTable { caption: "Presets".into(), header, rows })],
    }
}

/// Writes the report of the run in `opts.dir`.
pub fn report(opts: &ReportOptions) -> Result<ReportSummary, FlowError> {
    let ld = load(&opts.dir, opts.jobs)?;
    let (page, bests) = page(&ld, &opts.dir)?;
    let out = opts.out_dir("report");
    let files: Vec<(String, String)> = bests.iter().map(|b| (b.file.clone(), b.toml.clone())).collect();
    crate::report::write_whole(&out, &page, &files)?;
    Ok(ReportSummary {
        lines: ld.lines.len(),
        presets_simulated: ld.presets_simulated,
        best_files: bests.iter().map(|b| (b.title.clone(), out.join(&b.file))).collect(),
        out,
    })
}

/// Draws the front of `objs` (two or three objectives; the chart is the
/// first two) of every workload of the run in `opts.dir`, presets marked,
/// into a page in `opts.out` (default `RUN_DIR/pareto`).
pub fn pareto_chart(opts: &ReportOptions, objs: &[&str]) -> Result<PathBuf, FlowError> {
    check_objectives(objs)?;
    let ld = load(&opts.dir, opts.jobs)?;
    let mut sections = Vec::new();
    for (wi, w) in workloads(&ld.lines).iter().enumerate() {
        let fig = front_chart(&ld, w, wi, objs[0], objs[1], objs.get(2).copied())?;
        let table = front_table(&ld, w, objs, usize::MAX);
        sections.push(Section { heading: w.clone(), blocks: vec![Block::Figure(fig), Block::Table(table)] });
    }
    let page = Page {
        title: format!("Pareto front on ({})", objs.join(", ")),
        subtitle: Some(opts.dir.display().to_string()),
        sections,
    };
    let out = opts.out_dir("pareto");
    crate::report::write_whole(&out, &page, &[])?;
    Ok(out)
}
