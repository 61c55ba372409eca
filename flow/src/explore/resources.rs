//! The resource model of a config on the VU9P, fitted to per-module
//! synthesis counts (`docs/resources.md`).
//!
//! `data/synth/modules.json` (written by `scripts/synth-modules`, which runs
//! `nmsat synth` one Yosys process per module) holds, for each synthesised
//! config, every module's instance count and own LUT, FF, DSP48E2 and BRAM36
//! (its submodules excluded). The model is one formula per module in the
//! config fields that drive it ([`MODULES`]), its coefficients a
//! least-squares fit to the `fit` configs of that file (embedded at compile
//! time, fitted once on first use: deterministic, no numbers typed in). A
//! config's estimate is `Σ instances(arch) × own(arch)` over the modules plus
//! the operand buffers' block RAMs from their geometry
//! ([`nmsat_rtl::synth::params_buffer_bram36`], as `nmsat synth` counts them).
//!
//! DSP48E2s are not fitted: each module's count is taken from the data where
//! it is one number over every synthesised config (every module outside the
//! PEs), and a PE has one per lane. The tests check the estimate against every
//! synthesised config, the held-back ones included.

use std::sync::OnceLock;

use nmsat_dataflow::ArchConfig;
use nmsat_rtl::params::{DEFAULT_IMEM_BITS, Params};
use serde::{Deserialize, Serialize};

use crate::error::FlowError;

/// The VU9P's resources: LUT, FF, DSP48E2, BRAM36.
pub const VU9P_LIMITS: Resources = Resources { lut: 1_182_240, ff: 2_364_480, dsp: 6_840, bram36: 2_160 };

/// The committed synthesis data the model is fitted to.
pub const DATA: &str = include_str!("../../../data/synth/modules.json");

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

/// `data/synth/modules.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct SynthData {
    /// The Yosys version line of every run.
    pub yosys: String,
    /// The synthesised configs, in `data/synth/configs.toml` order.
    pub configs: Vec<SynthConfig>,
}

/// Whether a config's counts are fitted or held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The model is fitted to its modules.
    Fit,
    /// Synthesised the same way, never fitted: the model's error on it is measured.
    Holdout,
}

/// One synthesised config.
#[derive(Debug, Clone, Deserialize)]
pub struct SynthConfig {
    /// Its name in the data (a config name, `.module` when only that module's hierarchy ran).
    pub name: String,
    /// Fitted or held back.
    pub role: Role,
    /// The synthesised hierarchy's top (`sat_top`: the whole design).
    pub top: String,
    /// `Design::hash` of its Verilog.
    pub design_hash: String,
    /// The config's TOML.
    pub arch: String,
    /// Every synthesised module: instances and own counts.
    pub modules: Vec<ModuleCount>,
    /// What `nmsat synth` reported for the whole hierarchy (buffers included).
    pub total: Total,
}

/// One module's counts in one config.
#[derive(Debug, Clone, Deserialize)]
pub struct ModuleCount {
    /// Module name.
    pub module: String,
    /// Instances in the synthesised hierarchy.
    pub instances: u64,
    /// LUTs of one instance, its submodules excluded.
    pub lut: u64,
    /// Flip-flops of one instance.
    pub ff: u64,
    /// DSP48E2s of one instance.
    pub dsp: u64,
    /// BRAM36 of one instance (a RAMB18 is one half).
    pub bram36: f64,
    /// The run's inputs, comment lines blanked, hashed: configs whose run
    /// of this module read the same Verilog share it (one fit point).
    pub run_key: String,
}

/// Totals as `nmsat synth` reported them.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Total {
    /// LUTs.
    pub lut: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP48E2s.
    pub dsp: u64,
    /// BRAM36, the operand buffers' included.
    pub bram36: f64,
}

impl SynthConfig {
    /// Whether the whole design was synthesised (totals comparable with [`estimate`]).
    pub fn is_whole(&self) -> bool {
        self.top == "sat_top"
    }

    /// The config, parsed.
    pub fn arch(&self) -> Result<ArchConfig, FlowError> {
        Ok(ArchConfig::from_toml_str(&self.arch, &self.name)?)
    }
}

/// A term of a module's formula: a function of the RTL parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// The constant 1.
    One,
    /// Multipliers per PE.
    Lanes,
    /// PE rows × lanes (activations routed per K-step).
    RowsLanes,
    /// PE columns × lanes (weights per K-step).
    ColsLanes,
    /// PEs (accumulators drained).
    Pes,
    /// DRAM bytes per cycle.
    DramBytes,
    /// Vector-unit lanes.
    VectorLanes,
    /// Sparsifier lanes.
    SparsifierLanes,
    /// Lanes squared.
    LanesSquared,
    /// 1 when a line buffer, not the DMA engine, serves `load2col` gathers
    /// (`dram.im2col = "line_buffer"`), else 0.
    LineBuffer,
    /// Entries of the controller's retirement queue (a power of two from
    /// the PE array's pipeline depth and rows).
    RobDepth,
}

impl Feature {
    /// Its value for `p`.
    pub fn value(self, p: &Params) -> f64 {
        let f = |x: u32| f64::from(x);
        match self {
            Feature::One => 1.0,
            Feature::Lanes => f(p.lanes),
            Feature::RowsLanes => f(p.rows) * f(p.lanes),
            Feature::ColsLanes => f(p.cols) * f(p.lanes),
            Feature::Pes => f(p.rows) * f(p.cols),
            Feature::DramBytes => f(p.dram_bpc),
            Feature::VectorLanes => f(p.vec_lanes),
            Feature::SparsifierLanes => f(p.sp_lanes),
            Feature::RobDepth => f(p.rob_depth),
            Feature::LanesSquared => f(p.lanes) * f(p.lanes),
            Feature::LineBuffer => f(u32::from(p.line_buffer > 0)),
        }
    }

    /// Its name in formulas.
    pub fn name(self) -> &'static str {
        match self {
            Feature::One => "1",
            Feature::Lanes => "lanes",
            Feature::RowsLanes => "rows·lanes",
            Feature::ColsLanes => "cols·lanes",
            Feature::Pes => "rows·cols",
            Feature::DramBytes => "dram_bytes_per_cycle",
            Feature::VectorLanes => "vector_lanes",
            Feature::SparsifierLanes => "sparsifier_lanes",
            Feature::RobDepth => "retirement_queue",
            Feature::LanesSquared => "lanes²",
            Feature::LineBuffer => "line_buffer",
        }
    }
}

/// A config field a module's Verilog depends on: the distance between two
/// configs for a module's DSP48E2s is over these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// PE rows.
    Rows,
    /// PE columns.
    Cols,
    /// Multipliers per PE.
    Lanes,
    /// DRAM bytes per cycle.
    DramBytes,
    /// Vector-unit lanes.
    VectorLanes,
    /// Sparsifier lanes.
    SparsifierLanes,
    /// Operand-buffer capacity, all three buffers (address widths).
    BufferElements,
    /// Whether the DMA engine moves `load2col` gathers (`dram.im2col =
    /// "dram"`: 2) or a line buffer does (1).
    Im2col,
}

impl Field {
    /// Its value for `p` (at least 1).
    pub fn value(self, p: &Params) -> f64 {
        let v = match self {
            Field::Rows => u64::from(p.rows),
            Field::Cols => u64::from(p.cols),
            Field::Lanes => u64::from(p.lanes),
            Field::DramBytes => u64::from(p.dram_bpc),
            Field::VectorLanes => u64::from(p.vec_lanes),
            Field::SparsifierLanes => u64::from(p.sp_lanes),
            Field::BufferElements => p.cap.iter().sum(),
            Field::Im2col => 1 + u64::from(p.line_buffer == 0),
        };
        v.max(1) as f64
    }
}

/// `Σ |log2(a / b)|` over `fields`: how far apart two configs are for a module.
fn distance(fields: &[Field], a: &Params, b: &Params) -> f64 {
    fields.iter().map(|f| (f.value(a) / f.value(b)).log2().abs()).sum()
}

/// How a module's instances follow the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instances {
    /// The same number in every config (taken from the data).
    Fixed,
    /// One per PE (`rows × cols`).
    PerPe,
}

/// One module of the model.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSpec {
    /// Module name.
    pub module: &'static str,
    /// How its instances follow the config.
    pub instances: Instances,
    /// The terms of its LUT formula.
    pub lut: &'static [Feature],
    /// The terms of its FF formula.
    pub ff: &'static [Feature],
    /// The fields its Verilog depends on (the distance for its DSP48E2s).
    pub fields: &'static [Field],
}

use Feature as T;
use Field as F;

/// A module whose LUT and FF formulas have the same terms.
const fn spec(module: &'static str, terms: &'static [Feature], fields: &'static [Field]) -> ModuleSpec {
    ModuleSpec { module, instances: Instances::Fixed, lut: terms, ff: terms, fields }
}

/// Each synthesised module. A module of the data not listed here is an
/// error of the fit. The fields are those whose change alters the module's
/// Verilog (comment lines aside), found by emitting configs that differ in
/// one field each. A PE's LUTs grow with the square of its lanes (726, 1,291
/// and 3,768 at 4, 8 and 16 lanes), its FFs linearly.
pub const MODULES: &[ModuleSpec] = &[
    ModuleSpec {
        module: "sat_pe",
        instances: Instances::PerPe,
        lut: &[T::One, T::LanesSquared],
        ff: &[T::One, T::Lanes],
        fields: &[F::Lanes],
    },
    spec("sat_pe_array", &[T::One, T::RowsLanes, T::Pes], &[F::Rows, F::Cols, F::Lanes]),
    spec("sat_gemm", &[T::One, T::RowsLanes, T::ColsLanes], &[F::Rows, F::Cols, F::Lanes, F::BufferElements]),
    spec(
        "sat_compute_decode",
        &[T::One],
        &[F::Rows, F::Cols, F::Lanes, F::VectorLanes, F::SparsifierLanes, F::BufferElements],
    ),
    spec("sat_controller", &[T::One, T::RobDepth], &[F::Rows, F::Cols, F::Lanes, F::BufferElements]),
    spec("sat_dma", &[T::One, T::DramBytes, T::LineBuffer], &[F::DramBytes, F::BufferElements, F::Im2col]),
    spec("sat_dma_decode", &[T::One], &[F::DramBytes, F::BufferElements, F::Im2col]),
    spec("sat_vector", &[T::One, T::VectorLanes], &[F::VectorLanes, F::BufferElements]),
    spec("sat_lossgrad", &[T::One], &[F::VectorLanes, F::BufferElements]),
    spec("sat_sparsifier", &[T::One, T::SparsifierLanes], &[F::SparsifierLanes, F::BufferElements]),
    spec("sat_iqueue", &[T::One], &[]),
    spec("sat_top", &[T::One], &[]),
];

/// A fitted formula: terms and their coefficients.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    /// The terms.
    pub terms: &'static [Feature],
    /// One coefficient per term.
    pub coefficients: Vec<f64>,
}

impl Formula {
    /// Its value at `p` (at least 0).
    pub fn value(&self, p: &Params) -> f64 {
        self.terms.iter().zip(&self.coefficients).map(|(f, c)| f.value(p) * c).sum::<f64>().max(0.0)
    }

    /// The formula in words, e.g. `540 + 12.5·lanes²`.
    pub fn words(&self) -> String {
        let mut out = String::new();
        for (f, c) in self.terms.iter().zip(&self.coefficients) {
            let c = if c.abs() < 0.05 { 0.0 } else { *c };
            match (f, out.is_empty()) {
                (Feature::One, _) => out.push_str(&format!("{c:.0}")),
                (_, true) => out.push_str(&format!("{c:.1}·{}", f.name())),
                (_, false) => {
                    let sign = if c < 0.0 { '-' } else { '+' };
                    out.push_str(&format!(" {sign} {:.1}·{}", c.abs(), f.name()));
                }
            }
        }
        out
    }
}

/// One module's fitted formulas.
#[derive(Debug, Clone)]
pub struct ModuleModel {
    /// What the model knows of the module.
    pub spec: ModuleSpec,
    /// Its instances when [`Instances::Fixed`].
    pub fixed_instances: u64,
    /// LUTs of one instance.
    pub lut: Formula,
    /// FFs of one instance.
    pub ff: Formula,
    /// Each distinct fitted run's parameters and DSP48E2s of one instance
    /// (modules outside the PEs), in data order.
    pub dsp_runs: Vec<(Params, u64)>,
    /// BRAM36 of one instance (one number over the data).
    pub bram36: f64,
    /// Distinct fitted runs the coefficients come from.
    pub points: usize,
}

impl ModuleModel {
    /// Instances of the module in `p`'s design.
    pub fn instances(&self, p: &Params) -> u64 {
        match self.spec.instances {
            Instances::Fixed => self.fixed_instances,
            Instances::PerPe => u64::from(p.rows) * u64::from(p.cols),
        }
    }

    /// LUT and FF of one instance in `p`'s design (at least 0).
    pub fn own(&self, p: &Params) -> (f64, f64) {
        (self.lut.value(p), self.ff.value(p))
    }

    /// DSP48E2s of one instance in `p`'s design: one per lane in a PE; in
    /// any other module those of its fitted run nearest to `p` in the fields
    /// its Verilog depends on (the first of equally near ones), since its
    /// multipliers' widths, and so their DSP48E2s, follow the config in steps.
    pub fn dsp(&self, p: &Params) -> u64 {
        if self.spec.instances == Instances::PerPe {
            return u64::from(p.lanes);
        }
        let mut best: Option<(f64, u64)> = None;
        for (q, n) in &self.dsp_runs {
            let d = distance(self.spec.fields, p, q);
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, *n));
            }
        }
        best.map_or(0, |(_, n)| n)
    }
}

/// The fitted model.
#[derive(Debug, Clone)]
pub struct Model {
    /// One per module of [`MODULES`].
    pub modules: Vec<ModuleModel>,
}

fn bad(msg: impl std::fmt::Display) -> FlowError {
    FlowError::Request(format!("resource model (data/synth/modules.json): {msg}"))
}

/// Solves `a · x = b` (`a` square) by Gaussian elimination with partial
/// pivoting; `None` when `a` is singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() <= scale * 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (pivot_row, rest) = a.split_at_mut(col + 1);
        let pivot_row = &pivot_row[col];
        for (i, row) in rest.iter_mut().enumerate() {
            let k = row[col] / pivot_row[col];
            for (v, pv) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= k * pv;
            }
            b[col + 1 + i] -= k * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Least-squares coefficients of `y ≈ Σ c_k x_k` (normal equations, each
/// column scaled to its largest value first); `None` when the columns are
/// not independent over the rows.
pub fn least_squares(x: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let k = x.first()?.len();
    if x.len() < k {
        return None;
    }
    let norm: Vec<f64> =
        (0..k).map(|j| x.iter().fold(0.0f64, |m, r| m.max(r[j].abs())).max(f64::MIN_POSITIVE)).collect();
    let a: Vec<Vec<f64>> =
        (0..k).map(|i| (0..k).map(|j| x.iter().map(|r| r[i] / norm[i] * r[j] / norm[j]).sum()).collect()).collect();
    let b: Vec<f64> = (0..k).map(|i| x.iter().zip(y).map(|(r, y)| r[i] / norm[i] * y).sum()).collect();
    Some(solve(a, b)?.iter().zip(&norm).map(|(c, n)| c / n).collect())
}

/// The one value `values` take, or why not.
fn constant<T: PartialEq + Copy + std::fmt::Debug>(module: &str, what: &str, values: &[T]) -> Result<T, FlowError> {
    let first = *values.first().ok_or_else(|| bad(format!("no counts of `{module}`")))?;
    if values.iter().any(|v| *v != first) {
        return Err(bad(format!("`{module}` has {what} {values:?} across configs; the model takes one number")));
    }
    Ok(first)
}

/// Fits one module to its counts in the `fit` configs of `data`.
fn fit_module(data: &[(Params, &SynthConfig)], spec: ModuleSpec) -> Result<ModuleModel, FlowError> {
    let module = spec.module;
    let all: Vec<(&Params, &ModuleCount, Role)> = data
        .iter()
        .filter_map(|(p, c)| c.modules.iter().find(|m| m.module == module).map(|m| (p, m, c.role)))
        .collect();
    // One point per distinct run: configs that share a module's run (the
    // same Verilog) count it once.
    let mut fit: Vec<&(&Params, &ModuleCount, Role)> = Vec::new();
    for r in all.iter().filter(|r| r.2 == Role::Fit) {
        if !fit.iter().any(|f| f.1.run_key == r.1.run_key) {
            fit.push(r);
        }
    }
    let formula = |terms: &'static [Feature], y: &dyn Fn(&ModuleCount) -> u64| {
        let x: Vec<Vec<f64>> = fit.iter().map(|(p, _, _)| terms.iter().map(|f| f.value(p)).collect()).collect();
        let y: Vec<f64> = fit.iter().map(|r| y(r.1) as f64).collect();
        let coefficients = least_squares(&x, &y).ok_or_else(|| {
            bad(format!("`{module}`: {} fit runs do not determine the {} terms of its formula", fit.len(), terms.len()))
        })?;
        Ok::<_, FlowError>(Formula { terms, coefficients })
    };
    let lut = formula(spec.lut, &|m| m.lut)?;
    let ff = formula(spec.ff, &|m| m.ff)?;
    let fixed_instances = match spec.instances {
        Instances::Fixed => constant(module, "instances", &all.iter().map(|r| r.1.instances).collect::<Vec<_>>())?,
        Instances::PerPe => 0,
    };
    let dsp_runs = fit.iter().map(|r| (r.0.clone(), r.1.dsp)).collect();
    let bram36 = constant(module, "BRAM36", &all.iter().map(|r| r.1.bram36).collect::<Vec<_>>())?;
    Ok(ModuleModel { spec, fixed_instances, lut, ff, dsp_runs, bram36, points: fit.len() })
}

/// Fits the model to `data` (the `fit` configs' modules).
pub fn fit(data: &SynthData) -> Result<Model, FlowError> {
    let configs: Vec<(Params, &SynthConfig)> = data
        .configs
        .iter()
        .map(|c| Ok((Params::new(&c.arch()?, DEFAULT_IMEM_BITS), c)))
        .collect::<Result<_, FlowError>>()?;
    for c in &data.configs {
        if let Some(m) = c.modules.iter().find(|m| !MODULES.iter().any(|s| s.module == m.module)) {
            return Err(bad(format!("`{}` has module `{}`, which the model does not know", c.name, m.module)));
        }
    }
    let modules = MODULES.iter().map(|&spec| fit_module(&configs, spec)).collect::<Result<Vec<_>, _>>()?;
    Ok(Model { modules })
}

/// Parses `data/synth/modules.json` text.
pub fn parse(text: &str) -> Result<SynthData, FlowError> {
    serde_json::from_str(text).map_err(bad)
}

/// The model fitted to the committed data, once.
pub fn model() -> Result<&'static Model, FlowError> {
    static MODEL: OnceLock<Result<Model, String>> = OnceLock::new();
    MODEL.get_or_init(|| parse(DATA).and_then(|d| fit(&d)).map_err(|e| e.to_string())).as_ref().map_err(bad)
}

impl Model {
    /// DSP48E2s outside the PE array in `arch`'s design.
    pub fn fixed_dsps(&self, arch: &ArchConfig) -> u64 {
        let p = Params::new(arch, DEFAULT_IMEM_BITS);
        self.modules
            .iter()
            .filter(|m| m.spec.instances == Instances::Fixed)
            .map(|m| m.fixed_instances * m.dsp(&p))
            .sum()
    }

    /// The estimated resources of `arch`.
    pub fn estimate(&self, arch: &ArchConfig) -> Resources {
        let p = Params::new(arch, DEFAULT_IMEM_BITS);
        let (mut lut, mut ff, mut dsp, mut bram) = (0.0, 0.0, 0u64, 0.0);
        for m in &self.modules {
            let n = m.instances(&p);
            let (l, f) = m.own(&p);
            lut += n as f64 * l;
            ff += n as f64 * f;
            dsp += n * m.dsp(&p);
            bram += n as f64 * m.bram36;
        }
        let buffers: u64 = nmsat_rtl::synth::params_buffer_bram36(&p).iter().map(|(_, n)| n).sum();
        Resources { lut: lut.round() as u64, ff: ff.round() as u64, dsp, bram36: bram.ceil() as u64 + buffers }
    }
}

/// The model's estimate of one synthesised whole design against its counts.
#[derive(Debug, Clone)]
pub struct Check {
    /// The config's name in the data.
    pub name: String,
    /// Fitted or held back.
    pub role: Role,
    /// PE rows, columns and lanes.
    pub array: (u32, u32, u32),
    /// The estimate.
    pub estimate: Resources,
    /// The synthesis counts (BRAM36 rounded up).
    pub synth: Resources,
}

impl Check {
    /// Relative LUT error of the estimate (`estimate / synth - 1`).
    pub fn lut_error(&self) -> f64 {
        self.estimate.lut as f64 / self.synth.lut as f64 - 1.0
    }

    /// Relative FF error of the estimate.
    pub fn ff_error(&self) -> f64 {
        self.estimate.ff as f64 / self.synth.ff as f64 - 1.0
    }
}

/// The model's estimate of every whole design of `data`, fitted and held back.
pub fn checks(model: &Model, data: &SynthData) -> Result<Vec<Check>, FlowError> {
    let mut out = Vec::new();
    for c in data.configs.iter().filter(|c| c.is_whole()) {
        let arch = c.arch()?;
        let t = c.total;
        out.push(Check {
            name: c.name.clone(),
            role: c.role,
            array: (arch.pe_array.rows, arch.pe_array.cols, arch.pe_array.lanes),
            estimate: model.estimate(&arch),
            synth: Resources { lut: t.lut, ff: t.ff, dsp: t.dsp, bram36: t.bram36.ceil() as u64 },
        });
    }
    Ok(out)
}

/// The estimated resources of `arch` ([`Model::estimate`] of [`model`]).
pub fn estimate(arch: &ArchConfig) -> Result<Resources, FlowError> {
    Ok(model()?.estimate(arch))
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
