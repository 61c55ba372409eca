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

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::access::{Range, accesses, conflict};
use nmsat_dataflow::check::check_program;
use nmsat_dataflow::isa::GemmMode;
use nmsat_dataflow::isa::{Buf, Instr, NO_SHIFT, Queue, VecOp};
use nmsat_dataflow::program::{NO_LAYER, Program, Tag};
use nmsat_dataflow::timing;
use nmsat_dataflow::workload::Pass;

use crate::datapath::Machine;
use crate::error::SimError;
use crate::stats::{BufferEvents, LayerPassStats, QueueStats, StallCause, Stats, UnitEvents};

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
    /// Start and retirement of every instruction, by index.
    pub retire: Vec<Retire>,
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

/// The three buffers' counters of one layer/pass bucket, by [`Buf`] (as
/// an array: a `String`-keyed map lookup per access was a tenth of `fast`
/// mode's time); `None` until first used, like the map entries they become.
type BufCounters = [Option<BufferEvents>; 3];

/// The names of the buffers in the statistics, by [`Buf`] (`Buf as usize`).
const BUF_NAMES: [&str; 3] = ["activation", "weight", "output"];

/// One buffer's counters in `bufs`, created on first use.
fn buf_at(bufs: &mut BufCounters, b: Buf) -> &mut BufferEvents {
    bufs[b as usize].get_or_insert_with(BufferEvents::default)
}

/// A named counter, created on first use.
fn count_mut<'m>(m: &'m mut BTreeMap<String, u64>, name: &str) -> &'m mut u64 {
    if !m.contains_key(name) {
        m.insert(name.to_string(), 0);
    }
    m.get_mut(name).expect("inserted above")
}

/// The buffer ranges of every instruction in one flat table (a program
/// has up to millions of instructions; two small vectors each, or inline
/// arrays sized for the largest, cost more time or memory than the ranges).
struct AccessTable {
    ranges: Vec<Range>,
    /// Per instruction: its first range, its reads, its writes (after the reads).
    spans: Vec<(u32, u8, u8)>,
}

impl AccessTable {
    fn new(prog: &Program, arch: &ArchConfig) -> Self {
        let mut t = AccessTable { ranges: Vec::new(), spans: Vec::with_capacity(prog.instrs.len()) };
        for i in &prog.instrs {
            let a = accesses(i, arch);
            let first = u32::try_from(t.ranges.len()).unwrap_or(u32::MAX);
            t.ranges.extend_from_slice(&a.reads);
            t.ranges.extend_from_slice(&a.writes);
            // At most `RangeList::CAPACITY` of each.
            t.spans.push((first, a.reads.len() as u8, a.writes.len() as u8));
        }
        t
    }

    fn reads(&self, i: usize) -> &[Range] {
        let (f, r, _) = self.spans[i];
        &self.ranges[f as usize..f as usize + r as usize]
    }

    fn writes(&self, i: usize) -> &[Range] {
        let (f, r, w) = self.spans[i];
        let s = f as usize + r as usize;
        &self.ranges[s..s + w as usize]
    }

    /// True when instruction `i` must wait for the earlier `j` (RAW, WAR or
    /// WAW on a common element).
    fn conflict(&self, i: usize, j: usize) -> bool {
        conflict(self.reads(i), self.writes(i), self.reads(j), self.writes(j))
    }
}

/// Precomputed occupancy of one instruction.
#[derive(Debug, Clone, Copy)]
enum Cost {
    Dma { beats: u64 },
    Gemm { stream: u64, tail: u64 },
    Unit { cycles: u64 },
    Halt,
}

fn cost(arch: &ArchConfig, i: &Instr) -> Cost {
    match *i {
        Instr::Load { .. } | Instr::Store { .. } | Instr::Load2col { .. } => {
            Cost::Dma { beats: timing::transfer(arch, i).map_or(1, |d| d.beats) }
        }
        Instr::Gemm { mode, m, n, k, .. } => {
            let t = timing::gemm(arch, mode, u64::from(m), u64::from(n), u64::from(k));
            Cost::Gemm { stream: t.stream, tail: t.tail }
        }
        Instr::Vec { op, len, .. } => Cost::Unit { cycles: timing::vector(arch, op, u64::from(len)) },
        Instr::Sparsify { pattern, rows, cols, .. } => {
            Cost::Unit { cycles: timing::sparsify(arch, u64::from(pattern.m()), u64::from(rows), u64::from(cols)) }
        }
        Instr::Sync { .. } => Cost::Unit { cycles: timing::SYNC_CYCLES },
        Instr::Halt { .. } => Cost::Halt,
    }
}

struct QState {
    order: Vec<usize>,
    head: usize,
    /// The unit may start its next instruction from this cycle.
    busy_until: u64,
    /// Index of the instruction most recently started.
    last_started: Option<usize>,
}

impl QState {
    fn head_instr(&self) -> Option<usize> {
        self.order.get(self.head).copied()
    }
}

/// Why a queue's head cannot start at `t`, or `None` when it can.
enum Block {
    Busy,
    ModeSwitch,
    Hazard,
    Token(usize),
    Halt,
}

struct Engine<'a> {
    arch: &'a ArchConfig,
    prog: &'a Program,
    costs: Vec<Cost>,
    queues: [QState; 3],
    tokens: [u64; 4],
    inflight: BinaryHeap<Reverse<(u64, usize)>>,
    /// Retirement cycle of the most recently issued compute instruction.
    compute_retire_last: u64,
    /// Each compute unit may start its next instruction from this cycle.
    unit_busy: [u64; 4],
    /// Compute instructions still executing: index, cycle their results are
    /// complete, unit.
    executing: Vec<(usize, u64, Unit)>,
    /// Buffer ranges of every instruction (for the scoreboard).
    access: AccessTable,
    /// Most recently started array instruction (for attribution).
    last_array: Option<usize>,
    /// Mode and completion of the most recent GEMM.
    last_gemm: Option<(GemmMode, u64)>,
    channel_free: u64,
    retire: Vec<Retire>,
    retired: usize,
    stats: Stats,
    qstats: [QueueStats; 3],
    /// Attributed cycles per tag.
    attributed: BTreeMap<(u32, Pass), u64>,
    /// The run of cycles not yet added to `attributed`: consecutive
    /// accounting steps mostly share their tag.
    attr_run: ((u32, Pass), u64),
    /// The (layer, pass) of each bucket of per-layer statistics.
    buckets: Vec<(u32, Pass)>,
    /// Each instruction's bucket.
    bucket_of: Vec<usize>,
    /// Stall queue-cycles per bucket, by cause (in `StallCause::ALL` order).
    bucket_stalls: Vec<[u64; 6]>,
    /// Event counts per bucket.
    bucket_events: Vec<UnitEvents>,
    /// Buffer counters per bucket, moved into `bucket_events` at the end.
    bucket_bufs: Vec<BufCounters>,
    last_compute_tag: Tag,
    machine: Option<Machine>,
}

/// The most DRAM a run with data allocates (8 GiB): checked before allocating.
pub const MAX_DATA_DRAM_BYTES: u64 = 8 << 30;

/// Runs `program` on `arch`.
pub fn simulate(program: &Program, arch: &ArchConfig, mode: SimMode, opts: SimOptions) -> Result<RunResult, SimError> {
    let errors = check_program(program, arch);
    if !errors.is_empty() {
        return Err(SimError::Check { errors });
    }
    if opts.data && program.dram_bytes > MAX_DATA_DRAM_BYTES {
        return Err(SimError::DramTooLarge { bytes: program.dram_bytes, limit: MAX_DATA_DRAM_BYTES });
    }
    let mut e = Engine::new(program, arch);
    if opts.data {
        e.machine = Some(Machine::new(program, arch));
    }
    e.run(mode, opts)?;
    Ok(e.finish(mode))
}

impl<'a> Engine<'a> {
    fn new(prog: &'a Program, arch: &'a ArchConfig) -> Self {
        let mut queues = [Queue::Load, Queue::Compute, Queue::Store].map(|_| QState {
            order: Vec::new(),
            head: 0,
            busy_until: 0,
            last_started: None,
        });
        for (i, instr) in prog.instrs.iter().enumerate() {
            queues[instr.queue().index()].order.push(i);
        }
        let mut buckets: Vec<(u32, Pass)> = Vec::new();
        let mut index: BTreeMap<(u32, Pass), usize> = BTreeMap::new();
        let bucket_of: Vec<usize> = prog
            .tags
            .iter()
            .map(|t| {
                *index.entry((t.layer, t.pass)).or_insert_with(|| {
                    buckets.push((t.layer, t.pass));
                    buckets.len() - 1
                })
            })
            .collect();
        let n = buckets.len();
        Engine {
            arch,
            prog,
            buckets,
            bucket_of,
            bucket_stalls: vec![[0; 6]; n],
            bucket_events: vec![UnitEvents::default(); n],
            bucket_bufs: vec![Default::default(); n],
            costs: prog.instrs.iter().map(|i| cost(arch, i)).collect(),
            queues,
            tokens: [0; 4],
            inflight: BinaryHeap::new(),
            compute_retire_last: 0,
            unit_busy: [0; 4],
            executing: Vec::new(),
            access: AccessTable::new(prog, arch),
            last_array: None,
            last_gemm: None,
            channel_free: 0,
            retire: vec![Retire::default(); prog.instrs.len()],
            retired: 0,
            stats: Stats::default(),
            qstats: Default::default(),
            attributed: BTreeMap::new(),
            attr_run: ((NO_LAYER, Pass::Ff), 0),
            last_compute_tag: Tag { layer: NO_LAYER, pass: Pass::Ff },
            machine: None,
        }
    }

    fn blocked(&self, q: Queue, i: usize, t: u64) -> Option<Block> {
        let qs = &self.queues[q.index()];
        let instr = &self.prog.instrs[i];
        if let Instr::Halt { .. } = instr {
            let others_done = self.queues.iter().enumerate().all(|(k, s)| k == q.index() || s.head >= s.order.len());
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
            for &(j, done, uj) in &self.executing {
                if done > t && uj != u && self.access.conflict(i, j) {
                    return Some(Block::Hazard);
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

    fn start(&mut self, q: Queue, i: usize, t: u64) {
        let d = self.prog.instrs[i].deps();
        for (on, prev) in [(d.pop_prev, true), (d.pop_next, false)] {
            if on {
                if let Some(f) = fifo_pop(q, prev) {
                    self.tokens[f] -= 1;
                }
            }
        }
        let (busy_until, done) = match self.costs[i] {
            Cost::Dma { beats } => {
                let grant = t.max(self.channel_free);
                self.channel_free = grant + beats;
                let dma = &mut self.bucket_events[self.bucket_of[i]].dma;
                dma.channel_busy_cycles += beats;
                dma.channel_wait_cycles += grant - t;
                (grant + beats, grant + beats + u64::from(self.arch.dram.latency_cycles))
            }
            Cost::Gemm { stream, tail } => (t + stream, t + stream + tail),
            Cost::Unit { cycles } => (t + cycles, t + cycles),
            Cost::Halt => (t + timing::SYNC_CYCLES, t + timing::SYNC_CYCLES),
        };
        let exec_done = done;
        let mut done = done;
        if q == Queue::Compute {
            let u = unit_of(&self.prog.instrs[i]);
            self.unit_busy[u as usize] = busy_until;
            self.executing.retain(|&(_, d, _)| d > t);
            self.executing.push((i, done, u));
            // In-order retirement: tokens appear in program order.
            done = done.max(self.compute_retire_last);
            self.compute_retire_last = done;
            self.last_compute_tag = self.prog.tags[i];
            if u == Unit::Array {
                self.last_array = Some(i);
                if let Instr::Gemm { mode, .. } = self.prog.instrs[i] {
                    self.last_gemm = Some((mode, exec_done));
                }
            }
        }
        let qs = &mut self.queues[q.index()];
        qs.busy_until =
            if q == Queue::Compute { self.unit_busy.iter().copied().max().unwrap_or(0) } else { busy_until };
        qs.head += 1;
        qs.last_started = Some(i);
        self.retire[i] = Retire { start: t, done };
        self.inflight.push(Reverse((done, i)));
        self.count_events(i);
        if let Some(m) = &mut self.machine {
            m.execute(&self.prog.instrs[i]);
        }
    }

    fn retire_until(&mut self, t: u64) {
        while let Some(&Reverse((done, i))) = self.inflight.peek() {
            if done > t {
                break;
            }
            self.inflight.pop();
            let q = self.prog.instrs[i].queue();
            let d = self.prog.instrs[i].deps();
            for (on, prev) in [(d.push_prev, true), (d.push_next, false)] {
                if on {
                    if let Some(f) = fifo_push(q, prev) {
                        self.tokens[f] += 1;
                    }
                }
            }
            self.qstats[q.index()].instructions += 1;
            self.retired += 1;
        }
    }

    /// The tag the current cycle is attributed to.
    fn attribution(&self, t: u64) -> Tag {
        let c = &self.queues[Queue::Compute.index()];
        if let Some(i) = self.last_array {
            if t < self.unit_busy[Unit::Array as usize] {
                return self.prog.tags[i];
            }
        }
        if let Some(i) = c.last_started {
            if t < c.busy_until {
                return self.prog.tags[i];
            }
        }
        match c.head_instr() {
            Some(i) if !matches!(self.prog.instrs[i], Instr::Halt { .. }) => self.prog.tags[i],
            _ => self.last_compute_tag,
        }
    }

    /// Adds `len` cycles of the state after the starts at `t`.
    fn account(&mut self, t: u64, len: u64) {
        for q in Queue::ALL {
            let qs = &self.queues[q.index()];
            let st = &mut self.qstats[q.index()];
            if t < qs.busy_until {
                st.busy_cycles += len;
            }
            match qs.head_instr() {
                None => {
                    if t >= qs.busy_until {
                        st.idle_cycles += len;
                    }
                }
                Some(i) => {
                    let cause = match self.blocked(q, i, t) {
                        Some(Block::Busy) => Some(StallCause::UnitBusy),
                        Some(Block::Hazard) => Some(StallCause::DataHazard),
                        Some(Block::ModeSwitch) => Some(StallCause::ModeSwitch),
                        Some(Block::Token(f)) => Some(fifo_cause(f)),
                        Some(Block::Halt) | None => None,
                    };
                    let st = &mut self.qstats[q.index()];
                    if let Some(c) = cause {
                        *st.stalls.entry(c).or_insert(0) += len;
                        self.bucket_stalls[self.bucket_of[i]][c as usize] += len;
                    } else if t >= qs.busy_until {
                        st.idle_cycles += len;
                    }
                }
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
        self.queues.iter().all(|q| q.head >= q.order.len())
    }

    fn run(&mut self, mode: SimMode, opts: SimOptions) -> Result<(), SimError> {
        let mut t: u64 = 0;
        loop {
            self.retire_until(t);
            let mut started = false;
            // A queue issues at most one instruction per cycle; one that did
            // may issue its next one in the following cycle.
            let mut reissue = false;
            for q in Queue::ALL {
                if let Some(i) = self.queues[q.index()].head_instr() {
                    if self.blocked(q, i, t).is_none() {
                        self.start(q, i, t);
                        started = true;
                        reissue |= self.queues[q.index()].head_instr().is_some();
                    }
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
            for &(_, d, _) in &self.executing {
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
            if let Some(i) = self.queues[q.index()].head_instr() {
                let why = match self.blocked(q, i, t) {
                    Some(Block::Token(f)) => format!("waits for a token ({:?}) that is never produced", fifo_cause(f)),
                    Some(Block::Halt) => "halt waits for the other queues".to_string(),
                    _ => "cannot start".to_string(),
                };
                waiting.push((i, self.prog.instrs[i].to_text(), why));
            }
        }
        SimError::Deadlock { cycle: t, waiting }
    }

    /// Counts one instruction's events in its layer/pass bucket (the run's
    /// totals are the buckets' sum, formed once in `finish`).
    fn count_events(&mut self, i: usize) {
        let b = self.bucket_of[i];
        Self::count_into(self.arch, &self.prog.instrs[i], &mut self.bucket_events[b], &mut self.bucket_bufs[b]);
    }

    /// Adds the events of one instruction to `s`.
    fn count_into(arch: &ArchConfig, instr: &Instr, s: &mut UnitEvents, bufs: &mut BufCounters) {
        let eb = u64::from(arch.element_bytes());
        let ab = u64::from(arch.accumulator_bytes());
        let elem_bytes = |b: Buf| if b == Buf::O { ab } else { eb };
        match *instr {
            Instr::Load { buf, fmt, index_bits, rows, cols, .. } => {
                let d = timing::dma(arch, fmt, u32::from(index_bits), u64::from(rows), u64::from(cols));
                s.dma.loads += 1;
                s.dma.dram_read_bytes += d.bytes;
                s.dma.dram_burst_bytes += d.burst_bytes;
                let n = u64::from(rows) * u64::from(cols);
                let b = buf_at(bufs, buf);
                b.writes += n;
                b.write_bytes += n * elem_bytes(buf);
            }
            Instr::Load2col { rows, cols, .. } => {
                let d = timing::transfer(arch, instr).unwrap_or_default();
                s.dma.loads += 1;
                s.dma.dram_read_bytes += d.bytes;
                s.dma.dram_burst_bytes += d.burst_bytes;
                let n = u64::from(rows) * u64::from(cols);
                let b = buf_at(bufs, Buf::A);
                b.writes += n;
                b.write_bytes += n * eb;
            }
            Instr::Store { buf, fmt, index_bits, rows, cols, .. } => {
                let d = timing::dma(arch, fmt, u32::from(index_bits), u64::from(rows), u64::from(cols));
                s.dma.stores += 1;
                s.dma.dram_write_bytes += d.bytes;
                s.dma.dram_burst_bytes += d.burst_bytes;
                let n = u64::from(rows) * u64::from(cols);
                let b = buf_at(bufs, buf);
                b.reads += n;
                b.read_bytes += n * elem_bytes(buf);
            }
            Instr::Gemm { mode, acc, m, n, k, .. } => {
                let t = timing::gemm(arch, mode, u64::from(m), u64::from(n), u64::from(k));
                let pe = &mut s.pe_array;
                pe.gemms += 1;
                let dense_eq = u64::from(m) * u64::from(n) * u64::from(k);
                match mode {
                    GemmMode::Dense => {
                        pe.gemms_dense += 1;
                        pe.macs_dense_mode += t.macs_executed;
                    }
                    GemmMode::Nm(_) => {
                        pe.gemms_sparse += 1;
                        pe.macs_sparse_mode += t.macs_executed;
                    }
                }
                pe.macs_dense_equivalent += dense_eq;
                pe.mux_selects += t.mux_selects;
                pe.subtiles += t.subtiles;
                pe.stream_cycles += t.stream;
                pe.port_stall_cycles += t.port_stall;
                pe.drain_stall_cycles += t.drain_stall;
                pe.fill_drain_cycles += t.tail;
                pe.mac_slots += t.mac_slots;
                pe.lane_slots += t.lane_slots;
                pe.outputs += u64::from(m) * u64::from(n);
                pe.pe_positions += t.subtiles * u64::from(arch.pe_array.rows) * u64::from(arch.pe_array.cols);
                let a = buf_at(bufs, Buf::A);
                a.reads += t.act_reads;
                a.read_bytes += t.act_reads * eb;
                let w = buf_at(bufs, Buf::W);
                w.reads += t.weight_reads;
                let ibits = mode.pattern().map_or(0, |p| u64::from(p.index_bits()));
                w.read_bytes += t.weight_reads * eb + (t.weight_reads * ibits).div_ceil(8);
                let o = buf_at(bufs, Buf::O);
                o.writes += t.acc_writes;
                o.write_bytes += t.acc_writes * ab;
                if acc {
                    o.reads += t.acc_writes;
                    o.read_bytes += t.acc_writes * ab;
                }
            }
            Instr::Vec { op, len, p5, aux, .. } => {
                let len = u64::from(len);
                // SR-STE's pruned flags are one more activation-buffer operand.
                let mask_reads = if op == VecOp::Sgd && p5 != NO_SHIFT { len } else { 0 };
                let v = &mut s.vector_unit;
                *count_mut(&mut v.ops, op.name()) += 1;
                *count_mut(&mut v.elements, op.name()) += len;
                v.busy_cycles += timing::vector(arch, op, len);
                let (a_r, a_w, o_r, o_w) = match op {
                    VecOp::Requant => (0, len, len, 0),
                    VecOp::ReluBwd => (len, 0, len, len),
                    VecOp::Add => (2 * len, len, 0, 0),
                    VecOp::Sgd => (mask_reads, len, 3 * len, 2 * len),
                    VecOp::LossGrad => {
                        // Whole rows: each logit read three times (max, sum, output), one label per row.
                        let classes = u64::from(aux.max(1));
                        let rows = len / classes;
                        (3 * rows * classes + rows, rows * classes, 0, 0)
                    }
                    VecOp::Clear => (0, 0, 0, len),
                };
                let a = buf_at(bufs, Buf::A);
                a.reads += a_r;
                a.writes += a_w;
                a.read_bytes += a_r * eb;
                a.write_bytes += a_w * eb;
                let o = buf_at(bufs, Buf::O);
                o.reads += o_r;
                o.writes += o_w;
                o.read_bytes += o_r * ab;
                o.write_bytes += o_w * ab;
            }
            Instr::Sparsify { pattern, master, mask_out, rows, cols, .. } => {
                let n = u64::from(rows) * u64::from(cols);
                let out = if mask_out { 0 } else { n * u64::from(pattern.n()) / u64::from(pattern.m()) };
                let sp = &mut s.sparsifier;
                sp.ops += 1;
                sp.groups += n / u64::from(pattern.m());
                sp.weights_in += n;
                sp.values_out += out;
                sp.busy_cycles += timing::sparsify(arch, u64::from(pattern.m()), u64::from(rows), u64::from(cols));
                if master {
                    let o = buf_at(bufs, Buf::O);
                    o.reads += n;
                    o.read_bytes += n * ab;
                } else {
                    let a = buf_at(bufs, Buf::A);
                    a.reads += n;
                    a.read_bytes += n * eb;
                }
                if mask_out {
                    let a = buf_at(bufs, Buf::A);
                    a.writes += n;
                    a.write_bytes += n * eb;
                } else {
                    let w = buf_at(bufs, Buf::W);
                    w.writes += out;
                    w.write_bytes += out * eb + (out * u64::from(pattern.index_bits())).div_ceil(8);
                }
            }
            Instr::Sync { .. } | Instr::Halt { .. } => {}
        }
    }

    fn finish(mut self, mode: SimMode) -> RunResult {
        self.flush_attribution();
        let arch = self.arch;
        let prog = self.prog;
        let mut s = std::mem::take(&mut self.stats);
        for (e, bufs) in self.bucket_events.iter_mut().zip(&mut self.bucket_bufs) {
            for (name, b) in BUF_NAMES.iter().zip(bufs.iter_mut()) {
                if let Some(b) = b.take() {
                    e.buffers.insert((*name).to_string(), b);
                }
            }
        }
        let mut total = UnitEvents::default();
        for e in &self.bucket_events {
            total.add(e);
        }
        total.derive();
        s.pe_array = total.pe_array;
        s.buffers = total.buffers;
        s.dma = total.dma;
        s.vector_unit = total.vector_unit;
        s.sparsifier = total.sparsifier;
        s.arch = arch.name.clone();
        s.mode = mode.name().into();
        s.instructions = self.retired as u64;
        s.seconds = s.total_cycles as f64 / (f64::from(arch.clock_mhz) * 1e6);
        s.macs_dense_equivalent = s.pe_array.macs_dense_equivalent;
        s.macs_executed = s.pe_array.macs_dense_mode + s.pe_array.macs_sparse_mode;
        s.dram_bytes = s.dma.dram_read_bytes + s.dma.dram_write_bytes;
        let mult = arch.derived().multipliers as f64;
        if s.total_cycles > 0 {
            s.throughput_gops = 2.0 * s.macs_dense_equivalent as f64 / s.seconds / 1e9;
            s.pe_utilization = s.macs_executed as f64 / (s.total_cycles as f64 * mult);
        }
        for (q, qs) in Queue::ALL.iter().zip(self.qstats.iter()) {
            for (c, v) in &qs.stalls {
                *s.stalls.entry(*c).or_insert(0) += v;
            }
            s.queues.insert(q.name().to_string(), qs.clone());
        }
        for c in StallCause::ALL {
            s.stalls.entry(c).or_insert(0);
        }
        // Per layer and pass.
        let mut rows: BTreeMap<(u32, Pass), LayerPassStats> = BTreeMap::new();
        let mut spans: BTreeMap<(u32, Pass), (u64, u64)> = BTreeMap::new();
        for (i, (instr, tag)) in prog.instrs.iter().zip(&prog.tags).enumerate() {
            if tag.layer == NO_LAYER {
                continue;
            }
            let key = (tag.layer, tag.pass);
            let r = rows.entry(key).or_insert_with(|| LayerPassStats {
                name: prog.layer_name(*tag).to_string(),
                pass: tag.pass,
                mode: "vector".into(),
                ..LayerPassStats::default()
            });
            r.instructions += 1;
            let rt = self.retire[i];
            let sp = spans.entry(key).or_insert((rt.start, rt.done));
            sp.0 = sp.0.min(rt.start);
            sp.1 = sp.1.max(rt.done);
            match *instr {
                Instr::Load { .. } | Instr::Store { .. } | Instr::Load2col { .. } => {
                    r.dram_bytes += timing::transfer(arch, instr).map_or(0, |d| d.bytes);
                }
                Instr::Gemm { mode, m, n, k, .. } => {
                    let t = timing::gemm(arch, mode, u64::from(m), u64::from(n), u64::from(k));
                    r.macs_executed += t.macs_executed;
                    r.macs_dense_equivalent += u64::from(m) * u64::from(n) * u64::from(k);
                }
                _ => {}
            }
        }
        for g in &prog.info.gemms {
            if let Some(li) = prog.layers.iter().position(|l| *l == g.layer) {
                if let Some(r) = rows.get_mut(&(li as u32, g.pass)) {
                    if g.m * g.n * g.k > r.m * r.n * r.k {
                        r.m = g.m;
                        r.n = g.n;
                        r.k = g.k;
                        r.mode = g.mode.clone();
                    }
                }
            }
        }
        // A weight update has no GEMM: report the weight it updates (K x N of FF, K = 1).
        for r in rows.values_mut().filter(|r| r.pass == Pass::Wu) {
            if let Some(g) = prog.info.gemms.iter().find(|g| g.layer == r.name && g.pass == Pass::Ff) {
                r.m = g.k;
                r.n = g.n;
                r.k = 1;
            }
        }
        for (b, key) in self.buckets.iter().enumerate() {
            if let Some(r) = rows.get_mut(key) {
                for (c, v) in StallCause::ALL.iter().zip(self.bucket_stalls[b]) {
                    r.stalls.insert(*c, v);
                }
                r.events = std::mem::take(&mut self.bucket_events[b]);
                r.events.derive();
            }
        }
        for (key, r) in rows.iter_mut() {
            r.cycles = self.attributed.get(key).copied().unwrap_or(0);
            let (a, b) = spans[key];
            r.span_cycles = b - a;
            if r.cycles > 0 {
                r.pe_utilization = r.macs_executed as f64 / (r.cycles as f64 * mult);
            }
        }
        for p in Pass::ALL {
            s.passes.insert(p, 0);
        }
        for ((_, pass), c) in &self.attributed {
            *s.passes.entry(*pass).or_insert(0) += c;
        }
        // Order layers as the program lists them, passes in FF, BP, WG, WU order.
        s.layers = rows.into_values().collect();
        RunResult { stats: s, retire: self.retire, machine: self.machine.take() }
    }
}
