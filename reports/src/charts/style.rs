//! What every chart shares: the embedded font, the palette, text styles and
//! the number formatting of axis ticks.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

/// The font family every chart names. PNG text is drawn with the embedded
/// DejaVu Sans registered under this name (no system font lookup); SVG text
/// carries it as a CSS family list, so a viewer with DejaVu Sans shows the
/// same metrics the layout was computed with and any other falls back to its
/// sans-serif.
pub const FONT: &str = "DejaVu Sans, sans-serif";

/// DejaVu Sans (Bitstream Vera licence, `reports/fonts/LICENSE`).
pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

/// Registers the embedded font once per process; `false` when the font data
/// does not parse (it always does: the bytes are compiled in).
pub(crate) fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok())
}

/// Title size in pixels.
pub(crate) const TITLE_PX: u32 = 22;
/// Axis description size.
pub(crate) const DESC_PX: u32 = 15;
/// Tick label and legend size.
pub(crate) const LABEL_PX: u32 = 13;
/// The longest category label drawn under an axis, in characters.
pub(crate) const MAX_LABEL_CHARS: usize = 18;

/// The text style of `px` pixels in `color`.
pub(crate) fn text(px: u32, color: &RGBColor) -> TextStyle<'static> {
    (FONT, px).into_font().color(color)
}

/// Text of `px` pixels anchored at `h`, `v`.
pub(crate) fn anchored(px: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    text(px, &BLACK).pos(Pos::new(h, v))
}

/// Ten-plus-ten distinguishable colours (Tableau 10, then their light
/// variants); series past twenty repeat them.
const PALETTE: [(u8, u8, u8); 20] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (199, 199, 199),
    (219, 219, 141),
    (158, 218, 229),
];

/// The colour of series `i`.
pub(crate) fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Light grey of grid lines.
pub(crate) const GRID: RGBColor = RGBColor(225, 225, 225);

/// A finite, non-negative value: NaN, infinities and negatives become 0 (the
/// charts plot counts, energies and rates, none of which is negative).
pub(crate) fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// A tick value with an SI suffix (`950`, `1.2k`, `3.4M`, `5G`), trailing
/// zeros dropped.
pub fn si(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let mut s = format!("{scaled:.2}");
    while s.contains('.') && (s.ends_with('0') || s.ends_with('.')) {
        s.pop();
    }
    if s == "-0" {
        s = "0".into();
    }
    s + suffix
}

/// `s` cut to at most `max` characters, the cut marked by an ellipsis.
pub fn abbreviate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = s.chars().take(keep).collect();
    out.push('…');
    out
}

/// An energy axis in joules scaled to a readable prefix: the factor to
/// multiply joules by and the unit's name.
pub(crate) fn energy_unit(max_joules: f64) -> (f64, &'static str) {
    match max_joules {
        m if m >= 1.0 => (1.0, "J"),
        m if m >= 1e-3 => (1e3, "mJ"),
        m if m >= 1e-6 => (1e6, "µJ"),
        m if m >= 1e-9 => (1e9, "nJ"),
        _ => (1e12, "pJ"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_and_abbreviation() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(950.0), "950");
        assert_eq!(si(1200.0), "1.2k");
        assert_eq!(si(3_400_000.0), "3.4M");
        assert_eq!(si(0.25), "0.25");
        assert_eq!(si(f64::NAN), "");
        assert_eq!(abbreviate("layer1.0.conv1", 8), "layer1.…");
        assert_eq!(abbreviate("fc", 8), "fc");
        assert_eq!(energy_unit(2e-4), (1e6, "µJ"));
        assert!(font_ready());
    }
}
