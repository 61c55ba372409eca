//! Offline scheduling with the simulator in the loop: where the compiler has
//! two candidate schedules whose difference its cost model cannot call, it
//! simulates both (`fast` mode) and keeps the faster. Pipeline policy, so
//! it lives here and not in the scheduler or the simulator, which know
//! nothing of each other.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{
    DataflowOptions, ScheduleError, StepWorkload, TileInterleave, can_interleave_tiles, compile_step_with,
};

use nmsat_sim::{SimMode, SimOptions, simulate};

/// Compiles a training step and, when the interleave mapping is on, also the
/// variant without tile interleaving (one activation bank, GEMMs in
/// sequence); both are simulated and the one with fewer cycles is returned
/// (the interleaved one on a tie). With the mapping off there is one
/// candidate.
pub fn compile_fastest(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
) -> Result<Program, ScheduleError> {
    // Without tile interleaving in reach the compiler never splits the banks:
    // one candidate.
    if !can_interleave_tiles(step, opts) {
        return compile_step_with(arch, step, opts, TileInterleave::Auto);
    }
    // A candidate and its simulated cycles.
    let candidate = |tiles: TileInterleave| {
        compile_step_with(arch, step, opts, tiles).map(|p| {
            let c = simulate(&p, arch, SimMode::Fast, SimOptions::default()).map(|r| r.stats.total_cycles);
            (p, c)
        })
    };
    // Both candidates compile and simulate at once (one per core); the
    // choice depends only on their cycles, not on which finishes first.
    let (tiles, seq) = std::thread::scope(|s| {
        let seq = s.spawn(|| candidate(TileInterleave::Off).ok());
        (candidate(TileInterleave::Auto), seq.join().ok().flatten())
    });
    let (tiles, tiles_cycles) = tiles?;
    // The sequential variant has the larger activation slots, so it compiles
    // wherever the interleaved one does; should it not, the latter stands.
    match (tiles_cycles, seq) {
        (Ok(a), Some((seq, Ok(b)))) if b < a => Ok(seq),
        _ => Ok(tiles),
    }
}
