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

/// A config whose buffers cannot hold one tile of a training kernel is a
/// clear error (exit 2) naming the kernel and the config, not a panic.
#[test]
fn a_config_too_small_for_a_kernel_is_refused_by_name() {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-small-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tiny = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/tiny.toml")).unwrap();
    let small: String = tiny
        .lines()
        .map(|l| if l.starts_with("bytes = ") { "bytes = 4096".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("small.toml");
    std::fs::write(&path, small).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat"))
        .args(["train", "--dataset", "digits", "--epochs", "1", "--on", "sat", "--arch"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("cannot run the WG GEMM 64x10x32 of weight layer 2 on the SAT config `tiny`"), "{err}");
}
