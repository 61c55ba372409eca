//! The energy model and bottleneck attribution of a simulated run.
//!
//! - [`EnergyTable`]: energy reference tables in the shape of Accelergy's
//!   (component → action → energy per unit) read from TOML, two built in
//!   (`asic-45nm`, `fpga-vu9p`; sources in `docs/energy.md`).
//! - [`energy()`]: Σ actions × energy per action over a run's
//!   [`nmsat_sim::Stats`], in integer femtojoules so that actions, units,
//!   layer-passes, passes and the total sum exactly; power, GOPS, GOPS/W,
//!   pJ per MAC and the energy-delay product.
//! - [`bottlenecks()`]: whether each layer and pass is compute-, DMA- or
//!   dependency-bound, its roofline, and where the run's cycles beyond its
//!   MAC-count bound go.
//! - [`text()`], [`bottleneck_text()`]: plain-text summaries.

mod actions;
mod bottleneck;
mod error;
mod model;
mod parse;
mod rates;
mod table;
mod text;

pub use actions::Unit;
pub use bottleneck::{
    BUSY_THRESHOLD, BottleneckReport, Bound, GapPart, GapSummary, LayerBottleneck, SpeedupGap, bottlenecks, speedup_gap,
};
pub use error::{TableError, TableProblem};
pub use model::{
    ActionEnergy, EnergyFigures, EnergyReport, LayerPassEnergy, PassEnergy, UnattributedEnergy, UnitEnergy, energy,
};
pub use rates::ActionRate;
pub use table::{EnergyTable, Entry, EntryValue, Primitive, SizeBasis, SramPoint};
pub use text::{bottleneck_text, text};

#[cfg(test)]
mod tests;
