//! What every mapped record must hold beyond its row: provenance, the worked example of the
//! docs, attributes, native validation, determinism and membership grant ids.

use super::*;

#[test]
fn every_mapping_row_gives_its_events_field_by_field() {
    for row in mapping_rows() {
        let doc = patched(row.fixture, row.patch);
        let drafts = drafts(&doc);
        assert_eq!(drafts.len(), row.events.len(), "{}: events", row.name);
        for (draft, want) in drafts.iter().zip(row.events) {
            check_event(row.name, row.fixture, draft, want);
        }
    }
}

#[test]
fn every_mapped_activity_has_a_mapping_row() {
    for activity in ACTIVITIES {
        if matches!(activity.action, Action::OutOfScope(_)) {
            continue;
        }
        let covered = mapping_rows().any(|row| {
            let doc = patched(row.fixture, row.patch);
            doc["class_uid"] == activity.class && doc["activity_id"] == activity.id
        });
        assert!(
            covered,
            "{} {} {} has no row",
            activity.class, activity.id, activity.name
        );
    }
}

#[test]
fn each_event_names_the_record_it_came_from() {
    for row in mapping_rows() {
        let doc = patched(row.fixture, row.patch);
        let uid = doc["metadata"]["uid"]
            .as_str()
            .expect("fixtures have a uid");
        for outcome in outcomes(&doc) {
            let RecordOutcome::Event(mapped) = outcome else {
                panic!("{}: expected events", row.name)
            };
            assert_eq!(mapped.event_id, uid, "{}", row.name);
            assert_eq!(mapped.pointer, "", "{}", row.name);
            assert_eq!(mapped.envelope, None, "{}", row.name);
        }
    }
}

#[test]
fn the_worked_example_of_the_docs_is_the_whole_draft() {
    use crate::event::{ActorKind, AttrValue, EventType, Outcome, SubjectKind};
    use crate::formats::{DraftActor, DraftSubject};
    let draft = drafts(&patched(&AC_CREATE, &[])).remove(0);
    let text = |s: &str| AttrValue::Text(s.to_owned());
    let mut want = Draft::new(
        OKTA,
        AC1,
        EventType::IdentityCreated,
        crate::time::Timestamp::parse_rfc3339("2026-03-02T09:00:00Z").expect("a time"),
        DraftSubject {
            id: "alice@example.com".into(),
            kind: SubjectKind::Human,
        },
    );
    want.actor = Some(DraftActor {
        id: "dana.admin@example.com".into(),
        kind: ActorKind::Human,
        mfa: Some(true),
    });
    want.outcome = Outcome::Succeeded;
    want.attributes = vec![
        ("ocsf.class_uid".into(), AttrValue::Integer(3001)),
        ("ocsf.activity_id".into(), AttrValue::Integer(1)),
        ("ocsf.activity".into(), text("Create")),
        ("ocsf.status_id".into(), AttrValue::Integer(1)),
        ("ocsf.version".into(), text("1.1.0")),
        ("ocsf.src_endpoint.ip".into(), text("198.51.100.7")),
        ("ocsf.user.uid".into(), text("00u1alice")),
    ];
    assert_eq!(draft, want);
    assert!(draft.validate().is_ok(), "{:?}", draft.validate().err());
}

#[test]
fn a_logon_keeps_how_it_happened() {
    let draft = drafts(&patched(&AUTH_LOGON, &[])).remove(0);
    let attribute = |key: &str| {
        draft
            .attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(attribute("ocsf.logon_type").as_deref(), Some("Interactive"));
    assert_eq!(attribute("ocsf.auth_protocol").as_deref(), Some("Kerberos"));
    assert_eq!(
        attribute("ocsf.src_endpoint.ip").as_deref(),
        Some("10.0.4.17")
    );
    assert_eq!(
        attribute("ocsf.user.uid").as_deref(),
        Some("S-1-5-21-1004336348-1177238915-682003330-1105")
    );
    assert!(draft.attributes.len() <= 10, "{:?}", draft.attributes);
}

#[test]
fn an_attribute_the_event_could_not_hold_is_left_out() {
    let long = format!("\"{}\"", "x".repeat(1025));
    for detail in [long.as_str(), r#""line\r\nbreak""#, r#""""#] {
        let draft = drafts(&patched(&AC_CREATE, &[("/status_detail", detail)])).remove(0);
        assert!(
            draft
                .attributes
                .iter()
                .all(|(k, _)| k != "ocsf.status_detail"),
            "{detail}"
        );
    }
    let draft = drafts(&patched(&AC_CREATE, &[("/status_detail", r#""ok""#)])).remove(0);
    assert!(
        draft
            .attributes
            .iter()
            .any(|(k, _)| k == "ocsf.status_detail")
    );
}

#[test]
fn drafts_validate_by_the_native_rules() {
    for row in mapping_rows() {
        for draft in drafts(&patched(row.fixture, row.patch)) {
            assert!(
                draft.validate().is_ok(),
                "{}: {:?}",
                row.name,
                draft.validate().err()
            );
        }
    }
}

#[test]
fn mapping_the_same_bytes_twice_gives_the_same_outcomes() {
    for fixture in ALL_FIXTURES {
        let once = outcomes(&serde_json::from_str(fixture.text).expect("JSON"));
        let twice = outcomes(&serde_json::from_str(fixture.text).expect("JSON"));
        assert_eq!(once, twice, "{}", fixture.cited);
    }
}

#[test]
fn one_membership_one_grant_id_from_add_to_remove() {
    let added = drafts(&patched(&GM_ADD, &[])).remove(0);
    let removed = drafts(&patched(&GM_REMOVE_1_1, &[])).remove(0);
    assert_eq!(added.grant_id, removed.grant_id);
    assert_eq!(
        added.grant_id.as_deref(),
        Some(crate::formats::draft::membership_grant_id(
            crate::event::MembershipKind::Group,
            "Engineering",
            "grace@example.com"
        ))
        .as_deref()
    );
}
