//! Chart 1: cycles per layer and pass, stacked by what the machine was
//! doing (computing or stalled, by cause).

use super::stacked::Stacked;
use super::{Chart, ChartError, render, title_or};

/// The cycles of one layer in one pass, split into categories.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CyclesBar {
    /// Layer name (`conv1`, `layer1.0.conv2`); long names are abbreviated
    /// under the axis.
    pub layer: String,
    /// Pass (`FP`, `BP`, `WG`, `WU`).
    pub pass: String,
    /// Cycles in each of [`CyclesData::categories`], same order; missing
    /// entries count as zero, extra ones are ignored.
    pub cycles: Vec<f64>,
}

/// Input of [`cycles`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CyclesData {
    /// Chart title; blank gives "Cycles per layer and pass".
    pub title: String,
    /// The stack's categories bottom to top, e.g. `busy` then the stall
    /// causes (`dma_busy`, `dependency`, ...).
    pub categories: Vec<String>,
    /// One bar per layer and pass, left to right.
    pub bars: Vec<CyclesBar>,
}

/// Stacked bars of cycles per layer and pass (`<layer> <pass>` under each
/// bar, turned upright and thinned when there are many).
pub fn cycles(data: &CyclesData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Cycles per layer and pass");
    let plot = Stacked {
        title: title.clone(),
        series: data.categories.clone(),
        bars: data.bars.iter().map(|b| (format!("{} {}", b.layer, b.pass), b.cycles.clone())).collect(),
        x_desc: "layer and pass".into(),
        y_desc: "cycles".into(),
        scale: 1.0,
        pitch: 18,
    };
    render("cycles", &title, &plot)
}
