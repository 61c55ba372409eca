//! The PE array, the vector unit and the sparsifier compute what the data
//! semantics say (docs/sat-microarchitecture.md, "Data semantics"): random
//! sequences of dense and N:M GEMMs (with and without accumulation, with
//! transposed operands, with `k = 0`), every vector op and `sparsify` on
//! both axes (from int16 or master weights) run on the Verilated RTL from
//! random buffer contents, and the final buffers equal a sequential
//! reference computed here with `dataflow::numerics`. (The DMA datapath is
//! checked through DRAM images in `cosim.rs`.)

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::check::{capacity, check_program};
use nmsat_dataflow::isa::{Buf, Deps, GemmMode, Instr, NO_SHIFT, VecOp};
use nmsat_dataflow::numerics::{self, SgdShifts};
use nmsat_dataflow::program::{Program, RegionKind, Tag};
use nmsat_dataflow::schedule::NO_WEIGHT_DECAY;
use nmsat_dataflow::workload::Pass;
use nmsat_rtl::cosim::{RunOptions, cosim_program, model_for};
use nmsat_sim::testgen::Rng;

const ACC_MASK: u64 = (1 << 48) - 1;

fn sext16(v: u64) -> i64 {
    i64::from(v as u16 as i16)
}

fn sext48(v: u64) -> i64 {
    ((v << 16) as i64) >> 16
}

fn acc48(v: i64) -> u64 {
    v as u64 & ACC_MASK
}

/// Sequential reference of the data semantics on 48-bit accumulators.
fn reference(p: &Program, bufs: &mut [Vec<u64>; 3]) {
    for i in &p.instrs {
        if let Instr::Sparsify { pattern, axis, master, mask_out, rows, cols, src, dst, .. } = *i {
            let (nn, mm) = (pattern.n() as usize, pattern.m() as usize);
            let (rows, cols, src, dst) = (rows as usize, cols as usize, src as usize, dst as usize);
            // (line, group) -> element addresses and output address of kept value j.
            let (lines, groups) = if axis == 0 { (cols, rows / mm) } else { (rows, cols / mm) };
            for line in 0..lines {
                for g in 0..groups {
                    let at = |x: usize| {
                        if axis == 0 { src + (g * mm + x) * cols + line } else { src + line * cols + g * mm + x }
                    };
                    // Select on the int16 weight, or on the master weight saturated to 32 bits.
                    let key = |x: usize| {
                        if master {
                            i64::from(numerics::saturate_i32(sext48(bufs[2][at(x)])))
                        } else {
                            sext16(bufs[0][at(x)])
                        }
                    };
                    let val = |x: usize| {
                        if master {
                            numerics::weight_from_master(numerics::saturate_i32(sext48(bufs[2][at(x)]))) as u16 as u64
                        } else {
                            bufs[0][at(x)]
                        }
                    };
                    let mag = |x: usize| key(x).unsigned_abs();
                    let mut order: Vec<usize> = (0..mm).collect();
                    order.sort_by(|&x, &y| mag(y).cmp(&mag(x)).then(x.cmp(&y)));
                    let mut kept: Vec<usize> = order[..nn].to_vec();
                    kept.sort();
                    if mask_out {
                        // The dense pruned mask, at the group's own positions from dst.
                        for x in 0..mm {
                            let at_dst = at(x) - src + dst;
                            bufs[0][at_dst] = u64::from(!kept.contains(&x));
                        }
                        continue;
                    }
                    let outs: Vec<(usize, u64)> = kept
                        .iter()
                        .enumerate()
                        .map(|(j, &x)| {
                            let out = if axis == 0 {
                                dst + (g * nn + j) * cols + line
                            } else {
                                dst + (g * nn + j) * rows + line
                            };
                            (out, (x as u64) << 16 | val(x))
                        })
                        .collect();
                    for (out, v) in outs {
                        bufs[1][out] = v;
                    }
                }
            }
            continue;
        }
        if let Instr::Vec { op: VecOp::LossGrad, len, src, src2, dst, aux, p1, p2, .. } = *i {
            let c = aux as usize;
            for r in 0..len as usize / c {
                let z: Vec<i16> = (0..c).map(|x| bufs[0][src as usize + r * c + x] as u16 as i16).collect();
                let label = (sext16(bufs[0][src2 as usize + r]).max(0) as usize).min(c - 1);
                let g = numerics::softmax_xent_grad(&z, label, u32::from(p1), u32::from(p2));
                for (x, v) in g.into_iter().enumerate() {
                    bufs[0][dst as usize + r * c + x] = v as u16 as u64;
                }
            }
            continue;
        }
        if let Instr::Vec { op, len, src, src2, dst, aux, shift, p1, p2, p3, p4, mask, p5, .. } = *i {
            for e in 0..len as usize {
                let (s1, s2, d) = (src as usize + e, src2 as usize + e, dst as usize + e);
                match op {
                    VecOp::ReluBwd => bufs[2][d] = if sext16(bufs[0][s2]) > 0 { bufs[2][s1] } else { 0 },
                    VecOp::Add => {
                        let v = (sext16(bufs[0][s1]) + sext16(bufs[0][s2])).clamp(-32768, 32767);
                        bufs[0][d] = v as u16 as u64;
                    }
                    VecOp::Clear => bufs[2][d] = 0,
                    VecOp::Requant => {
                        let q = numerics::requantize(sext48(bufs[2][s1]), shift.max(0) as u32);
                        bufs[0][d] = (if p1 != 0 { numerics::relu(q) } else { q }) as u16 as u64;
                    }
                    VecOp::Sgd => {
                        let shifts = SgdShifts {
                            grad_align: u32::from(p3),
                            lr_shift: u32::from(p1),
                            momentum_shift: (p2 != 0).then_some(u32::from(p2)),
                            weight_decay_shift: (p4 != NO_WEIGHT_DECAY).then_some(u32::from(p4)),
                            sr_ste_shift: (p5 != NO_SHIFT).then_some(u32::from(p5)),
                        };
                        let pruned = p5 != NO_SHIFT && bufs[0][mask as usize + e] != 0;
                        let dw = numerics::requantize(sext48(bufs[2][s1]), shift.max(0) as u32);
                        let wv = numerics::saturate_i32(sext48(bufs[2][d]));
                        let vv = numerics::saturate_i32(sext48(bufs[2][s2]));
                        let (nw, nv) = numerics::sgd_update(wv, vv, dw, pruned, &shifts);
                        bufs[2][d] = acc48(i64::from(nw));
                        bufs[2][s2] = acc48(i64::from(nv));
                        bufs[0][aux as usize + e] = numerics::weight_from_master(nw) as u16 as u64;
                    }
                    VecOp::LossGrad => unreachable!("handled above"),
                }
            }
            continue;
        }
        let Instr::Gemm { mode, acc, at, wt, m, n, k, a, a_stride, w, o, .. } = *i else { continue };
        let (m, n, k, a, s, w, o) =
            (m as usize, n as usize, k as usize, a as usize, a_stride as usize, w as usize, o as usize);
        let k_eff = match mode {
            GemmMode::Dense => k,
            GemmMode::Nm(p) => k * p.n() as usize / p.m() as usize,
        };
        // A is m x k (row stride s), or k x m when transposed; W is k_eff x n, or n x k when transposed.
        let a_at = |r: usize, kk: usize| if at { a + kk * s + r } else { a + r * s + kk };
        for r in 0..m {
            for c in 0..n {
                let mut sum: i64 = 0;
                for rho in 0..k_eff {
                    let wv = if wt { bufs[1][w + c * k + rho] } else { bufs[1][w + rho * n + c] };
                    let act = match mode {
                        GemmMode::Dense => bufs[0][a_at(r, rho)],
                        GemmMode::Nm(p) => {
                            let idx = (wv >> 16) as usize & (p.m() as usize - 1);
                            bufs[0][a_at(r, rho / p.n() as usize * p.m() as usize + idx)]
                        }
                    };
                    sum = sum.wrapping_add(sext16(act) * sext16(wv & 0xffff));
                }
                let old = if acc { bufs[2][o + r * n + c] } else { 0 };
                bufs[2][o + r * n + c] = old.wrapping_add(sum as u64) & ACC_MASK;
            }
        }
    }
}

fn gemm_program(arch: &ArchConfig, rng: &mut Rng, count: usize) -> Program {
    let mut p = Program::new(arch.clone());
    p.alloc("x", RegionKind::Activation, 64);
    let pe = &arch.pe_array;
    let pats = &arch.sparsity.patterns;
    for _ in 0..count {
        if rng.chance(1, 4) {
            let pattern = pats[rng.below(pats.len() as u64) as usize];
            let axis = rng.below(2) as u8;
            let mm = u64::from(pattern.m());
            let (rows, cols) = if axis == 0 {
                (mm * rng.range(1, 3), rng.range(1, 9))
            } else {
                (rng.range(1, 9), mm * rng.range(1, 3))
            };
            let (master, mask_out) = (rng.chance(1, 3), rng.chance(1, 4));
            let src = rng.below(capacity(arch, if master { Buf::O } else { Buf::A }) - rows * cols) as u32;
            // The pruned mask goes to A: over an A source or clear of it.
            let dst = match (mask_out, master) {
                (false, _) => rng.below(capacity(arch, Buf::W) - rows * cols) as u32,
                (true, false) if rng.chance(1, 2) => src,
                (true, false) => {
                    let n = (rows * cols) as u32;
                    if src >= n { rng.below(u64::from(src - n + 1)) as u32 } else { src + n }
                }
                (true, true) => rng.below(capacity(arch, Buf::A) - rows * cols) as u32,
            };
            let instr = Instr::Sparsify {
                deps: Deps::default(),
                pattern,
                axis,
                master,
                mask_out,
                rows: rows as u32,
                cols: cols as u32,
                src,
                dst,
            };
            p.push(instr, Tag { layer: 0, pass: Pass::Ff });
            continue;
        }
        if rng.chance(1, 3) {
            // Ranges in 64-element blocks are identical or disjoint.
            let op = rng.pick(&[VecOp::ReluBwd, VecOp::Add, VecOp::Clear, VecOp::Requant, VecOp::Sgd, VecOp::LossGrad]);
            let classes = rng.range(1, 13);
            let len = if op == VecOp::LossGrad { classes * rng.range(1, 64 / classes) } else { rng.range(1, 64) };
            // 64-element blocks: ranges are identical or disjoint.
            let mut at = |b: Buf| (64 * rng.below(capacity(arch, b) / 64 - 1)) as u32;
            let (src, src2, dst, aux) = match op {
                VecOp::ReluBwd => (at(Buf::O), at(Buf::A), at(Buf::O), 0),
                VecOp::Add => (at(Buf::A), at(Buf::A), at(Buf::A), 0),
                VecOp::Requant => (at(Buf::O), 0, at(Buf::A), 0),
                VecOp::Sgd => (at(Buf::O), at(Buf::O), at(Buf::O), at(Buf::A)),
                VecOp::LossGrad => (at(Buf::A), at(Buf::A), at(Buf::A), classes as u32),
                _ => (0, 0, at(Buf::O), 0),
            };
            let dst = if rng.chance(1, 4) && op != VecOp::Requant { src } else { dst };
            // Labels and gradients never share a block.
            let src2 = if op == VecOp::LossGrad && src2 == dst { dst ^ 64 } else { src2 };
            let (shift, mut p1, mut p2, mut p3, mut p4) = (rng.range(0, 20) as i8 - 2, 0u8, 0u8, 0u8, 0u8);
            match op {
                VecOp::Requant => p1 = rng.below(2) as u8,
                VecOp::Sgd => {
                    p1 = rng.range(0, 14) as u8;
                    p2 = rng.range(0, 8) as u8;
                    p3 = rng.range(0, 20) as u8;
                    p4 = if rng.chance(1, 2) { NO_WEIGHT_DECAY } else { rng.range(0, 40) as u8 };
                }
                VecOp::LossGrad => {
                    p1 = rng.range(0, 15) as u8;
                    p2 = rng.range(0, 15) as u8;
                }
                _ => {}
            }
            // SR-STE's pruned flags on half of the SGDs: the aux block or another one.
            let (mask, p5) = if op == VecOp::Sgd && rng.chance(1, 2) {
                let m = if rng.chance(1, 3) { aux } else { aux ^ 64 };
                (m, rng.range(0, 20) as u8)
            } else {
                (0, NO_SHIFT)
            };
            let instr = Instr::Vec {
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
                p3,
                p4,
                mask,
                p5,
            };
            p.push(instr, Tag { layer: 0, pass: Pass::Ff });
            continue;
        }
        let mode =
            if rng.chance(1, 3) { GemmMode::Dense } else { GemmMode::Nm(pats[rng.below(pats.len() as u64) as usize]) };
        let m = rng.range(1, 2 * u64::from(pe.rows) + 1);
        let n = rng.range(1, 2 * u64::from(pe.cols) + 1);
        let k = match mode {
            // k = 0 clears the tile (acc = 0) within what two cycles of the clear port reach.
            GemmMode::Dense if rng.chance(1, 8) && m * n <= 2 * u64::from(pe.rows * pe.cols) => 0,
            GemmMode::Dense => rng.range(1, 3 * u64::from(pe.lanes)),
            GemmMode::Nm(q) => u64::from(q.m()) * rng.range(1, 3 * u64::from(pe.lanes / q.n())),
        };
        let at = rng.chance(1, 3);
        let wt = mode == GemmMode::Dense && rng.chance(1, 2);
        // Weight-stationary (ADR 004) for about half the GEMMs with a plain
        // activation operand (from the shape: the draws stay as they were).
        let ws = !at && k > 0 && (m + n + k) % 2 == 0;
        let s = if at { m } else { k } + rng.below(5);
        let k_eff = match mode {
            GemmMode::Dense => k,
            GemmMode::Nm(q) => k * u64::from(q.n()) / u64::from(q.m()),
        };
        // Overlapping output tiles and accumulation exercise the in-order drain.
        let far = rng.below(capacity(arch, Buf::O) - m * n);
        let o = rng.pick(&[0u64, 3, far]);
        let a_ext = nmsat_dataflow::access::gemm_a_extent(m, k, s, at);
        let a = rng.below(capacity(arch, Buf::A) - a_ext);
        let w = rng.below(capacity(arch, Buf::W) - k_eff * n);
        p.push(
            Instr::Gemm {
                deps: Deps::default(),
                mode,
                acc: rng.chance(2, 3),
                il: rng.chance(1, 2),
                at,
                wt,
                m: m as u32,
                n: n as u32,
                k: k as u32,
                a: a as u32,
                a_stride: s as u32,
                w: w as u32,
                o: o as u32,
                ws,
            },
            Tag { layer: 0, pass: Pass::Ff },
        );
    }
    p.push(Instr::Halt { deps: Deps::default() }, Tag { layer: 0, pass: Pass::Ff });
    p
}

/// The first `len` instructions of `p` and a `halt`.
fn prefix(p: &Program, len: usize) -> Program {
    let mut q = p.clone();
    q.instrs.truncate(len);
    q.tags.truncate(len);
    q.push(Instr::Halt { deps: Deps::default() }, Tag { layer: 0, pass: Pass::Ff });
    q
}

/// Runs `p` on `model` from `init`; returns the first buffer element that
/// differs from the reference, if any.
fn differs(model: &nmsat_rtl::cosim::Model, p: &Program, init: &[Vec<u64>; 3], whole: bool) -> Option<(usize, usize)> {
    let opts = RunOptions {
        buffers: (0..3).map(|b| (b as u8, 0, init[b].clone())).collect(),
        dump_buffers: true,
        ..RunOptions::default()
    };
    let r = cosim_program(model, &p.arch, p, &opts, None).unwrap();
    assert!(r.comparison.passed(), "timing: {:?}", r.comparison.problems());
    let got = r.rtl.buffers.expect("buffers dumped");
    let mut want = init.clone();
    reference(p, &mut want);
    if whole {
        // The test must not pass vacuously: the units wrote their buffers.
        assert!(got[2] != init[2] && got[1] != init[1], "the program must change O and W");
    }
    (0..3).find_map(|b| (0..want[b].len()).find(|&e| got[b][e] != want[b][e]).map(|e| (b, e)))
}

/// Runs random GEMM programs on the RTL (with `fault`); on the first
/// disagreement with the reference, returns the round, the buffer and the
/// first instruction whose result differs (found by bisecting prefixes).
fn run_rounds(config: &str, fault: Option<nmsat_rtl::Fault>, rounds: usize) -> Option<(usize, usize, usize, Program)> {
    let arch = ArchConfig::preset(config).unwrap();
    let model = model_for(&arch, fault).expect("Verilator build");
    let mut rng = Rng::new(7);
    let caps = [capacity(&arch, Buf::A), capacity(&arch, Buf::W), capacity(&arch, Buf::O)];
    for round in 0..rounds {
        let p = gemm_program(&arch, &mut rng, 12);
        assert_eq!(check_program(&p, &arch), vec![]);
        let init: [Vec<u64>; 3] = [
            (0..caps[0]).map(|_| rng.below(1 << 16)).collect(),
            (0..caps[1]).map(|_| rng.below(1 << 20)).collect(),
            (0..caps[2]).map(|_| rng.next_u64() & ACC_MASK).collect(),
        ];
        if let Some((b, _)) = differs(&model, &p, &init, true) {
            // Prefixes of `lo` instructions agree, of `hi` differ.
            let (mut lo, mut hi) = (0, p.instrs.len() - 1);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if differs(&model, &prefix(&p, mid), &init, false).is_some() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return Some((round, b, hi - 1, p));
        }
    }
    None
}

#[test]
fn gemms_and_vector_ops_compute_the_reference_on_tiny() {
    if let Some((round, b, i, p)) = run_rounds("tiny", None, 6) {
        panic!("round {round}: buffer {b} differs from the reference first after instruction {i}\n{}", p.disassemble());
    }
}

/// sat-mid's sparsifier handles two groups per cycle and its PE array 8x8x8.
#[test]
fn compute_the_reference_on_sat_mid() {
    if let Some((round, b, i, p)) = run_rounds("sat-mid", None, 3) {
        panic!("round {round}: buffer {b} differs from the reference first after instruction {i}\n{}", p.disassemble());
    }
}

#[test]
fn a_wrong_mux_select_is_caught() {
    let found = run_rounds("tiny", Some(nmsat_rtl::Fault::ActivationMuxSelect), 6);
    let (_, b, i, p) = found.expect("the faulty mux must produce a wrong output");
    assert_eq!(b, 2, "the output buffer differs");
    // The first instruction whose result is wrong is named: a GEMM (a
    // later vector op may only propagate the error).
    assert!(matches!(p.instrs[i], Instr::Gemm { .. }), "{}", p.instrs[i]);
}
