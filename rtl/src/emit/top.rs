//! `sat_top`: the controller and the units, with a host port to load the
//! instruction queues and a trace port the testbench samples every cycle.

use nmsat_dataflow::isa::{Buf, Queue};

use crate::emit::controller::queue_prefix;
use crate::emit::datapath::{BufSpec, INDEX_BITS};
use crate::emit::decode::{UNIT_ARRAY, UNIT_BITS, UNIT_SPARSIFIER, UNIT_VECTOR, unit_k};
use crate::emit::util::{BUF_BITS, buf_k, raw};
use crate::params::{COUNT_BITS, DRAM_ADDR_BITS, INSTR_BITS, Params, TIME_BITS};
use crate::vast::{Expr, Instance, Item, Module, id};

/// Bits of the host's buffer test-access data (the widest element).
pub fn host_buf_bits(p: &Params) -> u32 {
    p.acc_bits.max(16 + INDEX_BITS)
}

/// The top module.
pub fn top(p: &Params, bufs: &[BufSpec], faults: bool) -> Module {
    let mut m = Module::new("sat_top");
    m.doc.extend(
        [
            "SAT top: controller and units. The host writes each queue's instructions",
            "(program order within the queue) and their count, then pulses `start`; the run ends",
            "with `done`. The trace port shows, for the current cycle `cycle`, which queues issue",
            "and how many instructions of each queue retire, which is enough for a testbench that",
            "knows the program to recover every instruction's issue and retirement cycle.",
        ]
        .map(String::from),
    );
    host_ports(&mut m, p, faults);
    dram_ports(&mut m, p);
    trace_ports(&mut m);
    controller(&mut m, faults);
    datapath(p, bufs, faults, &mut m);
    m
}

/// The host's ports: the queues' loading and the run's start (and the
/// fault switch of a fault build), the buffers' test access, and the
/// run's status.
fn host_ports(m: &mut Module, p: &Params, faults: bool) {
    let ab = p.imem_bits;
    m.input("clk", 1, "");
    m.input("rst", 1, "synchronous, active high");
    let nq = Queue::ALL.len() as u32;
    let queues = Queue::ALL.map(|q| format!("{} {}", q.code(), q.name())).join(", ");
    m.input("host_we", nq, &format!("write instruction `host_addr` of queue {queues}"));
    m.input("host_addr", ab, "");
    m.input("host_data", INSTR_BITS, &format!("{INSTR_BITS}-bit instruction, bit 0 = bit 0 of its first byte"));
    m.input("host_len_we", nq, "set the instruction count of a queue");
    m.input("host_len", ab + 1, "");
    m.input("start", 1, "start the run (after reset and loading)");
    if faults {
        m.input(
            "fault_sel",
            crate::emit::FAULT_SEL_BITS,
            "fault-injection build: the fault switched on (Fault::code, 0 none)",
        );
    }
    m.input("host_buf_we", 1, "test access: write a buffer element");
    let bufs_doc = Buf::ALL
        .map(|b| {
            format!("{} {}{}", b.code(), b.name().to_uppercase(), if b == Buf::W { " ({index, value})" } else { "" })
        })
        .join(", ");
    m.input("host_buf_sel", BUF_BITS, &format!("buffer: {bufs_doc}"));
    m.input("host_buf_addr", p.range_bits, "element address");
    m.input("host_buf_wdata", host_buf_bits(p), "");
    m.output("host_buf_rdata", host_buf_bits(p), "element `host_buf_addr` of buffer `host_buf_sel`");
    m.output("running", 1, "cycle `cycle` is being executed");
    m.output("done", 1, "the program has finished; `cycle` is the total");
    m.output("error", 1, "an internal bound was exceeded");
}

/// The memory interface: each DMA unit's DRAM read and write window.
fn dram_ports(m: &mut Module, p: &Params) {
    let d = p.dma;
    let (u, wb) = (d.units, d.window * 8);
    m.output("dram_rd_en", u, "memory interface: unit g of the DMA engine reads DRAM");
    m.output("dram_rd_addr", u * DRAM_ADDR_BITS, "unit g: byte address of its window");
    m.input("dram_rd_data", u * wb, "unit g: its window, byte i at bits 8i+7:8i, in the same cycle");
    m.output("dram_wr_en", u, "unit g writes DRAM (applied before the cycle's reads)");
    m.output("dram_wr_addr", u * DRAM_ADDR_BITS, "");
    m.output("dram_wr_data", u * wb, "");
    m.output("dram_wr_mask", u * wb, "bits of the window written");
}

/// The trace port: the cycle, the queues issuing in it and the
/// instructions retiring in it.
fn trace_ports(m: &mut Module) {
    m.output("cycle", TIME_BITS, "current cycle");
    let nq = Queue::ALL.len() as u32;
    let names = Queue::ALL.map(Queue::name).join(", ");
    m.output("tr_issue", nq, &format!("queues ({names}) whose head issues this cycle"));
    m.output("tr_retire_ld", 1, "a load retires this cycle");
    m.output("tr_retire_st", 1, "a store retires this cycle");
    m.output("tr_retire_c", COUNT_BITS, "compute instructions retiring this cycle");
}

/// The controller, its issues and grants to the units, and the error and
/// issue outputs it drives.
fn controller(m: &mut Module, faults: bool) {
    for n in ["ld_issue", "c_issue", "st_issue"] {
        m.wire(n, 1, "");
    }
    m.push(Item::LintOff(
        "UNUSED".into(),
        vec![
            Item::Comment(vec!["issued instructions and grants, for the units".into()]),
            Item::Wire { name: "ld_instr".into(), width: INSTR_BITS, doc: String::new() },
            Item::Wire { name: "c_instr".into(), width: INSTR_BITS, doc: String::new() },
            Item::Wire { name: "c_unit".into(), width: UNIT_BITS, doc: String::new() },
            Item::Wire { name: "c_gemm_ksteps".into(), width: 32, doc: String::new() },
            Item::Wire { name: "c_gemm_cpk".into(), width: 32, doc: String::new() },
            Item::Wire { name: "c_gemm_period".into(), width: 32, doc: String::new() },
            Item::Wire { name: "c_gemm_keff".into(), width: 32, doc: String::new() },
            Item::Wire { name: "c_gemm_cpw".into(), width: 32, doc: String::new() },
            Item::Wire { name: "st_instr".into(), width: INSTR_BITS, doc: String::new() },
            Item::Wire { name: "ld_grant".into(), width: TIME_BITS, doc: String::new() },
            Item::Wire { name: "st_grant".into(), width: TIME_BITS, doc: String::new() },
        ],
    ));
    let conns = controller_conns(faults);
    m.wire("ctrl_error", 1, "");
    m.wire("dma_error", 1, "");
    m.wire("gemm_error", 1, "");
    m.push(Item::Instance(Instance { module: "sat_controller".into(), name: "ctrl".into(), params: vec![], conns }));
    m.assign("error", "(ctrl_error | dma_error | gemm_error)");
    let issue: Vec<String> = Queue::ALL.iter().rev().map(|&q| format!("{}_issue", queue_prefix(q))).collect();
    m.assign("tr_issue", raw(format!("{{{}}}", issue.join(", "))));
}

/// The controller's connections: most ports to the signal of their name;
/// its error and retirements to the top's (and its fault switch).
fn controller_conns(faults: bool) -> Vec<(String, Expr)> {
    [
        "clk",
        "rst",
        "host_we",
        "host_addr",
        "host_data",
        "host_len_we",
        "host_len",
        "start",
        "running",
        "done",
        "cycle",
        "ld_issue",
        "ld_instr",
        "ld_grant",
        "c_issue",
        "c_instr",
        "c_unit",
        "c_gemm_ksteps",
        "c_gemm_cpk",
        "c_gemm_period",
        "c_gemm_keff",
        "c_gemm_cpw",
        "st_issue",
        "st_instr",
        "st_grant",
    ]
    .iter()
    .map(|s| (s.to_string(), id(*s)))
    .chain([
        ("error".to_string(), id("ctrl_error")),
        ("ld_retire".to_string(), id("tr_retire_ld")),
        ("st_retire".to_string(), id("tr_retire_st")),
        ("c_retire_n".to_string(), id("tr_retire_c")),
    ])
    .chain(faults.then(|| ("fault_sel".to_string(), id("fault_sel"))))
    .collect()
}

/// Connects a port of `module` to `sig` for each `(port, signal)`.
fn inst(module: &str, name: &str, conns: &[(&str, String)]) -> Item {
    Item::Instance(Instance {
        module: module.into(),
        name: name.into(),
        params: vec![],
        conns: conns.iter().map(|(p, s)| (p.to_string(), Expr::Raw(s.clone()))).collect(),
    })
}

/// The buffers and units, wired to the controller.
fn datapath(p: &Params, bufs: &[BufSpec], faults: bool, m: &mut Module) {
    m.comment("---- datapath: buffers and units ----");
    for (b, buf) in bufs.iter().zip(Buf::ALL) {
        buffer_instance(m, p.range_bits, b, buf);
    }
    host_read_mux(m, p, bufs);
    gemm_instance(m, faults);
    vector_instance(m);
    dma_instance(m, p, faults);
    sparsifier_instance(m);
}

/// Buffer `buf` with its host test access, and a wire for every signal of
/// its ports, named `<buffer>_<port>_<signal>`, for the units to connect.
fn buffer_instance(m: &mut Module, rw: u32, b: &BufSpec, buf: Buf) {
    let short = b.module.trim_start_matches("sat_buf_");
    assert_eq!(short, buf.name(), "buffers are listed in code order");
    let mut conns: Vec<(&str, String)> = vec![
        ("clk", "clk".into()),
        ("host_we", format!("(host_buf_we & (host_buf_sel == {}))", buf_k(buf))),
        ("host_addr", "host_buf_addr".into()),
        ("host_wdata", format!("host_buf_wdata[{}:0]", b.width - 1)),
        ("host_rdata", format!("{short}_host_rdata")),
    ];
    m.wire(&format!("{short}_host_rdata"), b.width, "");

    let mut owned: Vec<(String, String)> = Vec::new();
    for port in &b.ports {
        let (g, l, w) = (port.groups, port.lanes, port.lane_bits(b.width));
        let sigs: Vec<(&str, u32)> = match port.kind {
            crate::emit::datapath::PortKind::Read => vec![("en", 1), ("addr", g * rw), ("data", g * l * w)],
            crate::emit::datapath::PortKind::Write => {
                vec![("en", g), ("addr", g * rw), ("mask", g * l), ("data", g * l * w)]
            }
            crate::emit::datapath::PortKind::AccWrite => {
                vec![("en", g), ("addr", g * rw), ("mask", g * l), ("data", g * l * w), ("acc", 1)]
            }
        };
        for (sig, width) in sigs {
            let wire = format!("{short}_{}_{sig}", port.name);
            m.wire(&wire, width, "");
            owned.push((format!("{}_{sig}", port.name), wire));
        }
    }
    let owned_refs: Vec<(&str, String)> = owned.iter().map(|(a, b)| (a.as_str(), b.clone())).collect();
    conns.extend(owned_refs);
    m.push(inst(&b.module, &format!("buf_{short}"), &conns));
}

/// The host's read of a buffer element, zero-extended to the widest.
fn host_read_mux(m: &mut Module, p: &Params, bufs: &[BufSpec]) {
    let hb = host_buf_bits(p);
    let pad = |w: u32| if w < hb { format!("{}'d0, ", hb - w) } else { String::new() };
    m.assign(
        "host_buf_rdata",
        format!(
            "((host_buf_sel == {}) ? {{{}a_host_rdata}} : (host_buf_sel == {}) ? {{{}w_host_rdata}} : {{{}o_host_rdata}})",
            buf_k(Buf::A),
            pad(bufs[Buf::A as usize].width),
            buf_k(Buf::W),
            pad(bufs[Buf::W as usize].width),
            pad(bufs[Buf::O as usize].width)
        ),
    );
}

/// The GEMM engine, started by a compute issue to the array, on its
/// operand reads, the clear of O and the drain's writes.
fn gemm_instance(m: &mut Module, faults: bool) {
    let fault_sel: Vec<(&str, String)> = if faults { vec![("fault_sel", "fault_sel".into())] } else { vec![] };
    m.push(inst(
        "sat_gemm",
        "gemm",
        &[
            ("clk", "clk".into()),
            ("rst", "rst".into()),
            ("start", format!("(c_issue & (c_unit == {}))", unit_k(UNIT_ARRAY))),
            ("instr", "c_instr".into()),
            ("ksteps", "c_gemm_ksteps".into()),
            ("cpk", "c_gemm_cpk".into()),
            ("period", "c_gemm_period".into()),
            ("keff", "c_gemm_keff".into()),
            ("cpw", "c_gemm_cpw".into()),
            ("a_rd_en", "a_gemm_rd_en".into()),
            ("a_rd_addr", "a_gemm_rd_addr".into()),
            ("a_rd_data", "a_gemm_rd_data".into()),
            ("w_rd_en", "w_gemm_rd_en".into()),
            ("w_rd_addr", "w_gemm_rd_addr".into()),
            ("w_rd_data", "w_gemm_rd_data".into()),
            ("a_rdt_en", "a_gemm_rdt_en".into()),
            ("a_rdt_addr", "a_gemm_rdt_addr".into()),
            ("a_rdt_data", "a_gemm_rdt_data".into()),
            ("w_rdt_en", "w_gemm_rdt_en".into()),
            ("w_rdt_addr", "w_gemm_rdt_addr".into()),
            ("w_rdt_data", "w_gemm_rdt_data".into()),
            ("o_clr_en", "o_gemm_clr_en".into()),
            ("o_clr_addr", "o_gemm_clr_addr".into()),
            ("o_clr_mask", "o_gemm_clr_mask".into()),
            ("o_clr_data", "o_gemm_clr_data".into()),
            ("error", "gemm_error".into()),
            ("o_wr_en", "o_gemm_wr_en".into()),
            ("o_wr_addr", "o_gemm_wr_addr".into()),
            ("o_wr_mask", "o_gemm_wr_mask".into()),
            ("o_wr_data", "o_gemm_wr_data".into()),
            ("o_wr_acc", "o_gemm_wr_acc".into()),
        ]
        .into_iter()
        .chain(fault_sel)
        .collect::<Vec<_>>(),
    ));
}

/// The vector unit, started by a compute issue to it, on its A and O ports.
fn vector_instance(m: &mut Module) {
    m.push(inst(
        "sat_vector",
        "vector",
        &[
            ("clk", "clk".into()),
            ("rst", "rst".into()),
            ("start", format!("(c_issue & (c_unit == {}))", unit_k(UNIT_VECTOR))),
            ("instr", "c_instr".into()),
            ("a_rd1_en", "a_vec_rd1_en".into()),
            ("a_rd1_addr", "a_vec_rd1_addr".into()),
            ("a_rd1_data", "a_vec_rd1_data".into()),
            ("a_rd2_en", "a_vec_rd2_en".into()),
            ("a_rd2_addr", "a_vec_rd2_addr".into()),
            ("a_rd2_data", "a_vec_rd2_data".into()),
            ("o_rd_en", "o_vec_rd_en".into()),
            ("o_rd_addr", "o_vec_rd_addr".into()),
            ("o_rd_data", "o_vec_rd_data".into()),
            ("o_rd2_en", "o_vec_rd2_en".into()),
            ("o_rd2_addr", "o_vec_rd2_addr".into()),
            ("o_rd2_data", "o_vec_rd2_data".into()),
            ("o_rd3_en", "o_vec_rd3_en".into()),
            ("o_rd3_addr", "o_vec_rd3_addr".into()),
            ("o_rd3_data", "o_vec_rd3_data".into()),
            ("a_wr_en", "a_vec_wr_en".into()),
            ("a_wr_addr", "a_vec_wr_addr".into()),
            ("a_wr_mask", "a_vec_wr_mask".into()),
            ("a_wr_data", "a_vec_wr_data".into()),
            ("o_wr_en", "o_vec_wr_en".into()),
            ("o_wr_addr", "o_vec_wr_addr".into()),
            ("o_wr_mask", "o_vec_wr_mask".into()),
            ("o_wr_data", "o_vec_wr_data".into()),
            ("o_wr2_en", "o_vec_wr2_en".into()),
            ("o_wr2_addr", "o_vec_wr2_addr".into()),
            ("o_wr2_mask", "o_vec_wr2_mask".into()),
            ("o_wr2_data", "o_vec_wr2_data".into()),
        ],
    ));
}

/// The DMA data engine, on the controller's load and store issues and
/// grants, the DRAM interface, the line buffer (if any) and its buffer ports.
fn dma_instance(m: &mut Module, p: &Params, faults: bool) {
    let mut dma: Vec<(String, String)> = [
        ("clk", "clk"),
        ("rst", "rst"),
        ("t", "cycle"),
        ("ld_issue", "ld_issue"),
        ("ld_instr", "ld_instr"),
        ("ld_grant", "ld_grant"),
        ("st_issue", "st_issue"),
        ("st_instr", "st_instr"),
        ("st_grant", "st_grant"),
        ("error", "dma_error"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    if faults {
        dma.push(("fault_sel".into(), "fault_sel".into()));
    }
    for s in ["rd_en", "rd_addr", "rd_data", "wr_en", "wr_addr", "wr_data", "wr_mask"] {
        dma.push((format!("dram_{s}"), format!("dram_{s}")));
    }
    if p.line_buffer > 0 {
        line_buffer_instance(m, p, &mut dma);
    }
    let ports = [
        ("a_wr", "a_dma_wr", true),
        ("o_wr", "o_dma_wr", true),
        ("w_wr", "w_dma_wr", true),
        ("wi_wr", "w_dma_wri", true),
        ("a_rd", "a_dma_rd", false),
        ("o_rd", "o_dma_rd", false),
        ("w_rd", "w_dma_rd", false),
        ("wi_rd", "w_dma_rdi", false),
    ];
    for (unit, buf_port, write) in ports {
        let sigs: &[&str] = if write { &["en", "addr", "mask", "data"] } else { &["en", "addr", "data"] };
        for s in sigs {
            dma.push((format!("{unit}_{s}"), format!("{buf_port}_{s}")));
        }
    }
    m.push(Item::Instance(Instance {
        module: "sat_dma".into(),
        name: "dma".into(),
        params: vec![],
        conns: dma.into_iter().map(|(p, s)| (p, Expr::Raw(s))).collect(),
    }));
}

/// The im2col line buffer (ADR 003), between the DMA engine's fetch and
/// expansion: its wires, its instance, and their connections on `dma`.
fn line_buffer_instance(m: &mut Module, p: &Params, dma: &mut Vec<(String, String)>) {
    let (rw, e, u, nx) = (p.range_bits, p.dma.e16, p.dma.units, p.a_dma_units());
    let sigs = [
        ("wr_en", u),
        ("wr_addr", u * rw),
        ("wr_mask", u * e),
        ("wr_data", u * e * 16),
        ("rd_addr", nx * rw),
        ("rd_data", nx * e * 16),
    ];
    let mut conns: Vec<(&str, String)> = vec![("clk", "clk".into())];
    for (sig, width) in sigs {
        m.wire(&format!("lb_{sig}"), width, "");
        dma.push((format!("lb_{sig}"), format!("lb_{sig}")));
        conns.push((sig, format!("lb_{sig}")));
    }
    m.push(inst("sat_buf_lb", "buf_lb", &conns));
}

/// The sparsifier, started by a compute issue to it, on its A, O and W ports.
fn sparsifier_instance(m: &mut Module) {
    m.push(inst(
        "sat_sparsifier",
        "sparsifier",
        &[
            ("clk", "clk".into()),
            ("rst", "rst".into()),
            ("start", format!("(c_issue & (c_unit == {}))", unit_k(UNIT_SPARSIFIER))),
            ("instr", "c_instr".into()),
            ("a_rd_en", "a_sp_rd_en".into()),
            ("a_rd_addr", "a_sp_rd_addr".into()),
            ("a_rd_data", "a_sp_rd_data".into()),
            ("a_wr_en", "a_sp_wr_en".into()),
            ("a_wr_addr", "a_sp_wr_addr".into()),
            ("a_wr_mask", "a_sp_wr_mask".into()),
            ("a_wr_data", "a_sp_wr_data".into()),
            ("o_rd_en", "o_sp_rd_en".into()),
            ("o_rd_addr", "o_sp_rd_addr".into()),
            ("o_rd_data", "o_sp_rd_data".into()),
            ("w_wr_en", "w_sp_wr_en".into()),
            ("w_wr_addr", "w_sp_wr_addr".into()),
            ("w_wr_mask", "w_sp_wr_mask".into()),
            ("w_wr_data", "w_sp_wr_data".into()),
        ],
    ));
}
