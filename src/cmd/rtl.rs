//! `nmsat rtl --arch CONFIG -o DIR`: write the Verilog of a SAT config.

use std::path::PathBuf;

use clap::Args;
use nmsat_rtl::params::DEFAULT_IMEM_BITS;
use nmsat_rtl::{EmitOptions, emit};

use crate::cli_error::{CliError, CliResult};
use nmsat_flow::load_arch;

/// Arguments of `nmsat rtl`.
#[derive(Debug, Args)]
pub struct RtlArgs {
    /// SAT config (TOML file or preset name); default the built-in sat-vu9p.
    #[arg(long)]
    pub arch: Option<String>,
    /// Directory to write the Verilog files and the file list `sat.f` into.
    #[arg(short = 'o', long)]
    pub out: PathBuf,
    /// Instruction-memory address bits per queue (2^bits instructions each).
    #[arg(long, default_value_t = DEFAULT_IMEM_BITS)]
    pub imem_bits: u32,
}

/// Runs `nmsat rtl`.
pub fn run(args: RtlArgs) -> CliResult {
    let arch = load_arch(args.arch.as_deref())?;
    let design =
        emit(&arch, &EmitOptions { imem_bits: args.imem_bits, fault_injection: false }).map_err(CliError::input)?;
    let files = design.write(&args.out).map_err(CliError::input)?;
    println!(
        "wrote {} Verilog files and the file list {} to {} (top module `{}`, config `{}`)",
        files.len() - 1,
        nmsat_rtl::emit::FILE_LIST,
        args.out.display(),
        design.top,
        arch.name
    );
    for f in &design.files {
        println!("  {}", f.name);
    }
    Ok(())
}
