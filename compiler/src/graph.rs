//! The training graph of one step (petgraph): what runs, on which tensors.
//!
//! Nodes ([`NodeOp`]): the input batch, per weight layer its dense master
//! weights (`Param`), the sparsifier nodes that produce `W_ff` (N:M along
//! `C_in·R·S`) and `W_bp` (N:M along `C_out`) when the method makes that
//! pass sparse, and per layer its FF, BP (omitted where no input needs a
//! gradient, e.g. the first layer), WG and WU nodes, plus the loss. Edges
//! ([`Tensor`]) carry shapes (batch first), element counts and, for a
//! sparse weight, its pattern and group dimension.
//!
//! Under pre-generation the sparsifier nodes run at the end of the previous
//! step's WU; the graph draws them from `Param` so it stays acyclic.
//!
//! Node order is execution order: input, per layer (params, sparsifiers,
//! FF), loss, then per layer in reverse (BP, WG, WU). [`TrainingGraph::gemms`]
//! lists the GEMMs of the FF, BP and WG nodes in that order.

use std::fmt::Write as _;

use nmsat_dataflow::{Gemm, NmOperand, Pass};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::error::{CompileError, mul};
use crate::lower::{Analysis, LowerOptions, Method, layer_gemms, pass_file_gemm};
use crate::model::{Input, LayerId, LayerKind, Model, Shape};

/// What a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum NodeOp {
    /// The input batch (from DRAM).
    Input,
    /// A layer's dense master weights `W`.
    Param,
    /// The sparsifier: top-N-of-M of `W` into the compressed `W_ff` (for FF) or `W_bp` (for BP).
    Sparsify {
        /// The pass whose operand it produces.
        pass: Pass,
    },
    /// Forward pass of a layer.
    Ff,
    /// Backward (input-gradient) pass of a layer.
    Bp,
    /// Weight-gradient pass of a layer.
    Wg,
    /// Weight update of a layer (vector unit).
    Wu,
    /// Loss and its gradient (vector unit).
    Loss,
}

impl NodeOp {
    /// Short label (`FF`, `BP`, `sparsify FF`, `param`, …).
    pub fn label(&self) -> String {
        match self {
            NodeOp::Input => "input".into(),
            NodeOp::Param => "param".into(),
            NodeOp::Sparsify { pass } => format!("sparsify {pass}"),
            NodeOp::Ff => "FF".into(),
            NodeOp::Bp => "BP".into(),
            NodeOp::Wg => "WG".into(),
            NodeOp::Wu => "WU".into(),
            NodeOp::Loss => "loss".into(),
        }
    }
}

/// A node of the training graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// What it does.
    #[serde(flatten)]
    pub op: NodeOp,
    /// The layer it belongs to (none for input and loss).
    pub layer: Option<LayerId>,
    /// Unique readable name, e.g. `conv1.FF`, `conv1.sparsify_BP`.
    pub name: String,
    /// The GEMMs it runs (FF/BP/WG of conv, linear and attention layers); empty for vector-unit work.
    pub gemms: Vec<Gemm>,
}

/// What a tensor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorRole {
    /// A forward activation (also saved for WG/BP).
    Activation,
    /// A gradient w.r.t. an activation.
    Gradient,
    /// Dense master weights.
    Weight,
    /// Compressed N:M weights (`W_ff` or `W_bp`).
    SparseWeight,
    /// A weight gradient.
    WeightGradient,
}

/// An edge: a tensor from its producer to a consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tensor {
    /// Name, e.g. `conv1.out`, `d(conv1.out)`, `conv2.W_ff`.
    pub name: String,
    /// What it is.
    pub role: TensorRole,
    /// Dimensions, batch first for activations and gradients; `[C_out, C_in/g, R, S]` or `[out, in]` for weights.
    pub shape: Vec<u64>,
    /// Elements (logical, before N:M compression).
    pub elements: u64,
    /// The N:M pattern and group dimension of a sparse weight.
    pub nm: Option<NmOperand>,
}

/// The training graph of one step of a model under one method.
#[derive(Debug, Clone)]
pub struct TrainingGraph {
    /// Model name.
    pub model: String,
    /// The lowering options it was built for.
    pub options: LowerOptions,
    /// Nodes in execution order and tensor edges.
    pub graph: DiGraph<Node, Tensor>,
}

struct Builder<'a> {
    model: &'a Model,
    opts: &'a LowerOptions,
    g: DiGraph<Node, Tensor>,
}

impl Builder<'_> {
    fn node(&mut self, op: NodeOp, layer: Option<LayerId>, name: String, gemms: Vec<Gemm>) -> NodeIndex {
        self.g.add_node(Node { op, layer, name, gemms })
    }

    fn tensor(
        &self,
        name: String,
        role: TensorRole,
        shape: Vec<u64>,
        nm: Option<NmOperand>,
    ) -> Result<Tensor, CompileError> {
        let loc = crate::error::Location::Layer { name: name.clone() };
        let mut elements: u64 = 1;
        for &d in &shape {
            elements = mul(elements, d, &loc, "tensor elements")?;
        }
        Ok(Tensor { name, role, shape, elements, nm })
    }

    fn batched(&self, s: &Shape) -> Vec<u64> {
        let mut v = vec![self.opts.batch];
        v.extend(s.dims());
        v
    }

    fn weight_shape(&self, kind: &LayerKind) -> Vec<u64> {
        match kind {
            LayerKind::Conv(c) => vec![c.c_out, c.c_in / c.groups.max(1), c.kernel.0, c.kernel.1],
            LayerKind::Linear(l) => vec![l.out_features, l.in_features],
            _ => Vec::new(),
        }
    }

    fn produced(&self, inp: Input) -> (String, Shape) {
        match inp {
            Input::Model => ("input".to_string(), self.model.input),
            Input::Layer(p) => {
                let l = self.model.layer(p);
                (format!("{}.out", l.name), l.out_shape)
            }
        }
    }
}

/// The forward half of the graph: the input node, each layer's FF node and
/// each weight layer's parameter node.
struct Forward {
    input: NodeIndex,
    ff: Vec<NodeIndex>,
    param: Vec<Option<NodeIndex>>,
}

impl Forward {
    /// The node that produces input `inp`.
    fn source(&self, inp: Input) -> NodeIndex {
        match inp {
            Input::Model => self.input,
            Input::Layer(p) => self.ff[p.index()],
        }
    }
}

impl<'a> Builder<'a> {
    /// One node per layer of a single-pass file (no training graph around it).
    fn pass_file(&mut self, pass: Pass) -> Result<(), CompileError> {
        let (model, opts) = (self.model, self.opts);
        for (i, l) in model.layers.iter().enumerate() {
            let gemms = pass_file_gemm(l, pass, opts, i == 0)?;
            let op = match pass {
                Pass::Ff => NodeOp::Ff,
                Pass::Bp => NodeOp::Bp,
                Pass::Wg => NodeOp::Wg,
                Pass::Wu => NodeOp::Wu,
            };
            self.node(op, Some(LayerId(i as u32)), format!("{}.{}", l.name, pass), gemms);
        }
        Ok(())
    }

    /// An edge into `node` for each of layer `i`'s inputs, from the node that produces it.
    fn input_edges(&mut self, fw: &Forward, i: usize, node: NodeIndex) -> Result<(), CompileError> {
        for &inp in &self.model.layers[i].inputs {
            let (name, shape) = self.produced(inp);
            let t = self.tensor(name, TensorRole::Activation, self.batched(&shape), None)?;
            self.g.add_edge(fw.source(inp), node, t);
        }
        Ok(())
    }

    /// The weight operand of layer `i`'s `pass` from its parameter node
    /// `p`: through a sparsify node when the pass is N:M (`sparse`).
    fn weight_operand(
        &mut self,
        i: usize,
        p: NodeIndex,
        pass: Pass,
        sparse: Option<NmOperand>,
    ) -> Result<(NodeIndex, Tensor), CompileError> {
        let l = &self.model.layers[i];
        let wshape = self.weight_shape(&l.kind);
        let Some(nm) = sparse else {
            return Ok((p, self.tensor(format!("{}.W", l.name), TensorRole::Weight, wshape, None)?));
        };
        let (node, suffix) = match pass {
            Pass::Bp => ("sparsify_BP", "W_bp"),
            _ => ("sparsify_FF", "W_ff"),
        };
        let s = self.node(NodeOp::Sparsify { pass }, Some(LayerId(i as u32)), format!("{}.{node}", l.name), Vec::new());
        let t = self.tensor(format!("{}.W", l.name), TensorRole::Weight, wshape.clone(), None)?;
        self.g.add_edge(p, s, t);
        Ok((s, self.tensor(format!("{}.{suffix}", l.name), TensorRole::SparseWeight, wshape, Some(nm))?))
    }

    /// The FF nodes in layer order, with their weights (sparsified where the
    /// pass is N:M) and activations.
    fn forward(&mut self, an: &Analysis) -> Result<Forward, CompileError> {
        let (model, opts) = (self.model, self.opts);
        let n = model.layers.len();
        let input = self.node(NodeOp::Input, None, "input".into(), Vec::new());
        let mut fw = Forward { input, ff: vec![NodeIndex::end(); n], param: vec![None; n] };
        for (i, l) in model.layers.iter().enumerate() {
            let id = Some(LayerId(i as u32));
            let gemms = layer_gemms(l, Pass::Ff, opts, an.is_first(model, i))?;
            let sparse = gemms.first().and_then(|g| g.sparse);
            let mut weight_src = None;
            if l.kind.has_weights() {
                let p = self.node(NodeOp::Param, id, format!("{}.W", l.name), Vec::new());
                fw.param[i] = Some(p);
                weight_src = Some(self.weight_operand(i, p, Pass::Ff, sparse)?);
            }
            let f = self.node(NodeOp::Ff, id, format!("{}.FF", l.name), gemms);
            fw.ff[i] = f;
            if let Some((src, t)) = weight_src {
                self.g.add_edge(src, f, t);
            }
            self.input_edges(&fw, i, f)?;
        }
        Ok(fw)
    }

    /// The loss node, fed by every layer no other layer reads.
    fn loss(&mut self, an: &Analysis, fw: &Forward) -> Result<NodeIndex, CompileError> {
        let loss = self.node(NodeOp::Loss, None, "loss".into(), Vec::new());
        for i in (0..self.model.layers.len()).filter(|&i| an.consumers[i].is_empty()) {
            let l = &self.model.layers[i];
            let t = self.tensor(format!("{}.out", l.name), TensorRole::Activation, self.batched(&l.out_shape), None)?;
            self.g.add_edge(fw.ff[i], loss, t);
        }
        Ok(loss)
    }

    /// Layer `i`'s output gradient, one edge from each of `grad_srcs` into `node`.
    fn gradient_edges(&mut self, i: usize, grad_srcs: &[NodeIndex], node: NodeIndex) -> Result<(), CompileError> {
        let l = &self.model.layers[i];
        for &s in grad_srcs {
            let t =
                self.tensor(format!("d({}.out)", l.name), TensorRole::Gradient, self.batched(&l.out_shape), None)?;
            self.g.add_edge(s, node, t);
        }
        Ok(())
    }

    /// Layer `i`'s BP node: its output gradient, its weights (sparsified
    /// where the pass is N:M) or the forward state a weightless layer keeps.
    fn bp(&mut self, fw: &Forward, i: usize, first: bool, grad_srcs: &[NodeIndex]) -> Result<NodeIndex, CompileError> {
        let l: &'a crate::model::Layer = &self.model.layers[i];
        let gemms = layer_gemms(l, Pass::Bp, self.opts, first)?;
        let sparse = gemms.first().and_then(|g| g.sparse);
        let node = self.node(NodeOp::Bp, Some(LayerId(i as u32)), format!("{}.BP", l.name), gemms);
        self.gradient_edges(i, grad_srcs, node)?;
        if let Some(p) = fw.param[i] {
            let (src, t) = self.weight_operand(i, p, Pass::Bp, sparse)?;
            self.g.add_edge(src, node, t);
            return Ok(node);
        }
        // Weightless layers keep forward state for their backward pass:
        // attention its operands, the others their output (ReLU mask, arg-max, softmax).
        match l.kind {
            LayerKind::AttnMatmul(_) => self.input_edges(fw, i, node)?,
            LayerKind::Add | LayerKind::Flatten => {}
            _ => {
                let t =
                    self.tensor(format!("{}.out", l.name), TensorRole::Activation, self.batched(&l.out_shape), None)?;
                self.g.add_edge(fw.ff[i], node, t);
            }
        }
        Ok(node)
    }

    /// Layer `i`'s WG node (output gradient and activations in) and WU node
    /// (the weight gradient and the parameter `p` in).
    fn wg_wu(
        &mut self,
        fw: &Forward,
        i: usize,
        first: bool,
        grad_srcs: &[NodeIndex],
        p: NodeIndex,
    ) -> Result<(), CompileError> {
        let l: &'a crate::model::Layer = &self.model.layers[i];
        let id = Some(LayerId(i as u32));
        let gemms = layer_gemms(l, Pass::Wg, self.opts, first)?;
        let wg = self.node(NodeOp::Wg, id, format!("{}.WG", l.name), gemms);
        self.gradient_edges(i, grad_srcs, wg)?;
        self.input_edges(fw, i, wg)?;
        let wu = self.node(NodeOp::Wu, id, format!("{}.WU", l.name), Vec::new());
        let wshape = self.weight_shape(&l.kind);
        let t = self.tensor(format!("{}.dW", l.name), TensorRole::WeightGradient, wshape.clone(), None)?;
        self.g.add_edge(wg, wu, t);
        let t = self.tensor(format!("{}.W", l.name), TensorRole::Weight, wshape, None)?;
        self.g.add_edge(p, wu, t);
        Ok(())
    }

    /// The backward half, last layer first: BP where an input gradient is
    /// needed, WG and WU for every weight layer.
    fn backward(&mut self, an: &Analysis, fw: &Forward, loss: NodeIndex) -> Result<(), CompileError> {
        let model = self.model;
        let n = model.layers.len();
        let mut bp: Vec<Option<NodeIndex>> = vec![None; n];
        for i in (0..n).rev() {
            let first = an.is_first(model, i);
            // Where this layer's output gradient comes from.
            let grad_srcs: Vec<NodeIndex> = if an.consumers[i].is_empty() {
                vec![loss]
            } else {
                an.consumers[i].iter().filter_map(|&c| bp[c]).collect()
            };
            if an.needs_bp[i] {
                bp[i] = Some(self.bp(fw, i, first, &grad_srcs)?);
            }
            if let Some(p) = fw.param[i] {
                self.wg_wu(fw, i, first, &grad_srcs, p)?;
            }
        }
        Ok(())
    }
}

impl TrainingGraph {
    /// Builds the graph of `model` under `opts`. Fails on batch 0, on arithmetic overflow, and on
    /// a hand-built model whose layer reads a later layer (front ends never produce one).
    pub fn build(model: &Model, opts: &LowerOptions) -> Result<TrainingGraph, CompileError> {
        if opts.batch == 0 {
            return Err(CompileError::value(
                crate::error::Location::Argument { arg: model.source.clone() },
                "batch must be at least 1",
            ));
        }
        for (i, l) in model.layers.iter().enumerate() {
            if let Some(Input::Layer(p)) = l.inputs.iter().find(|x| matches!(x, Input::Layer(p) if p.index() >= i)) {
                return Err(CompileError::value(
                    l.origin.clone(),
                    format!("layer `{}` reads layer #{} which does not come before it", l.name, p.0),
                ));
            }
        }
        let mut b = Builder { model, opts, g: DiGraph::new() };
        if let Some(pass) = model.pass_file {
            b.pass_file(pass)?;
        } else {
            let an = Analysis::new(model);
            let fw = b.forward(&an)?;
            let loss = b.loss(&an, &fw)?;
            b.backward(&an, &fw, loss)?;
        }
        Ok(TrainingGraph { model: model.name.clone(), options: *opts, graph: b.g })
    }

    /// All GEMMs, in node (execution) order.
    pub fn gemms(&self) -> Vec<Gemm> {
        self.graph.node_weights().flat_map(|n| n.gemms.iter().cloned()).collect()
    }

    /// Nodes in execution order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.graph.node_weights()
    }

    /// Edges as `(from, to, tensor)` node names, in insertion order.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str, &Tensor)> {
        self.graph
            .edge_references()
            .map(|e| (self.graph[e.source()].name.as_str(), self.graph[e.target()].name.as_str(), e.weight()))
    }

    /// The column names of [`TrainingGraph::edge_cells`].
    pub const EDGE_HEADER: [&'static str; 8] = ["from", "to", "tensor", "role", "shape", "elements", "nm", "group_dim"];

    /// One row of cells per tensor edge (for tables and CSV): its nodes,
    /// tensor, role, shape, elements and N:M pattern with group dimension.
    pub fn edge_cells(&self) -> Vec<Vec<String>> {
        self.edges()
            .map(|(from, to, t)| {
                vec![
                    from.to_string(),
                    to.to_string(),
                    t.name.clone(),
                    format!("{:?}", t.role).to_lowercase(),
                    t.shape.iter().map(u64::to_string).collect::<Vec<_>>().join("x"),
                    t.elements.to_string(),
                    t.nm.map(|n| n.pattern.to_string()).unwrap_or_default(),
                    t.nm.map(|n| n.group_dim.name().to_string()).unwrap_or_default(),
                ]
            })
            .collect()
    }

    /// A JSON-serialisable view: `{model, method, nm, batch, nodes: [...], edges: [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let edges: Vec<serde_json::Value> = self
            .edges()
            .map(|(from, to, t)| {
                serde_json::json!({
                    "from": from, "to": to, "tensor": t.name, "role": t.role, "shape": t.shape,
                    "elements": t.elements,
                    "nm": t.nm.map(|n| n.pattern.to_string()),
                    "group_dim": t.nm.map(|n| n.group_dim.name()),
                })
            })
            .collect();
        let nodes: Vec<serde_json::Value> = self
            .nodes()
            .map(|n| {
                serde_json::json!({
                    "name": n.name, "op": n.op.label(), "layer": n.layer.map(|l| l.0),
                    "gemms": n.gemms.len(),
                    "macs": n.gemms.iter().map(Gemm::macs).sum::<u64>(),
                })
            })
            .collect();
        serde_json::json!({
            "model": self.model,
            "method": self.options.method,
            "nm": self.nm_label(),
            "batch": self.options.batch,
            "nodes": nodes,
            "edges": edges,
        })
    }

    fn nm_label(&self) -> Option<String> {
        (self.options.method != Method::Dense).then(|| self.options.nm.to_string())
    }

    /// Graphviz DOT: nodes coloured by kind, edges labelled with tensor, shape and N:M.
    pub fn to_dot(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "digraph \"{}\" {{", escape(&self.model));
        let _ = writeln!(s, "  rankdir=TB;\n  node [shape=box, style=filled, fontname=\"Helvetica\"];");
        let _ = writeln!(s, "  edge [fontname=\"Helvetica\", fontsize=9];");
        for i in self.graph.node_indices() {
            let n = &self.graph[i];
            let colour = match n.op {
                NodeOp::Input | NodeOp::Loss => "lightgrey",
                NodeOp::Param => "lightyellow",
                NodeOp::Sparsify { .. } => "orange",
                NodeOp::Ff => "lightblue",
                NodeOp::Bp => "lightpink",
                NodeOp::Wg => "palegreen",
                NodeOp::Wu => "khaki",
            };
            let mut label = escape(&n.name);
            for g in &n.gemms {
                let nm = g.sparse.map_or(String::new(), |o| format!(" {} along {}", o.pattern, o.group_dim.name()));
                let _ = write!(label, "\\n{} {}x{}x{} x{}{}", g.what, g.m, g.n, g.k, g.count, nm);
            }
            let _ = writeln!(s, "  n{} [label=\"{}\", fillcolor={colour}];", i.index(), label);
        }
        for e in self.graph.edge_references() {
            let t = e.weight();
            let dims: Vec<String> = t.shape.iter().map(u64::to_string).collect();
            let nm = t.nm.map_or(String::new(), |o| format!("\\n{} along {}", o.pattern, o.group_dim.name()));
            let style = if t.nm.is_some() { ", color=orange, penwidth=2" } else { "" };
            let _ = writeln!(
                s,
                "  n{} -> n{} [label=\"{}\\n[{}] {}{}\"{style}];",
                e.source().index(),
                e.target().index(),
                escape(&t.name),
                dims.join("x"),
                t.elements,
                nm
            );
        }
        s.push_str("}\n");
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " ")
}
