//! The built-in models with their size and work (`nmsat models`).

use serde::Serialize;

/// One model's size and work.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    /// Name as given on the command line (`resnet18-cifar10`).
    pub name: String,
    /// Layers of every kind.
    pub layers: usize,
    /// Conv and linear layers.
    pub weight_layers: usize,
    /// Weights.
    pub weight_params: u64,
    /// Dense forward MACs at batch 1.
    pub forward_macs: u64,
    /// The attention matmuls' share of them.
    pub attention_macs: u64,
    /// Dense MACs of a whole training step (FF, BP, WG) at batch 1.
    pub training_step_macs: u64,
}

/// A header line and one CSV line per model.
pub fn csv(rows: &[ModelRow]) -> String {
    let mut s =
        String::from("name,layers,weight_layers,weight_params,forward_macs,attention_macs,training_step_macs\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.name, r.layers, r.weight_layers, r.weight_params, r.forward_macs, r.attention_macs, r.training_step_macs
        ));
    }
    s
}

/// The aligned table with short figures (JSON and CSV keep exact integers).
pub fn table(rows: &[ModelRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.weight_layers.to_string(),
                si(r.weight_params),
                si(r.forward_macs),
                si(r.training_step_macs),
            ]
        })
        .collect();
    crate::table::table(
        &["model", "weight layers", "params", "forward MACs", "training-step MACs (dense, batch 1)"],
        &cells,
    )
}

/// `1.664 G`, `11.16 M`, `42.9 k`: short figures for the table.
pub fn si(x: u64) -> String {
    let f = x as f64;
    if f >= 1e9 {
        format!("{:.3} G", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2} M", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} k", f / 1e3)
    } else {
        x.to_string()
    }
}
