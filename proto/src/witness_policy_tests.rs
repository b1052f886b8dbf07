//! Witness policies as data: good and bad policy files with the policy or error each must give,
//! quorum tables (k-of-n, nested groups, all/any), and a cosigned checkpoint attacked as a log
//! or a network adversary would: unknown cosigners, bad, moved and duplicated cosignatures.

use super::*;
use crate::checkpoint::Checkpoint;
use crate::cosignature::{COSIGNATURE_V1, PAYLOAD_BYTES, signed_message};
use crate::cosigned::{CosignedError, verify_cosigned};
use crate::hash::Hash;
use crate::note::{NoteSigner, sign_note};
use crate::tree_size::TreeSize;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey};

const ORIGIN: &str = "log.test/a";

fn log() -> NoteSigner {
    NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[1; 32])).expect("a valid name")
}

/// A cosigner, written from c2sp.org/tlog-cosignature here rather than taken from the witness
/// crate (which proto cannot depend on); the export verifier's tests use it too.
pub(crate) struct Cosigner {
    name: String,
    key: SigningKey,
}

impl Cosigner {
    pub(crate) fn new(n: u8) -> Cosigner {
        Cosigner {
            name: format!("witness.test/w{n}"),
            key: SigningKey::from_bytes(&[10 + n; 32]),
        }
    }
    pub(crate) fn vkey(&self) -> String {
        CosignerKey::new(&self.name, self.key.verifying_key())
            .expect("a valid key")
            .to_string()
    }
    pub(crate) fn cosign(&self, text: &str, time: u64) -> String {
        let id = crate::cosignature::key_id(&self.name, &self.key.verifying_key());
        let signature = self.key.sign(signed_message(text, time).as_bytes());
        let mut blob = id.to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        assert_eq!(blob.len(), PAYLOAD_BYTES);
        format!("\u{2014} {} {}", self.name, B64.encode(blob))
    }
}

/// A policy header: the log key and witnesses w1..=w`n` named `w1`..
fn header(n: u8) -> String {
    let mut text = format!("# test policy\nlog {}\n", log().verifier());
    for i in 1..=n {
        text.push_str(&format!("witness w{i} {}\n", Cosigner::new(i).vkey()));
    }
    text
}

fn parse(body: &str) -> Result<Policy, PolicyError> {
    Policy::parse(&format!("{}{body}", header(4)))
}

#[test]
fn good_policies_parse() {
    // (policy body after the 6 header lines, quorum name, thresholds of the groups in order)
    let cases: &[(&str, &str, &[usize])] = &[
        ("quorum w1\n", "w1", &[]),
        ("group g 2 w1 w2 w3\nquorum g\n", "g", &[2]),
        (
            "group g all w1 w2 # trailing comment\nquorum g\n",
            "g",
            &[2],
        ),
        ("group g any w1 w2 w3\nquorum g\n", "g", &[1]),
        (
            "group a 1 w1 w2\ngroup b all a w3\n\n   quorum b\n",
            "b",
            &[1, 2],
        ),
        ("quorum g\ngroup g 4 w1 w2 w3 w4\n", "g", &[4]),
    ];
    for (body, quorum, thresholds) in cases {
        let p = parse(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
        assert_eq!(p.name(p.quorum), *quorum, "{body:?}");
        let found: Vec<usize> = p.groups.iter().map(|g| g.threshold).collect();
        assert_eq!(found, *thresholds, "{body:?}");
        assert_eq!((p.logs.len(), p.witnesses.len()), (1, 4));
    }
}

#[test]
fn bad_policies_are_refused_with_their_line() {
    let w1 = Cosigner::new(1).vkey();
    let log_vkey = log().verifier().to_string();
    // The header is lines 1-6; the body starts on line 7.
    let cases: Vec<(String, &str)> = vec![
        (
            "frobnicate x\nquorum w1\n".into(),
            "line 7: unknown keyword `frobnicate`",
        ),
        (
            "quorum\n".into(),
            "line 7: expected `quorum <group or witness name>`",
        ),
        (
            "group g 1\nquorum g\n".into(),
            "line 7: expected `group <name> <k|all|any> <member>...`",
        ),
        (
            "witness w9 a+b+c\nquorum w1\n".into(),
            "line 7: witness key: malformed cosigner",
        ),
        (
            format!("witness w9 {log_vkey}\nquorum w1\n"),
            "line 7: witness key: malformed cosigner verifier key: the key is not of type 0x04",
        ),
        (
            format!("log {w1}\nquorum w1\n"),
            "line 7: log key: malformed verifier key",
        ),
        (
            format!("log {log_vkey}\nquorum w1\n"),
            "line 7: the log key is already given on line 2",
        ),
        (
            "group g 1 w9\nquorum g\n".into(),
            "line 7: `w9` is not a witness or group defined",
        ),
        (
            "quorum nobody\n".into(),
            "line 7: `nobody` is not a witness or group defined",
        ),
        (
            "group g 0 w1 w2\nquorum g\n".into(),
            "line 7: threshold `0` of group `g` is not all, any or a number from 1 to 2",
        ),
        (
            "group g 3 w1 w2\nquorum g\n".into(),
            "line 7: threshold `3`",
        ),
        (
            "group g 01 w1 w2\nquorum g\n".into(),
            "line 7: threshold `01`",
        ),
        (
            "group g some w1 w2\nquorum g\n".into(),
            "line 7: threshold `some`",
        ),
        (
            "group g 1 w1 g\nquorum g\n".into(),
            "line 7: group `g` names `g`, defined on line 7: members must be defined on earlier lines, so no group contains itself (a cycle)",
        ),
        (
            "group a 1 w1 b\ngroup b 1 w2 a\nquorum a\n".into(),
            "line 7: group `a` names `b`, defined on line 8",
        ),
        (
            "group w1 1 w2\nquorum w1\n".into(),
            "line 7: `w1` is already defined on line 3",
        ),
        (
            "group g 1 w1\ngroup g 1 w2\nquorum g\n".into(),
            "line 8: `g` is already defined on line 7",
        ),
        (
            format!("witness w9 {w1}\nquorum w1\n"),
            "line 7: the key of witness `w9` is already the key of `w1`",
        ),
        (
            "group g 2 w1 w1 w2\nquorum g\n".into(),
            "line 7: `w1` is named twice in group `g`",
        ),
        (
            "quorum w1\nquorum w2\n".into(),
            "line 8: a second quorum line (the first is line 7)",
        ),
        ("group g 1 w1\n".into(), "the policy has no `quorum` line"),
        (
            format!(
                "witness w\u{202e}9 {}\nquorum w1\n",
                Cosigner::new(7).vkey()
            ),
            "line 7: `w\u{202e}9` is not a name",
        ),
    ];
    for (body, want) in &cases {
        let err = parse(body).expect_err(body).to_string();
        assert!(
            err.starts_with(want),
            "{body:?}: got `{err}`, want `{want}`"
        );
    }
    let no_log = format!("witness w1 {w1}\nquorum w1\n");
    assert_eq!(Policy::parse(&no_log), Err(PolicyError::MissingLog));
    assert_eq!(Policy::parse(""), Err(PolicyError::MissingLog));
}

/// The quorum for each set of cosigning witnesses (bit i-1 = witness wi cosigned).
fn check_quorum(body: &str, met: &[u8]) {
    let p = parse(body).expect("a good policy");
    for set in 0u8..16 {
        let cosigned: Vec<bool> = (0..4).map(|i| set & (1 << i) != 0).collect();
        assert_eq!(
            p.quorum_met(&cosigned),
            met.contains(&set),
            "{body:?} with set {set:04b}"
        );
    }
}

#[test]
fn quorums_follow_thresholds_and_nesting() {
    // A single witness.
    check_quorum("quorum w2\n", &[2, 3, 6, 7, 10, 11, 14, 15]);
    // 2 of 3 (w1, w2, w3; w4 is not a member).
    let two_of_three: Vec<u8> = (0..16).filter(|s: &u8| (s & 7).count_ones() >= 2).collect();
    check_quorum("group g 2 w1 w2 w3\nquorum g\n", &two_of_three);
    // all and any.
    check_quorum("group g all w1 w2\nquorum g\n", &[3, 7, 11, 15]);
    let any: Vec<u8> = (0..16).filter(|s| s & 12 != 0).collect();
    check_quorum("group g any w3 w4\nquorum g\n", &any);
    // Nested: (w1 or w2) and (w3 and w4).
    check_quorum(
        "group a any w1 w2\ngroup b all w3 w4\ngroup q all a b\nquorum q\n",
        &[13, 14, 15],
    );
    // Nested 2 of 3 where one member is a group: w1, w2, (w3 and w4).
    let nested: Vec<u8> = (0..16)
        .filter(|s| (s & 1) + ((s >> 1) & 1) + u8::from(s & 12 == 12) >= 2)
        .collect();
    check_quorum("group b all w3 w4\ngroup q 2 w1 w2 b\nquorum q\n", &nested);
}

/// A signed checkpoint note of size `size` and its text.
fn checkpoint(size: u64) -> (String, String) {
    let text = Checkpoint {
        origin: ORIGIN.into(),
        size: TreeSize(size),
        root: Hash([size as u8; 32]),
    }
    .to_text();
    (sign_note(&text, &[&log()]).expect("signs"), text)
}

fn two_of_two() -> Policy {
    Policy::parse(&format!("{}group q all w1 w2\nquorum q\n", header(2))).expect("a good policy")
}

fn with(note: &str, lines: &[String]) -> String {
    let mut out = note.to_owned();
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[test]
fn a_cosigned_checkpoint_meeting_the_quorum_verifies() {
    let (note, text) = checkpoint(7);
    let (w1, w2) = (Cosigner::new(1), Cosigner::new(2));
    // Cosignatures may come before the log's signature too.
    let note = format!(
        "{text}\n{}\n{}",
        w2.cosign(&text, 100),
        &note[text.len() + 1..]
    );
    let ok = verify_cosigned(&with(&note, &[w1.cosign(&text, 101)]), &two_of_two()).expect("ok");
    assert_eq!(ok.cosigned_by, vec![("w1".into(), 101), ("w2".into(), 100)]);
    assert_eq!((ok.quorum.as_str(), ok.ignored), ("q", 0));
    assert_eq!(ok.checkpoint.checkpoint.size, TreeSize(7));
}

#[test]
fn a_missing_cosignature_fails_the_quorum_and_names_it() {
    let (note, text) = checkpoint(7);
    let err = verify_cosigned(
        &with(&note, &[Cosigner::new(1).cosign(&text, 5)]),
        &two_of_two(),
    );
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err("quorum `q` not met: cosigned by w1; no valid cosignature from w2".into())
    );
}

#[test]
fn a_cosignature_by_an_unknown_key_is_ignored() {
    let (note, text) = checkpoint(7);
    // w3 is not in the policy; a key named like w2 but another key is not w2.
    let impostor = Cosigner {
        name: "witness.test/w2".into(),
        key: SigningKey::from_bytes(&[99; 32]),
    };
    let lines = [
        Cosigner::new(1).cosign(&text, 5),
        Cosigner::new(3).cosign(&text, 5),
        impostor.cosign(&text, 5),
    ];
    let err = verify_cosigned(&with(&note, &lines), &two_of_two()).expect_err("w2 is missing");
    assert!(matches!(err, CosignedError::QuorumNotMet { .. }), "{err}");
    let lines = [
        lines[0].clone(),
        lines[1].clone(),
        lines[2].clone(),
        Cosigner::new(2).cosign(&text, 6),
    ];
    let ok = verify_cosigned(&with(&note, &lines), &two_of_two()).expect("w1 and w2 cosigned");
    assert_eq!(ok.ignored, 2);
}

#[test]
fn a_listed_cosignature_that_does_not_verify_fails_naming_the_witness() {
    let (note, text) = checkpoint(7);
    let w2 = Cosigner::new(2).cosign(&text, 6);
    // One bit of the signature flipped: still a line claiming w2, but not w2's signature.
    let (name, b64) = w2.rsplit_once(' ').expect("a payload");
    let mut blob = B64.decode(b64).expect("base64");
    blob[40] ^= 1;
    let forged = format!("{name} {}", B64.encode(&blob));
    let lines = [Cosigner::new(1).cosign(&text, 5), w2, forged];
    let err = verify_cosigned(&with(&note, &lines), &two_of_two()).expect_err("a bad line");
    assert_eq!(
        err,
        CosignedError::Cosignature {
            witness: "w2".into(),
            error: CosignError::Invalid
        }
    );
    assert!(err.to_string().contains("witness `w2`"), "{err}");
}

#[test]
fn a_cosignature_over_another_checkpoint_fails() {
    let (note, text) = checkpoint(7);
    let (_, other) = checkpoint(8);
    let lines = [
        Cosigner::new(1).cosign(&text, 5),
        Cosigner::new(2).cosign(&other, 5),
    ];
    assert_eq!(
        verify_cosigned(&with(&note, &lines), &two_of_two()),
        Err(CosignedError::Cosignature {
            witness: "w2".into(),
            error: CosignError::Invalid
        })
    );
}

#[test]
fn a_duplicated_cosignature_counts_once() {
    let (note, text) = checkpoint(7);
    let w1 = Cosigner::new(1);
    let lines = [
        w1.cosign(&text, 5),
        w1.cosign(&text, 5),
        w1.cosign(&text, 9),
    ];
    let err = verify_cosigned(&with(&note, &lines), &two_of_two()).expect_err("only w1");
    assert!(matches!(err, CosignedError::QuorumNotMet { .. }), "{err}");
    // The same for a 2-of-3 group: w1 three times is one of three.
    let p = Policy::parse(&format!("{}group q 2 w1 w2 w3\nquorum q\n", header(3))).expect("good");
    assert!(verify_cosigned(&with(&note, &lines), &p).is_err());
}

#[test]
fn the_log_signature_is_checked_as_for_any_checkpoint() {
    let (note, text) = checkpoint(7);
    let cosigs = [
        Cosigner::new(1).cosign(&text, 5),
        Cosigner::new(2).cosign(&text, 5),
    ];
    // Cosignatures alone, no log signature.
    let bare = with(&format!("{text}\n"), &cosigs);
    assert!(matches!(
        verify_cosigned(&bare, &two_of_two()),
        Err(CosignedError::Log(_))
    ));
    // The log signature of another key with the log's name.
    let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[2; 32])).expect("valid");
    let forged = with(&sign_note(&text, &[&other]).expect("signs"), &cosigs);
    assert!(matches!(
        verify_cosigned(&forged, &two_of_two()),
        Err(CosignedError::Log(_))
    ));
    // A changed body: the log signature fails before any cosignature is looked at.
    let changed = with(&note.replacen("\n7\n", "\n9\n", 1), &cosigs);
    assert!(matches!(
        verify_cosigned(&changed, &two_of_two()),
        Err(CosignedError::Log(_))
    ));
    assert_eq!(COSIGNATURE_V1, 0x04);
}
