//! `nmsat arch show|check|import`.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use nmsat_dataflow::{ArchConfig, scalesim_cfg};
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
    /// Convert a SCALE-Sim config (`.cfg`) to a config TOML; every field
    /// SCALE-Sim has no equivalent for is stated (on stderr and as comments).
    Import {
        /// SCALE-Sim config (INI).
        file: PathBuf,
        /// Write the TOML here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
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
        ArchCmd::Import { file, output } => {
            let imp = scalesim_cfg::import_file(&file).map_err(CliError::input)?;
            match &output {
                Some(path) => std::fs::write(path, &imp.toml)
                    .map_err(|e| CliError::input(anyhow::anyhow!("{}: {e}", path.display())))?,
                None => print!("{}", imp.toml),
            }
            for c in &imp.choices {
                eprintln!("chosen: {} = {}: {}", c.field, c.value, c.why);
            }
            for i in &imp.ignored {
                eprintln!("ignored: {i}");
            }
            if let Some(path) = &output {
                eprintln!("{}: {} `{}` written", path.display(), arch::pe_array(&imp.config), imp.config.name);
            }
            Ok(())
        }
    }
}
