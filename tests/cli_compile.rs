//! End-to-end tests of `nmsat compile` and `nmsat models`.

use std::path::PathBuf;
use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel).to_string_lossy().into_owned()
}

fn temp_file(name: &str, text: &str) -> String {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-compile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = nmsat(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn gemms_json_has_the_issue_fields_and_totals() {
    let v = json(&[
        "compile",
        "resnet18-cifar10",
        "--method",
        "bdwp",
        "--nm",
        "2:8",
        "--batch",
        "4",
        "--emit",
        "gemms",
        "--format",
        "json",
    ]);
    let gemms = v["gemms"].as_array().unwrap();
    assert_eq!(gemms.len(), 21 * 3 - 1);
    for key in ["layer", "pass", "M", "N", "K", "count", "sparse_operand", "nm", "dense_reason"] {
        assert!(gemms.iter().all(|g| g.get(key).is_some()), "missing {key}");
    }
    let conv2 = gemms.iter().find(|g| g["layer"] == "layer1.0.conv1" && g["pass"] == "FF").unwrap();
    assert_eq!((conv2["M"].as_u64(), conv2["N"].as_u64(), conv2["K"].as_u64()), (Some(4096), Some(64), Some(576)));
    assert_eq!((conv2["sparse_operand"].as_str(), conv2["nm"].as_str()), (Some("weight"), Some("2:8")));
    let first = gemms.iter().find(|g| g["layer"] == "conv1" && g["pass"] == "FF").unwrap();
    assert!(first["sparse_operand"].is_null() && first["dense_reason"].as_str().unwrap().contains("first layer"));
    let dense: u64 = gemms
        .iter()
        .map(|g| {
            g["M"].as_u64().unwrap()
                * g["N"].as_u64().unwrap()
                * g["K"].as_u64().unwrap()
                * g["count"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(v["totals"]["macs_dense"].as_u64(), Some(dense));
    assert_eq!(dense, 4 * 1_664_498_688);
    let eq = v["totals"]["macs_sparse_equivalent"].as_u64().unwrap();
    assert!(eq < dense && eq > dense / 4, "{eq}");
}

#[test]
fn compiles_every_front_end() {
    for arg in [
        repo("models/digits_cnn.nm"),
        repo("data/models/vgg16_cifar10.layers.csv"),
        repo("data/models/resnet20_cifar10.scalesim.csv"),
        repo("data/scalesim/conv_nets/Resnet18.csv"),
        repo("data/scalesim/resnet/resnet_input_grad.csv"),
        repo("data/scalesim/GEMM_mnk/gpt2.csv"),
        "digits_mlp".to_string(),
    ] {
        let v = json(&[
            "compile", &arg, "--method", "bdwp", "--nm", "2:8", "--batch", "1", "--emit", "gemms", "--format", "json",
        ]);
        assert!(!v["gemms"].as_array().unwrap().is_empty(), "{arg}");
    }
}

#[test]
fn csv_table_graph_and_dot_outputs() {
    let (code, out, _) = nmsat(&["compile", "digits-mlp", "--format", "csv"]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert!(lines.next().unwrap().starts_with("layer,pass,M,N,K,count,sparse_operand,nm"));
    assert_eq!(lines.count(), 8);
    let (code, out, _) = nmsat(&["compile", "digits-mlp", "--method", "srste"]);
    assert_eq!(code, 0);
    assert!(out.contains("8 GEMMs, digits_mlp at batch 1, srste 2:8"), "{out}");
    let (code, out, _) = nmsat(&["compile", "digits-cnn", "--emit", "dot"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("digraph") && out.contains("->"));
    let v = json(&["compile", "digits-cnn", "--emit", "graph", "--format", "json"]);
    assert!(v["nodes"].as_array().unwrap().iter().any(|n| n["op"] == "sparsify BP"));
    let (code, out, _) = nmsat(&["compile", "digits-cnn", "--emit", "graph", "--format", "table"]);
    assert_eq!(code, 0);
    assert!(out.contains("conv2.W_ff") && out.contains("C_in*R*S"), "{out}");
}

#[test]
fn models_lists_every_builtin_with_macs_and_params() {
    let v = json(&["models", "--format", "json"]);
    let rows = v.as_array().unwrap();
    // Every layer table in data/models is a built-in (SUMMARY.csv lists only the reference
    // models with training-GEMM files; the OpenLLaMA table has none).
    let tables = std::fs::read_dir(repo("data/models"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".layers.csv"))
        .count();
    assert_eq!(rows.len(), tables);
    assert!(rows.iter().any(|r| r["name"] == "open-llama-3b-seq2048"));
    let r = rows.iter().find(|r| r["name"] == "resnet50-imagenet").unwrap();
    assert_eq!(r["training_step_macs"].as_u64(), Some(12_149_538_816));
    assert_eq!(r["weight_params"].as_u64(), Some(25_502_912));
    let (code, out, _) = nmsat(&["models"]);
    assert_eq!(code, 0);
    assert!(out.contains("vit-b16-imagenet") && out.contains("params"));
}

#[test]
fn malformed_inputs_exit_2_with_a_location_and_no_panic() {
    let cases = [
        ("kind.nm", "model x {\n  input 3x32x32\n  pool c1 k=3\n}\n", "kind.nm:3:3"),
        ("neg.nm", "model x {\n  input 3x32x32\n  conv c1 out=-16 k=3\n}\n", "neg.nm:3:15"),
        ("zero.nm", "model x {\n  input 3x32x32\n  conv c1 out=16 k=0\n}\n", "zero.nm:3:20"),
        ("shape.nm", "model x {\n  input 3x32x32\n  linear fc out=10\n}\n", "shape.nm:3:3"),
        ("open.nm", "model x {\n  input 3x32x32\n  conv c1 out=16 k=3\n", "open.nm:1:9"),
        ("bad.layers.csv", "layer,type,C_in,C_out,H_out,W_out,R,S\na,conv,3,0,8,8,3,3\n", "row 2, field `C_out`"),
        ("bad.csv", "Layer,M,N,K,\nx,4,-2,4,\n", "row 2, field `N`"),
    ];
    for (name, text, loc) in cases {
        let p = temp_file(name, text);
        let (code, out, err) = nmsat(&["compile", &p, "--emit", "gemms"]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(loc), "{name}: {err}");
        assert!(!err.contains("panicked") && out.is_empty(), "{name}: {err}");
    }
    let (code, _, err) = nmsat(&["compile", "resnet-1000"]);
    assert_eq!(code, 2);
    assert!(err.contains("resnet18-cifar10"), "lists the built-ins: {err}");
    let (code, _, _) = nmsat(&["compile", "digits-mlp", "--nm", "3:5"]);
    assert_eq!(code, 2);
    let (code, _, _) = nmsat(&["compile", "digits-mlp", "--batch", "0"]);
    assert_eq!(code, 2);
}

#[test]
fn list_passes_prints_one_line_per_optimization_without_a_model() {
    let (code, out, err) = nmsat(&["compile", "--list-passes"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (line, name) in lines.iter().zip(["interleave", "pregen", "offline-schedule"]) {
        assert_eq!(line.split_whitespace().next(), Some(name), "{line}");
        assert!(line.contains("Off: "), "says what switching it off does: {line}");
    }
    // Without --list-passes the model stays required.
    let (code, _, err) = nmsat(&["compile"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn disable_by_name_is_the_no_flag_and_unknown_names_exit_2() {
    let dir = std::env::temp_dir().join(format!("nmsat-cli-disable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let compile = |extra: &[&str], file: &str| {
        let mut args = vec!["compile", "digits-cnn", "--arch", "tiny", "--batch", "8", "-o", file];
        args.extend_from_slice(extra);
        let (code, _, err) = nmsat(&args);
        assert_eq!(code, 0, "{extra:?}: {err}");
        std::fs::read(file).unwrap()
    };
    let (a, b, c) = (out("no-pregen.sat"), out("disable-pregen.sat"), out("all.sat"));
    let no_pregen = compile(&["--no-pregen"], &a);
    assert_eq!(no_pregen, compile(&["--disable", "pregen"], &b), "--disable pregen != --no-pregen");
    assert_ne!(no_pregen, compile(&[], &c), "pre-generation changes the program");
    // A comma list, an alias and a repeat mean the same as the three flags.
    let flags = compile(&["--no-interleave", "--no-pregen", "--no-offline-schedule"], &a);
    assert_eq!(flags, compile(&["--disable", "interleave,offline", "--disable", "pregen"], &b));
    let (code, out, err) = nmsat(&["compile", "digits-cnn", "--disable", "pregen,warp-drive"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("warp-drive") && err.contains("offline-schedule"), "names the known ones: {err}");
    std::fs::remove_dir_all(&dir).ok();
}
