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
    /// Train a model on real data with N:M sparsity (dense, SR-STE, BDWP).
    Train(cmd::train::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Arch(c) => cmd::arch::run(c),
        Command::Train(a) => cmd::train::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
