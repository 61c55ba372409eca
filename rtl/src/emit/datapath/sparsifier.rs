//! The sparsifier: the N largest of each group of M, as compressed values and indices.

use crate::emit::util::{index_bits_of, k};
use crate::params::{INSTR_BITS, Params};
use crate::vast::{Always, Item, Module, if_, if_else, nb};

use super::{INDEX_BITS, MB, NB};

/// Groups the sparsifier's datapath handles per cycle: enough that it never
/// falls behind the model's `ceil(groups/lanes)·M` cycles for the smallest M.
pub fn sparsifier_groups(p: &Params) -> u32 {
    let m_min = p.patterns.iter().map(|q| q.m).min().unwrap_or(1);
    p.sp_lanes.div_ceil(m_min).max(1)
}

/// The sparsifier's sizes, derived once from the config.
#[derive(Debug, Clone, Copy)]
struct Dims {
    /// Groups handled per cycle (one lane each).
    g: u32,
    /// The largest M of the config's patterns.
    mx: u32,
    /// The largest N of the config's patterns.
    nx: u32,
    /// Bits of a buffer element address.
    rw: u32,
    /// Bits of a compressed output: `{index, value}`.
    ww: u32,
    /// Bits of an accumulator (O's master weights).
    acc: u32,
}

impl Dims {
    /// The sizes of `p`'s sparsifier.
    fn new(p: &Params) -> Self {
        Dims {
            g: sparsifier_groups(p),
            mx: p.patterns.iter().map(|q| q.m).max().unwrap_or(1),
            nx: p.patterns.iter().map(|q| q.n).max().unwrap_or(1),
            rw: p.range_bits,
            ww: 16 + INDEX_BITS,
            acc: p.acc_bits,
        }
    }
}

/// Field `name` of the sparsify instruction, as a slice of `instr`.
fn instr_field(name: &str) -> String {
    let (lo, bits) = crate::emit::util::field("sparsify", name);
    format!("instr[{}:{lo}]", lo + bits - 1)
}

/// Field `name` of the sparsify instruction fitted to `rw` bits (its low
/// bits, or zero-extended when narrower).
fn instr_field_fit(name: &str, rw: u32) -> String {
    let (lo, bits) = crate::emit::util::field("sparsify", name);
    if rw <= bits {
        format!("instr[{}:{lo}]", lo + rw - 1)
    } else {
        crate::emit::util::zx(&instr_field(name), bits, rw)
    }
}

/// `sat_sparsifier`: top-N-of-M by magnitude (ties to the lower index), kept
/// values in ascending index order with their in-group index, groups down
/// the columns (`axis = 0`) or along the rows with a transposed output
/// (`axis = 1`), as the data semantics define. It handles
/// [`sparsifier_groups`] groups per cycle from the cycle after issue, so it
/// finishes within the model's `ceil(groups/lanes)·M + 2` cycles. Lane 0's
/// group position is a register; lanes 1… follow by one-group steps
/// (column, or group within the row, then wrap to the next row of groups).
pub fn sparsifier(p: &Params) -> Module {
    let d = Dims::new(p);
    let mut m = Module::new("sat_sparsifier");
    m.doc.push(format!(
        "Sparsifier: {} groups per cycle, top-N of up to {} by magnitude, ties to the lower index.",
        d.g, d.mx
    ));
    ports(&mut m, &d);
    m.push(crate::emit::util::fn_saturate("sat48_32", p.acc_bits, 32));
    m.push(crate::emit::util::fn_saturate("sat32_16", 32, 16));
    m.push(crate::emit::util::fn_round_shift("rshift32", 32, 8));
    decode(&mut m, d.rw);
    group_regs(&mut m, d.rw);
    lane_positions(&mut m, &d);
    reads(&mut m, &d);
    stage1_regs(&mut m, &d);
    for q in 0..d.g {
        lane_values(&mut m, &d, q);
        group_ranking(&mut m, &d, q);
        compressed_outputs(&mut m, &d, q);
    }
    mask_write(&mut m, &d);
    compressed_write(&mut m, &d);
    sequential(&mut m, &d);
    m.lint_off
        .push(("UNUSED".into(), "reads a few fields of the instruction; the last lane step is not needed".into()));
    m
}

/// The ports: the issuing instruction, the reads of A (int16 weights) and O
/// (master weights), the pruned mask's writes to A and the compressed
/// `{index, value}` writes to W.
fn ports(m: &mut Module, d: &Dims) {
    let Dims { g, mx, nx, rw, ww, acc } = *d;
    m.input("clk", 1, "");
    m.input("rst", 1, "");
    m.input("start", 1, "a sparsify instruction issues");
    m.input("instr", INSTR_BITS, "");
    m.output("a_rd_en", 1, "");
    m.output("a_rd_addr", g * mx * rw, "lane p, element x at (p*M + x)");
    m.input("a_rd_data", g * mx * 16, "");
    m.output("a_wr_en", g * mx, "pruned mask (mask_out = 1): lane p, element x at (p*M + x)");
    m.output("a_wr_addr", g * mx * rw, "");
    m.output("a_wr_mask", g * mx, "");
    m.output("a_wr_data", g * mx * 16, "1 pruned, 0 kept");
    m.output("o_rd_en", 1, "master weights (master = 1)");
    m.output("o_rd_addr", g * mx * rw, "");
    m.input("o_rd_data", g * mx * acc, "");
    m.output("w_wr_en", g * nx, "lane p, output j at (p*N + j)");
    m.output("w_wr_addr", g * nx * rw, "");
    m.output("w_wr_mask", g * nx, "");
    m.output("w_wr_data", g * nx * ww, "{index, value}");
}

/// The decode at issue: the pattern, axis and shape, the groups to do and
/// the address steps of one group (no wrap / wrap to the next line of
/// groups) in the source and the output.
fn decode(m: &mut Module, rw: u32) {
    m.wire_assign("i_n", NB, instr_field("n_of"));
    m.wire_assign("i_m", MB, instr_field("m_of"));
    m.wire_assign("i_axis", 1, instr_field("axis"));
    m.wire_assign("i_rows", rw, instr_field_fit("rows", rw));
    m.wire_assign("i_cols", rw, instr_field_fit("cols", rw));
    m.wire_assign("i_ib", crate::emit::util::fbits("load", "ibits"), index_bits_of("i_m", false));
    m.wire_assign("i_lg", rw, "(i_cols >> i_ib)");
    m.wire_assign("i_line", rw, "(i_axis ? i_lg : i_cols)");
    m.wire_assign("i_groups", 32, crate::emit::util::zx("((i_rows * i_cols) >> i_ib)", rw, 32));
    m.wire_assign("i_nrows", rw, format!("(i_rows * {})", crate::emit::util::zx("i_n", NB, rw)));
    m.wire_assign("i_ncols", rw, format!("(i_cols * {})", crate::emit::util::zx("i_n", NB, rw)));
    // Address steps of one group: no wrap / wrap to the next line of groups.
    m.wire_assign("i_inc_nw", rw, format!("(i_axis ? {} : {})", crate::emit::util::zx("i_m", MB, rw), k(rw, 1)));
    m.wire_assign(
        "i_inc_w",
        rw,
        format!("(i_axis ? {} : (((i_cols << i_ib) - i_cols) + {}))", crate::emit::util::zx("i_m", MB, rw), k(rw, 1)),
    );
    m.wire_assign("i_oinc_nw", rw, format!("(i_axis ? i_nrows : {})", k(rw, 1)));
    m.wire_assign(
        "i_oinc_w",
        rw,
        format!("(i_axis ? ((({} - (i_lg * i_nrows)) + i_nrows)) : ((i_ncols - i_cols) + {}))", k(rw, 1), k(rw, 1)),
    );
    m.wire_assign("i_xstep", rw, format!("(i_axis ? {} : i_cols)", k(rw, 1)));
    m.wire_assign("i_jstep", rw, "(i_axis ? i_rows : i_cols)");
}

/// The registers of the instruction being done: the groups still to read,
/// lane 0's position, and the decoded steps and options kept from issue.
fn group_regs(m: &mut Module, rw: u32) {
    for (n, w, d) in [
        ("left", 32, "groups still to read"),
        ("lo0", rw, "lane 0: position in its line of groups"),
        ("base0", rw, "lane 0: first element"),
        ("obase0", rw, "lane 0: first output"),
        ("g_line", rw, "groups per line"),
        ("g_inc_nw", rw, ""),
        ("g_inc_w", rw, ""),
        ("g_oinc_nw", rw, ""),
        ("g_oinc_w", rw, ""),
        ("g_xstep", rw, ""),
        ("g_jstep", rw, ""),
        ("g_m", MB, ""),
        ("g_n", NB, ""),
        ("g_master", 1, "select on master weights in O"),
        ("g_mask", 1, "write the pruned mask to A (mask_out)"),
        ("g_moff", rw, "dst - src: a group element's mask address from its source address"),
    ] {
        m.reg(n, w, d);
    }
}

/// The lane positions: lane p+1 is lane p advanced by one group (lane g is
/// lane 0's next position), and the offsets of a group's elements.
fn lane_positions(m: &mut Module, d: &Dims) {
    let Dims { g, mx, rw, .. } = *d;
    m.wire_assign("lo_0", rw, "lo0");
    m.wire_assign("ba_0", rw, "base0");
    m.wire_assign("ob_0", rw, "obase0");
    for q in 0..=g {
        let nxt = q + 1;
        m.wire_assign(&format!("wrap_{q}"), 1, format!("((lo_{q} + {}) == g_line)", k(rw, 1)));
        m.wire_assign(&format!("lo_{nxt}"), rw, format!("(wrap_{q} ? {} : (lo_{q} + {}))", k(rw, 0), k(rw, 1)));
        m.wire_assign(&format!("ba_{nxt}"), rw, format!("(ba_{q} + (wrap_{q} ? g_inc_w : g_inc_nw))"));
        m.wire_assign(&format!("ob_{nxt}"), rw, format!("(ob_{q} + (wrap_{q} ? g_oinc_w : g_oinc_nw))"));
    }
    // Element and output offsets.
    m.wire_assign("xo_0", rw, k(rw, 0));
    for x in 1..mx {
        m.wire_assign(&format!("xo_{x}"), rw, format!("(xo_{} + g_xstep)", x - 1));
    }
}

/// The reads of every lane's group, from A (int16 weights) or O (master
/// weights), while groups are left.
fn reads(m: &mut Module, d: &Dims) {
    let mut rd = Vec::new();
    for q in (0..d.g).rev() {
        for x in (0..d.mx).rev() {
            rd.push(format!("(ba_{q} + xo_{x})"));
        }
    }
    m.wire_assign("go", 1, "(left != 32'd0)");
    m.assign("a_rd_en", "(go & ~g_master)");
    m.assign("a_rd_addr", format!("{{{}}}", rd.join(", ")));
    m.assign("o_rd_en", "(go & g_master)");
    m.assign("o_rd_addr", format!("{{{}}}", rd.join(", ")));
}

/// Stage 1, the cycle the data arrives: the lanes holding a group, the
/// options and addresses read with it, and the output offsets.
fn stage1_regs(m: &mut Module, d: &Dims) {
    let Dims { g, nx, rw, .. } = *d;
    m.reg("s1_valid", g, "lanes holding a group");
    m.reg("s1_m", MB, "");
    m.reg("s1_n", NB, "");
    m.reg("s1_jstep", rw, "");
    m.reg("s1_master", 1, "");
    m.reg("s1_mask", 1, "");
    m.reg("s1_moff", rw, "");
    m.reg("s1_xstep", rw, "");
    for q in 0..g {
        m.reg(&format!("s1_ba_{q}"), rw, "");
    }
    for q in 0..g {
        m.reg(&format!("s1_ob_{q}"), rw, "");
    }
    let valid: Vec<String> = (0..g).rev().map(|q| format!("(left > 32'd{q})")).collect();
    m.wire_assign("valid", g, format!("{{{}}}", valid.join(", ")));
    m.wire_assign("jo_0", rw, k(rw, 0));
    for j in 1..nx {
        m.wire_assign(&format!("jo_{j}"), rw, format!("(jo_{} + s1_jstep)", j - 1));
    }
}

/// Lane `q`'s keys (the int16 weight, or the master weight saturated to 32
/// bits), their magnitudes (33 bits: |-2^31| = 2^31), the values written
/// (the int16 weight, or weight_from_master) and the in-group test.
fn lane_values(m: &mut Module, d: &Dims, q: u32) {
    let Dims { mx, acc, .. } = *d;
    for x in 0..mx {
        let lo = (q * mx + x) * 16;
        let olo = (q * mx + x) * acc;
        m.wire_assign(&format!("a{q}_{x}"), 16, format!("a_rd_data[{}:{lo}]", lo + 15));
        m.wire_assign(&format!("o{q}_{x}"), 32, format!("sat48_32(o_rd_data[{}:{olo}])", olo + acc - 1));
        m.wire_assign(
            &format!("key{q}_{x}"),
            32,
            format!("(s1_master ? o{q}_{x} : {{{{16{{a{q}_{x}[15]}}}}, a{q}_{x}}})"),
        );
        m.wire_assign(
            &format!("v{q}_{x}"),
            16,
            format!("(s1_master ? sat32_16(rshift32(o{q}_{x}, 8'd12)) : a{q}_{x})"),
        );
        m.wire_assign(
            &format!("mag{q}_{x}"),
            33,
            format!("(key{q}_{x}[31] ? (33'd0 - {{1'b1, key{q}_{x}}}) : {{1'b0, key{q}_{x}}})"),
        );
        m.wire_assign(&format!("in{q}_{x}"), 1, format!("({} < s1_m)", k(MB, u64::from(x))));
    }
}

/// Lane `q`'s ranking: the elements of the group that beat x (ties to the
/// lower index); x is kept when fewer than N do, at the position of the
/// kept elements before it.
fn group_ranking(m: &mut Module, d: &Dims, q: u32) {
    let mx = d.mx;
    for x in 0..mx {
        let beats: Vec<String> = (0..mx)
            .filter(|&y| y != x)
            .map(|y| {
                let cmp = if y < x { ">=" } else { ">" };
                format!("{{{}'d0, (in{q}_{y} & (mag{q}_{y} {cmp} mag{q}_{x}))}}", NB - 1)
            })
            .collect();
        let rank = if beats.is_empty() { k(NB, 0) } else { beats.join(" + ") };
        m.wire_assign(&format!("rank{q}_{x}"), NB, format!("({rank})"));
        m.wire_assign(&format!("kept{q}_{x}"), 1, format!("(in{q}_{x} & (rank{q}_{x} < s1_n))"));
        let before: Vec<String> = (0..x).map(|y| format!("{{{}'d0, kept{q}_{y}}}", NB - 1)).collect();
        let pos = if before.is_empty() { k(NB, 0) } else { before.join(" + ") };
        m.wire_assign(&format!("pos{q}_{x}"), NB, format!("({pos})"));
    }
}

/// Lane `q`'s compressed outputs: output j is the kept element whose
/// position is j, with its in-group index.
fn compressed_outputs(m: &mut Module, d: &Dims, q: u32) {
    for j in 0..d.nx {
        let mut val = format!("{}'d0", d.ww);
        for x in (0..d.mx).rev() {
            val = format!(
                "((kept{q}_{x} & (pos{q}_{x} == {})) ? {{{}, v{q}_{x}}} : {val})",
                k(NB, u64::from(j)),
                k(INDEX_BITS, u64::from(x))
            );
        }
        m.wire_assign(&format!("out{q}_{j}"), d.ww, val);
    }
}

/// The pruned mask's writes to A: every element of a group, at its source
/// position shifted to dst (mask_out only).
fn mask_write(m: &mut Module, d: &Dims) {
    let Dims { g, mx, rw, .. } = *d;
    let (mut men, mut maddr, mut mdata) = (Vec::new(), Vec::new(), Vec::new());
    m.wire_assign("sxo_0", rw, k(rw, 0));
    for x in 1..mx {
        m.wire_assign(&format!("sxo_{x}"), rw, format!("(sxo_{} + s1_xstep)", x - 1));
    }
    for q in (0..g).rev() {
        let v = if g == 1 { "s1_valid".to_string() } else { format!("s1_valid[{q}]") };
        for x in (0..mx).rev() {
            men.push(format!("({v} & s1_mask & in{q}_{x})"));
            maddr.push(format!("((s1_ba_{q} + sxo_{x}) + s1_moff)"));
            mdata.push(format!("{{15'd0, ~kept{q}_{x}}}"));
        }
    }
    m.assign("a_wr_en", format!("{{{}}}", men.join(", ")));
    m.assign("a_wr_addr", format!("{{{}}}", maddr.join(", ")));
    m.assign("a_wr_mask", format!("{{{}{{1'b1}}}}", g * mx));
    m.assign("a_wr_data", format!("{{{}}}", mdata.join(", ")));
}

/// The compressed writes to W: each lane's first N outputs (none with
/// mask_out, which writes the mask instead).
fn compressed_write(m: &mut Module, d: &Dims) {
    let g = d.g;
    let (mut en, mut addr, mut mask, mut data) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for q in (0..g).rev() {
        for j in (0..d.nx).rev() {
            en.push(if g == 1 { "(s1_valid & ~s1_mask)".to_string() } else { format!("(s1_valid[{q}] & ~s1_mask)") });
            addr.push(format!("(s1_ob_{q} + jo_{j})"));
            mask.push(format!("({} < s1_n)", k(NB, u64::from(j))));
            data.push(format!("out{q}_{j}"));
        }
    }
    m.assign("w_wr_en", format!("{{{}}}", en.join(", ")));
    m.assign("w_wr_addr", format!("{{{}}}", addr.join(", ")));
    m.assign("w_wr_mask", format!("{{{}}}", mask.join(", ")));
    m.assign("w_wr_data", format!("{{{}}}", data.join(",\n    ")));
}

/// The sequential block: stage 1 follows the reads; an issue loads the
/// decoded instruction, otherwise each cycle with groups left moves lane 0
/// on by g groups.
fn sequential(m: &mut Module, d: &Dims) {
    let Dims { g, rw, .. } = *d;
    let mut s1 = vec![
        nb("s1_valid", format!("(go ? valid : {})", k(g, 0))),
        nb("s1_m", "g_m"),
        nb("s1_n", "g_n"),
        nb("s1_jstep", "g_jstep"),
        nb("s1_master", "g_master"),
        nb("s1_mask", "g_mask"),
        nb("s1_moff", "g_moff"),
        nb("s1_xstep", "g_xstep"),
    ];
    for q in 0..g {
        s1.push(nb(format!("s1_ob_{q}"), format!("ob_{q}")));
        s1.push(nb(format!("s1_ba_{q}"), format!("ba_{q}")));
    }
    let start = vec![
        nb("left", "i_groups"),
        nb("lo0", k(rw, 0)),
        nb("base0", instr_field_fit("src", rw)),
        nb("obase0", instr_field_fit("dst", rw)),
        nb("g_line", "i_line"),
        nb("g_inc_nw", "i_inc_nw"),
        nb("g_inc_w", "i_inc_w"),
        nb("g_oinc_nw", "i_oinc_nw"),
        nb("g_oinc_w", "i_oinc_w"),
        nb("g_xstep", "i_xstep"),
        nb("g_jstep", "i_jstep"),
        nb("g_m", "i_m"),
        nb("g_n", "i_n"),
        nb("g_master", instr_field("master")),
        nb("g_mask", instr_field("mask_out")),
        nb("g_moff", format!("({} - {})", instr_field_fit("dst", rw), instr_field_fit("src", rw))),
    ];
    let step = vec![if_(
        "go",
        vec![
            nb("left", format!("((left > 32'd{g}) ? (left - 32'd{g}) : 32'd0)")),
            nb("lo0", format!("lo_{g}")),
            nb("base0", format!("ba_{g}")),
            nb("obase0", format!("ob_{g}")),
        ],
    )];
    let mut body = s1;
    body.push(if_else("start", start, step));
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_else("rst", vec![nb("left", "32'd0"), nb("s1_valid", k(g, 0))], body)],
    ));
}
