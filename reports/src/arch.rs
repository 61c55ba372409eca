//! A SAT config (`nmsat arch show`) as a table, JSON or TOML with its derived figures.

use nmsat_dataflow::ArchConfig;
use serde::Serialize;

/// `{"config": …, "derived": …}`, pretty-printed.
pub fn json(cfg: &ArchConfig) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Shown<'a> {
        config: &'a ArchConfig,
        derived: nmsat_dataflow::arch::Derived,
    }
    serde_json::to_string_pretty(&Shown { config: cfg, derived: cfg.derived() })
}

/// The resolved config as TOML followed by its derived figures as comments.
pub fn toml(cfg: &ArchConfig) -> Result<String, serde_json::Error> {
    let mut s = cfg.to_toml();
    s.push_str("\n# derived figures\n");
    if let Some(obj) = serde_json::to_value(cfg.derived())?.as_object() {
        for (k, v) in obj {
            s.push_str(&format!("# {k} = {v}\n"));
        }
    }
    Ok(s)
}

/// `RxC PEs x L lanes`.
pub fn pe_array(c: &ArchConfig) -> String {
    format!("{}x{} PEs x {} lanes", c.pe_array.rows, c.pe_array.cols, c.pe_array.lanes)
}

/// The resolved config and its derived figures as a two-column table.
pub fn table(c: &ArchConfig) -> String {
    let d = c.derived();
    let b = &c.buffers;
    let kib = |x: u64| format!("{} KiB", x / 1024);
    let mut rows = vec![
        vec!["name".into(), c.name.clone()],
        vec!["clock".into(), format!("{} MHz", c.clock_mhz)],
        vec!["PE array".into(), pe_array(c)],
        vec!["activation mux".into(), format!("{}:1 per lane", c.pe_array.mux_inputs)],
        vec![
            "dataflows".into(),
            c.pe_array.dataflows.iter().map(|d| format!("{d:?}").to_uppercase()).collect::<Vec<_>>().join(", "),
        ],
        vec!["N:M patterns".into(), c.sparsity.patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")],
        vec![
            "numerics".into(),
            format!("{:?}, {}-bit accumulators", c.numerics.format, c.numerics.accumulator_bits).to_lowercase(),
        ],
        vec!["activation buffer".into(), format!("{}, {} banks", kib(b.activation.bytes), b.activation.banks)],
        vec!["weight buffer".into(), format!("{}, {} banks", kib(b.weight.bytes), b.weight.banks)],
        vec!["output buffer".into(), format!("{}, {} banks", kib(b.output.bytes), b.output.banks)],
        vec![
            "DRAM".into(),
            format!(
                "{} B/cycle ({:.1} GB/s), latency {} cycles, burst {} B",
                c.dram.bytes_per_cycle, d.dram_gbytes_per_second, c.dram.latency_cycles, c.dram.burst_bytes
            ),
        ],
        vec!["sparsifier".into(), format!("{} lanes", c.sparsifier.lanes)],
        vec!["vector unit".into(), format!("{} lanes", c.vector_unit.lanes)],
        vec!["peak dense".into(), format!("{} MACs/cycle, {:.1} GOPS", d.peak_dense_macs_per_cycle, d.peak_dense_gops)],
    ];
    for (p, v) in &d.peak_dense_equivalent_macs_per_cycle {
        rows.push(vec![
            format!("peak {p} (dense-eq.)"),
            format!("{v} MACs/cycle, {:.1} GOPS", d.peak_dense_equivalent_gops[p]),
        ]);
    }
    rows.push(vec!["on-chip bytes".into(), kib(d.on_chip_bytes)]);
    rows.push(vec!["fill + drain".into(), format!("{} cycles per tile", d.pipeline_fill_drain_cycles)]);
    crate::table::table(&["field", "value"], &rows)
}
