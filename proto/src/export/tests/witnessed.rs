//! A stream verified under a witness policy: the checkpoints its result rests on (the last one
//! of a contiguous stream, each one an entry's proof leads to otherwise) must be cosigned by
//! witnesses meeting the quorum; a checkpoint that is not, or is cosigned by a witness the
//! policy does not name, is a finding naming its line.

use super::*;
use crate::witness_policy::Policy;
use crate::witness_policy::tests::Cosigner;

/// A policy of the fixture's log key and witness `w1`, which its quorum needs.
fn policy() -> Policy {
    let text = format!(
        "log {}\nwitness w1 {}\nquorum w1\n",
        signer().verifier(),
        Cosigner::new(1).vkey()
    );
    Policy::parse(&text).expect("a policy")
}

/// The checkpoint line of `size`, its note cosigned by witness `n`.
fn cosigned_line(log: &Log, format: RecordFormat, size: u64, witness: u8) -> String {
    let note = log.note(size);
    let text = note
        .split_once("\n\n")
        .map(|(t, _)| format!("{t}\n"))
        .expect("a note");
    let cosigned = format!(
        "{note}{}\n",
        Cosigner::new(witness).cosign(&text, 1_767_225_601)
    );
    let line = checkpoint_line_of(format, size, cosigned);
    assert_ne!(line, checkpoint_line(log, format, size));
    line
}

/// Replaces the checkpoint line of `size` with `line`; returns its 1-based line number.
fn replace_checkpoint(
    log: &Log,
    format: RecordFormat,
    lines: &mut [String],
    size: u64,
    line: String,
) -> usize {
    let plain = checkpoint_line(log, format, size);
    let at = lines
        .iter()
        .position(|l| *l == plain)
        .expect("the checkpoint line is in the stream");
    lines[at] = line;
    at + 1
}

/// A case: its name, the stream, the checkpoint replaced by a cosigned one (its size and the
/// witness cosigning it), and the sizes witnessed or the finding on the last checkpoint's line.
type Case<'s> = (
    &'static str,
    &'s Vec<String>,
    Option<(u64, u8)>,
    Result<Vec<u64>, &'static str>,
);

#[test]
fn the_checkpoints_a_result_rests_on_must_meet_the_policy() {
    let log = Log::every_kind();
    let n = log.len();
    let middle = [n / 2, n];
    let odd = |i: u64| i % 2 == 1;
    let policy = policy();
    for format in RecordFormat::ALL {
        let whole = stream(&log, Shape::whole(format, &middle));
        let filtered = stream(
            &log,
            Shape {
                keep: Some(&odd),
                ..Shape::whole(format, &[n])
            },
        );
        let cases: [Case<'_>; 5] = [
            (
                "whole, the last checkpoint cosigned",
                &whole,
                Some((n, 1)),
                Ok(vec![n]),
            ),
            (
                "whole, only the middle checkpoint cosigned",
                &whole,
                Some((n / 2, 1)),
                Err("not witnessed as the policy requires"),
            ),
            (
                "whole, the last checkpoint cosigned by a witness the policy does not name",
                &whole,
                Some((n, 2)),
                Err("not witnessed as the policy requires"),
            ),
            (
                "filtered, its checkpoint cosigned",
                &filtered,
                Some((n, 1)),
                Ok(vec![n]),
            ),
            (
                "filtered, nothing cosigned",
                &filtered,
                None,
                Err("not witnessed as the policy requires"),
            ),
        ];
        for (name, lines, cosign, expected) in cases {
            let mut lines = lines.clone();
            let last = checkpoint_line(&log, format, n);
            let mut named = lines.iter().position(|l| *l == last).map_or(0, |i| i + 1);
            if let Some((size, witness)) = cosign {
                let line = cosigned_line(&log, format, size, witness);
                let at = replace_checkpoint(&log, format, &mut lines, size, line);
                if size == n {
                    named = at;
                }
            }
            // Without the policy every case verifies.
            assert!(verify(&lines).ok(), "{format} {name}");
            let verified = verify_export_witnessed(&lines.join("\n"), &[], Some(&policy));
            match expected {
                Ok(sizes) => {
                    assert!(verified.ok(), "{format} {name}: {:#?}", verified.findings);
                    assert_eq!(verified.witnessed, sizes, "{format} {name}");
                }
                Err(finding) => {
                    let prefix = format!("line {named}: the checkpoint of size {n}");
                    assert!(
                        verified
                            .findings
                            .iter()
                            .any(|f| f.starts_with(&prefix) && f.contains(finding)),
                        "{format} {name}: expected `{prefix}…{finding}` in {:#?}",
                        verified.findings
                    );
                }
            }
        }
    }
}

#[test]
fn a_copy_of_a_checkpoint_is_witnessed_if_any_copy_is() {
    let log = Log::every_kind();
    let n = log.len();
    let policy = policy();
    let lines = stream(&log, Shape::whole(RecordFormat::Native, &[n]));
    // The plain checkpoint line stays; a cosigned copy of it comes right after it, or before.
    let cosigned = cosigned_line(&log, RecordFormat::Native, n, 1);
    for at in [lines.len(), lines.len() - 1] {
        let mut copy = lines.clone();
        copy.insert(at, cosigned.clone());
        let verified = verify_export_witnessed(&copy.join("\n"), &[], Some(&policy));
        assert!(verified.ok(), "copy at {at}: {:#?}", verified.findings);
        assert_eq!(verified.witnessed, vec![n], "copy at {at}");
    }
}
