//! Text from a leaf made safe to print. Ids are validated free of control characters, but free
//! text (a reason) may hold newlines, and a ledger written by another tool may hold anything:
//! printed verbatim, a newline or an escape sequence could forge an "ok" line on a terminal, and
//! a bidirectional override could make a printed id read as another. Everything a verifier
//! prints from a leaf goes through here.

use std::borrow::Cow;

/// Whether printing `c` as it is could change how the text around it reads: the characters an
/// identifier may not hold (`characters`): control characters (C0, DEL, C1) and the
/// bidirectional formatting characters.
pub fn is_hazard(c: char) -> bool {
    crate::characters::is_refused(c, crate::characters::Chars::Identifier)
}

/// `text` with every hazardous character written as `\u{XXXX}` (and a backslash before `\u{`
/// doubled, so the escape cannot be faked).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hazard(c) || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hazard(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A JSON document with every hazardous character inside its strings written as a JSON
/// `\uXXXX` escape: the same JSON value, safe to print. (Serializers escape C0 controls but not
/// DEL, C1 controls or bidirectional formatting characters; all of them are in the BMP.)
pub fn printable_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_hazard) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_hazard(c) && !matches!(c, '\n' | '\t' | '\r') {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hazards_are_escaped_and_the_rest_kept() {
        let cases = [
            ("alice@example.com", "alice@example.com"),
            (
                "a\nok: the bundle verifies",
                "a\\u{000A}ok: the bundle verifies",
            ),
            ("\u{1b}[2K\rok", "\\u{001B}[2K\\u{000D}ok"),
            ("user\u{202E}txt.exe", "user\\u{202E}txt.exe"),
            ("\u{85}\u{7f}", "\\u{0085}\\u{007F}"),
            ("a\\u{000A}b", "a\\\\u{000A}b"),
            ("zürich ✓", "zürich ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(printable(input), want, "{input:?}");
        }
    }

    #[test]
    fn json_stays_the_same_value() {
        let value = serde_json::json!({ "id": "a\u{202E}b\u{85}c\u{7f}", "n": 1, "s": "x\ny" });
        let pretty = serde_json::to_string_pretty(&value).expect("serializes");
        let safe = printable_json(&pretty);
        assert!(!safe.chars().any(|c| is_hazard(c) && c != '\n'));
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back, value);
    }
}
