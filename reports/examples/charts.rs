//! Writes every chart of the made-up sample data as SVG and PNG into the
//! directory given (default `target/charts`), to look at a layout.

use nmsat_reports::charts::{self, Chart, samples};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "target/charts".into());
    std::fs::create_dir_all(&dir)?;
    let all: Vec<Chart> = vec![
        charts::cycles(&samples::cycles(20))?,
        charts::energy(&samples::energy())?,
        charts::speedup(&samples::speedup())?,
        charts::utilisation(&samples::utilisation(20))?,
        charts::roofline(&samples::roofline(20))?,
        charts::ablation(&samples::ablation())?,
        charts::gops(&samples::gops())?,
        charts::timeline(&samples::timeline(2_000_000, 3000))?,
    ];
    for c in all {
        std::fs::write(format!("{dir}/{}.svg", c.name), &c.svg)?;
        std::fs::write(format!("{dir}/{}.png", c.name), &c.png)?;
        println!(
            "{dir}/{}.svg ({}x{}, {} bytes SVG, {} bytes PNG)",
            c.name,
            c.width,
            c.height,
            c.svg.len(),
            c.png.len()
        );
    }
    Ok(())
}
