//! End-to-end tests of `nmsat rtl`, `nmsat cosim` and the error paths of
//! `nmsat synth` (the RTL issue's automated check runs the same commands).

use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rtl_writes_files_and_a_file_list() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-rtl-{}", std::process::id()));
    let d = dir.to_string_lossy().to_string();
    let (code, out, err) = nmsat(&["rtl", "--arch", "tiny", "-o", &d]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("top module `sat_top`"), "{out}");
    let list = std::fs::read_to_string(dir.join("sat.f")).unwrap();
    for f in list.lines() {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(list.lines().any(|l| l == "sat_top.sv"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cosim_random_and_a_training_step() {
    let (code, out, err) = nmsat(&["cosim", "--arch", "tiny", "--random", "3", "--seed", "11"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 program(s), 183 instructions: every issue and retirement cycle"), "{out}");
    assert!(out.contains("every final DRAM image is bit-exact"), "{out}");
    // A whole training step with the int16 reference's memory image: cycles
    // and the final DRAM (master weights, momentum, next step's operands).
    for method in ["bdwp", "dense", "srste"] {
        let (code, out, err) = nmsat(&["cosim", "--arch", "tiny", "digits-mlp", "--method", method, "--nm", "2:8"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!("digits-mlp ({method} 2:8)")) && out.contains(": match; DRAM bit-exact"),
            "{out}"
        );
        assert!(out.contains("every final DRAM image is bit-exact"), "{out}");
    }
}

#[test]
fn a_compiled_step_file_carries_its_memory_image_into_cosim() {
    // `nmsat compile -o` writes the reference's first-step image with the
    // program, so the file alone co-simulates with its DRAM compared.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-step-{}.sat", std::process::id()));
    let f = path.to_string_lossy().to_string();
    let (code, _, err) =
        nmsat(&["compile", "digits-mlp", "--arch", "tiny", "--method", "bdwp", "--nm", "2:8", "-o", &f]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("memory image of") && !err.contains("no memory image"), "{err}");
    let (code, out, err) = nmsat(&["cosim", &f]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": match; DRAM bit-exact"), "{out}{err}");
    // A model without a reference gets a seeded synthetic image, and says so.
    let (code, _, err) = nmsat(&["compile", "resnet20-cifar10", "--batch", "2", "-o", &f]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("memory image of") && err.contains("note: the memory image is synthetic"), "{err}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn cosim_of_a_model_file_compares_its_dram_on_a_synthetic_image() {
    // Any model co-simulates with data: a network written in the DSL (convs
    // with a stride, two linear layers, 7 classes) on seeded random state.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cosim-nm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("small.nm");
    std::fs::write(
        &model,
        "model small {\n  input 3x8x8\n  conv c1 out=16 k=3 pad=1\n  relu\n  conv c2 out=32 k=3 stride=2 pad=1\n  relu\n  flatten\n  linear fc1 out=64\n  relu\n  linear fc2 out=7\n}\n",
    )
    .unwrap();
    let m = model.to_string_lossy().to_string();
    for method in ["bdwp", "dense"] {
        let (code, out, err) = nmsat(&["cosim", "--arch", "tiny", &m, "--batch", "4", "--method", method]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(err.contains("synthetic"), "{err}");
        assert!(out.contains(": match; DRAM bit-exact"), "{out}{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cosim_of_a_cnn_step_compares_its_dram() {
    // The convolutions' operands come through the DMA engine's im2col gather
    // (`load2col`): the step's final DRAM must equal the simulator's.
    for method in ["bdwp", "srste"] {
        let (code, out, err) = nmsat(&["cosim", "--arch", "tiny", "digits-cnn", "--method", method, "--nm", "2:8"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!("digits-cnn ({method} 2:8)")) && out.contains(": match; DRAM bit-exact"),
            "{out}"
        );
        assert!(!err.contains("timing only"), "{err}");
    }
}

#[test]
fn weight_stationary_steps_co_simulate() {
    // Issue 21: every GEMM that can run weight-stationary does (`--dataflow
    // ws`); the step's issue/retirement cycles and final DRAM must match.
    let (code, out, err) =
        nmsat(&["cosim", "--arch", "tiny", "digits-cnn", "--method", "bdwp", "--nm", "2:8", "--dataflow", "ws"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": match; DRAM bit-exact"), "{out}");
    let ws: usize = out
        .split("output-stationary GEMMs")
        .nth(1)
        .and_then(|s| s.split(", ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(ws > 0, "no weight-stationary GEMM in the step: {out}");
}

#[test]
fn cosim_of_a_residual_cnn_with_strided_and_1x1_gathers_compares_its_dram() {
    // models/digits_rescnn.nm: a stride-2 3x3 convolution beside a 1x1
    // stride-2 downsample, at batch 2, through tiny's line buffer (ADR 003).
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/models/digits_rescnn.nm");
    let (code, out, err) =
        nmsat(&["cosim", "--arch", "tiny", model, "--method", "bdwp", "--nm", "2:8", "--batch", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": match; DRAM bit-exact"), "{out}{err}");
    assert!(!err.contains("timing only"), "{err}");
}

#[test]
fn cosim_needs_an_input() {
    let (code, _, err) = nmsat(&["cosim", "--arch", "tiny"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--random"), "{err}");
}

#[test]
fn rtl_rejects_a_bad_instruction_memory() {
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-rtl-bad-{}", std::process::id()));
    let (code, _, err) = nmsat(&["rtl", "--arch", "tiny", "--imem-bits", "40", "-o", &dir.to_string_lossy()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("instruction memory"), "{err}");
}

#[test]
fn synth_of_one_pe_has_a_dsp_per_lane_and_an_unknown_top_is_refused() {
    // `--top` synthesises one module's hierarchy: tiny's PE has 4 lanes, one
    // DSP48E2 multiplier each.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-synth-pe-{}", std::process::id()));
    let d = dir.to_string_lossy().to_string();
    let (code, out, err) = nmsat(&["synth", "--arch", "tiny", "--top", "sat_pe", "--format", "json", "--dir", &d]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["top"], "sat_pe");
    assert_eq!(v["resources"]["dsps"], 4, "{out}");
    assert_eq!(v["pes"], 1);
    assert_eq!(v["dsps_per_pe"], 4);
    assert_eq!(v["buffers_bram36"].as_array().map(Vec::len), Some(0));
    let (code, _, err) = nmsat(&["synth", "--arch", "tiny", "--top", "sat_nope", "--dir", &d]);
    assert_ne!(code, 0);
    assert!(err.contains("no module `sat_nope`") && err.contains("sat_pe_array"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn per_module_synthesis_matches_a_single_run_and_resumes() {
    // `synth_xilinx` maps each module on its own, so one Yosys run per module
    // (submodules as black boxes) gives the single run's flip-flops and DSPs;
    // LUTs differ only by ABC's sensitivity to netlist order.
    let base =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-synth-hier-{}", std::process::id()));
    let (h, s) = (base.join("hier"), base.join("single"));
    let (hd, sd) = (h.to_string_lossy().to_string(), s.to_string_lossy().to_string());
    let args = ["synth", "--arch", "tiny", "--top", "sat_pe_array", "--format", "json", "--dir"];
    let (code, out, err) = nmsat(&[&args[..], &[hd.as_str()]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("[2/2]"), "progress per module: {err}");
    let hier: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (code, out, err) = nmsat(&[&args[..], &[sd.as_str(), "--single"]].concat());
    assert_eq!(code, 0, "{err}");
    let single: serde_json::Value = serde_json::from_str(&out).unwrap();
    let runs = hier["runs"].as_array().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r["module"].as_str().unwrap()).collect();
    assert_eq!(names, ["sat_pe_array", "sat_pe"]);
    assert_eq!(runs[1]["instances"], 4, "tiny has 2x2 PEs");
    assert_eq!(hier["pes"], 4);
    assert_eq!(single["runs"].as_array().map(Vec::len), Some(0));
    for k in ["ffs", "dsps", "bram36"] {
        assert_eq!(hier["resources"][k], single["resources"][k], "{k}");
    }
    assert_eq!(hier["resources"]["dsps"], 16);
    // Only the synthesised top's ports get I/O buffers, as in one run.
    let cell = |v: &serde_json::Value, name: &str| {
        v["cells"].as_array().unwrap().iter().find(|c| c[0] == name).map_or(0, |c| c[1].as_u64().unwrap())
    };
    assert_eq!(cell(&hier, "IBUF"), cell(&single, "IBUF"));
    assert_eq!(cell(&hier, "OBUF"), cell(&single, "OBUF"));
    let (lh, ls) = (hier["resources"]["luts"].as_f64().unwrap(), single["resources"]["luts"].as_f64().unwrap());
    assert!((lh - ls).abs() <= 0.05 * ls, "LUTs {lh} per module vs {ls} single");
    // A rerun reuses every module and reports the same counts.
    let (code, out, err) = nmsat(&[&args[..], &[hd.as_str()]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("reused"), "{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(again["runs"].as_array().unwrap().iter().all(|r| r["cached"] == true));
    assert_eq!(again["resources"], hier["resources"]);
    let _ = std::fs::remove_dir_all(&base);
}
