//! One training step through the pipeline: a [`StepRequest`] (model,
//! method, N:M, batch, dataflow, config) compiles to a SAT program, with or
//! without a memory image ([`CompiledStep`]), and simulates
//! ([`simulate_step`]).

use nmsat_compiler::{LowerOptions, Model, step_workload};
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, StepNumerics, StepWorkload, TileInterleave, compile_step, step_size};
use nmsat_dataflow::{ArchConfig, Method, NmPattern};
use nmsat_sim::reference::{Dataset, ModelKind};
use nmsat_sim::step_image::{StepImageError, StepSetup, step_image, synthetic_image};
use nmsat_sim::{SimMode, Stats};

use crate::choose::simulate_fastest_observed;
use crate::error::FlowError;
use crate::stream::{DEFAULT_MAX_STREAM_STEPS, Observer, simulate_streamed};

/// What to compile: one training step of `model` under `method` at `nm` and
/// `batch`, with the `dataflow` optimizations, for `arch`.
#[derive(Debug, Clone)]
pub struct StepRequest {
    /// The model.
    pub model: Model,
    /// Training method.
    pub method: Method,
    /// N:M pattern of the sparse passes (layers may override it).
    pub nm: NmPattern,
    /// Samples per step (at least 1).
    pub batch: u64,
    /// Which dataflow optimizations are on.
    pub dataflow: DataflowOptions,
    /// The SAT config.
    pub arch: ArchConfig,
}

/// How the schedule is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The scheduler's own choice (its cost model), compiled once.
    CostModel,
    /// The scheduler's candidates compiled and simulated; the fastest kept
    /// ([`crate::choose::compile_fastest`]). What the CLI's `compile -o`, `sim`
    /// and `demo` use.
    Fastest,
}

/// Where a compiled step's memory image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepImage {
    /// No memory image (timing only).
    None,
    /// The int16 reference's first step (the built-in digits models).
    Reference,
    /// Seeded random state ([`nmsat_sim::step_image::synthetic_image`]), and
    /// why the reference's is not available.
    Synthetic(String),
}

impl StepImage {
    /// A note for the user, for a synthetic image.
    pub fn note(&self) -> Option<String> {
        match self {
            StepImage::Synthetic(why) => Some(format!(
                "the memory image is synthetic (seeded random inputs, labels, master weights and momentum, with the operand and compressed weights derived from them; not a trained network's state): {why}"
            )),
            _ => None,
        }
    }
}

/// A compiled step: the program and where its memory image came from.
#[derive(Debug, Clone)]
pub struct CompiledStep {
    /// The SAT program (with `image` filled unless [`StepImage::None`]).
    pub program: Program,
    /// Where the image came from.
    pub image: StepImage,
}

impl StepRequest {
    /// What the compiler lowers for.
    pub fn lower_options(&self) -> LowerOptions {
        LowerOptions::new(self.method, self.nm, self.batch)
    }

    /// The same request under another method.
    pub fn with_method(&self, method: Method) -> Self {
        Self { method, ..self.clone() }
    }

    /// The step's GEMMs with their layers, ready for the scheduler.
    pub fn workload(&self) -> Result<StepWorkload, FlowError> {
        Ok(step_workload(&self.model, &self.lower_options())?)
    }

    fn schedule(&self, step: &StepWorkload, schedule: Schedule) -> Result<Program, FlowError> {
        Ok(match schedule {
            Schedule::CostModel => compile_step(&self.arch, step, &self.dataflow)?,
            Schedule::Fastest => crate::choose::compile_fastest(&self.arch, step, &self.dataflow)?,
        })
    }

    /// The step's program without a memory image (timing only).
    pub fn compile(&self, schedule: Schedule) -> Result<Program, FlowError> {
        self.schedule(&self.workload()?, schedule)
    }

    /// The step's program with a memory image: the int16 reference's first
    /// step (digits data set, the reference's initial weights, pre-generated
    /// compressed weights, zero momentum, compiled with the reference's
    /// numerics) where the model is a built-in digits model and the
    /// reference supports the request; otherwise seeded synthetic state with
    /// the default numerics, and the reason.
    pub fn compile_with_image(&self, schedule: Schedule) -> Result<CompiledStep, FlowError> {
        let synthetic = |why: String| -> Result<CompiledStep, FlowError> {
            let mut program = self.compile(schedule)?;
            program.image = synthetic_image(&program, 0)?;
            Ok(CompiledStep { program, image: StepImage::Synthetic(why) })
        };
        let Some(kind) = reference_model(&self.model) else {
            return synthetic(format!("`{}` has no int16 reference (the built-in digits models do)", self.model.name));
        };
        let data = Dataset::digits()?;
        let setup = match StepSetup::new(&data, kind, self.method, self.nm, self.batch as usize) {
            Ok(s) => s,
            Err(e @ StepImageError::Unsupported { .. }) => return synthetic(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        let mut step = self.workload()?;
        let (formats, shifts) = setup.numerics();
        step.numerics = StepNumerics { formats, shifts };
        let mut program = self.schedule(&step, schedule)?;
        program.image = step_image(&program, &setup)?;
        Ok(CompiledStep { program, image: StepImage::Reference })
    }
}

/// The reference model of a built-in model that has a step image.
fn reference_model(model: &Model) -> Option<ModelKind> {
    match model.source.as_str() {
        "builtin:digits_mlp" => Some(ModelKind::Mlp),
        "builtin:digits_cnn" => Some(ModelKind::Cnn),
        _ => None,
    }
}

/// A simulated step: its program's header and statistics.
#[derive(Debug, Clone)]
pub struct SimulatedStep {
    /// The program simulated, without its instructions (they were
    /// streamed): memory map, layers, compile info.
    pub header: Program,
    /// The schedule chosen.
    pub tiles: TileInterleave,
    /// The array mappings it was compiled with (`Auto`: per GEMM).
    pub dataflow: nmsat_dataflow::schedule::DataflowChoice,
    /// What the simulator counted.
    pub stats: Stats,
}

impl StepRequest {
    /// Refuses the step if it has more than `limit` GEMM reduction steps
    /// (from the scheduler's plan; nothing is emitted), so a command can
    /// refuse it before any work starts.
    pub fn check_size(&self, limit: u128) -> Result<(), FlowError> {
        let steps = step_size(&self.arch, &self.workload()?, &self.dataflow)?;
        if steps > limit {
            let arch = self.arch.name.clone();
            return Err(nmsat_dataflow::schedule::ScheduleError::StepTooLarge { arch, steps, limit }.into());
        }
        Ok(())
    }

    /// Compiles and simulates the step in `mode` with the fastest schedule,
    /// as a stream (memory does not grow with the step;
    /// [`crate::choose::simulate_fastest`]); refuses steps of more than
    /// `max_steps` GEMM reduction steps before compiling.
    pub fn simulate(&self, mode: SimMode, max_steps: u128) -> Result<SimulatedStep, FlowError> {
        self.simulate_observed(mode, max_steps, None)
    }

    /// [`StepRequest::simulate`]; with an `observer`, called for every
    /// instruction of the chosen schedule as it starts (a trace).
    pub fn simulate_observed(
        &self,
        mode: SimMode,
        max_steps: u128,
        observer: Option<Observer>,
    ) -> Result<SimulatedStep, FlowError> {
        let w = self.workload()?;
        let (choice, r) = simulate_fastest_observed(&self.arch, &w, &self.dataflow, mode, max_steps, observer)?;
        Ok(SimulatedStep { header: r.header, tiles: choice.tiles, dataflow: choice.dataflow, stats: r.run.stats })
    }
}

/// Compiles `req` (the fastest schedule) and simulates it in fast mode as a
/// stream, with the default bound on its length.
pub fn simulate_step(req: &StepRequest) -> Result<SimulatedStep, FlowError> {
    req.simulate(SimMode::Fast, DEFAULT_MAX_STREAM_STEPS)
}

/// [`simulate_step`] with the schedule chosen by `schedule`: `Fastest`
/// simulates the scheduler's candidates and keeps the faster (as the CLI
/// does); `CostModel` compiles and simulates the scheduler's own choice once
/// (half the work where there are two candidates).
pub fn simulate_step_with(req: &StepRequest, schedule: Schedule) -> Result<SimulatedStep, FlowError> {
    match schedule {
        Schedule::Fastest => simulate_step(req),
        Schedule::CostModel => {
            let w = req.workload()?;
            let tiles = TileInterleave::Auto;
            let r = simulate_streamed(&req.arch, &w, &req.dataflow, tiles, SimMode::Fast, DEFAULT_MAX_STREAM_STEPS)?;
            Ok(SimulatedStep { header: r.header, tiles, dataflow: req.dataflow.dataflow, stats: r.run.stats })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmsat_sim::{SimOptions, simulate};

    fn request(model: &str, arch: &str, method: Method) -> StepRequest {
        StepRequest {
            model: nmsat_compiler::load_model(model).unwrap(),
            method,
            nm: "2:8".parse().unwrap(),
            batch: 4,
            dataflow: DataflowOptions::default(),
            arch: ArchConfig::preset(arch).unwrap(),
        }
    }

    #[test]
    fn digits_models_get_the_reference_image_and_others_a_synthetic_one() {
        let mlp = request("digits-mlp", "tiny", Method::Bdwp).compile_with_image(Schedule::CostModel).unwrap();
        assert_eq!(mlp.image, StepImage::Reference);
        assert!(mlp.image.note().is_none() && !mlp.program.image.is_empty());
        let r9 = request("resnet9-cifar10", "sat-mid", Method::Srste).compile_with_image(Schedule::CostModel).unwrap();
        let StepImage::Synthetic(why) = &r9.image else { panic!("{:?}", r9.image) };
        assert!(why.contains("no int16 reference"), "{why}");
        assert!(r9.image.note().unwrap().starts_with("the memory image is synthetic"));
        assert!(!r9.program.image.is_empty());
    }

    #[test]
    fn the_cost_model_schedule_is_the_schedulers_and_fastest_is_never_slower() {
        let req = request("resnet20-cifar10", "sat-mid", Method::Bdwp);
        let direct = compile_step(&req.arch, &req.workload().unwrap(), &req.dataflow).unwrap();
        let via = req.compile(Schedule::CostModel).unwrap();
        assert_eq!(direct.instrs, via.instrs);
        let cycles =
            |p: &Program| simulate(p, &req.arch, SimMode::Fast, SimOptions::default()).unwrap().stats.total_cycles;
        let fastest = simulate_step(&req).unwrap();
        assert!(fastest.stats.total_cycles <= cycles(&via));
        assert_eq!(fastest.stats.total_cycles, cycles(&req.compile(Schedule::Fastest).unwrap()));
    }

    #[test]
    fn requests_carry_their_method_to_the_compiler() {
        let req = request("digits-cnn", "tiny", Method::Dense);
        let info = req.with_method(Method::Srste).compile(Schedule::CostModel).unwrap().info;
        assert_eq!(info.method, "srste");
        assert_eq!(info.nm.as_deref(), Some("2:8"));
        assert_eq!(req.compile(Schedule::CostModel).unwrap().info.nm, None);
    }
}
