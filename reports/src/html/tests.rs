//! Page structure, escaping, links and determinism.

use super::*;
use crate::charts::{self, samples};

/// Parses the page as XML (its DOCTYPE allowed).
fn parse(html: &str) -> roxmltree::Document<'_> {
    let opt = roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() };
    roxmltree::Document::parse_with_options(html, opt).expect("the page is well-formed XML too")
}

fn page(title: &str) -> Page {
    let config = ConfigSummary {
        name: "sat-64".into(),
        array: "32 × 32 PEs".into(),
        lanes: "8".into(),
        buffers: vec![("weight".into(), "256 KiB".into()), ("activation".into(), "512 KiB".into())],
        dram: "25.6 GB/s".into(),
        clock_mhz: 500.0,
        im2col: "line buffer, 256 KiB".into(),
        dataflows: "output-stationary, weight-stationary".into(),
    };
    let energy = EnergyTableSummary { name: "t<1>".into(), sources: vec!["Horowitz, ISSCC'14".into()] };
    let resources = Resources { tool: "yosys".into(), rows: vec![("LUT".into(), "41,230".into())] };
    let mut speedup = Figure::new(charts::speedup(&samples::speedup()).unwrap());
    speedup.caption = "Bars: measured; ticks: bounds & more.".into();
    speedup.trace = Some("traces/step one.json".into());
    let mut evil = Figure::new(charts::ablation(&samples::ablation()).unwrap());
    evil.trace = Some("javascript:alert(1)".into());
    Page {
        title: title.into(),
        subtitle: Some("ResNet-18 on `sat-64`, batch 32".into()),
        sections: vec![
            Section {
                heading: "Setup".into(),
                blocks: vec![
                    Block::Prose("First paragraph.\n\nSecond <b>not bold</b>.".into()),
                    Block::KeyValues(config.key_values()),
                    Block::KeyValues(energy.key_values()),
                    Block::KeyValues(resources.key_values()),
                ],
            },
            Section {
                heading: "Results".into(),
                blocks: vec![
                    Block::Table(DataTable {
                        caption: "Steps".into(),
                        header: vec!["method".into(), "cycles".into(), "speedup".into()],
                        rows: vec![vec!["dense".into(), "1,000".into(), "1.00x".into()], vec!["BDWP".into()]],
                    }),
                    Block::Pre(crate::table::table(&["a", "b"], &[vec!["1".into(), "2".into()]])),
                    Block::Figure(speedup),
                    Block::Figure(evil),
                ],
            },
        ],
    }
}

#[test]
fn page_is_well_formed_escaped_and_self_contained() {
    let html = page("Report <script>alert(1)</script> & co").render();
    let doc = parse(&html);
    assert_eq!(doc.root_element().tag_name().name(), "html");
    assert!(!html.to_lowercase().contains("<script"), "no script, and text escaped");
    assert!(html.contains("Report &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    assert!(html.contains("Second &lt;b&gt;not bold&lt;/b&gt;."));
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("svg")).count(), 2, "charts inline");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("figure")).count(), 2);
    for n in doc.descendants() {
        assert!(n.attribute("src").is_none(), "nothing is loaded");
        if let Some(href) = n.attribute("href") {
            assert!(!href.contains(':'), "relative links only: {href}");
        }
    }
    assert!(html.contains("href=\"traces/step%20one.json\">Perfetto trace</a>"));
    assert!(!html.contains("javascript"), "a scheme link is dropped");
    assert!(html.contains("href=\"charts/speedup.svg\"") && html.contains("href=\"charts/ablation.png\""));
    assert!(html.contains("Content-Security-Policy"));
    let cells: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("td")).filter_map(|n| n.text()).collect();
    for want in [
        "sat-64",
        "32 × 32 PEs",
        "256 KiB",
        "500 MHz",
        "line buffer, 256 KiB",
        "output-stationary, weight-stationary",
        "t<1>",
        "Horowitz, ISSCC'14",
        "41,230",
    ] {
        assert!(cells.contains(&want), "{want} missing from {cells:?}");
    }
    let nums = doc.descendants().filter(|n| n.attribute("class") == Some("num")).count();
    assert_eq!(nums, 2, "1,000 and 1.00x right-aligned");
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(page("x").render(), page("x").render());
    assert_eq!(Page::default().render(), Page::default().render());
    parse(&Page::default().render());
}
