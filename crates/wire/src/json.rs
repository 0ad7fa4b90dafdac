//! A small JSON writer for the audit trail's `requestParameters` and `responseElements`: the generated shapes
//! write themselves into it member by member (`write_json`), straight into the event's bytes, with no
//! intermediate value tree. Members are written in the order of their CloudTrail (lowerCamelCase) names, as a
//! sorted map prints them, and sensitive members are never written (the generator leaves them out).

use std::io::Write as _;

/// Longest string value kept verbatim (in characters); a longer one is cut and marked `…[truncated]`.
pub const MAX_VALUE_CHARS: usize = 8192;

/// Appends JSON text to a byte buffer. Keys and structure come from the generated code; every string value is
/// escaped as `serde_json` escapes it (so the text is the same as a printed `serde_json::Value`).
pub struct Json<'a> {
    buf: &'a mut Vec<u8>,
    /// Whether the current object or array already has an element (a comma goes before the next one).
    more: bool,
}

impl<'a> Json<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Json<'a> {
        Json { buf, more: false }
    }

    /// Start an object (as a value: after [`Json::key`], [`Json::item`] or at the top).
    pub fn begin(&mut self) {
        self.buf.push(b'{');
        self.more = false;
    }

    pub fn end(&mut self) {
        self.buf.push(b'}');
        self.more = true;
    }

    pub fn begin_list(&mut self) {
        self.buf.push(b'[');
        self.more = false;
    }

    pub fn end_list(&mut self) {
        self.buf.push(b']');
        self.more = true;
    }

    /// A member name; its value follows.
    pub fn key(&mut self, k: &str) {
        if self.more {
            self.buf.push(b',');
        }
        self.string(k);
        self.buf.push(b':');
        self.more = false;
    }

    /// An array element follows.
    pub fn item(&mut self) {
        if self.more {
            self.buf.push(b',');
        }
        self.more = false;
    }

    /// A string value, cut after [`MAX_VALUE_CHARS`] characters.
    pub fn str_value(&mut self, v: &str) {
        // At most MAX_VALUE_CHARS bytes means at most as many characters: no count needed.
        if v.len() > MAX_VALUE_CHARS
            && let Some((cut, _)) = v.char_indices().nth(MAX_VALUE_CHARS)
        {
            let head = v.get(..cut).unwrap_or(v);
            self.buf.push(b'"');
            escape_into(self.buf, head);
            escape_into(self.buf, "…[truncated]");
            self.buf.push(b'"');
            self.more = true;
            return;
        }
        self.string(v);
        self.more = true;
    }

    pub fn num_value(&mut self, n: i64) {
        let _ = write!(self.buf, "{n}");
        self.more = true;
    }

    pub fn bool_value(&mut self, b: bool) {
        self.buf
            .extend_from_slice(if b { b"true" as &[u8] } else { b"false" });
        self.more = true;
    }

    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str_value(v);
    }

    pub fn num(&mut self, k: &str, n: i64) {
        self.key(k);
        self.num_value(n);
    }

    pub fn boolean(&mut self, k: &str, b: bool) {
        self.key(k);
        self.bool_value(b);
    }

    /// A timestamp member, in the wire format (`2026-11-30T05:00:00Z`).
    pub fn time(&mut self, k: &str, t: i64) {
        self.key(k);
        self.str_value(&crate::time::iso8601(t));
    }

    /// A blob member, base64 as on the wire.
    pub fn blob(&mut self, k: &str, b: &[u8]) {
        self.key(k);
        self.str_value(&data_encoding::BASE64.encode(b));
    }

    fn string(&mut self, s: &str) {
        self.buf.push(b'"');
        escape_into(self.buf, s);
        self.buf.push(b'"');
    }
}

/// JSON string escaping as `serde_json` does it: `"` and `\`, the short forms `\b \f \n \r \t`, other control
/// characters as `\u00xx`; everything else (non-ASCII included) verbatim.
pub fn escape_into(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if short.is_empty() {
            buf.extend_from_slice(b"\\u00");
            for nibble in [b >> 4, b & 0xf] {
                buf.push(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'));
            }
        } else {
            buf.extend_from_slice(short);
        }
        start = i + 1;
    }
    buf.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// Write `f`'s object as a top-level value: `null` when it wrote no member (as an empty parameter map was).
pub fn object_or_null(buf: &mut Vec<u8>, f: impl FnOnce(&mut Json<'_>)) {
    let start = buf.len();
    f(&mut Json::new(buf));
    if buf.get(start..) == Some(b"{}".as_slice()) {
        buf.truncate(start);
        buf.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_serde_json_does() {
        let mut buf = Vec::new();
        escape_into(&mut buf, "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é/€😀");
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é/€😀"
        );
    }

    #[test]
    fn objects_lists_and_truncation() {
        let mut buf = Vec::new();
        let mut j = Json::new(&mut buf);
        j.begin();
        j.str("a", "x");
        j.key("l");
        j.begin_list();
        for n in [1, 2] {
            j.item();
            j.begin();
            j.num("n", n);
            j.end();
        }
        j.end_list();
        j.boolean("b", true);
        j.str("long", &"é".repeat(MAX_VALUE_CHARS + 1));
        j.end();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with(r#"{"a":"x","l":[{"n":1},{"n":2}],"b":true,"long":"éé"#));
        assert!(text.ends_with("é…[truncated]\"}"));
        assert_eq!(text.matches('é').count(), MAX_VALUE_CHARS);

        let mut buf = Vec::new();
        object_or_null(&mut buf, |j| {
            j.begin();
            j.end();
        });
        assert_eq!(buf, b"null");
    }
}
