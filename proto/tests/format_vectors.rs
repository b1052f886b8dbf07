//! The leaf-format test vectors of docs/FORMAT.md (docs/test-vectors.json): JSON in, leaf bytes
//! hex, leaf hash. Another implementation can check itself against the same file. Run with
//! IDLEDGER_BLESS_VECTORS=1 to rewrite the file after a deliberate format change. The version-1
//! vectors (docs/test-vectors-v1.json, frozen) are still read: each decodes to the event its
//! input validates to, with version 2's defaults.

use idledger_proto::entry::{
    BackLinks, Body, Entry, EventEntry, FORMAT_VERSION, KafkaOrigin, Origin,
};
use idledger_proto::hash::leaf_hash;
use idledger_proto::source_record::{
    Original, RecordEnvelope, RecordFormat, RecordSignature, SourceRecord,
};
use idledger_proto::{Timestamp, decode_event};
use serde_json::{Value, json};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/test-vectors.json");

fn build(input: &str, seq: u64, links: BackLinks, origin: Origin) -> Entry {
    build_with_record(input, seq, links, origin, None)
}

fn build_with_record(
    input: &str,
    seq: u64,
    links: BackLinks,
    origin: Origin,
    record: Option<SourceRecord>,
) -> Entry {
    let body = match decode_event(input.as_bytes()) {
        Ok(v) => Body::Event(Box::new(EventEntry {
            links,
            event: v.into_event(),
            record,
        })),
        Err(r) => Body::Quarantined(Box::new(r)),
    };
    Entry {
        version: FORMAT_VERSION,
        seq,
        prev_leaf_hash: [0x11; 32],
        received_at: Timestamp(1_767_225_600_000_000_000),
        origin,
        body,
    }
}

fn cases() -> Vec<(String, Entry)> {
    let access = r#"{"id":"evt-0011","source":"okta-prod","type":"access.approved","time":"2026-03-04T09:12:00Z","actor":{"id":"bob@example.com","kind":"human","mfa":true},"subject":{"id":"alice@example.com","kind":"human"},"grant_id":"g-42","resource":"prod-db:read","reason":"on-call","policy":{"id":"prod-access","version":"7"}}"#;
    let credential = format!(
        r#"{{"id":"evt-0020","source":"vault-eu","type":"credential.issued","time":"2026-03-02T09:10:00Z","actor":{{"id":"bob","kind":"human"}},"subject":{{"id":"svc-billing","kind":"service_account"}},"credential":{{"id":"key-1","kind":"api_key","fingerprint":"sha256:{}"}},"attributes":{{"application":"billing","tier":2}}}}"#,
        "9f".repeat(32)
    );
    let rejected = "not json";
    // Version 2: a failed login with a credential known by id alone, mapped from an Okta record
    // kept verbatim; a group membership.
    let failed_login = r#"{"id":"a8f1c2d4-0000-4000-8000-000000000001","source":"okta","type":"identity.authenticated","time":"2026-03-05T07:59:00Z","actor":{"id":"alice@example.com","kind":"human"},"subject":{"id":"alice@example.com","kind":"human"},"credential":{"id":"password:alice@example.com","kind":"password"},"outcome":"failed"}"#;
    let okta_record =
        br#"{"uuid":"a8f1c2d4-0000-4000-8000-000000000001","eventType":"user.session.start"}"#;
    let membership = r#"{"id":"evt-0030","source":"entra-prod","type":"access.granted","time":"2026-03-06T10:00:00Z","actor":{"id":"admin@example.com","kind":"human"},"subject":{"id":"bob@example.com","kind":"human"},"grant_id":"membership:group:Payments Admins:bob@example.com","resource":"Payments Admins","membership":"group"}"#;
    vec![
        (
            failed_login.to_owned(),
            build_with_record(
                failed_login,
                11,
                BackLinks {
                    prev_subject: Some(7),
                    prev_grant: None,
                    prev_credential: None,
                },
                Origin::Kafka(KafkaOrigin::new("okta-log", 0, 5, None, None)),
                Some(SourceRecord {
                    format: RecordFormat::Okta,
                    event_id: "a8f1c2d4-0000-4000-8000-000000000001".into(),
                    pointer: String::new(),
                    sha256: idledger_proto::hash::sha256(okta_record).0,
                    original: Original::Kept {
                        bytes: okta_record.to_vec(),
                    },
                    signature: RecordSignature::Unsigned,
                    envelope: Some(RecordEnvelope {
                        id: "ce-1".into(),
                        source: "//okta/example".into(),
                        kind: "com.okta.event".into(),
                        time: None,
                    }),
                }),
            ),
        ),
        (
            membership.to_owned(),
            build(
                membership,
                12,
                BackLinks::default(),
                Origin::Local {
                    label: "events.jsonl".into(),
                    line: 3,
                },
            ),
        ),
        (
            access.to_owned(),
            build(
                access,
                7,
                BackLinks {
                    prev_subject: Some(3),
                    prev_grant: Some(6),
                    prev_credential: None,
                },
                Origin::Kafka(KafkaOrigin::new(
                    "identity-events",
                    2,
                    1234,
                    Some(1_772_615_520_000),
                    Some(b"alice"),
                )),
            ),
        ),
        (
            credential.clone(),
            build(
                &credential,
                8,
                BackLinks::default(),
                Origin::Local {
                    label: "events.jsonl".into(),
                    line: 1,
                },
            ),
        ),
        (
            access.to_owned(),
            build(
                access,
                10,
                BackLinks::default(),
                // A key that carries a secret: kept as its length and SHA-256 only.
                Origin::Kafka(KafkaOrigin::new(
                    "identity-events",
                    0,
                    77,
                    None,
                    Some(br#"{"client_secret":"s3cr3t"}"#),
                )),
            ),
        ),
        (
            rejected.to_owned(),
            build(
                rejected,
                9,
                BackLinks::default(),
                Origin::Local {
                    label: "events.jsonl".into(),
                    line: 2,
                },
            ),
        ),
    ]
}

#[test]
fn leaf_vectors_match_docs() {
    let vectors: Vec<Value> = cases()
        .into_iter()
        .map(|(input, entry)| {
            let leaf = entry.encode();
            json!({ "input": input, "seq": entry.seq, "prev_leaf_hash": hex::encode(entry.prev_leaf_hash), "received_at_unix_nanos": entry.received_at.0, "origin": entry.origin, "leaf_hex": hex::encode(&leaf), "leaf_hash_hex": leaf_hash(&leaf).to_hex() })
        })
        .collect();
    let text = serde_json::to_string_pretty(&vectors).expect("json") + "\n";
    if std::env::var_os("IDLEDGER_BLESS_VECTORS").is_some() {
        std::fs::write(PATH, &text).expect("write vectors");
        return;
    }
    // Embedded at compile time (cargo rebuilds when the file changes), so the comparison never
    // depends on where the crate was built.
    let stored = include_str!("../../docs/test-vectors.json");
    assert_eq!(
        stored, text,
        "the leaf format changed: update docs/FORMAT.md and bless the vectors"
    );
    // Every stored leaf decodes and re-encodes to the same bytes.
    for v in &vectors {
        let leaf = hex::decode(v["leaf_hex"].as_str().expect("hex")).expect("hex");
        assert_eq!(Entry::decode(&leaf).expect("decodes").encode(), leaf);
    }
}

/// Version-1 leaves (written before source formats) still read: each decodes to the event its
/// input validates to, with version 2's defaults, and keeps its version and leaf hash.
#[test]
fn version_1_vectors_still_read() {
    let stored: Vec<Value> =
        serde_json::from_str(include_str!("../../docs/test-vectors-v1.json")).expect("json");
    assert_eq!(stored.len(), 4);
    for v in &stored {
        let leaf = hex::decode(v["leaf_hex"].as_str().expect("hex")).expect("hex");
        assert_eq!(leaf[0], 1, "a version-1 leaf");
        assert_eq!(
            leaf_hash(&leaf).to_hex(),
            v["leaf_hash_hex"].as_str().expect("hash")
        );
        let entry = Entry::decode(&leaf).expect("a version-1 leaf decodes");
        let view = idledger_proto::view::EntryView::decode(&leaf).expect("and views");
        assert_eq!(view.to_entry(), entry);
        assert_eq!(entry.version, 1);
        let input = v["input"].as_str().expect("input");
        match (&entry.body, decode_event(input.as_bytes())) {
            (Body::Event(e), Ok(want)) => {
                assert_eq!(e.event, want.into_event());
                assert_eq!(e.record, None);
            }
            (Body::Quarantined(r), Err(want)) => assert_eq!(**r, want),
            (body, want) => panic!("{body:?} is not what {input} gives: {want:?}"),
        }
    }
}

/// A version-2 leaf with its first byte set to 1 does not read as version 1: the layouts differ
/// and the decoder refuses what is left over or missing rather than misreading it.
#[test]
fn a_version_2_leaf_relabelled_version_1_is_refused() {
    for (_, entry) in cases() {
        let mut leaf = entry.encode();
        let Body::Event(e) = &entry.body else {
            continue;
        };
        leaf[0] = 1;
        let decoded = Entry::decode(&leaf);
        // Reading a v2 event as v1 leaves bytes over (outcome, membership, record) at least.
        assert!(decoded.is_err(), "{:?} read as version 1", e.event.id);
    }
}

/// The positions digest vectors of docs/FORMAT.md ("Checkpoints"), computed independently.
#[test]
fn positions_digest_matches_the_documented_vectors() {
    let format = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMAT.md"))
        .expect("FORMAT.md");
    type Positions<'a> = &'a [(&'a str, i32, i64)];
    let cases: [(Positions<'_>, &str); 2] = [
        (&[], "bvFSFhzN6qghSZBE9w7RLTeKM1ZJKe63XOGx57tmkl4="),
        (
            &[("identity-events", 1, 37), ("identity-events", 0, 1200)],
            "te0fuF9a7QpXWuN57vn+pCXq+nBARiT6qmPAPUnT6Zg=",
        ),
    ];
    for (positions, want) in cases {
        assert_eq!(
            idledger_proto::positions::digest(positions.iter().copied()).to_base64(),
            want
        );
        assert!(format.contains(want), "FORMAT.md documents {want}");
    }
}

#[test]
fn key_records_digest_matches_the_documented_vectors() {
    let format = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMAT.md"))
        .expect("FORMAT.md");
    let cases: [(&[u64], &str); 2] = [
        (&[0], "7N5Z2h4gmJu5+37O9Y64gQaoWpjUoYHPxt5GOZsmU34="),
        (&[0, 5, 9], "Yi3gQGWVzlHC7Zq7jZqIaoo5A+z+jkza6YVDonilrTc="),
    ];
    for (indexes, want) in cases {
        assert_eq!(
            idledger_proto::checkpoint::key_records_digest(indexes).to_base64(),
            want
        );
        assert!(format.contains(want), "FORMAT.md documents {want}");
    }
}
