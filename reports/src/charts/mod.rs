//! Charts of a compiled and simulated training step, as SVG text and PNG
//! bytes.
//!
//! Every chart takes plain data (the `*Data` structs below, filled by
//! whoever ran the pipeline) and returns a [`Chart`]: the same drawing once
//! through plotters' SVG backend and once through its bitmap backend,
//! encoded as PNG. Every chart has a title, axis descriptions with units and
//! a legend. Text in the PNG is drawn with the embedded DejaVu Sans, so
//! nothing depends on the fonts of the machine. The same data gives
//! byte-identical SVG and PNG (the rasterizer and the encoder are
//! deterministic; `tests::svg_and_png_are_deterministic` checks it).
//!
//! Data is taken as it comes: NaN, infinite or negative quantities are drawn
//! as zero (or left out where a zero cannot be drawn, as on the roofline's
//! log axes), and empty data draws the frame with a "no data" note rather
//! than failing.
//!
//! | chart | function | data |
//! | --- | --- | --- |
//! | cycles per layer and pass by stall cause | [`cycles`] | [`CyclesData`] |
//! | energy by unit and action per method | [`energy`] | [`EnergyData`] |
//! | speedup per model and method | [`speedup`] | [`SpeedupData`] |
//! | PE utilisation per layer and pass | [`utilisation`] | [`UtilisationData`] |
//! | roofline | [`roofline`] | [`RooflineData`] |
//! | dataflow ablation | [`ablation`] | [`AblationData`] |
//! | GOPS and GOPS/W beside prior accelerators | [`gops`] | [`GopsData`] |
//! | unit timeline of one step | [`timeline`] | [`TimelineData`] |
//! | design points, Pareto front and presets | [`scatter`] | [`ScatterData`] |

mod ablation;
mod axes;
mod bars;
mod cycles;
mod energy;
mod frame;
mod gops;
mod raster;
mod roofline;
pub mod samples;
mod scatter;
mod speedup;
mod stacked;
mod style;
mod timeline;
mod utilisation;

#[cfg(test)]
mod tests;

pub use ablation::{AblationData, AblationRow, ablation};
pub use cycles::{CyclesBar, CyclesData, cycles};
pub use energy::{EnergyBar, EnergyData, EnergySeries, energy};
pub use gops::{GopsData, GopsRow, PriorWork, gops};
pub use roofline::{RooflineData, RooflinePoint, roofline};
pub use scatter::{MarkedPoint, ScatterData, scatter};
pub use speedup::{ModelSpeedup, Reference, SpeedupData, speedup};
pub use style::{FONT, abbreviate, si};
pub use timeline::{Span, TimelineData, UnitTimeline, downsample, timeline};
pub use utilisation::{UtilisationData, UtilisationSeries, utilisation};

use plotters::coord::Shift;
use plotters::prelude::*;

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// File stem to save it under (`cycles`, `energy`, ...): `<name>.svg`,
    /// `<name>.png`.
    pub name: String,
    /// The title drawn on it (also the HTML figure's caption).
    pub title: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The SVG document (UTF-8, no XML declaration, so it can be inlined
    /// into HTML as is).
    pub svg: String,
    /// The PNG file (8-bit RGB).
    pub png: Vec<u8>,
}

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    /// The embedded font did not load.
    #[error("the embedded chart font did not load")]
    Font,
    /// A backend failed to draw.
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    /// Encoding the bitmap as PNG failed.
    #[error("encoding the chart as PNG failed: {0}")]
    Png(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// One chart's drawing, the same for every backend.
pub(crate) trait Plot {
    /// Canvas size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the whole chart on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>;
}

/// The largest canvas side; data that would ask for more is drawn denser.
pub(crate) const MAX_SIDE: u32 = 4000;

/// Draws `plot` through both backends.
pub(crate) fn render<P: Plot>(name: &str, title: &str, plot: &P) -> Result<Chart, ChartError> {
    if !style::font_ready() {
        return Err(ChartError::Font);
    }
    let (w, h) = plot.size();
    let (width, height) = (w.clamp(200, MAX_SIDE), h.clamp(150, MAX_SIDE));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        plot.draw(&root)?;
        root.present()?;
    }
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = raster::Raster(BitMapBackend::with_buffer(&mut rgb, (width, height))).into_drawing_area();
        plot.draw(&root)?;
        root.present()?;
    }
    let png = encode_png(&rgb, width, height)?;
    Ok(Chart { name: name.to_string(), title: title.to_string(), width, height, svg, png })
}

/// An 8-bit RGB buffer as a PNG file, with fixed encoder settings (no
/// timestamps or other chunks that vary).
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut writer = enc.write_header().map_err(|e| ChartError::Png(e.to_string()))?;
    writer.write_image_data(rgb).map_err(|e| ChartError::Png(e.to_string()))?;
    writer.finish().map_err(|e| ChartError::Png(e.to_string()))?;
    Ok(out)
}

/// `title`, or `default` when it is blank.
pub(crate) fn title_or(title: &str, default: &str) -> String {
    if title.trim().is_empty() { default.to_string() } else { title.to_string() }
}
