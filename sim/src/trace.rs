//! Chrome-trace (Perfetto-compatible) timelines: one track per queue, one
//! slice per instruction, timestamps in cycles (shown as microseconds).

use nmsat_dataflow::program::Program;
use serde_json::json;

use crate::engine::Retire;

/// The trace JSON of a run: `{"traceEvents": [...]}`, deterministic.
pub fn chrome_trace(program: &Program, retire: &[Retire]) -> serde_json::Value {
    let mut events = Vec::with_capacity(program.instrs.len() + 4);
    for (tid, name) in ["load", "compute", "store"].iter().enumerate() {
        events.push(json!({"name": "thread_name", "ph": "M", "pid": 0, "tid": tid, "args": {"name": name}}));
    }
    events.push(
        json!({"name": "process_name", "ph": "M", "pid": 0, "args": {"name": format!("SAT {}", program.arch.name)}}),
    );
    for (i, (instr, r)) in program.instrs.iter().zip(retire).enumerate() {
        let tag = program.tags[i];
        let text = instr.to_text();
        let mnemonic = text.split_whitespace().next().unwrap_or("");
        events.push(json!({
            "name": format!("{} {}", mnemonic, program.layer_name(tag)),
            "cat": tag.pass.name(),
            "ph": "X",
            "pid": 0,
            "tid": instr.queue().index(),
            "ts": r.start,
            "dur": r.done - r.start,
            "args": {"index": i, "instr": text, "layer": program.layer_name(tag), "pass": tag.pass.name()},
        }));
    }
    json!({"traceEvents": events, "displayTimeUnit": "ns", "otherData": {"time_unit": "1 us in the viewer = 1 cycle"}})
}
