//! `fast` and `cycle` mode must agree exactly: total cycles, every
//! instruction's start and retirement, and every statistic, on random
//! token-consistent programs over random configs.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::isa::{Buf, Deps, DmaFormat, GemmMode, Instr, NO_SHIFT, Queue, VecOp};
use nmsat_dataflow::program::{Program, RegionKind, Tag};
use nmsat_dataflow::workload::Pass;
use nmsat_sim::{SimMode, SimOptions, simulate, simulate_stream};
use proptest::prelude::*;

#[allow(clippy::too_many_arguments)]
fn config(
    rows: u32,
    cols: u32,
    lanes: u32,
    bpc: u32,
    lat: u32,
    burst: u32,
    port: u32,
    vlanes: u32,
    slanes: u32,
) -> ArchConfig {
    let mut a = ArchConfig::preset("tiny").unwrap();
    a.pe_array.rows = rows;
    a.pe_array.cols = cols;
    a.pe_array.lanes = lanes;
    a.sparsity.patterns = ["1:4", "2:4", "1:8", "2:8", "4:8"]
        .iter()
        .map(|s| s.parse::<NmPattern>().unwrap())
        .filter(|p| lanes % p.n() == 0)
        .collect();
    for b in [&mut a.buffers.activation, &mut a.buffers.weight, &mut a.buffers.output] {
        b.bytes = 1 << 16;
        b.banks = 4;
        b.port_bytes = port;
    }
    a.dram.bytes_per_cycle = bpc;
    a.dram.latency_cycles = lat;
    a.dram.burst_bytes = burst;
    a.vector_unit.lanes = vlanes;
    a.sparsifier.lanes = slanes;
    a
}

fn arch() -> impl Strategy<Value = ArchConfig> {
    (
        prop_oneof![Just(1u32), Just(2), Just(4), Just(8)],
        prop_oneof![Just(1u32), Just(2), Just(4), Just(8)],
        prop_oneof![Just(1u32), Just(2), Just(4), Just(8)],
        1u32..64,
        0u32..40,
        prop_oneof![Just(16u32), Just(32), Just(64)],
        prop_oneof![Just(2u32), Just(8), Just(32)],
        prop_oneof![Just(1u32), Just(4), Just(16)],
        1u32..8,
    )
        .prop_map(|(r, c, l, bpc, lat, burst, port, vl, sl)| config(r, c, l, bpc, lat, burst, port, vl, sl))
        .prop_filter("valid config", |a| a.validate().is_empty())
}

/// A raw instruction choice, turned into a token-consistent program below.
#[derive(Debug, Clone)]
struct Choice {
    kind: u8,
    a: u32,
    b: u32,
    c: u32,
    pattern: u8,
    flags: u8,
}

fn choice() -> impl Strategy<Value = Choice> {
    (0u8..9, 1u32..40, 1u32..40, 1u32..9, 0u8..8, any::<u8>()).prop_map(|(kind, a, b, c, pattern, flags)| Choice {
        kind,
        a,
        b,
        c,
        pattern,
        flags,
    })
}

/// Builds a program whose global order is a valid sequential execution:
/// an instruction pops a token only if an earlier one pushed it, so the
/// concurrent machine cannot deadlock.
fn build(arch: &ArchConfig, choices: &[Choice]) -> Program {
    let mut p = Program::new(arch.clone());
    p.alloc("scratch", RegionKind::Activation, 1 << 20);
    let layers = [p.layer_index("l0"), p.layer_index("l1")];
    let mut tokens = [0u32; 4]; // LC, CL, CS, SC
    for (n, ch) in choices.iter().enumerate() {
        let pats = &arch.sparsity.patterns;
        let mode = if ch.pattern as usize % 3 == 0 || pats.is_empty() {
            GemmMode::Dense
        } else {
            GemmMode::Nm(pats[ch.pattern as usize % pats.len()])
        };
        let deps = Deps::default();
        let (rows, cols) = (ch.a, ch.b);
        let mut instr = match ch.kind {
            1 if ch.flags & 8 != 0 => {
                // An im2col gather of a small convolution (window from the geometry).
                let geom = nmsat_dataflow::im2col::ConvGeom {
                    ih: ch.a % 12 + 3,
                    iw: ch.b % 12 + 3,
                    ic: ch.c,
                    kh: 3,
                    kw: 3,
                    cs: u32::from(ch.flags >> 6) % 2 + 1,
                    pad_h: 1,
                    pad_w: 1,
                    dil: 1,
                    opad_h: 0,
                    opad_w: 0,
                };
                let (pp, qq) = geom.out_hw();
                let rows = (u64::from(rows) % (pp * qq)).max(1);
                let k0 = u64::from(ch.flags % 5);
                let cols = (u64::from(cols)).min(geom.k() - k0);
                let bursts = geom.gather_bursts(arch.dram.im2col, 0, rows, k0, cols, u64::from(arch.dram.burst_bytes));
                Instr::Load2col {
                    deps,
                    dram: 0,
                    sram: 0,
                    rows: rows as u32,
                    cols: cols as u32,
                    p0: 0,
                    k0: k0 as u32,
                    geom,
                    bursts: bursts as u32,
                }
            }
            0 | 1 => Instr::Load {
                deps,
                buf: Buf::A,
                fmt: DmaFormat::I16,
                index_bits: 0,
                dram: u64::from(ch.c) * 64,
                sram: 0,
                rows,
                cols,
                stride: 2 * u64::from(cols) + 8,
            },
            2 => Instr::Load {
                deps,
                buf: Buf::W,
                fmt: DmaFormat::NmRow,
                index_bits: 3,
                dram: 0,
                sram: 0,
                rows,
                cols: cols.next_multiple_of(16),
                stride: 4096,
            },
            3 => Instr::Store {
                deps,
                buf: Buf::O,
                fmt: DmaFormat::I32,
                index_bits: 0,
                dram: 128,
                sram: 0,
                rows,
                cols,
                stride: 4 * u64::from(cols),
                shift: 0,
                relu: false,
            },
            4 | 5 => {
                let k = match mode {
                    GemmMode::Dense => ch.c * 4,
                    GemmMode::Nm(p) => ch.c * p.m(),
                };
                Instr::Gemm {
                    deps,
                    mode,
                    acc: ch.flags & 1 == 1,
                    il: ch.flags & 64 != 0,
                    at: false,
                    wt: false,
                    m: rows,
                    n: cols,
                    k,
                    a: 0,
                    a_stride: k,
                    w: 0,
                    o: 0,
                    ws: ch.flags & 128 != 0,
                }
            }
            6 => Instr::Vec {
                deps,
                op: [VecOp::Requant, VecOp::ReluBwd, VecOp::Add, VecOp::Sgd, VecOp::Clear][ch.c as usize % 5],
                len: rows * cols,
                src: 0,
                src2: 0,
                dst: 0,
                aux: 0,
                shift: 3,
                p1: 0,
                p2: 0,
                p3: 0,
                p4: 0,
                mask: 0,
                p5: if ch.flags & 2 != 0 { 5 } else { NO_SHIFT },
            },
            7 => match mode {
                GemmMode::Nm(pat) => Instr::Sparsify {
                    deps,
                    pattern: pat,
                    axis: ch.flags & 1,
                    master: ch.flags & 2 != 0,
                    mask_out: ch.flags & 4 != 0,
                    rows: (rows % 8 + 1) * pat.m(),
                    cols: (cols % 8 + 1) * pat.m(),
                    src: 0,
                    dst: 0,
                },
                GemmMode::Dense => Instr::Sync { deps },
            },
            _ => Instr::Sync { deps },
        };
        let q = instr.queue();
        let (pop_prev_f, pop_next_f, push_prev_f, push_next_f) = match q {
            Queue::Load => (None, Some(1), None, Some(0)),
            Queue::Compute => (Some(0), Some(3), Some(1), Some(2)),
            Queue::Store => (Some(2), None, Some(3), None),
        };
        let d = instr.deps_mut();
        if let Some(f) = pop_prev_f {
            if ch.flags & 2 != 0 && tokens[f] > 0 {
                tokens[f] -= 1;
                d.pop_prev = true;
            }
        }
        if let Some(f) = pop_next_f {
            if ch.flags & 4 != 0 && tokens[f] > 0 {
                tokens[f] -= 1;
                d.pop_next = true;
            }
        }
        if let Some(f) = push_prev_f {
            if ch.flags & 8 != 0 {
                tokens[f] += 1;
                d.push_prev = true;
            }
        }
        if let Some(f) = push_next_f {
            if ch.flags & 16 != 0 {
                tokens[f] += 1;
                d.push_next = true;
            }
        }
        let pass = Pass::ALL[(ch.flags >> 5) as usize % 4];
        p.push(instr, Tag { layer: layers[n % 2], pass });
    }
    p.push(Instr::Halt { deps: Deps::default() }, Tag { layer: layers[0], pass: Pass::Wu });
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn fast_equals_cycle(arch in arch(), choices in proptest::collection::vec(choice(), 1..60)) {
        let p = build(&arch, &choices);
        let f = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
        let c = simulate(&p, &arch, SimMode::Cycle, SimOptions::default()).unwrap();
        prop_assert_eq!(f.stats.total_cycles, c.stats.total_cycles);
        prop_assert_eq!(&f.retire, &c.retire);
        let mut cs = c.stats.clone();
        cs.mode = "fast".into();
        prop_assert_eq!(&f.stats, &cs);
        // The same instructions read as a stream give the same statistics.
        let mut header = p.clone();
        header.instrs.clear();
        header.tags.clear();
        let source = p.instrs.iter().cloned().zip(p.tags.iter().copied());
        let s = simulate_stream(&header, &arch, source, SimMode::Fast, SimOptions::default()).unwrap();
        prop_assert_eq!(&s.stats, &f.stats);
        prop_assert!(s.retire.is_empty());
    }
}

#[test]
fn a_stream_is_checked_as_it_is_read() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let mut p = Program::new(arch.clone());
    p.alloc("x", RegionKind::Activation, 64);
    let tag = Tag { layer: 0, pass: Pass::Ff };
    let load = |dram| Instr::Load {
        deps: Deps::default(),
        buf: Buf::A,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram,
        sram: 0,
        rows: 1,
        cols: 4,
        stride: 8,
    };
    // Without a halt at the end.
    let err = simulate_stream(&p, &arch, vec![(load(0), tag)].into_iter(), SimMode::Fast, SimOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("must end with `halt`"), "{err}");
    // An instruction outside the memory map, named by its index.
    let halt = Instr::Halt { deps: Deps::default() };
    let bad = vec![(load(0), tag), (load(4096), tag), (halt, tag)];
    let err =
        simulate_stream(&p, &arch, bad.into_iter(), SimMode::Fast, SimOptions::default()).unwrap_err().to_string();
    assert!(err.contains("instruction 1") && err.contains("outside the program"), "{err}");
}
