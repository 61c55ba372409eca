//! Chart 7: throughput (GOPS) and energy efficiency (GOPS/W) of the
//! modelled SAT per method beside published FPGA training accelerators.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bars::{Bar, Panel};
use super::frame::{Entry, Mark, frame};
use super::style::{clean, color};
use super::{Chart, ChartError, Plot, render, title_or};

/// The modelled SAT running one method.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GopsRow {
    /// Label under the bar (`SAT dense`, `SAT BDWP 2:8`).
    pub method: String,
    /// Dense-equivalent throughput (GOPS).
    pub gops: f64,
    /// Efficiency (GOPS/W), when an energy model gave the power.
    pub gops_per_watt: Option<f64>,
}

/// A prior training accelerator's published figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriorWork {
    /// Name of the design (the label under its bar).
    pub name: String,
    /// Where it was published (`FPGA'19`).
    pub venue: String,
    /// Device (`Stratix 10 MX`).
    pub device: String,
    /// Arithmetic (`FP16`, `INT8`).
    pub precision: String,
    /// Published throughput (GOPS).
    pub gops: f64,
    /// Published efficiency (GOPS/W), when given.
    pub gops_per_watt: Option<f64>,
}

/// Input of [`gops`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GopsData {
    /// Chart title; blank gives "Throughput and efficiency beside prior
    /// FPGA training accelerators".
    pub title: String,
    /// The modelled SAT, one row per method.
    pub modelled: Vec<GopsRow>,
    /// Published figures, drawn after the modelled bars.
    pub prior: Vec<PriorWork>,
}

struct GopsPlot<'a>(&'a GopsData, String);

/// (label, GOPS, GOPS/W, colour index) of every bar, modelled first.
fn rows(d: &GopsData) -> Vec<(String, f64, Option<f64>, usize)> {
    let modelled = d.modelled.iter().map(|r| (r.method.clone(), r.gops, r.gops_per_watt, 0));
    modelled.chain(d.prior.iter().map(|p| (p.name.clone(), p.gops, p.gops_per_watt, 1))).collect()
}

/// One panel of bars, `pick` choosing the value of a row.
fn panel(rows: &[(String, f64, Option<f64>, usize)], pick: impl Fn(f64, Option<f64>) -> Option<f64>) -> Panel {
    let bars = rows
        .iter()
        .enumerate()
        .map(|(cat, (_, g, w, c))| {
            let v = pick(*g, *w).map(clean);
            let note = Some(v.filter(|v| *v > 0.0).map(|v| format!("{v:.0}")).unwrap_or_else(|| "n/a".into()));
            Bar { cat, slot: 0, slots: 1, value: v.unwrap_or(0.0), color: color(*c), tick: None, note }
        })
        .collect();
    Panel {
        labels: rows.iter().map(|r| r.0.clone()).collect(),
        bars,
        hlines: Vec::new(),
        x_desc: "design".into(),
        y_desc: String::new(),
    }
}

impl Plot for GopsPlot<'_> {
    fn size(&self) -> (u32, u32) {
        let n = (self.0.modelled.len() + self.0.prior.len()) as u32;
        ((360 + 2 * 60 * n).max(1100), 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let legend = [
            Entry::new("SAT, modelled (this work)", color(0), Mark::Box),
            Entry::new("published FPGA accelerators", color(1), Mark::Box),
        ];
        let plot = frame(root, &self.1, &legend)?;
        let rows = rows(self.0);
        let half = plot.dim_in_pixel().0 / 2;
        let (left, right) = plot.split_horizontally(half);
        let mut gops = panel(&rows, |g, _| Some(g));
        gops.y_desc = "throughput (GOPS)".into();
        gops.draw(root, &left)?;
        let mut eff = panel(&rows, |_, w| w);
        eff.y_desc = "efficiency (GOPS/W)".into();
        eff.draw(root, &right)
    }
}

/// Two panels of bars: GOPS and GOPS/W per design, the modelled SAT's bars
/// in one colour and the published ones in another; a design without a
/// published efficiency is marked "n/a".
pub fn gops(data: &GopsData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Throughput and efficiency beside prior FPGA training accelerators");
    render("gops", &title, &GopsPlot(data, title.clone()))
}
