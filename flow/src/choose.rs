//! Offline scheduling with the simulator in the loop: where the compiler has
//! two candidate schedules whose difference its cost model cannot call, it
//! simulates both (`fast` mode) and keeps the faster. Pipeline policy, so
//! it lives here and not in the scheduler or the simulator, which know
//! nothing of each other. Candidates are compiled and simulated as streams
//! ([`crate::stream`]), so choosing costs no memory per instruction.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::arch::Stationarity;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{
    DataflowChoice, DataflowOptions, MAX_REDUCTION_STEPS, StepWorkload, TileInterleave, can_interleave_tiles,
    compile_step_with, interleaved_layers,
};
use nmsat_sim::SimMode;

use crate::error::FlowError;
use crate::stream::{Observer, StreamedRun, simulate_streamed, simulate_streamed_observed};

/// A schedule among the candidates [`simulate_fastest`] weighs: the tile
/// interleaving and the array mapping the scheduler was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// Tile interleaving of the BP/WG pairs.
    pub tiles: TileInterleave,
    /// The `--dataflow` the step was compiled with.
    pub dataflow: DataflowChoice,
}

impl Choice {
    /// `opts` with this choice's `--dataflow`.
    fn options(self, opts: &DataflowOptions) -> DataflowOptions {
        DataflowOptions { dataflow: self.dataflow, ..*opts }
    }
}

/// The candidate schedules of a step, the scheduler's own first: with the
/// interleave mapping on and at least one interleaved layer, the variant
/// without tile interleaving (one activation bank throughout, GEMMs in
/// sequence); under `--dataflow auto` on a config that lists both
/// mappings, every GEMM output-stationary and every GEMM weight-stationary
/// besides the per-GEMM choice of the cost model (ADR 004). Candidates that
/// are the same program are listed once.
fn candidates(arch: &ArchConfig, step: &StepWorkload, opts: &DataflowOptions) -> Result<Vec<Choice>, FlowError> {
    let both = [Stationarity::Os, Stationarity::Ws].iter().all(|f| arch.pe_array.dataflows.contains(f));
    let flows: &[DataflowChoice] = if opts.dataflow == DataflowChoice::Auto && both {
        &[DataflowChoice::Auto, DataflowChoice::Os, DataflowChoice::Ws]
    } else {
        std::slice::from_ref(&opts.dataflow)
    };
    let mut v = Vec::new();
    for &dataflow in flows {
        let o = DataflowOptions { dataflow, ..*opts };
        v.push(Choice { tiles: TileInterleave::Auto, dataflow });
        if can_interleave_tiles(step, &o) && interleaved_layers(arch, step, &o)? > 0 {
            v.push(Choice { tiles: TileInterleave::Off, dataflow });
        }
    }
    Ok(v)
}

/// Simulates a training step in `mode` with the fastest of the scheduler's
/// [candidates](candidates), each simulated in `fast` mode (two at a time,
/// one per core); the one with the fewest cycles is kept (the earliest
/// candidate on a tie; the choice depends only on cycles, not on which
/// finishes first). A single candidate is simulated once. Returns the
/// choice and its run (simulated again in `mode` when that is `cycle`).
/// Refuses steps of more than `max_steps` GEMM reduction steps.
pub fn simulate_fastest(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    mode: SimMode,
    max_steps: u128,
) -> Result<(Choice, StreamedRun), FlowError> {
    simulate_fastest_observed(arch, step, opts, mode, max_steps, None)
}

/// [`simulate_fastest`]; with an `observer`, the chosen schedule is
/// simulated once more in `mode` with it (e.g. writing a trace).
pub fn simulate_fastest_observed(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    mode: SimMode,
    max_steps: u128,
    observer: Option<Observer>,
) -> Result<(Choice, StreamedRun), FlowError> {
    let run = |c: Choice, mode| simulate_streamed(arch, step, &c.options(opts), c.tiles, mode, max_steps);
    let cands = candidates(arch, step, opts)?;
    if let [only] = cands[..] {
        return Ok((
            only,
            match observer {
                Some(o) => simulate_streamed_observed(arch, step, &only.options(opts), only.tiles, mode, max_steps, o)?,
                None => run(only, mode)?,
            },
        ));
    }
    // The scheduler's own candidate must compile; another that does not
    // (a mapping whose tiles do not fit) is passed over.
    let mut best: Option<(Choice, StreamedRun)> = None;
    for pair in cands.chunks(2) {
        let (a, b) = std::thread::scope(|s| {
            let b = pair.get(1).map(|&c| s.spawn(move || run(c, SimMode::Fast)));
            (run(pair[0], SimMode::Fast), b.map(|h| h.join().ok().and_then(Result::ok)))
        });
        let a = match (a, &best) {
            (Ok(r), _) => Some(r),
            (Err(e), None) => return Err(e),
            (Err(_), Some(_)) => None,
        };
        for (c, r) in [(pair[0], a), (pair.get(1).copied().unwrap_or(pair[0]), b.flatten())] {
            if let Some(r) = r
                && best.as_ref().is_none_or(|(_, b)| r.run.stats.total_cycles < b.run.stats.total_cycles)
            {
                best = Some((c, r));
            }
        }
    }
    let Some((choice, fast)) = best else { return Err(FlowError::Request("no candidate schedule".into())) };
    let o2 = choice.options(opts);
    match (mode, observer) {
        (_, Some(o)) => Ok((choice, simulate_streamed_observed(arch, step, &o2, choice.tiles, mode, max_steps, o)?)),
        (SimMode::Fast, None) => Ok((choice, fast)),
        (SimMode::Cycle, None) => Ok((choice, run(choice, mode)?)),
    }
}

/// Compiles a training step into a whole program with the schedule
/// [`simulate_fastest`] chooses (each candidate is compiled twice: once
/// streamed to choose, once to keep).
pub fn compile_fastest(arch: &ArchConfig, step: &StepWorkload, opts: &DataflowOptions) -> Result<Program, FlowError> {
    let choice = match candidates(arch, step, opts)?[..] {
        [only] => only,
        _ => simulate_fastest(arch, step, opts, SimMode::Fast, MAX_REDUCTION_STEPS)?.0,
    };
    Ok(compile_step_with(arch, step, &choice.options(opts), choice.tiles)?)
}
