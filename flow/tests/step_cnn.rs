//! Issue 6, acceptance 3 for the digits CNN: one training step, compiled to
//! a single SAT program (convolutions gather their operands with `load2col`;
//! BP runs as the transposed convolution) and executed on the simulator's
//! datapath, updates every layer's master weights and momentum exactly as
//! the int16 reference step does and pre-generates the next step's
//! compressed W_ff and W_bp as the reference selects them.

use nmsat_compiler::{LowerOptions, load_model, step_workload};
use nmsat_dataflow::nm::{CompressedNm, GroupAxis, NmPattern, apply_mask, select_mask};
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, StepNumerics, compile_step};
use nmsat_dataflow::{ArchConfig, Matrix};
use nmsat_sim::reference::backend::{Backend, Hyper};
use nmsat_sim::reference::{CpuInt16, Dataset, Method, ModelKind, NumericsKind, TrainConfig, Trainer};
use nmsat_sim::step_image::{i16_bytes, i32_bytes, pack_nm, split_nm};
use nmsat_sim::{SimMode, SimOptions, simulate};

fn region(p: &Program, name: &str) -> u64 {
    p.regions.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no region {name}")).addr
}

fn read_i32s(dram: &[u8], addr: u64, n: usize) -> Vec<i32> {
    let a = addr as usize;
    dram[a..a + 4 * n].chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The compressed operands the reference derives from master weights (None
/// along a dimension that is not a multiple of M).
fn operands(
    be: &CpuInt16,
    master: &Matrix<i32>,
    p: NmPattern,
) -> (Option<CompressedNm<i16>>, Option<CompressedNm<i16>>) {
    let w = be.weight_operand(master);
    let c = |axis| {
        let mask = select_mask(master, p, axis).ok()?;
        CompressedNm::compress(&apply_mask(&w, &mask), p, axis).ok()
    };
    (c(GroupAxis::Rows), c(GroupAxis::Cols))
}

/// Compiles one int16 training step of the digits CNN for `arch`, runs it on
/// the simulated datapath and returns the program, the final DRAM, the
/// reference trainer after its own step and the initial master weights.
/// Each weight layer's name, master weights and momentum after the reference step.
type LayerState = Vec<(String, Vec<i32>, Vec<i32>)>;

fn cnn_step(method: Method, arch: &str, opts: DataflowOptions) -> (Program, Vec<u8>, LayerState) {
    let data = Dataset::digits().unwrap();
    let p = NmPattern::new(2, 8).unwrap();
    let mut cfg = TrainConfig::new(ModelKind::Cnn, method);
    cfg.nm = p;
    cfg.numerics = NumericsKind::Int16;
    let hyper = Hyper {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        lambda_w: cfg.lambda_w,
        batch: cfg.batch,
    };
    let be = CpuInt16::new(cfg.formats, &hyper).unwrap();
    let mut t = Trainer::new(be.clone(), &data, &cfg).unwrap();
    let b = t.batch();
    let model = load_model("digits-cnn").unwrap();
    let mut step = step_workload(&model, &LowerOptions::new(method, p, b as u64)).unwrap();
    step.numerics = StepNumerics { formats: be.formats, shifts: be.shifts };
    let arch = ArchConfig::preset(arch).unwrap();
    let mut prog = compile_step(&arch, &step, &opts).unwrap();
    let idx: Vec<usize> = (0..b).collect();
    let f = data.features;
    let x: Vec<i16> = idx.iter().flat_map(|&i| data.train.x[i * f..(i + 1) * f].iter().map(|&v| be.input(v))).collect();
    let labels: Vec<i16> = idx.iter().map(|&i| data.train.y[i] as i16).collect();
    prog.image.push((region(&prog, "conv1.FF.in"), i16_bytes(&x)));
    prog.image.push((region(&prog, "labels"), i16_bytes(&labels)));
    let gemms = prog.info.gemms.clone();
    for l in t.net.weight_layers() {
        let n = &l.name;
        prog.image.push((region(&prog, &format!("{n}.master")), i32_bytes(l.master.data())));
        prog.image.push((region(&prog, &format!("{n}.momentum")), i32_bytes(l.velocity.data())));
        let (ff, bp) = operands(&be, &l.master, p);
        let sparse = |pass: &str| gemms.iter().any(|g| g.layer == *n && g.pass.name() == pass && g.mode != "dense");
        let wq = be.weight_operand(&l.master);
        if let Some(r) = prog.regions.iter().find(|r| r.name == format!("{n}.w")) {
            prog.image.push((r.addr, i16_bytes(wq.data())));
        }
        // A dense transposed-convolution BP reads W′ᵀ: row c, column (t′, k) = W[(taps−1−t′)·C_in + c, k].
        if let Some(r) = prog.regions.iter().find(|r| r.name == format!("{n}.w_bpT")) {
            let (k, c_out, c_in) = (wq.rows(), wq.cols(), l.c_in);
            let taps = k / c_in;
            let mut v = Vec::with_capacity(k * c_out);
            for c in 0..c_in {
                for t in 0..taps {
                    v.extend_from_slice(wq.row((taps - 1 - t) * c_in + c));
                }
            }
            prog.image.push((r.addr, i16_bytes(&v)));
        }
        for (pass, op, dir) in [("FF", &ff, "w_ff"), ("BP", &bp, "w_bp")] {
            let (true, Some(op)) = (sparse(pass), op) else { continue };
            if let Some(r) = prog.regions.iter().find(|r| r.name == format!("{n}.{dir}")) {
                prog.image.push((r.addr, pack_nm(op)));
            }
            let find = |name: String| prog.regions.iter().find(|r| r.name == name).map(|r| r.addr);
            if let (Some(v), Some(i)) = (find(format!("{n}.{dir}.values")), find(format!("{n}.{dir}.indices"))) {
                let (vb, ib) = split_nm(op);
                prog.image.push((v, vb));
                prog.image.push((i, ib));
            }
        }
    }
    let run = simulate(&prog, &arch, SimMode::Fast, SimOptions { data: true, ..SimOptions::default() }).unwrap();
    let dram = run.machine.unwrap().dram;
    t.step(&idx).unwrap();
    for l in t.net.weight_layers() {
        // The next step's dense operands, written by the program's weight update.
        let wq = be.weight_operand(&l.master);
        // Regions the program's stores write (a dense operand is rewritten only when a pass reads it).
        let at = |n: String| {
            let r = prog.regions.iter().find(|r| r.name == n)?;
            let written = prog.instrs.iter().any(|i| {
                matches!(*i, nmsat_dataflow::isa::Instr::Store { dram, .. } if dram >= r.addr && dram < r.addr + r.bytes)
            });
            written.then_some(r.addr as usize)
        };
        if let Some(a) = at(format!("{}.w", l.name)) {
            let want = i16_bytes(wq.data());
            assert!(dram[a..a + want.len()] == want[..], "{} dense weights for the next step", l.name);
        }
        if let Some(a) = at(format!("{}.w_bpT", l.name)) {
            let (k, c_in) = (wq.rows(), l.c_in);
            let taps = k / c_in;
            let mut v = Vec::with_capacity(k * wq.cols());
            for c in 0..c_in {
                for t in 0..taps {
                    v.extend_from_slice(wq.row((taps - 1 - t) * c_in + c));
                }
            }
            let want = i16_bytes(&v);
            assert!(dram[a..a + want.len()] == want[..], "{} W′ᵀ for the next step", l.name);
        }
        // The next step's operands, pre-generated by the program's weight update.
        let (ff, bp) = operands(&be, &l.master, p);
        for (op, dir) in [(&ff, "w_ff"), (&bp, "w_bp")] {
            let Some(op) = op else { continue };
            if let Some(a) = at(format!("{}.{dir}.next", l.name)) {
                let want = pack_nm(op);
                assert_eq!(&dram[a..a + want.len()], &want[..], "{} {dir} for the next step", l.name);
            }
            if let (Some(v), Some(i)) =
                (at(format!("{}.{dir}.next.values", l.name)), at(format!("{}.{dir}.next.indices", l.name)))
            {
                let (vb, ib) = split_nm(op);
                assert_eq!(&dram[v..v + vb.len()], &vb[..], "{} {dir} values for the next step", l.name);
                assert_eq!(&dram[i..i + ib.len()], &ib[..], "{} {dir} indices for the next step", l.name);
            }
        }
    }
    let after =
        t.net.weight_layers().map(|l| (l.name.clone(), l.master.data().to_vec(), l.velocity.data().to_vec())).collect();
    (prog, dram, after)
}

fn step_matches(method: Method, arch: &str, opts: DataflowOptions) -> Program {
    let (prog, dram, after) = cnn_step(method, arch, opts);
    assert!(prog.instrs.iter().any(|i| matches!(i, nmsat_dataflow::isa::Instr::Load2col { .. })));
    for (name, master, momentum) in &after {
        let len = master.len();
        assert_eq!(&read_i32s(&dram, region(&prog, &format!("{name}.master")), len), master, "{name} master ({arch})");
        assert_eq!(&read_i32s(&dram, region(&prog, &format!("{name}.momentum")), len), momentum, "{name} momentum");
    }
    prog
}

#[test]
fn digits_cnn_bdwp_step_is_bit_exact_on_tiny_and_default() {
    step_matches(Method::Bdwp, "tiny", DataflowOptions::default());
    step_matches(Method::Bdwp, "sat-vu9p", DataflowOptions::default());
}

#[test]
fn digits_cnn_dense_and_srste_steps_are_bit_exact() {
    for arch in ["tiny", "sat-vu9p"] {
        step_matches(Method::Dense, arch, DataflowOptions::default());
        step_matches(Method::Srste, arch, DataflowOptions::default());
    }
}

#[test]
fn digits_cnn_ablated_schedules_compute_the_same_step() {
    for opts in [
        DataflowOptions { interleave: false, ..DataflowOptions::default() },
        DataflowOptions { pregen: false, ..DataflowOptions::default() },
        DataflowOptions { offline_schedule: false, ..DataflowOptions::default() },
    ] {
        step_matches(Method::Bdwp, "tiny", opts);
    }
}

/// Issue 21, acceptance 4: the whole step with weight-stationary GEMMs
/// (every GEMM that can, and the cost model's per-GEMM choice) updates the
/// weights exactly as the reference does.
#[test]
fn digits_cnn_weight_stationary_and_auto_steps_are_bit_exact() {
    use nmsat_dataflow::isa::Instr;
    use nmsat_dataflow::schedule::DataflowChoice;
    let ws = |p: &Program| p.instrs.iter().filter(|i| matches!(i, Instr::Gemm { ws: true, .. })).count();
    let os = |p: &Program| p.instrs.iter().filter(|i| matches!(i, Instr::Gemm { ws: false, .. })).count();
    for arch in ["tiny", "sat-vu9p"] {
        let p =
            step_matches(Method::Bdwp, arch, DataflowOptions { dataflow: DataflowChoice::Ws, ..Default::default() });
        // Only the WG GEMMs that read a transposed activation stay OS.
        assert!(ws(&p) > 0 && ws(&p) >= os(&p) / 4, "{arch}: {} ws, {} os", ws(&p), os(&p));
        step_matches(Method::Bdwp, arch, DataflowOptions { dataflow: DataflowChoice::Auto, ..Default::default() });
    }
    let p = step_matches(Method::Dense, "tiny", DataflowOptions { dataflow: DataflowChoice::Ws, ..Default::default() });
    assert!(ws(&p) > 0);
}
