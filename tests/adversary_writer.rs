//! The attacker (`attacker`: write access to the ledger's files, not its key) against the
//! writer through what is not signed: the deduplication and head indexes, the log's length, and
//! against what the tools print and hand out. Found in review; each test is an attack the code
//! before its fix let through, now refused or reported.

mod attacker;
mod common;

use attacker::Files;
use common::*;
use idledger_ledger::store::*;
use idledger_ledger::{Item, Ledger, Outcome, Position, Submission};
use idledger_proto::bundle::ProofBundle;
use idledger_proto::bundle::claim::Claim;
use idledger_proto::entry::{Body, Origin};
use idledger_proto::rejection::{KeptPayload, RejectReason, Rejection};
use idledger_proto::{KafkaOrigin, Timestamp, decode_event};
use std::path::{Path, PathBuf};

const ORIGIN: &str = "audit.example/identity";
const NOW: &str = "2026-06-01T00:00:00Z";

fn item(json: &str) -> Item {
    Item::Event(decode_event(json.as_bytes()).unwrap_or_else(|r| panic!("{json}: {}", r.reason)))
}

fn sub(json: &str) -> Submission {
    Submission {
        origin: Origin::Local {
            label: "hr.jsonl".into(),
            line: 1,
        },
        item: item(json),
    }
}

fn event(id: &str, kind: &str, subject: &str, grant: Option<&str>, time: &str) -> String {
    let grant = grant
        .map(|g| format!(r#","grant_id":"{g}","resource":"prod-db""#))
        .unwrap_or_default();
    format!(
        r#"{{"id":"{id}","source":"broker","type":"{kind}","time":"{time}","actor":{{"id":"sec-team","kind":"human"}},"subject":{{"id":"{subject}","kind":"human"}},"reason":"incident 42"{grant}}}"#
    )
}

/// A genuine ledger: mallory's identity changes and a grant of prod-db to her.
fn genuine(tmp: &Path) -> (PathBuf, String) {
    let dir = tmp.join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), ORIGIN).expect("init");
    ledger
        .append(
            vec![
                sub(&event(
                    "u1",
                    "identity.updated",
                    "mallory",
                    None,
                    "2026-01-01T00:00:00Z",
                )),
                sub(&event(
                    "u2",
                    "identity.updated",
                    "mallory",
                    None,
                    "2026-01-02T00:00:00Z",
                )),
                sub(&event(
                    "gr1",
                    "access.granted",
                    "mallory",
                    Some("g-prod"),
                    "2026-01-03T00:00:00Z",
                )),
            ],
            &[],
        )
        .expect("append");
    let vkey = ledger.verifier_keys()[0].to_string();
    (dir, vkey)
}

fn revocation() -> String {
    event(
        "rv1",
        "access.revoked",
        "mallory",
        Some("g-prod"),
        "2026-01-04T00:00:00Z",
    )
}

/// Pointing the deduplication key of an event about to arrive at another entry (here the
/// genesis record) must not make the writer sign that event as a quarantined conflict.
#[test]
fn a_poisoned_deduplication_index_stops_the_writer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    Files::open(&dir).put(CF_DEDUPE, &dedupe_key("broker", "rv1"), &0u64.to_be_bytes());
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("the writer opens");
    let err = ledger
        .append(vec![sub(&revocation())], &[])
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("deduplication index points event broker/rv1 at entry 0"),
        "{err}"
    );
    drop(ledger);
    let o = run(&["verify", "--data", path(&dir), "--vkey", &vkey], None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the planted key is an index mismatch"
    );
}

/// An entry planted (and later restored) under a planted deduplication key must not make the
/// writer take an arriving event for a duplicate and drop it.
#[test]
fn a_planted_entry_under_a_deduplication_key_stops_the_writer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, _) = genuine(tmp.path());
    {
        let files = Files::open(&dir);
        let mut planted = files.entries()[1].clone();
        let (Body::Event(ev), Item::Event(v)) = (&mut planted.body, item(&revocation())) else {
            panic!("an event")
        };
        ev.event = v.into_event();
        files.put(CF_ENTRIES, &seq_key(1), &planted.encode());
        files.put(CF_DEDUPE, &dedupe_key("broker", "rv1"), &1u64.to_be_bytes());
    }
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("the writer opens");
    let err = ledger
        .append(vec![sub(&revocation())], &[])
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("is not the entry the signed tree holds"),
        "{err}"
    );
}

/// A conflicting duplicate a writer recorded without an earlier event of the same source and
/// id (as a writer tricked by its index before the check above would have) is reported.
#[test]
fn a_false_conflicting_duplicate_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    let Item::Event(v) = item(&revocation()) else {
        panic!("an event")
    };
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("open");
    let report = ledger
        .append(
            vec![Submission {
                origin: Origin::Ledger,
                item: Item::Rejected(Rejection {
                    reason: RejectReason::ConflictingDuplicate { first_index: 0 },
                    payload: KeptPayload::Event(Box::new(v.into_event())),
                }),
            }],
            &[],
        )
        .expect("append");
    let Outcome::Quarantined(seq) = report.outcomes[0] else {
        panic!("{:?}", report.outcomes)
    };
    drop(ledger);
    let o = run(&["verify", "--data", path(&dir), "--vkey", &vkey], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!(
            "FAIL index mismatch at index {}: entry {} is quarantined as a conflicting duplicate of entry 0",
            seq.0, seq.0
        )),
        "{}",
        stdout(&o)
    );
}

/// Deleting a subject's head makes the writer link that subject's next event to nothing. This is
/// not prevented yet (the head index is not signed; docs/SECURITY.md), but `verify` reports it.
#[test]
fn a_poisoned_head_index_is_reported_by_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    Files::open(&dir).delete(CF_HEADS, &head_key(HeadKind::Subject, "mallory"));
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("the writer opens");
    ledger
        .append(
            vec![sub(&event(
                "u3",
                "identity.updated",
                "mallory",
                None,
                "2026-01-05T00:00:00Z",
            ))],
            &[],
        )
        .expect("append");
    drop(ledger);
    let o = run(&["verify", "--data", path(&dir), "--vkey", &vkey], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "FAIL index mismatch at index 4: entry 4: back-link to previous subject entry is None"
        ),
        "{}",
        stdout(&o)
    );
}

/// Cut back to a signed prefix, the log must not be continued by the writer: its key would
/// sign a second, different tree at sizes it already signed.
#[test]
fn the_writer_refuses_to_continue_a_log_cut_back_to_a_signed_prefix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("t");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), ORIGIN).expect("init");
    for first in [0i64, 3, 6] {
        let subs = (first..first + 3)
            .map(|n| Submission {
                origin: Origin::Kafka(KafkaOrigin::new("feed", 0, n, Some(1), None)),
                item: item(&event(
                    &format!("e{n}"),
                    "identity.updated",
                    "bob",
                    None,
                    "2026-01-01T00:00:00Z",
                )),
            })
            .collect();
        let p = Position {
            topic: "feed".into(),
            partition: 0,
            next_offset: first + 3,
        };
        ledger.append(subs, &[p]).expect("append");
    }
    drop(ledger);
    {
        let files = Files::open(&dir);
        let prefix: Vec<_> = files.entries().into_iter().take(4).collect();
        files.rewrite(prefix);
        files.delete_checkpoints(|s| s > 4);
        for s in 4..10 {
            files.delete(CF_ENTRIES, &seq_key(s));
        }
    }
    let err = Ledger::open(&dir, &keys_for(&dir)).expect_err("refused");
    assert!(
        err.to_string()
            .contains("last signed a checkpoint of size 10")
            && err.to_string().contains("does not extend it"),
        "{err}"
    );
}

/// A grant bundle handed on without its subject's chain, the answer restated from the grant's
/// chain alone, still verifies (each entry and the answer are genuine), but the description
/// says what it does not prove.
#[test]
fn a_grant_bundle_without_its_subjects_chain_says_what_it_does_not_prove() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("open");
    ledger
        .append(
            vec![sub(&event(
                "d1",
                "identity.disabled",
                "mallory",
                None,
                "2026-01-04T00:00:00Z",
            ))],
            &[],
        )
        .expect("append");
    drop(ledger);
    let file = tmp.path().join("g.json");
    ok(
        &[
            "grant",
            "--data",
            path(&dir),
            "g-prod",
            "--now",
            NOW,
            "--proofs",
            path(&file),
        ],
        None,
    );
    let genuine_out = ok(&["verify-proof", "--vkey", &vkey, path(&file)], None);
    assert!(
        genuine_out.contains("The identity changes of `mallory` are covered through entry 4."),
        "{genuine_out}"
    );
    let mut bundle: ProofBundle =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("bundle");
    let key = idledger_proto::VerifierKey::parse(&vkey).expect("key");
    let verified = idledger_proto::bundle::verify_bundle(&bundle.to_json(), None, &[key])
        .expect("genuine verifies");
    let keep: Vec<bool> = verified
        .entries
        .iter()
        .map(|e| {
            e.event()
                .is_some_and(|ev| ev.grant_id.as_deref() == Some("g-prod"))
        })
        .collect();
    let grant_entries: Vec<_> = verified
        .entries
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(e, _)| e.clone())
        .collect();
    bundle.proofs = bundle
        .proofs
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| p.clone())
        .collect();
    bundle.chains.retain(|c| c.id == "g-prod");
    let now = Timestamp::parse_rfc3339(NOW).expect("time");
    let answer = idledger_proto::answer::GrantAnswer::tell("g-prod", &grant_entries, &[], now);
    bundle.claim = Some(Claim::grant("g-prod", now, &answer));
    std::fs::write(&file, bundle.to_json()).expect("write");
    let out = ok(&["verify-proof", "--vkey", &vkey, path(&file)], None);
    assert!(
        out.contains("The identity changes of `mallory` are not in this bundle"),
        "{out}"
    );
}

/// A bundle stating one chain 20,000 times (each once re-checked against every entry, it took
/// half a minute) is refused at once.
#[test]
fn a_bundle_repeating_a_chain_is_refused_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    let file = tmp.path().join("g.json");
    ok(
        &[
            "grant",
            "--data",
            path(&dir),
            "g-prod",
            "--now",
            NOW,
            "--proofs",
            path(&file),
        ],
        None,
    );
    let mut bundle: ProofBundle =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("bundle");
    bundle.chains = vec![bundle.chains[0].clone(); 20_000];
    std::fs::write(&file, bundle.to_json()).expect("write");
    let o = run(&["verify-proof", "--vkey", &vkey, path(&file)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("stated twice"), "{}", stderr(&o));
}

/// Text a hostile bundle carries reaches the terminal escaped, in failure messages too.
#[test]
fn a_hostile_bundle_cannot_write_terminal_controls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_, vkey) = genuine(tmp.path());
    let file = tmp.path().join("spoof.json");
    std::fs::write(
        &file,
        r#"{"format":"\r\u001b[2Kok: the bundle verifies\n\u001b[8m","checkpoint":"","proofs":[]}"#,
    )
    .expect("write");
    let o = run(&["verify-proof", "--vkey", &vkey, path(&file)], None);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
    assert!(err.contains("\\u{001B}"), "{err:?}");
}

/// `vkey` hands out only keys held in the key directory that signed the latest checkpoint,
/// never one planted in the ledger's metadata.
#[test]
fn vkey_never_hands_out_a_key_planted_in_the_ledger() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    let mine =
        idledger_proto::NoteSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[7; 32]))
            .expect("signer");
    Files::open(&dir).put(
        CF_META,
        META_SIGNERS,
        mine.verifier().to_string().as_bytes(),
    );
    assert_eq!(ok(&["vkey", "--data", path(&dir)], None).trim(), vkey);
    let elsewhere = tmp.path().join("other-keys");
    let o = run(
        &["vkey", "--data", path(&dir), "--key-dir", path(&elsewhere)],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}

/// The last entry's bytes replaced (its tiles left alone, so the stored tree still reproduces
/// the signed checkpoint), then restored after the next append: the writer would have chained
/// the new entry to the forged one, signing a link to content the key never signed.
#[test]
fn the_writer_refuses_to_chain_to_a_replaced_last_entry() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path());
    let files = Files::open(&dir);
    let last = files.entries().len() as u64 - 1;
    let genuine_bytes = files.get(CF_ENTRIES, &seq_key(last));
    let forged = String::from_utf8_lossy(&genuine_bytes)
        .replace("incident 42", "incident 43")
        .into_bytes();
    assert_ne!(forged, genuine_bytes);
    files.put(CF_ENTRIES, &seq_key(last), &forged);
    drop(files);
    let err = Ledger::open(&dir, &keys_for(&dir)).expect_err("refused");
    assert!(
        err.to_string().contains(&format!(
            "the last entry, {last} is not the entry the signed tree holds"
        )),
        "{err}"
    );
    let files = Files::open(&dir);
    files.put(CF_ENTRIES, &seq_key(last), &genuine_bytes);
    drop(files);
    ok(&["verify", "--data", path(&dir), "--vkey", &vkey], None);
}

/// Ledger with a second key added (`rotate_at_end`: and the first retired), then a batch.
fn rotated(tmp: &Path, retire: bool) -> (PathBuf, String, String) {
    let (dir, first) = genuine(tmp);
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("open");
    let old = ledger.verifier_keys()[0].clone();
    let new = ledger.add_key().expect("add key");
    if retire {
        ledger.retire_key(&old).expect("retire");
    }
    ledger
        .append(vec![sub(&revocation())], &[])
        .expect("append");
    (dir, first, new.to_string())
}

/// A key record hidden from `meta.key_records` (unsigned): the writer would sign with a key
/// set other than the log's — without the new key during a rotation, or with a retired key
/// after one.
#[test]
fn the_writer_refuses_a_key_record_index_that_hides_a_record() {
    for retire in [false, true] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (dir, old, new) = rotated(tmp.path(), retire);
        let files = Files::open(&dir);
        let stored = files.get(CF_META, META_KEY_RECORDS);
        let mut records = decode_key_records(&stored).expect("records");
        records.pop();
        files.put(CF_META, META_KEY_RECORDS, &encode_key_records(&records));
        drop(files);
        let err = Ledger::open(&dir, &keys_for(&dir)).expect_err("refused");
        assert!(
            err.to_string()
                .contains("the key record index is not the one the checkpoint of size"),
            "retire {retire}: {err}"
        );
        Files::open(&dir).put(CF_META, META_KEY_RECORDS, &stored);
        for vkey in [&old, &new] {
            ok(&["verify", "--data", path(&dir), "--vkey", vkey], None);
        }
    }
}

/// A retired key that still signs (as a writer shown a key-record list without the retirement
/// would make it) is reported: the retired key must not vouch for what comes after.
#[test]
fn verify_reports_a_checkpoint_signed_by_a_retired_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, old, new) = rotated(tmp.path(), true);
    let keys = idledger_ledger::KeyDir::for_data(&keys_for(&dir), &dir).expect("key dir");
    let signer = |vkey: &str| {
        let vkey = idledger_proto::note::VerifierKey::parse(vkey).expect("vkey");
        keys.load_signer(&vkey, &dir.join("keys")).expect("signer")
    };
    let files = Files::open(&dir);
    let (size, note) = files.checkpoints().pop().expect("a checkpoint");
    let text = note.split("\n\n").next().expect("body").to_owned() + "\n";
    let both =
        idledger_proto::note::sign_note(&text, &[&signer(&new), &signer(&old)]).expect("signs");
    files.put_checkpoint(size, &both);
    drop(files);
    let o = run(&["verify", "--data", path(&dir), "--vkey", &new], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains(&format!(
            "checkpoint {size} is signed by {old}, which the log retired before it"
        )),
        "{}",
        stderr(&o)
    );
}
