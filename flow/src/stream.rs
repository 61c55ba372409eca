//! Compile and simulate as one stream: the scheduler runs on its own thread
//! and hands each final instruction, in chunks over a bounded channel, to
//! the simulator, which holds only the instructions between its queues'
//! heads. Memory stays flat however long the step (docs/streaming.md);
//! cycles and statistics equal those of the whole program.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::isa::Instr;
use nmsat_dataflow::program::{Program, Tag};
use nmsat_dataflow::schedule::{DataflowOptions, ProgramSink, StepWorkload, TileInterleave, compile_step_stream};
use nmsat_sim::{RunResult, SimMode, SimOptions, Started, simulate_stream_observed};

use crate::error::FlowError;

/// Instructions per message.
const CHUNK: usize = 4096;
/// Messages in flight: the scheduler runs at most this many chunks ahead.
const IN_FLIGHT: usize = 8;

/// The most GEMM reduction steps one streamed step may have by default: a
/// bound on time (one step is one or a few instructions; the simulator
/// runs about 1-2 M instructions per second), not on memory.
pub const DEFAULT_MAX_STREAM_STEPS: u128 = 200_000_000;

enum Msg {
    Header(Box<Program>),
    Instrs(Vec<(Instr, Tag)>),
}

/// Sends the scheduler's output down the channel; once the simulator has
/// hung up (it stopped on an error) the rest is dropped.
struct ChannelSink {
    tx: SyncSender<Msg>,
    chunk: Vec<(Instr, Tag)>,
    closed: bool,
}

impl ChannelSink {
    fn send(&mut self, m: Msg) {
        if !self.closed && self.tx.send(m).is_err() {
            self.closed = true;
        }
    }

    fn flush(&mut self) {
        if !self.chunk.is_empty() {
            let c = std::mem::take(&mut self.chunk);
            self.send(Msg::Instrs(c));
        }
    }
}

impl ProgramSink for ChannelSink {
    fn header(&mut self, header: &Program) {
        self.send(Msg::Header(Box::new(header.clone())));
    }

    fn instr(&mut self, instr: Instr, tag: Tag) {
        if self.closed {
            return;
        }
        self.chunk.push((instr, tag));
        if self.chunk.len() >= CHUNK {
            self.flush();
        }
    }
}

/// A streamed run: the program's header (no instructions) and the result.
#[derive(Debug)]
pub struct StreamedRun {
    /// Memory map, layers and compile info of the program simulated.
    pub header: Program,
    /// Statistics (no per-instruction record); `run.window_peak` is the
    /// most instructions the simulator held at once.
    pub run: RunResult,
    /// The most instructions the scheduler held at once.
    pub scheduler_peak: usize,
}

/// Called with the program's header for every instruction as it starts.
pub type Observer<'o> = &'o mut dyn FnMut(&Program, &Started);

/// Compiles `step` for `arch` with `tiles` and simulates it in `mode` as a
/// stream; refuses steps of more than `max_steps` GEMM reduction steps
/// before compiling anything.
pub fn simulate_streamed(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    tiles: TileInterleave,
    mode: SimMode,
    max_steps: u128,
) -> Result<StreamedRun, FlowError> {
    simulate_streamed_observed(arch, step, opts, tiles, mode, max_steps, &mut |_, _| {})
}

/// [`simulate_streamed`], calling `observer` for every instruction as it
/// starts (e.g. to write a trace during the run).
pub fn simulate_streamed_observed(
    arch: &ArchConfig,
    step: &StepWorkload,
    opts: &DataflowOptions,
    tiles: TileInterleave,
    mode: SimMode,
    max_steps: u128,
    observer: Observer,
) -> Result<StreamedRun, FlowError> {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let compiler = s.spawn(move || {
            let mut sink = ChannelSink { tx, chunk: Vec::with_capacity(CHUNK), closed: false };
            let r = compile_step_stream(arch, step, opts, tiles, &mut sink, max_steps);
            sink.flush();
            r
        });
        let simulated =
            simulate_from(arch, rx, mode, SimOptions { timing: opts.timing, ..SimOptions::default() }, observer);
        let compiled = match compiler.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // The scheduler's error explains a stream that stopped short.
        let scheduler_peak = compiled?;
        let mut run = simulated.ok_or_else(|| FlowError::Request("the scheduler emitted no program".into()))??;
        run.scheduler_peak = scheduler_peak;
        Ok(run)
    })
}

/// Simulates what arrives on `rx`; `None` when no header came (the
/// scheduler failed before emitting anything). Dropping `rx` on return
/// stops a scheduler still sending.
fn simulate_from(
    arch: &ArchConfig,
    rx: Receiver<Msg>,
    mode: SimMode,
    opts: SimOptions,
    observer: Observer,
) -> Option<Result<StreamedRun, FlowError>> {
    let Ok(Msg::Header(header)) = rx.recv() else { return None };
    let instrs = rx.into_iter().flat_map(|m| match m {
        Msg::Instrs(v) => v,
        Msg::Header(_) => Vec::new(),
    });
    let h: &Program = &header;
    let run = simulate_stream_observed(h, arch, instrs, mode, opts, &mut |s| observer(h, s));
    Some(run.map(|run| StreamedRun { header: *header, run, scheduler_peak: 0 }).map_err(FlowError::from))
}
