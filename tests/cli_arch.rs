//! End-to-end tests of `nmsat arch`.

use std::process::Command;

fn nmsat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nmsat")).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-arch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn help_lists_arch() {
    let (code, out, _) = nmsat(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("arch"), "{out}");
}

#[test]
fn show_json_has_peaks() {
    let (code, out, _) = nmsat(&["arch", "show", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let dense = v["derived"]["peak_dense_macs_per_cycle"].as_u64().unwrap();
    assert_eq!(dense, 16 * 16 * 8);
    assert_eq!(v["derived"]["peak_dense_equivalent_macs_per_cycle"]["2:8"].as_u64().unwrap(), 4 * dense);
}

#[test]
fn show_accepts_presets_and_toml_output_reparses() {
    for preset in ["tiny", "sat-mid", "sat-vu9p", "configs/tiny.toml"] {
        let (code, out, err) = nmsat(&["arch", "show", preset, "--format", "toml"]);
        assert_eq!(code, 0, "{preset}: {err}");
        let p = temp_file(&format!("{}.toml", preset.replace('/', "_")), &out);
        let (code, _, err) = nmsat(&["arch", "check", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{preset}: {err}");
    }
}

#[test]
fn check_rejects_bad_configs_with_exit_2() {
    let good = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/sat-vu9p.toml")).unwrap();
    let cases = [
        ("unknown.toml", good.replacen("[dram]", "[dram]\nbogus_field = 3", 1), "bogus_field"),
        ("rows0.toml", good.replacen("rows = 16", "rows = 0", 1), "pe_array.rows"),
        ("malformed.toml", "name = \"x\"\nrows = [\n".to_string(), "malformed.toml:3:1"),
        ("flat.toml", "rows = 0\nbogus_field = 3\n".to_string(), "bogus_field"),
    ];
    for (name, text, needle) in cases {
        let p = temp_file(name, &text);
        let (code, out, err) = nmsat(&["arch", "check", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(needle), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (code, _, err) = nmsat(&["arch", "check", "/nonexistent/x.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/x.toml"), "{err}");
}

#[test]
fn a_directory_named_like_a_preset_does_not_hide_it() {
    // `nmsat synth --dir sat-mid --arch sat-mid` leaves a directory `sat-mid`
    // behind; the next `--arch sat-mid` run from there still means the preset.
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nmsat-cli-arch-dir-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("tiny")).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_nmsat")).args(["arch", "show", "tiny"]).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("tiny"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_writes_a_config_that_check_accepts_for_every_shipped_scalesim_cfg() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data/scalesim/configs"));
    let mut cfgs: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    cfgs.sort();
    assert!(cfgs.len() >= 4);
    for cfg in cfgs {
        let name = cfg.file_stem().unwrap().to_string_lossy().to_string();
        let out = temp_file(&format!("{name}.imported.toml"), "");
        let (code, stdout, err) = nmsat(&["arch", "import", cfg.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(err.contains("chosen: clock_mhz = 200"), "{err}");
        let (code, out_check, err) = nmsat(&["arch", "check", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(out_check.contains("valid"), "{out_check}");
        // Without -o the same TOML goes to stdout.
        let (code, stdout, _) = nmsat(&["arch", "import", cfg.to_str().unwrap()]);
        assert_eq!((code, stdout), (0, std::fs::read_to_string(&out).unwrap()));
    }
}

#[test]
fn import_of_malformed_or_oversized_configs_exits_2_naming_the_line() {
    let scale =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/scalesim/configs/scale.cfg")).unwrap();
    let cases = [
        ("junk.cfg", "this is not ini\n".to_string(), "junk.cfg:1:"),
        (
            "big.cfg",
            scale.replace("ArrayHeight:    32", "ArrayHeight:    4096"),
            "`ArrayHeight` = `4096`: the array's rows",
        ),
        ("bin.cfg", "\u{0}\u{1}[\n".to_string(), "bin.cfg:1:"),
    ];
    for (name, text, needle) in cases {
        let p = temp_file(name, &text);
        let (code, out, err) = nmsat(&["arch", "import", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(needle) && !err.contains("panicked"), "{name}: {err}");
    }
    let (code, _, err) = nmsat(&["arch", "import", "/nonexistent/x.cfg"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_imported_dense_only_config_simulates_dense_and_says_why_not_bdwp() {
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/data/scalesim/configs/eyeriss.cfg");
    let out = temp_file("eyeriss.imported.toml", "");
    let (code, _, err) = nmsat(&["arch", "import", cfg, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let sim = |method: &str| nmsat(&["sim", "digits-mlp", "--arch", out.to_str().unwrap(), "--method", method]);
    let (code, _, err) = sim("dense");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = sim("bdwp");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dense only; use --method dense"), "{err}");
}
