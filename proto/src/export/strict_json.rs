//! The JSON an export line may be: an object in which no key appears twice at any depth, and no
//! key is one of serde_json's private marker keys. Readers disagree on both: with a key twice,
//! serde_json keeps the last value while other parsers keep the first or both, and an object
//! whose only key is `$serde_json::private::RawValue` is read by serde_json's `Value` as the
//! JSON inside its string while a SIEM sees one opaque string. Either would let a line show one
//! thing to the verifier and another to its reader, so `verify-export` refuses both before it
//! reads a line.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// The prefix of serde_json's private marker keys (raw values, arbitrary-precision numbers).
const PRIVATE_KEY_PREFIX: &str = "$serde_json::private::";

/// Nesting deeper than this is refused (serde_json refuses deeper than 128 on its own).
const MAX_DEPTH: usize = 128;

/// Checks that `raw` is one JSON value with no key twice in an object and no private marker key;
/// the error names the key.
pub(super) fn check(raw: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    Strict { depth: 0 }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| e.to_string())
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
                    refused.as_ref().is_err_and(|e| e.contains("twice in one object")),
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
        let cases: [(&str, Option<&str>); 7] = [
            (r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#, None),
            (r#"{"a":1,"a":1}"#, Some(r#"the key "a" twice"#)),
            (r#"{"a":{"b":1,"b":2}}"#, Some(r#"the key "b" twice"#)),
            (r#"[{"x":1},{"x":1,"x":2}]"#, Some(r#"the key "x" twice"#)),
            (r#"{"a":{"b":1},"b":2}"#, None),
            (
                r#"{"$serde_json::private::RawValue":"{}"}"#,
                Some("private marker"),
            ),
            (r#"{"a":1} {"a":1}"#, Some("trailing characters")),
        ];
        for (text, refused) in cases {
            let got = check(text);
            match refused {
                None => assert_eq!(got, Ok(()), "{text}"),
                Some(why) => assert!(
                    got.as_ref().is_err_and(|e| e.contains(why)),
                    "{text}: {got:?}"
                ),
            }
        }
    }
}
