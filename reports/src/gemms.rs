//! The GEMMs of a training step (`nmsat compile --emit gemms`) as a table,
//! CSV or JSON.

use nmsat_dataflow::{Gemm, GemmKind};
use serde::Serialize;

use crate::table::{csv_line, table};

/// MAC totals of a GEMM list (computed by the compiler, rendered here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GemmTotals {
    /// Σ M·N·K·count.
    pub macs_dense: u64,
    /// Sparse GEMMs scaled by N/M.
    pub macs_sparse_equivalent: u64,
}

/// One row (field names as in issue 5).
#[derive(Serialize)]
struct GemmRow<'a> {
    layer: &'a str,
    pass: &'static str,
    #[serde(rename = "M")]
    m: u64,
    #[serde(rename = "N")]
    n: u64,
    #[serde(rename = "K")]
    k: u64,
    count: u64,
    sparse_operand: Option<&'static str>,
    nm: Option<String>,
    dense_reason: Option<&'a str>,
    kind: &'static str,
    group_dim: Option<&'static str>,
    what: &'a str,
}

impl<'a> GemmRow<'a> {
    fn new(g: &'a Gemm) -> Self {
        GemmRow {
            layer: &g.layer,
            pass: g.pass.name(),
            m: g.m,
            n: g.n,
            k: g.k,
            count: g.count,
            sparse_operand: g.sparse.map(|_| "weight"),
            nm: g.sparse.map(|s| s.pattern.to_string()),
            dense_reason: g.dense_reason.as_deref(),
            kind: match g.kind {
                GemmKind::Weight => "weight",
                GemmKind::Attention => "attention",
            },
            group_dim: g.sparse.map(|s| s.group_dim.name()),
            what: &g.what,
        }
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.layer.to_string(),
            self.pass.to_string(),
            self.m.to_string(),
            self.n.to_string(),
            self.k.to_string(),
            self.count.to_string(),
            self.sparse_operand.unwrap_or("").to_string(),
            self.nm.clone().unwrap_or_default(),
            self.group_dim.unwrap_or("").to_string(),
            self.kind.to_string(),
            self.what.to_string(),
            self.dense_reason.unwrap_or("").to_string(),
        ]
    }
}

const HEADER: [&str; 12] =
    ["layer", "pass", "M", "N", "K", "count", "sparse_operand", "nm", "group_dim", "kind", "what", "dense_reason"];

/// `{"gemms": [...], "totals": {...}}`, pretty-printed.
pub fn json(gemms: &[Gemm], totals: GemmTotals) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct Out<'a> {
        gemms: Vec<GemmRow<'a>>,
        totals: GemmTotals,
    }
    serde_json::to_string_pretty(&Out { gemms: gemms.iter().map(GemmRow::new).collect(), totals })
}

/// A header line and one CSV line per GEMM, each ending in a newline.
pub fn csv(gemms: &[Gemm]) -> String {
    let mut s = HEADER.join(",") + "\n";
    for g in gemms {
        s.push_str(&csv_line(&GemmRow::new(g).cells()));
        s.push('\n');
    }
    s
}

/// The aligned table followed by a blank line and a one-line total;
/// `what` describes the step (e.g. `resnet18 at batch 32, bdwp 2:8`).
pub fn text(gemms: &[Gemm], totals: GemmTotals, what: &str) -> String {
    let cells: Vec<Vec<String>> = gemms.iter().map(|g| GemmRow::new(g).cells()).collect();
    let mut s = table(&HEADER, &cells);
    s.push('\n');
    s.push_str(&format!(
        "{} GEMMs, {what}: {} MACs dense, {} sparse-equivalent\n",
        gemms.len(),
        totals.macs_dense,
        totals.macs_sparse_equivalent
    ));
    s
}
