//! End-to-end tests of `nmsat compile -o`, `nmsat disasm` and `nmsat sim`.

use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-sim-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

#[test]
fn compile_disasm_and_sim_a_program() {
    let p = tmp("mlp.sat");
    let ps = p.to_str().unwrap();
    let (code, _, err) =
        nmsat(&["compile", "digits-mlp", "--arch", "tiny", "--method", "bdwp", "--batch", "8", "-o", ps]);
    assert_eq!(code, 0, "{err}");
    // Same inputs, same bytes.
    let p2 = tmp("mlp2.sat");
    nmsat(&["compile", "digits-mlp", "--arch", "tiny", "--method", "bdwp", "--batch", "8", "-o", p2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&p2).unwrap(), "compile is not deterministic");
    let (code, asm, _) = nmsat(&["disasm", ps]);
    assert_eq!(code, 0);
    assert!(asm.lines().count() > 20 && asm.contains("sparsify") && asm.contains("gemm"));
    let trace = tmp("trace.json");
    let (code, fast, err) = nmsat(&["sim", ps, "--format", "json", "--trace", trace.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, cycle, _) = nmsat(&["sim", ps, "--format", "json", "--mode", "cycle"]);
    assert_eq!(code, 0);
    let f: serde_json::Value = serde_json::from_str(&fast).unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&cycle).unwrap();
    c["mode"] = f["mode"].clone();
    assert_eq!(f, c, "fast and cycle modes disagree");
    for key in [
        "total_cycles",
        "seconds",
        "passes",
        "layers",
        "macs_dense_equivalent",
        "macs_executed",
        "dram_bytes",
        "throughput_gops",
        "stalls",
    ] {
        assert!(!f[key].is_null(), "missing {key}");
    }
    let l = &f["layers"][0];
    for key in ["name", "pass", "M", "N", "K", "mode", "cycles", "pe_utilization", "dram_bytes"] {
        assert!(!l[key].is_null(), "layer lacks {key}");
    }
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert!(t["traceEvents"].as_array().unwrap().len() > 20);
    // Same inputs, same bytes.
    let (_, again, _) = nmsat(&["sim", ps, "--format", "json"]);
    assert_eq!(fast, again);
}

#[test]
fn sim_of_a_model_matches_its_compiled_program() {
    let p = tmp("cnn.sat");
    let ps = p.to_str().unwrap();
    let common = ["--method", "srste", "--nm", "2:4", "--batch", "4"];
    let mut args = vec!["compile", "digits-cnn"];
    args.extend_from_slice(&common);
    args.extend_from_slice(&["-o", ps]);
    assert_eq!(nmsat(&args).0, 0);
    let (_, a, _) = nmsat(&["sim", ps, "--format", "json"]);
    let mut args = vec!["sim", "digits-cnn", "--format", "json"];
    args.extend_from_slice(&common);
    let (code, b, err) = nmsat(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(a, b);
}

#[test]
fn bad_program_files_are_clear_errors() {
    let p = tmp("garbage.sat");
    std::fs::write(&p, b"NMSATPRG\x01\x00\x00\x00garbage").unwrap();
    let (code, _, err) = nmsat(&["sim", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("garbage.sat") && !err.contains("panicked"), "{err}");
    let (code, _, err) = nmsat(&["disasm", "/nonexistent/x.sat"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.sat"), "{err}");
    let (code, _, err) = nmsat(&["sim", "digits-mlp", "--nm", "3:8", "--arch", "tiny"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("3:8"), "{err}");
}

#[test]
fn csv_rows_carry_stalls_by_cause_that_sum_to_the_json() {
    let (code, csv, err) = nmsat(&["sim", "digits-cnn", "--batch", "8", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    let (code, json, err) = nmsat(&["sim", "digits-cnn", "--batch", "8", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), v["layers"].as_array().unwrap().len());
    for cause in
        ["token_from_load", "token_from_compute", "token_from_store", "unit_busy", "data_hazard", "mode_switch"]
    {
        let col = header.iter().position(|h| *h == format!("stall_{cause}")).unwrap_or_else(|| panic!("{cause}"));
        let sum: u64 = rows.iter().map(|r| r[col].parse::<u64>().unwrap()).sum();
        assert_eq!(Some(sum), v["stalls"][cause].as_u64(), "{cause}");
    }
    assert!(rows.iter().all(|r| r.len() == header.len()));
}

/// An empty directory of this name under the test target's temporary directory.
fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `nmsat args`, asserts it exits 2, and returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    err
}

/// A step too large to build whole, or to stream within `--max-steps`, is
/// refused before any work, with the number of reduction steps and what to
/// change (exit 2, no abort, nothing written).
#[test]
fn a_step_too_large_is_refused_up_front() {
    let dir = fresh_dir("cli-sim-too-large");
    let out = dir.join("r18.sat");
    let trace = dir.join("t.json");
    let cases: [&[&str]; 3] = [
        &["sim", "digits-mlp", "--batch", "99999999999", "--arch", "sat-vu9p"],
        // Built whole: 6 M reduction steps at most.
        &["compile", "resnet18-cifar10", "--batch", "256", "--arch", "tiny", "-o", out.to_str().unwrap()],
        // Streamed: bounded by --max-steps.
        &["sim", "resnet20-cifar10", "--arch", "tiny", "--max-steps", "1000", "--trace", trace.to_str().unwrap()],
    ];
    for args in cases {
        let err = refused(args);
        assert!(err.contains("GEMM reduction steps") && err.contains("smaller batch"), "{err}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing is written");
}

#[test]
fn hostile_outputs_and_overflows_are_refused_before_any_work() {
    let dir = fresh_dir("cli-sim-hostile");
    let wide = dir.join("wide.nm");
    std::fs::write(&wide, "model wide {\n  input 4000000000x1x1\n  linear fc out=4000000000\n}\n").unwrap();
    let missing = dir.join("no/such/dir/x.sat");
    let d = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["compile", "resnet18-cifar10", "-o", missing.to_str().unwrap()], "its directory does not exist"),
        (&["compile", "resnet18-cifar10", "-o", d], "is a directory"),
        (&["compile", wide.to_str().unwrap()], "layer `fc`: total MACs overflow"),
        (&["sim", wide.to_str().unwrap()], "layer `fc`: the FF GEMM 1x4000000000x4000000000 is too large to schedule"),
    ];
    for (args, want) in cases {
        let err = refused(args);
        assert!(err.contains(want) && err.lines().count() == 1, "{args:?}: {err}");
    }
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("wide.nm")], "nothing is written");
}

#[test]
fn scalesim_compat_reproduces_scalesims_forward_cycles() {
    // The import of the config SCALE-Sim ran with, and its stored result for
    // `conv_nets/Resnet_test.csv` (ResNet's Conv1: 758 folds of K = 147 on
    // 32x32): 758 * (147 + 32 + 32 - 2) - 1 = 158421 cycles.
    let cfg = tmp("os32x32.toml");
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, _, err) =
        nmsat(&["arch", "import", &format!("{root}/data/scalesim/results/os32x32.cfg"), "-o", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let ff = |extra: &[&str]| {
        let topo = format!("{root}/data/scalesim/conv_nets/Resnet_test.csv");
        let mut args = vec!["sim", &topo, "--arch", cfg.to_str().unwrap(), "--method", "dense", "--batch", "1"];
        args.extend_from_slice(&["--format", "json"]);
        args.extend_from_slice(extra);
        let (code, out, err) = nmsat(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["passes"]["FF"].as_u64().unwrap()
    };
    let compat = ff(&["--scalesim-compat"]);
    assert!((158421..=158421 + 1584).contains(&compat), "{compat}");
    // The SAT overlaps each fold's fill and drain: about 147/209 of it.
    let default = ff(&[]);
    assert!(default < 158421 * 3 / 4, "{default}");
}
