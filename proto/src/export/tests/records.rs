//! What each record format shows of each kind of entry: the OCSF class and activity, the
//! record_integrity attestation, and a CEF line whole (the tables of docs/EXPORT.md).

use super::*;
use serde_json::{Value, json};

/// The class, activity and status each kind of entry becomes (docs/EXPORT.md's table).
#[test]
fn each_kind_of_entry_becomes_its_ocsf_class_and_activity() {
    let log = Log::every_kind();
    let names: Vec<&str> = every_kind().iter().map(|(n, _, _)| *n).collect();
    // (entry, class_uid, activity_id, activity_name, status_id, event_code)
    #[rustfmt::skip]
    let expected: &[(&str, u64, u64, &str, u64, &str)] = &[
        ("identity.created", 3007, 1, "Create", 1, "identity.created"),
        ("identity.owner_changed of a workload", 3007, 2, "Update", 1, "identity.owner_changed"),
        ("identity.disabled", 3007, 5, "Disable", 1, "identity.disabled"),
        ("identity.enabled", 3007, 4, "Enable", 1, "identity.enabled"),
        ("identity.deleted of a bot, by a system", 3007, 3, "Delete", 1, "identity.deleted"),
        ("identity.authenticated to a resource", 3002, 1, "Logon", 1, "identity.authenticated"),
        ("identity.authenticated that failed, of a machine", 3002, 1, "Logon", 2, "identity.authenticated"),
        ("access.requested of a privilege", 3007, 99, "Access Requested", 1, "access.requested"),
        ("access.granted of a privilege", 3007, 14, "Assign Privileges", 1, "access.granted"),
        ("access.revoked of a privilege", 3007, 15, "Remove Privileges", 1, "access.revoked"),
        ("access.expired of a privilege", 3007, 15, "Remove Privileges", 1, "access.expired"),
        ("access.granted of a group", 3006, 3, "Add User", 1, "access.granted"),
        ("access.granted of a team", 3006, 3, "Add User", 1, "access.granted"),
        ("access.revoked of a group", 3006, 4, "Remove User", 1, "access.revoked"),
        ("access.approved of a group", 3006, 99, "Access Approved", 1, "access.approved"),
        ("access.granted of a role", 3007, 16, "Assign Roles", 1, "access.granted"),
        ("access.expired of a role", 3007, 17, "Remove Roles", 1, "access.expired"),
        ("access.denied that failed", 3007, 99, "Access Denied", 2, "access.denied"),
        ("access.reviewed", 3007, 99, "Access Reviewed", 1, "access.reviewed"),
        ("credential.issued of a mfa_factor", 3007, 12, "Enable MFA Factors", 1, "credential.issued"),
        ("credential.revoked of a mfa_factor", 3007, 13, "Disable MFA Factors", 1, "credential.revoked"),
        ("credential.rotated of a password", 3007, 8, "Password Change", 1, "credential.rotated"),
        ("credential.issued of a password", 3007, 99, "Credential Issued", 1, "credential.issued"),
        ("credential.issued of a api_key", 3007, 18, "Add Programmatic Credentials", 1, "credential.issued"),
        ("credential.expired of a certificate", 3007, 19, "Remove Programmatic Credentials", 1, "credential.expired"),
        ("credential.rotated of a api_key", 3007, 99, "Credential Rotated", 1, "credential.rotated"),
        ("credential.used of a api_key", 3002, 99, "Credential Used", 1, "credential.used"),
        ("quarantined raw input, not UTF-8", 3004, 99, "Quarantined", 2, "quarantined"),
        ("quarantined conflicting duplicate", 3007, 99, "Quarantined", 2, "quarantined"),
        ("quarantined tombstone", 3004, 99, "Quarantined", 2, "quarantined"),
        ("system genesis", 3004, 1, "Create", 1, "system.genesis"),
        ("system key added", 3004, 1, "Create", 1, "system.key_added"),
        ("system key retired", 3004, 9, "Disable", 1, "system.key_retired"),
        ("system offsets unavailable", 3004, 99, "Offsets Unavailable", 2, "system.offsets_unavailable"),
        ("system out of scope", 3004, 99, "Records Out Of Scope", 1, "system.out_of_scope"),
    ];
    for &(name, class, activity, activity_name, status, code) in expected {
        let index = names.iter().position(|n| *n == name).expect(name) as u64;
        let record = ocsf(&log, index, None);
        let got = (
            record["class_uid"].as_u64(),
            record["activity_id"].as_u64(),
            record["activity_name"].as_str(),
            record["status_id"].as_u64(),
            record["metadata"]["event_code"].as_str(),
            record["type_uid"].as_u64(),
        );
        assert_eq!(
            got,
            (
                Some(class),
                Some(activity),
                Some(activity_name),
                Some(status),
                Some(code),
                Some(class * 100 + activity)
            ),
            "{name}"
        );
    }
}

/// The integrity of one record, member by member (the mapping docs/EXPORT.md documents).
#[test]
fn the_record_integrity_attestation_is_the_leaf_hash_and_chain_link() {
    let log = Log::every_kind();
    let proof = log.proof(4, log.len());
    let record = ocsf(&log, 4, Some(&proof));
    let fingerprint = |hash: Hash| {
        json!({
            "algorithm_id": 3, "algorithm": "SHA-256", "encoding_id": 2, "encoding": "Base64",
            "serialization_id": 99, "serialization": LEAF_SERIALIZATION, "value": hash.to_base64(),
        })
    };
    assert_eq!(
        record["attestation_list"],
        json!([{
            "uid": "4",
            "chain_uid": ORIGIN,
            "authority_uid": ORIGIN,
            "fingerprint": fingerprint(log.hashes[4]),
            "prev_event": {"uid": format!("{ORIGIN}#3"), "fingerprint": fingerprint(log.hashes[3])},
        }])
    );
    assert_eq!(record["metadata"]["uid"], format!("{ORIGIN}#4"));
    assert_eq!(record["metadata"]["profiles"], json!(["record_integrity"]));
    assert_eq!(record["metadata"]["version"], "1.9.0-dev");
    let idledger = &record["unmapped"]["idledger"];
    assert_eq!(idledger["index"], 4);
    assert_eq!(idledger["leaf"], B64_ENGINE.encode(&log.leaves[4]));
    assert_eq!(
        idledger["proof"],
        serde_json::to_value(&proof).expect("json")
    );
    // No signatures on an entry: the checkpoint lines carry them, over the tree.
    assert!(record["attestation_list"][0].get("signatures").is_none());
    // Entry 0 starts the chain: no previous event.
    assert!(
        ocsf(&log, 0, None)["attestation_list"][0]
            .get("prev_event")
            .is_none()
    );
}

/// The CEF line of an access grant, whole: header and every extension pair.
#[test]
fn a_cef_entry_line_is_as_documented() {
    let names: Vec<&str> = every_kind().iter().map(|(n, _, _)| *n).collect();
    let log = Log::every_kind();
    let index = names
        .iter()
        .position(|n| *n == "access.granted with every optional field and awkward text")
        .expect("in the table") as u64;
    let mut buf = Vec::new();
    let record = EntryRecord {
        origin: ORIGIN,
        index,
        leaf: &log.leaves[index as usize],
        leaf_hash: log.hashes[index as usize],
        proof: None,
    };
    write_cef_entry(&mut buf, &record, &log.entries[index as usize]);
    let line = text(&buf);
    let header =
        format!("CEF:0|idledger|idledger|{PRODUCER_VERSION}|access.granted|Access Granted|5|");
    assert!(line.starts_with(&header), "{line}");
    let parsed = parse_cef(&line).expect("parses");
    let leaf = B64_ENGINE.encode(&log.leaves[index as usize]);
    let hash = log.hashes[index as usize].to_base64();
    let index_text = index.to_string();
    let received = (1_767_225_601_000 + index).to_string();
    let expected: Vec<(&str, &str)> = vec![
        ("rt", &received),
        ("start", "1767225600123"),
        ("cat", "access"),
        ("act", "granted"),
        ("outcome", "success"),
        ("suser", "admin@example.com"),
        ("duser", "alice"),
        ("externalId", "e-access.granted"),
        ("msg", "on call\nsee CHG-1 | a=b \\ c"),
        ("cs1", ORIGIN),
        ("cs1Label", "origin"),
        ("cs2", &hash),
        ("cs2Label", "leafHash"),
        ("cs3", &leaf),
        ("cs3Label", "leaf"),
        ("cs5", "okta-prod"),
        ("cs5Label", "source"),
        ("cs6", "prod-db:admin"),
        ("cs6Label", "resource"),
        ("cn1", &index_text),
        ("cn1Label", "index"),
        ("flexString1", "g-prod-db:admin"),
        ("flexString1Label", "grantId"),
        ("flexString2", "CHG=1234|x"),
        ("flexString2Label", "ticket"),
    ];
    let got: Vec<(&str, &str)> = parsed
        .extension
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(got, expected_sorted);
    // Escaped on the wire: the newline, `=` and `\` of the reason, not its `|`.
    assert!(
        line.contains(r"msg=on call\nsee CHG-1 | a\=b \\ c cs1="),
        "{line}"
    );
}

/// The entries of docs/EXPORT.md's examples: the log's genesis, then an identity created.
fn docs_log() -> Log {
    let all = every_kind();
    let pick = |name: &str| {
        let (_, origin, body) = all.iter().find(|(n, _, _)| *n == name).expect(name);
        (origin.clone(), body.clone())
    };
    Log::of(vec![pick("system genesis"), pick("identity.created")])
}

/// The code block after `marker` in docs/EXPORT.md.
fn docs_block(marker: &str) -> &'static str {
    let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/EXPORT.md"));
    let after = &docs[docs.find(marker).expect("the marker is in docs/EXPORT.md")..];
    let fence = &after[after.find("```").expect("a code block")..];
    let body = &fence[fence.find('\n').expect("a fence line") + 1..];
    &body[..body.find("```").expect("the block ends")]
}

/// The examples docs/EXPORT.md shows are what this code writes, and they verify: the CEF stream
/// whole, the OCSF record as an extract beside its checkpoint.
#[test]
fn the_examples_in_the_docs_verify() {
    let verified = verify_export(docs_block("A whole stream of two"), &keys());
    assert!(verified.ok(), "{:#?}", verified.findings);
    assert_eq!(verified.entries, 2);
    let log = docs_log();
    let record: Value = serde_json::from_str(docs_block("A record (one line")).expect("JSON");
    let extract = vec![
        serde_json::to_string(&record).expect("json"),
        checkpoint_line(&log, RecordFormat::Ocsf, 2),
    ];
    let verified = verify(&extract);
    assert!(verified.ok(), "{:#?}", verified.findings);
    let proof = log.proof(1, 2);
    let mut written = ocsf(&log, 1, Some(&proof));
    written["metadata"]["product"]["version"] = record["metadata"]["product"]["version"].clone();
    assert_eq!(record, written);
}
