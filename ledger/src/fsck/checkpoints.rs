//! The stored checkpoints against the entries and the auditor's keys: each one's body, root,
//! link to the checkpoint before it and signatures; the log's key schedule (which keys must
//! sign each checkpoint) and the auditor's chain of custody (which keys vouch for it); and,
//! at the end, that a checkpoint signed by a key the auditor trusts covers the whole log and
//! the Kafka positions stored with it.

use idledger_proto::Hash;
use idledger_proto::checkpoint::{Checkpoint, Extensions, key_records_digest};
use idledger_proto::custody::{Custody, KeySchedule};
use idledger_proto::entry::SystemRecord;
use idledger_proto::note::{NoteError, VerifierKey, parse_note};

use super::report::{FailureClass, FsckReport};

/// The checkpoint at the log's size so far (the last one checked).
struct Latest {
    size: u64,
    vouched: bool,
    signers: Vec<VerifierKey>,
    extensions: Extensions,
}

/// The checkpoints of a log, checked in order as the walk reaches their sizes.
pub(super) struct CheckpointWalk<'a> {
    origin: &'a str,
    /// Stored checkpoints (size, note), in order of size.
    stored: Vec<(u64, String)>,
    next: usize,
    schedule: KeySchedule,
    custody: Custody,
    /// The auditor's own keys (to check that a signature claiming one verifies).
    auditor_keys: Vec<VerifierKey>,
    /// The size of the last stored checkpoint checked.
    last_size: Option<u64>,
    /// The size of the first checkpoint that named its predecessor.
    first_linked: Option<u64>,
    latest: Option<Latest>,
    /// The indexes of the key records walked so far.
    key_records: Vec<u64>,
}

impl<'a> CheckpointWalk<'a> {
    pub(super) fn new(
        origin: &'a str,
        stored: Vec<(u64, String)>,
        auditor_keys: &[VerifierKey],
    ) -> CheckpointWalk<'a> {
        CheckpointWalk {
            origin,
            stored,
            next: 0,
            schedule: KeySchedule::new(origin),
            custody: Custody::new(auditor_keys),
            auditor_keys: auditor_keys.to_vec(),
            last_size: None,
            first_linked: None,
            latest: None,
            key_records: Vec::new(),
        }
    }

    /// Resumes the walk at a trusted checkpoint whose stored note names `previous` as the
    /// checkpoint before it: that one counts as checked, and later checkpoints must link.
    pub(super) fn resume_after(&mut self, previous: Option<u64>) {
        if let Some(p) = previous {
            self.last_size = Some(p);
            self.first_linked = Some(0);
        }
    }

    /// A system record at entry `index` (in order).
    pub(super) fn record(&mut self, index: u64, record: &SystemRecord, report: &mut FsckReport) {
        if matches!(
            record,
            SystemRecord::Genesis { .. }
                | SystemRecord::KeyAdded { .. }
                | SystemRecord::KeyRetired { .. }
        ) {
            self.key_records.push(index);
        }
        match self.schedule.apply(index, record) {
            Ok(Some(change)) => self.custody.record(index, change),
            Ok(None) => {}
            Err(e) => report.add(FailureClass::ModifiedEntry, index, e.to_string()),
        }
    }

    /// Checks every stored checkpoint of a size up to `size` not checked yet. `root` is the
    /// root of the first `size` entries when it could be recomputed (not past a missing entry);
    /// checkpoints of smaller sizes (skipped over a hole) get no root check.
    pub(super) fn up_to(&mut self, size: u64, root: Option<Hash>, report: &mut FsckReport) {
        self.up_to_with(size, || root, report);
    }

    /// Whether a stored checkpoint not checked yet has a size up to `size`.
    pub(super) fn due(&self, size: u64) -> bool {
        self.stored.get(self.next).is_some_and(|(s, _)| *s <= size)
    }

    /// `up_to`, with the root computed only if a checkpoint of exactly `size` is stored (a root
    /// is a dozen hashes; most entries end no batch).
    pub(super) fn up_to_with(
        &mut self,
        size: u64,
        root: impl FnOnce() -> Option<Hash>,
        report: &mut FsckReport,
    ) {
        if !self.due(size) {
            return;
        }
        let exact = self.stored[self.next..]
            .iter()
            .take_while(|(s, _)| *s <= size)
            .any(|(s, _)| *s == size);
        let root = if exact { root() } else { None };
        while let Some((cp_size, _)) = self.stored.get(self.next) {
            let cp_size = *cp_size;
            if cp_size > size {
                break;
            }
            let note = std::mem::take(&mut self.stored[self.next].1);
            self.next += 1;
            report.checkpoints_checked += 1;
            let root = if cp_size == size { root } else { None };
            self.check(cp_size, &note, root, report);
        }
    }

    fn check(&mut self, size: u64, note: &str, root: Option<Hash>, report: &mut FsckReport) {
        let parsed = match parse_note(note) {
            Ok(p) => p,
            Err(e) => {
                let detail = match e {
                    NoteError::NoSignatures => format!("checkpoint {size} has no signature"),
                    e => format!("checkpoint {size} is not a signed note: {e}"),
                };
                report.add(FailureClass::MissingSignature, size, detail);
                return self.after(size, false, Vec::new(), Extensions::default());
            }
        };
        // Signature lines by the log's keys or the auditor's must verify; the keys the log's
        // records require must all have signed.
        let mut candidates = self.schedule.named().to_vec();
        for k in &self.auditor_keys {
            if k.name() == self.origin && !candidates.contains(k) {
                candidates.push(k.clone());
            }
        }
        let signers = match parsed.check_signatures(&candidates) {
            Ok((signers, others)) => {
                if let Some(stranger) = others.iter().find(|s| s.name == self.origin) {
                    report.add(
                        FailureClass::UnknownKey,
                        size,
                        format!(
                            "checkpoint {size} is signed by {}+{}, a key this log never named",
                            stranger.name,
                            hex::encode(stranger.key_id)
                        ),
                    );
                }
                signers
            }
            Err(e) => {
                report.add(
                    FailureClass::ForgedSignature,
                    size,
                    format!("checkpoint {size}: {e}"),
                );
                return self.after(size, false, Vec::new(), Extensions::default());
            }
        };
        let missing: Vec<String> = self
            .schedule
            .required()
            .iter()
            .filter(|k| !signers.contains(k))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            report.add(
                FailureClass::MissingSignature,
                size,
                format!(
                    "checkpoint {size} is not signed by {}, which the log's key records require there",
                    missing.join(", ")
                ),
            );
        }
        // A retired key signs nothing after the checkpoint that covers its retirement: one that
        // does was made to by someone who hid the retirement from the writer.
        let required = self.schedule.required();
        if let Some(retired) = signers
            .iter()
            .find(|k| !required.contains(k) && self.schedule.named().contains(k))
        {
            report.add(
                FailureClass::UnknownKey,
                size,
                format!(
                    "checkpoint {size} is signed by {retired}, which the log retired before it"
                ),
            );
        }
        let extensions = self.body(size, &parsed.text, root, report);
        let vouched = self.custody.checkpoint(size, &signers);
        self.after(size, vouched, signers, extensions);
    }

    /// The checkpoint's body: origin, size, root and extension lines, and its link to the one
    /// before it.
    fn body(
        &mut self,
        size: u64,
        text: &str,
        root: Option<Hash>,
        report: &mut FsckReport,
    ) -> Extensions {
        let (cp, lines) = match Checkpoint::parse(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                report.add(
                    FailureClass::MalformedCheckpoint,
                    size,
                    format!("checkpoint {size}: {e}"),
                );
                return Extensions::default();
            }
        };
        if cp.origin != self.origin || cp.size.0 != size {
            report.add(
                FailureClass::IndexMismatch,
                size,
                format!(
                    "checkpoint stored under size {size} is for {} size {}",
                    cp.origin, cp.size
                ),
            );
        } else if root.is_some_and(|r| r != cp.root) {
            report.add(
                FailureClass::ModifiedEntry,
                size,
                format!("checkpoint {size}: the entries do not hash to its signed root (an entry below {size} was changed)"),
            );
        }
        let extensions = match Extensions::parse(&lines) {
            Ok(e) => e,
            Err(e) => {
                report.add(
                    FailureClass::MalformedCheckpoint,
                    size,
                    format!("checkpoint {size}: {e}"),
                );
                return Extensions::default();
            }
        };
        self.link(size, extensions.previous, report);
        if let Some(signed) = extensions.keys
            && signed != key_records_digest(&self.key_records)
        {
            report.add(
                FailureClass::IndexMismatch,
                size,
                format!(
                    "checkpoint {size} signed a list of key records other than the log's ({} below it)",
                    self.key_records.len()
                ),
            );
        }
        extensions
    }

    /// Each checkpoint names the size of the one signed before it: a deleted checkpoint leaves
    /// a link to nothing, and a checkpoint of another history a link that skips one.
    fn link(&mut self, size: u64, previous: Option<u64>, report: &mut FsckReport) {
        let before = self.last_size.unwrap_or(0);
        match previous {
            None if self.first_linked.is_some() => report.add(
                FailureClass::MalformedCheckpoint,
                size,
                format!("checkpoint {size} does not name the checkpoint before it, though earlier checkpoints do"),
            ),
            None => {}
            Some(p) => {
                self.first_linked.get_or_insert(size);
                if p > before && p < size {
                    report.add(
                        FailureClass::MissingCheckpoint,
                        p,
                        format!("the checkpoint of size {p} is missing (checkpoint {size} follows it)"),
                    );
                } else if p != before {
                    report.add(
                        FailureClass::TruncatedOrRolledBack,
                        size,
                        format!("checkpoint {size} follows a checkpoint of size {p}, but the one before it is of size {before}: they belong to different histories"),
                    );
                }
            }
        }
    }

    fn after(
        &mut self,
        size: u64,
        vouched: bool,
        signers: Vec<VerifierKey>,
        extensions: Extensions,
    ) {
        self.schedule.checkpoint_signed();
        self.last_size = Some(size);
        self.latest = Some(Latest {
            size,
            vouched,
            signers,
            extensions,
        });
    }

    /// The end of the walk over a log of `size` entries whose stored positions digest to
    /// `positions`: the checkpoint at that size must exist and be vouched for by a trusted key,
    /// and must have signed those positions. Checkpoints stored beyond the log's end are
    /// reported as truncation.
    pub(super) fn finish(&mut self, size: u64, positions: Hash, report: &mut FsckReport) {
        for (cp_size, _) in &self.stored[self.next..] {
            report.add(
                FailureClass::TruncatedOrRolledBack,
                *cp_size,
                format!(
                    "a checkpoint was signed for size {cp_size} but the log has {size} entries"
                ),
            );
        }
        report.final_keys = self
            .schedule
            .active()
            .iter()
            .map(ToString::to_string)
            .collect();
        match &self.latest {
            Some(latest) if latest.size == size => {
                if latest.vouched {
                    report.vouching_keys = latest
                        .signers
                        .iter()
                        .filter(|k| self.custody.trusted().contains(k))
                        .map(ToString::to_string)
                        .collect();
                } else {
                    let trusted: Vec<String> = self
                        .custody
                        .trusted()
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    let signers: Vec<String> =
                        latest.signers.iter().map(ToString::to_string).collect();
                    report.add(
                        FailureClass::UnknownKey,
                        size,
                        format!(
                            "the checkpoint at the log's size {size} is not signed by a key you trust (valid signatures by: {}; trusted: {})",
                            if signers.is_empty() { "none".to_owned() } else { signers.join(", ") },
                            if trusted.is_empty() { "none".to_owned() } else { trusted.join(", ") }
                        ),
                    );
                }
                match latest.extensions.positions {
                    Some(signed) if signed != positions => report.add(
                        FailureClass::PositionsChanged,
                        size,
                        "the stored Kafka positions are not the ones the checkpoint at the log's size signed: ingest would skip or repeat messages".into(),
                    ),
                    Some(_) => {}
                    None => report.unproven.push(
                        "the Kafka positions are not covered by a signature: the latest checkpoint was signed before checkpoints carried them".into(),
                    ),
                }
            }
            latest => {
                let covered = latest.as_ref().map_or(0, |l| l.size);
                report.add(
                    FailureClass::MissingCheckpoint,
                    size,
                    format!(
                        "no signed checkpoint covers the log's {size} entries: the last one is {}",
                        if latest.is_some() {
                            format!("of size {covered}, so entries from {covered} are not signed")
                        } else {
                            "missing: nothing is signed".to_owned()
                        }
                    ),
                );
            }
        }
        let first_checkpoint = self.last_size.map(|_| ());
        match (self.first_linked, first_checkpoint) {
            (Some(first), _) if first > 1 => report.unproven.push(format!(
                "checkpoints of sizes below {first} were signed before each checkpoint named the one before it: a deleted checkpoint among them would not be noticed"
            )),
            (None, Some(())) => report.unproven.push(
                "no checkpoint names the one before it (all were signed before checkpoints were linked): a deleted checkpoint would not be noticed".into(),
            ),
            _ => {}
        }
    }
}
