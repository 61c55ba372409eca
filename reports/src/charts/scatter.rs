//! Chart 9: the design points of an exploration on two objectives, the
//! Pareto front highlighted and named configs (presets) marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::desc_style;
use super::frame::{Entry, Mark, frame, no_data};
use plotters::coord::types::RangedCoordf64;
use plotters::style::text_anchor::{HPos, VPos};

use super::style::{GRID, LABEL_PX, anchored, color, si, text};
use super::{Chart, ChartError, Plot, render, title_or};

/// A named point drawn on top of the others (a preset, the default config).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MarkedPoint {
    /// Its name, written beside it and in the legend.
    pub label: String,
    /// Its x value.
    pub x: f64,
    /// Its y value.
    pub y: f64,
}

/// Input of [`scatter`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScatterData {
    /// Chart title; blank gives "Design points".
    pub title: String,
    /// File stem of the chart (`front-1`, ...); blank gives `scatter`.
    pub name: String,
    /// x axis description with its unit.
    pub x_desc: String,
    /// y axis description with its unit.
    pub y_desc: String,
    /// Every feasible point (x, y), drawn light.
    pub points: Vec<(f64, f64)>,
    /// The non-dominated points, drawn strong.
    pub front: Vec<(f64, f64)>,
    /// Join the front's points in x order (a 2-D front); a front of more
    /// objectives, projected, is left unjoined.
    pub join_front: bool,
    /// Named points drawn last.
    pub marked: Vec<MarkedPoint>,
}

/// Colour of the ordinary points.
const CLOUD: RGBColor = RGBColor(170, 170, 170);
/// Colour of the front.
const FRONT: RGBColor = RGBColor(31, 119, 180);

/// An axis: its values mapped to plot coordinates, logarithmic when they
/// span more than 10x and are all positive.
#[derive(Debug, Clone, Copy)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    fn of(values: impl Iterator<Item = f64>) -> Axis {
        let v: Vec<f64> = values.filter(|v| v.is_finite()).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !(lo.is_finite() && hi.is_finite()) {
            return Axis { log: false, lo: 0.0, hi: 1.0 };
        }
        let log = lo > 0.0 && hi / lo > 10.0;
        let (a, b) = if log { (lo.log10(), hi.log10()) } else { (lo, hi) };
        let pad = if b > a { (b - a) * 0.06 } else { a.abs().max(1.0) * 0.1 };
        let lo = if log { a - pad } else { (a - pad).max(if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY }) };
        Axis { log, lo, hi: b + pad }
    }

    /// The plot coordinate of `v`, or `None` when it cannot be drawn.
    fn map(&self, v: f64) -> Option<f64> {
        match (v.is_finite(), self.log) {
            (false, _) => None,
            (true, true) if v > 0.0 => Some(v.log10()),
            (true, true) => None,
            (true, false) => Some(v),
        }
    }

    fn label(&self, c: f64) -> String {
        eng(if self.log { 10f64.powf(c) } else { c })
    }

    fn desc(&self, d: &str) -> String {
        if self.log { format!("{d} (log scale)") } else { d.to_string() }
    }
}

struct ScatterPlot<'a>(&'a ScatterData, String);

impl Plot for ScatterPlot<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 660)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let d = self.0;
        let all = d.points.iter().chain(&d.front).copied().chain(d.marked.iter().map(|m| (m.x, m.y)));
        let (xs, ys): (Vec<f64>, Vec<f64>) = all.unzip();
        let (ax, ay) = (Axis::of(xs.into_iter()), Axis::of(ys.into_iter()));
        let mut legend = vec![
            Entry::new(format!("feasible configs ({})", d.points.len()), CLOUD, Mark::Dot),
            Entry::new(
                format!("Pareto front ({})", d.front.len()),
                FRONT,
                if d.join_front { Mark::Line } else { Mark::Dot },
            ),
        ];
        legend.extend(d.marked.iter().enumerate().map(|(i, m)| Entry::new(m.label.clone(), marker(i), Mark::Box)));
        let plot = frame(root, &self.1, &legend)?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(ax.lo..ax.hi, ay.lo..ay.hi)?;
        chart
            .configure_mesh()
            .x_labels(if ax.log { 0 } else { 8 })
            .y_labels(if ay.log { 0 } else { 8 })
            .x_label_formatter(&|v| ax.label(*v))
            .y_label_formatter(&|v| ay.label(*v))
            .label_style(text(LABEL_PX, &BLACK))
            .axis_desc_style(desc_style())
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .x_desc(ax.desc(&d.x_desc))
            .y_desc(ay.desc(&d.y_desc))
            .draw()?;
        log_ticks(&chart, root, ax, ay)?;
        let at = |(x, y): (f64, f64)| Some((ax.map(x)?, ay.map(y)?));
        let cloud: Vec<(f64, f64)> = d.points.iter().filter_map(|p| at(*p)).collect();
        chart.draw_series(cloud.iter().map(|p| Circle::new(*p, 3, CLOUD.mix(0.8).filled())))?;
        let mut front: Vec<(f64, f64)> = d.front.iter().filter_map(|p| at(*p)).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        if d.join_front {
            chart.draw_series([PathElement::new(front.clone(), FRONT.stroke_width(2))])?;
        }
        chart.draw_series(front.iter().map(|p| Circle::new(*p, 5, FRONT.filled())))?;
        for (i, m) in d.marked.iter().enumerate() {
            let Some(p) = at((m.x, m.y)) else { continue };
            let c = marker(i);
            let (px, py) = chart.backend_coord(&p);
            root.draw(&Rectangle::new([(px - 7, py - 7), (px + 7, py + 7)], c.filled()))?;
            root.draw(&Rectangle::new([(px - 7, py - 7), (px + 7, py + 7)], BLACK.stroke_width(1)))?;
            root.draw_text(&m.label, &text(LABEL_PX, &BLACK), (px + 10, py - 16))?;
        }
        if cloud.is_empty() && front.is_empty() {
            no_data(root, chart.backend_coord(&((ax.lo + ax.hi) / 2.0, (ay.lo + ay.hi) / 2.0)))?;
        }
        Ok(())
    }
}

/// Tick positions of a log axis spanning `lo..hi` (decimal exponents):
/// 1, 2 and 5 times each power of ten, or only the powers when the axis
/// spans more than three decades.
fn log_tick_values(lo: f64, hi: f64) -> Vec<f64> {
    let steps: &[f64] = if hi - lo > 3.0 { &[1.0] } else { &[1.0, 2.0, 5.0] };
    let (first, last) = (lo.floor() as i32, hi.ceil() as i32);
    (first..=last)
        .flat_map(|e| steps.iter().map(move |k| (k * 10f64.powi(e)).log10()))
        .filter(|c| (lo..=hi).contains(c))
        .collect()
}

/// Grid lines and labels at 1-2-5 ticks on the logarithmic axes (plotters
/// would label the plot coordinates, which are exponents, at round
/// exponents such as 10^2.5).
fn log_ticks<DB: DrawingBackend>(
    chart: &ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    root: &DrawingArea<DB, Shift>,
    ax: Axis,
    ay: Axis,
) -> Result<(), ChartError> {
    let below = anchored(LABEL_PX, HPos::Center, VPos::Top);
    let left = anchored(LABEL_PX, HPos::Right, VPos::Center);
    if ax.log {
        for c in log_tick_values(ax.lo, ax.hi) {
            let (top, bottom) = (chart.backend_coord(&(c, ay.hi)), chart.backend_coord(&(c, ay.lo)));
            root.draw(&PathElement::new(vec![top, bottom], GRID.stroke_width(1)))?;
            root.draw(&PathElement::new(vec![bottom, (bottom.0, bottom.1 + 5)], BLACK.stroke_width(1)))?;
            root.draw_text(&ax.label(c), &below, (bottom.0, bottom.1 + 8))?;
        }
    }
    if ay.log {
        for c in log_tick_values(ay.lo, ay.hi) {
            let (start, end) = (chart.backend_coord(&(ax.lo, c)), chart.backend_coord(&(ax.hi, c)));
            root.draw(&PathElement::new(vec![start, end], GRID.stroke_width(1)))?;
            root.draw(&PathElement::new(vec![(start.0 - 5, start.1), start], BLACK.stroke_width(1)))?;
            root.draw_text(&ay.label(c), &left, (start.0 - 8, start.1))?;
        }
    }
    Ok(())
}

/// A tick value: [`si`] from 1 up, with milli, micro and nano prefixes below
/// (seconds per step and joules are often fractions).
fn eng(v: f64) -> String {
    let a = v.abs();
    if !(v.is_finite() && a > 0.0 && a < 1.0) {
        return si(v);
    }
    let (scale, suffix) = if a >= 1e-3 {
        (1e3, "m")
    } else if a >= 1e-6 {
        (1e6, "µ")
    } else {
        (1e9, "n")
    };
    si(v * scale) + suffix
}

/// Colour of the `i`-th marked point (past the front's blue).
fn marker(i: usize) -> RGBColor {
    color(i + 1)
}

/// Scatter of design points on two objectives: every feasible point, the
/// Pareto front joined in x order, and the marked points as squares with
/// their names. Axes turn logarithmic when their values span more than 10x.
pub fn scatter(data: &ScatterData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Design points");
    let name = if data.name.trim().is_empty() { "scatter" } else { data.name.as_str() };
    render(name, &title, &ScatterPlot(data, title.clone()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_ticks_get_prefixes() {
        assert_eq!(super::eng(0.0123), "12.3m");
        assert_eq!(super::eng(4.5e-5), "45µ");
        assert_eq!(super::eng(2.0e-9), "2n");
        assert_eq!(super::eng(0.0), "0");
        assert_eq!(super::eng(1500.0), "1.5k");
        let t: Vec<String> = super::log_tick_values(-1.2, 0.5).iter().map(|c| super::eng(10f64.powf(*c))).collect();
        assert_eq!(t, ["100m", "200m", "500m", "1", "2"]);
    }
}
