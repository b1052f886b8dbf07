//! Source formats end to end, through Kafka (librdkafka's mock cluster) and the real ingest
//! pipeline: a topic per format and one mixed topic read with `auto`, CloudEvents in binary mode
//! (headers) routed by the configuration file, out-of-scope records accounted for, a group
//! membership granted in Okta and revoked in OCSF read as one episode, and credentials used after
//! they were revoked found in two formats. The records are the mapping tests' fixtures
//! (proto/tests/fixtures/formats, each written from its vendor's documentation), adjusted where a
//! scenario needs them to name the same user, group, factor or token.

mod common;

use common::*;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::entry::{Body, SystemRecord};
use idledger_proto::source_record::{Original, RecordFormat};
use rdkafka::ClientConfig;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proto/tests/fixtures/formats");

/// A fixture record, with the members at these JSON pointers replaced.
fn fixture(name: &str, changes: &[(&str, Value)]) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}"))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    let mut doc: Value = serde_json::from_str(&text).expect("a fixture is JSON");
    for (pointer, value) in changes {
        *doc.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{name} has no {pointer}")) = value.clone();
    }
    serde_json::to_vec(&doc).expect("JSON")
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "2")
        .create()
        .expect("producer")
}

fn send(p: &BaseProducer, topic: &str, payload: &[u8], headers: &[(&str, &str)]) {
    let mut h = OwnedHeaders::new();
    for (name, value) in headers {
        h = h.insert(rdkafka::message::Header {
            key: name,
            value: Some(*value),
        });
    }
    let record = BaseRecord::<(), [u8]>::to(topic)
        .payload(payload)
        .headers(h);
    p.send(record).map_err(|(e, _)| e).expect("queued");
    p.flush(Duration::from_secs(10)).expect("flushed");
}

/// The scenario's messages, per topic.
fn produce(bootstrap: &str) {
    let p = producer(bootstrap);
    // Alice joins Engineering in Okta; the security data lake (OCSF) reports her removal.
    send(&p, "okta-log", &fixture("okta/group_add.json", &[]), &[]);
    let removal = fixture(
        "ocsf/group_management_add_user.json",
        &[
            ("/metadata/uid", json!("ocsf-removal-1")),
            ("/activity_id", json!(4)),
            ("/activity_name", json!("Remove User")),
            ("/type_uid", json!(300604)),
            ("/time", json!(1_777_000_000_000_i64)),
            (
                "/users",
                json!([{ "name": "Alice.Smith@Acme.example", "type_id": 1 }]),
            ),
        ],
    );
    send(&p, "lake", &removal, &[]);
    // Okta: an MFA factor deactivated, then used to sign in.
    send(
        &p,
        "okta-log",
        &fixture("okta/mfa_deactivate.json", &[]),
        &[],
    );
    let late_mfa = fixture(
        "okta/auth_via_mfa.json",
        &[
            ("/published", json!("2026-05-06T08:00:00.000Z")),
            ("/debugContext/debugData/factor", json!("GOOGLE_OTP")),
        ],
    );
    send(&p, "okta-log", &late_mfa, &[]);
    // Okta, out of scope: a sign-on policy evaluation.
    send(
        &p,
        "okta-log",
        &fixture("okta/policy_evaluate_sign_on.json", &[]),
        &[],
    );
    // Vault: a token revoked by accessor, then used.
    let revoked = "hmac-sha256:e54ed6172d386f39123e6f6038976d8b5d9d0fe441e15c87656efade3cf471cf";
    send(
        &p,
        "vault-audit",
        &fixture("vault/token_revoke_accessor.json", &[]),
        &[],
    );
    let late_use = fixture(
        "vault/kv_read.json",
        &[
            ("/auth/accessor", json!(revoked)),
            ("/time", json!("2026-03-02T11:00:00Z")),
        ],
    );
    send(&p, "vault-audit", &late_use, &[]);
    // The mixed topic: one record of each format, recognised by shape, and one of none.
    for name in [
        "cloudtrail/create_access_key.json",
        "entra/add_user.json",
        "github/team_add_member.json",
        "secevent/risc_account_disabled.json",
        "ocsf/account_change_create.json",
    ] {
        send(&p, "mixed", &fixture(name, &[]), &[]);
    }
    send(&p, "mixed", br#"{"neither":"format"}"#, &[]);
    // The same GitHub record again, in a binary-mode CloudEvent: it lands once.
    let github = fixture("github/team_add_member.json", &[]);
    send(
        &p,
        "events",
        &github,
        &[
            ("ce_specversion", "1.0"),
            ("ce_id", "ce-42"),
            ("ce_source", "//github.com/acme"),
            ("ce_type", "com.github.audit.team"),
            ("content-type", "application/json"),
        ],
    );
}

fn entries(dir: &Path) -> Vec<idledger_proto::Entry> {
    let ro = ReadOnlyLedger::open(dir).expect("open");
    let r = ro.reader();
    let size = r.size().expect("size").0;
    (0..size)
        .map(|i| r.entry(idledger_proto::Seq(i)).expect("entry"))
        .collect()
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args, None)).expect("JSON output")
}

#[test]
fn every_format_lands_through_kafka_with_its_source_record() {
    let topics = ["okta-log", "lake", "vault-audit", "mixed", "events"];
    let (mut broker, bootstrap) = spawn_dev_broker(&topics);
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("ledger");
    init(&dir);
    let config = tmp.path().join("idledger.toml");
    std::fs::write(
        &config,
        r#"
[ingest.formats.okta-log]
format = "okta"
keep_original = true

[ingest.formats.events]
format = "cloudevents"
routes = { "com.github.audit." = "github" }
"#,
    )
    .expect("config");
    produce(&bootstrap);
    let mut args = vec![
        "--config".to_owned(),
        path(&config).to_owned(),
        "ingest".to_owned(),
        "--data".to_owned(),
        path(&dir).to_owned(),
        "--brokers".to_owned(),
        bootstrap.clone(),
        "--group".to_owned(),
        "formats".to_owned(),
        "--until-caught-up".to_owned(),
        "1500".to_owned(),
        "--format".to_owned(),
        "lake=ocsf".to_owned(),
        "--format".to_owned(),
        "vault-audit=vault".to_owned(),
        "--format".to_owned(),
        "auto".to_owned(),
    ];
    for t in topics {
        args.extend(["--topic".to_owned(), t.to_owned()]);
    }
    let out = idledger(&args).output().expect("ingest runs");
    assert!(out.status.success(), "ingest: {}", stderr(&out));
    broker.kill().expect("stop broker");

    let all = entries(&dir);
    check_source_records(&all);
    check_out_of_scope_and_unrecognised(&all);
    check_membership_episode(&dir);
    check_used_after_end(&dir);
    let report = verify_with_own_keys(&dir);
    assert!(report.ok(), "verify: {report:?}");
}

/// Each format's records landed with their source record; the GitHub record sent raw and in a
/// CloudEvent landed once; the Okta topic kept originals, whose hash is the record's.
fn check_source_records(all: &[idledger_proto::Entry]) {
    let mut by_format: BTreeMap<&'static str, usize> = BTreeMap::new();
    for e in all {
        let Body::Event(ev) = &e.body else { continue };
        let Some(r) = &ev.record else { continue };
        *by_format.entry(r.format.as_str()).or_default() += 1;
        match (&r.format, &r.original) {
            (RecordFormat::Okta, Original::Kept { bytes }) => {
                assert_eq!(idledger_proto::hash::sha256(bytes).0, r.sha256);
            }
            (RecordFormat::Okta, other) => panic!("okta keeps originals, found {other:?}"),
            (_, original) => assert_eq!(original, &Original::NotKept),
        }
    }
    for format in [
        "okta",
        "ocsf",
        "vault",
        "cloudtrail",
        "entra",
        "github",
        "secevent",
    ] {
        assert!(
            by_format.contains_key(format),
            "no {format} event in {by_format:?}"
        );
    }
    let github_team_adds = all
        .iter()
        .filter(|e| matches!(&e.body, Body::Event(ev) if ev.record.as_ref().is_some_and(|r| r.format == RecordFormat::Github)))
        .count();
    assert_eq!(
        github_team_adds, 1,
        "the record sent twice (raw, in a CloudEvent) lands once"
    );
}

fn check_out_of_scope_and_unrecognised(all: &[idledger_proto::Entry]) {
    let counts: Vec<(String, u64)> = all
        .iter()
        .filter_map(|e| match &e.body {
            Body::System(SystemRecord::OutOfScope { counts, .. }) => Some(counts.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        counts
            .iter()
            .any(|(k, n)| k == "okta:policy.evaluate_sign_on" && *n == 1),
        "the sign-on policy evaluation is counted: {counts:?}"
    );
    let unrecognised = all
        .iter()
        .filter(|e| matches!(&e.body, Body::Quarantined(r) if r.reason.class() == "unrecognised_format"))
        .count();
    assert_eq!(
        unrecognised, 1,
        "the record of no format is quarantined as such"
    );
}

/// Granted by Okta, revoked by the security lake's OCSF: one grant id, one episode.
fn check_membership_episode(dir: &Path) {
    let grant = "membership:group:Engineering:alice.smith@acme.example";
    let answer = json_of(&["grant", grant, "--data", path(dir), "--json"]);
    let episode = &answer["episode"];
    assert!(episode["granted"].is_object(), "granted: {answer:#}");
    assert_eq!(episode["end"]["kind"], "revoked", "{answer:#}");
    let at = |time: &str| {
        let rows = json_of(&[
            "access",
            "--resource",
            "Engineering",
            "--at",
            time,
            "--data",
            path(dir),
            "--json",
        ]);
        rows.to_string().contains("alice.smith@acme.example")
    };
    assert!(
        at("2026-03-03T00:00:00Z"),
        "a member between the grant and the revocation"
    );
    assert!(!at("2026-05-01T00:00:00Z"), "not after the revocation");
}

/// Used after revocation: an Okta factor and a Vault token.
fn check_used_after_end(dir: &Path) {
    let report = json_of(&["report", "used-after-end", "--data", path(dir), "--json"]);
    let text = report.to_string();
    assert!(
        text.contains("credential_used_after_end"),
        "findings: {report:#}"
    );
    assert!(
        text.contains("GOOGLE_OTP") || text.contains("google_otp"),
        "the Okta factor: {report:#}"
    );
    assert!(
        text.contains(
            "hmac-sha256:e54ed6172d386f39123e6f6038976d8b5d9d0fe441e15c87656efade3cf471cf"
        ),
        "the Vault token: {report:#}"
    );
}

/// `append --format`: a local file of records, one per line, read as ingest reads a topic: a
/// CloudTrail log file's records each land (the out-of-scope one counted and named, not
/// appended; the one without an event id quarantined with the pointer to it), a kept original
/// is in its entry, the same record again is a duplicate, and an unknown format name is
/// refused before anything is read.
#[test]
fn append_reads_a_file_in_a_source_format() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);
    let d = path(&dir);
    let log_file = fixture("cloudtrail/log_file.json", &[]);
    let user = fixture("cloudtrail/create_user.json", &[]);
    let file = tmp.path().join("records.jsonl");
    let mut lines = log_file.clone();
    lines.push(b'\n');
    lines.extend_from_slice(&user);
    lines.push(b'\n');
    lines.extend_from_slice(&user);
    std::fs::write(&file, &lines).expect("write");

    let o = run(
        &[
            "append",
            "--data",
            d,
            "--format",
            "cloudtrail",
            "--keep-original",
            path(&file),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "appended 2, quarantined 1, duplicates skipped 1, outside scope cloudtrail:s3.amazonaws.com:GetObject 1"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o)
            .contains("line 1: outside idledger's scope (cloudtrail:s3.amazonaws.com:GetObject)"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(
            "line 1: quarantined as entry 2: cloudtrail record, field `/Records/2/eventID`"
        ),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("line 3: duplicate of entry 3"),
        "{}",
        stderr(&o)
    );
    let mapped: Vec<_> = entries(&dir)
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Event(ev) => ev.record.map(|r| (e.seq, r)),
            _ => None,
        })
        .collect();
    assert_eq!(mapped.len(), 2, "{mapped:?}");
    assert!(
        mapped
            .iter()
            .all(|(_, r)| r.format == RecordFormat::CloudTrail
                && matches!(r.original, Original::Kept { .. })),
        "{mapped:?}"
    );

    let refused = run(
        &["append", "--data", d, "--format", "syslog", path(&file)],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("no input format `syslog`"),
        "{}",
        stderr(&refused)
    );
    let report = verify_with_own_keys(&dir);
    assert!(report.ok(), "verify: {report:?}");
}
