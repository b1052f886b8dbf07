//! `idledger verify-checkpoint` end to end: two `idledger witness serve` processes cosign a real
//! ledger's checkpoint, the test appends their cosignature lines to the note, and the auditor's
//! offline check passes for a 2-of-2 policy with both and fails (exit 1) with one removed; a
//! bad policy file is a usage error (exit 2).

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::witness_server::Witness;
use common::*;
use std::path::Path;

const ORIGIN: &str = "test.example/ledger";

/// A witness in `dir` named `name`, witnessing the test's log under `log_vkey`.
fn start_witness(dir: &Path, name: &str, log_vkey: &str) -> Witness {
    let log = format!("{ORIGIN}={log_vkey}");
    Witness::start(&dir.join("keys"), &dir.join("state"), name, &[log])
}

/// Sends `witness` an add-checkpoint request from size 0 and returns its cosignature line.
fn cosign(witness: &Witness, note: &str) -> String {
    let reply = witness.post(format!("old 0\n\n{note}").as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body.trim_end_matches('\n').to_owned()
}

fn witness_vkey(dir: &Path) -> String {
    let keys = dir.join("keys");
    ok(&["witness", "vkey", "--key-dir", path(&keys)], None)
        .trim()
        .to_owned()
}

/// Runs `verify-checkpoint` with a policy and a note; returns exit code, stdout and stderr.
fn verify(tmp: &Path, policy: &str, note: &str) -> (Option<i32>, String, String) {
    let (policy_file, note_file) = (tmp.join("policy"), tmp.join("checkpoint"));
    std::fs::write(&policy_file, policy).expect("write policy");
    std::fs::write(&note_file, note).expect("write note");
    let out = run(
        &[
            "verify-checkpoint",
            "--policy",
            path(&policy_file),
            path(&note_file),
        ],
        None,
    );
    (out.status.code(), stdout(&out), stderr(&out))
}

#[test]
fn a_checkpoint_cosigned_by_two_witnesses_meets_a_two_of_two_policy_and_not_with_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("ledger");
    let log_vkey = init(&data);
    let events: String = (0..5)
        .map(|i| format!(r#"{{"id":"e{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{i}","kind":"human"}}}}"#) + "\n")
        .collect();
    ok(&["append", "--data", path(&data), "-"], Some(&events));
    let note = ok(&["checkpoint", "--data", path(&data)], None);

    let (d1, d2) = (tmp.path().join("w1"), tmp.path().join("w2"));
    let w1 = start_witness(&d1, "witness.test/w1", &log_vkey);
    let w2 = start_witness(&d2, "witness.test/w2", &log_vkey);
    let (line1, line2) = (cosign(&w1, &note), cosign(&w2, &note));
    let policy = format!(
        "# two witnesses, both required\nlog {log_vkey}\nwitness alpha {}\nwitness beta {}\ngroup both all alpha beta\nquorum both\n",
        witness_vkey(&d1),
        witness_vkey(&d2)
    );

    let cosigned = format!("{note}{line1}\n{line2}\n");
    let (code, out, err) = verify(tmp.path(), &policy, &cosigned);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("cosigned by alpha, beta (quorum both met)"),
        "{out}"
    );

    let one = format!("{note}{line2}\n");
    let (code, out, err) = verify(tmp.path(), &policy, &one);
    assert_eq!(code, Some(1), "stdout: {out}\nstderr: {err}");
    assert!(
        err.contains("quorum `both` not met: cosigned by beta; no valid cosignature from alpha"),
        "{err}"
    );

    // A cosignature with its last signature byte changed: bad, and named.
    let (name, payload) = line1.rsplit_once(' ').expect("a payload");
    let mut payload = B64.decode(payload).expect("base64");
    payload[75] ^= 1;
    let bad = format!("{name} {}", B64.encode(payload));
    let (code, _, err) = verify(tmp.path(), &policy, &format!("{note}{bad}\n{line2}\n"));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("witness `alpha` is bad"), "{err}");

    // A policy naming an undefined member is a usage error, with its line.
    let broken = policy.replace("group both all alpha beta", "group both all alpha gamma");
    let (code, _, err) = verify(tmp.path(), &broken, &cosigned);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("line 5: `gamma` is not a witness or group"),
        "{err}"
    );
}
