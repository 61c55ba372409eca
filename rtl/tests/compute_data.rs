//! The PE array, the vector unit and the sparsifier compute what the data
//! semantics say (docs/sat-microarchitecture.md, "Data semantics"): random
//! sequences of dense and N:M GEMMs (with and without accumulation), `vec
//! relu_bwd`, `add` and `clear`, and `sparsify` on both axes run on the
//! Verilated RTL from random buffer contents, and the final buffers equal a
//! sequential reference computed here. (The DMA datapath is not in the RTL yet.)

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::check::{capacity, check_program};
use nmsat_dataflow::isa::{Buf, Deps, GemmMode, Instr, NO_SHIFT, VecOp};
use nmsat_dataflow::program::{Program, RegionKind, Tag};
use nmsat_dataflow::workload::Pass;
use nmsat_rtl::cosim::{RunOptions, cosim_program, model_for};
use nmsat_sim::testgen::Rng;

const ACC_MASK: u64 = (1 << 48) - 1;

fn sext16(v: u64) -> i64 {
    i64::from(v as u16 as i16)
}

/// Sequential reference of the data semantics on 48-bit accumulators.
fn reference(p: &Program, bufs: &mut [Vec<u64>; 3]) {
    for i in &p.instrs {
        if let Instr::Sparsify { pattern, axis, rows, cols, src, dst, .. } = *i {
            let (nn, mm) = (pattern.n() as usize, pattern.m() as usize);
            let (rows, cols, src, dst) = (rows as usize, cols as usize, src as usize, dst as usize);
            // (line, group) -> element addresses and output address of kept value j.
            let (lines, groups) = if axis == 0 { (cols, rows / mm) } else { (rows, cols / mm) };
            for line in 0..lines {
                for g in 0..groups {
                    let at = |x: usize| {
                        if axis == 0 { src + (g * mm + x) * cols + line } else { src + line * cols + g * mm + x }
                    };
                    let mag = |x: usize| sext16(bufs[0][at(x)]).unsigned_abs();
                    let mut order: Vec<usize> = (0..mm).collect();
                    order.sort_by(|&x, &y| mag(y).cmp(&mag(x)).then(x.cmp(&y)));
                    let mut kept: Vec<usize> = order[..nn].to_vec();
                    kept.sort();
                    for (j, &x) in kept.iter().enumerate() {
                        let out =
                            if axis == 0 { dst + (g * nn + j) * cols + line } else { dst + (g * nn + j) * rows + line };
                        bufs[1][out] = (x as u64) << 16 | bufs[0][at(x)];
                    }
                }
            }
            continue;
        }
        if let Instr::Vec { op, len, src, src2, dst, .. } = *i {
            for e in 0..len as usize {
                let (s1, s2, d) = (src as usize + e, src2 as usize + e, dst as usize + e);
                match op {
                    VecOp::ReluBwd => bufs[2][d] = if sext16(bufs[0][s2]) > 0 { bufs[2][s1] } else { 0 },
                    VecOp::Add => {
                        let v = (sext16(bufs[0][s1]) + sext16(bufs[0][s2])).clamp(-32768, 32767);
                        bufs[0][d] = v as u16 as u64;
                    }
                    VecOp::Clear => bufs[2][d] = 0,
                    _ => {}
                }
            }
            continue;
        }
        let Instr::Gemm { mode, acc, m, n, k, a, a_stride, w, o, .. } = *i else { continue };
        let (m, n, k, a, s, w, o) =
            (m as usize, n as usize, k as usize, a as usize, a_stride as usize, w as usize, o as usize);
        let k_eff = match mode {
            GemmMode::Dense => k,
            GemmMode::Nm(p) => k * p.n() as usize / p.m() as usize,
        };
        for r in 0..m {
            for c in 0..n {
                let mut sum: i64 = 0;
                for rho in 0..k_eff {
                    let wv = bufs[1][w + rho * n + c];
                    let act = match mode {
                        GemmMode::Dense => bufs[0][a + r * s + rho],
                        GemmMode::Nm(p) => {
                            let idx = (wv >> 16) as usize & (p.m() as usize - 1);
                            bufs[0][a + r * s + rho / p.n() as usize * p.m() as usize + idx]
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
            let src = rng.below(capacity(arch, Buf::A) - rows * cols) as u32;
            let dst = rng.below(capacity(arch, Buf::W) - rows * cols) as u32;
            let instr = Instr::Sparsify {
                deps: Deps::default(),
                pattern,
                axis,
                master: false,
                mask_out: false,
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
            let op = rng.pick(&[VecOp::ReluBwd, VecOp::Add, VecOp::Clear]);
            let len = rng.range(1, 64);
            let mut at = |b: Buf| (64 * rng.below(capacity(arch, b) / 64 - 1)) as u32;
            let (src, src2, dst) = match op {
                VecOp::ReluBwd => (at(Buf::O), at(Buf::A), at(Buf::O)),
                VecOp::Add => (at(Buf::A), at(Buf::A), at(Buf::A)),
                _ => (0, 0, at(Buf::O)),
            };
            let dst = if rng.chance(1, 4) { src } else { dst };
            let instr = Instr::Vec {
                deps: Deps::default(),
                op,
                len: len as u32,
                src,
                src2,
                dst,
                aux: 0,
                shift: 0,
                p1: 0,
                p2: 0,
                p3: 0,
                p4: 0,
                mask: 0,
                p5: NO_SHIFT,
            };
            p.push(instr, Tag { layer: 0, pass: Pass::Ff });
            continue;
        }
        let mode =
            if rng.chance(1, 3) { GemmMode::Dense } else { GemmMode::Nm(pats[rng.below(pats.len() as u64) as usize]) };
        let m = rng.range(1, 2 * u64::from(pe.rows) + 1);
        let n = rng.range(1, 2 * u64::from(pe.cols) + 1);
        let k = match mode {
            GemmMode::Dense => rng.range(1, 3 * u64::from(pe.lanes)),
            GemmMode::Nm(q) => u64::from(q.m()) * rng.range(1, 3 * u64::from(pe.lanes / q.n())),
        };
        let s = k + rng.below(5);
        let k_eff = match mode {
            GemmMode::Dense => k,
            GemmMode::Nm(q) => k * u64::from(q.n()) / u64::from(q.m()),
        };
        // Overlapping output tiles and accumulation exercise the in-order drain.
        let far = rng.below(capacity(arch, Buf::O) - m * n);
        let o = rng.pick(&[0u64, 3, far]);
        let a = rng.below(capacity(arch, Buf::A) - ((m - 1) * s + k));
        let w = rng.below(capacity(arch, Buf::W) - k_eff * n);
        p.push(
            Instr::Gemm {
                deps: Deps::default(),
                mode,
                acc: rng.chance(2, 3),
                il: rng.chance(1, 2),
                at: false,
                wt: false,
                m: m as u32,
                n: n as u32,
                k: k as u32,
                a: a as u32,
                a_stride: s as u32,
                w: w as u32,
                o: o as u32,
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
