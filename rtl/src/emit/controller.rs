//! The controller: three instruction queues, four token FIFOs, the DMA
//! channel grant, the compute queue's unit/scoreboard/mode-switch rules and
//! in-order retirement, exactly as `sim::engine` executes them.
//!
//! Time is a free-running cycle counter `t` (cycle 0 is the first cycle a
//! queue may issue). Every cycle, first the instructions whose retirement
//! cycle is `t` push their tokens, then the load, compute and store heads
//! issue in that order when their unit, tokens and (for compute) the
//! scoreboard allow. Deadlines are absolute timestamps, so each rule reads
//! like the engine's `blocked`/`start`.
//!
//! - Loads and stores retire `latency` cycles after their last channel beat:
//!   the beat end is a registered deadline and the latency a delay line.
//! - Compute instructions retire at `max(done, previous retirement)`; the
//!   retirement queue keeps one entry per distinct retirement cycle (with
//!   how many instructions and tokens retire then), so its depth is bounded
//!   by the number of instructions that can execute at once.
//! - The scoreboard keeps the buffer ranges of every GEMM still in its tail
//!   (a ring), of the vector op and of the sparsify in flight.

use nmsat_dataflow::isa::{self, DEPS_BITS, Deps, Queue};

use crate::emit::decode::{SLOTS, UNIT_ARRAY, UNIT_CONTROL, UNIT_SPARSIFIER, UNIT_VECTOR};
use crate::emit::util::{BUF_BITS, MODE_BITS, buf_k, deps_of, k, raw};
use crate::emit::{FAULT_SEL_BITS, Fault, fault_mux};
use crate::params::{COUNT_BITS, INSTR_BITS, Params, TIME_BITS};
use crate::vast::{Always, Instance, Item, Module, Stmt, bl, id, if_, if_else, nb};

const T: u32 = TIME_BITS;
const C: u32 = COUNT_BITS;
const POP_PREV: u32 = Deps::POP_PREV;
const POP_NEXT: u32 = Deps::POP_NEXT;
const PUSH_PREV: u32 = Deps::PUSH_PREV;
const PUSH_NEXT: u32 = Deps::PUSH_NEXT;

/// The signal prefix of a queue's head and ports.
pub fn queue_prefix(q: Queue) -> &'static str {
    match q {
        Queue::Load => "ld",
        Queue::Compute => "c",
        Queue::Store => "st",
    }
}

/// `sat_iqueue`: one queue's instruction memory (block RAM, synchronous
/// read) and head pointer. The word after the head is always being read,
/// so the head can advance every cycle.
pub fn iqueue(p: &Params) -> Module {
    let ab = p.imem_bits;
    let mut m = Module::new("sat_iqueue");
    m.doc.push("One instruction queue: instruction memory (inferable block RAM, synchronous read)".into());
    m.doc.push("and the head index. `next_instr` is the word after the head (instruction 0 while".into());
    m.doc.push("priming), so the controller can decode it before the head advances.".into());
    m.input("clk", 1, "");
    m.input("rst", 1, "synchronous reset");
    m.input("host_we", 1, "host writes an instruction");
    m.input("host_addr", ab, "");
    m.input("host_data", INSTR_BITS, "");
    m.input("len_we", 1, "host sets the number of instructions");
    m.input("len_in", ab + 1, "");
    m.input("prime", 1, "read instruction 0 (before the run starts)");
    m.input("pop", 1, "the head issues this cycle");
    m.output("head_valid", 1, "the queue holds an instruction");
    m.output("next_instr", INSTR_BITS, "the instruction after the head");
    m.push(Item::Reg { name: "mem".into(), width: INSTR_BITS, depth: 1 << ab, doc: "instruction memory".into() });
    m.reg("rdata", INSTR_BITS, "synchronous read port");
    m.reg("idx", ab + 1, "index of the head");
    m.reg("len", ab + 1, "instructions in the queue");
    m.push(Item::LintOff(
        "UNUSED".into(),
        vec![
            Item::Wire { name: "raddr".into(), width: ab + 1, doc: "the top bit only matters past the end".into() },
            Item::Assign(
                id("raddr"),
                raw(format!("(prime ? idx : (idx + (pop ? {} : {})))", k(ab + 1, 2), k(ab + 1, 1))),
            ),
        ],
    ));
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_("host_we", vec![nb("mem[host_addr]", "host_data")]), nb("rdata", format!("mem[raddr[{}:0]]", ab - 1))],
    ));
    m.push(Item::Always(
        Always::Posedge("clk".into()),
        vec![if_else(
            "rst",
            vec![nb("idx", k(ab + 1, 0)), nb("len", k(ab + 1, 0))],
            vec![
                if_("len_we", vec![nb("len", "len_in")]),
                if_("pop", vec![nb("idx", format!("(idx + {})", k(ab + 1, 1)))]),
            ],
        )],
    ));
    m.assign("head_valid", "(idx < len)");
    m.assign("next_instr", "rdata");
    m
}

/// A range slot: buffer (constant or signal), start and end signals.
struct Slot {
    buf: Buf,
    s: String,
    e: String,
    write: bool,
}

enum Buf {
    Const(isa::Buf),
    Sig(String),
}

/// Overlap test of two slots (`access::Range::overlaps`), pruned when both
/// buffers are constants that differ.
fn overlap(a: &Slot, b: &Slot) -> Option<String> {
    let same = match (&a.buf, &b.buf) {
        (Buf::Const(x), Buf::Const(y)) => {
            if x != y {
                return None;
            }
            "1'b1".to_string()
        }
        (Buf::Const(x), Buf::Sig(s)) | (Buf::Sig(s), Buf::Const(x)) => format!("({s} == {})", buf_k(*x)),
        (Buf::Sig(s), Buf::Sig(t)) => format!("({s} == {t})"),
    };
    Some(format!("ov({same}, {}, {}, {}, {})", a.s, a.e, b.s, b.e))
}

/// `self` conflicts with `earlier` (RAW, WAR or WAW).
fn conflict(cand: &[Slot], entry: &[Slot]) -> String {
    let mut terms = Vec::new();
    for c in cand {
        for e in entry {
            if c.write || e.write {
                if let Some(t) = overlap(c, e) {
                    terms.push(t);
                }
            }
        }
    }
    if terms.is_empty() { "1'b0".into() } else { terms.join("\n      | ") }
}

fn generic_slots(prefix: &str) -> Vec<Slot> {
    SLOTS
        .iter()
        .map(|s| Slot {
            buf: Buf::Sig(format!("{prefix}{s}_b")),
            s: format!("{prefix}{s}_s"),
            e: format!("{prefix}{s}_e"),
            write: s.starts_with('w'),
        })
        .collect()
}

/// `sat_controller`.
/// `sat_controller`.
pub fn controller(p: &Params, faults: bool) -> Module {
    let mut m = Module::new("sat_controller");
    m.doc.extend(
        [
            "Controller: three in-order queues (load, compute, store), four token FIFOs",
            "(load->compute, compute->load, compute->store, store->compute), the DRAM channel",
            "grant, the compute units' occupancy, the range scoreboard, the mode-switch drain",
            "rule and in-order retirement of compute instructions; see docs/sat-microarchitecture.md.",
        ]
        .map(String::from),
    );
    ports(&mut m, p, faults);
    m.push(overlap_function(p.range_bits));
    run_state(&mut m);
    queue_heads(&mut m);
    head_decoders(&mut m, p.range_bits);
    retire_phase(&mut m, p);
    issue_load(&mut m, faults);
    compute_unit_rules(&mut m, faults);
    scoreboard(&mut m, p);
    issue_compute(&mut m, p);
    issue_store(&mut m, faults);
    outputs(&mut m);
    m.push(Item::Integer("i".into()));
    m.push(Item::Always(Always::Posedge("clk".into()), vec![if_else("rst", reset_stmts(p), step_stmts(p))]));
    m
}

/// The ports: the host's instruction and length writes, the run status,
/// and each queue's issue (with its instruction, grant or GEMM timing) and
/// retirement.
fn ports(m: &mut Module, p: &Params, faults: bool) {
    let ab = p.imem_bits;
    m.input("clk", 1, "");
    m.input("rst", 1, "synchronous reset");
    let queues = Queue::ALL.map(|q| format!("{} {}", q.code(), q.name())).join(", ");
    m.input("host_we", Queue::ALL.len() as u32, &format!("write an instruction into queue {queues}"));
    m.input("host_addr", ab, "");
    m.input("host_data", INSTR_BITS, "");
    m.input("host_len_we", Queue::ALL.len() as u32, "set a queue's instruction count");
    m.input("host_len", ab + 1, "");
    m.input("start", 1, "begin the run");
    if faults {
        m.input("fault_sel", FAULT_SEL_BITS, "fault-injection build: the fault switched on (0 none)");
    }
    m.output("running", 1, "cycle `t` is being executed");
    m.output("done", 1, "every instruction has retired");
    m.output("error", 1, "an internal bound was exceeded (retirement queue, scoreboard ring, token count)");
    m.output("cycle", T, "the current cycle `t`, or the total after the run");
    m.output("ld_issue", 1, "the load head issues this cycle");
    m.output("ld_instr", INSTR_BITS, "the load head");
    m.output("ld_grant", T, "cycle the issuing load is granted the DRAM channel");
    m.output("c_issue", 1, "the compute head issues this cycle");
    m.output("c_instr", INSTR_BITS, "the compute head");
    m.output("c_unit", 2, "its unit (0 PE array, 1 vector, 2 sparsifier, 3 control)");
    m.output("c_gemm_ksteps", 32, "a GEMM head: K-steps per sub-tile");
    m.output("c_gemm_cpk", 32, "a GEMM head: cycles per K-step");
    m.output("c_gemm_period", 32, "a GEMM head: cycles per sub-tile");
    m.output("c_gemm_keff", 32, "a GEMM head: compressed reduction rows");
    m.output("c_gemm_cpw", 32, "a GEMM head (ws): cycles per PE row of a weight fill");
    m.output("st_issue", 1, "the store head issues this cycle");
    m.output("st_instr", INSTR_BITS, "the store head");
    m.output("st_grant", T, "cycle the issuing store is granted the DRAM channel");
    m.output("ld_retire", 1, "a load retires this cycle");
    m.output("st_retire", 1, "a store retires this cycle");
    m.output("c_retire_n", C, "compute instructions retiring this cycle");
}

/// `ov`: the scoreboard's overlap test of two ranges of `rw`-bit addresses.
fn overlap_function(rw: u32) -> Item {
    Item::Function {
        name: "ov".into(),
        width: 1,
        inputs: vec![("same".into(), 1), ("s1".into(), rw), ("e1".into(), rw), ("s2".into(), rw), ("e2".into(), rw)],
        locals: vec![],
        body: vec![bl("ov", "same & (s1 < e2) & (s2 < e1) & (s1 < e1) & (s2 < e2)")],
        doc: "access::Range::overlaps on one buffer".into(),
    }
}

/// The run state (idle, prime, load the heads, run, done) and the cycle `t`.
fn run_state(m: &mut Module) {
    m.comment("run state: 0 idle, 1 prime (read instruction 0), 2 load the heads, 3 run, 4 done");
    m.reg("state", 3, "");
    m.reg("t", T, "current cycle");
    m.wire_assign("run", 1, "(state == 3'd3)");
    m.wire_assign("prime", 1, "(state == 3'd1)");
    m.wire_assign("load_first", 1, "(state == 3'd2)");
}

/// The three instruction queues (`sat_iqueue`) and their head registers,
/// reloaded from the word after the head when the head issues.
fn queue_heads(m: &mut Module) {
    m.comment("instruction queues and their decoded heads");
    for q in Queue::ALL {
        let name = queue_prefix(q);
        let q = q.code();
        m.wire(&format!("{name}_hv"), 1, "head valid");
        m.wire(&format!("{name}_next"), INSTR_BITS, "instruction after the head");
        m.push(Item::Instance(Instance {
            module: "sat_iqueue".into(),
            name: format!("q_{name}"),
            params: vec![],
            conns: vec![
                ("clk".into(), id("clk")),
                ("rst".into(), id("rst")),
                ("host_we".into(), raw(format!("host_we[{q}]"))),
                ("host_addr".into(), id("host_addr")),
                ("host_data".into(), id("host_data")),
                ("len_we".into(), raw(format!("host_len_we[{q}]"))),
                ("len_in".into(), id("host_len")),
                ("prime".into(), id("prime")),
                ("pop".into(), id(format!("{name}_issue"))),
                ("head_valid".into(), id(format!("{name}_hv"))),
                ("next_instr".into(), id(format!("{name}_next"))),
            ],
        }));
        m.reg(&format!("{name}_h"), INSTR_BITS, "head instruction");
        let deps = Item::Reg {
            name: format!("{name}_h_deps"),
            width: DEPS_BITS,
            depth: 0,
            doc: format!("{} (bits 0..{})", Deps::NAMES.join(", "), DEPS_BITS - 1),
        };
        if name == "c" {
            m.push(deps);
        } else {
            m.push(Item::LintOff(
                "UNUSED".into(),
                vec![Item::Comment(vec!["a load has no previous queue, a store no next one".into()]), deps],
            ));
        }
        m.wire_assign(&format!("{name}_load_head"), 1, format!("(load_first | {name}_issue)"));
    }
}

/// The decoders of the next instructions (`sat_dma_decode` for the load
/// and store queues, `sat_compute_decode`) and the registers of the
/// decoded heads, so the decode is off the issue path.
fn head_decoders(m: &mut Module, rw: u32) {
    for name in ["ld", "st"] {
        m.wire(&format!("{name}_next_beats"), T, "");
        m.push(Item::Instance(Instance {
            module: "sat_dma_decode".into(),
            name: format!("dec_{name}"),
            params: vec![],
            conns: vec![
                ("instr".into(), id(format!("{name}_next"))),
                ("beats".into(), id(format!("{name}_next_beats"))),
            ],
        }));
        m.reg(&format!("{name}_h_beats"), T, "channel beats of the head");
    }
    let mut dec_conns = vec![
        ("instr".into(), id("c_next")),
        ("unit".into(), id("cn_unit")),
        ("is_halt".into(), id("cn_halt")),
        ("busy_cycles".into(), id("cn_busy")),
        ("done_cycles".into(), id("cn_done")),
        ("mode".into(), id("cn_mode")),
        ("il".into(), id("cn_il")),
        ("g_ksteps_o".into(), id("cn_ksteps")),
        ("g_cpk_o".into(), id("cn_cpk")),
        ("g_period_o".into(), id("cn_period")),
        ("g_keff_o".into(), id("cn_keff")),
        ("g_cpw_o".into(), id("cn_cpw")),
    ];
    for n in ["ksteps", "cpk", "period", "keff", "cpw"] {
        m.wire(&format!("cn_{n}"), 32, "");
        m.reg(&format!("c_h_{n}"), 32, "");
    }
    m.wire("cn_unit", 2, "decoded next compute instruction");
    m.wire("cn_halt", 1, "");
    m.wire("cn_busy", T, "");
    m.wire("cn_done", T, "");
    m.wire("cn_mode", MODE_BITS, "");
    m.wire("cn_il", 1, "");
    m.reg("c_h_unit", 2, "decoded compute head");
    m.reg("c_h_halt", 1, "");
    m.reg("c_h_busy", T, "");
    m.reg("c_h_done", T, "");
    m.reg("c_h_mode", MODE_BITS, "");
    m.reg("c_h_il", 1, "");
    for s in SLOTS {
        for (f, w) in [("b", BUF_BITS), ("s", rw), ("e", rw)] {
            m.wire(&format!("cn_{s}_{f}"), w, "");
            m.reg(&format!("c_h_{s}_{f}"), w, "");
            dec_conns.push((format!("{s}_{f}"), id(format!("cn_{s}_{f}"))));
        }
    }
    m.push(Item::Instance(Instance {
        module: "sat_compute_decode".into(),
        name: "dec_c".into(),
        params: vec![],
        conns: dec_conns,
    }));
}

/// The retire phase: loads and stores retire `latency` cycles after their
/// last beat (a delay line), compute instructions from the retirement
/// queue; the tokens they push are available in the same cycle.
fn retire_phase(m: &mut Module, p: &Params) {
    let lat = p.dram_latency;
    let d = p.rob_depth;
    let db = d.trailing_zeros();
    m.comment("---- retire: instructions whose retirement cycle is t push their tokens ----");
    for (name, what) in [("ld", "load"), ("st", "store")] {
        m.reg(&format!("{name}_busy"), T, &format!("the {what} queue may issue from this cycle (channel beats end)"));
        m.reg(&format!("{name}_act"), 1, &format!("a {what} is moving beats"));
        m.reg(&format!("{name}_end"), T, "cycle its last beat ends");
        m.reg(&format!("{name}_end_push"), 1, "it pushes a token when it retires");
        m.reg(&format!("{name}_infl"), C, &format!("{what}s issued and not retired"));
        m.wire_assign(&format!("{name}_end_evt"), 1, format!("(run & {name}_act & (t == {name}_end))"));
        if lat == 0 {
            m.wire_assign(&format!("{name}_ret"), 1, format!("{name}_end_evt"));
            m.wire_assign(&format!("{name}_ret_push"), 1, format!("{name}_end_push"));
        } else {
            m.reg(&format!("{name}_dl_v"), lat, &format!("DRAM latency delay line ({lat} cycles)"));
            m.reg(&format!("{name}_dl_p"), lat, "");
            m.wire_assign(&format!("{name}_ret"), 1, format!("(run & {name}_dl_v[{}])", lat - 1));
            m.wire_assign(&format!("{name}_ret_push"), 1, format!("{name}_dl_p[{}]", lat - 1));
        }
    }
    m.push(Item::Reg { name: "rob_r".into(), width: T, depth: u64::from(d), doc: "retirement cycle".into() });
    m.push(Item::Reg { name: "rob_n".into(), width: C, depth: u64::from(d), doc: "instructions retiring then".into() });
    m.push(Item::Reg {
        name: "rob_np".into(),
        width: C,
        depth: u64::from(d),
        doc: "push_prev tokens (to load)".into(),
    });
    m.push(Item::Reg {
        name: "rob_nn".into(),
        width: C,
        depth: u64::from(d),
        doc: "push_next tokens (to store)".into(),
    });
    m.reg("rob_hd", db, "oldest entry");
    m.reg("rob_tl", db, "next free entry");
    m.reg("rob_cnt", db + 1, "entries");
    m.reg("c_last_r", T, "retirement cycle of the last compute instruction issued");
    m.wire_assign("rob_ret", 1, format!("(run & (rob_cnt != {}) & (rob_r[rob_hd] == t))", k(db + 1, 0)));
    m.wire_assign("rob_ret_n", C, format!("(rob_ret ? rob_n[rob_hd] : {})", k(C, 0)));
    m.wire_assign("rob_ret_np", C, format!("(rob_ret ? rob_np[rob_hd] : {})", k(C, 0)));
    m.wire_assign("rob_ret_nn", C, format!("(rob_ret ? rob_nn[rob_hd] : {})", k(C, 0)));
    m.comment("token FIFOs (counters): lc load->compute, cl compute->load, cs compute->store, sc store->compute");
    for f in ["lc", "cl", "cs", "sc"] {
        m.reg(&format!("tok_{f}"), C, "");
    }
    m.wire_assign("tok_lc_av", C, format!("(tok_lc + {{{}'d0, (ld_ret & ld_ret_push)}})", C - 1));
    m.wire_assign("tok_cl_av", C, "(tok_cl + rob_ret_np)");
    m.wire_assign("tok_cs_av", C, "(tok_cs + rob_ret_nn)");
    m.wire_assign("tok_sc_av", C, format!("(tok_sc + {{{}'d0, (st_ret & st_ret_push)}})", C - 1));
}

/// The DRAM channel's grant of a transfer issuing now: `max(t, free)` (the
/// `dma-grant-ignores-busy-channel` fault grants `t`).
fn grant_sel(faults: bool, free: &str) -> String {
    fault_mux(faults, Fault::DmaGrantIgnoresBusyChannel, "t", &format!("((t > {free}) ? t : {free})"))
}

/// The load queue's issue: its unit free and a token from compute; granted
/// the channel when it is free.
fn issue_load(m: &mut Module, faults: bool) {
    m.comment("---- issue, load queue: unit free, token from compute; granted the channel at max(t, free) ----");
    m.reg("chan_free", T, "the DRAM channel is free from this cycle");
    m.assign(
        "ld_issue",
        format!("(run & ld_hv & (t >= ld_busy) & (~ld_h_deps[{POP_NEXT}] | (tok_cl_av != {})))", k(C, 0)),
    );
    m.assign("ld_grant", grant_sel(faults, "chan_free"));
    m.wire_assign("ld_cend", T, "(ld_grant + ld_h_beats)");
    m.wire_assign("cf_mid", T, "(ld_issue ? ld_cend : chan_free)");
}

/// The compute head's unit rules: its unit is free, and a GEMM of another
/// mode waits for the array to drain the last GEMM.
fn compute_unit_rules(m: &mut Module, faults: bool) {
    m.comment("---- issue, compute queue: unit free, no mode switch, no hazard, tokens, halt drains ----");
    for u in ["array", "vector", "sparsifier", "control"] {
        m.reg(&format!("busy_{u}"), T, "the unit may start its next instruction from this cycle");
    }
    m.wire_assign(
        "c_unit_free",
        1,
        format!(
            "((c_h_unit == 2'd{UNIT_ARRAY}) ? (t >= busy_array) : (c_h_unit == 2'd{UNIT_VECTOR}) ? (t >= busy_vector) : (c_h_unit == 2'd{UNIT_SPARSIFIER}) ? (t >= busy_sparsifier) : (t >= busy_control))"
        ),
    );
    m.reg("last_gemm_v", 1, "a GEMM has issued");
    m.reg("last_mode", MODE_BITS, "its mode");
    m.reg("last_gemm_e", T, "its completion");
    let mode_cmp = fault_mux(faults, Fault::ModeSwitchNeverDrains, "1'b0", "(c_h_mode != last_mode)");
    m.wire_assign(
        "c_mode_blk",
        1,
        format!("((c_h_unit == 2'd{UNIT_ARRAY}) & ~c_h_il & last_gemm_v & {mode_cmp} & (t < last_gemm_e))"),
    );
}

/// The range scoreboard: a ring of the GEMMs still in their tail, the
/// vector op and the sparsify in flight, and the compute head's hazard
/// against any of them on another unit.
fn scoreboard(m: &mut Module, p: &Params) {
    let rw = p.range_bits;
    let g = p.gemm_slots;
    let gb = g.trailing_zeros();
    // scoreboard entries
    for (n, doc) in [
        ("gq_e", "completion"),
        ("gq_as", "A range"),
        ("gq_ae", ""),
        ("gq_ws", "W range"),
        ("gq_we", ""),
        ("gq_os", "O range (written; read when accumulating)"),
        ("gq_oe", ""),
    ] {
        let w = if n == "gq_e" { T } else { rw };
        m.push(Item::Reg { name: n.into(), width: w, depth: u64::from(g), doc: format!("GEMM ring: {doc}") });
    }
    m.reg("gq_wp", gb.max(1), "next ring slot");
    m.reg("ve_e", T, "vector op in flight: completion");
    for s in SLOTS {
        m.reg(&format!("ve_{s}_b"), BUF_BITS, "");
        m.reg(&format!("ve_{s}_s"), rw, "");
        m.reg(&format!("ve_{s}_e"), rw, "");
    }
    m.reg("se_e", T, "sparsify in flight: completion");
    m.reg("se_ab", BUF_BITS, "sparsify in flight: the buffer it reads (A, or O for master weights)");
    m.reg("se_wb", BUF_BITS, "sparsify in flight: the buffer it writes (W, or A for the pruned mask)");
    for n in ["se_as", "se_ae", "se_ws", "se_we"] {
        m.reg(n, rw, "");
    }
    let cand = generic_slots("c_h_");
    let ring_entry = |i: &str| {
        vec![
            Slot { buf: Buf::Const(isa::Buf::A), s: format!("gq_as[{i}]"), e: format!("gq_ae[{i}]"), write: false },
            Slot { buf: Buf::Const(isa::Buf::W), s: format!("gq_ws[{i}]"), e: format!("gq_we[{i}]"), write: false },
            Slot { buf: Buf::Const(isa::Buf::O), s: format!("gq_os[{i}]"), e: format!("gq_oe[{i}]"), write: true },
        ]
    };
    m.wire("gq_hit", g, "ring slot holds a live GEMM that conflicts with the compute head");
    m.push(Item::GenFor {
        var: "gi".into(),
        count: u64::from(g),
        label: "gq".into(),
        body: vec![Item::Assign(
            raw("gq_hit[gi]"),
            raw(format!("(gq_e[gi] > t) & (\n      {})", conflict(&cand, &ring_entry("gi")))),
        )],
    });
    let ve = generic_slots("ve_");
    m.wire_assign("ve_hit", 1, format!("(ve_e > t) & (\n      {})", conflict(&cand, &ve)));
    let se = vec![
        Slot { buf: Buf::Sig("se_ab".into()), s: "se_as".into(), e: "se_ae".into(), write: false },
        Slot { buf: Buf::Sig("se_wb".into()), s: "se_ws".into(), e: "se_we".into(), write: true },
    ];
    m.wire_assign("se_hit", 1, format!("(se_e > t) & (\n      {})", conflict(&cand, &se)));
    m.wire_assign(
        "c_hazard",
        1,
        format!(
            "(((c_h_unit != 2'd{UNIT_ARRAY}) & (|gq_hit)) | ((c_h_unit != 2'd{UNIT_VECTOR}) & ve_hit) | ((c_h_unit != 2'd{UNIT_SPARSIFIER}) & se_hit))"
        ),
    );
}

/// The compute head's issue (tokens, a halt drains every queue), its
/// completion and retirement cycles, and whether it joins the retirement
/// queue's last entry.
fn issue_compute(m: &mut Module, p: &Params) {
    let db = p.rob_depth.trailing_zeros();
    m.wire_assign(
        "c_tok_ok",
        1,
        format!(
            "((~c_h_deps[{POP_PREV}] | (tok_lc_av != {z})) & (~c_h_deps[{POP_NEXT}] | (tok_sc_av != {z})))",
            z = k(C, 0)
        ),
    );
    m.wire_assign("ld_quiet", 1, format!("((ld_infl == {{{}'d0, ld_ret}}) & ~ld_issue)", C - 1));
    m.wire_assign("st_quiet", 1, format!("(st_infl == {{{}'d0, st_ret}})", C - 1));
    m.wire_assign("rob_quiet", 1, format!("(rob_cnt == {{{}'d0, rob_ret}})", db));
    m.wire_assign("c_halt_ok", 1, "(~c_h_halt | (~ld_hv & ~st_hv & ld_quiet & st_quiet & rob_quiet))");
    m.assign("c_issue", "(run & c_hv & c_unit_free & ~c_mode_blk & ~c_hazard & c_tok_ok & c_halt_ok)");
    m.wire_assign("c_e", T, "(t + c_h_done)");
    m.wire_assign("c_b", T, "(t + c_h_busy)");
    m.wire_assign("c_r", T, "((c_e > c_last_r) ? c_e : c_last_r)");
    m.wire_assign("rob_last", db, format!("(rob_tl - {})", k(db, 1)));
    m.wire_assign("rob_merge", 1, format!("((rob_cnt != {}) & (rob_r[rob_last] == c_r))", k(db + 1, 0)));
}

/// The store queue's issue: its unit free and a token from compute;
/// granted the channel after a load that issues in the same cycle.
fn issue_store(m: &mut Module, faults: bool) {
    m.comment("---- issue, store queue: unit free, token from compute; granted after a load of the same cycle ----");
    m.assign(
        "st_issue",
        format!("(run & st_hv & (t >= st_busy) & (~st_h_deps[{POP_PREV}] | (tok_cs_av != {})))", k(C, 0)),
    );
    m.assign("st_grant", grant_sel(faults, "cf_mid"));
    m.wire_assign("st_cend", T, "(st_grant + st_h_beats)");
}

/// The end of the run, the sticky error and the outputs driven from the
/// heads and the retire phase.
fn outputs(m: &mut Module) {
    m.wire_assign("finish", 1, "(run & ~ld_hv & ~c_hv & ~st_hv & ld_quiet & st_quiet & rob_quiet)");
    m.reg("err", 1, "sticky internal error");
    m.assign("running", "run");
    m.assign("done", "(state == 3'd4)");
    m.assign("error", "err");
    m.assign("cycle", "t");
    m.assign("ld_instr", "ld_h");
    m.assign("c_instr", "c_h");
    m.assign("c_unit", "c_h_unit");
    m.assign("c_gemm_ksteps", "c_h_ksteps");
    m.assign("c_gemm_cpk", "c_h_cpk");
    m.assign("c_gemm_period", "c_h_period");
    m.assign("c_gemm_keff", "c_h_keff");
    m.assign("c_gemm_cpw", "c_h_cpw");
    m.assign("st_instr", "st_h");
    m.assign("ld_retire", "ld_ret");
    m.assign("st_retire", "st_ret");
    m.assign("c_retire_n", "rob_ret_n");
}

/// The reset values of the sequential block.
fn reset_stmts(p: &Params) -> Vec<Stmt> {
    let lat = p.dram_latency;
    let g = p.gemm_slots;
    let gb = g.trailing_zeros();
    let db = p.rob_depth.trailing_zeros();
    let mut reset = vec![
        nb("state", "3'd0"),
        nb("t", k(T, 0)),
        nb("chan_free", k(T, 0)),
        nb("c_last_r", k(T, 0)),
        nb("rob_hd", k(db, 0)),
        nb("rob_tl", k(db, 0)),
        nb("rob_cnt", k(db + 1, 0)),
        nb("last_gemm_v", "1'b0"),
        nb("last_mode", k(MODE_BITS, 0)),
        nb("last_gemm_e", k(T, 0)),
        nb("gq_wp", k(gb.max(1), 0)),
        nb("ve_e", k(T, 0)),
        nb("se_e", k(T, 0)),
        nb("err", "1'b0"),
    ];
    for f in ["lc", "cl", "cs", "sc"] {
        reset.push(nb(format!("tok_{f}"), k(C, 0)));
    }
    for u in ["array", "vector", "sparsifier", "control"] {
        reset.push(nb(format!("busy_{u}"), k(T, 0)));
    }
    for n in ["ld", "st"] {
        reset.push(nb(format!("{n}_busy"), k(T, 0)));
        reset.push(nb(format!("{n}_act"), "1'b0"));
        reset.push(nb(format!("{n}_infl"), k(C, 0)));
        if lat > 0 {
            reset.push(nb(format!("{n}_dl_v"), k(lat, 0)));
        }
    }
    reset.push(Stmt::For("i".into(), 0, u64::from(g), vec![nb("gq_e[i]", k(T, 0))]));
    reset
}

/// One cycle of the run: the state machine, the head loads, the token
/// counts, the DMA queues and the compute issue.
fn step_stmts(p: &Params) -> Vec<Stmt> {
    let mut step = vec![Stmt::Case(
        raw("state"),
        vec![
            (vec![raw("3'd0")], vec![if_("start", vec![nb("state", "3'd1")])]),
            (vec![raw("3'd1")], vec![nb("state", "3'd2")]),
            (vec![raw("3'd2")], vec![nb("state", "3'd3")]),
            (
                vec![raw("3'd3")],
                vec![if_else("finish", vec![nb("state", "3'd4")], vec![nb("t", format!("(t + {})", k(T, 1)))])],
            ),
        ],
        vec![Stmt::Comment("done: hold".into())],
    )];
    step.extend(head_loads());
    // tokens
    step.push(nb("tok_lc", format!("(tok_lc_av - {{{}'d0, (c_issue & c_h_deps[{POP_PREV}])}})", C - 1)));
    step.push(nb("tok_cl", format!("(tok_cl_av - {{{}'d0, (ld_issue & ld_h_deps[{POP_NEXT}])}})", C - 1)));
    step.push(nb("tok_cs", format!("(tok_cs_av - {{{}'d0, (st_issue & st_h_deps[{POP_PREV}])}})", C - 1)));
    step.push(nb("tok_sc", format!("(tok_sc_av - {{{}'d0, (c_issue & c_h_deps[{POP_NEXT}])}})", C - 1)));
    step.push(if_("(&tok_lc_av) | (&tok_cl_av) | (&tok_cs_av) | (&tok_sc_av)", vec![nb("err", "1'b1")]));
    step.extend(dma_queue_steps(p.dram_latency));
    step.push(nb("chan_free", "(st_issue ? st_cend : cf_mid)"));
    step.extend(compute_issue_steps(p));
    step
}

/// The head registers' loads from the queues and the decoders.
fn head_loads() -> Vec<Stmt> {
    let mut heads = Vec::new();
    for n in ["ld", "st"] {
        heads.push(if_(
            format!("{n}_load_head"),
            vec![
                nb(format!("{n}_h"), format!("{n}_next")),
                nb(format!("{n}_h_deps"), deps_of(&format!("{n}_next"))),
                nb(format!("{n}_h_beats"), format!("{n}_next_beats")),
            ],
        ));
    }
    let mut c_load = vec![
        nb("c_h", "c_next"),
        nb("c_h_deps", deps_of("c_next")),
        nb("c_h_unit", "cn_unit"),
        nb("c_h_halt", "cn_halt"),
        nb("c_h_busy", "cn_busy"),
        nb("c_h_done", "cn_done"),
        nb("c_h_mode", "cn_mode"),
        nb("c_h_il", "cn_il"),
        nb("c_h_ksteps", "cn_ksteps"),
        nb("c_h_cpk", "cn_cpk"),
        nb("c_h_period", "cn_period"),
        nb("c_h_keff", "cn_keff"),
        nb("c_h_cpw", "cn_cpw"),
    ];
    for s in SLOTS {
        for f in ["b", "s", "e"] {
            c_load.push(nb(format!("c_h_{s}_{f}"), format!("cn_{s}_{f}")));
        }
    }
    heads.push(if_("c_load_head", c_load));
    heads
}

/// The load and store queues' step: an issue holds the channel until its
/// beats end, the latency delay lines, the transfers in flight.
fn dma_queue_steps(lat: u32) -> Vec<Stmt> {
    let mut step = Vec::new();
    for (n, push_bit) in [("ld", PUSH_NEXT), ("st", PUSH_PREV)] {
        step.push(if_else(
            format!("{n}_issue"),
            vec![
                nb(format!("{n}_busy"), format!("{n}_cend")),
                nb(format!("{n}_act"), "1'b1"),
                nb(format!("{n}_end"), format!("{n}_cend")),
                nb(format!("{n}_end_push"), format!("{n}_h_deps[{push_bit}]")),
            ],
            vec![if_(format!("{n}_end_evt"), vec![nb(format!("{n}_act"), "1'b0")])],
        ));
        if lat == 1 {
            step.push(nb(format!("{n}_dl_v"), format!("{n}_end_evt")));
            step.push(nb(format!("{n}_dl_p"), format!("{n}_end_push")));
        } else if lat > 1 {
            step.push(nb(format!("{n}_dl_v"), format!("{{{n}_dl_v[{}:0], {n}_end_evt}}", lat - 2)));
            step.push(nb(format!("{n}_dl_p"), format!("{{{n}_dl_p[{}:0], {n}_end_push}}", lat - 2)));
        }
        step.push(nb(
            format!("{n}_infl"),
            format!("(({n}_infl + {{{c}'d0, {n}_issue}}) - {{{c}'d0, {n}_ret}})", c = C - 1),
        ));
    }
    step
}

/// The compute issue's step: its unit's occupancy and scoreboard entry,
/// its retirement-queue entry (merged with the last one when they retire
/// together), and the queue's head advancing past retired entries.
fn compute_issue_steps(p: &Params) -> Vec<Stmt> {
    let d = p.rob_depth;
    let db = d.trailing_zeros();
    let push_prev = format!("{{{}'d0, c_h_deps[{PUSH_PREV}]}}", C - 1);
    let push_next = format!("{{{}'d0, c_h_deps[{PUSH_NEXT}]}}", C - 1);
    let rob_push = if_else(
        "rob_merge",
        vec![
            nb("rob_n[rob_last]", format!("(rob_n[rob_last] + {})", k(C, 1))),
            nb("rob_np[rob_last]", format!("(rob_np[rob_last] + {push_prev})")),
            nb("rob_nn[rob_last]", format!("(rob_nn[rob_last] + {push_next})")),
        ],
        vec![
            nb("rob_r[rob_tl]", "c_r"),
            nb("rob_n[rob_tl]", k(C, 1)),
            nb("rob_np[rob_tl]", push_prev.clone()),
            nb("rob_nn[rob_tl]", push_next.clone()),
            nb("rob_tl", format!("(rob_tl + {})", k(db, 1))),
            if_(format!("(rob_cnt == {}) & ~rob_ret", k(db + 1, u64::from(d))), vec![nb("err", "1'b1")]),
        ],
    );
    vec![
        if_("c_issue", vec![unit_case(p), rob_push, nb("c_last_r", "c_r")]),
        if_("rob_ret", vec![nb("rob_hd", format!("(rob_hd + {})", k(db, 1)))]),
        nb("rob_cnt", format!("((rob_cnt + {{{z}'d0, (c_issue & ~rob_merge)}}) - {{{z}'d0, rob_ret}})", z = db)),
    ]
}

/// What an issuing compute instruction records on its unit: the unit's
/// busy deadline and its scoreboard entry (the GEMM ring, the vector op or
/// the sparsify in flight).
fn unit_case(p: &Params) -> Stmt {
    let gb = p.gemm_slots.trailing_zeros();
    let ring_write = vec![
        nb("gq_e[gq_wp]", "c_e"),
        nb("gq_as[gq_wp]", "c_h_r0_s"),
        nb("gq_ae[gq_wp]", "c_h_r0_e"),
        nb("gq_ws[gq_wp]", "c_h_r1_s"),
        nb("gq_we[gq_wp]", "c_h_r1_e"),
        nb("gq_os[gq_wp]", "c_h_w0_s"),
        nb("gq_oe[gq_wp]", "c_h_w0_e"),
        nb("gq_wp", format!("(gq_wp + {})", k(gb.max(1), 1))),
        nb("last_gemm_v", "1'b1"),
        nb("last_mode", "c_h_mode"),
        nb("last_gemm_e", "c_e"),
        if_("gq_e[gq_wp] > t", vec![nb("err", "1'b1")]),
    ];
    let mut vec_write = vec![nb("ve_e", "c_e")];
    for s in SLOTS {
        for f in ["b", "s", "e"] {
            vec_write.push(nb(format!("ve_{s}_{f}"), format!("c_h_{s}_{f}")));
        }
    }
    let sp_write = vec![
        nb("se_e", "c_e"),
        nb("se_ab", "c_h_r0_b"),
        nb("se_wb", "c_h_w0_b"),
        nb("se_as", "c_h_r0_s"),
        nb("se_ae", "c_h_r0_e"),
        nb("se_ws", "c_h_w0_s"),
        nb("se_we", "c_h_w0_e"),
    ];
    Stmt::Case(
        raw("c_h_unit"),
        vec![
            (vec![raw(format!("2'd{UNIT_ARRAY}"))], [vec![nb("busy_array", "c_b")], ring_write].concat()),
            (vec![raw(format!("2'd{UNIT_VECTOR}"))], [vec![nb("busy_vector", "c_b")], vec_write].concat()),
            (vec![raw(format!("2'd{UNIT_SPARSIFIER}"))], [vec![nb("busy_sparsifier", "c_b")], sp_write].concat()),
        ],
        vec![Stmt::Comment(format!("unit {UNIT_CONTROL}: sync, halt")), nb("busy_control", "c_b")],
    )
}
