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
    let gemms = &program.info.gemms;
    let find = |name: String| program.regions.iter().find(|r| r.name == name).map(|r| r.addr);
    for l in net.weight_layers() {
        let n = &l.name;
        let len = l.master.data().len();
        image.push((region(program, &format!("{n}.master"), Some(4 * len))?, i32_bytes(l.master.data())));
        image.push((region(program, &format!("{n}.momentum"), Some(4 * len))?, i32_bytes(l.velocity.data())));
        if let Some(at) = find(format!("{n}.w")) {
            image.push((at, i16_bytes(be.weight_operand(&l.master).data())));
        }
        let (ff, bp) = compressed_operands(be, &l.master, setup.pattern);
        let sparse = |pass: &str| gemms.iter().any(|g| g.layer == *n && g.pass.name() == pass && g.mode != "dense");
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
    }
    Ok(image)
}
