//! The native JSON (version 1) wire shapes that `decode` reads, borrowing strings from the
//! input unless they hold escapes, and the precise rejection for JSON that does not fit them
//! (where it stops being JSON, or the path to the failing field and what was expected), in
//! words the project owns (`syntax`, `shape`): serde's messages are never stored.

mod shape;
mod syntax;

use crate::rejection::{RejectReason, quote};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON string, borrowed from the input unless it holds escapes. (serde's own `Cow<str>`
/// always copies, and `#[serde(borrow)]` does not reach through an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Text)
    }
}

/// An optional (absent or `null`) `Text`.
struct MaybeText<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MaybeText(Option::<Text<'a>>::deserialize(d)?.map(|t| t.0)))
    }
}

/// `deserialize_with` for the optional string fields of the wire structs.
fn borrowed_text<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    MaybeText::deserialize(d).map(|t| t.0)
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a JSON object with the event's fields"
)]
pub(crate) struct WireEvent<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) source: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text", rename = "type")]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) actor: Option<WireActor<'a>>,
    #[serde(borrow, default)]
    pub(crate) subject: Option<WireSubject<'a>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) grant_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) resource: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) reason: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) ticket: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) policy: Option<WirePolicy<'a>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) decision: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) expires_at: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) exception: Option<bool>,
    #[serde(borrow, default)]
    pub(crate) credential: Option<WireCredential<'a>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) owner: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) attributes: Option<WireAttributes<'a>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) outcome: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) membership: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an object with `id`, `kind` and optional `mfa`"
)]
pub(crate) struct WireActor<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) mfa: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object with `id` and `kind`")]
pub(crate) struct WireSubject<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an object with `id` and optional `version`, `hash`"
)]
pub(crate) struct WirePolicy<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) version: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed_text")]
    pub(crate) hash: Option<Cow<'a, str>>,
}

/// A credential object. Members other than `id`, `kind` and `fingerprint` are not decoded: their
/// names are remembered so the payload can be redacted, since any of them may hold a secret.
#[derive(Default)]
pub(crate) struct WireCredential<'a> {
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) kind: Option<Cow<'a, str>>,
    pub(crate) fingerprint: Option<Cow<'a, str>>,
    pub(crate) other_members: Vec<String>,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireCredential<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = WireCredential<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with `id`, `kind` and `fingerprint`")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut c = WireCredential::default();
                let mut seen: Vec<&'static str> = Vec::new();
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    let known = ["id", "kind", "fingerprint"]
                        .into_iter()
                        .find(|k| *k == key.as_ref());
                    if let Some(known) = known {
                        // A member given twice is refused (the shape walk names it), never
                        // silently resolved to one of its values.
                        if seen.contains(&known) {
                            return Err(serde::de::Error::duplicate_field(known));
                        }
                        seen.push(known);
                    }
                    match key.as_ref() {
                        "id" => c.id = map.next_value::<MaybeText<'de>>()?.0,
                        "kind" => c.kind = map.next_value::<MaybeText<'de>>()?.0,
                        "fingerprint" => {
                            c.fingerprint = map.next_value::<MaybeText<'de>>()?.0;
                        }
                        other => {
                            c.other_members.push(quote(other));
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// `attributes` in input order, duplicates kept so they can be reported.
pub(crate) struct WireAttributes<'a>(pub(crate) Vec<(Cow<'a, str>, WireValue<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for WireAttributes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = WireAttributes<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of string, number or boolean values")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out = Vec::new();
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    out.push((key, map.next_value::<WireValue<'de>>()?));
                }
                Ok(WireAttributes(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// An attribute value as the JSON has it; text borrowed from the input unless escaped.
pub(crate) enum WireValue<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl<'de: 'a, 'a> Deserialize<'de> for WireValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = WireValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(WireValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(WireValue::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(match i64::try_from(v) {
                    Ok(i) => WireValue::Integer(i),
                    Err(_) => WireValue::Number(v as f64),
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(WireValue::Number(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(WireValue::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(WireValue::Text(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Reads a payload into the wire shapes, or says why not in the project's words: a payload serde
/// refuses is read again by `refusal`, and one holding an array is judged by it first.
pub(crate) fn parse(text: &str) -> Result<WireEvent<'_>, RejectReason> {
    if holds_array(text)
        && let Some(reason) = refusal(text)
    {
        return Err(reason);
    }
    serde_json::from_str(text).map_err(|_| refusal(text).unwrap_or_else(unexplained))
}

/// Why `text` is not an event's JSON, in the project's words: where it stops being JSON, or the
/// first member that does not fit the event's shape. `None` when it is neither: the wire types
/// read it.
pub(crate) fn refusal(text: &str) -> Option<RejectReason> {
    match syntax::read(text) {
        Err(e) => Some(RejectReason::NotJson {
            line: e.line,
            column: e.column,
            message: e.problem.to_string(),
        }),
        Ok(doc) => shape::first_misfit(&doc),
    }
}

/// What is stored if serde refuses a payload in which `refusal` finds nothing wrong. A property
/// test holds the two together (`shape`), so this is never reached.
fn unexplained() -> RejectReason {
    RejectReason::WrongType {
        field: String::new(),
        message: "does not fit the event's fields".into(),
    }
}

/// Whether `text` holds a `[` outside its strings. Derived structs also read a JSON array
/// (positionally), and no field of an event is one, so such a payload is judged by `refusal`
/// before serde reads it.
pub(crate) fn holds_array(text: &str) -> bool {
    let bytes = text.as_bytes();
    if memchr::memchr(b'[', bytes).is_none() {
        return false;
    }
    let mut in_string = false;
    let mut i = 0;
    while let Some(p) = memchr::memchr3(b'"', b'\\', b'[', &bytes[i..]) {
        let at = i + p;
        match bytes[at] {
            b'\\' => i = at + 2,
            b'"' => {
                in_string = !in_string;
                i = at + 1;
            }
            _ if in_string => i = at + 1,
            _ => return true,
        }
        if i >= bytes.len() {
            break;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_borrow_from_the_input_unless_escaped() {
        // (JSON, borrowed?, text)
        let cases: &[(&str, bool, &str)] = &[
            (r#"{"id":"evt-1"}"#, true, "evt-1"),
            (r#"{"id":"a\nb"}"#, false, "a\nb"),
            (r#"{"id":"caf\u00e9"}"#, false, "café"),
        ];
        for &(json, borrowed, text) in cases {
            #[derive(Deserialize)]
            struct W<'a> {
                #[serde(borrow, deserialize_with = "borrowed_text")]
                id: Option<Cow<'a, str>>,
            }
            let w: W<'_> = serde_json::from_str(json).expect("parses");
            let id = w.id.expect("present");
            assert_eq!(
                (matches!(id, Cow::Borrowed(_)), id.as_ref()),
                (borrowed, text),
                "{json}"
            );
        }
        // null and absent are both None; a number names what was expected.
        let none: MaybeText<'_> = serde_json::from_str("null").expect("null");
        assert!(none.0.is_none());
        let err = serde_json::from_str::<MaybeText<'_>>("5")
            .err()
            .expect("a number is no string");
        assert!(err.to_string().contains("expected a string"), "{err}");
    }
}
