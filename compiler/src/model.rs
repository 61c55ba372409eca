//! The layer-level model IR every front end produces and the training graph
//! and lowering consume.
//!
//! A [`Model`] is a list of [`Layer`]s in execution (topological) order.
//! Each layer names its producers ([`Input`]), its input and output
//! [`Shape`] per sample (batch is applied at lowering), its [`LayerKind`]
//! with the parameters the hardware needs (convolution geometry, pooling
//! window, attention heads), a per-layer N:M override and where it was
//! defined. Weightless layers (ReLU, pooling, residual add, softmax, norm)
//! are kept: they produce no GEMMs but run on SAT's vector unit.

use std::fmt;

use nmsat_dataflow::Pass;
use serde::Serialize;

use crate::error::Location;

/// Index of a layer in [`Model::layers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LayerId(pub u32);

impl LayerId {
    /// The index into [`Model::layers`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a layer reads a tensor from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The model's input batch.
    Model,
    /// The output of an earlier layer.
    Layer(LayerId),
}

/// A per-sample tensor shape (the batch dimension is added at lowering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A feature map `C×H×W`; a flat vector of `n` features is `n×1×1`.
    Map {
        /// Channels.
        c: u64,
        /// Height.
        h: u64,
        /// Width.
        w: u64,
    },
    /// A token sequence `tokens × dim` (transformers).
    Seq {
        /// Tokens.
        tokens: u64,
        /// Features per token.
        dim: u64,
    },
    /// Per-head matrices `heads × rows × cols` (attention scores).
    Heads {
        /// Attention heads.
        heads: u64,
        /// Rows (query tokens).
        rows: u64,
        /// Columns (key tokens).
        cols: u64,
    },
}

impl Shape {
    /// A flat vector of `n` features.
    pub fn vector(n: u64) -> Shape {
        Shape::Map { c: n, h: 1, w: 1 }
    }

    /// Elements per sample, `None` on overflow.
    pub fn elements(&self) -> Option<u64> {
        match *self {
            Shape::Map { c, h, w } => c.checked_mul(h)?.checked_mul(w),
            Shape::Seq { tokens, dim } => tokens.checked_mul(dim),
            Shape::Heads { heads, rows, cols } => heads.checked_mul(rows)?.checked_mul(cols),
        }
    }

    /// The dimensions as a list, outermost first (`[C, H, W]`, `[T, D]`, `[heads, rows, cols]`).
    pub fn dims(&self) -> Vec<u64> {
        match *self {
            Shape::Map { c, h, w } => vec![c, h, w],
            Shape::Seq { tokens, dim } => vec![tokens, dim],
            Shape::Heads { heads, rows, cols } => vec![heads, rows, cols],
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Map { c, h: 1, w: 1 } => write!(f, "{c}"),
            Shape::Map { c, h, w } => write!(f, "{c}x{h}x{w}"),
            Shape::Seq { tokens, dim } => write!(f, "{tokens} tokens x {dim}"),
            Shape::Heads { heads, rows, cols } => write!(f, "{heads} heads x {rows}x{cols}"),
        }
    }
}

/// Convolution parameters. Lowered (col2im) to `count = groups` GEMMs with
/// `M = H_out·W_out`, `N = c_out/groups`, `K = c_in/groups·R·S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ConvSpec {
    /// Input channels.
    pub c_in: u64,
    /// Output channels (filters).
    pub c_out: u64,
    /// Kernel height `R` and width `S`.
    pub kernel: (u64, u64),
    /// Stride (height, width).
    pub stride: (u64, u64),
    /// Zero padding (height, width) on each side.
    pub pad: (u64, u64),
    /// Groups (1: ordinary; `c_in`: depthwise).
    pub groups: u64,
}

/// Fully connected layer parameters; applied to every token of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct LinearSpec {
    /// Input features.
    pub in_features: u64,
    /// Output features.
    pub out_features: u64,
}

/// Pooling operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolOp {
    /// Maximum (backward routes the gradient to the arg-max).
    Max,
    /// Average.
    Avg,
}

/// Pooling window; `global` pools the whole map to `C×1×1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PoolSpec {
    /// Max or average.
    pub op: PoolOp,
    /// Window (height, width); the whole map when `global`.
    pub kernel: (u64, u64),
    /// Stride (height, width).
    pub stride: (u64, u64),
    /// Padding (height, width).
    pub pad: (u64, u64),
    /// Pools the whole map.
    pub global: bool,
}

/// Which of the two attention products a layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttnOp {
    /// `S = Q·Kᵀ` per head: `(tokens_q × head_dim)·(head_dim × tokens_k)`.
    QkT,
    /// `O = A·V` per head: `(tokens_q × tokens_k)·(tokens_k × head_dim)`.
    AttnV,
}

/// An attention matmul: two activations multiplied per head, no weights,
/// always dense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct AttnSpec {
    /// Which product.
    pub op: AttnOp,
    /// Heads (independent GEMMs per sample).
    pub heads: u64,
    /// Features per head.
    pub head_dim: u64,
    /// Query tokens.
    pub tokens_q: u64,
    /// Key/value tokens.
    pub tokens_k: u64,
}

/// Elementwise and normalisation operators of the vector unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorOp {
    /// ReLU (backward: mask by the forward sign).
    Relu,
    /// GELU.
    Gelu,
    /// Softmax over the last dimension.
    Softmax,
    /// Batch or layer normalisation (its scale/shift are not GEMM weights).
    Norm,
}

/// What a layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LayerKind {
    /// 2-D convolution (has weights).
    Conv(ConvSpec),
    /// Fully connected (has weights).
    Linear(LinearSpec),
    /// Max or average pooling.
    Pool(PoolSpec),
    /// Elementwise / normalisation operator.
    Vector {
        /// Which operator.
        op: VectorOp,
    },
    /// Residual add of two equally shaped inputs.
    Add,
    /// Reshape to a flat vector.
    Flatten,
    /// Attention matmul (no weights, dense).
    AttnMatmul(AttnSpec),
}

impl LayerKind {
    /// True for layers with a weight tensor (conv, linear): these get WG and WU and can be N:M.
    pub fn has_weights(&self) -> bool {
        matches!(self, LayerKind::Conv(_) | LayerKind::Linear(_))
    }

    /// Short lower-case name (`conv`, `linear`, `maxpool`, `relu`, `add`, …).
    pub fn name(&self) -> &'static str {
        match self {
            LayerKind::Conv(_) => "conv",
            LayerKind::Linear(_) => "linear",
            LayerKind::Pool(p) => match (p.op, p.global) {
                (PoolOp::Max, false) => "maxpool",
                (PoolOp::Avg, false) => "avgpool",
                (PoolOp::Max, true) => "globalmaxpool",
                (PoolOp::Avg, true) => "globalavgpool",
            },
            LayerKind::Vector { op: VectorOp::Relu } => "relu",
            LayerKind::Vector { op: VectorOp::Gelu } => "gelu",
            LayerKind::Vector { op: VectorOp::Softmax } => "softmax",
            LayerKind::Vector { op: VectorOp::Norm } => "norm",
            LayerKind::Add => "add",
            LayerKind::Flatten => "flatten",
            LayerKind::AttnMatmul(a) => match a.op {
                AttnOp::QkT => "qk_t",
                AttnOp::AttnV => "attn_v",
            },
        }
    }
}

pub use nmsat_dataflow::NmOverride;

/// One layer of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// Unique name (as in the source: `layer1.0.conv1`).
    pub name: String,
    /// What it computes.
    pub kind: LayerKind,
    /// Producers of its inputs, in operand order (an add or `attn_v` has two).
    pub inputs: Vec<Input>,
    /// Shape of the first input, per sample.
    pub in_shape: Shape,
    /// Shape of the output, per sample.
    pub out_shape: Shape,
    /// Per-layer N:M override.
    pub nm: NmOverride,
    /// Where the layer was defined.
    #[serde(skip)]
    pub origin: Location,
}

impl Layer {
    /// Output positions per sample, the `M` of the forward GEMM before batching
    /// (`H_out·W_out` of a map, the tokens of a sequence).
    pub fn out_positions(&self) -> u64 {
        match self.out_shape {
            Shape::Map { h, w, .. } => h.saturating_mul(w),
            Shape::Seq { tokens, .. } => tokens,
            Shape::Heads { rows, .. } => rows,
        }
    }

    /// Weight elements (`C_out·C_in/groups·R·S`), 0 for weightless layers.
    pub fn weight_params(&self) -> u64 {
        match self.kind {
            LayerKind::Conv(c) => {
                c.c_out.saturating_mul(c.c_in / c.groups.max(1)).saturating_mul(c.kernel.0).saturating_mul(c.kernel.1)
            }
            LayerKind::Linear(l) => l.in_features.saturating_mul(l.out_features),
            _ => 0,
        }
    }
}

/// How faithfully [`Layer::inputs`] describes the data path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Inputs are the real producers (the `.nm` DSL): shapes were checked along every edge.
    Exact,
    /// Each layer reads the previous row (layer tables, SCALE-Sim files): those formats
    /// do not record residual or pooling paths, so shapes between rows are not checked.
    TableOrder,
}

/// A network, as every front end produces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Model {
    /// Model name (`resnet18_cifar10`, or the DSL's `model NAME`, or the file stem).
    pub name: String,
    /// Where it came from (`builtin:NAME` or the path).
    pub source: String,
    /// Shape of one input sample.
    pub input: Shape,
    /// Layers in execution order; every input refers to an earlier layer.
    pub layers: Vec<Layer>,
    /// Whether `inputs` are exact or table order.
    pub connectivity: Connectivity,
    /// Set when the model came from a SCALE-Sim training-pass file
    /// (`*_input_grad.csv`, `*_weight_grad.csv`): each layer is then already one
    /// GEMM of that pass, and lowering emits it as such instead of FF/BP/WG.
    pub pass_file: Option<Pass>,
    /// What the front end did not model (ONNX ops without a vector-unit
    /// operator, skipped unsupported ops), one line each, for the CLI to
    /// print as notes. Empty for the other front ends.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Model {
    /// The layer with this id.
    pub fn layer(&self, id: LayerId) -> &Layer {
        &self.layers[id.index()]
    }

    /// Ids of all layers, in order.
    pub fn ids(&self) -> impl Iterator<Item = LayerId> + '_ {
        (0..self.layers.len()).map(|i| LayerId(i as u32))
    }

    /// Layers with weights (conv, linear).
    pub fn weight_layers(&self) -> usize {
        self.layers.iter().filter(|l| l.kind.has_weights()).count()
    }

    /// Conv/linear weight elements (what `SUMMARY.csv` calls `weight_params`).
    pub fn weight_params(&self) -> u64 {
        self.layers.iter().map(Layer::weight_params).fold(0, u64::saturating_add)
    }

    /// Looks a layer up by name.
    pub fn find(&self, name: &str) -> Option<LayerId> {
        self.layers.iter().position(|l| l.name == name).map(|i| LayerId(i as u32))
    }
}
