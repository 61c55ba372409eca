//! `nmsat`: the command-line front end. It parses arguments and calls the
//! library crates; no modelling logic lives here.

mod cli_error;
mod cmd;
mod progress;

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
    /// The whole pipeline in one run: BDWP training on digits, a simulated training step per method, the dataflow ablation, and RTL co-simulation.
    Demo(cmd::demo::DemoArgs),
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
    /// Train a model on real data with N:M sparsity (dense, SR-STE, BDWP).
    Train(cmd::train::TrainArgs),
    /// Energy, throughput and bottlenecks of training steps: an HTML page with charts, summary.json and summary.csv.
    Report(cmd::report::ReportArgs),
    /// Write the Verilog of a SAT config (one module per unit) and its file list.
    Rtl(cmd::rtl::RtlArgs),
    /// Co-simulate a program on the Verilated RTL against the Rust cycle-mode simulator.
    Cosim(cmd::cosim::CosimArgs),
    /// Synthesise the RTL with Yosys for UltraScale+ and report LUTs, FFs, DSPs and block RAMs.
    Synth(cmd::synth::SynthArgs),
    /// Explore a design space of configs and workloads: resumable, shardable results and their Pareto front.
    Explore(cmd::explore::ExploreArgs),
}

fn main() -> ExitCode {
    // `nmsat ... | head` closes stdout early: end quietly, as Unix tools do,
    // instead of reporting the failed write as a crash.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Arch(c) => cmd::arch::run(c),
        Command::Compile(a) => cmd::compile::run(a),
        Command::Models(a) => cmd::models::run(a),
        Command::Disasm(a) => cmd::disasm::run(a),
        Command::Sim(a) => cmd::sim::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Rtl(a) => cmd::rtl::run(a),
        Command::Cosim(a) => cmd::cosim::run(a),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Explore(a) => cmd::explore::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
