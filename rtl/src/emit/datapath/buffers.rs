//! The buffers: one storage array per buffer, with its own ports for every unit that uses it.

use nmsat_dataflow::isa::Buf;

use crate::emit::util::{k, raw};
use crate::params::{Params, clog2};
use crate::vast::{Always, Item, Module, Stmt, bl, id, if_, nb};

use super::{INDEX_BITS, MAX_LOOP_LANES, sparsifier_groups};

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

/// A port of every kind but the index side-band's: whole elements.
fn port(name: &str, kind: PortKind, groups: u32, lanes: u32, doc: &str) -> BufPort {
    BufPort { name: name.into(), kind, groups, lanes, field: None, lane_major: false, doc: doc.into() }
}

/// A port of the weight buffer's index side-band only, one group per DMA unit.
fn index_port(p: &Params, name: &str, kind: PortKind, lanes: u32, doc: &str) -> BufPort {
    BufPort {
        name: name.into(),
        kind,
        groups: p.dma.units,
        lanes,
        field: Some((16, INDEX_BITS)),
        lane_major: false,
        doc: doc.into(),
    }
}

/// The sparsifier's elements per cycle: its groups times the largest M.
fn sparsifier_elements(p: &Params) -> u32 {
    sparsifier_groups(p) * p.patterns.iter().map(|q| q.m).max().unwrap_or(1)
}

/// The three buffers and the ports each unit uses.
pub fn buffers(p: &Params) -> Vec<BufSpec> {
    vec![buffer_a(p), buffer_w(p), buffer_o(p)]
}

/// The activation buffer A: the GEMM's operand reads (plain and
/// transposed), the vector unit's, the sparsifier's and the DMA engine's.
fn buffer_a(p: &Params) -> BufSpec {
    let d = &p.dma;
    let u = d.units;
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
            port("sp_rd", PortKind::Read, sparsifier_elements(p), 1, "sparsifier: the groups' elements"),
            port("sp_wr", PortKind::Write, sparsifier_elements(p), 1, "sparsifier: the pruned mask (mask_out)"),
            port(
                "dma_wr",
                PortKind::Write,
                p.a_dma_units(),
                d.e16,
                "DMA load: a unit per group (and the line buffer's expansion)",
            ),
            port("dma_rd", PortKind::Read, u, d.e16, "DMA store: a unit per group"),
        ],
        doc: "Activation buffer A: 16-bit elements.".into(),
    }
}

/// The weight buffer W: the GEMM's reads, the sparsifier's compressed
/// writes and the DMA engine's (whole elements, or the indices only).
fn buffer_w(p: &Params) -> BufSpec {
    let d = &p.dma;
    let u = d.units;
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
            index_port(p, "dma_wri", PortKind::Write, d.lanes_i(), "DMA load: indices only (nm_indices)"),
            port("dma_rd", PortKind::Read, u, d.lanes_w(), "DMA store: values with their indices"),
            index_port(p, "dma_rdi", PortKind::Read, d.lanes_i(), "DMA store: indices only (nm_indices)"),
        ],
        doc: "Weight buffer W: {4-bit in-group index, 16-bit value} per element.".into(),
    }
}

/// The output buffer O: the GEMM's drain and clear, the sparsifier's
/// master-weight reads, the vector unit's and the DMA engine's.
fn buffer_o(p: &Params) -> BufSpec {
    let d = &p.dma;
    let u = d.units;
    BufSpec {
        module: "sat_buf_o".into(),
        cap: p.cap[Buf::O as usize],
        width: p.acc_bits,
        ports: vec![
            port("gemm_wr", PortKind::AccWrite, p.rows, p.cols, "GEMM drain: a sub-tile's rows"),
            port("gemm_clr", PortKind::Write, 1, clear_lanes(p), "GEMM with k = 0: clears its output tile"),
            port("sp_rd", PortKind::Read, sparsifier_elements(p), 1, "sparsifier: master weights"),
            port("vec_rd", PortKind::Read, 1, p.vec_lanes, "vector unit: source"),
            port("vec_rd2", PortKind::Read, 1, p.vec_lanes, "vector unit: sgd momentum"),
            port("vec_rd3", PortKind::Read, 1, p.vec_lanes, "vector unit: sgd master weights"),
            port("vec_wr", PortKind::Write, 1, p.vec_lanes, "vector unit: destination"),
            port("vec_wr2", PortKind::Write, 1, p.vec_lanes, "vector unit: sgd momentum (wins over vec_wr)"),
            port("dma_wr", PortKind::Write, u, d.e32, "DMA load of i32 rows"),
            port("dma_rd", PortKind::Read, u, d.e16, "DMA store (i32, or requantized to i16)"),
        ],
        doc: format!("Output buffer O: {}-bit accumulators.", p.acc_bits),
    }
}

/// A buffer's storage: its sizes and its planes. Ports that move only some
/// bits of an element (the weight buffer's index side-band) get an array
/// of their own, so every write is a whole word of one array.
struct Storage {
    /// Bits of an element address.
    rw: u32,
    /// Bits of an element index into the arrays.
    iw: u32,
    /// Bits of an element.
    w: u32,
    /// The planes, element bits `[lo, hi)` each, lowest first.
    planes: Vec<(u32, u32)>,
}

impl Storage {
    /// The storage of buffer `b` of `p`.
    fn new(p: &Params, b: &BufSpec) -> Self {
        let w = b.width;
        let mut cuts = vec![0, w];
        for port in &b.ports {
            if let Some((lo, fw)) = port.field {
                cuts.extend([lo, lo + fw]);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let planes = cuts.windows(2).map(|c| (c[0], c[1])).collect();
        Storage { rw: p.range_bits, iw: clog2(b.cap).max(1), w, planes }
    }

    /// Whether one array holds whole elements.
    fn single(&self) -> bool {
        self.planes.len() == 1
    }

    /// The array of the plane starting at element bit `lo`.
    fn plane(&self, lo: u32) -> String {
        if self.single() { "mem".to_string() } else { format!("mem_b{lo}") }
    }

    /// Declares the arrays of `cap` elements.
    fn declare(&self, m: &mut Module, cap: u64) {
        for &(lo, hi) in &self.planes {
            let doc =
                if self.single() { "storage".to_string() } else { format!("storage, element bits {}:{lo}", hi - 1) };
            m.push(Item::Reg { name: self.plane(lo), width: hi - lo, depth: cap, doc });
        }
    }

    /// Bits [lo, hi) of the element at index `x`.
    fn read(&self, x: &str, lo: u32, hi: u32) -> String {
        let parts: Vec<String> = self
            .planes
            .iter()
            .rev()
            .filter(|&&(a, b)| a >= lo && b <= hi)
            .map(|&(a, _)| format!("{}[{x}]", self.plane(a)))
            .collect();
        if parts.len() == 1 { parts[0].clone() } else { format!("{{{}}}", parts.join(", ")) }
    }

    /// Writes of bits [lo, hi) of the element at index `x` from `d` (hi - lo bits).
    /// `d(off, n)` is bits [off, off + n) of the data (bit 0 is element bit `lo`).
    fn write(&self, x: &str, lo: u32, hi: u32, d: &dyn Fn(u32, u32) -> String) -> Vec<Stmt> {
        self.planes
            .iter()
            .filter(|&&(a, b)| a >= lo && b <= hi)
            .map(|&(a, b)| nb(format!("{}[{x}]", self.plane(a)), d(a - lo, b - a)))
            .collect()
    }
}

/// Generates a buffer module.
pub fn buffer(p: &Params, b: &BufSpec) -> Module {
    let st = Storage::new(p, b);
    let (rw, iw, w) = (st.rw, st.iw, st.w);
    let mut m = Module::new(&b.module);
    m.doc.push(b.doc.clone());
    m.doc.push(format!("{} elements of {w} bits; one port per unit (see the emitter's datapath docs).", b.cap));
    m.input("clk", 1, "");
    m.input("host_we", 1, "test access: write element `host_addr`");
    m.input("host_addr", rw, "");
    m.input("host_wdata", w, "");
    m.output("host_rdata", w, "test access: element `host_addr` (combinational)");
    for port in &b.ports {
        unit_port(&mut m, port, w, rw);
    }
    st.declare(&mut m, b.cap);
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
        format!("(ok(host_addr) ? {} : {})", st.read(&format!("host_addr[{}:0]", iw - 1), 0, w), k(w, 0)),
    );
    for port in b.ports.iter().filter(|p| p.kind == PortKind::Read) {
        read_port(&mut m, port, &st);
    }
    // Writes, in port order (a later port wins on the same element). Each
    // port's lanes first compute enable, index and value (a generate
    // block), so the clocked loop that writes the array stays small.
    let host = |off: u32, n: u32| {
        if n == w { "host_wdata".to_string() } else { format!("host_wdata[{}:{off}]", off + n - 1) }
    };
    let mut writes = vec![if_("host_we & ok(host_addr)", st.write(&format!("host_addr[{}:0]", iw - 1), 0, w, &host))];
    for port in b.ports.iter().filter(|p| p.kind != PortKind::Read) {
        write_lanes(&mut m, port, &st);
        // An idle port skips its lanes (the simulation's cost).
        writes.push(if_(format!("|{}_en", port.name), port_writes(port, &st)));
    }
    m.push(Item::Always(Always::Posedge("clk".into()), writes));
    m.lint_off.push(("UNUSED".into(), "address bits above the buffer size are only range-checked".into()));
    m.lint_off.push(("BLKSEQ".into(), "`ea` is a loop temporary".into()));
    m
}

/// The signals of one unit's port on a buffer of `w`-bit elements.
fn unit_port(m: &mut Module, port: &BufPort, w: u32, rw: u32) {
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

/// A read port: its own clocked loop over groups and lanes, each lane the
/// element at its group's start plus its lane (zero outside the buffer).
fn read_port(m: &mut Module, port: &BufPort, st: &Storage) {
    let (rw, iw) = (st.rw, st.iw);
    let n = &port.name;
    let fw = port.lane_bits(st.w);
    let (flo, fhi) = port.field.map_or((0, st.w), |(lo, fw)| (lo, lo + fw));
    m.push(Item::Integer(format!("{n}_g")));
    m.push(Item::Integer(format!("{n}_l")));
    m.push(Item::Reg { name: format!("{n}_ea"), width: rw, depth: 0, doc: "element address (loop temporary)".into() });
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
                                st.read(&format!("{n}_ea[{}:0]", iw - 1), flo, fhi),
                                k(fw, 0)
                            ),
                        ),
                    ],
                )],
            )],
        )],
    ));
}

/// A write port's lanes (a generate block): each lane's write enable,
/// element index and value (for an accumulating port, the old contents or
/// zero plus the data).
fn write_lanes(m: &mut Module, port: &BufPort, st: &Storage) {
    let (rw, iw, w) = (st.rw, st.iw, st.w);
    let n = &port.name;
    let slots = port.groups * port.lanes;
    let fw = port.lane_bits(w);
    m.wire(&format!("{n}_we"), slots, "per lane: write enable");
    m.wire(&format!("{n}_wa"), slots * iw, "per lane: element index");
    m.wire(&format!("{n}_wd"), slots * fw, "per lane: value written");
    let gv = format!("i_{n}");
    let value = if port.kind == PortKind::AccWrite {
        format!(
            "(({n}_acc ? {} : {}) + {n}_data[{gv}*{w} +: {w}])",
            st.read(&format!("wea[{}:0]", iw - 1), 0, w),
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
}

/// A write port's statements in the clocked write block: a loop over its
/// lanes, or, past Verilator's unroll limit, one statement per lane.
fn port_writes(port: &BufPort, st: &Storage) -> Vec<Stmt> {
    let iw = st.iw;
    let n = &port.name;
    let slots = port.groups * port.lanes;
    let fw = port.lane_bits(st.w);
    let (flo, fhi) = port.field.map_or((0, st.w), |(lo, fw)| (lo, lo + fw));
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
                    st.write(&format!("{n}_wa[(g*{ln}+l)*{iw} +: {iw}]"), flo, fhi, &|off, b| {
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
                st.write(&format!("{n}_wa[{}:{}]", (i + 1) * iw - 1, i * iw), flo, fhi, &|off, b| {
                    format!("{n}_wd[{}:{}]", i * fw + off + b - 1, i * fw + off)
                }),
            ));
        }
    }
    port_writes
}
