//! A small, allocation-light XML writer for Query-protocol responses. Only the codec writes XML.

use std::fmt::Write;

/// Builds one response document. Element names are static (they come from the API model, never from input);
/// text is always escaped.
pub struct Xml {
    buf: String,
}

impl Xml {
    pub fn new() -> Xml {
        Xml {
            buf: String::with_capacity(512),
        }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn open_ns(&mut self, tag: &str, ns: &str) -> &mut Self {
        let _ = write!(self.buf, "<{tag} xmlns=\"{ns}\">");
        self
    }

    /// `<tag/>`: an empty element (an empty list, as AWS writes it).
    pub fn empty(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push_str("/>");
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>escaped text</tag>`
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.buf, text);
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }

    pub fn num(&mut self, tag: &str, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.buf, "<{tag}>{n}</{tag}>");
        self
    }

    pub fn boolean(&mut self, tag: &str, b: bool) -> &mut Self {
        self.elem(tag, if b { "true" } else { "false" })
    }

    /// A list of scalars: `<tag><member>v</member>…</tag>`, `<tag/>` when empty.
    pub fn str_list<'a>(
        &mut self,
        tag: &str,
        items: impl IntoIterator<Item = &'a str>,
    ) -> &mut Self {
        let mut it = items.into_iter().peekable();
        if it.peek().is_none() {
            return self.empty(tag);
        }
        self.open(tag);
        for v in it {
            self.elem("member", v);
        }
        self.close(tag)
    }

    /// A list of structures, each written by `f` inside `<member>`.
    pub fn list<T>(
        &mut self,
        tag: &str,
        items: &[T],
        mut f: impl FnMut(&mut Xml, &T),
    ) -> &mut Self {
        if items.is_empty() {
            return self.empty(tag);
        }
        self.open(tag);
        for item in items {
            self.open("member");
            f(self, item);
            self.close("member");
        }
        self.close(tag)
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

impl Default for Xml {
    fn default() -> Self {
        Xml::new()
    }
}

/// Escape XML text and attribute content. Control characters that XML 1.0 forbids are replaced by
/// character references where legal or dropped, so the document always parses.
pub fn escape_into(out: &mut String, s: &str) {
    // Runs of ordinary text are copied whole; only the bytes below are looked at one by one (a session token
    // is a kilobyte of plain base64 — pushing it character by character was a hot spot).
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // Skip plain text 16 bytes at a time: the test has no early exit and a fixed length (an array, not a
        // slice), so it compiles to a few vector compares per chunk instead of a branch per byte.
        if let Some(chunk) = bytes
            .get(i..i + 16)
            .and_then(|c| <&[u8; 16]>::try_from(c).ok())
            && chunk.iter().fold(true, |all, &c| all & is_plain(c))
        {
            i += 16;
            continue;
        }
        let replacement: Option<&str> = match b {
            b'&' => Some("&amp;"),
            b'<' => Some("&lt;"),
            b'>' => Some("&gt;"),
            b'"' => Some("&quot;"),
            b'\'' => Some("&apos;"),
            b'\t' => Some("&#9;"),
            b'\n' => Some("&#10;"),
            b'\r' => Some("&#13;"),
            // Other control characters: not allowed in XML 1.0, dropped.
            0..0x20 => Some(""),
            // U+FFFE and U+FFFF (EF BF BE / EF BF BF): not characters, dropped.
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => {
                out.push_str(s.get(start..i).unwrap_or_default());
                i += 3;
                start = i;
                continue;
            }
            _ => None,
        };
        if let Some(r) = replacement {
            out.push_str(s.get(start..i).unwrap_or_default());
            out.push_str(r);
            start = i + 1;
        }
        i += 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
}

/// A byte that is copied as it is: not markup, not a control character, not the lead byte of U+FFFE/U+FFFF.
/// Written with `&`, not `&&`: no branch per comparison, so a chunk's test compiles to vector compares (with
/// short-circuits it was a branch per byte, mispredicted on base64 text's mix of letters and digits).
fn is_plain(b: u8) -> bool {
    (b >= 0x20) & (b != b'&') & (b != b'<') & (b != b'>') & (b != b'"') & (b != b'\'') & (b != 0xEF)
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

impl Xml {
    /// Continue writing after an existing buffer.
    pub fn from_string(buf: String) -> Xml {
        Xml { buf }
    }

    /// Append pre-rendered XML (produced by another `Xml`).
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.buf.push_str(xml);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape("x\u{1}y"), "xy");
        assert_eq!(escape("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(escape("\u{FFFE}é\u{FFFF}\u{FFFD}x"), "é\u{FFFD}x");
    }

    /// The character-by-character definition the fast escaper must equal.
    fn reference(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\t' | '\n' | '\r' => out.push_str(&format!("&#{};", c as u32)),
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
                c => out.push(c),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn escaping_equals_the_reference(s in "(?s).{0,64}|[\\x00-\\x20&<>\"'\u{FFFD}-\u{FFFF}a-z]{0,64}|[a-zA-Z0-9+/=]{0,40}[&<\\x01\u{FFFE}\u{FFFF}é]?[a-z]{0,40}") {
            proptest::prop_assert_eq!(escape(&s), reference(&s));
        }
    }

    #[test]
    fn empty_list_is_self_closing() {
        let mut x = Xml::new();
        x.str_list("Tags", std::iter::empty());
        assert_eq!(x.finish(), "<Tags/>");
    }
}
