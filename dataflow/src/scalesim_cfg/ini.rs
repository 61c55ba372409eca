//! The INI dialect of SCALE-Sim configs, as Python's `configparser` reads
//! it with its defaults (`scalesim/scale_config.py`): `[section]` headers,
//! `key = value` or `key : value` (the first `=` or `:` splits), keys
//! case-insensitive, whole-line comments starting with `#` or `;`, values
//! trimmed, a duplicate section or key in one section an error, a line
//! before the first section an error. One difference: a line starting with
//! whitespace is read as its own line, where `configparser` would append it
//! to the previous value (no shipped config relies on that).

use super::CfgError;

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The key as written.
    pub(crate) key: String,
    /// The value, trimmed.
    pub(crate) value: String,
    /// 1-based line.
    pub(crate) line: usize,
}

/// One `[section]` and its entries in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    /// The name as written (matched case-sensitively, as `configparser` does).
    pub(crate) name: String,
    /// 1-based line of the header.
    pub(crate) line: usize,
    /// Its entries.
    pub(crate) entries: Vec<Entry>,
}

/// A parsed INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ini {
    /// Sections in file order.
    pub(crate) sections: Vec<Section>,
}

impl Ini {
    /// The section called `name`.
    pub(crate) fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The entry `key` (case-insensitive) of section `section`.
    pub(crate) fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.section(section)?.entries.iter().find(|e| e.key.eq_ignore_ascii_case(key))
    }
}

/// Parses `text`; `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Ini, CfgError> {
    let syntax = |line: usize, message: String| CfgError::Syntax { file: file.to_string(), line, message };
    let mut sections: Vec<Section> = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(syntax(line, format!("`{t}`: a section header must end with `]`")));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(syntax(line, "empty section name `[]`".into()));
            }
            if let Some(prev) = sections.iter().find(|s| s.name == name) {
                return Err(syntax(line, format!("section `[{name}]` already opened on line {}", prev.line)));
            }
            sections.push(Section { name: name.to_string(), line, entries: Vec::new() });
            continue;
        }
        let split = t.find(['=', ':']);
        let Some(at) = split else {
            return Err(syntax(line, format!("`{t}` is neither `[section]` nor `key = value` (or `key: value`)")));
        };
        let (key, value) = (t[..at].trim(), t[at + 1..].trim());
        if key.is_empty() {
            return Err(syntax(line, format!("`{t}` has no key before `{}`", &t[at..=at])));
        }
        let Some(section) = sections.last_mut() else {
            return Err(syntax(line, format!("`{key}` comes before any `[section]` header")));
        };
        if let Some(prev) = section.entries.iter().find(|e| e.key.eq_ignore_ascii_case(key)) {
            return Err(syntax(
                line,
                format!("`{key}` is set twice in `[{}]` (first on line {})", section.name, prev.line),
            ));
        }
        section.entries.push(Entry { key: key.to_string(), value: value.to_string(), line });
    }
    Ok(Ini { sections })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_delimiters_comments_and_case_insensitive_keys() {
        let ini = parse("f", "# c\n[a]\nX : 1\n; c\ny= two words \n[b]\nz=\n").unwrap();
        assert_eq!(ini.get("a", "x").unwrap().value, "1");
        assert_eq!(ini.get("a", "Y").unwrap().value, "two words");
        assert_eq!(ini.get("a", "Y").unwrap().line, 5);
        assert_eq!(ini.get("b", "z").unwrap().value, "");
        assert!(ini.get("B", "z").is_none(), "section names are case-sensitive");
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, line, what) in [
            ("k = 1\n", 1, "before any"),
            ("[a]\nk = 1\nK: 2\n", 3, "set twice"),
            ("[a]\n[a]\n", 2, "already opened"),
            ("[a]\njunk\n", 2, "neither"),
            ("[a\n", 1, "must end"),
            ("[a]\n= 3\n", 2, "no key"),
        ] {
            let e = parse("x.cfg", text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("x.cfg:{line}:")) && e.contains(what), "{text:?}: {e}");
        }
    }
}
