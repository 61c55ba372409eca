//! The runs behind `nmsat report`: each model × method × N:M step simulated
//! on one config, the dataflow ablation and a timeline of one step.

use nmsat_compiler::Model;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_reports::timeline::{Timeline, timeline};
use nmsat_sim::{SimMode, SimOptions, Stats, simulate};

use crate::error::FlowError;
use crate::step::{Schedule, StepRequest};

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

fn simulate_req(req: &StepRequest) -> Result<(Program, nmsat_sim::RunResult), FlowError> {
    let program = req.compile(Schedule::Fastest)?;
    let run = simulate(&program, &req.arch, SimMode::Fast, SimOptions::default())?;
    Ok((program, run))
}

/// Runs every step; `say` receives progress.
pub fn run(req: &ReportRequest, say: &mut dyn FnMut(&str)) -> Result<ReportRuns, FlowError> {
    let Some(first) = req.models.first() else {
        return Err(FlowError::Request("a report needs at least one model".into()));
    };
    let default_nm = req.patterns.first().copied().unwrap_or_else(|| "2:8".parse().expect("2:8 is a pattern"));
    let step_of = |model: &Model, method: Method, nm: Option<NmPattern>| StepRequest {
        model: model.clone(),
        method,
        nm: nm.unwrap_or(default_nm),
        batch: req.batch,
        dataflow: req.dataflow,
        arch: req.arch.clone(),
    };
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
            let (program, r) = simulate_req(&step_of(model, method, nm))?;
            if method == Method::Dense {
                dense = r.stats.total_cycles;
            }
            runs.push(ReportRun {
                model: model.name.clone(),
                method,
                nm,
                speedup_over_dense: dense as f64 / r.stats.total_cycles.max(1) as f64,
                mac_bound: nm.map_or(1.0, |p| method.mac_bound(p)),
                stats: r.stats.clone(),
            });
            if mi == 0 {
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
    let mut ablation = vec![AblationRun { variant: "full".into(), cycles: full }];
    for &o in nmsat_dataflow::schedule::optimizations() {
        if !req.dataflow.is_on(o) {
            continue;
        }
        say(&format!("ablation: {ablation_of} with --no-{}", o.info().name));
        let s = StepRequest { dataflow: req.dataflow.without(o), ..step_of(first, method, nm) };
        let cycles = simulate_req(&s)?.1.stats.total_cycles;
        ablation.push(AblationRun { variant: format!("--no-{}", o.info().name), cycles });
    }
    let tl = timeline(&program, &r.retire, r.stats.total_cycles);
    Ok(ReportRuns { runs, ablation, ablation_of, timeline: tl, timeline_program: program, timeline_retire: r.retire })
}
