//! The memory image of one whole training step: the batch, its labels and
//! every layer's state (master weights, momentum, int16 operand weights,
//! compressed `W_ff`/`W_bp`) of the int16 reference, written into the DRAM
//! regions of a step program compiled by `dataflow::schedule::compile_step`.
//!
//! With the image, the simulator's datapath runs the step on real data (and
//! ends with the reference step's master weights and momentum and the next
//! step's compressed operands, `tests/step_bit_exact.rs`), and the RTL
//! co-simulation compares whole DRAM images of a training step.
//!
//! [`StepSetup`] fixes the reference side (model, method, pattern, batch,
//! the int16 formats and update shifts the program must be compiled with);
//! [`step_image`] fills a compiled program's regions, for every method and
//! both digits models (how much of a CNN step the datapath computes like
//! the reference is `tests/step_cnn.rs`'s business: the image is the same).

use nmsat_dataflow::Matrix;
use nmsat_dataflow::nm::{CompressedNm, GroupAxis, NmPattern, apply_mask, select_mask};
use nmsat_dataflow::numerics::{Formats, SgdShifts};
use nmsat_dataflow::program::Program;

use crate::datapath::pack_nm_rows;
use crate::reference::backend::{Backend, Hyper};
use crate::reference::{CpuInt16, Dataset, Method, ModelKind, NumericsKind, TrainConfig, Trainer};

/// Why a step image cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum StepImageError {
    /// The model or method has no step image yet.
    #[error("no step image for {what}: {why}")]
    Unsupported {
        /// The model or method.
        what: String,
        /// Why.
        why: String,
    },
    /// The reference could not be set up.
    #[error("reference step: {0}")]
    Reference(String),
    /// The program lacks a region the image needs, or has it with another size.
    #[error("the program's region `{name}`: {why}")]
    Region {
        /// Region name.
        name: String,
        /// What is wrong.
        why: String,
    },
}

/// The reference side of one training step.
pub struct StepSetup<'d> {
    /// The int16 arithmetic: the program must be compiled with its formats
    /// and update shifts ([`StepSetup::numerics`]).
    pub backend: CpuInt16,
    /// The reference trainer, initialised from the config's seed.
    pub trainer: Trainer<'d, CpuInt16>,
    /// The training samples of the step.
    pub batch: Vec<usize>,
    /// The N:M pattern of the sparse operands.
    pub pattern: NmPattern,
    data: &'d Dataset,
}

impl<'d> StepSetup<'d> {
    /// The int16 reference of `model` trained with `method` at `pattern`,
    /// its first step on the first `batch` training samples of `data` (the
    /// other settings are [`TrainConfig::new`]'s).
    pub fn new(
        data: &'d Dataset,
        model: ModelKind,
        method: Method,
        pattern: NmPattern,
        batch: usize,
    ) -> Result<Self, StepImageError> {
        let mut cfg = TrainConfig::new(model, method);
        cfg.nm = pattern;
        cfg.numerics = NumericsKind::Int16;
        cfg.batch = batch.max(1);
        let hyper = Hyper {
            lr: cfg.lr,
            momentum: cfg.momentum,
            weight_decay: cfg.weight_decay,
            lambda_w: cfg.lambda_w,
            batch: cfg.batch.min(data.train.len()),
        };
        let backend = CpuInt16::new(cfg.formats, &hyper).map_err(StepImageError::Reference)?;
        let trainer =
            Trainer::new(backend.clone(), data, &cfg).map_err(|e| StepImageError::Reference(e.to_string()))?;
        let batch = (0..trainer.batch()).collect();
        Ok(Self { backend, trainer, batch, pattern, data })
    }

    /// The formats and update shifts the step program must be compiled with.
    pub fn numerics(&self) -> (Formats, SgdShifts) {
        (self.backend.formats, self.backend.shifts)
    }

    /// Runs the reference step (after which the trainer's layers hold the
    /// state the program's step must end with).
    pub fn step(&mut self) -> Result<f64, StepImageError> {
        let idx = self.batch.clone();
        self.trainer.step(&idx).map_err(|e| StepImageError::Reference(e.to_string()))
    }
}

/// Little-endian bytes of `i16`s.
pub fn i16_bytes(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of `i32`s.
pub fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The compressed FF and BP operands the reference derives from master
/// weights: `W` pruned along its rows (`K`) and along its columns (`N`),
/// `None` along a dimension that is not a multiple of M.
pub fn compressed_operands(
    be: &CpuInt16,
    master: &Matrix<i32>,
    p: NmPattern,
) -> (Option<CompressedNm<i16>>, Option<CompressedNm<i16>>) {
    let w = be.weight_operand(master);
    let c = |axis| {
        let mask = select_mask(master, p, axis).ok()?;
        CompressedNm::compress(&apply_mask(&w, &mask), p, axis).ok()
    };
    (c(GroupAxis::Rows), c(GroupAxis::Cols))
}

/// The non-interleaved layout of compressed weights: the values (`nm_values`)
/// and the indices packed per row (`nm_indices`).
pub fn split_nm(c: &CompressedNm<i16>) -> (Vec<u8>, Vec<u8>) {
    let v = c.values();
    let bits = c.pattern().index_bits() as usize;
    let row_bytes = (v.cols() * bits).div_ceil(8);
    let mut idx = vec![0u8; v.rows() * row_bytes];
    for r in 0..v.rows() {
        for col in 0..v.cols() {
            let x = c.indices().get(r, col);
            for b in 0..bits {
                let bit = col * bits + b;
                if x >> b & 1 == 1 {
                    idx[r * row_bytes + bit / 8] |= 1 << (bit % 8);
                }
            }
        }
    }
    (i16_bytes(v.data()), idx)
}

/// The interleaved layout (`nm_row`) of compressed weights.
pub fn pack_nm(c: &CompressedNm<i16>) -> Vec<u8> {
    let v = c.values();
    pack_nm_rows(v.data(), c.indices().data(), v.rows(), v.cols(), c.pattern().index_bits())
}

/// The address of region `name`, checking its size when `bytes` is given.
fn region(p: &Program, name: &str, bytes: Option<usize>) -> Result<u64, StepImageError> {
    let r = p.regions.iter().find(|r| r.name == name).ok_or_else(|| StepImageError::Region {
        name: name.into(),
        why: "missing (was the program compiled from the same model?)".into(),
    })?;
    match bytes {
        Some(b) if r.bytes < b as u64 => {
            Err(StepImageError::Region { name: name.into(), why: format!("{} bytes, the data needs {b}", r.bytes) })
        }
        _ => Ok(r.addr),
    }
}

/// The memory image of `setup`'s step for `program` (a step of the same
/// model, method, pattern and batch, compiled with [`StepSetup::numerics`]):
/// the batch at the first layer's FF input, the labels, and per weight
/// layer its master weights, momentum, int16 operand weights and, where the
/// program reads compressed operands, the FF and BP operands in the layouts
/// it loads them in (interleaved `nm_row`, or values and indices).
pub fn step_image(program: &Program, setup: &StepSetup<'_>) -> Result<Vec<(u64, Vec<u8>)>, StepImageError> {
    let data = setup.data;
    let be = &setup.backend;
    let net = &setup.trainer.net;
    let f = data.features;
    let x: Vec<i16> =
        setup.batch.iter().flat_map(|&i| data.train.x[i * f..(i + 1) * f].iter().map(|&v| be.input(v))).collect();
    let labels: Vec<i16> = setup.batch.iter().map(|&i| data.train.y[i] as i16).collect();
    let first = net.weight_layers().next().ok_or_else(|| StepImageError::Reference("no weight layer".into()))?;
    let mut image = vec![
        (region(program, &format!("{}.FF.in", first.name), Some(2 * x.len()))?, i16_bytes(&x)),
        (region(program, "labels", Some(2 * labels.len()))?, i16_bytes(&labels)),
    ];
    for l in net.weight_layers() {
        layer_image(program, be, &l.name, &l.master, &l.velocity, setup.pattern, &mut image)?;
    }
    Ok(image)
}

/// Appends one weight layer's state to `image`: master weights, momentum,
/// the int16 operand weights where the program has them, and the
/// compressed FF and BP operands in the layouts the program loads them in.
fn layer_image(
    program: &Program,
    be: &CpuInt16,
    n: &str,
    master: &Matrix<i32>,
    velocity: &Matrix<i32>,
    pattern: NmPattern,
    image: &mut Vec<(u64, Vec<u8>)>,
) -> Result<(), StepImageError> {
    let gemms = &program.info.gemms;
    let find = |name: String| program.regions.iter().find(|r| r.name == name).map(|r| r.addr);
    let len = master.data().len();
    image.push((region(program, &format!("{n}.master"), Some(4 * len))?, i32_bytes(master.data())));
    image.push((region(program, &format!("{n}.momentum"), Some(4 * len))?, i32_bytes(velocity.data())));
    if let Some(at) = find(format!("{n}.w")) {
        image.push((at, i16_bytes(be.weight_operand(master).data())));
    }
    let (ff, bp) = compressed_operands(be, master, pattern);
    let sparse = |pass: &str| gemms.iter().any(|g| g.layer == n && g.pass.name() == pass && g.mode != "dense");
    for (pass, op, dir) in [("FF", &ff, "w_ff"), ("BP", &bp, "w_bp")] {
        if !sparse(pass) {
            continue;
        }
        let Some(op) = op else {
            return Err(StepImageError::Unsupported {
                what: format!("layer `{n}`"),
                why: format!("its {pass} operand is sparse in the program but not a whole number of groups"),
            });
        };
        if let Some(at) = find(format!("{n}.{dir}")) {
            image.push((at, pack_nm(op)));
        }
        if let (Some(v), Some(i)) = (find(format!("{n}.{dir}.values")), find(format!("{n}.{dir}.indices"))) {
            let (vb, ib) = split_nm(op);
            image.push((v, vb));
            image.push((i, ib));
        }
    }
    Ok(())
}

/// A seeded memory image for any step program compiled with the default
/// numerics ([`nmsat_dataflow::schedule::StepNumerics::default`]): random
/// inputs (|x| < 0.5), random labels of the last layer's classes, random
/// master weights (|w| < 0.25) and momentum, and the operand and compressed
/// weights derived from them as pre-generation would. It is not a trained
/// network's state, but every operand the step reads is defined, so the
/// simulator's datapath and the RTL compute the same step on it and their
/// final DRAM images can be compared. Grouped layers (`count > 1`) keep
/// their weights zero.
pub fn synthetic_image(program: &Program, seed: u64) -> Result<Vec<(u64, Vec<u8>)>, StepImageError> {
    use nmsat_dataflow::program::RegionKind;
    use nmsat_dataflow::workload::Pass;
    let numerics = nmsat_dataflow::schedule::StepNumerics::default();
    let formats = numerics.formats;
    let be = CpuInt16 { formats, shifts: numerics.shifts, batch: program.info.batch.max(1) as usize };
    let pattern = match program.info.nm.as_deref() {
        Some(s) => s.parse::<NmPattern>().map_err(|e| StepImageError::Reference(format!("pattern `{s}`: {e}")))?,
        None => NmPattern::new(2, 8).map_err(|e| StepImageError::Reference(e.to_string()))?,
    };
    let mut rng = crate::testgen::Rng::new(seed);
    // Uniform in (-limit, limit) at `frac` fractional bits.
    let mut uniform = |frac: u32, limit: f64| -> i64 {
        let span = (limit * f64::from(1u32 << frac.min(30))) as u64;
        rng.below(2 * span + 1) as i64 - span as i64
    };
    let ff: Vec<&nmsat_dataflow::program::GemmRecord> =
        program.info.gemms.iter().filter(|g| g.pass == Pass::Ff).collect();
    let classes = ff.last().map_or(1, |g| g.n.max(1));
    let mut image = Vec::new();
    for r in &program.regions {
        let words = (r.bytes / 2) as usize;
        match r.kind {
            RegionKind::Input => {
                let x: Vec<i16> = (0..words).map(|_| uniform(formats.act_frac, 0.5) as i16).collect();
                image.push((r.addr, i16_bytes(&x)));
            }
            RegionKind::Labels => {
                let y: Vec<i16> = (0..words).map(|_| (uniform(0, 1e9).unsigned_abs() % classes) as i16).collect();
                image.push((r.addr, i16_bytes(&y)));
            }
            _ => {}
        }
    }
    let master_frac = formats.weight_frac + nmsat_dataflow::numerics::MASTER_EXTRA_BITS;
    let mut seen: Vec<&str> = Vec::new();
    for g in &ff {
        if g.count != 1 || seen.contains(&g.layer.as_str()) {
            continue;
        }
        seen.push(&g.layer);
        let Some(m) = program.regions.iter().find(|r| r.name == format!("{}.master", g.layer)) else { continue };
        let (k, n) = (g.k as usize, g.n as usize);
        if m.bytes < 4 * (k * n) as u64 {
            continue;
        }
        let master = Matrix::from_fn(k, n, |_, _| uniform(master_frac, 0.25) as i32);
        let velocity = Matrix::from_fn(k, n, |_, _| uniform(master_frac, 0.01) as i32);
        layer_image(program, &be, &g.layer, &master, &velocity, pattern, &mut image)?;
    }
    Ok(image)
}
