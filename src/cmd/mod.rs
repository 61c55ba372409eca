//! One module per subcommand.

pub mod arch;
pub mod common;
pub mod compile;
pub mod disasm;
pub mod models;
pub mod sim;
pub mod train;
