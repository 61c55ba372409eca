//! One module per subcommand.

pub mod arch;
pub mod common;
pub mod train;
