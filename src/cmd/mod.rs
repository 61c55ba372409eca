//! One module per subcommand.

pub mod arch;
pub mod common;
pub mod compile;
pub mod models;
