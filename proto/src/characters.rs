//! Which characters an event's strings may hold. Identifiers (ids, `source`, `resource`,
//! `ticket`, policy fields, `owner`, attribute keys) hold no control character (Unicode category
//! Cc) and no bidirectional formatting character: either can make printed output read other
//! than the stored value (a newline forging a line of a report, U+202E reversing the text after
//! it). Free text (`reason`, attribute text values) may hold newlines and tabs, and no other of
//! them. docs/EVENTS.md, "Characters", states the rule; docs/event.schema.json has it as patterns.
//! Lengths count characters too (docs/EVENTS.md, "Lengths").

/// The bidirectional formatting characters (Unicode's Bidi_Control property): the marks
/// U+061C, U+200E and U+200F, the embeddings and overrides U+202A to U+202E, and the isolates
/// U+2066 to U+2069.
pub const BIDI_CONTROLS: [char; 12] = [
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// The kind of string a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chars {
    /// An identifier or a short label: no control and no bidirectional formatting character.
    Identifier,
    /// Free text: newline (U+000A) and tab (U+0009) allowed, no other control or bidirectional
    /// formatting character.
    FreeText,
}

/// Whether a field of this kind may not hold `c`.
pub fn is_refused(c: char, chars: Chars) -> bool {
    match c {
        '\n' | '\t' => chars == Chars::Identifier,
        c => c.is_control() || BIDI_CONTROLS.contains(&c),
    }
}

/// The first character a field of this kind may not hold, with its byte offset in `text`.
pub fn first_refused(text: &str, chars: Chars) -> Option<(usize, char)> {
    // Nearly every string is printable ASCII: one pass over the bytes decides it.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    text.char_indices().find(|&(_, c)| is_refused(c, chars))
}

/// What a rejection says of a refused character: `contains the control character U+000A at
/// byte 3`.
pub fn refusal(at: usize, c: char) -> String {
    let what = if c.is_control() {
        "control character"
    } else {
        "bidirectional formatting character"
    };
    format!("contains the {what} U+{:04X} at byte {at}", u32::from(c))
}

/// The length of `text` in characters (Unicode scalar values, as JSON Schema's `maxLength`
/// counts them) if that is over `max`. Counted only when its bytes are over `max` (a string holds
/// no more characters than bytes), so short text is never counted.
pub fn count_over(text: &str, max: usize) -> Option<u64> {
    if text.len() <= max {
        return None;
    }
    let chars = text.chars().count();
    (chars > max).then_some(chars as u64)
}

/// `text` with every character an identifier may not hold written as `<U+XXXX>`, for quoting a
/// refused value (an attribute key) in a rejection without printing the character itself.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_refused(c, Chars::Identifier) {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, identifier verdict, free text verdict): the first refused character and where.
    #[test]
    #[rustfmt::skip]
    fn refused_characters_are_found_where_they_are() {
        type Found = Option<(usize, char)>;
        let cases: &[(&str, Found, Found)] = &[
            ("alice@example.com", None, None),
            ("café ☕ 東京", None, None),
            ("a\nb", Some((1, '\n')), None),
            ("a\tb", Some((1, '\t')), None),
            ("a\rb", Some((1, '\r')), Some((1, '\r'))),
            ("\0", Some((0, '\0')), Some((0, '\0'))),
            ("x\u{7F}", Some((1, '\u{7F}')), Some((1, '\u{7F}'))),
            ("é\u{85}", Some((2, '\u{85}')), Some((2, '\u{85}'))),
            ("\u{9F}", Some((0, '\u{9F}')), Some((0, '\u{9F}'))),
            ("admin\u{202E}txt.exe", Some((5, '\u{202E}')), Some((5, '\u{202E}'))),
            ("\u{2066}x", Some((0, '\u{2066}')), Some((0, '\u{2066}'))),
            ("ab\u{200F}", Some((2, '\u{200F}')), Some((2, '\u{200F}'))),
            ("\u{061C}", Some((0, '\u{061C}')), Some((0, '\u{061C}'))),
            // Neighbours of the refused ranges are fine.
            ("\u{A0}\u{200D}\u{2029}\u{2065}\u{206A}\u{2029}", None, None),
        ];
        for &(text, identifier, free) in cases {
            assert_eq!(first_refused(text, Chars::Identifier), identifier, "{text:?}");
            assert_eq!(first_refused(text, Chars::FreeText), free, "{text:?}");
        }
    }

    /// (text, limit, the length reported): characters are counted, not bytes.
    #[test]
    fn lengths_over_a_limit_are_counted_in_characters() {
        let cases: &[(&str, usize, Option<u64>)] = &[
            ("abc", 3, None),
            ("abcd", 3, Some(4)),
            ("東京", 2, None),
            ("東京都", 2, Some(3)),
            ("😀", 1, None),
            ("e\u{301}", 1, Some(2)),
        ];
        for &(text, max, want) in cases {
            assert_eq!(count_over(text, max), want, "{text:?}");
        }
    }

    #[test]
    fn refusals_name_the_character_and_escaped_text_holds_none() {
        assert_eq!(
            refusal(3, '\n'),
            "contains the control character U+000A at byte 3"
        );
        assert_eq!(
            refusal(0, '\u{202E}'),
            "contains the bidirectional formatting character U+202E at byte 0"
        );
        assert_eq!(escaped("a\nb\u{202E}c"), "a<U+000A>b<U+202E>c");
    }

    /// Every Cc character and every Bidi_Control character is refused in identifiers, and only
    /// newline and tab are allowed in free text; nothing else in the Basic Multilingual Plane.
    #[test]
    fn the_refused_set_is_cc_and_bidi_controls() {
        for u in 0..=0xFFFFu32 {
            let Some(c) = char::from_u32(u) else { continue };
            let cc = u < 0x20 || (0x7F..=0x9F).contains(&u);
            let bidi = u == 0x061C
                || u == 0x200E
                || u == 0x200F
                || (0x202A..=0x202E).contains(&u)
                || (0x2066..=0x2069).contains(&u);
            assert_eq!(is_refused(c, Chars::Identifier), cc || bidi, "U+{u:04X}");
            let free = (cc || bidi) && c != '\n' && c != '\t';
            assert_eq!(is_refused(c, Chars::FreeText), free, "U+{u:04X}");
        }
    }
}
