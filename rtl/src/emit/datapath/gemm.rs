//! The GEMM engine: walks a tile's sub-tiles and K-steps exactly as `timing::gemm` counts them.

use crate::emit::util::{MODE_BITS, cdiv, cmul, k, mode_code};
use crate::params::{INSTR_BITS, Params};
use crate::vast::{Always, Instance, Item, Module, Stmt, id, if_, if_else, nb};

use super::{INDEX_BITS, act_window, clear_lanes, modes};

/// Field `name` of the GEMM instruction: (lowest bit, bits).
fn field(name: &str) -> (u32, u32) {
    crate::emit::util::field("gemm", name)
}

/// Field `name` of the issuing GEMM, as a slice of `instr`.
fn instr_field(name: &str) -> String {
    let (lo, bits) = field(name);
    format!("instr[{}:{}]", lo + bits - 1, lo)
}

/// `sat_gemm`: the GEMM engine. It walks a tile's sub-tiles and K-steps
/// with the period and cycles per K-step of `timing::gemm`, reads the
/// operands, drives the PE array and drains each sub-tile into the output
/// buffer (adding to it when accumulating) three cycles after its last K-step.
pub fn gemm(p: &Params, faults: bool) -> Module {
    let mut m = Module::new("sat_gemm");
    m.doc.push("GEMM engine: sub-tile and K-step sequencing as timing::gemm counts them (period, cycles".into());
    m.doc.push("per K-step), operand fetch, the PE array, and the drain into the output buffer.".into());
    ports(&mut m, p, faults);
    issue_mode(&mut m, p);
    stream_regs(&mut m, p);
    issue_fields(&mut m, p);
    // Per-cycle control.
    super::gemm_ws::declare(&mut m, p);
    m.wire_assign("fire_os", 1, "(act & ~g_ws & (ks < g_ksteps) & (kc == 32'd0))");
    m.wire_assign("fire", 1, "(fire_os | wfire)");
    m.wire_assign("k_last_cycle", 1, "(kc + 32'd1 == g_cpk)");
    m.wire_assign("sub_end", 1, "(act & ~g_ws & (sc + 32'd1 == g_period))");
    m.wire_assign("last_k", 1, "(ks + 32'd1 == g_ksteps)");
    m.wire_assign("tile_row_end", 1, "(tj + 32'd1 == g_tiles_n)");
    operand_reads(&mut m, p);
    clear_tile(&mut m, p);
    operand_stage(&mut m, p);
    pe_array_instance(&mut m, p, faults);
    drain(&mut m, p);
    sequencer(&mut m, p);
    m.lint_off.push(("UNUSED".into(), "reads a few fields of the instruction and of wide counters".into()));
    m
}

/// The ports: the issuing GEMM and its timing, the operand reads (plain
/// and transposed), the clear of a k = 0 tile and the drain's writes.
fn ports(m: &mut Module, p: &Params, faults: bool) {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let rw = p.range_bits;
    let lm = act_window(p);
    let acc = p.acc_bits;
    m.input("clk", 1, "");
    m.input("rst", 1, "");
    m.input("start", 1, "a GEMM issues");
    if faults {
        m.input("fault_sel", crate::emit::FAULT_SEL_BITS, "fault-injection build: the fault switched on");
    }

    m.input("instr", INSTR_BITS, "the GEMM");
    m.input("ksteps", 32, "K-steps per sub-tile");
    m.input("cpk", 32, "cycles per K-step");
    m.input("period", 32, "cycles per sub-tile");
    m.input("keff", 32, "compressed reduction rows");
    m.input("cpw", 32, "ws: cycles per PE row of a weight fill");
    m.output("a_rd_en", 1, "activation read");
    m.output("a_rd_addr", rows * rw, "row r: first activation of this K-step");
    m.input("a_rd_data", rows * lm * 16, "");
    m.output("w_rd_en", 1, "weight read");
    m.output("w_rd_addr", lanes * rw, "lane l: first weight (column 0 of the sub-tile) of its compressed row");
    m.input("w_rd_data", lanes * cols * (16 + INDEX_BITS), "");
    m.output("a_rdt_en", 1, "activation read, A transposed (at)");
    m.output("a_rdt_addr", lm * rw, "reduction index x of this K-step: its first row");
    m.input("a_rdt_data", lm * rows * 16, "");
    m.output("w_rdt_en", 1, "weight read, W transposed (wt)");
    m.output("w_rdt_addr", cols * rw, "column c: its first reduction row of this K-step");
    m.input("w_rdt_data", cols * lanes * (16 + INDEX_BITS), "");
    let z = clear_lanes(p);
    m.output("o_clr_en", 1, "a GEMM with k = 0 and acc = 0 clears its output tile, in its issue cycle and the next");
    m.output("o_clr_addr", rw, "");
    m.output("o_clr_mask", z, "");
    m.output("o_clr_data", z * acc, "zeros");
    m.output("error", 1, "a k = 0 tile larger than two cycles of clearing");
    m.output("o_wr_en", rows, "drain: rows written");
    m.output("o_wr_addr", rows * rw, "");
    m.output("o_wr_mask", rows * cols, "");
    m.output("o_wr_data", rows * cols * acc, "");
    m.output("o_wr_acc", 1, "");
}

/// The issuing GEMM's mode, one-hot over dense and the config's patterns,
/// and its activations per row per K-step in that mode.
fn issue_mode(m: &mut Module, p: &Params) {
    let (rw, lanes) = (p.range_bits, p.lanes);
    // Mode of the issued GEMM.
    let (nlo, nbits) = field("n_of");
    let (mlo, mbits) = field("m_of");
    m.wire_assign(
        "i_mode_code",
        MODE_BITS,
        format!("{{instr[{}:{nlo}], instr[{}:{mlo}]}}", nlo + nbits - 1, mlo + mbits - 1),
    );
    let mut mode_terms = vec![format!("(i_mode_code == {})", k(MODE_BITS, 0))];
    for q in &p.patterns {
        mode_terms.push(format!("(i_mode_code == {})", k(MODE_BITS, mode_code(q.mode()))));
    }
    mode_terms.reverse();
    m.wire_assign("i_mode", modes(p) as u32, format!("{{{}}}", mode_terms.join(", ")));
    // Activation elements per K-step per row in the issued mode.
    let mut lm_expr = k(rw, u64::from(lanes));
    for (i, q) in p.patterns.iter().enumerate() {
        lm_expr = format!("(i_mode[{}] ? {} : {lm_expr})", i + 1, k(rw, u64::from(lanes / q.n * q.m)));
    }
    m.wire_assign("i_lm", rw, lm_expr);
}

/// The registers of the GEMM being streamed: its shape and address steps,
/// and the position of the sub-tile and K-step being fed to the array.
fn stream_regs(m: &mut Module, p: &Params) {
    let rw = p.range_bits;
    let nm = modes(p) as u32;
    for (n, w, d) in [
        ("act", 1, "streaming"),
        ("g_mode", nm, "mode"),
        ("g_acc", 1, "accumulate"),
        ("g_n", rw, "output columns"),
        ("g_astride", rw, ""),
        ("g_lm", rw, "activations per row per K-step"),
        ("g_wstep", rw, "weight address step per K-step (lanes * n; wt: lanes)"),
        ("g_at", 1, "A transposed"),
        ("g_wt", 1, "W transposed"),
        ("g_k", rw, "reduction length (wt: the column stride of W)"),
        ("g_ablk", rw, "activation address step per row block (rows * astride; at: rows)"),
        ("g_astep", rw, "activation address step per K-step (activations per row; at: times astride)"),
        ("g_wcol", rw, "weight address step per column block (cols; wt: cols * k)"),
        ("g_ksteps", 32, ""),
        ("g_cpk", 32, ""),
        ("g_period", 32, ""),
        ("g_keff", 32, ""),
        ("g_tiles_n", 32, "sub-tiles along n"),
        ("g_subtiles", 32, "sub-tiles left (including this one)"),
        ("a_tile", rw, "activation address of the sub-tile row block"),
        ("a_k", rw, "activation offset of this K-step"),
        ("w_base", rw, "weight address of this K-step, column 0 of the tile"),
        ("w_col", rw, "weight address offset of the sub-tile's columns"),
        ("o_col", rw, "column offset of the sub-tile"),
        ("o_tile", rw, "output address of the row block"),
        ("m_left", 32, "rows from this row block on"),
        ("n_left", 32, "columns from this column block on"),
        ("tj", 32, "column block"),
        ("ks", 32, "K-step"),
        ("kc", 32, "cycle in the K-step"),
        ("sc", 32, "cycle in the sub-tile"),
        ("ke_left", 32, "compressed rows from this K-step on"),
    ] {
        m.reg(n, w, d);
    }
}

/// The issuing GEMM's fields, widened to 32 bits or fitted to the range
/// width, its weight step and its number of sub-tiles.
fn issue_fields(m: &mut Module, p: &Params) {
    let rw = p.range_bits;
    let zx = |s: String, from: u32, to: u32| crate::emit::util::zx(&s, from, to);
    m.wire_assign("i_m", 32, zx(instr_field("m"), field("m").1, 32));
    m.wire_assign("i_n", 32, zx(instr_field("n"), field("n").1, 32));
    // A field truncated or zero-extended to the range width.
    let fit = |name: &str| {
        let (lo, bits) = field(name);
        if rw <= bits { format!("instr[{}:{lo}]", lo + rw - 1) } else { zx(instr_field(name), bits, rw) }
    };
    m.wire_assign("i_astride", rw, fit("astride"));
    m.wire_assign("i_n_r", rw, format!("i_n[{}:0]", rw - 1));
    m.wire_assign("i_k", 32, zx(instr_field("k"), field("k").1, 32));
    m.wire_assign("i_k_r", rw, format!("i_k[{}:0]", rw - 1));
    m.wire_assign("i_at", 1, instr_field("at"));
    // A k = 0 GEMM clears (or keeps) its tile in either mapping: OS's path.
    // A config without "ws" ties the mode off: the WS logic is never enabled.
    let ws_bit = if p.ws { instr_field("ws") } else { "1'b0".to_string() };
    m.wire_assign("i_ws", 1, format!("({ws_bit} & (i_k != 32'd0))"));
    m.wire_assign("i_wstep", rw, format!("(i_wt ? {} : (i_n_r << {}))", k(rw, u64::from(p.lanes)), p.lanes_log2));
    m.wire_assign("i_wt", 1, instr_field("wt"));
    m.wire_assign("i_a", rw, fit("a"));
    m.wire_assign("i_w", rw, fit("w"));
    m.wire_assign("i_o", rw, fit("o"));
    m.wire_assign(
        "i_tiles",
        32,
        format!("({} * {})", cdiv("i_m", u64::from(p.rows), 32), cdiv("i_n", u64::from(p.cols), 32)),
    );
}

/// The operand reads of a K-step: the activations of each PE row (or, A
/// transposed, of each reduction index) and the weights of each lane (or,
/// W transposed, of each column).
fn operand_reads(m: &mut Module, p: &Params) {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let rw = p.range_bits;
    let lm = act_window(p);
    // Operand addresses.
    // Groups of the activation read are `astride` apart: PE rows, or (at)
    // the reduction indices of the K-step.
    m.wire_assign("a_r0", rw, "(a_tile + a_k)");
    for r in 1..rows.max(lm) {
        m.wire_assign(&format!("a_r{r}"), rw, format!("(a_r{} + g_astride)", r - 1));
    }
    let a_addr: Vec<String> = (0..rows).rev().map(|r| format!("a_r{r}")).collect();
    let at_addr: Vec<String> = (0..lm).rev().map(|r| format!("a_r{r}")).collect();
    m.assign("a_rd_en", "(fire & ~g_at)");
    m.assign("a_rd_addr", format!("{{{}}}", a_addr.join(", ")));
    m.assign("a_rdt_en", "(fire & g_at)");
    m.assign("a_rdt_addr", format!("{{{}}}", at_addr.join(", ")));
    // Weight reads: one group per lane (rows `n` apart), or (wt) one per
    // column (`k` apart).
    m.wire_assign("w_b0", rw, "(g_ws ? wf_base : (w_base + w_col))");
    m.wire_assign("w_l0", rw, "w_b0");
    for l in 1..lanes {
        m.wire_assign(&format!("w_l{l}"), rw, format!("(w_l{} + g_n)", l - 1));
    }
    m.wire_assign("w_c0", rw, "w_b0");
    for c in 1..cols {
        m.wire_assign(&format!("w_c{c}"), rw, format!("(w_c{} + g_k)", c - 1));
    }
    let w_addr: Vec<String> = (0..lanes).rev().map(|l| format!("w_l{l}")).collect();
    let wt_addr: Vec<String> = (0..cols).rev().map(|c| format!("w_c{c}")).collect();
    m.assign("w_rd_en", "((fire_os | ffire) & ~g_wt)");
    m.assign("w_rd_addr", format!("{{{}}}", w_addr.join(", ")));
    m.assign("w_rdt_en", "((fire_os | ffire) & g_wt)");
    m.assign("w_rdt_addr", format!("{{{}}}", wt_addr.join(", ")));
}

/// The clear of a k = 0 GEMM's output tile (acc = 0): `z` accumulators in
/// its issue cycle and `z` more in the next, an error when the tile is larger.
fn clear_tile(m: &mut Module, p: &Params) {
    let rw = p.range_bits;
    let z = clear_lanes(p);
    // A GEMM with k = 0 adds no products: its output tile is cleared
    // (acc = 0) or kept. The model gives it one cycle; no consumer reads
    // the tile before the cycle after its retirement, so it clears `z`
    // accumulators in the issue cycle and `z` more in the next.
    m.wire_assign("i_mn", 32, "(i_m * i_n)");
    m.wire_assign("clr_now", 1, format!("(start & (i_k == 32'd0) & ~instr[{}] & (i_mn != 32'd0))", field("acc").0));
    m.reg("clr2", 1, "the second cycle of a clear");
    m.reg("clr2_addr", rw, "");
    m.reg("clr2_left", 32, "");
    m.reg("clr_err", 1, "sticky: a tile too large to clear");
    m.assign("o_clr_en", "(clr_now | clr2)");
    m.assign("o_clr_addr", "(clr_now ? i_o : clr2_addr)");
    m.wire_assign("clr_left", 32, "(clr_now ? i_mn : clr2_left)");
    let cm: Vec<String> = (0..z).rev().map(|l| format!("(clr_left > 32'd{l})")).collect();
    m.assign("o_clr_mask", format!("{{{}}}", cm.join(", ")));
    m.assign("o_clr_data", k(z * p.acc_bits, 0));
    m.assign("error", "clr_err");
}

/// Stage 1, when the operands arrive: the control delayed one cycle, the
/// registers carrying a sub-tile's drain through stages 1 to 3, and the
/// operands in the plain reads' layout.
fn operand_stage(m: &mut Module, p: &Params) {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let rw = p.range_bits;
    let lm = act_window(p);
    // Stage 1 (data arrives): control delayed one cycle.
    m.reg("s1_en", 1, "operands arrive");
    m.reg("s1_first", 1, "");
    m.reg("s1_mode", modes(p) as u32, "");
    m.reg("s1_lanes_on", lanes, "lanes holding a compressed row < keff");
    m.reg("s1_last", 1, "last K-step of the sub-tile");
    m.reg("s1_at", 1, "");
    m.reg("s1_wt", 1, "");
    // The transposed reads come in the layout of the plain ones (lane-major ports).
    let ww = 16 + INDEX_BITS;
    m.wire_assign("act_in", rows * lm * 16, "(s1_at ? a_rdt_data : a_rd_data)");
    m.wire_assign("w_in", lanes * cols * ww, "(s1_wt ? w_rdt_data : w_rd_data)");
    for (n, w) in [("o_base", rw), ("n", rw), ("rows_v", 32), ("cols_v", 32)] {
        m.reg(&format!("s1_{n}"), w, "");
        m.reg(&format!("s2_{n}"), w, "");
        m.reg(&format!("s3_{n}"), w, "");
    }
    for s in ["s1", "s2", "s3"] {
        m.reg(&format!("{s}_acc"), 1, "");
    }
    m.reg("s2_last", 1, "");
    m.reg("s3_last", 1, "capture: the PE accumulators hold the finished sub-tile");
    let lanes_on: Vec<String> = (0..lanes).rev().map(|l| format!("(ke_left > 32'd{l})")).collect();
    m.wire_assign("lanes_on", lanes, format!("{{{}}}", lanes_on.join(", ")));
}

/// The PE array (`sat_pe_array`), fed the activations and the weights of
/// the lanes holding a compressed row (idle lanes' values zeroed).
fn pe_array_instance(m: &mut Module, p: &Params, faults: bool) {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let ww = 16 + INDEX_BITS;
    // Weight values of idle lanes are zeroed, indices passed through.
    let mut wv_parts = Vec::new();
    let mut wi_parts = Vec::new();
    for c in (0..cols).rev() {
        for l in (0..lanes).rev() {
            let base = (l * cols + c) * ww;
            wv_parts.push(format!("({{16{{s1_lanes_on[{l}]}}}} & w_in[{}:{}])", base + 15, base));
            wi_parts.push(format!("w_in[{}:{}]", base + ww - 1, base + 16));
        }
    }
    m.wire_assign("arr_wv", cols * lanes * 16, format!("{{{}}}", wv_parts.join(",\n    ")));
    m.wire_assign("arr_wi", cols * lanes * INDEX_BITS, format!("{{{}}}", wi_parts.join(",\n    ")));
    super::gemm_ws::array_weights(m, p, "arr_wv", "arr_wi");
    m.wire("arr_acc", rows * cols * p.acc_bits, "");
    m.push(Item::Instance(Instance {
        module: "sat_pe_array".into(),
        name: "array".into(),
        params: vec![],
        conns: [
            ("clk".into(), id("clk")),
            ("en".into(), id("s1_en")),
            ("first".into(), id("s1_first")),
            ("mode".into(), id("s1_mode")),
            ("act".into(), id("act_in")),
            ("wv".into(), id("pe_wv")),
            ("wi".into(), id("pe_wi")),
            ("acc".into(), id("arr_acc")),
        ]
        .into_iter()
        .chain(faults.then(|| ("fault_sel".to_string(), id("fault_sel"))))
        .collect(),
    }));
}

/// The drain on capture: the finished sub-tile's valid rows and columns
/// written into the output buffer (WS: the column sums of its fold).
fn drain(m: &mut Module, p: &Params) {
    let (rows, cols) = (p.rows, p.cols);
    let mut en_parts = Vec::new();
    let mut addr_parts = Vec::new();
    let mut mask_parts = Vec::new();
    m.wire_assign("o_r0", p.range_bits, "s3_o_base");
    for r in 1..rows {
        m.wire_assign(&format!("o_r{r}"), p.range_bits, format!("(o_r{} + s3_n)", r - 1));
    }
    for r in (0..rows).rev() {
        en_parts.push(format!("(s3_last & (s3_rows_v > 32'd{r}))"));
        addr_parts.push(format!("o_r{r}"));
        for c in (0..cols).rev() {
            mask_parts.push(format!("(s3_cols_v > 32'd{c})"));
        }
    }
    m.assign("o_wr_en", format!("{{{}}}", en_parts.join(", ")));
    m.assign("o_wr_addr", format!("{{{}}}", addr_parts.join(", ")));
    m.assign("o_wr_mask", format!("{{{}}}", mask_parts.join(", ")));
    super::gemm_ws::column_sums(m, p);
    m.assign("o_wr_data", "(s3_ws ? ws_row : arr_acc)");
    m.assign("o_wr_acc", "s3_acc");
}

/// The engine's sequential block: a GEMM's start, the OS walk or the WS
/// step, the clear's second cycle and the operand-to-drain pipeline.
fn sequencer(m: &mut Module, p: &Params) {
    let z = clear_lanes(p);
    let rw = p.range_bits;
    m.reg("g_n32", 32, "n of the GEMM being streamed");
    m.reg("g_w", rw, "weight address of the GEMM being streamed");
    let mut start_all = start_stmts(p);
    start_all.extend(super::gemm_ws::start(p));
    start_all.push(nb("g_n32", "i_n"));
    start_all.push(nb("g_w", "i_w"));
    let mut seq = vec![if_else("start", start_all, vec![if_else("g_ws", super::gemm_ws::step(p), os_step(p))])];
    seq.push(nb("clr2", format!("(clr_now & (i_mn > 32'd{z}))")));
    seq.push(nb("clr2_addr", format!("(i_o + {})", k(rw, u64::from(z)))));
    seq.push(nb("clr2_left", format!("(i_mn - 32'd{z})")));
    seq.push(if_(format!("clr_now & (i_mn > 32'd{})", 2 * z), vec![nb("clr_err", "1'b1")]));
    seq.extend(pipe_stmts(p));
    seq.extend(super::gemm_ws::pipe(p));
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_else(
            "rst",
            vec![
                nb("act", "1'b0"),
                nb("clr2", "1'b0"),
                nb("clr_err", "1'b0"),
                nb("s1_en", "1'b0"),
                nb("s1_last", "1'b0"),
                nb("s2_last", "1'b0"),
                nb("s3_last", "1'b0"),
                nb("g_ws", "1'b0"),
                nb("ws_cur", "1'b0"),
                nb("wf_on", "1'b0"),
                nb("f1_en", "1'b0"),
                nb("s1_ws", "1'b0"),
                nb("s2_ws", "1'b0"),
                nb("s3_ws", "1'b0"),
            ],
            seq,
        )],
    ));
}

/// What a GEMM's issue loads into the stream registers (the OS walk's).
fn start_stmts(p: &Params) -> Vec<Stmt> {
    let (rows, cols) = (u64::from(p.rows), u64::from(p.cols));
    let rw = p.range_bits;
    vec![
        nb("act", "1'b1"),
        nb("g_mode", "i_mode"),
        nb("g_acc", format!("instr[{}]", field("acc").0)),
        nb("g_n", "i_n_r"),
        nb("g_astride", "i_astride"),
        nb("g_lm", "i_lm"),
        nb("g_wstep", "i_wstep"),
        nb("g_at", "i_at"),
        nb("g_wt", "i_wt"),
        nb("g_k", "i_k_r"),
        nb("g_ablk", format!("(i_at ? {} : {})", k(rw, rows), cmul("i_astride", rows, rw))),
        nb("g_astep", "(i_at ? (i_lm * i_astride) : i_lm)"),
        nb("g_wcol", format!("(i_wt ? {} : {})", cmul("i_k_r", cols, rw), k(rw, cols))),
        nb("g_ksteps", "ksteps"),
        nb("g_cpk", "cpk"),
        nb("g_period", "period"),
        nb("g_keff", "keff"),
        nb("g_tiles_n", cdiv("i_n", cols, 32)),
        nb("g_subtiles", "i_tiles"),
        nb("a_tile", "i_a"),
        nb("a_k", k(rw, 0)),
        nb("w_base", "i_w"),
        nb("w_col", k(rw, 0)),
        nb("o_col", k(rw, 0)),
        nb("o_tile", "i_o"),
        nb("m_left", "i_m"),
        nb("n_left", "i_n"),
        nb("tj", "32'd0"),
        nb("ks", "32'd0"),
        nb("kc", "32'd0"),
        nb("sc", "32'd0"),
        nb("ke_left", "keff"),
    ]
}

/// One cycle of the OS walk: the K-step counters, and at a sub-tile's end
/// the next column block (or, at the end of a row, the next row block).
fn os_step(p: &Params) -> Vec<Stmt> {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let rw = p.range_bits;
    let rows_block_o = if rows.is_power_of_two() {
        format!("(g_n << {})", rows.trailing_zeros())
    } else {
        format!("(g_n * {})", k(rw, u64::from(rows)))
    };
    vec![
        // K-step counters.
        if_(
            "ks < g_ksteps",
            vec![if_else(
                "k_last_cycle",
                vec![
                    nb("kc", "32'd0"),
                    nb("ks", "(ks + 32'd1)"),
                    nb("a_k", "(a_k + g_astep)"),
                    nb("w_base", "(w_base + g_wstep)"),
                    nb("ke_left", format!("((ke_left > 32'd{lanes}) ? (ke_left - 32'd{lanes}) : 32'd0)")),
                ],
                vec![nb("kc", "(kc + 32'd1)")],
            )],
        ),
        if_else(
            "sub_end",
            vec![
                nb("sc", "32'd0"),
                nb("ks", "32'd0"),
                nb("kc", "32'd0"),
                nb("a_k", k(rw, 0)),
                nb("ke_left", "g_keff"),
                nb("g_subtiles", "(g_subtiles - 32'd1)"),
                if_("g_subtiles == 32'd1", vec![nb("act", "1'b0")]),
                nb("w_base", "g_w"),
                if_else(
                    "tile_row_end",
                    vec![
                        nb("tj", "32'd0"),
                        nb("w_col", k(rw, 0)),
                        nb("o_col", k(rw, 0)),
                        nb("n_left", "g_n32"),
                        nb("a_tile", "(a_tile + g_ablk)"),
                        nb("o_tile", format!("(o_tile + {rows_block_o})")),
                        nb("m_left", format!("((m_left > 32'd{rows}) ? (m_left - 32'd{rows}) : 32'd0)")),
                    ],
                    vec![
                        nb("tj", "(tj + 32'd1)"),
                        nb("w_col", "(w_col + g_wcol)"),
                        nb("o_col", format!("(o_col + {})", k(rw, u64::from(cols)))),
                        nb("n_left", format!("((n_left > 32'd{cols}) ? (n_left - 32'd{cols}) : 32'd0)")),
                    ],
                ),
            ],
            vec![if_("act", vec![nb("sc", "(sc + 32'd1)")])],
        ),
    ]
}

/// The pipeline from the operand read to the drain: stage 1's control and
/// the sub-tile's drain geometry, delayed to stage 3.
fn pipe_stmts(p: &Params) -> Vec<Stmt> {
    let (rows, cols) = (p.rows, p.cols);
    vec![
        nb("s1_en", "fire"),
        nb("s1_first", "(g_ws | (ks == 32'd0))"),
        nb("s1_mode", "g_mode"),
        nb("s1_lanes_on", "lanes_on"),
        nb("s1_last", "((fire_os & last_k) | wfire)"),
        nb("s1_at", "g_at"),
        nb("s1_wt", "g_wt"),
        nb("s1_o_base", "(o_tile + o_col)"),
        nb("s1_n", "g_n"),
        nb("s1_rows_v", format!("(g_ws ? 32'd1 : ((m_left < 32'd{rows}) ? m_left : 32'd{rows}))")),
        nb("s1_cols_v", format!("((n_left < 32'd{cols}) ? n_left : 32'd{cols})")),
        nb("s1_acc", "(g_acc | (g_ws & (fk != 32'd0)))"),
        nb("s2_last", "s1_last"),
        nb("s3_last", "s2_last"),
        nb("s2_o_base", "s1_o_base"),
        nb("s3_o_base", "s2_o_base"),
        nb("s2_n", "s1_n"),
        nb("s3_n", "s2_n"),
        nb("s2_rows_v", "s1_rows_v"),
        nb("s3_rows_v", "s2_rows_v"),
        nb("s2_cols_v", "s1_cols_v"),
        nb("s3_cols_v", "s2_cols_v"),
        nb("s2_acc", "s1_acc"),
        nb("s3_acc", "s2_acc"),
    ]
}
