//! A stream cut anywhere and continued with `export_after` from its last record verifies whole,
//! in every record format: a cut right after the entry that ends a checkpoint gets that
//! checkpoint first, and a cut after a checkpoint gets no second copy of it.

use super::*;
use idledger_ledger::{Item, Ledger, Submission};
use idledger_proto::entry::Origin;
use idledger_proto::export::verify_export;

/// A ledger of three batches of 7 events (the genesis entry first).
fn ledger(dir: &std::path::Path) -> Ledger {
    let mut writer = Ledger::init(
        &dir.join("ledger"),
        &dir.join("keys"),
        "test.idledger.local/export",
    )
    .expect("init");
    for batch in 0..3 {
        let items = (0..7)
            .map(|i| {
                let n = batch * 7 + i;
                let line = format!(
                    r#"{{"id":"e{n}","source":"hr","type":"identity.updated","time":"2026-01-08T09:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"u{n}","kind":"human"}}}}"#
                );
                Submission {
                    origin: Origin::Local {
                        label: "test".into(),
                        line: n,
                    },
                    item: Item::Event(idledger_proto::decode_event(line.as_bytes()).expect("an event")),
                }
            })
            .collect();
        writer.append(items, &[]).expect("append");
    }
    writer
}

#[test]
fn a_stream_continued_after_its_last_record_verifies_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let writer = ledger(tmp.path());
    let reader = writer.reader();
    let keys = writer.verifier_keys();
    let size = reader.size().expect("size").0;
    for format in RecordFormat::ALL {
        let opts = ExportOptions {
            checkpoint_every: 1,
            format,
            ..ExportOptions::default()
        };
        let mut whole = Collected::default();
        export(&reader, &opts, &mut whole).expect("export");
        let records: Vec<(Record, Vec<u8>)> = whole.iter().map(|(r, l)| (r, l.to_vec())).collect();
        // Cut after every record but the last (the final checkpoint), and continue.
        for cut in 1..records.len() {
            let mut stream = Collected::default();
            for (record, line) in &records[..cut] {
                stream.record(*record, line).expect("memory");
            }
            let last = records[cut - 1].0;
            export_after(&reader, &opts, last, &mut stream).expect("continues");
            let continued: Vec<Record> = stream.iter().skip(cut).map(|(r, _)| r).collect();
            if let Record::Entry { index } = last
                && records[cut].0 == (Record::Checkpoint { size: index + 1 })
            {
                assert_eq!(
                    continued.first(),
                    Some(&records[cut].0),
                    "{format}, cut {cut}"
                );
            }
            assert_eq!(
                continued.last(),
                Some(&Record::Checkpoint { size }),
                "{format}, cut {cut}"
            );
            let mut text = Vec::new();
            stream.replay(&mut Lines(&mut text)).expect("lines");
            let verified = verify_export(&String::from_utf8(text).expect("UTF-8"), &keys);
            assert!(
                verified.ok(),
                "{format}, cut after {last:?}: {:?}",
                verified.findings
            );
            assert_eq!(verified.entries, size, "{format}, cut {cut}");
        }
    }
}
