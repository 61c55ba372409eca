//! `nmsat`: the command-line front end. It parses arguments and calls the
//! library crates; no modelling logic lives here.

mod cli_error;
mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// nmsat: co-design accelerators for N:M-sparse DNN training (BDWP on SAT).
#[derive(Debug, Parser)]
#[command(name = "nmsat", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show or validate an architecture config (ArchConfig TOML).
    #[command(subcommand)]
    Arch(cmd::arch::ArchCmd),
    /// Compile a model (built-in name or file) to its training graph and GEMMs.
    Compile(cmd::compile::CompileArgs),
    /// List the built-in models with their parameters and MACs.
    Models(cmd::models::ModelsArgs),
    /// Disassemble a SAT program written by `nmsat compile -o`.
    Disasm(cmd::disasm::DisasmArgs),
    /// Simulate a training step on SAT (a model, or a program file) and report cycles and events.
    Sim(cmd::sim::SimArgs),
    /// Write the Verilog of a SAT config (one module per unit) and its file list.
    Rtl(cmd::rtl::RtlArgs),
    /// Co-simulate a program on the Verilated RTL against the Rust cycle-mode simulator.
    Cosim(cmd::cosim::CosimArgs),
    /// Synthesise the RTL with Yosys for UltraScale+ and report LUTs, FFs, DSPs and block RAMs.
    Synth(cmd::synth::SynthArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Arch(c) => cmd::arch::run(c),
        Command::Compile(a) => cmd::compile::run(a),
        Command::Models(a) => cmd::models::run(a),
        Command::Disasm(a) => cmd::disasm::run(a),
        Command::Sim(a) => cmd::sim::run(a),
        Command::Rtl(a) => cmd::rtl::run(a),
        Command::Cosim(a) => cmd::cosim::run(a),
        Command::Synth(a) => cmd::synth::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
