//! Tests of the export records and their verification: every kind of entry, in every record
//! format and shape of stream, verifies; the native writer writes `Line::Entry`; record formats
//! by name. The shared log and streams are in `fixture`.

mod adversarial;
mod cef_text;
mod fixture;
mod properties;
mod records;
mod stream_attacks;
mod witnessed;

pub(crate) use fixture::*;

use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64_ENGINE;

/// Every kind of entry, in every format, in every shape of stream, verifies: whole with a
/// checkpoint in the middle, from an index past 0 (a frontier), with proofs, and filtered.
#[test]
fn every_kind_of_entry_verifies_in_every_format_and_shape() {
    let log = Log::every_kind();
    let n = log.len();
    let middle = [n / 2, n];
    let end = [n];
    let odd = |i: u64| !i.is_multiple_of(3);
    for format in RecordFormat::ALL {
        let shapes: [(&str, Shape<'_>, u64); 4] = [
            ("whole", Shape::whole(format, &middle), n),
            (
                "from 5",
                Shape {
                    from: 5,
                    ..Shape::whole(format, &end)
                },
                n - 5,
            ),
            (
                "with proofs",
                Shape {
                    proofs: true,
                    ..Shape::whole(format, &middle)
                },
                n,
            ),
            (
                "filtered",
                Shape {
                    keep: Some(&odd),
                    ..Shape::whole(format, &end)
                },
                (0..n).filter(|&i| odd(i)).count() as u64,
            ),
        ];
        for (name, shape, entries) in shapes {
            let verified = verify(&stream(&log, shape));
            assert!(
                verified.ok(),
                "{format} {name}: {:#?}",
                &verified.findings[..verified.findings.len().min(5)]
            );
            assert_eq!(verified.entries, entries, "{format} {name}");
        }
    }
}

/// A follow's resume record vouches for nothing and hides nothing: a stream ending with one
/// (as a cut-off follow's does) verifies as it would without it, and one put in place of a
/// record leaves that record missing, as any dropped record is.
#[test]
fn a_resume_record_is_passed_over() {
    let log = Log::every_kind();
    let n = log.len();
    let resume = serde_json::to_string(&Line::Resume { from: n }).expect("serializes");
    assert_eq!(resume, format!(r#"{{"kind":"resume","from":{n}}}"#));
    for format in RecordFormat::ALL {
        let mut lines = stream(&log, Shape::whole(format, &[n]));
        let plain = verify(&lines);
        lines.push(resume.clone());
        let with_resume = verify(&lines);
        assert!(with_resume.ok(), "{format}: {:?}", with_resume.findings);
        assert_eq!(with_resume, plain, "{format}");
        lines[3] = resume.clone();
        assert!(
            !verify(&lines).ok(),
            "{format}: a record replaced by a resume record"
        );
    }
}

/// Each record format by name, and the error for another.
#[test]
fn record_formats_parse_by_name() {
    for (text, expected) in [
        ("native", Ok(RecordFormat::Native)),
        ("ocsf", Ok(RecordFormat::Ocsf)),
        ("cef", Ok(RecordFormat::Cef)),
        (
            "OCSF",
            Err("unknown export format `OCSF`: expected native, ocsf or cef"),
        ),
        (
            "",
            Err("unknown export format ``: expected native, ocsf or cef"),
        ),
    ] {
        let parsed: Result<RecordFormat, String> =
            text.parse().map_err(|e: UnknownRecordFormat| e.to_string());
        assert_eq!(parsed, expected.map_err(str::to_owned), "{text:?}");
        if let Ok(format) = parsed {
            assert_eq!(format.to_string(), text);
        }
    }
}

/// A native entry line written member by member is the line `Line::Entry` describes.
#[test]
fn native_entry_lines_are_line_entries() {
    let log = Log::every_kind();
    for (i, entry) in log.entries.iter().enumerate() {
        let proof = log.proof(i as u64, log.len());
        for proof in [None, Some(&proof)] {
            let record = EntryRecord {
                origin: ORIGIN,
                index: i as u64,
                leaf: &log.leaves[i],
                leaf_hash: log.hashes[i],
                proof,
            };
            let mut buf = Vec::new();
            let view = crate::view::EntryView::decode(record.leaf).expect("a leaf views");
            write_native_entry(&mut buf, &record, &view);
            let line: Line = serde_json::from_slice(&buf).expect("a native line");
            assert_eq!(
                line,
                Line::Entry {
                    index: i as u64,
                    leaf_hash: log.hashes[i].to_base64(),
                    leaf: B64_ENGINE.encode(&log.leaves[i]),
                    entry: entry_json(entry),
                    proof: proof.cloned(),
                },
                "entry {i}"
            );
        }
    }
}

/// The fuzz target's OCSF and CEF seeds are streams this version writes and accepts (under the
/// test key; the fuzz target holds another, so it must refuse them).
#[test]
fn the_fuzz_seeds_are_streams_that_verify() {
    let seeds = [
        (
            "ocsf-range.jsonl",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seeds/export/ocsf-range.jsonl"
            )),
            8,
        ),
        (
            "ocsf-filtered.jsonl",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seeds/export/ocsf-filtered.jsonl"
            )),
            5,
        ),
        (
            "cef-range.cef",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seeds/export/cef-range.cef"
            )),
            11,
        ),
        (
            "cef-extract.cef",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fuzz/seeds/export/cef-extract.cef"
            )),
            2,
        ),
    ];
    for (name, text, entries) in seeds {
        let verified = verify_export(text, &keys());
        assert!(verified.ok(), "{name}: {:#?}", verified.findings);
        assert_eq!(verified.entries, entries, "{name}");
    }
}
