//! The program checker: every instruction must fit the buffers and DRAM of
//! its `ArchConfig`, use a supported N:M pattern with whole groups, and
//! name formats its buffer can hold. The simulator runs it before executing,
//! and property tests run it on every compiled program.

use crate::arch::ArchConfig;
use crate::error::CheckError;
use crate::isa::{Buf, DmaFormat, GemmMode, Instr, VecOp};
use crate::program::Program;

/// Capacity of a buffer in elements (16-bit words for `A`, value slots for
/// `W`, accumulators for `O`).
pub fn capacity(arch: &ArchConfig, buf: Buf) -> u64 {
    match buf {
        Buf::A => arch.buffers.activation.bytes / u64::from(arch.element_bytes()),
        Buf::W => arch.buffers.weight.bytes / u64::from(arch.element_bytes()),
        Buf::O => arch.buffers.output.bytes / u64::from(arch.accumulator_bytes()),
    }
}

/// Checks every instruction; returns all violations (empty when valid).
pub fn check_program(p: &Program, arch: &ArchConfig) -> Vec<CheckError> {
    let mut errs = Vec::new();
    for (index, i) in p.instrs.iter().enumerate() {
        for message in check_instr(i, arch, p.dram_bytes) {
            errs.push(CheckError { index, text: i.to_text(), message });
        }
    }
    if !matches!(p.instrs.last(), Some(Instr::Halt { .. })) {
        errs.push(CheckError {
            index: p.instrs.len(),
            text: "<end>".into(),
            message: "a program must end with `halt`".into(),
        });
    }
    errs
}

/// Problems of one instruction.
pub fn check_instr(i: &Instr, arch: &ArchConfig, dram_bytes: u64) -> Vec<String> {
    let mut v = Vec::new();
    // A DRAM range problem is listed after every other.
    let dram_problem = match i {
        Instr::Load { .. } | Instr::Store { .. } => check_transfer(&mut v, i, arch, dram_bytes),
        Instr::Load2col { .. } => check_load2col(&mut v, i, arch, dram_bytes),
        Instr::Gemm { .. } => {
            check_gemm(&mut v, i, arch);
            None
        }
        Instr::Vec { .. } => {
            check_vec(&mut v, i, arch);
            None
        }
        Instr::Sparsify { .. } => {
            check_sparsify(&mut v, i, arch);
            None
        }
        Instr::Sync { .. } | Instr::Halt { .. } => None,
    };
    v.extend(dram_problem);
    v
}

/// A `load`'s or `store`'s format, extent and stride; its DRAM range problem, if any.
fn check_transfer(v: &mut Vec<String>, i: &Instr, arch: &ArchConfig, dram_bytes: u64) -> Option<String> {
    let mut dram_problem = None;
    let (Instr::Load { buf, fmt, index_bits, dram, sram, rows, cols, stride, .. }
    | Instr::Store { buf, fmt, index_bits, dram, sram, rows, cols, stride, .. }) = *i
    else {
        return None;
    };
    let ibits = u32::from(index_bits);
    let is_store = matches!(i, Instr::Store { .. });
    let ok = match buf {
        Buf::A => fmt == DmaFormat::I16,
        Buf::W => matches!(fmt, DmaFormat::I16 | DmaFormat::NmRow | DmaFormat::NmValues | DmaFormat::NmIndices),
        // Stores from O may requantize to i16 on the way out.
        Buf::O => fmt == DmaFormat::I32 || (is_store && fmt == DmaFormat::I16),
    };
    if !ok {
        v.push(format!("format {fmt:?} cannot move to or from the {} buffer", buf.name()));
    }
    if fmt.is_nm() && !(1..=4).contains(&ibits) {
        v.push(format!("N:M format needs 1..=4 index bits, got {ibits}"));
    }
    let (rows, cols) = (u64::from(rows), u64::from(cols));
    fits(v, arch, buf, u64::from(sram), rows * cols, "transfer");
    let row_bytes = fmt.row_bytes(cols, ibits);
    if rows > 1 && stride < row_bytes {
        v.push(format!("DRAM stride {stride} is shorter than a row ({row_bytes} bytes)"));
    }
    let end = if rows == 0 { dram } else { dram + (rows - 1) * stride + row_bytes };
    if end > dram_bytes {
        dram_problem = Some(format!("DRAM [{dram:#x}, {end:#x}) is outside the program's {dram_bytes:#x} bytes"));
    }

    dram_problem
}

/// A `load2col`'s tile, geometry, bursts and line-buffer window; its DRAM range problem, if any.
fn check_load2col(v: &mut Vec<String>, i: &Instr, arch: &ArchConfig, dram_bytes: u64) -> Option<String> {
    let mut dram_problem = None;
    let Instr::Load2col { dram, sram, rows, cols, p0, k0, geom: g, bursts, .. } = *i else { return None };
    let (rows, cols, p0, k0) = (u64::from(rows), u64::from(cols), u64::from(p0), u64::from(k0));
    fits(v, arch, Buf::A, u64::from(sram), rows * cols, "im2col tile");
    let (p, q) = g.out_hw();
    if p == 0 || q == 0 || g.ic == 0 || g.cs == 0 || g.dil == 0 {
        v.push(format!(
            "im2col geometry {}x{}x{} kernel {}x{} stride {} dilation {} has no output",
            g.ih, g.iw, g.ic, g.kh, g.kw, g.cs, g.dil
        ));
    } else {
        if k0 + cols > g.k() {
            v.push(format!("im2col columns [{k0}, {}) exceed K = {}", k0 + cols, g.k()));
        }
        let want = g.gather_bursts(arch.dram.im2col, p0, rows, k0, cols, u64::from(arch.dram.burst_bytes));
        if u64::from(bursts) != want {
            v.push(format!(
                "bursts {bursts} is not the tile's {want} under dram.im2col = {:?} (im2col::ConvGeom::gather_bursts)",
                arch.dram.im2col
            ));
        }
        let lb = arch.dram.line_buffer_bytes / 2;
        let w = g.line_window(p0, rows, k0, cols);
        if arch.dram.im2col == crate::arch::Im2col::LineBuffer && w.elems() > lb {
            v.push(format!(
                "raw window of {} rows x {} pixels x {} channels ({} elements) exceeds the {lb}-element line buffer",
                w.rows,
                w.iw,
                w.chans,
                w.elems()
            ));
        }
        if rows > 0 {
            let images = (p0 + rows - 1) / (p * q) + 1;
            let end = dram + 2 * images * g.image_elems();
            if end > dram_bytes {
                dram_problem =
                    Some(format!("DRAM [{dram:#x}, {end:#x}) is outside the program's {dram_bytes:#x} bytes"));
            }
        }
    }

    dram_problem
}

/// A `gemm`'s mapping, mode, strides and operand extents.
fn check_gemm(v: &mut Vec<String>, i: &Instr, arch: &ArchConfig) {
    let Instr::Gemm { mode, at, wt, m, n, k, a, a_stride, w, o, ws, .. } = *i else { return };
    let (m, n, k) = (u64::from(m), u64::from(n), u64::from(k));
    if ws && !arch.pe_array.dataflows.contains(&crate::arch::Stationarity::Ws) {
        v.push(format!("a weight-stationary GEMM (ws), but `{}` lists no \"ws\" in pe_array.dataflows", arch.name));
    }
    if !ws && !arch.pe_array.dataflows.contains(&crate::arch::Stationarity::Os) {
        v.push(format!("an output-stationary GEMM, but `{}` lists no \"os\" in pe_array.dataflows", arch.name));
    }
    if ws && at {
        v.push("a weight-stationary GEMM (ws) cannot read a transposed activation operand (at)".to_string());
    }
    let (rows, row_len) = if at { (k, m) } else { (m, k) };
    if u64::from(a_stride) < row_len && rows > 1 {
        v.push(format!("activation stride {a_stride} is shorter than a row of {row_len}"));
    }
    if wt && mode != GemmMode::Dense {
        v.push("a transposed weight operand (wt) is only allowed in dense mode".to_string());
    }
    let k_eff = match mode {
        GemmMode::Dense => k,
        GemmMode::Nm(p) => {
            if !arch.supports(p) {
                v.push(format!("pattern {p} is not supported by `{}`", arch.name));
            }
            if k % u64::from(p.m()) != 0 {
                v.push(format!("k = {k} is not a multiple of M = {}", p.m()));
            }
            k * u64::from(p.n()) / u64::from(p.m())
        }
    };
    let a_ext = crate::access::gemm_a_extent(m, k, u64::from(a_stride), at);
    fits(v, arch, Buf::A, u64::from(a), a_ext, "activation operand");
    fits(v, arch, Buf::W, u64::from(w), k_eff * n, "weight operand");
    fits(v, arch, Buf::O, u64::from(o), m * n, "output tile");
}

/// A vector instruction's operand extents.
fn check_vec(v: &mut Vec<String>, i: &Instr, arch: &ArchConfig) {
    let Instr::Vec { op, len, src, src2, dst, aux, mask, p5, .. } = *i else { return };
    let (len, src, src2, dst, aux) = (u64::from(len), u64::from(src), u64::from(src2), u64::from(dst), u64::from(aux));
    match op {
        VecOp::Requant => {
            fits(v, arch, Buf::O, src, len, "source");
            fits(v, arch, Buf::A, dst, len, "destination");
        }
        VecOp::ReluBwd => {
            fits(v, arch, Buf::O, src, len, "gradient");
            fits(v, arch, Buf::A, src2, len, "forward activation");
            fits(v, arch, Buf::O, dst, len, "destination");
        }
        VecOp::Add => {
            fits(v, arch, Buf::A, src, len, "source");
            fits(v, arch, Buf::A, src2, len, "second source");
            fits(v, arch, Buf::A, dst, len, "destination");
        }
        VecOp::Sgd => {
            fits(v, arch, Buf::O, src, len, "gradient");
            fits(v, arch, Buf::O, src2, len, "momentum");
            fits(v, arch, Buf::O, dst, len, "master weights");
            fits(v, arch, Buf::A, aux, len, "operand weights");
            if p5 != crate::isa::NO_SHIFT {
                fits(v, arch, Buf::A, u64::from(mask), len, "pruned mask");
            }
        }
        VecOp::LossGrad => {
            // `aux` holds the number of classes (a row of logits).
            if aux == 0 || len % aux != 0 {
                v.push(format!("len {len} is not a whole number of rows of {aux} classes"));
            } else {
                fits(v, arch, Buf::A, src2, len / aux, "labels");
            }
            fits(v, arch, Buf::A, src, len, "logits");
            fits(v, arch, Buf::A, dst, len, "destination");
        }
        VecOp::Clear => fits(v, arch, Buf::O, dst, len, "destination"),
    }
}

/// A `sparsify`'s pattern, grouping and operand extents.
fn check_sparsify(v: &mut Vec<String>, i: &Instr, arch: &ArchConfig) {
    let Instr::Sparsify { pattern, axis, master, mask_out, rows, cols, src, dst, .. } = *i else { return };
    let (rows, cols) = (u64::from(rows), u64::from(cols));
    if !arch.supports(pattern) {
        v.push(format!("pattern {pattern} is not supported by `{}`", arch.name));
    }
    let grouped = if axis == 0 { rows } else { cols };
    if grouped % u64::from(pattern.m()) != 0 {
        v.push(format!("grouped dimension {grouped} is not a multiple of M = {}", pattern.m()));
    }
    let sbuf = if master { Buf::O } else { Buf::A };
    fits(v, arch, sbuf, u64::from(src), rows * cols, "dense weights");
    if mask_out {
        fits(v, arch, Buf::A, u64::from(dst), rows * cols, "pruned mask");
    } else {
        fits(
            v,
            arch,
            Buf::W,
            u64::from(dst),
            rows * cols * u64::from(pattern.n()) / u64::from(pattern.m()),
            "compressed weights",
        );
    }
}

fn fits(v: &mut Vec<String>, arch: &ArchConfig, buf: Buf, addr: u64, len: u64, what: &str) {
    let cap = capacity(arch, buf);
    if addr + len > cap {
        v.push(format!("{what} [{addr}, {}) exceeds the {}-element {} buffer", addr + len, cap, buf.name()));
    }
}
