//! Which buffer ranges an instruction reads and writes: the basis of the
//! program checker's capacity checks and of the simulator's scoreboard,
//! which lets the PE array, the vector unit and the sparsifier run at the
//! same time unless their buffer ranges conflict.

use crate::arch::ArchConfig;
use crate::isa::{Buf, GemmMode, Instr, VecOp};

/// A half-open range of buffer elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The buffer.
    pub buf: Buf,
    /// First element.
    pub start: u64,
    /// One past the last element.
    pub end: u64,
}

impl Range {
    fn new(buf: Buf, start: u64, len: u64) -> Self {
        Range { buf, start, end: start + len }
    }

    /// True when both ranges touch a common element of the same buffer.
    pub fn overlaps(&self, o: &Range) -> bool {
        self.buf == o.buf && self.start < o.end && o.start < self.end && self.start < self.end && o.start < o.end
    }
}

/// Up to [`RangeList::CAPACITY`] ranges, held inline: the checker and the
/// simulator compute one [`Accesses`] per instruction of programs of
/// millions, and two heap vectors each were a tenth of the simulator's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeList {
    items: [Range; RangeList::CAPACITY],
    len: u8,
}

impl RangeList {
    /// The most ranges one instruction reads (`vec sgd` with SR-STE's
    /// pruned flags: gradient, momentum, master weights, flags) or writes.
    pub const CAPACITY: usize = 4;

    /// Appends `r`.
    ///
    /// # Panics
    /// When the list is full: an instruction with more operands than
    /// [`Self::CAPACITY`] needs a larger capacity.
    pub fn push(&mut self, r: Range) {
        assert!((self.len as usize) < Self::CAPACITY, "more than {} buffer ranges", Self::CAPACITY);
        self.items[self.len as usize] = r;
        self.len += 1;
    }
}

impl Default for RangeList {
    fn default() -> Self {
        RangeList { items: [Range { buf: Buf::A, start: 0, end: 0 }; Self::CAPACITY], len: 0 }
    }
}

impl std::ops::Deref for RangeList {
    type Target = [Range];
    fn deref(&self) -> &[Range] {
        &self.items[..self.len as usize]
    }
}

/// The buffer ranges of one instruction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accesses {
    /// Ranges read.
    pub reads: RangeList,
    /// Ranges written.
    pub writes: RangeList,
}

impl Accesses {
    /// True when `self` must wait for `earlier` (read-after-write,
    /// write-after-read or write-after-write on a common element).
    pub fn conflicts_with(&self, earlier: &Accesses) -> bool {
        conflict(&self.reads, &self.writes, &earlier.reads, &earlier.writes)
    }
}

/// True when an instruction reading `reads` and writing `writes` must wait
/// for an earlier one reading `earlier_reads` and writing `earlier_writes`
/// (read-after-write, write-after-read or write-after-write on a common
/// element); [`Accesses::conflicts_with`] on plain slices.
pub fn conflict(reads: &[Range], writes: &[Range], earlier_reads: &[Range], earlier_writes: &[Range]) -> bool {
    let any = |a: &[Range], b: &[Range]| a.iter().any(|x| b.iter().any(|y| x.overlaps(y)));
    any(reads, earlier_writes) || any(writes, earlier_reads) || any(writes, earlier_writes)
}

/// Elements of the activation buffer a GEMM's `A` operand spans: `m` rows
/// of `k` with row stride `a_stride`, or (transposed) `k` rows of `m`.
pub fn gemm_a_extent(m: u64, k: u64, a_stride: u64, transposed: bool) -> u64 {
    let (rows, cols) = if transposed { (k, m) } else { (m, k) };
    if rows == 0 || cols == 0 { 0 } else { (rows - 1) * a_stride + cols }
}

/// The buffer ranges `i` reads and writes on `arch`.
pub fn accesses(i: &Instr, _arch: &ArchConfig) -> Accesses {
    let mut a = Accesses::default();
    match *i {
        Instr::Load { buf, sram, rows, cols, .. } => {
            a.writes.push(Range::new(buf, u64::from(sram), u64::from(rows) * u64::from(cols)));
        }
        Instr::Load2col { sram, rows, cols, .. } => {
            a.writes.push(Range::new(Buf::A, u64::from(sram), u64::from(rows) * u64::from(cols)));
        }
        Instr::Store { buf, sram, rows, cols, .. } => {
            a.reads.push(Range::new(buf, u64::from(sram), u64::from(rows) * u64::from(cols)));
        }
        Instr::Gemm { mode, acc, at, m, n, k, a: aa, a_stride, w, o, .. } => {
            let (m, n, k) = (u64::from(m), u64::from(n), u64::from(k));
            let a_ext = gemm_a_extent(m, k, u64::from(a_stride), at);
            let k_eff = match mode {
                GemmMode::Dense => k,
                GemmMode::Nm(p) => k * u64::from(p.n()) / u64::from(p.m()),
            };
            a.reads.push(Range::new(Buf::A, u64::from(aa), a_ext));
            a.reads.push(Range::new(Buf::W, u64::from(w), k_eff * n));
            if acc {
                a.reads.push(Range::new(Buf::O, u64::from(o), m * n));
            }
            a.writes.push(Range::new(Buf::O, u64::from(o), m * n));
        }
        Instr::Vec { op, len, src, src2, dst, aux, mask, p5, .. } => {
            let (len, src, src2, dst, aux) =
                (u64::from(len), u64::from(src), u64::from(src2), u64::from(dst), u64::from(aux));
            match op {
                VecOp::Requant => {
                    a.reads.push(Range::new(Buf::O, src, len));
                    a.writes.push(Range::new(Buf::A, dst, len));
                }
                VecOp::ReluBwd => {
                    a.reads.push(Range::new(Buf::O, src, len));
                    a.reads.push(Range::new(Buf::A, src2, len));
                    a.writes.push(Range::new(Buf::O, dst, len));
                }
                VecOp::Add => {
                    a.reads.push(Range::new(Buf::A, src, len));
                    a.reads.push(Range::new(Buf::A, src2, len));
                    a.writes.push(Range::new(Buf::A, dst, len));
                }
                VecOp::Sgd => {
                    a.reads.push(Range::new(Buf::O, src, len));
                    a.reads.push(Range::new(Buf::O, src2, len));
                    a.reads.push(Range::new(Buf::O, dst, len));
                    a.writes.push(Range::new(Buf::O, src2, len));
                    a.writes.push(Range::new(Buf::O, dst, len));
                    a.writes.push(Range::new(Buf::A, aux, len));
                    if p5 != crate::isa::NO_SHIFT {
                        a.reads.push(Range::new(Buf::A, u64::from(mask), len));
                    }
                }
                VecOp::LossGrad => {
                    let rows = len.checked_div(aux).unwrap_or(0);
                    a.reads.push(Range::new(Buf::A, src, len));
                    a.reads.push(Range::new(Buf::A, src2, rows));
                    a.writes.push(Range::new(Buf::A, dst, len));
                }
                VecOp::Clear => a.writes.push(Range::new(Buf::O, dst, len)),
            }
        }
        Instr::Sparsify { pattern, master, mask_out, rows, cols, src, dst, .. } => {
            let n = u64::from(rows) * u64::from(cols);
            a.reads.push(Range::new(if master { Buf::O } else { Buf::A }, u64::from(src), n));
            if mask_out {
                a.writes.push(Range::new(Buf::A, u64::from(dst), n));
            } else {
                a.writes.push(Range::new(Buf::W, u64::from(dst), n * u64::from(pattern.n()) / u64::from(pattern.m())));
            }
        }
        Instr::Sync { .. } | Instr::Halt { .. } => {}
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_rules() {
        let r = |s, e| Range { buf: Buf::A, start: s, end: e };
        assert!(r(0, 10).overlaps(&r(9, 12)));
        assert!(!r(0, 10).overlaps(&r(10, 12)));
        assert!(!r(0, 10).overlaps(&Range { buf: Buf::W, start: 0, end: 10 }));
        assert!(!r(5, 5).overlaps(&r(0, 10)), "empty ranges never conflict");
    }
}
