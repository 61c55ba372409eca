//! `nmsat models`: the built-in models with their size and work.

use clap::{Args, ValueEnum};
use nmsat_compiler::{LowerOptions, Method, builtins, lower, totals};
use nmsat_dataflow::{GemmKind, Pass};
use serde::Serialize;

use crate::cli_error::{CliError, CliResult};
use nmsat_reports::table;

/// Arguments of `nmsat models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ModelsFormat::Table)]
    pub format: ModelsFormat,
}

/// `--format` of `nmsat models`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelsFormat {
    /// JSON array.
    Json,
    /// CSV with a header row.
    Csv,
    /// An aligned text table.
    Table,
}

#[derive(Serialize)]
struct Row {
    name: String,
    layers: usize,
    weight_layers: usize,
    weight_params: u64,
    forward_macs: u64,
    attention_macs: u64,
    training_step_macs: u64,
}

/// Runs `nmsat models`.
pub fn run(args: ModelsArgs) -> CliResult {
    let mut rows = Vec::new();
    for b in builtins() {
        let m = b.load().map_err(CliError::input)?;
        let gemms =
            lower(&m, &LowerOptions::new(Method::Dense, LowerOptions::default().nm, 1)).map_err(CliError::input)?;
        let sum = |f: &dyn Fn(&nmsat_dataflow::Gemm) -> bool| -> Result<u64, CliError> {
            let g: Vec<_> = gemms.iter().filter(|g| f(g)).cloned().collect();
            Ok(totals(&g).map_err(CliError::input)?.macs_dense)
        };
        rows.push(Row {
            name: b.name.replace('_', "-"),
            layers: m.layers.len(),
            weight_layers: m.weight_layers(),
            weight_params: m.weight_params(),
            forward_macs: sum(&|g| g.pass == Pass::Ff)?,
            attention_macs: sum(&|g| g.pass == Pass::Ff && g.kind == GemmKind::Attention)?,
            training_step_macs: sum(&|_| true)?,
        });
    }
    match args.format {
        ModelsFormat::Json => println!("{}", serde_json::to_string_pretty(&rows).map_err(CliError::input)?),
        ModelsFormat::Csv => {
            println!("name,layers,weight_layers,weight_params,forward_macs,attention_macs,training_step_macs");
            for r in &rows {
                println!(
                    "{},{},{},{},{},{},{}",
                    r.name,
                    r.layers,
                    r.weight_layers,
                    r.weight_params,
                    r.forward_macs,
                    r.attention_macs,
                    r.training_step_macs
                );
            }
        }
        ModelsFormat::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.weight_layers.to_string(),
                        si(r.weight_params),
                        si(r.forward_macs),
                        si(r.training_step_macs),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["model", "weight layers", "params", "forward MACs", "training-step MACs (dense, batch 1)"],
                    &cells
                )
            );
        }
    }
    Ok(())
}

/// `1.664 G`, `11.16 M`, `42.9 k`: short figures for the table (JSON/CSV keep exact integers).
fn si(x: u64) -> String {
    let f = x as f64;
    if f >= 1e9 {
        format!("{:.3} G", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} M", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} k", f / 1e3)
    } else {
        x.to_string()
    }
}
