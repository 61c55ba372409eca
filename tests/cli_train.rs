//! End-to-end tests of `nmsat train`: accuracy with the defaults (issue 4's
//! acceptance), determinism, the JSON fields, and bad input.

use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn train_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["train", "--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = nmsat(&all);
    assert_eq!(code, 0, "nmsat {all:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Trains with the defaults for seeds 0, 1, 2 and asserts >= `min` each.
fn accuracy_over_seeds(model: &str, method: &str, nm: &str, numerics: &str, min: f64) {
    for seed in ["0", "1", "2"] {
        let v = train_json(&["--model", model, "--method", method, "--nm", nm, "--numerics", numerics, "--seed", seed]);
        let acc = v["test_accuracy"].as_f64().unwrap();
        assert!(acc >= min, "{model} {method} {nm} {numerics} seed {seed}: test accuracy {acc} < {min}");
    }
}

#[test]
fn mlp_bdwp_2_8_reaches_95() {
    accuracy_over_seeds("mlp", "bdwp", "2:8", "f32", 0.95);
}

#[test]
fn cnn_bdwp_2_8_reaches_95() {
    accuracy_over_seeds("cnn", "bdwp", "2:8", "f32", 0.95);
}

#[test]
fn mlp_dense_srste_bdwp_2_4_reach_95() {
    accuracy_over_seeds("mlp", "dense", "2:8", "f32", 0.95);
    accuracy_over_seeds("mlp", "srste", "2:8", "f32", 0.95);
    accuracy_over_seeds("mlp", "bdwp", "2:4", "f32", 0.95);
}

#[test]
fn cnn_dense_reaches_95() {
    accuracy_over_seeds("cnn", "dense", "2:8", "f32", 0.95);
}

#[test]
fn cnn_srste_reaches_95() {
    accuracy_over_seeds("cnn", "srste", "2:8", "f32", 0.95);
}

#[test]
fn cnn_bdwp_2_4_reaches_95() {
    accuracy_over_seeds("cnn", "bdwp", "2:4", "f32", 0.95);
}

#[test]
fn mlp_int16_bdwp_2_8_reaches_93() {
    let v = train_json(&["--model", "mlp", "--method", "bdwp", "--nm", "2:8", "--numerics", "int16"]);
    assert!(v["test_accuracy"].as_f64().unwrap() >= 0.93, "{}", v["test_accuracy"]);
    assert_eq!(v["numerics"], "int16");
    assert_eq!(v["int16"]["formats"]["act_frac"], 10);
}

#[test]
fn json_has_the_promised_fields() {
    let v = train_json(&["--model", "mlp", "--method", "bdwp", "--nm", "2:8", "--epochs", "1"]);
    assert_eq!(v["method"], "bdwp");
    assert_eq!(v["nm"], "2:8");
    assert_eq!(v["train_loss"].as_array().unwrap().len(), 1);
    let acc = v["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    // fc1: first layer, dense FF, no BP. fc2: 2:8 both ways. fc3: BP dense (C_out = 10).
    assert_eq!(layers[0]["ff"]["operand"], "dense");
    assert_eq!(layers[0]["ff"]["dense_reason"], "first layer: kept dense by convention (its input is the data)");
    assert_eq!(layers[0]["bp"]["operand"], "skipped");
    assert_eq!(layers[1]["ff"]["sparsity"], 0.75);
    assert_eq!(layers[1]["bp"]["sparsity"], 0.75);
    assert_eq!(layers[2]["ff"]["sparsity"], 0.75);
    assert_eq!(layers[2]["bp"]["operand"], "dense");
    assert!(layers[2]["bp"]["dense_reason"].as_str().unwrap().contains("C_out=10"));
    for l in layers {
        assert!(l["dw_sparsity"].as_f64().unwrap() < 0.75, "WG is dense: {l}");
        assert_eq!(l["master_sparsity"], 0.0);
    }
    // Dense prunes nothing.
    let v = train_json(&["--method", "dense", "--epochs", "1"]);
    assert!(v["nm"].is_null());
    assert!(v["layers"].as_array().unwrap().iter().all(|l| l["ff"]["sparsity"].as_f64().unwrap() < 0.01));
}

#[test]
fn same_seed_same_bytes() {
    for model in ["mlp", "cnn"] {
        let args = ["train", "--model", model, "--epochs", "1", "--seed", "3", "--format", "json"];
        let (c1, a, _) = nmsat(&args);
        let (c2, b, _) = nmsat(&args);
        assert_eq!((c1, c2), (0, 0));
        assert_eq!(a, b, "{model}: output differs between identical runs");
    }
    let args = ["train", "--epochs", "1", "--numerics", "int16", "--format", "json"];
    assert_eq!(nmsat(&args).1, nmsat(&args).1);
    let (_, other, _) = nmsat(&["train", "--epochs", "1", "--seed", "4", "--format", "json"]);
    let (_, three, _) = nmsat(&["train", "--epochs", "1", "--seed", "3", "--format", "json"]);
    assert_ne!(other, three);
}

#[test]
fn malformed_csv_exits_2_naming_the_line() {
    let bad = temp_file("bad.csv", "1,2,3,0\n4,5\n7,x,9,1\n");
    let (code, out, err) = nmsat(&["train", "--dataset", bad.to_str().unwrap(), "--model", "mlp", "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains(":2:") && err.contains("expected 4 cells"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let cases = [
        ("nonnum.csv", "1,2,0\n3,4,1\n5,abc,0\n", ":3:", "not a finite number"),
        ("label.csv", "1,2,0\n3,4,1.5\n", ":2:", "not an integer"),
        ("one.csv", "1,2,7\n3,4,7\n5,6,7\n", "one.csv", "at least two classes"),
        ("empty.csv", "", "empty.csv", "no data rows"),
    ];
    for (name, text, where_, what) in cases {
        let p = temp_file(name, text);
        let (code, _, err) = nmsat(&["train", "--dataset", p.to_str().unwrap(), "--epochs", "1"]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(where_) && err.contains(what), "{name}: {err}");
    }
    let (code, _, err) = nmsat(&["train", "--dataset", "/nonexistent/data.csv"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = nmsat(&["train", "--nm", "3:6"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3:6"), "{err}");
    let (code, _, err) = nmsat(&["train", "--epochs", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = nmsat(&["train", "--model", "transformer"]);
    assert_eq!(code, 2);
}

#[test]
fn any_csv_with_a_header_trains() {
    // Two well-separated blobs in 4-D, with a header line.
    let mut text = String::from("a,b,c,d,label\n");
    for i in 0..60 {
        let (label, base) = if i % 2 == 0 { (3, 0.0) } else { (8, 5.0) };
        let j = f64::from(i % 7) * 0.1;
        text.push_str(&format!("{},{},{},{},{label}\n", base + j, base - j, base + 2.0 * j, base));
    }
    let p = temp_file("blobs.csv", &text);
    let v = train_json(&["--dataset", p.to_str().unwrap(), "--epochs", "5", "--batch", "8"]);
    assert_eq!(v["classes"], 2);
    assert_eq!(v["train_samples"], 48);
    assert!(v["test_accuracy"].as_f64().unwrap() > 0.9, "{v}");
    // The CNN needs 8x8 images.
    let (code, _, err) = nmsat(&["train", "--dataset", p.to_str().unwrap(), "--model", "cnn"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs 64 features"), "{err}");
}

#[test]
fn table_output_summarises_layers() {
    let (code, out, _) = nmsat(&["train", "--epochs", "1"]);
    assert_eq!(code, 0);
    assert!(out.contains("test accuracy"), "{out}");
    assert!(out.contains("fc2") && out.contains("2:8"), "{out}");
    assert!(out.contains("first layer"), "{out}");
}
