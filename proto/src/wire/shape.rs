//! The first member of a JSON document that does not fit the event's wire shape (the fields of
//! `WireEvent` and the JSON type each takes), in document order, as serde would meet it: an
//! unknown field, a field given twice, or a value of the wrong JSON type. It judges what
//! `syntax` read, so the rejection's words are the project's own; a test holds it to the wire
//! types (it finds a misfit exactly where they refuse a document).

use super::syntax::Json;
use crate::characters;
use crate::rejection::{RejectReason, quote};

/// What a member's value must be (or `null`, which stands for absent everywhere but in
/// `attributes`).
#[derive(Clone, Copy)]
enum Expect {
    Text,
    Bool,
    Object(&'static Shape),
    /// String, number or boolean values under any names, each name once (checked later).
    Attributes,
}

/// An object's members.
struct Shape {
    members: &'static [(&'static str, Expect)],
    /// Whether members not listed are read (their values ignored, and judged later) rather than
    /// refused. A listed member given twice is refused either way.
    open: bool,
}

const ACTOR: Shape = Shape {
    members: &[
        ("id", Expect::Text),
        ("kind", Expect::Text),
        ("mfa", Expect::Bool),
    ],
    open: false,
};

const SUBJECT: Shape = Shape {
    members: &[("id", Expect::Text), ("kind", Expect::Text)],
    open: false,
};

const POLICY: Shape = Shape {
    members: &[
        ("id", Expect::Text),
        ("version", Expect::Text),
        ("hash", Expect::Text),
    ],
    open: false,
};

/// A credential's other members are read so that the payload can be refused (and redacted)
/// whatever they hold.
const CREDENTIAL: Shape = Shape {
    members: &[
        ("id", Expect::Text),
        ("kind", Expect::Text),
        ("fingerprint", Expect::Text),
    ],
    open: true,
};

const EVENT: Shape = Shape {
    members: &[
        ("id", Expect::Text),
        ("source", Expect::Text),
        ("type", Expect::Text),
        ("time", Expect::Text),
        ("actor", Expect::Object(&ACTOR)),
        ("subject", Expect::Object(&SUBJECT)),
        ("grant_id", Expect::Text),
        ("request_id", Expect::Text),
        ("resource", Expect::Text),
        ("reason", Expect::Text),
        ("ticket", Expect::Text),
        ("policy", Expect::Object(&POLICY)),
        ("decision", Expect::Text),
        ("expires_at", Expect::Text),
        ("exception", Expect::Bool),
        ("credential", Expect::Object(&CREDENTIAL)),
        ("owner", Expect::Text),
        ("attributes", Expect::Attributes),
        ("outcome", Expect::Text),
        ("membership", Expect::Text),
    ],
    open: false,
};

/// The first misfit of `doc` with the event's shape, if any.
pub(crate) fn first_misfit(doc: &Json) -> Option<RejectReason> {
    match doc {
        Json::Object(members) => object(&EVENT, members, ""),
        // Where a member's value may be null, the document may not.
        other => wrong("", "an object", other),
    }
}

/// A field's path: `name` under `parent` (nothing at the top).
fn path(parent: &str, name: &str) -> String {
    let name = quote(&characters::escaped(name));
    if parent.is_empty() {
        name
    } else {
        format!("{parent}.{name}")
    }
}

fn wrong(field: &str, expected: &str, found: &Json) -> Option<RejectReason> {
    Some(RejectReason::WrongType {
        field: field.to_owned(),
        message: format!("expected {expected}, found {}", found.kind()),
    })
}

fn value(v: &Json, expect: Expect, field: &str) -> Option<RejectReason> {
    match (expect, v) {
        (_, Json::Null) | (Expect::Text, Json::String) | (Expect::Bool, Json::Bool) => None,
        (Expect::Text, _) => wrong(field, "a string", v),
        (Expect::Bool, _) => wrong(field, "a boolean", v),
        (Expect::Object(shape), Json::Object(members)) => object(shape, members, field),
        (Expect::Attributes, Json::Object(members)) => {
            members.iter().find_map(|(name, v)| match v {
                Json::String | Json::Number | Json::Bool => None,
                _ => wrong(&path(field, name), "a string, number or boolean", v),
            })
        }
        (Expect::Object(_) | Expect::Attributes, _) => wrong(field, "an object", v),
    }
}

fn object(shape: &Shape, members: &[(String, Json)], field: &str) -> Option<RejectReason> {
    let mut seen: Vec<&str> = Vec::new();
    for (name, v) in members {
        let here = path(field, name);
        let Some(&(known, expect)) = shape.members.iter().find(|(m, _)| m == name) else {
            if shape.open {
                continue;
            }
            return Some(RejectReason::UnknownField { field: here });
        };
        if seen.contains(&known) {
            return Some(RejectReason::InvalidValue {
                field: here,
                message: "appears more than once".into(),
            });
        }
        seen.push(known);
        if let Some(misfit) = value(v, expect, &here) {
            return Some(misfit);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{WireEvent, holds_array, refusal};
    use super::*;
    use proptest::prelude::*;

    fn misfit(json: &str) -> Option<RejectReason> {
        first_misfit(&super::super::syntax::read(json).expect("test documents are JSON"))
    }

    /// (document, the misfit found): each kind, where serde meets it first.
    #[test]
    #[rustfmt::skip]
    fn misfits_are_found_in_document_order() {
        let wrong = |field: &str, message: &str| Some(RejectReason::WrongType { field: field.into(), message: message.into() });
        let unknown = |field: &str| Some(RejectReason::UnknownField { field: field.into() });
        let twice = |field: &str| Some(RejectReason::InvalidValue { field: field.into(), message: "appears more than once".into() });
        let cases: &[(&str, Option<RejectReason>)] = &[
            (r#"{"id":"e1","reason":null,"actor":null,"attributes":{}}"#, None),
            (r#"{"credential":{"id":"c","x":[{"deep":[]}]}}"#, None),
            (r#"{"credential":{"id":"c","x":[{"deep":[]}],"id":"d"}}"#, twice("credential.id")),
            (r#"[1]"#, wrong("", "expected an object, found an array")),
            (r#"null"#, wrong("", "expected an object, found null")),
            (r#""e1""#, wrong("", "expected an object, found a string")),
            (r#"{"id":5}"#, wrong("id", "expected a string, found a number")),
            (r#"{"exception":"yes"}"#, wrong("exception", "expected a boolean, found a string")),
            (r#"{"actor":{"id":"a","mfa":"yes"}}"#, wrong("actor.mfa", "expected a boolean, found a string")),
            (r#"{"actor":["a","human"]}"#, wrong("actor", "expected an object, found an array")),
            (r#"{"attributes":{"a":[1]}}"#, wrong("attributes.a", "expected a string, number or boolean, found an array")),
            (r#"{"attributes":{"a":{"b":1}}}"#, wrong("attributes.a", "expected a string, number or boolean, found an object")),
            (r#"{"attributes":{"a\n":null}}"#, wrong("attributes.a<U+000A>", "expected a string, number or boolean, found null")),
            (r#"{"attributes":"a"}"#, wrong("attributes", "expected an object, found a string")),
            (r#"{"colour":"red","id":5}"#, unknown("colour")),
            (r#"{"id":5,"colour":"red"}"#, wrong("id", "expected a string, found a number")),
            (r#"{"subject":{"id":"a","kind":"human","age":3}}"#, unknown("subject.age")),
            (r#"{"a\u202Eb":1}"#, unknown("a<U+202E>b")),
            (r#"{"id":"a","id":"b"}"#, twice("id")),
            (r#"{"policy":{"id":"p","id":"q"}}"#, twice("policy.id")),
            (r#"{"credential":{"id":"a","id":"b"}}"#, twice("credential.id")),
            (
                r#"{"credential":{"fingerprint":"x","kind":"api_key","fingerprint":"y"}}"#,
                twice("credential.fingerprint"),
            ),
        ];
        for (json, want) in cases {
            assert_eq!(&misfit(json), want, "{json}");
        }
    }

    /// Event-like documents: members of the event and its objects, and others, with values of
    /// every JSON type, given once or twice.
    fn event_like() -> impl Strategy<Value = String> {
        let scalar = prop_oneof![
            Just("\"x\"".to_owned()),
            Just("1".to_owned()),
            Just("-2.5".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
            Just("[]".to_owned()),
            Just("[\"a\",\"human\"]".to_owned()),
            Just("{}".to_owned()),
        ];
        let inner_name = proptest::sample::select(vec![
            "id",
            "kind",
            "mfa",
            "version",
            "hash",
            "fingerprint",
            "other",
        ]);
        let inner =
            proptest::collection::vec((inner_name, scalar.clone()), 0..4).prop_map(|members| {
                let members: Vec<String> =
                    members.iter().map(|(n, v)| format!("{n:?}:{v}")).collect();
                format!("{{{}}}", members.join(","))
            });
        let names: Vec<&str> = EVENT
            .members
            .iter()
            .map(|(n, _)| *n)
            .chain(["colour"])
            .collect();
        let member = (proptest::sample::select(names), prop_oneof![scalar, inner]);
        proptest::collection::vec(member, 0..6).prop_map(|members| {
            let members: Vec<String> = members.iter().map(|(n, v)| format!("{n:?}:{v}")).collect();
            format!("{{{}}}", members.join(","))
        })
    }

    proptest! {
        /// Wherever the wire types refuse a document, a misfit is found (so `unexplained` is
        /// never stored); and where no array is involved, only there.
        #[test]
        fn a_misfit_is_found_exactly_where_the_wire_types_refuse(json in event_like()) {
            let read = serde_json::from_str::<WireEvent<'_>>(&json).is_ok();
            let found = refusal(&json);
            if holds_array(&json) {
                prop_assert!(read || found.is_some(), "{}", json);
            } else {
                prop_assert_eq!(found.is_some(), !read, "{}: {:?}", json, found);
            }
        }
    }
}
