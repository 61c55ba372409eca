//! The importer's view of ONNX values: activations (with the layers that
//! produced their data) and constants (initializers and `Constant` nodes,
//! of which only dims — and small integer contents — are read), plus the
//! attribute and broadcasting helpers the operators share.

use crate::error::{CompileError, Location};
use crate::model::{Input, Shape};

use super::proto::{self, AttributeProto, NodeProto, TensorProto};

/// Largest integer tensor whose contents are read (shapes, axes, pads, splits).
const MAX_INT_CONTENTS: usize = 64;

/// Why an operator could not be imported.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The operator (or this use of it) is not supported: skippable with `--skip-unsupported`.
    Unsupported(String),
    /// The graph is malformed or inconsistent: always an error.
    Error(CompileError),
}

impl From<CompileError> for Fail {
    fn from(e: CompileError) -> Self {
        Fail::Error(e)
    }
}

/// Result of importing one node.
pub(crate) type OpResult<T = ()> = Result<T, Fail>;

/// A tensor flowing through the data path, batch dimension first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Act {
    /// Dimensions including the batch (`dims[0]`).
    pub dims: Vec<u64>,
    /// The layers (or the model input) whose outputs this tensor's data comes from.
    pub srcs: Vec<Input>,
    /// Produced by a softmax (possibly through views): an activation×activation
    /// matmul reading it as its left operand is `A·V`.
    pub softmax: bool,
}

impl Act {
    /// Dimensions of one sample (without the batch).
    pub fn sample(&self) -> &[u64] {
        self.dims.get(1..).unwrap_or(&[])
    }

    /// Elements of one sample.
    pub fn elements(&self) -> u64 {
        self.sample().iter().fold(1u64, |a, &d| a.saturating_mul(d))
    }
}

/// A constant: an initializer or the output of a `Constant` node or of an
/// operator on constants.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Const {
    /// Dimensions.
    pub dims: Vec<u64>,
    /// Contents of a small integer tensor, when known.
    pub ints: Option<Vec<i64>>,
}

/// A value of the graph.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// Depends on the model input.
    Act(Act),
    /// Known without the input.
    Const(Const),
}

impl Val {
    /// Its dimensions (an activation's include the batch).
    pub fn dims(&self) -> &[u64] {
        match self {
            Val::Act(a) => &a.dims,
            Val::Const(c) => &c.dims,
        }
    }
}

/// The IR shape of one sample of `dims` (batch removed): a vector for rank
/// ≤ 1, a token sequence for rank 2 (leading dims folded into tokens for
/// rank > 3 is not needed: rank 3 is a `C×H×W` map, higher ranks fold the
/// leading dims into the channels).
pub(crate) fn ir_shape(sample: &[u64]) -> Shape {
    match *sample {
        [] => Shape::vector(1),
        [c] => Shape::vector(c),
        [t, d] => Shape::Seq { tokens: t, dim: d },
        [c, h, w] => Shape::Map { c, h, w },
        _ => {
            let (lead, tail) = sample.split_at(sample.len() - 2);
            Shape::Map { c: product(lead), h: tail[0], w: tail[1] }
        }
    }
}

/// Product of dims (saturating).
pub(crate) fn product(dims: &[u64]) -> u64 {
    dims.iter().fold(1u64, |a, &d| a.saturating_mul(d))
}

/// Numpy-style broadcast of two shapes, `None` when they do not broadcast.
pub(crate) fn broadcast(a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
    let n = a.len().max(b.len());
    let at = |s: &[u64], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

/// Resolves a possibly negative axis against `rank`.
pub(crate) fn axis(a: i64, rank: usize) -> OpResult<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(Fail::Unsupported(format!("axis {a} is out of range for a rank-{rank} tensor")))
    }
}

/// Dims of a tensor proto as unsigned sizes.
pub(crate) fn tensor_dims(t: &TensorProto, loc: &Location) -> Result<Vec<u64>, CompileError> {
    t.dims
        .iter()
        .map(|&d| {
            u64::try_from(d).map_err(|_| {
                CompileError::value(loc.clone(), format!("tensor `{}` has a negative dimension {d}", t.name))
            })
        })
        .collect()
}

/// The contents of a small integer tensor (from `int64_data`, `int32_data`
/// or little-endian `raw_data`), `None` for other types, external or large tensors.
pub(crate) fn tensor_ints(t: &TensorProto) -> Option<Vec<i64>> {
    let n = t.dims.iter().try_fold(1usize, |a, &d| usize::try_from(d).ok().and_then(|d| a.checked_mul(d)))?;
    if n > MAX_INT_CONTENTS || t.data_location == proto::EXTERNAL {
        return None;
    }
    let v: Vec<i64> = match t.data_type {
        proto::INT64 if !t.int64_data.is_empty() => t.int64_data.clone(),
        proto::INT32 if !t.int32_data.is_empty() => t.int32_data.iter().map(|&x| i64::from(x)).collect(),
        proto::INT64 => {
            t.raw_data.chunks_exact(8).map(|c| c.try_into().map(i64::from_le_bytes)).collect::<Result<_, _>>().ok()?
        }
        proto::INT32 => t
            .raw_data
            .chunks_exact(4)
            .map(|c| c.try_into().map(|b| i64::from(i32::from_le_bytes(b))))
            .collect::<Result<_, _>>()
            .ok()?,
        _ => return None,
    };
    (v.len() == n).then_some(v)
}

/// The attributes of a node, by name.
pub(crate) struct Attrs<'a>(pub &'a NodeProto);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&AttributeProto> {
        self.0.attribute.iter().find(|a| a.name == name)
    }

    /// An INT attribute, or `default`.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    /// An INTS attribute, if present.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    /// A STRING attribute, or `default`.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.get(name).map_or_else(|| default.to_string(), |a| String::from_utf8_lossy(&a.s).into_owned())
    }

    /// A TENSOR attribute, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorProto> {
        self.get(name).and_then(|a| a.t.as_ref())
    }

    /// Whether the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Non-negative sizes from attribute integers, or an unsupported-op failure naming `what`.
pub(crate) fn sizes(v: &[i64], what: &str) -> OpResult<Vec<u64>> {
    v.iter().map(|&x| u64::try_from(x).map_err(|_| Fail::Unsupported(format!("negative {what} {x}")))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast(&[2, 3, 4], &[4]), Some(vec![2, 3, 4]));
        assert_eq!(broadcast(&[2, 1, 4], &[3, 1]), Some(vec![2, 3, 4]));
        assert_eq!(broadcast(&[2, 3], &[4]), None);
        assert_eq!(broadcast(&[], &[5]), Some(vec![5]));
    }

    #[test]
    fn shapes_and_axes() {
        assert_eq!(ir_shape(&[64]), Shape::vector(64));
        assert_eq!(ir_shape(&[4, 8]), Shape::Seq { tokens: 4, dim: 8 });
        assert_eq!(ir_shape(&[2, 3, 4, 5]), Shape::Map { c: 6, h: 4, w: 5 });
        assert_eq!(axis(-1, 3).ok(), Some(2));
        assert!(axis(3, 3).is_err());
    }

    #[test]
    fn small_int_tensors_are_read() {
        let t = TensorProto {
            dims: vec![2],
            data_type: proto::INT64,
            raw_data: bytes::Bytes::from([1i64.to_le_bytes(), (-1i64).to_le_bytes()].concat()),
            ..Default::default()
        };
        assert_eq!(tensor_ints(&t), Some(vec![1, -1]));
        let big = TensorProto { dims: vec![1000], data_type: proto::INT64, ..Default::default() };
        assert_eq!(tensor_ints(&big), None);
    }
}
