//! A simulated training step ([`Stats`]) as a summary with a per-layer
//! table, or as CSV with one row per layer and pass.

use nmsat_dataflow::program::CompileInfo;
use nmsat_sim::{StallCause, Stats};

use crate::table::table;

/// The summary lines and the per-layer, per-pass table of `nmsat sim`.
pub fn text(s: &Stats, info: &CompileInfo) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} on `{}` ({} mode): method {}{} batch {}\n",
        info.model,
        s.arch,
        s.mode,
        info.method,
        info.nm.as_deref().map(|n| format!(" {n}")).unwrap_or_default(),
        info.batch
    ));
    out.push_str(&format!(
        "total {} cycles = {:.6} s, {:.1} GOPS dense-equivalent, PE utilization {:.3}, {} DRAM bytes\n",
        s.total_cycles, s.seconds, s.throughput_gops, s.pe_utilization, s.dram_bytes
    ));
    let pe = &s.pe_array;
    if pe.gemms_ws > 0 {
        out.push_str(&format!(
            "GEMMs: {} output-stationary, {} weight-stationary\n",
            pe.gemms - pe.gemms_ws,
            pe.gemms_ws
        ));
    }
    let passes: Vec<String> = s.passes.iter().map(|(p, c)| format!("{p} {c}")).collect();
    out.push_str(&format!("passes: {}\n", passes.join(", ")));
    let stalls: Vec<String> = s.stalls.iter().filter(|(_, v)| **v > 0).map(|(c, v)| format!("{c:?} {v}")).collect();
    out.push_str(&format!("stalls (queue-cycles): {}\n\n", stalls.join(", ")));
    let rows: Vec<Vec<String>> = s
        .layers
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.pass.to_string(),
                format!("{}x{}x{}", l.m, l.n, l.k),
                l.mode.clone(),
                l.cycles.to_string(),
                format!("{:.3}", l.pe_utilization),
                l.dram_bytes.to_string(),
            ]
        })
        .collect();
    out.push_str(&table(&["layer", "pass", "MxNxK", "mode", "cycles", "pe_util", "dram_bytes"], &rows));
    out
}

/// The stall cause as named in JSON (`dma_busy`, ...).
fn cause_name(c: &StallCause) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// One CSV row per layer and pass: cycles, work, stalls by cause and the
/// busy cycles of each unit (every count is in the JSON too), each line
/// ending in a newline.
pub fn csv(s: &Stats) -> String {
    let causes: Vec<String> = StallCause::ALL.iter().map(|c| format!("stall_{}", cause_name(c))).collect();
    let mut out = format!(
        "layer,pass,M,N,K,mode,cycles,span_cycles,pe_utilization,dram_bytes,macs_dense_equivalent,macs_executed,instructions,{},array_stream_cycles,dma_channel_cycles,vector_busy_cycles,sparsifier_busy_cycles\n",
        causes.join(",")
    );
    for l in &s.layers {
        let stalls: Vec<String> =
            StallCause::ALL.iter().map(|c| l.stalls.get(c).copied().unwrap_or(0).to_string()).collect();
        let e = &l.events;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.4},{},{},{},{},{},{},{},{},{}\n",
            l.name,
            l.pass,
            l.m,
            l.n,
            l.k,
            l.mode,
            l.cycles,
            l.span_cycles,
            l.pe_utilization,
            l.dram_bytes,
            l.macs_dense_equivalent,
            l.macs_executed,
            l.instructions,
            stalls.join(","),
            e.pe_array.stream_cycles,
            e.dma.channel_busy_cycles,
            e.vector_unit.busy_cycles,
            e.sparsifier.busy_cycles
        ));
    }
    out
}
