//! `nmsat models`: the built-in models with their size and work;
//! `nmsat models import`: a model file (ONNX) written as `.nm`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use nmsat_reports::models;

use crate::cli_error::{CliError, CliResult};

/// Arguments of `nmsat models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// `import`; without one, list the built-in models.
    #[command(subcommand)]
    pub command: Option<ModelsCmd>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ModelsFormat::Table)]
    pub format: ModelsFormat,
}

/// `models` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsCmd {
    /// Write a model file (`.onnx`, or any model argument) as a `.nm` file.
    Import {
        /// The model: an ONNX file (or any other model argument).
        file: String,
        /// The model's name in the `.nm` file (default: the file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Where to write (default: standard output).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Skip ONNX operators nmsat does not support (listed as notes).
        #[arg(long)]
        skip_unsupported: bool,
    },
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
    if let Some(ModelsCmd::Import { file, name, output, skip_unsupported }) = args.command {
        return import(&file, name.as_deref(), output.as_deref(), skip_unsupported);
    }
    let rows = nmsat_flow::models::builtin_summaries()?;
    match args.format {
        ModelsFormat::Json => println!("{}", serde_json::to_string_pretty(&rows).map_err(CliError::input)?),
        ModelsFormat::Csv => print!("{}", models::csv(&rows)),
        ModelsFormat::Table => print!("{}", models::table(&rows)),
    }
    Ok(())
}

/// Runs `nmsat models import`.
fn import(file: &str, name: Option<&str>, output: Option<&std::path::Path>, skip_unsupported: bool) -> CliResult {
    let opts = nmsat_compiler::LoadOptions { skip_unsupported };
    let model = nmsat_compiler::load_model_with(file, &opts).map_err(CliError::input)?;
    crate::cmd::common::print_notes(&model);
    let text = nmsat_compiler::nm_writer::to_nm(&model, name.unwrap_or(&model.name)).map_err(CliError::input)?;
    match output {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", path.display())))?;
            eprintln!(
                "wrote {}: model `{}`, {} layers",
                path.display(),
                name.unwrap_or(&model.name),
                model.layers.len()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
