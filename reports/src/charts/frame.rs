//! The frame around every chart: white canvas, title band, legend strip on
//! the right, and the "no data" note.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::ChartError;
use super::style::{LABEL_PX, TITLE_PX, abbreviate, anchored, text};

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A filled square (bars, stacks, intervals).
    Box,
    /// A solid line (roofs).
    Line,
    /// A dashed line (reference lines).
    Dashed,
    /// A filled circle (scatter points, line markers).
    Dot,
    /// A short thick horizontal tick (bounds drawn over bars).
    Tick,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub label: String,
    pub color: RGBColor,
    pub mark: Mark,
}

impl Entry {
    pub fn new(label: impl Into<String>, color: RGBColor, mark: Mark) -> Self {
        Entry { label: label.into(), color, mark }
    }
}

/// The longest legend label, in characters.
const LEGEND_CHARS: usize = 40;
/// Height of one legend row.
const ROW_PX: i32 = 20;
/// Height of the title band.
const TITLE_BAND: u32 = 40;

/// Fills the canvas, draws the title and the legend, and returns the area
/// left for the plot.
pub(crate) fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    legend: &[Entry],
) -> Result<DrawingArea<DB, Shift>, ChartError> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let title_style = anchored(TITLE_PX, HPos::Center, VPos::Center);
    let title = abbreviate(title, 110);
    root.draw_text(&title, &title_style, (w as i32 / 2, TITLE_BAND as i32 / 2))?;
    let (_, body) = root.split_vertically(TITLE_BAND);
    if legend.is_empty() {
        return Ok(body);
    }
    let label_style = text(LABEL_PX, &BLACK);
    let mut widest = 0u32;
    for e in legend {
        let (tw, _) = root.estimate_text_size(&abbreviate(&e.label, LEGEND_CHARS), &label_style)?;
        widest = widest.max(tw);
    }
    let strip = (widest + 56).min(w / 3);
    let (plot, strip_area) = body.split_horizontally(w - strip);
    draw_legend(&strip_area, legend, h.saturating_sub(TITLE_BAND))?;
    Ok(plot)
}

/// The legend entries top to bottom; those that do not fit are counted in a
/// last "+N more" row.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    legend: &[Entry],
    height: u32,
) -> Result<(), ChartError> {
    let fits = ((height as i32 - 30) / ROW_PX).max(1) as usize;
    let shown = if legend.len() > fits { fits - 1 } else { legend.len() };
    let style = anchored(LABEL_PX, HPos::Left, VPos::Center);
    for (i, e) in legend.iter().take(shown).enumerate() {
        let y = 20 + i as i32 * ROW_PX;
        draw_mark(area, e, (6, y))?;
        area.draw_text(&abbreviate(&e.label, LEGEND_CHARS), &style, (30, y))?;
    }
    if shown < legend.len() {
        let y = 20 + shown as i32 * ROW_PX;
        area.draw_text(&format!("+{} more", legend.len() - shown), &style, (30, y))?;
    }
    Ok(())
}

/// The entry's mark, 18 pixels wide, centred on `y`.
fn draw_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    e: &Entry,
    (x, y): (i32, i32),
) -> Result<(), ChartError> {
    let c = e.color;
    match e.mark {
        Mark::Box => area.draw(&Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()))?,
        Mark::Line => area.draw(&PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)))?,
        Mark::Dashed => {
            area.draw(&PathElement::new(vec![(x, y), (x + 6, y)], c.stroke_width(2)))?;
            area.draw(&PathElement::new(vec![(x + 12, y), (x + 18, y)], c.stroke_width(2)))?;
        }
        Mark::Dot => area.draw(&Circle::new((x + 9, y), 5, c.filled()))?,
        Mark::Tick => area.draw(&Rectangle::new([(x + 1, y - 2), (x + 17, y + 2)], c.filled()))?,
    }
    Ok(())
}

/// "no data" centred on `at` (backend pixels), for charts whose data is
/// empty.
pub(crate) fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, at: (i32, i32)) -> Result<(), ChartError> {
    let style = anchored(LABEL_PX + 3, HPos::Center, VPos::Center);
    root.draw_text("no data", &style, at)?;
    Ok(())
}
