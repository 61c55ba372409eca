//! Issue 21, acceptance 3: the array mapping per GEMM (ADR 004).
//! `--dataflow os` and `ws` time some layer differently, and `auto` (the
//! cost model's per-GEMM choice, weighed against all-OS and all-WS by
//! simulation) is never slower than the better of the two, on every
//! built-in model at batch 32 and 1 on the default config.

use nmsat_compiler::builtin_names;
use nmsat_dataflow::schedule::{DataflowChoice, DataflowOptions};
use nmsat_dataflow::{ArchConfig, Method, Pass};
use nmsat_flow::StepRequest;
use nmsat_flow::step::{SimulatedStep, simulate_step};

fn step(model: &str, batch: u64, dataflow: DataflowChoice) -> SimulatedStep {
    let req = StepRequest {
        model: nmsat_compiler::load_model(model).unwrap(),
        method: Method::Bdwp,
        nm: "2:8".parse().unwrap(),
        batch,
        dataflow: DataflowOptions { dataflow, ..DataflowOptions::default() },
        arch: ArchConfig::default_preset(),
    };
    simulate_step(&req).unwrap()
}

/// Built-ins whose step the default bound on simulated work admits (the
/// 3B-parameter language model is refused before compiling at any batch).
fn models() -> Vec<String> {
    builtin_names().into_iter().filter(|m| !m.starts_with("open-llama")).collect()
}

#[test]
fn auto_is_never_slower_than_the_better_mapping_on_the_built_ins() {
    let mut lines = Vec::new();
    for batch in [32, 1] {
        for model in models() {
            let [os, ws, auto] = [DataflowChoice::Os, DataflowChoice::Ws, DataflowChoice::Auto]
                .map(|d| step(&model, batch, d).stats.total_cycles);
            lines.push(format!("{model} b{batch}: os {os} ws {ws} auto {auto}"));
            assert!(auto <= os.min(ws), "{}", lines.join("\n"));
        }
    }
}

#[test]
fn os_and_ws_time_a_ragged_layer_differently() {
    // ResNet-18 ImageNet at batch 1: layer4 has 7x7 = 49 output pixels, so
    // OS walks 4 row blocks of 16 (15 rows idle in the last) where WS
    // streams the 49 rows past held weights.
    let by_layer = |d| {
        let s = step("resnet18-imagenet", 1, d);
        s.stats.layers.iter().filter(|l| l.pass == Pass::Ff).map(|l| (l.name.clone(), l.cycles)).collect::<Vec<_>>()
    };
    let (os, ws) = (by_layer(DataflowChoice::Os), by_layer(DataflowChoice::Ws));
    let differ: Vec<_> = os.iter().zip(&ws).filter(|(a, b)| a.1 != b.1).collect();
    assert!(!differ.is_empty(), "{os:?}\n{ws:?}");
    // And WS is the faster on some FF layer of layer4.
    assert!(os.iter().zip(&ws).any(|(a, b)| a.0.starts_with("layer4") && b.1 < a.1), "{os:?}\n{ws:?}");
}
