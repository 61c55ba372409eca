//! `nmsat-compiler`: model front ends, the BDWP training graph and its
//! lowering to the GEMMs of one training step.
//!
//! ```text
//! model argument ──► load_model ──► Model (layer IR) ──► TrainingGraph (petgraph) ──► Vec<Gemm>
//!  .nm DSL │ ONNX │ SCALE-Sim CSV │ *.layers.csv │ built-in   FF/BP/WG/WU + sparsifiers
//! ```
//!
//! - [`load_model`] resolves a built-in name (`resnet18-cifar10`) or a file
//!   path (by extension, then by content) with the front ends [`dsl`],
//!   ONNX (`.onnx`, graph and shapes only), [`scalesim`] and [`table`];
//!   [`builtin`] lists the embedded models; [`nm_writer`] prints a model
//!   back as `.nm`.
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
pub mod nm_writer;
mod onnx;
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

/// Options of the model front ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// ONNX: skip operators nmsat does not support (each is treated as the
    /// identity on its first input and listed in [`Model::notes`]) instead
    /// of refusing the graph.
    pub skip_unsupported: bool,
}

/// Loads a model from a built-in name or a file path.
///
/// An existing file wins over a built-in of the same name. Files are read by
/// extension (`.onnx`, `.nm`, `.layers.csv`, other `.csv`) and, failing that, by
/// content (see [`load_bytes`]).
pub fn load_model(arg: &str) -> Result<Model, CompileError> {
    load_model_with(arg, &LoadOptions::default())
}

/// [`load_model`] with front-end options.
pub fn load_model_with(arg: &str, opts: &LoadOptions) -> Result<Model, CompileError> {
    let path = Path::new(arg);
    if path.is_file() {
        let bytes = std::fs::read(path)
            .map_err(|e| CompileError::Io { loc: Location::File { file: arg.to_string() }, message: e.to_string() })?;
        return load_bytes(arg, bytes, opts);
    }
    if let Some(b) = find_builtin(arg) {
        return b.load();
    }
    let looks_like_path =
        arg.contains(['/', '\\']) || arg.ends_with(".nm") || arg.ends_with(".csv") || arg.ends_with(".onnx");
    if looks_like_path {
        let message = if path.is_dir() { "a directory, not a model file" } else { "no such file" };
        return Err(CompileError::Io { loc: Location::File { file: arg.to_string() }, message: message.to_string() });
    }
    Err(CompileError::UnknownModel { loc: Location::Argument { arg: arg.to_string() }, known: builtin_names() })
}

/// Parses a model file's bytes; `file` is its path (for the extension and
/// in errors). `.onnx` files, and files that are not UTF-8 but decode as an
/// ONNX model, go to the ONNX front end; text goes to [`load_source`].
pub fn load_bytes(file: &str, bytes: Vec<u8>, opts: &LoadOptions) -> Result<Model, CompileError> {
    if file.to_ascii_lowercase().ends_with(".onnx") {
        return onnx::parse(file, bytes, opts);
    }
    match String::from_utf8(bytes) {
        Ok(text) => load_source(file, &text),
        Err(e) if onnx::looks_like_onnx(e.as_bytes()) => onnx::parse(file, e.into_bytes(), opts),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes());
            Err(CompileError::syntax(Location::at_offset(file, &lossy, valid), "the file is not UTF-8 text"))
        }
    }
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
