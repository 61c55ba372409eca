//! The parsers outside the model front ends under random input (issue 19):
//! `ArchConfig` TOML, SCALE-Sim `.cfg` imports (issue 22), `.sat` program
//! files (and the checker behind them), training data sets, exploration
//! specs and energy tables. Each gets random
//! bytes and random edits of a valid input (deletions, insertions of the
//! format's own tokens, byte changes), and must parse or return an error
//! that names its origin; none may panic.
//!
//! The suite runs a small seeded number of cases; `NMSAT_FUZZ_CASES=100000`
//! (`scripts/fuzz`) is the long run recorded in `docs/fuzzing.md`.
//! `compiler/tests/fuzz.rs` does the same for the model front ends.

use nmsat_dataflow::ArchConfig;
use nmsat_dataflow::check::check_program;
use nmsat_dataflow::program::Program;
use nmsat_dataflow::schedule::{DataflowOptions, compile_step};
use nmsat_flow::explore::spec::Spec;
use nmsat_reports::energy::EnergyTable;
use nmsat_sim::reference::Dataset;
use proptest::prelude::*;
use std::sync::LazyLock;

fn cases(default: u32) -> u32 {
    std::env::var("NMSAT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(64), failure_persistence: None, ..ProptestConfig::default() }
}

/// One edit of a byte string: at a relative position, delete up to `len`
/// bytes, insert a token, or overwrite a byte.
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Insert(f64, usize),
    Byte(f64, u8),
}

fn edits(tokens: usize) -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (0.0..1.0f64, 1usize..40).prop_map(|(p, n)| Edit::Delete(p, n)),
        (0.0..1.0f64, 0..tokens).prop_map(|(p, t)| Edit::Insert(p, t)),
        (0.0..1.0f64, any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
    ];
    proptest::collection::vec(edit, 1..6)
}

fn apply(base: &[u8], edits: &[Edit], tokens: &[&str]) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in edits {
        let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
        match *e {
            Edit::Delete(p, n) => {
                let i = at(p, v.len());
                let j = (i + n).min(v.len());
                v.drain(i..j);
            }
            Edit::Insert(p, t) => {
                let i = at(p, v.len());
                v.splice(i..i, tokens[t].bytes());
            }
            Edit::Byte(p, b) => {
                if !v.is_empty() {
                    let i = at(p, v.len() - 1);
                    v[i] = b;
                }
            }
        }
    }
    v
}

const TOML_TOKENS: &[&str] = &[
    "[",
    "]",
    "=",
    "\"",
    "\n",
    "#",
    ".",
    ",",
    "0",
    "1",
    "-1",
    "16",
    "4294967296",
    "18446744073709551616",
    "1e308",
    "nan",
    "true",
    "\"os\"",
    "\"2:8\"",
    "[pe_array]",
    "[buffers.activation]",
    "rows",
    "bytes",
    "lanes",
    "{",
    "}",
];

const INI_TOKENS: &[&str] = &[
    "[",
    "]",
    "=",
    ":",
    "\n",
    "#",
    ";",
    " ",
    "0",
    "1",
    "-1",
    "1024",
    "99999999999999999999",
    "os",
    "is",
    "USER",
    "CALC",
    "true",
    "[general]",
    "[architecture_presets]",
    "[sparsity]",
    "ArrayHeight",
    "Bandwidth",
    "BlockSize",
];

fn scale_cfg() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/scalesim/configs/sparsity.cfg")).unwrap()
}

fn preset_toml() -> String {
    ArchConfig::preset("tiny").unwrap().to_toml()
}

fn sample_program() -> Vec<u8> {
    let arch = ArchConfig::preset("tiny").unwrap();
    let model = nmsat_compiler::load_model("digits-mlp").unwrap();
    let opts = nmsat_compiler::LowerOptions::new(nmsat_dataflow::Method::Bdwp, "2:8".parse().unwrap(), 2);
    let step = nmsat_compiler::step_workload(&model, &opts).unwrap();
    compile_step(&arch, &step, &DataflowOptions::default()).unwrap().to_bytes().unwrap()
}

const DATA_TOKENS: &[&str] =
    &[",", "\n", "-", ".", "e", "1", "0", "nan", "inf", "9e99", "-7", "label", "\u{feff}", " "];
const DATA: &str = "f0,f1,f2,label\n0.5,1,2,0\n1.5,-2,0.25,1\n3,4,5,2\n";

fn spec_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/explore-small.toml")).unwrap()
}

fn energy_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../reports/energy-tables/fpga-vu9p.toml")).unwrap()
}

/// Parses `bytes` (as text) read from `origin`; an error must name `origin`.
fn names_origin<T, E: std::fmt::Display>(
    bytes: &[u8],
    origin: &str,
    parse: impl Fn(&str, &str) -> Result<T, E>,
) -> Result<(), TestCaseError> {
    if let Err(err) = parse(&String::from_utf8_lossy(bytes), origin) {
        prop_assert!(err.to_string().contains(origin), "{}", err);
    }
    Ok(())
}

// Built once: a case must cost microseconds for 10^5 of them.
static PRESET: LazyLock<String> = LazyLock::new(preset_toml);
static PROGRAM: LazyLock<Vec<u8>> = LazyLock::new(sample_program);
static SPEC: LazyLock<String> = LazyLock::new(spec_text);
static ENERGY: LazyLock<String> = LazyLock::new(energy_text);
static SCALE_CFG: LazyLock<String> = LazyLock::new(scale_cfg);

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arch_toml_never_panics(e in edits(TOML_TOKENS.len()), raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        for bytes in [apply(PRESET.as_bytes(), &e, TOML_TOKENS), raw] {
            names_origin(&bytes, "f.toml", ArchConfig::from_toml_str)?;
        }
    }

    #[test]
    fn scalesim_cfgs_never_panic(e in edits(INI_TOKENS.len()), raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        for bytes in [apply(SCALE_CFG.as_bytes(), &e, INI_TOKENS), raw] {
            names_origin(&bytes, "s.cfg", nmsat_dataflow::scalesim_cfg::import)?;
        }
    }

    #[test]
    fn program_files_never_panic(e in edits(1), raw in proptest::collection::vec(any::<u8>(), 0..300)) {
        let base = &*PROGRAM;
        let bytes = apply(base, &e, &["\u{0}\u{0}\u{0}\u{0}\u{ff}"]);
        for b in [bytes, raw] {
            match Program::from_bytes(&b, "f.sat") {
                Ok(p) => { let _ = check_program(&p, &p.arch); }
                Err(err) => prop_assert!(err.to_string().contains("f.sat"), "{}", err),
            }
        }
    }

    #[test]
    fn datasets_never_panic(e in edits(DATA_TOKENS.len()), raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        for bytes in [apply(DATA.as_bytes(), &e, DATA_TOKENS), raw] {
            names_origin(&bytes, "d.csv", Dataset::from_csv_str)?;
        }
    }

    #[test]
    fn explore_specs_never_panic(e in edits(TOML_TOKENS.len())) {
        names_origin(&apply(SPEC.as_bytes(), &e, TOML_TOKENS), "s.toml", Spec::parse)?;
    }

    #[test]
    fn energy_tables_never_panic(e in edits(TOML_TOKENS.len())) {
        names_origin(&apply(ENERGY.as_bytes(), &e, TOML_TOKENS), "e.toml", EnergyTable::from_toml)?;
    }
}
