//! `nmsat arch show|check`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use nmsat_dataflow::ArchConfig;
use serde::Serialize;

use crate::cli_error::{CliError, CliResult};
use nmsat_flow::load_arch;
use nmsat_reports::table;

/// `arch` subcommands.
#[derive(Debug, Subcommand)]
pub enum ArchCmd {
    /// Print the resolved config and its derived figures.
    Show {
        /// Config TOML file or preset name (default: the built-in sat-vu9p).
        file: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
        format: ShowFormat,
    },
    /// Validate a config: exit 0 when valid, else print every problem and exit 2.
    Check {
        /// Config TOML file.
        file: PathBuf,
    },
}

/// Output formats of `arch show`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShowFormat {
    /// JSON: `{"config": …, "derived": …}`.
    Json,
    /// The resolved config as TOML, derived figures as comments.
    Toml,
    /// A human-readable table.
    Table,
}

#[derive(Serialize)]
struct Shown<'a> {
    config: &'a ArchConfig,
    derived: nmsat_dataflow::arch::Derived,
}

/// Runs an `arch` subcommand.
pub fn run(cmd: ArchCmd) -> CliResult {
    match cmd {
        ArchCmd::Show { file, format } => {
            let cfg = load_arch(file.as_deref())?;
            let derived = cfg.derived();
            match format {
                ShowFormat::Json => {
                    let s = serde_json::to_string_pretty(&Shown { config: &cfg, derived }).map_err(CliError::input)?;
                    println!("{s}");
                }
                ShowFormat::Toml => {
                    print!("{}", cfg.to_toml());
                    println!();
                    let d = serde_json::to_value(&derived).map_err(CliError::input)?;
                    println!("# derived figures");
                    if let Some(obj) = d.as_object() {
                        for (k, v) in obj {
                            println!("# {k} = {v}");
                        }
                    }
                }
                ShowFormat::Table => print!("{}", render_table(&cfg)),
            }
            Ok(())
        }
        ArchCmd::Check { file } => {
            let cfg = ArchConfig::from_file(&file).map_err(CliError::input)?;
            println!("{}: valid ({} `{}`)", file.display(), describe(&cfg), cfg.name);
            Ok(())
        }
    }
}

fn describe(c: &ArchConfig) -> String {
    format!("{}x{} PEs x {} lanes", c.pe_array.rows, c.pe_array.cols, c.pe_array.lanes)
}

fn render_table(c: &ArchConfig) -> String {
    let d = c.derived();
    let b = &c.buffers;
    let kib = |x: u64| format!("{} KiB", x / 1024);
    let mut rows = vec![
        vec!["name".into(), c.name.clone()],
        vec!["clock".into(), format!("{} MHz", c.clock_mhz)],
        vec!["PE array".into(), describe(c)],
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
    table(&["field", "value"], &rows)
}
