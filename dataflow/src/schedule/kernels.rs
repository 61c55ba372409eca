//! Standalone single-kernel programs (a GEMM, an SGD update, a loss
//! gradient) scheduled like a training step's, for running the reference
//! trainer's operations on the simulated SAT.

use super::builder::{Builder, Res, u32c};
use super::job::{GemmJob, OutKind, WSource};
use super::tile::emit_gemm_job;
use super::tiling::{Mapped, TileNeeds, budget, choose_tiling};
use super::{DataflowOptions, ScheduleError, StepNumerics};
use crate::arch::ArchConfig;
use crate::isa::{Buf, Deps, DmaFormat, GemmMode, Instr, NO_SHIFT, VecOp};
use crate::nm::NmPattern;
use crate::program::{Program, RegionKind, Tag};
use crate::workload::Pass;

/// The right-hand operand of a standalone GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmOperand {
    /// Dense `k×n` int16, row-major.
    Dense,
    /// N:M compressed along `k`: `(k·N/M) × n` values and indices in the
    /// interleaved `nm_row` layout.
    Nm(NmPattern),
}

/// A standalone program and where its operands live in DRAM.
#[derive(Debug, Clone)]
pub struct KernelProgram {
    /// The program (memory image empty: the caller fills the inputs).
    pub program: Program,
    /// DRAM byte addresses of the inputs, in the order the kernel documents.
    pub inputs: Vec<u64>,
    /// DRAM byte address of the output.
    pub output: u64,
}

/// A builder for a standalone kernel: offline scheduling on, one
/// activation bank, the default numerics.
fn kernel_builder(arch: &ArchConfig) -> Builder<'_> {
    Builder::new(arch, budget(arch, true, false), StepNumerics::default())
}

/// `C[m×n] = requantize(A[m×k] · B[k×n], shift)` as a SAT program, tiled and
/// scheduled like a training step's GEMM. Inputs: `A` (int16, row-major),
/// `B` (see [`GemmOperand`]); output `C` (int16, row-major). Used to run the
/// reference trainer's GEMMs on the simulated SAT.
pub fn compile_gemm(
    arch: &ArchConfig,
    m: u64,
    n: u64,
    k: u64,
    operand: GemmOperand,
    shift: u32,
    pass: Pass,
) -> Result<KernelProgram, ScheduleError> {
    let mode = match operand {
        GemmOperand::Dense => GemmMode::Dense,
        GemmOperand::Nm(p) => {
            if !arch.supports(p) {
                return Err(ScheduleError::unsupported(arch, p));
            }
            GemmMode::Nm(p)
        }
    };
    let mut b = kernel_builder(arch);
    let layer = b.prog.layer_index("gemm");
    let a = b.region("a", RegionKind::Activation, 2 * m * k);
    let w_src = match operand {
        GemmOperand::Dense => {
            WSource::Dense { region: b.region("b", RegionKind::Weights, 2 * k * n), transposed: false }
        }
        GemmOperand::Nm(p) => {
            let rows = k * u64::from(p.n()) / u64::from(p.m());
            let bytes = rows * DmaFormat::NmRow.row_bytes(n, p.index_bits());
            WSource::Compressed { pattern: p, values: b.region("b", RegionKind::WeightsFf, bytes), indices: None }
        }
    };
    let c = b.region("c", RegionKind::Activation, 2 * m * n);
    let mp = Mapped { m, n, k, mode, a_reuse: (1, 1), gather: None };
    let w_fmt = match operand {
        GemmOperand::Nm(p) => (2 * 16 + 2 * u64::from(p.index_bits()), 16),
        GemmOperand::Dense => (2, 1),
    };
    let needs = TileNeeds {
        layer: "gemm",
        pass,
        o_tiles: 1,
        w_fmt,
        masked: false,
        on_the_fly: false,
        timing: crate::timing::TimingModel::Sat,
        flows: &[crate::arch::Stationarity::Os],
    };
    let tiling = choose_tiling(arch, &mp, &b.budget, &needs)?;
    let b_addr = match &w_src {
        WSource::Dense { region, .. } | WSource::SparsifyOnTheFly { region, .. } => region.1,
        WSource::Compressed { values, .. } => values.1,
    };
    let shift = i8::try_from(shift).map_err(|_| ScheduleError::TooLarge {
        layer: "gemm".into(),
        what: "requantize shift".into(),
        value: u64::from(shift),
    })?;
    let job = GemmJob {
        tag: Tag { layer, pass },
        layer: "gemm".into(),
        mp,
        tiling,
        w_fmt,
        a_region: a,
        a_row: k,
        a_trans: false,
        im2col: None,
        tap_blocks: None,
        w_src,
        out: OutKind::Activation { region: c, relu: false, mask: None, row: n, shift },
    };
    emit_gemm_job(&mut b, &job, &DataflowOptions::default())?;
    Ok(KernelProgram { program: b.finish(Pass::Ff).0, inputs: vec![a.1, b_addr], output: c.1 })
}

fn dma1(buf: Buf, fmt: DmaFormat, dram: u64, sram: u64, n: u64, store: bool) -> Instr {
    let stride = if fmt == DmaFormat::I32 { 4 * n } else { 2 * n };
    if store {
        Instr::Store {
            deps: Deps::default(),
            buf,
            fmt,
            index_bits: 0,
            dram,
            sram: u32c(sram),
            rows: 1,
            cols: u32c(n),
            stride,
            shift: 0,
            relu: false,
        }
    } else {
        Instr::Load {
            deps: Deps::default(),
            buf,
            fmt,
            index_bits: 0,
            dram,
            sram: u32c(sram),
            rows: 1,
            cols: u32c(n),
            stride,
        }
    }
}

/// The vector unit's SGD-with-momentum update of `len` master weights.
/// Inputs: `dW` (as `i32`, requantized by `grad_shift` on the unit), master
/// weights and momentum (`i32`); it writes the new master weights and
/// momentum in place and the int16 operand weights at `output`. `params` are
/// `vec sgd`'s `p1..p4`: learning-rate shift, momentum shift (0: none),
/// gradient alignment (left shift), weight-decay shift (0xFF: none).
/// With `sr_ste` (SR-STE's shift), a fourth input holds one int16 flag per
/// weight (non-zero: pruned by the FF mask) that gates SR-STE's decay term.
pub fn compile_sgd(arch: &ArchConfig, len: u64, grad_shift: i8, params: [u8; 4], sr_ste: Option<u8>) -> KernelProgram {
    let mut b = kernel_builder(arch);
    let layer = b.prog.layer_index("sgd");
    let tag = Tag { layer, pass: Pass::Wu };
    let g = b.region("grad", RegionKind::WeightGradient, 4 * len);
    let w = b.region("master", RegionKind::MasterWeights, 4 * len);
    let v = b.region("momentum", RegionKind::Momentum, 4 * len);
    let q = b.region("weights", RegionKind::Weights, 2 * len);
    let pruned = sr_ste.map(|_| b.region("pruned", RegionKind::Activation, 2 * len));
    let chunk = (b.budget.o_slot / 3).min(b.budget.stage_slot).max(1);
    let mut off = 0;
    while off < len {
        let n = chunk.min(len - off);
        let o_slot = Builder::next(&mut b.o_ring, b.budget.o_slots);
        let o_res = Res::OSlot(o_slot);
        let o_base = o_slot * b.budget.o_slot;
        let s_slot = Builder::next(&mut b.s_ring, b.budget.slots);
        let s_res = Res::Stage(s_slot);
        let s_base = b.budget.stage_base(s_slot);
        for (i, r) in [g, w, v].iter().enumerate() {
            let instr = dma1(Buf::O, DmaFormat::I32, r.1 + 4 * off, o_base + i as u64 * n, n, false);
            b.emit(instr, tag, &[Res::Dram(r.0)], &[o_res]);
        }
        // The flags go where the new operand weights will be written.
        if let Some(r) = pruned {
            b.emit(dma1(Buf::A, DmaFormat::I16, r.1 + 2 * off, s_base, n, false), tag, &[Res::Dram(r.0)], &[s_res]);
        }
        let sgd_reads = if pruned.is_some() { vec![o_res, s_res] } else { vec![o_res] };
        b.emit(
            Instr::Vec {
                deps: Deps::default(),
                op: VecOp::Sgd,
                len: u32c(n),
                src: u32c(o_base),
                src2: u32c(o_base + 2 * n),
                dst: u32c(o_base + n),
                aux: u32c(s_base),
                shift: grad_shift,
                p1: params[0],
                p2: params[1],
                p3: params[2],
                p4: params[3],
                mask: if sr_ste.is_some() { u32c(s_base) } else { 0 },
                p5: sr_ste.unwrap_or(NO_SHIFT),
            },
            tag,
            &sgd_reads,
            &[o_res, s_res],
        );
        for (i, r) in [(1u64, w), (2, v)] {
            let instr = dma1(Buf::O, DmaFormat::I32, r.1 + 4 * off, o_base + i * n, n, true);
            b.emit(instr, tag, &[o_res], &[Res::Dram(r.0)]);
        }
        b.emit(dma1(Buf::A, DmaFormat::I16, q.1 + 2 * off, s_base, n, true), tag, &[s_res], &[Res::Dram(q.0)]);
        off += n;
    }
    let mut inputs = vec![g.1, w.1, v.1];
    inputs.extend(pruned.map(|r| r.1));
    KernelProgram { program: b.finish(Pass::Ff).0, inputs, output: q.1 }
}

/// The vector unit's softmax cross-entropy gradient of `rows × classes`
/// int16 logits with one int16 label per row, in the fixed-point formats
/// `act_frac` and `grad_frac`. Inputs: logits, labels; output: the gradient.
pub fn compile_loss_grad(arch: &ArchConfig, rows: u64, classes: u64, act_frac: u8, grad_frac: u8) -> KernelProgram {
    let mut b = kernel_builder(arch);
    let layer = b.prog.layer_index("loss");
    let tag = Tag { layer, pass: Pass::Bp };
    let logits = b.region("logits", RegionKind::Activation, 2 * rows * classes);
    let labels = b.region("labels", RegionKind::Labels, 2 * rows);
    let grad = b.region("grad", RegionKind::Gradient, 2 * rows * classes);
    let per = (b.budget.a_slot / (classes + 1)).min(b.budget.stage_slot / classes.max(1)).max(1);
    let mut r0 = 0;
    while r0 < rows {
        let n = per.min(rows - r0);
        let a_slot = Builder::next(&mut b.a_ring[0], b.budget.slots);
        let a_res = Res::ASlot(a_slot);
        let a_base = a_slot * b.budget.a_slot;
        let s_slot = Builder::next(&mut b.s_ring, b.budget.slots);
        let s_res = Res::Stage(s_slot);
        let s_base = b.budget.stage_base(s_slot);
        let len = n * classes;
        b.emit(
            dma1(Buf::A, DmaFormat::I16, logits.1 + 2 * r0 * classes, a_base, len, false),
            tag,
            &[Res::Dram(logits.0)],
            &[a_res],
        );
        b.emit(
            dma1(Buf::A, DmaFormat::I16, labels.1 + 2 * r0, a_base + len, n, false),
            tag,
            &[Res::Dram(labels.0)],
            &[a_res],
        );
        b.emit(
            Instr::Vec {
                deps: Deps::default(),
                op: VecOp::LossGrad,
                len: u32c(len),
                src: u32c(a_base),
                src2: u32c(a_base + len),
                dst: u32c(s_base),
                aux: u32c(classes),
                shift: 0,
                p1: act_frac,
                p2: grad_frac,
                p3: 0,
                p4: 0,
                mask: 0,
                p5: NO_SHIFT,
            },
            tag,
            &[a_res],
            &[s_res],
        );
        b.emit(
            dma1(Buf::A, DmaFormat::I16, grad.1 + 2 * r0 * classes, s_base, len, true),
            tag,
            &[s_res],
            &[Res::Dram(grad.0)],
        );
        r0 += n;
    }
    KernelProgram { program: b.finish(Pass::Ff).0, inputs: vec![logits.1, labels.1], output: grad.1 }
}
