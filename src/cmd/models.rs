//! `nmsat models`: the built-in models with their size and work.

use clap::{Args, ValueEnum};
use nmsat_compiler::{LowerOptions, Method, builtins, lower, totals};
use nmsat_dataflow::{GemmKind, Pass};
use serde::Serialize;

use crate::cli_error::{CliError, CliResult};
use crate::cmd::common::table;

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
                        format!("{:.2} M", r.weight_params as f64 / 1e6),
                        format!("{:.3} G", r.forward_macs as f64 / 1e9),
                        format!("{:.3} G", r.training_step_macs as f64 / 1e9),
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
