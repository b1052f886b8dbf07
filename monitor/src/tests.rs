//! Every finding rule, as an operator who holds the signing key (or a server that only rewrites
//! bytes) would break it: logs built in memory entry by entry, their tiles computed as the spec
//! says, checkpoints signed, then followed by a monitor over a `MemorySource`.

use crate::frontier::perfect_root;
use crate::round::Trust;
use crate::state::State;
use crate::{FindingClass, MemorySource, Outcome, StateDir, round};
use ed25519_dalek::SigningKey;
use idledger_proto::checkpoint::Checkpoint;
use idledger_proto::entry::{EventEntry, KafkaOrigin, MessageKey};
use idledger_proto::hash::leaf_hash;
use idledger_proto::note::{NoteSigner, sign_note};
use idledger_proto::tiles::{TILE_WIDTH, encode_entry_bundle, tiles_for};
use idledger_proto::{BackLinks, Body, Entry, Hash, Origin, SystemRecord, Timestamp, TreeSize};
use std::collections::HashMap;

const ORIGIN: &str = "test.example/log";

fn signer(seed: u8) -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[seed; 32])).expect("a valid name")
}

fn trust() -> Trust {
    Trust {
        keys: vec![signer(1).verifier().clone()],
        policy: None,
    }
}

/// What an entry is about, before it is chained: a subject (and grant) for an event.
#[derive(Clone)]
struct Draft {
    subject: String,
    grant: Option<String>,
}

fn draft(i: usize) -> Draft {
    Draft {
        subject: format!("user{}", i % 7),
        grant: i.is_multiple_of(3).then(|| format!("grant{}", i % 5)),
    }
}

/// Honest entries: genesis, then events with correct chain and back-links.
fn entries(drafts: &[Draft]) -> Vec<Entry> {
    let mut heads: HashMap<String, u64> = HashMap::new();
    let mut prev = Hash::ZERO;
    let mut out = Vec::new();
    let push = |body: Body, out: &mut Vec<Entry>, prev: &mut Hash| {
        let entry = Entry {
            version: idledger_proto::entry::FORMAT_VERSION,
            seq: out.len() as u64,
            prev_leaf_hash: prev.0,
            received_at: Timestamp(1_700_000_000_000_000_000),
            origin: Origin::Ledger,
            body,
        };
        *prev = leaf_hash(&entry.encode());
        out.push(entry);
    };
    push(
        Body::System(SystemRecord::Genesis {
            origin: ORIGIN.into(),
            verifier_key: signer(1).verifier().to_string(),
        }),
        &mut out,
        &mut prev,
    );
    for (i, d) in drafts.iter().enumerate() {
        let grant = d
            .grant
            .as_ref()
            .map(|g| format!(r#","grant_id":"{g}","resource":"app""#));
        let kind = if d.grant.is_some() {
            "access.granted"
        } else {
            "identity.updated"
        };
        let json = format!(
            r#"{{"id":"e{i}","source":"okta","type":"{kind}","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"{}","kind":"human"}}{}}}"#,
            d.subject,
            grant.unwrap_or_default()
        );
        let event = idledger_proto::decode_event(json.as_bytes())
            .unwrap_or_else(|r| panic!("a valid event: {r:?}"))
            .into_event();
        let seq = out.len() as u64;
        let links = BackLinks {
            prev_subject: heads.insert(format!("s{}", d.subject), seq),
            prev_grant: d
                .grant
                .as_ref()
                .and_then(|g| heads.insert(format!("g{g}"), seq)),
            prev_credential: None,
        };
        push(
            Body::Event(Box::new(EventEntry {
                links,
                event,
                record: None,
            })),
            &mut out,
            &mut prev,
        );
    }
    out
}

/// The log of these leaves as tlog-tiles files, its checkpoint signed by `key`.
fn served(leaves: &[Vec<u8>], key: &NoteSigner) -> MemorySource {
    let size = leaves.len() as u64;
    let mut levels = vec![leaves.iter().map(|l| leaf_hash(l)).collect::<Vec<Hash>>()];
    while levels
        .last()
        .is_some_and(|l| l.len() >= TILE_WIDTH as usize)
    {
        let below = levels.last().expect("a level");
        let above = below
            .chunks_exact(TILE_WIDTH as usize)
            .map(perfect_root)
            .collect();
        levels.push(above);
    }
    let mut files = std::collections::BTreeMap::new();
    for tile in tiles_for(size) {
        let range = tile.first() as usize..tile.first() as usize + usize::from(tile.width);
        let bytes = match tile.level {
            Some(l) => levels[usize::from(l)][range]
                .iter()
                .flat_map(|h| h.0)
                .collect(),
            None => encode_entry_bundle(tile.first(), leaves[range].iter().map(Vec::as_slice))
                .expect("small entries"),
        };
        files.insert(tile.path(), bytes);
    }
    let root = idledger_proto::merkle::root(&Levels(&levels), TreeSize(size)).expect("in memory");
    let text = Checkpoint {
        origin: ORIGIN.into(),
        size: TreeSize(size),
        root,
    }
    .to_text();
    let note = sign_note(&text, &[key]).expect("signs");
    files.insert("checkpoint".into(), note.into_bytes());
    MemorySource(files)
}

/// The full tree's levels as a node source (level ℓ from level-0 hashes).
struct Levels<'a>(&'a [Vec<Hash>]);

impl idledger_proto::merkle::NodeSource for Levels<'_> {
    type Error = ();
    fn node(&self, level: u8, index: u64) -> Result<Hash, ()> {
        let (tile_level, r) = (usize::from(level / 8), u32::from(level % 8));
        let start = (index << r) as usize;
        Ok(perfect_root(&self.0[tile_level][start..start + (1 << r)]))
    }
}

fn encoded(entries: &[Entry]) -> Vec<Vec<u8>> {
    entries.iter().map(Entry::encode).collect()
}

fn log(n: usize) -> MemorySource {
    let drafts: Vec<Draft> = (0..n - 1).map(draft).collect();
    served(&encoded(&entries(&drafts)), &signer(1))
}

/// A monitor over `first` that kept it; then a round against `then`.
fn follow(first: &MemorySource, then: &MemorySource) -> (tempfile::TempDir, Outcome, State) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = StateDir::open(tmp.path()).expect("open");
    let kept = round(first, &trust(), &mut dir).expect("round");
    assert!(
        matches!(kept, Outcome::Advanced { from: 0, .. }),
        "{kept:?}"
    );
    let before = dir.state().clone();
    let outcome = round(then, &trust(), &mut dir).expect("round");
    (tmp, outcome, before)
}

/// The classes of the findings of an outcome, and that the kept state did not move.
fn classes(dir: &tempfile::TempDir, outcome: &Outcome, before: &State) -> Vec<FindingClass> {
    let Outcome::Findings(f) = outcome else {
        panic!("expected findings, got {outcome:?}");
    };
    let again = StateDir::open(dir.path()).expect("reopen");
    assert_eq!(
        again.state(),
        before,
        "the state never advances past a finding"
    );
    f.kept.iter().map(|f| f.class).collect()
}

#[test]
fn a_growing_log_is_followed_and_copied_exactly() {
    let drafts: Vec<Draft> = (0..700).map(draft).collect();
    let all = encoded(&entries(&drafts));
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = StateDir::open(tmp.path()).expect("open");
    let mut files = std::collections::BTreeMap::new();
    let mut from = 0;
    for size in [1usize, 300, 300, 513, 701] {
        let log = served(&all[..size], &signer(1));
        files.extend(log.0.clone());
        let outcome = round(&log, &trust(), &mut dir).expect("round");
        let want = if size as u64 == from && from > 0 {
            Outcome::Unchanged { size: from }
        } else {
            Outcome::Advanced {
                from,
                to: size as u64,
            }
        };
        assert_eq!(outcome, want);
        from = size as u64;
        assert_eq!(dir.state().last_leaf, leaf_hash(&all[size - 1]));
    }
    for (path, bytes) in &files {
        let kept = std::fs::read(tmp.path().join(path)).expect("kept");
        if path == "checkpoint" {
            continue;
        }
        assert_eq!(&kept, bytes, "{path}");
    }
}

#[test]
fn a_shorter_log_is_a_truncation() {
    let (dir, outcome, before) = follow(&log(600), &log(300));
    assert_eq!(classes(&dir, &outcome, &before), [FindingClass::Truncation]);
}

#[test]
fn another_root_for_the_kept_size_is_a_fork() {
    let mut other: Vec<Draft> = (0..299).map(draft).collect();
    other[200].subject = "someone else".into();
    let other = served(&encoded(&entries(&other)), &signer(1));
    let (dir, outcome, before) = follow(&log(300), &other);
    assert_eq!(classes(&dir, &outcome, &before), [FindingClass::Fork]);
}

#[test]
fn a_log_extended_from_an_earlier_prefix_is_a_fork() {
    // Signed by the log's own key: only the kept root can tell.
    let mut other: Vec<Draft> = (0..700).map(draft).collect();
    other[150].subject = "someone else".into();
    let other = served(&encoded(&entries(&other)), &signer(1));
    let (dir, outcome, before) = follow(&log(300), &other);
    assert_eq!(classes(&dir, &outcome, &before), [FindingClass::Fork]);
}

#[test]
fn a_changed_entry_byte_is_a_modified_entry() {
    let mut bad = log(700);
    let bundle = bad.0.get_mut("tile/entries/001").expect("bundle");
    let last = bundle.len() - 1;
    bundle[last] ^= 1;
    let (dir, outcome, before) = follow(&log(300), &bad);
    let found = classes(&dir, &outcome, &before);
    assert_eq!(found[0], FindingClass::ModifiedEntry, "{found:?}");
}

#[test]
fn entries_and_tiles_recomputed_without_the_key_do_not_reproduce_the_signed_root() {
    let honest = log(700);
    let mut changed: Vec<Draft> = (0..699).map(draft).collect();
    changed[500].subject = "someone else".into();
    // Every tile recomputed from the changed entries; the checkpoint is the honest one.
    let mut bad = served(&encoded(&entries(&changed)), &signer(1));
    bad.0
        .insert("checkpoint".into(), honest.0["checkpoint"].clone());
    let (dir, outcome, before) = follow(&log(300), &bad);
    assert_eq!(
        classes(&dir, &outcome, &before),
        [FindingClass::ModifiedEntry]
    );
}

#[test]
fn a_tile_hash_that_does_not_root_its_tile_is_found() {
    let mut bad = log(700);
    let tile = bad.0.get_mut("tile/1/000.p/2").expect("level-1 tile");
    tile[40] ^= 1;
    let (dir, outcome, before) = follow(&log(300), &bad);
    let found = classes(&dir, &outcome, &before);
    assert!(
        found.iter().all(|c| *c == FindingClass::ModifiedEntry),
        "{found:?}"
    );
    let Outcome::Findings(f) = &outcome else {
        unreachable!()
    };
    assert!(f.kept[0].detail.contains("level 1 index 1"), "{:?}", f.kept);
}

#[test]
fn a_checkpoint_signed_by_another_key_is_a_bad_signature() {
    let drafts: Vec<Draft> = (0..400).map(draft).collect();
    let forged = served(&encoded(&entries(&drafts)), &signer(2));
    let (dir, outcome, before) = follow(&log(300), &forged);
    assert_eq!(
        classes(&dir, &outcome, &before),
        [FindingClass::BadSignature]
    );
}

#[test]
fn a_checkpoint_without_the_quorum_is_not_taken() {
    let witness = idledger_proto::cosignature::CosignerKey::new(
        "witness.example/w1",
        SigningKey::from_bytes(&[9; 32]).verifying_key(),
    )
    .expect("witness key");
    let policy = format!(
        "log {}\nwitness w1 {witness}\nquorum w1\n",
        signer(1).verifier()
    );
    let trust = Trust {
        policy: Some(idledger_proto::witness_policy::Policy::parse(&policy).expect("policy")),
        ..trust()
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = StateDir::open(tmp.path()).expect("open");
    let outcome = round(&log(10), &trust, &mut dir).expect("round");
    drop(dir);
    let found = classes(&tmp, &outcome, &State::default());
    assert_eq!(found, [FindingClass::QuorumNotMet]);
}

/// The log's own key signs entries an honest ledger never writes.
fn operator_log(change: impl FnOnce(&mut Vec<Entry>)) -> MemorySource {
    let drafts: Vec<Draft> = (0..399).map(draft).collect();
    let mut e = entries(&drafts);
    change(&mut e);
    served(&encoded(&e), &signer(1))
}

/// Re-chains entries from `from` on, as an operator covering a change would.
fn rechain(e: &mut [Entry], from: usize) {
    for i in from.max(1)..e.len() {
        e[i].prev_leaf_hash = leaf_hash(&e[i - 1].encode()).0;
    }
}

#[test]
fn a_broken_chain_is_found() {
    let bad = operator_log(|e| {
        e[350].prev_leaf_hash = [7; 32];
        rechain(e, 351);
    });
    let (dir, outcome, before) = follow(&log(300), &bad);
    assert_eq!(
        classes(&dir, &outcome, &before),
        [FindingClass::BrokenChain]
    );
}

#[test]
fn an_entry_at_another_index_is_found() {
    let bad = operator_log(|e| {
        e[320].seq = 321;
        rechain(e, 321);
    });
    let (dir, outcome, before) = follow(&log(300), &bad);
    assert_eq!(
        classes(&dir, &outcome, &before),
        [FindingClass::ReorderedEntries]
    );
}

#[test]
fn a_back_link_that_skips_an_entry_is_found() {
    let bad = operator_log(|e| {
        let Body::Event(ev) = &mut e[360].body else {
            panic!("an event")
        };
        ev.links.prev_subject = ev.links.prev_subject.map(|p| p - 7);
        rechain(e, 361);
    });
    let (dir, outcome, before) = follow(&log(300), &bad);
    assert_eq!(classes(&dir, &outcome, &before), [FindingClass::BackLink]);
}

#[test]
fn secret_material_is_found() {
    let bad = operator_log(|e| {
        e[330].origin = Origin::Kafka(KafkaOrigin {
            topic: "t".into(),
            partition: 0,
            offset: 1,
            timestamp_ms: None,
            key: MessageKey::Kept(
                b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
                    .to_vec(),
            ),
            key_truncated: false,
        });
        rechain(e, 331);
    });
    let (dir, outcome, before) = follow(&log(300), &bad);
    assert_eq!(
        classes(&dir, &outcome, &before),
        [FindingClass::SecretMaterial]
    );
}

#[test]
fn entry_zero_must_be_the_genesis_record() {
    let bad = operator_log(|e| {
        e[0].body = Body::System(SystemRecord::KeyAdded {
            verifier_key: "k".into(),
        });
        rechain(e, 1);
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = StateDir::open(tmp.path()).expect("open");
    let outcome = round(&bad, &trust(), &mut dir).expect("round");
    drop(dir);
    assert_eq!(
        classes(&tmp, &outcome, &State::default()),
        [FindingClass::ModifiedEntry]
    );
}

#[test]
fn an_unreachable_log_is_an_error_and_keeps_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut dir = StateDir::open(tmp.path()).expect("open");
    // The checkpoint and hash tiles are served; the entry bundles are withheld.
    let mut partial = log(300);
    partial.0.retain(|k, _| !k.starts_with("tile/entries"));
    assert!(round(&partial, &trust(), &mut dir).is_err());
    assert_eq!(dir.state(), &State::default());
    assert!(!tmp.path().join("checkpoint").exists());
}
