//! Offline scheduling with the simulator in the loop: where the compiler has
//! two candidate schedules whose difference its cost model cannot call, it
//! simulates both (`fast` mode) and keeps the faster. Pipeline policy, so
//! it lives here and not in the scheduler or the simulator, which know
//! nothing of each other. Candidates are compiled and simulated as streams
//! ([`crate::stream`]), so choosing costs no memory per instruction.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{
    DataflowOptions, MAX_REDUCTION_STEPS, StepWorkload, TileInterleave, can_interleave_tiles, compile_step_with,
    interleaved_layers,
};
use nmsat_sim::SimMode;

use crate::error::FlowError;
use crate::stream::{Observer, StreamedRun, simulate_streamed, simulate_streamed_observed};

/// Simulates a training step in `mode` with the faster of the scheduler's
/// candidates: when the interleave mapping is on and interleaves at least
/// one layer, the variant without tile interleaving (one activation bank
/// throughout, GEMMs in sequence) is a second candidate (with no
/// interleaved layer the two are the same program, simulated once); both
/// are simulated in `fast` mode at once (one per core) and
/// the one with fewer cycles is kept (the interleaved one on a tie; the
/// choice depends only on cycles, not on which finishes first). Returns the
/// choice and its run (simulated again in `mode` when that is `cycle`).
/// Refuses steps of more than `max_steps` GEMM reduction steps.
pub fn simulate_fastest(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    mode: SimMode,
    max_steps: u128,
) -> Result<(TileInterleave, StreamedRun), FlowError> {
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
) -> Result<(TileInterleave, StreamedRun), FlowError> {
    let run = |tiles, mode| simulate_streamed(arch, step, opts, tiles, mode, max_steps);
    // Without an interleaved layer both candidates are the same program.
    if !can_interleave_tiles(step, opts) || interleaved_layers(arch, step, opts)? == 0 {
        return Ok((
            TileInterleave::Auto,
            match observer {
                Some(o) => simulate_streamed_observed(arch, step, opts, TileInterleave::Auto, mode, max_steps, o)?,
                None => run(TileInterleave::Auto, mode)?,
            },
        ));
    }
    let (tiles, seq) = std::thread::scope(|s| {
        let seq = s.spawn(|| run(TileInterleave::Off, SimMode::Fast).ok());
        (run(TileInterleave::Auto, SimMode::Fast), seq.join().ok().flatten())
    });
    let tiles = tiles?;
    // The sequential variant has the larger activation slots, so it compiles
    // wherever the interleaved one does; should it not, the latter stands.
    let (choice, fast) = match seq {
        Some(seq) if seq.run.stats.total_cycles < tiles.run.stats.total_cycles => (TileInterleave::Off, seq),
        _ => (TileInterleave::Auto, tiles),
    };
    match (mode, observer) {
        (_, Some(o)) => Ok((choice, simulate_streamed_observed(arch, step, opts, choice, mode, max_steps, o)?)),
        (SimMode::Fast, None) => Ok((choice, fast)),
        (SimMode::Cycle, None) => Ok((choice, run(choice, mode)?)),
    }
}

/// Compiles a training step into a whole program with the schedule
/// [`simulate_fastest`] chooses (each candidate is compiled twice: once
/// streamed to choose, once to keep).
pub fn compile_fastest(arch: &ArchConfig, step: &StepWorkload, opts: &DataflowOptions) -> Result<Program, FlowError> {
    let tiles = if can_interleave_tiles(step, opts) && interleaved_layers(arch, step, opts)? > 0 {
        simulate_fastest(arch, step, opts, SimMode::Fast, MAX_REDUCTION_STEPS)?.0
    } else {
        TileInterleave::Auto
    };
    Ok(compile_step_with(arch, step, opts, tiles)?)
}
