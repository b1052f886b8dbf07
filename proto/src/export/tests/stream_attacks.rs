//! Attacks on a stream as a whole rather than on one record's fields: JSON that serde_json and
//! a SIEM read differently (a key twice, serde_json's private raw-value key), a checkpoint of
//! another trusted log ahead of the start line, an index at the end of the u64 range; and what
//! a verified stream establishes (contiguous from where to where, or each entry on its own).

use super::*;
use crate::checkpoint::Checkpoint;
use crate::note::{NoteSigner, VerifierKey, sign_note};
use crate::tree_size::TreeSize;
use serde_json::{Value, json};

/// The finding every line that readers read differently gets.
const READ_ALIKE: &str = "not an export line every JSON reader reads alike";

/// Each attack edits the lines of a whole stream of `format` and names the 1-based line whose
/// finding must contain the text given.
type Tamper = fn(&mut Vec<String>) -> usize;

fn attacked(format: RecordFormat, name: &str, tamper: Tamper, finding: &str) {
    let log = Log::every_kind();
    let n = log.len();
    let mut lines = stream(&log, Shape::whole(format, &[n / 2, n]));
    assert!(
        verify(&lines).ok(),
        "{format} {name}: untouched, it verifies"
    );
    let line_no = tamper(&mut lines);
    let verified = verify(&lines);
    let prefix = format!("line {line_no}: ");
    assert!(
        verified
            .findings
            .iter()
            .any(|f| f.starts_with(&prefix) && f.contains(finding)),
        "{format} {name}: expected `{prefix}…{finding}…` in {:#?}",
        verified.findings
    );
}

#[test]
fn json_that_readers_read_differently_is_refused() {
    let attacks: [(RecordFormat, &str, Tamper, &str); 6] = [
        (
            RecordFormat::Native,
            "a member of the entry twice, the original last (serde_json keeps the last)",
            |lines| {
                let at = position(lines, 3);
                let line: Value = serde_json::from_str(&lines[at]).expect("JSON");
                let first = line["entry"]
                    .as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .expect("an entry member");
                lines[at] = lines[at].replacen(
                    r#""entry":{"#,
                    &format!(r#""entry":{{"{first}":"mallory","#),
                    1,
                );
                at + 1
            },
            "twice in one object",
        ),
        (
            RecordFormat::Native,
            "the entry as a string under serde_json's raw-value key",
            |lines| {
                let at = position(lines, 3);
                let mut line: Value = serde_json::from_str(&lines[at]).expect("JSON");
                let entry = line["entry"].to_string();
                line["entry"] = json!({ "$serde_json::private::RawValue": entry });
                lines[at] = line.to_string();
                at + 1
            },
            READ_ALIKE,
        ),
        (
            RecordFormat::Ocsf,
            "a forged class_uid ahead of the original",
            |lines| {
                let at = position(lines, 3);
                lines[at] = lines[at].replacen('{', r#"{"class_uid":0,"#, 1);
                at + 1
            },
            "twice in one object",
        ),
        (
            RecordFormat::Ocsf,
            "a forged metadata ahead of the original (not where the writer puts the first key)",
            |lines| {
                let at = position(lines, 3);
                lines[at] = lines[at].replacen('{', r#"{"metadata":{"uid":"forged"},"#, 1);
                at + 1
            },
            "twice in one object",
        ),
        (
            RecordFormat::Ocsf,
            "the whole record as a string under serde_json's raw-value key",
            |lines| {
                let at = position(lines, 3);
                lines[at] = json!({ "$serde_json::private::RawValue": lines[at] }).to_string();
                at + 1
            },
            READ_ALIKE,
        ),
        (
            RecordFormat::Ocsf,
            "one object of the record as a string under the raw-value key",
            |lines| {
                let at = position(lines, 3);
                let mut record: Value = serde_json::from_str(&lines[at]).expect("JSON");
                let metadata = record["metadata"].to_string();
                record["metadata"] = json!({ "$serde_json::private::RawValue": metadata });
                lines[at] = record.to_string();
                at + 1
            },
            READ_ALIKE,
        ),
    ];
    for (format, name, tamper, finding) in attacks {
        attacked(format, name, tamper, finding);
    }
}

#[test]
fn a_number_shown_other_than_as_written_is_refused() {
    // The fixture's `score` attribute is the float 0.1: written `0.1`, and read as 0.1 from
    // each of these too, by serde_json.
    for (format, shown) in [
        (RecordFormat::Native, "0.10"),
        (RecordFormat::Native, "1e-1"),
        (RecordFormat::Native, "0.1000000000000000000001"),
        (RecordFormat::Ocsf, "0.10"),
    ] {
        let log = Log::every_kind();
        let n = log.len();
        let mut lines = stream(&log, Shape::whole(format, &[n]));
        let at = lines
            .iter()
            .position(|l| l.contains(r#""score":0.1"#))
            .expect("an entry with the score attribute");
        lines[at] = lines[at].replacen(r#""score":0.1"#, &format!(r#""score":{shown}"#), 1);
        let verified = verify(&lines);
        let want = format!(
            "line {}: not an export line every JSON reader reads alike: the number `{shown}`",
            at + 1
        );
        assert!(
            verified.findings.iter().any(|f| f.starts_with(&want)),
            "{format} {shown}: expected `{want}` in {:#?}",
            verified.findings
        );
    }
}

#[test]
fn a_second_tree_of_one_size_is_a_fork_and_a_finding() {
    let log = Log::every_kind();
    let n = log.len();
    let forked = sign_note(
        &Checkpoint {
            origin: ORIGIN.into(),
            size: TreeSize(n),
            root: Hash([5; 32]),
        }
        .to_text(),
        &[&signer()],
    )
    .expect("signs");
    let fork = serde_json::to_string(&Line::Checkpoint {
        size: n,
        note: forked,
    })
    .expect("JSON");
    // After the real one in a whole stream, and ahead of it in an extract.
    let mut whole = stream(&log, Shape::whole(RecordFormat::Native, &[n]));
    whole.push(fork.clone());
    let mut extract = stream(
        &log,
        Shape {
            proofs: true,
            ..Shape::whole(RecordFormat::Native, &[n])
        },
    );
    extract.remove(0);
    extract.insert(0, fork.clone());
    let mut ahead = stream(&log, Shape::whole(RecordFormat::Native, &[n]));
    ahead.insert(0, fork);
    let reached = position(&ahead, n - 1) + 1;
    let second = format!("a second checkpoint of size {n} with another root");
    let rebuilt = format!("the tree rebuilt to here is not the signed checkpoint of size {n}");
    for (name, lines, line_no, finding) in [
        ("whole", &whole, whole.len(), &second),
        ("extract", &extract, extract.len(), &second),
        ("ahead of the start line", &ahead, reached, &rebuilt),
    ] {
        let verified = verify(lines);
        let want = format!("line {line_no}: {finding}");
        assert!(
            verified.findings.iter().any(|f| f.starts_with(&want)),
            "{name}: expected `{want}` in {:#?}",
            verified.findings
        );
    }
}

#[test]
fn entries_ahead_of_a_contiguous_start_line_are_a_finding() {
    let log = Log::every_kind();
    let n = log.len();
    let mut lines = stream(
        &log,
        Shape {
            proofs: true,
            ..Shape::whole(RecordFormat::Native, &[n])
        },
    );
    // Entry 2's line (with its proof) moved ahead of the start line, and a copy left in place.
    let entry = lines[position(&lines, 2)].clone();
    lines.insert(0, entry);
    let verified = verify(&lines);
    assert!(
        verified.findings.iter().any(|f| f
            .starts_with("line 2: the start line of a contiguous stream comes after entry lines")),
        "{:#?}",
        verified.findings
    );
}

/// Another log's key, trusted beside this one's, and a checkpoint it signed.
fn other_log_checkpoint(size: u64) -> (VerifierKey, String) {
    let origin = "other.example/ledger";
    let signer =
        NoteSigner::new(origin, ed25519_dalek::SigningKey::from_bytes(&[7; 32])).expect("key");
    let text = Checkpoint {
        origin: origin.into(),
        size: TreeSize(size),
        root: Hash([5; 32]),
    }
    .to_text();
    let note = sign_note(&text, &[&signer]).expect("signs");
    (signer.verifier().clone(), note)
}

#[test]
fn every_checkpoint_in_a_stream_is_of_one_log_even_before_the_start_line() {
    let log = Log::every_kind();
    let n = log.len();
    let (other, note) = other_log_checkpoint(n);
    let mut trusted = keys();
    trusted.push(other);
    let foreign = serde_json::to_string(&Line::Checkpoint { size: n, note }).expect("JSON");
    let ahead = {
        let mut lines = stream(&log, Shape::whole(RecordFormat::Native, &[n]));
        lines.insert(0, foreign.clone());
        lines
    };
    let extract = |format| {
        let mut lines = stream(
            &log,
            Shape {
                proofs: true,
                ..Shape::whole(format, &[n / 2, n])
            },
        );
        lines.remove(0);
        lines
    };
    let mut appended = extract(RecordFormat::Native);
    appended.push(foreign.clone());
    let last = appended.len();
    let mut leading = extract(RecordFormat::Ocsf);
    leading.insert(0, foreign);
    let shapes: [(&str, Vec<String>, usize, String); 3] = [
        (
            "ahead of the start line",
            ahead,
            2,
            "the start line names the log `test.example/ledger`, the lines before it `other.example/ledger`".into(),
        ),
        (
            "in an extract without a start line, after this log's checkpoints",
            appended,
            last,
            format!("checkpoint of size {n}"),
        ),
        (
            "ahead of an extract of OCSF records",
            leading,
            2,
            "entry 0 names the log `test.example/ledger`, the stream is `other.example/ledger`'s".into(),
        ),
    ];
    for (name, lines, line_no, finding) in shapes {
        let verified = verify_export(&lines.join("\n"), &trusted);
        let prefix = format!("line {line_no}: ");
        assert!(
            verified
                .findings
                .iter()
                .any(|f| f.starts_with(&prefix) && f.contains(&finding)),
            "{name}: expected `{prefix}…{finding}…` in {:#?}",
            verified.findings
        );
    }
}

#[test]
fn an_index_at_the_end_of_the_u64_range_is_a_finding_not_a_crash() {
    let log = Log::every_kind();
    let mut entry = log.entries[0].clone();
    entry.seq = u64::MAX;
    let leaf = entry.encode();
    let record = EntryRecord {
        origin: ORIGIN,
        index: u64::MAX,
        leaf: &leaf,
        leaf_hash: crate::hash::leaf_hash(&leaf),
        proof: None,
    };
    let mut buf = Vec::new();
    let view = crate::view::EntryView::decode(&leaf).expect("a leaf views");
    write_entry(&mut buf, RecordFormat::Native, &record, &view);
    let start = Line::Start {
        format: EXPORT_FORMAT.into(),
        origin: ORIGIN.into(),
        from: u64::MAX,
        frontier: vec![log.hashes[0].to_base64(); 64],
        filtered: false,
    };
    let lines = [
        serde_json::to_string(&start).expect("JSON"),
        text(&buf),
        checkpoint_line(&log, RecordFormat::Native, log.len()),
    ];
    let verified = verify(&lines);
    assert!(
        verified
            .findings
            .iter()
            .any(|f| f.starts_with("line 2: ") && f.contains("past the largest tree")),
        "{:#?}",
        verified.findings
    );
}

/// The range a verified stream holds every entry of, if it is contiguous.
type Contiguous = Option<std::ops::Range<u64>>;

#[test]
fn a_verified_stream_says_whether_it_holds_every_entry_of_its_range() {
    let log = Log::every_kind();
    let n = log.len();
    let middle = [n / 2, n];
    let all_but_3 = |i: u64| i != 3;
    for format in RecordFormat::ALL {
        let cut_at_middle = {
            let mut lines = stream(&log, Shape::whole(format, &middle));
            let after = position(&lines, n / 2 - 1) + 2;
            lines.truncate(after);
            lines
        };
        let shapes: [(&str, Vec<String>, Contiguous); 5] = [
            (
                "whole",
                stream(&log, Shape::whole(format, &middle)),
                Some(0..n),
            ),
            (
                "from 5",
                stream(
                    &log,
                    Shape {
                        from: 5,
                        ..Shape::whole(format, &[n])
                    },
                ),
                Some(5..n),
            ),
            (
                "cut after the middle checkpoint",
                cut_at_middle,
                Some(0..n / 2),
            ),
            (
                // What an attacker makes of a whole stream by flipping `filtered` and dropping
                // entry 3 is this stream exactly: it verifies, and says it is not contiguous.
                "filtered, entry 3 left out",
                stream(
                    &log,
                    Shape {
                        keep: Some(&all_but_3),
                        ..Shape::whole(format, &[n])
                    },
                ),
                None,
            ),
            (
                "an extract: no start line, every entry with its proof",
                {
                    let mut lines = stream(
                        &log,
                        Shape {
                            proofs: true,
                            ..Shape::whole(format, &[n])
                        },
                    );
                    lines.remove(0);
                    lines
                },
                None,
            ),
        ];
        for (name, lines, contiguous) in shapes {
            let verified = verify(&lines);
            assert!(verified.ok(), "{format} {name}: {:#?}", verified.findings);
            assert_eq!(verified.contiguous, contiguous, "{format} {name}");
            assert_eq!(verified.origin.as_deref(), Some(ORIGIN), "{format} {name}");
        }
    }
}

#[test]
fn numbers_are_compared_by_their_text() {
    use super::super::read::json_difference;
    // (shown, expected, same): serde_json's `Value` holds -0.0 and 0.0 equal.
    let cases = [
        (json!({"a": -0.0}), json!({"a": 0.0}), false),
        (json!({"a": [0.0]}), json!({"a": [-0.0]}), false),
        (json!({"a": 1}), json!({"a": 1.0}), false),
        (json!({"a": 0.0}), json!({"a": 0.0}), true),
        (json!({"a": [1, 2.5]}), json!({"a": [1, 2.5]}), true),
    ];
    for (shown, expected, same) in cases {
        assert_eq!(
            json_difference(&shown, &expected).is_none(),
            same,
            "{shown} against {expected}"
        );
    }
}
