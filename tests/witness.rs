//! `idledger witness serve` against a real ledger: checkpoints and consistency proofs printed by
//! `idledger checkpoint` and `idledger consistency`, sent as c2sp.org/tlog-witness requests over
//! plain HTTP/1.1; cosignatures checked here from the c2sp.org/tlog-cosignature text (key ID,
//! signed message, timestamp) with ed25519-dalek alone; and the state kept across SIGKILL.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::witness_server::{Witness, checkpoint, request};
use common::*;
use std::path::{Path, PathBuf};

const ORIGIN: &str = "test.example/ledger";
const NAME: &str = "witness.test/w1";

fn append_events(dir: &Path, prefix: &str, n: usize) {
    let events: String = (0..n)
        .map(|i| format!(r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{}","kind":"human"}}}}"#, i % 7) + "\n")
        .collect();
    ok(
        &["append", "--data", path(dir), "--batch", "1000", "-"],
        Some(&events),
    );
}

/// Verifies a cosignature line as c2sp.org/tlog-cosignature says, written here from the spec:
/// key ID = SHA-256(name || "\n" || 0x04 || key)[:4]; payload = key ID || u64 BE timestamp ||
/// Ed25519 signature over "cosignature/v1\ntime <t>\n" || the checkpoint note text.
fn check_cosignature(vkey: &str, note: &str, line: &str) -> u64 {
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
    // Plain SHA-256 (proto's is a thin wrapper over sha2); the rest is the spec's text.
    use idledger_proto::hash::sha256;
    let mut parts = vkey.splitn(3, '+');
    let (name, id, key) = (
        parts.next().expect("name"),
        parts.next().expect("id"),
        parts.next().expect("key"),
    );
    let key = B64.decode(key).expect("base64 key");
    assert_eq!(key[0], 0x04, "a cosignature/v1 key");
    let public =
        VerifyingKey::from_bytes(&key[1..].try_into().expect("32 bytes")).expect("a point");
    let mut material = name.as_bytes().to_vec();
    material.push(b'\n');
    material.extend_from_slice(&key);
    let expected_id = sha256(&material).0;
    assert_eq!(id, hex::encode(&expected_id[..4]));
    let rest = line
        .strip_prefix('\u{2014}')
        .and_then(|r| r.strip_prefix(' '))
        .expect("an em dash");
    let (line_name, payload) = rest
        .trim_end_matches('\n')
        .split_once(' ')
        .expect("name and payload");
    assert_eq!(line_name, name);
    let payload = B64.decode(payload).expect("base64");
    assert_eq!(payload.len(), 4 + 8 + 64);
    assert_eq!(payload[..4], expected_id[..4]);
    let time = u64::from_be_bytes(payload[4..12].try_into().expect("8 bytes"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    assert!(
        time > 0 && time <= now + 5 && time + 600 > now,
        "timestamp {time}, now {now}"
    );
    let text = &note[..note.find("\n\n").expect("a note") + 1];
    let message = format!("cosignature/v1\ntime {time}\n{text}");
    let signature = Signature::from_slice(&payload[12..]).expect("64 bytes");
    public
        .verify(message.as_bytes(), &signature)
        .expect("the cosignature verifies");
    time
}

struct Setup {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    keys: PathBuf,
    state: PathBuf,
    log_vkey: String,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("ledger");
    let log_vkey = init(&data);
    Setup {
        keys: tmp.path().join("witness-keys"),
        state: tmp.path().join("witness-state"),
        data,
        log_vkey,
        _tmp: tmp,
    }
}

impl Setup {
    fn start(&self) -> Witness {
        Witness::start(
            &self.keys,
            &self.state,
            NAME,
            &[format!("{ORIGIN}={}", self.log_vkey)],
        )
    }
    fn witness_vkey(&self) -> String {
        ok(&["witness", "vkey", "--key-dir", path(&self.keys)], None)
            .trim()
            .to_owned()
    }
}

#[test]
fn checkpoints_are_cosigned_in_order_and_stale_or_bad_requests_refused() {
    let s = setup();
    let witness = s.start();
    let vkey = s.witness_vkey();
    assert!(vkey.starts_with(&format!("{NAME}+")), "{vkey}");
    append_events(&s.data, "a", 5);
    let (body, note) = request(&s.data, 0);
    let reply = witness.post(body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    check_cosignature(&vkey, &note, &reply.body);
    let (_, first) = checkpoint(&s.data);

    append_events(&s.data, "b", 9);
    let (body, note) = request(&s.data, first);
    let reply = witness.post(body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    check_cosignature(&vkey, &note, &reply.body);
    let (_, second) = checkpoint(&s.data);

    // A stale old size: 409 with the size the witness holds.
    let (stale, _) = request(&s.data, first);
    let reply = witness.post(stale.as_bytes());
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (409, format!("{second}\n").as_str())
    );
    assert_eq!(reply.content_type.as_deref(), Some("text/x.tlog.size"));

    // A bad proof: one hash changed.
    append_events(&s.data, "c", 4);
    let (body, _) = request(&s.data, second);
    let mut lines: Vec<String> = body.split('\n').map(str::to_owned).collect();
    let mut hash = B64.decode(&lines[1]).expect("a proof line");
    hash[0] ^= 1;
    lines[1] = B64.encode(hash);
    assert_eq!(witness.post(lines.join("\n").as_bytes()).status, 422);

    // Malformed: no empty line, a non-canonical size, not UTF-8.
    assert_eq!(
        witness
            .post(body.replacen("\n\n", "\n", 1).as_bytes())
            .status,
        400
    );
    assert_eq!(
        witness
            .post(body.replacen("old ", "old 0", 1).as_bytes())
            .status,
        400
    );
    assert_eq!(witness.post(b"old 1\n\n\xff\xfe\n").status, 400);
    // The honest request still goes through after all that.
    assert_eq!(witness.post(body.as_bytes()).status, 200);
}

#[test]
fn unknown_logs_and_other_keys_are_refused() {
    let s = setup();
    // Another ledger, with the same origin and its own key: the witness does not trust it.
    let other = s._tmp.path().join("other");
    init(&other);
    append_events(&other, "x", 3);
    let witness = s.start();
    let (body, _) = request(&other, 0);
    assert_eq!(witness.post(body.as_bytes()).status, 403);
    // Another origin altogether: the spec's 404 for an unknown log.
    let third = s._tmp.path().join("third");
    ok(
        &[
            "init",
            "--data",
            path(&third),
            "--origin",
            "third.example/log",
        ],
        None,
    );
    append_events(&third, "y", 3);
    let (body, _) = request(&third, 0);
    assert_eq!(witness.post(body.as_bytes()).status, 404);
}

#[test]
fn a_witness_killed_after_cosigning_keeps_its_state() {
    let s = setup();
    let witness = s.start();
    append_events(&s.data, "a", 6);
    let (body, _) = request(&s.data, 0);
    assert_eq!(witness.post(body.as_bytes()).status, 200);
    let (_, size) = checkpoint(&s.data);
    witness.kill();

    let witness = s.start();
    append_events(&s.data, "b", 6);
    let (from_zero, _) = request(&s.data, 0);
    let reply = witness.post(from_zero.as_bytes());
    assert_eq!((reply.status, reply.body), (409, format!("{size}\n")));
    let (body, note) = request(&s.data, size);
    let reply = witness.post(body.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    check_cosignature(&s.witness_vkey(), &note, &reply.body);
}
