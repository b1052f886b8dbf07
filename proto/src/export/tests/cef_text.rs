//! CEF text: the escaping round-trips any string, the reader refuses each malformation with the
//! error that names it, never panics, and a verified CEF stream changed anywhere but a Device
//! Version is refused.

use super::*;
use proptest::prelude::*;

fn line_with(values: &[&str]) -> String {
    let mut buf = b"CEF:0|idledger|idledger|0.1.0|c|n|1|".to_vec();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        buf.extend_from_slice(format!("k{i}=").as_bytes());
        escape_value_into(&mut buf, value);
    }
    text(&buf)
}

/// A CEF header's seven fields, and extension pairs.
type Header<'a> = [&'a str; 7];
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// Lines the reader accepts, and what it reads.
#[test]
fn the_reader_reads_each_part() {
    let cases: &[(&str, Header, Pairs)] = &[
        (
            r"CEF:0|a\|b|c\\d|1|x|y z|3|k=v w=a b  c",
            ["0", "a|b", r"c\d", "1", "x", "y z", "3"],
            &[("k", "v"), ("w", "a b  c")],
        ),
        (
            "CEF:0|a|b|1|x|y|3|",
            ["0", "a", "b", "1", "x", "y", "3"],
            &[],
        ),
        (
            r"CEF:0|a|b|1|x|y|3|k=a\=b\\c\nd\re pipe|ok e=",
            ["0", "a", "b", "1", "x", "y", "3"],
            &[("k", "a=b\\c\nd\re pipe|ok"), ("e", "")],
        ),
        (
            "CEF:0|a|b|1|x|y|3|k=  spaced  v=1",
            ["0", "a", "b", "1", "x", "y", "3"],
            &[("k", "  spaced "), ("v", "1")],
        ),
    ];
    for (line, header, pairs) in cases {
        let parsed = parse_cef(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let got = [
            &parsed.version,
            &parsed.vendor,
            &parsed.product,
            &parsed.device_version,
            &parsed.class_id,
            &parsed.name,
            &parsed.severity,
        ]
        .map(String::as_str);
        assert_eq!(got, *header, "{line}");
        let got: Vec<(&str, &str)> = parsed
            .extension
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut want = pairs.to_vec();
        want.sort();
        assert_eq!(got, want, "{line}");
    }
}

/// Each malformed line, and the error that names what is wrong and where.
#[test]
fn the_reader_refuses_each_malformation() {
    let cases: &[(&str, &str)] = &[
        ("LEEF:1.0|a|b|1|x|", "expected a line starting `CEF:`"),
        ("CEF:0|a|b|1|x|y", "the header has 5 of its 7 fields"),
        ("CEF:", "the header has 0 of its 7 fields"),
        (
            r"CEF:0|a\=|b|1|x|y|3|",
            "unknown escape `\\=` at byte 7 of the header",
        ),
        ("CEF:0|a\\", "a lone backslash ends the header"),
        (
            "CEF:0|a\tb|b|1|x|y|3|",
            "control character U+0009 at byte 7 of the header",
        ),
        (
            r"CEF:0|a|b|1|x|y|3|k=\|",
            "unknown escape `\\|` at byte 20 of the extension",
        ),
        (
            r"CEF:0|a|b|1|x|y|3|k=v\",
            "a lone backslash ends the extension",
        ),
        (
            "CEF:0|a|b|1|x|y|3|k=v\rw",
            "control character U+000D at byte 21 of the extension",
        ),
        (
            "CEF:0|a|b|1|x|y|3|just text",
            "the extension does not start with `key=`",
        ),
        (
            "CEF:0|a|b|1|x|y|3| k=v",
            "extension key ` k` at byte 18 is not letters, digits and `_`",
        ),
        (
            "CEF:0|a|b|1|x|y|3|k=v bad-key=w",
            "extension key `bad-key` at byte 22 is not letters",
        ),
        ("CEF:0|a|b|1|x|y|3|k=v =w", "extension key `` at byte 22"),
        (
            "CEF:0|a|b|1|x|y|3|k=a=b",
            "an unescaped `=` in the value of `k` at byte 21",
        ),
        (
            "CEF:0|a|b|1|x|y|3|k=1 j=2 k=3",
            "extension key `k` appears twice",
        ),
        ("CEF:0|a|b|1|x|y|3|k=é\\ü", "unknown escape `\\ü`"),
    ];
    for (line, error) in cases {
        match parse_cef(line) {
            Ok(parsed) => panic!("{line}: read as {parsed:?}"),
            Err(e) => assert!(e.to_string().contains(error), "{line}: {e}"),
        }
    }
}

proptest! {
    /// Any strings, `|`, `=`, `\`, newlines and all, come back from an extension unchanged.
    #[test]
    fn extension_values_round_trip(values in proptest::collection::vec(any::<String>(), 1..5)) {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let line = line_with(&refs);
        prop_assert!(!line.contains('\n') && !line.contains('\r'));
        let parsed = parse_cef(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        for (i, value) in values.iter().enumerate() {
            prop_assert_eq!(parsed.get(&format!("k{i}")), Some(value.as_str()));
        }
    }

    /// Header fields without control characters come back unchanged, `|` and `\` included.
    #[test]
    fn header_fields_round_trip(fields in proptest::array::uniform5("[^\\x00-\\x1f\\x7f]{0,12}")) {
        let mut buf = b"CEF:0|".to_vec();
        for field in &fields {
            escape_header_into(&mut buf, field);
            buf.push(b'|');
        }
        buf.extend_from_slice(b"3|k=v");
        let parsed = parse_cef(&text(&buf)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            [parsed.vendor, parsed.product, parsed.device_version, parsed.class_id, parsed.name],
            fields
        );
    }

    /// The reader is total: any text is a line or an error.
    #[test]
    fn the_reader_never_panics(tail in "\\PC{0,80}", cut in 0usize..200) {
        let line = format!("CEF:0|a|b|1|x|y|3|{tail}");
        let _ = parse_cef(&line);
        let _ = parse_cef(&line[..line.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(line.len())]);
    }

    /// A character of a verified CEF stream replaced: the stream no longer verifies, unless the
    /// change was to a line's Device Version (the idledger version, which is not a fact about
    /// the entry and is taken as the line states it), and the check never panics.
    #[test]
    fn a_changed_cef_stream_is_refused(line in 0usize..6, at in 0usize..4000, with in any::<char>()) {
        let log = small_log();
        let checkpoints = [log.len()];
        let original = stream(&log, Shape::whole(RecordFormat::Cef, &checkpoints));
        let mut lines = original.clone();
        let target = &mut lines[line % original.len()];
        let chars: Vec<char> = target.chars().collect();
        let at = at % chars.len();
        prop_assume!(chars[at] != with && with != '\n' && with != '\r');
        *target = chars[..at].iter().chain([with].iter()).chain(chars[at + 1..].iter()).collect();
        let verified = verify(&lines);
        if verified.ok() {
            let (before, after) = (
                parse_cef(&original[line % original.len()]).map_err(|e| TestCaseError::fail(e.to_string()))?,
                parse_cef(&lines[line % original.len()]).map_err(|e| TestCaseError::fail(e.to_string()))?,
            );
            prop_assert_ne!(&before.device_version, &after.device_version);
            prop_assert_eq!(CefLine { device_version: String::new(), ..before }, CefLine { device_version: String::new(), ..after });
        }
    }
}

/// A few entries of different kinds, for the properties that build a stream per case.
fn small_log() -> Log {
    let all = every_kind();
    let pick = [0usize, 9, 30, all.len() - 3, all.len() - 1];
    Log::of(
        pick.iter()
            .map(|&i| (all[i].1.clone(), all[i].2.clone()))
            .collect(),
    )
}
