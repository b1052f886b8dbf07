//! Properties over generated logs: whatever the entries (any text in any field, any kind of
//! body), a stream of them in any record format and shape verifies, and each OCSF record holds
//! the integrity of its own entry, and line base64 is standard base64.

use super::*;
use crate::entry::{BackLinks, Body, EventEntry, KafkaOrigin, Origin, SystemRecord};
use crate::event::{
    Actor, ActorKind, AttrValue, Credential, CredentialKind, Decision, Event, EventType,
    MembershipKind, Outcome, Subject, SubjectKind,
};
use crate::rejection::{KeptPayload, RejectReason, Rejection};
use crate::time::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

/// Text from the awkward corners (CEF and JSON specials) or anywhere in Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9|=\\\\ .:\n\r-]{1,12}", any::<String>()]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn attribute_value() -> impl Strategy<Value = AttrValue> {
    prop_oneof![
        text().prop_map(AttrValue::Text),
        any::<i64>().prop_map(AttrValue::Integer),
        (-1e12f64..1e12).prop_map(AttrValue::Number),
        any::<bool>().prop_map(AttrValue::Bool),
    ]
}

fn generated_event() -> impl Strategy<Value = Event> {
    let who = (
        select(EventType::ALL.to_vec()),
        text(),
        text(),
        proptest::option::of((
            text(),
            select(ActorKind::NAMES.to_vec()),
            proptest::option::of(any::<bool>()),
        )),
        (text(), select(SubjectKind::NAMES.to_vec())),
        0i64..crate::time::EVENT_TIME_END.0,
    );
    let what = (
        (opt_text(), opt_text(), opt_text(), opt_text(), opt_text()),
        proptest::option::of((text(), select(CredentialKind::NAMES.to_vec()))),
        proptest::option::of(select(MembershipKind::NAMES.to_vec())),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::btree_map(text(), attribute_value(), 0..4),
        proptest::option::of(select(Decision::NAMES.to_vec())),
    );
    (who, what).prop_map(|(who, what)| {
        let (kind, source, id, actor, (subject, subject_kind), time) = who;
        let (
            (grant_id, request_id, resource, reason, ticket),
            credential,
            membership,
            failed,
            exception,
            attributes,
            decision,
        ) = what;
        Event {
            source,
            id,
            kind,
            time: Timestamp(time),
            actor: actor.map(|(id, kind, mfa)| Actor {
                id,
                kind: ActorKind::parse(kind).expect("a name of the enum"),
                mfa,
            }),
            subject: Subject {
                id: subject,
                kind: SubjectKind::parse(subject_kind).expect("a name of the enum"),
            },
            grant_id,
            request_id,
            resource,
            reason,
            ticket,
            policy: None,
            decision: decision.and_then(Decision::parse),
            expires_at: None,
            exception,
            credential: credential.map(|(id, kind)| Credential {
                id,
                kind: CredentialKind::parse(kind).expect("a name of the enum"),
                fingerprint: None,
            }),
            owner: None,
            attributes: attributes.into_iter().collect(),
            outcome: if failed {
                Outcome::Failed
            } else {
                Outcome::Succeeded
            },
            membership: membership.and_then(MembershipKind::parse),
        }
    })
}

fn generated_body() -> impl Strategy<Value = (Origin, Body)> {
    let event_body = generated_event().prop_map(|event| {
        Body::Event(Box::new(EventEntry {
            links: BackLinks::default(),
            event,
            record: None,
        }))
    });
    let quarantined = (
        prop_oneof![
            text().prop_map(|field| RejectReason::MissingField { field }),
            (text(), text())
                .prop_map(|(field, message)| RejectReason::WrongType { field, message }),
            Just(RejectReason::Tombstone),
            any::<u64>().prop_map(|first_index| RejectReason::ConflictingDuplicate { first_index }),
        ],
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| KeptPayload::raw(&b)),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| KeptPayload::redacted(&b)),
            generated_event().prop_map(|e| KeptPayload::Event(Box::new(e))),
            Just(KeptPayload::Nothing),
        ],
    )
        .prop_map(|(reason, payload)| Body::Quarantined(Box::new(Rejection { reason, payload })));
    let system = prop_oneof![
        (text(), text()).prop_map(|(origin, verifier_key)| SystemRecord::Genesis {
            origin,
            verifier_key
        }),
        text().prop_map(|verifier_key| SystemRecord::KeyAdded { verifier_key }),
        text().prop_map(|verifier_key| SystemRecord::KeyRetired { verifier_key }),
        (text(), any::<i32>(), any::<i64>(), any::<i64>()).prop_map(
            |(topic, partition, first, end)| SystemRecord::OffsetsUnavailable {
                topic,
                partition,
                first,
                end
            }
        ),
        (
            text(),
            any::<i32>(),
            proptest::collection::vec((any::<i64>(), any::<i64>()), 0..3),
            proptest::collection::vec((text(), any::<u64>()), 0..3)
        )
            .prop_map(
                |(topic, partition, offsets, counts)| SystemRecord::OutOfScope {
                    topic,
                    partition,
                    offsets,
                    counts
                }
            ),
    ]
    .prop_map(Body::System);
    let origin = prop_oneof![
        Just(Origin::Ledger),
        (text(), any::<u64>()).prop_map(|(label, line)| Origin::Local { label, line }),
        (
            text(),
            any::<i32>(),
            any::<i64>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8))
        )
            .prop_map(|(topic, p, o, key)| Origin::Kafka(KafkaOrigin::new(
                &topic,
                p,
                o,
                None,
                key.as_deref()
            ))),
    ];
    (
        origin,
        prop_oneof![3 => event_body, 1 => quarantined, 1 => system],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Render, then verify: a stream of any entries in any format verifies, whole or from an
    /// index past 0, with or without proofs.
    #[test]
    fn any_log_rendered_in_any_format_verifies(
        bodies in proptest::collection::vec(generated_body(), 1..7),
        format in select(RecordFormat::ALL.to_vec()),
        from in any::<prop::sample::Index>(),
        proofs in any::<bool>(),
    ) {
        let log = Log::of(bodies);
        let from = from.index(log.len() as usize) as u64;
        let checkpoints = [log.len()];
        let shape = Shape { from, proofs, ..Shape::whole(format, &checkpoints) };
        let verified = verify(&stream(&log, shape));
        prop_assert!(verified.ok(), "{}: {:#?}", format, verified.findings);
        prop_assert_eq!(verified.entries, log.len() - from);
    }

    /// Each OCSF record of a generated log carries its own entry's integrity, whatever it holds.
    #[test]
    fn ocsf_records_carry_their_entrys_integrity(bodies in proptest::collection::vec(generated_body(), 1..5)) {
        let log = Log::of(bodies);
        for index in 0..log.len() {
            let record = ocsf(&log, index, None);
            let attestation = &record["attestation_list"][0];
            prop_assert_eq!(&attestation["fingerprint"]["value"], &json!(log.hashes[index as usize].to_base64()));
            prop_assert_eq!(&record["unmapped"]["idledger"]["index"], &json!(index));
            prop_assert_eq!(&record["metadata"]["uid"], &json!(format!("{ORIGIN}#{index}")));
            let prev = index.checked_sub(1).map(|p| log.hashes[p as usize].to_base64());
            prop_assert_eq!(attestation["prev_event"]["fingerprint"]["value"].as_str(), prev.as_deref());
        }
    }

    /// The vector base64 of entry lines is the standard base64 the `base64` crate writes (which
    /// `verify-export` decodes with), for any bytes after any text already in the line.
    #[test]
    fn line_base64_is_standard_base64(
        before in proptest::collection::vec(any::<u8>(), 0..40),
        bytes in proptest::collection::vec(any::<u8>(), 0..2100),
    ) {
        use base64::Engine as _;
        let mut line = before.clone();
        push_base64(&mut line, &bytes);
        let expected = base64::engine::general_purpose::STANDARD.encode(&bytes);
        prop_assert_eq!(&line[..before.len()], &before[..]);
        prop_assert_eq!(&line[before.len()..], expected.as_bytes());
    }
}
