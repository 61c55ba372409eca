//! Issue 22, ONNX acceptance 1 and 5: every file of `data/onnx` imports, its
//! dense training-step MACs equal the independent count of
//! `scripts/make-onnx-models` (`data/onnx/macs.json`), the PyTorch exports
//! give the built-in models' GEMMs, and the `.nm` writer round-trips.

use std::path::{Path, PathBuf};

use nmsat_compiler::{LoadOptions, LowerOptions, Method, Model, find_builtin, load_model, lower, nm_writer};
use nmsat_dataflow::{Gemm, NmPattern, Pass};

fn data(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/onnx").join(rel).to_string_lossy().into_owned()
}

fn onnx_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    v.sort();
    v
}

fn opts(method: Method, batch: u64) -> LowerOptions {
    LowerOptions::new(method, NmPattern::new(2, 8).unwrap(), batch)
}

fn pass_macs(gemms: &[Gemm], pass: Pass) -> u64 {
    gemms.iter().filter(|g| g.pass == pass).map(|g| g.m * g.n * g.k * g.count).sum()
}

#[test]
fn dense_step_macs_equal_the_independent_count() {
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("macs.json")).unwrap()).unwrap();
    assert_eq!(sidecar["batch"], 1);
    let files = onnx_files();
    assert!(files.len() >= 9, "the four exports and at least five generated networks: {files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let want = &sidecar["files"][&name];
        assert!(want.is_object(), "{name} has no independent count in macs.json (rerun scripts/make-onnx-models)");
        let model = load_model(&f.to_string_lossy()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let gemms = lower(&model, &opts(Method::Dense, 1)).unwrap();
        for (pass, key) in [(Pass::Ff, "FF"), (Pass::Bp, "BP"), (Pass::Wg, "WG")] {
            assert_eq!(Some(pass_macs(&gemms, pass)), want[key].as_u64(), "{name} {key} MACs");
        }
        // Linear in the batch.
        let b4 = lower(&model, &opts(Method::Dense, 4)).unwrap();
        let total: u64 = [Pass::Ff, Pass::Bp, Pass::Wg].iter().map(|&p| pass_macs(&b4, p)).sum();
        assert_eq!(Some(total), want["total"].as_u64().map(|t| 4 * t), "{name} at batch 4");
    }
}

#[test]
fn pytorch_exports_give_the_builtin_gemms() {
    for (file, builtin) in [
        ("digits_mlp.onnx", "digits_mlp"),
        ("digits_cnn.onnx", "digits_cnn"),
        ("resnet18_imagenet.structure.onnx", "resnet18_imagenet"),
        ("resnet18_cifar10.structure.onnx", "resnet18_cifar10"),
    ] {
        let m = load_model(&data(file)).unwrap();
        let b = find_builtin(builtin).unwrap().load().unwrap();
        for (method, batch) in [(Method::Bdwp, 32), (Method::Dense, 1), (Method::Srste, 8)] {
            let o = opts(method, batch);
            // Same layer names too: the importer turns `/layer1/layer1.0/conv1/Conv` into `layer1.0.conv1`.
            assert_eq!(lower(&m, &o).unwrap(), lower(&b, &o).unwrap(), "{file} vs built-in {builtin}, {method:?}");
        }
    }
}

fn round_trip(f: &str) -> Result<(Model, Model), nmsat_compiler::CompileError> {
    let m = load_model(f)?;
    let text = nm_writer::to_nm(&m, "rt")?;
    let back = nmsat_compiler::load_source("rt.nm", &text).unwrap_or_else(|e| panic!("{f}: {e}\n{text}"));
    Ok((m, back))
}

#[test]
fn nm_writer_round_trips_every_expressible_file() {
    for f in onnx_files() {
        let f = f.to_string_lossy().into_owned();
        if f.ends_with("pad_cnn.onnx") {
            let e = round_trip(&f).unwrap_err().to_string();
            assert!(e.contains("layer `conv2`: cannot be written as .nm") && e.contains("16x25x25"), "{e}");
            continue;
        }
        let (m, back) = round_trip(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
        for method in [Method::Bdwp, Method::Dense] {
            let key = |g: &Gemm| (g.pass, g.m, g.n, g.k, g.count, g.sparse, g.dense_reason.clone());
            let mut a: Vec<_> = lower(&m, &opts(method, 2)).unwrap().iter().map(key).collect();
            let mut b: Vec<_> = lower(&back, &opts(method, 2)).unwrap().iter().map(key).collect();
            a.sort_by_key(|k| format!("{k:?}"));
            b.sort_by_key(|k| format!("{k:?}"));
            assert_eq!(a, b, "{f}: the written .nm gives other GEMMs");
        }
    }
}

#[test]
fn grouped_and_depthwise_convolutions_keep_their_groups() {
    let m = load_model(&data("mobilenet_block.onnx")).unwrap();
    let g = lower(&m, &opts(Method::Bdwp, 1)).unwrap();
    let dw = g.iter().find(|g| g.layer == "block0.dw" && g.pass == Pass::Ff).unwrap();
    // Depthwise 3x3 on 16 channels: 16 GEMMs of K = 9, too short for 2:8 groups of 8.
    assert_eq!((dw.m, dw.n, dw.k, dw.count), (256, 1, 9, 16));
    assert!(dw.sparse.is_none() && dw.dense_reason.as_deref().unwrap_or("").contains("multiple"), "{dw:?}");
    let m = load_model(&data("resnext_block.onnx")).unwrap();
    let g = lower(&m, &opts(Method::Bdwp, 1)).unwrap();
    let gc = g.iter().find(|g| g.layer == "layer1.0.conv2" && g.pass == Pass::Ff).unwrap();
    // Cardinality 8 on 128 channels: 8 GEMMs of K = 16·9 = 144, a multiple of 8: N:M.
    assert_eq!((gc.m, gc.n, gc.k, gc.count), (256, 16, 144, 8));
    assert!(gc.sparse.is_some(), "{gc:?}");
}

#[test]
fn unsupported_ops_are_refused_or_skipped() {
    let f = data("invalid/unsupported_op.onnx");
    let e = load_model(&f).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{f}: node `/norm/LRN` (LRN): unsupported: operator `LRN` is not supported (`--skip-unsupported` skips such nodes)"
        )
    );
    let m = nmsat_compiler::load_model_with(&f, &LoadOptions { skip_unsupported: true }).unwrap();
    assert_eq!(m.weight_layers(), 2);
    assert!(m.notes.iter().any(|n| n.starts_with("skipped ") && n.contains("`/norm/LRN` (LRN)")), "{:?}", m.notes);
}
