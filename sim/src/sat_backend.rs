//! Training on the simulated SAT: a [`Backend`] whose every GEMM, loss
//! gradient and weight update is a SAT program (tiled and scheduled by
//! `dataflow::schedule`) executed by the simulator with data.
//!
//! The reference trainer drives it exactly as it drives [`CpuInt16`]; the
//! int16 arithmetic of the simulated datapath is `numerics`, so training
//! on SAT is bit-identical to the int16 reference (a test checks it). The
//! layer plumbing between kernels (ReLU, im2col, pooling, mask selection
//! and compression) stays on the host, as the reference does it.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::Matrix;
use nmsat_dataflow::numerics::Formats;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{GemmOperand, KernelProgram, compile_gemm, compile_loss_grad, compile_sgd};

use crate::datapath::{NO_WEIGHT_DECAY, pack_nm_rows};
use crate::engine::{SimMode, SimOptions, simulate};
use crate::reference::TrainError;
use crate::reference::backend::{Backend, CpuInt16, GemmInfo, NumericsKind, Operand};

/// Cycles spent on the simulated SAT, per kind of kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SatCycles {
    /// GEMM kernels (FF, BP, WG).
    pub gemm: u64,
    /// Loss-gradient kernels.
    pub loss: u64,
    /// Weight-update kernels.
    pub update: u64,
    /// Kernels run.
    pub kernels: u64,
}

impl SatCycles {
    /// All cycles.
    pub fn total(&self) -> u64 {
        self.gemm + self.loss + self.update
    }
}

/// A [`Backend`] that runs every kernel on the simulated SAT.
#[derive(Debug, Clone)]
pub struct SatBackend {
    /// The int16 formats and update shifts (the same as the reference's).
    pub int16: CpuInt16,
    arch: ArchConfig,
    mode: SimMode,
    /// Cycles spent so far.
    pub cycles: SatCycles,
}

impl SatBackend {
    /// A backend on `arch` with the reference's int16 settings.
    pub fn new(int16: CpuInt16, arch: ArchConfig, mode: SimMode) -> Self {
        Self { int16, arch, mode, cycles: SatCycles::default() }
    }

    fn formats(&self) -> Formats {
        self.int16.formats
    }

    /// Runs `k` with `inputs` written at its input addresses; returns the
    /// final DRAM and the cycles.
    /// `what` names the kernel in an error.
    fn run(&mut self, what: &str, k: KernelProgram, inputs: Vec<Vec<u8>>) -> Result<(Vec<u8>, u64), TrainError> {
        let mut program: Program = k.program;
        for (addr, bytes) in k.inputs.iter().zip(inputs) {
            program.image.push((*addr, bytes));
        }
        let r = simulate(&program, &self.arch, self.mode, SimOptions { data: true, ..SimOptions::default() })
            .map_err(|e| self.kernel_error(what, &e))?;
        self.cycles.kernels += 1;
        let machine = r.machine.ok_or_else(|| self.kernel_error(what, &"the run carried no data"))?;
        Ok((machine.dram, r.stats.total_cycles))
    }

    /// A kernel this config cannot run, named with the config.
    fn kernel_error(&self, what: &str, e: &dyn std::fmt::Display) -> TrainError {
        TrainError::Backend(format!("cannot run {what} on the SAT config `{}`: {e}", self.arch.name))
    }
}

fn i16_bytes(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: impl Iterator<Item = i32>) -> Vec<u8> {
    v.flat_map(|x| x.to_le_bytes()).collect()
}

fn read_i16s(dram: &[u8], addr: u64, n: usize) -> Vec<i16> {
    let a = addr as usize;
    dram[a..a + 2 * n].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

fn read_i32s(dram: &[u8], addr: u64, n: usize) -> Vec<i32> {
    let a = addr as usize;
    dram[a..a + 4 * n].chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Backend for SatBackend {
    type Act = i16;
    type Master = i32;

    fn kind(&self) -> NumericsKind {
        NumericsKind::Int16
    }

    fn gemm(&mut self, info: GemmInfo, a: &Matrix<i16>, b: Operand<'_, i16>) -> Result<Matrix<i16>, TrainError> {
        let (k, n) = b.logical_shape();
        let m = a.rows();
        assert_eq!(a.cols(), k, "GEMM inner dimensions differ");
        let shift = self.int16.shift(info.pass);
        let (operand, b_bytes) = match b {
            Operand::Dense(d) => (GemmOperand::Dense, i16_bytes(d.data())),
            Operand::Nm(c) => {
                let p = c.pattern();
                let v = c.values();
                (GemmOperand::Nm(p), pack_nm_rows(v.data(), c.indices().data(), v.rows(), v.cols(), p.index_bits()))
            }
        };
        let what = format!("the {} GEMM {m}x{n}x{k} of weight layer {}", info.pass, info.layer);
        let kernel = compile_gemm(&self.arch, m as u64, n as u64, k as u64, operand, shift, info.pass)
            .map_err(|e| self.kernel_error(&what, &e))?;
        let out = kernel.output;
        let (dram, cycles) = self.run(&what, kernel, vec![i16_bytes(a.data()), b_bytes])?;
        self.cycles.gemm += cycles;
        Ok(Matrix::from_vec(m, n, read_i16s(&dram, out, m * n)).expect("shape"))
    }

    fn weight_update(
        &mut self,
        layer: usize,
        w: &mut Matrix<i32>,
        v: &mut Matrix<i32>,
        dw: &Matrix<i16>,
        pruned: Option<&Matrix<bool>>,
    ) -> Result<(), TrainError> {
        let s = self.int16.shifts;
        // SR-STE's term applies where the FF mask pruned (flags from the host's mask selection).
        let sr_ste = pruned.and(s.sr_ste_shift).map(|x| x as u8);
        let params = [
            s.lr_shift as u8,
            s.momentum_shift.map_or(0, |x| x as u8),
            s.grad_align as u8,
            s.weight_decay_shift.map_or(NO_WEIGHT_DECAY, |x| x as u8),
        ];
        let len = w.data().len();
        let kernel = compile_sgd(&self.arch, len as u64, 0, params, sr_ste);
        let (g_addr, w_addr, v_addr) = (kernel.inputs[0], kernel.inputs[1], kernel.inputs[2]);
        let mut inputs = vec![
            i32_bytes(dw.data().iter().map(|&x| i32::from(x))),
            i32_bytes(w.data().iter().copied()),
            i32_bytes(v.data().iter().copied()),
        ];
        if let (Some(_), Some(p)) = (sr_ste, pruned) {
            let flags: Vec<i16> = p.data().iter().map(|&x| i16::from(x)).collect();
            inputs.push(i16_bytes(&flags));
        }
        let _ = g_addr;
        let what = format!("the weight update of weight layer {layer} ({len} weights)");
        let (dram, cycles) = self.run(&what, kernel, inputs)?;
        self.cycles.update += cycles;
        w.data_mut().copy_from_slice(&read_i32s(&dram, w_addr, len));
        v.data_mut().copy_from_slice(&read_i32s(&dram, v_addr, len));
        Ok(())
    }

    fn weight_operand(&self, w: &Matrix<i32>) -> Matrix<i16> {
        self.int16.weight_operand(w)
    }

    fn loss_grad(&mut self, logits: &Matrix<i16>, labels: &[usize]) -> Result<Matrix<i16>, TrainError> {
        let f = self.formats();
        let kernel = compile_loss_grad(
            &self.arch,
            logits.rows() as u64,
            logits.cols() as u64,
            f.act_frac as u8,
            f.grad_frac as u8,
        );
        let out = kernel.output;
        let labels16: Vec<i16> = labels.iter().map(|&l| l as i16).collect();
        let what = format!("the loss gradient of {}x{} logits", logits.rows(), logits.cols());
        let (dram, cycles) = self.run(&what, kernel, vec![i16_bytes(logits.data()), i16_bytes(&labels16)])?;
        self.cycles.loss += cycles;
        Ok(Matrix::from_vec(logits.rows(), logits.cols(), read_i16s(&dram, out, logits.rows() * logits.cols()))
            .expect("shape"))
    }

    fn input(&self, x: f32) -> i16 {
        self.int16.input(x)
    }

    fn master(&self, x: f32) -> i32 {
        self.int16.master(x)
    }

    fn logit_value(&self, x: i16) -> f64 {
        self.int16.logit_value(x)
    }

    fn average(&self, vals: &[i16]) -> i16 {
        self.int16.average(vals)
    }

    fn share(&self, dy: i16, count: usize) -> i16 {
        self.int16.share(dy, count)
    }

    fn set_lr(&mut self, lr: f32) {
        self.int16.set_lr(lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmsat_dataflow::nm::{CompressedNm, GroupAxis, NmPattern};
    use nmsat_dataflow::numerics::SgdShifts;
    use nmsat_dataflow::workload::Pass;

    fn int16() -> CpuInt16 {
        CpuInt16 {
            formats: Formats::default(),
            shifts: SgdShifts {
                grad_align: 14,
                lr_shift: 9,
                momentum_shift: Some(3),
                weight_decay_shift: Some(20),
                sr_ste_shift: None,
            },
            batch: 32,
        }
    }

    fn mat(r: usize, c: usize, seed: i64) -> Matrix<i16> {
        Matrix::from_fn(r, c, |i, j| (((i as i64 * 31 + j as i64 * 17 + seed) * 2654435761) % 4001 - 2000) as i16)
    }

    #[test]
    fn gemms_match_the_cpu_reference_dense_and_nm() {
        for arch in ["tiny", "sat-mid"] {
            let arch = ArchConfig::preset(arch).unwrap();
            let mut sat = SatBackend::new(int16(), arch, SimMode::Fast);
            let mut cpu = int16();
            let a = mat(37, 64, 1);
            let b = mat(64, 40, 2);
            for pass in [Pass::Ff, Pass::Wg] {
                let info = GemmInfo { layer: 1, pass };
                assert_eq!(
                    sat.gemm(info, &a, Operand::Dense(&b)).unwrap(),
                    cpu.gemm(info, &a, Operand::Dense(&b)).unwrap()
                );
            }
            let p = NmPattern::new(2, 8).unwrap();
            let c = CompressedNm::prune_and_compress(&b, p, GroupAxis::Rows).unwrap();
            let info = GemmInfo { layer: 1, pass: Pass::Bp };
            assert_eq!(sat.gemm(info, &a, Operand::Nm(&c)).unwrap(), cpu.gemm(info, &a, Operand::Nm(&c)).unwrap());
            assert!(sat.cycles.gemm > 0);
        }
    }

    #[test]
    fn update_and_loss_match_the_cpu_reference() {
        let arch = ArchConfig::preset("tiny").unwrap();
        let mut sat = SatBackend::new(int16(), arch, SimMode::Cycle);
        let mut cpu = int16();
        let w0 = Matrix::from_fn(48, 10, |i, j| ((i * 7919 + j * 104729) % 100_000) as i32 * 977 - 40_000_000);
        let v0 = Matrix::from_fn(48, 10, |i, j| ((i * 31 + j * 7) % 1000) as i32 * 1000 - 500_000);
        let dw = mat(48, 10, 5);
        let (mut w1, mut v1, mut w2, mut v2) = (w0.clone(), v0.clone(), w0, v0);
        sat.weight_update(0, &mut w1, &mut v1, &dw, None).unwrap();
        cpu.weight_update(0, &mut w2, &mut v2, &dw, None).unwrap();
        assert_eq!((&w1, &v1), (&w2, &v2));
        // SR-STE: the decay of FF-pruned weights runs on the vector unit too.
        let mut sr = int16();
        sr.shifts.sr_ste_shift = Some(4);
        let mut sat = SatBackend::new(sr.clone(), ArchConfig::preset("tiny").unwrap(), SimMode::Fast);
        let pruned = Matrix::from_fn(48, 10, |i, j| (i + 3 * j) % 4 != 0);
        let (mut w3, mut v3, mut w4, mut v4) = (w1.clone(), v1.clone(), w1.clone(), v1.clone());
        sat.weight_update(0, &mut w3, &mut v3, &dw, Some(&pruned)).unwrap();
        sr.weight_update(0, &mut w4, &mut v4, &dw, Some(&pruned)).unwrap();
        assert_eq!((&w3, &v3), (&w4, &v4));
        let (mut w5, mut v5) = (w1.clone(), v1.clone());
        sr.weight_update(0, &mut w5, &mut v5, &dw, None).unwrap();
        assert_ne!(w3, w5, "the SR-STE term changes the update");
        let mut sat = SatBackend::new(int16(), ArchConfig::preset("tiny").unwrap(), SimMode::Cycle);
        let logits = mat(7, 10, 9);
        let labels = [0, 3, 9, 2, 2, 5, 1];
        assert_eq!(sat.loss_grad(&logits, &labels).unwrap(), cpu.loss_grad(&logits, &labels).unwrap());
    }
}

/// What training on the simulated SAT cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SatRunSummary {
    /// Config name.
    pub arch: String,
    /// `fast` or `cycle` (identical cycles; `cycle` steps every cycle).
    pub mode: String,
    /// SAT kernels executed (GEMMs, loss gradients, weight updates).
    pub kernels: u64,
    /// Simulated cycles of all training steps.
    pub train_cycles: u64,
    /// Simulated cycles of the test evaluations.
    pub eval_cycles: u64,
    /// Optimizer steps.
    pub steps: u64,
    /// Simulated cycles per training step (kernels run back to back).
    pub cycles_per_step: f64,
    /// Simulated seconds per training step at the config's clock.
    pub seconds_per_step: f64,
}

/// A training run on the simulated SAT: the reference's report plus what it cost.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SatTrainReport {
    /// The same report as the CPU reference gives.
    #[serde(flatten)]
    pub report: crate::reference::train::TrainReport,
    /// Simulated cost.
    pub sat: SatRunSummary,
}

/// Trains `cfg` (int16 numerics) on `data` with every GEMM, loss gradient and
/// weight update run on the simulated `arch`.
pub fn train_on_sat(
    data: &crate::reference::Dataset,
    cfg: &crate::reference::train::TrainConfig,
    arch: &ArchConfig,
    mode: SimMode,
    progress: &mut dyn FnMut(&crate::reference::train::Progress),
) -> Result<SatTrainReport, crate::reference::TrainError> {
    use crate::reference::backend::Hyper;
    use crate::reference::train::{Int16Report, Trainer};
    let hyper = Hyper {
        lr: cfg.lr,
        momentum: cfg.momentum,
        weight_decay: cfg.weight_decay,
        lambda_w: cfg.lambda_w,
        batch: cfg.batch.min(data.train.len()).max(1),
    };
    let int16 = CpuInt16::new(cfg.formats, &hyper).map_err(crate::reference::TrainError::Config)?;
    let info = Int16Report { formats: int16.formats, shifts: int16.shifts };
    let be = SatBackend::new(int16, arch.clone(), mode);
    let mut t = Trainer::new(be, data, cfg)?;
    let (mut losses, mut accs) = (Vec::new(), Vec::new());
    let mut eval_cycles = 0;
    for e in 0..t.epochs() {
        let lr = t.lr_at(e);
        t.backend.set_lr(lr);
        losses.push((t.epoch(e, progress)? * 1e6).round() / 1e6);
        let before = t.backend.cycles.total();
        accs.push(t.evaluate()?);
        eval_cycles += t.backend.cycles.total() - before;
    }
    let mut report = t.report(losses, accs);
    report.int16 = Some(info);
    let c = t.backend.cycles;
    let steps = report.steps as u64;
    let train_cycles = c.total() - eval_cycles;
    let cps = if steps > 0 { train_cycles as f64 / steps as f64 } else { 0.0 };
    Ok(SatTrainReport {
        report,
        sat: SatRunSummary {
            arch: arch.name.clone(),
            mode: match mode {
                SimMode::Fast => "fast".into(),
                SimMode::Cycle => "cycle".into(),
            },
            kernels: c.kernels,
            train_cycles,
            eval_cycles,
            steps,
            cycles_per_step: cps,
            seconds_per_step: cps / (f64::from(arch.clock_mhz) * 1e6),
        },
    })
}
