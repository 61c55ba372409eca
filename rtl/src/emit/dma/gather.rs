//! The `load2col` gathers of `sat_dma`: the `"dram"` gather's counters
//! (ADR 002) and the line buffer's fetch and expansion (ADR 003).

use crate::emit::util::{fbits, field, k};
use crate::params::DRAM_ADDR_BITS;
use crate::vast::Module;

use super::{CW, RL};

// ---- load2col: the im2col gather ----
//
// A tile row (one output pixel) is read as its segments: the column range
// split where a kernel tap ends, since the channels of one tap are
// contiguous in DRAM (or all padding). A unit moves at most `E` elements of
// one segment. Lane 0 keeps the position as counters (channel in the tap,
// tap, output pixel) that advance by additions only; the divisions and
// products that turn `p0`, `k0` and the geometry into the first position and
// the pitches happen once, when the transfer starts. A unit's DRAM address
// is `image + iy·row_pitch + ix·pixel_pitch + 2·channel`, where `(iy, ix)`
// are the input coordinates the tap reaches (the dilated position divided by
// the dilation); a unit in padding or between dilated pixels reads nothing
// and writes zeros.

/// Bits of gather coordinates (dilated, padded input positions).
const DW: u32 = 16;
/// Bits of an input coordinate (the `ih`, `iw` fields).
const IW: u32 = fbits("load2col", "ih");
const _: () = assert!(fbits("load2col", "iw") == IW);
/// Bits of a channel (the `ic` field).
const ICB: u32 = fbits("load2col", "ic");
/// Bits of a kernel tap coordinate (the `kh`, `kw` fields).
const KB: u32 = fbits("load2col", "kw");
const _: () = assert!(fbits("load2col", "kh") == KB);
/// Bits of the stride and the dilation (the `cs`, `dil` fields).
const CSB: u32 = fbits("load2col", "cs");
const DILB: u32 = fbits("load2col", "dil");
/// Bits of the padding (the `padh`, `padw` fields).
const PADB: u32 = fbits("load2col", "padh");
const _: () = assert!(fbits("load2col", "padw") == PADB);
/// Bits of the pitches: `2·ic`, `·iw`, `·ih`. Sized so the address
/// products map onto one or two DSP slices, not a 40×40 multiplier.
const PC_BITS: u32 = ICB + 1;
const PR_BITS: u32 = PC_BITS + IW;
const PB_BITS: u32 = PR_BITS + IW;

/// Registers of the gather: `(name, width, doc)`. Set when a transfer starts
/// (from `g0_<name>`); the position counters advance with the units.
pub(super) const GATHER_REGS: &[(&str, u32, &str)] = &[
    ("ic", ICB, "load2col: input channels"),
    ("kw", KB, "kernel width"),
    ("cs", CSB, "stride"),
    ("dil", DILB, "input dilation"),
    ("padh", PADB, "zero padding top"),
    ("padw", PADB, "zero padding left"),
    ("ihd", DW, "dilated input height"),
    ("iwd", DW, "dilated input width"),
    ("gp", DW, "output height P"),
    ("gq", DW, "output width Q"),
    ("pc", PC_BITS, "bytes per input pixel (2·ic)"),
    ("pr", PR_BITS, "bytes per input row (2·iw·ic)"),
    ("pb", PB_BITS, "bytes per image (2·ih·iw·ic)"),
    ("cc0", ICB, "a tile row's first channel (k0 mod ic)"),
    ("kx0", KB, "a tile row's first tap column"),
    ("ky0", KB, "a tile row's first tap row"),
    ("cc", ICB, "lane 0: channel in its tap"),
    ("kx", KB, "lane 0: tap column"),
    ("ky", KB, "lane 0: tap row"),
    ("ox", DW, "lane 0: output column of its pixel"),
    ("oy", DW, "lane 0: output row of its pixel"),
    ("xb", DW, "lane 0: ox·stride"),
    ("yb", DW, "lane 0: oy·stride"),
    ("img", DRAM_ADDR_BITS, "lane 0: DRAM address of its pixel's image"),
];

/// Field `name` of a `load2col` in the starting instruction `si`.
fn gfield(m: &mut Module, name: &str) -> (String, u32) {
    let (lo, bits) = field("load2col", name);
    let w = format!("g_{name}");
    m.wire_assign(&w, bits, format!("si[{}:{lo}]", lo + bits - 1));
    (w, bits)
}

/// The start of a `load2col`: its fields and the first position.
pub(super) fn gather_start(m: &mut Module, rw: u32) {
    let a = DRAM_ADDR_BITS;
    let zx = crate::emit::util::zx;
    let mut f = |n: &str| gfield(m, n);
    let (dram, _) = f("dram");
    let (sram, sb) = f("sram");
    let (_, _) = f("rows");
    let (cols, cb) = f("cols");
    let (p0, p0b) = f("p0");
    let (k0, k0b) = f("k0");
    let (ih, _) = f("ih");
    let (iw, _) = f("iw");
    let (ic, _) = f("ic");
    let (kh, _) = f("kh");
    let (kw, _) = f("kw");
    let (cs, _) = f("cs");
    let (padh, _) = f("padh");
    let (padw, _) = f("padw");
    let (dil, _) = f("dil");
    let (opadh, opadb) = f("opadh");
    let (opadw, _) = f("opadw");
    m.wire_assign("g_cols_w", CW, zx(&cols, cb, CW));
    m.wire_assign("g_sram_w", rw, if rw <= sb { format!("{sram}[{}:0]", rw - 1) } else { zx(&sram, sb, rw) });
    let d16 = |s: &str, b: u32| zx(s, b, DW);
    m.wire_assign("g0_ic", ICB, ic.clone());
    m.wire_assign("g0_kw", KB, kw.clone());
    m.wire_assign("g0_cs", CSB, cs.clone());
    m.wire_assign("g0_dil", DILB, dil.clone());
    m.wire_assign("g0_padh", PADB, padh.clone());
    m.wire_assign("g0_padw", PADB, padw.clone());
    for (x, ext, pad, opad, out) in [("h", &ih, &padh, &opadh, "gp"), ("w", &iw, &padw, &opadw, "gq")] {
        let kk = if x == "h" { &kh } else { &kw };
        m.wire_assign(
            &format!("g0_i{x}d"),
            DW,
            format!("((({} - 16'd1) * {}) + 16'd1)", d16(ext, IW), d16(&dil, DILB)),
        );
        m.wire_assign(
            &format!("g_span{x}"),
            DW,
            format!("(g0_i{x}d + ({} << 1) + {} - {})", d16(pad, PADB), d16(opad, opadb), d16(kk, KB)),
        );
        m.wire_assign(&format!("g0_{out}"), DW, format!("((g_span{x} / {}) + 16'd1)", d16(&cs, CSB)));
    }
    m.wire_assign("g_pq", 32, "({16'd0, g0_gp} * {16'd0, g0_gq})");
    m.wire_assign("g_p0w", 32, zx(&p0, p0b, 32));
    m.wire_assign("g_b0", 32, "(g_p0w / g_pq)");
    m.wire_assign("g_rem", 32, "(g_p0w % g_pq)");
    m.wire_assign("g_oy0", 32, "(g_rem / {16'd0, g0_gq})");
    m.wire_assign("g_ox0", 32, "(g_rem % {16'd0, g0_gq})");
    m.wire_assign("g0_oy", DW, "g_oy0[15:0]");
    m.wire_assign("g0_ox", DW, "g_ox0[15:0]");
    m.wire_assign("g0_yb", DW, format!("(g0_oy * {})", d16(&cs, CSB)));
    m.wire_assign("g0_xb", DW, format!("(g0_ox * {})", d16(&cs, CSB)));
    // The first tap and channel: k0 (an im2col column) divided by ic, then by kw.
    m.wire_assign("g_icw", k0b, zx(&ic, ICB, k0b));
    m.wire_assign("g_tap0", k0b, format!("({k0} / g_icw)"));
    m.wire_assign("g_cc0w", k0b, format!("({k0} % g_icw)"));
    m.wire_assign("g_kww", k0b, zx(&kw, KB, k0b));
    m.wire_assign("g_ky0w", k0b, "(g_tap0 / g_kww)");
    m.wire_assign("g_kx0w", k0b, "(g_tap0 % g_kww)");
    m.wire_assign("g0_cc0", ICB, format!("g_cc0w[{}:0]", ICB - 1));
    m.wire_assign("g0_kx0", KB, format!("g_kx0w[{}:0]", KB - 1));
    m.wire_assign("g0_ky0", KB, format!("g_ky0w[{}:0]", KB - 1));
    m.wire_assign("g0_cc", ICB, "g0_cc0");
    m.wire_assign("g0_kx", KB, "g0_kx0");
    m.wire_assign("g0_ky", KB, "g0_ky0");
    m.wire_assign("g0_pc", PC_BITS, format!("{{{ic}, 1'b0}}"));
    m.wire_assign("g0_pr", PR_BITS, format!("({} * {})", zx(&iw, IW, PR_BITS), zx("g0_pc", PC_BITS, PR_BITS)));
    m.wire_assign("g0_pb", PB_BITS, format!("({} * {})", zx(&ih, IW, PB_BITS), zx("g0_pr", PR_BITS, PB_BITS)));
    // The first image's offset: b0 < 2^24 images of at most 2^PB_BITS bytes, in 40 address bits.
    m.wire_assign("g_b0w", a, zx("g_b0", 32, a));
    m.wire_assign("g0_img", a, format!("({dram} + (g_b0w * {}))", zx("g0_pb", PB_BITS, a)));
}

/// The gather's registers and lane 0's position as unit 0's.
pub(super) fn gather_regs(m: &mut Module) {
    m.reg("is2", 1, "the transfer is a load2col");
    for (n, w, doc) in GATHER_REGS {
        m.reg(n, *w, doc);
    }
    for n in ["cc", "kx", "ky", "ox", "oy", "xb", "yb", "img"] {
        let w = GATHER_REGS.iter().find(|r| r.0 == n).map_or(1, |r| r.1);
        m.wire_assign(&format!("u0_{n}"), w, n);
    }
}

/// Unit `g` of a gather: its elements `n2_g`, DRAM address `ga_g` and
/// whether it reads input (`gv_g`, not padding).
pub(super) fn gather_unit(m: &mut Module, g: u32) {
    let a = DRAM_ADDR_BITS;
    m.wire_assign(&format!("gseg{g}"), CW, format!("({{{z}'d0, ic}} - {{{z}'d0, u{g}_cc}})", z = CW - ICB));
    m.wire_assign(&format!("gleft{g}"), CW, format!("(cols - u{g}_c)"));
    m.wire_assign(&format!("gmin{g}"), CW, format!("((gseg{g} < gleft{g}) ? gseg{g} : gleft{g})"));
    m.wire_assign(&format!("n2_{g}"), CW, format!("((gmin{g} < e) ? gmin{g} : e)"));
    for (x, base, kk, pad, ext) in [("y", "yb", "ky", "padh", "ihd"), ("x", "xb", "kx", "padw", "iwd")] {
        m.wire_assign(&format!("g{x}o{g}"), DW, format!("(u{g}_{base} + {{{}'d0, u{g}_{kk}}})", DW - KB));
        m.wire_assign(&format!("g{x}{x}{g}"), DW, format!("(g{x}o{g} - {{{}'d0, {pad}}})", DW - PADB));
        m.wire_assign(
            &format!("gv{x}{g}"),
            1,
            format!(
                "((g{x}o{g} >= {{{zp}'d0, {pad}}}) & (g{x}{x}{g} < {ext}) & ((g{x}{x}{g} % {{{zd}'d0, dil}}) == 16'd0))",
                zp = DW - PADB,
                zd = DW - DILB
            ),
        );
        m.wire_assign(&format!("gi{x}{g}"), DW, format!("(g{x}{x}{g} / {{{}'d0, dil}})", DW - DILB));
    }
    m.wire_assign(&format!("gv{g}"), 1, format!("(gvy{g} & gvx{g})"));
    // A valid coordinate is below ih (iw) < 2^IW: narrow products.
    m.wire_assign(
        &format!("gry{g}"),
        PB_BITS,
        format!("({{{}'d0, giy{g}[{}:0]}} * {{{}'d0, pr}})", PB_BITS - IW, IW - 1, PB_BITS - PR_BITS),
    );
    m.wire_assign(
        &format!("grx{g}"),
        PR_BITS,
        format!("({{{}'d0, gix{g}[{}:0]}} * {{{}'d0, pc}})", PR_BITS - IW, IW - 1, PR_BITS - PC_BITS),
    );
    m.wire_assign(
        &format!("ga{g}"),
        a,
        format!(
            "(u{g}_img + {{{}'d0, gry{g}}} + {{{}'d0, grx{g}}} + {{{}'d0, u{g}_cc, 1'b0}})",
            a - PB_BITS,
            a - PR_BITS,
            a - PC_BITS
        ),
    );
}

/// Unit `g + 1`'s gather position: unit `g`'s advanced by its elements (to
/// the next tap when the segment ends, the next pixel when the row wraps).
pub(super) fn gather_next(m: &mut Module, g: u32) {
    let n = g + 1;
    m.wire_assign(&format!("gsw{g}"), 1, format!("(n2_{g} == gseg{g})"));
    let (k1, k0) = (k(KB, 1), k(KB, 0));
    m.wire_assign(&format!("gkxw{g}"), 1, format!("((u{g}_kx + {k1}) == kw)"));
    m.wire_assign(&format!("goxw{g}"), 1, format!("((u{g}_ox + 16'd1) == gq)"));
    m.wire_assign(&format!("goyw{g}"), 1, format!("((u{g}_oy + 16'd1) == gp)"));
    let wrap = format!("wrap{g}");
    m.wire_assign(
        &format!("u{n}_cc"),
        ICB,
        format!("({wrap} ? cc0 : gsw{g} ? {} : (u{g}_cc + n2_{g}[{}:0]))", k(ICB, 0), ICB - 1),
    );
    m.wire_assign(
        &format!("u{n}_kx"),
        KB,
        format!("({wrap} ? kx0 : gsw{g} ? (gkxw{g} ? {k0} : (u{g}_kx + {k1})) : u{g}_kx)"),
    );
    m.wire_assign(&format!("u{n}_ky"), KB, format!("({wrap} ? ky0 : (gsw{g} & gkxw{g}) ? (u{g}_ky + {k1}) : u{g}_ky)"));
    m.wire_assign(&format!("u{n}_ox"), DW, format!("({wrap} ? (goxw{g} ? 16'd0 : (u{g}_ox + 16'd1)) : u{g}_ox)"));
    m.wire_assign(
        &format!("u{n}_xb"),
        DW,
        format!("({wrap} ? (goxw{g} ? 16'd0 : (u{g}_xb + {{{}'d0, cs}})) : u{g}_xb)", DW - CSB),
    );
    m.wire_assign(
        &format!("u{n}_oy"),
        DW,
        format!("(({wrap} & goxw{g}) ? (goyw{g} ? 16'd0 : (u{g}_oy + 16'd1)) : u{g}_oy)"),
    );
    m.wire_assign(
        &format!("u{n}_yb"),
        DW,
        format!("(({wrap} & goxw{g}) ? (goyw{g} ? 16'd0 : (u{g}_yb + {{{}'d0, cs}})) : u{g}_yb)", DW - CSB),
    );
    m.wire_assign(
        &format!("u{n}_img"),
        DRAM_ADDR_BITS,
        format!("(({wrap} & goxw{g} & goyw{g}) ? (u{g}_img + {{{}'d0, pb}}) : u{g}_img)", DRAM_ADDR_BITS - PB_BITS),
    );
}

/// The line buffer's window of the starting `load2col` (ADR 003,
/// `ConvGeom::line_window`) and the fetch it needs: `lb_runs` runs of
/// `lb_len` elements, `lb_stride` bytes apart from DRAM address `lb_rd0`, and
/// the gather's pitches and first image in the line buffer (`g0l_pc`,
/// `g0l_pr`, `g0l_pb`, `g0l_img`, byte addresses of 16-bit elements), so the
/// expansion's units find `(b, iy, ix, c)` at element
/// `((b·ih + iy − row0)·iw + ix)·chans + c − c0`.
pub(super) fn line_window(m: &mut Module) {
    let a = DRAM_ADDR_BITS;
    let zx = crate::emit::util::zx;
    let w32 = |s: &str, b: u32| zx(s, b, 32);
    let (rb, cb, k0b) = (fbits("load2col", "rows"), fbits("load2col", "cols"), fbits("load2col", "k0"));
    // The last pixel and column, and their image, output row and kernel row.
    m.wire_assign("lw_p1", 32, format!("(g_p0w + {} - 32'd1)", w32("g_rows", rb)));
    m.wire_assign("lw_b1", 32, "(lw_p1 / g_pq)");
    m.wire_assign("lw_oy1", 32, "((lw_p1 % g_pq) / {16'd0, g0_gq})");
    m.wire_assign("lw_ic", 32, w32("g_ic", ICB));
    m.wire_assign("lw_k1", 32, format!("({} + {} - 32'd1)", w32("g_k0", k0b), w32("g_cols", cb)));
    m.wire_assign("lw_ky1r", 32, format!("((lw_k1 / lw_ic) / {})", w32("g_kw", KB)));
    m.wire_assign("lw_khm", 32, format!("({} - 32'd1)", w32("g_kh", KB)));
    m.wire_assign("lw_ky1", 32, "((lw_ky1r < lw_khm) ? lw_ky1r : lw_khm)");
    m.wire_assign("lw_ky0", 32, w32("g_ky0w", k0b));
    let (cs, pad, dil, ih) = (w32("g_cs", CSB), w32("g_padh", PADB), w32("g_dil", DILB), w32("g_ih", IW));
    // First input row the first output row reaches, and one past the last the last one reaches.
    m.wire_assign("lw_ylo", 32, format!("((g_oy0 * {cs}) + lw_ky0)"));
    m.wire_assign("lw_fd", 32, format!("(((lw_ylo - {pad}) + {dil} - 32'd1) / {dil})"));
    m.wire_assign("lw_first", 32, format!("((lw_ylo <= {pad}) ? 32'd0 : (lw_fd < {ih}) ? lw_fd : {ih})"));
    m.wire_assign("lw_yhi", 32, format!("((lw_oy1 * {cs}) + lw_ky1)"));
    m.wire_assign("lw_ed", 32, format!("(((lw_yhi - {pad}) / {dil}) + 32'd1)"));
    m.wire_assign("lw_end", 32, format!("((lw_yhi < {pad}) ? 32'd0 : (lw_ed < {ih}) ? lw_ed : {ih})"));
    let ih40 = zx("g_ih", IW, a);
    m.wire_assign("lw_row0", a, format!("((g_b0w * {ih40}) + {})", zx("lw_first", 32, a)));
    m.wire_assign("lw_stop", a, format!("(({} * {ih40}) + {})", zx("lw_b1", 32, a), zx("lw_end", 32, a)));
    m.wire_assign("lw_rows", a, format!("((lw_stop > lw_row0) ? (lw_stop - lw_row0) : {})", k(a, 0)));
    // Channels: all of them when the columns cover a tap or wrap past one, else a slice.
    m.wire_assign("lw_c0r", 32, w32("g_cc0w", k0b));
    m.wire_assign("lw_cols", 32, w32("g_cols", cb));
    m.wire_assign("lw_whole", 1, "((lw_cols >= lw_ic) | ((lw_c0r + lw_cols) > lw_ic))");
    m.wire_assign("lw_chans", ICB, format!("(lw_whole ? g_ic : lw_cols[{}:0])", ICB - 1));
    m.wire_assign("lw_c0", ICB, format!("(lw_whole ? {} : lw_c0r[{}:0])", k(ICB, 0), ICB - 1));
    m.wire_assign(
        "lw_none",
        1,
        format!("((g_rows == {}) | (g_cols == {}) | (lw_rows == {}))", k(rb, 0), k(cb, 0), k(a, 0)),
    );
    m.wire_assign(
        "lb_runs",
        RL,
        format!(
            "(lw_none ? {} : lw_whole ? lw_rows[{r}:0] : (lw_rows[{r}:0] * {}))",
            k(RL, 0),
            zx("g_iw", IW, RL),
            r = RL - 1
        ),
    );
    m.wire_assign(
        "lb_len",
        CW,
        format!("(lw_whole ? ({} * {}) : {})", zx("g_iw", IW, CW), zx("g_ic", ICB, CW), zx("lw_chans", ICB, CW)),
    );
    m.wire_assign("lb_stride", a, format!("(lw_whole ? {} : {})", zx("g0_pr", PR_BITS, a), zx("g0_pc", PC_BITS, a)));
    m.wire_assign(
        "lb_rd0",
        a,
        format!("(g_dram + (lw_row0 * {}) + {{{}'d0, lw_c0, 1'b0}})", zx("g0_pr", PR_BITS, a), a - ICB - 1),
    );
    // The line buffer's pitches in bytes and its first image's (wrapping) offset.
    m.wire_assign("g0l_pc", PC_BITS, "{lw_chans, 1'b0}");
    m.wire_assign("g0l_pr", PR_BITS, format!("({} * {})", zx("g_iw", IW, PR_BITS), zx("g0l_pc", PC_BITS, PR_BITS)));
    m.wire_assign("g0l_pb", PB_BITS, format!("({} * {})", zx("g_ih", IW, PB_BITS), zx("g0l_pr", PR_BITS, PB_BITS)));
    m.wire_assign(
        "g0l_img",
        a,
        format!(
            "((g_b0w * {}) - (lw_row0 * {}) - {{{}'d0, lw_c0, 1'b0}})",
            zx("g0l_pb", PB_BITS, a),
            zx("g0l_pr", PR_BITS, a),
            a - ICB - 1
        ),
    );
}

/// `sat_buf_lb`: the im2col line buffer, `p.line_buffer` 16-bit elements.
/// The fetch writes it through the DMA engine's DRAM-side units (a lane
/// mask each), the expansion reads `expand_units` windows of `E`
/// consecutive elements a cycle, combinationally (the data in the same
/// cycle, as the memory interface serves a unit's DRAM window). Behavioural,
/// like the operand buffers: synthesis reads it as a black box and counts
/// its block RAMs from the geometry.
pub fn line_buffer(p: &crate::params::Params) -> Module {
    use crate::emit::util::raw;
    use crate::vast::{Always, Item, id, if_, nb};
    let (rw, e, u, n) = (p.range_bits, p.dma.e16, p.dma.units, p.expand_units);
    let cap = p.line_buffer;
    let iw = crate::params::clog2(cap).max(1);
    let mut m = Module::new("sat_buf_lb");
    m.doc.push(format!("im2col line buffer (ADR 003): {cap} elements of 16 bits; {u} write unit(s) of {e} lanes,"));
    m.doc.push(format!("{n} read unit(s) of {e} consecutive elements (combinational)."));
    m.input("clk", 1, "");
    m.input("wr_en", u, "fetch: unit g writes");
    m.input("wr_addr", u * rw, "unit g: first element");
    m.input("wr_mask", u * e, "lanes written");
    m.input("wr_data", u * e * 16, "");
    m.input("rd_addr", n * rw, "expansion: unit g's first element");
    m.output("rd_data", n * e * 16, "unit g: its elements, in the same cycle");
    m.push(Item::Reg { name: "mem".into(), width: 16, depth: cap, doc: "storage".into() });
    m.push(Item::Function {
        name: "ok".into(),
        width: 1,
        inputs: vec![("x".into(), rw)],
        locals: vec![],
        body: vec![crate::vast::bl("ok", format!("(x < {})", k(rw, cap)))],
        doc: "inside the buffer".into(),
    });
    m.push(Item::GenFor {
        var: "i_rd".into(),
        count: u64::from(n * e),
        label: "rd_lane".into(),
        body: vec![
            Item::Wire { name: "ra".into(), width: rw, doc: String::new() },
            Item::Assign(id("ra"), raw(format!("(rd_addr[(i_rd/{e})*{rw} +: {rw}] + (i_rd % {e}))"))),
            Item::Assign(
                raw("rd_data[i_rd*16 +: 16]".to_string()),
                raw(format!("(ok(ra) ? mem[ra[{}:0]] : 16'd0)", iw - 1)),
            ),
        ],
    });
    let mut writes = Vec::new();
    for g in 0..u {
        for x in 0..e {
            let i = g * e + x;
            let a = format!("wa{i}");
            m.wire_assign(&a, rw, format!("(wr_addr[{}:{}] + {})", (g + 1) * rw - 1, g * rw, k(rw, x.into())));
            writes.push(if_(
                format!(
                    "{} & wr_mask[{i}] & ok({a})",
                    if u == 1 { "wr_en".to_string() } else { format!("wr_en[{g}]") }
                ),
                vec![nb(format!("mem[{a}[{}:0]]", iw - 1), format!("wr_data[{}:{}]", i * 16 + 15, i * 16))],
            ));
        }
    }
    m.push(Item::Always(Always::Posedge("clk".into()), vec![if_("|wr_en", writes)]));
    m
}
