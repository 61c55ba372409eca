//! Chrome-trace (Perfetto-compatible) timelines: one track per queue, one
//! slice per instruction, timestamps in cycles (shown as microseconds).
//!
//! [`TraceWriter`] writes a trace as the run goes (instructions in the order
//! they start), so tracing a streamed run keeps its memory flat;
//! [`chrome_trace`] builds the same events from a whole program's record.

use std::io::Write;

use nmsat_dataflow::isa::Instr;
use nmsat_dataflow::program::{Program, Tag};
use serde_json::{Value, json};

use crate::engine::{Retire, Started};

/// The metadata events: track and process names.
fn metadata(arch_name: &str) -> Vec<Value> {
    let mut events = Vec::new();
    for (tid, name) in ["load", "compute", "store"].iter().enumerate() {
        events.push(json!({"name": "thread_name", "ph": "M", "pid": 0, "tid": tid, "args": {"name": name}}));
    }
    events.push(json!({"name": "process_name", "ph": "M", "pid": 0, "args": {"name": format!("SAT {arch_name}")}}));
    events
}

/// The slice of one instruction.
fn slice(header: &Program, index: usize, instr: &Instr, tag: Tag, start: u64, done: u64) -> Value {
    let text = instr.to_text();
    let mnemonic = text.split_whitespace().next().unwrap_or("");
    json!({
        "name": format!("{} {}", mnemonic, header.layer_name(tag)),
        "cat": tag.pass.name(),
        "ph": "X",
        "pid": 0,
        "tid": instr.queue().index(),
        "ts": start,
        "dur": done - start,
        "args": {"index": index, "instr": text, "layer": header.layer_name(tag), "pass": tag.pass.name()},
    })
}

/// What surrounds the events (keys in serde_json's sorted order, so the
/// events come last and can be streamed).
const PREFIX: &str =
    r#"{"displayTimeUnit":"ns","otherData":{"time_unit":"1 us in the viewer = 1 cycle"},"traceEvents":["#;
const SUFFIX: &str = "]}";

/// The trace JSON of a run: `{"traceEvents": [...]}`, deterministic.
pub fn chrome_trace(program: &Program, retire: &[Retire]) -> Value {
    let mut events = metadata(&program.arch.name);
    for (i, (instr, r)) in program.instrs.iter().zip(retire).enumerate() {
        events.push(slice(program, i, instr, program.tags[i], r.start, r.done));
    }
    json!({"traceEvents": events, "displayTimeUnit": "ns", "otherData": {"time_unit": "1 us in the viewer = 1 cycle"}})
}

/// Writes a trace as instructions start; the first write error is kept and
/// returned by [`TraceWriter::finish`].
pub struct TraceWriter<W: Write> {
    out: W,
    error: Option<std::io::Error>,
}

impl<W: Write> TraceWriter<W> {
    /// Starts a trace of a run on the config named `arch_name`.
    pub fn new(out: W, arch_name: &str) -> Self {
        let mut w = TraceWriter { out, error: None };
        w.write(PREFIX.as_bytes());
        for (i, e) in metadata(arch_name).iter().enumerate() {
            if i > 0 {
                w.write(b",");
            }
            w.write(e.to_string().as_bytes());
        }
        w
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(bytes) {
                self.error = Some(e);
            }
        }
    }

    /// Adds the slice of an instruction of `header`'s program as it starts.
    pub fn event(&mut self, header: &Program, s: &Started) {
        let e = slice(header, s.index, s.instr, s.tag, s.start, s.done);
        self.write(b",");
        self.write(e.to_string().as_bytes());
    }

    /// Closes the trace; returns the writer or the first write error.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.write(SUFFIX.as_bytes());
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{SimMode, SimOptions, simulate, simulate_stream_observed};
    use crate::testgen::random_program;
    use nmsat_dataflow::ArchConfig;

    #[test]
    fn a_streamed_trace_has_the_whole_traces_events() {
        let arch = ArchConfig::preset("tiny").unwrap();
        let p = random_program(&arch, 3, 40);
        let whole = simulate(&p, &arch, SimMode::Fast, SimOptions::default()).unwrap();
        let expected = chrome_trace(&p, &whole.retire);
        let mut header = p.clone();
        header.instrs.clear();
        header.tags.clear();
        let mut w = TraceWriter::new(Vec::new(), &arch.name);
        let source = p.instrs.iter().cloned().zip(p.tags.iter().copied());
        simulate_stream_observed(&header, &arch, source, SimMode::Fast, SimOptions::default(), &mut |s| {
            w.event(&header, s)
        })
        .unwrap();
        let got: Value = serde_json::from_slice(&w.finish().unwrap()).unwrap();
        let sorted = |v: &Value| {
            let mut e: Vec<String> = v["traceEvents"].as_array().unwrap().iter().map(Value::to_string).collect();
            e.sort();
            e
        };
        assert_eq!(sorted(&got), sorted(&expected));
        assert_eq!(got["otherData"], expected["otherData"]);
        assert_eq!(got["displayTimeUnit"], expected["displayTimeUnit"]);
    }
}
