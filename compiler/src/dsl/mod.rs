//! The nmsat model language (`.nm`): a small readable description of a
//! network, documented with its grammar in `docs/model-language.md`.
//!
//! [`parse`] turns the text into a [`Model`]: the syntax is parsed with nom
//! (`parse.rs`), then statements are elaborated here — repeats unrolled,
//! `$var` substituted in names, names prefixed by their `block`/`residual`,
//! shapes inferred and checked layer by layer. Every error names the file,
//! line and column of the statement or value at fault.

mod parse;

use std::collections::{BTreeMap, HashMap};

use nmsat_dataflow::NmPattern;

use crate::error::{CompileError, Location};
use crate::model::{
    AttnOp, AttnSpec, Connectivity, ConvSpec, Input, Layer, LayerId, LayerKind, LinearSpec, Model, NmOverride, PoolOp,
    PoolSpec, Shape, VectorOp,
};
use parse::{Atom, Attr, Pos, Stmt};

/// Most layers one model may expand to (bounds `repeat` on hostile input).
pub const MAX_LAYERS: usize = 100_000;

/// The layer kinds the language knows, for messages.
pub const LAYER_KINDS: &[&str] = &[
    "conv",
    "linear",
    "maxpool",
    "avgpool",
    "globalavgpool",
    "globalmaxpool",
    "relu",
    "gelu",
    "softmax",
    "norm",
    "flatten",
    "attention",
];

/// Parses `.nm` source. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Model, CompileError> {
    let ast = parse::model(text).map_err(|e| {
        CompileError::syntax(Location::at_offset(file, text, text.len().saturating_sub(e.at.len())), e.msg)
    })?;
    let mut el = Elab { file, text, layers: Vec::new(), names: HashMap::new(), counters: BTreeMap::new(), input: None };
    let mut vars = Vec::new();
    let end = el.stmts(&ast.body, "", &mut vars, None, true)?;
    let input = el.input.ok_or_else(|| el.err_value(ast.name.at, "the model has no `input` statement"))?;
    if end.is_none() || el.layers.is_empty() {
        return Err(el.err_value(ast.name.at, "the model has no layers"));
    }
    Ok(Model {
        name: ast.name.text.clone(),
        source: file.to_string(),
        input,
        layers: el.layers,
        connectivity: Connectivity::Exact,
        pass_file: None,
        notes: Vec::new(),
    })
}

/// The tensor flowing out of the statements so far.
#[derive(Debug, Clone, Copy)]
struct Cur {
    src: Input,
    shape: Shape,
}

struct Elab<'a> {
    file: &'a str,
    text: &'a str,
    layers: Vec<Layer>,
    names: HashMap<String, Pos>,
    counters: BTreeMap<&'static str, u64>,
    input: Option<Shape>,
}

impl Elab<'_> {
    fn loc(&self, at: Pos) -> Location {
        Location::at_offset(self.file, self.text, self.text.len().saturating_sub(at.0))
    }

    fn err_value(&self, at: Pos, msg: impl Into<String>) -> CompileError {
        CompileError::value(self.loc(at), msg)
    }

    fn err_shape(&self, at: Pos, msg: impl Into<String>) -> CompileError {
        CompileError::shape(self.loc(at), msg)
    }

    /// Substitutes `$var` in a name.
    fn subst(&self, a: &Atom, vars: &[(String, u64)]) -> Result<String, CompileError> {
        let mut out = String::new();
        let mut rest = a.text.as_str();
        while let Some(p) = rest.find('$') {
            out.push_str(&rest[..p]);
            let after = &rest[p + 1..];
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            let var = &after[..len];
            let Some((_, v)) = vars.iter().rev().find(|(n, _)| n == var) else {
                return Err(self.err_value(a.at, format!("`${var}` in `{}` is not a repeat variable in scope", a.text)));
            };
            out.push_str(&v.to_string());
            rest = &after[len..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn auto_name(&mut self, kind: &'static str) -> String {
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        format!("{kind}{n}")
    }

    fn push(&mut self, layer: Layer, at: Pos) -> Result<Cur, CompileError> {
        if self.layers.len() >= MAX_LAYERS {
            return Err(self.err_value(at, format!("the model expands to more than {MAX_LAYERS} layers")));
        }
        if let Some(prev) = self.names.get(&layer.name) {
            let prev = self.loc(*prev);
            return Err(self.err_value(at, format!("layer name `{}` is already used (at {prev})", layer.name)));
        }
        self.names.insert(layer.name.clone(), at);
        let id = LayerId(self.layers.len() as u32);
        let shape = layer.out_shape;
        self.layers.push(layer);
        Ok(Cur { src: Input::Layer(id), shape })
    }

    fn stmts(
        &mut self,
        body: &[Stmt],
        prefix: &str,
        vars: &mut Vec<(String, u64)>,
        mut cur: Option<Cur>,
        top: bool,
    ) -> Result<Option<Cur>, CompileError> {
        for s in body {
            cur = self.stmt(s, prefix, vars, cur, top)?;
        }
        Ok(cur)
    }

    fn prefixed(&self, prefix: &str, name: &Option<Atom>, vars: &[(String, u64)]) -> Result<String, CompileError> {
        match name {
            Some(a) => Ok(format!("{prefix}{}.", self.subst(a, vars)?)),
            None => Ok(prefix.to_string()),
        }
    }

    fn stmt(
        &mut self,
        s: &Stmt,
        prefix: &str,
        vars: &mut Vec<(String, u64)>,
        cur: Option<Cur>,
        top: bool,
    ) -> Result<Option<Cur>, CompileError> {
        match s {
            Stmt::Op { kw, name, attrs } if kw.text == "input" => {
                if !top || cur.is_some() || self.input.is_some() {
                    return Err(self.err_value(kw.at, "`input` must come once, first, at the top of the model"));
                }
                let shape = self.input_shape(kw, name.as_ref(), attrs)?;
                self.input = Some(shape);
                Ok(Some(Cur { src: Input::Model, shape }))
            }
            Stmt::Op { kw, name, attrs } => {
                let Some(c) = cur else {
                    return Err(self.err_value(kw.at, "a layer comes before the model's `input` statement"));
                };
                self.layer(kw, name.as_ref(), attrs, prefix, vars, c).map(Some)
            }
            Stmt::Block { name, body, .. } => {
                let p = self.prefixed(prefix, &Some(name.clone()), vars)?;
                self.stmts(body, &p, vars, cur, false)
            }
            Stmt::Repeat { at, var, from, to, body } => {
                if to < from {
                    return Err(self.err_value(*at, format!("empty range {from}..{to}")));
                }
                let n = to - from;
                if n > MAX_LAYERS as u64 {
                    return Err(self.err_value(*at, format!("repeat count {n} is above {MAX_LAYERS}")));
                }
                let mut c = cur;
                for v in *from..*to {
                    if let Some(var) = var {
                        vars.push((var.text.clone(), v));
                    }
                    let r = self.stmts(body, prefix, vars, c, false);
                    if var.is_some() {
                        vars.pop();
                    }
                    c = r?;
                }
                Ok(c)
            }
            Stmt::Residual { at, name, body, shortcut } => {
                let Some(x) = cur else {
                    return Err(self.err_value(*at, "a residual block comes before the model's `input` statement"));
                };
                let p = self.prefixed(prefix, name, vars)?;
                let b = self.stmts(body, &p, vars, Some(x), false)?.unwrap_or(x);
                let sc = match shortcut {
                    None => x,
                    Some((sname, sbody)) => {
                        let sp = self.prefixed(&p, sname, vars)?;
                        self.stmts(sbody, &sp, vars, Some(x), false)?.unwrap_or(x)
                    }
                };
                let add_name = match name {
                    Some(_) => format!("{p}add"),
                    None => format!("{prefix}{}", self.auto_name("add")),
                };
                if b.shape != sc.shape {
                    return Err(self.err_shape(
                        *at,
                        format!(
                            "residual `{}`: the body gives {} but the shortcut gives {}; they must match to be added",
                            add_name.trim_end_matches(".add"),
                            b.shape,
                            sc.shape
                        ),
                    ));
                }
                let layer = Layer {
                    name: add_name,
                    kind: LayerKind::Add,
                    inputs: vec![b.src, sc.src],
                    in_shape: b.shape,
                    out_shape: b.shape,
                    nm: NmOverride::Inherit,
                    origin: self.loc(*at),
                };
                self.push(layer, *at).map(Some)
            }
        }
    }

    fn input_shape(&self, kw: &Atom, dims: Option<&Atom>, attrs: &[Attr]) -> Result<Shape, CompileError> {
        if let Some(d) = dims {
            if let Some(a) = attrs.first() {
                return Err(self.err_value(a.key.at, "`input` takes either CxHxW (or N) or tokens=T dim=D, not both"));
            }
            let parts: Vec<&str> = d.text.split('x').collect();
            let mut v = Vec::new();
            for p in &parts {
                v.push(positive_text(p).map_err(|m| self.err_value(d.at, format!("input shape `{}`: {m}", d.text)))?);
            }
            return match v.as_slice() {
                [n] => Ok(Shape::vector(*n)),
                [c, h, w] => Ok(Shape::Map { c: *c, h: *h, w: *w }),
                _ => Err(self.err_value(
                    d.at,
                    format!("input shape `{}`: expected N (features) or CxHxW, or use `input tokens=T dim=D`", d.text),
                )),
            };
        }
        let a = Attrs::new(self, "input", attrs, &["tokens", "dim"])?;
        let tokens = a
            .positive(self, "tokens")?
            .ok_or_else(|| self.err_value(kw.at, "`input` needs CxHxW, N, or tokens=T dim=D"))?;
        let dim = a.positive(self, "dim")?.ok_or_else(|| self.err_value(kw.at, "`input tokens=T` also needs dim=D"))?;
        Ok(Shape::Seq { tokens, dim })
    }

    #[allow(clippy::too_many_lines)]
    fn layer(
        &mut self,
        kw: &Atom,
        name: Option<&Atom>,
        attrs: &[Attr],
        prefix: &str,
        vars: &[(String, u64)],
        x: Cur,
    ) -> Result<Cur, CompileError> {
        let kind_name: &'static str = match LAYER_KINDS.iter().find(|k| **k == kw.text) {
            Some(k) => k,
            None => {
                return Err(self.err_value(
                    kw.at,
                    format!("unknown layer kind `{}`; expected one of: {}", kw.text, LAYER_KINDS.join(", ")),
                ));
            }
        };
        let full = match name {
            Some(a) => format!("{prefix}{}", self.subst(a, vars)?),
            // An unnamed attention puts its qk_t/softmax/attn_v right under the prefix.
            None if kind_name == "attention" => prefix.to_string(),
            None => format!("{prefix}{}", self.auto_name(kind_name)),
        };
        let sub = |s: &str| if name.is_some() { format!("{full}.{s}") } else { format!("{full}{s}") };
        let at = kw.at;
        let origin = self.loc(at);
        let allowed: &[&str] = match kind_name {
            "conv" => &["out", "in", "k", "stride", "pad", "groups", "nm"],
            "linear" => &["out", "in", "nm"],
            "maxpool" | "avgpool" => &["k", "stride", "pad"],
            "attention" => &["heads"],
            _ => &[],
        };
        let a = Attrs::new(self, kind_name, attrs, allowed)?;
        let nm = a.nm(self)?;
        let mk = |kind: LayerKind, out_shape: Shape, inputs: Vec<Input>| Layer {
            name: full.clone(),
            kind,
            inputs,
            in_shape: x.shape,
            out_shape,
            nm,
            origin: origin.clone(),
        };
        match kind_name {
            "conv" => {
                let Shape::Map { c, h, w } = x.shape else {
                    return Err(self.err_shape(at, format!("conv `{full}` needs a CxHxW feature map, got {}", x.shape)));
                };
                if let Some(cin) = a.positive(self, "in")?
                    && cin != c
                {
                    return Err(self.err_shape(
                        a.at("in").unwrap_or(at),
                        format!("conv `{full}` expects in={cin} channels but its input has {c} ({})", x.shape),
                    ));
                }
                let out =
                    a.positive(self, "out")?.ok_or_else(|| self.err_value(at, format!("conv `{full}` needs out=C")))?;
                let kernel = a
                    .pair(self, "k", true)?
                    .ok_or_else(|| self.err_value(at, format!("conv `{full}` needs k=R or k=RxS")))?;
                let stride = a.pair(self, "stride", true)?.unwrap_or((1, 1));
                let pad = a.pair(self, "pad", false)?.unwrap_or((0, 0));
                let groups = a.positive(self, "groups")?.unwrap_or(1);
                if c % groups != 0 || out % groups != 0 {
                    return Err(self.err_value(
                        a.at("groups").unwrap_or(at),
                        format!("groups={groups} must divide the input channels ({c}) and out ({out})"),
                    ));
                }
                let ho = window_out(h, kernel.0, stride.0, pad.0).ok_or_else(|| {
                    self.err_shape(
                        at,
                        format!("conv `{full}`: a {}x{} kernel does not fit the {} input", kernel.0, kernel.1, x.shape),
                    )
                })?;
                let wo = window_out(w, kernel.1, stride.1, pad.1).ok_or_else(|| {
                    self.err_shape(
                        at,
                        format!("conv `{full}`: a {}x{} kernel does not fit the {} input", kernel.0, kernel.1, x.shape),
                    )
                })?;
                let spec = ConvSpec { c_in: c, c_out: out, kernel, stride, pad, groups };
                let l = mk(LayerKind::Conv(spec), Shape::Map { c: out, h: ho, w: wo }, vec![x.src]);
                self.push(l, at)
            }
            "linear" => {
                let (features, out_shape_of): (u64, Box<dyn Fn(u64) -> Shape>) = match x.shape {
                    Shape::Map { c, h: 1, w: 1 } => (c, Box::new(Shape::vector)),
                    Shape::Seq { tokens, dim } => (dim, Box::new(move |o| Shape::Seq { tokens, dim: o })),
                    other => {
                        return Err(self.err_shape(
                            at,
                            format!("linear `{full}` needs a flat vector or a token sequence, got {other} (add `flatten` first)"),
                        ));
                    }
                };
                if let Some(fin) = a.positive(self, "in")?
                    && fin != features
                {
                    return Err(self.err_shape(
                        a.at("in").unwrap_or(at),
                        format!("linear `{full}` expects in={fin} features but its input has {features}"),
                    ));
                }
                let out = a
                    .positive(self, "out")?
                    .ok_or_else(|| self.err_value(at, format!("linear `{full}` needs out=F")))?;
                let spec = LinearSpec { in_features: features, out_features: out };
                let l = mk(LayerKind::Linear(spec), out_shape_of(out), vec![x.src]);
                self.push(l, at)
            }
            "maxpool" | "avgpool" | "globalavgpool" | "globalmaxpool" => {
                let Shape::Map { c, h, w } = x.shape else {
                    return Err(
                        self.err_shape(at, format!("{kind_name} `{full}` needs a CxHxW feature map, got {}", x.shape))
                    );
                };
                let op = if kind_name.contains("max") { PoolOp::Max } else { PoolOp::Avg };
                let spec = if kind_name.starts_with("global") {
                    PoolSpec { op, kernel: (h, w), stride: (h, w), pad: (0, 0), global: true }
                } else {
                    let kernel = a
                        .pair(self, "k", true)?
                        .ok_or_else(|| self.err_value(at, format!("{kind_name} `{full}` needs k=R")))?;
                    let stride = a.pair(self, "stride", true)?.unwrap_or(kernel);
                    let pad = a.pair(self, "pad", false)?.unwrap_or((0, 0));
                    PoolSpec { op, kernel, stride, pad, global: false }
                };
                let ho = window_out(h, spec.kernel.0, spec.stride.0, spec.pad.0);
                let wo = window_out(w, spec.kernel.1, spec.stride.1, spec.pad.1);
                let (Some(ho), Some(wo)) = (ho, wo) else {
                    return Err(self.err_shape(
                        at,
                        format!("{kind_name} `{full}`: the window does not fit the {} input", x.shape),
                    ));
                };
                let l = mk(LayerKind::Pool(spec), Shape::Map { c, h: ho, w: wo }, vec![x.src]);
                self.push(l, at)
            }
            "relu" | "gelu" | "softmax" | "norm" => {
                let op = match kind_name {
                    "relu" => VectorOp::Relu,
                    "gelu" => VectorOp::Gelu,
                    "softmax" => VectorOp::Softmax,
                    _ => VectorOp::Norm,
                };
                let l = mk(LayerKind::Vector { op }, x.shape, vec![x.src]);
                self.push(l, at)
            }
            "flatten" => {
                let n =
                    x.shape.elements().ok_or_else(|| CompileError::overflow(origin.clone(), "flatten overflows"))?;
                let l = mk(LayerKind::Flatten, Shape::vector(n), vec![x.src]);
                self.push(l, at)
            }
            _ => {
                // attention: qkv [T, 3·d] → softmax(Q·Kᵀ) · V → [T, d]
                let Shape::Seq { tokens, dim } = x.shape else {
                    return Err(self.err_shape(
                        at,
                        format!("attention `{full}` needs a token sequence (the qkv projection), got {}", x.shape),
                    ));
                };
                let heads = a
                    .positive(self, "heads")?
                    .ok_or_else(|| self.err_value(at, format!("attention `{full}` needs heads=H")))?;
                if dim % 3 != 0 || (dim / 3) % heads != 0 {
                    return Err(self.err_shape(
                        at,
                        format!("attention `{full}`: its input width {dim} must be 3·heads·head_dim (q, k and v) with heads={heads}"),
                    ));
                }
                let d = dim / 3;
                let spec = |op| AttnSpec { op, heads, head_dim: d / heads, tokens_q: tokens, tokens_k: tokens };
                let scores = Shape::Heads { heads, rows: tokens, cols: tokens };
                let qk = Layer {
                    name: sub("qk_t"),
                    kind: LayerKind::AttnMatmul(spec(AttnOp::QkT)),
                    inputs: vec![x.src],
                    in_shape: x.shape,
                    out_shape: scores,
                    nm: NmOverride::Inherit,
                    origin: origin.clone(),
                };
                let s = self.push(qk, at)?;
                let sm = Layer {
                    name: sub("softmax"),
                    kind: LayerKind::Vector { op: VectorOp::Softmax },
                    inputs: vec![s.src],
                    in_shape: scores,
                    out_shape: scores,
                    nm: NmOverride::Inherit,
                    origin: origin.clone(),
                };
                let s = self.push(sm, at)?;
                let av = Layer {
                    name: sub("attn_v"),
                    kind: LayerKind::AttnMatmul(spec(AttnOp::AttnV)),
                    inputs: vec![s.src, x.src],
                    in_shape: scores,
                    out_shape: Shape::Seq { tokens, dim: d },
                    nm: NmOverride::Inherit,
                    origin,
                };
                self.push(av, at)
            }
        }
    }
}

/// Output size of a sliding window, `None` when it does not fit or overflows.
fn window_out(i: u64, k: u64, s: u64, p: u64) -> Option<u64> {
    let padded = i.checked_add(p.checked_mul(2)?)?;
    if padded < k || s == 0 {
        return None;
    }
    Some((padded - k) / s + 1)
}

fn positive_text(t: &str) -> Result<u64, String> {
    if t.starts_with('-') {
        return Err(format!("`{t}` is negative; sizes must be positive integers"));
    }
    let v: u64 = t.parse().map_err(|_| format!("`{t}` is not a positive integer"))?;
    if v == 0 {
        return Err("sizes must be at least 1, got 0".to_string());
    }
    Ok(v)
}

/// The `key=value` attributes of one statement, checked against what the kind accepts.
struct Attrs<'a> {
    map: Vec<&'a Attr>,
}

impl<'a> Attrs<'a> {
    fn new(el: &Elab<'_>, kind: &str, attrs: &'a [Attr], allowed: &[&str]) -> Result<Self, CompileError> {
        let mut map: Vec<&Attr> = Vec::new();
        for a in attrs {
            if !allowed.contains(&a.key.text.as_str()) {
                let expect = if allowed.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!("expected {}", allowed.join(", "))
                };
                let why = if a.key.text == "nm" { "; nm= applies only to conv and linear layers" } else { "" };
                return Err(
                    el.err_value(a.key.at, format!("unknown attribute `{}` for {kind} ({expect}){why}", a.key.text))
                );
            }
            if map.iter().any(|b| b.key.text == a.key.text) {
                return Err(el.err_value(a.key.at, format!("attribute `{}` is given twice", a.key.text)));
            }
            map.push(a);
        }
        Ok(Self { map })
    }

    fn get(&self, key: &str) -> Option<&'a Attr> {
        self.map.iter().copied().find(|a| a.key.text == key)
    }

    fn at(&self, key: &str) -> Option<Pos> {
        self.get(key).map(|a| a.value.at)
    }

    fn positive(&self, el: &Elab<'_>, key: &str) -> Result<Option<u64>, CompileError> {
        let Some(a) = self.get(key) else { return Ok(None) };
        positive_text(&a.value.text)
            .map(Some)
            .map_err(|m| el.err_value(a.value.at, format!("{key}={}: {m}", a.value.text)))
    }

    /// `N` or `AxB`; zero allowed only when `!positive` (padding).
    fn pair(&self, el: &Elab<'_>, key: &str, positive: bool) -> Result<Option<(u64, u64)>, CompileError> {
        let Some(a) = self.get(key) else { return Ok(None) };
        let t = a.value.text.as_str();
        let one = |s: &str| -> Result<u64, CompileError> {
            let r = if positive {
                positive_text(s)
            } else if s.starts_with('-') {
                Err(format!("`{s}` is negative"))
            } else {
                s.parse::<u64>().map_err(|_| format!("`{s}` is not a non-negative integer"))
            };
            r.map_err(|m| el.err_value(a.value.at, format!("{key}={t}: {m}")))
        };
        match t.split_once('x') {
            Some((h, w)) => Ok(Some((one(h)?, one(w)?))),
            None => {
                let v = one(t)?;
                Ok(Some((v, v)))
            }
        }
    }

    fn nm(&self, el: &Elab<'_>) -> Result<NmOverride, CompileError> {
        let Some(a) = self.get("nm") else { return Ok(NmOverride::Inherit) };
        if a.value.text == "dense" {
            return Ok(NmOverride::Dense);
        }
        let p: NmPattern = a
            .value
            .text
            .parse()
            .map_err(|e| el.err_value(a.value.at, format!("nm={}: {e} (or nm=dense)", a.value.text)))?;
        Ok(NmOverride::Pattern(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse("t.nm", src).unwrap_err().to_string()
    }

    #[test]
    fn infers_shapes_and_names() {
        let m = parse(
            "t.nm",
            "model t {\n input 1x8x8\n conv c1 out=4 k=3 pad=1\n relu\n maxpool k=2\n flatten\n linear fc out=10 nm=dense\n}\n",
        )
        .unwrap();
        let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["c1", "relu1", "maxpool1", "flatten1", "fc"]);
        assert_eq!(m.layers[2].out_shape, Shape::Map { c: 4, h: 4, w: 4 });
        assert_eq!(m.layers[4].in_shape, Shape::vector(64));
        assert_eq!(m.layers[4].nm, NmOverride::Dense);
        assert_eq!(m.connectivity, Connectivity::Exact);
    }

    #[test]
    fn residual_repeat_and_attention() {
        let m = parse(
            "t.nm",
            "model t {\n input 8x4x4\n repeat i in 0..2 {\n  residual b$i {\n   conv c out=8 k=3 pad=1\n  }\n }\n residual d { conv c out=16 k=1 stride=2 } shortcut s { conv 0 out=16 k=1 stride=2 }\n}\n",
        )
        .unwrap();
        let names: Vec<&str> = m.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["b0.c", "b0.add", "b1.c", "b1.add", "d.c", "d.s.0", "d.add"]);
        assert_eq!(m.layers[1].inputs, vec![Input::Layer(LayerId(0)), Input::Model]);
        let v = parse(
            "v.nm",
            "model v {\n input tokens=4 dim=8\n linear qkv out=24\n attention attn heads=2\n linear proj out=8\n}",
        )
        .unwrap();
        assert_eq!(v.layers[3].out_shape, Shape::Seq { tokens: 4, dim: 8 });
        assert_eq!(v.layers[3].inputs.len(), 2);
    }

    #[test]
    fn errors_name_the_place() {
        assert!(err("model x {\n  input 3x32x32\n  pool p k=2\n}").starts_with("t.nm:3:3: unknown layer kind `pool`"));
        assert!(err("model x {\n  input 3x32x32\n  conv c out=-4 k=3\n}").contains("t.nm:3:14"));
        assert!(err("model x {\n  input 3x32x32\n  conv c out=0 k=3\n}").contains("at least 1"));
        assert!(err("model x {\n  input 3x8x8\n  linear f out=4\n}").contains("shape mismatch"));
        assert!(err("model x {\n  input 3x8x8\n  conv a out=4 k=1\n  conv b in=3 out=4 k=1\n}").contains("t.nm:4:13"));
        assert!(err("model x {\n input 3x8x8\n residual r { conv a out=4 k=1 }\n}").contains("residual `r`"));
        assert!(err("model x {\n input 3x8x8\n conv a out=4 k=1\n conv a out=4 k=1\n}").contains("already used"));
        assert!(err("model x {\n conv a out=4 k=1\n}").contains("before the model's `input`"));
        assert!(err("model x {\n input 3x8x8\n relu nm=2:4\n}").contains("only to conv and linear"));
        assert!(err("model x {\n input 3x8x8\n conv a out=4 k=1 nm=3:5\n}").contains("nm=3:5"));
        assert!(err("model x {\n input 3x8x8\n conv a$j out=4 k=1\n}").contains("`$j`"));
        assert!(err("model x {\n input 3x8x8\n repeat 200000 { relu }\n}").contains("100000"));
        assert!(err("model x {\n input 3x2x2\n conv a out=4 k=5\n}").contains("does not fit"));
        assert!(
            err("model x {\n input 3x32x32\n conv c1 out=16 k=3\n")
                .contains("t.nm:1:9: syntax error: unterminated block")
        );
    }
}
