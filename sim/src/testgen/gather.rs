//! Random `load2col` instructions for [`super::random_program`]: small
//! convolutions (forward, or the transposed one of a strided layer's BP),
//! tiles within a line buffer when the config has one.

use nmsat_dataflow::arch::Im2col;
use nmsat_dataflow::im2col::ConvGeom;
use nmsat_dataflow::isa::{Buf, Deps, Instr};

use super::{DRAM_BYTES, Gen};

impl Gen<'_> {
    /// A `load2col` over a random small convolution (forward, or the
    /// transposed one of a strided layer's BP) in the DRAM scratch region.
    pub(super) fn gather(&mut self) -> Instr {
        let r = &mut self.rng;
        let (kh, kw) = (r.range(1, 3) as u32, r.range(1, 3) as u32);
        let fwd = ConvGeom {
            ih: r.range(kh.into(), 9) as u32,
            iw: r.range(kw.into(), 9) as u32,
            ic: r.pick(&[1, 2, 3, 8, 16, 20]),
            kh,
            kw,
            cs: r.range(1, 2) as u32,
            pad_h: r.range(0, (kh - 1).into()) as u32,
            pad_w: r.range(0, (kw - 1).into()) as u32,
            dil: 1,
            opad_h: 0,
            opad_w: 0,
        };
        let geom = if r.chance(1, 3) { fwd.transposed(r.range(1, 9) as u32).unwrap_or(fwd) } else { fwd };
        let (p, q) = geom.out_hw();
        let images = r.range(1, 2);
        let pixels = images * p * q;
        let p0 = r.range(0, pixels - 1);
        let mut rows = r.range(1, (pixels - p0).min(12));
        let k0 = r.range(0, geom.k() - 1);
        let mut cols = r.range(1, (geom.k() - k0).min(40));
        // A line buffer's window must fit it: halve the tile until it does.
        if self.arch.dram.im2col == Im2col::LineBuffer {
            let cap = self.arch.dram.line_buffer_bytes / 2;
            while geom.line_window(p0, rows, k0, cols).elems() > cap && rows * cols > 1 {
                if rows > 1 { rows /= 2 } else { cols /= 2 }
            }
        }
        let bytes = 2 * images * geom.image_elems();
        let dram = r.range(0, DRAM_BYTES - bytes);
        let sram = self.addr(Buf::A, rows * cols);
        let bursts =
            geom.gather_bursts(self.arch.dram.im2col, p0, rows, k0, cols, u64::from(self.arch.dram.burst_bytes));
        Instr::Load2col {
            deps: Deps::default(),
            dram,
            sram,
            rows: rows as u32,
            cols: cols as u32,
            p0: p0 as u32,
            k0: k0 as u32,
            geom,
            bursts: bursts as u32,
        }
    }
}
