//! `nmsat arch show|check`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use nmsat_dataflow::ArchConfig;
use nmsat_flow::load_arch;
use nmsat_reports::arch;

use crate::cli_error::{CliError, CliResult};

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

/// Runs an `arch` subcommand.
pub fn run(cmd: ArchCmd) -> CliResult {
    match cmd {
        ArchCmd::Show { file, format } => {
            let cfg = load_arch(file.as_deref())?;
            match format {
                ShowFormat::Json => println!("{}", arch::json(&cfg).map_err(CliError::input)?),
                ShowFormat::Toml => print!("{}", arch::toml(&cfg).map_err(CliError::input)?),
                ShowFormat::Table => print!("{}", arch::table(&cfg)),
            }
            Ok(())
        }
        ArchCmd::Check { file } => {
            let cfg = ArchConfig::from_file(&file).map_err(CliError::input)?;
            println!("{}: valid ({} `{}`)", file.display(), arch::pe_array(&cfg), cfg.name);
            Ok(())
        }
    }
}
