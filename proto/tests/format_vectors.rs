//! The leaf-format test vectors of docs/FORMAT.md (docs/test-vectors.json): JSON in, leaf bytes
//! hex, leaf hash. Another implementation can check itself against the same file. Run with
//! IDLEDGER_BLESS_VECTORS=1 to rewrite the file after a deliberate format change.

use idledger_proto::entry::{
    BackLinks, Body, Entry, EventEntry, FORMAT_VERSION, KafkaOrigin, Origin,
};
use idledger_proto::hash::leaf_hash;
use idledger_proto::{Timestamp, decode_event};
use serde_json::{Value, json};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/test-vectors.json");

fn build(input: &str, seq: u64, links: BackLinks, origin: Origin) -> Entry {
    let body = match decode_event(input.as_bytes()) {
        Ok(v) => Body::Event(Box::new(EventEntry {
            links,
            event: v.into_event(),
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
    vec![
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
