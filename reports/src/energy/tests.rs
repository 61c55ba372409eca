//! Tests of the energy model and the bottleneck attribution across files:
//! a hand-computed step, exact sums on simulated and random runs, the
//! shipped tables, refused tables, determinism.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::nm::NmPattern;
use nmsat_dataflow::schedule::{GemmOperand, compile_gemm};
use nmsat_dataflow::workload::Pass;
use nmsat_sim::stats::{BufferEvents, LayerPassStats};
use nmsat_sim::{SimMode, SimOptions, StallCause, Stats, UnitEvents, simulate};
use proptest::prelude::*;

use super::*;

/// The counts a test row is made of, in this order.
const FIELDS: usize = 16;

/// Events from `c`: MACs dense, sparse, mux selects; activation read and
/// write bytes, weight read and write bytes, output read and write bytes;
/// DRAM read, write and padding bytes; sgd, loss_grad and requant elements;
/// sparsifier groups (of 8 weights).
fn events(c: &[u64; FIELDS]) -> UnitEvents {
    let mut e = UnitEvents::default();
    e.pe_array.macs_dense_mode = c[0];
    e.pe_array.macs_sparse_mode = c[1];
    e.pe_array.mux_selects = c[2];
    for (name, r, w) in [("activation", c[3], c[4]), ("weight", c[5], c[6]), ("output", c[7], c[8])] {
        let b = BufferEvents { reads: r / 2, writes: w / 2, read_bytes: r, write_bytes: w };
        e.buffers.insert(name.into(), b);
    }
    e.dma.dram_read_bytes = c[9];
    e.dma.dram_write_bytes = c[10];
    e.dma.dram_burst_bytes = c[9] + c[10] + c[11];
    for (op, n) in [("sgd", c[12]), ("loss_grad", c[13]), ("requant", c[14])] {
        e.vector_unit.elements.insert(op.into(), n);
    }
    e.sparsifier.groups = c[15];
    e.sparsifier.weights_in = 8 * c[15];
    e
}

fn row(name: &str, pass: Pass, cycles: u64, c: &[u64; FIELDS]) -> LayerPassStats {
    LayerPassStats {
        name: name.into(),
        pass,
        mode: if c[1] > 0 { "2:8".into() } else { "dense".into() },
        cycles,
        macs_dense_equivalent: c[0] + 4 * c[1],
        macs_executed: c[0] + c[1],
        dram_bytes: c[9] + c[10],
        events: events(c),
        ..LayerPassStats::default()
    }
}

/// A run of `rows`, plus `extra` counts and cycles that no row holds.
fn run(rows: Vec<LayerPassStats>, counts: &[[u64; FIELDS]], extra: &[u64; FIELDS], extra_cycles: u64) -> Stats {
    let mut sum = *extra;
    for c in counts {
        for (s, x) in sum.iter_mut().zip(c) {
            *s += x;
        }
    }
    let e = events(&sum);
    Stats {
        arch: "tiny".into(),
        total_cycles: rows.iter().map(|r| r.cycles).sum::<u64>() + extra_cycles,
        macs_dense_equivalent: sum[0] + 4 * sum[1],
        macs_executed: sum[0] + sum[1],
        dram_bytes: sum[9] + sum[10],
        layers: rows,
        pe_array: e.pe_array,
        buffers: e.buffers,
        dma: e.dma,
        vector_unit: e.vector_unit,
        sparsifier: e.sparsifier,
        ..Stats::default()
    }
}

/// A table of round numbers for hand computation.
const HAND: &str = r#"
name = "hand"
[primitives.half]
energy_pj = 0.5
source = "test"
[pe_array.mac_dense]
energy_pj = 1.0
per = "mac"
source = "test"
[pe_array.mac_sparse]
uses = { half = 1 }
per = "mac"
source = "test"
[pe_array.mux_select]
energy_pj = 0.25
per = "select"
source = "test"
[activation_buffer.read]
energy_pj = 8.0
per = "64bit_word"
source = "test"
[activation_buffer.write]
energy_pj = 2.0
per = "element"
source = "test"
[weight_buffer.read]
energy_pj = 0.5
per = "bit"
source = "test"
[weight_buffer.write]
energy_pj = 3
per = "byte"
source = "test"
[output_buffer.read]
sram = [{ size_bytes = 8192, energy_pj = 16.0 }, { size_bytes = 32768, energy_pj = 32.0 }]
per = "64bit_word"
source = "test"
[output_buffer.write]
energy_pj = 1.0
per = "byte"
source = "test"
[dram.read]
energy_pj = 1.0
per = "byte"
source = "test"
[dram.write]
energy_pj = 2.0
per = "byte"
source = "test"
[dram.burst_padding]
energy_pj = 0.125
per = "bit"
source = "test"
[sparsifier.group]
energy_pj = 4.0
per = "group"
source = "test"
[sparsifier.weight]
energy_pj = 0.5
per = "weight"
source = "test"
[vector_unit.sgd]
energy_pj = 3.0
per = "element"
source = "test"
[vector_unit.loss_grad]
energy_pj = 7.0
per = "element"
source = "test"
[vector_unit.other]
energy_pj = 1.0
per = "element"
source = "test"
[device.static]
power_w = 0.0005
source = "test"
"#;

#[test]
fn a_hand_computed_step_matches_the_model() {
    let mut arch = ArchConfig::preset("tiny").unwrap(); // 100 MHz: 0.5 mW is 5 pJ per cycle
    arch.buffers.output.bytes = 16384; // halfway in log2 size between 8 and 32 KiB: 24 pJ per word, 3 pJ/byte
    let ff = [100, 0, 0, 40, 20, 16, 0, 8, 12, 64, 0, 0, 0, 0, 0, 0];
    let wu = [0, 30, 30, 0, 0, 0, 0, 0, 0, 0, 10, 6, 10, 2, 3, 2];
    let extra = [0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0];
    let s = run(vec![row("fc", Pass::Ff, 50, &ff), row("fc", Pass::Wu, 20, &wu)], &[ff, wu], &extra, 5);
    let r = energy(&s, &arch, &EnergyTable::from_toml(HAND, "hand").unwrap());
    // FF: 100 MACs · 1 + 40 B · 1 + 10 elements · 2 + 16 B · 4 + 8 B · 3 + 12 B · 1 + 64 B · 1 + 50 cycles · 5 = 574 pJ.
    assert_eq!(r.layers[0].figures.energy_fj, 574_000);
    // WU: 30 · 0.5 + 30 · 0.25 + 10 B · 2 + 6 B · 1 + sgd 10 · 3 + loss 2 · 7 + requant 3 · 1
    //     + 2 groups · 4 + 16 weights · 0.5 + 20 cycles · 5 = 211.5 pJ.
    assert_eq!(r.layers[1].figures.energy_fj, 211_500);
    // Not in a row: 8 DRAM bytes read and 5 cycles = 33 pJ.
    assert_eq!(r.unattributed.figures.energy_fj, 33_000);
    assert_eq!(r.total.energy_fj, 818_500);
    assert_eq!(r.passes[0].figures.energy_fj, 574_000);
    assert_eq!(r.passes[3].figures.energy_fj, 211_500);
    let out = r.rates.iter().find(|x| x.component == "output_buffer" && x.action == "read").unwrap();
    assert_eq!(out.energy_pj_per_unit, 24.0);
    assert!(out.resolved.as_deref().unwrap().contains("interpolated"), "{:?}", out.resolved);
    // 818.5 pJ over 75 cycles at 100 MHz (0.75 µs): 1.0913 mW; 100 + 120 dense-equivalent MACs.
    assert!((r.total.average_power_w.unwrap() - 818.5e-12 / 0.75e-6).abs() < 1e-12);
    assert_eq!(r.total.macs_dense_equivalent, 220);
    assert!((r.total.pj_per_executed_mac.unwrap() - 818.5 / 130.0).abs() < 1e-9);
    assert!((r.total.energy_delay_product_j_s - 818.5e-12 * 0.75e-6).abs() < 1e-24);
}

fn simulated_gemm(arch: &ArchConfig, operand: GemmOperand) -> Stats {
    let k = compile_gemm(arch, 16, 8, 64, operand, 0, Pass::Ff).unwrap();
    simulate(&k.program, arch, SimMode::Fast, SimOptions::default()).unwrap().stats
}

/// Every exact-sum invariant of a report.
fn assert_sums(r: &EnergyReport) {
    let sum = |a: &[ActionEnergy]| a.iter().map(|x| x.energy_fj).sum::<u128>();
    for l in &r.layers {
        assert_eq!(sum(&l.actions), l.figures.energy_fj, "{} {}", l.name, l.pass);
        assert_eq!(l.by_unit.iter().map(|u| u.energy_fj).sum::<u128>(), l.figures.energy_fj);
    }
    assert_eq!(sum(&r.unattributed.actions), r.unattributed.figures.energy_fj);
    for p in &r.passes {
        let rows: u128 = r.layers.iter().filter(|l| l.pass == p.pass).map(|l| l.figures.energy_fj).sum();
        assert_eq!(rows, p.figures.energy_fj, "{}", p.pass);
    }
    let passes: u128 = r.passes.iter().map(|p| p.figures.energy_fj).sum();
    assert_eq!(passes + r.unattributed.figures.energy_fj, r.total.energy_fj);
    assert_eq!(sum(&r.by_action), r.total.energy_fj);
    assert_eq!(r.by_unit.iter().map(|u| u.energy_fj).sum::<u128>(), r.total.energy_fj);
    let cycles: u64 = r.passes.iter().map(|p| p.figures.cycles).sum();
    assert_eq!(cycles + r.unattributed.figures.cycles, r.total.cycles);
    for f in r.layers.iter().map(|l| &l.figures).chain([&r.total, &r.unattributed.figures]) {
        let opts = [f.average_power_w, f.gops_per_w_dense_equivalent, f.pj_per_executed_mac, f.gops_dense_equivalent];
        assert!(opts.iter().flatten().chain([&f.energy_j, &f.seconds]).all(|x| x.is_finite() && *x >= 0.0));
    }
}

#[test]
fn simulated_gemms_sum_exactly_under_every_shipped_table() {
    let arch = ArchConfig::preset("tiny").unwrap();
    for operand in [GemmOperand::Dense, GemmOperand::Nm(NmPattern::new(2, 8).unwrap())] {
        let s = simulated_gemm(&arch, operand);
        for name in EnergyTable::names() {
            let r = energy(&s, &arch, &EnergyTable::builtin(name).unwrap());
            assert_sums(&r);
            assert!(r.notes.is_empty(), "{:?}", r.notes);
            let macs = r.by_action.iter().filter(|a| a.action.starts_with("mac_")).map(|a| a.count).sum::<u64>();
            assert_eq!(macs, s.macs_executed);
            assert_eq!(r.total.cycles, s.total_cycles);
            assert!(r.total.energy_fj > 0);
            let t = text(&r);
            assert!(t.contains("FF") && t.contains("pe_array") && t.contains("GOPS/W"), "{t}");
        }
    }
}

#[test]
fn the_report_is_deterministic() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let s = simulated_gemm(&arch, GemmOperand::Nm(NmPattern::new(2, 8).unwrap()));
    let t = EnergyTable::builtin("fpga-vu9p").unwrap();
    let a = serde_json::to_string(&energy(&s, &arch, &t)).unwrap();
    let b = serde_json::to_string(&energy(&s.clone(), &arch, &EnergyTable::builtin("fpga-vu9p").unwrap())).unwrap();
    assert_eq!(a, b);
    assert!(a.contains("\"energy_pj\"") && a.contains("\"gops_per_w_dense_equivalent\""));
    let b1 = serde_json::to_string(&bottlenecks(&s, &arch)).unwrap();
    assert_eq!(b1, serde_json::to_string(&bottlenecks(&s, &arch)).unwrap());
}

#[test]
fn shipped_tables_load_and_cover_every_action_on_every_preset() {
    assert_eq!(EnergyTable::names(), vec!["asic-45nm", "fpga-vu9p"]);
    for name in EnergyTable::names() {
        let t = EnergyTable::builtin(name).unwrap();
        assert_eq!(t.name, name);
        for spec in actions::catalogue().iter().filter(|s| s.required) {
            assert!(t.entry(spec.component, spec.action).is_some(), "{name}: {}.{}", spec.component, spec.action);
        }
        for e in &t.entries {
            assert!(!e.source.trim().is_empty());
        }
        for (preset, _) in nmsat_dataflow::arch::PRESETS {
            let arch = ArchConfig::preset(preset).unwrap();
            for r in rates::resolve(&t, &arch) {
                assert!(r.energy_pj_per_unit.is_finite() && r.energy_pj_per_unit >= 0.0, "{name} {preset}: {r:?}");
            }
        }
    }
    let e = EnergyTable::builtin("gpu").unwrap_err().to_string();
    assert!(e.contains("asic-45nm, fpga-vu9p"), "{e}");
}

/// The error of `text`, as a string, and the line of the first line of
/// `text` that contains `marker`.
fn refused(text: &str, marker: &str) -> (String, usize) {
    let e = EnergyTable::from_toml(text, "bad.toml").unwrap_err().to_string();
    let line = text.lines().position(|l| l.contains(marker)).map_or(0, |i| i + 1);
    (e, line)
}

#[test]
fn bad_tables_are_refused_with_field_and_line() {
    let good = table::BUILTIN[0].1;
    // A negative value.
    let t = good.replacen("energy_pj = 1300.0", "energy_pj = -1300.0", 1);
    let (e, line) = refused(&t, "-1300.0");
    assert!(e.contains(&format!("bad.toml: 1 problem(s):\n  line {line}: `dram.read.energy_pj`")), "{e}");
    // A non-finite one.
    let (e, line) = refused(&good.replacen("energy_pj = 0.787", "energy_pj = nan", 1), "= nan");
    assert!(e.contains(&format!("line {line}: `primitives.int16_mult.energy_pj`")), "{e}");
    // An unknown unit.
    let t = good.replacen("per = \"select\"", "per = \"flop\"", 1);
    let (e, line) = refused(&t, "\"flop\"");
    assert!(e.contains(&format!("line {line}: `pe_array.mux_select.per`: unknown unit `flop`")), "{e}");
    // A unit that does not fit the action.
    let (e, _) = refused(&good.replacen("per = \"select\"", "per = \"byte\"", 1), "x");
    assert!(e.contains("`byte` does not fit this action"), "{e}");
    // A missing action: reported at its component's first table.
    let start = good.find("[pe_array.mux_select]").unwrap();
    let end = start + good[start..].find("\n\n").unwrap();
    let t = format!("{}{}", &good[..start], &good[end..]);
    let (e, line) = refused(&t, "[pe_array.");
    assert!(e.contains(&format!("line {line}: `pe_array.mux_select`: missing action")), "{e}");
    // Unknown component, action and key.
    let t = format!("{good}\n[gpu.tensor_core]\nenergy_pj = 1.0\n");
    let (e, line) = refused(&t, "[gpu.");
    assert!(e.contains(&format!("line {line}: `gpu`: unknown component")), "{e}");
    let t = format!("{good}\n[pe_array.teleport]\nenergy_pj = 1.0\nper = \"mac\"\nsource = \"x\"\n");
    let (e, line) = refused(&t, "[pe_array.teleport]");
    assert!(e.contains(&format!("line {line}: `pe_array.teleport`: unknown action")), "{e}");
    let t = good.replacen("per = \"mac\"", "per = \"mac\"\nwatts = 3", 1);
    let (e, line) = refused(&t, "watts");
    assert!(e.contains(&format!("line {line}: `pe_array.mac_dense.watts`: unknown field")), "{e}");
    // A missing source, an unknown primitive, a bad SRAM point.
    let t = good.replacen("source = \"Horowitz ISSCC 2014: DRAM access of 64 bits, 1.3-2.6 nJ\"\n", "", 1);
    assert!(refused(&t, "x").0.contains("`dram.read.source`: missing field"), "{}", refused(&t, "x").0);
    let t = good.replacen("int32_add = 8", "int64_add = 8", 1);
    let (e, line) = refused(&t, "int64_add");
    assert!(e.contains(&format!("line {line}: `vector_unit.sgd.uses.int64_add`: unknown primitive")), "{e}");
    let t = good.replacen("{ size_bytes = 32768, energy_pj = 20.0 }", "{ size_bytes = 32768, energy_pj = -20.0 }", 1);
    let (e, line) = refused(&t, "-20.0");
    assert!(e.contains(&format!("line {line}: `activation_buffer.read.sram[1].energy_pj`")), "{e}");
    // Not TOML at all.
    let t = good.replacen("[dram.read]", "[dram.read\n", 1);
    let line = t.lines().position(|l| l == "[dram.read").unwrap() + 1;
    match EnergyTable::from_toml(&t, "bad.toml").unwrap_err() {
        TableError::Parse { origin, line: l, .. } => assert_eq!((origin.as_str(), l), ("bad.toml", line)),
        e => panic!("{e}"),
    }
}

#[test]
fn a_table_file_is_read_and_a_missing_one_named() {
    let dir = std::env::temp_dir().join(format!("nmsat-energy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hand.toml");
    std::fs::write(&path, HAND).unwrap();
    assert_eq!(EnergyTable::from_file(&path).unwrap().origin, path.display().to_string());
    let e = EnergyTable::from_file(&dir.join("none.toml")).unwrap_err().to_string();
    assert!(e.contains("none.toml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bottlenecks_of_a_simulated_gemm_account_for_the_whole_gap() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let dense = simulated_gemm(&arch, GemmOperand::Dense);
    let sparse = simulated_gemm(&arch, GemmOperand::Nm(NmPattern::new(2, 8).unwrap()));
    for s in [&dense, &sparse] {
        let b = bottlenecks(s, &arch);
        assert_eq!(b.cycles_by_bound.values().sum::<u64>(), s.total_cycles);
        let g = &b.against_array;
        for parts in [&g.by_bound, &g.by_pass] {
            let sum: f64 = parts.iter().map(|p| p.gap_cycles).sum();
            assert!((sum - g.gap_cycles).abs() < 1e-6, "{sum} vs {}", g.gap_cycles);
        }
        assert!(g.gap_cycles >= 0.0);
        let slots: i128 = b.layers.iter().map(|l| l.lost_multiplier_slots).sum::<i128>()
            + 16 * i128::from(b.cycles_by_bound["unattributed"]);
        assert_eq!(slots, i128::from(s.total_cycles) * 16 - i128::from(s.macs_executed));
        for l in &b.layers {
            assert!(l.roofline_macs_per_cycle <= l.peak_macs_per_cycle as f64);
            assert!(l.roofline_fraction.is_some_and(|f| f > 0.0 && f <= 1.0), "{l:?}");
        }
    }
    let t = bottleneck_text(&bottlenecks(&sparse, &arch));
    assert!(t.contains("cycles by bound") && t.contains("gemm") && t.contains("share_of_gap"), "{t}");
    let gap = speedup_gap(&sparse, &dense, &arch);
    assert!((gap.mac_count_bound - 4.0).abs() < 1e-12);
    assert!(gap.measured_speedup > 1.0 && gap.measured_speedup <= gap.mac_count_bound, "{gap:?}");
    let sum: f64 = gap.gap.by_pass.iter().map(|p| p.gap_cycles).sum();
    assert!((sum - gap.gap.gap_cycles).abs() < 1e-6);
}

fn stalled(cycles: u64, stream: u64, channel: u64, stalls: &[(StallCause, u64)]) -> LayerPassStats {
    let mut l = LayerPassStats { cycles, mode: "dense".into(), ..LayerPassStats::default() };
    l.events.pe_array.stream_cycles = stream;
    l.events.dma.channel_busy_cycles = channel;
    l.stalls = stalls.iter().copied().collect();
    l
}

#[test]
fn the_bound_rule() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let bound = |l: LayerPassStats| {
        let s = Stats { total_cycles: l.cycles, layers: vec![l], ..Stats::default() };
        bottlenecks(&s, &arch).layers[0].bound
    };
    assert_eq!(bound(stalled(100, 80, 30, &[])), Bound::Compute);
    assert_eq!(bound(stalled(100, 60, 90, &[])), Bound::Dma);
    assert_eq!(bound(stalled(100, 50, 50, &[])), Bound::Compute); // a tie goes to compute
    assert_eq!(bound(stalled(100, 10, 20, &[(StallCause::TokenFromLoad, 70)])), Bound::Dma);
    assert_eq!(bound(stalled(100, 10, 20, &[(StallCause::TokenFromCompute, 70)])), Bound::Compute);
    let hazards = [(StallCause::DataHazard, 40), (StallCause::TokenFromLoad, 30)];
    assert_eq!(bound(stalled(100, 10, 20, &hazards)), Bound::Dependency);
    assert_eq!(bound(stalled(100, 10, 20, &[(StallCause::UnitBusy, 90)])), Bound::Dependency);
    assert_eq!(bound(stalled(0, 10, 20, &[])), Bound::Hidden);
}

#[test]
fn the_roofline_is_the_lower_of_peak_and_bandwidth() {
    let arch = ArchConfig::preset("tiny").unwrap(); // 16 multipliers, 16 DRAM bytes per cycle
    let mut l = stalled(100, 90, 0, &[]);
    l.macs_dense_equivalent = 1000;
    l.dram_bytes = 100; // 10 MACs per byte: 160 MACs per cycle from DRAM, above the peak
    let s = Stats { total_cycles: 100, layers: vec![l.clone()], ..Stats::default() };
    let b = &bottlenecks(&s, &arch).layers[0];
    assert_eq!((b.arithmetic_intensity, b.roofline_macs_per_cycle), (Some(10.0), 16.0));
    assert_eq!(b.achieved_macs_per_cycle, Some(10.0));
    assert_eq!(b.roofline_fraction, Some(10.0 / 16.0));
    assert!((b.roofline_gops - 3.2).abs() < 1e-12); // 16 MACs · 2 ops · 100 MHz
    l.dram_bytes = 2000; // 0.5 MACs per byte: 8 MACs per cycle
    l.mode = "2:8".into(); // peak 64 dense-equivalent MACs per cycle
    let s = Stats { total_cycles: 100, layers: vec![l], ..Stats::default() };
    let b = &bottlenecks(&s, &arch).layers[0];
    assert_eq!((b.peak_macs_per_cycle, b.roofline_macs_per_cycle), (64, 8.0));
}

fn counts() -> impl Strategy<Value = [u64; FIELDS]> {
    prop::array::uniform16(0u64..1_000_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sums_are_exact_and_nothing_is_negative(
        rows in prop::collection::vec((0usize..4, 0u64..100_000, counts()), 0..6),
        extra in counts(),
        extra_cycles in 0u64..1000,
        table in 0usize..2,
        clock in 1u32..2000,
    ) {
        let mut arch = ArchConfig::preset("sat-vu9p").unwrap();
        arch.clock_mhz = clock;
        let layers: Vec<LayerPassStats> =
            rows.iter().enumerate().map(|(i, (p, cy, c))| row(&format!("l{i}"), Pass::ALL[*p], *cy, c)).collect();
        let cs: Vec<[u64; FIELDS]> = rows.iter().map(|r| r.2).collect();
        let s = Stats { arch: arch.name.clone(), ..run(layers, &cs, &extra, extra_cycles) };
        let t = EnergyTable::builtin(EnergyTable::names()[table]).unwrap();
        let r = energy(&s, &arch, &t);
        assert_sums(&r);
        prop_assert!(r.notes.is_empty());
        let stat = r.unattributed.actions.iter().find(|a| a.component == "device").unwrap();
        prop_assert_eq!(stat.count, extra_cycles);
        let dram = r.unattributed.actions.iter().find(|a| a.component == "dram" && a.action == "read").unwrap();
        prop_assert_eq!(dram.count, extra[9]);
        let again = energy(&s, &arch, &t);
        prop_assert_eq!(serde_json::to_string(&r).unwrap(), serde_json::to_string(&again).unwrap());
    }
}
