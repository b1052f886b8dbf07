//! `idledger witness serve` against a real ledger: checkpoints and consistency proofs printed by
//! `idledger checkpoint` and `idledger consistency`, sent as c2sp.org/tlog-witness requests over
//! plain HTTP/1.1; cosignatures checked here from the c2sp.org/tlog-cosignature text (key ID,
//! signed message, timestamp) with ed25519-dalek alone; and the state kept across SIGKILL.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::witness_server::{Witness, checkpoint, post_to, request};
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// A second witness on a state directory in use stops at start, saying why: two processes
/// could each cosign a different branch.
#[test]
fn a_second_witness_on_the_same_state_is_refused() {
    let s = setup();
    let _first = s.start();
    let log = format!("{ORIGIN}={}", s.log_vkey);
    let o = run(
        &[
            "witness",
            "serve",
            "--key-dir",
            path(&s.keys),
            "--state",
            path(&s.state),
            "--listen",
            "127.0.0.1:0",
            "--log",
            &log,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is in use by another witness process"),
        "{}",
        stderr(&o)
    );
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

/// kill -9 at any moment, mid-request included (delays from 0 ms, while requests stream in):
/// after each restart the witness holds the size of a checkpoint it was sent, never below one
/// it answered 200 for, and cosigns on from there; it never loses or invents a cosigned size.
#[test]
fn a_witness_killed_mid_request_restarts_at_a_size_it_cosigned() {
    let s = setup();
    // Checkpoints of growing size, each with the request from the one before it.
    let mut sizes: Vec<u64> = Vec::new();
    let mut bodies: Vec<String> = Vec::new();
    for round in 0..14 {
        append_events(&s.data, &format!("r{round}-"), 2);
        let (note, size) = checkpoint(&s.data);
        let old = sizes.last().copied().unwrap_or(0);
        let proof = if old == 0 {
            String::new()
        } else {
            ok(
                &[
                    "consistency",
                    "--data",
                    path(&s.data),
                    "--from",
                    &old.to_string(),
                    "--to",
                    &size.to_string(),
                ],
                None,
            )
        };
        bodies.push(format!("old {old}\n{proof}\n{note}"));
        sizes.push(size);
    }
    let mut known = 0u64;
    for delay_ms in [0u64, 1, 2, 3, 5, 8, 13] {
        let witness = s.start();
        let addr = witness.addr;
        let from = sizes.iter().position(|&z| z == known).map_or(0, |i| i + 1);
        let to_send: Vec<(u64, String)> = sizes[from..]
            .iter()
            .copied()
            .zip(bodies[from..].iter().cloned())
            .collect();
        let sender = std::thread::spawn(move || {
            let mut acknowledged = None;
            for (size, body) in to_send {
                match post_to(addr, body.as_bytes()) {
                    Some(r) if r.status == 200 => acknowledged = Some(size),
                    _ => break,
                }
            }
            acknowledged
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        witness.kill();
        let acknowledged = sender.join().expect("sender");
        // What the restarted witness holds: it answers a request from 0 with 409 and its size
        // (or cosigns the first checkpoint, if it never cosigned anything).
        let witness = s.start();
        let reply = witness.post(bodies[0].as_bytes());
        let held = match reply.status {
            200 => sizes[0],
            409 => reply.body.trim().parse::<u64>().expect("a size"),
            other => panic!("unexpected {other}: {reply:?}"),
        };
        assert!(sizes.contains(&held), "{held} is no checkpoint's size");
        assert!(held >= known, "went back from {known} to {held}");
        if let Some(a) = acknowledged {
            assert!(held >= a, "answered 200 for {a} but holds {held}");
        }
        known = held;
        witness.kill();
    }
    // And it goes on from what it holds.
    let witness = s.start();
    if let Some(i) = sizes.iter().position(|&z| z == known)
        && i + 1 < sizes.len()
    {
        assert_eq!(witness.post(bodies[i + 1].as_bytes()).status, 200);
    }
}
