//! The emitted Verilog of `tiny` equals the checked-in goldens
//! (`rtl/tests/golden/tiny/`); `NMSAT_BLESS=1` rewrites them after an
//! intended change. Emission is deterministic: two runs are byte-identical.

use std::path::PathBuf;

use nmsat_dataflow::ArchConfig;
use nmsat_rtl::{EmitOptions, emit};

#[test]
fn tiny_matches_goldens() {
    let arch = ArchConfig::preset("tiny").unwrap();
    let d = emit(&arch, &EmitOptions::default()).unwrap();
    assert_eq!(d, emit(&arch, &EmitOptions::default()).unwrap(), "emission must be deterministic");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiny");
    if std::env::var_os("NMSAT_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        d.write(&dir).unwrap();
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("goldens exist (NMSAT_BLESS=1 creates them)")
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    let mut want: Vec<String> = d.files.iter().map(|f| f.name.clone()).collect();
    want.push(nmsat_rtl::emit::FILE_LIST.to_string());
    want.sort();
    assert_eq!(names, want, "the set of generated files changed");
    for f in &d.files {
        let golden = std::fs::read_to_string(dir.join(&f.name)).unwrap();
        if golden != f.text {
            let line = golden.lines().zip(f.text.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
            panic!("{} differs from its golden first at line {line} (NMSAT_BLESS=1 to accept)", f.name);
        }
    }
    assert_eq!(std::fs::read_to_string(dir.join(nmsat_rtl::emit::FILE_LIST)).unwrap(), d.file_list());
}

#[test]
fn every_file_states_the_config_and_holds_one_module() {
    for name in ["tiny", "sat-mid", "sat-vu9p"] {
        let d = emit(&ArchConfig::preset(name).unwrap(), &EmitOptions::default()).unwrap();
        for f in &d.files {
            assert!(f.text.contains(&format!("config `{name}`")), "{}", f.name);
            assert_eq!(f.text.matches("\nmodule ").count(), 1, "{}", f.name);
            assert!(
                f.text.contains(&format!("module {}", f.name.trim_end_matches(".sv").trim_end_matches(".v"))),
                "{}",
                f.name
            );
        }
    }
}

/// A config whose `pe_array.dataflows` lacks `"ws"` ties the GEMM engine's
/// and the decoder's weight-stationary mode off (ADR 004: synthesis then
/// removes that logic); with `"ws"` both read the instruction's bit.
#[test]
fn the_ws_mode_is_tied_off_without_ws_in_the_config() {
    let with = ArchConfig::preset("tiny").unwrap();
    let mut without = with.clone();
    without.pe_array.dataflows = vec![nmsat_dataflow::arch::Stationarity::Os];
    let text = |a: &ArchConfig, f: &str| {
        emit(a, &EmitOptions::default()).unwrap().files.into_iter().find(|x| x.name == f).unwrap().text
    };
    assert!(text(&without, "sat_gemm.v").contains("assign i_ws = (1'b0 & (i_k != 32'd0));"));
    assert!(text(&without, "sat_compute_decode.v").contains("assign g_wsm = (1'b0 & ~g_zero);"));
    assert!(!text(&with, "sat_gemm.v").contains("assign i_ws = (1'b0"));
    assert!(!text(&with, "sat_compute_decode.v").contains("assign g_wsm = (1'b0"));
}
