//! `nmsat disasm FILE`: the assembly text of a SAT program.

use std::path::PathBuf;

use clap::Args;
use nmsat_dataflow::program::Program;

use crate::cli_error::{CliError, CliResult};
use nmsat_reports::asm::asm_with_summary;

/// Arguments of `nmsat disasm`.
#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// A program written by `nmsat compile -o`.
    pub file: PathBuf,
    /// Print only the per-layer, per-pass summary.
    #[arg(long)]
    pub summary: bool,
}

/// Runs `nmsat disasm`.
pub fn run(args: DisasmArgs) -> CliResult {
    let p = Program::load(&args.file).map_err(CliError::input)?;
    let text = asm_with_summary(&p);
    if args.summary {
        for line in text.lines().filter(|l| l.starts_with(';')) {
            println!("{line}");
        }
    } else {
        print!("{text}");
    }
    Ok(())
}
