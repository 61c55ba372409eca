//! A small tolerant CSV reader shared by the layer-table and SCALE-Sim front
//! ends. Files seen in the wild break the format in known ways
//! (`data/scalesim/README.md`); this reader accepts all of them:
//! a UTF-8 BOM, CRLF or CR line ends, padded whitespace around fields,
//! trailing commas, empty rows (`,,,,`), `#` comment lines, and fields in
//! double quotes. Columns are found by a normalised header name, so
//! spelling and case differences and extra columns do not matter.

/// One non-empty data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    /// 1-based line in the file.
    pub line: usize,
    /// Trimmed fields.
    pub fields: Vec<String>,
}

impl Row {
    /// Field `i`, or `""` when the row is shorter.
    pub fn get(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", String::as_str)
    }
}

/// A header (its trimmed names) and the data rows after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    /// 1-based line of the header.
    pub header_line: usize,
    /// Header names as written (trimmed).
    pub header: Vec<String>,
    /// Data rows, empty rows removed.
    pub rows: Vec<Row>,
}

impl Table {
    /// Index of the first column whose normalised name satisfies `pred`.
    pub fn column(&self, pred: impl Fn(&str) -> bool) -> Option<usize> {
        self.header.iter().position(|h| pred(&normalise(h)))
    }
}

/// Lower case with spaces, underscores, hyphens and dots removed: `IFMAP Height` → `ifmapheight`.
pub(crate) fn normalise(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '\t')).flat_map(char::to_lowercase).collect()
}

fn split_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    let mut out: Vec<String> = out.into_iter().map(|f| f.trim().to_string()).collect();
    // Trailing commas (SCALE-Sim writes one on every row) leave empty fields.
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// Splits `text` into a header and rows. Returns `None` when there is no non-empty line.
pub(crate) fn parse(text: &str) -> Option<Table> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<(usize, Vec<String>)> = None;
    let mut rows = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        // CR-only files have one "line"; split those on CR as well.
        for part in raw.split('\r') {
            let line = i + 1;
            if part.trim_start().starts_with('#') {
                continue;
            }
            let fields = split_fields(part);
            if fields.iter().all(String::is_empty) {
                continue;
            }
            if header.is_none() {
                header = Some((line, fields));
            } else {
                rows.push(Row { line, fields });
            }
        }
    }
    let (header_line, header) = header?;
    Some(Table { header_line, header, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_bom_crlf_padding_trailing_commas_and_empty_rows() {
        let t = parse("\u{feff}Layer name , M,N ,K,\r\n,,,,\r\n  a , 1, 2 ,3,\r\n\r\n# note\nb,4,5,6").unwrap();
        assert_eq!(t.header, ["Layer name", "M", "N", "K"]);
        assert_eq!(t.header_line, 1);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].fields, ["a", "1", "2", "3"]);
        assert_eq!(t.rows[0].line, 3);
        assert_eq!(t.rows[1].line, 6);
        assert_eq!(t.rows[1].get(9), "");
        assert_eq!(t.column(|h| h == "layername"), Some(0));
    }

    #[test]
    fn quotes_and_empty_input() {
        let t = parse("a,b\n\"x, y\",\"q\"\"\"\n").unwrap();
        assert_eq!(t.rows[0].fields, ["x, y", "q\""]);
        assert!(parse("").is_none());
        assert!(parse(" ,, \n\n").is_none());
        assert_eq!(normalise("IFMAP Height"), "ifmapheight");
        assert_eq!(normalise("num_filters"), "numfilters");
    }
}
