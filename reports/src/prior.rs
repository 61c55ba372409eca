//! Published figures of earlier FPGA training accelerators, shown beside
//! the modelled SAT. Numbers as their authors report them (abstracts,
//! checked in session 17); op counting differs between works (EF-Train
//! counts floating-point operations, the others fixed-point ones; sparse
//! designs may count dense-equivalent operations), so they are context, not
//! a like-for-like comparison.

use serde::Serialize;

/// One published accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PriorAccelerator {
    /// Work (authors or system name).
    pub name: &'static str,
    /// Venue and year.
    pub venue: &'static str,
    /// FPGA device or board.
    pub device: &'static str,
    /// Arithmetic.
    pub precision: &'static str,
    /// Workload of the figures.
    pub workload: &'static str,
    /// Throughput (GOPS; GFLOPS for floating point).
    pub gops: f64,
    /// Energy efficiency, when published.
    pub gops_per_w: Option<f64>,
    /// Where the numbers are from.
    pub source: &'static str,
}

/// The accelerators the report cites.
pub const PRIOR: [PriorAccelerator; 4] = [
    PriorAccelerator {
        name: "Venkataramanaiah et al.",
        venue: "FPL 2019",
        device: "Intel Stratix 10 GX",
        precision: "16-bit fixed point",
        workload: "CIFAR-10 CNNs, full training",
        gops: 479.0,
        gops_per_w: None,
        source: "abstract of \"Automatic Compiler Based FPGA Accelerator for CNN Training\" (arXiv 1908.06724): up to 479 GOPS; no power given",
    },
    PriorAccelerator {
        name: "Lu, Lin, Wang",
        venue: "SiPS 2020",
        device: "Xilinx VC706",
        precision: "fixed point",
        workload: "ResNet-20, CIFAR-10",
        gops: 421.0,
        gops_per_w: Some(43.18),
        source: "abstract of \"A Reconfigurable DNN Training Accelerator on FPGA\" (DOI 10.1109/SiPS50750.2020.9195234)",
    },
    PriorAccelerator {
        name: "EF-Train (Tang et al.)",
        venue: "ACM TODAES 2022 (arXiv 2202.10935)",
        device: "Xilinx ZCU102",
        precision: "floating point",
        workload: "CNN training on an edge FPGA",
        gops: 46.99,
        gops_per_w: Some(6.09),
        source: "abstract of arXiv 2202.10935: 46.99 GFLOPS, 6.09 GFLOPS/W",
    },
    PriorAccelerator {
        name: "Xu, Lu, Wang, Lin",
        venue: "AICAS 2022",
        device: "FPGA (board not stated in the abstract)",
        precision: "fixed point",
        workload: "CNN training with transposable block-sparse weights",
        gops: 1024.0,
        gops_per_w: Some(118.4),
        source: "abstract of \"An Efficient CNN Training Accelerator Leveraging Transposable Block Sparsity\" (DOI 10.1109/AICAS54282.2022.9869938): 1.024 TOPS, 118.4 GOPS/W",
    },
];
