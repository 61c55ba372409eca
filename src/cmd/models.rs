//! `nmsat models`: the built-in models with their size and work.

use clap::{Args, ValueEnum};
use nmsat_reports::models;

use crate::cli_error::{CliError, CliResult};

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

/// Runs `nmsat models`.
pub fn run(args: ModelsArgs) -> CliResult {
    let rows = nmsat_flow::models::builtin_summaries()?;
    match args.format {
        ModelsFormat::Json => println!("{}", serde_json::to_string_pretty(&rows).map_err(CliError::input)?),
        ModelsFormat::Csv => print!("{}", models::csv(&rows)),
        ModelsFormat::Table => print!("{}", models::table(&rows)),
    }
    Ok(())
}
