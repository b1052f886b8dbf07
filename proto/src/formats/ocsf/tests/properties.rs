//! The property: any JSON, however far from OCSF, maps without panicking, and every event it
//! gives has what its type requires.

use super::*;

const KEYS: [&str; 24] = [
    "class_uid",
    "category_uid",
    "activity_id",
    "metadata",
    "version",
    "uid",
    "product",
    "name",
    "vendor_name",
    "time",
    "status_id",
    "actor",
    "user",
    "users",
    "group",
    "policies",
    "privileges",
    "resources",
    "iam_roles",
    "iam_role",
    "auth_factors",
    "entity",
    "type_id",
    "programmatic_credentials",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![
            Just(3001_i64),
            Just(3006),
            Just(1),
            Just(2),
            Just(99),
            any::<i64>()
        ]
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("1.1.0".to_owned()),
            Just(String::new()),
            "[a-z@.]{0,8}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..6).prop_map(
                |members| Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect()
                )
            ),
        ]
    })
}

/// A fixture with one member, somewhere, replaced by any JSON value.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let rows: Vec<&'static Row> = mapping_rows().collect();
    (
        prop::sample::select(rows),
        prop::sample::select(KEYS.to_vec()),
        any_json(),
    )
        .prop_map(|(row, key, value)| {
            let mut doc = patched(row.fixture, row.patch);
            fn replace(doc: &mut Value, key: &str, value: &Value) -> bool {
                match doc {
                    Value::Object(members) => {
                        if let Some(member) = members.get_mut(key) {
                            *member = value.clone();
                            return true;
                        }
                        members.values_mut().any(|m| replace(m, key, value))
                    }
                    Value::Array(items) => items.iter_mut().any(|m| replace(m, key, value)),
                    _ => false,
                }
            }
            replace(&mut doc, key, &value);
            doc
        })
}

fn check_mapping_holds(doc: &Value) {
    use crate::event::Family;
    let Ok(outcomes) = map(doc, &FormatSettings::default()) else {
        return;
    };
    for outcome in outcomes {
        let RecordOutcome::Event(mapped) = outcome else {
            continue;
        };
        let d = &mapped.draft;
        assert!(!d.source.is_empty() && !d.id.is_empty(), "{d:?}");
        assert!(!mapped.event_id.is_empty(), "{d:?}");
        assert!(d.actor.is_some(), "{d:?}");
        match d.kind.family() {
            Family::Access => assert!(d.grant_id.is_some() && d.resource.is_some(), "{d:?}"),
            Family::Credential => assert!(d.credential.is_some(), "{d:?}"),
            Family::Identity => {}
        }
        if d.kind == crate::event::EventType::IdentityCreated && !d.subject.kind.is_human() {
            assert!(d.owner.is_some(), "{d:?}");
        }
    }
    assert_eq!(
        map(doc, &FormatSettings::default()),
        map(doc, &FormatSettings::default())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_maps_without_panicking(doc in any_json()) {
        check_mapping_holds(&doc);
    }

    #[test]
    fn a_fixture_with_any_member_replaced_maps_without_panicking(doc in mutated_fixture()) {
        check_mapping_holds(&doc);
    }
}
