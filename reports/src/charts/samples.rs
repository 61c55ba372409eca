//! Made-up data of the right shape for every chart: for tests, examples
//! and eyeballing a layout. Not measured; nothing here is a result.

use super::{
    AblationData, AblationRow, CyclesBar, CyclesData, EnergyBar, EnergyData, EnergySeries, GopsData, GopsRow,
    MarkedPoint, ModelSpeedup, PriorWork, Reference, RooflineData, RooflinePoint, ScatterData, SpeedupData,
    TimelineData, UnitTimeline, UtilisationData, UtilisationSeries,
};

/// A small deterministic sequence in `[0, 1)` (no randomness crate needed).
fn wobble(i: usize) -> f64 {
    let x = (i as u64).wrapping_mul(2_654_435_761).wrapping_add(97) % 1000;
    x as f64 / 1000.0
}

/// `n` layer names in the style of a ResNet.
pub fn layer_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i {
            0 => "conv1".to_string(),
            i if i + 1 == n => "fc".to_string(),
            i => format!("layer{}.{}.conv{}", 1 + (i - 1) / 4, (i - 1) / 2 % 2, 1 + (i - 1) % 2),
        })
        .collect()
}

const PASSES: [&str; 3] = ["FP", "BP", "WG"];

/// Chart 1 over `layers` layers.
pub fn cycles(layers: usize) -> CyclesData {
    let categories = ["busy", "dma_busy", "dependency", "buffer_full", "sparsifier_busy"];
    let mut bars = Vec::new();
    for (l, name) in layer_names(layers).into_iter().enumerate() {
        for (p, pass) in PASSES.iter().enumerate() {
            let k = l * 3 + p;
            let busy = 20_000.0 + 80_000.0 * wobble(k);
            let cycles = vec![busy, busy * 0.3 * wobble(k + 1), busy * 0.1 * wobble(k + 2), 0.0, 900.0 * wobble(k)];
            bars.push(CyclesBar { layer: name.clone(), pass: pass.to_string(), cycles });
        }
    }
    CyclesData { title: String::new(), categories: categories.iter().map(|c| c.to_string()).collect(), bars }
}

/// Chart 2 for three methods.
pub fn energy() -> EnergyData {
    let series = [
        ("PE array", "MAC"),
        ("PE array", "mux select"),
        ("buffers", "read"),
        ("buffers", "write"),
        ("DRAM", "read"),
        ("DRAM", "write"),
        ("sparsifier", "sort"),
    ];
    let series = series.iter().map(|(u, a)| EnergySeries { unit: u.to_string(), action: a.to_string() }).collect();
    let method = |m: &str, f: f64| EnergyBar {
        method: m.to_string(),
        joules: vec![4e-3 * f, 2e-4 * f, 1.1e-3, 0.7e-3, 2.5e-3 * f.sqrt(), 1.2e-3, if f < 1.0 { 1e-4 } else { 0.0 }],
    };
    EnergyData {
        title: String::new(),
        series,
        bars: vec![method("dense", 1.0), method("SR-STE 2:8", 0.7), method("BDWP 2:8", 0.45)],
    }
}

/// Chart 3 for two models and three methods.
pub fn speedup() -> SpeedupData {
    let model = |m: &str, s: [f64; 3]| ModelSpeedup {
        model: m.to_string(),
        speedup: s.to_vec(),
        mac_bound: vec![1.0, 1.6, 2.5],
    };
    SpeedupData {
        title: String::new(),
        methods: vec!["dense".into(), "SR-STE 2:8".into(), "BDWP 2:8".into()],
        models: vec![model("ResNet-18", [1.0, 1.27, 1.99]), model("VGG-16", [1.0, 1.31, 2.07])],
        reference: Some(Reference::paper()),
    }
}

/// Chart 4 over `layers` layers.
pub fn utilisation(layers: usize) -> UtilisationData {
    let series = PASSES
        .iter()
        .enumerate()
        .map(|(p, pass)| UtilisationSeries {
            pass: pass.to_string(),
            values: (0..layers).map(|l| (p > 0 || l > 0).then(|| 0.4 + 0.55 * wobble(l * 7 + p))).collect(),
        })
        .collect();
    UtilisationData { title: String::new(), layers: layer_names(layers), series }
}

/// Chart 5 over `layers` layers.
pub fn roofline(layers: usize) -> RooflineData {
    let mut points = Vec::new();
    for (l, name) in layer_names(layers).into_iter().enumerate() {
        for (p, pass) in PASSES.iter().enumerate() {
            let intensity = 2.0 * 10f64.powf(2.5 * wobble(l * 5 + p));
            let gops = (intensity * 25.6).min(1638.4) * (0.3 + 0.6 * wobble(l * 3 + p + 11));
            points.push(RooflinePoint { layer: name.clone(), pass: pass.to_string(), intensity, gops });
        }
    }
    RooflineData { title: String::new(), peak_gops: 1638.4, dram_gbps: 25.6, points }
}

/// Chart 6 with four variants.
pub fn ablation() -> AblationData {
    let rows =
        [("full", 1.0), ("no double buffering", 1.31), ("no sparsifier overlap", 1.12), ("no WG/BP interleave", 1.07)];
    AblationData {
        title: String::new(),
        rows: rows.iter().map(|(v, s)| AblationRow { variant: v.to_string(), cycles: 3.2e6 * s }).collect(),
    }
}

/// Chart 7 with three modelled methods and three made-up prior designs.
pub fn gops() -> GopsData {
    let prior = |name: &str, gops: f64, w: Option<f64>| PriorWork {
        name: name.to_string(),
        venue: "venue".into(),
        device: "FPGA".into(),
        precision: "FP16".into(),
        gops,
        gops_per_watt: w,
    };
    GopsData {
        title: String::new(),
        modelled: vec![
            GopsRow { method: "SAT dense".into(), gops: 410.0, gops_per_watt: Some(21.0) },
            GopsRow { method: "SAT BDWP 2:8".into(), gops: 820.0, gops_per_watt: Some(39.5) },
        ],
        prior: vec![
            prior("design A", 150.0, Some(7.5)),
            prior("design B", 290.0, None),
            prior("design C", 600.0, Some(18.0)),
        ],
    }
}

/// Chart 8: four units over `cycles` cycles, `n` intervals each.
pub fn timeline(cycles: u64, n: usize) -> TimelineData {
    let units = ["PE array", "DMA", "vector unit", "sparsifier"];
    let units = units
        .iter()
        .enumerate()
        .map(|(u, name)| {
            let step = (cycles / n.max(1) as u64).max(1);
            let intervals = (0..n as u64)
                .map(|i| {
                    let s = i * step;
                    (s, s + (step as f64 * (0.2 + 0.8 * wobble(i as usize * 4 + u))) as u64)
                })
                .collect();
            UnitTimeline { unit: name.to_string(), intervals }
        })
        .collect();
    TimelineData { title: String::new(), total_cycles: cycles, clock_mhz: Some(500.0), units, max_rects: 0 }
}

/// Chart 9: `n` design points (seconds against LUTs), the lower-left hull
/// as the front, and two presets marked.
pub fn scatter(n: usize) -> ScatterData {
    let points: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let size = 1.0 + 40.0 * wobble(i * 3);
            (0.02 * (1.0 + wobble(i * 3 + 1)) * 40.0 / size, 20_000.0 * size * (1.0 + 0.5 * wobble(i * 3 + 2)))
        })
        .collect();
    let front = points
        .iter()
        .filter(|p| !points.iter().any(|q| q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1)))
        .copied()
        .collect();
    let marked = vec![
        MarkedPoint { label: "sat-vu9p (default)".into(), x: 0.08, y: 600_000.0 },
        MarkedPoint { label: "tiny".into(), x: 1.5, y: 25_000.0 },
    ];
    ScatterData {
        title: "resnet18-cifar10 bdwp 2:8 b32".into(),
        name: String::new(),
        x_desc: "seconds per step (s)".into(),
        y_desc: "LUTs".into(),
        points,
        front,
        join_front: true,
        marked,
    }
}
