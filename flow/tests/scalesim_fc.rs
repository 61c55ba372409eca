//! SCALE-Sim writes fully connected layers as convolutions whose filter
//! covers the whole input (`IFMAP 1xW, filter 1xW, channels 1`, as in its
//! RNN/LSTM and DLRM files). nmsat reads them as the GEMM they are, in FF,
//! BP and WG alike, and a training-step GEMM list is refused, not expanded
//! into three passes a second time.

use nmsat_compiler::scalesim::parse;
use nmsat_compiler::{LowerOptions, lower};
use nmsat_dataflow::schedule::DataflowOptions;
use nmsat_dataflow::{ArchConfig, Method};
use nmsat_flow::{StepRequest, simulate_step};

const CONV: &str = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,\n\
                    fc1,1,512,1,512,1,512,1,\nfc2,1,512,1,512,1,256,1,\nfc3,4,4,4,4,32,64,1,\n";
const GEMM: &str = "Layer,M,N,K,\nfc1,1,512,512,\nfc2,1,256,512,\nfc3,1,64,512,\n";

#[test]
fn a_filter_covering_its_input_is_the_gemm_in_every_pass() {
    let conv = parse("fc_as_conv.csv", CONV).unwrap();
    let gemm = parse("fc.csv", GEMM).unwrap();
    for method in Method::ALL {
        let opts = LowerOptions::new(method, "2:8".parse().unwrap(), 32);
        let dims = |m| -> Vec<_> {
            lower(m, &opts).unwrap().into_iter().map(|g| (g.layer, g.pass, g.m, g.n, g.k, g.count, g.sparse)).collect()
        };
        assert_eq!(dims(&conv), dims(&gemm), "{method}");
        let step = |model| StepRequest {
            model,
            method,
            nm: "2:8".parse().unwrap(),
            batch: 32,
            dataflow: DataflowOptions::default(),
            arch: ArchConfig::preset("sat-mid").unwrap(),
        };
        let (a, b) = (simulate_step(&step(conv.clone())).unwrap(), simulate_step(&step(gemm.clone())).unwrap());
        assert_eq!(a.stats.total_cycles, b.stats.total_cycles, "{method}");
        assert_eq!(a.stats.passes, b.stats.passes, "{method}");
    }
}

#[test]
fn a_training_step_gemm_list_is_refused_with_what_it_is() {
    let text = "layer,kind,pass,M,N,K,count,nm_sparse_weight,required,what\nfc1,weight,FF,1,512,512,1,0,1,O=X*W\n";
    let e = parse("x.training_gemms.csv", text).unwrap_err().to_string();
    assert!(e.contains("x.training_gemms.csv") && e.contains("training step") && e.contains("layers.csv"), "{e}");
}

/// How SCALE-Sim writes an im2col'd GEMM (`IFMAP M×K`, filter `1×K`, one
/// channel, as in its ResNet training-pass files): the GEMM over `M` rows.
#[test]
fn a_1xw_filter_on_an_hxw_input_is_the_gemm_over_its_rows() {
    let conv = parse(
        "rows.csv",
        "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,\n\
         a,64,48,1,48,1,32,1,\nb,64,32,1,32,1,16,1,\n",
    )
    .unwrap();
    let gemm = parse("rows_gemm.csv", "Layer,M,N,K,\na,64,32,48,\nb,64,16,32,\n").unwrap();
    let opts = LowerOptions::new(Method::Bdwp, "2:8".parse().unwrap(), 4);
    let dims = |m| -> Vec<_> {
        lower(m, &opts).unwrap().into_iter().map(|g| (g.layer, g.pass, g.m, g.n, g.k, g.count, g.sparse)).collect()
    };
    assert_eq!(dims(&conv), dims(&gemm));
    let step = |model| StepRequest {
        model,
        method: Method::Bdwp,
        nm: "2:8".parse().unwrap(),
        batch: 4,
        dataflow: DataflowOptions::default(),
        arch: ArchConfig::preset("sat-mid").unwrap(),
    };
    let (a, b) = (simulate_step(&step(conv)).unwrap(), simulate_step(&step(gemm)).unwrap());
    assert_eq!(a.stats.total_cycles, b.stats.total_cycles);
}

/// A training-pass file's row whose reduction differs from its filter count
/// (a real convolution's BP written as its GEMM) gets a dO of its own size.
#[test]
fn a_pass_file_conv_row_simulates_within_its_regions() {
    let text = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,\n\
                a,40,16,1,16,1,24,1,\nb,40,16,2,16,1,16,1,\n";
    for file in ["x_input_grad.csv", "x_weight_grad.csv"] {
        let model = parse(file, text).unwrap();
        for method in Method::ALL {
            let req = StepRequest {
                model: model.clone(),
                method,
                nm: "2:8".parse().unwrap(),
                batch: 8,
                dataflow: DataflowOptions::default(),
                arch: ArchConfig::preset("sat-mid").unwrap(),
            };
            let s = simulate_step(&req).unwrap_or_else(|e| panic!("{file} {method}: {e}"));
            assert!(s.stats.total_cycles > 0);
        }
    }
}
