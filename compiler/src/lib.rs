//! `nmsat-compiler`: model front ends, the BDWP training graph and its
//! lowering to the GEMMs of one training step.
//!
//! ```text
//! model argument ──► load_model ──► Model (layer IR) ──► TrainingGraph (petgraph) ──► Vec<Gemm>
//!  .nm DSL │ SCALE-Sim CSV │ *.layers.csv │ built-in name        FF/BP/WG/WU + sparsifiers
//! ```
//!
//! - [`load_model`] resolves a built-in name (`resnet18-cifar10`) or a file
//!   path (by extension, then by content) with the front ends [`dsl`],
//!   [`scalesim`] and [`table`]; [`builtin`] lists the embedded models.
//! - [`Model`] ([`model`]) is the layer-level IR: layers with kinds, shapes,
//!   producers and per-layer N:M overrides, including the weightless layers
//!   (ReLU, pooling, residual add, softmax) the vector unit runs.
//! - [`TrainingGraph`] ([`graph`]) is one training step under a [`Method`]:
//!   FF/BP/WG/WU nodes per layer, sparsifier nodes for `W_ff`/`W_bp`, tensor
//!   edges with shapes and N:M operands.
//! - [`lower()`] ([`mod@lower`]) gives the GEMMs `(M, N, K, count)` in the col2im
//!   convention of `data/models/README.md` for any batch, each with its
//!   N:M operand or the reason it stays dense.
//!
//! Every failure is a [`CompileError`] that names the file and line/column
//! (or row/field) at fault.

pub mod builtin;
mod csv;
pub mod dsl;
pub mod error;
pub mod graph;
pub mod lower;
pub mod model;
pub mod scalesim;
pub mod step;
pub mod table;

use std::path::Path;

pub use builtin::{Builtin, builtin_names, builtins, find_builtin};
pub use error::{CompileError, Location};
pub use graph::{Node, NodeOp, Tensor, TensorRole, TrainingGraph};
pub use lower::{LowerOptions, Method, Totals, lower, totals};
pub use model::{
    AttnOp, AttnSpec, Connectivity, ConvSpec, Input, Layer, LayerId, LayerKind, LinearSpec, Model, NmOverride, PoolOp,
    PoolSpec, Shape, VectorOp,
};
pub use step::step_workload;

/// Loads a model from a built-in name or a file path.
///
/// An existing file wins over a built-in of the same name. Files are read by
/// extension (`.nm`, `.layers.csv`, other `.csv`) and, failing that, by
/// content (see [`load_source`]).
pub fn load_model(arg: &str) -> Result<Model, CompileError> {
    let path = Path::new(arg);
    if path.is_file() {
        let bytes = std::fs::read(path)
            .map_err(|e| CompileError::Io { loc: Location::File { file: arg.to_string() }, message: e.to_string() })?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes());
                return Err(CompileError::syntax(
                    Location::at_offset(arg, &lossy, valid),
                    "the file is not UTF-8 text",
                ));
            }
        };
        return load_source(arg, &text);
    }
    if let Some(b) = find_builtin(arg) {
        return b.load();
    }
    let looks_like_path = arg.contains(['/', '\\']) || arg.ends_with(".nm") || arg.ends_with(".csv");
    if looks_like_path {
        let message = if path.is_dir() { "a directory, not a model file" } else { "no such file" };
        return Err(CompileError::Io { loc: Location::File { file: arg.to_string() }, message: message.to_string() });
    }
    Err(CompileError::UnknownModel { loc: Location::Argument { arg: arg.to_string() }, known: builtin_names() })
}

/// Parses model text whose origin is `file`: `.nm` → the DSL; `.csv` → a
/// layer table if the header has `type` and `C_in`, else a SCALE-Sim
/// topology; any other name → the DSL if the text starts with `model`, else
/// a CSV as above.
pub fn load_source(file: &str, text: &str) -> Result<Model, CompileError> {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".nm") {
        return dsl::parse(file, text);
    }
    if !lower.ends_with(".csv") {
        let first =
            text.trim_start_matches('\u{feff}').lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
        if first.is_some_and(|l| l.starts_with("model")) {
            return dsl::parse(file, text);
        }
    }
    match csv::parse(text) {
        Some(t) if table::looks_like_layer_table(&t) || lower.ends_with(".layers.csv") => table::parse(file, text),
        Some(_) => scalesim::parse(file, text),
        None => Err(CompileError::syntax(Location::File { file: file.to_string() }, "the file is empty")),
    }
}
