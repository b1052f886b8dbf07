//! The JSON an export line may be: an object in which no key appears twice at any depth, and no
//! key is one of serde_json's private marker keys. Readers disagree on both: with a key twice,
//! serde_json keeps the last value while other parsers keep the first or both, and an object
//! whose only key is `$serde_json::private::RawValue` is read by serde_json's `Value` as the
//! JSON inside its string while a SIEM sees one opaque string. Either would let a line show one
//! thing to the verifier and another to its reader, so `verify-export` refuses both before it
//! reads a line. For the same reason every number must be written as serde_json writes the value
//! it parses to (`1e-400`, `99.99999999999999999` and `-0.0` for `0.0` all parse to a float the
//! entry holds, while a reader of decimals or of the raw text sees another number).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// The prefix of serde_json's private marker keys (raw values, arbitrary-precision numbers).
const PRIVATE_KEY_PREFIX: &str = "$serde_json::private::";

/// Nesting deeper than this is refused (serde_json refuses deeper than 128 on its own).
const MAX_DEPTH: usize = 128;

/// Why a line is not read.
#[derive(Debug)]
pub(super) enum Unread {
    /// It is not JSON at all (the reader then says what it is not).
    NotJson,
    /// It is JSON that readers read differently: why.
    Ambiguous(String),
}

/// Checks that `raw` is one JSON value with no key twice in an object, no private marker key and
/// every number written as serde_json writes it; the error names the key or the number.
pub(super) fn check(raw: &str) -> Result<(), Unread> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let walked = Strict { depth: 0 }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match walked {
        Ok(()) => {}
        Err(e) if e.is_data() => return Err(Unread::Ambiguous(e.to_string())),
        Err(_) => return Err(Unread::NotJson),
    }
    match numbers(raw).find(|n| !is_canonical(n)) {
        Some(n) => Err(Unread::Ambiguous(format!(
            "the number `{n}` is not written as idledger writes the value it reads as (a reader of decimals or of the text sees another number)"
        ))),
        None => Ok(()),
    }
}

/// The number tokens of JSON text (already parsed, so well formed): what lies outside strings
/// and starts with `-` or a digit.
fn numbers(raw: &str) -> impl Iterator<Item = &str> {
    let bytes = raw.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            match bytes[at] {
                b'"' => {
                    at += 1;
                    while at < bytes.len() && bytes[at] != b'"' {
                        at += if bytes[at] == b'\\' { 2 } else { 1 };
                    }
                    at += 1;
                }
                b'-' | b'0'..=b'9' => {
                    let start = at;
                    while at < bytes.len()
                        && matches!(bytes[at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    {
                        at += 1;
                    }
                    return raw.get(start..at);
                }
                _ => at += 1,
            }
        }
        None
    })
}

/// Whether a number token is exactly what serde_json writes for the value it parses to: an
/// integer that fits 64 bits as its digits, anything else as the shortest text of its float.
fn is_canonical(token: &str) -> bool {
    match serde_json::from_str::<serde_json::Number>(token) {
        Ok(n) => n.to_string() == token,
        Err(_) => false,
    }
}

/// Walks one value, checking every object in it.
#[derive(Clone, Copy)]
struct Strict {
    depth: usize,
}

impl Strict {
    fn deeper<E: de::Error>(self) -> Result<Strict, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("JSON nested too deeply"));
        }
        Ok(Strict {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.deeper()?;
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with(PRIVATE_KEY_PREFIX) {
                return Err(de::Error::custom(format!(
                    "the key {key:?} (serde_json's private marker, which readers disagree on)"
                )));
            }
            if keys.contains(&key) {
                return Err(de::Error::custom(format!(
                    "the key {key:?} twice in one object (readers disagree on which value counts)"
                )));
            }
            map.next_value_seed(inner)?;
            keys.insert(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::test_support::json_value;
    use proptest::prelude::*;

    fn word() -> impl Strategy<Value = String> {
        prop_oneof!["[a-z]{1,3}", any::<String>()]
    }

    proptest! {
        /// Any JSON a writer makes (no key twice) is read, and the same text with one member
        /// of one of its objects given twice is refused, naming the key.
        #[test]
        fn only_a_key_twice_is_refused(value in json_value(word), pick in any::<prop::sample::Index>()) {
            let text = serde_json::to_string(&value).expect("JSON");
            let clean = check(&text);
            prop_assert!(clean.is_ok() || text.contains(PRIVATE_KEY_PREFIX), "{text}: {clean:?}");
            // Every object's first member, as text, repeated right after the object opens.
            let mut objects = Vec::new();
            collect_first_members(&value, &mut objects);
            if !objects.is_empty() && clean.is_ok() {
                let (key, member) = &objects[pick.index(objects.len())];
                let twice = text.replacen(member.as_str(), &format!("{member},{member}"), 1);
                let refused = check(&twice);
                prop_assert!(
                    matches!(&refused, Err(Unread::Ambiguous(e)) if e.contains("twice in one object")),
                    "{twice}: {refused:?} (key {key:?})"
                );
            }
        }
    }

    /// Each non-empty object's first member as `"key":value` text (keys in serialization order).
    fn collect_first_members(value: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some((key, first)) = map.iter().next() {
                    let member = format!(
                        "{}:{}",
                        serde_json::to_string(key).expect("JSON"),
                        serde_json::to_string(first).expect("JSON")
                    );
                    out.push((key.clone(), member));
                }
                map.values().for_each(|v| collect_first_members(v, out));
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| collect_first_members(v, out));
            }
            _ => {}
        }
    }

    #[test]
    fn what_is_refused_and_what_is_read() {
        // (text, None when read, or what the refusal says; "not JSON" for text that is not)
        // Numbers as serde_json writes them, whatever text that is.
        let written_numbers = serde_json::json!({
            "n": [0, -5, u64::MAX, i64::MIN, 0.5, 100.0, 1e16, -0.0, 1.5e-7, 0.1, 1e300]
        })
        .to_string();
        let cases: [(&str, Option<&str>); 19] = [
            (r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#, None),
            (r#"{"a":1,"a":1}"#, Some(r#"the key "a" twice"#)),
            (r#"{"a":{"b":1,"b":2}}"#, Some(r#"the key "b" twice"#)),
            (r#"[{"x":1},{"x":1,"x":2}]"#, Some(r#"the key "x" twice"#)),
            (r#"{"\u0061":1,"a":2}"#, Some(r#"the key "a" twice"#)),
            (r#"{"a":{"b":1},"b":2}"#, None),
            (
                r#"{"$serde_json::private::RawValue":"{}"}"#,
                Some("private marker"),
            ),
            (r#"{"a":1} {"a":1}"#, Some("not JSON")),
            ("not json", Some("not JSON")),
            (&written_numbers, None),
            (r#"{"n":1e-400}"#, Some("the number `1e-400`")),
            (
                r#"{"n":99.99999999999999999}"#,
                Some("the number `99.99999999999999999`"),
            ),
            (
                r#"{"n":10000000000000001.0}"#,
                Some("the number `10000000000000001.0`"),
            ),
            (r#"{"n":1E5}"#, Some("the number `1E5`")),
            (r#"{"n":100.00}"#, Some("the number `100.00`")),
            (r#"{"n":-0}"#, Some("the number `-0`")),
            (
                r#"{"n":18446744073709551616}"#,
                Some("the number `18446744073709551616`"),
            ),
            (r#"{"s":"1e-400 \" 99.999 \\","n":2}"#, None),
            (r#"[[[[1.10]]]]"#, Some("the number `1.10`")),
        ];
        for (text, refused) in cases {
            let got = check(text);
            match refused {
                None => assert!(got.is_ok(), "{text}: {got:?}"),
                Some("not JSON") => assert!(matches!(got, Err(Unread::NotJson)), "{text}: {got:?}"),
                Some(why) => assert!(
                    matches!(&got, Err(Unread::Ambiguous(e)) if e.contains(why)),
                    "{text}: {got:?}"
                ),
            }
        }
    }
}
