//! The training graph: nodes per pass, sparsifiers, tensor edges, DOT.

mod common;

use common::*;
use nmsat_compiler::{LowerOptions, Method, NodeOp, TensorRole, TrainingGraph, find_builtin, load_model};
use nmsat_dataflow::{GroupDim, Pass};
use petgraph::algo::is_cyclic_directed;

fn graph(model: &str, method: Method, batch: u64) -> TrainingGraph {
    let m = if model.ends_with(".nm") {
        load_model(nm_file(model).to_str().unwrap()).unwrap()
    } else {
        find_builtin(model).unwrap().load().unwrap()
    };
    TrainingGraph::build(&m, &LowerOptions::new(method, nm("2:8"), batch)).unwrap()
}

fn count(g: &TrainingGraph, op: NodeOp) -> usize {
    g.nodes().filter(|n| n.op == op).count()
}

#[test]
fn digits_mlp_bdwp_has_the_expected_nodes() {
    let g = graph("digits-mlp", Method::Bdwp, 16);
    assert!(!is_cyclic_directed(&g.graph));
    assert_eq!(count(&g, NodeOp::Ff), 3);
    assert_eq!(count(&g, NodeOp::Bp), 2, "fc1's BP is not needed");
    assert_eq!(count(&g, NodeOp::Wg), 3);
    assert_eq!(count(&g, NodeOp::Wu), 3);
    assert_eq!(count(&g, NodeOp::Param), 3);
    // W_ff for fc2 and fc3 (fc1 is the first layer); W_bp only for fc2 (fc3's C_out=10).
    assert_eq!(count(&g, NodeOp::Sparsify { pass: Pass::Ff }), 2);
    assert_eq!(count(&g, NodeOp::Sparsify { pass: Pass::Bp }), 1);
    let wbp: Vec<_> = g.edges().filter(|(_, _, t)| t.name == "fc2.W_bp").collect();
    assert_eq!(wbp.len(), 1);
    let (from, to, t) = wbp[0];
    assert_eq!((from, to), ("fc2.sparsify_BP", "fc2.BP"));
    assert_eq!(t.role, TensorRole::SparseWeight);
    assert_eq!(t.nm.unwrap().group_dim, GroupDim::Cout);
    assert_eq!((t.shape.clone(), t.elements), (vec![64, 128], 64 * 128));
    let x: Vec<_> = g.edges().filter(|(from, to, _)| *from == "input" && *to == "fc1.FF").collect();
    assert_eq!(x[0].2.shape, vec![16, 64, 1, 1]);
    assert_eq!(x[0].2.elements, 16 * 64);
    // The gradient of fc3's output comes from the loss.
    assert!(g.edges().any(|(from, to, t)| from == "loss" && to == "fc3.BP" && t.role == TensorRole::Gradient));
}

#[test]
fn dense_graph_has_no_sparsifiers_and_srste_only_ff_ones() {
    let d = graph("resnet18-cifar10", Method::Dense, 1);
    assert_eq!(count(&d, NodeOp::Sparsify { pass: Pass::Ff }) + count(&d, NodeOp::Sparsify { pass: Pass::Bp }), 0);
    let s = graph("resnet18-cifar10", Method::Srste, 1);
    assert_eq!(count(&s, NodeOp::Sparsify { pass: Pass::Ff }), 20);
    assert_eq!(count(&s, NodeOp::Sparsify { pass: Pass::Bp }), 0);
}

#[test]
fn residual_graph_from_the_dsl_fans_gradients_out() {
    let g = graph("resnet18_cifar10.nm", Method::Bdwp, 2);
    assert!(!is_cyclic_directed(&g.graph));
    // The add of layer1.0 sends its gradient to both branches' BP nodes.
    let outs: Vec<&str> = g.edges().filter(|(from, _, _)| *from == "layer1.0.add.BP").map(|(_, to, _)| to).collect();
    assert!(outs.contains(&"layer1.0.bn2.BP"), "{outs:?}");
    assert!(outs.contains(&"relu1.BP"), "{outs:?}");
    // Weightless layers have no WG/WU; every conv/linear has both.
    assert_eq!(count(&g, NodeOp::Wg), 21);
    assert_eq!(count(&g, NodeOp::Wu), 21);
    assert_eq!(g.gemms().len(), 21 * 3 - 1);
}

#[test]
fn dot_and_json_render_every_node() {
    let g = graph("digits-cnn", Method::Bdwp, 1);
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph \"digits_cnn\" {") && dot.trim_end().ends_with('}'));
    assert_eq!(dot.matches(" [label=").count(), g.graph.node_count() + g.graph.edge_count());
    assert!(dot.contains("2:8 along C_out"));
    let j = g.to_json();
    assert_eq!(j["nodes"].as_array().unwrap().len(), g.graph.node_count());
    assert_eq!(j["edges"].as_array().unwrap().len(), g.graph.edge_count());
    assert_eq!(j["nm"], "2:8");
}

#[test]
fn a_hand_built_model_reading_a_later_layer_is_refused() {
    let mut m = find_builtin("digits-mlp").unwrap().load().unwrap();
    m.layers[0].inputs = vec![nmsat_compiler::Input::Layer(nmsat_compiler::LayerId(2))];
    let e = TrainingGraph::build(&m, &LowerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("does not come before it"), "{e}");
}
