//! A stream cut anywhere and continued with `export_after` from its last record verifies whole,
//! in every record format: a cut right after the entry that ends a checkpoint gets that
//! checkpoint first, and a cut after a checkpoint gets no second copy of it. The leaf hashes
//! come from the stored tiles (a missing tile is made up by hashing, a changed one shows in
//! `verify-export`), and an entry missing from the log stops the export. Unit tests render in
//! chunks of 5 entries, so every range here spans chunks and both workers.

use super::*;
use idledger_ledger::{Item, Ledger, ReadError, Submission, store};
use idledger_proto::entry::Origin;
use idledger_proto::export::{VerifiedExport, verify_export};

/// A ledger of three batches of 7 events (the genesis entry first).
fn ledger(dir: &std::path::Path) -> Ledger {
    ledger_of(dir, 3, 7)
}

/// A ledger of `batches` batches of `per_batch` events (the genesis entry first).
fn ledger_of(dir: &std::path::Path, batches: u64, per_batch: u64) -> Ledger {
    let mut writer = Ledger::init(
        &dir.join("ledger"),
        &dir.join("keys"),
        "test.idledger.local/export",
    )
    .expect("init");
    for batch in 0..batches {
        let items = (0..per_batch)
            .map(|i| {
                let n = batch * per_batch + i;
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

/// The whole ledger exported natively (without proofs, which read the tiles too), and what
/// `verify-export` makes of it.
fn export_and_verify(writer: &Ledger) -> Result<VerifiedExport, QueryError> {
    let opts = ExportOptions {
        checkpoint_every: 100,
        ..ExportOptions::default()
    };
    let mut text = Vec::new();
    export(&writer.reader(), &opts, &mut Lines(&mut text))?;
    Ok(verify_export(
        &String::from_utf8(text).expect("UTF-8"),
        &writer.verifier_keys(),
    ))
}

/// 601 entries: level-0 tiles 0 and 1 full, tile 2 partial.
const TILED: (u64, u64) = (3, 200);

#[test]
fn leaf_hashes_missing_from_the_tiles_are_hashed_and_the_export_verifies() {
    for (tile, keep) in [(0u64, 0usize), (1, 0), (2, 0), (1, 100 * 32), (2, 40 * 32)] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let writer = ledger_of(tmp.path(), TILED.0, TILED.1);
        let db = writer.reader().db();
        let tiles = db.cf_handle(store::CF_TILES).expect("tiles");
        let key = store::tile_key(0, tile);
        let stored = db.get_cf(&tiles, key).expect("read").expect("tile");
        db.put_cf(&tiles, key, &stored[..keep]).expect("shorten");
        let verified = export_and_verify(&writer).expect("export");
        assert!(
            verified.ok(),
            "tile {tile} cut to {keep} bytes: {:?}",
            verified.findings
        );
        assert_eq!(verified.entries, 601, "tile {tile} cut to {keep} bytes");
    }
}

#[test]
fn a_changed_tile_hash_is_exported_as_stored_and_verify_export_names_the_entry() {
    for (index, finding) in [
        (0u64, "entry 0 was changed: its leaf does not hash"),
        (300, "entry 300 was changed: its leaf does not hash"),
        (600, "entry 600 was changed: its leaf does not hash"),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let writer = ledger_of(tmp.path(), TILED.0, TILED.1);
        let db = writer.reader().db();
        let tiles = db.cf_handle(store::CF_TILES).expect("tiles");
        let key = store::tile_key(0, index / 256);
        let mut stored = db.get_cf(&tiles, key).expect("read").expect("tile");
        stored[(index % 256) as usize * 32] ^= 1;
        db.put_cf(&tiles, key, &stored).expect("change");
        let verified = export_and_verify(&writer).expect("export");
        assert!(
            verified.findings.iter().any(|f| f.contains(finding)),
            "entry {index}: {:?}",
            verified.findings
        );
    }
}

#[test]
fn an_entry_missing_from_the_log_stops_the_export_naming_it() {
    // First in a chunk, inside one, last in one, and the last entry of the log.
    for missing in [5u64, 7, 9, 599, 600] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let writer = ledger_of(tmp.path(), TILED.0, TILED.1);
        let db = writer.reader().db();
        let entries = db.cf_handle(store::CF_ENTRIES).expect("entries");
        db.delete_cf(&entries, store::seq_key(missing))
            .expect("delete");
        match export_and_verify(&writer) {
            Err(QueryError::Read(ReadError::NoEntry(index))) => {
                assert_eq!(index, missing, "entry {missing} deleted")
            }
            other => panic!("entry {missing} deleted: {other:?}"),
        }
    }
}

#[test]
fn each_checkpoint_line_carries_the_cosignatures_stored_for_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let writer = ledger(tmp.path());
    let reader = writer.reader();
    // Checkpoints at 8, 15 and 22; a witness cosigned 15 (a cosignature line of another key:
    // verifiers without a policy naming it pass over it).
    let note = reader
        .checkpoint_at(TreeSize(15))
        .expect("read")
        .expect("a checkpoint at 15");
    // 76 bytes of 7, in base64: a cosignature/v1 payload's length.
    let cosignature = format!("\u{2014} witness.test/w1 {}Bw==", "BwcH".repeat(25));
    writer
        .cosignature_store()
        .add(TreeSize(15), &note, &cosignature)
        .expect("store");
    for (to, carries) in [(15, true), (22, false)] {
        let opts = ExportOptions {
            to: Some(to),
            ..ExportOptions::default()
        };
        let mut text = Vec::new();
        export(&reader, &opts, &mut Lines(&mut text)).expect("export");
        let text = String::from_utf8(text).expect("UTF-8");
        let last = text.lines().last().expect("a checkpoint line");
        assert!(last.contains(r#""kind":"checkpoint""#), "{last}");
        assert_eq!(
            last.contains("witness.test/w1 "),
            carries,
            "to {to}: {last}"
        );
        let verified = verify_export(&text, &writer.verifier_keys());
        assert!(verified.ok(), "to {to}: {:?}", verified.findings);
    }
}
