//! Chart 2: energy of one training step per method, stacked by unit and
//! action.

use super::stacked::Stacked;
use super::style::{clean, energy_unit};
use super::{Chart, ChartError, render, title_or};

/// One segment kind of the energy stacks: an action of a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnergySeries {
    /// Unit (`PE array`, `weight buffer`, `DRAM`, ...).
    pub unit: String,
    /// Action (`MAC`, `read`, `write`, ...).
    pub action: String,
}

/// The energy of one method's step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnergyBar {
    /// Method (`dense`, `BDWP 2:8`, ...).
    pub method: String,
    /// Joules spent in each of [`EnergyData::series`], same order; missing
    /// entries count as zero.
    pub joules: Vec<f64>,
}

/// Input of [`energy`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnergyData {
    /// Chart title; blank gives "Energy per training step".
    pub title: String,
    /// The stack's segments bottom to top.
    pub series: Vec<EnergySeries>,
    /// One bar per method.
    pub bars: Vec<EnergyBar>,
}

/// Stacked bars of energy per method; the axis unit (pJ to J) follows the
/// largest bar.
pub fn energy(data: &EnergyData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Energy per training step");
    let max = data
        .bars
        .iter()
        .map(|b| b.joules.iter().take(data.series.len()).map(|j| clean(*j)).sum::<f64>())
        .fold(0.0, f64::max);
    let (scale, unit) = energy_unit(max);
    let plot = Stacked {
        title: title.clone(),
        series: data.series.iter().map(|s| format!("{}: {}", s.unit, s.action)).collect(),
        bars: data.bars.iter().map(|b| (b.method.clone(), b.joules.clone())).collect(),
        x_desc: "method".into(),
        y_desc: format!("energy per step ({unit})"),
        scale,
        pitch: 60,
    };
    render("energy", &title, &plot)
}
