//! `nmsat-reports`: turns what the pipeline computed into what users read:
//! aligned text tables, CSV, JSON and Markdown of GEMM lists, programs,
//! simulated steps ([`nmsat_sim::Stats`]), training runs, co-simulations and
//! the demo. Rendering only: every number comes from the statistics passed
//! in. The energy model, charts and the HTML report come next
//! (`docs/status.md`).

pub mod arch;
pub mod asm;
pub mod charts;
pub mod cosim;
pub mod demo;
pub mod energy;
pub mod gemms;
pub mod html;
pub mod models;
pub mod passes;
pub mod prior;
pub mod report;
pub mod sim;
pub mod table;
pub mod timeline;
pub mod train;

pub use table::{csv_line, table};
