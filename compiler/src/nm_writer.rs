//! Writes a [`Model`] as a `.nm` file (the model language of
//! `docs/model-language.md`), so an imported model (ONNX) can be read,
//! edited and compiled as text: compiling the written file gives the same
//! GEMMs as the model.
//!
//! The language expresses chains of layers, residual blocks
//! (`add(body(x), shortcut(x))`) and the attention core on a qkv
//! projection; a model with other structure (a concatenation, a layer
//! reading two unrelated tensors), an asymmetric padding or a dilation is
//! refused with the layer that cannot be written.

use std::fmt::Write;

use crate::error::CompileError;
use crate::model::{AttnOp, Input, Layer, LayerId, LayerKind, Model, NmOverride, PoolOp, Shape, VectorOp};

/// The model as `.nm` text, named `name`.
pub fn to_nm(model: &Model, name: &str) -> Result<String, CompileError> {
    let mut w = Writer { model, out: String::new(), consumers: consumers(model) };
    let _ = writeln!(w.out, "# Written by nmsat from {}.", model.source);
    let _ = writeln!(w.out, "model {} {{", atom(name));
    let input = match model.input {
        Shape::Map { c, h: 1, w: 1 } => format!("{c}"),
        Shape::Map { c, h, w } => format!("{c}x{h}x{w}"),
        Shape::Seq { tokens, dim } => format!("tokens={tokens} dim={dim}"),
        Shape::Heads { .. } => return Err(refuse(model, None, "a model whose input is per-head matrices")),
    };
    let _ = writeln!(w.out, "  input {input}");
    let ids: Vec<usize> = (0..model.layers.len()).collect();
    w.seq(&ids, Input::Model, 1)?;
    w.out.push_str("}\n");
    Ok(w.out)
}

struct Writer<'m> {
    model: &'m Model,
    out: String,
    consumers: Vec<Vec<usize>>,
}

fn consumers(model: &Model) -> Vec<Vec<usize>> {
    let mut c = vec![Vec::new(); model.layers.len()];
    for (i, l) in model.layers.iter().enumerate() {
        for inp in &l.inputs {
            if let Input::Layer(p) = inp
                && let Some(v) = c.get_mut(p.index())
                && !v.contains(&i)
            {
                v.push(i);
            }
        }
    }
    c
}

fn refuse(model: &Model, layer: Option<&Layer>, why: &str) -> CompileError {
    let loc = layer.map_or_else(
        || crate::error::Location::File { file: model.source.clone() },
        |l| crate::error::Location::Layer { name: l.name.clone() },
    );
    CompileError::value(loc, format!("cannot be written as .nm: {why}"))
}

/// A name as a `.nm` atom: characters outside `[A-Za-z0-9_.$:+-]` become `_`.
fn atom(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.:+-".contains(c) { c } else { '_' }).collect();
    if s.is_empty() { "_".into() } else { s }
}

fn pair((a, b): (u64, u64)) -> String {
    if a == b { a.to_string() } else { format!("{a}x{b}") }
}

fn window_out(i: u64, k: u64, s: u64, p: u64) -> Option<u64> {
    let padded = i.checked_add(p.checked_mul(2)?)?;
    (padded >= k && s > 0).then(|| (padded - k) / s + 1)
}

impl<'m> Writer<'m> {
    fn layer(&self, i: usize) -> &'m Layer {
        &self.model.layers[i]
    }

    fn line(&mut self, depth: usize, text: &str) {
        let _ = writeln!(self.out, "{}{text}", "  ".repeat(depth));
    }

    /// Writes layers `ids` (in order) as statements reading `start`; returns the last value.
    fn seq(&mut self, ids: &[usize], start: Input, depth: usize) -> Result<Input, CompileError> {
        let mut cur = start;
        let mut j = 0;
        while j < ids.len() {
            let i = ids[j];
            let l = self.layer(i);
            let rest = &ids[j..];
            let others = match cur {
                Input::Layer(c) => self.consumers[c.index()].iter().filter(|k| rest.contains(k)).count(),
                Input::Model => rest.iter().filter(|&&k| self.layer(k).inputs.contains(&Input::Model)).count(),
            };
            let attention = matches!(l.kind, LayerKind::AttnMatmul(_));
            if others >= 2 && l.inputs == [cur] && !attention {
                let used = self.residual(rest, cur, depth)?;
                cur = Input::Layer(LayerId(ids[j + used - 1] as u32));
                j += used;
                continue;
            }
            if l.inputs != [cur] {
                return Err(refuse(
                    self.model,
                    Some(l),
                    "it does not read the previous layer's output (only chains, residual blocks and attention can be written)",
                ));
            }
            if attention {
                self.attention(rest, cur, depth)?;
                cur = Input::Layer(LayerId(ids[j + 2] as u32));
                j += 3;
                continue;
            }
            let text = self.statement(l, self.shape_of(cur))?;
            self.line(depth, &text);
            cur = Input::Layer(LayerId(i as u32));
            j += 1;
        }
        Ok(cur)
    }

    /// Writes the residual block that starts at `rest[0]` and forks at `x`; returns how many of `rest` it used.
    fn residual(&mut self, rest: &[usize], x: Input, depth: usize) -> Result<usize, CompileError> {
        let first = self.layer(rest[0]);
        for (pos, &a) in rest.iter().enumerate().skip(1) {
            let l = self.layer(a);
            let (LayerKind::Add, [p, q]) = (l.kind, l.inputs.as_slice()) else { continue };
            for (body_end, sc_end) in [(*p, *q), (*q, *p)] {
                let Some(chain) = self.chain_back(sc_end, x, &rest[..pos]) else { continue };
                if chain.contains(&rest[0]) {
                    continue;
                }
                let body: Vec<usize> = rest[..pos].iter().copied().filter(|k| !chain.contains(k)).collect();
                self.line(depth, "residual {");
                let end = self.seq(&body, x, depth + 1)?;
                if end != body_end {
                    return Err(refuse(self.model, Some(l), "its body does not end in the add's input"));
                }
                if chain.is_empty() {
                    self.line(depth, "}");
                } else {
                    self.line(depth, "} shortcut {");
                    self.seq(&chain, x, depth + 1)?;
                    self.line(depth, "}");
                }
                return Ok(pos + 1);
            }
        }
        Err(refuse(self.model, Some(first), "its input is read by several layers that do not join in a residual add"))
    }

    /// The single-input chain (in order) from `x` to `end` within `within`, `None` if there is none.
    fn chain_back(&self, end: Input, x: Input, within: &[usize]) -> Option<Vec<usize>> {
        let mut chain = Vec::new();
        let mut at = end;
        while at != x {
            let Input::Layer(id) = at else { return None };
            let l = self.layer(id.index());
            if !within.contains(&id.index()) || l.inputs.len() != 1 || self.consumers[id.index()].len() != 1 {
                return None;
            }
            chain.push(id.index());
            at = l.inputs[0];
        }
        chain.reverse();
        Some(chain)
    }

    /// Writes `qk_t`, `softmax`, `attn_v` on the qkv projection `x` as one `attention` statement.
    fn attention(&mut self, rest: &[usize], x: Input, depth: usize) -> Result<(), CompileError> {
        let qk = self.layer(rest[0]);
        let fits = |r: &[usize]| -> Option<u64> {
            let (LayerKind::AttnMatmul(s), [sm, av]) = (qk.kind, r.get(1..3)?) else { return None };
            let (smx, avl) = (self.layer(*sm), self.layer(*av));
            let qk_id = Input::Layer(LayerId(r[0] as u32));
            let sm_id = Input::Layer(LayerId(*sm as u32));
            let Input::Layer(xi) = x else { return None };
            let qkv = self.layer(xi.index());
            let ok = s.op == AttnOp::QkT
                && smx.kind == (LayerKind::Vector { op: VectorOp::Softmax })
                && smx.inputs == [qk_id]
                && matches!(avl.kind, LayerKind::AttnMatmul(v) if v.op == AttnOp::AttnV && v.heads == s.heads && v.head_dim == s.head_dim && v.tokens_k == s.tokens_k)
                && avl.inputs == [sm_id, x]
                && s.tokens_q == s.tokens_k
                && qkv.out_shape == (Shape::Seq { tokens: s.tokens_q, dim: 3 * s.heads * s.head_dim });
            ok.then_some(s.heads)
        };
        let heads = fits(rest).ok_or_else(|| {
            refuse(
                self.model,
                Some(qk),
                "an attention matmul that is not `softmax(Q·Kᵀ)·V` on one qkv projection of T × 3·heads·head_dim",
            )
        })?;
        let name = qk.name.strip_suffix(".qk_t").unwrap_or(&qk.name);
        self.line(depth, &format!("attention {} heads={heads}", atom(name)));
        Ok(())
    }

    /// The shape of value `v` as the DSL tracks it.
    fn shape_of(&self, v: Input) -> Shape {
        match v {
            Input::Model => self.model.input,
            Input::Layer(id) => self.layer(id.index()).out_shape,
        }
    }

    /// Padding to add to a window layer whose input is `l.in_shape` but whose
    /// statement reads `from` (a `Pad` node between them): half the
    /// difference per side, when it is even.
    fn extra_pad(&self, l: &Layer, from: Shape) -> Result<(u64, u64), CompileError> {
        match (from, l.in_shape) {
            (a, b) if a == b => Ok((0, 0)),
            (Shape::Map { c, h, w }, Shape::Map { c: c2, h: h2, w: w2 })
                if c == c2 && h2 >= h && w2 >= w && (h2 - h) % 2 == 0 && (w2 - w) % 2 == 0 =>
            {
                Ok(((h2 - h) / 2, (w2 - w) / 2))
            }
            _ => Err(refuse(
                self.model,
                Some(l),
                &format!(
                    "its input {} is not the previous output {from} (an uneven Pad, a Reshape or a Concat between them)",
                    l.in_shape
                ),
            )),
        }
    }

    fn statement(&self, l: &Layer, from: Shape) -> Result<String, CompileError> {
        let name = atom(&l.name);
        let nm = match l.nm {
            NmOverride::Inherit => String::new(),
            NmOverride::Dense => " nm=dense".into(),
            NmOverride::Pattern(p) => format!(" nm={}:{}", p.n(), p.m()),
        };
        Ok(match l.kind {
            LayerKind::Conv(mut c) => {
                let (Shape::Map { h, w, .. }, Shape::Map { h: ho, w: wo, .. }) = (from, l.out_shape) else {
                    return Err(refuse(self.model, Some(l), "a convolution that is not on a CxHxW map"));
                };
                let extra = self.extra_pad(l, from)?;
                c.pad = (c.pad.0 + extra.0, c.pad.1 + extra.1);
                if window_out(h, c.kernel.0, c.stride.0, c.pad.0) != Some(ho)
                    || window_out(w, c.kernel.1, c.stride.1, c.pad.1) != Some(wo)
                {
                    return Err(refuse(self.model, Some(l), "a convolution with asymmetric padding or dilation"));
                }
                let mut s = format!("conv {name} out={} k={}", c.c_out, pair(c.kernel));
                if c.stride != (1, 1) {
                    let _ = write!(s, " stride={}", pair(c.stride));
                }
                if c.pad != (0, 0) {
                    let _ = write!(s, " pad={}", pair(c.pad));
                }
                if c.groups != 1 {
                    let _ = write!(s, " groups={}", c.groups);
                }
                s + &nm
            }
            LayerKind::Linear(f) => {
                let fits = match from {
                    Shape::Map { c, h: 1, w: 1 } => c == f.in_features && l.out_positions() == 1,
                    Shape::Seq { tokens, dim } => dim == f.in_features && tokens == l.out_positions(),
                    _ => false,
                };
                if !fits {
                    return Err(refuse(
                        self.model,
                        Some(l),
                        &format!("a linear layer whose input {} is not the previous output {from}", l.in_shape),
                    ));
                }
                format!("linear {name} out={}{nm}", f.out_features)
            }
            LayerKind::Pool(p) if p.global => {
                format!("{} {name}", if p.op == PoolOp::Max { "globalmaxpool" } else { "globalavgpool" })
            }
            LayerKind::Pool(mut p) => {
                let (Shape::Map { h, w, .. }, Shape::Map { h: ho, w: wo, .. }) = (from, l.out_shape) else {
                    return Err(refuse(self.model, Some(l), "a pool that is not on a CxHxW map"));
                };
                let extra = self.extra_pad(l, from)?;
                p.pad = (p.pad.0 + extra.0, p.pad.1 + extra.1);
                if window_out(h, p.kernel.0, p.stride.0, p.pad.0) != Some(ho)
                    || window_out(w, p.kernel.1, p.stride.1, p.pad.1) != Some(wo)
                {
                    return Err(refuse(self.model, Some(l), "a pool with asymmetric padding or ceil mode"));
                }
                let op = if p.op == PoolOp::Max { "maxpool" } else { "avgpool" };
                format!("{op} {name} k={} stride={} pad={}", pair(p.kernel), pair(p.stride), pair(p.pad))
            }
            LayerKind::Vector { .. } | LayerKind::Flatten => format!("{} {name}", l.kind.name()),
            LayerKind::Add => {
                return Err(refuse(self.model, Some(l), "an add that is not the end of a residual block"));
            }
            LayerKind::AttnMatmul(_) => {
                return Err(refuse(self.model, Some(l), "an attention matmul outside `attention`"));
            }
        })
    }
}
