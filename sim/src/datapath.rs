//! The SAT datapath: what each instruction does to DRAM and the buffers,
//! with the int16 arithmetic of [`nmsat_dataflow::numerics`] — the data
//! semantics of `docs/sat-microarchitecture.md`, which the Verilog
//! implements too.
//!
//! The timing engine applies an instruction's effect when it issues, in
//! issue order. That is exact for programs whose tokens and the scoreboard
//! order every producer before its consumers, which is what the scheduler
//! and the checker guarantee: nothing can observe the difference between
//! "written at issue" and "written at retirement".

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::check::capacity;
use nmsat_dataflow::isa::{Buf, DmaFormat, GemmMode, Instr, NM_CHUNK, NO_SHIFT, VecOp};
use nmsat_dataflow::nm::top_n_in_group;
use nmsat_dataflow::numerics::{self, ACCUMULATOR_BITS, SgdShifts};
use nmsat_dataflow::program::Program;

pub use nmsat_dataflow::schedule::NO_WEIGHT_DECAY;

/// DRAM and on-chip buffer contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// DRAM bytes.
    pub dram: Vec<u8>,
    /// Activation buffer words.
    pub a: Vec<i16>,
    /// Weight buffer values.
    pub w: Vec<i16>,
    /// Weight buffer in-group indices.
    pub widx: Vec<u8>,
    /// Output buffer accumulators (48-bit, sign-extended).
    pub o: Vec<i64>,
}

impl Machine {
    /// A machine with `program`'s memory image in DRAM and zeroed buffers.
    pub fn new(program: &Program, arch: &ArchConfig) -> Self {
        let mut dram = vec![0u8; program.dram_bytes as usize];
        for (addr, bytes) in &program.image {
            let a = *addr as usize;
            let end = (a + bytes.len()).min(dram.len());
            if a < end {
                dram[a..end].copy_from_slice(&bytes[..end - a]);
            }
        }
        Machine {
            dram,
            a: vec![0; capacity(arch, Buf::A) as usize],
            w: vec![0; capacity(arch, Buf::W) as usize],
            widx: vec![0; capacity(arch, Buf::W) as usize],
            o: vec![0; capacity(arch, Buf::O) as usize],
        }
    }

    /// Reads a little-endian `i16` from DRAM.
    pub fn read_i16(&self, addr: u64) -> i16 {
        let a = addr as usize;
        i16::from_le_bytes([self.dram[a], self.dram[a + 1]])
    }

    /// Reads a little-endian `i32` from DRAM.
    pub fn read_i32(&self, addr: u64) -> i32 {
        let a = addr as usize;
        i32::from_le_bytes([self.dram[a], self.dram[a + 1], self.dram[a + 2], self.dram[a + 3]])
    }

    fn write_i16(&mut self, addr: u64, v: i16) {
        let a = addr as usize;
        self.dram[a..a + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn write_i32(&mut self, addr: u64, v: i32) {
        let a = addr as usize;
        self.dram[a..a + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Applies one instruction. The program checker has verified every
    /// range, so indexing cannot fail on a checked program.
    pub fn execute(&mut self, instr: &Instr) {
        match instr {
            Instr::Load { .. } => self.load(instr),
            Instr::Load2col { .. } => self.load2col(instr),
            Instr::Store { .. } => self.store(instr),
            Instr::Gemm { .. } => self.gemm(instr),
            Instr::Vec { .. } => self.vector(instr),
            Instr::Sparsify { .. } => self.sparsify(instr),
            Instr::Sync { .. } | Instr::Halt { .. } => {}
        }
    }

    /// Moves a `load`'s rows from DRAM into a buffer, unpacking N:M formats.
    fn load(&mut self, instr: &Instr) {
        let Instr::Load { buf, fmt, index_bits, dram, sram, rows, cols, stride, .. } = *instr else { return };
        let ib = u32::from(index_bits);
        for r in 0..u64::from(rows) {
            let row = dram + r * stride;
            for c in 0..u64::from(cols) {
                let at = (u64::from(sram) + r * u64::from(cols) + c) as usize;
                match (buf, fmt) {
                    (Buf::A, _) => self.a[at] = self.read_i16(row + 2 * c),
                    (Buf::O, _) => self.o[at] = i64::from(self.read_i32(row + 4 * c)),
                    (Buf::W, DmaFormat::I16 | DmaFormat::NmValues) => {
                        self.w[at] = self.read_i16(row + 2 * c);
                        self.widx[at] = 0;
                    }
                    (Buf::W, DmaFormat::NmRow) => {
                        let (base, i) = chunk_addr(row, c, ib);
                        self.w[at] = self.read_i16(base + 2 * i);
                        self.widx[at] = read_index(&self.dram, base + 2 * NM_CHUNK, i, ib);
                    }
                    (Buf::W, DmaFormat::NmIndices) => self.widx[at] = read_index(&self.dram, row, c, ib),
                    (Buf::W, DmaFormat::I32) => self.w[at] = self.read_i32(row + 4 * c) as i16,
                }
            }
        }
    }

    /// Gathers a `load2col`'s im2col tile into the activation buffer (padding reads 0).
    fn load2col(&mut self, instr: &Instr) {
        let Instr::Load2col { dram, sram, rows, cols, p0, k0, geom, .. } = *instr else { return };
        for i in 0..u64::from(rows) {
            for j in 0..u64::from(cols) {
                let v = geom.element(u64::from(p0) + i, u64::from(k0) + j).map_or(0, |e| self.read_i16(dram + 2 * e));
                self.a[(u64::from(sram) + i * u64::from(cols) + j) as usize] = v;
            }
        }
    }

    /// Moves a `store`'s rows from a buffer to DRAM, requantizing or packing N:M formats.
    fn store(&mut self, instr: &Instr) {
        let Instr::Store { buf, fmt, index_bits, dram, sram, rows, cols, stride, shift, relu, .. } = *instr else {
            return;
        };
        let ib = u32::from(index_bits);
        for r in 0..u64::from(rows) {
            let row = dram + r * stride;
            for c in 0..u64::from(cols) {
                let at = (u64::from(sram) + r * u64::from(cols) + c) as usize;
                match (buf, fmt) {
                    (Buf::A, _) => self.write_i16(row + 2 * c, self.a[at]),
                    (Buf::O, DmaFormat::I16) => {
                        let q = numerics::requantize(self.o[at], shift.max(0) as u32);
                        self.write_i16(row + 2 * c, if relu { numerics::relu(q) } else { q });
                    }
                    (Buf::O, _) => {
                        let v = numerics::saturate_i32(numerics::wrap_acc(self.o[at], ACCUMULATOR_BITS));
                        self.write_i32(row + 4 * c, v);
                    }
                    (Buf::W, DmaFormat::NmRow) => {
                        let (base, i) = chunk_addr(row, c, ib);
                        self.write_i16(base + 2 * i, self.w[at]);
                        write_index(&mut self.dram, base + 2 * NM_CHUNK, i, ib, self.widx[at]);
                    }
                    (Buf::W, DmaFormat::NmIndices) => write_index(&mut self.dram, row, c, ib, self.widx[at]),
                    (Buf::W, _) => self.write_i16(row + 2 * c, self.w[at]),
                }
            }
        }
    }

    /// A `gemm`: dense or N:M products into the output buffer, wrapped to the accumulator.
    fn gemm(&mut self, instr: &Instr) {
        let Instr::Gemm { mode, acc, at, wt, m, n, k, a, a_stride, w, o, .. } = *instr else { return };
        let (m, n, k) = (m as usize, n as usize, k as usize);
        let (a, a_stride, w, o) = (a as usize, a_stride as usize, w as usize, o as usize);
        let a_at = |i: usize, kk: usize| if at { a + kk * a_stride + i } else { a + i * a_stride + kk };
        for i in 0..m {
            for j in 0..n {
                let mut sum: i64 = if acc { self.o[o + i * n + j] } else { 0 };
                match mode {
                    GemmMode::Dense => {
                        for kk in 0..k {
                            let wv = if wt { self.w[w + j * k + kk] } else { self.w[w + kk * n + j] };
                            sum += i64::from(self.a[a_at(i, kk)]) * i64::from(wv);
                        }
                    }
                    GemmMode::Nm(p) => {
                        let (pn, pm) = (p.n() as usize, p.m() as usize);
                        for r in 0..k * pn / pm {
                            let slot = w + r * n + j;
                            let col = (r / pn) * pm + usize::from(self.widx[slot]);
                            sum += i64::from(self.a[a_at(i, col)]) * i64::from(self.w[slot]);
                        }
                    }
                }
                self.o[o + i * n + j] = numerics::wrap_acc(sum, ACCUMULATOR_BITS);
            }
        }
    }

    /// A vector-unit instruction.
    fn vector(&mut self, instr: &Instr) {
        let Instr::Vec { op, len, src, src2, dst, aux, shift, p1, p2, p3, p4, mask, p5, .. } = *instr else { return };
        let (len, src, src2, dst, aux) = (len as usize, src as usize, src2 as usize, dst as usize, aux as usize);
        match op {
            VecOp::Requant => {
                for i in 0..len {
                    let q = numerics::requantize(self.o[src + i], shift.max(0) as u32);
                    self.a[dst + i] = if p1 != 0 { numerics::relu(q) } else { q };
                }
            }
            VecOp::ReluBwd => {
                for i in 0..len {
                    self.o[dst + i] = if self.a[src2 + i] > 0 { self.o[src + i] } else { 0 };
                }
            }
            VecOp::Add => {
                for i in 0..len {
                    self.a[dst + i] = numerics::add_sat(self.a[src + i], self.a[src2 + i]);
                }
            }
            VecOp::Clear => self.o[dst..dst + len].fill(0),
            VecOp::Sgd => {
                // src: gradient accumulators (requantized by `shift`), src2: momentum,
                // dst: master weights, aux: the new int16 operand weights,
                // mask: SR-STE's pruned flags (read before aux is written).
                let shifts = SgdShifts {
                    grad_align: u32::from(p3),
                    lr_shift: u32::from(p1),
                    momentum_shift: (p2 != 0).then_some(u32::from(p2)),
                    weight_decay_shift: (p4 != NO_SHIFT).then_some(u32::from(p4)),
                    sr_ste_shift: (p5 != NO_SHIFT).then_some(u32::from(p5)),
                };
                let mask = mask as usize;
                for i in 0..len {
                    let dw = numerics::requantize(self.o[src + i], shift.max(0) as u32);
                    let wv = numerics::saturate_i32(self.o[dst + i]);
                    let vv = numerics::saturate_i32(self.o[src2 + i]);
                    let pruned = p5 != NO_SHIFT && self.a[mask + i] != 0;
                    let (nw, nv) = numerics::sgd_update(wv, vv, dw, pruned, &shifts);
                    self.o[dst + i] = i64::from(nw);
                    self.o[src2 + i] = i64::from(nv);
                    self.a[aux + i] = numerics::weight_from_master(nw);
                }
            }
            VecOp::LossGrad => {
                // Rows of `aux` logits at src, one label per row at src2; p1 = act_frac, p2 = grad_frac.
                let classes = aux.max(1);
                for r in 0..len / classes {
                    let logits = self.a[src + r * classes..src + (r + 1) * classes].to_vec();
                    let label = (self.a[src2 + r].max(0) as usize).min(classes - 1);
                    let g = numerics::softmax_xent_grad(&logits, label, u32::from(p1), u32::from(p2));
                    self.a[dst + r * classes..dst + (r + 1) * classes].copy_from_slice(&g);
                }
            }
        }
    }

    /// A `sparsify`: top-N of each group of M, as compressed weights or a pruned mask.
    fn sparsify(&mut self, instr: &Instr) {
        let Instr::Sparsify { pattern, axis, master, mask_out, rows, cols, src, dst, .. } = *instr else { return };
        let (rows, cols, src, dst) = (rows as usize, cols as usize, src as usize, dst as usize);
        let (pm, pn) = (pattern.m() as usize, pattern.n() as usize);
        // axis 0: groups down each column; axis 1: along each row, output transposed.
        let (outer, inner) = if axis == 0 { (cols, rows) } else { (rows, cols) };
        // Magnitudes decide (master weights when `master`), values are int16 operands.
        let mut key = vec![0i64; pm];
        let mut val = vec![0i16; pm];
        for o in 0..outer {
            for g in 0..inner / pm {
                for i in 0..pm {
                    let (r, c) = if axis == 0 { (g * pm + i, o) } else { (o, g * pm + i) };
                    let at = src + r * cols + c;
                    if master {
                        let m = numerics::saturate_i32(self.o[at]);
                        key[i] = i64::from(m);
                        val[i] = numerics::weight_from_master(m);
                    } else {
                        key[i] = i64::from(self.a[at]);
                        val[i] = self.a[at];
                    }
                }
                let keys: Vec<i32> =
                    key.iter().map(|&k| k.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32).collect();
                let kept = top_n_in_group(&keys, pn);
                if mask_out {
                    for i in 0..pm {
                        let (r, c) = if axis == 0 { (g * pm + i, o) } else { (o, g * pm + i) };
                        self.a[dst + r * cols + c] = i16::from(!kept.contains(&i));
                    }
                    continue;
                }
                for (j, &i) in kept.iter().enumerate() {
                    let slot = dst + (g * pn + j) * outer + o;
                    self.w[slot] = val[i];
                    self.widx[slot] = i as u8;
                }
            }
        }
    }
}

/// Byte address of the chunk holding column `c` of an `nm_row` row, and `c`'s
/// position in it.
fn chunk_addr(row: u64, c: u64, index_bits: u32) -> (u64, u64) {
    let chunk_bytes = 2 * NM_CHUNK + NM_CHUNK * u64::from(index_bits) / 8;
    (row + (c / NM_CHUNK) * chunk_bytes, c % NM_CHUNK)
}

fn read_index(dram: &[u8], base: u64, i: u64, bits: u32) -> u8 {
    let mut v = 0u8;
    for b in 0..u64::from(bits) {
        let bit = i * u64::from(bits) + b;
        if dram[(base + bit / 8) as usize] >> (bit % 8) & 1 == 1 {
            v |= 1 << b;
        }
    }
    v
}

fn write_index(dram: &mut [u8], base: u64, i: u64, bits: u32, v: u8) {
    for b in 0..u64::from(bits) {
        let bit = i * u64::from(bits) + b;
        let byte = &mut dram[(base + bit / 8) as usize];
        if v >> b & 1 == 1 {
            *byte |= 1 << (bit % 8);
        } else {
            *byte &= !(1 << (bit % 8));
        }
    }
}

/// Packs compressed N:M rows (`values`, `indices`, row-major `rows × cols`)
/// into the `nm_row` DRAM layout: per 16-column chunk, the values then the
/// indices packed LSB first.
pub fn pack_nm_rows(values: &[i16], indices: &[u8], rows: usize, cols: usize, index_bits: u32) -> Vec<u8> {
    let row_bytes = DmaFormat::NmRow.row_bytes(cols as u64, index_bits) as usize;
    let mut out = vec![0u8; rows * row_bytes];
    for r in 0..rows {
        for c in 0..cols {
            let (base, i) = chunk_addr((r * row_bytes) as u64, c as u64, index_bits);
            let v = values[r * cols + c].to_le_bytes();
            out[(base + 2 * i) as usize..(base + 2 * i + 2) as usize].copy_from_slice(&v);
            write_index(&mut out, base + 2 * NM_CHUNK, i, index_bits, indices[r * cols + c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load2col_gathers_the_im2col_tile_with_padding_zeros() {
        use nmsat_dataflow::im2col::ConvGeom;
        use nmsat_dataflow::isa::Deps;
        let arch = ArchConfig::preset("tiny").unwrap();
        let g = ConvGeom { ih: 4, iw: 3, ic: 2, kh: 3, kw: 3, cs: 2, pad_h: 1, pad_w: 1, dil: 1, opad_h: 0, opad_w: 0 };
        // Two images; x[b, y, x, c] = 1000·b + 100·y + 10·x + c + 1.
        let mut p = Program::new(arch.clone());
        let base = p.alloc("x", nmsat_dataflow::program::RegionKind::Input, 2 * 2 * g.image_elems());
        let mut bytes = Vec::new();
        for b in 0..2 {
            for y in 0..4 {
                for x in 0..3 {
                    for c in 0..2 {
                        bytes.extend_from_slice(&((1000 * b + 100 * y + 10 * x + c + 1) as i16).to_le_bytes());
                    }
                }
            }
        }
        p.image.push((base, bytes));
        let mut m = Machine::new(&p, &arch);
        // Pixels 2..6 (image 0's last two, image 1's first two), columns 4..13.
        let bursts = g.gather_bursts(arch.dram.im2col, 2, 4, 4, 9, u64::from(arch.dram.burst_bytes));
        let i = Instr::Load2col {
            deps: Deps::default(),
            dram: base,
            sram: 7,
            rows: 4,
            cols: 9,
            p0: 2,
            k0: 4,
            geom: g,
            bursts: bursts as u32,
        };
        m.execute(&i);
        assert_eq!(g.out_hw(), (2, 2));
        // Pixel 2 = image 0, (oy, ox) = (1, 0); column 4 = tap (0, 2) channel 0: y = 1, x = 1.
        assert_eq!(m.a[7], 111);
        // Column 6 = tap (1, 0) channel 0: y = 2, x = −1, padding.
        assert_eq!(m.a[7 + 2], 0);
        // Pixel 4 = image 1, (0, 0); column 12 = tap (2, 0) channel 0: y = 1, x = −1: padding;
        // column 8 = tap (1, 1) channel 0: y = 0, x = 0.
        assert_eq!(m.a[7 + 2 * 9 + 8], 0);
        assert_eq!(m.a[7 + 2 * 9 + 4], 1001);
        for r in 0..4u64 {
            for c in 0..9u64 {
                let want = g.element(2 + r, 4 + c).map_or(0, |e| m.read_i16(base + 2 * e));
                assert_eq!(m.a[(7 + r * 9 + c) as usize], want);
            }
        }
        assert!(
            nmsat_dataflow::check::check_program(
                &{
                    let mut q = p.clone();
                    q.push(i, nmsat_dataflow::program::Tag { layer: 0, pass: nmsat_dataflow::workload::Pass::Ff });
                    q.push(
                        Instr::Halt { deps: Deps::default() },
                        nmsat_dataflow::program::Tag { layer: 0, pass: nmsat_dataflow::workload::Pass::Ff },
                    );
                    q
                },
                &arch
            )
            .is_empty()
        );
    }

    #[test]
    fn index_packing_roundtrips() {
        let mut d = vec![0u8; 8];
        for i in 0..16u64 {
            write_index(&mut d, 0, i, 3, (i % 8) as u8);
        }
        for i in 0..16u64 {
            assert_eq!(read_index(&d, 0, i, 3), (i % 8) as u8);
        }
        let packed = pack_nm_rows(&[5, -6, 7], &[1, 2, 3], 1, 3, 3);
        assert_eq!(packed.len(), 38);
        let (base, _) = chunk_addr(0, 1, 3);
        assert_eq!(i16::from_le_bytes([packed[(base + 2) as usize], packed[(base + 3) as usize]]), -6);
        assert_eq!(read_index(&packed, 32, 2, 3), 3);
    }
}
