//! Escaping text and attributes, and keeping links relative.

/// `s` with the five characters that mean something in HTML (and XML)
/// escaped, so it is safe as element text and inside a quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `href` as an escaped attribute value when it is a relative reference (a
/// file beside the page or under it), `None` when it names a scheme or a
/// host (`javascript:`, `https://`, `//host`) or is blank: the page links
/// only to files written with it.
pub fn relative_href(href: &str) -> Option<String> {
    let h = href.trim();
    if h.is_empty() || h.starts_with("//") || h.starts_with('/') || h.chars().any(char::is_control) {
        return None;
    }
    let first = h.split(['/', '?', '#']).next().unwrap_or("");
    if first.contains(':') {
        return None;
    }
    Some(escape(&h.replace(' ', "%20")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_links() {
        assert_eq!(escape(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(relative_href("charts/a b.svg").as_deref(), Some("charts/a%20b.svg"));
        assert_eq!(relative_href("trace.json?x=1&y").as_deref(), Some("trace.json?x=1&amp;y"));
        for bad in
            ["javascript:alert(1)", "https://example.invalid/x", "//host/x", "/etc/passwd", " ", "a\nb", "JaVaScRiPt:x"]
        {
            assert_eq!(relative_href(bad), None, "{bad}");
        }
    }
}
