//! Verification from a trusted checkpoint forward, in time and memory proportional to the
//! entries after it (docs/SECURITY.md, "Incremental verification").
//!
//! It proves what a full walk proves about the new entries and the checkpoints over them,
//! starting from what the trusted checkpoint already vouches for:
//! - the stored tree's frontier at the trusted size (one perfect-subtree root per set bit of
//!   the size) hashes to the trusted root, so the log still holds the trusted tree;
//! - entry N-1 (the last trusted one) is proven in the trusted tree, and the first new entry
//!   chains to it; every new entry decodes, sits at its own index, chains to the one before it
//!   and holds no secret material;
//! - every stored checkpoint from the trusted size on is signed as the key records require
//!   (those before the trusted size are read through the index and each proven in the trusted
//!   tree; the trusted checkpoint signs their list), links to the one before it, and carries
//!   the root the new leaves build on the trusted frontier; the checkpoint at the log's size
//!   is vouched for and signs the stored Kafka positions;
//! - a back-link between new entries points at the latest earlier new entry about the same
//!   id, and one that names no new entry points into the trusted prefix.
//!
//! What only the full walk proves: that a back-link into the prefix points at the latest entry
//! about its id there (and that a new entry with no back-link has no earlier entry about its
//! id), the stored tiles and interior hashes of the new part, and the dedupe, heads and
//! resources indexes. `verify --full` does all of it. None of these is something an attacker
//! without the key could change: the new entries' bytes are fixed by the signed roots; they are
//! the writer's own bookkeeping, which the full walk audits.

use super::checkpoints::CheckpointWalk;
use super::report::{FailureClass, FsckReport};
use super::walk::{BodyFacts, ChunkOut, Fingerprints, Walked, walk_chunk, walk_entry};
use super::{FsckOptions, claimed_size, scan_end, stored_checkpoints_from};
use crate::reader::{LedgerReader, ReadError};
use crate::store::{CF_META, META_KEY_RECORDS, decode_key_records};
use crate::tree::StoredNodes;
use idledger_proto::checkpoint::{Checkpoint, Extensions};
use idledger_proto::hash::leaf_hash;
use idledger_proto::merkle::compact::CompactRange;
use idledger_proto::merkle::{self, NodeSource as _};
use idledger_proto::{Hash, Seq};
use std::collections::HashMap;

/// The sequential half: what the walk keeps between entries.
struct Forward<'a> {
    size: u64,
    expected: u64,
    prev_leaf: Hash,
    range: Option<CompactRange>,
    checkpoints: CheckpointWalk<'a>,
    heads: HashMap<u64, u64>,
    trusted_size: u64,
    report: FsckReport,
}

/// Verifies the log from the trusted checkpoint `trusted` (already verified under the auditor's
/// keys) forward.
pub(super) fn fsck_from(
    reader: &LedgerReader<'_>,
    opts: &FsckOptions<'_>,
    trusted: &Checkpoint,
) -> Result<FsckReport, ReadError> {
    let db = reader.db();
    let origin = reader.origin();
    let mut report = FsckReport::default();
    let size = claimed_size(reader, &mut report)?;
    report.tree_size = size;
    let n = trusted.size.0;
    if n > size {
        report.add(
            FailureClass::TruncatedOrRolledBack,
            size,
            format!("the trusted checkpoint has {n} entries; the log has {size}"),
        );
        return Ok(report);
    }
    let nodes = StoredNodes::new(db);
    let range = CompactRange::from_nodes(n, |level, index| nodes.node(level, index));
    if range.as_ref().map(CompactRange::root).ok() != Some(trusted.root) {
        report.add(
            FailureClass::TruncatedOrRolledBack,
            n,
            format!("the log's first {n} entries differ from the trusted checkpoint: not an append-only extension"),
        );
        return Ok(report);
    }
    let fp = Fingerprints {
        state: std::hash::RandomState::new(),
    };
    let prev_leaf = match n.checked_sub(1) {
        None => Hash::ZERO,
        Some(last) => match proven_entry(reader, &nodes, trusted, last, &fp)? {
            Ok(walked) => walked.leaf,
            Err(why) => {
                report.add(FailureClass::ModifiedEntry, last, why);
                return Ok(report);
            }
        },
    };
    let stored: Vec<(u64, String)> = stored_checkpoints_from(db, n)?;
    let before_trusted = stored
        .first()
        .filter(|(s, _)| *s == n)
        .and_then(|(_, note)| previous_of(note));
    let mut checkpoints = CheckpointWalk::new(origin, stored, &opts.trust.keys);
    replay_key_records(reader, &nodes, trusted, &fp, &mut checkpoints, &mut report)?;
    checkpoints.resume_after(before_trusted);
    checkpoints.up_to(n, Some(trusted.root), &mut report);
    let mut walk = Forward {
        size,
        expected: n,
        prev_leaf,
        range: range.ok(),
        checkpoints,
        heads: HashMap::new(),
        trusted_size: n,
        report,
    };
    let end = scan_end(db, size).max(n);
    let mut fold = |out: ChunkOut| -> Result<(), ReadError> {
        out.walked.into_iter().for_each(|d| walk.entry(d));
        if let Some(p) = opts.progress {
            p(walk.expected.min(size), size);
        }
        Ok(())
    };
    reader.par_chunks(
        n,
        Some(end),
        opts.threads,
        opts.chunk_entries,
        |cursor| Ok::<_, ReadError>(walk_chunk(cursor, &fp)),
        &mut fold,
    )?;
    let mut rest = reader.cursor_from(end);
    let out = walk_chunk(&mut rest, &fp);
    rest.status()?;
    fold(out)?;
    walk.finish(reader)
}

/// The `previous` extension of a stored checkpoint note, if it parses and has one.
fn previous_of(note: &str) -> Option<u64> {
    let (log_note, _) = idledger_proto::cosigned::strip_cosignatures(note);
    let parsed = idledger_proto::note::parse_note(&log_note).ok()?;
    let (_, lines) = Checkpoint::parse(&parsed.text).ok()?;
    Extensions::parse(&lines).ok()?.previous
}

/// Entry `index` of the trusted prefix, read and proven included in the trusted tree; `Err`
/// says why it is not.
fn proven_entry(
    reader: &LedgerReader<'_>,
    nodes: &StoredNodes<'_>,
    trusted: &Checkpoint,
    index: u64,
    fp: &Fingerprints,
) -> Result<Result<Walked, String>, ReadError> {
    let bytes = match reader.entry_bytes(Seq(index)) {
        Ok(b) => b,
        Err(ReadError::NoEntry(_)) => return Ok(Err(format!("entry {index} is missing"))),
        Err(e) => return Err(e),
    };
    let leaf = leaf_hash(&bytes);
    let path = match merkle::inclusion_proof(nodes, Seq(index), trusted.size) {
        Ok(Ok(path)) => path,
        Ok(Err(e)) => return Ok(Err(format!("entry {index}: {e}"))),
        Err(e) => {
            return Ok(Err(format!(
                "entry {index}: the stored tree cannot prove it: {e}"
            )));
        }
    };
    if merkle::verify_inclusion(&leaf, Seq(index), trusted.size, &path, &trusted.root).is_err() {
        return Ok(Err(format!(
            "entry {index} is not the entry the trusted checkpoint committed to"
        )));
    }
    let walked = walk_entry(index, &bytes, fp, &mut Vec::new());
    match &walked.facts {
        Ok(facts) if facts.seq == index => Ok(Ok(walked)),
        Ok(facts) => Ok(Err(format!(
            "entry at index {index} says it is entry {}",
            facts.seq
        ))),
        Err(e) => Ok(Err(format!("entry {index} does not decode: {e}"))),
    }
}

/// The key records before the trusted size, read through the key record index and each proven
/// in the trusted tree, into the checkpoint walk's key schedule. The trusted checkpoint signs
/// the list of their indexes, so a record left out of the index is caught at its check.
fn replay_key_records(
    reader: &LedgerReader<'_>,
    nodes: &StoredNodes<'_>,
    trusted: &Checkpoint,
    fp: &Fingerprints,
    checkpoints: &mut CheckpointWalk<'_>,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let meta = db.cf_handle(CF_META).expect("column family exists");
    let Some(indexes) = db
        .get_cf(meta, META_KEY_RECORDS)?
        .and_then(|v| decode_key_records(&v))
    else {
        report.add(
            FailureClass::IndexMismatch,
            0,
            "the key record index is missing or damaged; verify with --full".into(),
        );
        return Ok(());
    };
    for index in indexes.into_iter().filter(|i| *i < trusted.size.0) {
        match proven_entry(reader, nodes, trusted, index, fp)? {
            Ok(Walked {
                facts:
                    Ok(super::walk::Facts {
                        body: BodyFacts::System(record),
                        ..
                    }),
                ..
            }) => checkpoints.record(index, &record, report),
            Ok(_) => report.add(
                FailureClass::IndexMismatch,
                index,
                format!("the key record index names entry {index}, which is not a key record"),
            ),
            Err(why) => report.add(FailureClass::ModifiedEntry, index, why),
        }
    }
    Ok(())
}

impl Forward<'_> {
    fn entry(&mut self, d: Walked) {
        self.report.bytes_hashed += u64::from(d.len);
        if d.key >= self.size {
            self.report.add(
                FailureClass::InsertedEntry,
                d.key,
                format!(
                    "entry {} is beyond the committed tree size {}",
                    d.key, self.size
                ),
            );
            return;
        }
        if d.key > self.expected {
            self.report.add(
                FailureClass::MissingEntry,
                self.expected,
                format!("entries {} to {} are missing", self.expected, d.key - 1),
            );
            self.range = None;
            self.checkpoints.up_to(d.key, None, &mut self.report);
            self.expected = d.key;
        }
        self.report.entries_checked += 1;
        match &d.facts {
            Err(e) => self.report.add(
                FailureClass::ModifiedEntry,
                d.key,
                format!("entry {} does not decode: {e}", d.key),
            ),
            Ok(facts) if facts.seq != d.key => self.report.add(
                FailureClass::ReorderedEntries,
                d.key,
                format!("entry at index {} says it is entry {}", d.key, facts.seq),
            ),
            Ok(facts) => {
                if facts.prev != self.prev_leaf {
                    self.report.add(
                        FailureClass::ModifiedEntry,
                        d.key.saturating_sub(1),
                        format!(
                            "entry {} does not chain to entry {}",
                            d.key,
                            d.key.saturating_sub(1)
                        ),
                    );
                }
                if let Some(location) = &facts.secret {
                    self.report.add(
                        FailureClass::SecretMaterial,
                        d.key,
                        format!("entry {} holds secret material at {location}", d.key),
                    );
                }
                match &facts.body {
                    BodyFacts::System(record) => {
                        self.checkpoints.record(d.key, record, &mut self.report);
                    }
                    BodyFacts::Event {
                        links,
                        subject,
                        grant,
                        credential,
                        ..
                    } => {
                        self.link(d.key, *subject, links.prev_subject, "subject");
                        if let Some(g) = grant {
                            self.link(d.key, *g, links.prev_grant, "grant");
                        }
                        if let Some(c) = credential {
                            self.link(d.key, *c, links.prev_credential, "credential");
                        }
                    }
                    BodyFacts::Quarantined(_) => {}
                }
            }
        }
        self.prev_leaf = d.leaf;
        self.expected = d.key + 1;
        if let Some(range) = &mut self.range {
            range.push(d.leaf, |_, _, _| {});
        }
        let range = &self.range;
        self.checkpoints.up_to_with(
            self.expected,
            || range.as_ref().map(CompactRange::root),
            &mut self.report,
        );
    }

    /// A back-link: to the latest new entry about the id, or (when no new entry was about it)
    /// into the trusted prefix or nowhere.
    fn link(&mut self, seq: u64, id: u64, stated: Option<u64>, name: &'static str) {
        match (self.heads.insert(id, seq), stated) {
            (Some(actual), stated) if stated != Some(actual) => self.report.add(
                FailureClass::IndexMismatch,
                seq,
                format!("entry {seq}: back-link to previous {name} entry is {stated:?}, the log has Some({actual})"),
            ),
            (None, Some(target)) if target >= self.trusted_size => self.report.add(
                FailureClass::IndexMismatch,
                seq,
                format!("entry {seq}: back-link to previous {name} entry is {target}, which is not about it"),
            ),
            _ => {}
        }
    }

    fn finish(mut self, reader: &LedgerReader<'_>) -> Result<FsckReport, ReadError> {
        if self.expected < self.size {
            self.report.add(
                FailureClass::MissingEntry,
                self.expected,
                format!("entries {} to {} are missing", self.expected, self.size - 1),
            );
        }
        let positions = super::indexes::read_positions(reader.db(), self.size, &mut self.report)?;
        let digest = idledger_proto::positions::digest(
            positions.iter().map(|((t, p), n)| (t.as_str(), *p, *n)),
        );
        self.checkpoints.up_to(self.size, None, &mut self.report);
        self.checkpoints.finish(self.size, digest, &mut self.report);
        self.report.extends_trusted = Some(self.trusted_size);
        self.report.unproven.push(format!(
            "verified from your checkpoint of size {} forward: that back-links into the first {} entries name the latest entry about their id there, the stored tiles after it and the indexes are checked by a full verification (--full)",
            self.trusted_size, self.trusted_size
        ));
        Ok(self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_link_of_a_checkpoint_note_is_read_and_anything_else_is_none() {
        let signer = idledger_proto::NoteSigner::new(
            "o.example/l",
            ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
        )
        .expect("key");
        let root = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let linked = format!("o.example/l\n5\n{root}\nidledger-previous 3\n");
        let unlinked = format!("o.example/l\n5\n{root}\n");
        let sign = |text: &str| idledger_proto::note::sign_note(text, &[&signer]).expect("signs");
        let cases = [
            (sign(&linked), Some(3)),
            (sign(&unlinked), None),
            (linked.clone(), None),
            ("not a note".to_owned(), None),
        ];
        for (note, want) in cases {
            assert_eq!(previous_of(&note), want, "{note}");
        }
    }
}
