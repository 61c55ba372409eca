//! Seeded random SAT programs for differential testing (fast vs cycle mode,
//! RTL vs the Rust simulator).
//!
//! [`random_program`] draws a program of a given length for a config from a
//! seed; the same seed and config always give the same program. Every
//! program passes [`check_program`]: shapes fit the buffers and the DRAM
//! region, N:M shapes have whole groups, formats suit their buffer. Its
//! memory image fills the DRAM region with seeded random bytes, so loads
//! bring random data into the buffers and stores carry computed data back.
//!
//! **Race-free.** Its dependency tokens are consistent with sequential
//! execution (an instruction pops a token only when an earlier one pushed
//! it), so the concurrent machine cannot deadlock, and every two
//! instructions of different queues that touch a common buffer element or
//! DRAM byte (one of them writing it) are ordered by a chain of tokens: the
//! later one cannot issue before the earlier one retires. With the range
//! scoreboard ordering the compute queue and each DMA queue moving its
//! transfers in order, the final state is that of executing the program
//! in program order, whatever the timing (the simulator applies each
//! instruction at issue, the RTL over its execution). Within a vector op,
//! a written range and any other range of the same buffer are identical or
//! disjoint, the op's parameters stay where `numerics` is defined, and an
//! N:M GEMM only reads weight indices below its `M` (as compressed weights
//! hold). Operands often reuse a few hot addresses so the range scoreboard
//! sees read-after-write, write-after-read and write-after-write hazards.
//!
//! The instruction mix covers every DMA format in both directions (with
//! requantizing stores), dense GEMMs and every N:M pattern of the config
//! (with transposed operands), accumulate and interleave flags (so mode
//! switches drain the array or not), all six vector ops, sparsify along
//! both axes (from int16 or master weights) and `sync`; [`Coverage`]
//! reports what a program exercised.

use std::collections::BTreeSet;

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::access::{Accesses, accesses};
use nmsat_dataflow::arch::{Im2col, Stationarity};
use nmsat_dataflow::check::{capacity, check_program};
use nmsat_dataflow::isa::{Buf, Deps, DmaFormat, GemmMode, Instr, NO_SHIFT, Queue, VecOp};
use nmsat_dataflow::program::{Program, RegionKind, Tag};
use nmsat_dataflow::schedule::NO_WEIGHT_DECAY;
use nmsat_dataflow::workload::Pass;

/// A small deterministic generator (SplitMix64): no dependency, stable across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

/// Bytes of the DRAM region every random program addresses.
pub const DRAM_BYTES: u64 = 1 << 16;

/// What a set of programs exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// `load`/`store` × buffer × format, e.g. `load w nm_row`.
    pub dma: BTreeSet<String>,
    /// GEMM modes (`dense`, `2:8`, …).
    pub gemm_modes: BTreeSet<String>,
    /// Vector ops.
    pub vec_ops: BTreeSet<String>,
    /// Sparsify patterns and axes, e.g. `2:4 axis 1`.
    pub sparsify: BTreeSet<String>,
    /// Token FIFOs used (`push`/`pop` × queue × prev/next).
    pub tokens: BTreeSet<String>,
    /// Other features: `acc`, `il`, `sync`, `requant store`, `relu store`.
    pub features: BTreeSet<String>,
}

impl Coverage {
    /// Adds what `p` exercises.
    pub fn add(&mut self, p: &Program) {
        for i in &p.instrs {
            let fmt = |f: DmaFormat| match f {
                DmaFormat::I16 => "i16",
                DmaFormat::I32 => "i32",
                DmaFormat::NmRow => "nm_row",
                DmaFormat::NmValues => "nm_values",
                DmaFormat::NmIndices => "nm_indices",
            };
            match *i {
                Instr::Load { buf, fmt: f, .. } => {
                    self.dma.insert(format!("load {} {}", buf.name(), fmt(f)));
                }
                Instr::Load2col { geom, rows, cols, p0, k0, .. } => {
                    self.features.insert("load2col".into());
                    let pad = (u64::from(p0)..u64::from(p0) + u64::from(rows)).any(|px| {
                        (u64::from(k0)..u64::from(k0) + u64::from(cols)).any(|c| geom.element(px, c).is_none())
                    });
                    if pad {
                        self.features.insert("load2col padding".into());
                    }
                    if geom.dil > 1 {
                        self.features.insert("load2col dilated".into());
                    }
                    let w = geom.line_window(u64::from(p0), u64::from(rows), u64::from(k0), u64::from(cols));
                    if w.rows > 0 && w.chans < w.ic {
                        self.features.insert("load2col channel slice".into());
                    }
                }
                Instr::Store { buf, fmt: f, shift, relu, .. } => {
                    self.dma.insert(format!("store {} {}", buf.name(), fmt(f)));
                    if buf == Buf::O && f == DmaFormat::I16 {
                        self.features.insert("requant store".into());
                        if relu {
                            self.features.insert("relu store".into());
                        }
                        if shift < 0 {
                            self.features.insert("negative shift store".into());
                        }
                    }
                }
                Instr::Gemm { mode, acc, il, at, wt, ws, .. } => {
                    self.gemm_modes.insert(mode.to_string());
                    let ws_nm = ws && mode != GemmMode::Dense;
                    for (on, f) in [
                        (acc, "acc"),
                        (il, "il"),
                        (at, "gemm at"),
                        (wt, "gemm wt"),
                        (ws, "gemm ws"),
                        (ws_nm, "gemm ws n:m"),
                    ] {
                        if on {
                            self.features.insert(f.into());
                        }
                    }
                }
                Instr::Vec { op, p5, .. } => {
                    self.vec_ops.insert(op.name().into());
                    if op == VecOp::Sgd && p5 != NO_SHIFT {
                        self.features.insert("sgd sr-ste".into());
                    }
                }
                Instr::Sparsify { pattern, axis, master, mask_out, .. } => {
                    self.sparsify.insert(format!("{pattern} axis {axis}"));
                    if master {
                        self.features.insert("sparsify master".into());
                    }
                    if mask_out {
                        self.features.insert("sparsify mask".into());
                    }
                }
                Instr::Sync { .. } => {
                    self.features.insert("sync".into());
                }
                Instr::Halt { .. } => {}
            }
            let d = i.deps();
            let q = i.queue().name();
            for (on, what) in [
                (d.pop_prev, "pop_prev"),
                (d.pop_next, "pop_next"),
                (d.push_prev, "push_prev"),
                (d.push_next, "push_next"),
            ] {
                if on {
                    self.tokens.insert(format!("{q} {what}"));
                }
            }
        }
    }

    /// Everything a config's random programs should eventually exercise
    /// that `self` has not: the empty list means full coverage.
    pub fn missing(&self, arch: &ArchConfig) -> Vec<String> {
        let mut want = Vec::new();
        for (buf, fmts) in
            [("a", &["i16"][..]), ("w", &["i16", "nm_row", "nm_values", "nm_indices"][..]), ("o", &["i32"][..])]
        {
            for f in fmts {
                want.push(format!("load {buf} {f}"));
                want.push(format!("store {buf} {f}"));
            }
        }
        want.push("store o i16".into());
        let mut missing: Vec<String> = want.into_iter().filter(|w| !self.dma.contains(w)).collect();
        let mut modes = vec!["dense".to_string()];
        modes.extend(arch.sparsity.patterns.iter().map(|p| p.to_string()));
        for m in modes {
            if !self.gemm_modes.contains(&m) {
                missing.push(format!("gemm {m}"));
            }
        }
        for op in ["requant", "relu_bwd", "add", "sgd", "loss_grad", "clear"] {
            if !self.vec_ops.contains(op) {
                missing.push(format!("vec {op}"));
            }
        }
        for p in &arch.sparsity.patterns {
            for axis in 0..2 {
                let s = format!("{p} axis {axis}");
                if !self.sparsify.contains(&s) {
                    missing.push(format!("sparsify {s}"));
                }
            }
        }
        for t in [
            "load pop_next",
            "load push_next",
            "compute pop_prev",
            "compute pop_next",
            "compute push_prev",
            "compute push_next",
            "store pop_prev",
            "store push_prev",
        ] {
            if !self.tokens.contains(t) {
                missing.push(format!("token {t}"));
            }
        }
        for f in [
            "acc",
            "il",
            "gemm at",
            "gemm wt",
            "sparsify master",
            "sparsify mask",
            "sgd sr-ste",
            "sync",
            "requant store",
            "relu store",
        ] {
            if !self.features.contains(f) {
                missing.push(f.to_string());
            }
        }
        if self.want_ws(arch) {
            for f in ["gemm ws", "gemm ws n:m"] {
                if !self.features.contains(f) {
                    missing.push(f.to_string());
                }
            }
        }
        let mut gathers = vec!["load2col", "load2col padding", "load2col dilated"];
        if arch.dram.im2col == Im2col::LineBuffer {
            gathers.push("load2col channel slice");
        }
        for f in gathers {
            if !self.features.contains(f) {
                missing.push(f.to_string());
            }
        }
        missing
    }
}

impl Coverage {
    /// Whether `arch`'s random programs draw weight-stationary GEMMs.
    fn want_ws(&self, arch: &ArchConfig) -> bool {
        arch.pe_array.dataflows.contains(&Stationarity::Ws) && arch.pe_array.dataflows.contains(&Stationarity::Os)
    }
}

/// Instruction features beyond the base set that random programs may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `vec sgd` with SR-STE's pruned mask (`mask`, `p5`).
    pub sr_ste: bool,
    /// `sparsify` from master weights and to a pruned mask.
    pub sparsify_modes: bool,
    /// `load2col`, the DMA engine's im2col gather.
    pub gather: bool,
    /// Weight-stationary GEMMs (`ws`), where the config lists `"ws"`.
    pub ws: bool,
}

impl Features {
    /// Every feature of the ISA: what the Rust simulator and the generated RTL implement.
    pub const ALL: Features = Features { sr_ste: true, sparsify_modes: true, gather: true, ws: true };
    /// The base set, without SR-STE's mask and the sparsify modes.
    pub const BASE: Features = Features { sr_ste: false, sparsify_modes: false, gather: false, ws: false };
}

/// A seeded random program of `len` instructions (plus the final `halt`) for
/// `arch`, with a seeded random memory image (see the module docs), using
/// every feature ([`Features::ALL`]).
pub fn random_program(arch: &ArchConfig, seed: u64, len: usize) -> Program {
    random_program_with(arch, seed, len, Features::ALL)
}

/// A seeded random program that uses `features` beyond the base set.
pub fn random_program_with(arch: &ArchConfig, seed: u64, len: usize, features: Features) -> Program {
    let mut g = Gen {
        arch,
        rng: Rng::new(seed),
        features,
        wbound: vec![1; capacity(arch, Buf::W) as usize],
        recent: Default::default(),
        computed: Default::default(),
    };
    let mut p = Program::new(arch.clone());
    let base = p.alloc("scratch", RegionKind::Activation, DRAM_BYTES);
    let mut image = Rng::new(seed ^ 0x1111_2222_3333_4444);
    let bytes: Vec<u8> = (0..DRAM_BYTES).map(|_| image.next_u64() as u8).collect();
    p.image.push((base, bytes));
    let layers = [p.layer_index("l0"), p.layer_index("l1")];
    let mut o = Ordering::default();
    while p.instrs.len() < len {
        // Draw an instruction and the token-only helpers (`sync`s and
        // zero-row transfers) that order it after every earlier instruction
        // of another queue it conflicts with, until they fit the length.
        let room = len - p.instrs.len();
        let mut tries = 0;
        let (ord, instrs) = loop {
            tries += 1;
            let instr = if tries <= MAX_TRIES { g.instr() } else { Instr::Sync { deps: Deps::default() } };
            if !g.indices_fit(&instr) {
                continue;
            }
            let mut ord = o.clone();
            let instrs = ord.place(arch, instr, &mut g.rng);
            if instrs.len() <= room {
                break (ord, instrs);
            }
        };
        o = ord;
        for instr in instrs {
            g.written(&instr);
            let pass = Pass::ALL[g.rng.below(4) as usize];
            let n = p.instrs.len();
            p.push(instr, Tag { layer: layers[n % 2], pass });
        }
    }
    p.push(Instr::Halt { deps: Deps::default() }, Tag { layer: layers[0], pass: Pass::Wu });
    debug_assert!(check_program(&p, arch).is_empty(), "{:?}", check_program(&p, arch));
    p
}

/// Draws per instruction before falling back to a `sync`.
const MAX_TRIES: usize = 40;

/// Token FIFOs: load->compute, compute->load, compute->store, store->compute.
const LC: usize = 0;
const CL: usize = 1;
const CS: usize = 2;
const SC: usize = 3;

/// The FIFO from queue `from` to its neighbour `to`.
fn fifo(from: Queue, to: Queue) -> usize {
    match (from, to) {
        (Queue::Load, Queue::Compute) => LC,
        (Queue::Compute, Queue::Load) => CL,
        (Queue::Compute, Queue::Store) => CS,
        (Queue::Store, Queue::Compute) => SC,
        _ => unreachable!("{from:?} and {to:?} are not neighbours"),
    }
}

/// Sets the flag of `d` that pushes into (`push`) or pops from FIFO `f` in queue `q`.
fn set_flag(d: &mut Deps, q: Queue, f: usize, push: bool) {
    // For the load queue "next" is compute; for the store queue "prev" is compute.
    let towards_prev = match (q, push) {
        (Queue::Compute, true) => f == CL,
        (Queue::Compute, false) => f == LC,
        (Queue::Load, _) => false,
        (Queue::Store, _) => true,
    };
    match (push, towards_prev) {
        (true, true) => d.push_prev = true,
        (true, false) => d.push_next = true,
        (false, true) => d.pop_prev = true,
        (false, false) => d.pop_next = true,
    }
}

/// The FIFOs queue `q` pops with `pop_prev` and `pop_next`, and pushes with `push_prev` and `push_next`.
fn flags_fifos(q: Queue) -> ([Option<usize>; 2], [Option<usize>; 2]) {
    match q {
        Queue::Load => ([None, Some(CL)], [None, Some(LC)]),
        Queue::Compute => ([Some(LC), Some(SC)], [Some(CL), Some(CS)]),
        Queue::Store => ([Some(CS), None], [Some(SC), None]),
    }
}

/// A token-only instruction of queue `q` (no buffer or DRAM access).
fn helper(q: Queue, deps: Deps) -> Instr {
    let (buf, fmt, index_bits, dram, sram, rows, cols, stride) = (Buf::A, DmaFormat::I16, 0, 0, 0, 0, 0, 0);
    match q {
        Queue::Load => Instr::Load { deps, buf, fmt, index_bits, dram, sram, rows, cols, stride },
        Queue::Compute => Instr::Sync { deps },
        Queue::Store => {
            Instr::Store { deps, buf, fmt, index_bits, dram, sram, rows, cols, stride, shift: 0, relu: false }
        }
    }
}

/// An instruction already placed: queue, index in the queue, buffer ranges,
/// DRAM ranges and whether it writes them.
type Placed = (Queue, u32, Accesses, Vec<(u64, u64)>, bool);

/// Happens-before bookkeeping of the program so far: for each queue's last
/// instruction, how many instructions of each queue are known to have
/// retired when it issues (a vector clock), and the token FIFOs' pushers.
#[derive(Default, Clone)]
struct Ordering {
    /// Earlier instructions.
    hist: Vec<Placed>,
    /// Instructions per queue so far.
    count: [u32; 3],
    /// The vector clock of each queue's last instruction.
    last: [[u32; 3]; 3],
    /// Per FIFO: the clock its pushers guarantee (everything retired when
    /// the pusher retires), in push order.
    pushed: [Vec<[u32; 3]>; 4],
    /// Per FIFO: tokens popped so far.
    popped: [usize; 4],
}

/// DRAM byte ranges a DMA instruction touches (its extent) and whether it writes them.
fn dram_ranges(i: &Instr) -> (Vec<(u64, u64)>, bool) {
    match *i {
        Instr::Load { fmt, index_bits, dram, rows, cols, stride, .. }
        | Instr::Store { fmt, index_bits, dram, rows, cols, stride, .. } => {
            let row = fmt.row_bytes(u64::from(cols), u32::from(index_bits));
            let ext = if rows == 0 || row == 0 { 0 } else { (u64::from(rows) - 1) * stride + row };
            (vec![(dram, dram + ext)], matches!(i, Instr::Store { .. }))
        }
        Instr::Load2col { dram, rows, p0, geom: g, .. } => {
            let (p, q) = g.out_hw();
            let images = if rows == 0 || p * q == 0 { 0 } else { (u64::from(p0) + u64::from(rows) - 1) / (p * q) + 1 };
            (vec![(dram, dram + 2 * images * g.image_elems())], false)
        }
        _ => (Vec::new(), false),
    }
}

impl Ordering {
    /// Per queue: one past the last earlier instruction of another queue
    /// that `i` conflicts with (a common buffer element or DRAM byte, one
    /// of the two writing it).
    fn need(&self, arch: &ArchConfig, i: &Instr) -> [u32; 3] {
        let q = i.queue();
        let acc = accesses(i, arch);
        let (dram, dram_w) = dram_ranges(i);
        let mut need = [0u32; 3];
        for (hq, hi, hacc, hdram, hdram_w) in &self.hist {
            if *hq == q {
                continue;
            }
            let dram_conflict = (dram_w || *hdram_w)
                && dram.iter().any(|&(s, e)| hdram.iter().any(|&(hs, he)| s < he && hs < e && s < e && hs < he));
            if dram_conflict || acc.conflicts_with(hacc) || hacc.conflicts_with(&acc) {
                need[hq.index()] = need[hq.index()].max(hi + 1);
            }
        }
        need
    }

    /// Makes the next instruction of `to` able to learn that instruction
    /// `need - 1` of its neighbour `from` retired: returns the FIFO it must
    /// pop (`None`: it knows already), after appending helpers to `out`
    /// that drain older tokens (in `to`) or push a fresh one (in `from`).
    fn deliver(&mut self, arch: &ArchConfig, to: Queue, from: Queue, need: u32, out: &mut Vec<Instr>) -> Option<usize> {
        let f = fifo(from, to);
        loop {
            if self.last[to.index()][from.index()] >= need {
                return None;
            }
            match self.pushed[f].get(self.popped[f]) {
                Some(clock) if clock[from.index()] >= need => return Some(f),
                Some(_) => {
                    let mut d = Deps::default();
                    set_flag(&mut d, to, f, false);
                    self.emit(arch, helper(to, d), out);
                }
                None => {
                    let mut d = Deps::default();
                    set_flag(&mut d, from, f, true);
                    self.emit(arch, helper(from, d), out);
                }
            }
        }
    }

    /// Orders `i` after every conflicting earlier instruction of another
    /// queue; returns the helpers and `i` with its token flags (random extra
    /// pops and pushes besides the needed ones).
    fn place(&mut self, arch: &ArchConfig, mut i: Instr, r: &mut Rng) -> Vec<Instr> {
        let q = i.queue();
        let mut need = self.need(arch, &i);
        let mut out = Vec::new();
        // Load and store are not neighbours: a compute `sync` relays.
        let other = match q {
            Queue::Load => Some(Queue::Store),
            Queue::Store => Some(Queue::Load),
            Queue::Compute => None,
        };
        if let Some(o) = other {
            let n = need[o.index()];
            if self.last[q.index()][o.index()] < n {
                let mut d = Deps::default();
                if let Some(f) = self.deliver(arch, Queue::Compute, o, n, &mut out) {
                    set_flag(&mut d, Queue::Compute, f, false);
                }
                set_flag(&mut d, Queue::Compute, fifo(Queue::Compute, q), true);
                self.emit(arch, helper(Queue::Compute, d), &mut out);
                need[Queue::Compute.index()] = need[Queue::Compute.index()].max(self.count[Queue::Compute.index()]);
            }
        }
        let mut deps = Deps::default();
        let mut pops = Vec::new();
        for from in Queue::ALL {
            if from == q || Some(from) == other {
                continue;
            }
            if let Some(f) = self.deliver(arch, q, from, need[from.index()], &mut out) {
                pops.push(f);
            }
        }
        let (pop_fifos, push_fifos) = flags_fifos(q);
        for f in pop_fifos.into_iter().flatten() {
            let available = self.pushed[f].len() > self.popped[f];
            if pops.contains(&f) || (available && r.chance(1, 2)) {
                set_flag(&mut deps, q, f, false);
            }
        }
        for f in push_fifos.into_iter().flatten() {
            if r.chance(1, 4) {
                set_flag(&mut deps, q, f, true);
            }
        }
        *i.deps_mut() = deps;
        self.emit(arch, i, &mut out);
        out
    }

    /// Records `i` (its flags set) and appends it to `out`.
    fn emit(&mut self, arch: &ArchConfig, i: Instr, out: &mut Vec<Instr>) {
        let q = i.queue();
        let d = i.deps();
        let mut vc = self.last[q.index()];
        let (pop_fifos, push_fifos) = flags_fifos(q);
        for (on, f) in [d.pop_prev, d.pop_next].into_iter().zip(pop_fifos) {
            if let (true, Some(f)) = (on, f) {
                let clock = self.pushed[f][self.popped[f]];
                self.popped[f] += 1;
                for x in 0..3 {
                    vc[x] = vc[x].max(clock[x]);
                }
            }
        }
        let idx = self.count[q.index()];
        // When `i` retires, every earlier instruction of its queue has too.
        let mut at_retire = vc;
        at_retire[q.index()] = idx + 1;
        for (on, f) in [d.push_prev, d.push_next].into_iter().zip(push_fifos) {
            if let (true, Some(f)) = (on, f) {
                self.pushed[f].push(at_retire);
            }
        }
        self.last[q.index()] = vc;
        self.count[q.index()] += 1;
        let (dram, dram_w) = dram_ranges(&i);
        self.hist.push((q, idx, accesses(&i, arch), dram, dram_w));
        out.push(i);
    }
}

struct Gen<'a> {
    arch: &'a ArchConfig,
    rng: Rng,
    features: Features,
    /// Per weight-buffer element: an exclusive bound of its in-group index
    /// (1 after a dense load, `2^ib` after a compressed one, `M` after a sparsify).
    wbound: Vec<u8>,
    /// Per buffer (A, W, O): the starts of the last ranges written, which
    /// reads often pick so that data flows from loads through the units to stores.
    recent: [Vec<u32>; 3],
    /// The same for ranges the compute units wrote (what stores prefer).
    computed: [Vec<u32>; 3],
}

impl Gen<'_> {
    /// An N:M GEMM reads only indices below its `M` (compressed weights
    /// never hold others; `sim::datapath` would index past the group).
    fn indices_fit(&self, i: &Instr) -> bool {
        let Instr::Gemm { mode: GemmMode::Nm(p), n, k, w, .. } = *i else { return true };
        let len = (u64::from(k) * u64::from(p.n()) / u64::from(p.m()) * u64::from(n)) as usize;
        self.wbound[w as usize..w as usize + len].iter().all(|&b| u32::from(b) <= p.m())
    }

    /// Updates the recent writes and the index bounds after `i`.
    fn written(&mut self, i: &Instr) {
        let compute = i.queue() == Queue::Compute;
        for &r in accesses(i, self.arch).writes.iter() {
            if r.end > r.start {
                for (on, v) in [(true, &mut self.recent[r.buf as usize]), (compute, &mut self.computed[r.buf as usize])]
                {
                    if on {
                        v.push(r.start as u32);
                        if v.len() > 4 {
                            v.remove(0);
                        }
                    }
                }
            }
        }
        let (start, len, bound) = match *i {
            Instr::Load { buf: Buf::W, fmt, index_bits, sram, rows, cols, .. } => {
                let bound = if matches!(fmt, DmaFormat::NmRow | DmaFormat::NmIndices) { 1u8 << index_bits } else { 1 };
                (sram, u64::from(rows) * u64::from(cols), bound)
            }
            Instr::Sparsify { pattern, rows, cols, dst, .. } => {
                let len = u64::from(rows) * u64::from(cols) * u64::from(pattern.n()) / u64::from(pattern.m());
                (dst, len, pattern.m() as u8)
            }
            _ => return,
        };
        self.wbound[start as usize..(u64::from(start) + len) as usize].fill(bound);
    }

    /// A start address for `len` elements of `buf`: often a hot address (hazards), else anywhere.
    fn addr(&mut self, buf: Buf, len: u64) -> u32 {
        let cap = capacity(self.arch, buf);
        let room = cap.saturating_sub(len);
        let a =
            if self.rng.chance(2, 3) { self.rng.pick(&[0, 16, 64, 256]).min(room) } else { self.rng.range(0, room) };
        a as u32
    }

    /// A start for reading `len` elements of `buf`: half the time where a
    /// recent write started (when it fits), else as [`Gen::addr`].
    fn src(&mut self, buf: Buf, len: u64) -> u32 {
        let room = capacity(self.arch, buf).saturating_sub(len);
        let v = &self.recent[buf as usize];
        if !v.is_empty() && self.rng.chance(1, 2) {
            let a = v[self.rng.below(v.len() as u64) as usize];
            if u64::from(a) <= room {
                return a;
            }
        }
        self.addr(buf, len)
    }

    fn pattern(&mut self) -> Option<NmPattern> {
        let pats = &self.arch.sparsity.patterns;
        if pats.is_empty() { None } else { Some(pats[self.rng.below(pats.len() as u64) as usize]) }
    }

    /// A DRAM address for a transfer: often one of a few hot addresses, so
    /// that loads read back what stores wrote.
    fn dram(&mut self, rows: u64, stride: u64, row_bytes: u64) -> u64 {
        let extent = if rows == 0 { 0 } else { (rows - 1) * stride + row_bytes };
        let room = DRAM_BYTES - extent.min(DRAM_BYTES);
        if self.rng.chance(1, 2) { self.rng.pick(&[0, 1000, 4096, 9000]).min(room) } else { self.rng.range(0, room) }
    }

    fn dma(&mut self, store: bool) -> Instr {
        let r = &mut self.rng;
        // (buffer, format) choices valid for the direction.
        let mut choices = vec![
            (Buf::A, DmaFormat::I16),
            (Buf::W, DmaFormat::I16),
            (Buf::W, DmaFormat::NmRow),
            (Buf::W, DmaFormat::NmValues),
            (Buf::W, DmaFormat::NmIndices),
            (Buf::O, DmaFormat::I32),
        ];
        if store {
            choices.push((Buf::O, DmaFormat::I16));
        }
        let (mut buf, mut fmt) = r.pick(&choices);
        // Stores mostly carry what a unit computed.
        let computed: Vec<Buf> = Buf::ALL.into_iter().filter(|b| !self.computed[*b as usize].is_empty()).collect();
        let mut from = None;
        if store && !computed.is_empty() && r.chance(3, 4) {
            buf = r.pick(&computed);
            fmt = r.pick(&choices.iter().filter(|c| c.0 == buf).map(|c| c.1).collect::<Vec<_>>());
            let v = &self.computed[buf as usize];
            from = Some(v[r.below(v.len() as u64) as usize]);
        }
        let index_bits = if fmt.is_nm() { r.range(1, 4) as u8 } else { 0 };
        let rows = r.range(1, 8);
        let cols = if fmt == DmaFormat::NmRow && r.chance(1, 2) { 16 * r.range(1, 3) } else { r.range(1, 48) };
        let row_bytes = fmt.row_bytes(cols, u32::from(index_bits));
        let stride = row_bytes + r.pick(&[0, 0, 4, 64]);
        let dram = self.dram(rows, stride, row_bytes);
        let room = capacity(self.arch, buf).saturating_sub(rows * cols);
        let sram = match from {
            Some(a) if u64::from(a) <= room => a,
            _ if store => self.src(buf, rows * cols),
            _ => self.addr(buf, rows * cols),
        };
        let (rows, cols) = (rows as u32, cols as u32);
        let deps = Deps::default();
        if store {
            let r = &mut self.rng;
            Instr::Store {
                deps,
                buf,
                fmt,
                index_bits,
                dram,
                sram,
                rows,
                cols,
                stride,
                shift: r.range(0, 20) as i8 - 4,
                relu: r.chance(1, 2),
            }
        } else {
            Instr::Load { deps, buf, fmt, index_bits, dram, sram, rows, cols, stride }
        }
    }

    /// A start for `len` elements of `buf` that, against each `(start, len)`
    /// of `others`, is the same range or a disjoint one (a vector op's
    /// written range and its other ranges of the same buffer).
    fn apart(&mut self, buf: Buf, len: u64, others: &[(u32, u64)]) -> u32 {
        let fits = |c: u32| {
            others.iter().all(|&(o, ol)| {
                (c == o && len == ol) || u64::from(c) + len <= u64::from(o) || u64::from(o) + ol <= u64::from(c)
            })
        };
        for _ in 0..30 {
            let c = match others.iter().find(|&&(_, ol)| ol == len) {
                Some(&(o, _)) if self.rng.chance(1, 3) => o,
                _ => self.addr(buf, len),
            };
            if fits(c) {
                return c;
            }
        }
        // Disjoint from everything: past the furthest other range, when it fits.
        let end = others.iter().map(|&(o, ol)| u64::from(o) + ol).max().unwrap_or(0);
        if end + len <= capacity(self.arch, buf) {
            return end as u32;
        }
        others.iter().find(|&&(_, ol)| ol == len).map_or(0, |&(o, _)| o)
    }

    fn gemm(&mut self) -> Instr {
        let pe = &self.arch.pe_array;
        let (rows, cols, lanes) = (u64::from(pe.rows), u64::from(pe.cols), u64::from(pe.lanes));
        let mode = if self.rng.chance(1, 3) { None } else { self.pattern() };
        let r = &mut self.rng;
        let m = r.range(1, 2 * rows + 1);
        let n = r.range(1, 2 * cols + 1);
        let k = match mode {
            None => r.range(1, 4 * lanes),
            Some(p) => u64::from(p.m()) * r.range(1, 2 * lanes / u64::from(p.n()).max(1)),
        };
        // `at`: A is stored k x m (the WG pass's X^T); `wt`: W is n x k (dense BP).
        let at = r.chance(1, 4);
        let wt = mode.is_none() && r.chance(1, 4);
        let a_stride = if at { m } else { k } + r.pick(&[0, 0, 3, 16]);
        let a_ext = if at { (k - 1) * a_stride + m } else { (m - 1) * a_stride + k };
        let k_eff = mode.map_or(k, |p| k * u64::from(p.n()) / u64::from(p.m()));
        let (acc, il) = (r.chance(1, 2), r.chance(1, 3));
        let flows = &self.arch.pe_array.dataflows;
        let ws = !at && flows.contains(&Stationarity::Ws) && (self.features.ws || !flows.contains(&Stationarity::Os));
        let ws = ws && (!flows.contains(&Stationarity::Os) || r.chance(1, 2));
        let a = self.src(Buf::A, a_ext);
        let w = self.src(Buf::W, k_eff * n);
        let o = if acc { self.src(Buf::O, m * n) } else { self.addr(Buf::O, m * n) };
        Instr::Gemm {
            deps: Deps::default(),
            mode: mode.map_or(GemmMode::Dense, GemmMode::Nm),
            acc,
            il,
            at,
            wt,
            m: m as u32,
            n: n as u32,
            k: k as u32,
            a,
            a_stride: a_stride as u32,
            w,
            o,
            ws,
        }
    }

    fn vec(&mut self) -> Instr {
        let op =
            self.rng.pick(&[VecOp::Requant, VecOp::ReluBwd, VecOp::Add, VecOp::Sgd, VecOp::LossGrad, VecOp::Clear]);
        let r = &mut self.rng;
        let (len, classes) = if op == VecOp::LossGrad {
            let classes = r.range(1, 12);
            (classes * r.range(1, 6), classes)
        } else {
            (r.range(1, 64), 1)
        };
        // Parameters inside the domain of `numerics` (shifts below 64, the
        // loss gradient's grad_frac at most 15).
        let (shift, mut p1, mut p2, mut p3, mut p4) = (r.range(0, 12) as i8, 0u8, 0u8, 0u8, 0u8);
        match op {
            VecOp::Requant => p1 = r.below(2) as u8,
            VecOp::Sgd => {
                p1 = r.range(0, 12) as u8;
                p2 = r.range(0, 8) as u8;
                p3 = r.range(0, 16) as u8;
                p4 = if r.chance(1, 2) { NO_WEIGHT_DECAY } else { r.range(0, 16) as u8 };
            }
            VecOp::LossGrad => {
                p1 = r.range(0, 15) as u8;
                p2 = r.range(0, 15) as u8;
            }
            _ => {}
        }
        let (src, src2, dst, aux) = match op {
            VecOp::Requant => (self.src(Buf::O, len), 0, self.addr(Buf::A, len), 0),
            VecOp::ReluBwd => {
                let src = self.src(Buf::O, len);
                (src, self.src(Buf::A, len), self.apart(Buf::O, len, &[(src, len)]), 0)
            }
            VecOp::Add => {
                let (src, src2) = (self.src(Buf::A, len), self.src(Buf::A, len));
                (src, src2, self.apart(Buf::A, len, &[(src, len), (src2, len)]), 0)
            }
            VecOp::Sgd => {
                let src = self.src(Buf::O, len);
                let src2 = self.apart(Buf::O, len, &[(src, len)]);
                let dst = self.apart(Buf::O, len, &[(src, len), (src2, len)]);
                (src, src2, dst, self.addr(Buf::A, len))
            }
            VecOp::LossGrad => {
                let rows = len / classes;
                let (src, src2) = (self.src(Buf::A, len), self.src(Buf::A, rows));
                (src, src2, self.apart(Buf::A, len, &[(src, len), (src2, rows)]), classes as u32)
            }
            VecOp::Clear => (0, 0, self.addr(Buf::O, len), 0),
        };
        // SR-STE's pruned flags on half of the SGDs (read before aux is written:
        // the same range or a disjoint one).
        let (mask, p5) = if op == VecOp::Sgd && self.features.sr_ste && self.rng.chance(1, 2) {
            let s = self.rng.range(0, 20) as u8;
            (self.apart(Buf::A, len, &[(aux, len)]), s)
        } else {
            (0, NO_SHIFT)
        };
        Instr::Vec { deps: Deps::default(), op, len: len as u32, src, src2, dst, aux, shift, p1, p2, p3, p4, mask, p5 }
    }

    fn sparsify(&mut self) -> Instr {
        let Some(p) = self.pattern() else { return Instr::Sync { deps: Deps::default() } };
        let r = &mut self.rng;
        let axis = r.below(2) as u8;
        let mm = u64::from(p.m());
        let (rows, cols) =
            if axis == 0 { (mm * r.range(1, 3), r.range(1, 12)) } else { (r.range(1, 12), mm * r.range(1, 3)) };
        let (master, mask_out) =
            if self.features.sparsify_modes { (r.chance(1, 3), r.chance(1, 4)) } else { (false, false) };
        let n = rows * cols;
        let src = self.src(if master { Buf::O } else { Buf::A }, n);
        // The pruned mask goes to A: the same range as an A source, or a disjoint one.
        let dst = match (mask_out, master) {
            (true, false) => self.apart(Buf::A, n, &[(src, n)]),
            (true, true) => self.addr(Buf::A, n),
            (false, _) => self.addr(Buf::W, n * u64::from(p.n()) / mm),
        };
        Instr::Sparsify {
            deps: Deps::default(),
            pattern: p,
            axis,
            master,
            mask_out,
            rows: rows as u32,
            cols: cols as u32,
            src,
            dst,
        }
    }

    fn instr(&mut self) -> Instr {
        match self.rng.below(16) {
            0..=2 if self.features.gather && self.rng.chance(1, 4) => self.gather(),
            0..=2 => self.dma(false),
            3..=5 => self.dma(true),
            6..=9 => self.gemm(),
            10..=12 => self.vec(),
            13..=14 => self.sparsify(),
            _ => Instr::Sync { deps: Deps::default() },
        }
    }
}

mod gather;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_program_and_checks_pass() {
        for name in ["tiny", "sat-mid", "sat-vu9p"] {
            let a = ArchConfig::preset(name).unwrap();
            for seed in 0..20 {
                let p = random_program(&a, seed, 60);
                assert_eq!(p, random_program(&a, seed, 60));
                assert_eq!(check_program(&p, &a), vec![], "{name} seed {seed}");
            }
            assert_ne!(random_program(&a, 1, 30).instrs, random_program(&a, 2, 30).instrs);
        }
    }

    /// Race-free: executing at issue (the simulator's order, which the
    /// concurrent timing decides) ends in the state of executing the
    /// program in program order, on every preset, for cycle and fast mode.
    #[test]
    fn issue_order_equals_program_order() {
        use crate::datapath::Machine;
        use crate::{SimMode, SimOptions, simulate};
        for name in ["tiny", "sat-mid", "sat-vu9p"] {
            let a = ArchConfig::preset(name).unwrap();
            for seed in 0..12 {
                let p = random_program(&a, seed, 80);
                let mut seq = Machine::new(&p, &a);
                for i in &p.instrs {
                    seq.execute(i);
                }
                for mode in [SimMode::Cycle, SimMode::Fast] {
                    let r = simulate(&p, &a, mode, SimOptions { data: true, ..SimOptions::default() }).unwrap();
                    let m = r.machine.unwrap();
                    assert!(m == seq, "{name} seed {seed} {mode:?}: issue order and program order end differently");
                }
                assert_ne!(seq.dram, Machine::new(&p, &a).dram, "{name} seed {seed}: the stores wrote nothing");
            }
        }
    }

    #[test]
    fn twenty_programs_cover_everything() {
        for name in ["tiny", "sat-mid"] {
            let a = ArchConfig::preset(name).unwrap();
            let mut c = Coverage::default();
            for seed in 0..20 {
                c.add(&random_program(&a, seed, 60));
            }
            assert_eq!(c.missing(&a), Vec::<String>::new(), "{name}");
        }
    }
}
