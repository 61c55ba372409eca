//! Helpers shared by the compiler's integration tests: the project's own
//! copy of the data (never ../shared) and small CSV readers.

#![allow(dead_code)]

use std::path::PathBuf;

use nmsat_compiler::{LowerOptions, Method, Model, lower};
use nmsat_dataflow::{Gemm, NmPattern};

/// `data/` of this repository.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("data").join(rel)
}

/// `models/` (the `.nm` files) of this repository.
pub fn nm_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("models").join(name)
}

pub fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One row of `SUMMARY.csv`.
#[derive(Debug, Clone)]
pub struct Summary {
    pub model: String,
    pub weight_layers: usize,
    pub weight_params: u64,
    pub attention_macs: u64,
    pub forward_macs_total: u64,
    pub training_step_macs_required: u64,
}

pub fn summary() -> Vec<Summary> {
    let text = read(&data("models/SUMMARY.csv"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap_or_else(|| panic!("no column {n}"));
    let (cm, cl, cp, ca, cf, ct) = (
        col("model"),
        col("weight_layers"),
        col("weight_params"),
        col("attention_macs"),
        col("forward_macs_total"),
        col("training_step_macs_required"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // The last column (note) is quoted and may hold commas; the others come first.
            let f: Vec<&str> = l.splitn(header.len(), ',').collect();
            Summary {
                model: f[cm].to_string(),
                weight_layers: f[cl].parse().unwrap(),
                weight_params: f[cp].parse().unwrap(),
                attention_macs: f[ca].parse().unwrap(),
                forward_macs_total: f[cf].parse().unwrap(),
                training_step_macs_required: f[ct].parse().unwrap(),
            }
        })
        .collect()
}

/// One row of `<m>.training_gemms.csv`.
#[derive(Debug, Clone)]
pub struct RefGemm {
    pub layer: String,
    pub kind: String,
    pub pass: String,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub count: u64,
    pub nm_sparse_weight: bool,
    pub required: bool,
}

pub fn training_gemms(model: &str) -> Vec<RefGemm> {
    let text = read(&data(&format!("models/{model}.training_gemms.csv")));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(10, ',').collect();
            RefGemm {
                layer: f[0].to_string(),
                kind: f[1].to_string(),
                pass: f[2].to_string(),
                m: f[3].parse().unwrap(),
                n: f[4].parse().unwrap(),
                k: f[5].parse().unwrap(),
                count: f[6].parse().unwrap(),
                nm_sparse_weight: f[7] == "1",
                required: f[8] == "1",
            }
        })
        .collect()
}

pub fn nm(s: &str) -> NmPattern {
    s.parse().unwrap()
}

pub fn lowered(model: &Model, method: Method, pattern: &str, batch: u64) -> Vec<Gemm> {
    lower(model, &LowerOptions::new(method, nm(pattern), batch)).unwrap()
}

pub fn dense_macs(g: &[Gemm]) -> u64 {
    g.iter().map(Gemm::macs).sum()
}
