//! The test log and streams every export test shares: a log of every kind of entry (each event
//! type in its variants, quarantined inputs of each kept payload, each system record), and
//! streams of it as the writer writes them, in any record format and shape.

use super::super::*;
use crate::checkpoint::Checkpoint;
use crate::entry::{
    BackLinks, Body, EventEntry, FORMAT_VERSION, KafkaOrigin, Origin, SystemRecord,
};
use crate::event::{
    Actor, ActorKind, AttrValue, Credential, CredentialKind, Decision, Event, EventType,
    MembershipKind, Outcome, Policy, Subject, SubjectKind,
};
use crate::hash::leaf_hash;
use crate::merkle::reference::{naive_path, naive_root};
use crate::note::{NoteSigner, VerifierKey, sign_note};
use crate::rejection::{KeptPayload, RejectReason, Rejection};
use crate::time::Timestamp;
use crate::tree_size::TreeSize;
use serde_json::Value;
pub(crate) const ORIGIN: &str = "test.example/ledger";

pub(crate) fn signer() -> NoteSigner {
    NoteSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[9; 32])).expect("test key")
}

pub(crate) fn keys() -> Vec<VerifierKey> {
    vec![signer().verifier().clone()]
}

/// An event of `kind` with what every event has; variants change fields from here.
pub(crate) fn event(kind: EventType) -> Event {
    Event {
        source: "okta-prod".into(),
        id: format!("e-{kind}"),
        kind,
        time: Timestamp(1_767_225_600_123_456_789),
        actor: Some(Actor {
            id: "admin@example.com".into(),
            kind: ActorKind::Human,
            mfa: Some(true),
        }),
        subject: Subject {
            id: "alice".into(),
            kind: SubjectKind::Human,
        },
        grant_id: None,
        request_id: None,
        resource: None,
        reason: None,
        ticket: None,
        policy: None,
        decision: None,
        expires_at: None,
        exception: false,
        credential: None,
        owner: None,
        attributes: Vec::new(),
        outcome: Outcome::Succeeded,
        membership: None,
    }
}

fn access(kind: EventType, membership: Option<MembershipKind>, resource: &str) -> Event {
    Event {
        grant_id: Some(format!("g-{resource}")),
        resource: Some(resource.into()),
        membership,
        ..event(kind)
    }
}

fn credential(kind: EventType, credential_kind: CredentialKind) -> Event {
    Event {
        credential: Some(Credential {
            id: format!("{credential_kind}-1"),
            kind: credential_kind,
            fingerprint: (credential_kind == CredentialKind::ApiKey).then_some([0xC4; 32]),
        }),
        ..event(kind)
    }
}

/// A named entry body of every kind, with the provenance it came with.
pub(crate) fn every_kind() -> Vec<(&'static str, Origin, Body)> {
    use EventType::*;
    let kafka = Origin::Kafka(KafkaOrigin::new(
        "identity-events",
        2,
        4411,
        Some(1_767_225_600_000),
        Some(b"alice"),
    ));
    let local = Origin::Local {
        label: "ex/events.jsonl".into(),
        line: 7,
    };
    let ev = |name, e: Event| {
        (
            name,
            kafka.clone(),
            Body::Event(Box::new(EventEntry {
                links: BackLinks::default(),
                event: e,
                record: None,
            })),
        )
    };
    let mut all = vec![
        ev("identity.created", event(IdentityCreated)),
        ev(
            "identity.created of a service account",
            Event {
                subject: Subject {
                    id: "svc-deploy".into(),
                    kind: SubjectKind::ServiceAccount,
                },
                owner: Some("bob".into()),
                ..event(IdentityCreated)
            },
        ),
        ev("identity.updated", event(IdentityUpdated)),
        ev(
            "identity.owner_changed of a workload",
            Event {
                subject: Subject {
                    id: "wl-7".into(),
                    kind: SubjectKind::Workload,
                },
                owner: Some("carol".into()),
                ..event(IdentityOwnerChanged)
            },
        ),
        ev("identity.disabled", event(IdentityDisabled)),
        ev("identity.enabled", event(IdentityEnabled)),
        ev(
            "identity.deleted of a bot, by a system",
            Event {
                subject: Subject {
                    id: "bot|1=2".into(),
                    kind: SubjectKind::Bot,
                },
                actor: Some(Actor {
                    id: "scim".into(),
                    kind: ActorKind::System,
                    mfa: None,
                }),
                ..event(IdentityDeleted)
            },
        ),
        ev(
            "identity.authenticated to a resource",
            Event {
                resource: Some("vpn".into()),
                ..event(IdentityAuthenticated)
            },
        ),
        ev(
            "identity.authenticated that failed, of a machine",
            Event {
                outcome: Outcome::Failed,
                subject: Subject {
                    id: "host-9".into(),
                    kind: SubjectKind::Machine,
                },
                ..event(IdentityAuthenticated)
            },
        ),
    ];
    for kind in [
        AccessRequested,
        AccessApproved,
        AccessGranted,
        AccessRevoked,
        AccessExpired,
    ] {
        for membership in [
            None,
            Some(MembershipKind::Group),
            Some(MembershipKind::Team),
            Some(MembershipKind::Role),
        ] {
            let name = match membership {
                None => format!("{kind} of a privilege"),
                Some(m) => format!("{kind} of a {m}"),
            };
            all.push(ev(leak(name), access(kind, membership, "prod-db:read")));
        }
    }
    all.extend([
        ev(
            "access.denied that failed",
            Event {
                outcome: Outcome::Failed,
                ..access(AccessDenied, None, "prod-db:write")
            },
        ),
        ev(
            "access.reviewed",
            Event {
                decision: Some(Decision::Revoke),
                ..access(
                    AccessReviewed,
                    Some(MembershipKind::Role),
                    "aws:role/deploy",
                )
            },
        ),
        ev(
            "access.granted with every optional field and awkward text",
            Event {
                request_id: Some("req-1".into()),
                reason: Some("on call\nsee CHG-1 | a=b \\ c".into()),
                ticket: Some("CHG=1234|x".into()),
                policy: Some(Policy {
                    id: "break-glass".into(),
                    version: Some("3".into()),
                    hash: None,
                }),
                expires_at: Some(Timestamp(1_767_312_000_000_000_000)),
                exception: true,
                attributes: vec![
                    (
                        "application".into(),
                        AttrValue::Text("billing\tapp\r".into()),
                    ),
                    ("approvers".into(), AttrValue::Integer(-2)),
                    ("emergency".into(), AttrValue::Bool(true)),
                    ("score".into(), AttrValue::Number(0.1)),
                ],
                ..access(AccessGranted, None, "prod-db:admin")
            },
        ),
    ]);
    for kind in [
        CredentialIssued,
        CredentialRotated,
        CredentialRevoked,
        CredentialExpired,
        CredentialUsed,
    ] {
        for credential_kind in [
            CredentialKind::MfaFactor,
            CredentialKind::Password,
            CredentialKind::ApiKey,
            CredentialKind::Certificate,
        ] {
            let name = format!("{kind} of a {credential_kind}");
            let mut e = credential(kind, credential_kind);
            if kind == CredentialExpired {
                e.actor = None;
            }
            all.push(ev(leak(name), e));
        }
    }
    let quarantined = |name, payload, reason| {
        (
            name,
            local.clone(),
            Body::Quarantined(Box::new(Rejection { reason, payload })),
        )
    };
    all.extend([
        quarantined(
            "quarantined raw input, not UTF-8",
            KeptPayload::raw(b"{\"type\":\"identity.created\xff|=\\\n"),
            RejectReason::NotUtf8 { valid_up_to: 25 },
        ),
        quarantined(
            "quarantined secret input",
            KeptPayload::redacted(b"{\"password\":\"x\"}"),
            RejectReason::SecretMaterial {
                location: "password".into(),
            },
        ),
        quarantined(
            "quarantined conflicting duplicate",
            KeptPayload::Event(Box::new(access(AccessGranted, None, "prod-db:read"))),
            RejectReason::ConflictingDuplicate { first_index: 3 },
        ),
        quarantined(
            "quarantined tombstone",
            KeptPayload::Nothing,
            RejectReason::Tombstone,
        ),
        quarantined(
            "quarantined missing field",
            KeptPayload::raw(b"{}"),
            RejectReason::MissingField {
                field: "subject".into(),
            },
        ),
    ]);
    let system = |name, record| (name, Origin::Ledger, Body::System(record));
    all.extend([
        system(
            "system genesis",
            SystemRecord::Genesis {
                origin: ORIGIN.into(),
                verifier_key: "test.example/ledger+01020304+AQID".into(),
            },
        ),
        system(
            "system key added",
            SystemRecord::KeyAdded {
                verifier_key: "test.example/ledger+05060708+AQIE".into(),
            },
        ),
        system(
            "system key retired",
            SystemRecord::KeyRetired {
                verifier_key: "test.example/ledger+01020304+AQID".into(),
            },
        ),
        system(
            "system offsets unavailable",
            SystemRecord::OffsetsUnavailable {
                topic: "identity-events".into(),
                partition: 2,
                first: 100,
                end: 4338,
            },
        ),
        system(
            "system out of scope",
            SystemRecord::OutOfScope {
                topic: "identity-events".into(),
                partition: 0,
                offsets: vec![(5, 9), (12, 13)],
                counts: vec![
                    ("ocsf:3002:2".into(), 4),
                    ("okta:user.session.end".into(), 1),
                ],
            },
        ),
    ]);
    all
}

/// Test names are built once per run; leaking them keeps the table's `&'static str`.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// A log of entries: each entry's leaf, its hash, chained from entry 0.
pub(crate) struct Log {
    pub entries: Vec<Entry>,
    pub leaves: Vec<Vec<u8>>,
    pub hashes: Vec<Hash>,
}

impl Log {
    pub(crate) fn of(bodies: Vec<(Origin, Body)>) -> Log {
        let mut log = Log {
            entries: Vec::new(),
            leaves: Vec::new(),
            hashes: Vec::new(),
        };
        for (seq, (origin, body)) in bodies.into_iter().enumerate() {
            let entry = Entry {
                version: FORMAT_VERSION,
                seq: seq as u64,
                prev_leaf_hash: log.hashes.last().copied().unwrap_or(Hash::ZERO).0,
                received_at: Timestamp(1_767_225_601_000_000_000 + seq as i64 * 1_000_000),
                origin,
                body,
            };
            let leaf = entry.encode();
            log.hashes.push(leaf_hash(&leaf));
            log.leaves.push(leaf);
            log.entries.push(entry);
        }
        log
    }

    pub(crate) fn every_kind() -> Log {
        Log::of(every_kind().into_iter().map(|(_, o, b)| (o, b)).collect())
    }

    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The signed checkpoint note of the first `size` entries.
    pub(crate) fn note(&self, size: u64) -> String {
        let text = Checkpoint {
            origin: ORIGIN.into(),
            size: TreeSize(size),
            root: naive_root(&self.hashes[..size as usize]),
        }
        .to_text();
        sign_note(&text, &[&signer()]).expect("signs")
    }

    pub(crate) fn proof(&self, index: u64, size: u64) -> LineProof {
        LineProof {
            size,
            path: naive_path(index as usize, &self.hashes[..size as usize])
                .iter()
                .map(Hash::to_base64)
                .collect(),
        }
    }

    /// The roots of the perfect subtrees of the first `from` leaves, largest first.
    fn frontier(&self, from: u64) -> Vec<Hash> {
        let mut out = Vec::new();
        let mut start = 0u64;
        for bit in (0..64).rev() {
            let size = 1u64 << bit;
            if from & size != 0 {
                out.push(naive_root(
                    &self.hashes[start as usize..(start + size) as usize],
                ));
                start += size;
            }
        }
        out
    }
}

/// What a test stream holds.
#[derive(Clone, Copy)]
pub(crate) struct Shape<'f> {
    pub format: RecordFormat,
    pub from: u64,
    /// Checkpoints after these sizes (the last is the stream's end).
    pub checkpoints: &'f [u64],
    pub proofs: bool,
    /// Entries kept (all when `None`; the stream is then not filtered).
    pub keep: Option<&'f dyn Fn(u64) -> bool>,
}

impl<'f> Shape<'f> {
    pub(crate) fn whole(format: RecordFormat, checkpoints: &'f [u64]) -> Shape<'f> {
        Shape {
            format,
            from: 0,
            checkpoints,
            proofs: false,
            keep: None,
        }
    }
}

/// A stream of `log` as the writer writes one: start line, entry lines, checkpoint lines.
pub(crate) fn stream(log: &Log, shape: Shape<'_>) -> Vec<String> {
    let end = *shape
        .checkpoints
        .last()
        .expect("a stream ends with a checkpoint");
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let filtered = shape.keep.is_some();
    let frontier = log.frontier(shape.from);
    if shape.format == RecordFormat::Cef {
        write_cef_start(&mut buf, ORIGIN, shape.from, &frontier, filtered);
        lines.push(text(&buf));
    } else {
        let start = Line::Start {
            format: EXPORT_FORMAT.into(),
            origin: ORIGIN.into(),
            from: shape.from,
            frontier: frontier.iter().map(Hash::to_base64).collect(),
            filtered,
        };
        lines.push(serde_json::to_string(&start).expect("json"));
    }
    for index in shape.from..end {
        if shape.keep.is_none_or(|keep| keep(index)) {
            let proof = (shape.proofs || filtered).then(|| log.proof(index, end));
            let record = EntryRecord {
                origin: ORIGIN,
                index,
                leaf: &log.leaves[index as usize],
                leaf_hash: log.hashes[index as usize],
                proof: proof.as_ref(),
            };
            buf.clear();
            let view = crate::view::EntryView::decode(record.leaf).expect("a leaf views");
            write_entry(&mut buf, shape.format, &record, &view);
            lines.push(text(&buf));
        }
        if shape.checkpoints.contains(&(index + 1)) {
            lines.push(checkpoint_line(log, shape.format, index + 1));
        }
    }
    lines
}

pub(crate) fn checkpoint_line(log: &Log, format: RecordFormat, size: u64) -> String {
    checkpoint_line_of(format, size, log.note(size))
}

/// The checkpoint line of `size` in `format` carrying `note`.
pub(crate) fn checkpoint_line_of(format: RecordFormat, size: u64, note: String) -> String {
    if format == RecordFormat::Cef {
        let mut buf = Vec::new();
        write_cef_checkpoint(&mut buf, size, &note);
        text(&buf)
    } else {
        serde_json::to_string(&Line::Checkpoint { size, note }).expect("json")
    }
}

/// The 0-based position of entry `index`'s line, in any record format.
pub(crate) fn position(lines: &[String], index: u64) -> usize {
    use super::super::read::{ReadLine, read_line};
    lines
        .iter()
        .position(|l| matches!(read_line(l), Ok(ReadLine::Entry(e)) if e.index == index))
        .unwrap_or_else(|| panic!("entry {index} is in the stream"))
}

pub(crate) fn text(buf: &[u8]) -> String {
    String::from_utf8(buf.to_vec()).expect("export lines are UTF-8")
}

pub(crate) fn verify(lines: &[String]) -> VerifiedExport {
    verify_export(&lines.join("\n"), &keys())
}

/// The OCSF record of an entry, as JSON.
pub(crate) fn ocsf(log: &Log, index: u64, proof: Option<&LineProof>) -> Value {
    let record = EntryRecord {
        origin: ORIGIN,
        index,
        leaf: &log.leaves[index as usize],
        leaf_hash: log.hashes[index as usize],
        proof,
    };
    let mut buf = Vec::new();
    write_ocsf_entry(&mut buf, &record, &log.entries[index as usize]);
    serde_json::from_slice(&buf).expect("an OCSF record is JSON")
}
