//! The PE (lane multipliers, adder tree, index decode, M:1 activation muxes) and the PE array.

use nmsat_dataflow::isa::index_bits;

use crate::emit::util::{k, raw};
use crate::params::Params;
use crate::vast::{Always, Instance, Item, Module, id, if_, nb};

use super::{INDEX_BITS, act_window, modes};

/// `sat_pe`: one processing element.
pub fn pe(p: &Params, faults: bool) -> Module {
    let lanes = p.lanes;
    let mux = p.mux_inputs;
    // A select is an in-group index of the largest group the mux serves.
    let sel_bits = index_bits(mux).max(1);
    let acc = p.acc_bits;
    let sum_w = 32 + p.lanes_log2;
    let mut m = Module::new("sat_pe");
    m.doc.push(format!(
        "Processing element: {lanes} lanes, each a {mux}:1 activation mux selected by the weight's in-group index,"
    ));
    m.doc.push(format!(
        "a 16x16 signed multiplier, an adder tree of depth {} and a {acc}-bit wrapping accumulator.",
        p.lanes_log2
    ));
    m.doc.push("Stage 1 registers the products, stage 2 adds the tree into the accumulator.".into());
    m.input("clk", 1, "");
    m.input("en", 1, "a K-step's operands are on the inputs");
    if faults {
        m.input("fault_sel", crate::emit::FAULT_SEL_BITS, "fault-injection build: the fault switched on");
    }

    m.input("first", 1, "first K-step of a sub-tile: the accumulator restarts");
    m.input("win", lanes * mux * 16, "per lane, the activations its mux selects from");
    m.input("wv", lanes * 16, "per lane, the weight value (0 for an idle lane)");
    m.input("wi", lanes * sel_bits, "per lane, the index into its window (0 in dense mode)");
    m.output("acc", acc, "the accumulator");
    m.reg("v1", 1, "stage 1 valid");
    m.reg("f1", 1, "stage 1 first");
    m.reg("acc_r", acc, "");
    let mut body = vec![nb("v1", "en"), nb("f1", "first")];
    for l in 0..lanes {
        // The lane's M:1 activation mux.
        let mut sel = format!("wi[{}:{}]", (l + 1) * sel_bits - 1, l * sel_bits);
        if l == 0 {
            sel = crate::emit::fault_mux(
                faults,
                crate::Fault::ActivationMuxSelect,
                &format!("({sel} ^ {})", k(sel_bits, 1)),
                &sel,
            );
        }
        m.wire_assign(&format!("s{l}"), sel_bits, sel);
        let mut mux_expr = format!("win[{}:{}]", (l * mux + mux - 1) * 16 + 15, (l * mux + mux - 1) * 16);
        for x in (0..mux - 1).rev() {
            mux_expr = format!(
                "(s{l} == {}) ? win[{}:{}] :\n      {mux_expr}",
                k(sel_bits, u64::from(x)),
                (l * mux + x) * 16 + 15,
                (l * mux + x) * 16
            );
        }
        m.wire_assign(&format!("a{l}"), 16, format!("({mux_expr})"));
        m.wire_assign(&format!("p{l}"), 32, format!("($signed(a{l}) * $signed(wv[{l}*16 +: 16]))"));
        m.reg(&format!("prod{l}"), 32, if l == 0 { "stage 1: products" } else { "" });
        body.push(nb(format!("prod{l}"), format!("p{l}")));
    }
    m.push(Item::Always(Always::Posedge("clk".into()), body));
    // Adder tree over sign-extended products.
    let mut level: Vec<String> = (0..lanes)
        .map(|l| {
            let name = format!("t0_{l}");
            m.wire_assign(&name, sum_w, format!("{{{{{}{{prod{l}[31]}}}}, prod{l}}}", sum_w - 32));
            name
        })
        .collect();
    let mut d = 0;
    while level.len() > 1 {
        d += 1;
        let next: Vec<String> = level
            .chunks(2)
            .enumerate()
            .map(|(i, pair)| {
                let name = format!("t{d}_{i}");
                m.wire_assign(&name, sum_w, format!("({} + {})", pair[0], pair[1]));
                name
            })
            .collect();
        level = next;
    }
    let sum = level[0].clone();
    let ext = if acc > sum_w {
        format!("{{{{{}{{{sum}[{}]}}}}, {sum}}}", acc - sum_w, sum_w - 1)
    } else {
        format!("{sum}[{}:0]", acc - 1)
    };
    m.wire_assign("sum", acc, ext);
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_("v1", vec![nb("acc_r", "(f1 ? sum : (acc_r + sum))")])],
    ));
    m.assign("acc", "acc_r");
    m
}

/// `sat_pe_array`: `rows × cols` PEs, the per-row activation routing into
/// lane windows (which depends on the mode) and the per-column index decode.
pub fn pe_array(p: &Params, faults: bool) -> Module {
    let (rows, cols, lanes, mux) = (p.rows, p.cols, p.lanes, p.mux_inputs);
    let lm = act_window(p);
    let nm = modes(p) as u32;
    // A select is an in-group index of the largest group the mux serves.
    let sel_bits = index_bits(mux).max(1);
    let acc = p.acc_bits;
    let mut m = Module::new("sat_pe_array");
    m.doc.push(format!("PE array: {rows}x{cols} PEs. Row r gets {lm} activations per K-step, each PE {lanes} weights"));
    m.doc.push("with their indices; every PE of a row sees the same lane windows.".into());
    let mode_doc: Vec<String> = std::iter::once("0 dense".to_string())
        .chain(p.patterns.iter().enumerate().map(|(i, q)| format!("{} {}:{}", i + 1, q.n, q.m)))
        .collect();
    m.input("clk", 1, "");
    m.input("en", 1, "operands valid");
    if faults {
        m.input("fault_sel", crate::emit::FAULT_SEL_BITS, "fault-injection build: the fault switched on");
    }

    m.input("first", 1, "first K-step of a sub-tile");
    m.input("mode", nm, &format!("one-hot: {}", mode_doc.join(", ")));
    m.input("act", rows * lm * 16, "row r: its activation window");
    m.input("wv", rows * cols * lanes * 16, "PE (r, c) at (r*cols + c): weight values (0 for idle lanes)");
    m.input("wi", rows * cols * lanes * INDEX_BITS, "PE (r, c) at (r*cols + c): in-group indices");
    m.output("acc", rows * cols * acc, "accumulator of PE (r, c) at (r*cols + c)");
    // Row routing: lane l of pattern N:M selects from act[(l/N)*M .. +M].
    let mut row_body = Vec::new();
    for l in 0..lanes {
        for x in 0..mux {
            let mut terms = Vec::new();
            if x == 0 {
                terms.push(format!("({{16{{mode[0]}}}} & act[(r*{lm} + {l})*16 +: 16])"));
            }
            for (i, q) in p.patterns.iter().enumerate() {
                if x < q.m {
                    let src = (l / q.n) * q.m + x;
                    terms.push(format!("({{16{{mode[{}]}}}} & act[(r*{lm} + {src})*16 +: 16])", i + 1));
                }
            }
            let rhs = if terms.is_empty() { "16'd0".to_string() } else { terms.join(" | ") };
            row_body.push(Item::Assign(raw(format!("win[({l}*{mux} + {x})*16 +: 16]")), raw(rhs)));
        }
    }
    let mut row_items = vec![Item::Wire { name: "win".into(), width: lanes * mux * 16, doc: "lane windows".into() }];
    row_items.extend(row_body);
    m.push(Item::GenFor { var: "r".into(), count: u64::from(rows), label: "row".into(), body: row_items });
    // Per-PE index decode: the index is meaningful only in N:M mode and only
    // its log2(M) bits. Under OS every row of a column gets the same weights;
    // under WS each PE row holds its own (ADR 004).
    let mut pe_items = vec![Item::Wire { name: "sel".into(), width: lanes * sel_bits, doc: "mux selects".into() }];
    for l in 0..lanes {
        let mut terms = Vec::new();
        for (i, q) in p.patterns.iter().enumerate() {
            if q.ibits > 0 {
                let mask = (1u64 << q.ibits) - 1;
                terms.push(format!(
                    "({{{sel_bits}{{mode[{}]}}}} & ({} & wi[(i*{lanes} + {l})*{INDEX_BITS} +: {sel_bits}]))",
                    i + 1,
                    k(sel_bits, mask)
                ));
            }
        }
        let rhs = if terms.is_empty() { k(sel_bits, 0) } else { terms.join(" | ") };
        pe_items.push(Item::Assign(raw(format!("sel[{l}*{sel_bits} +: {sel_bits}]")), raw(rhs)));
    }
    pe_items.push(Item::Instance(Instance {
        module: "sat_pe".into(),
        name: "u".into(),
        params: vec![],
        conns: [
            ("clk".into(), id("clk")),
            ("en".into(), id("en")),
            ("first".into(), id("first")),
            ("win".into(), raw(format!("row[i / {cols}].win"))),
            ("wv".into(), raw(format!("wv[i*{} +: {}]", lanes * 16, lanes * 16))),
            ("wi".into(), id("sel")),
            ("acc".into(), raw(format!("acc[i*{acc} +: {acc}]"))),
        ]
        .into_iter()
        .chain(faults.then(|| ("fault_sel".to_string(), id("fault_sel"))))
        .collect(),
    }));
    m.push(Item::GenFor { var: "i".into(), count: u64::from(rows * cols), label: "pe".into(), body: pe_items });
    if sel_bits < INDEX_BITS {
        m.lint_off.push(("UNUSED".into(), "index bits above log2(mux inputs) are never selects".into()));
    }
    m
}
