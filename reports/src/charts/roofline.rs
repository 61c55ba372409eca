//! Chart 5: the roofline of a config, every layer and pass as a point.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axes::desc_style;
use super::frame::{Entry, Mark, frame, no_data};
use super::style::{GRID, LABEL_PX, color, si, text};
use super::{Chart, ChartError, Plot, render, title_or};

/// One layer in one pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RooflinePoint {
    /// Layer name.
    pub layer: String,
    /// Pass (`FP`, `BP`, `WG`, `WU`); points are coloured by it.
    pub pass: String,
    /// Arithmetic intensity: dense-equivalent operations per DRAM byte.
    pub intensity: f64,
    /// Attained throughput (GOPS, dense-equivalent).
    pub gops: f64,
}

/// Input of [`roofline`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RooflineData {
    /// Chart title; blank gives "Roofline".
    pub title: String,
    /// The compute roof: the config's peak throughput (GOPS).
    pub peak_gops: f64,
    /// The DRAM roof's slope: the config's DRAM bandwidth (GB/s).
    pub dram_gbps: f64,
    /// The points; those with a zero, negative or non-finite coordinate
    /// cannot sit on log axes and are left out.
    pub points: Vec<RooflinePoint>,
}

struct RooflinePlot<'a>(&'a RooflineData, String);

/// Colours of the two roofs.
const COMPUTE_ROOF: RGBColor = RGBColor(40, 40, 40);
const DRAM_ROOF: RGBColor = RGBColor(200, 30, 30);

/// Positive and finite.
fn ok(v: f64) -> bool {
    v.is_finite() && v > 0.0 && (1e-30..1e30).contains(&v)
}

/// Whole decades around `lo..hi`, at least one decade wide; `fallback`
/// when there is nothing to bound.
fn decades(lo: f64, hi: f64, fallback: (f64, f64)) -> (f64, f64) {
    if !(ok(lo) && ok(hi)) {
        return fallback;
    }
    let a = 10f64.powf((lo / 2.0).log10().floor());
    let b = 10f64.powf((hi * 2.0).log10().ceil());
    if b > a * 9.99 { (a, b) } else { (a, a * 10.0) }
}

impl RooflinePlot<'_> {
    /// Passes in order of first appearance (colour index = position).
    fn passes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.0.points {
            if !out.contains(&p.pass) {
                out.push(p.pass.clone());
            }
        }
        out
    }

    /// The axis ranges: points, the ridge and the peak all inside.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let d = self.0;
        let pts = d.points.iter().filter(|p| ok(p.intensity) && ok(p.gops));
        let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = pts.map(|p| (p.intensity, p.gops)).unzip();
        if ok(d.peak_gops) {
            ys.push(d.peak_gops);
            if ok(d.dram_gbps) && ok(d.peak_gops / d.dram_gbps) {
                xs.push(d.peak_gops / d.dram_gbps);
            }
        }
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
        (decades(min(&xs), max(&xs), (0.1, 1000.0)), decades(min(&ys), max(&ys), (1.0, 10000.0)))
    }
}

impl Plot for RooflinePlot<'_> {
    fn size(&self) -> (u32, u32) {
        (1000, 660)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let d = self.0;
        let (peak, bw) = (d.peak_gops, d.dram_gbps);
        let mut legend = Vec::new();
        if ok(peak) {
            legend.push(Entry::new(format!("compute roof: {} GOPS", si(peak)), COMPUTE_ROOF, Mark::Line));
        }
        if ok(bw) {
            legend.push(Entry::new(format!("DRAM roof: {} GB/s", si(bw)), DRAM_ROOF, Mark::Line));
        }
        let passes = self.passes();
        legend.extend(passes.iter().enumerate().map(|(i, p)| Entry::new(p.clone(), color(i), Mark::Dot)));
        let plot = frame(root, &self.1, &legend)?;
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&|v| si(*v))
            .y_label_formatter(&|v| si(*v))
            .label_style(text(LABEL_PX, &BLACK))
            .axis_desc_style(desc_style())
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .x_desc("arithmetic intensity (operations per DRAM byte)")
            .y_desc("throughput (GOPS)")
            .draw()?;
        let ridge = if ok(peak) && ok(bw) {
            (peak / bw).clamp(x0, x1)
        } else if ok(bw) {
            x1
        } else {
            x0
        };
        if ok(bw) {
            // From where the DRAM roof enters the plot up to the ridge.
            let start = (y0 / bw).clamp(x0, ridge);
            let end = if ok(peak) { ridge } else { (y1 / bw).clamp(start, x1) };
            if end > start {
                let line = vec![(start, bw * start), (end, bw * end)];
                chart.draw_series([PathElement::new(line, DRAM_ROOF.stroke_width(2))])?;
            }
        }
        if ok(peak) && ridge < x1 {
            let line = vec![(ridge, peak.clamp(y0, y1)), (x1, peak.clamp(y0, y1))];
            chart.draw_series([PathElement::new(line, COMPUTE_ROOF.stroke_width(2))])?;
        }
        let shown: Vec<&RooflinePoint> = d.points.iter().filter(|p| ok(p.intensity) && ok(p.gops)).collect();
        for (i, pass) in passes.iter().enumerate() {
            let c = color(i);
            let pts = shown.iter().filter(|p| &p.pass == pass);
            chart.draw_series(pts.map(|p| Circle::new((p.intensity, p.gops), 5, c.mix(0.75).filled())))?;
        }
        if shown.is_empty() {
            no_data(root, chart.backend_coord(&((x0 * x1).sqrt(), (y0 * y1).sqrt())))?;
        }
        Ok(())
    }
}

/// Log-log roofline: the DRAM roof rising to the ridge, the compute roof
/// flat after it, every layer and pass a point coloured by pass.
pub fn roofline(data: &RooflineData) -> Result<Chart, ChartError> {
    let title = title_or(&data.title, "Roofline");
    render("roofline", &title, &RooflinePlot(data, title.clone()))
}
