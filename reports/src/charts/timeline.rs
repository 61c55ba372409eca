//! Chart 8: one step's timeline, per unit the intervals it was busy,
//! downsampled to a bounded number of rectangles.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::desc_style;
use super::frame::{Entry, Mark, frame, no_data};
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{GRID, LABEL_PX, abbreviate, anchored, color, si, text};
use super::{Chart, ChartError, Plot, render, title_or};

/// One unit's busy intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitTimeline {
    /// Unit (`PE array`, `DMA`, `vector unit`, `sparsifier`).
    pub unit: String,
    /// Busy intervals `[start, end)` in cycles, in any order, overlapping
    /// or not (overlaps count once).
    pub intervals: Vec<(u64, u64)>,
}

/// Input of [`timeline`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineData {
    /// Chart title; blank gives "Timeline of one training step".
    pub title: String,
    /// Length of the step in cycles; 0 takes the latest interval end.
    pub total_cycles: u64,
    /// Clock (MHz): the axis is then in microseconds, else in cycles.
    pub clock_mhz: Option<f64>,
    /// One row per unit, top to bottom.
    pub units: Vec<UnitTimeline>,
    /// The most rectangles drawn per unit; 0 gives 400.
    pub max_rects: usize,
}

/// A stretch of a downsampled timeline: `[start, end)` cycles, `busy` the
/// fraction of it the unit was busy (0 < busy <= 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// First cycle.
    pub start: u64,
    /// One past the last cycle.
    pub end: u64,
    /// Busy fraction.
    pub busy: f64,
}

/// The union of `intervals` clipped to `[0, total)`, sorted.
fn union(intervals: &[(u64, u64)], total: u64) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> =
        intervals.iter().map(|&(s, e)| (s.min(total), e.min(total))).filter(|(s, e)| s < e).collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `[0, total)` cut into at most `bins` equal bins (fewer when `total` is
/// smaller), each with the fraction of it covered by `intervals`; empty bins
/// are dropped and runs of fully busy bins merged, so the result has at
/// most `bins` spans and the busy cycles it describes equal the union's.
pub fn downsample(intervals: &[(u64, u64)], total: u64, bins: usize) -> Vec<Span> {
    let bins = (bins.max(1) as u64).min(total.max(1));
    if total == 0 {
        return Vec::new();
    }
    let edge = |k: u64| (total as u128 * k as u128 / bins as u128) as u64;
    // The bin holding cycle `c`: the proportional guess, corrected by one
    // where the rounded-down edges disagree with it.
    let bin_of = |c: u64| {
        let mut b = ((c as u128 * bins as u128 / total as u128) as u64).min(bins - 1);
        while b + 1 < bins && edge(b + 1) <= c {
            b += 1;
        }
        while b > 0 && edge(b) > c {
            b -= 1;
        }
        b
    };
    let mut busy = vec![0u64; bins as usize];
    for (s, e) in union(intervals, total) {
        for b in bin_of(s)..=bin_of(e - 1) {
            let (lo, hi) = (edge(b).max(s), edge(b + 1).min(e));
            busy[b as usize] += hi.saturating_sub(lo);
        }
    }
    let mut out: Vec<Span> = Vec::new();
    for (b, &cycles) in busy.iter().enumerate() {
        let (start, end) = (edge(b as u64), edge(b as u64 + 1));
        if cycles == 0 || end == start {
            continue;
        }
        let full = cycles == end - start;
        match out.last_mut() {
            Some(last) if full && last.busy >= 1.0 && last.end == start => last.end = end,
            _ => out.push(Span { start, end, busy: cycles as f64 / (end - start) as f64 }),
        }
    }
    out
}

struct TimelinePlot<'a>(&'a TimelineData, String);

impl TimelinePlot<'_> {
    fn total(&self) -> u64 {
        let d = self.0;
        if d.total_cycles > 0 {
            return d.total_cycles;
        }
        d.units.iter().flat_map(|u| u.intervals.iter().map(|i| i.1)).max().unwrap_or(0)
    }

    /// Cycles to axis units, and the axis description.
    fn scale(&self) -> (f64, &'static str) {
        match self.0.clock_mhz {
            Some(f) if f.is_finite() && f > 0.0 => (1.0 / f, "time (µs)"),
            _ => (1.0, "cycles"),
        }
    }
}

impl Plot for TimelinePlot<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, (200 + 60 * self.0.units.len() as u32).max(420))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let d = self.0;
        let total = self.total();
        let bins = if d.max_rects == 0 { 400 } else { d.max_rects };
        let rows: Vec<Vec<Span>> = d.units.iter().map(|u| downsample(&u.intervals, total, bins)).collect();
        let legend: Vec<Entry> = d
            .units
            .iter()
            .zip(&rows)
            .enumerate()
            .map(|(i, (u, spans))| {
                let busy: f64 = spans.iter().map(|s| s.busy * (s.end - s.start) as f64).sum();
                let pct = if total > 0 { 100.0 * busy / total as f64 } else { 0.0 };
                Entry::new(format!("{} (busy {pct:.1} %)", u.unit), color(i), Mark::Box)
            })
            .collect();
        let plot = frame(root, &self.1, &legend)?;
        let (scale, x_desc) = self.scale();
        let n = d.units.len().max(1);
        let x_end = (total.max(1) as f64 * scale).max(f64::MIN_POSITIVE);
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..x_end, 0.0..n as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(10)
            .x_label_formatter(&|v| si(*v))
            .y_labels(0)
            .label_style(text(LABEL_PX, &BLACK))
            .axis_desc_style(desc_style())
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .x_desc(x_desc)
            .y_desc("unit")
            .draw()?;
        let name_style = anchored(LABEL_PX, HPos::Right, VPos::Center);
        for (i, spans) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let c = color(i);
            let (px, py) = chart.backend_coord(&(0.0, y + 0.5));
            root.draw_text(&abbreviate(&d.units[i].unit, 16), &name_style, (px - 8, py))?;
            chart.draw_series(spans.iter().map(|s| {
                let (x0, x1) = (s.start as f64 * scale, s.end as f64 * scale);
                Rectangle::new([(x0, y + 0.15), (x1, y + 0.85)], c.mix(s.busy.max(0.2)).filled())
            }))?;
        }
        if rows.iter().all(Vec::is_empty) {
            no_data(root, chart.backend_coord(&(x_end / 2.0, n as f64 / 2.0)))?;
        }
        Ok(())
    }
}

/// Rows of busy rectangles, one row per unit, each shaded by how busy the
/// unit was in it (solid when busy throughout).
pub fn timeline(data: &TimelineData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Timeline of one training step");
    render("timeline", &title, &TimelinePlot(data, title.clone()))
}
