//! Every verifier rule against an attacker who holds the exported file (or the SIEM's copy) but
//! not the log's key: one table per record format of what they change and the finding it must
//! give, naming the line and the entry; and the changes a SIEM makes that must still verify.

use super::super::read::{ReadLine, read_line};
use super::*;
use crate::entry::Body;
use crate::hash::leaf_hash;
use serde_json::{Value, json};

fn edit_json(line: &mut String, edit: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_str(line).expect("a JSON line");
    edit(&mut value);
    *line = serde_json::to_string(&value).expect("json");
}

fn set(value: &mut Value, pointer: &str, new: Value) {
    *value
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = new;
}

fn remove(value: &mut Value, pointer: &str, key: &str) {
    value
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key))
        .unwrap_or_else(|| panic!("{pointer}/{key}"));
}

/// A CEF line written again from its parts, pairs in key order (a reordering of the writer's).
fn cef_text(line: &CefLine) -> String {
    let mut buf = b"CEF:".to_vec();
    for field in [
        &line.version,
        &line.vendor,
        &line.product,
        &line.device_version,
        &line.class_id,
        &line.name,
        &line.severity,
    ] {
        escape_header_into(&mut buf, field);
        buf.push(b'|');
    }
    for (i, (key, value)) in line.extension.iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        buf.extend_from_slice(key.as_bytes());
        buf.push(b'=');
        escape_value_into(&mut buf, value);
    }
    text(&buf)
}

fn edit_cef(line: &mut String, edit: impl FnOnce(&mut CefLine)) {
    let mut parsed = parse_cef(line).expect("a CEF line");
    edit(&mut parsed);
    *line = cef_text(&parsed);
}

/// An entry re-encoded with another subject, its hash recomputed, its record written again: the
/// line is consistent in itself, and only the signed tree can tell.
fn forged(log: &Log, index: u64, format: RecordFormat) -> String {
    let mut entry = log.entries[index as usize].clone();
    if let Body::Event(e) = &mut entry.body {
        e.event.subject.id = "mallory".into();
    }
    let leaf = entry.encode();
    let record = EntryRecord {
        origin: ORIGIN,
        index,
        leaf: &leaf,
        leaf_hash: leaf_hash(&leaf),
        proof: None,
    };
    let mut buf = Vec::new();
    let view = crate::view::EntryView::decode(&leaf).expect("a leaf views");
    write_entry(&mut buf, format, &record, &view);
    text(&buf)
}

/// What an attack does to a whole stream's lines; returns the 1-based line the finding names.
type Tamper = fn(&Log, &mut Vec<String>) -> usize;

fn at(lines: &[String], index: u64) -> usize {
    position(lines, index) + 1
}

/// Runs each attack on a whole stream of `format` (checkpoints in the middle and at the end)
/// or a filtered one, and checks the finding names the line and says what was found.
fn check(format: RecordFormat, attacks: &[(&str, bool, Tamper, &str)]) {
    let log = Log::every_kind();
    let n = log.len();
    let checkpoints = [n / 2, n];
    let odd = |i: u64| i % 2 == 1;
    for &(name, filtered, tamper, finding) in attacks {
        let shape = if filtered {
            Shape {
                keep: Some(&odd),
                ..Shape::whole(format, &checkpoints[1..])
            }
        } else {
            Shape::whole(format, &checkpoints)
        };
        let mut lines = stream(&log, shape);
        assert!(
            verify(&lines).ok(),
            "{format} {name}: the untouched stream verifies"
        );
        let line_no = tamper(&log, &mut lines);
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
        assert!(!verified.ok(), "{format} {name}");
    }
}

/// Attacks that read the same in every format: on whole lines, not on what they show.
fn line_attacks() -> Vec<(&'static str, bool, Tamper, &'static str)> {
    vec![
        (
            "a dropped record",
            false,
            |_, lines| {
                let at3 = position(lines, 3);
                lines.remove(at3);
                at3 + 1
            },
            "entry 4 is out of place: entry 3 was dropped before it",
        ),
        (
            "two records swapped",
            false,
            |_, lines| {
                let (a, b) = (position(lines, 3), position(lines, 4));
                lines.swap(a, b);
                a + 1
            },
            "entry 4 is out of place: entry 3 was dropped before it",
        ),
        (
            "a duplicated record",
            false,
            |_, lines| {
                let a = position(lines, 3);
                lines.insert(a + 1, lines[a].clone());
                a + 2
            },
            "entry 3 is out of place: it comes after entry 3 (reordered or inserted)",
        ),
        (
            "a record moved earlier",
            false,
            |_, lines| {
                let line = lines.remove(position(lines, 9));
                let a = position(lines, 2);
                lines.insert(a, line);
                a + 1
            },
            "entry 9 is out of place: entries 2 to 8 were dropped before it",
        ),
        (
            "the last checkpoint removed",
            false,
            |_, lines| {
                lines.pop();
                at(lines, lines_half(lines))
            },
            "are covered by no checkpoint in the stream",
        ),
        (
            "a duplicated record in a filtered stream",
            true,
            |_, lines| {
                let a = position(lines, 3);
                lines.insert(a + 1, lines[a].clone());
                a + 2
            },
            "entry 3 appears more than once",
        ),
        (
            "a record without its proof's checkpoint",
            true,
            |_, lines| {
                lines.pop();
                at(lines, 1)
            },
            "is proven against a checkpoint of size",
        ),
    ]
}

/// The first entry after the middle checkpoint (the first entry no checkpoint covers once the
/// last one is gone).
fn lines_half(lines: &[String]) -> u64 {
    let entries = lines
        .iter()
        .filter(|l| matches!(read_line(l), Ok(ReadLine::Entry(_))))
        .count() as u64;
    entries / 2
}

#[test]
fn ocsf_attacks_are_found_and_named() {
    use RecordFormat::Ocsf;
    let mut attacks: Vec<(&str, bool, Tamper, &str)> = vec![
        (
            "the subject changed in the record, leaf untouched",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_json(&mut lines[a], |v| set(v, "/user/uid", json!("mallory")));
                a + 1
            },
            "entry 3 was changed: the OCSF record shown is not the entry its leaf holds: its `/user/uid`",
        ),
        (
            "the actor changed",
            false,
            |_, lines| {
                let a = position(lines, 2);
                edit_json(&mut lines[a], |v| set(v, "/actor/user/uid", json!("root")));
                a + 1
            },
            "entry 2 was changed: the OCSF record shown is not the entry its leaf holds: its `/actor/user/uid`",
        ),
        (
            "the time changed",
            false,
            |_, lines| {
                let a = position(lines, 2);
                edit_json(&mut lines[a], |v| set(v, "/time", json!(0)));
                a + 1
            },
            "its `/time`",
        ),
        (
            "a status turned to success",
            false,
            |log, lines| {
                let failed = (0..log.len())
                    .find(|&i| ocsf(log, i, None)["status_id"] == 2)
                    .expect("a failed entry");
                let a = position(lines, failed);
                edit_json(&mut lines[a], |v| set(v, "/status_id", json!(1)));
                a + 1
            },
            "its `/status_id`",
        ),
        (
            "an attribute added",
            false,
            |_, lines| {
                let a = position(lines, 0);
                edit_json(&mut lines[a], |v| {
                    set_member(v, "message", json!("all good"))
                });
                a + 1
            },
            "entry 0 was changed: the OCSF record shown is not the entry its leaf holds: it adds `/message`",
        ),
        (
            "an attribute removed",
            false,
            |_, lines| {
                let a = position(lines, 5);
                edit_json(&mut lines[a], |v| remove(v, "/metadata", "log_provider"));
                a + 1
            },
            "it lacks `/metadata/log_provider`",
        ),
        (
            "the fingerprint changed",
            false,
            |log, lines| {
                let a = position(lines, 3);
                let other = log.hashes[4].to_base64();
                edit_json(&mut lines[a], |v| {
                    set(v, "/attestation_list/0/fingerprint/value", json!(other))
                });
                a + 1
            },
            "entry 3 was changed: its leaf does not hash to the stated leaf hash",
        ),
        (
            "the chain link changed",
            false,
            |log, lines| {
                let a = position(lines, 3);
                let other = log.hashes[1].to_base64();
                edit_json(&mut lines[a], |v| {
                    set(
                        v,
                        "/attestation_list/0/prev_event/fingerprint/value",
                        json!(other),
                    )
                });
                a + 1
            },
            "its `/attestation_list/0/prev_event/fingerprint/value`",
        ),
        (
            "the chain said to be another log's",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_json(&mut lines[a], |v| {
                    set(
                        v,
                        "/attestation_list/0/chain_uid",
                        json!("other.example/log"),
                    )
                });
                a + 1
            },
            "entry 3 names the log `other.example/log`, the stream is `test.example/ledger`'s",
        ),
        (
            "the index changed",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_json(&mut lines[a], |v| {
                    set(v, "/unmapped/idledger/index", json!(4))
                });
                a + 1
            },
            "entry 4 was changed: its leaf is entry 3",
        ),
        (
            "the index removed",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_json(&mut lines[a], |v| remove(v, "/unmapped/idledger", "index"));
                a + 1
            },
            "not an idledger export record",
        ),
        (
            "the leaf forged, its hash and record recomputed",
            false,
            |log, lines| {
                let a = position(lines, 3);
                lines[a] = forged(log, 3, RecordFormat::Ocsf);
                let checkpoint = lines
                    .iter()
                    .position(|l| l.starts_with(r#"{"kind":"checkpoint""#))
                    .expect("a checkpoint");
                checkpoint + 1
            },
            "the entries before it do not hash to the signed root",
        ),
        (
            "a proof path forged",
            true,
            |_, lines| {
                let a = position(lines, 3);
                let fake = Hash([7; 32]).to_base64();
                edit_json(&mut lines[a], |v| {
                    set(v, "/unmapped/idledger/proof/path/0", json!(fake))
                });
                a + 1
            },
            "entry 3 is not in the signed tree of size",
        ),
        (
            "another entry's record in a native stream",
            false,
            |log, lines| {
                let a = position(lines, 3);
                lines[a] = serde_json::to_string(&ocsf(log, 3, None)).expect("json");
                a + 1
            },
            "entry 3 is in format `ocsf`, the stream's entries are in format `native` (line 2): a stream holds one record format",
        ),
    ];
    // The last attack is on a native stream; the rest on OCSF streams.
    let mixed = attacks.pop().expect("the mixed attack");
    attacks.extend(line_attacks());
    check(Ocsf, &attacks);
    check(RecordFormat::Native, &[mixed]);
}

/// Adds a member to a JSON object.
fn set_member(value: &mut Value, key: &str, new: Value) {
    value
        .as_object_mut()
        .expect("an object")
        .insert(key.to_owned(), new);
}

#[test]
fn cef_attacks_are_found_and_named() {
    let mut attacks: Vec<(&str, bool, Tamper, &str)> = vec![
        (
            "the subject changed, leaf untouched",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_cef(&mut lines[a], |l| {
                    l.extension.insert("duser".into(), "mallory".into());
                });
                a + 1
            },
            "entry 3 was changed: the CEF line shown is not the entry its leaf holds: its `duser`",
        ),
        (
            "the name changed",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_cef(&mut lines[a], |l| l.name = "Identity Enabled".into());
                a + 1
            },
            "its header's Name",
        ),
        (
            "the severity lowered",
            false,
            |log, lines| {
                let quarantined = (0..log.len())
                    .find(|&i| matches!(log.entries[i as usize].body, Body::Quarantined(_)))
                    .expect("a quarantined entry");
                let a = position(lines, quarantined);
                edit_cef(&mut lines[a], |l| l.severity = "1".into());
                a + 1
            },
            "its header's Severity",
        ),
        (
            "a pair added",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_cef(&mut lines[a], |l| {
                    l.extension.insert("dhost".into(), "db-1".into());
                });
                a + 1
            },
            "it adds `dhost`",
        ),
        (
            "a pair removed",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_cef(&mut lines[a], |l| {
                    l.extension.remove("externalId");
                });
                a + 1
            },
            "it lacks `externalId`",
        ),
        (
            "the origin changed",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_cef(&mut lines[a], |l| {
                    l.extension.insert("cs1".into(), "other.example/log".into());
                });
                a + 1
            },
            "entry 3 names the log `other.example/log`",
        ),
        (
            "the leaf changed",
            false,
            |_, lines| {
                let a = position(lines, 3);
                edit_cef(&mut lines[a], |l| {
                    let leaf = l.extension.get_mut("cs3").expect("cs3");
                    leaf.replace_range(10..11, if &leaf[10..11] == "A" { "B" } else { "A" });
                });
                a + 1
            },
            "entry 3 was changed: its leaf does not hash to the stated leaf hash",
        ),
        (
            "the leaf forged, its hash and line recomputed",
            false,
            |log, lines| {
                let a = position(lines, 3);
                lines[a] = forged(log, 3, RecordFormat::Cef);
                lines
                    .iter()
                    .position(|l| l.contains("|checkpoint|"))
                    .expect("a checkpoint")
                    + 1
            },
            "the entries before it do not hash to the signed root",
        ),
        (
            "a proof path forged",
            true,
            |_, lines| {
                let a = position(lines, 5);
                edit_cef(&mut lines[a], |l| {
                    let proof = l.extension.get_mut("cs4").expect("cs4");
                    let (size, _) = proof.split_once(':').expect("size:path");
                    *proof = format!("{size}:{}", Hash([7; 32]).to_base64());
                });
                a + 1
            },
            "entry 5 is not in the signed tree of size",
        ),
        (
            "a malformed proof",
            true,
            |_, lines| {
                let a = position(lines, 5);
                edit_cef(&mut lines[a], |l| {
                    l.extension.insert("cs4".into(), "twelve:".into());
                });
                a + 1
            },
            "entry 5: its proof (`cs4`) is not `<size>:<base64 hash>,...`",
        ),
        (
            "a bad escape",
            false,
            |_, lines| {
                let a = position(lines, 3);
                lines[a] = lines[a].replacen("duser=", r"duser=\x", 1);
                a + 1
            },
            "not a CEF line: unknown escape `\\x`",
        ),
        (
            "missing header fields",
            false,
            |_, lines| {
                let a = position(lines, 3);
                lines[a] = "CEF:0|idledger|idledger".into();
                a + 1
            },
            "not a CEF line: the header has 2 of its 7 fields",
        ),
        (
            "a raw `=` in a value",
            false,
            |_, lines| {
                let a = position(lines, 3);
                lines[a] = lines[a].replacen("duser=", "duser=a=b", 1);
                a + 1
            },
            "not a CEF line: an unescaped `=` in the value of `duser`",
        ),
        (
            "a key given twice",
            false,
            |_, lines| {
                let a = position(lines, 3);
                lines[a].push_str(" duser=alice");
                a + 1
            },
            "not a CEF line: extension key `duser` appears twice",
        ),
        (
            "a lone backslash at the end",
            false,
            |_, lines| {
                let a = position(lines, 3);
                lines[a].push('\\');
                a + 1
            },
            "not a CEF line: a lone backslash ends the extension",
        ),
        (
            "a start line with a pair added",
            false,
            |_, lines| {
                edit_cef(&mut lines[0], |l| {
                    l.extension.insert("note".into(), "x".into());
                });
                1
            },
            "the CEF start line is not as idledger writes one: it adds `note`",
        ),
        (
            "a checkpoint line's size changed",
            false,
            |_, lines| {
                let a = lines.len() - 1;
                edit_cef(&mut lines[a], |l| {
                    l.extension.insert("cn1".into(), "3".into());
                });
                a + 1
            },
            "the checkpoint says size",
        ),
        (
            "an OCSF record in a CEF stream",
            false,
            |log, lines| {
                let a = position(lines, 3);
                lines[a] = serde_json::to_string(&ocsf(log, 3, None)).expect("json");
                a + 1
            },
            "entry 3 is in format `ocsf`, the stream's entries are in format `cef` (line 2): a stream holds one record format",
        ),
    ];
    attacks.extend(line_attacks());
    check(RecordFormat::Cef, &attacks);
}

/// What a SIEM does to records without changing them: reorder an OCSF record's members, a CEF
/// line's pairs; and keep only some lines with their proofs and checkpoints.
#[test]
fn what_a_siem_does_without_changing_records_still_verifies() {
    let log = Log::every_kind();
    let n = log.len();
    for format in [RecordFormat::Ocsf, RecordFormat::Cef] {
        let checkpoints = [n];
        let mut lines = stream(
            &log,
            Shape {
                proofs: true,
                ..Shape::whole(format, &checkpoints)
            },
        );
        for line in &mut lines {
            if format == RecordFormat::Cef {
                edit_cef(line, |_| {});
            } else if line.starts_with(r#"{"class_uid""#) {
                // serde_json's map sorts members by name: not the writer's order.
                edit_json(line, |_| {});
                assert!(!line.starts_with(r#"{"class_uid""#));
            }
        }
        let verified = verify(&lines);
        assert!(
            verified.ok(),
            "{format} reordered: {:#?}",
            verified.findings
        );
        // An extract: three entries and the checkpoint, no start line.
        let extract: Vec<String> = [
            position(&lines, 4),
            position(&lines, 9),
            position(&lines, 2),
            lines.len() - 1,
        ]
        .iter()
        .map(|&i| lines[i].clone())
        .collect();
        let verified = verify(&extract);
        assert!(verified.ok(), "{format} extract: {:#?}", verified.findings);
        assert_eq!(verified.entries, 3);
    }
}
