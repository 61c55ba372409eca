//! The report as one self-contained HTML page.
//!
//! A [`Page`] is a title and [`Section`]s of [`Block`]s: prose, key-value
//! tables, data tables, preformatted text and chart [`Figure`]s. The page
//! needs nothing from outside: the charts are inline SVG, the style is a
//! short inline sheet, there is no script, and a Content-Security-Policy
//! forbids loading anything (scripts, styles from files, fonts, frames,
//! network). Each figure links to its SVG and PNG files (written beside the
//! page by [`write()`]) and, when given, to a Perfetto trace file. All text
//! is escaped; links go only to relative paths. The output is polyglot
//! HTML5 (also well-formed XML) and deterministic: the same page gives the
//! same bytes.

mod escape;
mod summary;

use std::fmt::Write as _;
use std::path::Path;

pub use escape::{escape, relative_href};
pub use summary::{ConfigSummary, EnergyTableSummary, Resources};

use crate::charts::Chart;

/// The report page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Title (`<title>` and the top heading).
    pub title: String,
    /// A line under the title (model, config, method), when given.
    pub subtitle: Option<String>,
    /// Sections in order; a contents list links to them.
    pub sections: Vec<Section>,
}

/// A section: a heading and its blocks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    /// Heading.
    pub heading: String,
    /// Content in order.
    pub blocks: Vec<Block>,
}

/// A piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Prose; a blank line starts a new paragraph.
    Prose(String),
    /// A two-column table of names and values.
    KeyValues(KeyValues),
    /// A table with a header row.
    Table(DataTable),
    /// Preformatted text (an aligned text table, a listing).
    Pre(String),
    /// A chart.
    Figure(Figure),
}

/// Names and values, e.g. a config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValues {
    /// Caption above the table.
    pub caption: String,
    /// (name, value) rows.
    pub rows: Vec<(String, String)>,
}

/// A data table; cells that read as numbers are right-aligned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataTable {
    /// Caption above the table.
    pub caption: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells (a short row leaves its last cells empty).
    pub rows: Vec<Vec<String>>,
}

/// A chart shown inline, with links to its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// The chart; its SVG goes inline and its name names its files,
    /// `charts/<name>.svg` and `charts/<name>.png`.
    pub chart: Chart,
    /// Text after the chart's title in the caption.
    pub caption: String,
    /// A Perfetto trace file to link (relative to the page), when there is
    /// one.
    pub trace: Option<String>,
}

impl Figure {
    /// A figure of `chart` without caption text or trace.
    pub fn new(chart: Chart) -> Self {
        Figure { chart, caption: String::new(), trace: None }
    }

    /// Page-relative path of the chart's file with extension `ext`.
    pub fn file(&self, ext: &str) -> String {
        format!("charts/{}.{ext}", self.chart.name)
    }
}

/// The inline style sheet.
const CSS: &str = "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:2em auto;max-width:1280px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.subtitle{color:#555;margin-top:0}nav ol{columns:2}
table{border-collapse:collapse;margin:.6em 0 1.2em}caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;overflow-x:auto}
figure{margin:1.2em 0}figure .chart{overflow-x:auto}figure svg{max-width:100%;height:auto}
figcaption{color:#333;font-size:.95em;margin-top:.3em}";

/// Forbid every load: the page is complete as it is.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";

impl Page {
    /// The page's HTML.
    pub fn render(&self) -> String {
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n");
        let _ = writeln!(h, "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\" />", escape(CSP));
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
        let _ = writeln!(h, "<meta name=\"generator\" content=\"nmsat {}\" />", env!("CARGO_PKG_VERSION"));
        let _ = writeln!(h, "<title>{}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>", escape(&self.title));
        let _ = writeln!(h, "<h1>{}</h1>", escape(&self.title));
        if let Some(s) = &self.subtitle {
            let _ = writeln!(h, "<p class=\"subtitle\">{}</p>", escape(s));
        }
        if self.sections.len() > 1 {
            h.push_str("<nav><ol>\n");
            for (i, s) in self.sections.iter().enumerate() {
                let _ = writeln!(h, "<li><a href=\"#s{}\">{}</a></li>", i + 1, escape(&s.heading));
            }
            h.push_str("</ol></nav>\n");
        }
        let mut figure = 0;
        for (i, s) in self.sections.iter().enumerate() {
            let _ = writeln!(h, "<section id=\"s{}\">\n<h2>{}</h2>", i + 1, escape(&s.heading));
            for b in &s.blocks {
                block(&mut h, b, &mut figure);
            }
            h.push_str("</section>\n");
        }
        h.push_str("</body>\n</html>\n");
        h
    }

    /// Every figure, in page order.
    pub fn figures(&self) -> impl Iterator<Item = &Figure> {
        self.sections.iter().flat_map(|s| &s.blocks).filter_map(|b| match b {
            Block::Figure(f) => Some(f),
            _ => None,
        })
    }
}

/// One block's HTML.
fn block(h: &mut String, b: &Block, figure: &mut usize) {
    match b {
        Block::Prose(text) => {
            for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
                let _ = writeln!(h, "<p>{}</p>", escape(para));
            }
        }
        Block::KeyValues(kv) => {
            h.push_str("<table class=\"kv\">\n");
            caption(h, &kv.caption);
            for (k, v) in &kv.rows {
                let _ = writeln!(h, "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", escape(k), escape(v));
            }
            h.push_str("</table>\n");
        }
        Block::Table(t) => table(h, t),
        Block::Pre(text) => {
            let _ = writeln!(h, "<pre>{}</pre>", escape(text.trim_end()));
        }
        Block::Figure(f) => {
            *figure += 1;
            figure_html(h, f, *figure);
        }
    }
}

fn caption(h: &mut String, text: &str) {
    if !text.trim().is_empty() {
        let _ = writeln!(h, "<caption>{}</caption>", escape(text));
    }
}

/// Reads as a number (with an optional unit suffix such as `x`, `×`, `%`).
fn numeric(cell: &str) -> bool {
    let t = cell.trim().trim_end_matches(['x', '×', '%']).trim().replace([',', '_'], "");
    !t.is_empty() && t.parse::<f64>().is_ok()
}

fn table(h: &mut String, t: &DataTable) {
    h.push_str("<table>\n");
    caption(h, &t.caption);
    if !t.header.is_empty() {
        h.push_str("<thead><tr>");
        for c in &t.header {
            let _ = write!(h, "<th scope=\"col\">{}</th>", escape(c));
        }
        h.push_str("</tr></thead>\n");
    }
    h.push_str("<tbody>\n");
    let width = t.header.len().max(t.rows.iter().map(Vec::len).max().unwrap_or(0));
    for r in &t.rows {
        h.push_str("<tr>");
        for i in 0..width {
            let c = r.get(i).map(String::as_str).unwrap_or("");
            let class = if numeric(c) { " class=\"num\"" } else { "" };
            let _ = write!(h, "<td{class}>{}</td>", escape(c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

fn figure_html(h: &mut String, f: &Figure, n: usize) {
    let title = escape(&f.chart.title);
    let _ = writeln!(h, "<figure id=\"fig-{}\">\n<div class=\"chart\">", escape(&f.chart.name));
    // Name the inline SVG for screen readers; the chart's own text is
    // already escaped by the SVG writer.
    let svg = f.chart.svg.trim();
    match svg.strip_prefix("<svg ") {
        Some(rest) => {
            let _ = writeln!(h, "<svg role=\"img\" aria-label=\"{title}\" {rest}");
        }
        None => h.push_str(svg),
    }
    let _ = write!(h, "</div>\n<figcaption><strong>Figure {n}.</strong> {title}.");
    if !f.caption.trim().is_empty() {
        let _ = write!(h, " {}", escape(f.caption.trim()));
    }
    let mut links = Vec::new();
    for (ext, label) in [("svg", "SVG"), ("png", "PNG")] {
        if let Some(href) = relative_href(&f.file(ext)) {
            links.push(format!("<a href=\"{href}\">{label}</a>"));
        }
    }
    if let Some(href) = f.trace.as_deref().and_then(relative_href) {
        links.push(format!("<a href=\"{href}\">Perfetto trace</a> (open it in the Perfetto UI)"));
    }
    let _ = writeln!(h, " Files: {}.</figcaption>\n</figure>", links.join(" · "));
}

/// Writes the page as `index.html` in `dir` and every figure's chart as
/// `charts/<name>.svg` and `.png` beside it (creating the directories).
/// Two figures whose charts share a name would overwrite each other's
/// files: that is refused.
pub fn write(dir: &Path, page: &Page) -> std::io::Result<()> {
    let mut names: Vec<&str> = page.figures().map(|f| f.chart.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        let msg = format!("two figures would write charts/{}.svg", w[0]);
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, msg));
    }
    if names.iter().any(|n| n.is_empty() || n.contains(['/', '\\']) || n.starts_with('.')) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a chart name is not a plain file name"));
    }
    std::fs::create_dir_all(dir.join("charts"))?;
    for f in page.figures() {
        std::fs::write(dir.join(f.file("svg")), &f.chart.svg)?;
        std::fs::write(dir.join(f.file("png")), &f.chart.png)?;
    }
    std::fs::write(dir.join("index.html"), page.render())
}

#[cfg(test)]
mod tests;
