//! Reading an energy table from TOML: syntax first, then every unknown,
//! missing or invalid field at once, each with its line.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::actions::{ActionSpec, STATIC, Unit, catalogue, components};
use super::error::{TableError, TableProblem};
use super::table::{EnergyTable, Entry, EntryValue, MAX_ENERGY_PJ, MAX_POWER_W, Primitive, SizeBasis, SramPoint};

/// Keys an entry may have.
const ENTRY_KEYS: &[&str] = &["energy_pj", "uses", "sram", "power_w", "per", "size", "source", "derived", "note"];
/// Keys a primitive may have.
const PRIMITIVE_KEYS: &[&str] = &["energy_pj", "source", "derived", "note"];
/// The keys that give an entry's energy (exactly one per entry).
const VALUE_KEYS: &[&str] = &["energy_pj", "uses", "sram", "power_w"];

/// Problems found so far (lines are looked up at the end).
#[derive(Default)]
struct Problems(Vec<TableProblem>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(TableProblem { field: field.into(), line: None, message: message.into() });
    }
}

/// Parses and checks `text`.
pub(crate) fn parse(text: &str, origin: &str) -> Result<EnergyTable, TableError> {
    let root: Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        TableError::Parse { origin: origin.to_string(), line, column, message: e.message().trim().to_string() }
    })?;
    let mut p = Problems::default();
    let known = components();
    for key in root.keys() {
        if !["name", "description", "primitives"].contains(&key.as_str()) && !known.contains(&key.as_str()) {
            p.add(key.clone(), format!("unknown component; expected one of: {}", known.join(", ")));
        }
    }
    let name = match root.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => {
            p.add("name", "must be a non-empty string");
            String::new()
        }
        None => {
            p.add("name", "missing field");
            String::new()
        }
    };
    let description = match root.get("description") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            p.add("description", "must be a string");
            String::new()
        }
        None => String::new(),
    };
    let primitives = primitives(root.get("primitives"), &mut p);
    let mut entries = Vec::new();
    for spec in catalogue() {
        let field = format!("{}.{}", spec.component, spec.action);
        match root.get(spec.component).and_then(|c| c.get(spec.action)) {
            Some(v) => {
                if let Some(e) = entry(&spec, v, &primitives, &mut p) {
                    entries.push(e);
                }
            }
            None if spec.required => p.add(field, "missing action: every table must give it"),
            None => {}
        }
    }
    unknown_actions(&root, &mut p);
    if p.0.is_empty() {
        Ok(EnergyTable { name, description, origin: origin.to_string(), primitives, entries })
    } else {
        let mut problems = p.0;
        for q in &mut problems {
            q.line = find_line(text, &q.field);
        }
        problems.sort_by_key(|q| q.line.unwrap_or(usize::MAX));
        Err(TableError::Invalid { origin: origin.to_string(), problems })
    }
}

/// Components that are not tables, and actions no component has.
fn unknown_actions(root: &Table, p: &mut Problems) {
    let cat = catalogue();
    for component in components() {
        match root.get(component) {
            None => {}
            Some(Value::Table(t)) => {
                let expected: Vec<&str> = cat.iter().filter(|s| s.component == component).map(|s| s.action).collect();
                for action in t.keys().filter(|a| !expected.contains(&a.as_str())) {
                    p.add(
                        format!("{component}.{action}"),
                        format!("unknown action of `{component}`; expected one of: {}", expected.join(", ")),
                    );
                }
            }
            Some(_) => p.add(component, "must be a table of actions"),
        }
    }
}

/// The `[primitives]` table.
fn primitives(v: Option<&Value>, p: &mut Problems) -> BTreeMap<String, Primitive> {
    let mut out = BTreeMap::new();
    let Some(v) = v else { return out };
    let Value::Table(t) = v else {
        p.add("primitives", "must be a table of named operations");
        return out;
    };
    for (name, v) in t {
        let field = format!("primitives.{name}");
        let Value::Table(t) = v else {
            p.add(field, "must be a table with `energy_pj` and `source`");
            continue;
        };
        unknown_keys(t, PRIMITIVE_KEYS, &field, p);
        let energy = match t.get("energy_pj") {
            Some(v) => energy_pj(v, &format!("{field}.energy_pj"), p),
            None => {
                p.add(format!("{field}.energy_pj"), "missing field");
                None
            }
        };
        let (source, derived, note) = provenance(t, &field, p);
        if let (Some(energy_pj), Some(source)) = (energy, source) {
            out.insert(name.clone(), Primitive { energy_pj, source, derived, note });
        }
    }
    out
}

/// One action's entry.
fn entry(spec: &ActionSpec, v: &Value, prims: &BTreeMap<String, Primitive>, p: &mut Problems) -> Option<Entry> {
    let field = format!("{}.{}", spec.component, spec.action);
    let Value::Table(t) = v else {
        p.add(field, "must be a table (`energy_pj`, `per`, `source`, ...)");
        return None;
    };
    let before = p.0.len();
    unknown_keys(t, ENTRY_KEYS, &field, p);
    let given: Vec<&str> = VALUE_KEYS.iter().copied().filter(|k| t.contains_key(*k)).collect();
    if given.len() != 1 {
        p.add(field.clone(), format!("needs exactly one of {}, has {}", VALUE_KEYS.join(", "), given.len()));
        return None;
    }
    let value = value(spec, t, given[0], &field, prims, p);
    let per = per(spec, t, given[0], &field, p);
    if t.contains_key("size") && given[0] != "sram" {
        p.add(format!("{field}.size"), "only an `sram` curve has a size basis");
    }
    let (source, derived, note) = provenance(t, &field, p);
    if p.0.len() > before {
        return None;
    }
    Some(Entry {
        component: spec.component.to_string(),
        action: spec.action.to_string(),
        value: value?,
        per: per?,
        source: source?,
        derived,
        note,
    })
}

/// The entry's energy, from its one value key.
fn value(
    spec: &ActionSpec,
    t: &Table,
    key: &str,
    field: &str,
    prims: &BTreeMap<String, Primitive>,
    p: &mut Problems,
) -> Option<EntryValue> {
    let f = format!("{field}.{key}");
    let v = &t[key];
    match key {
        "energy_pj" => energy_pj(v, &f, p).map(EntryValue::EnergyPj),
        "power_w" if (spec.component, spec.action) != STATIC => {
            p.add(f, format!("only `{}.{}` is given as a power", STATIC.0, STATIC.1));
            None
        }
        "power_w" => match number(v) {
            Some(x) if x.is_finite() && (0.0..=MAX_POWER_W).contains(&x) => Some(EntryValue::PowerW(x)),
            _ => {
                p.add(f, format!("must be a finite number of watts in 0..={MAX_POWER_W}"));
                None
            }
        },
        "uses" => uses(v, &f, prims, p).map(EntryValue::Uses),
        _ if !spec.component.ends_with("_buffer") => {
            p.add(f, "only a buffer's energy is given as an SRAM curve");
            None
        }
        _ => {
            let size = match t.get("size") {
                None => Some(SizeBasis::Buffer),
                Some(Value::String(s)) => SizeBasis::from_name(s),
                Some(_) => None,
            };
            if size.is_none() {
                p.add(format!("{field}.size"), "must be \"buffer\" or \"bank\"");
            }
            let points = sram(v, &f, p)?;
            Some(EntryValue::Sram { size: size?, points })
        }
    }
}

/// The entry's unit.
fn per(spec: &ActionSpec, t: &Table, value_key: &str, field: &str, p: &mut Problems) -> Option<Unit> {
    let f = format!("{field}.per");
    let allowed: Vec<&str> = spec.units.iter().map(|u| u.name()).collect();
    match (t.get("per"), value_key) {
        (None, "power_w") => Some(Unit::Cycle),
        (Some(_), "power_w") => {
            p.add(f, "a power is per second; leave `per` out");
            None
        }
        (None, _) => {
            p.add(f, format!("missing field; one of: {}", allowed.join(", ")));
            None
        }
        (Some(Value::String(s)), _) => match Unit::from_name(s) {
            Some(u) if spec.units.contains(&u) => Some(u),
            Some(_) => {
                p.add(f, format!("`{s}` does not fit this action; one of: {}", allowed.join(", ")));
                None
            }
            None => {
                let all: Vec<&str> = Unit::ALL.iter().map(|u| u.name()).collect();
                p.add(f, format!("unknown unit `{s}`; units are: {}", all.join(", ")));
                None
            }
        },
        (Some(_), _) => {
            p.add(f, "must be a string");
            None
        }
    }
}

/// `uses = { primitive = count, ... }`.
fn uses(
    v: &Value,
    field: &str,
    prims: &BTreeMap<String, Primitive>,
    p: &mut Problems,
) -> Option<BTreeMap<String, f64>> {
    let Value::Table(t) = v else {
        p.add(field, "must be a table of primitive = operations per unit");
        return None;
    };
    if t.is_empty() {
        p.add(field, "names no primitive");
    }
    let mut out = BTreeMap::new();
    for (name, n) in t {
        let f = format!("{field}.{name}");
        if !prims.contains_key(name) {
            let known: Vec<&str> = prims.keys().map(String::as_str).collect();
            p.add(f, format!("unknown primitive; [primitives] has: {}", known.join(", ")));
            continue;
        }
        match number(n) {
            Some(x) if x.is_finite() && (0.0..=1e6).contains(&x) => {
                out.insert(name.clone(), x);
            }
            _ => p.add(f, "must be a finite, non-negative number of operations (at most 1e6)"),
        }
    }
    Some(out)
}

/// `sram = [{ size_bytes = .., energy_pj = .. }, ...]`.
fn sram(v: &Value, field: &str, p: &mut Problems) -> Option<Vec<SramPoint>> {
    let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
        p.add(field, "must be a non-empty array of { size_bytes, energy_pj }");
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Some(t) = item.as_table() else {
            p.add(f, "must be { size_bytes = .., energy_pj = .. }");
            continue;
        };
        unknown_keys(t, &["size_bytes", "energy_pj"], &f, p);
        let size = match t.get("size_bytes") {
            Some(Value::Integer(n)) if *n > 0 => Some(*n as u64),
            _ => {
                p.add(format!("{f}.size_bytes"), "must be a positive integer");
                None
            }
        };
        let energy = match t.get("energy_pj") {
            Some(e) => energy_pj(e, &format!("{f}.energy_pj"), p),
            None => {
                p.add(format!("{f}.energy_pj"), "missing field");
                None
            }
        };
        if let (Some(size_bytes), Some(energy_pj)) = (size, energy) {
            if out.last().is_some_and(|l: &SramPoint| l.size_bytes >= size_bytes) {
                p.add(format!("{f}.size_bytes"), "sizes must increase from point to point");
            }
            out.push(SramPoint { size_bytes, energy_pj });
        }
    }
    (out.len() == items.len()).then_some(out)
}

/// `source` (required), `derived` and `note`.
fn provenance(t: &Table, field: &str, p: &mut Problems) -> (Option<String>, Option<String>, Option<String>) {
    let source = match t.get("source") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            p.add(format!("{field}.source"), "must be a non-empty string: every number names its source");
            None
        }
        None => {
            p.add(format!("{field}.source"), "missing field: every number names its source");
            None
        }
    };
    let mut text = |key: &str| match t.get(key) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            p.add(format!("{field}.{key}"), "must be a string");
            None
        }
    };
    let derived = text("derived");
    let note = text("note");
    (source, derived, note)
}

fn unknown_keys(t: &Table, allowed: &[&str], field: &str, p: &mut Problems) {
    for k in t.keys().filter(|k| !allowed.contains(&k.as_str())) {
        p.add(format!("{field}.{k}"), format!("unknown field; expected one of: {}", allowed.join(", ")));
    }
}

/// A pJ figure: finite, non-negative, at most [`MAX_ENERGY_PJ`].
fn energy_pj(v: &Value, field: &str, p: &mut Problems) -> Option<f64> {
    match number(v) {
        Some(x) if x.is_finite() && (0.0..=MAX_ENERGY_PJ).contains(&x) => Some(x),
        Some(x) if x < 0.0 => {
            p.add(field, format!("{x} is negative"));
            None
        }
        Some(x) => {
            p.add(field, format!("{x} is not a finite energy of at most {MAX_ENERGY_PJ} pJ"));
            None
        }
        None => {
            p.add(field, "must be a number (pJ)");
            None
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(x) => Some(*x),
        Value::Integer(n) => Some(*n as f64),
        _ => None,
    }
}

/// 1-based (line, column) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    (line, before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1)
}

/// The line of a dotted field (`a.b.c`, `a.b.c[2].d`) in hand-written TOML:
/// the line sharing the longest prefix of the field (a table header, a key,
/// a key inside an inline table on that line, or an element of a
/// multi-line array), the first such line on a tie; `None` when not even
/// the field's first key is in the text. A missing action is thus reported
/// at its component's first table.
pub(crate) fn find_line(text: &str, field: &str) -> Option<usize> {
    let (path, index) = split_field(field);
    let mut current: Vec<String> = Vec::new();
    let mut best: Option<(usize, usize)> = None; // (depth, line)
    let lines: Vec<&str> = text.lines().collect();
    let mut consider = |depth: usize, line: usize| {
        if depth > 0 && best.is_none_or(|(d, _)| depth > d) {
            best = Some((depth, line));
        }
    };
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            current = keys_of(line.trim_matches(|c| c == '[' || c == ']'));
            consider(common(&current, &path), i + 1);
            continue;
        }
        let Some((k, rest)) = line.split_once('=') else { continue };
        if k.trim_start().starts_with('{') {
            continue;
        }
        let mut full = current.clone();
        full.extend(keys_of(k));
        let depth = common(&full, &path);
        consider(depth, i + 1);
        if depth < full.len() {
            continue;
        }
        if let Some(next) = path.get(full.len()) {
            if rest.contains(&format!("{next} =")) || rest.contains(&format!("{next}=")) {
                consider(full.len() + 1, i + 1);
            }
        }
        if let (Some(n), true) = (index, full.len() == path.len()) {
            if let Some(l) = array_element_line(&lines, i, n) {
                consider(full.len() + 1, l);
            }
        }
    }
    best.map(|(_, l)| l)
}

/// Length of the common prefix of two key paths.
fn common(a: &[String], b: &[String]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The path of a field without its array index, and the index of the first
/// `[n]` (the rest of the field after it is dropped).
fn split_field(field: &str) -> (Vec<String>, Option<usize>) {
    match field.split_once('[') {
        Some((head, tail)) => (keys_of(head), tail.split(']').next().and_then(|n| n.parse().ok())),
        None => (keys_of(field), None),
    }
}

fn keys_of(s: &str) -> Vec<String> {
    s.split('.').map(|k| k.trim().trim_matches('"').to_string()).filter(|k| !k.is_empty()).collect()
}

/// The line of element `n` of an array that opens on line `start` and runs
/// one `{ ... }` element per line.
fn array_element_line(lines: &[&str], start: usize, n: usize) -> Option<usize> {
    let mut seen = 0;
    for (i, raw) in lines.iter().enumerate().skip(start) {
        let s = raw.split('#').next().unwrap_or("");
        let text = if i == start { s.split_once('=').map_or("", |(_, r)| r) } else { s };
        for _ in text.matches('{') {
            if seen == n {
                return Some(i + 1);
            }
            seen += 1;
        }
        if text.contains(']') {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_headers_keys_inline_tables_and_array_elements() {
        let text = "name = \"x\"\n\
                    [pe_array]\n\
                    mac_dense = { energy_pj = -1, per = \"mac\" }\n\
                    [dram.read]\n\
                    per = \"bit\"\n\
                    [activation_buffer.read]\n\
                    sram = [\n\
                    \x20 { size_bytes = 1, energy_pj = 1.0 },\n\
                    \x20 { size_bytes = 2, energy_pj = 2.0 },\n\
                    ]\n";
        assert_eq!(find_line(text, "name"), Some(1));
        assert_eq!(find_line(text, "pe_array.mac_dense.energy_pj"), Some(3));
        assert_eq!(find_line(text, "pe_array.mux_select"), Some(2));
        assert_eq!(find_line(text, "dram.read.per"), Some(5));
        assert_eq!(find_line(text, "dram.read.source"), Some(4));
        assert_eq!(find_line(text, "activation_buffer.read.sram[1].energy_pj"), Some(9));
        assert_eq!(find_line(text, "vector_unit.sgd"), None);
    }
}
