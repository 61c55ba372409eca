use super::*;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn shipped() -> Vec<PathBuf> {
    let dir = Path::new(ROOT).join("data/scalesim/configs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_config_imports_and_validates() {
    let files = shipped();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        let imp = import_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(imp.config.validate().is_empty(), "{}", f.display());
        // What `nmsat arch check` runs on the written file.
        let again = ArchConfig::from_toml_str(&imp.toml, "again").unwrap();
        assert_eq!(again, imp.config);
        assert_eq!(imp.config.pe_array.lanes, 1);
        assert!(!imp.choices.is_empty());
        for c in &imp.choices {
            assert!(imp.toml.contains(&format!("# chosen (no SCALE-Sim equivalent): {}", c.why)), "{c:?}");
        }
    }
}

#[test]
fn scale_cfg_matches_its_golden() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("data/scalesim/configs/scale.cfg")).unwrap();
    let imp = import(&text, "data/scalesim/configs/scale.cfg").unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/scale.cfg.toml");
    if std::env::var_os("NMSAT_BLESS").is_some() {
        std::fs::write(&golden, &imp.toml).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("golden exists (NMSAT_BLESS=1 writes it)");
    assert_eq!(imp.toml, want, "scale.cfg's import changed (NMSAT_BLESS=1 to accept)");
    assert_eq!(import(&text, "elsewhere/scale.cfg").unwrap().toml, want, "only the file name is written");
}

#[test]
fn fields_map_one_to_one() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("data/scalesim/configs/google.cfg")).unwrap();
    let c = import(&text, "google.cfg").unwrap().config;
    assert_eq!((c.pe_array.rows, c.pe_array.cols), (256, 256));
    assert_eq!(c.pe_array.dataflows, vec![crate::arch::Stationarity::Os]);
    assert_eq!(c.name, "GoogleTPU_v1_os");
    // 6144 kB of one-byte words = 6 Mi int16 elements; 2048 kB of ofmap words = 2 Mi accumulators.
    assert_eq!(c.buffers.activation.bytes, 6144 * 1024 * 2);
    assert_eq!(c.buffers.output.bytes, 2048 * 1024 * 6);
    // USER, Bandwidth 10 words/cycle.
    assert_eq!(c.dram.bytes_per_cycle, 20);
    assert!(c.sparsity.patterns.is_empty());
    let s = std::fs::read_to_string(Path::new(ROOT).join("data/scalesim/configs/sparsity.cfg")).unwrap();
    let c = import(&s, "sparsity.cfg").unwrap().config;
    assert_eq!(c.sparsity.patterns, vec!["1:8".parse().unwrap()]);
    assert_eq!(c.pe_array.mux_inputs, 8);
    // CALC: the array's edge demand.
    let e = std::fs::read_to_string(Path::new(ROOT).join("data/scalesim/configs/eyeriss.cfg")).unwrap();
    let imp = import(&e, "eyeriss.cfg").unwrap();
    assert_eq!(imp.config.dram.bytes_per_cycle, (12 + 14) * 2);
    assert!(imp.ignored.iter().any(|i| i.contains("OnChipMemoryBanks") && i.contains("does not read it either")));
}

const MINIMAL: &str = "[general]\nrun_name = r\n[architecture_presets]\nArrayHeight: 8\nArrayWidth: 8\n\
IfmapSramSzkB: 64\nFilterSramSzkB: 64\nOfmapSramSzkB: 64\nDataflow: os\n[run_presets]\nInterfaceBandwidth: CALC\n";

#[test]
fn a_minimal_config_imports() {
    let c = import(MINIMAL, "m.cfg").unwrap().config;
    assert_eq!((c.pe_array.rows, c.name.as_str()), (8, "r"));
    let is = import(&MINIMAL.replace("Dataflow: os", "Dataflow: is"), "m.cfg").unwrap();
    assert_eq!(is.config.pe_array.dataflows, vec![crate::arch::Stationarity::Ws, crate::arch::Stationarity::Os]);
}

#[test]
fn bad_values_name_file_line_and_key() {
    for (from, to, line, needle) in [
        ("ArrayHeight: 8", "ArrayHeight: 2048", 4, "at most 1024"),
        ("ArrayHeight: 8", "ArrayHeight: 0", 4, "whole number in 1..=1024"),
        ("ArrayWidth: 8", "ArrayWidth: eight", 5, "`ArrayWidth` = `eight`"),
        ("IfmapSramSzkB: 64", "IfmapSramSzkB: 99999", 6, "at most 16384"),
        ("Dataflow: os", "Dataflow: OS", 9, "one of os, ws, is"),
        ("InterfaceBandwidth: CALC", "InterfaceBandwidth: calc", 11, "USER or CALC"),
        ("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER\n[architecture_presets]", 12, "already opened"),
    ] {
        let text = MINIMAL.replace(from, to);
        let e = import(&text, "m.cfg").unwrap_err().to_string();
        assert!(e.starts_with(&format!("m.cfg:{line}:")) && e.contains(needle), "{to}: {e}");
    }
}

#[test]
fn missing_keys_are_named_with_their_section() {
    let e = import(&MINIMAL.replace("ArrayWidth: 8\n", ""), "m.cfg").unwrap_err().to_string();
    assert!(e.contains("`[architecture_presets]` has no `ArrayWidth`"), "{e}");
    let user = MINIMAL.replace("CALC", "USER");
    let e = import(&user, "m.cfg").unwrap_err().to_string();
    assert!(e.contains("no `Bandwidth`"), "{e}");
    let with_bw = user.replace("Dataflow: os", "Dataflow: os\nBandwidth : 16, 8");
    assert_eq!(import(&with_bw, "m.cfg").unwrap().config.dram.bytes_per_cycle, 32, "a list uses its first");
    let e = import("", "empty.cfg").unwrap_err().to_string();
    assert!(e.contains("`[general]` has no `run_name`"), "{e}");
}

#[test]
fn sparsity_block_must_fit_the_mux() {
    let sp = format!("{MINIMAL}[sparsity]\nSparsitySupport : true\nBlockSize : 6\n");
    let e = import(&sp, "m.cfg").unwrap_err().to_string();
    assert!(e.contains("`BlockSize` = `6`") && e.contains("power of two"), "{e}");
    let e = import(&sp.replace("true", "maybe"), "m.cfg").unwrap_err().to_string();
    assert!(e.contains("true or false"), "{e}");
}

#[test]
fn arbitrary_text_never_panics() {
    // A cheap deterministic fuzz: every prefix and a few byte mutations of a real config.
    let text = std::fs::read_to_string(Path::new(ROOT).join("data/scalesim/configs/scale.cfg")).unwrap();
    for end in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
        let _ = import(&text[..end], "p.cfg");
    }
    let bytes = text.as_bytes();
    for (i, b) in [b'[', b']', b':', b'=', b'\n', b'-', b'9', 0xff].iter().cycle().take(600).enumerate() {
        let mut m = bytes.to_vec();
        let at = (i * 7919) % m.len();
        m[at] = *b;
        let _ = import(&String::from_utf8_lossy(&m), "m.cfg");
    }
}
