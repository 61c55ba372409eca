//! Chart 6: the dataflow ablation, cycles of one step per dataflow variant
//! with the slowdown over the first (full) variant.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bars::{Bar, HLine, Panel};
use super::frame::{Entry, Mark, frame};
use super::style::{clean, color};
use super::{Chart, ChartError, Plot, render, title_or};

/// One dataflow variant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AblationRow {
    /// Variant (`full`, `no sparsifier overlap`, ...).
    pub variant: String,
    /// Cycles of the step with it.
    pub cycles: f64,
}

/// Input of [`ablation`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AblationData {
    /// Chart title; blank gives "Dataflow ablation".
    pub title: String,
    /// Variants; the first is the reference the others' slowdown is over.
    pub rows: Vec<AblationRow>,
}

struct AblationPlot<'a>(&'a AblationData, String);

impl Plot for AblationPlot<'_> {
    fn size(&self) -> (u32, u32) {
        ((300 + 70 * self.0.rows.len() as u32).max(1000), 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let rows = &self.0.rows;
        let base = rows.first().map(|r| clean(r.cycles)).unwrap_or(0.0);
        let reference = rows.first().map(|r| r.variant.as_str()).unwrap_or("first variant");
        let legend = [
            Entry::new("cycles per step (label: slowdown)", color(0), Mark::Box),
            Entry::new(format!("reference: {reference}"), BLACK, Mark::Dashed),
        ];
        let plot = frame(root, &self.1, &legend)?;
        let bars = rows
            .iter()
            .enumerate()
            .map(|(cat, r)| {
                let value = clean(r.cycles);
                let note = (base > 0.0 && value > 0.0).then(|| format!("{:.3}×", value / base));
                Bar { cat, slot: 0, slots: 1, value, color: color(0), tick: None, note }
            })
            .collect();
        let panel = Panel {
            labels: rows.iter().map(|r| r.variant.clone()).collect(),
            bars,
            hlines: vec![HLine { value: base, color: BLACK }],
            x_desc: "dataflow variant".into(),
            y_desc: "cycles per training step".into(),
        };
        panel.draw(root, &plot)
    }
}

/// Bars of cycles per variant, each labelled with its slowdown over the
/// first, which is also drawn as a dashed line.
pub fn ablation(data: &AblationData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Dataflow ablation");
    render("ablation", &title, &AblationPlot(data, title.clone()))
}
