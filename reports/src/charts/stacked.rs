//! Stacked bars over categories: the drawing behind the cycles and energy
//! charts.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{CategoryAxis, Y_AREA, desc_style, headroom};
use super::frame::{Entry, Mark, frame, no_data};
use super::style::{GRID, LABEL_PX, clean, color, si, text};
use super::{ChartError, Plot};

/// A stacked-bar chart: one bar per `bars` entry, segment `s` of each bar
/// is `values[s]` of series `series[s]`, bottom to top.
pub(crate) struct Stacked {
    pub title: String,
    pub series: Vec<String>,
    pub bars: Vec<(String, Vec<f64>)>,
    pub x_desc: String,
    pub y_desc: String,
    /// Values are multiplied by this before drawing (unit scaling).
    pub scale: f64,
    /// Pixels per bar when the chart is wide enough to need it.
    pub pitch: u32,
}

impl Stacked {
    /// Value of series `s` in bar `b`, cleaned and scaled.
    fn value(&self, values: &[f64], s: usize) -> f64 {
        clean(values.get(s).copied().unwrap_or(0.0) * self.scale)
    }

    /// The bar's total (only the named series count).
    fn total(&self, values: &[f64]) -> f64 {
        (0..self.series.len()).map(|s| self.value(values, s)).sum()
    }

    fn legend(&self) -> Vec<Entry> {
        self.series
            .iter()
            .enumerate()
            .filter(|(s, _)| self.bars.iter().any(|(_, v)| self.value(v, *s) > 0.0))
            .map(|(s, name)| Entry::new(name.clone(), color(s), Mark::Box))
            .collect()
    }
}

impl Plot for Stacked {
    fn size(&self) -> (u32, u32) {
        let w = (360 + self.pitch.saturating_mul(self.bars.len() as u32)).max(1000);
        (w, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let plot = frame(root, &self.title, &self.legend())?;
        let labels: Vec<String> = self.bars.iter().map(|(l, _)| l.clone()).collect();
        let axis = CategoryAxis::new(root, &labels, plot.dim_in_pixel().0.saturating_sub(Y_AREA + 30))?;
        let max = self.bars.iter().map(|(_, v)| self.total(v)).fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(axis.area_px)
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(axis.range(), 0.0..headroom(max))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(8)
            .y_label_formatter(&|v| si(*v))
            .label_style(text(LABEL_PX, &BLACK))
            .axis_desc_style(desc_style())
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .draw()?;
        let mut rects = Vec::new();
        for (i, (_, values)) in self.bars.iter().enumerate() {
            let mut lo = 0.0;
            for s in 0..self.series.len() {
                let v = self.value(values, s);
                if v > 0.0 {
                    let x = i as f64;
                    rects.push(Rectangle::new([(x + 0.15, lo), (x + 0.85, lo + v)], color(s).filled()));
                    lo += v;
                }
            }
        }
        chart.draw_series(rects)?;
        axis.draw(root, |x| chart.backend_coord(&(x, 0.0)))?;
        if axis.len() == 0 {
            no_data(root, chart.backend_coord(&(0.5, headroom(max) / 2.0)))?;
        }
        Ok(())
    }
}
