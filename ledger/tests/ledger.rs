//! The ledger on disk: proofs against the naive RFC 6962 model, deduplication, positions,
//! back-links, locking, key rotation, and every tamper class detected at its exact index.

use idledger_ledger::store::{self, *};
use idledger_ledger::{
    FailureClass, FsckOptions, HeadKind, Item, Ledger, LedgerError, Outcome, Position,
    ReadOnlyLedger, Submission, Trust, fsck,
};
use idledger_proto::entry::{Body, Origin};
use idledger_proto::hash::{Hash, leaf_hash};
use idledger_proto::merkle::reference::{naive_consistency, naive_path, naive_root};
use idledger_proto::merkle::{verify_consistency, verify_inclusion};
use idledger_proto::note::{NoteSigner, VerifierKey, sign_note};
use idledger_proto::proof::verify_entry_proof;
use idledger_proto::rejection::RejectReason;
use idledger_proto::{Checkpoint, Seq, TreeSize, decode_event};
use std::path::{Path, PathBuf};

fn event(id: &str, subject: &str, grant: Option<&str>, reason: &str) -> Item {
    let (t, extra) = match grant {
        Some(g) => (
            "access.requested",
            format!(r#","grant_id":"{g}","resource":"db:{g}""#),
        ),
        None => ("identity.updated", String::new()),
    };
    let json = format!(
        r#"{{"id":"{id}","source":"test","type":"{t}","time":"2026-01-01T00:00:00Z","actor":{{"id":"{subject}","kind":"human"}},"subject":{{"id":"{subject}","kind":"human"}},"reason":"{reason}"{extra}}}"#
    );
    Item::Event(decode_event(json.as_bytes()).unwrap_or_else(|r| panic!("{json}: {}", r.reason)))
}

fn local(item: Item, line: u64) -> Submission {
    Submission {
        origin: Origin::Local {
            label: "test".into(),
            line,
        },
        item,
    }
}

fn sub(item: Item, offset: i64) -> Submission {
    Submission {
        origin: Origin::Kafka(idledger_proto::KafkaOrigin::new(
            "t",
            0,
            offset,
            Some(1),
            None,
        )),
        item,
    }
}

/// A ledger with `n` entries after genesis: events about a few subjects and grants, and
/// rejections, in batches of varying size. Returns the positions stored.
fn fill(ledger: &mut Ledger, n: usize) {
    let mut offset = ledger
        .positions()
        .expect("positions")
        .first()
        .map_or(0, |p| p.next_offset);
    let mut remaining = n;
    let mut batch_size = 1;
    while remaining > 0 {
        let size = batch_size.min(remaining);
        let mut batch = Vec::new();
        for _ in 0..size {
            let k = offset as usize;
            let item = if k % 7 == 3 {
                Item::Rejected(decode_event(b"not json").expect_err("rejected"))
            } else {
                let grant = format!("g{}", k % 5);
                event(
                    &format!("e{k}"),
                    &format!("user{}", k % 3),
                    k.is_multiple_of(2).then_some(grant.as_str()),
                    "because",
                )
            };
            batch.push(sub(item, offset));
            offset += 1;
        }
        ledger
            .append(
                batch,
                &[Position {
                    topic: "t".into(),
                    partition: 0,
                    next_offset: offset,
                }],
            )
            .expect("append");
        remaining -= size;
        batch_size = batch_size % 37 + 5;
    }
}

/// A test ledger in `dir` keeps its signing keys beside it, never inside it.
fn keys_for(dir: &Path) -> std::path::PathBuf {
    dir.with_extension("keys")
}

/// Trusting the keys held beside the ledger (its operator's view).
fn own_keys(dir: &Path) -> Trust {
    let ro = ReadOnlyLedger::open(dir).expect("open read-only");
    let keys = idledger_ledger::KeyDir::for_data(&keys_for(dir), dir)
        .expect("key dir")
        .held_keys(ro.reader().origin())
        .expect("held keys");
    Trust {
        keys,
        checkpoint_note: None,
    }
}

fn leaf_hashes(dir: &Path) -> Vec<Hash> {
    let ro = ReadOnlyLedger::open(dir).expect("open read-only");
    let r = ro.reader();
    let size = r.size().expect("size").0;
    (0..size)
        .map(|i| leaf_hash(&r.entry_bytes(Seq(i)).expect("entry")))
        .collect()
}

/// Verifies with one thread in whole chunks and with several threads in chunks small enough to
/// cross many boundaries: the findings must not depend on how the work was split. Without a
/// `trust`, the keys held beside the ledger are trusted.
fn check(dir: &Path, trust: Option<Trust>) -> idledger_ledger::FsckReport {
    let trust = trust.unwrap_or_else(|| own_keys(dir));
    let ro = ReadOnlyLedger::open(dir).expect("open read-only");
    let run = |threads, chunk_entries| {
        fsck(
            &ro.reader(),
            &FsckOptions {
                threads,
                chunk_entries,
                ..FsckOptions::new(trust.clone())
            },
        )
        .expect("fsck runs")
    };
    let reference = run(1, 4096);
    for (threads, chunk) in [(2, 7), (3, 64)] {
        let other = run(threads, chunk);
        let key = |r: &idledger_ledger::FsckReport| {
            (
                r.findings.clone(),
                r.counts.clone(),
                r.entries_checked,
                r.checkpoints_checked,
                r.bytes_hashed,
            )
        };
        assert_eq!(
            key(&other),
            key(&reference),
            "{threads} threads, chunks of {chunk}"
        );
    }
    reference
}

#[test]
fn stored_tree_matches_reference_and_proofs_verify() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    fill(&mut ledger, 600);
    let keys = ledger.verifier_keys();
    drop(ledger);
    // Reopening reproduces the frontier, and appending continues the same tree.
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("reopen");
    fill(&mut ledger, 100);
    let size = ledger.size();
    let root = ledger.root();
    drop(ledger);
    let leaves = leaf_hashes(&dir);
    assert_eq!(leaves.len() as u64, size.0);
    assert_eq!(root, naive_root(&leaves));

    let ro = ReadOnlyLedger::open(&dir).expect("open");
    let r = ro.reader();
    let mut sizes = Vec::new();
    for n in 1..=size.0 {
        if let Some(note) = r.checkpoint_at(TreeSize(n)).expect("read") {
            let (cp, _) = Checkpoint::parse(
                &idledger_proto::note::verify_note(&note, &keys)
                    .expect("signed")
                    .text,
            )
            .expect("checkpoint");
            assert_eq!(
                cp.root,
                naive_root(&leaves[..n as usize]),
                "checkpoint root at {n}"
            );
            assert_eq!(
                r.root_at(TreeSize(n)).expect("root"),
                cp.root,
                "stored root at {n}"
            );
            sizes.push(n);
        }
    }
    assert!(sizes.len() > 20, "a checkpoint per batch");
    for &n in sizes.iter().step_by(3) {
        for m in (0..n).step_by(17) {
            let path = r.inclusion_proof(Seq(m), TreeSize(n)).expect("proof");
            assert_eq!(path, naive_path(m as usize, &leaves[..n as usize]));
            verify_inclusion(
                &leaves[m as usize],
                Seq(m),
                TreeSize(n),
                &path,
                &naive_root(&leaves[..n as usize]),
            )
            .expect("verifies");
        }
        for &from in sizes.iter().filter(|&&f| f <= n).step_by(5) {
            let proof = r
                .consistency_proof(TreeSize(from), TreeSize(n))
                .expect("proof");
            assert_eq!(
                proof,
                naive_consistency(from as usize, &leaves[..n as usize])
            );
            verify_consistency(
                TreeSize(from),
                TreeSize(n),
                &naive_root(&leaves[..from as usize]),
                &naive_root(&leaves[..n as usize]),
                &proof,
            )
            .expect("consistent");
        }
    }
    // A tlog-proof verifies offline, and any change to it fails.
    let text = r.tlog_proof(Seq(123)).expect("tlog proof").to_text();
    let v = verify_entry_proof(&text, Some("test.example/log"), &keys).expect("verifies");
    assert_eq!(v.entry.seq, 123);
    let bytes = text.as_bytes();
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.to_vec();
        b[i] ^= 0x04;
        if let Ok(t) = std::str::from_utf8(&b) {
            assert!(
                verify_entry_proof(t, Some("test.example/log"), &keys).is_err(),
                "flip at byte {i} accepted"
            );
        }
    }
    assert!(check(&dir, None).ok());
}

#[test]
fn duplicates_are_skipped_and_conflicts_quarantined_across_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let r = ledger
        .append(
            vec![
                local(event("a", "u", None, "x"), 0),
                local(event("a", "u", None, "x"), 1),
                local(event("a", "u", None, "changed"), 2),
            ],
            &[],
        )
        .expect("append");
    assert_eq!(
        r.outcomes,
        vec![
            Outcome::Appended(Seq(1)),
            Outcome::Duplicate(Seq(1)),
            Outcome::Quarantined(Seq(2))
        ]
    );
    drop(ledger);
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("reopen");
    let r = ledger
        .append(
            vec![
                local(event("a", "u", None, "x"), 3),
                local(event("a", "u", None, "other"), 4),
            ],
            &[],
        )
        .expect("append");
    assert_eq!(
        r.outcomes,
        vec![Outcome::Duplicate(Seq(1)), Outcome::Quarantined(Seq(3))]
    );
    assert_eq!(ledger.duplicates_total(), 2);
    let entry = ledger.reader().entry(Seq(3)).expect("entry");
    let Body::Quarantined(rej) = entry.body else {
        panic!("not quarantined")
    };
    assert_eq!(
        rej.reason,
        RejectReason::ConflictingDuplicate { first_index: 1 }
    );
    drop(ledger);
    let report = check(&dir, None);
    assert!(report.ok(), "{:?}", report.findings);
}

#[test]
fn positions_are_atomic_and_never_move_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let p = |o| {
        [Position {
            topic: "t".into(),
            partition: 2,
            next_offset: o,
        }]
    };
    ledger
        .append(vec![sub(event("a", "u", None, "x"), 0)], &p(10))
        .expect("append");
    let err = ledger
        .append(vec![sub(event("b", "u", None, "x"), 1)], &p(9))
        .expect_err("regression");
    assert!(
        matches!(
            err,
            LedgerError::PositionRegression {
                stored: 10,
                requested: 9,
                ..
            }
        ),
        "{err}"
    );
    // The refused batch left nothing behind.
    assert_eq!(ledger.size(), TreeSize(2));
    assert_eq!(ledger.positions().expect("positions"), p(10).to_vec());
}

/// A record of offsets gone from the broker: refused when its range is empty; otherwise
/// verified like a message at its last offset (the stored position must be past it) and
/// reported as a hole in the input, not a failure.
#[test]
fn unavailable_offsets_are_recorded_covered_by_positions_and_reported() {
    let gap = |first, end| Submission {
        origin: Origin::Ledger,
        item: Item::System(idledger_proto::SystemRecord::OffsetsUnavailable {
            topic: "t".into(),
            partition: 0,
            first,
            end,
        }),
    };
    let position = |o| {
        [Position {
            topic: "t".into(),
            partition: 0,
            next_offset: o,
        }]
    };
    // (stored position after the record, findings of fsck)
    let cases: [(i64, &[FailureClass]); 2] = [(40, &[]), (30, &[FailureClass::IndexMismatch])];
    for (stored, findings) in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("l");
        let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
        ledger
            .append(vec![sub(event("a", "u", None, "x"), 9)], &position(10))
            .expect("append");
        for (first, end) in [(20, 20), (21, 20)] {
            let err = ledger
                .append(vec![gap(first, end)], &position(40))
                .expect_err("an empty range is refused");
            assert!(matches!(err, LedgerError::Inconsistent(_)), "{err}");
        }
        ledger
            .append(vec![gap(10, 40)], &position(stored))
            .expect("append the record");
        drop(ledger);
        let report = check(&dir, None);
        let classes: Vec<FailureClass> = report.findings.iter().map(|f| f.class).collect();
        assert_eq!(classes, findings, "position {stored}");
        assert_eq!(
            report.unavailable_offsets,
            vec![idledger_ledger::UnavailableOffsets {
                index: 2,
                topic: "t".into(),
                partition: 0,
                first: 10,
                end: 40,
            }]
        );
        assert_eq!(report.unavailable_offsets_total, 30);
    }
}

/// A writer that kept secret material (ingest before it decoded JSON escapes, or any writer
/// that skips validation) produces a ledger whose hashes and signatures all hold: verification
/// still reports each such entry, at its index, and nothing else.
#[test]
fn stored_secret_material_is_reported_at_its_index() {
    use idledger_proto::event::AttrValue;
    use idledger_proto::rejection::{KeptPayload, Rejection};
    let rejected = |payload: KeptPayload| {
        Item::Rejected(Rejection {
            reason: RejectReason::UnknownField {
                field: "password".into(),
            },
            payload,
        })
    };
    let kept_event = |attribute: &str, reason: &str| {
        let Item::Event(v) = event("k", "u", None, "fine") else {
            unreachable!("event() makes events")
        };
        let mut e = v.to_event();
        e.reason = Some(reason.into());
        e.attributes = vec![(attribute.into(), AttrValue::Text("x".into()))];
        KeptPayload::Event(Box::new(e))
    };
    let pem = "-----BEGIN EC PRIVATE KEY-----";
    // An event from Kafka whose message key is kept as given: `new` redacts a secret-bearing
    // key, so the secret one stands for a writer that skipped that.
    let keyed = |offset: i64, key: &[u8]| {
        let mut origin = idledger_proto::KafkaOrigin::new("t", 0, offset, None, Some(key));
        if let idledger_proto::MessageKey::Redacted { .. } = origin.key {
            origin.key = idledger_proto::MessageKey::Kept(key.to_vec());
        }
        Submission {
            origin: Origin::Kafka(origin),
            item: event(&format!("key-{offset}"), "u", None, "fine"),
        }
    };
    let redacted_key = Submission {
        origin: Origin::Kafka(idledger_proto::KafkaOrigin::new(
            "t",
            0,
            4,
            None,
            Some(br#"{"password":"hunter2"}"#),
        )),
        item: event("key-4", "u", None, "fine"),
    };
    // (what is appended, whether verification reports it)
    let cases: Vec<(Item, bool)> = vec![
        (event("a", "u", None, "fine"), false),
        (
            rejected(KeptPayload::raw(br#"{"pass\u0077ord":"hunter2"}"#)),
            true,
        ),
        (
            rejected(KeptPayload::raw(
                format!(r#"{{"note":"{pem}"}}"#).as_bytes(),
            )),
            true,
        ),
        (
            rejected(KeptPayload::raw(
                br#"{"id":"x","reason":"-----BEGIN \u0050RIVATE KEY-----"}"#,
            )),
            true,
        ),
        (
            rejected(KeptPayload::raw(
                br#"{"id":"x","reason":"a password was reset"}"#,
            )),
            false,
        ),
        (
            rejected(KeptPayload::redacted(br#"{"password":"hunter2"}"#)),
            false,
        ),
        (rejected(kept_event("client_secret", "fine")), true),
        (rejected(kept_event("team", pem)), true),
        (
            rejected(kept_event("team", "-----BEGIN PGP PRIVATE KEY BLOCK-----")),
            true,
        ),
        (rejected(kept_event("team", "fine")), false),
    ];
    let mut cases: Vec<(Submission, bool)> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (item, reported))| (local(item, i as u64), reported))
        .collect();
    cases.extend([
        (keyed(1, br#"{"password":"hunter2"}"#), true),
        (keyed(2, pem.as_bytes()), true),
        (keyed(3, b"svc-billing"), false),
        (redacted_key, false),
    ]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let mut expected = Vec::new();
    for (i, (submission, reported)) in cases.into_iter().enumerate() {
        let position: Vec<Position> = match &submission.origin {
            Origin::Kafka(k) => vec![Position {
                topic: k.topic.clone(),
                partition: k.partition,
                next_offset: k.offset + 1,
            }],
            _ => Vec::new(),
        };
        ledger.append(vec![submission], &position).expect("append");
        if reported {
            expected.push((FailureClass::SecretMaterial, i as u64 + 1));
        }
    }
    drop(ledger);
    let report = check(&dir, None);
    let found: Vec<(FailureClass, u64)> =
        report.findings.iter().map(|f| (f.class, f.index)).collect();
    assert_eq!(found, expected);
}

#[test]
fn back_links_chain_each_subject_and_grant() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    fill(&mut ledger, 90);
    let r = ledger.reader();
    for (kind, id) in [(HeadKind::Subject, "user1"), (HeadKind::Grant, "g2")] {
        let mut seen = Vec::new();
        let mut next = r.head(kind, id).expect("head").map(|s| s.0);
        while let Some(i) = next {
            seen.push(i);
            let Body::Event(e) = r.entry(Seq(i)).expect("entry").body else {
                panic!("not an event")
            };
            next = if kind == HeadKind::Subject {
                e.links.prev_subject
            } else {
                e.links.prev_grant
            };
        }
        seen.reverse();
        let all: Vec<u64> = (0..ledger.size().0)
            .filter(|i| {
                r.entry(Seq(*i))
                    .expect("entry")
                    .event()
                    .is_some_and(|e| match kind {
                        HeadKind::Subject => e.subject.id == id,
                        _ => e.grant_id.as_deref() == Some(id),
                    })
            })
            .collect();
        assert_eq!(seen, all, "{kind:?} {id}");
    }
}

#[test]
fn a_second_writer_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let _first = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let err = Ledger::open(&dir, &keys_for(&dir)).expect_err("locked");
    assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("in use by another process"));
}

#[test]
fn key_files_are_private_pkcs8_that_openssl_reads() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let path = ledger.key_dir().key_path(&ledger.verifier_keys()[0]);
    let mode = std::fs::metadata(&path)
        .expect("key file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read_to_string(&path).expect("read");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    match std::process::Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(&path)
        .args(["-pubout", "-outform", "DER"])
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "openssl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The DER SubjectPublicKeyInfo of an Ed25519 key ends with the 32-byte key.
            assert_eq!(
                &out.stdout[out.stdout.len() - 32..],
                ledger.verifier_keys()[0].key().as_bytes()
            );
        }
        Err(e) => panic!("openssl is needed for this test (the README setup installs it): {e}"),
    }
}

/// The data directory alone can be handed to anyone: no key is in it, a key directory inside it
/// is refused, and a key file or key directory others could read or write is refused.
#[test]
fn keys_live_outside_the_data_directory_and_only_their_owner_reads_them() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let key = ledger.key_dir().key_path(&ledger.verifier_keys()[0]);
    assert!(key.starts_with(keys_for(&dir)), "{}", key.display());
    drop(ledger);
    let pem_files_in_data = walk(&dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(11).any(|w| w == b"PRIVATE KEY")))
        .collect::<Vec<_>>();
    assert!(pem_files_in_data.is_empty(), "{pem_files_in_data:?}");

    for inside in [
        dir.clone(),
        dir.join("keys"),
        dir.join("db").join("..").join("k"),
    ] {
        let err = Ledger::open(&dir, &inside).expect_err("a key directory inside the data");
        assert!(
            err.to_string().contains("inside the data directory"),
            "{err}"
        );
    }
    let other = tmp.path().join("m");
    let err = Ledger::init(&other, &other.join("keys"), "test.example/log").expect_err("inside");
    assert!(
        err.to_string().contains("inside the data directory"),
        "{err}"
    );
    assert!(
        !other.join("db").exists(),
        "nothing is created when the key directory is refused"
    );

    for (what, path, mode, message) in [
        (
            "key file readable by others",
            key.clone(),
            0o644,
            "chmod 600",
        ),
        (
            "key file writable by the group",
            key.clone(),
            0o620,
            "chmod 600",
        ),
        (
            "key directory writable by others",
            keys_for(&dir),
            0o777,
            "chmod 700",
        ),
    ] {
        let before = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let err = Ledger::open(&dir, &keys_for(&dir)).expect_err(what);
        assert!(err.to_string().contains(message), "{what}: {err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(before)).expect("chmod");
    }
    Ledger::open(&dir, &keys_for(&dir)).expect("opens once the modes are right again");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn key_rotation_follows_the_chain_of_custody() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    let old = ledger.verifier_keys()[0].clone();
    fill(&mut ledger, 20);
    let new = ledger.add_key().expect("add key");
    fill(&mut ledger, 20);
    let both = idledger_proto::note::parse_note(ledger.checkpoint()).expect("note");
    assert_eq!(
        both.signatures.len(),
        2,
        "overlap checkpoints carry both signatures"
    );
    ledger.retire_key(&old).expect("retire");
    fill(&mut ledger, 20);
    let after = idledger_proto::note::parse_note(ledger.checkpoint()).expect("note");
    assert_eq!(after.signatures.len(), 1);
    assert_eq!(after.signatures[0].key_id, new.id());
    drop(ledger);
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("reopen with the new key");
    fill(&mut ledger, 5);
    drop(ledger);
    for trusted in [&old, &new] {
        let report = check(
            &dir,
            Some(Trust {
                keys: vec![trusted.clone()],
                checkpoint_note: None,
            }),
        );
        assert!(report.ok(), "trusting {trusted}: {:?}", report.findings);
        assert_eq!(report.final_keys, vec![new.to_string()]);
    }
    let stranger = NoteSigner::new(
        "test.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    )
    .expect("key");
    let report = check(
        &dir,
        Some(Trust {
            keys: vec![stranger.verifier().clone()],
            checkpoint_note: None,
        }),
    );
    assert_eq!(
        report.first().map(|f| f.class),
        Some(FailureClass::UnknownKey)
    );
}

fn get(db: &rocksdb::DB, n: &str, k: &[u8]) -> Vec<u8> {
    db.get_cf(cf(db, n), k).expect("get").expect("present")
}

/// Edits the closed ledger's RocksDB directly.
fn tamper(dir: &Path, f: impl FnOnce(&rocksdb::DB)) {
    let db = store::open_primary(&dir.join("db")).expect("open raw");
    f(&db);
    db.flush_cf(db.cf_handle(CF_ENTRIES).expect("cf"))
        .expect("flush");
}

fn cf<'a>(db: &'a rocksdb::DB, name: &str) -> &'a rocksdb::ColumnFamily {
    db.cf_handle(name).expect("column family")
}

/// A closed 300-event ledger that verifies, to copy and tamper with.
struct TamperBase {
    tmp: tempfile::TempDir,
    base: PathBuf,
    keys: Vec<VerifierKey>,
    trusted_note: String,
    size: u64,
    /// The entry the `user1` subject head points at.
    user1_head: u64,
}

impl TamperBase {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().join("base");
        let mut ledger = Ledger::init(&base, &keys_for(&base), "test.example/log").expect("init");
        fill(&mut ledger, 300);
        let keys = ledger.verifier_keys();
        let trusted_note = ledger.checkpoint().to_owned();
        let size = ledger.size().0;
        drop(ledger);
        assert!(
            check(
                &base,
                Some(Trust {
                    keys: vec![keys[0].clone()],
                    checkpoint_note: Some(trusted_note.clone())
                })
            )
            .ok()
        );
        let user1_head = {
            let db = store::open_primary(&base.join("db")).expect("open raw");
            let v = get(&db, CF_HEADS, &head_key(HeadKind::Subject, "user1"));
            u64::from_be_bytes(v.try_into().expect("8 bytes"))
        };
        TamperBase {
            tmp,
            base,
            keys,
            trusted_note,
            size,
            user1_head,
        }
    }

    /// A copy of the ledger and its key directory under `name`.
    fn copy(&self, name: &str) -> PathBuf {
        let to = self.tmp.path().join(name);
        for (from, into) in [
            (self.base.clone(), to.clone()),
            (keys_for(&self.base), keys_for(&to)),
        ] {
            let status = std::process::Command::new("cp")
                .arg("-a")
                .arg(&from)
                .arg(&into)
                .status()
                .expect("cp");
            assert!(status.success());
        }
        to
    }
}

type Tamper = Box<dyn Fn(&rocksdb::DB)>;
/// A tamper case: its name, the edit, and the class and index of the first finding.
type TamperCase = (&'static str, Tamper, FailureClass, u64);

/// Edits of entries and of the checkpoint at the log's size.
fn entry_and_checkpoint_tampers(size: u64) -> Vec<TamperCase> {
    let forged = NoteSigner::new(
        "test.example/log",
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
    )
    .expect("key");
    vec![
        (
            "flip a byte in entry 50",
            Box::new(move |db| {
                let mut v = get(db, CF_ENTRIES, &seq_key(50));
                let at = v.len() - 3;
                v[at] ^= 0x20;
                db.put_cf(cf(db, CF_ENTRIES), seq_key(50), v).expect("put");
            }),
            FailureClass::ModifiedEntry,
            50,
        ),
        (
            "delete entry 77",
            Box::new(|db| {
                db.delete_cf(cf(db, CF_ENTRIES), seq_key(77))
                    .expect("delete")
            }),
            FailureClass::MissingEntry,
            77,
        ),
        (
            "insert an entry past the end",
            Box::new(move |db| {
                let v = get(db, CF_ENTRIES, &seq_key(size - 1));
                db.put_cf(cf(db, CF_ENTRIES), seq_key(size), v)
                    .expect("put");
            }),
            FailureClass::InsertedEntry,
            size,
        ),
        (
            "swap entries 120 and 121",
            Box::new(|db| {
                let (a, b) = (
                    get(db, CF_ENTRIES, &seq_key(120)),
                    get(db, CF_ENTRIES, &seq_key(121)),
                );
                db.put_cf(cf(db, CF_ENTRIES), seq_key(120), b).expect("put");
                db.put_cf(cf(db, CF_ENTRIES), seq_key(121), a).expect("put");
            }),
            FailureClass::ReorderedEntries,
            120,
        ),
        (
            "corrupt a checkpoint signature",
            Box::new(move |db| {
                let v = String::from_utf8(get(db, CF_CHECKPOINTS, &seq_key(size))).expect("utf8");
                let (text, sig) = v.rsplit_once(' ').expect("signature");
                let mut sig = sig.to_owned().into_bytes();
                sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
                db.put_cf(
                    cf(db, CF_CHECKPOINTS),
                    seq_key(size),
                    format!("{text} {}", String::from_utf8(sig).expect("ascii")),
                )
                .expect("put");
            }),
            FailureClass::ForgedSignature,
            size,
        ),
        (
            "strip a checkpoint's signatures",
            Box::new(move |db| {
                let v = String::from_utf8(get(db, CF_CHECKPOINTS, &seq_key(size))).expect("utf8");
                let text = v.split("\n\n").next().expect("text").to_owned() + "\n";
                db.put_cf(cf(db, CF_CHECKPOINTS), seq_key(size), text)
                    .expect("put");
            }),
            FailureClass::MissingSignature,
            size,
        ),
        (
            "re-sign a checkpoint with an unknown key",
            Box::new(move |db| {
                let v = String::from_utf8(get(db, CF_CHECKPOINTS, &seq_key(size))).expect("utf8");
                let text = v.split("\n\n").next().expect("text").to_owned() + "\n";
                db.put_cf(
                    cf(db, CF_CHECKPOINTS),
                    seq_key(size),
                    sign_note(&text, &[&forged]).expect("sign"),
                )
                .expect("put");
            }),
            FailureClass::UnknownKey,
            size,
        ),
    ]
}

/// Edits of what is derived from the entries: head, deduplication and resource indexes, tiles.
fn index_and_tile_tampers(size: u64, user1_head: u64) -> Vec<TamperCase> {
    vec![
        (
            "point a head index elsewhere",
            Box::new(|db| {
                db.put_cf(
                    cf(db, CF_HEADS),
                    head_key(HeadKind::Subject, "user1"),
                    5u64.to_be_bytes(),
                )
                .expect("put");
            }),
            FailureClass::IndexMismatch,
            5,
        ),
        (
            "delete a head index record",
            Box::new(|db| {
                db.delete_cf(cf(db, CF_HEADS), head_key(HeadKind::Grant, "g2"))
                    .expect("delete");
            }),
            FailureClass::IndexMismatch,
            size,
        ),
        (
            "add a head for an id the log never names",
            Box::new(|db| {
                db.put_cf(
                    cf(db, CF_HEADS),
                    head_key(HeadKind::Subject, "nobody"),
                    3u64.to_be_bytes(),
                )
                .expect("put");
            }),
            FailureClass::IndexMismatch,
            3,
        ),
        (
            "lengthen a head index value",
            Box::new(move |db| {
                let mut v = get(db, CF_HEADS, &head_key(HeadKind::Subject, "user1"));
                v.push(0);
                db.put_cf(cf(db, CF_HEADS), head_key(HeadKind::Subject, "user1"), v)
                    .expect("put");
            }),
            FailureClass::IndexMismatch,
            user1_head,
        ),
        (
            "point a deduplication key at another event",
            Box::new(|db| {
                let mut it = db.raw_iterator_cf(cf(db, CF_DEDUPE));
                it.seek_to_first();
                let key = it.key().expect("a dedupe key").to_vec();
                drop(it);
                db.put_cf(cf(db, CF_DEDUPE), key, 2u64.to_be_bytes())
                    .expect("put");
            }),
            FailureClass::IndexMismatch,
            1,
        ),
        (
            "drop a resource index record",
            Box::new(move |db| {
                let mut it = db.raw_iterator_cf(cf(db, CF_RESOURCES));
                it.seek_to_first();
                let key = it.key().expect("a resource key").to_vec();
                drop(it);
                db.delete_cf(cf(db, CF_RESOURCES), key).expect("delete");
            }),
            FailureClass::IndexMismatch,
            size,
        ),
        (
            "change a hash in an upper tile",
            Box::new(|db| {
                let mut v = get(db, CF_TILES, &tile_key(1, 0));
                v[0] ^= 1;
                db.put_cf(cf(db, CF_TILES), tile_key(1, 0), v).expect("put");
            }),
            FailureClass::IndexMismatch,
            255,
        ),
        (
            "change an interior hash of a full tile",
            Box::new(|db| {
                let mut v = get(db, CF_SUBTREES, &tile_key(0, 0));
                v[0] ^= 1;
                db.put_cf(cf(db, CF_SUBTREES), tile_key(0, 0), v)
                    .expect("put");
            }),
            FailureClass::IndexMismatch,
            1,
        ),
        (
            "store interior hashes for a tile that is not full",
            Box::new(|db| {
                let v = get(db, CF_SUBTREES, &tile_key(0, 0));
                db.put_cf(cf(db, CF_SUBTREES), tile_key(0, 1), v)
                    .expect("put");
            }),
            FailureClass::IndexMismatch,
            256,
        ),
        (
            "store a tile beyond the tree",
            Box::new(move |db| {
                db.put_cf(cf(db, CF_TILES), tile_key(0, 9), [7u8; 64])
                    .expect("put");
            }),
            FailureClass::IndexMismatch,
            9 * 256,
        ),
    ]
}

#[test]
fn every_tamper_class_is_detected_at_its_index() {
    let base = TamperBase::new();
    let cases = entry_and_checkpoint_tampers(base.size)
        .into_iter()
        .chain(index_and_tile_tampers(base.size, base.user1_head));
    for (name, edit, class, index) in cases {
        let dir = base.copy(&name.replace(' ', "_"));
        tamper(&dir, edit);
        let report = check(&dir, None);
        let first = report
            .first()
            .unwrap_or_else(|| panic!("{name}: not detected"));
        assert_eq!(
            (first.class, first.index),
            (class, index),
            "{name}: {:?}",
            report.findings
        );
    }
}

#[test]
fn truncation_is_found_against_the_auditors_checkpoint() {
    let base = TamperBase::new();
    let dir = base.copy("truncate");
    tamper(&dir, |db| {
        let keep = 200u64;
        for i in keep..base.size {
            db.delete_cf(cf(db, CF_ENTRIES), seq_key(i))
                .expect("delete");
        }
        let mut it = db.raw_iterator_cf(cf(db, CF_CHECKPOINTS));
        it.seek(seq_key(keep + 1));
        let mut stale = Vec::new();
        while let Some(k) = it.key() {
            stale.push(k.to_vec());
            it.next();
        }
        for k in stale {
            db.delete_cf(cf(db, CF_CHECKPOINTS), k).expect("delete");
        }
        db.put_cf(cf(db, CF_META), META_TREE_SIZE, keep.to_be_bytes())
            .expect("put");
    });
    let report = check(
        &dir,
        Some(Trust {
            keys: vec![base.keys[0].clone()],
            checkpoint_note: Some(base.trusted_note.clone()),
        }),
    );
    assert!(
        report
            .counts
            .contains_key(&FailureClass::TruncatedOrRolledBack),
        "{:?}",
        report.findings
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.class == FailureClass::TruncatedOrRolledBack && f.index == 200),
        "{:?}",
        report.findings
    );
}

#[test]
fn an_untouched_copy_passes_and_extends_the_trusted_checkpoint() {
    let base = TamperBase::new();
    let dir = base.copy("untouched");
    let report = check(
        &dir,
        Some(Trust {
            keys: vec![base.keys[0].clone()],
            checkpoint_note: Some(base.trusted_note.clone()),
        }),
    );
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(report.extends_trusted, Some(base.size));
    let vk: VerifierKey = base.keys[0].clone();
    assert_eq!(report.final_keys, vec![vk.to_string()]);
}

/// Pipelined appends (`submit`, the write of one batch overlapping the preparation of the
/// next) decide exactly as sequential `append`s: duplicates and conflicts of events still being
/// written, back-links into them, positions, and a ledger that verifies.
#[test]
fn pipelined_submissions_decide_as_sequential_appends() {
    let batches = || -> Vec<Vec<(Item, i64)>> {
        vec![
            vec![
                (event("a", "alice", Some("g1"), "why"), 0),
                (event("b", "bob", None, "why"), 1),
                (event("c", "alice", Some("g2"), "why"), 2),
            ],
            // Everything here refers to the batch before, which may still be in flight.
            vec![
                (event("a", "alice", Some("g1"), "why"), 3), // identical re-send
                (event("b", "bob", None, "changed"), 4),     // conflicting re-send
                (event("d", "alice", Some("g1"), "why"), 5), // links to `a` and `c`
                (event("e", "bob", Some("g2"), "why"), 6),
            ],
            vec![(event("f", "alice", Some("g2"), "why"), 7)],
            vec![(event("d", "alice", Some("g1"), "why"), 8)],
        ]
    };
    let run = |pipelined: bool| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("l");
        let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
        let mut outcomes = Vec::new();
        for batch in batches() {
            let next = batch.last().map(|(_, o)| o + 1).expect("non-empty");
            let subs: Vec<Submission> = batch.into_iter().map(|(i, o)| sub(i, o)).collect();
            let pos = [Position {
                topic: "t".into(),
                partition: 0,
                next_offset: next,
            }];
            if pipelined {
                if let Some(r) = ledger.submit(subs, &pos).expect("submit") {
                    outcomes.extend(r.outcomes);
                }
            } else {
                outcomes.extend(ledger.append(subs, &pos).expect("append").outcomes);
            }
        }
        if let Some(r) = ledger.finish().expect("finish") {
            outcomes.extend(r.outcomes);
        }
        // A position behind one already submitted is refused, in flight or not.
        let stale = [Position {
            topic: "t".into(),
            partition: 0,
            next_offset: 2,
        }];
        let refused = if pipelined {
            ledger.submit(Vec::new(), &stale).map(|_| ())
        } else {
            ledger.append(Vec::new(), &stale).map(|_| ())
        };
        assert!(
            matches!(refused, Err(LedgerError::PositionRegression { .. })),
            "{refused:?}"
        );
        let entries: Vec<(Body, Origin)> = (1..ledger.size().0)
            .map(|i| {
                let e = ledger.reader().entry(Seq(i)).expect("entry");
                (e.body, e.origin)
            })
            .collect();
        drop(ledger);
        let report = check(&dir, None);
        assert!(report.ok(), "pipelined={pipelined}: {:?}", report.findings);
        (outcomes, entries)
    };
    let sequential = run(false);
    let pipelined = run(true);
    assert_eq!(pipelined, sequential);
    // And the decisions are the ones expected.
    use Outcome::*;
    assert_eq!(
        sequential.0,
        vec![
            Appended(Seq(1)),
            Appended(Seq(2)),
            Appended(Seq(3)),
            Duplicate(Seq(1)),
            Quarantined(Seq(4)),
            Appended(Seq(5)),
            Appended(Seq(6)),
            Appended(Seq(7)),
            Duplicate(Seq(5)),
        ]
    );
}

/// A ledger as versions before linked checkpoints wrote it: checkpoints without extension lines
/// (signed by its key), layout 2, no key record index.
fn make_legacy(dir: &Path) {
    let db = store::open_primary(&dir.join("db")).expect("open raw");
    let keys = idledger_ledger::KeyDir::for_data(&keys_for(dir), dir).expect("key dir");
    let origin = String::from_utf8(get(&db, CF_META, META_ORIGIN)).expect("utf8");
    let held = keys.held_keys(&origin).expect("held");
    let signers: Vec<NoteSigner> = held
        .iter()
        .map(|k| keys.load_signer(k, &dir.join("keys")).expect("signer"))
        .collect();
    let mut it = db.raw_iterator_cf(cf(&db, CF_CHECKPOINTS));
    it.seek_to_first();
    let mut notes = Vec::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        notes.push((k.to_vec(), String::from_utf8(v.to_vec()).expect("utf8")));
        it.next();
    }
    drop(it);
    for (k, note) in notes {
        let parsed = idledger_proto::note::parse_note(&note).expect("note");
        let (cp, _) = Checkpoint::parse(&parsed.text).expect("checkpoint");
        let by: Vec<&NoteSigner> = signers
            .iter()
            .filter(|s| {
                parsed
                    .signatures
                    .iter()
                    .any(|sig| s.verifier().is_claimed_by(sig))
            })
            .collect();
        let legacy = sign_note(&cp.to_text(), &by).expect("signs");
        db.put_cf(cf(&db, CF_CHECKPOINTS), k, legacy).expect("put");
    }
    db.put_cf(cf(&db, CF_META), META_LAYOUT, b"2").expect("put");
    db.delete_cf(cf(&db, CF_META), META_KEY_RECORDS)
        .expect("delete");
    for name in ALL_CFS {
        db.flush_cf(cf(&db, name)).expect("flush");
    }
}

/// A ledger written before checkpoints were linked verifies, with notes naming what cannot be
/// proven about it; its first writer of this version upgrades it, links the checkpoints it
/// signs from then on, and covers the positions; older layouts' writers are then refused.
#[test]
fn a_ledger_from_before_linked_checkpoints_verifies_with_notes_and_is_upgraded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), "test.example/log").expect("init");
    fill(&mut ledger, 40);
    ledger
        .add_key()
        .expect("rotation started before the upgrade");
    fill(&mut ledger, 10);
    let legacy_size = ledger.size().0;
    drop(ledger);
    make_legacy(&dir);
    let report = check(&dir, None);
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(
        report.unproven.len(),
        2,
        "positions and unlinked checkpoints: {:?}",
        report.unproven
    );
    // A deleted legacy checkpoint cannot be noticed: that is what the note says.
    {
        let db = store::open_primary(&dir.join("db")).expect("open raw");
        let meta = get(&db, CF_META, META_LAYOUT);
        assert_eq!(meta, b"2");
    }
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("upgrades");
    fill(&mut ledger, 10);
    drop(ledger);
    {
        let db = store::open_primary(&dir.join("db")).expect("open raw");
        assert_eq!(get(&db, CF_META, META_LAYOUT), LAYOUT_VERSION);
    }
    let report = check(&dir, None);
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(report.unproven.len(), 1, "{:?}", report.unproven);
    assert!(
        report.unproven[0].contains(&format!("below {}", legacy_size + 1))
            || report.unproven[0].contains("before each checkpoint named"),
        "{:?}",
        report.unproven
    );
}
