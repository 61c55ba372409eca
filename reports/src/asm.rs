//! A program's disassembly with its per-layer, per-pass summary.

use nmsat_dataflow::program::Program;

use crate::table::table;

/// The disassembly followed by the per-layer, per-pass summary as comments.
pub fn asm_with_summary(p: &Program) -> String {
    let mut s = p.disassemble();
    let rows: Vec<Vec<String>> = p
        .summary()
        .into_iter()
        .map(|r| {
            vec![
                r.layer,
                r.pass.to_string(),
                r.loads.to_string(),
                r.computes.to_string(),
                r.stores.to_string(),
                r.dram_bytes.to_string(),
                r.macs_dense.to_string(),
                r.macs_executed.to_string(),
            ]
        })
        .collect();
    s.push_str("\n; summary per layer and pass\n");
    let header = ["layer", "pass", "loads", "computes", "stores", "dram_bytes", "macs_dense", "macs_executed"];
    for line in table(&header, &rows).lines() {
        s.push_str("; ");
        s.push_str(line);
        s.push('\n');
    }
    s
}
