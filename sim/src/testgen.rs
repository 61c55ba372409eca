//! Seeded random SAT programs for differential testing (fast vs cycle mode,
//! RTL vs the Rust simulator).
//!
//! [`random_program`] draws a program of a given length for a config from a
//! seed; the same seed and config always give the same program. Every
//! program passes [`check_program`]: shapes fit the buffers and the DRAM
//! region, N:M shapes have whole groups, formats suit their buffer. Its
//! dependency tokens are consistent with sequential execution (an
//! instruction pops a token only when an earlier one pushed it), so the
//! concurrent machine cannot deadlock. Operands often reuse a few hot
//! addresses so the range scoreboard sees read-after-write, write-after-read
//! and write-after-write hazards.
//!
//! The instruction mix covers every DMA format in both directions (with
//! requantizing stores), dense GEMMs and every N:M pattern of the config,
//! accumulate and interleave flags (so mode switches drain the array or
//! not), all six vector ops, sparsify along both axes and `sync`;
//! [`Coverage`] reports what a program exercised.

use std::collections::BTreeSet;

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::check::{capacity, check_program};
use nmsat_dataflow::isa::{Buf, Deps, DmaFormat, GemmMode, Instr, NO_SHIFT, Queue, VecOp};
use nmsat_dataflow::program::{Program, RegionKind, Tag};
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
                Instr::Load2col { .. } => {
                    self.dma.insert("load2col a".into());
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
                Instr::Gemm { mode, acc, il, .. } => {
                    self.gemm_modes.insert(mode.to_string());
                    if acc {
                        self.features.insert("acc".into());
                    }
                    if il {
                        self.features.insert("il".into());
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
        for f in ["acc", "il", "sync", "requant store", "relu store"] {
            if !self.features.contains(f) {
                missing.push(f.to_string());
            }
        }
        missing
    }
}

/// Instruction features beyond the base set that random programs may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `vec sgd` with SR-STE's pruned mask (`mask`, `p5`).
    pub sr_ste: bool,
    /// `sparsify` from master weights and to a pruned mask.
    pub sparsify_modes: bool,
}

impl Features {
    /// Every feature of the ISA (the Rust simulator implements them all).
    pub const ALL: Features = Features { sr_ste: true, sparsify_modes: true };
    /// The base set, which the generated RTL implements today.
    pub const BASE: Features = Features { sr_ste: false, sparsify_modes: false };
}

/// A seeded random program of `len` instructions (plus the final `halt`) for
/// `arch`, from the base feature set ([`Features::BASE`]).
pub fn random_program(arch: &ArchConfig, seed: u64, len: usize) -> Program {
    random_program_with(arch, seed, len, Features::BASE)
}

/// A seeded random program that may also use `features`.
pub fn random_program_with(arch: &ArchConfig, seed: u64, len: usize, features: Features) -> Program {
    let mut g = Gen { arch, rng: Rng::new(seed), features };
    let mut p = Program::new(arch.clone());
    p.alloc("scratch", RegionKind::Activation, DRAM_BYTES);
    let layers = [p.layer_index("l0"), p.layer_index("l1")];
    // Sequential token counts: LC, CL, CS, SC.
    let mut tokens = [0u32; 4];
    for n in 0..len {
        let mut instr = g.instr();
        let q = instr.queue();
        let (pop_prev_f, pop_next_f, push_prev_f, push_next_f) = match q {
            Queue::Load => (None, Some(1), None, Some(0)),
            Queue::Compute => (Some(0), Some(3), Some(1), Some(2)),
            Queue::Store => (Some(2), None, Some(3), None),
        };
        let r = &mut g.rng;
        let d = instr.deps_mut();
        for (f, flag) in [(pop_prev_f, &mut d.pop_prev), (pop_next_f, &mut d.pop_next)] {
            if let Some(f) = f {
                if tokens[f] > 0 && r.chance(1, 2) {
                    tokens[f] -= 1;
                    *flag = true;
                }
            }
        }
        for (f, flag) in [(push_prev_f, &mut d.push_prev), (push_next_f, &mut d.push_next)] {
            if let Some(f) = f {
                if r.chance(1, 3) {
                    tokens[f] += 1;
                    *flag = true;
                }
            }
        }
        let pass = Pass::ALL[r.below(4) as usize];
        p.push(instr, Tag { layer: layers[n % 2], pass });
    }
    p.push(Instr::Halt { deps: Deps::default() }, Tag { layer: layers[0], pass: Pass::Wu });
    debug_assert!(check_program(&p, arch).is_empty(), "{:?}", check_program(&p, arch));
    p
}

struct Gen<'a> {
    arch: &'a ArchConfig,
    rng: Rng,
    features: Features,
}

impl Gen<'_> {
    /// A start address for `len` elements of `buf`: often a hot address (hazards), else anywhere.
    fn addr(&mut self, buf: Buf, len: u64) -> u32 {
        let cap = capacity(self.arch, buf);
        let room = cap.saturating_sub(len);
        let a =
            if self.rng.chance(1, 2) { self.rng.pick(&[0, 16, 64, 256]).min(room) } else { self.rng.range(0, room) };
        a as u32
    }

    fn pattern(&mut self) -> Option<NmPattern> {
        let pats = &self.arch.sparsity.patterns;
        if pats.is_empty() { None } else { Some(pats[self.rng.below(pats.len() as u64) as usize]) }
    }

    fn dram(&mut self, rows: u64, stride: u64, row_bytes: u64) -> u64 {
        let extent = if rows == 0 { 0 } else { (rows - 1) * stride + row_bytes };
        self.rng.range(0, DRAM_BYTES - extent.min(DRAM_BYTES))
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
        let (buf, fmt) = r.pick(&choices);
        let index_bits = if fmt.is_nm() { r.range(1, 4) as u8 } else { 0 };
        let rows = r.range(1, 8);
        let cols = if fmt == DmaFormat::NmRow { 16 * r.range(1, 3) } else { r.range(1, 48) };
        let row_bytes = fmt.row_bytes(cols, u32::from(index_bits));
        let stride = row_bytes + r.pick(&[0, 0, 4, 64]);
        let dram = self.dram(rows, stride, row_bytes);
        let sram = self.addr(buf, rows * cols);
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
        let a_stride = k + r.pick(&[0, 0, 3, 16]);
        let k_eff = mode.map_or(k, |p| k * u64::from(p.n()) / u64::from(p.m()));
        let (acc, il) = (r.chance(1, 2), r.chance(1, 3));
        let a = self.addr(Buf::A, (m - 1) * a_stride + k);
        let w = self.addr(Buf::W, k_eff * n);
        let o = self.addr(Buf::O, m * n);
        Instr::Gemm {
            deps: Deps::default(),
            mode: mode.map_or(GemmMode::Dense, GemmMode::Nm),
            acc,
            il,
            at: false,
            wt: false,
            m: m as u32,
            n: n as u32,
            k: k as u32,
            a,
            a_stride: a_stride as u32,
            w,
            o,
        }
    }

    fn vec(&mut self) -> Instr {
        let op =
            self.rng.pick(&[VecOp::Requant, VecOp::ReluBwd, VecOp::Add, VecOp::Sgd, VecOp::LossGrad, VecOp::Clear]);
        let r = &mut self.rng;
        let (len, aux_classes) = if op == VecOp::LossGrad {
            let classes = r.range(1, 10);
            (classes * r.range(1, 4), classes)
        } else {
            (r.range(1, 64), 0)
        };
        let (shift, p1, p2) = (r.range(0, 12) as i8, r.range(0, 8) as u8, r.range(0, 16) as u8);
        // Buffers of src, src2, dst and aux per op (access.rs).
        let (src_b, src2_b, dst_b) = match op {
            VecOp::Requant => (Buf::O, Buf::O, Buf::A),
            VecOp::ReluBwd => (Buf::O, Buf::A, Buf::O),
            VecOp::Add | VecOp::LossGrad => (Buf::A, Buf::A, Buf::A),
            VecOp::Sgd | VecOp::Clear => (Buf::O, Buf::O, Buf::O),
        };
        let src = self.addr(src_b, len);
        let src2 = self.addr(src2_b, len);
        let dst = self.addr(dst_b, len);
        let aux = if op == VecOp::LossGrad { aux_classes as u32 } else { self.addr(Buf::A, len) };
        // SR-STE's pruned flags on half of the SGDs.
        let (mask, p5) = if op == VecOp::Sgd && self.features.sr_ste && self.rng.chance(1, 2) {
            let s = self.rng.range(0, 20) as u8;
            (self.addr(Buf::A, len), s)
        } else {
            (0, NO_SHIFT)
        };
        Instr::Vec {
            deps: Deps::default(),
            op,
            len: len as u32,
            src,
            src2,
            dst,
            aux,
            shift,
            p1,
            p2,
            p3: 0,
            p4: 0,
            mask,
            p5,
        }
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
        let src = self.addr(if master { Buf::O } else { Buf::A }, n);
        let dst = if mask_out { self.addr(Buf::A, n) } else { self.addr(Buf::W, n * u64::from(p.n()) / mm) };
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
            0..=3 => self.dma(false),
            4..=5 => self.dma(true),
            6..=9 => self.gemm(),
            10..=12 => self.vec(),
            13..=14 => self.sparsify(),
            _ => Instr::Sync { deps: Deps::default() },
        }
    }
}

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
