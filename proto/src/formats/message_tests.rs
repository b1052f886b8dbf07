//! How a message becomes records: the bytes a pointer names, recognition under `auto`, the
//! whole-message refusals, and the provenance a mapped event carries.

use super::*;
use crate::event::{EventType, SubjectKind};
use crate::formats::{Draft, DraftSubject, Envelope};
use crate::time::Timestamp;

#[test]
fn a_pointer_names_the_records_exact_bytes() {
    let payload = br#"{"Records": [ {"a":1},  {"b" : [2, 3]} ], "x~y/z": "s"}"#;
    let cases: [(&str, &[u8]); 6] = [
        ("", payload),
        ("/Records/0", br#"{"a":1}"#),
        ("/Records/1", br#"{"b" : [2, 3]}"#),
        ("/Records/1/b/1", b"3"),
        ("/x~0y~1z", br#""s""#),
        // A pointer that leads nowhere in the payload: the whole payload is the record.
        ("/Records/7", payload),
    ];
    for (pointer, want) in cases {
        assert_eq!(
            record_bytes(payload, pointer),
            want,
            "{pointer}: {}",
            String::from_utf8_lossy(record_bytes(payload, pointer))
        );
    }
    // Not UTF-8, or not JSON (a JWS token): the whole payload.
    assert_eq!(record_bytes(b"\xff\xfe", "/a"), b"\xff\xfe");
    assert_eq!(record_bytes(b"eyJ.a.b", "/events/x"), b"eyJ.a.b");
}

#[test]
fn recognition_needs_exactly_one_shape() {
    let native = br#"{"id":"e","source":"s","type":"identity.created","time":"2026-01-01T00:00:00Z","subject":{"id":"u","kind":"human"},"actor":{"id":"a","kind":"human"}}"#;
    let none = br#"{"hello":"world"}"#;
    let message = |payload: &'static [u8]| Message {
        payload,
        headers: &[],
    };
    let recognise = |m: Message<'_>| recognise(m).map(|(format, _)| format);
    assert_eq!(recognise(message(native)), Ok(InputFormat::Native));
    assert_eq!(
        recognise(message(none)),
        Err(RejectReason::UnrecognisedFormat { matched: vec![] })
    );
    // Not JSON: read as native, whose decoder says why.
    assert_eq!(recognise(message(b"not json")), Ok(InputFormat::Native));
    assert_eq!(
        recognise(message(
            b"eyJhbGciOiJFZERTQSIsInR5cCI6InNlY2V2ZW50K2p3dCJ9.eyJpc3MiOiJ4In0.c2ln"
        )),
        Ok(InputFormat::SecEvent)
    );
    // A binary-mode CloudEvent is known by its header, whatever its payload.
    let headers: &[(&str, &[u8])] = &[("ce_specversion", b"1.0")];
    assert_eq!(
        recognise(Message {
            payload: none,
            headers
        }),
        Ok(InputFormat::CloudEvents)
    );
}

#[test]
fn a_security_event_token_is_recognised_by_its_jws_shape_and_type() {
    for (payload, want) in [
        (
            &b"eyJhbGciOiJFZERTQSIsInR5cCI6InNlY2V2ZW50K2p3dCJ9.eyJpc3MiOiJ4In0.c2ln"[..],
            true,
        ),
        (b"eyJhbGciOiJFUzI1NiJ9.eyJ9", false),
        (b"eyJ.a.b.c", false),
        (b"abc.def.ghi", false),
        (b"eyJ a.b.c", false),
    ] {
        assert_eq!(
            crate::formats::secevent::recognises_bytes(payload),
            want,
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn whole_messages_are_refused_before_any_format_reads_them() {
    let settings = FormatSettings::default();
    let big = vec![b' '; MAX_SOURCE_MESSAGE_BYTES + 1];
    let pem = b"{\"k\":\"-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----\"}";
    let cases: [(&[u8], &str); 3] = [
        (b"", "empty_payload"),
        (&big, "oversized"),
        (pem, "secret_material"),
    ];
    for (payload, class) in cases {
        let out = decode_message(
            InputFormat::Okta,
            &settings,
            Message {
                payload,
                headers: &[],
            },
        );
        let [Decoded::Rejected(r)] = out.as_slice() else {
            panic!("{class}: one rejection, found {out:?}")
        };
        assert_eq!(r.reason.class(), class);
        if class == "secret_material" {
            assert!(
                matches!(r.payload, KeptPayload::Redacted { .. }),
                "never the bytes"
            );
        }
    }
}

#[test]
fn a_malformed_records_field_is_named_under_its_records_pointer() {
    let reason = format_reason(
        InputFormat::CloudTrail,
        "/Records/2",
        FieldError::missing("/eventTime"),
    );
    assert_eq!(
        reason.to_string(),
        "cloudtrail record, field `/Records/2/eventTime`: required, absent or null"
    );
    let whole = format_reason(
        InputFormat::Okta,
        "",
        FieldError::new("", "expected an object"),
    );
    assert_eq!(whole.to_string(), "not a okta record: expected an object");
}

fn mapped(pointer: &str) -> Mapped {
    let draft = Draft::new(
        "okta",
        "u-1",
        EventType::IdentityDisabled,
        Timestamp(1_767_225_600_000_000_000),
        DraftSubject {
            id: "alice@example.com".into(),
            kind: SubjectKind::Human,
        },
    );
    let RecordOutcome::Event(m) = RecordOutcome::event(draft, "u-1", pointer) else {
        unreachable!("an event outcome")
    };
    *m
}

#[test]
fn provenance_hashes_the_records_bytes_and_keeps_them_only_when_asked_and_safe() {
    let record = br#"{"uuid":"u-1"}"#;
    let secret = br#"{"uuid":"u-1","client_secret":"hunter2"}"#;
    let keep = FormatSettings {
        keep_original: true,
        ..FormatSettings::default()
    };
    let none = FormatSettings::default();
    let huge = [
        &br#"{"uuid":"u-1","pad":""#[..],
        &vec![b'x'; 70_000],
        br#""}"#,
    ]
    .concat();
    let cases: [(&FormatSettings, &[u8], Original); 4] = [
        (&none, record, Original::NotKept),
        (&keep, &huge, Original::TooLarge),
        (
            &keep,
            record,
            Original::Kept {
                bytes: record.to_vec(),
            },
        ),
        (&keep, secret, Original::Redacted),
    ];
    for (settings, bytes, want) in cases {
        let r = source_record(InputFormat::Okta, settings, bytes, &mapped(""));
        assert_eq!(r.original, want);
        assert_eq!(r.sha256, sha256(bytes).0);
        assert_eq!((r.format, r.event_id.as_str()), (RecordFormat::Okta, "u-1"));
        assert_eq!(r.signature, RecordSignature::Unsigned);
    }
    // Data a CloudEvent routed keeps the envelope and is recorded as the format it was read by.
    let mut m = mapped("/data");
    m.format = Some(InputFormat::Okta);
    m.envelope = Some(Envelope {
        id: "ce-1".into(),
        source: "//okta".into(),
        kind: "com.okta.event".into(),
        time: None,
    });
    let r = source_record(InputFormat::CloudEvents, &none, record, &m);
    assert_eq!(r.format, RecordFormat::Okta);
    assert_eq!(r.pointer, "/data");
    assert_eq!(r.envelope.map(|e| e.id), Some("ce-1".to_owned()));
}

/// A kept original is left out (hash only) when the leaf would be longer than a tlog-tiles
/// entry can be: the event and its source record stay within the tiled budget whatever the
/// record's size, and a record that fits keeps its bytes. Rows: padding, whether kept.
#[test]
fn a_kept_original_that_would_overflow_a_tiles_entry_is_kept_as_its_hash() {
    let keep = FormatSettings {
        keep_original: true,
        ..FormatSettings::default()
    };
    let budget = crate::entry::MAX_TILED_LEAF_BYTES - crate::entry::LEAF_ALLOWANCE_BYTES;
    let rows = [
        (100usize, true),
        (30_000, true),
        (59_000, true),
        (61_000, false),
        (65_000, false),
        (70_000, false),
    ];
    for (pad, kept) in rows {
        let message = format!(
            r#"{{"@timestamp":1767258000000,"_document_id":"d-{pad}","action":"org.add_member","actor":"octo-admin","org":"octo-org","user":"mona","pad":"{}"}}"#,
            "x".repeat(pad)
        );
        let decoded = decode_message(
            InputFormat::Github,
            &keep,
            Message {
                payload: message.as_bytes(),
                headers: &[],
            },
        );
        let [Decoded::Event(event)] = decoded.as_slice() else {
            panic!("pad {pad}: {decoded:?}");
        };
        let total = event.encoded().len() + event.encoded_record().len();
        assert!(total <= budget, "pad {pad}: {total} > {budget}");
        // A kept original carries the padding; a left-out one only the record's hash.
        assert_eq!(event.encoded_record().len() > pad, kept, "pad {pad}");
    }
}

/// `verify` judges a kept original by the rule for kept bytes, as it judges a quarantined
/// payload: a leaf whose kept original holds a secret is a finding, one without is not.
#[test]
fn verify_finds_a_secret_in_a_kept_original() {
    use crate::entry::{BackLinks, Body, Entry, EventEntry, Origin};
    use crate::view::EntryView;
    let native = br#"{"id":"e","source":"s","type":"identity.disabled","time":"2026-01-01T00:00:00Z","subject":{"id":"u","kind":"human"},"actor":{"id":"a","kind":"human"}}"#;
    let event = crate::decode::decode_event(native)
        .expect("valid")
        .into_event();
    let leaf_keeping = |bytes: &[u8]| {
        let r = source_record(
            InputFormat::Okta,
            &FormatSettings::default(),
            bytes,
            &mapped(""),
        );
        Entry {
            version: crate::entry::FORMAT_VERSION,
            seq: 1,
            prev_leaf_hash: [0; 32],
            received_at: Timestamp(1),
            origin: Origin::Ledger,
            body: Body::Event(Box::new(EventEntry {
                links: BackLinks::default(),
                event: event.clone(),
                record: Some(SourceRecord {
                    original: Original::Kept {
                        bytes: bytes.to_vec(),
                    },
                    ..r
                }),
            })),
        }
        .encode()
    };
    let clean = leaf_keeping(br#"{"uuid":"u-1"}"#);
    let secret = leaf_keeping(br#"{"uuid":"u-1","password":"hunter2"}"#);
    let finding = |leaf: &[u8]| {
        crate::secret::secret_in_entry(leaf, &EntryView::decode(leaf).expect("decodes"))
    };
    assert_eq!(finding(&clean), None);
    let found = finding(&secret).expect("a finding");
    assert!(found.starts_with("source record: "), "{found}");
}
