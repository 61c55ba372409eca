//! One module per subcommand.

pub mod arch;
pub mod common;
