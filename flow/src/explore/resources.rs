//! A first resource model of a config on the VU9P, calibrated on the
//! synthesised presets (README, "RTL synthesis").
//!
//! - DSP48E2: one per multiplier (`PEs × lanes`) plus a fixed part measured
//!   on the presets (tiny 88 = 16 + 72, sat-mid 590 = 512 + 78, sat-vu9p
//!   2,125 = 2,048 + 77); a config takes the fixed part of the preset whose
//!   multiplier count is nearest.
//! - BRAM36: the operand buffers from their geometry, as the synthesis
//!   report counts them ([`nmsat_rtl::synth::params_buffer_bram36`]).
//! - LUT and FF: a least-squares line in `PEs × lanes` through the three
//!   presets' whole-design counts (tiny 2×2×4: 67,238 LUT / 8,171 FF;
//!   sat-mid 8×8×8: 211,634 / 30,445; sat-vu9p 16×16×8: 593,105 / 95,501).
//!   The fit is about 70,569 + 256.3·m LUT (residuals -7,432, +9,831,
//!   -2,400) and 7,929 + 42.8·m FF (residuals -444, +587, -143): a 3-point
//!   fit, good to about ±5 % at the presets and an extrapolation elsewhere.

use nmsat_dataflow::ArchConfig;
use nmsat_rtl::params::Params;
use serde::{Deserialize, Serialize};

/// The VU9P's resources: LUT, FF, DSP48E2, BRAM36.
pub const VU9P_LIMITS: Resources = Resources { lut: 1_182_240, ff: 2_364_480, dsp: 6_840, bram36: 2_160 };

/// Estimated resources of a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// LUTs.
    pub lut: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP48E2 slices.
    pub dsp: u64,
    /// 36-kbit block RAMs.
    pub bram36: u64,
}

/// (multipliers, whole-design LUT, FF, DSP) of the synthesised presets.
const PRESETS: [(f64, f64, f64, u64); 3] =
    [(16.0, 67_238.0, 8_171.0, 88), (512.0, 211_634.0, 30_445.0, 590), (2048.0, 593_105.0, 95_501.0, 2_125)];

/// Least-squares `(slope, intercept)` of `y` over `x`.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// The LUT and FF lines `(slope, intercept)`.
pub fn lut_ff_fit() -> ((f64, f64), (f64, f64)) {
    (fit(&PRESETS.map(|p| (p.0, p.1))), fit(&PRESETS.map(|p| (p.0, p.2))))
}

/// The estimated resources of `arch`.
pub fn estimate(arch: &ArchConfig) -> Resources {
    let m = arch.derived().multipliers;
    let fixed = PRESETS
        .iter()
        .min_by(|a, b| (a.0 - m as f64).abs().total_cmp(&(b.0 - m as f64).abs()))
        .map(|p| p.3 - p.0 as u64)
        .unwrap_or(77);
    let ((ls, li), (fs, fi)) = lut_ff_fit();
    let bram36 = nmsat_rtl::synth::params_buffer_bram36(&Params::new(arch, 10)).iter().map(|(_, n)| n).sum();
    Resources {
        lut: (li + ls * m as f64).round().max(0.0) as u64,
        ff: (fi + fs * m as f64).round().max(0.0) as u64,
        dsp: m + fixed,
        bram36,
    }
}
