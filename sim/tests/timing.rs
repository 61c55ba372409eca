//! Hand-computed timing of single instructions and small programs.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::NmPattern;
use nmsat_dataflow::isa::{Buf, Deps, DmaFormat, GemmMode, Instr};
use nmsat_dataflow::program::{Program, RegionKind, Tag};
use nmsat_dataflow::workload::Pass;
use nmsat_sim::{SimError, SimMode, SimOptions, simulate};

fn prog(instrs: Vec<Instr>) -> Program {
    let mut p = Program::new(ArchConfig::default_preset());
    p.alloc("x", RegionKind::Input, 1 << 20);
    let l = p.layer_index("l");
    for i in instrs {
        p.push(i, Tag { layer: l, pass: Pass::Ff });
    }
    p.push(Instr::Halt { deps: Deps::default() }, Tag { layer: l, pass: Pass::Ff });
    p
}

fn gemm(mode: GemmMode, m: u32, n: u32, k: u32, deps: Deps) -> Instr {
    Instr::Gemm {
        deps,
        mode,
        acc: false,
        il: false,
        at: false,
        wt: false,
        m,
        n,
        k,
        a: 0,
        a_stride: k,
        w: 0,
        o: 0,
        ws: false,
    }
}

fn load(rows: u32, cols: u32, deps: Deps) -> Instr {
    Instr::Load {
        deps,
        buf: Buf::A,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram: 0,
        sram: 0,
        rows,
        cols,
        stride: 2 * u64::from(cols),
    }
}

fn store(rows: u32, cols: u32, deps: Deps) -> Instr {
    Instr::Store {
        deps,
        buf: Buf::A,
        fmt: DmaFormat::I16,
        index_bits: 0,
        dram: 0,
        sram: 0,
        rows,
        cols,
        stride: 2 * u64::from(cols),
        shift: 0,
        relu: false,
    }
}

fn run(p: &Program) -> Vec<(u64, u64)> {
    let f = simulate(p, &p.arch, SimMode::Fast, SimOptions::default()).unwrap();
    let c = simulate(p, &p.arch, SimMode::Cycle, SimOptions::default()).unwrap();
    assert_eq!(f.stats, c.stats.clone().with_mode("fast"));
    assert_eq!(f.retire, c.retire);
    f.retire.iter().map(|r| (r.start, r.done)).collect()
}

trait WithMode {
    fn with_mode(self, m: &str) -> Self;
}
impl WithMode for nmsat_sim::Stats {
    fn with_mode(mut self, m: &str) -> Self {
        self.mode = m.into();
        self
    }
}

const NONE: Deps = Deps { pop_prev: false, pop_next: false, push_prev: false, push_next: false };

#[test]
fn dense_gemm_tile() {
    // 16x16x512 on 16x16 PEs x 8 lanes: 64 K-steps, fill/drain 34 (log2 8 + 1 + 16 + 16 - 2), last drain 16.
    let r = run(&prog(vec![gemm(GemmMode::Dense, 16, 16, 512, NONE)]));
    assert_eq!(r[0], (0, 64 + 34 + 16));
    assert_eq!(r[1], (114, 115), "halt waits for the GEMM");
}

#[test]
fn sparse_2_8_gemm_tile_is_4x_shorter_stream() {
    let p = GemmMode::Nm(NmPattern::new(2, 8).unwrap());
    let r = run(&prog(vec![gemm(p, 16, 16, 512, NONE)]));
    assert_eq!(r[0], (0, 16 + 34 + 16));
}

#[test]
fn back_to_back_gemms_overlap_fill_and_drain() {
    let r = run(&prog(vec![gemm(GemmMode::Dense, 16, 16, 512, NONE), gemm(GemmMode::Dense, 16, 16, 512, NONE)]));
    assert_eq!(r[0], (0, 114));
    assert_eq!(r[1], (64, 64 + 114), "second streams as soon as the first has streamed");
}

#[test]
fn dma_latency_and_bandwidth() {
    // 10 rows of 200 B -> 4 bursts of 64 B each = 2560 B at 128 B/cycle = 20 beats, + 64 latency.
    let r = run(&prog(vec![load(10, 100, NONE), load(10, 100, NONE)]));
    assert_eq!(r[0], (0, 84));
    assert_eq!(r[1], (20, 20 + 20 + 64), "second load waits for the channel, overlaps latency");
}

#[test]
fn load_wins_channel_over_store_in_same_cycle() {
    let r = run(&prog(vec![store(10, 100, NONE), load(10, 100, NONE)]));
    // Program order puts the store first, but both start at 0; the load is granted first.
    assert_eq!(r[1], (0, 84));
    assert_eq!(r[0], (0, 20 + 20 + 64));
}

#[test]
fn token_wait() {
    let push = Deps { push_next: true, ..NONE };
    let pop = Deps { pop_prev: true, ..NONE };
    let r = run(&prog(vec![load(10, 100, push), gemm(GemmMode::Dense, 16, 16, 512, pop)]));
    assert_eq!(r[0], (0, 84));
    assert_eq!(r[1], (84, 84 + 114), "the GEMM starts the cycle the load retires");
}

#[test]
fn deadlock_names_the_instruction() {
    let pop = Deps { pop_prev: true, ..NONE };
    let p = prog(vec![gemm(GemmMode::Dense, 16, 16, 64, pop)]);
    for mode in [SimMode::Fast, SimMode::Cycle] {
        let e = simulate(&p, &p.arch, mode, SimOptions::default()).unwrap_err();
        assert!(matches!(e, SimError::Deadlock { cycle: 0, .. }), "{e}");
        let s = e.to_string();
        assert!(s.contains("instruction 0 (`gemm"), "{s}");
    }
}

#[test]
fn out_of_range_is_a_check_error() {
    let p = prog(vec![gemm(GemmMode::Dense, 16, 16, 1 << 19, NONE)]);
    let e = simulate(&p, &p.arch, SimMode::Fast, SimOptions::default()).unwrap_err();
    assert!(e.to_string().contains("instruction 0"), "{e}");
    assert!(e.to_string().contains("exceeds"), "{e}");
}
