//! A panel of bars over categories, side by side within a category: the
//! drawing behind the speedup, ablation and GOPS charts.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::ChartError;
use super::axes::{CategoryAxis, Y_AREA, dashed, desc_style, headroom};
use super::frame::no_data;
use super::style::{GRID, LABEL_PX, anchored, clean, text};

/// One bar.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    /// Category index.
    pub cat: usize,
    /// Position within the category, of `slots`.
    pub slot: usize,
    pub slots: usize,
    pub value: f64,
    pub color: RGBColor,
    /// A bound drawn as a black tick across the bar.
    pub tick: Option<f64>,
    /// Text above the bar.
    pub note: Option<String>,
}

/// A horizontal reference line across the plot.
#[derive(Debug, Clone)]
pub(crate) struct HLine {
    pub value: f64,
    pub color: RGBColor,
}

/// Bars over categories with their axes.
pub(crate) struct Panel {
    pub labels: Vec<String>,
    pub bars: Vec<Bar>,
    pub hlines: Vec<HLine>,
    pub x_desc: String,
    pub y_desc: String,
}

/// Fraction of a category's width the bars take.
const FILL: f64 = 0.8;

impl Panel {
    /// The largest value drawn (bars, ticks and lines).
    fn max(&self) -> f64 {
        let bars = self.bars.iter().flat_map(|b| [clean(b.value), b.tick.map(clean).unwrap_or(0.0)]);
        bars.chain(self.hlines.iter().map(|h| clean(h.value))).fold(0.0, f64::max)
    }

    /// The bar's x extent in category coordinates.
    fn extent(b: &Bar) -> (f64, f64) {
        let w = FILL / b.slots.max(1) as f64;
        let x0 = b.cat as f64 + (1.0 - FILL) / 2.0 + b.slot as f64 * w;
        (x0 + w * 0.05, x0 + w * 0.95)
    }

    /// Draws the panel in `area`; labels and notes go on `root`.
    pub fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), ChartError> {
        let axis = CategoryAxis::new(root, &self.labels, area.dim_in_pixel().0.saturating_sub(Y_AREA + 30))?;
        let top = headroom(self.max() * 1.05);
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(axis.area_px)
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(axis.range(), 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(8)
            .y_label_formatter(&|v| super::style::si(*v))
            .label_style(text(LABEL_PX, &BLACK))
            .axis_desc_style(desc_style())
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .draw()?;
        let drawn = self.bars.iter().filter(|b| clean(b.value) > 0.0);
        chart.draw_series(drawn.map(|b| {
            let (x0, x1) = Self::extent(b);
            Rectangle::new([(x0, 0.0), (x1, clean(b.value))], b.color.filled())
        }))?;
        for b in &self.bars {
            let (x0, x1) = Self::extent(b);
            if let Some(t) = b.tick.map(clean).filter(|t| *t > 0.0) {
                chart.draw_series([PathElement::new(vec![(x0, t), (x1, t)], BLACK.stroke_width(3))])?;
            }
            if let Some(note) = &b.note {
                let (x, y) = chart.backend_coord(&((x0 + x1) / 2.0, clean(b.value)));
                root.draw_text(note, &anchored(LABEL_PX - 2, HPos::Center, VPos::Bottom), (x, y - 3))?;
            }
        }
        let span = axis.range();
        for h in self.hlines.iter().filter(|h| clean(h.value) > 0.0) {
            let (x0, y) = chart.backend_coord(&(span.start, h.value));
            let (x1, _) = chart.backend_coord(&(span.end, h.value));
            dashed(root, (x0, x1), y, &h.color)?;
        }
        axis.draw(root, |x| chart.backend_coord(&(x, 0.0)))?;
        if axis.len() == 0 {
            no_data(root, chart.backend_coord(&(0.5, top / 2.0)))?;
        }
        Ok(())
    }
}
