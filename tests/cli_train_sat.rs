//! `nmsat train --on sat`: the digits MLP trained on the simulated SAT.

use std::process::Command;

fn train(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["train", "--dataset", "digits", "--model", "mlp", "--method", "bdwp", "--nm", "2:8"];
    args.extend_from_slice(&["--numerics", "int16", "--format", "json"]);
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bdwp_2_8_on_sat_trains_like_the_int16_reference() {
    let sat = train(&["--on", "sat"]);
    let cpu = train(&[]);
    let acc = sat["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.93, "accuracy {acc}");
    // Same arithmetic, same data order: identical losses and accuracies epoch by epoch.
    assert_eq!(sat["train_loss"], cpu["train_loss"]);
    assert_eq!(sat["test_accuracy_per_epoch"], cpu["test_accuracy_per_epoch"]);
    assert!(sat["sat"]["cycles_per_step"].as_f64().unwrap() > 0.0);
    assert!(sat["sat"]["kernels"].as_u64().unwrap() > 1000);
}
