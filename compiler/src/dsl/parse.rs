//! Syntax of the `.nm` model language (grammar in `docs/model-language.md`),
//! parsed with nom into a small AST whose nodes remember their byte offsets.
//!
//! Statements end at a newline or `;`; blocks are `{ … }`. Errors are
//! nom `Failure`s carrying the position and a message, so the first
//! problem is reported where it is, not where backtracking gave up.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{opt, peek, recognize};
use nom::error::{ErrorKind, ParseError};
use nom::sequence::{pair, preceded};
use nom::{Err, IResult};

/// Deepest block nesting accepted (keeps recursion bounded on hostile input).
pub(crate) const MAX_DEPTH: usize = 64;

/// A parse error: where (the unparsed rest of the input) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PErr<'a> {
    /// The input at the error (its offset is `full.len() - at.len()`).
    pub at: &'a str,
    /// What was expected or found.
    pub msg: String,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PErr { at: input, msg: format!("unexpected {}", found(input)) }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type Res<'a, T> = IResult<&'a str, T, PErr<'a>>;

/// A position: bytes from the end of the input (offset = `len - from_end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos(pub usize);

fn pos(i: &str) -> Pos {
    Pos(i.len())
}

/// A bare word or value with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Atom {
    pub text: String,
    pub at: Pos,
}

/// `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub key: Atom,
    pub value: Atom,
}

/// A statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stmt {
    /// `KIND [NAME] key=value…` (layers and `input`).
    Op { kw: Atom, name: Option<Atom>, attrs: Vec<Attr> },
    /// `residual [NAME] { … } [shortcut [NAME] { … }]`.
    Residual { at: Pos, name: Option<Atom>, body: Vec<Stmt>, shortcut: Option<(Option<Atom>, Vec<Stmt>)> },
    /// `repeat N { … }` or `repeat VAR in A..B { … }`.
    Repeat { at: Pos, var: Option<Atom>, from: u64, to: u64, body: Vec<Stmt> },
    /// `block NAME { … }`: a name prefix.
    Block { at: Pos, name: Atom, body: Vec<Stmt> },
}

/// `model NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelAst {
    pub name: Atom,
    pub body: Vec<Stmt>,
}

fn found(i: &str) -> String {
    match i.chars().next() {
        None => "end of file".to_string(),
        Some('\n') | Some('\r') => "end of line".to_string(),
        Some(_) => {
            let t: String = i.chars().take_while(|c| !c.is_whitespace()).take(20).collect();
            if t.is_empty() { format!("`{}`", i.chars().next().unwrap_or(' ')) } else { format!("`{t}`") }
        }
    }
}

fn fail<'a, T>(at: &'a str, msg: impl Into<String>) -> Res<'a, T> {
    Err(Err::Failure(PErr { at, msg: msg.into() }))
}

/// Spaces and tabs (not newlines).
fn sp(i: &str) -> Res<'_, &str> {
    take_while(|c| c == ' ' || c == '\t')(i)
}

/// A `#` comment up to (not including) the newline.
fn comment(i: &str) -> Res<'_, &str> {
    recognize(pair(char('#'), take_while(|c| c != '\n')))(i)
}

/// Whitespace, newlines, `;` and comments between statements.
fn blank(mut i: &str) -> &str {
    loop {
        let t = i.trim_start_matches([' ', '\t', '\r', '\n', ';']);
        match comment(t) {
            Ok((rest, _)) => i = rest,
            Err(_) => return t,
        }
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// A keyword: `[A-Za-z_][A-Za-z0-9_]*`.
fn word(i: &str) -> Res<'_, &str> {
    recognize(pair(take_while1(is_word_start), take_while(|c: char| c.is_ascii_alphanumeric() || c == '_')))(i)
}

fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | ':' | '-' | '+')
}

/// A name or value: `[A-Za-z0-9_.$:+-]+`.
fn atom(i: &str) -> Res<'_, Atom> {
    let (rest, t) = take_while1(is_atom_char)(i)?;
    Ok((rest, Atom { text: t.to_string(), at: pos(i) }))
}

fn number(i: &str) -> Res<'_, u64> {
    let (rest, d) = digit1(i)?;
    match d.parse::<u64>() {
        Ok(v) => Ok((rest, v)),
        Err(_) => fail(i, format!("number `{d}` is too large")),
    }
}

/// End of a statement: optional spaces and comment, then newline, `;`, `}` (not consumed) or end of input.
fn end_of_stmt(i: &str) -> Res<'_, ()> {
    let (i, _) = sp(i)?;
    let (i, _) = opt(comment)(i)?;
    if i.is_empty() || i.starts_with('}') {
        return Ok((i, ()));
    }
    let ends: Res<'_, &str> = alt((tag("\r\n"), tag("\n"), tag(";")))(i);
    match ends {
        Ok((rest, _)) => Ok((rest, ())),
        Err(_) => fail(i, format!("expected the end of the statement (a new line or `;`), found {}", found(i))),
    }
}

/// `{ stmt* }` — `open` is the input at the `{`.
fn block_body(i: &str, depth: usize) -> Res<'_, Vec<Stmt>> {
    let open = i;
    let Ok((mut i, _)) = char::<&str, PErr<'_>>('{')(i) else {
        return fail(i, format!("expected `{{`, found {}", found(i)));
    };
    if depth >= MAX_DEPTH {
        return fail(open, format!("blocks are nested more than {MAX_DEPTH} deep"));
    }
    let mut out = Vec::new();
    loop {
        i = blank(i);
        if i.is_empty() {
            return fail(open, "unterminated block: this `{` has no matching `}` before the end of the file");
        }
        if let Some(rest) = i.strip_prefix('}') {
            return Ok((rest, out));
        }
        let (rest, s) = stmt(i, depth + 1)?;
        out.push(s);
        i = rest;
    }
}

fn opt_name(i: &str) -> Res<'_, Option<Atom>> {
    let (i, _) = sp(i)?;
    if i.starts_with('{') {
        return Ok((i, None));
    }
    let (i, a) = opt(atom)(i)?;
    let (i, _) = sp(i)?;
    Ok((i, a))
}

fn stmt(i: &str, depth: usize) -> Res<'_, Stmt> {
    let start = i;
    let Ok((i, kw)) = word(i) else {
        return fail(
            i,
            format!(
                "expected a statement (a layer such as `conv` or `relu`, `input`, `residual`, `repeat`, `block`) or `}}`, found {}",
                found(i)
            ),
        );
    };
    match kw {
        "model" => fail(start, "`model` cannot be nested; a file holds one model"),
        "residual" => {
            let (i, name) = opt_name(i)?;
            let (i, body) = block_body(i, depth)?;
            let (after_sp, _) = sp(i)?;
            let (i, shortcut) =
                match peek(preceded(tag::<&str, &str, PErr<'_>>("shortcut"), take_while(|c| c == ' ' || c == '\t')))(
                    after_sp,
                ) {
                    Ok(_) => {
                        let (i, _) = tag("shortcut")(after_sp)?;
                        let (i, sname) = opt_name(i)?;
                        let (i, sbody) = block_body(i, depth)?;
                        (i, Some((sname, sbody)))
                    }
                    Err(_) => (i, None),
                };
            let (i, _) = end_of_stmt(i)?;
            Ok((i, Stmt::Residual { at: pos(start), name, body, shortcut }))
        }
        "block" => {
            let (i, _) = sp(i)?;
            let Ok((i, name)) = atom(i) else {
                return fail(i, format!("expected the block's name after `block`, found {}", found(i)));
            };
            let (i, _) = sp(i)?;
            let (i, body) = block_body(i, depth)?;
            let (i, _) = end_of_stmt(i)?;
            Ok((i, Stmt::Block { at: pos(start), name, body }))
        }
        "repeat" => {
            let (i, _) = sp(i)?;
            let counted = match number(i) {
                Ok(r) => Some(r),
                Err(Err::Failure(e)) => return Err(Err::Failure(e)),
                Err(_) => None,
            };
            let (i, var, from, to) = if let Some((i, n)) = counted {
                (i, None, 0, n)
            } else if let Ok((j, v)) = word(i) {
                let (j, _) = sp(j)?;
                let Ok((j, _)) = tag::<&str, &str, PErr<'_>>("in")(j) else {
                    return fail(j, format!("expected `in` in `repeat {v} in A..B`, found {}", found(j)));
                };
                let (j, _) = sp(j)?;
                let (j, a) = number(j).or_else(|_| fail(j, format!("expected a number, found {}", found(j))))?;
                let Ok((j, _)) = tag::<&str, &str, PErr<'_>>("..")(j) else {
                    return fail(j, format!("expected `..` in `repeat {v} in A..B`, found {}", found(j)));
                };
                let (j, b) = number(j).or_else(|_| fail(j, format!("expected a number, found {}", found(j))))?;
                (j, Some(Atom { text: v.to_string(), at: pos(i) }), a, b)
            } else {
                return fail(i, format!("expected `repeat N {{` or `repeat VAR in A..B {{`, found {}", found(i)));
            };
            let (i, _) = sp(i)?;
            let (i, body) = block_body(i, depth)?;
            let (i, _) = end_of_stmt(i)?;
            Ok((i, Stmt::Repeat { at: pos(start), var, from, to, body }))
        }
        _ => {
            let kw = Atom { text: kw.to_string(), at: pos(start) };
            let mut name: Option<Atom> = None;
            let mut attrs = Vec::new();
            let mut i = i;
            loop {
                let (j, _) = sp(i)?;
                if j.is_empty() || j.starts_with(['\n', '\r', ';', '}', '#']) {
                    i = j;
                    break;
                }
                if j.len() == i.len() {
                    // No space between items: let end_of_stmt report what follows.
                    break;
                }
                let Ok((k, a)) = atom(j) else {
                    return fail(j, format!("expected a name or `key=value`, found {}", found(j)));
                };
                if let Some(k) = k.strip_prefix('=') {
                    let Ok((k, v)) = atom(k) else {
                        return fail(k, format!("expected a value after `{}=`, found {}", a.text, found(k)));
                    };
                    attrs.push(Attr { key: a, value: v });
                    i = k;
                } else if name.is_none() && attrs.is_empty() {
                    name = Some(a);
                    i = k;
                } else {
                    return fail(j, format!("expected `key=value`, found {}", found(j)));
                }
            }
            let (i, _) = end_of_stmt(i)?;
            Ok((i, Stmt::Op { kw, name, attrs }))
        }
    }
}

/// Parses a whole `.nm` file.
pub(crate) fn model(input: &str) -> Result<ModelAst, PErr<'_>> {
    let run = |i| -> Res<'_, ModelAst> {
        let i = blank(i);
        let Ok((j, kw)) = word(i) else {
            return fail(i, format!("a model file starts with `model NAME {{`, found {}", found(i)));
        };
        if kw != "model" {
            return fail(i, format!("a model file starts with `model NAME {{`, found `{kw}`"));
        }
        let (j, _) = sp(j)?;
        let Ok((j, name)) = atom(j) else {
            return fail(j, format!("expected the model's name after `model`, found {}", found(j)));
        };
        let (j, _) = sp(j)?;
        let (j, body) = block_body(j, 0)?;
        let j = blank(j);
        if !j.is_empty() {
            return fail(j, format!("unexpected {} after the model's closing `}}`", found(j)));
        }
        Ok((j, ModelAst { name, body }))
    };
    match run(input) {
        Ok((_, m)) => Ok(m),
        Err(Err::Error(e)) | Err(Err::Failure(e)) => Err(e),
        Err(Err::Incomplete(_)) => Err(PErr { at: "", msg: "unexpected end of file".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statements_blocks_and_attrs() {
        let m = model(
            "# a model\nmodel m {\n  input 3x32x32\n  conv c1 out=16 k=3 pad=1 ; relu\n  residual r { conv a out=16 k=3 pad=1 } shortcut s { }\n  repeat i in 0..2 { linear fc$i out=4 nm=2:4 }\n  block b {\n  }\n}\n",
        )
        .unwrap();
        assert_eq!(m.name.text, "m");
        assert_eq!(m.body.len(), 6);
        let Stmt::Op { kw, name, attrs } = &m.body[1] else { panic!("{:?}", m.body[1]) };
        assert_eq!((kw.text.as_str(), name.as_ref().unwrap().text.as_str(), attrs.len()), ("conv", "c1", 3));
        assert!(matches!(&m.body[3], Stmt::Residual { shortcut: Some(_), .. }));
        assert!(matches!(&m.body[4], Stmt::Repeat { from: 0, to: 2, var: Some(_), .. }));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let src = "model x {\n  input 3x32x32\n  conv c1 out=16 k=3\n";
        let e = model(src).unwrap_err();
        assert_eq!(src.len() - e.at.len(), 8, "points at the unmatched `{{`");
        assert!(e.msg.contains("unterminated block"), "{}", e.msg);
        let e = model("model x {\n  conv c1 out=16 k=3 = 4\n}").unwrap_err();
        assert!(e.msg.contains("expected"), "{}", e.msg);
        let e = model("modle x {}").unwrap_err();
        assert!(e.msg.contains("starts with `model"), "{}", e.msg);
        let e = model("model x {} extra").unwrap_err();
        assert!(e.msg.contains("after the model"), "{}", e.msg);
        let e = model("model x { repeat 99999999999999999999999 { } }").unwrap_err();
        assert!(e.msg.contains("too large"), "{}", e.msg);
        let deep = format!("model x {{ {} }}", "block b { ".repeat(200));
        assert!(model(&deep).unwrap_err().msg.contains("nested"));
    }
}
