//! Issue 5 acceptance 5: random bytes and random token streams never make a
//! front end panic; they parse or return an error with a location.

use nmsat_compiler::{CompileError, LowerOptions, Method, dsl, load_source, lower, scalesim, table};
use proptest::prelude::*;

const DSL_TOKENS: &[&str] = &[
    "model",
    "m",
    "{",
    "}",
    "input",
    "3x32x32",
    "64",
    "tokens=4",
    "dim=12",
    "conv",
    "linear",
    "out=16",
    "out=0",
    "out=-3",
    "k=3",
    "k=3x1",
    "stride=2",
    "pad=1",
    "groups=2",
    "in=3",
    "relu",
    "gelu",
    "norm",
    "softmax",
    "flatten",
    "maxpool",
    "avgpool",
    "globalavgpool",
    "attention",
    "heads=2",
    "residual",
    "shortcut",
    "repeat",
    "2",
    "i",
    "in",
    "0..3",
    "$i",
    "a$i",
    "block",
    "b",
    "nm=2:8",
    "nm=dense",
    "nm=3:7",
    "=",
    "\n",
    ";",
    "#c",
    " ",
    "\t",
    "x",
    "99999999999999999999999",
];

const CSV_TOKENS: &[&str] = &[
    "Layer name",
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
    "Sparsity",
    "Layer",
    "M",
    "N",
    "K",
    "Batch Size",
    "layer",
    "type",
    "C_in",
    "C_out",
    "H_out",
    "W_out",
    "R",
    "S",
    "groups",
    "tokens",
    "conv",
    "linear",
    "DP1",
    "1",
    "3",
    "8",
    "64",
    "0",
    "-1",
    "2:4",
    "1:1",
    "9:2",
    "",
    " ",
    "\u{feff}",
    "\"q,\"",
    "99999999999999999999",
    "18446744073709551615",
    "4294967296",
];

/// Cases per property: `NMSAT_FUZZ_CASES` for the long run (`scripts/fuzz`).
fn cases(default: u32) -> u32 {
    std::env::var("NMSAT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn stream(tokens: &'static [&'static str], sep: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec((0..tokens.len(), 0..sep.len()), 0..80)
        .prop_map(move |v| v.into_iter().map(|(t, s)| format!("{}{}", tokens[t], sep[s])).collect::<String>())
}

/// Parses with every front end and, when one succeeds, lowers the model too.
fn exercise(text: &str) {
    let results: Vec<Result<_, CompileError>> = vec![
        dsl::parse("f.nm", text),
        table::parse("f.layers.csv", text),
        scalesim::parse("f.csv", text),
        scalesim::parse("f_input_grad.csv", text),
        load_source("f", text),
    ];
    for r in results {
        match r {
            Ok(m) => {
                for method in Method::ALL {
                    let _ = lower(&m, &LowerOptions::new(method, "2:4".parse().unwrap(), 3));
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_dsl_token_streams_never_panic(body in stream(DSL_TOKENS, &[" ", "\n", "", " "])) {
        exercise(&format!("model m {{\n input 3x8x8\n{body}\n}}\n"));
        exercise(&body);
    }

    #[test]
    fn random_csv_token_streams_never_panic(
        header in stream(CSV_TOKENS, &[","]),
        rows in stream(CSV_TOKENS, &[",", ",", "\n", "\r\n"]),
    ) {
        exercise(&format!("{header}\n{rows}"));
        exercise(&format!("Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,Sparsity\n{rows}"));
        exercise(&format!("layer,type,C_in,H_in,W_in,C_out,H_out,W_out,R,S,stride_h,stride_w,pad_h,pad_w,groups,tokens\n{rows}"));
        exercise(&format!("Layer,M,N,K,Sparsity,\n{rows}"));
    }
}

#[test]
fn huge_dimensions_overflow_into_errors_not_panics() {
    let t = "Layer,M,N,K,\nbig,18446744073709551615,18446744073709551615,2,\n";
    let m = scalesim::parse("big.csv", t).unwrap();
    let e = lower(&m, &LowerOptions::new(Method::Dense, "2:4".parse().unwrap(), 1)).unwrap_err();
    assert!(matches!(e, CompileError::Overflow { .. }), "{e}");
    let m = dsl::parse("b.nm", "model b {\n input 4294967296x4294967296x4294967296\n flatten\n}\n");
    assert!(m.is_err());
}

/// The small ONNX files the mutation property edits (graphs, attributes, initializer dims, value_info).
const ONNX_SEEDS: &[&str] =
    &["transformer_block.onnx", "mobilenet_block.onnx", "pad_cnn.onnx", "resnet18_cifar10.structure.onnx"];

fn onnx_seed(i: usize) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/onnx").join(ONNX_SEEDS[i]);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Imports bytes as ONNX (by extension and by content, skipping and not) and lowers what imports.
fn exercise_onnx(bytes: &[u8]) {
    for file in ["f.onnx", "f.bin"] {
        for skip in [false, true] {
            match nmsat_compiler::load_bytes(
                file,
                bytes.to_vec(),
                &nmsat_compiler::LoadOptions { skip_unsupported: skip },
            ) {
                Ok(m) => {
                    for method in Method::ALL {
                        let _ = lower(&m, &LowerOptions::new(method, "2:4".parse().unwrap(), 3));
                    }
                    let _ = nmsat_compiler::nm_writer::to_nm(&m, "f");
                }
                Err(e) => assert!(e.to_string().starts_with("f."), "{e}"),
            }
        }
    }
}

/// One edit of a byte string: overwrite, delete a range, insert bytes, truncate, or set a varint-like byte.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop_oneof![any::<u8>(), Just(0x80), Just(0xff), Just(0x00), Just(0x7f)])
            .prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..12)).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = b.len().max(1);
        match e {
            Edit::Set(i, v) => {
                if let Some(x) = b.get_mut(i % n) {
                    *x = *v;
                }
            }
            Edit::Delete(i, k) => {
                let s = i % n;
                let end = (s + k).min(b.len());
                if s < end {
                    b.drain(s..end);
                }
            }
            Edit::Insert(i, v) => {
                let at = (i % n).min(b.len());
                b.splice(at..at, v.iter().copied());
            }
            Edit::Truncate(i) => b.truncate(i % n),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_as_onnx_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise_onnx(&bytes);
    }

    #[test]
    fn mutated_onnx_files_never_panic(seed in 0..ONNX_SEEDS.len(), edits in proptest::collection::vec(edit(), 1..6)) {
        exercise_onnx(&apply(onnx_seed(seed), &edits));
    }
}
