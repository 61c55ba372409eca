//! Issue 5 acceptance 2, 3 and 5: the `.nm` files equal their layer tables,
//! SCALE-Sim's own topologies and training-pass files load, the tolerant
//! reader takes every known quirk, malformed input gives located errors.

mod common;

use std::path::PathBuf;

use common::*;
use nmsat_compiler::{CompileError, Location, Method, Model, NmOverride, Shape, find_builtin, load_model, load_source};
use nmsat_dataflow::{GemmKind, Pass};

fn load(p: &std::path::Path) -> Model {
    load_model(p.to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn nm_files_give_exactly_the_gemms_of_their_layer_tables() {
    for (file, table) in
        [("digits_mlp.nm", "digits_mlp"), ("digits_cnn.nm", "digits_cnn"), ("resnet18_cifar10.nm", "resnet18_cifar10")]
    {
        let dsl = load(&nm_file(file));
        let tab = load(&data(&format!("models/{table}.layers.csv")));
        assert!(dsl.layers.len() > tab.layers.len(), "{file} keeps its weightless layers");
        for method in Method::ALL {
            for (pattern, batch) in [("2:8", 1), ("2:4", 3), ("1:16", 2)] {
                assert_eq!(
                    lowered(&dsl, method, pattern, batch),
                    lowered(&tab, method, pattern, batch),
                    "{file} {method}"
                );
            }
        }
    }
}

#[test]
fn vit_block_nm_matches_a_vit_b16_block() {
    let block = load(&nm_file("vit_block.nm"));
    let vit = find_builtin("vit-b16-imagenet").unwrap().load().unwrap();
    let norm = |l: &str| l.replace("(per_head)", "");
    let mut ours: Vec<_> = lowered(&block, Method::Dense, "2:8", 2)
        .into_iter()
        .map(|g| (norm(&g.layer), g.pass, g.what, g.m, g.n, g.k, g.count))
        .collect();
    let mut want: Vec<_> = lowered(&vit, Method::Dense, "2:8", 2)
        .into_iter()
        .filter(|g| g.layer.starts_with("blocks.0."))
        // The block's qkv reads the model input, so its BP is not needed here.
        .filter(|g| !(g.layer == "blocks.0.attn.qkv" && g.pass == Pass::Bp))
        .map(|g| (norm(&g.layer), g.pass, g.what, g.m, g.n, g.k, g.count))
        .collect();
    ours.sort();
    want.sort();
    assert_eq!(ours, want);
    assert_eq!(block.weight_params(), 4 * 768 * 768 + 2 * 768 * 3072);
}

#[test]
fn scalesim_topologies_load_and_lower() {
    let mut n = 0;
    for dir in ["conv_nets", "GEMM_mnk", "sparsity", "resnet"] {
        for e in std::fs::read_dir(data(&format!("scalesim/{dir}"))).unwrap() {
            let p = e.unwrap().path();
            let m = load(&p);
            let g = lowered(&m, Method::Bdwp, "2:8", 2);
            assert!(!g.is_empty(), "{}", p.display());
            n += 1;
        }
    }
    assert!(n >= 14, "{n} files");
    // SCALE-Sim's own ResNet-18: unpadded 224x224 input, conv1 7x7/2 gives 110x110.
    let r18 = load(&data("scalesim/conv_nets/Resnet18.csv"));
    assert_eq!(r18.layers[0].out_shape, Shape::Map { c: 64, h: 110, w: 110 });
    assert_eq!(r18.pass_file, None);
    // Resnet50.csv has extra columns (Eh, Ew, e2, unnamed) and an empty row.
    let r50 = load(&data("scalesim/conv_nets/Resnet50.csv"));
    assert_eq!(r50.layers[0].name, "Conv1");
    // sparsity/conv.csv carries a per-layer 2:4.
    let sp = load(&data("scalesim/sparsity/conv.csv"));
    assert_eq!(sp.layers[0].nm, NmOverride::Pattern(nm("2:4")));
}

#[test]
fn training_pass_files_lower_to_their_pass() {
    let fwd = load(&data("scalesim/resnet/resnet_fwd.csv"));
    let bp = load(&data("scalesim/resnet/resnet_input_grad.csv"));
    let wg = load(&data("scalesim/resnet/resnet_weight_grad.csv"));
    assert_eq!((fwd.pass_file, bp.pass_file, wg.pass_file), (None, Some(Pass::Bp), Some(Pass::Wg)));
    assert_eq!(fwd.layers.len(), bp.layers.len());
    let g = lowered(&bp, Method::Bdwp, "2:8", 1);
    assert!(g.iter().all(|x| x.pass == Pass::Bp));
    // conv1 of ResNet-50 in BP: M=PQ=12544, N=CRS=147, K=C_out=64; first layer stays dense.
    assert_eq!((g[0].m, g[0].n, g[0].k), (12544, 147, 64));
    assert!(g[0].sparse.is_none() && g[0].dense_reason.as_deref().unwrap().contains("first layer"));
    assert!(g[1..].iter().all(|x| x.sparse.is_some()));
    let w = lowered(&wg, Method::Bdwp, "2:8", 4);
    assert_eq!((w[0].m, w[0].n, w[0].k), (147, 64, 12544 * 4));
    assert!(w.iter().all(|x| x.pass == Pass::Wg && x.sparse.is_none()));
    // BP (M=PQ, N=CRS, K=Cout) and WG (M=CRS, N=Cout, K=PQ) of one conv do the same MACs.
    let bp_macs: Vec<u64> = g.iter().map(|x| x.macs()).collect();
    let wg_macs: Vec<u64> = lowered(&wg, Method::Dense, "2:8", 1).iter().map(|x| x.macs()).collect();
    assert_eq!(bp_macs, wg_macs);
}

const CLEAN_CONV: &str = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,\n\
conv1,34,34,3,3,3,64,1,\n\
conv2,33,33,3,3,64,128,2,\n";
const CLEAN_GEMM: &str = "Layer,M,N,K,\nqkv,197,2304,768,\nfc1,197,3072,768,\n";

fn gemms_of(file: &str, text: &str) -> Vec<nmsat_dataflow::Gemm> {
    let m = load_source(file, text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
    lowered(&m, Method::Bdwp, "2:8", 1)
}

#[test]
fn tolerant_reader_accepts_every_quirk() {
    let conv = gemms_of("c.csv", CLEAN_CONV);
    let variants = [
        ("BOM", format!("\u{feff}{CLEAN_CONV}")),
        ("CRLF", CLEAN_CONV.replace('\n', "\r\n")),
        ("padding", CLEAN_CONV.replace(',', " ,  ").replace("\n", "  \n")),
        ("no trailing commas", CLEAN_CONV.replace(",\n", "\n")),
        ("double trailing commas", CLEAN_CONV.replace(",\n", ",,\n")),
        ("empty rows", CLEAN_CONV.replace("conv2", ",,,,,,,,\n\nconv2")),
        (
            "extra columns",
            CLEAN_CONV
                .replace("Strides,", "Strides,Batch Size,Eh,")
                .replace("1,\n", "1,8,5,\n")
                .replace("2,\n", "2,8,5,\n"),
        ),
        (
            "header spellings",
            CLEAN_CONV.replace(
                "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,",
                "layer_name, ifmap height ,ifmap_width,FILTER HEIGHT,filter width,channels,num filters,stride,",
            ),
        ),
        ("sparsity column 1:1", CLEAN_CONV.replace("Strides,", "Strides,Sparsity,").replace("1,\n", "1,,\n")),
    ];
    for (what, text) in &variants {
        assert_eq!(gemms_of("c.csv", text), conv, "{what}");
    }
    let gemm = gemms_of("g.csv", CLEAN_GEMM);
    let variants = [
        ("BOM", format!("\u{feff}{CLEAN_GEMM}")),
        ("CRLF", CLEAN_GEMM.replace('\n', "\r\n")),
        ("padding + spelling", CLEAN_GEMM.replace("Layer,M,N,K,", " Layer Name , m , n , k ,").replace(',', " , ")),
        ("batch size column", CLEAN_GEMM.replace("K,\n", "K,Batch Size,\n").replace("768,\n", "768,32,\n")),
        ("empty rows", format!("{CLEAN_GEMM},,,,\n\n,,,,\n")),
    ];
    for (what, text) in &variants {
        assert_eq!(gemms_of("g.csv", text), gemm, "{what}");
    }
    // A 1:1 Sparsity cell keeps a layer dense, with its reason.
    let dense = gemms_of("c.csv", &CLEAN_CONV.replace("Strides,", "Strides,Sparsity,").replace("2,\n", "2,1:1,\n"));
    let conv2_ff = dense.iter().find(|g| g.layer == "conv2" && g.pass == Pass::Ff).unwrap();
    assert!(conv2_ff.sparse.is_none() && conv2_ff.dense_reason.as_deref() == Some("layer override: dense"));
}

fn error(file: &str, text: &str) -> CompileError {
    load_source(file, text).expect_err(text)
}

#[test]
fn malformed_inputs_give_located_errors() {
    let text_at = |e: &CompileError| match e.location() {
        Location::Text { line, column, .. } => (*line, *column),
        other => panic!("{other:?}"),
    };
    let cell_at = |e: &CompileError| match e.location() {
        Location::Cell { row, field, .. } => (*row, field.clone()),
        other => panic!("{other:?}"),
    };
    // DSL: unknown kind, negative, zero, shape mismatch, unterminated block.
    let e = error("m.nm", "model x {\n  input 3x32x32\n  convolution c out=4 k=3\n}\n");
    assert_eq!(text_at(&e), (3, 3));
    assert!(e.to_string().contains("unknown layer kind `convolution`"));
    let e = error("m.nm", "model x {\n  input 3x32x32\n  conv c out=-4 k=3\n}\n");
    assert_eq!(text_at(&e), (3, 14));
    let e = error("m.nm", "model x {\n  input 3x0x32\n}\n");
    assert_eq!(text_at(&e), (2, 9));
    let e = error("m.nm", "model x {\n  input 3x8x8\n  conv a out=8 k=3\n  conv b in=16 out=8 k=1\n}\n");
    assert!(matches!(e, CompileError::Shape { .. }) && text_at(&e) == (4, 13), "{e}");
    let e = error("m.nm", "model x {\n  input 3x32x32\n  conv c1 out=16 k=3\n");
    assert!(matches!(e, CompileError::Syntax { .. }) && text_at(&e) == (1, 9), "{e}");
    assert!(e.to_string().contains("unterminated block"));
    let e = error("m.nm", "model x {\n  input 3x32x32\n  residual r {\n    conv c1 out=16 k=3\n}\n");
    assert_eq!(text_at(&e), (1, 9), "the model's brace is the one left open: {e}");
    // Layer tables: unknown kind, zero, negative, inconsistent row.
    let h = "layer,type,C_in,H_in,W_in,C_out,H_out,W_out,R,S\n";
    let e = error("t.layers.csv", &format!("{h}a,conv,3,8,8,4,8,8,3,3\nb,lstm,4,8,8,4,8,8,1,1\n"));
    assert_eq!(cell_at(&e), (3, "type".into()));
    let e = error("t.layers.csv", &format!("{h}a,conv,3,8,8,0,8,8,3,3\n"));
    assert_eq!(cell_at(&e), (2, "C_out".into()));
    let e = error("t.layers.csv", &format!("{h}a,conv,3,8,8,4,-8,8,3,3\n"));
    assert_eq!(cell_at(&e), (2, "H_out".into()));
    // SCALE-Sim: negative and missing cells, an impossible filter.
    let e = error("s.csv", &CLEAN_CONV.replace("3,64,1", "-3,64,1"));
    assert_eq!(cell_at(&e), (2, "Channels".into()));
    let e = error("s.csv", "Layer,M,N,K,\nx,4,,4,\n");
    assert_eq!(cell_at(&e), (2, "N".into()));
    let e = error("s.csv", &CLEAN_CONV.replace("34,34,3,3", "2,2,3,3"));
    assert!(matches!(e, CompileError::Shape { .. }), "{e}");
    // Not a model at all.
    assert!(error("x.csv", "hello,world\n1,2\n").to_string().contains("not a SCALE-Sim topology"));
    assert!(matches!(error("x.csv", ""), CompileError::Syntax { loc: Location::File { .. }, .. }));
    assert!(matches!(load_model("no-such-model"), Err(CompileError::UnknownModel { .. })));
    assert!(matches!(load_model("/nonexistent/x.nm"), Err(CompileError::Io { .. })));
}

#[test]
fn attention_models_expose_their_structure() {
    let m = find_builtin("transformer-base-seq128").unwrap().load().unwrap();
    let attn = m.layers.iter().filter(|l| !l.kind.has_weights()).count();
    assert_eq!(attn, 2 * (6 + 6 + 6), "QKᵀ and AV per self/cross attention");
    let g = lowered(&m, Method::Bdwp, "2:8", 1);
    assert_eq!(g.iter().filter(|x| x.kind == GemmKind::Attention).count(), 18 * 2 * 3);
}

#[test]
fn the_language_doc_example_compiles() {
    let doc = read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/model-language.md"));
    let start = doc.find("```\n# ResNet basic block").expect("example in the doc") + 4;
    let end = start + doc[start..].find("```").unwrap();
    let m = load_source("doc.nm", &doc[start..end]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.weight_layers(), 5);
    let g = lowered(&m, Method::Bdwp, "2:8", 1);
    let ff = |l: &str| g.iter().find(|x| x.layer == l && x.pass == Pass::Ff).unwrap().clone();
    assert_eq!(ff("conv1").dense_reason.as_deref(), Some("layer override: dense"));
    assert_eq!(ff("block1.conv2").sparse.unwrap().pattern, nm("4:8"));
    assert_eq!(ff("block1.conv1").sparse.unwrap().pattern, nm("2:8"));
}
