//! The im2col gather of the DMA engine (`load2col`): which element of an
//! NHWC tensor in DRAM each entry of an im2col tile is, and the runs the
//! engine reads a tile row as (its segments at kernel taps, which time it).
//!
//! Rows of the im2col matrix are output pixels `(b, oy, ox)`, counted over
//! the whole batch; columns are `κ = (ky·kw + kx)·ic + c`, the order of the
//! functional reference, so N:M groups along `K` run over channels of one
//! kernel tap. See `docs/adr-001-conv-datapath.md`.

use serde::{Deserialize, Serialize};

use crate::arch::Im2col;

/// Geometry of a convolution's input as the gather sees it.
///
/// `dil > 1` inserts `dil − 1` zeros between input pixels: the transposed
/// convolution of a strided layer's BP gathers its output gradient that way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvGeom {
    /// Input height.
    pub ih: u32,
    /// Input width.
    pub iw: u32,
    /// Input channels.
    pub ic: u32,
    /// Kernel height.
    pub kh: u32,
    /// Kernel width.
    pub kw: u32,
    /// Stride (both dimensions).
    pub cs: u32,
    /// Zero padding at the top (and bottom).
    pub pad_h: u32,
    /// Zero padding at the left (and right).
    pub pad_w: u32,
    /// Input dilation (1: none).
    pub dil: u32,
    /// Extra zero rows at the bottom (a transposed convolution's output
    /// padding: the rows the forward stride skipped past).
    pub opad_h: u32,
    /// Extra zero columns at the right.
    pub opad_w: u32,
}

impl ConvGeom {
    /// Height and width of the (dilated) input.
    fn dilated(&self) -> (u64, u64) {
        let d = u64::from(self.dil.max(1));
        let f = |x: u32| if x == 0 { 0 } else { (u64::from(x) - 1) * d + 1 };
        (f(self.ih), f(self.iw))
    }

    /// Output height and width `(P, Q)` (0 when the kernel does not fit).
    pub fn out_hw(&self) -> (u64, u64) {
        let (h, w) = self.dilated();
        let cs = u64::from(self.cs.max(1));
        let o = |x: u64, pad: u32, opad: u32, k: u32| {
            let span = x + 2 * u64::from(pad) + u64::from(opad);
            if span < u64::from(k) || k == 0 { 0 } else { (span - u64::from(k)) / cs + 1 }
        };
        (o(h, self.pad_h, self.opad_h, self.kh), o(w, self.pad_w, self.opad_w, self.kw))
    }

    /// The gather of this (forward) convolution's BP as a transposed
    /// convolution over its output gradient (`P × Q × c_out` per sample):
    /// kernel flipped (the weight side), gradient dilated by the stride and
    /// padded by `k − 1 − pad`, plus the bottom/right rows the forward stride
    /// skipped, so its output is this convolution's `ih × iw` input. `None`
    /// when padding is wider than the kernel or the input is dilated.
    pub fn transposed(&self, c_out: u32) -> Option<ConvGeom> {
        let (p, q) = self.out_hw();
        if self.dil != 1 || self.pad_h >= self.kh || self.pad_w >= self.kw || p == 0 || q == 0 {
            return None;
        }
        let s = u64::from(self.cs.max(1));
        let base = |o: u64, k: u32, pad: u32| ((o - 1) * s + u64::from(k)).checked_sub(2 * u64::from(pad));
        let opad_h = u64::from(self.ih).checked_sub(base(p, self.kh, self.pad_h)?)?;
        let opad_w = u64::from(self.iw).checked_sub(base(q, self.kw, self.pad_w)?)?;
        let t = ConvGeom {
            ih: u32::try_from(p).ok()?,
            iw: u32::try_from(q).ok()?,
            ic: c_out,
            kh: self.kh,
            kw: self.kw,
            cs: 1,
            pad_h: self.kh - 1 - self.pad_h,
            pad_w: self.kw - 1 - self.pad_w,
            dil: self.cs.max(1),
            opad_h: u32::try_from(opad_h).ok()?,
            opad_w: u32::try_from(opad_w).ok()?,
        };
        (t.out_hw() == (u64::from(self.ih), u64::from(self.iw))).then_some(t)
    }

    /// Columns of the im2col matrix: `kh·kw·ic`.
    pub fn k(&self) -> u64 {
        u64::from(self.kh) * u64::from(self.kw) * u64::from(self.ic)
    }

    /// Elements of one input image.
    pub fn image_elems(&self) -> u64 {
        u64::from(self.ih) * u64::from(self.iw) * u64::from(self.ic)
    }

    /// Input coordinate of a (dilated, padded) position, `None` in padding
    /// or between dilated pixels.
    fn source(&self, pos: u64, k: u64, pad: u32, extent: u32) -> Option<u64> {
        let y = (pos * u64::from(self.cs.max(1)) + k).checked_sub(u64::from(pad))?;
        let d = u64::from(self.dil.max(1));
        if y % d != 0 || y / d >= u64::from(extent) {
            return None;
        }
        Some(y / d)
    }

    /// Element offset in the NHWC tensor of im2col entry `(pixel, col)`, or
    /// `None` where the entry is a zero (padding or dilation).
    pub fn element(&self, pixel: u64, col: u64) -> Option<u64> {
        let (p, q) = self.out_hw();
        if p == 0 || q == 0 {
            return None;
        }
        let (b, oy, ox) = (pixel / (p * q), (pixel / q) % p, pixel % q);
        let ic = u64::from(self.ic.max(1));
        let c = col % ic;
        let tap = col / ic;
        let (ky, kx) = (tap / u64::from(self.kw.max(1)), tap % u64::from(self.kw.max(1)));
        if ky >= u64::from(self.kh) {
            return None;
        }
        let iy = self.source(oy, ky, self.pad_h, self.ih)?;
        let ix = self.source(ox, kx, self.pad_w, self.iw)?;
        Some(((b * u64::from(self.ih) + iy) * u64::from(self.iw) + ix) * ic + c)
    }

    /// The segments of a tile row over columns `[k0, k0 + cols)`: the
    /// range split where a kernel tap ends (the channels of one tap are
    /// contiguous in DRAM, or all padding), as `(first column, length)`.
    /// The DMA engine reads each segment as one run.
    pub fn segments(&self, k0: u64, cols: u64) -> Vec<(u64, u64)> {
        let ic = u64::from(self.ic.max(1));
        let mut v = Vec::new();
        let mut c = k0;
        while c < k0 + cols {
            let n = (ic - c % ic).min(k0 + cols - c);
            v.push((c, n));
            c += n;
        }
        v
    }

    /// The raw window the DMA engine fetches for the tile of `rows` pixels
    /// from `p0` and `cols` columns from `k0`: the number of distinct input
    /// rows `(b, iy)` its output rows and kernel rows reach, and the elements
    /// fetched per row (`iw · min(ic, cols)`, the channels of its columns).
    /// The transfer is timed as a load of that many rows.
    pub fn window(&self, p0: u64, rows: u64, k0: u64, cols: u64) -> (u64, u64) {
        let (p, q) = self.out_hw();
        if rows == 0 || cols == 0 || p == 0 || q == 0 {
            return (0, 0);
        }
        let tap_cols = u64::from(self.kw.max(1)) * u64::from(self.ic.max(1));
        let ky_lo = k0 / tap_cols;
        let ky_hi = ((k0 + cols - 1) / tap_cols).min(u64::from(self.kh).saturating_sub(1));
        // Output rows r = b·P + oy; the distinct input rows are counted per
        // image: the partial first and last images, and every whole image
        // between them once (they all reach the same rows).
        let (r0, r1) = (p0 / q, (p0 + rows - 1) / q);
        let (b0, b1) = (r0 / p, r1 / p);
        let reach = |a: u64, b: u64| self.rows_reached(a, b, ky_lo, ky_hi);
        let count = if b0 == b1 {
            reach(r0 % p, r1 % p)
        } else {
            reach(r0 % p, p - 1) + (b1 - b0 - 1) * reach(0, p - 1) + reach(0, r1 % p)
        };
        (count, u64::from(self.iw) * u64::from(self.ic).min(cols))
    }

    /// Distinct input rows that output rows `a..=b` of one image reach
    /// through kernel rows `ky_lo..=ky_hi`: the (dilated, padded) positions
    /// `oy·stride + ky − pad` that are multiples of the dilation inside the
    /// input. One interval when the stride does not outrun the kernel rows,
    /// else one interval per output row.
    fn rows_reached(&self, a: u64, b: u64, ky_lo: u64, ky_hi: u64) -> u64 {
        if ky_lo > ky_hi || a > b || self.ih == 0 {
            return 0;
        }
        let (cs, d) = (i128::from(self.cs.max(1)), i128::from(self.dil.max(1)));
        let (pad, top) = (i128::from(self.pad_h), (i128::from(self.ih) - 1) * d);
        // Multiples of d in [lo, hi] ∩ [0, top].
        let multiples = |lo: i128, hi: i128| {
            let (lo, hi) = (lo.max(0), hi.min(top));
            if hi < lo { 0 } else { (hi / d - (lo + d - 1) / d + 1).max(0) }
        };
        let (kl, kh) = (i128::from(ky_lo), i128::from(ky_hi));
        let (a, b) = (i128::from(a), i128::from(b));
        let n = if cs <= kh - kl + 1 {
            multiples(a * cs + kl - pad, b * cs + kh - pad)
        } else {
            (a..=b).map(|oy| multiples(oy * cs + kl - pad, oy * cs + kh - pad)).sum()
        };
        u64::try_from(n).unwrap_or(0)
    }

    /// DRAM bursts of the gather of the `rows × cols` tile from pixel `p0`
    /// and column `k0` under `mode`: every tile row's tap segments
    /// ([`row_bursts`](Self::row_bursts)) for [`Im2col::Dram`], the fetch of
    /// the raw window into the line buffer ([`LineWindow::runs`], each run
    /// rounded up to whole bursts) for [`Im2col::LineBuffer`]. The `bursts`
    /// field of a `load2col`; it times the transfer's DRAM channel cycles.
    pub fn gather_bursts(&self, mode: Im2col, p0: u64, rows: u64, k0: u64, cols: u64, burst: u64) -> u64 {
        match mode {
            Im2col::Dram => rows * self.row_bursts(k0, cols, burst),
            Im2col::LineBuffer => {
                let (runs, len) = self.line_window(p0, rows, k0, cols).runs();
                runs * (2 * len).div_ceil(burst.max(1))
            }
        }
    }

    /// The raw window a line buffer holds for the `rows × cols` tile from
    /// pixel `p0` and column `k0` (ADR 003): the input rows `(b, iy)`,
    /// counted over the batch as `b·ih + iy`, from the first its first
    /// output row reaches to the last its last output row reaches (every
    /// row between them, so a row's place in the buffer is its distance
    /// from the first), and of each row's pixels the channels its columns
    /// use: all `ic` when the columns cover a tap or wrap past one, else
    /// the `cols` channels from `k0 mod ic`.
    pub fn line_window(&self, p0: u64, rows: u64, k0: u64, cols: u64) -> LineWindow {
        let (p, q) = self.out_hw();
        let ic = u64::from(self.ic.max(1));
        let (c0, chans) = if cols >= ic || k0 % ic + cols > ic { (0, ic) } else { (k0 % ic, cols) };
        let empty = LineWindow { row0: 0, rows: 0, iw: u64::from(self.iw), ic, c0, chans };
        if rows == 0 || cols == 0 || p == 0 || q == 0 {
            return empty;
        }
        let tap_cols = u64::from(self.kw.max(1)) * ic;
        let ky_lo = k0 / tap_cols;
        let ky_hi = ((k0 + cols - 1) / tap_cols).min(u64::from(self.kh).saturating_sub(1));
        let (r0, r1) = (p0 / q, (p0 + rows - 1) / q);
        let (cs, d, pad, ih) =
            (u64::from(self.cs.max(1)), u64::from(self.dil.max(1)), u64::from(self.pad_h), u64::from(self.ih));
        // First input row output row `oy` reaches through kernel row `ky`
        // (rounded up to a whole input row), and one past the last.
        let first = |oy: u64, ky: u64| {
            let y = oy * cs + ky;
            if y <= pad { 0 } else { (y - pad).div_ceil(d).min(ih) }
        };
        let end = |oy: u64, ky: u64| {
            let y = oy * cs + ky;
            if y < pad { 0 } else { ((y - pad) / d + 1).min(ih) }
        };
        let start = (r0 / p) * ih + first(r0 % p, ky_lo);
        let stop = (r1 / p) * ih + end(r1 % p, ky_hi);
        LineWindow { row0: start, rows: stop.saturating_sub(start), ..empty }
    }

    /// DRAM bursts of one tile row over columns `[k0, k0 + cols)`: each of
    /// its [segments](Self::segments) rounded up to whole bursts of
    /// `burst` bytes (int16 elements). Every row of a tile has the same.
    pub fn row_bursts(&self, k0: u64, cols: u64, burst: u64) -> u64 {
        if cols == 0 {
            return 0;
        }
        let ic = u64::from(self.ic.max(1));
        let burst = burst.max(1);
        let b = |n: u64| (2 * n).div_ceil(burst);
        let first = (ic - k0 % ic).min(cols);
        let rest = cols - first;
        b(first) + (rest / ic) * b(ic) + if rest % ic > 0 { b(rest % ic) } else { 0 }
    }
}

/// The raw input window of a line-buffer `load2col`
/// ([`ConvGeom::line_window`]): `rows` input rows from `row0` (counted over
/// the batch), `chans` channels from `c0` of each of their `iw` pixels. The
/// line buffer holds it row-major: element `(row0 + r, ix, c0 + c)` at
/// `(r·iw + ix)·chans + c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineWindow {
    /// First input row, `b·ih + iy`.
    pub row0: u64,
    /// Input rows.
    pub rows: u64,
    /// Pixels per input row.
    pub iw: u64,
    /// Channels of the tensor.
    pub ic: u64,
    /// First channel held.
    pub c0: u64,
    /// Channels held per pixel.
    pub chans: u64,
}

impl LineWindow {
    /// Elements the line buffer holds.
    pub fn elems(&self) -> u64 {
        self.rows * self.iw * self.chans
    }

    /// The DRAM runs the fetch reads, `(count, elements each)`: one per
    /// input row when every channel is held (a row is contiguous in NHWC),
    /// else one per pixel of `chans` channels (a channel slice).
    pub fn runs(&self) -> (u64, u64) {
        if self.rows == 0 || self.chans == 0 {
            (0, 0)
        } else if self.chans == self.ic {
            (self.rows, self.iw * self.ic)
        } else {
            (self.rows * self.iw, self.chans)
        }
    }

    /// Line-buffer element of tensor element `off` (an offset in the NHWC
    /// tensor), `None` outside the window.
    pub fn slot(&self, off: u64) -> Option<u64> {
        let (c, pixel) = (off % self.ic, off / self.ic);
        let (row, ix) = (pixel / self.iw.max(1), pixel % self.iw.max(1));
        let (r, c) = (row.checked_sub(self.row0)?, c.checked_sub(self.c0)?);
        (r < self.rows && c < self.chans).then_some((r * self.iw + ix) * self.chans + c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference's im2col (sim::reference::network), restated over offsets.
    fn naive(g: &ConvGeom, batch: u64) -> Vec<Vec<Option<u64>>> {
        let (p, q) = g.out_hw();
        let mut out = Vec::new();
        for b in 0..batch {
            for oy in 0..p {
                for ox in 0..q {
                    let mut row = vec![None; g.k() as usize];
                    for ky in 0..u64::from(g.kh) {
                        for kx in 0..u64::from(g.kw) {
                            for c in 0..u64::from(g.ic) {
                                let y = (oy * u64::from(g.cs) + ky) as i64 - i64::from(g.pad_h);
                                let x = (ox * u64::from(g.cs) + kx) as i64 - i64::from(g.pad_w);
                                let d = i64::from(g.dil);
                                let ok = y >= 0 && x >= 0 && y % d == 0 && x % d == 0;
                                let (iy, ix) = (y / d, x / d);
                                if ok && iy < i64::from(g.ih) && ix < i64::from(g.iw) {
                                    let off = ((b * u64::from(g.ih) + iy as u64) * u64::from(g.iw) + ix as u64)
                                        * u64::from(g.ic)
                                        + c;
                                    row[((ky * u64::from(g.kw) + kx) * u64::from(g.ic) + c) as usize] = Some(off);
                                }
                            }
                        }
                    }
                    out.push(row);
                }
            }
        }
        out
    }

    /// A tile `(p0, rows, k0, cols)` of `batch` images' im2col matrix picked
    /// by four random numbers; `None` when the output is empty.
    fn tile(g: &ConvGeom, batch: u64, [a, b, c, d]: [u64; 4]) -> Option<(u64, u64, u64, u64)> {
        let (p, q) = g.out_hw();
        let pixels = batch * p * q;
        if pixels == 0 {
            return None;
        }
        let (p0, k0) = (a % pixels, c % g.k());
        Some((p0, 1 + b % (pixels - p0), k0, 1 + d % (g.k() - k0)))
    }

    fn geom() -> impl Strategy<Value = ConvGeom> {
        (1u32..7, 1u32..7, 1u32..5, 1u32..4, 1u32..4, 1u32..3, 0u32..3, 0u32..3, 1u32..3, 0u32..2).prop_map(
            |(ih, iw, ic, kh, kw, cs, pad_h, pad_w, dil, opad)| ConvGeom {
                ih,
                iw,
                ic,
                kh,
                kw,
                cs,
                pad_h,
                pad_w,
                dil,
                opad_h: opad,
                opad_w: 1 - opad,
            },
        )
    }

    #[test]
    fn a_3x3_same_convolution_by_hand() {
        let g = ConvGeom { ih: 4, iw: 4, ic: 2, kh: 3, kw: 3, cs: 1, pad_h: 1, pad_w: 1, dil: 1, opad_h: 0, opad_w: 0 };
        assert_eq!(g.out_hw(), (4, 4));
        // Pixel (0, 0, 0), tap (0, 0) is padding; tap (1, 1) channel 1 is x[0, 0, 0, 1].
        assert_eq!(g.element(0, 0), None);
        assert_eq!(g.element(0, 4 * 2 + 1), Some(1));
        // Pixel 5 = (0, 1, 1), tap (2, 2) channel 0 is x[0, 2, 2, 0].
        assert_eq!(g.element(5, 8 * 2), Some((2 * 4 + 2) * 2));
        // Columns 3..12 split at taps (2 channels each): 3, 4..6, 6..8, 8..10, 10..12.
        assert_eq!(g.segments(3, 9), vec![(3, 1), (4, 2), (6, 2), (8, 2), (10, 2)]);
        // 16-byte bursts: every segment (2 or 4 bytes) is one burst.
        assert_eq!(g.row_bursts(3, 9, 16), 5);
        // 2-byte bursts: one per element.
        assert_eq!(g.row_bursts(3, 9, 2), 9);
        // A whole-image tile touches the image's 4 rows, every channel.
        assert_eq!(g.window(0, 16, 0, 18), (4, 8));
        // One output row, kernel row 0 only: input row oy − 1 = 0 for oy = 1.
        assert_eq!(g.window(4, 4, 0, 6), (1, 8));
        // The line buffer reads the window's 4 rows of 16 bytes: 4 bursts of 16; the DRAM gather 16 rows of 9 segments.
        assert_eq!(g.gather_bursts(Im2col::LineBuffer, 0, 16, 0, 18, 16), 4);
        // Output row 1 (pixels 4..8) through kernel rows 0..=1 (columns 0..12): input rows 0..=1, all channels.
        let w = g.line_window(4, 4, 0, 12);
        assert_eq!((w.row0, w.rows, w.c0, w.chans, w.runs()), (0, 2, 0, 2, (2, 8)));
        // Channel 1 of tap (1, 1) alone: a slice of one channel, 4 pixels per row.
        let w = g.line_window(4, 4, 9, 1);
        assert_eq!((w.row0, w.rows, w.c0, w.chans, w.runs()), (1, 1, 1, 1, (4, 1)));
        // Columns 1..3 wrap from tap 0's channel 1 to tap 1's channel 0: every channel.
        assert_eq!(g.line_window(0, 1, 1, 2).chans, 2);
        assert_eq!(g.gather_bursts(Im2col::Dram, 0, 16, 0, 18, 16), 16 * 9);
    }

    proptest! {
        #[test]
        fn element_is_the_reference_im2col(g in geom(), batch in 1u64..3) {
            let want = naive(&g, batch);
            for (i, row) in want.iter().enumerate() {
                for (j, &e) in row.iter().enumerate() {
                    prop_assert_eq!(g.element(i as u64, j as u64), e, "pixel {} col {}", i, j);
                }
            }
        }

        #[test]
        fn segments_are_contiguous_runs_and_bursts_their_rounded_sum(g in geom(), a in 0u64..1000, b in 0u64..1000, burst in 1u64..70) {
            let k0 = a % g.k();
            let cols = 1 + b % (g.k() - k0);
            let segs = g.segments(k0, cols);
            prop_assert_eq!(segs.iter().map(|s| s.1).sum::<u64>(), cols);
            prop_assert_eq!(segs[0].0, k0);
            let (p, q) = g.out_hw();
            for &(c, n) in &segs {
                // One tap per segment: its elements are consecutive in DRAM for every pixel, or all padding.
                prop_assert_eq!(c / u64::from(g.ic), (c + n - 1) / u64::from(g.ic));
                for px in 0..p * q {
                    let e0 = g.element(px, c);
                    for j in 0..n {
                        prop_assert_eq!(g.element(px, c + j), e0.map(|e| e + j));
                    }
                }
            }
            let want: u64 = segs.iter().map(|s| (2 * s.1).div_ceil(burst)).sum();
            prop_assert_eq!(g.row_bursts(k0, cols, burst), want);
        }
        #[test]
        fn the_line_window_holds_every_element_the_tile_reads(g in geom(), batch in 1u64..4, a in 0u64..1000, b in 0u64..1000, c in 0u64..1000, d in 0u64..1000) {
            let Some((p0, rows, k0, cols)) = tile(&g, batch, [a, b, c, d]) else { return Ok(()) };
            let w = g.line_window(p0, rows, k0, cols);
            let (mut lo, mut hi) = (u64::MAX, 0);
            for i in p0..p0 + rows {
                for j in k0..k0 + cols {
                    if let Some(off) = g.element(i, j) {
                        let slot = w.slot(off);
                        prop_assert!(slot.is_some_and(|s| s < w.elems()), "({}, {}) at {} outside {:?}", i, j, off, w);
                        let row = off / (u64::from(g.iw) * u64::from(g.ic));
                        (lo, hi) = (lo.min(row), hi.max(row));
                    }
                }
            }
            // The window's first and last rows are read (unless padding hides them), and nothing is fetched twice.
            if lo <= hi {
                prop_assert!(w.row0 <= lo && hi < w.row0 + w.rows);
            }
            let (runs, len) = w.runs();
            prop_assert_eq!(runs * len, w.elems());
        }

        #[test]
        fn window_covers_every_element_read(g in geom(), batch in 1u64..3, a in 0u64..1000, b in 0u64..1000, c in 0u64..1000, d in 0u64..1000) {
            let Some((p0, rows, k0, cols)) = tile(&g, batch, [a, b, c, d]) else { return Ok(()) };
            let (wrows, wcols) = g.window(p0, rows, k0, cols);
            let mut rows_read = std::collections::BTreeSet::new();
            for i in p0..p0 + rows {
                for j in k0..k0 + cols {
                    if let Some(off) = g.element(i, j) {
                        rows_read.insert(off / (u64::from(g.iw) * u64::from(g.ic)));
                    }
                }
            }
            prop_assert!(rows_read.len() as u64 <= wrows);
            prop_assert!(wcols <= u64::from(g.iw) * u64::from(g.ic));
        }

        #[test]
        fn window_counts_the_distinct_input_rows_its_output_and_kernel_rows_reach(g in geom(), batch in 1u64..4, a in 0u64..1000, b in 0u64..1000, c in 0u64..1000, d in 0u64..1000) {
            let Some((p0, rows, k0, cols)) = tile(&g, batch, [a, b, c, d]) else { return Ok(()) };
            let (p, q) = g.out_hw();
            let tap_cols = u64::from(g.kw) * u64::from(g.ic);
            let mut want = std::collections::BTreeSet::new();
            for r in p0 / q..=(p0 + rows - 1) / q {
                for ky in k0 / tap_cols..=(k0 + cols - 1) / tap_cols {
                    if let Some(iy) = g.source(r % p, ky, g.pad_h, g.ih) {
                        want.insert((r / p, iy));
                    }
                }
            }
            prop_assert_eq!(g.window(p0, rows, k0, cols).0, want.len() as u64);
        }
    }
}
