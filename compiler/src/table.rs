//! Layer tables (`*.layers.csv`, the format of `data/models/`):
//! `layer,type,C_in,H_in,W_in,C_out,H_out,W_out,R,S,stride_h,stride_w,pad_h,pad_w,groups,tokens,gemm_M,gemm_N,gemm_K,macs,weight_params`.
//!
//! Required columns: `layer`, `type`, `C_in`, `C_out`, `H_out`, `W_out`, and
//! `R`, `S` for convolutions. The rest default (`groups` 1, `tokens` 1,
//! stride 1, pad 0, `H_in`/`W_in` from the output). When the table gives
//! `gemm_M`, `gemm_K`, `gemm_N`, `macs` or `weight_params`, they are checked
//! against the shapes, so an inconsistent row is reported, not lowered.
//!
//! A layer table has no attention matmuls (they are not modules). The
//! built-in transformers add them from their `.gemm.csv` (see
//! [`parse_with_attention`]).

use std::collections::HashMap;

use crate::csv::{self, Row, Table};
use crate::error::{CompileError, Location, mul};
use crate::model::{
    AttnOp, AttnSpec, Connectivity, ConvSpec, Input, Layer, LayerId, LayerKind, LinearSpec, Model, NmOverride, Shape,
};

/// Column indices of a layer table, found by normalised header name.
struct Columns {
    name: usize,
    kind: usize,
    c_in: usize,
    c_out: usize,
    h_out: usize,
    w_out: usize,
    h_in: Option<usize>,
    w_in: Option<usize>,
    r: Option<usize>,
    s: Option<usize>,
    stride_h: Option<usize>,
    stride_w: Option<usize>,
    pad_h: Option<usize>,
    pad_w: Option<usize>,
    groups: Option<usize>,
    tokens: Option<usize>,
    gemm_m: Option<usize>,
    gemm_n: Option<usize>,
    gemm_k: Option<usize>,
    macs: Option<usize>,
    weight_params: Option<usize>,
}

/// True when the header looks like a layer table (has `type` and `C_in` columns).
pub(crate) fn looks_like_layer_table(t: &Table) -> bool {
    t.column(|h| h == "type" || h == "kind").is_some() && t.column(|h| h == "cin").is_some()
}

fn columns(file: &str, t: &Table) -> Result<Columns, CompileError> {
    let find = |names: &[&str]| t.column(|h| names.contains(&h));
    let need = |names: &[&str], what: &str| {
        find(names).ok_or_else(|| {
            CompileError::syntax(
                Location::cell(file, t.header_line, what),
                format!("the layer table has no `{what}` column (header: {})", t.header.join(",")),
            )
        })
    };
    Ok(Columns {
        name: need(&["layer", "name", "layername"], "layer")?,
        kind: need(&["type", "kind"], "type")?,
        c_in: need(&["cin"], "C_in")?,
        c_out: need(&["cout"], "C_out")?,
        h_out: need(&["hout"], "H_out")?,
        w_out: need(&["wout"], "W_out")?,
        h_in: find(&["hin"]),
        w_in: find(&["win"]),
        r: find(&["r", "kh", "kernelh"]),
        s: find(&["s", "kw", "kernelw"]),
        stride_h: find(&["strideh"]),
        stride_w: find(&["stridew"]),
        pad_h: find(&["padh"]),
        pad_w: find(&["padw"]),
        groups: find(&["groups"]),
        tokens: find(&["tokens"]),
        gemm_m: find(&["gemmm"]),
        gemm_n: find(&["gemmn"]),
        gemm_k: find(&["gemmk"]),
        macs: find(&["macs"]),
        weight_params: find(&["weightparams"]),
    })
}

/// Reads non-negative integer cells of one row, with errors naming the row and field.
pub(crate) struct Cells<'a> {
    pub file: &'a str,
    pub header: &'a [String],
    pub row: &'a Row,
}

impl Cells<'_> {
    pub fn loc(&self, col: usize) -> Location {
        let field = self.header.get(col).map_or_else(|| format!("column {}", col + 1), Clone::clone);
        Location::cell(self.file, self.row.line, &field)
    }

    /// The cell as an integer; `default` when empty (an error when no default).
    pub fn uint(&self, col: Option<usize>, default: Option<u64>, what: &str) -> Result<u64, CompileError> {
        let Some(col) = col else {
            return default.ok_or_else(|| {
                CompileError::value(Location::cell(self.file, self.row.line, what), format!("`{what}` is required"))
            });
        };
        let text = self.row.get(col);
        if text.is_empty() {
            return default
                .ok_or_else(|| CompileError::value(self.loc(col), format!("`{what}` is empty; a number is required")));
        }
        parse_uint(text).map_err(|m| CompileError::value(self.loc(col), m))
    }

    /// Like [`Self::uint`] but rejects zero.
    pub fn positive(&self, col: Option<usize>, default: Option<u64>, what: &str) -> Result<u64, CompileError> {
        let v = self.uint(col, default, what)?;
        if v == 0 {
            let loc = col.map_or_else(|| Location::cell(self.file, self.row.line, what), |c| self.loc(c));
            return Err(CompileError::value(loc, format!("`{what}` must be at least 1, got 0")));
        }
        Ok(v)
    }
}

/// Parses a non-negative integer, with a message saying what is wrong.
pub(crate) fn parse_uint(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') && t.len() > 1 && t[1..].chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("`{t}` is negative; dimensions must be positive integers"));
    }
    // Integral floats such as `64.0` appear in exported tables.
    let digits = t.strip_suffix(".0").unwrap_or(t);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("`{t}` is not a non-negative integer"));
    }
    digits.parse::<u64>().map_err(|_| format!("`{t}` is too large"))
}

fn check_eq(cells: &Cells<'_>, col: Option<usize>, what: &str, want: &[u64]) -> Result<(), CompileError> {
    if let Some(c) = col
        && !cells.row.get(c).is_empty()
    {
        let got = cells.uint(Some(c), None, what)?;
        if !want.contains(&got) {
            return Err(CompileError::value(
                cells.loc(c),
                format!("`{what}` is {got} but the row's shapes give {}", want[0]),
            ));
        }
    }
    Ok(())
}

/// Parses one row into a layer (inputs are filled in by the caller).
fn row_layer(file: &str, header: &[String], cols: &Columns, row: &Row) -> Result<Layer, CompileError> {
    let cells = Cells { file, header, row };
    let name = row.get(cols.name).to_string();
    if name.is_empty() {
        return Err(CompileError::value(cells.loc(cols.name), "the layer name is empty"));
    }
    let kind_text = row.get(cols.kind).to_ascii_lowercase();
    let c_in = cells.positive(Some(cols.c_in), None, "C_in")?;
    let c_out = cells.positive(Some(cols.c_out), None, "C_out")?;
    let h_out = cells.positive(Some(cols.h_out), None, "H_out")?;
    let w_out = cells.positive(Some(cols.w_out), None, "W_out")?;
    let tokens = cells.positive(cols.tokens, Some(1), "tokens")?;
    let loc = cells.loc(cols.name);
    let (kind, in_shape, out_shape, k, groups) = match kind_text.as_str() {
        "conv" | "conv2d" | "convolution" | "dwconv" | "depthwise" => {
            let depthwise = matches!(kind_text.as_str(), "dwconv" | "depthwise");
            let r = cells.positive(cols.r, None, "R")?;
            let s = cells.positive(cols.s, None, "S")?;
            let stride = (
                cells.positive(cols.stride_h, Some(1), "stride_h")?,
                cells.positive(cols.stride_w, Some(1), "stride_w")?,
            );
            let pad = (cells.uint(cols.pad_h, Some(0), "pad_h")?, cells.uint(cols.pad_w, Some(0), "pad_w")?);
            let groups = cells.positive(cols.groups, Some(if depthwise { c_in } else { 1 }), "groups")?;
            if c_in % groups != 0 || c_out % groups != 0 {
                let at = cols.groups.map_or_else(|| loc.clone(), |c| cells.loc(c));
                return Err(CompileError::value(
                    at,
                    format!("groups={groups} must divide C_in={c_in} and C_out={c_out}"),
                ));
            }
            if tokens != 1 {
                return Err(CompileError::value(
                    cols.tokens.map_or_else(|| loc.clone(), |c| cells.loc(c)),
                    "a conv row must have tokens=1",
                ));
            }
            // Without H_in/W_in, assume the effective input the output needs.
            let eff = |o: u64, st: u64, k: u64, p: u64| {
                o.saturating_sub(1).saturating_mul(st).saturating_add(k).saturating_sub(p.saturating_mul(2)).max(1)
            };
            let h_in = cells.positive(cols.h_in, Some(eff(h_out, stride.0, r, pad.0)), "H_in")?;
            let w_in = cells.positive(cols.w_in, Some(eff(w_out, stride.1, s, pad.1)), "W_in")?;
            let k = mul(mul(c_in / groups, r, &loc, "C_in·R·S")?, s, &loc, "C_in·R·S")?;
            let spec = ConvSpec { c_in, c_out, kernel: (r, s), stride, pad, groups };
            (
                LayerKind::Conv(spec),
                Shape::Map { c: c_in, h: h_in, w: w_in },
                Shape::Map { c: c_out, h: h_out, w: w_out },
                k,
                groups,
            )
        }
        "linear" | "fc" | "dense" => {
            let groups = cells.positive(cols.groups, Some(1), "groups")?;
            if groups != 1 {
                return Err(CompileError::value(
                    cols.groups.map_or_else(|| loc.clone(), |c| cells.loc(c)),
                    "a linear row must have groups=1",
                ));
            }
            let positions = mul(mul(h_out, w_out, &loc, "positions")?, tokens, &loc, "positions")?;
            let (in_shape, out_shape) = if tokens > 1 {
                (Shape::Seq { tokens: positions, dim: c_in }, Shape::Seq { tokens: positions, dim: c_out })
            } else {
                let h_in = cells.positive(cols.h_in, Some(h_out), "H_in")?;
                let w_in = cells.positive(cols.w_in, Some(w_out), "W_in")?;
                (Shape::Map { c: c_in, h: h_in, w: w_in }, Shape::Map { c: c_out, h: h_out, w: w_out })
            };
            let spec = LinearSpec { in_features: c_in, out_features: c_out };
            (LayerKind::Linear(spec), in_shape, out_shape, c_in, 1)
        }
        _ => {
            return Err(CompileError::value(
                cells.loc(cols.kind),
                format!("unknown layer kind `{}` (a layer table holds `conv` or `linear` rows)", row.get(cols.kind)),
            ));
        }
    };
    let layer =
        Layer { name, kind, inputs: Vec::new(), in_shape, out_shape, nm: NmOverride::Inherit, origin: loc.clone() };
    // Cross-check the derived columns the table carries.
    let m = layer.out_positions();
    let macs = mul(mul(m, c_out, &loc, "macs")?, k, &loc, "macs")?;
    let params = mul(c_out, k, &loc, "weight_params")?;
    check_eq(&cells, cols.gemm_m, "gemm_M", &[m])?;
    check_eq(&cells, cols.gemm_k, "gemm_K", &[k])?;
    check_eq(&cells, cols.gemm_n, "gemm_N", &[c_out, c_out / groups])?;
    check_eq(&cells, cols.macs, "macs", &[macs])?;
    check_eq(&cells, cols.weight_params, "weight_params", &[params])?;
    Ok(layer)
}

fn model_name(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let base = base.strip_prefix("builtin:").unwrap_or(base);
    base.split('.').next().unwrap_or(base).to_string()
}

/// Parses a layer table. `file` names the source in errors (a path or `builtin:NAME`).
pub fn parse(file: &str, text: &str) -> Result<Model, CompileError> {
    let table = csv::parse(text)
        .ok_or_else(|| CompileError::syntax(Location::File { file: file.to_string() }, "the file is empty"))?;
    let cols = columns(file, &table)?;
    if table.rows.is_empty() {
        return Err(CompileError::value(Location::cell(file, table.header_line, "layer"), "the table has no layers"));
    }
    let mut layers: Vec<Layer> = Vec::with_capacity(table.rows.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in &table.rows {
        let mut layer = row_layer(file, &table.header, &cols, row)?;
        if let Some(first) = seen.insert(layer.name.clone(), row.line) {
            return Err(CompileError::value(
                layer.origin.clone(),
                format!("layer `{}` is defined twice (also on row {first})", layer.name),
            ));
        }
        layer.inputs = vec![chain_input(layers.len())];
        layers.push(layer);
    }
    Ok(Model {
        name: model_name(file),
        source: file.to_string(),
        input: layers[0].in_shape,
        layers,
        connectivity: Connectivity::TableOrder,
        pass_file: None,
        notes: Vec::new(),
    })
}

pub(crate) fn chain_input(index: usize) -> Input {
    if index == 0 { Input::Model } else { Input::Layer(LayerId(index as u32 - 1)) }
}

/// Parses a layer table and adds the attention matmuls of its forward GEMM
/// list (`name,M,N,K,count`, the `.gemm.csv` of `data/models/`): rows whose
/// name is not a layer of the table and contains `qk_t` (`M=T_q, N=T_k,
/// K=head_dim, count=heads`) or `attn_v` (`M=T_q, N=head_dim, K=T_k`). The
/// model's layers then follow the GEMM list's order.
pub fn parse_with_attention(
    file: &str,
    layers_text: &str,
    gemm_file: &str,
    gemm_text: &str,
) -> Result<Model, CompileError> {
    let mut model = parse(file, layers_text)?;
    let table = csv::parse(gemm_text)
        .ok_or_else(|| CompileError::syntax(Location::File { file: gemm_file.to_string() }, "the file is empty"))?;
    let col = |names: &[&str], what: &str| {
        table.column(|h| names.contains(&h)).ok_or_else(|| {
            CompileError::syntax(Location::cell(gemm_file, table.header_line, what), format!("no `{what}` column"))
        })
    };
    let (cn, cm, cnn, ck, cc) = (
        col(&["name", "layer"], "name")?,
        col(&["m"], "M")?,
        col(&["n"], "N")?,
        col(&["k"], "K")?,
        col(&["count"], "count")?,
    );
    let mut by_name: HashMap<String, Layer> = model.layers.drain(..).map(|l| (l.name.clone(), l)).collect();
    let mut layers = Vec::new();
    for row in &table.rows {
        let cells = Cells { file: gemm_file, header: &table.header, row };
        let name = row.get(cn);
        if let Some(l) = by_name.remove(name) {
            layers.push(l);
            continue;
        }
        let (m, n, k, count) = (
            cells.positive(Some(cm), None, "M")?,
            cells.positive(Some(cnn), None, "N")?,
            cells.positive(Some(ck), None, "K")?,
            cells.positive(Some(cc), Some(1), "count")?,
        );
        let loc = cells.loc(cn);
        let spec = if name.contains("qk_t") {
            AttnSpec { op: AttnOp::QkT, heads: count, head_dim: k, tokens_q: m, tokens_k: n }
        } else if name.contains("attn_v") {
            AttnSpec { op: AttnOp::AttnV, heads: count, head_dim: n, tokens_q: m, tokens_k: k }
        } else {
            return Err(CompileError::value(
                loc,
                format!("`{name}` is neither a layer of {file} nor an attention matmul"),
            ));
        };
        let dim = mul(spec.heads, spec.head_dim, &loc, "heads·head_dim")?;
        let scores = Shape::Heads { heads: spec.heads, rows: spec.tokens_q, cols: spec.tokens_k };
        let seq = |t: u64, d: u64| Shape::Seq { tokens: t, dim: d };
        let (in_shape, out_shape) = match spec.op {
            AttnOp::QkT => (seq(spec.tokens_q, mul(dim, 3, &loc, "qkv width")?), scores),
            AttnOp::AttnV => (scores, seq(spec.tokens_q, dim)),
        };
        layers.push(Layer {
            name: name.to_string(),
            kind: LayerKind::AttnMatmul(spec),
            inputs: Vec::new(),
            in_shape,
            out_shape,
            nm: NmOverride::Inherit,
            origin: loc,
        });
    }
    if let Some(missing) = model_order_missing(&by_name) {
        return Err(CompileError::value(
            Location::File { file: gemm_file.to_string() },
            format!("layer `{missing}` of {file} is missing from the GEMM list"),
        ));
    }
    for (i, l) in layers.iter_mut().enumerate() {
        l.inputs = vec![chain_input(i)];
    }
    model.input = layers.first().map_or(model.input, |l| l.in_shape);
    model.layers = layers;
    Ok(model)
}

fn model_order_missing(left: &HashMap<String, Layer>) -> Option<String> {
    left.keys().min().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "layer,type,C_in,H_in,W_in,C_out,H_out,W_out,R,S,stride_h,stride_w,pad_h,pad_w,groups,tokens,gemm_M,gemm_N,gemm_K,macs,weight_params\n";

    #[test]
    fn parses_conv_and_linear_rows() {
        let text = format!(
            "{HEADER}conv1,conv,1,8,8,16,8,8,3,3,1,1,1,1,1,1,64,16,9,9216,144\nfc,linear,1024,1,1,10,1,1,1,1,1,1,0,0,1,1,1,10,1024,10240,10240\n"
        );
        let m = parse("t.layers.csv", &text).unwrap();
        assert_eq!(m.name, "t");
        assert_eq!(m.layers.len(), 2);
        assert_eq!(m.layers[0].out_positions(), 64);
        assert_eq!(m.layers[1].inputs, vec![Input::Layer(LayerId(0))]);
        assert_eq!(m.weight_params(), 144 + 10240);
    }

    #[test]
    fn minimal_columns_and_grouped_convs() {
        let m = parse("g.csv", "layer,type,C_in,C_out,H_out,W_out,R,S,groups\ndw,conv,32,32,8,8,3,3,32\n").unwrap();
        assert_eq!(m.layers[0].weight_params(), 32 * 9);
        let e = parse("g.csv", "layer,type,C_in,C_out,H_out,W_out,R,S,groups\ndw,conv,32,30,8,8,3,3,4\n").unwrap_err();
        assert!(e.to_string().contains("row 2, field `groups`"), "{e}");
    }

    #[test]
    fn reports_row_and_field() {
        let cases = [
            ("x,pool,1,8,8,16,8,8,3,3,1,1,1,1,1,1,,,,,", "field `type`", "unknown layer kind `pool`"),
            ("x,conv,0,8,8,16,8,8,3,3,1,1,1,1,1,1,,,,,", "field `C_in`", "at least 1"),
            ("x,conv,-3,8,8,16,8,8,3,3,1,1,1,1,1,1,,,,,", "field `C_in`", "negative"),
            ("x,conv,1,8,8,16,8,8,3,3,1,1,1,1,1,1,64,16,9,9000,", "field `macs`", "9216"),
            ("x,conv,1,8,8,16,8,8,3,three,1,1,1,1,1,1,,,,,", "field `S`", "not a non-negative integer"),
        ];
        for (row, field, msg) in cases {
            let e = parse("t.csv", &format!("{HEADER}{row}\n")).unwrap_err().to_string();
            assert!(e.contains("t.csv: row 2") && e.contains(field) && e.contains(msg), "{row}: {e}");
        }
        let e = parse("t.csv", "layer,C_in\n").unwrap_err().to_string();
        assert!(e.contains("no `type` column"), "{e}");
        let e = parse("t.csv", HEADER).unwrap_err().to_string();
        assert!(e.contains("no layers"), "{e}");
    }

    #[test]
    fn parse_uint_messages() {
        assert_eq!(parse_uint(" 42 "), Ok(42));
        assert_eq!(parse_uint("64.0"), Ok(64));
        assert!(parse_uint("-1").unwrap_err().contains("negative"));
        assert!(parse_uint("1e3").is_err());
        assert!(parse_uint("99999999999999999999999").unwrap_err().contains("too large"));
    }
}
