//! The GEMM engine's weight-stationary mode (ADR 004), as `timing::gemm_ws`
//! counts it: per fold (`rows` K-steps × `cols` output columns, column
//! blocks outer) a weight fill of `r_used` PE rows, one per `cpw` cycles,
//! into the weight set the array is not streaming from, then the `m` rows
//! of `A`, one per `cpa` cycles; fold `f + 1` fills while fold `f` streams.
//! Each streamed row's column sums over the PE rows are added into `O`.

use crate::emit::util::{cdiv, cmul, k, min2};
use crate::params::Params;
use crate::vast::{Module, Stmt, if_, if_else, nb};

use super::INDEX_BITS;

/// Registers and wires of WS mode in `sat_gemm` (the module's OS registers
/// `g_*`, `a_tile`, `a_k`, `o_tile`, `o_col`, `n_left`, `ks`, `kc`, `sc` and
/// `g_subtiles` are shared: WS counts rows in `ks`/`kc` and folds in
/// `g_subtiles`).
pub(super) fn declare(m: &mut Module, p: &Params) {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let rw = p.range_bits;
    let ww = 16 + INDEX_BITS;
    for (n, w, d) in [
        ("g_ws", 1, "weight-stationary GEMM"),
        ("g_cpw", 32, "ws: cycles per PE row of a weight fill"),
        ("g_rused", 32, "ws: PE rows holding weights (min(K-steps, rows))"),
        ("g_fill", 32, "ws: cycles of a fold's weight fill"),
        ("g_run", 32, "ws: cycles of a fold's rows (m * cpa)"),
        ("g_foldk", 32, "ws: folds along the reduction"),
        ("g_m32", 32, "ws: rows of A"),
        ("g_arow", rw, "ws: activation address step per row (astride)"),
        ("g_a", rw, "ws: activation address of the GEMM"),
        ("g_o", rw, "ws: output address of the GEMM"),
        ("g_rstep_a", rw, "ws: activation offset per fold along the reduction (rows * activations per K-step)"),
        ("g_rstep_w", rw, "ws: weight address step per fold along the reduction (rows * K-step step)"),
        ("wsp", 1, "ws: the first fold's fill, before any row streams"),
        ("ws_cur", 1, "ws: the weight set the array streams from (kept across GEMMs)"),
        ("fk", 32, "ws: fold along the reduction being streamed"),
        ("wf_on", 1, "ws: a weight fill is under way"),
        ("wf_r", 32, "ws: PE row being filled"),
        ("wf_c", 32, "ws: cycle in the PE row's fill"),
        ("wf_base", rw, "ws: weight address of the PE row being filled (its K-step, column 0 of the fold)"),
        ("wf_ke", 32, "ws: compressed rows from the filled K-step on"),
        ("wf_left", 32, "ws: folds still to fill"),
        ("wf_fk", 32, "ws: fold along the reduction of the fill"),
        ("wf_kbase", rw, "ws: weight address offset of the fill's fold along the reduction"),
        ("wf_wcol", rw, "ws: weight address offset of the fill's column block"),
        ("wf_ke0", 32, "ws: compressed rows from the fill's first K-step on"),
        ("f1_en", 1, "ws: fill data arrives"),
        ("f1_r", 32, ""),
        ("f1_set", 1, ""),
        ("f1_lanes_on", lanes, ""),
        ("f1_wt", 1, ""),
        ("s1_ws", 1, "ws: a streamed row's operands arrive"),
        ("s1_set", 1, ""),
        ("s1_rows_on", rows, "ws: PE rows that hold weights"),
        ("s2_ws", 1, ""),
        ("s3_ws", 1, "ws: the PE accumulators hold a row's products: write its column sums"),
    ] {
        m.reg(n, w, d);
    }
    for s in 0..2 {
        for r in 0..rows {
            m.reg(
                &format!("wsv{s}_{r}"),
                cols * lanes * 16,
                if r == 0 { "ws: weight set values, per PE row" } else { "" },
            );
            m.reg(
                &format!("wsi{s}_{r}"),
                cols * lanes * INDEX_BITS,
                if r == 0 { "ws: weight set indices" } else { "" },
            );
        }
    }
    let on: Vec<String> = (0..lanes).rev().map(|l| format!("(wf_ke > 32'd{l})")).collect();
    m.wire_assign("wf_lanes_on", lanes, format!("{{{}}}", on.join(", ")));
    m.wire_assign("wfire", 1, "(act & g_ws & ~wsp & (ks < g_m32) & (kc == 32'd0))");
    m.wire_assign("ffire", 1, "(act & g_ws & wf_on & (wf_c == 32'd0))");
    // The next fill's fold: the next along the reduction, or the next column block.
    m.wire_assign("wn_last", 1, "(wf_fk + 32'd1 == g_foldk)");
    m.wire_assign("wn_kbase", rw, format!("(wn_last ? {} : (wf_kbase + g_rstep_w))", k(rw, 0)));
    m.wire_assign("wn_wcol", rw, "(wn_last ? (wf_wcol + g_wcol) : wf_wcol)");
    let rl = u64::from(rows * lanes);
    m.wire_assign("wn_ke0", 32, format!("(wn_last ? g_keff : ((wf_ke0 > 32'd{rl}) ? (wf_ke0 - 32'd{rl}) : 32'd0))"));
    // Fill data in the array's weight layout (column-major), idle lanes zeroed.
    m.wire_assign("wf_in", lanes * cols * ww, "(f1_wt ? w_rdt_data : w_rd_data)");
    let (mut v, mut ix) = (Vec::new(), Vec::new());
    for c in (0..cols).rev() {
        for l in (0..lanes).rev() {
            let base = (l * cols + c) * ww;
            v.push(format!("({{16{{f1_lanes_on[{l}]}}}} & wf_in[{}:{}])", base + 15, base));
            ix.push(format!("wf_in[{}:{}]", base + ww - 1, base + 16));
        }
    }
    m.wire_assign("wf_v", cols * lanes * 16, format!("{{{}}}", v.join(",\n    ")));
    m.wire_assign("wf_i", cols * lanes * INDEX_BITS, format!("{{{}}}", ix.join(",\n    ")));
}

/// Assignments when a GEMM issues (`i_*` are the instruction's fields,
/// `i_ws` its mode).
pub(super) fn start(p: &Params) -> Vec<Stmt> {
    let (rows, cols) = (u64::from(p.rows), u64::from(p.cols));
    let rw = p.range_bits;
    let rused = min2("ksteps", &k(32, rows));
    let foldk = cdiv("ksteps", rows, 32);
    vec![
        nb("g_ws", "i_ws"),
        nb("g_cpw", "cpw"),
        nb("g_rused", rused.clone()),
        nb("g_fill", format!("({rused} * cpw)")),
        nb("g_run", "(i_m * cpk)"),
        nb("g_foldk", foldk.clone()),
        nb("g_m32", "i_m"),
        nb("g_arow", "i_astride"),
        nb("g_a", "i_a"),
        nb("g_o", "i_o"),
        nb("g_rstep_a", cmul("i_lm", rows, rw)),
        nb("g_rstep_w", cmul("i_wstep", rows, rw)),
        nb("wsp", "1'b1"),
        nb("fk", "32'd0"),
        nb("wf_on", "i_ws"),
        nb("wf_r", "32'd0"),
        nb("wf_c", "32'd0"),
        nb("wf_base", "i_w"),
        nb("wf_ke", "keff"),
        nb("wf_left", format!("(({foldk} * {}) - 32'd1)", cdiv("i_n", cols, 32))),
        nb("g_subtiles", format!("(i_ws ? ({foldk} * {}) : i_tiles)", cdiv("i_n", cols, 32))),
        nb("g_astride", "(i_ws ? i_lm : i_astride)"),
        nb("wf_fk", "32'd0"),
        nb("wf_kbase", k(rw, 0)),
        nb("wf_wcol", k(rw, 0)),
        nb("wf_ke0", "keff"),
    ]
}

/// The next fill, if a fold is left to fill: its fold, first PE row and
/// address.
fn next_fill() -> Stmt {
    if_(
        "wf_left != 32'd0",
        vec![
            nb("wf_left", "(wf_left - 32'd1)"),
            nb("wf_on", "1'b1"),
            nb("wf_r", "32'd0"),
            nb("wf_c", "32'd0"),
            nb("wf_fk", "(wn_last ? 32'd0 : (wf_fk + 32'd1))"),
            nb("wf_kbase", "wn_kbase"),
            nb("wf_wcol", "wn_wcol"),
            nb("wf_ke0", "wn_ke0"),
            nb("wf_base", "(g_w + wn_kbase + wn_wcol)"),
            nb("wf_ke", "wn_ke0"),
        ],
    )
}

/// One cycle of a WS GEMM: the fill's PE rows, the streamed rows, and the
/// fold boundaries (the first fold's fill ends `g_fill` cycles after issue;
/// a fold's period, `period`, or `g_run` for the last, ends the next).
pub(super) fn step(p: &Params) -> Vec<Stmt> {
    let (cols, lanes) = (p.cols, p.lanes);
    let rw = p.range_bits;
    let fill = if_(
        "wf_on",
        vec![if_else(
            "wf_c + 32'd1 == g_cpw",
            vec![
                nb("wf_c", "32'd0"),
                nb("wf_r", "(wf_r + 32'd1)"),
                nb("wf_base", "(wf_base + g_wstep)"),
                nb("wf_ke", format!("((wf_ke > 32'd{lanes}) ? (wf_ke - 32'd{lanes}) : 32'd0)")),
                if_("wf_r + 32'd1 == g_rused", vec![nb("wf_on", "1'b0")]),
            ],
            vec![nb("wf_c", "(wf_c + 32'd1)")],
        )],
    );
    let period_start: Vec<Stmt> = vec![
        nb("sc", "32'd0"),
        nb("ks", "32'd0"),
        nb("kc", "32'd0"),
        nb("a_tile", "g_a"),
        nb("o_tile", "g_o"),
        nb("ws_cur", "~ws_cur"),
        next_fill(),
    ];
    let mut next_fold = period_start.clone();
    next_fold.push(nb("g_subtiles", "(g_subtiles - 32'd1)"));
    next_fold.push(if_else(
        "fk + 32'd1 == g_foldk",
        vec![
            nb("fk", "32'd0"),
            nb("a_k", k(rw, 0)),
            nb("o_col", format!("(o_col + {})", k(rw, u64::from(cols)))),
            nb("n_left", format!("((n_left > 32'd{cols}) ? (n_left - 32'd{cols}) : 32'd0)")),
        ],
        vec![nb("fk", "(fk + 32'd1)"), nb("a_k", "(a_k + g_rstep_a)")],
    ));
    let mut first_end = period_start;
    first_end.push(nb("wsp", "1'b0"));
    let first = if_else("sc + 32'd1 == g_fill", first_end, vec![nb("sc", "(sc + 32'd1)")]);
    let rows_step = if_(
        "ks < g_m32",
        vec![if_else(
            "kc + 32'd1 == g_cpk",
            vec![
                nb("kc", "32'd0"),
                nb("ks", "(ks + 32'd1)"),
                nb("a_tile", "(a_tile + g_arow)"),
                nb("o_tile", "(o_tile + g_n)"),
            ],
            vec![nb("kc", "(kc + 32'd1)")],
        )],
    );
    let fold_end = if_else(
        "sc + 32'd1 == ((g_subtiles == 32'd1) ? g_run : g_period)",
        vec![if_else("g_subtiles == 32'd1", vec![nb("act", "1'b0")], next_fold)],
        vec![nb("sc", "(sc + 32'd1)")],
    );
    vec![if_("act", vec![fill, if_else("wsp", vec![first], vec![rows_step, fold_end])])]
}

/// Pipeline registers of WS mode (every cycle, beside the OS pipeline):
/// the fill's data into the idle weight set, the streamed row's flags.
pub(super) fn pipe(p: &Params) -> Vec<Stmt> {
    let rows = p.rows;
    let on: Vec<String> = (0..rows).rev().map(|r| format!("(g_rused > 32'd{r})")).collect();
    let mut v = vec![
        nb("f1_en", "ffire"),
        nb("f1_r", "wf_r"),
        nb("f1_set", "~ws_cur"),
        nb("f1_lanes_on", "wf_lanes_on"),
        nb("f1_wt", "g_wt"),
        nb("s1_ws", "wfire"),
        nb("s1_set", "ws_cur"),
        nb("s1_rows_on", format!("{{{}}}", on.join(", "))),
        nb("s2_ws", "s1_ws"),
        nb("s3_ws", "s2_ws"),
    ];
    for s in 0..2 {
        for r in 0..rows {
            v.push(if_(
                format!("f1_en & (f1_set == 1'b{s}) & (f1_r == 32'd{r})"),
                vec![nb(format!("wsv{s}_{r}"), "wf_v"), nb(format!("wsi{s}_{r}"), "wf_i")],
            ));
        }
    }
    v
}

/// The array's weight inputs per PE row: under OS the streamed weights
/// (`os_v`, `os_i`) in every row, under WS each row's held set (zero past
/// the rows that hold weights).
pub(super) fn array_weights(m: &mut Module, p: &Params, os_v: &str, os_i: &str) {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let (vw, iw) = (cols * lanes * 16, cols * lanes * INDEX_BITS);
    let mut v = Vec::new();
    let mut ix = Vec::new();
    for r in (0..rows).rev() {
        v.push(format!("(s1_ws ? ({{{vw}{{s1_rows_on[{r}]}}}} & (s1_set ? wsv1_{r} : wsv0_{r})) : {os_v})"));
        ix.push(format!("(s1_ws ? (s1_set ? wsi1_{r} : wsi0_{r}) : {os_i})"));
    }
    m.wire_assign("pe_wv", rows * vw, format!("{{{}}}", v.join(",\n    ")));
    m.wire_assign("pe_wi", rows * iw, format!("{{{}}}", ix.join(",\n    ")));
}

/// The column sums of a streamed row (PE `(r, c)`'s accumulator at
/// `(r·cols + c)·acc` of `arr_acc`), wrapping at the accumulator width, in
/// the first row slot of the output write; zeros elsewhere.
pub(super) fn column_sums(m: &mut Module, p: &Params) {
    let (rows, cols, acc) = (p.rows, p.cols, p.acc_bits);
    let mut sums = Vec::new();
    for c in (0..cols).rev() {
        let terms: Vec<String> = (0..rows)
            .map(|r| format!("arr_acc[{}:{}]", (r * cols + c) * acc + acc - 1, (r * cols + c) * acc))
            .collect();
        m.wire_assign(&format!("ws_sum{c}"), acc, format!("({})", terms.join(" + ")));
        sums.push(format!("ws_sum{c}"));
    }
    let pad = if rows > 1 { format!("{}, ", k((rows - 1) * cols * acc, 0)) } else { String::new() };
    m.wire_assign("ws_row", rows * cols * acc, format!("{{{pad}{}}}", sums.join(", ")));
}
