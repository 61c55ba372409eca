//! One module per subcommand.

pub mod arch;
pub mod common;
pub mod compile;
pub mod cosim;
pub mod demo;
pub mod disasm;
pub mod explore;
pub mod models;
pub mod report;
pub mod rtl;
pub mod sim;
pub mod synth;
pub mod train;
