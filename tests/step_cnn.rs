//! Issue 6, acceptance 3 for the digits CNN (in progress): the parts of a
//! compiled CNN training step that are data-exact so far.

use nmsat_compiler::{LowerOptions, Method as CMethod, load_model, step_workload};
use nmsat_dataflow::nm::{CompressedNm, GroupAxis, NmPattern, apply_mask, select_mask};
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, StepNumerics, compile_step};
use nmsat_dataflow::{ArchConfig, Matrix};
use nmsat_sim::datapath::pack_nm_rows;
use nmsat_sim::reference::backend::{Backend, Hyper};
use nmsat_sim::reference::{CpuInt16, Dataset, Method, ModelKind, NumericsKind, TrainConfig, Trainer};
use nmsat_sim::{SimMode, SimOptions, simulate};

fn region(p: &Program, name: &str) -> u64 {
    p.regions.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no region {name}")).addr
}

fn i16_bytes(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
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

fn packed(c: &CompressedNm<i16>) -> Vec<u8> {
    let v = c.values();
    pack_nm_rows(v.data(), c.indices().data(), v.rows(), v.cols(), c.pattern().index_bits())
}

/// Compiles one int16 training step of the digits CNN for `arch`, runs it on
/// the simulated datapath and returns the program, the final DRAM, the
/// reference trainer after its own step and the initial master weights.
/// Each weight layer's name, master weights and momentum after the reference step.
type LayerState = Vec<(String, Vec<i32>, Vec<i32>)>;

fn cnn_step(method: Method, arch: &str) -> (Program, Vec<u8>, LayerState) {
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
    let cm = match method {
        Method::Dense => CMethod::Dense,
        Method::Srste => CMethod::Srste,
        Method::Bdwp => CMethod::Bdwp,
    };
    let mut step = step_workload(&model, &LowerOptions::new(cm, p, b as u64)).unwrap();
    step.numerics = StepNumerics { formats: be.formats, shifts: be.shifts };
    let arch = ArchConfig::preset(arch).unwrap();
    let mut prog = compile_step(&arch, &step, &DataflowOptions::default()).unwrap();
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
        if let Some(r) = prog.regions.iter().find(|r| r.name == format!("{n}.w")) {
            prog.image.push((r.addr, i16_bytes(be.weight_operand(&l.master).data())));
        }
        for (pass, op, dir) in [("FF", &ff, "w_ff"), ("BP", &bp, "w_bp")] {
            let (true, Some(op)) = (sparse(pass), op) else { continue };
            if let Some(r) = prog.regions.iter().find(|r| r.name == format!("{n}.{dir}")) {
                prog.image.push((r.addr, packed(op)));
            }
        }
    }
    let run = simulate(&prog, &arch, SimMode::Fast, SimOptions { data: true, ..SimOptions::default() }).unwrap();
    let dram = run.machine.unwrap().dram;
    t.step(&idx).unwrap();
    let after =
        t.net.weight_layers().map(|l| (l.name.clone(), l.master.data().to_vec(), l.velocity.data().to_vec())).collect();
    (prog, dram, after)
}

/// FF of every layer (convolutions gather im2col tiles with `load2col`), the
/// loss gradient, the classifier's BP and WG, and the last convolution's WG
/// (its activation operand read transposed from the gathered tile) are
/// bit-exact: the classifier's and the last convolution's updated master
/// weights and momentum equal the reference's. (The convolutions' BP, and so
/// the earlier layers' updates, wait for the transposed-convolution gather.)
#[test]
fn digits_cnn_forward_and_last_layers_are_bit_exact() {
    for (method, arch) in [(Method::Bdwp, "tiny"), (Method::Dense, "sat-vu9p")] {
        let (prog, dram, after) = cnn_step(method, arch);
        assert!(prog.instrs.iter().any(|i| matches!(i, nmsat_dataflow::isa::Instr::Load2col { .. })));
        for (name, master, momentum) in &after {
            if name != "fc" && name != "conv3" {
                continue;
            }
            let len = master.len();
            assert_eq!(
                &read_i32s(&dram, region(&prog, &format!("{name}.master")), len),
                master,
                "{name} master ({arch})"
            );
            assert_eq!(&read_i32s(&dram, region(&prog, &format!("{name}.momentum")), len), momentum, "{name} momentum");
        }
    }
}
