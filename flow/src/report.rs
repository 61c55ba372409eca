//! The runs behind `nmsat report`: each model × method × N:M step simulated
//! on one config, the dataflow ablation and a timeline of one step.

use std::path::Path;

use nmsat_compiler::Model;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, MAX_REDUCTION_STEPS, Optimization};
use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_reports::energy::EnergyTable;
use nmsat_reports::report::{ReportInput, ReportOutput, RunInput};
use nmsat_reports::timeline::{Timeline, timeline};
use nmsat_sim::{SimMode, SimOptions, Stats, simulate};

use crate::error::FlowError;
use crate::step::{Schedule, StepRequest};
use crate::stream::DEFAULT_MAX_STREAM_STEPS;

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// The workloads.
    pub models: Vec<Model>,
    /// Methods (dense is always run: speedups are over it).
    pub methods: Vec<Method>,
    /// N:M patterns of the sparse methods.
    pub patterns: Vec<NmPattern>,
    /// Samples per step.
    pub batch: u64,
    /// The SAT config.
    pub arch: ArchConfig,
    /// Dataflow optimizations.
    pub dataflow: DataflowOptions,
}

/// One simulated step.
#[derive(Debug, Clone)]
pub struct ReportRun {
    /// Model name.
    pub model: String,
    /// Method.
    pub method: Method,
    /// Pattern (`None` for dense).
    pub nm: Option<NmPattern>,
    /// Dense cycles of the same model over these.
    pub speedup_over_dense: f64,
    /// The method's MAC-count bound on that speedup.
    pub mac_bound: f64,
    /// What the simulator counted.
    pub stats: Stats,
}

/// The order the ablation switches optimizations off in (each alone): the
/// one the demo and README have always shown.
pub const ABLATION_ORDER: [Optimization; 3] =
    [Optimization::Pregen, Optimization::OfflineSchedule, Optimization::Interleave];

/// One ablation variant of the first model's first sparse step.
#[derive(Debug, Clone)]
pub struct AblationRun {
    /// `full` or `--no-NAME`.
    pub variant: String,
    /// Total cycles.
    pub cycles: u64,
}

/// Everything `nmsat report` simulated.
#[derive(Debug, Clone)]
pub struct ReportRuns {
    /// Every step, models in order, dense first within a model.
    pub runs: Vec<ReportRun>,
    /// The ablation (of the first model's last method at the first pattern).
    pub ablation: Vec<AblationRun>,
    /// What the ablation is of (`model method nm`).
    pub ablation_of: String,
    /// The busy intervals of the first model's last method's step.
    pub timeline: Timeline,
    /// The program of that step (for a trace).
    pub timeline_program: Program,
    /// Its per-instruction start/retire cycles.
    pub timeline_retire: Vec<nmsat_sim::Retire>,
}

/// The (method, pattern) steps of one model: dense once, then each sparse
/// method at each pattern.
fn steps(req: &ReportRequest) -> Vec<(Method, Option<NmPattern>)> {
    let mut v = vec![(Method::Dense, None)];
    for &m in req.methods.iter().filter(|m| **m != Method::Dense) {
        v.extend(req.patterns.iter().map(|&p| (m, Some(p))));
    }
    v
}

/// Compiles and simulates a step whole (its timeline needs every
/// instruction's start and retirement).
fn simulate_whole(req: &StepRequest) -> Result<(Program, nmsat_sim::RunResult), FlowError> {
    let program = req.compile(Schedule::Fastest)?;
    let run = simulate(&program, &req.arch, SimMode::Fast, SimOptions::default())?;
    Ok((program, run))
}

/// Refuses the request if any of its steps is too large, before any runs:
/// the timeline's step (the first model's last) is built whole, the
/// others stream.
pub fn preflight(req: &ReportRequest) -> Result<(), FlowError> {
    let plan = steps(req);
    for (mi, model) in req.models.iter().enumerate() {
        for (si, &(method, nm)) in plan.iter().enumerate() {
            let whole = mi == 0 && si + 1 == plan.len();
            let limit = if whole { MAX_REDUCTION_STEPS } else { DEFAULT_MAX_STREAM_STEPS };
            step_request(req, model, method, nm).check_size(limit)?;
        }
    }
    Ok(())
}

/// The step of `model` under `method` at `nm` that `req` asks for.
fn step_request(req: &ReportRequest, model: &Model, method: Method, nm: Option<NmPattern>) -> StepRequest {
    let default_nm = req.patterns.first().copied().unwrap_or_else(|| "2:8".parse().expect("2:8 is a pattern"));
    StepRequest {
        model: model.clone(),
        method,
        nm: nm.unwrap_or(default_nm),
        batch: req.batch,
        dataflow: req.dataflow,
        arch: req.arch.clone(),
    }
}

/// Runs every step; `say` receives progress.
pub fn run(req: &ReportRequest, say: &mut dyn FnMut(&str)) -> Result<ReportRuns, FlowError> {
    let Some(first) = req.models.first() else {
        return Err(FlowError::Request("a report needs at least one model".into()));
    };
    preflight(req)?;
    let step_of = |model: &Model, method: Method, nm: Option<NmPattern>| step_request(req, model, method, nm);
    let plan = steps(req);
    let total = req.models.len() * plan.len();
    let mut runs = Vec::new();
    let mut last = None;
    for (mi, model) in req.models.iter().enumerate() {
        let mut dense = 0;
        for (si, &(method, nm)) in plan.iter().enumerate() {
            say(&format!(
                "[{}/{total}] {} {} batch {}",
                mi * plan.len() + si + 1,
                model.name,
                nm.map_or_else(|| method.name().to_string(), |p| method.name_with(p)),
                req.batch
            ));
            let step = step_of(model, method, nm);
            let (stats, whole) = if mi == 0 && si + 1 == plan.len() {
                let (program, r) = simulate_whole(&step)?;
                (r.stats.clone(), Some((program, r)))
            } else {
                (step.simulate(SimMode::Fast, DEFAULT_MAX_STREAM_STEPS)?.stats, None)
            };
            if method == Method::Dense {
                dense = stats.total_cycles;
            }
            runs.push(ReportRun {
                model: model.name.clone(),
                method,
                nm,
                speedup_over_dense: dense as f64 / stats.total_cycles.max(1) as f64,
                mac_bound: nm.map_or(1.0, |p| method.mac_bound(p)),
                stats,
            });
            if let Some((program, r)) = whole {
                last = Some((method, nm, program, r));
            }
        }
    }
    let Some((method, nm, program, r)) = last else {
        return Err(FlowError::Request("a report needs at least one step".into()));
    };
    let ablation_of =
        format!("{} {}", first.name, nm.map_or_else(|| method.name().to_string(), |p| method.name_with(p)));
    let full = r.stats.total_cycles;
    let all_on = nmsat_dataflow::schedule::optimizations().iter().all(|&o| req.dataflow.is_on(o));
    let label = if all_on { "full (interleave, pre-generation, offline schedule)" } else { "as given" };
    let mut ablation = vec![AblationRun { variant: label.into(), cycles: full }];
    for o in ABLATION_ORDER {
        if !req.dataflow.is_on(o) {
            continue;
        }
        say(&format!("ablation: {ablation_of} with --no-{}", o.info().name));
        let s = StepRequest { dataflow: req.dataflow.without(o), ..step_of(first, method, nm) };
        let cycles = s.simulate(SimMode::Fast, DEFAULT_MAX_STREAM_STEPS)?.stats.total_cycles;
        ablation.push(AblationRun { variant: format!("--no-{}", o.info().name), cycles });
    }
    let tl = timeline(&program, &r.retire, r.stats.total_cycles);
    Ok(ReportRuns { runs, ablation, ablation_of, timeline: tl, timeline_program: program, timeline_retire: r.retire })
}

/// An energy table by built-in name (`asic-45nm`, `fpga-vu9p`) or TOML file.
pub fn load_energy_table(arg: &str) -> Result<EnergyTable, FlowError> {
    if EnergyTable::names().contains(&arg) && !Path::new(arg).is_file() {
        return Ok(EnergyTable::builtin(arg)?);
    }
    if !Path::new(arg).exists() {
        return Err(FlowError::Request(format!(
            "`{arg}` is neither an energy table file nor a built-in table (built in: {})",
            EnergyTable::names().join(", ")
        )));
    }
    Ok(EnergyTable::from_file(Path::new(arg))?)
}

/// Resources from `nmsat synth --format json` output: a file, or a
/// directory holding `synth.json` (what `nmsat synth --dir` writes).
/// Returns what produced them and (resource, amount) rows.
pub fn load_synth(arg: &Path) -> Result<(String, Vec<(String, String)>), FlowError> {
    let path = if arg.is_dir() { arg.join("synth.json") } else { arg.to_path_buf() };
    let text = std::fs::read_to_string(&path).map_err(|e| FlowError::io(&path, &e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        FlowError::Request(format!("{}: not the JSON of `nmsat synth --format json`: {e}", path.display()))
    })?;
    let res = &v["resources"];
    if !res.is_object() {
        return Err(FlowError::Request(format!(
            "{}: no `resources` object (write it with `nmsat synth --format json`)",
            path.display()
        )));
    }
    let tool = format!(
        "{}, synth_xilinx of `{}` (top `{}`)",
        v["yosys"].as_str().unwrap_or("yosys"),
        v["config"].as_str().unwrap_or("?"),
        v["top"].as_str().unwrap_or("?")
    );
    let rows = [("LUT", "luts"), ("FF", "ffs"), ("DSP48E2", "dsps"), ("BRAM36", "bram36"), ("URAM", "uram")]
        .iter()
        .filter_map(|(label, key)| res.get(*key).map(|x| (label.to_string(), x.to_string())))
        .collect();
    Ok((tool, rows))
}

/// Writes the report into `dir` whole: into a sibling temporary directory
/// first, renamed into place at the end, so a failure leaves no half-written
/// report (and an earlier report in `dir` is replaced only by a complete one).
pub fn write_report(dir: &Path, out: &ReportOutput, trace: Option<&str>) -> Result<(), FlowError> {
    let mut files =
        vec![("summary.json".to_string(), out.summary_json.clone()), ("summary.csv".into(), out.summary_csv.clone())];
    if let Some(t) = trace {
        files.push(("trace.json".into(), t.to_string()));
    }
    write_whole(dir, &out.page, &files)
}

/// Writes `page` (with its charts) and `files` (name, text) into `dir`
/// whole, as [`write_report`] does.
pub(crate) fn write_whole(
    dir: &Path,
    page: &nmsat_reports::html::Page,
    files: &[(String, String)],
) -> Result<(), FlowError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "report".into());
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| -> Result<(), FlowError> {
        std::fs::create_dir_all(&tmp).map_err(|e| FlowError::io(&tmp, &e))?;
        nmsat_reports::html::write(&tmp, page).map_err(|e| FlowError::io(&tmp, &e))?;
        for (f, text) in files {
            std::fs::write(tmp.join(f), text).map_err(|e| FlowError::io(&dir.join(f), &e))?;
        }
        if dir.is_dir() {
            let old = parent.join(format!(".{name}.old-{}", std::process::id()));
            std::fs::rename(dir, &old).map_err(|e| FlowError::io(dir, &e))?;
            std::fs::rename(&tmp, dir).map_err(|e| FlowError::io(dir, &e))?;
            std::fs::remove_dir_all(&old).map_err(|e| FlowError::io(&old, &e))
        } else {
            std::fs::rename(&tmp, dir).map_err(|e| FlowError::io(dir, &e))
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Builds the report of `runs` (charts, page, summary files).
pub fn build(
    req: &ReportRequest,
    runs: &ReportRuns,
    table: &EnergyTable,
    resources: Option<(String, Vec<(String, String)>)>,
    trace_file: Option<String>,
) -> Result<ReportOutput, FlowError> {
    let input = ReportInput {
        arch: &req.arch,
        batch: req.batch,
        table,
        runs: runs
            .runs
            .iter()
            .map(|r| RunInput {
                model: r.model.clone(),
                method: r.method,
                nm: r.nm,
                stats: r.stats.clone(),
                speedup_over_dense: r.speedup_over_dense,
                mac_bound: r.mac_bound,
            })
            .collect(),
        ablation: runs.ablation.iter().map(|a| (a.variant.clone(), a.cycles)).collect(),
        focus: runs.ablation_of.clone(),
        timeline: &runs.timeline,
        trace_file,
        resources,
    };
    nmsat_reports::report::build(&input).map_err(|e| FlowError::Chart(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_results_are_read_from_a_file_or_its_directory() {
        let dir = std::env::temp_dir().join(format!("nmsat-flow-synth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = r#"{"yosys": "Yosys 0.23", "config": "tiny", "top": "sat_top",
            "resources": {"luts": 67238, "ffs": 8171, "dsps": 88, "bram36": 34.5, "uram": 0}}"#;
        std::fs::write(dir.join("synth.json"), json).unwrap();
        let (tool, rows) = load_synth(&dir).unwrap();
        assert!(tool.contains("Yosys 0.23") && tool.contains("`tiny`"), "{tool}");
        assert_eq!(rows[0], ("LUT".to_string(), "67238".to_string()));
        assert_eq!(rows[3], ("BRAM36".to_string(), "34.5".to_string()));
        assert_eq!(load_synth(&dir.join("synth.json")).unwrap().1, rows);
        std::fs::write(dir.join("synth.json"), "{}").unwrap();
        assert!(load_synth(&dir).unwrap_err().to_string().contains("no `resources`"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_energy_tables_list_the_built_in_ones() {
        let e = load_energy_table("no-such-table").unwrap_err().to_string();
        assert!(e.contains("fpga-vu9p") && e.contains("asic-45nm"), "{e}");
        assert_eq!(load_energy_table("asic-45nm").unwrap().name, "asic-45nm");
    }
}
