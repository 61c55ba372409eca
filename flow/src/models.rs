//! The built-in models' size and work, for `nmsat models`.

use nmsat_compiler::{LowerOptions, builtins, lower, totals};
use nmsat_dataflow::{Gemm, GemmKind, Method, Pass};
use nmsat_reports::models::ModelRow;

use crate::error::FlowError;

/// Every built-in model with its weights and its dense MACs at batch 1
/// (forward, attention, whole training step).
pub fn builtin_summaries() -> Result<Vec<ModelRow>, FlowError> {
    let mut rows = Vec::new();
    for b in builtins() {
        let m = b.load()?;
        let gemms = lower(&m, &LowerOptions::new(Method::Dense, LowerOptions::default().nm, 1))?;
        let sum = |f: &dyn Fn(&Gemm) -> bool| -> Result<u64, FlowError> {
            let g: Vec<Gemm> = gemms.iter().filter(|g| f(g)).cloned().collect();
            Ok(totals(&g)?.macs_dense)
        };
        rows.push(ModelRow {
            name: b.name.replace('_', "-"),
            layers: m.layers.len(),
            weight_layers: m.weight_layers(),
            weight_params: m.weight_params(),
            forward_macs: sum(&|g| g.pass == Pass::Ff)?,
            attention_macs: sum(&|g| g.pass == Pass::Ff && g.kind == GemmKind::Attention)?,
            training_step_macs: sum(&|_| true)?,
        });
    }
    Ok(rows)
}
