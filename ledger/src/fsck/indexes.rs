//! The indexes against the entries: heads, deduplication keys and resources compared as keyed
//! multisets of record fingerprints (any disagreement then located record by record), the
//! back-links the walk rebuilds, the stored Kafka positions, and the key record index.

use crate::reader::{LedgerReader, ReadError};
use crate::store::*;
use idledger_proto::view::EntryView;
use std::collections::{BTreeMap, HashMap};

use super::report::{FailureClass, FsckReport, MAX_KEPT_FINDINGS, UnavailableOffsets};
use super::walk::{BodyFacts, Conflict, Facts, FingerprintMap, Fingerprints};

/// Kafka positions as stored: (topic, partition) → next offset.
pub(super) type StoredPositions = BTreeMap<(String, i32), i64>;

/// Index state rebuilt from the entries while walking.
#[derive(Default)]
pub(super) struct Rebuilt {
    pub(super) heads: FingerprintMap<u64>,
    /// Multiset sums (wrapping) of the `dedupe` and `resources` record fingerprints.
    pub(super) dedupe_sum: u64,
    pub(super) resources_sum: u64,
    pub(super) resources: u64,
    pub(super) events: u64,
    pub(super) max_offsets: HashMap<(u64, i32), i64>,
    pub(super) topics: HashMap<u64, String>,
    /// Offsets in all `OffsetsUnavailable` entries.
    pub(super) unavailable_total: u64,
    /// The indexes of the key records (`Genesis`, `KeyAdded`, `KeyRetired`).
    pub(super) key_records: Vec<u64>,
    /// Quarantined conflicting duplicates, checked after the walk.
    pub(super) conflicts: Vec<(u64, Box<Conflict>)>,
}

impl Rebuilt {
    /// What one entry (at index `seq`, in order) implies for the indexes: its back-links
    /// against the heads so far, the records the indexes must hold for it, the Kafka offsets
    /// it accounts for, and the holes in the input it records.
    pub(super) fn entry(&mut self, seq: u64, facts: &Facts, report: &mut FsckReport) {
        if let Some((topic, partition, offset)) = facts.kafka {
            let slot = self.max_offsets.entry((topic, partition)).or_insert(-1);
            *slot = (*slot).max(offset);
        }
        match &facts.body {
            BodyFacts::Event {
                links,
                subject,
                grant,
                credential,
                resource,
                dedupe,
            } => {
                self.events += 1;
                self.dedupe_sum = self.dedupe_sum.wrapping_add(*dedupe);
                let heads = &mut self.heads;
                let mut link = |id: u64, stated: Option<u64>, name: &str| {
                    let actual = heads.insert(id, seq);
                    if actual != stated {
                        report.add(
                            FailureClass::IndexMismatch,
                            seq,
                            format!("entry {seq}: back-link to previous {name} entry is {stated:?}, the log has {actual:?}"),
                        );
                    }
                    actual
                };
                link(*subject, links.prev_subject, "subject");
                if let Some(g) = grant {
                    let first_of_grant = link(*g, links.prev_grant, "grant").is_none();
                    if let (true, Some(r)) = (first_of_grant, resource) {
                        self.resources += 1;
                        self.resources_sum = self.resources_sum.wrapping_add(*r);
                    }
                }
                if let Some(c) = credential {
                    link(*c, links.prev_credential, "credential");
                }
            }
            BodyFacts::System(idledger_proto::SystemRecord::OffsetsUnavailable {
                topic,
                partition,
                first,
                end,
            }) => {
                // Values from the database: a range that is empty, starts below zero or is too
                // wide to count is a finding, never an overflow.
                let count = end
                    .checked_sub(*first)
                    .filter(|n| *n > 0 && *first >= 0)
                    .map(|n| n as u64);
                let Some(count) = count else {
                    report.add(
                        FailureClass::ModifiedEntry,
                        seq,
                        format!(
                            "entry {seq}: an invalid range of unavailable offsets ({first}..{end})"
                        ),
                    );
                    return;
                };
                self.unavailable_total = self.unavailable_total.saturating_add(count);
                if report.unavailable_offsets.len() < MAX_KEPT_FINDINGS {
                    report.unavailable_offsets.push(UnavailableOffsets {
                        index: seq,
                        topic: topic.clone(),
                        partition: *partition,
                        first: *first,
                        end: *end,
                    });
                }
            }
            BodyFacts::System(idledger_proto::SystemRecord::OutOfScope { offsets, .. }) => {
                // Values from the database: each range must be non-empty and not below zero.
                if let Some((first, end)) = offsets
                    .iter()
                    .find(|(first, end)| first >= end || *first < 0)
                {
                    report.add(
                        FailureClass::ModifiedEntry,
                        seq,
                        format!(
                            "entry {seq}: an invalid range of out-of-scope offsets ({first}..{end})"
                        ),
                    );
                }
            }
            BodyFacts::System(_) => self.key_records.push(seq),
            BodyFacts::Quarantined(None) => {}
            BodyFacts::Quarantined(Some(conflict)) => {
                self.conflicts.push((seq, conflict.clone()));
            }
        }
    }
}
/// Count and wrapping sum of record fingerprints of one index column family.
type Multiset = (u64, u64);

/// The stored side of the index comparison: each index as a multiset of record fingerprints.
/// It reads only the index column families, so it runs while the entries are walked.
pub(super) struct StoredIndexes {
    heads: Multiset,
    dedupe: Multiset,
    resources: Multiset,
}

/// A `heads` record's fingerprint: the fingerprint of its key (which the walk also computes, from
/// the id) followed by the value's bytes.
fn head_record(fp: &Fingerprints, key_print: u64, value: &[u8]) -> u64 {
    fp.of_parts(&[&key_print.to_le_bytes(), value])
}

pub(super) fn stored_indexes(
    db: &rocksdb::DB,
    fp: &Fingerprints,
) -> Result<StoredIndexes, ReadError> {
    let multiset = |name: &'static str, record: &dyn Fn(&[u8], &[u8]) -> u64| {
        let cf = db.cf_handle(name).expect("column family exists");
        let (mut count, mut sum) = (0u64, 0u64);
        let mut ro = rocksdb::ReadOptions::default();
        ro.fill_cache(false);
        ro.set_readahead_size(2 << 20);
        let mut it = db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            count += 1;
            sum = sum.wrapping_add(record(k, v));
            it.next();
        }
        it.status()?;
        Ok::<_, ReadError>((count, sum))
    };
    let key_and_value = |k: &[u8], v: &[u8]| fp.of_parts(&[k, v]);
    Ok(StoredIndexes {
        heads: multiset(CF_HEADS, &|k, v| head_record(fp, fp.of(k), v))?,
        dedupe: multiset(CF_DEDUPE, &key_and_value)?,
        resources: multiset(CF_RESOURCES, &key_and_value)?,
    })
}

pub(super) fn check_indexes(
    reader: &LedgerReader<'_>,
    size: u64,
    rebuilt: &Rebuilt,
    fp: &Fingerprints,
    stored: &StoredIndexes,
    positions: &StoredPositions,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let rebuilt_heads = rebuilt.heads.iter().fold(
        (rebuilt.heads.len() as u64, 0u64),
        |(count, sum), (&id, &seq)| {
            (
                count,
                sum.wrapping_add(head_record(fp, id, &seq.to_be_bytes())),
            )
        },
    );
    if stored.heads != rebuilt_heads {
        locate_head_mismatches(reader, size, rebuilt, fp, report)?;
    }
    if stored.dedupe != (rebuilt.events, rebuilt.dedupe_sum) {
        locate_dedupe_mismatches(reader, size, report)?;
    }
    let (count, sum) = stored.resources;
    if (count, sum) != (rebuilt.resources, rebuilt.resources_sum) {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "the resource index ({count} records) does not match the {} grants' first entries in the log",
                rebuilt.resources
            ),
        );
    }

    for ((topic, partition), max) in &rebuilt.max_offsets {
        let topic = rebuilt.topics.get(topic).map_or("?", String::as_str);
        let stored = positions.get(&(topic.to_owned(), *partition)).copied();
        match stored {
            Some(next) if next > *max => {}
            _ => report.add(
                FailureClass::IndexMismatch,
                size,
                format!(
                    "position for {topic}/{partition} is {stored:?} but entries reach offset {max}"
                ),
            ),
        }
    }
    Ok(())
}

/// The second pass, run only when the head index disagrees with the log: every stored head
/// must be the last entry of its id, and there must be one per id.
fn locate_head_mismatches(
    reader: &LedgerReader<'_>,
    size: u64,
    rebuilt: &Rebuilt,
    fp: &Fingerprints,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let before = report.counts.values().sum::<u64>();
    let mut stored_heads = 0u64;
    let mut it = db.raw_iterator_cf(db.cf_handle(CF_HEADS).expect("column family exists"));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        stored_heads += 1;
        let want = rebuilt.heads.get(&fp.of(k)).copied();
        if want.is_none() || want != be_u64(v).filter(|_| v.len() == 8) {
            let id = String::from_utf8_lossy(&k[1.min(k.len())..]).into_owned();
            report.add(
                FailureClass::IndexMismatch,
                be_u64(v).unwrap_or(size),
                format!(
                    "head index for `{id}` is {:?}, the log says {want:?}",
                    be_u64(v)
                ),
            );
        }
        it.next();
    }
    it.status()?;
    if stored_heads != rebuilt.heads.len() as u64 {
        report.add(
            FailureClass::IndexMismatch,
            size,
            format!(
                "{stored_heads} head index entries for {} ids in the log",
                rebuilt.heads.len()
            ),
        );
    }
    if report.counts.values().sum::<u64>() == before {
        report.add(
            FailureClass::IndexMismatch,
            size,
            "the head index does not match the log".into(),
        );
    }
    Ok(())
}

/// The slow second pass, run only when the deduplication index disagrees with the log: every
/// event must be the target of its own key, and every key must point at the event it names.
fn locate_dedupe_mismatches(
    reader: &LedgerReader<'_>,
    size: u64,
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let cf = |n| db.cf_handle(n).expect("column family exists");
    let before = report.counts.values().sum::<u64>();
    let mut it = db.raw_iterator_cf(cf(CF_ENTRIES));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        if let (Some(seq), Ok(view)) = (be_u64(k), EntryView::decode(v))
            && let (true, Some(ev)) = (seq < size && view.seq == seq, view.event())
        {
            let stored = db.get_cf(cf(CF_DEDUPE), dedupe_key(ev.source, ev.id))?;
            if stored.as_deref().and_then(be_u64) != Some(seq) {
                report.add(
                    FailureClass::IndexMismatch,
                    seq,
                    format!("entry {seq}: deduplication index does not point at it"),
                );
            }
        }
        it.next();
    }
    it.status()?;
    let mut it = db.raw_iterator_cf(cf(CF_DEDUPE));
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let target = be_u64(v).filter(|_| v.len() == 8);
        let entry = match target {
            Some(seq) => db.get_cf(cf(CF_ENTRIES), seq_key(seq))?,
            None => None,
        };
        let names_it = entry.as_deref().and_then(|e| {
            let view = EntryView::decode(e).ok()?;
            let ev = view.event()?;
            Some(dedupe_key(ev.source, ev.id) == k)
        });
        if names_it != Some(true) {
            report.add(
                FailureClass::IndexMismatch,
                target.unwrap_or(size),
                format!(
                    "deduplication key {:?} points at {target:?}, which is not that event",
                    String::from_utf8_lossy(k)
                ),
            );
        }
        it.next();
    }
    it.status()?;
    if report.counts.values().sum::<u64>() == before {
        report.add(
            FailureClass::IndexMismatch,
            size,
            "the deduplication index does not match the log".into(),
        );
    }
    Ok(())
}

/// The stored positions; a damaged record is a finding (and left out).
pub(super) fn read_positions(
    db: &rocksdb::DB,
    size: u64,
    report: &mut FsckReport,
) -> Result<StoredPositions, ReadError> {
    let cf = db.cf_handle(CF_POSITIONS).expect("column family exists");
    let mut it = db.raw_iterator_cf(cf);
    it.seek_to_first();
    let mut out = StoredPositions::new();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        let next = be_u64(v)
            .filter(|_| v.len() == 8)
            .and_then(|n| i64::try_from(n).ok());
        match (parse_position_key(k), next) {
            (Some(key), Some(next)) => {
                out.insert(key, next);
            }
            _ => report.add(
                FailureClass::IndexMismatch,
                size,
                format!(
                    "a stored position is damaged (key {:?}, {} value bytes)",
                    String::from_utf8_lossy(k),
                    v.len()
                ),
            ),
        }
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// Every quarantined conflicting duplicate must name an earlier event with the same source and
/// id and other content: the writer decides this from the deduplication index, which is not
/// signed, so a false one is a sign that someone pointed the index elsewhere.
pub(super) fn check_conflicts(
    reader: &LedgerReader<'_>,
    conflicts: &[(u64, Box<Conflict>)],
    report: &mut FsckReport,
) -> Result<(), ReadError> {
    let db = reader.db();
    let entries = db.cf_handle(CF_ENTRIES).expect("column family exists");
    for (seq, c) in conflicts {
        let named = if c.first < *seq {
            db.get_cf(entries, seq_key(c.first))?
        } else {
            None
        };
        let earlier = named.as_deref().and_then(|leaf| {
            let view = EntryView::decode(leaf).ok()?;
            let ev = view.event()?;
            (ev.source == c.source && ev.id == c.id)
                .then(|| idledger_proto::entry::encode_event(&ev.to_event()))
        });
        let why = match earlier {
            None => "which is not an earlier event with the same source and id",
            Some(bytes) if bytes == c.event => {
                "which is the same event: it was a duplicate to skip"
            }
            Some(_) => continue,
        };
        report.add(
            FailureClass::IndexMismatch,
            *seq,
            format!(
                "entry {seq} is quarantined as a conflicting duplicate of entry {}, {why}",
                c.first
            ),
        );
    }
    Ok(())
}
