//! Category axes (bars per layer, method or variant), the value axes' ranges
//! and the lines drawn across a plot.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::ChartError;
use super::style::{DESC_PX, LABEL_PX, MAX_LABEL_CHARS, abbreviate, anchored, text};

/// Width of the value-axis label area.
pub(crate) const Y_AREA: u32 = 80;
/// Space under a category's labels for the axis description.
const DESC_BAND: u32 = 30;
/// Pixels a rotated label needs across.
const ROTATED_PITCH: u32 = LABEL_PX + 4;

/// A categorical x axis: category `i` spans `[i, i + 1)` and is labelled
/// under `i + 0.5`. Labels that do not fit side by side are abbreviated and
/// turned upright, and thinned to every `step`-th when even upright ones
/// would overlap.
pub(crate) struct CategoryAxis {
    labels: Vec<String>,
    step: usize,
    rotate: bool,
    /// Height of the x label area, description included.
    pub area_px: u32,
}

impl CategoryAxis {
    /// Lays out `labels` for a plot about `plot_width` pixels wide.
    pub fn new<DB: DrawingBackend>(
        root: &DrawingArea<DB, Shift>,
        labels: &[String],
        plot_width: u32,
    ) -> Result<Self, ChartError> {
        let style = text(LABEL_PX, &BLACK);
        let widest = |labels: &[String]| -> Result<u32, ChartError> {
            let mut w = 0u32;
            for l in labels {
                w = w.max(root.estimate_text_size(l, &style)?.0);
            }
            Ok(w)
        };
        let slot = plot_width / labels.len().max(1) as u32;
        // Whole labels side by side when they fit, else abbreviated upright.
        let mut labels = labels.to_vec();
        let mut widest_px = widest(&labels)?;
        let rotate = widest_px + 8 > slot;
        if rotate {
            labels = labels.iter().map(|l| abbreviate(l, MAX_LABEL_CHARS)).collect();
            widest_px = widest(&labels)?;
        }
        let widest = widest_px;
        let step = if rotate { ROTATED_PITCH.div_ceil(slot.max(1)).max(1) as usize } else { 1 };
        let area_px = if rotate { widest + 12 } else { LABEL_PX + 12 } + DESC_BAND;
        Ok(CategoryAxis { labels, step, rotate, area_px })
    }

    /// Number of categories.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The x range: one unit per category (at least one, so an empty axis
    /// is still an axis).
    pub fn range(&self) -> std::ops::Range<f64> {
        0.0..self.labels.len().max(1) as f64
    }

    /// Draws the labels under the axis; `at(x)` is the backend pixel of the
    /// axis at category coordinate `x`.
    pub fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        at: impl Fn(f64) -> (i32, i32),
    ) -> Result<(), ChartError> {
        let style = if self.rotate {
            anchored(LABEL_PX, HPos::Right, VPos::Center).transform(FontTransform::Rotate270)
        } else {
            anchored(LABEL_PX, HPos::Center, VPos::Top)
        };
        for (i, l) in self.labels.iter().enumerate().step_by(self.step) {
            let (x, y) = at(i as f64 + 0.5);
            root.draw_text(l, &style, (x, y + 6))?;
            root.draw(&PathElement::new(vec![(x, y), (x, y + 4)], BLACK.stroke_width(1)))?;
        }
        Ok(())
    }
}

/// The top of a linear value axis showing `max`: a little headroom, and 1
/// when there is nothing to show.
pub(crate) fn headroom(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 { max * 1.08 } else { 1.0 }
}

/// A dashed horizontal line from `x0` to `x1` (backend pixels) at `y`.
pub(crate) fn dashed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x0, x1): (i32, i32),
    y: i32,
    color: &RGBColor,
) -> Result<(), ChartError> {
    let mut x = x0;
    while x < x1 {
        let end = (x + 8).min(x1);
        root.draw(&PathElement::new(vec![(x, y), (end, y)], color.stroke_width(2)))?;
        x += 14;
    }
    Ok(())
}

/// The axis-description style.
pub(crate) fn desc_style() -> TextStyle<'static> {
    text(DESC_PX, &BLACK)
}
