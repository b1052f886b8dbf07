//! Every subcommand's success and main failures, with the documented exit codes: 0 success,
//! 1 data failed verification, 2 usage, configuration or I/O error.

mod common;

use common::*;

const EVENT: &str = r#"{"id":"e1","source":"okta","type":"identity.created","time":"2026-01-01T00:00:00Z","actor":{"id":"hr","kind":"service"},"subject":{"id":"alice","kind":"human"}}"#;

fn events(n: usize) -> String {
    events_named("u", n)
}

fn events_named(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!(r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"alice","kind":"human"}},"reason":"update number {i} with some padding to make the output long"}}"#))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn init_append_verify_prove_and_their_failures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let d = path(&dir);
    let vkey = init(&dir);
    assert!(vkey.starts_with("test.example/ledger+"), "{vkey}");
    assert_eq!(ok(&["vkey", "--data", d], None).trim(), vkey);
    let cp = ok(&["checkpoint", "--data", d], None);
    assert!(cp.starts_with("test.example/ledger\n1\n"), "{cp}");

    append_reports_each_kind_of_line(tmp.path(), d);
    let other_vkey = verify_against_a_kept_checkpoint_and_keys(tmp.path(), d, &vkey);
    prove_and_verify_proof(tmp.path(), d, &vkey, &other_vkey);
    let new_key = rotate_key_and_finish(d, &vkey);
    an_unreadable_key_is_a_clear_error(&dir, d, &new_key);
}

/// append: valid, invalid, duplicate and secret-bearing lines, each reported.
fn append_reports_each_kind_of_line(tmp: &std::path::Path, d: &str) {
    let input = format!("{EVENT}\nnot json\n{EVENT}\n{}\n", EVENT.replace("\"e1\"", "\"e2\"").replace("}}", r#"},"credential":{"id":"k","kind":"secret","fingerprint":"sha256:00","value":"hunter2"}}"#));
    let o = run(&["append", "--data", d, "-"], Some(&input));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("appended 1, quarantined 2, duplicates skipped 1; tree size 4"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("line 2: quarantined as entry 2: payload is not JSON"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("line 3: duplicate of entry 1, skipped"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("secret material"), "{}", stderr(&o));
    let file = tmp.join("events.jsonl");
    std::fs::write(&file, events(50)).expect("write");
    assert!(ok(&["append", "--data", d, path(&file)], None).contains("appended 50"));
}

/// verify: ok against a kept checkpoint and the right key; another ledger's key is exit 1.
/// Returns that other key.
fn verify_against_a_kept_checkpoint_and_keys(tmp: &std::path::Path, d: &str, vkey: &str) -> String {
    let kept = tmp.join("kept.checkpoint");
    std::fs::write(&kept, ok(&["checkpoint", "--data", d], None)).expect("write");
    ok(&["append", "--data", d, "-"], Some(&events_named("v", 60)));
    let v = ok(
        &[
            "verify",
            "--data",
            d,
            "--trusted",
            path(&kept),
            "--vkey",
            vkey,
        ],
        None,
    );
    assert!(
        v.contains("ok: ledger verified against the keys you passed: tree size 114")
            && v.contains("append-only extension of your checkpoint of size 54"),
        "{v}"
    );
    let other = tmp.join("other");
    let other_vkey = init(&other);
    let o = run(&["verify", "--data", d, "--vkey", &other_vkey], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("verification failed: first failure: unknown key"),
        "{}",
        stderr(&o)
    );
    let vkey_file = tmp.join("vkey.txt");
    std::fs::write(&vkey_file, format!("{vkey}\n")).expect("write");
    ok(
        &["verify", "--data", d, "--vkey", path(&vkey_file), "--json"],
        None,
    );
    other_vkey
}

/// prove and verify-proof; the wrong key and a changed proof are exit 1.
fn prove_and_verify_proof(tmp: &std::path::Path, d: &str, vkey: &str, other_vkey: &str) {
    let proof = ok(&["prove", "--data", d, "--index", "1"], None);
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nextra "),
        "{proof}"
    );
    let proof_file = tmp.join("p.tlog-proof");
    std::fs::write(&proof_file, &proof).expect("write");
    assert!(
        ok(&["verify-proof", "--vkey", vkey, path(&proof_file)], None)
            .contains("ok: entry 1 is in the log")
    );
    assert_eq!(
        run(
            &["verify-proof", "--vkey", other_vkey, path(&proof_file)],
            None
        )
        .status
        .code(),
        Some(1)
    );
    std::fs::write(&proof_file, proof.replacen("index 1", "index 2", 1)).expect("write");
    let o = run(&["verify-proof", "--vkey", vkey, path(&proof_file)], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("verification failed: tlog-proof"),
        "{}",
        stderr(&o)
    );
    let o = run(&["prove", "--data", d, "--index", "999"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("index 999 is not in the ledger"),
        "{}",
        stderr(&o)
    );
    let hashes = ok(&["consistency", "--data", d, "--from", "10"], None);
    assert!(hashes.lines().count() >= 2, "{hashes}");
}

/// rotate-key, then finish; the old key still verifies the chain. Returns the new key.
fn rotate_key_and_finish(d: &str, vkey: &str) -> String {
    let new_key = ok(&["rotate-key", "--data", d], None).trim().to_owned();
    assert_ne!(new_key, vkey);
    let cp = ok(&["checkpoint", "--data", d], None);
    assert_eq!(
        cp.matches('\u{2014}').count(),
        2,
        "overlap checkpoints carry two signatures: {cp}"
    );
    ok(&["rotate-key", "--data", d, "--finish"], None);
    ok(&["append", "--data", d, "-"], Some(&events_named("w", 3)));
    assert_eq!(ok(&["vkey", "--data", d], None).trim(), new_key);
    ok(&["verify", "--data", d, "--vkey", vkey], None);
    ok(&["verify", "--data", d, "--vkey", &new_key], None);
    new_key
}

/// An unreadable signing key is a clear error (exit 2).
fn an_unreadable_key_is_a_clear_error(dir: &std::path::Path, d: &str, new_key: &str) {
    let key_dir = keys_for(dir);
    let key_file = std::fs::read_dir(&key_dir)
        .expect("keys")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.to_string_lossy()
                .contains(&new_key.split('+').nth(1).expect("id").to_string())
        })
        .expect("new key file");
    std::fs::write(
        &key_file,
        "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    let o = run(&["append", "--data", d, "-"], Some(EVENT));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not an Ed25519 PKCS#8 PEM key"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_configuration_and_missing_data_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("missing");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["verify", "--data", path(&missing)], "no ledger at"),
        (vec!["vkey", "--data", path(&missing)], "no ledger at"),
        (
            vec!["append", "--data", path(&missing), "-"],
            "no ledger at",
        ),
        (
            vec!["history", "--data", path(&missing), "alice"],
            "no ledger at",
        ),
        (vec!["verify"], "no ledger directory: pass --data DIR"),
        (
            vec!["prove", "--data", "x", "--index", "notanumber"],
            "invalid value",
        ),
        (vec!["frobnicate"], "unrecognized subcommand"),
        (vec!["report", "--data", "x", "nonsense"], "invalid value"),
        (
            vec!["verify-proof", "--vkey", "not-a-key", "/dev/null"],
            "is not a verifier key",
        ),
        (
            vec![
                "access",
                "--data",
                "x",
                "--resource",
                "r",
                "--at",
                "yesterday",
            ],
            "invalid value 'yesterday' for '--at",
        ),
        (vec!["ingest", "--data", path(&missing)], "no brokers"),
    ];
    for (args, expect) in cases {
        let o = run(&args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(expect),
            "{args:?}: expected `{expect}` in {}",
            stderr(&o)
        );
    }
    let config = tmp.path().join("bad.toml");
    std::fs::write(&config, "data = \"/tmp\"\ncolour = \"red\"\n").expect("write");
    let o = run(&["--config", path(&config), "vkey"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown field `colour`"),
        "{}",
        stderr(&o)
    );
    // init refuses to overwrite.
    let dir = tmp.path().join("l");
    init(&dir);
    let o = run(&["init", "--data", path(&dir)], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("a ledger already exists"),
        "{}",
        stderr(&o)
    );
    // The data and key directories can come from the configuration file.
    let good = tmp.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "data = \"{}\"\nkey_dir = \"{}\"\n",
            path(&dir),
            path(&keys_for(&dir))
        ),
    )
    .expect("write");
    assert!(ok(&["--config", path(&good), "vkey"], None).starts_with("test.example/ledger+"));
}

#[test]
fn a_broken_pipe_is_not_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    init(&dir);
    ok(&["append", "--data", path(&dir), "-"], Some(&events(3000)));
    let script = format!(
        "set -o pipefail; '{}' history --data '{}' alice --json | head -c 10 >/dev/null",
        bin().display(),
        path(&dir)
    );
    let o = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("IDLEDGER_LOG", "warn")
        .output()
        .expect("bash");
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn demo_runs_the_whole_job_and_prints_the_answers() {
    let o = run(&["demo", "--events", "1500", "--partitions", "3"], None);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    for expect in [
        "ok: ledger verified",
        "who approved: bob@example.com at 2026-01-08T09:12:00Z with MFA under policy prod-access v7",
        "why:          requested by alice@example.com: \"investigate INC-7: payments failing for EU customers\" (ticket INC-7)",
        "access ended: revoked by sec-team@example.com at 2026-01-08T11:00:00Z",
        "the history of alice@example.com",
        "gap check: every entry links back to the previous one; none missing",
        "entitlement drift report",
        "credential_used_after_end hmac-sha256:1af02af80b03abfb6d30c37c6f400376f15fcd0d09c02d78a8e4e94ad4d23960",
        "c2sp.org/tlog-proof@v1",
        "verified offline: entry",
    ] {
        assert!(out.contains(expect), "demo output lacks `{expect}`:\n{out}");
    }
}

#[test]
fn dev_broker_and_ingest_as_the_readme_shows() {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    let (mut broker, bootstrap) = spawn_dev_broker(&["identity-events:2"]);
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    for i in 0..20 {
        let payload = format!(
            r#"{{"id":"r{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"alice","kind":"human"}}}}"#
        );
        p.send(
            BaseRecord::<str, str>::to("identity-events")
                .key("alice")
                .payload(&payload),
        )
        .expect("send");
    }
    p.send(
        BaseRecord::<str, str>::to("identity-events")
            .key("x")
            .payload("not json"),
    )
    .expect("send");
    p.flush(std::time::Duration::from_secs(30)).expect("flush");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    init(&dir);
    let out = ok(
        &[
            "ingest",
            "--data",
            path(&dir),
            "--brokers",
            &bootstrap,
            "--topic",
            "identity-events",
            "--group",
            "readme",
            "--until-caught-up",
            "500",
        ],
        None,
    );
    assert!(out.contains("appended 20, quarantined 1"), "{out}");
    let verified = ok(&["verify", "--data", path(&dir)], None);
    assert!(
        verified.contains("ok: ledger verified against the signing keys in")
            && verified.contains(": tree size 22, vouched for by test.example/ledger+"),
        "{verified}"
    );
    let _ = broker.kill();
    let _ = broker.wait();
}

/// Ingest stops at once with exit code 2 and an error that names the cause when its settings are
/// wrong, the broker refuses its credentials, or another process holds the ledger.
#[test]
fn ingest_stops_with_a_clear_error_on_bad_settings_refused_credentials_or_a_busy_ledger() {
    let (mut broker, bootstrap) = spawn_dev_broker(&["identity-events:1"]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    init(&dir);
    let busy = tmp.path().join("busy");
    init(&busy);
    // (ledger, extra arguments, what stderr must say)
    let cases: Vec<(&std::path::Path, Vec<&str>, &str)> = vec![
        (
            &dir,
            vec!["-X", "no.such.property=1"],
            r#"No such configuration property: "no.such.property""#,
        ),
        // The dev broker speaks no SASL: librdkafka fails the handshake, which is fatal.
        (
            &dir,
            vec![
                "-X",
                "security.protocol=sasl_plaintext",
                "-X",
                "sasl.mechanisms=PLAIN",
                "-X",
                "sasl.username=ingest",
                "-X",
                "sasl.password=wrong",
            ],
            "fatal kafka error: Global error: Authentication",
        ),
        (&busy, vec![], "is in use by another process"),
    ];
    let _holder = idledger_ledger::Ledger::open(&busy, &keys_for(&busy)).expect("open the ledger");
    for (ledger, extra, says) in cases {
        let mut args = vec![
            "ingest",
            "--data",
            path(ledger),
            "--brokers",
            &bootstrap,
            "--topic",
            "identity-events",
            "--group",
            "refused",
            "--until-caught-up",
            "500",
        ];
        args.extend(extra.iter().copied());
        let o = run(&args, None);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{extra:?}: {}", stderr(&o));
    }
    let _ = broker.kill();
    let _ = broker.wait();
}

/// `history --follow` prints the answer, then each new entry about the subject as it is signed,
/// and nothing about anyone else.
#[test]
fn history_follows_new_entries_about_its_subject() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    let d = path(&dir);
    init(&dir);
    ok(&["append", "--data", d, "-"], Some(EVENT));
    let file = tmp.path().join("followed");
    let mut child = idledger(&[
        "history",
        "--data",
        d,
        "alice",
        "--json",
        "--follow",
        "--follow-interval-ms",
        "50",
    ])
    .stdout(std::fs::File::create(&file).expect("out"))
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("history --follow");
    let later = [
        ("f-alice", "alice"),
        ("f-bob", "bob"),
        ("f-alice-2", "alice"),
    ]
    .iter()
    .map(|(id, who)| {
        EVENT
            .replace("\"e1\"", &format!("\"{id}\""))
            .replace("\"alice\"", &format!("\"{who}\""))
    })
    .collect::<Vec<_>>()
    .join("\n");
    ok(&["append", "--data", d, "-"], Some(&later));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains("\"f-alice-2\"")) {
        assert!(std::time::Instant::now() < deadline, "never followed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().expect("stop");
    child.wait().expect("wait");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains("\"f-alice\""), "{text}");
    assert!(!text.contains("\"f-bob\""), "{text}");
}
