//! The vector unit: element-wise ops (`requant`, `relu_bwd`, `add`, `sgd`,
//! `clear`) streamed `lanes` elements per cycle, and the softmax
//! cross-entropy gradient (`loss_grad`) in its own module, with the
//! arithmetic of `dataflow::numerics` bit for bit.

use nmsat_dataflow::isa::{NO_SHIFT, VecOp};

use crate::emit::util::{fbits, field, fn_requantize, fn_round_shift, fn_saturate, k, vec_op_k, zx};
use crate::params::{INSTR_BITS, Params};
use crate::vast::{Always, Instance, Item, Module, Stmt, bl, id, if_, if_else, nb};

/// Bits of an operation code (`isa::VecOp`, the `op` field).
const OPB: u32 = fbits("vec", "op");
/// Bits of the shift and of the parameters `p1` to `p5`.
const PB: u32 = fbits("vec", "shift");
const _: () = {
    let ps = ["p1", "p2", "p3", "p4", "p5"];
    let mut i = 0;
    while i < ps.len() {
        assert!(fbits("vec", ps[i]) == PB, "vec parameters share one width");
        i += 1;
    }
};

/// The `vec` field `name` of `instr`, truncated or zero-extended to `w` bits.
fn vfield(instr: &str, name: &str, w: u32) -> String {
    let (lo, bits) = field("vec", name);
    if w <= bits {
        format!("{instr}[{}:{lo}]", lo + w - 1)
    } else {
        zx(&format!("{instr}[{}:{lo}]", lo + bits - 1), bits, w)
    }
}

/// `sat_vector`: the vector unit. Element-wise ops read `lanes` elements
/// of each source per cycle from the cycle after issue and write the next
/// cycle, so they end inside the model's `passes·ceil(len/lanes) + 4`
/// cycles (`sgd` reads gradient, momentum and master weights in one pass
/// over three read ports of the output buffer and writes master weights
/// and momentum through two write ports, the momentum's last: when the two
/// ranges are the same the momentum is what remains, as in
/// `sim::datapath`). A `loss_grad` runs in [`lossgrad`], which shares the
/// activation-buffer ports. Source and destination ranges are read a chunk
/// at a time: ranges that overlap without being identical are not an
/// element-by-element sequential loop.
pub fn vector(p: &Params) -> Module {
    let vl = p.vec_lanes;
    let rw = p.range_bits;
    let acc = p.acc_bits;
    let mut m = Module::new("sat_vector");
    m.doc.push(format!(
        "Vector unit: {vl} elements per cycle; requant, relu_bwd, add (saturating), sgd, clear, and loss_grad (sat_lossgrad)."
    ));
    vector_ports(&mut m, vl, rw, acc);
    m.push(fn_round_shift("rshift48", acc, 8));
    m.push(fn_saturate("sat48_16", acc, 16));
    m.push(fn_saturate("sat48_32", acc, 32));
    m.push(fn_requantize("requant"));
    m.push(fn_round_shift("rshift32", 32, 8));
    m.push(fn_saturate("sat64_32", 64, 32));
    m.push(fn_saturate("sat32_16", 32, 16));
    vector_regs(&mut m, vl, rw);
    m.wire_assign("go", 1, "(left != 32'd0)");
    let mask: Vec<String> = (0..vl).rev().map(|l| format!("(left > 32'd{l})")).collect();
    m.wire_assign("mask", vl, format!("{{{}}}", mask.join(", ")));
    m.wire_assign("sgd", 1, format!("(op == {})", vec_op_k(VecOp::Sgd)));
    loss_grad_unit(&mut m, vl, rw);
    vector_reads(&mut m);
    let lanes = lane_results(&mut m, vl, acc);
    vector_writes(&mut m, vl, acc, &lanes);
    vector_sequential(&mut m, vl, rw);
    m.lint_off.push(("UNUSED".into(), "reads a few fields of the instruction and bits of wide intermediates".into()));
    m
}

/// The issuing instruction's op code, as a slice of `instr`.
fn instr_op() -> String {
    let (oplo, _) = field("vec", "op");
    format!("instr[{}:{oplo}]", oplo + OPB - 1)
}

/// The vector unit's ports: the issuing instruction, the source reads of A
/// and O (sgd's momentum and master weights among them) and the writes.
fn vector_ports(m: &mut Module, vl: u32, rw: u32, acc: u32) {
    m.input("clk", 1, "");
    m.input("rst", 1, "");
    m.input("start", 1, "a vec instruction issues");
    m.input("instr", INSTR_BITS, "");
    for (n, w, doc) in [
        ("a_rd1", 16, "first source (A)"),
        ("a_rd2", 16, "second source (A)"),
        ("o_rd", acc, "source (O)"),
        ("o_rd2", acc, "second source (O): sgd momentum"),
        ("o_rd3", acc, "destination read (O): sgd master weights"),
    ] {
        m.output(&format!("{n}_en"), 1, doc);
        m.output(&format!("{n}_addr"), rw, "");
        m.input(&format!("{n}_data"), vl * w, "");
    }
    for (n, w, doc) in [
        ("a_wr", 16, "destination (A); sgd: the operand weights at aux"),
        ("o_wr", acc, "destination (O)"),
        ("o_wr2", acc, "sgd: momentum (after o_wr)"),
    ] {
        m.output(&format!("{n}_en"), 1, doc);
        m.output(&format!("{n}_addr"), rw, "");
        m.output(&format!("{n}_mask"), vl, "");
        m.output(&format!("{n}_data"), vl * w, "");
    }
}

/// The registers of the op being streamed (its fields and read
/// positions) and of stage 1, the cycle a chunk's operands arrive.
fn vector_regs(m: &mut Module, vl: u32, rw: u32) {
    for (n, w, d) in [
        ("op", OPB, "operation"),
        ("left", 32, "elements still to read"),
        ("src", rw, ""),
        ("src2", rw, ""),
        ("dst", rw, ""),
        ("aux", rw, "sgd: operand-weight address"),
        ("shift", PB, "requant / sgd: requantization shift"),
        ("p1", PB, "requant: ReLU; sgd: lr shift"),
        ("p2", PB, "sgd: momentum shift (0: none)"),
        ("p3", PB, "sgd: gradient alignment (left shift)"),
        ("p4", PB, &format!("sgd: weight-decay shift ({NO_SHIFT}: none)")),
        ("p5", PB, &format!("sgd: SR-STE shift ({NO_SHIFT}: none)")),
        ("mk", rw, "sgd: SR-STE's pruned flags (A)"),
        ("s1_v", 1, "a chunk's operands arrive"),
        ("s1_op", OPB, ""),
        ("s1_dst", rw, ""),
        ("s1_src2", rw, ""),
        ("s1_aux", rw, ""),
        ("s1_mask", vl, ""),
    ] {
        m.reg(n, w, d);
    }
}

/// The loss gradient: `sat_lossgrad`, started by a `loss_grad` issue, on
/// the activation buffer's ports (which the vector unit leaves idle then).
fn loss_grad_unit(m: &mut Module, vl: u32, rw: u32) {
    m.wire("lg_rd1_en", 1, "");
    m.wire("lg_rd1_addr", rw, "");
    m.wire("lg_rd2_en", 1, "");
    m.wire("lg_rd2_addr", rw, "");
    m.wire("lg_wr_en", 1, "");
    m.wire("lg_wr_addr", rw, "");
    m.wire("lg_wr_mask", vl, "");
    m.wire("lg_wr_data", vl * 16, "");
    m.push(Item::Instance(Instance {
        module: "sat_lossgrad".into(),
        name: "lg".into(),
        params: vec![],
        conns: [
            ("clk", "clk"),
            ("rst", "rst"),
            ("start", &format!("(start & ({} == {}))", instr_op(), vec_op_k(VecOp::LossGrad))),
            ("instr", "instr"),
            ("rd1_en", "lg_rd1_en"),
            ("rd1_addr", "lg_rd1_addr"),
            ("rd1_data", "a_rd1_data"),
            ("rd2_en", "lg_rd2_en"),
            ("rd2_addr", "lg_rd2_addr"),
            ("rd2_data", "a_rd2_data"),
            ("wr_en", "lg_wr_en"),
            ("wr_addr", "lg_wr_addr"),
            ("wr_mask", "lg_wr_mask"),
            ("wr_data", "lg_wr_data"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), id(*b)))
        .collect(),
    }));
}

/// The source reads of a chunk: A's (shared with the loss gradient; sgd
/// reads SR-STE's pruned flags there) and O's (sgd's momentum and master
/// weights on the second and third ports).
fn vector_reads(m: &mut Module) {
    m.assign("a_rd1_en", "(go | lg_rd1_en)");
    m.assign("a_rd1_addr", "(go ? (sgd ? mk : src) : lg_rd1_addr)");
    m.assign("a_rd2_en", "(go | lg_rd2_en)");
    m.assign("a_rd2_addr", "(go ? src2 : lg_rd2_addr)");
    m.assign("o_rd_en", "go");
    m.assign("o_rd_addr", "src");
    m.assign("o_rd2_en", "(go & sgd)");
    m.assign("o_rd2_addr", "src2");
    m.assign("o_rd3_en", "(go & sgd)");
    m.assign("o_rd3_addr", "dst");
}

/// Every lane's result of every op, lane `vl - 1` first, as the writes
/// concatenate them.
#[derive(Debug, Default)]
struct LaneResults {
    /// `add`: the saturated int16 sums.
    add: Vec<String>,
    /// `relu_bwd`: the gradient where the activation is positive.
    relu: Vec<String>,
    /// `requant`: the requantized values (with the optional ReLU).
    requant: Vec<String>,
    /// `sgd`: the operand weights, weight_from_master of the new master weights.
    operand: Vec<String>,
    /// `sgd`: the new master weights, sign-extended to the accumulator.
    master: Vec<String>,
    /// `sgd`: the new momentum, sign-extended to the accumulator.
    momentum: Vec<String>,
}

/// The lane results of the element-wise ops and of sgd, with the
/// requantization shift they share.
fn lane_results(m: &mut Module, vl: u32, acc: u32) -> LaneResults {
    let mut r = LaneResults::default();
    m.wire_assign("sh", PB, format!("(shift[{}] ? {} : shift)", PB - 1, k(PB, 0)));
    for l in (0..vl).rev() {
        lane_elementwise(m, l, acc, &mut r);
        lane_sgd(m, l, acc, &mut r);
    }
    r
}

/// Lane `l`'s results of `add`, `relu_bwd` and `requant`.
fn lane_elementwise(m: &mut Module, l: u32, acc: u32, r: &mut LaneResults) {
    let a1 = format!("a_rd1_data[{}:{}]", l * 16 + 15, l * 16);
    let a2 = format!("a_rd2_data[{}:{}]", l * 16 + 15, l * 16);
    let o = format!("o_rd_data[{}:{}]", l * acc + acc - 1, l * acc);
    let (s1, s2) = (format!("a_rd1_data[{}]", l * 16 + 15), format!("a_rd2_data[{}]", l * 16 + 15));
    m.wire_assign(&format!("sum{l}"), 17, format!("({{{s1}, {a1}}} + {{{s2}, {a2}}})"));
    r.add.push(format!("((sum{l}[16] != sum{l}[15]) ? (sum{l}[16] ? 16'h8000 : 16'h7fff) : sum{l}[15:0])"));
    r.relu.push(format!("(($signed({a2}) > 16'sd0) ? {o} : {})", k(acc, 0)));
    m.wire_assign(&format!("q{l}"), 16, format!("requant({o}, sh)"));
    r.requant.push(format!("((p1 != {}) & q{l}[15]) ? 16'd0 : q{l}", k(PB, 0)));
}

/// Lane `l`'s sgd update (numerics::sgd_update): g = (dw << p3) +
/// round_shift(w, p4) when enabled; v' = sat32(v - round_shift(v, p2) + g)
/// (sat32(g) without momentum); w' = sat32(w - round_shift(v', p1)); the
/// operand weight is weight_from_master(w') = sat16(round_shift(w', 12)).
fn lane_sgd(m: &mut Module, l: u32, acc: u32, r: &mut LaneResults) {
    let no_shift = k(PB, u64::from(NO_SHIFT));
    let a1 = format!("a_rd1_data[{}:{}]", l * 16 + 15, l * 16);
    let o = |port: &str| format!("{port}[{}:{}]", l * acc + acc - 1, l * acc);
    m.wire_assign(&format!("w{l}"), 32, format!("sat48_32({})", o("o_rd3_data")));
    m.wire_assign(&format!("v{l}"), 32, format!("sat48_32({})", o("o_rd2_data")));
    // SR-STE (p5 a shift): where the FF mask pruned the weight (A[mask] != 0),
    // g gains round_shift(w, p5).
    m.wire_assign(&format!("pr{l}"), 1, format!("((p5 != {no_shift}) & ({a1} != 16'd0))"));
    m.wire_assign(&format!("rs{l}"), 32, format!("rshift32(w{l}, p5)"));
    m.wire_assign(
        &format!("g{l}"),
        64,
        format!(
            "((({{{{48{{q{l}[15]}}}}, q{l}}} << p3) + ((p4 == {no_shift}) ? 64'd0 : {{{{32{{rw{l}[31]}}}}, rw{l}}})) + (pr{l} ? {{{{32{{rs{l}[31]}}}}, rs{l}}} : 64'd0))"
        ),
    );
    m.wire_assign(&format!("rw{l}"), 32, format!("rshift32(w{l}, p4)"));
    m.wire_assign(&format!("rv{l}"), 32, format!("rshift32(v{l}, p2)"));
    m.wire_assign(
        &format!("nv{l}"),
        32,
        format!(
            "sat64_32((p2 == {}) ? g{l} : (({{{{32{{v{l}[31]}}}}, v{l}}} - {{{{32{{rv{l}[31]}}}}, rv{l}}}) + g{l}))",
            k(PB, 0)
        ),
    );
    m.wire_assign(&format!("rn{l}"), 32, format!("rshift32(nv{l}, p1)"));
    m.wire_assign(
        &format!("nw{l}"),
        32,
        format!("sat64_32({{{{32{{w{l}[31]}}}}, w{l}}} - {{{{32{{rn{l}[31]}}}}, rn{l}}})"),
    );
    r.operand.push(format!("sat32_16(rshift32(nw{l}, 8'd12))"));
    r.master.push(format!("{{{{{}{{nw{l}[31]}}}}, nw{l}}}", acc - 32));
    r.momentum.push(format!("{{{{{}{{nv{l}[31]}}}}, nv{l}}}", acc - 32));
}

/// The writes of stage 1: A (requant, add, sgd's operand weights, and the
/// loss gradient's outputs), O (relu_bwd, clear, sgd's master weights) and
/// O's second port (sgd's momentum, after the master weights).
fn vector_writes(m: &mut Module, vl: u32, acc: u32, r: &LaneResults) {
    let (op_requant, op_relu_bwd, op_add) = (vec_op_k(VecOp::Requant), vec_op_k(VecOp::ReluBwd), vec_op_k(VecOp::Add));
    let (op_sgd, op_clear) = (vec_op_k(VecOp::Sgd), vec_op_k(VecOp::Clear));
    let a_ops = format!("(s1_op == {op_requant}) | (s1_op == {op_add}) | (s1_op == {op_sgd})");
    m.assign("a_wr_en", format!("((s1_v & ({a_ops})) | lg_wr_en)"));
    m.assign("a_wr_addr", format!("(lg_wr_en ? lg_wr_addr : (s1_op == {op_sgd}) ? s1_aux : s1_dst)"));
    m.assign("a_wr_mask", "(lg_wr_en ? lg_wr_mask : s1_mask)");
    m.assign(
        "a_wr_data",
        format!(
            "(lg_wr_en ? lg_wr_data : (s1_op == {op_add}) ? {{{}}} : (s1_op == {op_sgd}) ? {{{}}} : {{{}}})",
            r.add.join(",\n    "),
            r.operand.join(",\n    "),
            r.requant.iter().map(|x| format!("({x})")).collect::<Vec<_>>().join(",\n    ")
        ),
    );
    m.assign("o_wr_en", format!("(s1_v & ((s1_op == {op_relu_bwd}) | (s1_op == {op_clear}) | (s1_op == {op_sgd})))"));
    m.assign("o_wr_addr", "s1_dst");
    m.assign("o_wr_mask", "s1_mask");
    m.assign(
        "o_wr_data",
        format!(
            "((s1_op == {op_clear}) ? {} : (s1_op == {op_sgd}) ? {{{}}} : {{{}}})",
            k(vl * acc, 0),
            r.master.join(",\n    "),
            r.relu.join(",\n    ")
        ),
    );
    m.assign("o_wr2_en", format!("(s1_v & (s1_op == {op_sgd}))"));
    m.assign("o_wr2_addr", "s1_src2");
    m.assign("o_wr2_mask", "s1_mask");
    m.assign("o_wr2_data", format!("{{{}}}", r.momentum.join(",\n    ")));
}

/// The issue of a vec instruction: its op, length (none for a loss
/// gradient, which runs in sat_lossgrad), addresses and parameters.
fn vector_start(rw: u32) -> Vec<Stmt> {
    let (lenlo, lenbits) = field("vec", "len");
    vec![
        nb("op", instr_op()),
        // A loss gradient runs in sat_lossgrad.
        nb(
            "left",
            format!(
                "(({} == {}) ? 32'd0 : {})",
                instr_op(),
                vec_op_k(VecOp::LossGrad),
                zx(&format!("instr[{}:{lenlo}]", lenlo + lenbits - 1), lenbits, 32)
            ),
        ),
        nb("src", vfield("instr", "src", rw)),
        nb("src2", vfield("instr", "src2", rw)),
        nb("dst", vfield("instr", "dst", rw)),
        nb("aux", vfield("instr", "aux", rw)),
        nb("shift", vfield("instr", "shift", 8)),
        nb("p1", vfield("instr", "p1", 8)),
        nb("p2", vfield("instr", "p2", 8)),
        nb("p3", vfield("instr", "p3", 8)),
        nb("p4", vfield("instr", "p4", 8)),
        nb("p5", vfield("instr", "p5", 8)),
        nb("mk", vfield("instr", "mask", rw)),
    ]
}

/// The sequential block: stage 1 follows the reads; an issue loads the
/// instruction, otherwise each cycle with elements left moves every
/// address on by a chunk of `vl`.
fn vector_sequential(m: &mut Module, vl: u32, rw: u32) {
    let vstep = k(rw, u64::from(vl));
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_else(
            "rst",
            vec![nb("left", "32'd0"), nb("s1_v", "1'b0")],
            vec![
                nb("s1_v", "go"),
                nb("s1_op", "op"),
                nb("s1_dst", "dst"),
                nb("s1_src2", "src2"),
                nb("s1_aux", "aux"),
                nb("s1_mask", "mask"),
                if_else(
                    "start",
                    vector_start(rw),
                    vec![if_(
                        "go",
                        vec![
                            nb("left", format!("((left > 32'd{vl}) ? (left - 32'd{vl}) : 32'd0)")),
                            nb("src", format!("(src + {vstep})")),
                            nb("src2", format!("(src2 + {vstep})")),
                            nb("dst", format!("(dst + {vstep})")),
                            nb("aux", format!("(aux + {vstep})")),
                            nb("mk", format!("(mk + {vstep})")),
                        ],
                    )],
                ),
            ],
        )],
    ));
}

/// `exp_neg(d, frac)` of `numerics` (Q15 result, at most 32768): `t = d ·
/// LOG2E_Q14`, a round-half-up shift by `frac - 2` (a left shift by `2 -
/// frac` when `frac < 2`) to a Q16 base-2 exponent, then `exp2_neg_q16`:
/// table lookup on the top 4 fraction bits, linear interpolation on the low
/// 12, a round-half-up shift by the integer part, 0 past 15.
fn fn_exp_neg() -> Item {
    use nmsat_dataflow::numerics::{EXP2_TABLE, LOG2E_Q14};
    let mut table = Vec::new();
    for (i, e) in EXP2_TABLE.iter().enumerate().take(16) {
        table.push((
            vec![crate::vast::Expr::Raw(format!("4'd{i}"))],
            vec![bl("e0", format!("24'd{e}")), bl("e1", format!("24'd{}", EXP2_TABLE[i + 1]))],
        ));
    }
    Item::Function {
        name: "exp_neg".into(),
        width: 16,
        inputs: vec![("d".into(), 16), ("frac".into(), 8)],
        locals: vec![
            ("t".into(), 34),
            ("u".into(), 34),
            ("y".into(), 24),
            ("e0".into(), 24),
            ("e1".into(), 24),
            ("pr".into(), 24),
            ("sh".into(), 8),
        ],
        body: vec![
            bl("t", format!("({{18'd0, d}} * 34'd{LOG2E_Q14})")),
            if_else(
                "frac >= 8'd2",
                vec![
                    bl("sh", "(frac - 8'd2)"),
                    // t < 2^31: a shift of 32 or more rounds to 0.
                    if_else(
                        "sh == 8'd0",
                        vec![bl("u", "t")],
                        vec![if_else(
                            "sh >= 8'd32",
                            vec![bl("u", "34'd0")],
                            vec![bl("u", "((t + (34'd1 << (sh - 8'd1))) >> sh)")],
                        )],
                    ),
                ],
                vec![bl("u", "(t << (8'd2 - frac))")],
            ),
            if_else(
                "u[33:16] > 18'd15",
                vec![bl("exp_neg", "16'd0")],
                vec![
                    Stmt::Case(
                        crate::vast::Expr::Raw("u[15:12]".into()),
                        table,
                        vec![bl("e0", "24'd0"), bl("e1", "24'd0")],
                    ),
                    bl("pr", "((e0 - e1) * {12'd0, u[11:0]})"),
                    bl("y", "(e0 - ((pr + 24'd2048) >> 12))"),
                    if_else(
                        "u[19:16] == 4'd0",
                        vec![bl("exp_neg", "y[15:0]")],
                        vec![bl("y", "((y + (24'd1 << (u[19:16] - 4'd1))) >> u[19:16])"), bl("exp_neg", "y[15:0]")],
                    ),
                ],
            ),
        ],
        doc: "numerics::exp_neg: e^(-d / 2^frac) in Q15".into(),
    }
}

/// `restoring_divide(num, den)` of `numerics`: 32 steps of shift in a bit,
/// compare, subtract (`num < 2^32`, `den > 0`).
fn fn_restoring_divide() -> Item {
    Item::Function {
        name: "rdiv".into(),
        width: 32,
        inputs: vec![("num".into(), 32), ("den".into(), 40)],
        locals: vec![("rem".into(), 41), ("q".into(), 32), ("i".into(), 6)],
        body: vec![
            bl("rem", "41'd0"),
            bl("q", "32'd0"),
            Stmt::For(
                "i".into(),
                0,
                32,
                vec![
                    bl("rem", "{rem[39:0], num[5'd31 - i[4:0]]}"),
                    if_("rem >= {1'b0, den}", vec![bl("rem", "(rem - {1'b0, den})"), bl("q[5'd31 - i[4:0]]", "1'b1")]),
                ],
            ),
            bl("rdiv", "q"),
        ],
        doc: "numerics::restoring_divide".into(),
    }
}

/// `sat_lossgrad`: `numerics::softmax_xent_grad` per row of `aux` classes
/// (`len / aux` whole rows of logits at `src`, one label per row at `src2`,
/// clamped to `0..aux`; `p1` = act_frac, `p2` = grad_frac), into `dst`.
///
/// One element per cycle through one exponential and one divider: the loss
/// gradient runs once per training step on `batch × classes` logits, so a
/// lane-parallel unit (one 32-step divider per lane and a max/sum per row
/// slot and lane) would cost a large share of the chip for a negligible
/// share of the step's cycles. Each row makes three passes over its
/// elements, one read per cycle from the cycle after issue: the maximum,
/// the sum of the exponentials, then the outputs. Passes and rows follow
/// without a gap, so the last read is `3·rows·aux` cycles after issue and
/// the last output is written two cycles later, inside the model's
/// `3·len + 4` (`timing::vector`).
pub fn lossgrad(p: &Params) -> Module {
    let vl = p.vec_lanes;
    let rw = p.range_bits;
    let mut m = Module::new("sat_lossgrad");
    m.doc.push(
        "Softmax cross-entropy gradient: one element per cycle, three passes per row (max, sum, output).".to_string(),
    );
    lossgrad_ports(&mut m, vl, rw);
    m.push(fn_exp_neg());
    m.push(fn_restoring_divide());
    m.push(fn_round_shift("rshift17", 17, 8));
    m.push(fn_saturate("sat17_16", 17, 16));
    lossgrad_decode(&mut m, rw);
    let c_rw = format!("c[{}:0]", rw.min(32) - 1);
    let col_rw = format!("col[{}:0]", rw.min(32) - 1);
    m.assign("rd1_en", "act");
    m.assign("rd1_addr", format!("(rsrc + {col_rw})"));
    m.assign("rd2_en", "(act & (pass == 2'd0) & (col == 32'd0))");
    m.assign("rd2_addr", "rlab");
    let seq = row_sequencer(rw, &c_rw);
    let stage_d = stage_d(&mut m, rw, &col_rw);
    let stage_e = stage_e(&mut m, vl, rw);
    let mut body = vec![seq];
    body.extend(stage_d);
    body.extend(stage_e);
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_else("rst", vec![nb("act", "1'b0"), nb("d_v", "1'b0"), nb("x_v", "1'b0")], body)],
    ));
    m.lint_off.push((
        "UNUSED".into(),
        "reads a few fields of the instruction, lane 0 of its ports and bits of wide intermediates".into(),
    ));
    m
}

/// The loss gradient's ports: the issue, the reads of logits and labels
/// and the gradients' write (lane 0 of the vector unit's A ports).
fn lossgrad_ports(m: &mut Module, vl: u32, rw: u32) {
    m.input("clk", 1, "");
    m.input("rst", 1, "");
    m.input("start", 1, "a vec loss_grad issues");
    m.input("instr", INSTR_BITS, "");
    m.output("rd1_en", 1, "logits");
    m.output("rd1_addr", rw, "");
    m.input("rd1_data", vl * 16, "lane 0: the logit at rd1_addr");
    m.output("rd2_en", 1, "the row's label");
    m.output("rd2_addr", rw, "");
    m.input("rd2_data", vl * 16, "lane 0: the label at rd2_addr");
    m.output("wr_en", 1, "one gradient");
    m.output("wr_addr", rw, "");
    m.output("wr_mask", vl, "lane 0 only");
    m.output("wr_data", vl * 16, "");
}

/// The decode of the issuing loss gradient (its length and classes, at
/// least one) and the registers of the row and pass being read.
fn lossgrad_decode(m: &mut Module, rw: u32) {
    m.wire_assign("i_len", 32, vfield("instr", "len", 32));
    m.wire_assign("i_c0", 32, vfield("instr", "aux", 32));
    m.wire_assign("i_c", 32, "((i_c0 == 32'd0) ? 32'd1 : i_c0)");
    for (n, w, d) in [
        ("act", 1, "a loss gradient is reading"),
        ("c", 32, "classes"),
        ("left", 32, "elements from the current row on"),
        ("frac", PB, "act_frac (p1)"),
        ("gfrac", PB, "grad_frac (p2)"),
        ("pass", 2, "0 max, 1 sum, 2 output"),
        ("col", 32, "class of the element read this cycle"),
        ("rsrc", rw, "the row's logits"),
        ("rdst", rw, "the row's gradients"),
        ("rlab", rw, "the row's label"),
    ] {
        m.reg(n, w, d);
    }
    m.wire_assign("row_end", 1, "(col == (c - 32'd1))");
    m.wire_assign("left2", 32, "(left - c)");
}

/// The reads' sequencer: an issue loads the instruction; then one class a
/// cycle, three passes a row, and the next row (if a whole one is left)
/// after the output pass.
fn row_sequencer(rw: u32, c_rw: &str) -> Stmt {
    if_else(
        "start",
        vec![
            nb("act", "((i_len != 32'd0) & (i_len >= i_c))"),
            nb("c", "i_c"),
            nb("left", "i_len"),
            nb("frac", vfield("instr", "p1", 8)),
            nb("gfrac", vfield("instr", "p2", 8)),
            nb("pass", "2'd0"),
            nb("col", "32'd0"),
            nb("rsrc", vfield("instr", "src", rw)),
            nb("rdst", vfield("instr", "dst", rw)),
            nb("rlab", vfield("instr", "src2", rw)),
        ],
        vec![if_(
            "act",
            vec![if_else(
                "~row_end",
                vec![nb("col", "(col + 32'd1)")],
                vec![
                    nb("col", "32'd0"),
                    if_else(
                        "pass != 2'd2",
                        vec![nb("pass", "(pass + 2'd1)")],
                        vec![
                            nb("pass", "2'd0"),
                            nb("left", "left2"),
                            nb("rsrc", format!("(rsrc + {c_rw})")),
                            nb("rdst", format!("(rdst + {c_rw})")),
                            nb("rlab", format!("(rlab + {})", k(rw, 1))),
                            if_("left2 < c", vec![nb("act", "1'b0")]),
                        ],
                    ),
                ],
            )],
        )],
    )
}

/// Stage D: the logit (and on a row's first read, its label) arrives; the
/// max pass keeps the row's maximum and label, the sum pass adds the
/// exponentials. Returns its statements of the sequential block.
fn stage_d(m: &mut Module, rw: u32, col_rw: &str) -> Vec<Stmt> {
    for (n, w, d) in [
        ("d_v", 1, "stage D: a logit arrives"),
        ("d_pass", 2, ""),
        ("d_first", 1, "first element of its pass"),
        ("d_col", 32, ""),
        ("d_wa", rw, "its gradient's address"),
        ("mx", 16, "the row's running maximum"),
        ("sm", 40, "the row's sum of exponentials"),
        ("lab", 32, "the row's label, clamped to 0..classes"),
    ] {
        m.reg(n, w, d);
    }
    m.wire_assign("z", 16, "rd1_data[15:0]");
    m.wire_assign("dz", 17, "({mx[15], mx} - {z[15], z})");
    m.wire_assign("e", 16, "exp_neg(dz[15:0], frac)");
    vec![
        nb("d_v", "act"),
        nb("d_pass", "pass"),
        nb("d_first", "(col == 32'd0)"),
        nb("d_col", "col"),
        nb("d_wa", format!("(rdst + {col_rw})")),
        if_(
            "d_v & (d_pass == 2'd0)",
            vec![
                nb("mx", "((d_first | ($signed(z) > $signed(mx))) ? z : mx)"),
                if_(
                    "d_first",
                    vec![nb(
                        "lab",
                        "(rd2_data[15] ? 32'd0 : (({16'd0, rd2_data[15:0]} >= c) ? (c - 32'd1) : {16'd0, rd2_data[15:0]}))",
                    )],
                ),
            ],
        ),
        if_("d_v & (d_pass == 2'd1)", vec![nb("sm", "((d_first ? 40'd0 : sm) + {24'd0, e})")]),
    ]
}

/// Stage E, the output pass: divide, subtract the label's one-hot,
/// requantize and write the gradient. Returns its statements of the
/// sequential block.
fn stage_e(m: &mut Module, vl: u32, rw: u32) -> Vec<Stmt> {
    for (n, w, d) in
        [("x_v", 1, "stage E: an output's exponential"), ("x_e", 16, ""), ("x_col", 32, ""), ("x_wa", rw, "")]
    {
        m.reg(n, w, d);
    }
    let stage_e = vec![nb("x_v", "(d_v & (d_pass == 2'd2))"), nb("x_e", "e"), nb("x_col", "d_col"), nb("x_wa", "d_wa")];
    m.wire_assign("gs", 8, "((gfrac > 8'd15) ? 8'd0 : (8'd15 - gfrac))");
    m.wire_assign("pq", 32, "rdiv({1'b0, x_e, 15'd0}, sm)");
    // p - [class = label]·2^15, 17 bits signed (p <= 2^15).
    m.wire_assign("gd", 17, "(pq[16:0] - ((x_col == lab) ? 17'd32768 : 17'd0))");
    m.assign("wr_en", "x_v");
    m.assign("wr_addr", "x_wa");
    m.assign("wr_mask", k(vl, 1));
    m.assign("wr_data", format!("{{{}'d0, sat17_16(rshift17(gd, gs))}}", vl * 16 - 16));
    stage_e
}
