//! Chart 4: PE-array utilisation per layer, one line per pass.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::{CategoryAxis, Y_AREA, desc_style};
use super::frame::{Entry, Mark, frame, no_data};
use super::style::{GRID, LABEL_PX, clean, color, text};
use super::{Chart, ChartError, Plot, render, title_or};

/// One pass's utilisation across the layers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UtilisationSeries {
    /// Pass (`FP`, `BP`, `WG`).
    pub pass: String,
    /// Utilisation (fraction of MAC slots doing useful work, 0 to 1) per
    /// [`UtilisationData::layers`], same order; `None` where the layer has
    /// no such pass.
    pub values: Vec<Option<f64>>,
}

/// Input of [`utilisation`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UtilisationData {
    /// Chart title; blank gives "PE utilisation per layer".
    pub title: String,
    /// Layers, left to right.
    pub layers: Vec<String>,
    /// One line per pass.
    pub series: Vec<UtilisationSeries>,
}

struct UtilisationPlot<'a>(&'a UtilisationData, String);

impl UtilisationPlot<'_> {
    /// The points of series `s` in percent, `None` where it has none.
    fn points(&self, s: &UtilisationSeries) -> Vec<Option<(f64, f64)>> {
        (0..self.0.layers.len())
            .map(|i| s.values.get(i).copied().flatten().map(|v| (i as f64 + 0.5, clean(v) * 100.0)))
            .collect()
    }
}

impl Plot for UtilisationPlot<'_> {
    fn size(&self) -> (u32, u32) {
        ((360 + 16 * self.0.layers.len() as u32).max(1000), 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let d = self.0;
        let legend: Vec<Entry> =
            d.series.iter().enumerate().map(|(i, s)| Entry::new(s.pass.clone(), color(i), Mark::Dot)).collect();
        let plot = frame(root, &self.1, &legend)?;
        let axis = CategoryAxis::new(root, &d.layers, plot.dim_in_pixel().0.saturating_sub(Y_AREA + 30))?;
        let series: Vec<Vec<Option<(f64, f64)>>> = d.series.iter().map(|s| self.points(s)).collect();
        let max = series.iter().flatten().flatten().map(|p| p.1).fold(100.0, f64::max);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(axis.area_px)
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(axis.range(), 0.0..max * 1.05)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(11)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(text(LABEL_PX, &BLACK))
            .axis_desc_style(desc_style())
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .x_desc("layer")
            .y_desc("PE utilisation (%)")
            .draw()?;
        for (i, points) in series.iter().enumerate() {
            let c = color(i);
            for pair in points.windows(2) {
                if let [Some(a), Some(b)] = pair {
                    chart.draw_series([PathElement::new(vec![*a, *b], c.stroke_width(2))])?;
                }
            }
            chart.draw_series(points.iter().flatten().map(|p| Circle::new(*p, 4, c.filled())))?;
        }
        axis.draw(root, |x| chart.backend_coord(&(x, 0.0)))?;
        if axis.len() == 0 || series.iter().flatten().all(Option::is_none) {
            no_data(root, chart.backend_coord(&(axis.range().end / 2.0, max / 2.0)))?;
        }
        Ok(())
    }
}

/// Lines with markers of PE utilisation (%) per layer, one per pass.
pub fn utilisation(data: &UtilisationData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "PE utilisation per layer");
    render("utilisation", &title, &UtilisationPlot(data, title.clone()))
}
