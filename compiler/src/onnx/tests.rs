//! Unit tests of the ONNX front end on graphs built in memory with prost.

use prost::Message;

use super::proto::*;
use crate::LoadOptions;
use crate::model::{LayerKind, Shape};

fn vi(name: &str, dims: &[i64]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|&d| {
            if d < 0 {
                Dimension { dim_value: None, dim_param: Some("N".into()) }
            } else {
                Dimension { dim_value: Some(d), dim_param: None }
            }
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor { elem_type: 1, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

fn weight(name: &str, dims: &[i64]) -> TensorProto {
    TensorProto { name: name.into(), dims: dims.to_vec(), data_type: 1, data_location: EXTERNAL, ..Default::default() }
}

fn node(op: &str, name: &str, inputs: &[&str], out: &str, attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        attribute: attrs,
        ..Default::default()
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: 2, i, ..Default::default() }
}

fn bytes(graph: GraphProto) -> Vec<u8> {
    let m = ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
        graph: Some(graph),
        ..Default::default()
    };
    m.encode_to_vec()
}

fn mlp(nodes: Vec<NodeProto>, value_info: Vec<ValueInfoProto>) -> Vec<u8> {
    bytes(GraphProto {
        node: nodes,
        name: "t".into(),
        initializer: vec![weight("w1", &[16, 32]), weight("w2", &[32, 10])],
        input: vec![vi("x", &[-1, 16])],
        output: vec![vi("y", &[-1, 10])],
        value_info,
    })
}

fn parse(b: Vec<u8>, skip: bool) -> Result<crate::Model, crate::CompileError> {
    super::parse("t.onnx", b, &LoadOptions { skip_unsupported: skip })
}

#[test]
fn gemm_without_transpose_and_a_symbolic_batch() {
    let b = mlp(
        vec![
            node("Gemm", "fc1", &["x", "w1"], "h", vec![]),
            node("Relu", "", &["h"], "r", vec![]),
            node("MatMul", "/fc2/MatMul", &["r", "w2"], "y", vec![]),
        ],
        vec![],
    );
    let m = parse(b, false).unwrap();
    let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["fc1", "relu", "fc2"]);
    assert_eq!(m.input, Shape::vector(16));
    assert!(matches!(m.layers[2].kind, LayerKind::Linear(l) if l.in_features == 32 && l.out_features == 10));
}

#[test]
fn inferred_shapes_are_checked_against_value_info() {
    let nodes = vec![node("Gemm", "fc1", &["x", "w1"], "h", vec![]), node("MatMul", "fc2", &["h", "w2"], "y", vec![])];
    let e = parse(mlp(nodes.clone(), vec![vi("h", &[-1, 31])]), false).unwrap_err().to_string();
    assert_eq!(
        e,
        "t.onnx: node `fc1` (Gemm): shape mismatch: output `h` is inferred as [32] per sample but value_info says [31]"
    );
    let mut bad = nodes;
    bad[0].attribute.push(int("transB", 1));
    let e = parse(mlp(bad, vec![]), false).unwrap_err().to_string();
    assert!(e.contains("node `fc1` (Gemm): shape mismatch") && e.contains("needs 32 input features, got 16"), "{e}");
}

#[test]
fn unknown_ops_and_unsorted_graphs_name_the_node() {
    let nodes = vec![
        node("Gemm", "fc1", &["x", "w1"], "h", vec![]),
        node("Frobnicate", "", &["h"], "f", vec![]),
        node("MatMul", "fc2", &["f", "w2"], "y", vec![]),
    ];
    let e = parse(mlp(nodes.clone(), vec![]), false).unwrap_err().to_string();
    assert_eq!(
        e,
        "t.onnx: node `#1` (Frobnicate): unsupported: operator `Frobnicate` is not supported (`--skip-unsupported` skips such nodes)"
    );
    let m = parse(mlp(nodes.clone(), vec![]), true).unwrap();
    assert_eq!(m.weight_layers(), 2);
    assert_eq!(m.notes, ["skipped t.onnx: node `#1` (Frobnicate): operator `Frobnicate` is not supported"]);
    let e = parse(mlp(vec![nodes[2].clone(), nodes[0].clone()], vec![]), false).unwrap_err().to_string();
    assert!(e.starts_with("t.onnx: node `fc2` (MatMul): input `f` is not produced"), "{e}");
}

#[test]
fn garbage_is_refused_without_panicking() {
    for b in [&b"not an onnx file"[..], &[0x0a, 0xff][..], &[][..], &[0x08, 0x08][..]] {
        let e = parse(b.to_vec(), false).unwrap_err().to_string();
        assert!(e.starts_with("t.onnx: syntax error: not an ONNX"), "{e}");
    }
    let good = mlp(vec![node("Gemm", "fc1", &["x", "w1"], "y", vec![])], vec![]);
    for cut in 0..good.len() {
        let _ = parse(good[..cut].to_vec(), false);
    }
    assert!(super::looks_like_onnx(&good) && !super::looks_like_onnx(b"model x {"));
}

#[test]
fn weight_on_the_left_reductions_and_slices() {
    let ints = |name: &str, v: &[i64]| TensorProto {
        name: name.into(),
        dims: vec![v.len() as i64],
        data_type: INT64,
        int64_data: v.to_vec(),
        ..Default::default()
    };
    let attr_ints =
        |name: &str, v: &[i64]| AttributeProto { name: name.into(), r#type: 7, ints: v.to_vec(), ..Default::default() };
    let g = GraphProto {
        node: vec![
            node("MatMul", "/mix/MatMul", &["w", "x"], "m", vec![]),
            node("ReduceMean", "/mean/ReduceMean", &["m"], "r", vec![attr_ints("axes", &[1]), int("keepdims", 0)]),
            node("Slice", "/cut/Slice", &["r", "s0", "s1", "ax"], "s", vec![]),
            node("Gemm", "/fc/Gemm", &["s", "w2"], "y", vec![]),
        ],
        name: "t".into(),
        initializer: vec![
            weight("w", &[4, 8]),
            weight("w2", &[10, 3]),
            ints("s0", &[0]),
            ints("s1", &[10]),
            ints("ax", &[1]),
        ],
        input: vec![vi("x", &[-1, 8, 16])],
        output: vec![vi("y", &[-1, 3])],
        value_info: vec![vi("m", &[1, 4, 16]), vi("r", &[1, 16]), vi("s", &[1, 10])],
    };
    let m = parse(bytes(g), false).unwrap();
    let kinds: Vec<String> = m.layers.iter().map(|l| format!("{} {:?}", l.name, l.kind)).collect();
    assert_eq!(m.layers.len(), 2, "{kinds:?}");
    let mix = &m.layers[0];
    assert!(matches!(mix.kind, LayerKind::Linear(l) if (l.in_features, l.out_features) == (8, 4)), "{kinds:?}");
    assert_eq!(mix.out_positions(), 16);
    assert!(m.notes.iter().any(|n| n.contains("ReduceMean ×1 (64 elements")), "{:?}", m.notes);
    assert!(m.notes.iter().any(|n| n.contains("Slice ×1 (10 elements")), "{:?}", m.notes);
}
