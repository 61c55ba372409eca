//! SCALE-Sim topologies (`data/scalesim/README.md`):
//!
//! - conv format `Layer name, IFMAP Height, IFMAP Width, Filter Height,
//!   Filter Width, Channels, Num Filter, Strides,` (one stride for both
//!   directions, no padding: `ofmap = ceil((ifmap - filt + stride)/stride)`,
//!   a name containing `DP` is depthwise);
//! - GEMM format `Layer, M, N, K,` (a linear layer over `M` rows);
//! - both with an optional `Sparsity` column (`N:M`, taken as the layer's
//!   N:M override; `1:1` means dense).
//!
//! The reader is tolerant (the crate's CSV reader): BOM, padding, trailing
//! commas, empty rows, extra columns such as `Batch Size` (ignored: the
//! batch comes from the compiler's `--batch`) and header spellings that
//! differ in case, spaces or underscores.
//!
//! Training-pass files (`*_input_grad.csv`, `*_inp_grad.csv`,
//! `*_inpgrad.csv`, `*_weight_grad.csv`, `*_weightgrad.csv`) encode one pass
//! as 1×K "convs"; they load as a [`Model`] with [`Model::pass_file`] set, so
//! lowering emits exactly their GEMMs in that pass. `*_fwd.csv` files are
//! ordinary forward topologies.

use nmsat_dataflow::{NmPattern, Pass};

use crate::csv::{self, Table};
use crate::error::{CompileError, Location, mul};
use crate::model::{Connectivity, ConvSpec, Layer, LayerKind, LinearSpec, Model, NmOverride, Shape};
use crate::table::{Cells, chain_input};

/// The two SCALE-Sim topology formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Layer name, IFMAP Height, …, Strides,`.
    Conv,
    /// `Layer, M, N, K,`.
    Gemm,
}

/// Which format the header describes, if any.
pub(crate) fn detect(t: &Table) -> Option<Format> {
    let has = |p: &dyn Fn(&str) -> bool| t.column(p).is_some();
    if has(&|h| h.contains("ifmap")) && has(&|h| h.contains("filter")) {
        Some(Format::Conv)
    } else if has(&|h| h == "m") && has(&|h| h == "n") && has(&|h| h == "k") {
        Some(Format::Gemm)
    } else {
        None
    }
}

/// A row with a name and every number cell empty: a section label between
/// the models of a concatenated file (SCALE-Sim's `mlperf/MLPERF.csv`
/// writes `AlphaGoZero,` before that model's layers), skipped. A row with
/// some numbers and some empty cells is still an error.
fn section_label(row: &csv::Row, numbers: &[usize]) -> bool {
    numbers.iter().all(|&c| row.get(c).trim().is_empty())
}

/// The seven number columns of the conv format: by name when the header
/// names them all (in any order, extra columns allowed), else by position
/// after the name column as SCALE-Sim itself reads them (its own
/// `DeepBench.csv` spells `IFMAP Width` twice). Fails with the first
/// missing column's name.
fn conv_columns(table: &Table, name_col: usize) -> Result<[usize; 7], &'static str> {
    let find = |pred: &dyn Fn(&str) -> bool| table.column(pred);
    let named = [
        find(&|h| h.contains("ifmap") && h.contains("height")),
        find(&|h| h.contains("ifmap") && h.contains("width")),
        find(&|h| h.contains("filter") && h.contains("height")),
        find(&|h| h.contains("filter") && h.contains("width")),
        find(&|h| h.contains("channel")),
        find(&|h| h.starts_with("num") || h == "filters" || h == "numfilter"),
        find(&|h| h.starts_with("stride")),
    ];
    if let [Some(a), Some(b), Some(c), Some(d), Some(e), Some(f), Some(g)] = named {
        return Ok([a, b, c, d, e, f, g]);
    }
    if name_col == 0 && table.header.len() >= 8 {
        return Ok([1, 2, 3, 4, 5, 6, 7]);
    }
    let what = ["IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter", "Strides"];
    Err(what[named.iter().position(Option::is_none).unwrap_or(0)])
}

/// The pass a training-pass file holds, from its file name.
pub fn pass_of_file(path: &str) -> Option<Pass> {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path).to_ascii_lowercase();
    if ["input_grad", "inp_grad", "inpgrad", "inputgrad"].iter().any(|p| base.contains(p)) {
        Some(Pass::Bp)
    } else if ["weight_grad", "weightgrad"].iter().any(|p| base.contains(p)) {
        Some(Pass::Wg)
    } else {
        None
    }
}

fn sparsity(cells: &Cells<'_>, col: Option<usize>) -> Result<NmOverride, CompileError> {
    let Some(c) = col else { return Ok(NmOverride::Inherit) };
    let text = cells.row.get(c);
    if text.is_empty() {
        return Ok(NmOverride::Inherit);
    }
    let p: NmPattern = text.parse().map_err(|e| CompileError::value(cells.loc(c), format!("{e}")))?;
    Ok(if p.n() == p.m() { NmOverride::Dense } else { NmOverride::Pattern(p) })
}

/// The layer of one row of a convolution topology (`None` for a section
/// label row): a conv, or the GEMM a whole-input or 1xW filter is.
fn conv_layer(
    cells: &Cells<'_>,
    name_col: usize,
    [ih, iw, fh, fw, ch, nf, st]: [usize; 7],
    sparsity_col: Option<usize>,
    at: usize,
) -> Result<Option<Layer>, CompileError> {
    let loc = cells.loc(name_col);
    let name = cells.row.get(name_col).to_string();
    if name.is_empty() {
        return Err(CompileError::value(loc, "the layer name is empty"));
    }
    if section_label(cells.row, &[ih, iw, fh, fw, ch, nf, st]) {
        return Ok(None);
    }
    let (h, w) = (cells.positive(Some(ih), None, "IFMAP Height")?, cells.positive(Some(iw), None, "IFMAP Width")?);
    let (r, s) = (cells.positive(Some(fh), None, "Filter Height")?, cells.positive(Some(fw), None, "Filter Width")?);
    let c = cells.positive(Some(ch), None, "Channels")?;
    let filters = cells.positive(Some(nf), None, "Num Filter")?;
    let stride = cells.positive(Some(st), None, "Strides")?;
    if r > h || s > w {
        return Err(CompileError::shape(
            cells.loc(fh),
            format!("filter {r}x{s} is larger than the {h}x{w} input (SCALE-Sim applies no padding)"),
        ));
    }
    let depthwise = name.contains("DP");
    if !depthwise && s == w && (r == h || r == 1) {
        // A filter covering its whole input is a fully connected layer
        // (SCALE-Sim writes FC/RNN/DLRM layers so): one output position.
        // A 1xW filter on an HxW input is one over the rows it reads
        // (how SCALE-Sim writes an im2col'd GEMM: rows = M, width = K).
        // Either is the plain GEMM in every pass, not a transposed
        // convolution (which would multiply W times the MACs in BP).
        let k = mul(mul(c, r, &loc, "K")?, s, &loc, "K")?;
        let tokens = if r == h { 1 } else { (h - 1) / stride + 1 };
        return Ok(Some(Layer {
            name,
            kind: LayerKind::Linear(LinearSpec { in_features: k, out_features: filters }),
            inputs: vec![chain_input(at)],
            in_shape: Shape::Seq { tokens, dim: k },
            out_shape: Shape::Seq { tokens, dim: filters },
            nm: sparsity(cells, sparsity_col)?,
            origin: loc,
        }));
    }
    let (groups, c_out) = if depthwise { (c, mul(c, filters, &loc, "channels")?) } else { (1, filters) };
    // SCALE-Sim: ceil((ifmap - filt + stride) / stride), written so it cannot overflow.
    let out = |i: u64, f: u64| (i - f).div_ceil(stride) + 1;
    let spec = ConvSpec { c_in: c, c_out, kernel: (r, s), stride: (stride, stride), pad: (0, 0), groups };
    Ok(Some(Layer {
        name,
        kind: LayerKind::Conv(spec),
        inputs: vec![chain_input(at)],
        in_shape: Shape::Map { c, h, w },
        out_shape: Shape::Map { c: c_out, h: out(h, r), w: out(w, s) },
        nm: sparsity(cells, sparsity_col)?,
        origin: loc,
    }))
}

/// Parses a SCALE-Sim topology. `file` is the path (its name decides whether it is a training-pass file).
pub fn parse(file: &str, text: &str) -> Result<Model, CompileError> {
    let table = csv::parse(text)
        .ok_or_else(|| CompileError::syntax(Location::File { file: file.to_string() }, "the file is empty"))?;
    let format = detect(&table).ok_or_else(|| {
        CompileError::syntax(
            Location::cell(file, table.header_line, "header"),
            format!(
                "not a SCALE-Sim topology: expected `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides` or `Layer, M, N, K`; found `{}`",
                table.header.join(",")
            ),
        )
    })?;
    if let Some(col) = table.column(|h| h == "pass") {
        return Err(CompileError::syntax(
            Location::cell(file, table.header_line, "pass"),
            format!(
                "this lists the GEMMs of a whole training step (column {} is `pass`: FF, BP, WG), which nmsat derives itself; give the model's forward topology or layer table (e.g. `*.layers.csv`) instead",
                col + 1
            ),
        ));
    }
    let missing =
        |what: &str| CompileError::syntax(Location::cell(file, table.header_line, what), format!("no `{what}` column"));
    let need = |pred: &dyn Fn(&str) -> bool, what: &str| table.column(pred).ok_or_else(|| missing(what));
    // SCALE-Sim takes the first column as the name whatever its header says
    // (its `vit_bg.csv` calls it `L`); a header that names it is used as named.
    let name_col = match table.column(|h| h.contains("layer") || h == "name") {
        Some(c) => c,
        None if table.header.first().is_some_and(|h| !matches!(csv::normalise(h).as_str(), "m" | "n" | "k" | "")) => 0,
        None => return Err(missing("Layer name")),
    };
    let sparsity_col = table.column(|h| h.contains("sparsity"));
    let mut layers: Vec<Layer> = Vec::with_capacity(table.rows.len());
    match format {
        Format::Conv => {
            let cols = conv_columns(&table, name_col).map_err(missing)?;
            for row in &table.rows {
                let cells = Cells { file, header: &table.header, row };
                if let Some(l) = conv_layer(&cells, name_col, cols, sparsity_col, layers.len())? {
                    layers.push(l);
                }
            }
        }
        Format::Gemm => {
            let (cm, cn, ck) = (need(&|h| h == "m", "M")?, need(&|h| h == "n", "N")?, need(&|h| h == "k", "K")?);
            for row in &table.rows {
                let cells = Cells { file, header: &table.header, row };
                let loc = cells.loc(name_col);
                let name = row.get(name_col).to_string();
                if name.is_empty() {
                    return Err(CompileError::value(loc, "the layer name is empty"));
                }
                if section_label(row, &[cm, cn, ck]) {
                    continue;
                }
                let m = cells.positive(Some(cm), None, "M")?;
                let n = cells.positive(Some(cn), None, "N")?;
                let k = cells.positive(Some(ck), None, "K")?;
                layers.push(Layer {
                    name,
                    kind: LayerKind::Linear(LinearSpec { in_features: k, out_features: n }),
                    inputs: vec![chain_input(layers.len())],
                    in_shape: Shape::Seq { tokens: m, dim: k },
                    out_shape: Shape::Seq { tokens: m, dim: n },
                    nm: sparsity(&cells, sparsity_col)?,
                    origin: loc,
                });
            }
        }
    }
    // SCALE-Sim topologies repeat names (sparsity/gemm.csv has two GEMM_1 rows): keep
    // every row, making later names unique so reports stay unambiguous.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for l in &mut layers {
        let n = seen.entry(l.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            l.name = format!("{}#{}", l.name, n);
        }
    }
    let first = layers.first().ok_or_else(|| {
        CompileError::value(Location::cell(file, table.header_line, "Layer name"), "the topology has no layers")
    })?;
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    Ok(Model {
        name: base.split('.').next().unwrap_or(base).to_string(),
        source: file.to_string(),
        input: first.in_shape,
        connectivity: Connectivity::TableOrder,
        pass_file: pass_of_file(file),
        notes: Vec::new(),
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmsat_dataflow::Pass;

    #[test]
    fn conv_rows_follow_scalesim_arithmetic() {
        let m = parse("r.csv", "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nConv1,224,224,7,7,3,64,2,\n").unwrap();
        // ceil((224 - 7 + 2) / 2) = 110 (SCALE-Sim's own Resnet18 row: 110x110, no padding).
        assert_eq!(m.layers[0].out_shape, Shape::Map { c: 64, h: 110, w: 110 });
        assert_eq!(m.pass_file, None);
    }

    #[test]
    fn depthwise_by_name_and_sparsity_column() {
        let t = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,Sparsity,\nDP1,10,10,3,3,8,1,1,1:1,\nC2,8,8,1,1,8,16,1,2:4,\n";
        let m = parse("d.csv", t).unwrap();
        assert!(matches!(m.layers[0].kind, LayerKind::Conv(ConvSpec { groups: 8, c_out: 8, .. })));
        assert_eq!(m.layers[0].nm, NmOverride::Dense);
        assert_eq!(m.layers[1].nm, NmOverride::Pattern("2:4".parse().unwrap()));
        let e = parse("d.csv", &t.replace("2:4", "3:5")).unwrap_err().to_string();
        assert!(e.contains("row 3, field `Sparsity`"), "{e}");
    }

    #[test]
    fn pass_files_and_errors() {
        assert_eq!(pass_of_file("x/resnet_input_grad.csv"), Some(Pass::Bp));
        assert_eq!(pass_of_file("dlrm_inp_grad.csv"), Some(Pass::Bp));
        assert_eq!(pass_of_file("transformer_weightgrad.csv"), Some(Pass::Wg));
        assert_eq!(pass_of_file("resnet_fwd.csv"), None);
        let e = parse("x.csv", "a,b,c\n1,2,3\n").unwrap_err().to_string();
        assert!(e.contains("not a SCALE-Sim topology"), "{e}");
        let e = parse("x.csv", "Layer,M,N,K,\nL,0,2,3,\n").unwrap_err().to_string();
        assert!(e.contains("row 2, field `M`"), "{e}");
        let e = parse("x.csv", "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,\nc,2,2,3,3,1,1,1,\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
        let m = parse("g.csv", "Layer,M,N,K,\nA,1,2,3,\nA,1,2,3,\n").unwrap();
        assert_eq!(m.layers[1].name, "A#2");
    }

    /// SCALE-Sim reads the conv columns by position; its `DeepBench.csv`
    /// names `IFMAP Width` twice, and a header missing a named column with
    /// fewer than eight cells still names it.
    #[test]
    fn conv_columns_fall_back_to_positions() {
        let m = parse("d.csv", "Layer, IFMAP Width, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc,7,9,3,3,4,8,2,\n")
            .unwrap();
        assert_eq!(m.layers[0].in_shape, Shape::Map { c: 4, h: 7, w: 9 });
        assert_eq!(m.layers[0].out_shape, Shape::Map { c: 8, h: 3, w: 4 });
        let e = parse(
            "e.csv",
            "Layer, IFMAP Height, IFMAP Width, Filter Height, Channels, Num Filter, Strides,\nc,7,9,3,4,8,2,\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("e.csv") && e.contains("no `Filter Width` column"), "{e}");
        // Its `vit_bg.csv` names the name column `L`.
        let m = parse("v.csv", "L,M,N,K,\nL0,256,768,768,\n").unwrap();
        assert_eq!(m.layers[0].name, "L0");
        let m = parse("s.csv", "Layer,M,N,K,\nModelA,\nA1,4,5,6,\nModelB,,,,\nB1,1,2,3,\n").unwrap();
        assert_eq!(m.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["A1", "B1"]);
        let e = parse("s.csv", "Layer,M,N,K,\nA1,4,,6,\n").unwrap_err().to_string();
        assert!(e.contains("row 2, field `N`"), "{e}");
        let e = parse("w.csv", "M,N,K,\n256,768,768,\n").unwrap_err().to_string();
        assert!(e.contains("no `Layer name` column"), "{e}");
    }
}
