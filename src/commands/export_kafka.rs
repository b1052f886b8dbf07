//! `idledger export --to-kafka TOPIC` (docs/EXPORT.md, "Kafka sink"): the export stream as one
//! Kafka message per record, keyed by what the record is (`start/<from>`, `entry/<index>`,
//! `checkpoint/<size>`), all to partition 0 of a one-partition topic, resuming after the last
//! record the topic holds, so that after any crash and restart the topic holds every entry once,
//! in order. The producer is `idledger_ingest::export_producer`; this file adapts it to the
//! export writer (`ExportSink`) and decides where a run starts.

use anyhow::{Context as _, bail};
use idledger_ingest::export_producer::{
    ExportProducer, ExportProducerError, ExportTarget, LastRecord,
};
use idledger_ledger::ReadOnlyLedger;
use idledger_query::QueryError;
use idledger_query::export::{ExportOptions, ExportSink, ExportSummary, Record};
use std::path::Path;
use std::time::Duration;

/// The message key of a record: what it is, so that resuming never parses a value.
pub fn record_key(record: Record) -> String {
    match record {
        Record::Start { from } => format!("start/{from}"),
        Record::Entry { index } => format!("entry/{index}"),
        Record::Checkpoint { size } => format!("checkpoint/{size}"),
    }
}

/// The record a message key names, or why it names none. Only the keys `record_key` writes
/// are read back (decimal digits, no sign or leading zero), and none that no export writes: a
/// checkpoint of size 0, or an entry after which no index follows.
pub fn parse_record_key(key: &[u8]) -> Result<Record, &'static str> {
    let text = std::str::from_utf8(key).map_err(|_| "it is not UTF-8")?;
    let (kind, number) = text
        .split_once('/')
        .ok_or("it has no `/` between a kind and a number")?;
    let record: fn(u64) -> Option<Record> = match kind {
        "start" => |from| Some(Record::Start { from }),
        "entry" => |index| (index < u64::MAX).then_some(Record::Entry { index }),
        "checkpoint" => |size| (size > 0).then_some(Record::Checkpoint { size }),
        _ => return Err("its kind is not start, entry or checkpoint"),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err("its number is not a decimal number");
    }
    let n: u64 = number
        .parse()
        .map_err(|_| "its number is larger than any index")?;
    let record = record(n).ok_or("no export writes a record with that number")?;
    if record_key(record) != text {
        return Err("its number has a leading zero");
    }
    Ok(record)
}

/// Where an export resumes after `last`, the last record of `topic`: the index after it.
fn resume_point(topic: &str, last: &LastRecord) -> anyhow::Result<Record> {
    let found = |why: &str| {
        let key = last.key.as_deref().map_or_else(
            || "no key".to_owned(),
            |k| {
                let text = String::from_utf8_lossy(k);
                let shown: String = text.chars().take(80).collect();
                format!("key `{shown}`")
            },
        );
        anyhow::anyhow!(
            "the last record of {topic} (offset {}) has {key}, which is not a key an export \
             writes ({why}; expected start/<index>, entry/<index> or checkpoint/<size>): the \
             topic holds something other than an idledger export, so there is nowhere to resume",
            last.offset
        )
    };
    let key = last
        .key
        .as_deref()
        .ok_or_else(|| found("a record without a key"))?;
    parse_record_key(key).map_err(found)
}

/// The export writer's records, produced to the topic as they come.
struct KafkaSink<'p> {
    producer: &'p mut ExportProducer,
    /// The index the stream goes on from: after the last record given to the producer.
    next: u64,
    /// The last record given to the producer (or the topic's last, on a resume).
    last: Option<Record>,
    /// The producer's error behind the last `QueryError` this sink returned.
    failure: Option<ExportProducerError>,
}

impl KafkaSink<'_> {
    fn failed(&mut self, e: ExportProducerError) -> QueryError {
        let text = e.to_string();
        self.failure = Some(e);
        QueryError::Encode(text)
    }

    /// Sorts a failed round's error: `Err` with the producer's failure behind it, which stops
    /// the export at once (no record may be skipped), or `Ok` with `e` itself, a failure to
    /// read the ledger that a later round may not meet.
    fn retryable(&mut self, e: QueryError) -> Result<anyhow::Error, anyhow::Error> {
        match self.failure.take() {
            Some(kafka) => Err(anyhow::Error::new(kafka).context("the export to Kafka stopped")),
            None => Ok(e.into()),
        }
    }
}

impl ExportSink for KafkaSink<'_> {
    fn record(&mut self, record: Record, line: &[u8]) -> Result<(), QueryError> {
        let key = record_key(record);
        if let Err(e) = self.producer.send(key.as_bytes(), line) {
            return Err(self.failed(e));
        }
        self.next = record.resume_from();
        self.last = Some(record);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), QueryError> {
        match self.producer.flush() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e)),
        }
    }
}

/// Exports to `target`: the new stream from `options.from`, or, when the topic already holds
/// records, the rest of the stream after its last one; then, with `follow`, each new round as
/// checkpoints are signed, every round acknowledged before the next.
pub fn export(
    dir: &Path,
    ro: ReadOnlyLedger,
    options: &ExportOptions,
    follow: Option<Duration>,
    target: &ExportTarget,
) -> anyhow::Result<()> {
    let topic = target.topic.as_str();
    let mut producer = ExportProducer::connect(target)?;
    let resume = match producer.last_key()? {
        None => None,
        Some(last) => Some((resume_point(topic, &last)?, last.offset)),
    };
    let reader = ro.reader();
    let from = match resume {
        None => {
            tracing::info!(topic, from = options.from, "export starts a new stream");
            eprintln!(
                "{topic} holds no record: a new stream starts at index {}",
                options.from
            );
            options.from
        }
        Some((last, offset)) => {
            let from = last.resume_from();
            let size = reader.size()?.0;
            if from > size {
                bail!(
                    "the last record of {topic} ({}) is beyond this ledger's {size} entries: the \
                     topic holds the export of another ledger",
                    record_key(last)
                );
            }
            tracing::info!(topic, offset, last_key = %record_key(last), from, "export resumes after the topic's last record");
            eprintln!(
                "resuming {topic} after its last record {} (offset {offset}): from index {from}",
                record_key(last)
            );
            from
        }
    };
    let mut sink = KafkaSink {
        producer: &mut producer,
        next: from,
        last: resume.map(|(last, _)| last),
        failure: None,
    };
    let first = match resume {
        None => idledger_query::export::export(&reader, options, &mut sink).map(Some),
        Some((last, _)) => idledger_query::export::export_after(&reader, options, last, &mut sink),
    };
    match first {
        Ok(Some(summary)) => report(topic, &summary, &sink),
        Ok(None) => eprintln!(
            "{topic} is up to date: nothing beyond index {} is under a signed checkpoint yet",
            from.saturating_sub(1)
        ),
        Err(e) => return Err(sink.retryable(e)?),
    }
    // A follow reads each round with a fresh reader (see `follow_rounds`).
    drop(ro);
    let Some(interval) = follow else {
        return Ok(());
    };
    follow_rounds(dir, options, interval, &mut sink)
}

/// `--follow`: every `interval`, a fresh reader and the entries up to the latest checkpoint,
/// produced and acknowledged. A round that fails to read is retried from after the last record
/// produced (ten failures in a row stop it); a Kafka failure stops it at once.
fn follow_rounds(
    dir: &Path,
    options: &ExportOptions,
    interval: Duration,
    sink: &mut KafkaSink<'_>,
) -> anyhow::Result<()> {
    let mut failures = 0u32;
    loop {
        std::thread::sleep(interval);
        let ro = ReadOnlyLedger::open(dir)
            .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
        let round = match sink.last {
            Some(last) => idledger_query::export::export_after(&ro.reader(), options, last, sink),
            None => idledger_query::export::export_more(&ro.reader(), options, sink.next, sink),
        };
        match round {
            Ok(Some(more)) => {
                report(sink.producer.topic(), &more, sink);
                failures = 0;
            }
            Ok(None) => failures = 0,
            Err(e) => {
                let e = sink.retryable(e)?;
                if failures >= 10 {
                    return Err(e).context("the follow failed ten times in a row");
                }
                failures += 1;
                tracing::warn!(error = %e, next = sink.next, "this round of the follow failed; retrying");
            }
        }
    }
}

fn report(topic: &str, summary: &ExportSummary, sink: &KafkaSink<'_>) {
    let counts = sink.producer.counts();
    tracing::info!(
        topic,
        entries = summary.entries,
        checkpoints = summary.checkpoints,
        end = summary.end,
        records_produced = counts.sent,
        records_acknowledged = counts.delivered,
        "export produced and acknowledged"
    );
    eprintln!(
        "exported {} entries up to index {} with {} signed checkpoints to {topic} ({} records \
         acknowledged since start)",
        summary.entries,
        summary.end.saturating_sub(1),
        summary.checkpoints,
        counts.delivered
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_key_reads_back_as_its_record() {
        let records = [
            Record::Start { from: 0 },
            Record::Start { from: 41 },
            Record::Entry { index: 0 },
            Record::Entry { index: 12_345 },
            Record::Entry {
                index: u64::MAX - 1,
            },
            Record::Checkpoint { size: 1 },
            Record::Checkpoint { size: u64::MAX },
        ];
        for record in records {
            let key = record_key(record);
            assert_eq!(parse_record_key(key.as_bytes()), Ok(record), "{key}");
        }
        let keys = [
            (Record::Start { from: 7 }, "start/7"),
            (Record::Entry { index: 7 }, "entry/7"),
            (Record::Checkpoint { size: 8 }, "checkpoint/8"),
        ];
        for (record, key) in keys {
            assert_eq!(record_key(record), key);
        }
    }

    #[test]
    fn keys_no_export_writes_are_refused_saying_why() {
        let cases: [(&[u8], &str); 14] = [
            (b"", "no `/`"),
            (b"entry", "no `/`"),
            (b"entry/", "not a decimal number"),
            (b"entry/-1", "not a decimal number"),
            (b"entry/+1", "not a decimal number"),
            (b"entry/ 1", "not a decimal number"),
            (b"entry/1/2", "not a decimal number"),
            (b"entry/0x10", "not a decimal number"),
            (b"entry/007", "leading zero"),
            (b"entry/99999999999999999999", "larger than any index"),
            (b"entry/18446744073709551615", "no export writes"),
            (b"checkpoint/0", "no export writes"),
            (b"Entry/1", "not start, entry or checkpoint"),
            (b"entry/\xff", "not UTF-8"),
        ];
        for (key, says) in cases {
            let e = parse_record_key(key).expect_err(says);
            assert!(e.contains(says), "{:?}: {e}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn a_bad_last_key_names_the_topic_offset_and_key() {
        let cases = [
            (Some(b"hello/world".to_vec()), "has key `hello/world`"),
            (None, "has no key"),
            (
                Some(vec![b'x'; 500]),
                &format!("has key `{}`", "x".repeat(80)),
            ),
        ];
        for (key, says) in cases {
            let last = LastRecord { offset: 41, key };
            let e = resume_point("stream", &last).expect_err(says).to_string();
            assert!(
                e.starts_with("the last record of stream (offset 41)"),
                "{e}"
            );
            assert!(e.contains(says), "{e}");
            assert!(!e.contains(&"x".repeat(81)), "{e}");
        }
    }
}
