//! Witnesses on the log's side and the auditor's, end to end with `idledger witness serve`
//! processes on loopback: ingest submits its checkpoints and stores the cosignatures, goes on
//! when a witness is unreachable and gets its cosignature once it is back; `checkpoint`,
//! `prove` and `verify` carry and check them against a policy; `verify-consistency` checks a
//! consistency proof offline; a fork is cosigned on one branch only and a truncated log gets no
//! cosignature.

mod common;

use common::witness_server::{Witness, checkpoint, request};
use common::*;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use std::path::Path;
use std::time::Duration;

const ORIGIN: &str = "test.example/ledger";

fn start_witness(dir: &Path, name: &str, log_vkey: &str, listen: &str) -> Witness {
    let log = format!("{ORIGIN}={log_vkey}");
    Witness::start_on(&dir.join("keys"), &dir.join("state"), name, &[log], listen)
}

fn witness_vkey(dir: &Path) -> String {
    let keys = dir.join("keys");
    ok(&["witness", "vkey", "--key-dir", path(&keys)], None)
        .trim()
        .to_owned()
}

fn produce(bootstrap: &str, prefix: &str, n: usize) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for i in 0..n {
        let payload = format!(
            r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{}","kind":"human"}}}}"#,
            i % 5
        );
        p.send(BaseRecord::<str, str>::to("identity-events").payload(&payload))
            .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

fn ingest(data: &Path, bootstrap: &str, witnesses: &[String]) -> String {
    let mut args = vec![
        "ingest",
        "--data",
        path(data),
        "--brokers",
        bootstrap,
        "--topic",
        "identity-events",
        "--group",
        "witnessed",
        "--until-caught-up",
        "300",
        "--witness-interval-ms",
        "50",
    ];
    for w in witnesses {
        args.extend(["--witness", w.as_str()]);
    }
    let o = run(&args, None);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

/// A port on 127.0.0.1 nothing listens on now (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Runs a command and returns its exit code and output.
fn code(args: &[&str]) -> (Option<i32>, String) {
    let o = run(args, None);
    (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
}

#[test]
fn ingest_gets_checkpoints_cosigned_and_goes_on_without_an_unreachable_witness() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("ledger");
    let d = path(&data);
    let log_vkey = init(&data);
    let (mut broker, bootstrap) = spawn_dev_broker(&["identity-events:2"]);
    let (d1, d2) = (tmp.path().join("w1"), tmp.path().join("w2"));
    let w1 = start_witness(&d1, "witness.test/w1", &log_vkey, "127.0.0.1:0");
    // The second witness runs once (creating its key) and is then down.
    let down = closed_port();
    start_witness(
        &d2,
        "witness.test/w2",
        &log_vkey,
        &format!("127.0.0.1:{down}"),
    )
    .kill();
    let (k1, k2) = (witness_vkey(&d1), witness_vkey(&d2));
    let targets = [
        format!("http://{}={k1}", w1.addr),
        format!("http://127.0.0.1:{down}={k2}"),
    ];

    produce(&bootstrap, "a", 40);
    let log = ingest(&data, &bootstrap, &targets);
    assert!(log.contains("checkpoint not cosigned"), "{log}");
    let first = ok(&["checkpoint", "--data", d], None);
    assert!(first.contains("\u{2014} witness.test/w1 "), "{first}");
    assert!(!first.contains("\u{2014} witness.test/w2 "), "{first}");

    let policy = |quorum: &str| {
        let file = tmp.path().join(format!("policy-{quorum}"));
        let text = format!(
            "log {log_vkey}\nwitness one {k1}\nwitness two {k2}\ngroup any 1 one two\ngroup both all one two\nquorum {quorum}\n"
        );
        std::fs::write(&file, text).expect("policy");
        file
    };
    let (any, both) = (policy("any"), policy("both"));
    let verified = ok(&["verify", "--data", d, "--policy", path(&any)], None);
    assert!(
        verified.contains("cosigned by one (quorum any met); 0 entries after it"),
        "{verified}"
    );
    let (status, out) = code(&["verify", "--data", d, "--policy", path(&both)]);
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("not witnessed"), "{out}");
    // An export rests on the same checkpoint, and its cosignatures travel in the stream.
    let exported = tmp.path().join("export.jsonl");
    let verify_export =
        |policy: &Path| code(&["verify-export", "--policy", path(policy), path(&exported)]);
    ok(&["export", "--data", d, "--out", path(&exported)], None);
    let (status, out) = verify_export(&any);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("witnessed: the checkpoints of sizes"), "{out}");
    let (status, out) = verify_export(&both);
    assert_eq!(status, Some(1), "{out}");
    assert!(
        out.contains("not witnessed as the policy requires"),
        "{out}"
    );
    let first_size = first
        .lines()
        .nth(1)
        .and_then(|l| l.parse::<u64>().ok())
        .expect("a checkpoint's second line is its size");

    // The second witness comes up where it was expected; the next run gets both cosignatures,
    // each witness proving consistency from the size it last cosigned.
    let first_file = tmp.path().join("first.checkpoint");
    std::fs::write(&first_file, &first).expect("write");
    let w2 = start_witness(
        &d2,
        "witness.test/w2",
        &log_vkey,
        &format!("127.0.0.1:{down}"),
    );
    produce(&bootstrap, "b", 30);
    let log = ingest(&data, &bootstrap, &targets);
    let second = ok(&["checkpoint", "--data", d], None);
    assert!(
        second.contains("\u{2014} witness.test/w1 ")
            && second.contains("\u{2014} witness.test/w2 "),
        "{second}\n{log}"
    );
    let verified = ok(&["verify", "--data", d, "--policy", path(&both)], None);
    assert!(verified.contains("(quorum both met)"), "{verified}");
    // An export to the first checkpoint carries the cosignatures stored for it.
    let to = first_size.to_string();
    ok(
        &["export", "--data", d, "--to", &to, "--out", path(&exported)],
        None,
    );
    let (status, out) = verify_export(&any);
    assert_eq!(status, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "witnessed: the checkpoints of sizes {first_size} "
        )),
        "{out}"
    );

    // A proof carries the cosigned checkpoint and meets the policy offline.
    let proof = tmp.path().join("proof");
    std::fs::write(&proof, ok(&["prove", "--data", d, "--index", "5"], None)).expect("write");
    let checked = ok(
        &["verify-proof", "--policy", path(&both), path(&proof)],
        None,
    );
    assert!(checked.contains("(quorum both met)"), "{checked}");

    consistency_is_checked_offline(tmp.path(), d, &log_vkey, &first_file, &second, &both);
    drop((w1, w2));
    let _ = broker.kill();
    let _ = broker.wait();
}

/// `verify-consistency`: the two checkpoints and the ledger's proof pass; swapped, or with a
/// changed proof, they fail with exit 1.
fn consistency_is_checked_offline(
    tmp: &Path,
    d: &str,
    log_vkey: &str,
    first_file: &Path,
    second: &str,
    policy: &Path,
) {
    let size_of = |note: &str| note.lines().nth(1).expect("size").to_owned();
    let first = std::fs::read_to_string(first_file).expect("read");
    let second_file = tmp.join("second.checkpoint");
    std::fs::write(&second_file, second).expect("write");
    let proof = ok(
        &[
            "consistency",
            "--data",
            d,
            "--from",
            &size_of(&first),
            "--to",
            &size_of(second),
        ],
        None,
    );
    let proof_file = tmp.join("consistency");
    std::fs::write(&proof_file, &proof).expect("write");
    let (old, new, p) = (path(first_file), path(&second_file), path(&proof_file));
    let out = ok(
        &["verify-consistency", "--vkey", log_vkey, old, new, p],
        None,
    );
    assert!(out.contains("is an append-only extension of size"), "{out}");
    let out = ok(
        &["verify-consistency", "--policy", path(policy), old, new, p],
        None,
    );
    assert!(out.contains("(quorum both met)"), "{out}");

    let (status, out) = code(&["verify-consistency", "--vkey", log_vkey, new, old, p]);
    assert_eq!(status, Some(1), "{out}");
    let mut lines: Vec<String> = proof.lines().map(str::to_owned).collect();
    lines[0] = idledger_proto::Hash([9; 32]).to_base64();
    std::fs::write(&proof_file, lines.join("\n")).expect("write");
    let (status, out) = code(&["verify-consistency", "--vkey", log_vkey, old, new, p]);
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("not an append-only extension"), "{out}");
}

/// Appends `n` events to a ledger with `append`.
fn append_events(dir: &Path, prefix: &str, n: usize) {
    let events: String = (0..n)
        .map(|i| format!(r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{i}","kind":"human"}}}}"#) + "\n")
        .collect();
    ok(&["append", "--data", path(dir), "-"], Some(&events));
}

fn size(dir: &Path) -> u64 {
    checkpoint(dir).1
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn a_fork_is_cosigned_on_one_branch_only_and_a_truncation_not_at_all() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = tmp.path().join("a");
    let log_vkey = init(&a);
    append_events(&a, "p", 10);
    let prefix = size(&a);
    // Branch b: a copy of the ledger and its key at the prefix (an operator holding the key).
    let b = tmp.path().join("b");
    copy_dir(&a, &b);
    copy_dir(&keys_for(&a), &keys_for(&b));
    let w = start_witness(
        &tmp.path().join("w"),
        "witness.test/w",
        &log_vkey,
        "127.0.0.1:0",
    );
    assert_eq!(w.post(request(&a, 0).0.as_bytes()).status, 200);

    append_events(&a, "a", 6);
    append_events(&b, "b", 9);
    let a_size = size(&a);
    let reply = w.post(request(&a, prefix).0.as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
    // Branch b from the size the witness last cosigned for it: refused as stale...
    let reply = w.post(request(&b, prefix).0.as_bytes());
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (409, format!("{a_size}\n").as_str())
    );
    // ...and from the witnessed size, its proof does not lead from a's root: refused.
    let reply = w.post(request(&b, a_size).0.as_bytes());
    assert_eq!(reply.status, 422, "{reply:?}");

    // Truncation: the prefix's checkpoint, offered again after a longer one was cosigned.
    let reply = w.post(format!("old {a_size}\n\n{}", checkpoint_at(&a, prefix)).as_bytes());
    assert!(matches!(reply.status, 400 | 409 | 422), "{reply:?}");
}

/// The ledger's stored checkpoint at `size`, as a note.
fn checkpoint_at(dir: &Path, size: u64) -> String {
    let ro = idledger_ledger::ReadOnlyLedger::open(dir).expect("open");
    ro.reader()
        .checkpoint_at(idledger_proto::TreeSize(size))
        .expect("read")
        .expect("a checkpoint at that size")
}
