//! Datapath generators: the buffers, the PE (lanes multipliers, adder tree,
//! index decode and M:1 activation muxes), the PE array and the GEMM
//! engine that sequences sub-tiles and K-steps exactly as `timing::gemm`
//! counts them.
//!
//! **Buffers.** Each buffer is a storage array with one port per unit that
//! uses it (a read port delivers `lanes` consecutive elements from each of
//! its `groups` start addresses, a write port takes the same shape with a
//! lane mask). The timing model charges each unit its own bandwidth and
//! never port conflicts between units, so the RTL gives every unit its own
//! ports: an idealisation of banked SRAM that `nmsat synth` reports as
//! block RAM from the buffer geometry (the buffers are black boxes there).
//!
//! **PE array.** Operands are broadcast (row `i` gets the activations of
//! output row `i`, column `j` the weights of output column `j`) instead of
//! skewed through a systolic mesh; the results are in the output buffer
//! three cycles after the last K-step, which is never later than the
//! model's fill-and-drain tail (the emitter checks `fill >= 2`).

use nmsat_dataflow::isa::{Buf, MAX_INDEX_BITS, index_bits};

use crate::emit::util::{MODE_BITS, index_bits_of, k, mode_code, raw};
use crate::params::{INSTR_BITS, Params, clog2};
use crate::vast::{Always, Instance, Item, Module, Stmt, bl, id, if_, if_else, nb};

/// Lanes (groups times lanes) up to which a buffer write port is a loop:
/// Verilator unrolls loops of up to 64 iterations, and a non-blocking write
/// to an array in a loop it keeps is not supported.
const MAX_LOOP_LANES: u32 = 64;

/// Bits of a weight's in-group index side-band (an index of the largest group).
pub const INDEX_BITS: u32 = MAX_INDEX_BITS;

/// Bits of a pattern's `N` and `M` (the `n_of`, `m_of` fields), and of
/// counts within a group.
const NB: u32 = crate::emit::util::fbits("sparsify", "n_of");
const MB: u32 = crate::emit::util::fbits("sparsify", "m_of");

/// Kind of a buffer port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// Synchronous read (data the next cycle).
    Read,
    /// Write with a lane mask.
    Write,
    /// Write `(acc ? old : 0) + data` (the GEMM drain).
    AccWrite,
}

/// One buffer port.
#[derive(Debug, Clone)]
pub struct BufPort {
    /// Prefix of its signals.
    pub name: String,
    /// Kind.
    pub kind: PortKind,
    /// Independent start addresses per access.
    pub groups: u32,
    /// Consecutive elements per group.
    pub lanes: u32,
    /// The bits of an element it moves, `(low bit, width)`; `None`: all of them.
    pub field: Option<(u32, u32)>,
    /// A read port whose data is lane-major: lane `l` of group `g` at
    /// `l·groups + g` (group-major, `g·lanes + l`, otherwise).
    pub lane_major: bool,
    /// What uses it.
    pub doc: String,
}

impl BufPort {
    /// Bits per lane of the port's data for elements of `width` bits.
    pub fn lane_bits(&self, width: u32) -> u32 {
        self.field.map_or(width, |(_, w)| w)
    }
}

/// One buffer's geometry.
#[derive(Debug, Clone)]
pub struct BufSpec {
    /// Module name (`sat_buf_a`, …).
    pub module: String,
    /// Elements.
    pub cap: u64,
    /// Bits per element.
    pub width: u32,
    /// Ports.
    pub ports: Vec<BufPort>,
    /// Description.
    pub doc: String,
}

/// Activation elements a PE row reads per K-step in the widest mode (`lanes·M/N`).
pub fn act_window(p: &Params) -> u32 {
    p.patterns.iter().map(|q| p.lanes / q.n * q.m).max().unwrap_or(p.lanes).max(p.lanes)
}

/// Accumulators a `k = 0` GEMM clears per cycle: `rows · cols`. It has the
/// issue cycle and the next before any consumer can read its tile, so it
/// clears tiles of up to twice as many (a larger tile raises the error flag).
pub fn clear_lanes(p: &Params) -> u32 {
    p.rows * p.cols
}

/// The modes of the array: dense first, then the supported patterns.
pub fn modes(p: &Params) -> usize {
    1 + p.patterns.len()
}

/// The three buffers and the ports each unit uses.
pub fn buffers(p: &Params) -> Vec<BufSpec> {
    let port = |name: &str, kind, groups, lanes, doc: &str| BufPort {
        name: name.into(),
        kind,
        groups,
        lanes,
        field: None,
        lane_major: false,
        doc: doc.into(),
    };
    let d = &p.dma;
    let u = d.units;
    let index_field = |name: &str, kind, lanes, doc: &str| BufPort {
        name: name.into(),
        kind,
        groups: u,
        lanes,
        field: Some((16, INDEX_BITS)),
        lane_major: false,
        doc: doc.into(),
    };
    vec![
        BufSpec {
            module: "sat_buf_a".into(),
            cap: p.cap[Buf::A as usize],
            width: 16,
            ports: vec![
                port("gemm_rd", PortKind::Read, p.rows, act_window(p), "GEMM: each PE row's activations"),
                BufPort {
                    lane_major: true,
                    ..port(
                        "gemm_rdt",
                        PortKind::Read,
                        act_window(p),
                        p.rows,
                        "GEMM with A transposed (at): each reduction index's rows, in gemm_rd's layout",
                    )
                },
                port("vec_rd1", PortKind::Read, 1, p.vec_lanes, "vector unit: first source"),
                port("vec_rd2", PortKind::Read, 1, p.vec_lanes, "vector unit: second source"),
                port("vec_wr", PortKind::Write, 1, p.vec_lanes, "vector unit: destination"),
                port(
                    "sp_rd",
                    PortKind::Read,
                    sparsifier_groups(p) * p.patterns.iter().map(|q| q.m).max().unwrap_or(1),
                    1,
                    "sparsifier: the groups' elements",
                ),
                port(
                    "sp_wr",
                    PortKind::Write,
                    sparsifier_groups(p) * p.patterns.iter().map(|q| q.m).max().unwrap_or(1),
                    1,
                    "sparsifier: the pruned mask (mask_out)",
                ),
                port("dma_wr", PortKind::Write, u, d.e16, "DMA load: a unit per group"),
                port("dma_rd", PortKind::Read, u, d.e16, "DMA store: a unit per group"),
            ],
            doc: "Activation buffer A: 16-bit elements.".into(),
        },
        BufSpec {
            module: "sat_buf_w".into(),
            cap: p.cap[Buf::W as usize],
            width: 16 + INDEX_BITS,
            ports: vec![
                port("gemm_rd", PortKind::Read, p.lanes, p.cols, "GEMM: one compressed row per lane"),
                BufPort {
                    lane_major: true,
                    ..port(
                        "gemm_rdt",
                        PortKind::Read,
                        p.cols,
                        p.lanes,
                        "GEMM with W transposed (wt): one column's K-step, in gemm_rd's layout",
                    )
                },
                port(
                    "sp_wr",
                    PortKind::Write,
                    sparsifier_groups(p) * p.patterns.iter().map(|q| q.n).max().unwrap_or(1),
                    1,
                    "sparsifier: kept values with their indices",
                ),
                port("dma_wr", PortKind::Write, u, d.lanes_w(), "DMA load: values with their indices"),
                index_field("dma_wri", PortKind::Write, d.lanes_i(), "DMA load: indices only (nm_indices)"),
                port("dma_rd", PortKind::Read, u, d.lanes_w(), "DMA store: values with their indices"),
                index_field("dma_rdi", PortKind::Read, d.lanes_i(), "DMA store: indices only (nm_indices)"),
            ],
            doc: "Weight buffer W: {4-bit in-group index, 16-bit value} per element.".into(),
        },
        BufSpec {
            module: "sat_buf_o".into(),
            cap: p.cap[Buf::O as usize],
            width: p.acc_bits,
            ports: vec![
                port("gemm_wr", PortKind::AccWrite, p.rows, p.cols, "GEMM drain: a sub-tile's rows"),
                port("gemm_clr", PortKind::Write, 1, clear_lanes(p), "GEMM with k = 0: clears its output tile"),
                port(
                    "sp_rd",
                    PortKind::Read,
                    sparsifier_groups(p) * p.patterns.iter().map(|q| q.m).max().unwrap_or(1),
                    1,
                    "sparsifier: master weights",
                ),
                port("vec_rd", PortKind::Read, 1, p.vec_lanes, "vector unit: source"),
                port("vec_rd2", PortKind::Read, 1, p.vec_lanes, "vector unit: sgd momentum"),
                port("vec_rd3", PortKind::Read, 1, p.vec_lanes, "vector unit: sgd master weights"),
                port("vec_wr", PortKind::Write, 1, p.vec_lanes, "vector unit: destination"),
                port("vec_wr2", PortKind::Write, 1, p.vec_lanes, "vector unit: sgd momentum (wins over vec_wr)"),
                port("dma_wr", PortKind::Write, u, d.e32, "DMA load of i32 rows"),
                port("dma_rd", PortKind::Read, u, d.e16, "DMA store (i32, or requantized to i16)"),
            ],
            doc: format!("Output buffer O: {}-bit accumulators.", p.acc_bits),
        },
    ]
}

/// Generates a buffer module.
pub fn buffer(p: &Params, b: &BufSpec) -> Module {
    let rw = p.range_bits;
    let iw = clog2(b.cap).max(1);
    let w = b.width;
    let mut m = Module::new(&b.module);
    m.doc.push(b.doc.clone());
    m.doc.push(format!("{} elements of {w} bits; one port per unit (see the emitter's datapath docs).", b.cap));
    m.input("clk", 1, "");
    m.input("host_we", 1, "test access: write element `host_addr`");
    m.input("host_addr", rw, "");
    m.input("host_wdata", w, "");
    m.output("host_rdata", w, "test access: element `host_addr` (combinational)");
    for port in &b.ports {
        let (g, l) = (port.groups, port.lanes);
        let n = &port.name;
        let fw = port.lane_bits(w);
        let what = port.field.map_or(String::new(), |(lo, fw)| format!(" (bits {}:{lo} only)", lo + fw - 1));
        match port.kind {
            PortKind::Read => {
                m.input(&format!("{n}_en"), 1, &port.doc);
                m.input(&format!("{n}_addr"), g * rw, &format!("{g} start address(es)"));
                m.output_reg(
                    &format!("{n}_data"),
                    g * l * fw,
                    &format!("{l} consecutive elements per start, next cycle{what}"),
                );
            }
            PortKind::Write | PortKind::AccWrite => {
                m.input(&format!("{n}_en"), g, &port.doc);
                m.input(&format!("{n}_addr"), g * rw, &format!("{g} start address(es)"));
                m.input(&format!("{n}_mask"), g * l, "lanes to write");
                m.input(&format!("{n}_data"), g * l * fw, what.trim_start());
                if port.kind == PortKind::AccWrite {
                    m.input(&format!("{n}_acc"), 1, "add to the old contents (else overwrite)");
                }
            }
        }
    }
    // Storage planes: ports that move only some bits of an element (the
    // weight buffer's index side-band) get their own array, so every write
    // is a whole word of one array.
    let mut cuts = vec![0, w];
    for port in &b.ports {
        if let Some((lo, fw)) = port.field {
            cuts.extend([lo, lo + fw]);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let planes: Vec<(u32, u32)> = cuts.windows(2).map(|c| (c[0], c[1])).collect();
    let single = planes.len() == 1;
    let pname = |lo: u32| if single { "mem".to_string() } else { format!("mem_b{lo}") };
    for &(lo, hi) in &planes {
        let doc = if single { "storage".to_string() } else { format!("storage, element bits {}:{lo}", hi - 1) };
        m.push(Item::Reg { name: pname(lo), width: hi - lo, depth: b.cap, doc });
    }
    // Bits [lo, hi) of the element at index `x`.
    let read = |x: &str, lo: u32, hi: u32| -> String {
        let parts: Vec<String> = planes
            .iter()
            .rev()
            .filter(|&&(a, b)| a >= lo && b <= hi)
            .map(|&(a, _)| format!("{}[{x}]", pname(a)))
            .collect();
        if parts.len() == 1 { parts[0].clone() } else { format!("{{{}}}", parts.join(", ")) }
    };
    // Writes of bits [lo, hi) of the element at index `x` from `d` (hi - lo bits).
    // `d(off, n)` is bits [off, off + n) of the data (bit 0 is element bit `lo`).
    let write = |x: &str, lo: u32, hi: u32, d: &dyn Fn(u32, u32) -> String| -> Vec<Stmt> {
        planes
            .iter()
            .filter(|&&(a, b)| a >= lo && b <= hi)
            .map(|&(a, b)| nb(format!("{}[{x}]", pname(a)), d(a - lo, b - a)))
            .collect()
    };
    // Loop variables of the write block (each read block has its own).
    m.push(Item::Integer("g".into()));
    m.push(Item::Integer("l".into()));
    m.push(Item::Function {
        name: "ok".into(),
        width: 1,
        inputs: vec![("x".into(), rw)],
        locals: vec![],
        body: vec![bl("ok", format!("(x < {})", k(rw, b.cap)))],
        doc: "inside the buffer".into(),
    });
    m.assign(
        "host_rdata",
        format!("(ok(host_addr) ? {} : {})", read(&format!("host_addr[{}:0]", iw - 1), 0, w), k(w, 0)),
    );
    // Reads.
    for port in b.ports.iter().filter(|p| p.kind == PortKind::Read) {
        let n = &port.name;
        let fw = port.lane_bits(w);
        let (flo, fhi) = port.field.map_or((0, w), |(lo, fw)| (lo, lo + fw));
        m.push(Item::Integer(format!("{n}_g")));
        m.push(Item::Integer(format!("{n}_l")));
        m.push(Item::Reg {
            name: format!("{n}_ea"),
            width: rw,
            depth: 0,
            doc: "element address (loop temporary)".into(),
        });
        m.push(Item::Always(
            Always::Posedge("clk".into()),
            vec![if_(
                format!("{n}_en"),
                vec![Stmt::For(
                    format!("{n}_g"),
                    0,
                    u64::from(port.groups),
                    vec![Stmt::For(
                        format!("{n}_l"),
                        0,
                        u64::from(port.lanes),
                        vec![
                            bl(format!("{n}_ea"), format!("({n}_addr[{n}_g*{rw} +: {rw}] + {n}_l[{}:0])", rw - 1)),
                            nb(
                                if port.lane_major {
                                    format!("{n}_data[({n}_l*{}+{n}_g)*{fw} +: {fw}]", port.groups)
                                } else {
                                    format!("{n}_data[({n}_g*{}+{n}_l)*{fw} +: {fw}]", port.lanes)
                                },
                                format!(
                                    "(ok({n}_ea) ? {} : {})",
                                    read(&format!("{n}_ea[{}:0]", iw - 1), flo, fhi),
                                    k(fw, 0)
                                ),
                            ),
                        ],
                    )],
                )],
            )],
        ));
    }
    // Writes, in port order (a later port wins on the same element). Each
    // port's lanes first compute enable, index and value (a generate
    // block), so the clocked loop that writes the array stays small.
    let host = |off: u32, n: u32| {
        if n == w { "host_wdata".to_string() } else { format!("host_wdata[{}:{off}]", off + n - 1) }
    };
    let mut writes = vec![if_("host_we & ok(host_addr)", write(&format!("host_addr[{}:0]", iw - 1), 0, w, &host))];
    for port in b.ports.iter().filter(|p| p.kind != PortKind::Read) {
        let n = &port.name;
        let slots = port.groups * port.lanes;
        let fw = port.lane_bits(w);
        let (flo, fhi) = port.field.map_or((0, w), |(lo, fw)| (lo, lo + fw));
        m.wire(&format!("{n}_we"), slots, "per lane: write enable");
        m.wire(&format!("{n}_wa"), slots * iw, "per lane: element index");
        m.wire(&format!("{n}_wd"), slots * fw, "per lane: value written");
        let gv = format!("i_{n}");
        let value = if port.kind == PortKind::AccWrite {
            format!(
                "(({n}_acc ? {} : {}) + {n}_data[{gv}*{w} +: {w}])",
                read(&format!("wea[{}:0]", iw - 1), 0, w),
                k(w, 0)
            )
        } else {
            format!("{n}_data[{gv}*{fw} +: {fw}]")
        };
        m.push(Item::GenFor {
            var: gv.clone(),
            count: u64::from(slots),
            label: format!("{n}_lane"),
            body: vec![
                Item::Wire { name: "wea".into(), width: rw, doc: String::new() },
                Item::Assign(
                    id("wea"),
                    raw(format!("({n}_addr[({gv}/{})*{rw} +: {rw}] + ({gv} % {}))", port.lanes, port.lanes)),
                ),
                Item::Assign(
                    raw(format!("{n}_we[{gv}]")),
                    raw(if port.groups == 1 {
                        format!("({n}_en & {n}_mask[{gv}] & ok(wea))")
                    } else {
                        format!("({n}_en[{gv}/{}] & {n}_mask[{gv}] & ok(wea))", port.lanes)
                    }),
                ),
                Item::Assign(raw(format!("{n}_wa[{gv}*{iw} +: {iw}]")), raw(format!("wea[{}:0]", iw - 1))),
                Item::Assign(raw(format!("{n}_wd[{gv}*{fw} +: {fw}]")), raw(value)),
            ],
        });
        let ln = port.lanes;
        let mut port_writes = Vec::new();
        if slots <= MAX_LOOP_LANES {
            port_writes.push(Stmt::For(
                "g".into(),
                0,
                u64::from(port.groups),
                vec![Stmt::For(
                    "l".into(),
                    0,
                    u64::from(ln),
                    vec![if_(
                        format!("{n}_we[g*{ln}+l]"),
                        write(&format!("{n}_wa[(g*{ln}+l)*{iw} +: {iw}]"), flo, fhi, &|off, b| {
                            if off == 0 {
                                format!("{n}_wd[(g*{ln}+l)*{fw} +: {b}]")
                            } else {
                                format!("{n}_wd[(g*{ln}+l)*{fw} + {off} +: {b}]")
                            }
                        }),
                    )],
                )],
            ));
        } else {
            // Verilator keeps loops longer than its unroll limit, and a
            // non-blocking write to an array inside a kept loop is not
            // supported: write out one statement per lane instead.
            for i in 0..slots {
                port_writes.push(if_(
                    format!("{n}_we[{i}]"),
                    write(&format!("{n}_wa[{}:{}]", (i + 1) * iw - 1, i * iw), flo, fhi, &|off, b| {
                        format!("{n}_wd[{}:{}]", i * fw + off + b - 1, i * fw + off)
                    }),
                ));
            }
        }
        // An idle port skips its lanes (the simulation's cost).
        writes.push(if_(format!("|{n}_en"), port_writes));
    }
    m.push(Item::Always(Always::Posedge("clk".into()), writes));
    m.lint_off.push(("UNUSED".into(), "address bits above the buffer size are only range-checked".into()));
    m.lint_off.push(("BLKSEQ".into(), "`ea` is a loop temporary".into()));
    m
}

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
    m.doc.push(format!("PE array: {rows}x{cols} PEs. Row r gets {lm} activations per K-step, column c gets {lanes}"));
    m.doc.push("weights with their indices; every PE of a row sees the same lane windows.".into());
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
    m.input("wv", cols * lanes * 16, "column c: weight values (0 for idle lanes)");
    m.input("wi", cols * lanes * INDEX_BITS, "column c: in-group indices");
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
    // Column index decode: the index is meaningful only in N:M mode and only its log2(M) bits.
    let mut col_items = vec![Item::Wire { name: "sel".into(), width: lanes * sel_bits, doc: "mux selects".into() }];
    for l in 0..lanes {
        let mut terms = Vec::new();
        for (i, q) in p.patterns.iter().enumerate() {
            if q.ibits > 0 {
                let mask = (1u64 << q.ibits) - 1;
                terms.push(format!(
                    "({{{sel_bits}{{mode[{}]}}}} & ({} & wi[(c*{lanes} + {l})*{INDEX_BITS} +: {sel_bits}]))",
                    i + 1,
                    k(sel_bits, mask)
                ));
            }
        }
        let rhs = if terms.is_empty() { k(sel_bits, 0) } else { terms.join(" | ") };
        col_items.push(Item::Assign(raw(format!("sel[{l}*{sel_bits} +: {sel_bits}]")), raw(rhs)));
    }
    m.push(Item::GenFor { var: "c".into(), count: u64::from(cols), label: "col".into(), body: col_items });
    m.push(Item::GenFor {
        var: "i".into(),
        count: u64::from(rows * cols),
        label: "pe".into(),
        body: vec![Item::Instance(Instance {
            module: "sat_pe".into(),
            name: "u".into(),
            params: vec![],
            conns: [
                ("clk".into(), id("clk")),
                ("en".into(), id("en")),
                ("first".into(), id("first")),
                ("win".into(), raw(format!("row[i / {cols}].win"))),
                ("wv".into(), raw(format!("wv[(i % {cols})*{} +: {}]", lanes * 16, lanes * 16))),
                ("wi".into(), raw(format!("col[i % {cols}].sel"))),
                ("acc".into(), raw(format!("acc[i*{acc} +: {acc}]"))),
            ]
            .into_iter()
            .chain(faults.then(|| ("fault_sel".to_string(), id("fault_sel"))))
            .collect(),
        })],
    });
    if sel_bits < INDEX_BITS {
        m.lint_off.push(("UNUSED".into(), "index bits above log2(mux inputs) are never selects".into()));
    }
    m
}

/// `sat_gemm`: the GEMM engine. It walks a tile's sub-tiles and K-steps
/// with the period and cycles per K-step of `timing::gemm`, reads the
/// operands, drives the PE array and drains each sub-tile into the output
/// buffer (adding to it when accumulating) three cycles after its last K-step.
pub fn gemm(p: &Params, faults: bool) -> Module {
    let (rows, cols, lanes) = (p.rows, p.cols, p.lanes);
    let rw = p.range_bits;
    let lm = act_window(p);
    let nm = modes(p) as u32;
    let acc = p.acc_bits;
    let mut m = Module::new("sat_gemm");
    m.doc.push("GEMM engine: sub-tile and K-step sequencing as timing::gemm counts them (period, cycles".into());
    m.doc.push("per K-step), operand fetch, the PE array, and the drain into the output buffer.".into());
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
    let f = |name: &str| crate::emit::util::field("gemm", name);
    let fw = |name: &str| {
        let (lo, bits) = f(name);
        format!("instr[{}:{}]", lo + bits - 1, lo)
    };
    // Mode of the issued GEMM.
    let (nlo, nbits) = f("n_of");
    let (mlo, mbits) = f("m_of");
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
    m.wire_assign("i_mode", nm, format!("{{{}}}", mode_terms.join(", ")));
    // Activation elements per K-step per row in the issued mode.
    let mut lm_expr = k(rw, u64::from(lanes));
    for (i, q) in p.patterns.iter().enumerate() {
        lm_expr = format!("(i_mode[{}] ? {} : {lm_expr})", i + 1, k(rw, u64::from(lanes / q.n * q.m)));
    }
    m.wire_assign("i_lm", rw, lm_expr);
    // Registers of the GEMM being streamed.
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
    let zx = |s: String, from: u32, to: u32| crate::emit::util::zx(&s, from, to);
    m.wire_assign("i_m", 32, zx(fw("m"), f("m").1, 32));
    m.wire_assign("i_n", 32, zx(fw("n"), f("n").1, 32));
    // A field truncated or zero-extended to the range width.
    let fit = |name: &str| {
        let (lo, bits) = f(name);
        if rw <= bits { format!("instr[{}:{lo}]", lo + rw - 1) } else { zx(fw(name), bits, rw) }
    };
    m.wire_assign("i_astride", rw, fit("astride"));
    m.wire_assign("i_n_r", rw, format!("i_n[{}:0]", rw - 1));
    m.wire_assign("i_k", 32, zx(fw("k"), f("k").1, 32));
    m.wire_assign("i_k_r", rw, format!("i_k[{}:0]", rw - 1));
    m.wire_assign("i_at", 1, fw("at"));
    m.wire_assign("i_wt", 1, fw("wt"));
    m.wire_assign("i_a", rw, fit("a"));
    m.wire_assign("i_w", rw, fit("w"));
    m.wire_assign("i_o", rw, fit("o"));
    m.wire_assign(
        "i_tiles",
        32,
        format!(
            "({} * {})",
            crate::emit::util::cdiv("i_m", u64::from(rows), 32),
            crate::emit::util::cdiv("i_n", u64::from(cols), 32)
        ),
    );
    // Per-cycle control.
    m.wire_assign("fire", 1, "(act & (ks < g_ksteps) & (kc == 32'd0))");
    m.wire_assign("k_last_cycle", 1, "(kc + 32'd1 == g_cpk)");
    m.wire_assign("sub_end", 1, "(act & (sc + 32'd1 == g_period))");
    m.wire_assign("last_k", 1, "(ks + 32'd1 == g_ksteps)");
    m.wire_assign("tile_row_end", 1, "(tj + 32'd1 == g_tiles_n)");
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
    m.wire_assign("w_l0", rw, "(w_base + w_col)");
    for l in 1..lanes {
        m.wire_assign(&format!("w_l{l}"), rw, format!("(w_l{} + g_n)", l - 1));
    }
    m.wire_assign("w_c0", rw, "(w_base + w_col)");
    for c in 1..cols {
        m.wire_assign(&format!("w_c{c}"), rw, format!("(w_c{} + g_k)", c - 1));
    }
    let w_addr: Vec<String> = (0..lanes).rev().map(|l| format!("w_l{l}")).collect();
    let wt_addr: Vec<String> = (0..cols).rev().map(|c| format!("w_c{c}")).collect();
    m.assign("w_rd_en", "(fire & ~g_wt)");
    m.assign("w_rd_addr", format!("{{{}}}", w_addr.join(", ")));
    m.assign("w_rdt_en", "(fire & g_wt)");
    m.assign("w_rdt_addr", format!("{{{}}}", wt_addr.join(", ")));
    // A GEMM with k = 0 adds no products: its output tile is cleared
    // (acc = 0) or kept. The model gives it one cycle; no consumer reads
    // the tile before the cycle after its retirement, so it clears `z`
    // accumulators in the issue cycle and `z` more in the next.
    m.wire_assign("i_mn", 32, "(i_m * i_n)");
    m.wire_assign("clr_now", 1, format!("(start & (i_k == 32'd0) & ~instr[{}] & (i_mn != 32'd0))", f("acc").0));
    m.reg("clr2", 1, "the second cycle of a clear");
    m.reg("clr2_addr", rw, "");
    m.reg("clr2_left", 32, "");
    m.reg("clr_err", 1, "sticky: a tile too large to clear");
    m.assign("o_clr_en", "(clr_now | clr2)");
    m.assign("o_clr_addr", "(clr_now ? i_o : clr2_addr)");
    m.wire_assign("clr_left", 32, "(clr_now ? i_mn : clr2_left)");
    let cm: Vec<String> = (0..z).rev().map(|l| format!("(clr_left > 32'd{l})")).collect();
    m.assign("o_clr_mask", format!("{{{}}}", cm.join(", ")));
    m.assign("o_clr_data", k(z * acc, 0));
    m.assign("error", "clr_err");
    // Stage 1 (data arrives): control delayed one cycle.
    m.reg("s1_en", 1, "operands arrive");
    m.reg("s1_first", 1, "");
    m.reg("s1_mode", nm, "");
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
    m.wire("arr_acc", rows * cols * acc, "");
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
            ("wv".into(), id("arr_wv")),
            ("wi".into(), id("arr_wi")),
            ("acc".into(), id("arr_acc")),
        ]
        .into_iter()
        .chain(faults.then(|| ("fault_sel".to_string(), id("fault_sel"))))
        .collect(),
    }));
    // Drain on capture.
    let mut en_parts = Vec::new();
    let mut addr_parts = Vec::new();
    let mut mask_parts = Vec::new();
    m.wire_assign("o_r0", rw, "s3_o_base");
    for r in 1..rows {
        m.wire_assign(&format!("o_r{r}"), rw, format!("(o_r{} + s3_n)", r - 1));
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
    m.assign("o_wr_data", "arr_acc");
    m.assign("o_wr_acc", "s3_acc");
    // Sequencer.
    let start = vec![
        nb("act", "1'b1"),
        nb("g_mode", "i_mode"),
        nb("g_acc", format!("instr[{}]", f("acc").0)),
        nb("g_n", "i_n_r"),
        nb("g_astride", "i_astride"),
        nb("g_lm", "i_lm"),
        nb("g_wstep", format!("(i_wt ? {} : (i_n_r << {}))", k(rw, u64::from(lanes)), p.lanes_log2)),
        nb("g_at", "i_at"),
        nb("g_wt", "i_wt"),
        nb("g_k", "i_k_r"),
        nb(
            "g_ablk",
            format!(
                "(i_at ? {} : {})",
                k(rw, u64::from(rows)),
                crate::emit::util::cmul("i_astride", u64::from(rows), rw)
            ),
        ),
        nb("g_astep", "(i_at ? (i_lm * i_astride) : i_lm)"),
        nb(
            "g_wcol",
            format!("(i_wt ? {} : {})", crate::emit::util::cmul("i_k_r", u64::from(cols), rw), k(rw, u64::from(cols))),
        ),
        nb("g_ksteps", "ksteps"),
        nb("g_cpk", "cpk"),
        nb("g_period", "period"),
        nb("g_keff", "keff"),
        nb("g_tiles_n", crate::emit::util::cdiv("i_n", u64::from(cols), 32)),
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
    ];
    let rows_block_o = if rows.is_power_of_two() {
        format!("(g_n << {})", rows.trailing_zeros())
    } else {
        format!("(g_n * {})", k(rw, u64::from(rows)))
    };
    let step = vec![
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
    ];
    m.reg("g_n32", 32, "n of the GEMM being streamed");
    m.reg("g_w", rw, "weight address of the GEMM being streamed");
    let mut start_all = start;
    start_all.push(nb("g_n32", "i_n"));
    start_all.push(nb("g_w", "i_w"));
    let pipe = vec![
        nb("s1_en", "fire"),
        nb("s1_first", "(ks == 32'd0)"),
        nb("s1_mode", "g_mode"),
        nb("s1_lanes_on", "lanes_on"),
        nb("s1_last", "(fire & last_k)"),
        nb("s1_at", "g_at"),
        nb("s1_wt", "g_wt"),
        nb("s1_o_base", "(o_tile + o_col)"),
        nb("s1_n", "g_n"),
        nb("s1_rows_v", format!("((m_left < 32'd{rows}) ? m_left : 32'd{rows})")),
        nb("s1_cols_v", format!("((n_left < 32'd{cols}) ? n_left : 32'd{cols})")),
        nb("s1_acc", "g_acc"),
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
    ];
    let mut seq = vec![if_else("start", start_all, step)];
    seq.push(nb("clr2", format!("(clr_now & (i_mn > 32'd{z}))")));
    seq.push(nb("clr2_addr", format!("(i_o + {})", k(rw, u64::from(z)))));
    seq.push(nb("clr2_left", format!("(i_mn - 32'd{z})")));
    seq.push(if_(format!("clr_now & (i_mn > 32'd{})", 2 * z), vec![nb("clr_err", "1'b1")]));
    seq.extend(pipe);
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
            ],
            seq,
        )],
    ));
    m.lint_off.push(("UNUSED".into(), "reads a few fields of the instruction and of wide counters".into()));
    m
}

/// Groups the sparsifier's datapath handles per cycle: enough that it never
/// falls behind the model's `ceil(groups/lanes)·M` cycles for the smallest M.
pub fn sparsifier_groups(p: &Params) -> u32 {
    let m_min = p.patterns.iter().map(|q| q.m).min().unwrap_or(1);
    p.sp_lanes.div_ceil(m_min).max(1)
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
    let g = sparsifier_groups(p);
    let mx = p.patterns.iter().map(|q| q.m).max().unwrap_or(1);
    let nx = p.patterns.iter().map(|q| q.n).max().unwrap_or(1);
    let rw = p.range_bits;
    let ww = 16 + INDEX_BITS;
    let mut m = Module::new("sat_sparsifier");
    m.doc.push(format!("Sparsifier: {g} groups per cycle, top-N of up to {mx} by magnitude, ties to the lower index."));
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
    m.input("o_rd_data", g * mx * p.acc_bits, "");
    m.output("w_wr_en", g * nx, "lane p, output j at (p*N + j)");
    m.output("w_wr_addr", g * nx * rw, "");
    m.output("w_wr_mask", g * nx, "");
    m.output("w_wr_data", g * nx * ww, "{index, value}");
    let f = |name: &str| crate::emit::util::field("sparsify", name);
    let fbits = |name: &str| {
        let (lo, bits) = f(name);
        format!("instr[{}:{lo}]", lo + bits - 1)
    };
    let fit = |name: &str| {
        let (lo, bits) = f(name);
        if rw <= bits { format!("instr[{}:{lo}]", lo + rw - 1) } else { crate::emit::util::zx(&fbits(name), bits, rw) }
    };
    m.push(crate::emit::util::fn_saturate("sat48_32", p.acc_bits, 32));
    m.push(crate::emit::util::fn_saturate("sat32_16", 32, 16));
    m.push(crate::emit::util::fn_round_shift("rshift32", 32, 8));
    // Decode at issue.
    m.wire_assign("i_n", NB, fbits("n_of"));
    m.wire_assign("i_m", MB, fbits("m_of"));
    m.wire_assign("i_axis", 1, fbits("axis"));
    m.wire_assign("i_rows", rw, fit("rows"));
    m.wire_assign("i_cols", rw, fit("cols"));
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
    // Lane positions: lane p+1 is lane p advanced by one group.
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
    let mut rd = Vec::new();
    for q in (0..g).rev() {
        for x in (0..mx).rev() {
            rd.push(format!("(ba_{q} + xo_{x})"));
        }
    }
    m.wire_assign("go", 1, "(left != 32'd0)");
    m.assign("a_rd_en", "(go & ~g_master)");
    m.assign("a_rd_addr", format!("{{{}}}", rd.join(", ")));
    m.assign("o_rd_en", "(go & g_master)");
    m.assign("o_rd_addr", format!("{{{}}}", rd.join(", ")));
    // Stage 1: data arrives.
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
    let mut en = Vec::new();
    let mut addr = Vec::new();
    let mut mask = Vec::new();
    let mut data = Vec::new();
    for q in 0..g {
        // Keys (the int16 weight, or the master weight saturated to 32
        // bits), their magnitudes (33 bits: |-2^31| = 2^31), the values
        // written (the int16 weight, or weight_from_master) and the in-group test.
        for x in 0..mx {
            let lo = (q * mx + x) * 16;
            let olo = (q * mx + x) * p.acc_bits;
            m.wire_assign(&format!("a{q}_{x}"), 16, format!("a_rd_data[{}:{lo}]", lo + 15));
            m.wire_assign(&format!("o{q}_{x}"), 32, format!("sat48_32(o_rd_data[{}:{olo}])", olo + p.acc_bits - 1));
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
        // Rank: elements of the group that beat x; kept when fewer than N do.
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
        for j in 0..nx {
            // Output j: the kept element whose position is j.
            let mut val = format!("{}'d0", ww);
            for x in (0..mx).rev() {
                val = format!(
                    "((kept{q}_{x} & (pos{q}_{x} == {})) ? {{{}, v{q}_{x}}} : {val})",
                    k(NB, u64::from(j)),
                    k(INDEX_BITS, u64::from(x))
                );
            }
            m.wire_assign(&format!("out{q}_{j}"), ww, val);
        }
    }
    // The pruned mask: every element of a group, at its source position shifted to dst.
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
    for q in (0..g).rev() {
        for j in (0..nx).rev() {
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
        nb("base0", fit("src")),
        nb("obase0", fit("dst")),
        nb("g_line", "i_line"),
        nb("g_inc_nw", "i_inc_nw"),
        nb("g_inc_w", "i_inc_w"),
        nb("g_oinc_nw", "i_oinc_nw"),
        nb("g_oinc_w", "i_oinc_w"),
        nb("g_xstep", "i_xstep"),
        nb("g_jstep", "i_jstep"),
        nb("g_m", "i_m"),
        nb("g_n", "i_n"),
        nb("g_master", fbits("master")),
        nb("g_mask", fbits("mask_out")),
        nb("g_moff", format!("({} - {})", fit("dst"), fit("src"))),
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
    m.lint_off
        .push(("UNUSED".into(), "reads a few fields of the instruction; the last lane step is not needed".into()));
    m
}
