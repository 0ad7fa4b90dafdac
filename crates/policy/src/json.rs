//! A small, strict JSON reader for policy documents.
//!
//! `serde_json` silently keeps the last of duplicate object keys, but AWS rejects policies with
//! duplicate keys, and simulation wants the line/column where each statement starts. So the crate
//! reads JSON itself: objects keep their keys in order, duplicates are an error, numbers keep their
//! source text (so `"3600"` and `3600` can both be compared as numbers and re-serialised as
//! written), nesting depth is bounded so hostile input cannot exhaust the stack.

use std::fmt;

/// Maximum nesting depth accepted. Real policies nest at most five levels deep; the parser
/// recurses once per level, so this bound is what keeps hostile input off the stack's end.
pub(crate) const MAX_DEPTH: usize = 32;

/// A line/column position (both 1-based, columns counted in characters) in the source document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Position {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number, in characters.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A parsed JSON value with source positions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Json {
    pub value: JsonValue,
    pub start: Position,
    pub end: Position,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonValue {
    Null,
    Bool(bool),
    /// The number exactly as written in the source.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Keys in document order; duplicates were rejected while parsing.
    Object(Vec<(String, Json)>),
}

impl JsonValue {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            JsonValue::Null => "null",
            JsonValue::Bool(_) => "boolean",
            JsonValue::Number(_) => "number",
            JsonValue::String(_) => "string",
            JsonValue::Array(_) => "array",
            JsonValue::Object(_) => "object",
        }
    }
}

/// Why the document is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub message: String,
    pub at: Position,
}

pub(crate) fn parse(text: &str) -> Result<Json, JsonError> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
        line: 1,
        col: 1,
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.err("unexpected text after the end of the document"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    line: u32,
    col: u32,
}

impl Parser<'_> {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.col,
        }
    }

    fn err(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            message: message.into(),
            at: self.pos(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Advances over one byte, keeping line/column (in characters) up to date.
    fn bump(&mut self) {
        if let Some(&b) = self.s.get(self.i) {
            self.i += 1;
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.col = 1;
            } else if b & 0xC0 != 0x80 {
                self.col = self.col.saturating_add(1);
            }
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.err(format!("expected `{}`", c as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("document is nested too deeply"));
        }
        let start = self.pos();
        let value = match self.peek() {
            None => return Err(self.err("unexpected end of document")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => JsonValue::String(self.string()?),
            Some(b't') => {
                self.literal("true")?;
                JsonValue::Bool(true)
            }
            Some(b'f') => {
                self.literal("false")?;
                JsonValue::Bool(false)
            }
            Some(b'n') => {
                self.literal("null")?;
                JsonValue::Null
            }
            Some(b'-' | b'0'..=b'9') => JsonValue::Number(self.number()?),
            Some(_) => return Err(self.err("expected a JSON value")),
        };
        Ok(Json {
            value,
            start,
            end: self.pos(),
        })
    }

    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        if self.s.get(self.i..self.i + word.len()) == Some(word.as_bytes()) {
            for _ in 0..word.len() {
                self.bump();
            }
            Ok(())
        } else {
            Err(self.err("expected a JSON value"))
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        self.bump(); // {
        let mut entries: Vec<(String, Json)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(JsonValue::Object(entries));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key_pos = self.pos();
            let key = self.string()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(JsonError {
                    message: format!("duplicate key `{key}`"),
                    at: key_pos,
                });
            }
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let v = self.value(depth + 1)?;
            entries.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return Ok(JsonValue::Object(entries));
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsonValue, JsonError> {
        self.bump(); // [
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(JsonValue::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(JsonValue::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn number(&mut self) -> Result<String, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.bump();
                }
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.bump();
            }
        }
        Ok(self.src.get(start..self.i).unwrap_or_default().to_owned())
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("invalid `\\u` escape")),
            };
            v = v * 16 + u32::from(d);
            self.bump();
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.bump(); // opening quote
        let mut out = String::new();
        loop {
            // Copy the longest run of plain characters in one go.
            let run_start = self.i;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.bump();
            }
            out.push_str(self.src.get(run_start..self.i).unwrap_or_default());
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.bump();
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.bump();
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.peek() != Some(b'\\') {
                                    return Err(self.err("unpaired surrogate in `\\u` escape"));
                                }
                                self.bump();
                                if self.peek() != Some(b'u') {
                                    return Err(self.err("unpaired surrogate in `\\u` escape"));
                                }
                                self.bump();
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("unpaired surrogate in `\\u` escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let c = char::from_u32(code)
                                .ok_or_else(|| self.err("invalid `\\u` escape"))?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.err("invalid escape sequence")),
                    };
                    self.bump();
                    out.push(c);
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

/// Appends `s` to `out` as a JSON string literal.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn parses_nested() {
        let j =
            parse(r#" {"a": [1, -2.5e3, "x\u00e9\ud83d\ude00"], "b": {"c": null, "d": true}} "#)
                .unwrap();
        let JsonValue::Object(o) = j.value else {
            unreachable!()
        };
        assert_eq!(o.len(), 2);
        assert_eq!(j.start, Position { line: 1, column: 2 });
    }

    #[test]
    fn rejects_duplicates_and_garbage() {
        assert!(
            parse(r#"{"a":1,"a":2}"#)
                .unwrap_err()
                .message
                .contains("duplicate")
        );
        assert!(parse(r#"{"a":1,}"#).is_err());
        assert!(parse(r#"{"a":01}"#).is_err());
        assert!(parse(r#"{"a":1} x"#).is_err());
        assert!(parse("\"\\ud800\"").is_err());
        assert!(parse(&"[".repeat(100)).is_err());
    }

    /// Runs `f` on a thread with a 256 KiB stack: a recursion that the depth limit failed to
    /// stop would overflow it and abort the test binary.
    pub(crate) fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, f)
                .unwrap()
                .join()
                .unwrap()
        })
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = [
            "[".repeat(100_000),
            "{".repeat(100_000),
            r#"{"a":"#.repeat(100_000),
            r#"[{"a":"#.repeat(50_000),
            format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        ];
        for doc in &deep {
            let e = on_small_stack(|| parse(doc)).unwrap_err();
            assert!(
                e.message == "document is nested too deeply" || doc.starts_with("{{"),
                "{}",
                e.message
            );
        }
        // `{{` is refused at once: an object needs a string key.
        assert_eq!(
            on_small_stack(|| parse(&deep[1])).unwrap_err().message,
            "expected a string key"
        );
        // The deepest accepted document, and one level more.
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(on_small_stack(|| parse(&ok)).is_ok());
        let over = format!("[{ok}]");
        assert_eq!(
            on_small_stack(|| parse(&over)).unwrap_err().at,
            Position {
                line: 1,
                column: 34
            }
        );
    }

    #[test]
    fn positions_count_lines() {
        let j = parse("{\n  \"a\": {\"b\": 1}\n}").unwrap();
        let JsonValue::Object(o) = j.value else {
            unreachable!()
        };
        assert_eq!(o[0].1.start, Position { line: 2, column: 8 });
    }
}
