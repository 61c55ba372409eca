//! The step driver: checks the step against the config, plans its GEMMs
//! ([`super::plan`]) and emits them: the forward pass, the loss gradient,
//! then the backward pass layer by layer in the order the dataflow
//! optimizations call for.

use super::builder::{Builder, ProgramSink};
use super::job::GemmJob;
use super::job::reduction_steps;
use super::plan::{LayerBack, StepPlan, plan_step};
use super::tile::{emit_gemm_job, emit_interleaved, interleave_pays};
use super::tiling::{Budget, budget};
use super::wu::{check_loss, emit_loss, loss_regions};
use super::{DataflowOptions, Optimization, ScheduleError, StepWorkload};
use crate::arch::ArchConfig;
use crate::program::{CompileInfo, GemmRecord, Program};
use crate::workload::Pass;

/// Whether the interleave mapping may alternate the tiles of a layer's BP
/// and WG on the array. Alternating needs the activation buffer split into
/// two banks, whose halved slots can cost more than the overlap gains, so
/// `nmsat_flow::compile_fastest` compiles both ways and keeps the faster by
/// simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TileInterleave {
    /// Where [`can_interleave_tiles`] allows it and the cost model expects a
    /// gain (what [`compile_step`] does).
    #[default]
    Auto,
    /// Never: one activation bank, each layer's GEMMs in sequence. With the
    /// interleave mapping on they keep its drain-free mode switches and its
    /// one-burst weight layout.
    Off,
}

/// Whether the interleave mapping may alternate BP and WG tiles in `step`
/// (splitting the activation buffer into two banks), as opposed to only
/// running its GEMMs drain-free in sequence.
///
/// Tile interleaving pairs a sparse BP with its layer's dense WG. Where
/// every BP is dense (dense training, SR-STE) there is no such pair, and the
/// halved activation slots cost more than interleaving two dense GEMMs gains
/// (ResNet-18 CIFAR b32 on sat-vu9p: +0.8% cycles dense, +1.0% SR-STE).
/// Without pre-generation the sparse BP sparsifies its weight tiles on the
/// compute queue through one scratch slot, which interleaving cannot overlap
/// (ResNet-18: 27.8 M cycles apart, 37.3 M interleaved). The naive schedule
/// (no offline scheduling) has no two tiles in flight.
pub fn can_interleave_tiles(step: &StepWorkload, opts: &DataflowOptions) -> bool {
    let sparse_bp = step.layers.iter().flat_map(|l| &l.gemms).any(|g| g.pass == Pass::Bp && g.sparse.is_some());
    let needs = [Optimization::Interleave, Optimization::Pregen, Optimization::OfflineSchedule];
    needs.into_iter().all(|o| opts.is_on(o)) && sparse_bp
}

/// Compiles one training step into a SAT program.
pub fn compile_step(arch: &ArchConfig, step: &StepWorkload, opts: &DataflowOptions) -> Result<Program, ScheduleError> {
    compile_step_with(arch, step, opts, TileInterleave::Auto)
}

/// Compiles one training step, choosing whether the interleave mapping may
/// alternate BP and WG tiles (see [`TileInterleave`]).
pub fn compile_step_with(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    tiles: TileInterleave,
) -> Result<Program, ScheduleError> {
    compile_into(arch, step, opts, tiles, None, MAX_REDUCTION_STEPS).map(|(p, _)| p)
}

/// Compiles one training step as a stream: `sink` receives the header, then
/// each instruction as soon as its tokens are final (the scheduler holds
/// only the instructions a later one may still make push a token, a few
/// tiles' worth), so memory does not grow with the step. The instructions
/// equal [`compile_step_with`]'s. Refuses steps of more than
/// `max_reduction_steps` GEMM reduction steps (a bound on time, checked
/// before anything is emitted). Returns the most instructions the scheduler
/// held at once.
pub fn compile_step_stream(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    tiles: TileInterleave,
    sink: &mut dyn ProgramSink,
    max_reduction_steps: u128,
) -> Result<usize, ScheduleError> {
    compile_into(arch, step, opts, tiles, Some(sink), max_reduction_steps).map(|(_, peak)| peak)
}

fn compile_into<'a>(
    arch: &'a ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    tiles: TileInterleave,
    sink: Option<&'a mut dyn ProgramSink>,
    limit: u128,
) -> Result<(Program, usize), ScheduleError> {
    check_step(arch, step)?;
    let (one, two) = layouts(arch, step, opts, tiles);
    let mut b = Builder::new(arch, one, step.numerics);
    if let Some(sink) = sink {
        b.stream_to(sink);
    }
    b.prog.info = compile_info(step, opts);
    for l in &step.layers {
        b.prog.layer_index(&l.name);
    }
    let plan = plan_step(&mut b, step, opts, two.as_ref())?;
    check_size(arch, &plan, limit)?;
    check_loss(&b, step, &plan.ff)?;
    loss_regions(&mut b, &plan.ff);
    // Forward pass.
    for j in &plan.ff {
        emit_gemm_job(&mut b, j, opts)?;
    }
    // Loss gradient.
    b.flush();
    emit_loss(&mut b, step, &plan.ff);
    emit_backward(&mut b, &plan.back, opts, two)?;
    Ok(b.finish(Pass::Wu))
}

/// The most GEMM reduction steps a step compiled into a whole [`Program`]
/// may have: about 10 GB while compiled and simulated (ResNet-50 ImageNet at
/// batch 256 on `sat-vu9p` has 1.55 M). Checked before any instruction is
/// emitted; [`compile_step_stream`] takes its own bound.
pub const MAX_REDUCTION_STEPS: u128 = 6_000_000;

/// The GEMM reduction steps of `step` as [`compile_step`] would map it: its
/// size, from the plan alone (nothing is emitted), so a caller can refuse a
/// request before any work starts.
pub fn step_size(arch: &ArchConfig, step: &StepWorkload, opts: &DataflowOptions) -> Result<u128, ScheduleError> {
    check_step(arch, step)?;
    let (one, _) = layouts(arch, step, opts, TileInterleave::Off);
    let (b, plan) = plan_only(arch, step, opts, one, None)?;
    check_loss(&b, step, &plan.ff)?;
    Ok(plan_reduction_steps(&plan))
}

/// The plan of `step` in a builder that emits nothing (layers indexed as
/// [`compile_into`] indexes them), for the questions asked before compiling.
fn plan_only<'a>(
    arch: &'a ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    one: Budget,
    two: Option<&Budget>,
) -> Result<(Builder<'a>, StepPlan), ScheduleError> {
    let mut b = Builder::new(arch, one, step.numerics);
    for l in &step.layers {
        b.prog.layer_index(&l.name);
    }
    let plan = plan_step(&mut b, step, opts, two)?;
    Ok((b, plan))
}

/// How many layers [`compile_step`] interleaves (BP and WG tiles
/// alternating in the two-bank layout), from the plan alone. With none,
/// `TileInterleave::Auto` and `TileInterleave::Off` give the same program.
pub fn interleaved_layers(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
) -> Result<usize, ScheduleError> {
    check_step(arch, step)?;
    let (one, two) = layouts(arch, step, opts, TileInterleave::Auto);
    if two.is_none() {
        return Ok(0);
    }
    let (_, plan) = plan_only(arch, step, opts, one, two.as_ref())?;
    Ok(plan.back.iter().filter(|l| interleaved_pair(arch, l, opts, two.as_ref()).is_some()).count())
}

/// The buffer layouts of a step: the activation buffer in one bank (every
/// GEMM but the interleaved pairs), and in two where `tiles` and the step
/// allow tile interleaving.
fn layouts(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    tiles: TileInterleave,
) -> (Budget, Option<Budget>) {
    let offline = opts.is_on(Optimization::OfflineSchedule);
    let two = tiles == TileInterleave::Auto && can_interleave_tiles(step, opts);
    (budget(arch, offline, false), two.then(|| budget(arch, offline, true)))
}

/// A layer's BP and WG as the interleave mapping runs them, when it does:
/// the mapping is on, the step has the two-bank layout (with the output
/// slots two open tiles need) and the cost model expects a gain.
fn interleaved_pair<'p>(
    arch: &ArchConfig,
    layer: &'p LayerBack,
    opts: &DataflowOptions,
    banks2: Option<&Budget>,
) -> Option<(&'p GemmJob, &'p GemmJob)> {
    let (bp, wg) = layer.pair.as_ref()?;
    let apart = (layer.bp.as_ref()?, layer.wg.as_ref()?);
    let ok = opts.is_on(Optimization::Interleave)
        && banks2.is_some_and(|t| t.o_slots >= 3)
        && interleave_pays(arch, apart, (bp, wg));
    ok.then_some((bp, wg))
}

fn plan_reduction_steps(plan: &StepPlan) -> u128 {
    let back = plan.back.iter().flat_map(|l| l.bp.iter().chain(&l.wg).chain(&l.extra));
    plan.ff.iter().chain(back).map(reduction_steps).sum()
}

/// Refuses a step of more than `limit` reduction steps, before building it.
fn check_size(arch: &ArchConfig, plan: &StepPlan, limit: u128) -> Result<(), ScheduleError> {
    let steps = plan_reduction_steps(plan);
    if steps > limit {
        return Err(ScheduleError::StepTooLarge { arch: arch.name.clone(), steps, limit });
    }
    Ok(())
}

/// What makes a step unschedulable on `arch` before any planning: a GEMM
/// too large for 64-bit sizes, a pattern the config does not run.
fn check_step(arch: &ArchConfig, step: &StepWorkload) -> Result<(), ScheduleError> {
    // Sizes the planner multiplies (m·k·n MACs, 2·k·n bytes) must fit in
    // 64 bits before any tile is chosen.
    for g in step.layers.iter().flat_map(|l| &l.gemms) {
        let macs = g.m.checked_mul(g.k).and_then(|x| x.checked_mul(g.n)).and_then(|x| x.checked_mul(2));
        if macs.is_none() {
            return Err(ScheduleError::GemmTooLarge { layer: g.layer.clone(), pass: g.pass, m: g.m, n: g.n, k: g.k });
        }
    }
    let sparse = step.layers.iter().flat_map(|l| &l.gemms).filter_map(|g| g.sparse);
    match sparse.map(|s| s.pattern).find(|&p| !arch.supports(p)) {
        Some(p) => Err(ScheduleError::unsupported(arch, p)),
        None => Ok(()),
    }
}

/// The program header: what was compiled, with which passes, and the
/// training GEMMs as lowered.
fn compile_info(step: &StepWorkload, opts: &DataflowOptions) -> CompileInfo {
    let gemms = step.layers.iter().flat_map(|l| &l.gemms).map(|g| GemmRecord {
        layer: g.layer.clone(),
        pass: g.pass,
        m: g.m,
        n: g.n,
        k: g.k,
        count: g.count,
        mode: g.sparse.map_or("dense".to_string(), |s| s.pattern.to_string()),
    });
    CompileInfo {
        model: step.model.clone(),
        method: step.method.clone(),
        nm: step.nm.map(|p| p.to_string()),
        batch: step.batch,
        passes: opts.names(),
        gemms: gemms.collect(),
    }
}

/// The backward pass: layers in reverse, each layer's BP, WG (with its
/// weight update) and other GEMMs.
///
/// Under the interleave mapping a layer's sparse BP and dense WG run
/// together where the step may use the two-bank layout and the cost model
/// expects a gain ([`interleave_pays`]); the WG of layer l then fills the
/// gap while BP of layer l−1 waits for dX_l. Only those pairs run with the
/// activation buffer in two banks (halved slots); every other GEMM keeps
/// it in one, and the builder switches between the two layouts
/// ([`Builder::set_budget`]). Otherwise they run one after
/// the other: with the mapping on, mode switches still cost no drain;
/// without it every switch (sparse BP to dense WG and back) drains the
/// array (`il = 0`) and compressed weights come as separate value and
/// index arrays (two DMAs).
fn emit_backward(
    b: &mut Builder,
    back: &[LayerBack],
    opts: &DataflowOptions,
    banks2: Option<Budget>,
) -> Result<(), ScheduleError> {
    let one = b.budget;
    for layer in back.iter().rev() {
        match (interleaved_pair(b.arch, layer, opts, banks2.as_ref()), banks2) {
            (Some((bp, wg)), Some(two)) => {
                b.set_budget(two);
                emit_interleaved(b, bp, wg, opts)?;
            }
            _ => {
                b.set_budget(one);
                for j in layer.bp.iter().chain(layer.wg.iter()) {
                    emit_gemm_job(b, j, opts)?;
                }
            }
        }
        if !layer.extra.is_empty() {
            b.set_budget(one);
        }
        for j in &layer.extra {
            emit_gemm_job(b, j, opts)?;
        }
    }
    Ok(())
}
