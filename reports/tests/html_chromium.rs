//! The report page in a real browser: headless Chromium loads a page with
//! every chart, takes a screenshot and dumps the DOM, and its log must show
//! no console message (no script error, no blocked load, no SVG attribute
//! error). Chromium is required: this test fails, not skips, without it
//! (`scripts/test` installs Debian's `chromium`).

use std::path::{Path, PathBuf};

#[path = "support/chromium.rs"]
mod chromium;
use chromium::{console_lines, headless};

use nmsat_reports::charts::{self, samples};
use nmsat_reports::html::{self, Block, ConfigSummary, DataTable, Figure, Page, Section};

/// A fresh directory under the test's target tmpdir.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("html-chromium-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn report_page() -> Page {
    let figure = |c: Result<charts::Chart, charts::ChartError>| Block::Figure(Figure::new(c.unwrap()));
    let mut timeline = Figure::new(charts::timeline(&samples::timeline(2_000_000, 3_000)).unwrap());
    timeline.trace = Some("trace.json".into());
    let config = ConfigSummary { name: "sat-64".into(), clock_mhz: 500.0, ..Default::default() };
    let table = DataTable {
        caption: "Steps".into(),
        header: vec!["method".into(), "cycles".into()],
        rows: vec![vec!["dense".into(), "3,200,000".into()], vec!["BDWP 2:8".into(), "1,607,000".into()]],
    };
    Page {
        title: "nmsat report <test> & check".into(),
        subtitle: Some("made-up sample data".into()),
        sections: vec![
            Section {
                heading: "Setup".into(),
                blocks: vec![
                    Block::Prose("Every chart of the sample data.".into()),
                    Block::KeyValues(config.key_values()),
                ],
            },
            Section {
                heading: "Step".into(),
                blocks: vec![
                    Block::Table(table),
                    figure(charts::cycles(&samples::cycles(20))),
                    figure(charts::energy(&samples::energy())),
                    figure(charts::speedup(&samples::speedup())),
                    figure(charts::utilisation(&samples::utilisation(20))),
                    figure(charts::roofline(&samples::roofline(20))),
                    figure(charts::ablation(&samples::ablation())),
                    figure(charts::gops(&samples::gops())),
                    figure(charts::scatter(&samples::scatter(200))),
                    Block::Figure(timeline),
                ],
            },
        ],
    }
}

#[test]
fn report_page_renders_in_headless_chromium() {
    let dir = fresh_dir("report");
    let page = report_page();
    html::write(&dir, &page).unwrap();
    std::fs::write(dir.join("trace.json"), "{\"traceEvents\":[]}").unwrap();
    let index = dir.join("index.html");
    for f in page.figures() {
        for ext in ["svg", "png"] {
            assert!(dir.join(f.file(ext)).is_file(), "{} not written", f.file(ext));
        }
    }

    let shot = dir.join("screenshot.png");
    let run = headless(&dir, &index, &format!("--screenshot={}", shot.display()));
    assert_eq!(console_lines(&run.stderr), Vec::<&str>::new(), "console messages while rendering the page");
    let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot: {e}\n{}", run.stderr));
    let reader = png::Decoder::new(std::io::Cursor::new(&bytes)).read_info().expect("screenshot is a PNG");
    assert_eq!((reader.info().width, reader.info().height), (1280, 2000));
    let mut reader = reader;
    let mut buf = vec![0; reader.output_buffer_size().expect("screenshot size")];
    let frame = reader.next_frame(&mut buf).unwrap();
    let px = frame.color_type.samples();
    let inked = buf[..frame.buffer_size()].chunks(px).filter(|p| p[..3].iter().any(|&c| c < 200)).count();
    let total = (frame.width * frame.height) as usize;
    assert!(inked * 100 > total, "screenshot nearly blank: {inked} of {total} pixels inked");

    let dom = headless(&dir, &index, "--dump-dom");
    assert_eq!(console_lines(&dom.stderr), Vec::<&str>::new(), "console messages while dumping the DOM");
    assert_eq!(dom.stdout.matches("<figure").count(), 9, "nine figures in the DOM");
    assert!(dom.stdout.matches("<svg").count() >= 9, "inline SVG charts in the DOM");
    for f in page.figures() {
        assert!(dom.stdout.contains(&format!("id=\"fig-{}\"", f.chart.name)), "figure {} missing", f.chart.name);
    }
    assert!(dom.stdout.contains("nmsat report &lt;test&gt; &amp; check"), "escaped title survives parsing");
    assert!(dom.stdout.contains("Perfetto trace"));
}

/// The console check is not vacuous: a script error on a plain page shows.
#[test]
fn console_errors_are_seen() {
    let dir = fresh_dir("console");
    let page = dir.join("bad.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><p>x</p><script>undefined_function();</script></body></html>")
        .unwrap();
    let run = headless(&dir, &page, "--dump-dom");
    let lines = console_lines(&run.stderr);
    assert!(lines.iter().any(|l| l.contains("Uncaught ReferenceError")), "not seen:\n{}", run.stderr);
}
