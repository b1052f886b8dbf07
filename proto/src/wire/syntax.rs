//! A strict JSON reader (RFC 8259) for payloads the event decoder refused: it says where the text
//! stops being JSON, and why, in words this project owns, or gives the document as a tree for
//! `shape` to judge. A rejection is stored in a hashed leaf, so its text must not change when a
//! dependency does: serde_json reads every payload first, but its messages and positions are
//! never stored. This reader runs only on refused payloads, so it is written to be plain rather
//! than fast.

use std::fmt;

/// Deepest nesting of objects and arrays read. An event is three levels deep at most, so a
/// deeper document is refused without reading further (and no recursion here goes deeper).
pub(crate) const MAX_DEPTH: usize = 64;

/// A JSON document as `shape` needs it: the kind of every value, and member names decoded.
#[derive(Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value's kind, as a rejection names what it found.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool => "a boolean",
            Json::Number => "a number",
            Json::String => "a string",
            Json::Array => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Where a text stops being JSON: the line (from 1) and the column (bytes from the line's start,
/// through the offending byte; at the end of the input, through the last byte), and why.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) problem: Problem,
}

/// Why a text is not JSON. The words are the project's: they are stored in quarantined entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The input ended inside a string, an object or an array (or before any value).
    EndOfInput(Option<Open>),
    ExpectedValue,
    ExpectedName,
    ExpectedColon,
    ExpectedCommaOrBrace,
    ExpectedCommaOrBracket,
    InvalidLiteral,
    InvalidNumber,
    NumberOutOfRange,
    InvalidEscape,
    UnpairedSurrogate,
    ControlCharacter,
    TrailingCharacters,
    TooDeep,
}

/// What was open when the input ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Open {
    String,
    Object,
    Array,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::EndOfInput(None) => "unexpected end of input",
            Problem::EndOfInput(Some(Open::String)) => "unexpected end of input in a string",
            Problem::EndOfInput(Some(Open::Object)) => "unexpected end of input in an object",
            Problem::EndOfInput(Some(Open::Array)) => "unexpected end of input in an array",
            Problem::ExpectedValue => "expected a value",
            Problem::ExpectedName => "expected a member name in double quotes",
            Problem::ExpectedColon => "expected `:` after a member name",
            Problem::ExpectedCommaOrBrace => "expected `,` or `}`",
            Problem::ExpectedCommaOrBracket => "expected `,` or `]`",
            Problem::InvalidLiteral => "expected `true`, `false` or `null`",
            Problem::InvalidNumber => "invalid number",
            Problem::NumberOutOfRange => "number out of range",
            Problem::InvalidEscape => "invalid escape",
            Problem::UnpairedSurrogate => "unpaired surrogate in a \\u escape",
            Problem::ControlCharacter => "unescaped control character in a string",
            Problem::TrailingCharacters => "trailing characters after the value",
            Problem::TooDeep => "nested more than 64 levels deep",
        })
    }
}

/// Reads `text` as one JSON value, with nothing but whitespace around it.
pub(crate) fn read(text: &str) -> Result<Json, SyntaxError> {
    let mut r = Reader {
        bytes: text.as_bytes(),
        at: 0,
        open: Vec::new(),
    };
    let value = r.value();
    let value = value.and_then(|v| {
        r.skip_space();
        if r.at < r.bytes.len() {
            Err(Problem::TrailingCharacters)
        } else {
            Ok(v)
        }
    });
    value.map_err(|problem| r.error(problem))
}

struct Reader<'a> {
    bytes: &'a [u8],
    /// The offending byte once a problem is found.
    at: usize,
    /// The objects, arrays and string open around `at`, innermost last.
    open: Vec<Open>,
}

impl Reader<'_> {
    fn error(&self, problem: Problem) -> SyntaxError {
        // At the end of the input the position is that of its last byte (none: line 1, column 0).
        let at = if matches!(problem, Problem::EndOfInput(_)) {
            match self.bytes.len().checked_sub(1) {
                Some(last) => last,
                None => {
                    return SyntaxError {
                        line: 1,
                        column: 0,
                        problem,
                    };
                }
            }
        } else {
            self.at.min(self.bytes.len().saturating_sub(1))
        };
        let before = &self.bytes[..at];
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |newline| newline + 1);
        SyntaxError {
            line: 1 + memchr::memchr_iter(b'\n', before).count() as u64,
            column: (at - line_start + 1) as u64,
            problem,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn end(&self) -> Problem {
        Problem::EndOfInput(self.open.last().copied())
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Json, Problem> {
        self.skip_space();
        match self.peek() {
            None => Err(self.end()),
            Some(b'{') => self.container(Open::Object),
            Some(b'[') => self.container(Open::Array),
            Some(b'"') => self.string().map(|_| Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Json::Bool),
            Some(b'f') => self.literal(b"false", Json::Bool),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(_) => Err(Problem::ExpectedValue),
        }
    }

    fn container(&mut self, kind: Open) -> Result<Json, Problem> {
        if self.open.len() >= MAX_DEPTH {
            return Err(Problem::TooDeep);
        }
        self.open.push(kind);
        self.at += 1;
        let value = match kind {
            Open::Object => self.members().map(Json::Object),
            _ => self.elements().map(|()| Json::Array),
        }?;
        self.open.pop();
        Ok(value)
    }

    fn members(&mut self) -> Result<Vec<(String, Json)>, Problem> {
        let mut members = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(members);
        }
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err(self.end()),
                Some(b'"') => {}
                Some(_) => return Err(Problem::ExpectedName),
            }
            let name = self.string()?;
            self.skip_space();
            match self.peek() {
                None => return Err(self.end()),
                Some(b':') => self.at += 1,
                Some(_) => return Err(Problem::ExpectedColon),
            }
            members.push((name, self.value()?));
            self.skip_space();
            match self.peek() {
                None => return Err(self.end()),
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(members);
                }
                Some(_) => return Err(Problem::ExpectedCommaOrBrace),
            }
        }
    }

    fn elements(&mut self) -> Result<(), Problem> {
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.skip_space();
            match self.peek() {
                None => return Err(self.end()),
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(_) => return Err(Problem::ExpectedCommaOrBracket),
            }
        }
    }

    fn literal(&mut self, word: &[u8], value: Json) -> Result<Json, Problem> {
        for &want in word {
            match self.peek() {
                None => return Err(self.end()),
                Some(b) if b == want => self.at += 1,
                Some(_) => return Err(Problem::InvalidLiteral),
            }
        }
        Ok(value)
    }

    /// A number; a problem is placed at its first byte, or at the end of the input.
    fn number(&mut self) -> Result<Json, Problem> {
        let start = self.at;
        let digits = |r: &mut Self| {
            let from = r.at;
            while let Some(b'0'..=b'9') = r.peek() {
                r.at += 1;
            }
            r.at - from
        };
        let invalid = |r: &mut Self| {
            let problem = if r.peek().is_none() {
                r.end()
            } else {
                Problem::InvalidNumber
            };
            r.at = start;
            Err(problem)
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return invalid(self);
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return invalid(self),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return invalid(self);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if digits(self) == 0 {
                return invalid(self);
            }
        }
        // The lexeme is ASCII digits and signs, so it is text; a value too large for a double
        // is refused, as no attribute could hold it.
        let lexeme = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or("0");
        if lexeme.parse::<f64>().is_ok_and(f64::is_infinite) {
            self.at = start;
            return Err(Problem::NumberOutOfRange);
        }
        Ok(Json::Number)
    }

    /// A string, decoded; a problem is placed at the offending byte (an escape's backslash).
    fn string(&mut self) -> Result<String, Problem> {
        self.open.push(Open::String);
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.end());
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let c = self.escape()?;
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1F => return Err(Problem::ControlCharacter),
                _ => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
        self.at += 1;
        self.open.pop();
        // The input is UTF-8 and escapes add whole characters.
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    fn escape(&mut self) -> Result<char, Problem> {
        let backslash = self.at;
        let simple = match self.bytes.get(backslash + 1) {
            None => {
                self.at = backslash + 1;
                return Err(self.end());
            }
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            Some(_) => return Err(Problem::InvalidEscape),
        };
        self.at = backslash + 2;
        Ok(simple)
    }

    /// `\uXXXX`, or a surrogate pair of two; `at` is on the first backslash.
    fn unicode_escape(&mut self) -> Result<char, Problem> {
        let first = self.hex4()?;
        if (0xDC00..0xE000).contains(&first) {
            return Err(Problem::UnpairedSurrogate);
        }
        if !(0xD800..0xDC00).contains(&first) {
            self.at += 6;
            return Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER));
        }
        let high = self.at;
        self.at += 6;
        let rest = &self.bytes[self.at..];
        if rest.is_empty() || rest == b"\\" {
            return Err(self.end());
        }
        if rest.starts_with(b"\\u") {
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                self.at += 6;
                let c = 0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
        }
        self.at = high;
        Err(Problem::UnpairedSurrogate)
    }

    /// The four hex digits after the `\u` at `at`.
    fn hex4(&mut self) -> Result<u32, Problem> {
        let mut n = 0;
        for i in 2..6 {
            let digit = match self.bytes.get(self.at + i) {
                None => {
                    self.at = self.bytes.len();
                    return Err(self.end());
                }
                Some(&b) => (b as char).to_digit(16).ok_or(Problem::InvalidEscape)?,
            };
            n = n * 16 + digit;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn problem(text: &str) -> (u64, u64, String) {
        let e = read(text).expect_err(text);
        (e.line, e.column, e.problem.to_string())
    }

    /// (text, line, column, message): every problem, where it is said to be.
    #[test]
    #[rustfmt::skip]
    fn every_problem_is_placed_and_named() {
        let cases: &[(&str, u64, u64, &str)] = &[
            ("", 1, 0, "unexpected end of input"),
            ("  ", 1, 2, "unexpected end of input"),
            (r#"{"id": ?}"#, 1, 8, "expected a value"),
            (r#"{"id":"e1""#, 1, 10, "unexpected end of input in an object"),
            (r#"{"id":"e1"#, 1, 9, "unexpected end of input in a string"),
            ("[1,2", 1, 4, "unexpected end of input in an array"),
            ("{\"a\":1,\n\"b\":2\n", 2, 6, "unexpected end of input in an object"),
            (r#"{"a":1} x"#, 1, 9, "trailing characters after the value"),
            (r#"{"a":1}{}"#, 1, 8, "trailing characters after the value"),
            (r#"{a:1}"#, 1, 2, "expected a member name in double quotes"),
            (r#"{"a":1,}"#, 1, 8, "expected a member name in double quotes"),
            (r#"{"a" 1}"#, 1, 6, "expected `:` after a member name"),
            (r#"{"a":1 "b":2}"#, 1, 8, "expected `,` or `}`"),
            ("[1 2]", 1, 4, "expected `,` or `]`"),
            ("[1,]", 1, 4, "expected a value"),
            (r#"{"a":tru}"#, 1, 9, "expected `true`, `false` or `null`"),
            (r#"{"a":nul"#, 1, 8, "unexpected end of input in an object"),
            (r#"{"a":01}"#, 1, 6, "invalid number"),
            (r#"{"a":1.}"#, 1, 6, "invalid number"),
            (r#"{"a":-x}"#, 1, 6, "invalid number"),
            (r#"{"a":1e+}"#, 1, 6, "invalid number"),
            (r#"{"a":1e400}"#, 1, 6, "number out of range"),
            (r#"{"a":-1e400}"#, 1, 6, "number out of range"),
            (r#"{"a":"x\qy"}"#, 1, 8, "invalid escape"),
            (r#"{"a":"\u12G4"}"#, 1, 7, "invalid escape"),
            (r#"{"a":"\ud800"}"#, 1, 7, "unpaired surrogate in a \\u escape"),
            (r#"{"a":"\ud800\u0041"}"#, 1, 7, "unpaired surrogate in a \\u escape"),
            (r#"{"a":"\udc00"}"#, 1, 7, "unpaired surrogate in a \\u escape"),
            ("{\"a\":\"x\ny\"}", 1, 8, "unescaped control character in a string"),
            ("{\"a\":\"x\ty\"}", 1, 8, "unescaped control character in a string"),
            ("{\"é\":?}", 1, 7, "expected a value"),
            ("\n\n  ?", 3, 3, "expected a value"),
        ];
        for &(text, line, column, message) in cases {
            assert_eq!(problem(text), (line, column, message.to_owned()), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(problem(&deep), (1, MAX_DEPTH as u64 + 1, "nested more than 64 levels deep".to_owned()));
        let deepest = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(read(&deepest), Ok(Json::Array));
    }

    /// What is read: the kinds of values, member names decoded, in order, duplicates kept.
    #[test]
    fn documents_are_read_as_kinds_with_names_decoded() {
        let doc =
            r#" {"a":1, "b":[true,{}], "c\u00e9\ud83d\ude00":"x\"", "a":null, "d":{"e":false}} "#;
        let want = Json::Object(vec![
            ("a".into(), Json::Number),
            ("b".into(), Json::Array),
            ("cé😀".into(), Json::String),
            ("a".into(), Json::Null),
            ("d".into(), Json::Object(vec![("e".into(), Json::Bool)])),
        ]);
        assert_eq!(read(doc), Ok(want));
    }

    const PUNCTUATION: &[u8] = b"{}[],:\"\\ 0a-";

    /// Text that is JSON, and text near it: JSON-ish fragments glued together, then a byte
    /// changed, dropped or added.
    fn jsonish() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(":".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("true".to_owned()),
            Just("nul".to_owned()),
            Just("null".to_owned()),
            Just("\\".to_owned()),
            Just("\\u".to_owned()),
            Just("\\ud83d".to_owned()),
            Just("\\udc00".to_owned()),
            Just("\"".to_owned()),
            Just("é".to_owned()),
            "-?[0-9]{0,3}(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,3})?",
            "\"[a-z\\\\\"/bfnrtu0-9\\t]{0,6}\"",
        ];
        let glued = proptest::collection::vec(atom, 0..12).prop_map(|v| v.concat());
        let document = any::<u8>().prop_map(|n| {
            let depth = usize::from(n % 4);
            format!(
                "{}{{\"a\":[1,2.5e3,\"x\\u00e9\"],\"b\":{{}}}}{}",
                "[".repeat(depth),
                "]".repeat(depth)
            )
        });
        prop_oneof![
            glued,
            document.clone(),
            (document, any::<usize>(), any::<u8>()).prop_map(|(d, at, b)| {
                let mut bytes = d.into_bytes();
                let at = at % bytes.len();
                match b % 3 {
                    0 => bytes[at] = PUNCTUATION[usize::from(b) % PUNCTUATION.len()],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, PUNCTUATION[usize::from(b) % PUNCTUATION.len()]),
                }
                String::from_utf8_lossy(&bytes).into_owned()
            })
        ]
    }

    proptest! {
        /// This reader and serde_json agree on what is JSON (nesting stays under both limits).
        #[test]
        fn agrees_with_serde_json_on_what_is_json(text in jsonish()) {
            let ours = read(&text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            prop_assert_eq!(ours, theirs, "{:?}", text);
        }
    }
}
