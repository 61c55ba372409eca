//! `verilator --lint-only -Wall` is silent on the Verilog of every preset
//! (and of the co-simulation and fault-injection variants), and Yosys
//! elaborates every preset.
//! These tools are required: the tests fail, not skip, without them.

use std::process::Command;

use nmsat_dataflow::ArchConfig;
use nmsat_rtl::cosim::cosim_options;
use nmsat_rtl::{EmitOptions, emit};

fn lint(name: &str, opts: &EmitOptions) {
    let d = emit(&ArchConfig::preset(name).unwrap(), opts).unwrap();
    let dir = std::env::temp_dir().join(format!("nmsat-lint-{name}-{}-{}", opts.imem_bits, std::process::id()));
    let files = d.write(&dir).unwrap();
    let out = Command::new("verilator")
        .arg("--lint-only")
        .arg("-Wall")
        .args(files.iter().filter(|f| f.extension().is_some_and(|e| e == "v" || e == "sv")))
        .output()
        .expect("verilator is required (apt-get install -y verilator)");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.trim().is_empty(), "{name}: verilator lint:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lint_tiny() {
    lint("tiny", &EmitOptions::default());
    lint("tiny", &cosim_options(false));
    lint("tiny", &cosim_options(true));
}

#[test]
fn lint_sat_mid() {
    lint("sat-mid", &EmitOptions::default());
}

#[test]
fn lint_sat_vu9p() {
    lint("sat-vu9p", &EmitOptions::default());
}

/// Yosys elaborates `name`; the behavioural multi-port buffers (black boxes
/// in `nmsat synth`) are elaborated for `tiny` and read as black boxes for
/// the larger presets, whose thousands of buffer port lanes take Yosys minutes.
fn yosys_elaborates(name: &str) {
    let d = emit(&ArchConfig::preset(name).unwrap(), &EmitOptions::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("nmsat-yosys-{name}-{}", std::process::id()));
    let files = d.write(&dir).unwrap();
    let sources = files.iter().filter(|f| f.extension().is_some_and(|e| e == "v" || e == "sv"));
    let (bufs, logic): (Vec<_>, Vec<_>) =
        sources.map(|f| f.display().to_string()).partition(|f| name != "tiny" && f.contains("sat_buf_"));
    let lib = if bufs.is_empty() { String::new() } else { format!("read_verilog -lib {}; ", bufs.join(" ")) };
    let script =
        format!("{lib}read_verilog -sv {}; hierarchy -check -top sat_top; proc; check -assert", logic.join(" "));
    let out = Command::new("yosys")
        .arg("-q")
        .arg("-p")
        .arg(&script)
        .output()
        .expect("yosys is required (apt-get install -y yosys)");
    assert!(
        out.status.success(),
        "{name}: yosys:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn yosys_elaborates_tiny() {
    yosys_elaborates("tiny");
}

#[test]
fn yosys_elaborates_sat_mid() {
    yosys_elaborates("sat-mid");
}

#[test]
fn yosys_elaborates_sat_vu9p() {
    yosys_elaborates("sat-vu9p");
}
