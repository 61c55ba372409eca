//! `sat_top`: the controller and the units, with a host port to load the
//! instruction queues and a trace port the testbench samples every cycle.

use crate::emit::util::raw;
use crate::params::{COUNT_BITS, INSTR_BITS, Params, TIME_BITS};
use crate::vast::{Instance, Item, Module, id};

/// The top module.
pub fn top(p: &Params) -> Module {
    let ab = p.imem_bits;
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
    m.input("clk", 1, "");
    m.input("rst", 1, "synchronous, active high");
    m.input("host_we", 3, "write instruction `host_addr` of queue 0 load, 1 compute, 2 store");
    m.input("host_addr", ab, "");
    m.input("host_data", INSTR_BITS, "256-bit instruction, bit 0 = bit 0 of its first byte");
    m.input("host_len_we", 3, "set the instruction count of a queue");
    m.input("host_len", ab + 1, "");
    m.input("start", 1, "start the run (after reset and loading)");
    m.output("running", 1, "cycle `cycle` is being executed");
    m.output("done", 1, "the program has finished; `cycle` is the total");
    m.output("error", 1, "an internal bound was exceeded");
    m.output("cycle", TIME_BITS, "current cycle");
    m.output("tr_issue", 3, "queues (load, compute, store) whose head issues this cycle");
    m.output("tr_retire_ld", 1, "a load retires this cycle");
    m.output("tr_retire_st", 1, "a store retires this cycle");
    m.output("tr_retire_c", COUNT_BITS, "compute instructions retiring this cycle");
    for n in ["ld_issue", "c_issue", "st_issue"] {
        m.wire(n, 1, "");
    }
    m.push(Item::LintOff(
        "UNUSED".into(),
        vec![
            Item::Comment(vec!["issued instructions and grants, for the units".into()]),
            Item::Wire { name: "ld_instr".into(), width: INSTR_BITS, doc: String::new() },
            Item::Wire { name: "c_instr".into(), width: INSTR_BITS, doc: String::new() },
            Item::Wire { name: "st_instr".into(), width: INSTR_BITS, doc: String::new() },
            Item::Wire { name: "ld_grant".into(), width: TIME_BITS, doc: String::new() },
            Item::Wire { name: "st_grant".into(), width: TIME_BITS, doc: String::new() },
        ],
    ));
    let conns: Vec<(String, crate::vast::Expr)> = [
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
        "error",
        "cycle",
        "ld_issue",
        "ld_instr",
        "ld_grant",
        "c_issue",
        "c_instr",
        "st_issue",
        "st_instr",
        "st_grant",
    ]
    .iter()
    .map(|s| (s.to_string(), id(*s)))
    .chain([
        ("ld_retire".to_string(), id("tr_retire_ld")),
        ("st_retire".to_string(), id("tr_retire_st")),
        ("c_retire_n".to_string(), id("tr_retire_c")),
    ])
    .collect();
    m.push(Item::Instance(Instance { module: "sat_controller".into(), name: "ctrl".into(), params: vec![], conns }));
    m.assign("tr_issue", raw("{st_issue, c_issue, ld_issue}"));
    m
}
