//! The SAT timing engine: controller queues with dependency tokens, the
//! DMA engine and DRAM channel, the PE array pipeline, the vector unit and
//! the sparsifier, executing a [`Program`] on an [`ArchConfig`].
//!
//! Both modes share one state machine and differ only in how time
//! advances: [`SimMode::Cycle`] steps every cycle and accumulates every
//! per-cycle counter one cycle at a time; [`SimMode::Fast`] jumps from event
//! to event (a retirement or a unit becoming free), between which nothing
//! can change, and accumulates the same counters per interval. Property
//! tests check that both give identical cycles and statistics.
//!
//! Within a cycle the controller first retires instructions whose last
//! cycle has passed (pushing their tokens), then tries to start the head of
//! the load, compute and store queues, in that order (so a load wins the
//! DRAM channel over a store asking in the same cycle).
//!
//! The compute queue issues in order to three units that run concurrently:
//! the PE array (pipelined: the next GEMM may stream while the previous
//! drains), the vector unit and the sparsifier. An instruction issues when
//! its unit is free and no in-flight instruction of another unit touches a
//! conflicting buffer range (a scoreboard on address ranges). Compute
//! instructions retire in issue order (a reorder buffer), so the tokens they
//! push appear in program order.
//!
//! The engine reads the program as a stream ([`Source`]): it holds only the
//! instructions between each queue's head and the furthest head, reading
//! on until every queue has a head, so a program compiled as a stream
//! (`simulate_stream`) is simulated in memory that does not grow with its
//! length, with the same cycles and statistics as the whole program.

mod events;
mod finish;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::access::{Accesses, accesses, conflict};
use nmsat_dataflow::check::{check_instr, check_program};
use nmsat_dataflow::error::CheckError;
use nmsat_dataflow::isa::{GemmMode, Instr, Queue};
use nmsat_dataflow::program::{NO_LAYER, Program, Tag};
use nmsat_dataflow::timing::{self, TimingModel};
use nmsat_dataflow::workload::Pass;

use crate::datapath::Machine;
use crate::error::SimError;
use crate::stats::{QueueStats, StallCause, Stats, UnitEvents};
use events::{BufCounters, Cost, RowCounts, cost};

/// How simulated time advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimMode {
    /// Jump from event to event (same results as `Cycle`, much faster).
    Fast,
    /// Step every cycle.
    Cycle,
}

impl SimMode {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SimMode::Fast => "fast",
            SimMode::Cycle => "cycle",
        }
    }
}

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimOptions {
    /// Give up after this many cycles (0: no limit).
    pub max_cycles: u64,
    /// Carry data: execute every instruction on a [`Machine`] holding DRAM
    /// (the program's memory image) and the buffers. Timing is the same.
    pub data: bool,
    /// The timing rules: the SAT's (default) or SCALE-Sim's OS compute
    /// model (`--scalesim-compat`, [`nmsat_dataflow::timing::TimingModel`]).
    pub timing: TimingModel,
}

/// When one instruction ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retire {
    /// Cycle it started.
    pub start: u64,
    /// Cycle at which it retired (its tokens become visible).
    pub done: u64,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Statistics.
    pub stats: Stats,
    /// Start and retirement of every instruction, by index (empty for a
    /// streamed program, which keeps no per-instruction record).
    pub retire: Vec<Retire>,
    /// The most instructions the engine held at once (read but not started).
    pub window_peak: usize,
    /// The final DRAM and buffer contents, when run with data.
    pub machine: Option<Machine>,
}

// Token FIFOs between neighbouring queues.
const LC: usize = 0; // load -> compute
const CL: usize = 1; // compute -> load
const CS: usize = 2; // compute -> store
const SC: usize = 3; // store -> compute

/// The FIFO an instruction of `q` pops from for prev/next, and pushes to.
fn fifo_pop(q: Queue, prev: bool) -> Option<usize> {
    match (q, prev) {
        (Queue::Load, true) => None,
        (Queue::Load, false) => Some(CL),
        (Queue::Compute, true) => Some(LC),
        (Queue::Compute, false) => Some(SC),
        (Queue::Store, true) => Some(CS),
        (Queue::Store, false) => None,
    }
}

fn fifo_push(q: Queue, prev: bool) -> Option<usize> {
    match (q, prev) {
        (Queue::Load, true) => None,
        (Queue::Load, false) => Some(LC),
        (Queue::Compute, true) => Some(CL),
        (Queue::Compute, false) => Some(CS),
        (Queue::Store, true) => Some(SC),
        (Queue::Store, false) => None,
    }
}

fn fifo_cause(f: usize) -> StallCause {
    match f {
        LC => StallCause::TokenFromLoad,
        SC => StallCause::TokenFromStore,
        _ => StallCause::TokenFromCompute,
    }
}

/// The compute unit an instruction occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Array = 0,
    Vector = 1,
    Sparsifier = 2,
    Control = 3,
}

fn unit_of(i: &Instr) -> Unit {
    match i {
        Instr::Gemm { .. } => Unit::Array,
        Instr::Vec { .. } => Unit::Vector,
        Instr::Sparsify { .. } => Unit::Sparsifier,
        _ => Unit::Control,
    }
}

/// An instruction as it starts: what a trace written during the run needs.
#[derive(Debug, Clone, Copy)]
pub struct Started<'i> {
    /// Index in the program.
    pub index: usize,
    /// The instruction.
    pub instr: &'i Instr,
    /// Its tag.
    pub tag: Tag,
    /// Cycle it starts.
    pub start: u64,
    /// Cycle it retires.
    pub done: u64,
}

/// Called for every instruction as it starts.
pub type OnStart<'o> = &'o mut dyn FnMut(&Started);

/// Instructions in program order with their tags: a whole [`Program`]'s
/// (`simulate`) or the scheduler's as it emits them (`simulate_stream`).
pub trait Source: Iterator<Item = (Instr, Tag)> {}

impl<T: Iterator<Item = (Instr, Tag)>> Source for T {}

/// An instruction read from the source and not yet started. Kept small
/// (its buffer ranges are derived when it needs them): the simulator may
/// read far ahead to find a queue's next instruction.
struct Waiting {
    index: usize,
    instr: Instr,
    tag: Tag,
    cost: Cost,
    bucket: usize,
}

struct QState {
    /// Read and not yet started, in program order (the head first).
    waiting: VecDeque<Waiting>,
    /// The unit may start its next instruction from this cycle.
    busy_until: u64,
    /// Tag of the instruction most recently started.
    last_started: Option<Tag>,
}

/// Why a queue's head cannot start at `t`, or `None` when it can.
enum Block {
    Busy,
    ModeSwitch,
    Hazard,
    Token(usize),
    Halt,
}

/// The counters of one (layer, pass): stalls by cause (in
/// `StallCause::ALL` order), events, buffer counters (moved into `events`
/// at the end) and the row's sums.
pub(super) struct Bucket {
    key: (u32, Pass),
    stalls: [u64; 6],
    events: UnitEvents,
    bufs: BufCounters,
    rows: RowCounts,
}

/// An instruction in flight: retirement cycle, index, queue and the tokens
/// it pushes (prev, next) when it retires.
type Inflight = Reverse<(u64, usize, usize, bool, bool)>;

struct Engine<'a, S> {
    arch: &'a ArchConfig,
    /// The timing rules.
    timing: TimingModel,
    /// The program's header: memory map, layers, compile info.
    header: &'a Program,
    source: S,
    /// Instructions read from the source so far.
    read: usize,
    /// The source has ended.
    exhausted: bool,
    /// The last instruction read was a `halt`.
    ended_with_halt: bool,
    /// Every instruction was checked before the run (a whole program).
    prechecked: bool,
    window_peak: usize,
    queues: [QState; 3],
    tokens: [u64; 4],
    inflight: BinaryHeap<Inflight>,
    /// Retirement cycle of the most recently issued compute instruction.
    compute_retire_last: u64,
    /// Each compute unit may start its next instruction from this cycle.
    unit_busy: [u64; 4],
    /// Compute instructions still executing: cycle their results are
    /// complete, unit, buffer ranges (for the scoreboard).
    executing: Vec<(u64, Unit, Accesses)>,
    /// Tag of the most recently started array instruction (for attribution).
    last_array: Option<Tag>,
    /// Mode and completion of the most recent GEMM.
    last_gemm: Option<(GemmMode, u64)>,
    channel_free: u64,
    /// Start and retirement per instruction, when recorded.
    record: bool,
    retire: Vec<Retire>,
    retired: usize,
    stats: Stats,
    qstats: [QueueStats; 3],
    /// Stall cycles per queue by cause (`StallCause::ALL` order), moved into
    /// `qstats` at the end (an array: this is counted at every event).
    qstalls: [[u64; 6]; 3],
    /// Attributed cycles per tag.
    attributed: BTreeMap<(u32, Pass), u64>,
    /// The run of cycles not yet added to `attributed`: consecutive
    /// accounting steps mostly share their tag.
    attr_run: ((u32, Pass), u64),
    buckets: Vec<Bucket>,
    bucket_index: BTreeMap<(u32, Pass), usize>,
    /// The bucket of the last instruction read (most share their neighbour's).
    last_bucket: ((u32, Pass), usize),
    last_compute_tag: Tag,
    machine: Option<Machine>,
    on_start: Option<OnStart<'a>>,
}

/// The most DRAM a run with data allocates (8 GiB): checked before allocating.
pub const MAX_DATA_DRAM_BYTES: u64 = 8 << 30;

/// Runs `program` on `arch`, recording every instruction's start and
/// retirement. Every instruction is checked before the run starts.
pub fn simulate(program: &Program, arch: &ArchConfig, mode: SimMode, opts: SimOptions) -> Result<RunResult, SimError> {
    let errors = check_program(program, arch);
    if !errors.is_empty() {
        return Err(SimError::Check { errors });
    }
    let source = program.instrs.iter().cloned().zip(program.tags.iter().copied());
    let mut e = Engine::new(program, arch, source, opts)?;
    e.prechecked = true;
    e.record = true;
    e.retire = vec![Retire::default(); program.instrs.len()];
    e.run(mode, opts)?;
    Ok(e.finish(mode))
}

/// Runs the instructions of `source` on `arch`; `header` is their program
/// without instructions (memory map, layers, compile info, image). Holds
/// only the instructions between the queues' heads, so memory does not
/// grow with the program's length; each instruction is checked as it is
/// read (the first violation ends the run) and no per-instruction record is
/// kept (`RunResult::retire` is empty). Cycles and statistics equal
/// [`simulate`]'s on the same instructions.
pub fn simulate_stream<S: Source>(
    header: &Program,
    arch: &ArchConfig,
    source: S,
    mode: SimMode,
    opts: SimOptions,
) -> Result<RunResult, SimError> {
    let mut e = Engine::new(header, arch, source, opts)?;
    e.run(mode, opts)?;
    Ok(e.finish(mode))
}

/// [`simulate_stream`], calling `on_start` for every instruction as it
/// starts (a trace written as the run goes, `crate::trace::TraceWriter`).
pub fn simulate_stream_observed<'a, S: Source>(
    header: &'a Program,
    arch: &'a ArchConfig,
    source: S,
    mode: SimMode,
    opts: SimOptions,
    on_start: OnStart<'a>,
) -> Result<RunResult, SimError> {
    let mut e = Engine::new(header, arch, source, opts)?;
    e.on_start = Some(on_start);
    e.run(mode, opts)?;
    Ok(e.finish(mode))
}

impl<'a, S: Source> Engine<'a, S> {
    fn new(header: &'a Program, arch: &'a ArchConfig, source: S, opts: SimOptions) -> Result<Self, SimError> {
        if opts.data && header.dram_bytes > MAX_DATA_DRAM_BYTES {
            return Err(SimError::DramTooLarge { bytes: header.dram_bytes, limit: MAX_DATA_DRAM_BYTES });
        }
        let queue = || QState { waiting: VecDeque::new(), busy_until: 0, last_started: None };
        Ok(Engine {
            arch,
            timing: opts.timing,
            header,
            source,
            read: 0,
            exhausted: false,
            ended_with_halt: false,
            prechecked: false,
            window_peak: 0,
            queues: [queue(), queue(), queue()],
            tokens: [0; 4],
            inflight: BinaryHeap::new(),
            compute_retire_last: 0,
            unit_busy: [0; 4],
            executing: Vec::new(),
            last_array: None,
            last_gemm: None,
            channel_free: 0,
            record: false,
            retire: Vec::new(),
            retired: 0,
            stats: Stats::default(),
            qstats: Default::default(),
            qstalls: [[0; 6]; 3],
            attributed: BTreeMap::new(),
            attr_run: ((NO_LAYER, Pass::Ff), 0),
            buckets: Vec::new(),
            bucket_index: BTreeMap::new(),
            last_bucket: ((NO_LAYER, Pass::Ff), usize::MAX),
            last_compute_tag: Tag { layer: NO_LAYER, pass: Pass::Ff },
            machine: opts.data.then(|| Machine::new(header, arch)),
            on_start: None,
        })
    }

    /// Reads instructions until every queue has a head or the source ends,
    /// so each queue sees the head it would see in the whole program.
    fn fill(&mut self) -> Result<(), SimError> {
        while !self.exhausted && self.queues.iter().any(|q| q.waiting.is_empty()) {
            let Some((instr, tag)) = self.source.next() else {
                self.exhausted = true;
                if !self.ended_with_halt && !self.prechecked {
                    let message = "a program must end with `halt`".to_string();
                    let text = "<end>".to_string();
                    return Err(SimError::Check { errors: vec![CheckError { index: self.read, text, message }] });
                }
                break;
            };
            let index = self.read;
            self.read += 1;
            if !self.prechecked {
                let problems = check_instr(&instr, self.arch, self.header.dram_bytes);
                if !problems.is_empty() {
                    let errors = problems
                        .into_iter()
                        .map(|message| CheckError { index, text: instr.to_text(), message })
                        .collect();
                    return Err(SimError::Check { errors });
                }
            }
            self.ended_with_halt = matches!(instr, Instr::Halt { .. });
            let w = Waiting { index, cost: cost(self.arch, self.timing, &instr), bucket: self.bucket(tag), instr, tag };
            self.queues[w.instr.queue().index()].waiting.push_back(w);
        }
        let held: usize = self.queues.iter().map(|q| q.waiting.len()).sum();
        self.window_peak = self.window_peak.max(held);
        Ok(())
    }

    /// The bucket of `tag`, created on first use.
    fn bucket(&mut self, tag: Tag) -> usize {
        let key = (tag.layer, tag.pass);
        if self.last_bucket.0 == key && self.last_bucket.1 != usize::MAX {
            return self.last_bucket.1;
        }
        let b = *self.bucket_index.entry(key).or_insert_with(|| {
            self.buckets.push(Bucket {
                key,
                stalls: [0; 6],
                events: UnitEvents::default(),
                bufs: Default::default(),
                rows: RowCounts::default(),
            });
            self.buckets.len() - 1
        });
        self.last_bucket = (key, b);
        b
    }

    fn head(&self, q: Queue) -> Option<&Waiting> {
        self.queues[q.index()].waiting.front()
    }

    fn blocked(&self, q: Queue, w: &Waiting, t: u64) -> Option<Block> {
        let qs = &self.queues[q.index()];
        let instr = &w.instr;
        if let Instr::Halt { .. } = instr {
            let others_done = self.queues.iter().enumerate().all(|(k, s)| k == q.index() || s.waiting.is_empty());
            if !others_done || !self.inflight.is_empty() {
                return Some(Block::Halt);
            }
        }
        if q == Queue::Compute {
            let u = unit_of(instr);
            if t < self.unit_busy[u as usize] {
                return Some(Block::Busy);
            }
            // Without the interleave mapping, a change between dense and N:M
            // mode reconfigures the array: the previous GEMM must drain first.
            if let (Instr::Gemm { mode, il: false, .. }, Some((prev, done))) = (instr, self.last_gemm) {
                if *mode != prev && t < done {
                    return Some(Block::ModeSwitch);
                }
            }
            let mut mine: Option<Accesses> = None;
            for (done, uj, a) in &self.executing {
                if *done > t && *uj != u {
                    let m = mine.get_or_insert_with(|| accesses(instr, self.arch));
                    if conflict(&m.reads, &m.writes, &a.reads, &a.writes) {
                        return Some(Block::Hazard);
                    }
                }
            }
        } else if t < qs.busy_until {
            return Some(Block::Busy);
        }
        let d = instr.deps();
        for (on, prev) in [(d.pop_prev, true), (d.pop_next, false)] {
            if on {
                if let Some(f) = fifo_pop(q, prev) {
                    if self.tokens[f] == 0 {
                        return Some(Block::Token(f));
                    }
                }
            }
        }
        None
    }

    /// Starts the head of `q` at `t`.
    fn start(&mut self, q: Queue, t: u64) {
        let Some(w) = self.queues[q.index()].waiting.pop_front() else { return };
        let d = w.instr.deps();
        for (on, prev) in [(d.pop_prev, true), (d.pop_next, false)] {
            if on {
                if let Some(f) = fifo_pop(q, prev) {
                    self.tokens[f] -= 1;
                }
            }
        }
        let (busy_until, done) = match w.cost {
            Cost::Dma { beats } => {
                let grant = t.max(self.channel_free);
                self.channel_free = grant + beats;
                let dma = &mut self.buckets[w.bucket].events.dma;
                dma.channel_busy_cycles += beats;
                dma.channel_wait_cycles += grant - t;
                (grant + beats, grant + beats + self.timing.dram_latency(self.arch))
            }
            Cost::Gemm { stream, tail } => (t + stream, t + stream + tail),
            Cost::Unit { cycles } => (t + cycles, t + cycles),
            Cost::Halt => (t + timing::SYNC_CYCLES, t + timing::SYNC_CYCLES),
        };
        let exec_done = done;
        let mut done = done;
        if q == Queue::Compute {
            let u = unit_of(&w.instr);
            self.unit_busy[u as usize] = busy_until;
            self.executing.retain(|&(d, _, _)| d > t);
            self.executing.push((done, u, accesses(&w.instr, self.arch)));
            // In-order retirement: tokens appear in program order.
            done = done.max(self.compute_retire_last);
            self.compute_retire_last = done;
            self.last_compute_tag = w.tag;
            if u == Unit::Array {
                self.last_array = Some(w.tag);
                if let Instr::Gemm { mode, .. } = w.instr {
                    self.last_gemm = Some((mode, exec_done));
                }
            }
        }
        let qs = &mut self.queues[q.index()];
        qs.busy_until =
            if q == Queue::Compute { self.unit_busy.iter().copied().max().unwrap_or(0) } else { busy_until };
        qs.last_started = Some(w.tag);
        if self.record {
            self.retire[w.index] = Retire { start: t, done };
        }
        if let Some(f) = self.on_start.as_mut() {
            f(&Started { index: w.index, instr: &w.instr, tag: w.tag, start: t, done });
        }
        self.inflight.push(Reverse((done, w.index, q.index(), d.push_prev, d.push_next)));
        let b = &mut self.buckets[w.bucket];
        events::count_into(self.arch, self.timing, &w.instr, &mut b.events, &mut b.bufs);
        b.rows.add(self.arch, self.timing, &w.instr, t, done);
        if let Some(m) = &mut self.machine {
            m.execute(&w.instr);
        }
    }

    fn retire_until(&mut self, t: u64) {
        while let Some(&Reverse((done, _, qi, push_prev, push_next))) = self.inflight.peek() {
            if done > t {
                break;
            }
            self.inflight.pop();
            let q = Queue::ALL[qi];
            for (on, prev) in [(push_prev, true), (push_next, false)] {
                if on {
                    if let Some(f) = fifo_push(q, prev) {
                        self.tokens[f] += 1;
                    }
                }
            }
            self.qstats[qi].instructions += 1;
            self.retired += 1;
        }
    }

    /// The tag the current cycle is attributed to.
    fn attribution(&self, t: u64) -> Tag {
        let c = &self.queues[Queue::Compute.index()];
        if let Some(tag) = self.last_array {
            if t < self.unit_busy[Unit::Array as usize] {
                return tag;
            }
        }
        if let Some(tag) = c.last_started {
            if t < c.busy_until {
                return tag;
            }
        }
        match c.waiting.front() {
            Some(w) if !matches!(w.instr, Instr::Halt { .. }) => w.tag,
            _ => self.last_compute_tag,
        }
    }

    /// Adds `len` cycles of the state after the starts at `t`.
    fn account(&mut self, t: u64, len: u64) {
        for q in Queue::ALL {
            let qs = &self.queues[q.index()];
            let idle_after = t >= qs.busy_until;
            if t < qs.busy_until {
                self.qstats[q.index()].busy_cycles += len;
            }
            let stalled = match qs.waiting.front() {
                None => None,
                Some(w) => {
                    let cause = match self.blocked(q, w, t) {
                        Some(Block::Busy) => Some(StallCause::UnitBusy),
                        Some(Block::Hazard) => Some(StallCause::DataHazard),
                        Some(Block::ModeSwitch) => Some(StallCause::ModeSwitch),
                        Some(Block::Token(f)) => Some(fifo_cause(f)),
                        Some(Block::Halt) | None => None,
                    };
                    cause.map(|c| (c, w.bucket))
                }
            };
            match stalled {
                Some((c, b)) => {
                    self.qstalls[q.index()][c as usize] += len;
                    self.buckets[b].stalls[c as usize] += len;
                }
                None if idle_after => self.qstats[q.index()].idle_cycles += len,
                None => {}
            }
        }
        let tag = self.attribution(t);
        let key = (tag.layer, tag.pass);
        if self.attr_run.0 == key {
            self.attr_run.1 += len;
        } else {
            self.flush_attribution();
            self.attr_run = (key, len);
        }
    }

    /// Adds the pending run of attributed cycles to `attributed`.
    fn flush_attribution(&mut self) {
        let (key, len) = std::mem::replace(&mut self.attr_run, ((NO_LAYER, Pass::Ff), 0));
        if len > 0 {
            *self.attributed.entry(key).or_insert(0) += len;
        }
    }

    fn all_issued(&self) -> bool {
        self.exhausted && self.queues.iter().all(|q| q.waiting.is_empty())
    }

    fn run(&mut self, mode: SimMode, opts: SimOptions) -> Result<(), SimError> {
        let mut t: u64 = 0;
        loop {
            self.fill()?;
            self.retire_until(t);
            let mut started = false;
            // A queue issues at most one instruction per cycle; one that did
            // may issue its next one in the following cycle.
            let mut reissue = false;
            for q in Queue::ALL {
                let can = self.head(q).is_some_and(|w| self.blocked(q, w, t).is_none());
                if can {
                    self.start(q, t);
                    started = true;
                    self.fill()?;
                    reissue |= self.head(q).is_some();
                }
            }
            if self.all_issued() && self.inflight.is_empty() {
                self.stats.total_cycles = t;
                return Ok(());
            }
            // The next cycle at which anything can change.
            let mut next = self.inflight.peek().map(|r| r.0.0);
            let mut consider = |c: u64| {
                if c > t {
                    next = Some(next.map_or(c, |n: u64| n.min(c)));
                }
            };
            for qs in &self.queues {
                consider(qs.busy_until);
            }
            for &b in &self.unit_busy {
                consider(b);
            }
            for &(d, _, _) in &self.executing {
                consider(d);
            }
            if reissue {
                consider(t + 1);
            }
            let Some(next) = next else {
                if started {
                    // Something started with zero duration cannot happen; guard anyway.
                    t += 1;
                    continue;
                }
                return Err(self.deadlock(t));
            };
            let step = match mode {
                SimMode::Cycle => t + 1,
                SimMode::Fast => next.max(t + 1),
            };
            self.account(t, step - t);
            if opts.max_cycles > 0 && step > opts.max_cycles {
                return Err(SimError::Timeout { cycles: opts.max_cycles });
            }
            t = step;
        }
    }

    fn deadlock(&self, t: u64) -> SimError {
        let mut waiting = Vec::new();
        for q in Queue::ALL {
            if let Some(w) = self.head(q) {
                let why = match self.blocked(q, w, t) {
                    Some(Block::Token(f)) => format!("waits for a token ({:?}) that is never produced", fifo_cause(f)),
                    Some(Block::Halt) => "halt waits for the other queues".to_string(),
                    _ => "cannot start".to_string(),
                };
                waiting.push((w.index, w.instr.to_text(), why));
            }
        }
        SimError::Deadlock { cycle: t, waiting }
    }
}
