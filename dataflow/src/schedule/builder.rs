//! The program builder: emits instructions in order, tracks the hazards on
//! buffer slots and DRAM regions between them, and defers tile epilogues
//! (software pipelining) without reordering a dependent pair.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::StepNumerics;
use super::tiling::Budget;
use crate::arch::ArchConfig;
use crate::isa::{Deps, Instr, Queue};
use crate::program::{NO_LAYER, Program, RegionKind, Tag};
use crate::tokens::{Producer, TokenAssigner};
use crate::workload::Pass;

/// Where a compiled program's instructions go as they become final (their
/// tokens set): into a whole [`Program`], or one by one to a consumer such
/// as the simulator, so a step of any length compiles in bounded memory.
pub trait ProgramSink {
    /// The program's header (memory map, layers, compile info; no
    /// instructions), once, before the first instruction.
    fn header(&mut self, header: &Program);
    /// The next instruction in program order, final.
    fn instr(&mut self, instr: Instr, tag: Tag);
}

/// A buffer or DRAM resource for hazard tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Res {
    ASlot(u64),
    Stage(u64),
    WSlot(u64),
    OSlot(u64),
    /// The weight-update staging part of an output slot (master weights and
    /// momentum, after the accumulators): apart from `OSlot` so the WU loads
    /// of a tile need not wait for its GEMMs to finish.
    OWu(u64),
    PSlot(u64),
    OScratch,
    /// A whole DRAM region (by index in the memory map).
    Dram(usize),
    /// One tile of a DRAM region (region, first element): disjoint from the
    /// region's other tiles, overlapping the whole region. The weight update
    /// reads and writes master weights and momentum tile by tile, so tile
    /// j's loads need not wait for tile j−1's stores.
    DramTile(usize, u64),
}

impl Res {
    /// Whether two resources overlap.
    fn overlaps(self, other: Res) -> bool {
        match (self, other) {
            (Res::Dram(a), Res::DramTile(b, _)) | (Res::DramTile(b, _), Res::Dram(a)) => a == b,
            _ => self == other,
        }
    }

    /// The resources whose hazard entries an access to `self` must consult,
    /// beyond `self`: the tiles of a region, or a tile's region (into `out`).
    fn others(self, hz: &Hazards, out: &mut Vec<Res>) {
        out.clear();
        match self {
            Res::Dram(r) => {
                if let Some(tiles) = hz.tiles.get(&r) {
                    out.extend(tiles.iter().map(|&o| Res::DramTile(r, o)));
                }
            }
            Res::DramTile(r, _) => out.push(Res::Dram(r)),
            _ => {}
        }
    }
}

/// FxHash (rustc's hasher): one rotate, xor and multiply per word. Hazard
/// keys are a few small integers, so SipHash's cost buys nothing here.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

#[derive(Default)]
struct Hazards {
    writer: FxMap<Res, Producer>,
    /// The latest reader of each queue (a later writer waits for them all,
    /// and waiting for the latest of a queue implies its earlier ones).
    readers: FxMap<Res, [Option<Producer>; 3]>,
    /// Per DRAM region, the tiles (`Res::DramTile`) that have a writer or
    /// reader entry: what an access to the whole region consults.
    tiles: FxMap<usize, BTreeSet<u64>>,
}

/// Builds the program while tracking hazards.
pub(super) struct Builder<'a> {
    pub(super) arch: &'a ArchConfig,
    /// The program's header; its instructions when no sink takes them.
    pub(super) prog: Program,
    /// Emitted instructions that a later one may still make push a token.
    window: VecDeque<(Instr, Tag)>,
    /// Index of `window[0]`.
    window_base: usize,
    /// Index of the next instruction.
    next_index: usize,
    tokens: TokenAssigner,
    /// Takes final instructions; `None`: they go into `prog`.
    sink: Option<&'a mut dyn ProgramSink>,
    header_sent: bool,
    /// Window length at which to look for settled instructions next.
    release_at: usize,
    /// The most instructions the window held.
    pub(super) window_peak: usize,
    /// Every hazard entry recorded and not yet seen settled, earliest first
    /// (settled entries stay settled, so they are dropped lazily). Entries
    /// are pushed in program order as they are emitted, so this is a queue.
    unsettled: VecDeque<Producer>,
    hz: Hazards,
    /// Reused list of the resources an access consults ([`Res::others`]).
    scratch: Vec<Res>,
    /// Reused list of an instruction's producers.
    deps_scratch: Vec<Producer>,
    pub(super) region_ids: BTreeMap<String, usize>,
    pub(super) budget: Budget,
    /// Round-robin position in each activation bank.
    pub(super) a_ring: [u64; 2],
    pub(super) o_ring: u64,
    /// Output slots held by open tiles (two are open at once under the
    /// interleave mapping).
    pub(super) o_held: Vec<bool>,
    pub(super) s_ring: u64,
    /// Epilogue instructions deferred into the next tile's reduction loop
    /// (software pipelining: the vector unit and sparsifier work of tile j
    /// overlaps the GEMMs of tile j+1 instead of blocking in-order issue).
    pending: VecDeque<Deferred>,
    /// Sequence number of the tile being emitted.
    pub(super) tile_seq: u64,
    pub(super) p_ring: u64,
    /// The int16 settings baked into epilogues.
    pub(super) numerics: StepNumerics,
    /// Latest store the load queue has synchronised with (through a sync).
    load_synced_with_store: Option<usize>,
    /// Latest load the store queue has synchronised with.
    store_synced_with_load: Option<usize>,
    /// Which operand tile each slot holds (for reuse).
    pub(super) a_keys: Vec<Option<SlotKey>>,
    w_keys: Vec<Option<SlotKey>>,
    /// Last step each weight slot was used in (least recently used is replaced).
    w_used: Vec<u64>,
    pub(super) step: u64,
}

/// A deferred instruction: its tile sequence number, the instruction, its
/// tag and the resources it reads and writes.
type Deferred = (u64, Instr, Tag, Vec<Res>, Vec<Res>);

/// Identifies an operand tile: the GEMM (by tag) and the tile's origin.
type SlotKey = (Tag, u64, u64);

/// How many emitted instructions the builder holds before it releases the
/// settled ones (a bound on the work of finding them, not on memory).
const RELEASE_EVERY: usize = 4096;

/// How many tiles a tile's epilogue may trail its GEMMs by (software
/// pipelining depth); the output buffer has this many slots plus two.
pub(super) const EPILOGUE_LAG: u64 = 2;

impl<'a> Builder<'a> {
    /// An empty program for `arch` with the buffers split as `budget` says.
    pub(super) fn new(arch: &'a ArchConfig, budget: Budget, numerics: StepNumerics) -> Self {
        Builder {
            arch,
            prog: Program::new(arch.clone()),
            window: VecDeque::new(),
            window_base: 0,
            next_index: 0,
            tokens: TokenAssigner::default(),
            sink: None,
            header_sent: false,
            release_at: RELEASE_EVERY,
            window_peak: 0,
            unsettled: VecDeque::new(),
            hz: Hazards::default(),
            scratch: Vec::new(),
            deps_scratch: Vec::new(),
            region_ids: BTreeMap::new(),
            budget,
            a_ring: [0; 2],
            o_ring: 0,
            o_held: vec![false; budget.o_slots as usize],
            s_ring: 0,
            numerics,
            load_synced_with_store: None,
            store_synced_with_load: None,
            pending: VecDeque::new(),
            tile_seq: 0,
            p_ring: 0,
            a_keys: vec![None; (budget.a_banks * budget.slots) as usize],
            w_keys: vec![None; budget.w_slots as usize],
            w_used: vec![0; budget.w_slots as usize],
            step: 0,
        }
    }

    /// Sends the final instructions to `sink` instead of keeping them.
    pub(super) fn stream_to(&mut self, sink: &'a mut dyn ProgramSink) {
        self.sink = Some(sink);
    }

    /// Emits what is still deferred and a `halt` (tagged `halt_pass`);
    /// returns the program (without instructions when they went to a sink)
    /// and the most instructions the builder held at once.
    pub(super) fn finish(mut self, halt_pass: Pass) -> (Program, usize) {
        self.flush();
        self.push_instr(Instr::Halt { deps: Deps::default() }, Tag { layer: NO_LAYER, pass: halt_pass }, &[]);
        self.release(usize::MAX);
        if let Some(sink) = self.sink.as_mut() {
            if !self.header_sent {
                sink.header(&self.prog);
            }
        }
        (self.prog, self.window_peak)
    }

    /// Appends an instruction that waits for `deps`, setting its tokens and
    /// those of its producers.
    fn push_instr(&mut self, instr: Instr, tag: Tag, deps: &[Producer]) -> Producer {
        let index = self.next_index;
        self.next_index += 1;
        let (window, base) = (&mut self.window, self.window_base);
        let (me, flags) = self.tokens.add(index, instr.queue(), deps, |p, next| {
            // `release` keeps every instruction a later one may depend on.
            let (i, _) = &mut window[p.index - base];
            let d = i.deps_mut();
            if next {
                d.push_next = true;
            } else {
                d.push_prev = true;
            }
        });
        let mut instr = instr;
        *instr.deps_mut() = flags;
        self.window.push_back((instr, tag));
        self.window_peak = self.window_peak.max(self.window.len());
        if self.window.len() >= self.release_at {
            // The new instruction enters the hazard state after this.
            let frontier = self.frontier().min(index);
            self.release(frontier);
            self.release_at = self.window.len() + RELEASE_EVERY;
        }
        me
    }

    /// The first instruction a later one may still make push a token: the
    /// earliest hazard entry not yet settled (`TokenAssigner::settled`).
    /// Later instructions depend only on hazard entries. (Entries the
    /// hazard state no longer names count too until they settle: a bound
    /// that is safe and costs no scan of the hazard state, which holds an
    /// entry per weight-update tile of every layer.)
    fn frontier(&mut self) -> usize {
        while let Some(p) = self.unsettled.front() {
            if !self.tokens.settled(*p) {
                return p.index;
            }
            self.unsettled.pop_front();
        }
        usize::MAX
    }

    /// Moves the instructions before index `upto` out of the window.
    fn release(&mut self, upto: usize) {
        while self.window_base < upto {
            let Some((instr, tag)) = self.window.pop_front() else { break };
            self.window_base += 1;
            match self.sink.as_mut() {
                Some(sink) => {
                    if !self.header_sent {
                        sink.header(&self.prog);
                        self.header_sent = true;
                    }
                    sink.instr(instr, tag);
                }
                None => {
                    self.prog.push(instr, tag);
                }
            }
        }
    }

    pub(super) fn region(&mut self, name: &str, kind: RegionKind, bytes: u64) -> (usize, u64) {
        if let Some(&id) = self.region_ids.get(name) {
            return (id, self.prog.regions[id].addr);
        }
        debug_assert!(!self.header_sent, "region `{name}` allocated after the header was streamed");
        let addr = self.prog.alloc(name, kind, bytes.max(1));
        let id = self.prog.regions.len() - 1;
        self.region_ids.insert(name.to_string(), id);
        (id, addr)
    }

    /// Emits `instr`, waiting for the hazards on `reads` and `writes`. A
    /// deferred instruction that touches the same resources goes out first
    /// (with everything deferred before it), so deferral never reorders a
    /// dependent pair.
    pub(super) fn emit(&mut self, instr: Instr, tag: Tag, reads: &[Res], writes: &[Res]) {
        let hit = |set: &[Res], x: &Res| set.iter().any(|y| y.overlaps(*x));
        let touches = |r: &[Res], w: &[Res]| {
            w.iter().any(|x| hit(reads, x) || hit(writes, x)) || r.iter().any(|x| hit(writes, x))
        };
        if let Some(last) = self.pending.iter().rposition(|p| touches(&p.3, &p.4)) {
            for _ in 0..=last {
                if let Some((_, i, t, r, w)) = self.pending.pop_front() {
                    self.emit_now(i, t, &r, &w);
                }
            }
        }
        self.emit_now(instr, tag, reads, writes)
    }

    /// Emits `instr` right away (deferred instructions leave the queue in
    /// order through here, so none overtakes another).
    fn emit_now(&mut self, instr: Instr, tag: Tag, reads: &[Res], writes: &[Res]) {
        let q = instr.queue();
        let mut d = std::mem::take(&mut self.deps_scratch);
        d.clear();
        let mut others = std::mem::take(&mut self.scratch);
        for r in reads {
            r.others(&self.hz, &mut others);
            for x in std::iter::once(r).chain(&others) {
                if let Some(&w) = self.hz.writer.get(x) {
                    d.push(w);
                }
            }
        }
        for r in writes {
            r.others(&self.hz, &mut others);
            for x in std::iter::once(r).chain(&others) {
                if let Some(&w) = self.hz.writer.get(x) {
                    d.push(w);
                }
                if let Some(rs) = self.hz.readers.get(x) {
                    d.extend(rs.iter().flatten().copied());
                }
            }
        }
        // Load <-> store dependencies go through a compute sync, unless an
        // earlier instruction of this queue already synchronised with a
        // later (or the same) instruction of the other queue.
        let covered = match q {
            Queue::Load => self.load_synced_with_store,
            Queue::Store => self.store_synced_with_load,
            Queue::Compute => None,
        };
        let crossing = |p: &Producer| matches!((p.queue, q), (Queue::Load, Queue::Store) | (Queue::Store, Queue::Load));
        d.retain(|p| !(crossing(p) && covered.is_some_and(|c| p.index <= c)));
        if d.iter().any(crossing) {
            let cross: Vec<Producer> = d.iter().copied().filter(crossing).collect();
            if let Some(latest) = cross.iter().map(|p| p.index).max() {
                match q {
                    Queue::Load => self.load_synced_with_store = Some(latest),
                    Queue::Store => self.store_synced_with_load = Some(latest),
                    Queue::Compute => {}
                }
            }
            let s = self.push_instr(Instr::Sync { deps: Deps::default() }, tag, &cross);
            d.retain(|p| !crossing(p));
            d.push(s);
        }
        let i = self.push_instr(instr, tag, &d);
        if !reads.is_empty() || !writes.is_empty() {
            self.unsettled.push_back(i);
        }
        for r in reads {
            self.hz.readers.entry(*r).or_default()[q.index()] = Some(i);
            if let Res::DramTile(region, off) = *r {
                self.hz.tiles.entry(region).or_default().insert(off);
            }
        }
        for r in writes {
            // A write of a whole region supersedes its tiles' entries (it
            // depends on all of them).
            if let Res::Dram(region) = *r {
                r.others(&self.hz, &mut others);
                for x in &others {
                    self.hz.writer.remove(x);
                    self.hz.readers.remove(x);
                }
                self.hz.tiles.remove(&region);
            }
            if let Res::DramTile(region, off) = *r {
                self.hz.tiles.entry(region).or_default().insert(off);
            }
            self.hz.writer.insert(*r, i);
            self.hz.readers.remove(r);
        }
        self.scratch = others;
        self.deps_scratch = d;
    }

    /// Queues an epilogue instruction for later emission.
    pub(super) fn defer(&mut self, instr: Instr, tag: Tag, reads: &[Res], writes: &[Res]) {
        self.pending.push_back((self.tile_seq, instr, tag, reads.to_vec(), writes.to_vec()));
    }

    /// Emits deferred instructions up to and including the next compute one.
    pub(super) fn release_one(&mut self) {
        while let Some((_, i, t, r, w)) = self.pending.pop_front() {
            let compute = i.queue() == Queue::Compute;
            self.emit_now(i, t, &r, &w);
            if compute {
                break;
            }
        }
    }

    /// Emits the deferred DMA instructions at the front of the queue, up to
    /// the first compute one. Called before a tile's GEMM so that an
    /// epilogue's loads (and any sync they need) enter the compute order
    /// before that GEMM: a sync retires in order, and behind the GEMM it
    /// would hold the loads until the GEMM finished.
    pub(super) fn release_dma(&mut self) {
        while self.pending.front().is_some_and(|p| p.1.queue() != Queue::Compute) {
            let Some((_, i, t, r, w)) = self.pending.pop_front() else { break };
            self.emit_now(i, t, &r, &w);
        }
    }

    /// Emits the deferred instructions of tiles before `seq`.
    pub(super) fn flush_before(&mut self, seq: u64) {
        while self.pending.front().is_some_and(|p| p.0 < seq) {
            let Some((_, i, t, r, w)) = self.pending.pop_front() else { break };
            self.emit_now(i, t, &r, &w);
        }
    }

    /// Emits every deferred instruction.
    pub(super) fn flush(&mut self) {
        self.flush_before(u64::MAX);
    }

    /// Switches the buffer layout to `budget` (the activation buffer in one
    /// bank or two; the other buffers are laid out the same either way).
    /// Everything deferred goes out first, and as every activation-buffer
    /// slot of the new layout overlaps every slot of the old one, each
    /// inherits all of their hazard entries: its next writer waits for
    /// every earlier access of the buffer, so no hazard is lost. The slots'
    /// contents are forgotten (nothing is reused across the switch).
    pub(super) fn set_budget(&mut self, budget: Budget) {
        if budget.a_banks == self.budget.a_banks && budget.a_slot == self.budget.a_slot {
            return;
        }
        self.flush();
        let in_a = |r: &Res| matches!(r, Res::ASlot(_) | Res::Stage(_));
        let latest = |a: Option<Producer>, b: Producer| Some(a.map_or(b, |a| if a.index >= b.index { a } else { b }));
        let mut writer: Option<Producer> = None;
        let mut readers: [Option<Producer>; 3] = [None; 3];
        for (_, p) in self.hz.writer.iter().filter(|(r, _)| in_a(r)) {
            writer = latest(writer, *p);
            readers[p.queue.index()] = latest(readers[p.queue.index()], *p);
        }
        for (_, rs) in self.hz.readers.iter().filter(|(r, _)| in_a(r)) {
            for p in rs.iter().flatten() {
                readers[p.queue.index()] = latest(readers[p.queue.index()], *p);
            }
        }
        self.hz.writer.retain(|r, _| !in_a(r));
        self.hz.readers.retain(|r, _| !in_a(r));
        let a_slots = budget.a_banks * budget.slots;
        let keys = (0..a_slots).map(Res::ASlot).chain((0..budget.slots).map(Res::Stage));
        for k in keys {
            if let Some(w) = writer {
                self.hz.writer.insert(k, w);
            }
            if readers.iter().any(Option::is_some) {
                self.hz.readers.insert(k, readers);
            }
        }
        self.a_keys = vec![None; a_slots as usize];
        self.a_ring = [0; 2];
        self.s_ring = 0;
        self.budget = budget;
    }

    /// The next output slot in the ring that no open tile holds.
    pub(super) fn take_o_slot(&mut self) -> u64 {
        let n = self.budget.o_slots;
        let mut s = Builder::next(&mut self.o_ring, n);
        for _ in 0..n {
            if !self.o_held[s as usize] {
                break;
            }
            s = Builder::next(&mut self.o_ring, n);
        }
        self.o_held[s as usize] = true;
        s
    }

    /// The activation slot of `bank` for operand tile `key`, and whether
    /// it holds that tile already (then it is reused, not reloaded);
    /// otherwise the bank's next slot in turn.
    pub(super) fn take_a_slot(&mut self, key: SlotKey, bank: u64) -> (u64, bool) {
        if let Some(s) = self.a_keys.iter().position(|k| *k == Some(key)) {
            return (s as u64, true);
        }
        let slots = self.budget.slots;
        let s = bank * slots + Builder::next(&mut self.a_ring[bank as usize], slots);
        self.a_keys[s as usize] = Some(key);
        (s, false)
    }

    /// The weight slot for operand tile `key`, and whether it holds that
    /// tile already. Weights `reused` by the following tiles (the whole
    /// reduction in one tile) go to a resident slot, least recently used
    /// first; weights used once stream through the other slots in turn.
    pub(super) fn take_w_slot(&mut self, key: SlotKey, reused: bool) -> (u64, bool) {
        let hit = self.w_keys.iter().position(|k| *k == Some(key));
        let s = match hit {
            Some(s) => s,
            None => {
                let n = self.w_keys.len();
                let range = if n == 1 {
                    0..1
                } else if reused {
                    n / 2..n
                } else {
                    0..n / 2
                };
                let s = range.min_by_key(|&s| (self.w_used[s], s)).unwrap_or(0);
                self.w_keys[s] = Some(key);
                s
            }
        };
        self.step += 1;
        self.w_used[s] = self.step;
        (s as u64, hit.is_some())
    }

    /// The next slot of a ring of `slots`.
    pub(super) fn next(ring: &mut u64, slots: u64) -> u64 {
        let s = *ring % slots;
        *ring += 1;
        s
    }
}

/// An instruction field from a `u64` (saturated rather than wrapped).
pub(super) fn u32c(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}
