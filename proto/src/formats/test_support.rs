//! Checks and generators the per-format tests share: arbitrary JSON built from a format's own
//! words (for "never panics" properties), and the native limits every mapped draft must meet.

use crate::event::AttrValue;
use crate::formats::Draft;
use proptest::prelude::*;
use serde_json::Value;

/// Arbitrary JSON whose strings and member names come from `word` (a format's vocabulary).
pub fn json_value<W>(word: impl Fn() -> W + Clone + 'static) -> impl Strategy<Value = Value>
where
    W: Strategy<Value = String> + 'static,
{
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(word(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Checks the draft's attributes: the row's, and within native limits.
pub fn check_attributes(name: &str, got: &[(String, AttrValue)], subset: &[(&str, &str)]) {
    assert!(got.len() <= 10, "{name}: {} attributes", got.len());
    let mut keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), got.len(), "{name}: an attribute key twice");
    for (key, value) in subset {
        assert!(
            got.iter()
                .any(|(k, v)| k == key && *v == AttrValue::Text((*value).to_owned())),
            "{name}: expected attribute {key} = {value:?} in {got:?}"
        );
    }
}

/// Validates a draft by the native rules.
pub fn check_validates(name: &str, draft: &Draft) {
    if let Err(reason) = draft.validate() {
        panic!("{name}: the draft does not validate: {reason:?}");
    }
}
