//! The verifier against an attacker who can write the ledger's files but does not hold its key
//! (`attacker`): every way found to make `verify`, `verify-proof` or the writer accept history
//! the key never signed is played here, and each must be refused with its class and index.
//! The auditor is played by the command line, trusting only the verifier key it was given.

mod attacker;
mod common;

use attacker::Files;
use common::*;
use idledger_ledger::store::*;
use idledger_ledger::{Item, Ledger, Position, Submission};
use idledger_proto::entry::{Body, Entry, Origin, SystemRecord};
use idledger_proto::note::{NoteSigner, sign_note};
use idledger_proto::{Checkpoint, KafkaOrigin, TreeSize, decode_event};
use std::path::{Path, PathBuf};

const ORIGIN: &str = "audit.example/identity";

fn event(id: &str, subject: &str, grant: Option<&str>) -> Item {
    let (kind, extra) = match grant {
        Some(g) => (
            "access.requested",
            format!(r#","grant_id":"{g}","resource":"db:{g}""#),
        ),
        None => ("identity.updated", String::new()),
    };
    let json = format!(
        r#"{{"id":"{id}","source":"idp","type":"{kind}","time":"2026-01-01T00:00:00Z","actor":{{"id":"{subject}","kind":"human"}},"subject":{{"id":"{subject}","kind":"human"}},"reason":"needed"{extra}}}"#
    );
    Item::Event(decode_event(json.as_bytes()).unwrap_or_else(|r| panic!("{json}: {}", r.reason)))
}

/// A genuine ledger: genesis, then `batches` batches of 7 events from Kafka with their
/// positions. Returns its directory and verifier key.
fn genuine(tmp: &Path, name: &str, batches: u64) -> (PathBuf, String) {
    let dir = tmp.join(name);
    let mut ledger = Ledger::init(&dir, &keys_for(&dir), ORIGIN).expect("init");
    append_batches(&mut ledger, batches);
    let vkey = ledger.verifier_keys()[0].to_string();
    (dir, vkey)
}

fn append_batches(ledger: &mut Ledger, batches: u64) {
    let start = ledger.size().0;
    for b in 0..batches {
        let batch: Vec<Submission> = (0..7)
            .map(|i| {
                let n = (start + b) * 7 + i;
                let grant = format!("g{}", n % 4);
                Submission {
                    origin: Origin::Kafka(KafkaOrigin::new("feed", 0, n as i64, Some(1), None)),
                    item: event(
                        &format!("e{n}"),
                        &format!("u{}", n % 3),
                        n.is_multiple_of(2).then_some(&grant),
                    ),
                }
            })
            .collect();
        let next = ((start + b) * 7 + 7) as i64;
        let position = Position {
            topic: "feed".into(),
            partition: 0,
            next_offset: next,
        };
        ledger.append(batch, &[position]).expect("append");
    }
}

/// `verify --vkey KEY [--trusted FILE]`, which must fail (exit 1) with a finding of `class` at
/// `index` among the findings it prints.
///
/// With `IDLEDGER_ATTACK_ARCHIVE=DIR`, the attacked ledger and the auditor's arguments are kept
/// under DIR, so that another build's `verify` can be run on exactly these attacks (this is how
/// each was shown to pass the verifier before these rules).
fn refused(dir: &Path, vkey: &str, trusted: Option<&Path>, class: &str, index: u64) -> String {
    if let Some(archive) = std::env::var_os("IDLEDGER_ATTACK_ARCHIVE") {
        let name = std::thread::current()
            .name()
            .unwrap_or("attack")
            .replace("::", "-");
        let ledger = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        let kept = Path::new(&archive).join(format!("{name}-{}", ledger.unwrap_or_default()));
        std::fs::create_dir_all(&kept).expect("archive");
        copy_dir(dir, &kept.join("data"));
        if keys_for(dir).exists() {
            copy_dir(&keys_for(dir), &kept.join("keys"));
        }
        if let Some(t) = trusted {
            std::fs::copy(t, kept.join("trusted.checkpoint")).expect("copy");
        }
        std::fs::write(kept.join("vkey"), vkey).expect("write");
    }
    let mut args = vec!["verify", "--data", path(dir), "--vkey", vkey];
    if let Some(t) = trusted {
        args.extend(["--trusted", path(t)]);
    }
    let o = run(&args, None);
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "verify must fail with exit 1:\n{out}\n{}",
        stderr(&o)
    );
    let wanted = format!("FAIL {class} at index {index}:");
    assert!(out.contains(&wanted), "expected `{wanted}` in:\n{out}");
    out
}

fn passes(dir: &Path, vkey: &str) -> String {
    ok(&["verify", "--data", path(dir), "--vkey", vkey], None)
}

fn kept_checkpoint(dir: &Path, tmp: &Path) -> PathBuf {
    let file = tmp.join("kept.checkpoint");
    std::fs::write(&file, ok(&["checkpoint", "--data", path(dir)], None)).expect("write");
    file
}

/// The attacker's edit to an event: a different reason (a rewritten approval, say).
fn rewritten(mut e: Entry) -> Entry {
    if let Body::Event(ev) = &mut e.body {
        ev.event.reason = Some("rewritten by someone without the key".into());
    }
    e
}

#[test]
fn history_rewritten_after_a_kept_checkpoint_is_refused_though_its_checkpoints_were_deleted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path(), "l", 3);
    let kept = kept_checkpoint(&dir, tmp.path());
    let t = 1 + 3 * 7;
    let mut ledger = Ledger::open(&dir, &keys_for(&dir)).expect("open");
    append_batches(&mut ledger, 3);
    let n = ledger.size().0;
    drop(ledger);
    passes(&dir, &vkey);
    {
        let files = Files::open(&dir);
        let entries: Vec<Entry> = files
            .entries()
            .into_iter()
            .map(|e| if e.seq >= t { rewritten(e) } else { e })
            .collect();
        files.rewrite(entries);
        files.delete_checkpoints(|size| size > t);
    }
    // The rewritten entries hash, chain and index correctly, and extend the kept checkpoint:
    // only the missing signature at the log's size gives them away.
    let out = refused(&dir, &vkey, Some(&kept), "missing checkpoint", n);
    assert!(!out.contains("append-only extension"), "{out}");
}

#[test]
fn a_log_rebuilt_from_entry_one_under_the_genesis_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path(), "l", 4);
    let n = 1 + 4 * 7;
    {
        let files = Files::open(&dir);
        let entries: Vec<Entry> = files
            .entries()
            .into_iter()
            .map(|e| if e.seq >= 1 { rewritten(e) } else { e })
            .collect();
        files.rewrite(entries);
        files.delete_checkpoints(|size| size > 1);
    }
    refused(&dir, &vkey, None, "missing checkpoint", n);
}

#[test]
fn a_log_without_any_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path(), "l", 2);
    Files::open(&dir).delete_checkpoints(|_| true);
    refused(&dir, &vkey, None, "missing checkpoint", 1 + 2 * 7);
}

#[test]
fn a_checkpoint_deleted_between_others_is_found() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path(), "l", 4);
    let deleted = 1 + 2 * 7;
    Files::open(&dir).delete_checkpoints(|size| size == deleted);
    refused(&dir, &vkey, None, "missing checkpoint", deleted);
}

/// The attacker's own ledger, made with their own key, names the auditor's key in a
/// `KeyAdded` record (verifier keys are public) and signs on with their own.
#[test]
fn a_ledger_under_another_key_that_names_the_auditors_key_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_real, auditor_key) = genuine(tmp.path(), "real", 1);
    let (dir, _) = genuine(tmp.path(), "forged", 2);
    let attacker = {
        let ledger = Ledger::open(&dir, &keys_for(&dir)).expect("the attacker's own ledger");
        let vkey = ledger.verifier_keys()[0].clone();
        ledger
            .key_dir()
            .load_signer(&vkey, &dir.join("keys"))
            .expect("the attacker's own key")
    };
    let size = {
        let files = Files::open(&dir);
        let mut entries = files.entries();
        let last = entries.last().expect("entries").clone();
        entries.push(Entry {
            origin: Origin::Ledger,
            body: Body::System(SystemRecord::KeyAdded {
                verifier_key: auditor_key.clone(),
            }),
            ..last
        });
        let size = entries.len() as u64;
        files.rewrite(entries);
        let previous = files.checkpoints().last().expect("checkpoint").0;
        let text = Checkpoint {
            origin: ORIGIN.into(),
            size: TreeSize(size),
            root: files.root(),
        }
        .to_text_with(&idledger_proto::checkpoint::Extensions {
            previous: Some(previous),
            positions: None,
            keys: None,
        });
        files.put_checkpoint(size, &sign_note(&text, &[&attacker]).expect("signs"));
        size
    };
    refused(&dir, &auditor_key, None, "unknown key", size);
}

/// A `KeyAdded` record for the attacker's key, appended to the genuine log, with checkpoints
/// that only the attacker's key signed.
#[test]
fn a_key_the_log_adds_does_not_vouch_for_itself() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path(), "l", 2);
    let attacker = NoteSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[66; 32]))
        .expect("the attacker's key");
    let (added_at, size) = {
        let files = Files::open(&dir);
        let mut entries = files.entries();
        let last = entries.last().expect("entries").clone();
        let added_at = entries.len() as u64;
        entries.push(Entry {
            origin: Origin::Ledger,
            body: Body::System(SystemRecord::KeyAdded {
                verifier_key: attacker.verifier().to_string(),
            }),
            ..last.clone()
        });
        // A new event (a fresh id, so no index gives it away) under the attacker's key.
        let mut forged = rewritten(last);
        if let Body::Event(ev) = &mut forged.body {
            ev.event.id = "forged-1".into();
        }
        entries.push(forged);
        let size = entries.len() as u64;
        let previous = files.checkpoints().last().expect("checkpoint").0;
        files.rewrite(entries);
        let text = Checkpoint {
            origin: ORIGIN.into(),
            size: TreeSize(size),
            root: files.root(),
        }
        .to_text_with(&idledger_proto::checkpoint::Extensions {
            previous: Some(previous),
            positions: None,
            keys: None,
        });
        files.put_checkpoint(size, &sign_note(&text, &[&attacker]).expect("signs"));
        (added_at, size)
    };
    assert!(added_at < size);
    let out = refused(&dir, &vkey, None, "missing signature", size);
    assert!(
        out.contains(&format!("FAIL unknown key at index {size}:")),
        "{out}"
    );
}

/// A forged tree must not get the writer's signature: neither with every checkpoint deleted,
/// nor with the latest replaced by one the attacker signed over the forged root. The attacker
/// also marks the ledger as written by an older version (layout 2), which a writer upgrades.
#[test]
fn the_writer_refuses_to_sign_over_a_forged_tree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let attacker = NoteSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[77; 32]))
        .expect("the attacker's key");
    for (name, replace_latest) in [("deleted", false), ("replaced", true)] {
        let (dir, vkey) = genuine(tmp.path(), name, 3);
        let n = 1 + 3 * 7;
        {
            let files = Files::open(&dir);
            let entries: Vec<Entry> = files
                .entries()
                .into_iter()
                .map(|e| if e.seq >= 1 { rewritten(e) } else { e })
                .collect();
            files.rewrite(entries);
            files.delete_checkpoints(|_| true);
            if replace_latest {
                let text = Checkpoint {
                    origin: ORIGIN.into(),
                    size: TreeSize(n),
                    root: files.root(),
                }
                .to_text();
                files.put_checkpoint(n, &sign_note(&text, &[&attacker]).expect("signs"));
            }
            files.put(CF_META, META_LAYOUT, b"2");
            files.delete(CF_META, META_KEY_RECORDS);
        }
        let events = tmp.path().join("more.jsonl");
        std::fs::write(&events, r#"{"id":"x1","source":"idp","type":"identity.created","time":"2026-01-02T00:00:00Z","actor":{"id":"hr","kind":"service"},"subject":{"id":"zed","kind":"human"}}"#).expect("write");
        let o = run(&["append", "--data", path(&dir), path(&events)], None);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stdout(&o));
        let why = if replace_latest {
            "is not signed by"
        } else {
            "its latest checkpoint is missing"
        };
        assert!(stderr(&o).contains(why), "{name}: {}", stderr(&o));
        let class = if replace_latest {
            "missing signature"
        } else {
            "missing checkpoint"
        };
        refused(&dir, &vkey, None, class, n);
    }
}

/// Moving a stored Kafka position forward makes ingest skip the messages in between.
#[test]
fn an_advanced_kafka_position_is_refused_by_the_verifier_and_the_writer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, vkey) = genuine(tmp.path(), "l", 2);
    Files::open(&dir).put(
        CF_POSITIONS,
        &position_key("feed", 0),
        &1_000u64.to_be_bytes(),
    );
    refused(&dir, &vkey, None, "positions changed", 1 + 2 * 7);
    let err = Ledger::open(&dir, &keys_for(&dir)).expect_err("the writer refuses");
    assert!(err.to_string().contains("positions"), "{err}");
}

/// Values read from the database are untrusted: each hostile one is a finding (exit 1), never
/// an overflow or a panic (exit 101).
#[test]
fn hostile_database_values_are_findings_not_panics() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (base, vkey) = genuine(tmp.path(), "base", 2);
    type Edit = Box<dyn Fn(&Files)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "a tile at index 2^60",
            Box::new(|f: &Files| f.put(CF_TILES, &tile_key(0, 1 << 60), &[7; 32])),
        ),
        (
            "interior hashes at index 2^63",
            Box::new(|f: &Files| f.put(CF_SUBTREES, &tile_key(3, 1 << 63), &[7; 64])),
        ),
        (
            "a tree size of 2^64 - 1",
            Box::new(|f: &Files| f.put(CF_META, META_TREE_SIZE, &u64::MAX.to_be_bytes())),
        ),
        (
            "a damaged tree size",
            Box::new(|f: &Files| f.put(CF_META, META_TREE_SIZE, &[1, 2, 3])),
        ),
        (
            "a position of 5 bytes",
            Box::new(|f: &Files| f.put(CF_POSITIONS, &position_key("feed", 0), &[1; 5])),
        ),
        (
            "a position key without a partition",
            Box::new(|f: &Files| f.put(CF_POSITIONS, b"x", &[0; 8])),
        ),
        (
            "a checkpoint under a 3-byte key",
            Box::new(|f: &Files| f.put(CF_CHECKPOINTS, b"abc", b"not a note")),
        ),
        (
            "an entry at index 2^63",
            Box::new(|f: &Files| f.put(CF_ENTRIES, &seq_key(1 << 63), b"junk")),
        ),
        (
            "an unavailable range from -1 to i64::MAX",
            Box::new(|f: &Files| {
                let mut entries = f.entries();
                let last = entries.last().expect("entries").clone();
                entries.push(Entry {
                    origin: Origin::Ledger,
                    body: Body::System(SystemRecord::OffsetsUnavailable {
                        topic: "feed".into(),
                        partition: 0,
                        first: -1,
                        end: i64::MAX,
                    }),
                    ..last
                });
                f.rewrite(entries);
            }),
        ),
        (
            "a key record index of 7 bytes",
            Box::new(|f: &Files| f.put(CF_META, META_KEY_RECORDS, &[0; 7])),
        ),
    ];
    for (name, edit) in cases {
        let dir = tmp.path().join(name.replace(' ', "_"));
        copy_dir(&base, &dir);
        copy_dir(&keys_for(&base), &keys_for(&dir));
        edit(&Files::open(&dir));
        if let Some(archive) = std::env::var_os("IDLEDGER_ATTACK_ARCHIVE") {
            let kept = Path::new(&archive).join(format!("hostile-{}", name.replace(' ', "_")));
            std::fs::create_dir_all(&kept).expect("archive");
            copy_dir(&dir, &kept.join("data"));
            std::fs::write(kept.join("vkey"), &vkey).expect("write");
        }
        let o = run(&["verify", "--data", path(&dir), "--vkey", &vkey], None);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: exit {:?}\n{}\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("FAIL "), "{name}: {}", stdout(&o));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

/// A checkpoint of log A signed by log B's key: with both keys trusted, B's signature must not
/// count for A (a key's name is the log it signs for).
#[test]
fn a_checkpoint_signed_by_another_logs_key_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, vkey_a) = genuine(tmp.path(), "a", 1);
    let b = tmp.path().join("b");
    let ledger_b = Ledger::init(&b, &keys_for(&b), "other.example/log").expect("init b");
    let vkey_b = ledger_b.verifier_keys()[0].clone();
    let signer_b = ledger_b
        .key_dir()
        .load_signer(&vkey_b, &b.join("keys"))
        .expect("log b's operator holds its key");
    drop(ledger_b);
    let proof = ok(&["prove", "--data", path(&a), "--index", "3"], None);
    let (head, note) = proof.split_once("\n\n").expect("proof and checkpoint");
    let text = note
        .split("\n\n")
        .next()
        .expect("checkpoint text")
        .to_owned()
        + "\n";
    let forged = format!(
        "{head}\n\n{}",
        sign_note(&text, &[&signer_b]).expect("signs")
    );
    let file = tmp.path().join("forged.proof");
    std::fs::write(&file, forged).expect("write");
    let keys = tmp.path().join("both.vkeys");
    std::fs::write(&keys, format!("{vkey_a}\n{vkey_b}\n")).expect("write");
    let o = run(&["verify-proof", "--vkey", path(&keys), path(&file)], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    // The genuine proof verifies with the same keys.
    let genuine_file = tmp.path().join("genuine.proof");
    std::fs::write(&genuine_file, &proof).expect("write");
    ok(
        &["verify-proof", "--vkey", path(&keys), path(&genuine_file)],
        None,
    );
}

/// A verifier key of small order: anyone can make "signatures" that verify under it.
#[test]
fn a_weak_verifier_key_is_refused() {
    use base64::Engine as _;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&identity).expect("on the curve");
    let mut raw = vec![1u8];
    raw.extend_from_slice(&identity);
    let text = format!(
        "{ORIGIN}+{}+{}",
        hex::encode(idledger_proto::note::key_id(ORIGIN, &key)),
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let o = run(&["verify-proof", "--vkey", &text, "/dev/null"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("small order"), "{}", stderr(&o));
}
