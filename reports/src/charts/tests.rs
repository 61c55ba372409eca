//! Well-formed SVG, decodable PNG, determinism and degenerate data for
//! every chart.

use proptest::prelude::*;

use super::*;

/// Parses the SVG as XML and decodes the PNG; returns the number of SVG
/// `<text>` elements.
fn check(c: &Chart) -> usize {
    let doc = roxmltree::Document::parse(&c.svg).unwrap_or_else(|e| panic!("{}: SVG not well-formed: {e}", c.name));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", c.name);
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect();
    assert!(texts.iter().any(|t| t == &c.title), "{}: title missing", c.name);
    let dec = png::Decoder::new(std::io::Cursor::new(&c.png));
    let reader = dec.read_info().unwrap_or_else(|e| panic!("{}: PNG does not decode: {e}", c.name));
    assert_eq!((reader.info().width, reader.info().height), (c.width, c.height));
    texts.len()
}

/// Every chart of the sample data.
fn all(layers: usize) -> Vec<Chart> {
    vec![
        cycles(&samples::cycles(layers)).unwrap(),
        energy(&samples::energy()).unwrap(),
        speedup(&samples::speedup()).unwrap(),
        utilisation(&samples::utilisation(layers)).unwrap(),
        roofline(&samples::roofline(layers)).unwrap(),
        ablation(&samples::ablation()).unwrap(),
        gops(&samples::gops()).unwrap(),
        timeline(&samples::timeline(1_000_000, 2_000)).unwrap(),
        scatter(&samples::scatter(300)).unwrap(),
    ]
}

#[test]
fn every_chart_is_well_formed_and_labelled() {
    let charts = all(12);
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["cycles", "energy", "speedup", "utilisation", "roofline", "ablation", "gops", "timeline", "scatter"]
    );
    for c in &charts {
        assert!(check(c) > 5, "{}: too little text", c.name);
        assert!(c.png.len() > 5_000, "{}: PNG suspiciously small", c.name);
    }
    let speedup = &charts[2].svg;
    assert!(speedup.contains("1.75×") && speedup.contains("MAC-count bound"));
    assert!(charts[1].svg.contains("energy per step (mJ)"), "energy axis unit");
    assert!(charts[7].svg.contains("time (µs)"));
    assert!(charts[8].svg.contains("sat-vu9p (default)") && charts[8].svg.contains("(log scale)"));
    assert!(charts[8].svg.contains("Pareto front ("), "front in the legend");
}

#[test]
fn svg_and_png_are_deterministic() {
    let (a, b) = (all(30), all(30));
    for (x, y) in a.iter().zip(&b) {
        assert!(x.svg == y.svg, "{}: SVG differs between runs", x.name);
        assert!(x.png == y.png, "{}: PNG differs between runs", x.name);
    }
}

#[test]
fn many_layers_widen_the_chart_and_thin_labels() {
    let c = cycles(&samples::cycles(60)).unwrap();
    check(&c);
    assert!(c.width > 1440 && c.width <= MAX_SIDE);
}

#[test]
fn empty_data_draws_a_frame() {
    let charts = [
        cycles(&CyclesData::default()),
        energy(&EnergyData::default()),
        speedup(&SpeedupData::default()),
        utilisation(&UtilisationData::default()),
        roofline(&RooflineData::default()),
        ablation(&AblationData::default()),
        gops(&GopsData::default()),
        timeline(&TimelineData::default()),
        scatter(&ScatterData::default()),
    ];
    for c in charts {
        let c = c.unwrap();
        check(&c);
        assert!(c.svg.contains("no data") || c.name == "gops", "{}: no note", c.name);
    }
}

#[test]
fn degenerate_values_do_not_panic() {
    let bar = |v: f64| CyclesBar { layer: "l<&>\"".into(), pass: "FP".into(), cycles: vec![v, -v, f64::NAN] };
    let data = CyclesData { title: "a <b> & c".into(), categories: vec!["busy".into()], bars: vec![bar(0.0)] };
    let c = cycles(&data).unwrap();
    check(&c);
    assert!(c.svg.contains("a &lt;b&gt; &amp; c"));
    for v in [f64::INFINITY, 1e300, 1.0] {
        check(&cycles(&CyclesData { bars: vec![bar(v)], ..data.clone() }).unwrap());
    }
    let point = |i: f64, g: f64| RooflinePoint { layer: "x".into(), pass: "FP".into(), intensity: i, gops: g };
    for (peak, bw) in [(0.0, 0.0), (100.0, 0.0), (0.0, 10.0), (f64::NAN, -1.0), (1e-20, 1e25)] {
        let d = RooflineData { title: String::new(), peak_gops: peak, dram_gbps: bw, points: vec![point(1.0, 1.0)] };
        check(&roofline(&d).unwrap());
        let d = RooflineData { points: vec![point(0.0, 5.0), point(f64::NAN, 1.0)], ..d };
        check(&roofline(&d).unwrap());
    }
    let t = TimelineData {
        total_cycles: 1,
        units: vec![UnitTimeline { unit: "PE array".into(), intervals: vec![(0, 1), (5, 3), (0, u64::MAX)] }],
        max_rects: 1,
        clock_mhz: Some(f64::NAN),
        ..Default::default()
    };
    check(&timeline(&t).unwrap());
    let r = AblationData { title: String::new(), rows: vec![AblationRow { variant: "only".into(), cycles: 0.0 }] };
    check(&ablation(&r).unwrap());
    let m = |x: f64, y: f64| MarkedPoint { label: "p<&>".into(), x, y };
    for (x, y) in [(0.0, 0.0), (f64::NAN, 1.0), (-5.0, 1e300), (1e-30, f64::INFINITY)] {
        let d = ScatterData {
            points: vec![(x, y), (1.0, 2.0)],
            front: vec![(x, y)],
            marked: vec![m(x, y)],
            ..Default::default()
        };
        check(&scatter(&d).unwrap());
    }
}

#[test]
fn downsampling_keeps_the_busy_cycles() {
    let spans = downsample(&[(0, 10), (5, 20), (30, 31), (99, 200)], 100, 10);
    assert_eq!(spans.first().map(|s| (s.start, s.end, s.busy)), Some((0, 20, 1.0)));
    let busy: f64 = spans.iter().map(|s| s.busy * (s.end - s.start) as f64).sum();
    assert!((busy - 22.0).abs() < 1e-9, "{busy}");
    assert!(downsample(&[], 100, 10).is_empty());
    assert!(downsample(&[(0, 5)], 0, 10).is_empty());
    assert_eq!(downsample(&[(0, 3)], 3, 1000).len(), 1, "fully busy bins merge");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn downsample_is_bounded_and_exact(
        iv in prop::collection::vec((0u64..10_000, 0u64..500), 0..200),
        total in 0u64..12_000,
        bins in 0usize..300,
    ) {
        let iv: Vec<(u64, u64)> = iv.into_iter().map(|(s, l)| (s, s + l)).collect();
        let spans = downsample(&iv, total, bins);
        prop_assert!(spans.len() <= bins.max(1));
        for w in spans.windows(2) {
            prop_assert!(w[0].end <= w[1].start);
        }
        let mut covered = vec![false; total as usize];
        for &(s, e) in &iv {
            for c in s.min(total)..e.min(total) {
                covered[c as usize] = true;
            }
        }
        let want = covered.iter().filter(|c| **c).count() as f64;
        let got: f64 = spans.iter().map(|s| s.busy * (s.end - s.start) as f64).sum();
        prop_assert!((got - want).abs() < 1e-6 * want.max(1.0), "{} vs {}", got, want);
        prop_assert!(spans.iter().all(|s| s.busy > 0.0 && s.busy <= 1.0 + 1e-12));
    }

    #[test]
    fn random_bar_data_renders(
        values in prop::collection::vec(prop::collection::vec(prop_oneof![Just(0.0), 0.0..1e9f64, Just(f64::NAN)], 0..4), 0..40),
        cats in 0usize..5,
    ) {
        let bars = values.iter().enumerate().map(|(i, v)| CyclesBar { layer: format!("layer{i}"), pass: "WG".into(), cycles: v.clone() }).collect();
        check(&cycles(&CyclesData { title: String::new(), categories: (0..cats).map(|c| format!("c{c}")).collect(), bars }).unwrap());
        let models = values.iter().enumerate().map(|(i, v)| ModelSpeedup { model: format!("m{i}"), speedup: v.clone(), mac_bound: v.iter().map(|x| x * 1.5).collect() }).collect();
        let methods = (0..cats).map(|c| format!("method {c}")).collect();
        check(&speedup(&SpeedupData { title: String::new(), methods, models, reference: Some(Reference::paper()) }).unwrap());
    }

    #[test]
    fn random_points_render(
        points in prop::collection::vec((prop_oneof![Just(0.0), 1e-6..1e6f64], prop_oneof![Just(-1.0), 1e-3..1e7f64], 0usize..4), 0..60),
        peak in prop_oneof![Just(0.0), 1e-3..1e7f64],
        bw in prop_oneof![Just(0.0), 1e-3..1e5f64],
    ) {
        let pts = points.iter().map(|&(i, g, p)| RooflinePoint { layer: "l".into(), pass: format!("P{p}"), intensity: i, gops: g }).collect();
        check(&roofline(&RooflineData { title: String::new(), peak_gops: peak, dram_gbps: bw, points: pts }).unwrap());
        let layers: Vec<String> = (0..points.len()).map(|i| format!("l{i}")).collect();
        let series = vec![UtilisationSeries { pass: "FP".into(), values: points.iter().map(|p| (p.2 > 0).then_some(p.1 / 1e6)).collect() }];
        check(&utilisation(&UtilisationData { title: String::new(), layers, series }).unwrap());
    }
}
