//! The ONNX front end: a `.onnx` file (binary protobuf) to the layer IR.
//!
//! Only the graph is read: node types, attributes, the dims of initializers
//! (weights may be stripped or external) and `value_info` shapes. Shapes are
//! inferred node by node from the graph input, so files without
//! `value_info` import; where `value_info` gives a concrete shape it is
//! checked against the inferred one. Dimension 0 of every activation is
//! the batch (symbolic or any size in the file): the IR is per sample.
//!
//! Operators map to IR layers (`docs/onnx.md` has the full table):
//! `Conv` → conv (groups kept: depthwise and grouped convolutions are
//! `groups` GEMMs), `Gemm`/`MatMul` with a constant operand → linear,
//! `MatMul` of two activations → an attention matmul, `Add` of two
//! activations → a residual add, `Relu`/`Clip` → relu, `Erf`/`Gelu` → gelu,
//! `Softmax` → softmax, `BatchNormalization`/`LayerNormalization` → norm,
//! pools → pool, `Flatten` → flatten. Data movement (`Reshape`,
//! `Transpose`, `Pad`, `Concat`, `Split`, `Gather`, …) makes no layer: its
//! output carries the producers of its input. Elementwise operators without
//! a vector-unit operator are listed in [`Model::notes`] with their element
//! counts. An operator outside the table is refused naming the node, or
//! skipped (treated as the identity on its first input) with
//! [`LoadOptions::skip_unsupported`].

mod ops;
mod proto;
mod values;
mod views;

use std::collections::{BTreeMap, HashMap, HashSet};

use prost::Message;

use crate::LoadOptions;
use crate::error::{CompileError, Location};
use crate::model::{Connectivity, Input, Layer, LayerId, LayerKind, Model, NmOverride, Shape};
use proto::{GraphProto, ModelProto, NodeProto};
use values::{Act, Const, Fail, Val, ir_shape, tensor_dims, tensor_ints};

/// True when `bytes` decode as an ONNX model (a protobuf with a graph and an IR version).
pub(crate) fn looks_like_onnx(bytes: &[u8]) -> bool {
    ModelProto::decode(bytes).is_ok_and(|m| m.graph.is_some() && m.ir_version > 0)
}

/// Imports the ONNX model in `bytes`; `file` names it in errors and is the model's source.
pub(crate) fn parse(file: &str, bytes: Vec<u8>, opts: &LoadOptions) -> Result<Model, CompileError> {
    let whole = Location::File { file: file.to_string() };
    let m = ModelProto::decode(bytes::Bytes::from(bytes)).map_err(|e| {
        CompileError::syntax(whole.clone(), format!("not an ONNX file: the protobuf does not decode ({e})"))
    })?;
    let Some(graph) = m.graph else {
        return Err(CompileError::syntax(whole, "not an ONNX model: the protobuf has no graph"));
    };
    if m.ir_version <= 0 {
        return Err(CompileError::syntax(whole, "not an ONNX model: no IR version"));
    }
    let mut imp = Importer::new(file, opts);
    imp.read_graph(&graph)?;
    imp.finish(&graph, file)
}

/// State while importing one graph.
pub(crate) struct Importer<'a> {
    file: &'a str,
    opts: LoadOptions,
    vals: HashMap<String, Val>,
    /// Concrete per-sample dims from `value_info` and graph outputs.
    info: HashMap<String, Vec<u64>>,
    layers: Vec<Layer>,
    names: HashSet<String>,
    /// Not-modelled operators: op → (nodes, elements per sample).
    unmodelled: BTreeMap<String, (u64, u64)>,
    skipped: Vec<String>,
    notes: Vec<String>,
    input: Option<Shape>,
}

impl<'a> Importer<'a> {
    fn new(file: &'a str, opts: &LoadOptions) -> Self {
        Self {
            file,
            opts: *opts,
            vals: HashMap::new(),
            info: HashMap::new(),
            layers: Vec::new(),
            names: HashSet::new(),
            unmodelled: BTreeMap::new(),
            skipped: Vec::new(),
            notes: Vec::new(),
            input: None,
        }
    }

    fn read_graph(&mut self, g: &GraphProto) -> Result<(), CompileError> {
        let whole = Location::File { file: self.file.to_string() };
        for t in &g.initializer {
            let dims = tensor_dims(t, &whole)?;
            self.vals.insert(t.name.clone(), Val::Const(Const { dims, ints: tensor_ints(t) }));
        }
        for vi in g.value_info.iter().chain(&g.output) {
            if let Some(d) = concrete_dims(vi) {
                self.info.insert(vi.name.clone(), d);
            }
        }
        let data_inputs: Vec<_> = g.input.iter().filter(|i| !self.vals.contains_key(&i.name)).collect();
        let Some(first) = data_inputs.first() else {
            return Err(CompileError::value(whole, "the graph has no input (every input is an initializer)"));
        };
        if data_inputs.len() > 1 {
            let names: Vec<&str> = data_inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(CompileError::value(
                whole,
                format!("the graph has {} inputs ({}); nmsat models one input", names.len(), names.join(", ")),
            ));
        }
        let dims = input_dims(first, &whole)?;
        self.vals.insert(first.name.clone(), Val::Act(Act { dims, srcs: vec![Input::Model], softmax: false }));
        for (i, node) in g.node.iter().enumerate() {
            self.node(i, node)?;
        }
        Ok(())
    }

    /// Imports one node, skipping it when unsupported and asked to.
    fn node(&mut self, index: usize, n: &NodeProto) -> Result<(), CompileError> {
        let loc = self.loc(index, n);
        match self.op(n, &loc) {
            Ok(()) => {}
            Err(Fail::Error(e)) => return Err(e),
            Err(Fail::Unsupported(why)) if self.opts.skip_unsupported => {
                self.skip(n, &loc, &why)?;
            }
            Err(Fail::Unsupported(why)) => {
                return Err(CompileError::value(
                    loc,
                    format!("unsupported: {why} (`--skip-unsupported` skips such nodes)"),
                ));
            }
        }
        self.check_info(n, &loc)
    }

    /// Skips node `n`: each output becomes its first activation input (shape from `value_info` when known).
    fn skip(&mut self, n: &NodeProto, loc: &Location, why: &str) -> Result<(), CompileError> {
        let first = n.input.iter().find_map(|i| match self.vals.get(i) {
            Some(Val::Act(a)) => Some(a.clone()),
            _ => None,
        });
        let Some(act) = first else {
            return Err(CompileError::value(
                loc.clone(),
                format!("unsupported: {why}; it cannot be skipped: it reads no activation"),
            ));
        };
        for out in n.output.iter().filter(|o| !o.is_empty()) {
            let mut a = act.clone();
            if let Some(d) = self.info.get(out) {
                a.dims = std::iter::once(act.dims[0]).chain(d.iter().copied()).collect();
            }
            self.vals.insert(out.clone(), Val::Act(a));
        }
        self.skipped.push(format!("{loc}: {why}"));
        Ok(())
    }

    /// Checks the inferred per-sample dims of `n`'s outputs against `value_info`.
    fn check_info(&self, n: &NodeProto, loc: &Location) -> Result<(), CompileError> {
        for out in &n.output {
            if let (Some(Val::Act(a)), Some(want)) = (self.vals.get(out), self.info.get(out))
                && a.sample() != want.as_slice()
            {
                return Err(CompileError::shape(
                    loc.clone(),
                    format!("output `{out}` is inferred as {:?} per sample but value_info says {want:?}", a.sample()),
                ));
            }
        }
        Ok(())
    }

    fn loc(&self, index: usize, n: &NodeProto) -> Location {
        let node = if n.name.is_empty() { format!("#{index}") } else { n.name.clone() };
        Location::Node { file: self.file.to_string(), node, op: n.op_type.clone() }
    }

    /// The activation named `name`, or an error.
    pub(crate) fn act(&self, name: &str, loc: &Location) -> Result<Act, Fail> {
        match self.vals.get(name) {
            Some(Val::Act(a)) => Ok(a.clone()),
            Some(Val::Const(_)) => {
                Err(Fail::Unsupported(format!("input `{name}` is a constant where an activation is expected")))
            }
            None => Err(missing(name, loc)),
        }
    }

    /// The value named `name`, or an error.
    pub(crate) fn val(&self, name: &str, loc: &Location) -> Result<Val, Fail> {
        self.vals.get(name).cloned().ok_or_else(|| missing(name, loc))
    }

    /// Sets output `i` of `n`.
    pub(crate) fn set(&mut self, n: &NodeProto, i: usize, v: Val) {
        if let Some(name) = n.output.get(i).filter(|o| !o.is_empty()) {
            self.vals.insert(name.clone(), v);
        }
    }

    /// Adds a layer for node `n` and returns its output as an activation source.
    pub(crate) fn push(
        &mut self,
        n: &NodeProto,
        loc: &Location,
        kind: LayerKind,
        inputs: Vec<Input>,
        in_shape: Shape,
        out_shape: Shape,
    ) -> Input {
        let name = self.unique_name(&layer_name(n));
        let id = LayerId(self.layers.len() as u32);
        if self.input.is_none() && inputs.contains(&Input::Model) {
            self.input = Some(in_shape);
        }
        self.layers.push(Layer {
            name,
            kind,
            inputs,
            in_shape,
            out_shape,
            nm: NmOverride::Inherit,
            origin: loc.clone(),
        });
        Input::Layer(id)
    }

    /// Records an operator that does no modelled work on `elements` per sample.
    pub(crate) fn unmodelled(&mut self, op: &str, elements: u64) {
        let e = self.unmodelled.entry(op.to_string()).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.saturating_add(elements);
    }

    fn unique_name(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut k = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        name
    }

    fn finish(mut self, g: &GraphProto, file: &str) -> Result<Model, CompileError> {
        let whole = Location::File { file: file.to_string() };
        if self.layers.is_empty() {
            return Err(CompileError::value(
                whole,
                "the graph has no operator nmsat models (no Conv, Gemm, MatMul, pool or activation)",
            ));
        }
        if !self.layers.iter().any(|l| l.kind.has_weights()) {
            self.notes.push("the graph has no weight layer (Conv, Gemm, MatMul with a constant operand)".into());
        }
        for (op, (count, elems)) in &self.unmodelled {
            self.notes.push(format!(
                "not modelled: {op} ×{count} ({elems} elements per sample; no GEMM, no vector-unit operator)"
            ));
        }
        for s in &self.skipped {
            self.notes.push(format!("skipped {s}"));
        }
        let input = self
            .input
            .or_else(|| g.input.first().and_then(concrete_dims).map(|d| ir_shape(&d)))
            .unwrap_or(Shape::vector(1));
        let name = if g.name.is_empty() || g.name == "main_graph" || g.name == "torch_jit" {
            stem(file)
        } else {
            g.name.clone()
        };
        Ok(Model {
            name,
            source: file.to_string(),
            input,
            layers: self.layers,
            connectivity: Connectivity::Exact,
            pass_file: None,
            notes: self.notes,
        })
    }
}

fn missing(name: &str, loc: &Location) -> Fail {
    Fail::Error(CompileError::value(
        loc.clone(),
        format!(
            "input `{name}` is not produced by an earlier node, an initializer or the graph input (are the nodes topologically sorted?)"
        ),
    ))
}

/// Per-sample dims of a value info whose non-batch dims are all known.
fn concrete_dims(vi: &proto::ValueInfoProto) -> Option<Vec<u64>> {
    let shape = vi.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?;
    shape.dim.iter().skip(1).map(|d| d.dim_value.and_then(|v| u64::try_from(v).ok()).filter(|&v| v > 0)).collect()
}

/// Dims of the graph input, batch first (a symbolic batch counts as 1).
fn input_dims(vi: &proto::ValueInfoProto, loc: &Location) -> Result<Vec<u64>, CompileError> {
    let shape = vi.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()).and_then(|t| t.shape.as_ref());
    let Some(shape) = shape else {
        return Err(CompileError::value(loc.clone(), format!("graph input `{}` has no tensor shape", vi.name)));
    };
    if shape.dim.is_empty() {
        return Err(CompileError::value(
            loc.clone(),
            format!("graph input `{}` is a scalar; a batch dimension is needed", vi.name),
        ));
    }
    let mut dims = vec![1];
    for (i, d) in shape.dim.iter().enumerate().skip(1) {
        match d.dim_value.and_then(|v| u64::try_from(v).ok()).filter(|&v| v > 0) {
            Some(v) => dims.push(v),
            None => {
                let what = d.dim_param.clone().unwrap_or_else(|| "unknown".into());
                return Err(CompileError::value(
                    loc.clone(),
                    format!(
                        "dimension {i} of graph input `{}` is `{what}`; nmsat needs fixed sizes for all but the batch dimension",
                        vi.name
                    ),
                ));
            }
        }
    }
    Ok(dims)
}

/// A layer name from an exporter's node name: `/layer1/layer1.0/conv1/Conv`
/// → `layer1.0.conv1` (PyTorch module paths), else the name itself, else the op type.
fn layer_name(n: &NodeProto) -> String {
    let trimmed = n.name.trim_start_matches('/');
    if n.name.starts_with('/') && trimmed.contains('/') {
        let mut parts: Vec<&str> = Vec::new();
        let segs: Vec<&str> = trimmed.split('/').collect();
        for s in &segs[..segs.len() - 1] {
            if let Some(p) = parts.last()
                && s.len() > p.len()
                && s.starts_with(p)
                && s.as_bytes()[p.len()] == b'.'
            {
                parts.pop();
            }
            parts.push(s);
        }
        return parts.join(".");
    }
    if n.name.is_empty() { n.op_type.to_ascii_lowercase() } else { n.name.clone() }
}

fn stem(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.split('.').next().filter(|s| !s.is_empty()).unwrap_or("onnx_model").to_string()
}

#[cfg(test)]
mod tests;
