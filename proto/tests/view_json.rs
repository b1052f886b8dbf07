//! A zero-copy view of a leaf serializes to the same JSON as the owned entry decoded from it,
//! for every shape of event entry and origin: exports write JSON straight from the view, and
//! `verify-export` compares what they wrote with the owned entry's JSON; and so does the JSON
//! `view::write_entry_json` writes by hand.

use idledger_proto::Timestamp;
use idledger_proto::entry::{BackLinks, Body, Entry, EventEntry, FORMAT_VERSION, KafkaOrigin};
use idledger_proto::entry::{MessageKey, Origin};
use idledger_proto::event::{
    Actor, ActorKind, AttrValue, Credential, CredentialKind, Decision, Event, EventType,
    MembershipKind, Outcome, Policy, Subject, SubjectKind,
};
use idledger_proto::view::EntryView;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Quotes, backslashes, control and non-ASCII characters: everything JSON must escape.
    "[a-z\"\\\\\u{1}\n é€😀]{0,12}"
}

fn named<T: Clone + std::fmt::Debug + 'static>(
    names: &'static [&'static str],
    parse: fn(&str) -> Option<T>,
) -> impl Strategy<Value = T> {
    prop::sample::select(names).prop_map(move |n| parse(n).expect("a name of the type"))
}

fn time() -> impl Strategy<Value = Timestamp> {
    (
        0i64..7_000_000_000,
        prop_oneof![Just(0i64), 0i64..1_000_000_000],
    )
        .prop_map(|(s, n)| Timestamp(s * 1_000_000_000 + n))
}

fn attribute() -> impl Strategy<Value = AttrValue> {
    prop_oneof![
        text().prop_map(AttrValue::Text),
        any::<i64>().prop_map(AttrValue::Integer),
        (-1e12f64..1e12).prop_map(AttrValue::Number),
        any::<bool>().prop_map(AttrValue::Bool),
    ]
}

prop_compose! {
    fn event()(
        (source, id, kind, time) in (text(), text(), prop::sample::select(EventType::ALL.to_vec()), time()),
        actor in proptest::option::of((text(), named(ActorKind::NAMES, ActorKind::parse), proptest::option::of(any::<bool>()))),
        subject in (text(), named(SubjectKind::NAMES, SubjectKind::parse)),
        ids in proptest::collection::vec(proptest::option::of(text()), 6),
        policy in proptest::option::of((text(), proptest::option::of(text()), proptest::option::of(text()))),
        decision in proptest::option::of(named(Decision::NAMES, Decision::parse)),
        expires_at in proptest::option::of(time()),
        exception in any::<bool>(),
        credential in proptest::option::of((text(), named(CredentialKind::NAMES, CredentialKind::parse), proptest::option::of(any::<[u8; 32]>()))),
        attributes in proptest::collection::btree_map(text(), attribute(), 0..4),
        failed in any::<bool>(),
        membership in proptest::option::of(named(MembershipKind::NAMES, MembershipKind::parse)),
    ) -> Event {
        Event {
            source,
            id,
            kind,
            time,
            actor: actor.map(|(id, kind, mfa)| Actor { id, kind, mfa }),
            subject: Subject { id: subject.0, kind: subject.1 },
            grant_id: ids[0].clone(),
            request_id: ids[1].clone(),
            resource: ids[2].clone(),
            reason: ids[3].clone(),
            ticket: ids[4].clone(),
            policy: policy.map(|(id, version, hash)| Policy { id, version, hash }),
            decision,
            expires_at,
            exception,
            credential: credential.map(|(id, kind, fingerprint)| Credential { id, kind, fingerprint }),
            owner: ids[5].clone(),
            attributes: attributes.into_iter().collect(),
            outcome: if failed { Outcome::Failed } else { Outcome::Succeeded },
            membership,
        }
    }
}

fn origin() -> impl Strategy<Value = Origin> {
    let key = prop_oneof![
        Just(MessageKey::Absent),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(MessageKey::Kept),
        (any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(total_len, sha256)| MessageKey::Redacted { total_len, sha256 }),
    ];
    prop_oneof![
        (
            text(),
            any::<i32>(),
            any::<i64>(),
            proptest::option::of(any::<i64>()),
            key,
            any::<bool>()
        )
            .prop_map(
                |(topic, partition, offset, timestamp_ms, key, key_truncated)| {
                    Origin::Kafka(KafkaOrigin {
                        topic,
                        partition,
                        offset,
                        timestamp_ms,
                        key,
                        key_truncated,
                    })
                }
            ),
        (text(), any::<u64>()).prop_map(|(label, line)| Origin::Local { label, line }),
        Just(Origin::Ledger),
    ]
}

proptest! {
    #[test]
    fn a_view_serializes_as_the_owned_entry(
        event in event(),
        origin in origin(),
        links in (proptest::option::of(any::<u64>()), proptest::option::of(any::<u64>()), proptest::option::of(any::<u64>())),
        seq in any::<u64>(),
        prev_leaf_hash in any::<[u8; 32]>(),
        received_at in time(),
    ) {
        let entry = Entry {
            version: FORMAT_VERSION,
            seq,
            prev_leaf_hash,
            received_at,
            origin,
            body: Body::Event(Box::new(EventEntry {
                links: BackLinks { prev_subject: links.0, prev_grant: links.1, prev_credential: links.2 },
                event,
                record: None,
            })),
        };
        let leaf = entry.encode();
        let view = EntryView::decode(&leaf).expect("views");
        let owned = serde_json::to_string(&entry).expect("serializes");
        prop_assert_eq!(serde_json::to_string(&view).expect("serializes"), owned.clone());
        let mut by_hand = Vec::new();
        idledger_proto::view::write_entry_json(&mut by_hand, &view);
        prop_assert_eq!(String::from_utf8(by_hand).expect("UTF-8"), owned);
    }
}
