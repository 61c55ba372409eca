//! Chart 3: speedup over dense per model and method, each bar with its
//! MAC-count bound, and the paper's reported speedup as a line.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bars::{Bar, HLine, Panel};
use super::frame::{Entry, Mark, frame};
use super::style::{clean, color};
use super::{Chart, ChartError, Plot, render, title_or};

/// A horizontal reference line with its legend text.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Legend text.
    pub label: String,
    /// Speedup (×).
    pub value: f64,
}

impl Reference {
    /// Fang et al.'s reported 1.75× for SAT with BDWP 2:8 over dense,
    /// averaged over their networks.
    pub fn paper() -> Self {
        Reference { label: "Fang et al.: 1.75× (SAT, BDWP 2:8)".into(), value: 1.75 }
    }
}

/// One model's speedups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelSpeedup {
    /// Model (`ResNet-18`, ...).
    pub model: String,
    /// Speedup over dense (dense cycles / method cycles) per
    /// [`SpeedupData::methods`], same order; a missing, zero or non-finite
    /// entry draws no bar.
    pub speedup: Vec<f64>,
    /// The method's MAC-count bound on that speedup (dense MACs / executed
    /// MACs), same order; missing or zero draws no marker.
    pub mac_bound: Vec<f64>,
}

/// Input of [`speedup`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeedupData {
    /// Chart title; blank gives "Speedup over dense training".
    pub title: String,
    /// Methods, one bar colour each (`dense`, `SR-STE 2:8`, `BDWP 2:8`).
    pub methods: Vec<String>,
    /// One group of bars per model.
    pub models: Vec<ModelSpeedup>,
    /// The dashed reference line, usually [`Reference::paper`].
    pub reference: Option<Reference>,
}

struct SpeedupPlot<'a>(&'a SpeedupData, String);

/// Colour of the reference line.
const REFERENCE: RGBColor = RGBColor(200, 30, 30);

impl Plot for SpeedupPlot<'_> {
    fn size(&self) -> (u32, u32) {
        let bars = self.0.models.len() * self.0.methods.len().max(1);
        ((300 + 40 * bars as u32).max(1000), 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let d = self.0;
        let mut legend: Vec<Entry> =
            d.methods.iter().enumerate().map(|(i, m)| Entry::new(m.clone(), color(i), Mark::Box)).collect();
        legend.push(Entry::new("MAC-count bound", BLACK, Mark::Tick));
        let mut hlines = Vec::new();
        if let Some(r) = &d.reference {
            legend.push(Entry::new(r.label.clone(), REFERENCE, Mark::Dashed));
            hlines.push(HLine { value: r.value, color: REFERENCE });
        }
        let plot = frame(root, &self.1, &legend)?;
        let slots = d.methods.len();
        let mut bars = Vec::new();
        for (cat, m) in d.models.iter().enumerate() {
            for slot in 0..slots {
                let value = clean(m.speedup.get(slot).copied().unwrap_or(0.0));
                let tick = m.mac_bound.get(slot).copied().map(clean).filter(|b| *b > 0.0);
                let note = (value > 0.0).then(|| format!("{value:.2}×"));
                bars.push(Bar { cat, slot, slots, value, color: color(slot), tick, note });
            }
        }
        let panel = Panel {
            labels: d.models.iter().map(|m| m.model.clone()).collect(),
            bars,
            hlines,
            x_desc: "model".into(),
            y_desc: "speedup over dense (×)".into(),
        };
        panel.draw(root, &plot)
    }
}

/// Grouped bars of speedup per model (groups) and method (colours).
pub fn speedup(data: &SpeedupData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Speedup over dense training");
    render("speedup", &title, &SpeedupPlot(data, title.clone()))
}
