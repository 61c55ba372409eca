//! Properties of compiled programs: every program the scheduler emits for a
//! random config and random GEMM shapes passes the checker (buffer
//! capacities, bank/range limits, patterns), simulates to completion with
//! fast == cycle, and its disassembly parses back to the same instructions.

use nmsat_dataflow::check::check_program;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{ConvShape, DataflowOptions, LayerWork, StepWorkload, compile_step};
use nmsat_dataflow::workload::{Gemm, GemmKind, GroupDim, NmOperand, Pass};
use nmsat_dataflow::{ArchConfig, NmPattern};
use nmsat_sim::{SimMode, SimOptions, simulate};
use proptest::prelude::*;

fn arch() -> impl Strategy<Value = ArchConfig> {
    (
        prop_oneof![Just(2u32), Just(4), Just(8), Just(16)],
        prop_oneof![Just(2u32), Just(4), Just(8), Just(16)],
        prop_oneof![Just(2u32), Just(4), Just(8)],
        prop_oneof![Just(1u64 << 14), Just(1 << 16), Just(1 << 18)],
        prop_oneof![Just(16u32), Just(64), Just(128)],
        0u32..100,
    )
        .prop_map(|(rows, cols, lanes, bytes, bpc, lat)| {
            let mut a = ArchConfig::preset("sat-mid").unwrap();
            a.pe_array.rows = rows;
            a.pe_array.cols = cols;
            a.pe_array.lanes = lanes;
            a.sparsity.patterns = ["2:4", "2:8", "1:8"].iter().map(|s| s.parse::<NmPattern>().unwrap()).collect();
            for b in [&mut a.buffers.activation, &mut a.buffers.weight, &mut a.buffers.output] {
                b.bytes = bytes.max(1 << 16);
                b.banks = 8;
            }
            a.buffers.output.bytes = bytes.max(1 << 16) * 3 / 2;
            a.dram.bytes_per_cycle = bpc;
            a.dram.latency_cycles = lat;
            a
        })
        .prop_filter("valid", |a| a.validate().is_empty())
}

/// A small network of linear/conv layers with BDWP-style sparsity.
fn workload() -> impl Strategy<Value = StepWorkload> {
    (
        proptest::collection::vec((1u64..5, 1u64..5, 1u64..4, prop_oneof![Just(1u64), Just(9)], 1u64..3), 1..4),
        1u64..5,
        prop_oneof![Just("2:4"), Just("2:8"), Just("1:8")],
    )
        .prop_map(|(layers, batch, nm)| {
            let p: NmPattern = nm.parse().unwrap();
            let n_layers = layers.len();
            let layers: Vec<LayerWork> = layers
                .into_iter()
                .enumerate()
                .map(|(i, (mm, nn, kk, taps, stride))| {
                    let (m, n, k) = (mm * 16 * batch, nn * 8, kk * 8 * taps);
                    let sp = |pass: Pass, red: u64| {
                        (i > 0 && red % u64::from(p.m()) == 0).then_some(NmOperand {
                            pattern: p,
                            group_dim: if pass == Pass::Ff { GroupDim::CinRS } else { GroupDim::Cout },
                        })
                    };
                    let name = format!("l{i}");
                    let g = |pass, m, n, k, sparse| Gemm {
                        layer: name.clone(),
                        pass,
                        kind: GemmKind::Weight,
                        m,
                        n,
                        k,
                        count: 1,
                        sparse,
                        dense_reason: None,
                        what: String::new(),
                    };
                    let mut gemms = vec![g(Pass::Ff, m, n, k, sp(Pass::Ff, k))];
                    if i > 0 {
                        gemms.push(g(Pass::Bp, m, k, n, sp(Pass::Bp, n)));
                    }
                    gemms.push(g(Pass::Wg, k, n, m, None));
                    let conv = (taps > 1).then_some(ConvShape { taps, stride, geom: None });
                    LayerWork { name, gemms, conv, relu: i + 1 < n_layers }
                })
                .collect();
            let classes = layers.last().map_or(1, |l| l.gemms[0].n);
            StepWorkload {
                model: "random".into(),
                method: "bdwp".into(),
                nm: Some(p),
                batch,
                layers,
                classes,
                numerics: Default::default(),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn compiled_programs_check_simulate_and_roundtrip(
        arch in arch(),
        w in workload(),
        flags in (any::<bool>(), any::<bool>(), any::<bool>()),
    ) {
        let opts = DataflowOptions { interleave: flags.0, pregen: flags.1, offline_schedule: flags.2, ..DataflowOptions::default() };
        let p = match compile_step(&arch, &w, &opts) {
            Ok(p) => p,
            // A config too small for a GEMM is a clear error, never a bad program.
            Err(e) => { prop_assert!(e.to_string().contains("cannot be tiled")); return Ok(()); }
        };
        let errs = check_program(&p, &arch);
        prop_assert!(errs.is_empty(), "{:?}", &errs[..errs.len().min(3)]);
        let f = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
        let c = simulate(&p, &arch, SimMode::Cycle, SimOptions::default()).unwrap();
        prop_assert_eq!(f.stats.total_cycles, c.stats.total_cycles);
        prop_assert_eq!(&f.retire, &c.retire);
        let text = p.disassemble();
        let q = Program::parse_asm(&text, arch.clone(), "x.asm").unwrap();
        prop_assert_eq!(&q.instrs, &p.instrs);
        let bytes = p.to_bytes().unwrap();
        prop_assert_eq!(Program::from_bytes(&bytes, "x.sat").unwrap(), p);
    }
}
