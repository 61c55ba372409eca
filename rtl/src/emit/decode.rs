//! Instruction decoders: the DMA beat count and the compute queue's unit,
//! occupancy and buffer ranges, generated from the ISA table
//! (`dataflow::isa::OPCODES`) and the timing rules of `dataflow::timing`.
//!
//! They are combinational: the controller registers their outputs when an
//! instruction becomes the head of its queue, so the arithmetic (a few
//! small multipliers) is off the issue path.

use nmsat_dataflow::isa::{Buf, DmaFormat, NM_CHUNK, NO_SHIFT, OPCODE_BITS, VecOp};

use crate::emit::util::{
    BUF_BITS, MODE_BITS, buf_k, cdiv, cmul, fbits, field_k, field_wire, fmt_k, index_bits_of, is_opcode, k, max2, min2,
    mode_code, opcode_k, opcode_of, raw, vec_op_k, zx,
};
use crate::params::{INSTR_BITS, Params, TIME_BITS};
use crate::vast::{Item, Module, Stmt, bl};

const T: u32 = TIME_BITS;

/// Compute units, as the controller numbers them.
pub const UNIT_ARRAY: u64 = 0;
/// The vector unit.
pub const UNIT_VECTOR: u64 = 1;
/// The sparsifier.
pub const UNIT_SPARSIFIER: u64 = 2;
/// `sync` and `halt`.
pub const UNIT_CONTROL: u64 = 3;
/// Bits of a unit number.
pub const UNIT_BITS: u32 = 2;

/// Unit `u` as a literal.
pub fn unit_k(u: u64) -> String {
    k(UNIT_BITS, u)
}

/// The scoreboard's range slots of one instruction: three read and three written.
pub const SLOTS: [&str; 6] = ["r0", "r1", "r2", "w0", "w1", "w2"];

/// `sat_dma_decode`: channel beats of a load, store or load2col (`timing::transfer`).
pub fn dma_decode(p: &Params) -> Module {
    let mut m = Module::new("sat_dma_decode");
    m.doc.push("DMA decoder: channel beats of a load, store or load2col, as timing::transfer computes them:".into());
    m.doc.push("beats = max(1, ceil(rows * ceil(row_bytes / burst) * burst / bytes_per_cycle)); a load2col".into());
    m.doc.push("reads its field `bursts` bursts (ConvGeom::gather_bursts).".into());
    if p.line_buffer > 0 {
        m.doc.push("With the line buffer a load2col also holds the channel for its expansion,".into());
        m.doc.push("ceil(rows * units_per_row / expand_units) (timing::load2col_expansion).".into());
    }
    m.input("instr", INSTR_BITS, "a load, store or load2col");
    m.output("beats", T, "cycles the DRAM channel is occupied");
    let mut body = Module::new("body");
    // load and store share the field layout of their first eight fields.
    let fmt0 = field_wire(&mut body, "instr", "load", "fmt", "f");
    let ib = field_wire(&mut body, "instr", "load", "ibits", "f");
    let rows0 = field_wire(&mut body, "instr", "load", "rows", "f");
    let cols0 = field_wire(&mut body, "instr", "load", "cols", "f");
    let gbursts = field_wire(&mut body, "instr", "load2col", "bursts", "g");
    body.wire_assign("is2col", 1, is_opcode("instr", "load2col"));
    let (fmt, rows) = ("fmt".to_string(), "rows".to_string());
    let rows_bits = fbits("load", "rows");
    body.wire_assign(&fmt, fbits("load", "fmt"), fmt0.clone());
    body.wire_assign(&rows, rows_bits, rows0);
    body.wire_assign("cols_w", T, zx(&cols0, fbits("load", "cols"), T));
    body.wire_assign("ibits_w", T, zx(&ib, fbits("load", "ibits"), T));
    body.wire_assign("chunks", T, cdiv("cols_w", NM_CHUNK, T));
    // Bytes per element of the word formats, and of an nm_row chunk: its
    // values plus NM_CHUNK / 8 bytes per index bit.
    let word = |f: DmaFormat| cmul("cols_w", f.row_bytes(1, 0), T);
    let chunk = format!("{} + {}", k(T, DmaFormat::NmRow.row_bytes(NM_CHUNK, 0)), cmul("ibits_w", NM_CHUNK / 8, T));
    body.push(Item::Reg { name: "row_bytes".into(), width: T, depth: 0, doc: "DRAM bytes of one row".into() });
    body.push(Item::Always(
        crate::vast::Always::Comb,
        vec![Stmt::Case(
            raw(fmt),
            vec![
                (
                    vec![raw(fmt_k(DmaFormat::I16)), raw(fmt_k(DmaFormat::NmValues))],
                    vec![bl("row_bytes", word(DmaFormat::I16))],
                ),
                (vec![raw(fmt_k(DmaFormat::I32))], vec![bl("row_bytes", word(DmaFormat::I32))]),
                (vec![raw(fmt_k(DmaFormat::NmRow))], vec![bl("row_bytes", format!("(chunks * ({chunk}))"))]),
                (
                    vec![raw(fmt_k(DmaFormat::NmIndices))],
                    vec![bl("row_bytes", format!("((cols_w * ibits_w) + {}) >> 3", k(T, 7)))],
                ),
            ],
            vec![bl("row_bytes", k(T, 0))],
        )],
    ));
    let burst = u64::from(p.dram_burst);
    let (_, bb) = crate::emit::util::field("load2col", "bursts");
    body.wire_assign("row_bursts", T, cdiv("row_bytes", burst, T));
    body.wire_assign(
        "bursts",
        T,
        format!("(is2col ? {} : ({} * row_bursts))", zx(&gbursts, bb, T), zx(&rows, rows_bits, T)),
    );
    body.wire_assign("burst_bytes", T, cmul("bursts", burst, T));
    body.wire_assign("fetch_beats", T, cdiv("burst_bytes", u64::from(p.dram_bpc), T));
    if p.line_buffer > 0 {
        expansion(&mut body, p);
        body.wire_assign("raw_beats", T, format!("(fetch_beats + (is2col ? expand : {}))", k(T, 0)));
    } else {
        body.wire_assign("raw_beats", T, "fetch_beats");
    }
    body.assign("beats", format!("((raw_beats == {}) ? {} : raw_beats)", k(T, 0), k(T, 1)));
    m.items = body.items;
    m.lint_off
        .push(("UNUSED".into(), "reads a few fields of the instruction; intermediates are wider than needed".into()));
    m
}

/// The line buffer's expansion cycles of the `load2col` in `instr`
/// (`timing::load2col_expansion`): `ceil(rows · upr / expand_units)`, where a
/// tile row's units `upr` are its tap segments cut into units of `E`
/// elements: the first segment (to the end of `k0`'s tap), whole taps, the rest.
fn expansion(body: &mut Module, p: &Params) {
    let e = u64::from(p.dma.e16);
    // Column arithmetic at the width of a column (`k0`, `cols`) plus a carry,
    // not of time: the divisions by `ic` are the decoder's largest logic.
    let xw = fbits("load2col", "k0").max(fbits("load2col", "cols")) + 1;
    let f = |body: &mut Module, n: &str, to: u32| {
        let w = field_wire(body, "instr", "load2col", n, "x");
        let (_, b) = crate::emit::util::field("load2col", n);
        body.wire_assign(&format!("{w}_w"), to, zx(&w, b, to));
        format!("{w}_w")
    };
    let (rows, cols, k0, ic) = (f(body, "rows", T), f(body, "cols", xw), f(body, "k0", xw), f(body, "ic", xw));
    body.wire_assign("x_icz", xw, format!("(({ic} == {}) ? {} : {ic})", k(xw, 0), k(xw, 1)));
    body.wire_assign("x_c0", xw, format!("({k0} % x_icz)"));
    body.wire_assign("x_seg", xw, "(x_icz - x_c0)");
    body.wire_assign("x_first", xw, min2("x_seg", &cols));
    body.wire_assign("x_rest", xw, format!("({cols} - x_first)"));
    // At most one unit per column: the units of a row fit the column width.
    body.wire_assign(
        "x_upr",
        xw,
        format!(
            "({} + ((x_rest / x_icz) * {}) + {})",
            cdiv("x_first", e, xw),
            cdiv("x_icz", e, xw),
            cdiv("(x_rest % x_icz)", e, xw)
        ),
    );
    body.wire_assign("x_upr_w", T, zx("x_upr", xw, T));
    body.wire_assign("expand", T, cdiv(&format!("({rows} * x_upr_w)"), u64::from(p.expand_units), T));
}

/// `sat_compute_decode`: unit, occupancy (`busy`: until the unit may take
/// the next instruction; `done`: until its results are complete) and the
/// buffer ranges (`access::accesses`) of a compute-queue instruction.
pub fn compute_decode(p: &Params) -> Module {
    let rw = p.range_bits;
    let mut m = Module::new("sat_compute_decode");
    m.doc.push("Compute decoder: unit, occupancy and buffer ranges of a compute-queue instruction,".into());
    m.doc.push("following dataflow::timing (gemm, vector, sparsify, sync) and dataflow::access.".into());
    compute_ports(&mut m, rw);
    let mut b = Module::new("body");
    b.wire_assign("opc", OPCODE_BITS, opcode_of("instr"));
    b.assign("is_halt", format!("(opc == {})", opcode_k("halt")));
    let gacc = gemm_decode(&mut b, p);
    let vop = vec_decode(&mut b, p);
    let (smaster, smask) = sparsify_decode(&mut b, p);
    let vec_case = vec_ranges(&mut b, rw, &vop);
    opcode_case(&mut b, rw, &gacc, vec_case, &smaster, &smask);
    m.items = b.items;
    m.lint_off
        .push(("UNUSED".into(), "reads a few fields of the instruction; intermediates are wider than needed".into()));
    m
}

/// The compute decoder's ports: the instruction, its unit and occupancy,
/// a GEMM's timing, and the six range slots of the scoreboard.
fn compute_ports(m: &mut Module, rw: u32) {
    m.input("instr", INSTR_BITS, "a gemm, vec, sparsify, sync or halt");
    m.output_reg("unit", UNIT_BITS, "0 PE array, 1 vector unit, 2 sparsifier, 3 control");
    m.output("is_halt", 1, "halt");
    m.output_reg("busy_cycles", T, "cycles until the unit may start its next instruction");
    m.output_reg("done_cycles", T, "cycles until the results are complete");
    m.output("mode", MODE_BITS, "GEMM mode {n_of, m_of}; 0 is dense");
    m.output("il", 1, "GEMM is interleave-mapped (no drain on a mode switch)");
    m.output("g_ksteps_o", 32, "GEMM: K-steps per sub-tile");
    m.output("g_cpk_o", 32, "GEMM: cycles per K-step");
    m.output("g_period_o", 32, "GEMM: cycles per sub-tile");
    m.output("g_keff_o", 32, "GEMM: compressed reduction rows (k*N/M)");
    m.output("g_cpw_o", 32, "GEMM (ws): cycles per PE row of a weight fill");
    let buf_doc = Buf::ALL.map(|b| format!("{} {}", b.code(), b.name().to_uppercase())).join(", ");
    for s in SLOTS {
        m.output_reg(
            &format!("{s}_b"),
            BUF_BITS,
            &if s == "r0" { format!("range slot: buffer ({buf_doc})") } else { String::new() },
        );
        m.output_reg(&format!("{s}_s"), rw, if s == "r0" { "range slot: first element" } else { "" });
        m.output_reg(
            &format!("{s}_e"),
            rw,
            if s == "r0" { "range slot: one past the last (empty when s = e)" } else { "" },
        );
    }
}

/// A GEMM: its fields, its mode's compression, its timing in either
/// mapping and the ends of its ranges. Returns its `acc` field.
fn gemm_decode(b: &mut Module, p: &Params) -> String {
    b.comment("gemm: timing::gemm (OS) and timing::gemm_ws (WS)");
    let gn = field_wire(b, "instr", "gemm", "n_of", "g");
    let gm = field_wire(b, "instr", "gemm", "m_of", "g");
    let gacc = field_wire(b, "instr", "gemm", "acc", "g");
    let gil = field_wire(b, "instr", "gemm", "il", "g");
    let gat = field_wire(b, "instr", "gemm", "at", "g");
    for f in ["m", "n", "k", "a", "astride", "w", "o"] {
        let name = field_wire(b, "instr", "gemm", f, "g");
        b.wire_assign(&format!("{name}_w"), T, zx(&name, fbits("gemm", f), T));
    }
    b.assign("mode", format!("{{{gn}, {gm}}}"));
    b.assign("il", gil.clone());
    gemm_mode_table(b, p);
    gemm_os_timing(b, p);
    gemm_ws_timing(b, p);
    gemm_ranges(b, &gat);
    gacc
}

/// Per mode (dense or a pattern N:M): the compressed reduction rows (for
/// timing and for access), the activation bytes per PE row per K-step and
/// the index bits per weight.
fn gemm_mode_table(b: &mut Module, p: &Params) {
    for (r, d) in [
        ("g_keff_t", "reduction rows after compression, rounded up (timing)"),
        ("g_keff_a", "reduction rows after compression, rounded down (access)"),
        ("g_act_row", "activation bytes per PE row per K-step"),
        ("g_wib", "index bits per weight value"),
    ] {
        b.push(Item::Reg { name: r.into(), width: T, depth: 0, doc: d.into() });
    }
    let eb = 2u64;
    let lanes = u64::from(p.lanes);
    let mut arms = Vec::new();
    for pat in &p.patterns {
        arms.push((
            vec![raw(k(MODE_BITS, mode_code(pat.mode())))],
            vec![
                Stmt::Comment(format!("{}:{}", pat.n, pat.m)),
                bl(
                    "g_keff_t",
                    format!(
                        "(({} + {}) >> {})",
                        cmul("g_k_w", u64::from(pat.n), T),
                        k(T, u64::from(pat.m) - 1),
                        pat.ibits
                    ),
                ),
                bl("g_keff_a", format!("({} >> {})", cmul("g_k_w", u64::from(pat.n), T), pat.ibits)),
                bl("g_act_row", k(T, lanes / u64::from(pat.n) * u64::from(pat.m) * eb)),
                bl("g_wib", k(T, u64::from(pat.ibits))),
            ],
        ));
    }
    b.push(Item::Always(
        crate::vast::Always::Comb,
        vec![Stmt::Case(
            raw("mode"),
            arms,
            vec![
                Stmt::Comment("dense".into()),
                bl("g_keff_t", "g_k_w"),
                bl("g_keff_a", "g_k_w"),
                bl("g_act_row", k(T, lanes * eb)),
                bl("g_wib", k(T, 0)),
            ],
        )],
    ));
}

/// Output-stationary timing (`timing::gemm`): K-steps, cycles per K-step
/// from the operand bytes and the buffers' bandwidth, the sub-tile period,
/// the stream and the fill-and-drain tail; `g_zero` for an empty GEMM.
fn gemm_os_timing(b: &mut Module, p: &Params) {
    let (rows, cols) = (u64::from(p.rows), u64::from(p.cols));
    let lanes = u64::from(p.lanes);
    let eb = 2u64;
    b.wire_assign("g_ksteps", T, cdiv("g_keff_t", lanes, T));
    b.wire_assign("g_rows_used", T, min2("g_m_w", &k(T, rows)));
    b.wire_assign("g_cols_used", T, min2("g_n_w", &k(T, cols)));
    b.wire_assign("g_subtiles", T, format!("({} * {})", cdiv("g_m_w", rows, T), cdiv("g_n_w", cols, T)));
    b.wire_assign("g_act_bytes", T, "(g_rows_used * g_act_row)");
    b.wire_assign(
        "g_wgt_bytes",
        T,
        format!(
            "({} + ((({} * g_wib) + {}) >> 3))",
            cmul("g_cols_used", lanes * eb, T),
            cmul("g_cols_used", lanes, T),
            k(T, 7)
        ),
    );
    b.wire_assign("g_act_cpk", T, cdiv("g_act_bytes", p.bw[Buf::A as usize], T));
    b.wire_assign("g_wgt_cpk", T, cdiv("g_wgt_bytes", p.bw[Buf::W as usize], T));
    b.wire_assign("g_cpk_raw", T, max2("g_act_cpk", "g_wgt_cpk"));
    b.wire_assign("g_cpk", T, max2("g_cpk_raw", &k(T, 1)));
    b.wire_assign("g_sub_stream", T, "(g_ksteps * g_cpk)");
    b.wire_assign("g_period", T, max2("g_sub_stream", "g_rows_used"));
    b.wire_assign("g_os_stream", T, "(g_subtiles * g_period)");
    b.assign("g_ksteps_o", "g_ksteps[31:0]");
    b.wire_assign("g_os_tail", T, format!("({} + g_rows_used)", k(T, u64::from(p.fill))));
    b.wire_assign("g_zero", 1, format!("({} | {} | {})", gemm_zero("m"), gemm_zero("n"), gemm_zero("k")));
}

/// `(g_<f> == 0)`: a GEMM field is zero.
fn gemm_zero(f: &str) -> String {
    format!("(g_{f} == {})", field_k("gemm", f, 0))
}

/// Weight-stationary timing (`timing::gemm_ws`), the stream and tail of
/// the GEMM's mapping, and the timing outputs.
fn gemm_ws_timing(b: &mut Module, p: &Params) {
    let (rows, cols) = (u64::from(p.rows), u64::from(p.cols));
    // Weight-stationary (timing::gemm_ws): folds of `rows` K-steps x `cols`
    // columns, a fill of r_used PE rows at cpw cycles each, m rows at cpa.
    let gws = field_wire(b, "instr", "gemm", "ws", "g");
    let gws = if p.ws { gws } else { "1'b0".to_string() };
    b.wire_assign("g_wsm", 1, format!("({gws} & ~g_zero)"));
    b.wire_assign("g_rused", T, min2("g_ksteps", &k(T, rows)));
    b.wire_assign("g_cpa", T, max2(&cdiv("(g_rused * g_act_row)", p.bw[Buf::A as usize], T), &k(T, 1)));
    b.wire_assign("g_cpw", T, max2("g_wgt_cpk", &k(T, 1)));
    b.wire_assign("g_fill", T, "(g_rused * g_cpw)");
    b.wire_assign("g_run", T, "(g_m_w * g_cpa)");
    b.wire_assign("g_ws_period", T, max2("g_run", "g_fill"));
    b.wire_assign("g_folds", T, format!("({} * {})", cdiv("g_ksteps", rows, T), cdiv("g_n_w", cols, T)));
    b.wire_assign("g_ws_stream", T, format!("(g_fill + ((g_folds - {}) * g_ws_period) + g_run)", k(T, 1)));
    b.wire_assign("g_stream", T, "(g_wsm ? g_ws_stream : g_os_stream)");
    b.wire_assign("g_tail", T, format!("(g_wsm ? {} : g_os_tail)", k(T, u64::from(p.fill))));
    b.assign("g_cpk_o", "(g_wsm ? g_cpa[31:0] : g_cpk[31:0])");
    b.assign("g_period_o", "(g_wsm ? g_ws_period[31:0] : g_period[31:0])");
    b.assign("g_keff_o", "g_keff_a[31:0]");
    b.assign("g_cpw_o", "g_cpw[31:0]");
}

/// The ends of a GEMM's ranges (`access`): A's extent (transposed when
/// `gat`), the compressed W and the output tile.
fn gemm_ranges(b: &mut Module, gat: &str) {
    b.wire_assign(
        "g_a_ext",
        T,
        // access::gemm_a_extent: m rows of k, or (transposed, `at`) k rows of m.
        format!(
            "(({} || {}) ? {} : ({gat} ? (((g_k_w - {}) * g_astride_w) + g_m_w) : (((g_m_w - {}) * g_astride_w) + g_k_w)))",
            gemm_zero("m"),
            gemm_zero("k"),
            k(T, 0),
            k(T, 1),
            k(T, 1)
        ),
    );
    b.wire_assign("g_a_end", T, "(g_a_w + g_a_ext)");
    b.wire_assign("g_w_end", T, "(g_w_w + (g_keff_a * g_n_w))");
    b.wire_assign("g_o_end", T, "(g_o_w + (g_m_w * g_n_w))");
}

/// A vector op (`timing::vector`): its fields, passes and cycles, and the
/// rows of a loss gradient. Returns its `op` field.
fn vec_decode(b: &mut Module, p: &Params) -> String {
    b.comment("vec: timing::vector");
    let vop = field_wire(b, "instr", "vec", "op", "v");
    for f in ["len", "src", "src2", "dst", "aux", "mask"] {
        let name = field_wire(b, "instr", "vec", f, "v");
        b.wire_assign(&format!("{name}_w"), T, zx(&name, fbits("vec", f), T));
    }
    let is_op = |op: VecOp| format!("({vop} == {})", vec_op_k(op));
    // sgd makes two passes; the loss gradient one element per cycle, three passes.
    b.wire_assign("v_passes", T, format!("({} ? {} : {})", is_op(VecOp::Sgd), k(T, 2), k(T, 1)));
    b.wire_assign(
        "v_cycles",
        T,
        format!(
            "(({} ? ({} * v_len_w) : (v_passes * {})) + {})",
            is_op(VecOp::LossGrad),
            k(T, 3),
            cdiv("v_len_w", u64::from(p.vec_lanes), T),
            k(T, 4)
        ),
    );
    // Rows of a loss gradient (its label range): a 24-bit divider, the only divider.
    let lb = fbits("vec", "len");
    b.wire_assign(
        "v_rows",
        T,
        format!("{{{}'d0, ((v_aux == {}) ? {} : (v_len / v_aux))}}", T - lb, field_k("vec", "aux", 0), k(lb, 0)),
    );
    vop
}

/// A sparsify (`timing::sparsify`): its fields, groups, cycles and the
/// length of its compressed output. Returns its `master` and `mask_out` fields.
fn sparsify_decode(b: &mut Module, p: &Params) -> (String, String) {
    b.comment("sparsify: timing::sparsify");
    let sn = field_wire(b, "instr", "sparsify", "n_of", "s");
    let sm = field_wire(b, "instr", "sparsify", "m_of", "s");
    let smaster = field_wire(b, "instr", "sparsify", "master", "s");
    let smask = field_wire(b, "instr", "sparsify", "mask_out", "s");
    for f in ["rows", "cols", "src", "dst"] {
        let name = field_wire(b, "instr", "sparsify", f, "s");
        b.wire_assign(&format!("{name}_w"), T, zx(&name, fbits("sparsify", f), T));
    }
    b.wire_assign("s_ib", fbits("load", "ibits"), index_bits_of(&sm, true));
    b.wire_assign("s_rc", T, "(s_rows_w * s_cols_w)");
    let (snb, smb) = (fbits("sparsify", "n_of"), fbits("sparsify", "m_of"));
    b.wire_assign("s_groups", T, format!("((s_rc + {} - {}) >> s_ib)", zx(&sm, smb, T), k(T, 1)));
    b.wire_assign("s_cycles", T, format!("(({} << s_ib) + {})", cdiv("s_groups", u64::from(p.sp_lanes), T), k(T, 2)));
    b.wire_assign("s_wlen", T, format!("((s_rc * {}) >> s_ib)", zx(&sn, snb, T)));
    (smaster, smask)
}

/// Range slot `s` set to `buf`'s elements `start .. end` (truncated to `rw` bits).
fn slot(rw: u32, s: &str, buf: Buf, start: &str, end: &str) -> Vec<Stmt> {
    let r = |x: &str| format!("{x}[{}:0]", rw - 1);
    vec![bl(format!("{s}_b"), buf_k(buf)), bl(format!("{s}_s"), r(start)), bl(format!("{s}_e"), r(end))]
}

/// The range slots of each vector op (`access::accesses`): the ends of its
/// ranges, and the case over `vop` that sets the slots.
fn vec_ranges(b: &mut Module, rw: u32, vop: &str) -> Stmt {
    let slot = |s: &str, buf: Buf, start: &str, end: &str| slot(rw, s, buf, start, end);
    b.wire_assign("v_len_end_src", T, "(v_src_w + v_len_w)");
    b.wire_assign("v_len_end_src2", T, "(v_src2_w + v_len_w)");
    b.wire_assign("v_len_end_dst", T, "(v_dst_w + v_len_w)");
    b.wire_assign("v_len_end_aux", T, "(v_aux_w + v_len_w)");
    b.wire_assign("v_len_end_mask", T, "(v_mask_w + v_len_w)");
    let vp5 = field_wire(b, "instr", "vec", "p5", "v");
    b.wire_assign("v_rows_end_src2", T, "(v_src2_w + v_rows)");
    let vec_arm = |op: VecOp, body: Vec<Stmt>| (vec![raw(vec_op_k(op))], body);
    Stmt::Case(
        raw(vop),
        vec![
            vec_arm(
                VecOp::Requant,
                [slot("r0", Buf::O, "v_src_w", "v_len_end_src"), slot("w0", Buf::A, "v_dst_w", "v_len_end_dst")]
                    .concat(),
            ),
            vec_arm(
                VecOp::ReluBwd,
                [
                    slot("r0", Buf::O, "v_src_w", "v_len_end_src"),
                    slot("r1", Buf::A, "v_src2_w", "v_len_end_src2"),
                    slot("w0", Buf::O, "v_dst_w", "v_len_end_dst"),
                ]
                .concat(),
            ),
            vec_arm(
                VecOp::Add,
                [
                    slot("r0", Buf::A, "v_src_w", "v_len_end_src"),
                    slot("r1", Buf::A, "v_src2_w", "v_len_end_src2"),
                    slot("w0", Buf::A, "v_dst_w", "v_len_end_dst"),
                ]
                .concat(),
            ),
            vec_arm(
                VecOp::Sgd,
                // The momentum and master ranges are read and written: their
                // write slots cover every conflict of their reads, so r1
                // holds SR-STE's pruned flags (read when p5 is a shift).
                [
                    slot("r0", Buf::O, "v_src_w", "v_len_end_src"),
                    vec![Stmt::If(
                        raw(format!("{vp5} != {}", field_k("vec", "p5", u64::from(NO_SHIFT)))),
                        slot("r1", Buf::A, "v_mask_w", "v_len_end_mask"),
                        vec![],
                    )],
                    slot("w0", Buf::O, "v_src2_w", "v_len_end_src2"),
                    slot("w1", Buf::O, "v_dst_w", "v_len_end_dst"),
                    slot("w2", Buf::A, "v_aux_w", "v_len_end_aux"),
                ]
                .concat(),
            ),
            vec_arm(
                VecOp::LossGrad,
                [
                    slot("r0", Buf::A, "v_src_w", "v_len_end_src"),
                    slot("r1", Buf::A, "v_src2_w", "v_rows_end_src2"),
                    slot("w0", Buf::A, "v_dst_w", "v_len_end_dst"),
                ]
                .concat(),
            ),
            vec_arm(VecOp::Clear, slot("w0", Buf::O, "v_dst_w", "v_len_end_dst")),
        ],
        vec![Stmt::Comment("not a vector op: no ranges".into())],
    )
}

/// The case over opcodes that sets the outputs: each unit's occupancy and
/// the range slots of a GEMM, a vector op (`vec_case`) and a sparsify;
/// `sync` and `halt` take one cycle on the control unit.
fn opcode_case(b: &mut Module, rw: u32, gacc: &str, vec_case: Stmt, smaster: &str, smask: &str) {
    let slot = |s: &str, buf: Buf, start: &str, end: &str| slot(rw, s, buf, start, end);
    let mut defaults = vec![bl("unit", unit_k(UNIT_CONTROL)), bl("busy_cycles", k(T, 1)), bl("done_cycles", k(T, 1))];
    for s in SLOTS {
        defaults.push(bl(format!("{s}_b"), k(BUF_BITS, 0)));
        defaults.push(bl(format!("{s}_s"), k(rw, 0)));
        defaults.push(bl(format!("{s}_e"), k(rw, 0)));
    }
    b.wire_assign("s_a_end", T, "(s_src_w + s_rc)");
    b.wire_assign("s_w_end", T, "(s_dst_w + s_wlen)");
    b.wire_assign("s_m_end", T, "(s_dst_w + s_rc)");
    let ops = vec![
        (
            vec![raw(opcode_k("gemm"))],
            [
                vec![
                    bl("unit", unit_k(UNIT_ARRAY)),
                    bl("busy_cycles", format!("(g_zero ? {} : g_stream)", k(T, 1))),
                    bl("done_cycles", format!("(g_zero ? {} : (g_stream + g_tail))", k(T, 1))),
                ],
                slot("r0", Buf::A, "g_a_w", "g_a_end"),
                slot("r1", Buf::W, "g_w_w", "g_w_end"),
                vec![Stmt::If(raw(gacc), slot("r2", Buf::O, "g_o_w", "g_o_end"), vec![])],
                slot("w0", Buf::O, "g_o_w", "g_o_end"),
            ]
            .concat(),
        ),
        (
            vec![raw(opcode_k("vec"))],
            vec![
                bl("unit", unit_k(UNIT_VECTOR)),
                bl("busy_cycles", "v_cycles"),
                bl("done_cycles", "v_cycles"),
                vec_case,
            ],
        ),
        (
            vec![raw(opcode_k("sparsify"))],
            [
                vec![bl("unit", unit_k(UNIT_SPARSIFIER)), bl("busy_cycles", "s_cycles"), bl("done_cycles", "s_cycles")],
                // The source is master weights in O when `master` is set.
                vec![Stmt::If(
                    raw(smaster),
                    slot("r0", Buf::O, "s_src_w", "s_a_end"),
                    slot("r0", Buf::A, "s_src_w", "s_a_end"),
                )],
                // The pruned mask (mask_out) goes to A, compressed weights to W.
                vec![Stmt::If(
                    raw(smask),
                    slot("w0", Buf::A, "s_dst_w", "s_m_end"),
                    slot("w0", Buf::W, "s_dst_w", "s_w_end"),
                )],
            ]
            .concat(),
        ),
    ];
    let mut body = defaults;
    body.push(Stmt::Case(raw("opc"), ops, vec![Stmt::Comment("sync, halt: one cycle on the control unit".into())]));
    b.push(Item::Always(crate::vast::Always::Comb, body));
}
