//! Ingest from an independent Kafka over TLS (tansu behind a TLS terminator, fed by
//! kafka-python: neither shares code with librdkafka), with batches in every codec Kafka has;
//! and the stops docs/DURABILITY.md item 8 promises for what retrying cannot mend: a broker
//! certificate no trusted CA signed, and SASL the broker does not speak. Secrets given to ingest
//! never appear in what it prints.

mod common;

use common::tls_kafka::{TlsKafka, make_ca};
use common::*;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::entry::Body;
use idledger_proto::{Seq, TreeSize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CODECS: [&str; 4] = ["gzip", "snappy", "lz4", "zstd"];
const PER_CODEC: usize = 300;

/// `idledger ingest` from `kafka`'s topic `identity`, trusting `ca`, with `extra` arguments.
fn ingest_command(dir: &Path, kafka: &TlsKafka, ca: &Path, extra: &[&str]) -> Command {
    let ca = format!("ssl.ca.location={}", ca.display());
    let mut args = vec![
        "ingest",
        "--data",
        path(dir),
        "--brokers",
        &kafka.bootstrap,
        "--topic",
        "identity",
        "--group",
        "tls-test",
        "-X",
        &ca,
    ];
    args.extend_from_slice(extra);
    let mut command = idledger(&args);
    command.stdin(std::process::Stdio::null());
    command
}

/// `idledger ingest` over TLS, stopping once caught up, with `extra` arguments.
fn ingest(dir: &Path, kafka: &TlsKafka, ca: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "-X",
        "security.protocol=SSL",
        "--until-caught-up",
        "1500",
        "--json",
    ];
    args.extend_from_slice(extra);
    ingest_command(dir, kafka, ca, &args)
        .output()
        .expect("run ingest")
}

const KEY_PASSWORD: &str = "key-pw-Qv93Lm";

/// `ingest` as `ingest` runs it, at debug level, with a secret property from a variable and
/// /metrics on a free port, read once while it runs.
fn ingest_watching_metrics(dir: &Path, kafka: &TlsKafka) -> (std::process::Output, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut command = ingest_command(
        dir,
        kafka,
        &kafka.ca,
        &[
            "-X",
            "security.protocol=SSL",
            "--kafka-env",
            "ssl.key.password=TEST_KEY_PASSWORD",
            "--metrics-addr",
            &addr,
            "--until-caught-up",
            "3000",
            "--json",
        ],
    );
    let child = command
        .env("IDLEDGER_LOG", "debug")
        .env("TEST_KEY_PASSWORD", KEY_PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ingest");
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        if let Ok((raw, _)) = common::http_get::http_get(addr.as_str(), "/metrics", None)
            && raw.starts_with(b"HTTP/1.1 200")
        {
            break String::from_utf8_lossy(&raw).into_owned();
        }
        assert!(Instant::now() < deadline, "/metrics never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    (child.wait_with_output().expect("wait"), metrics)
}

/// How many times each event id is in the ledger, and how many entries are quarantined.
fn event_counts(dir: &Path) -> (BTreeMap<String, usize>, usize) {
    let ro = ReadOnlyLedger::open(dir).expect("open");
    let reader = ro.reader();
    let TreeSize(size) = reader.size().expect("size");
    let (mut ids, mut quarantined) = (BTreeMap::new(), 0);
    for i in 0..size {
        match reader.entry(Seq(i)).expect("entry").body {
            Body::Event(e) => *ids.entry(e.event.id.clone()).or_insert(0) += 1,
            Body::Quarantined(_) => quarantined += 1,
            _ => {}
        }
    }
    (ids, quarantined)
}

#[test]
fn every_codec_over_tls_lands_exactly_once_and_verifies() {
    let kafka = TlsKafka::start(&[("identity", 3)]);
    kafka.produce("identity", PER_CODEC, &CODECS);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);

    // The dry run connects over TLS and plans every partition from its earliest offset.
    let check = ingest(&dir, &kafka, &kafka.ca, &["--check"]);
    assert!(check.status.success(), "{}", stderr(&check));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&check)).expect("json");
    let partitions = plan["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 3, "{plan}");
    // tansu 0.6.0 answers a ListOffsets for the latest offset with its last batch's base offset
    // (kafka-python's `end_offsets` reads the same), so the backlog it reports falls short by
    // the last batch of each partition; ingest itself reads on to the end.
    let backlog: i64 = partitions
        .iter()
        .map(|p| p["backlog"].as_i64().expect("n"))
        .sum();
    assert!(
        backlog > 0 && backlog <= (CODECS.len() * PER_CODEC) as i64,
        "{plan}"
    );
    assert!(
        partitions.iter().all(|p| p["start_from"] == "earliest"),
        "{plan}"
    );

    let run = ingest(&dir, &kafka, &kafka.ca, &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).expect("json");
    assert_eq!(summary["appended"], CODECS.len() * PER_CODEC, "{summary}");
    let (ids, quarantined) = event_counts(&dir);
    assert_eq!(quarantined, 0);
    let want: BTreeMap<String, usize> = CODECS
        .iter()
        .flat_map(|c| (0..PER_CODEC).map(move |i| (format!("{c}-{i}"), 1)))
        .collect();
    assert_eq!(ids, want);
    ok(&["verify", "--data", path(&dir)], None);

    // More of each codec after a restart: only the new ones land, once. This run also holds a
    // key password from a variable (TLS with a client key would use it): neither its logs at
    // debug level nor its /metrics print it.
    kafka.produce("identity", PER_CODEC * 2, &CODECS);
    let (run, metrics) = ingest_watching_metrics(&dir, &kafka);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        metrics.contains("idledger_events_appended_total"),
        "{metrics}"
    );
    let everything = stdout(&run) + &stderr(&run) + &metrics;
    assert!(
        !everything.contains(KEY_PASSWORD),
        "the password was printed"
    );
    let (ids, _) = event_counts(&dir);
    assert_eq!(ids.len(), CODECS.len() * PER_CODEC * 2);
    assert!(ids.values().all(|n| *n == 1));
    ok(&["verify", "--data", path(&dir)], None);
}

/// `text` in unpadded base64url, as a JWT's parts are.
fn base64url(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Runs `ingest` expecting it to stop by itself with exit code 2 (well before the caught-up
/// stop could end it, which needs a connection), and returns what it wrote.
fn refused(
    dir: &Path,
    kafka: &TlsKafka,
    ca: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> String {
    let started = Instant::now();
    let mut command = ingest_command(dir, kafka, ca, extra);
    command.env("IDLEDGER_LOG", "debug");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run ingest");
    let text = stdout(&out) + &stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    text
}

#[test]
fn what_retrying_cannot_mend_stops_ingest_and_no_secret_is_printed() {
    let kafka = TlsKafka::start(&[("identity", 1)]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);

    // A CA that did not sign the broker's certificate.
    let stranger = make_ca(tmp.path(), "stranger-ca");
    let text = refused(
        &dir,
        &kafka,
        &stranger,
        &["-X", "security.protocol=SSL"],
        &[],
    );
    assert!(
        text.contains("fatal kafka error") && text.contains("certificate verify failed"),
        "{text}"
    );

    // SASL over TLS to a broker that speaks no SASL: the mechanism and the user reach the
    // handshake, which fails, and ingest stops. The password, from a variable and from a file,
    // is never printed, even in debug logs; one given with -X is warned about, without it.
    let password_file = tmp.path().join("kafka-password");
    std::fs::write(&password_file, "file-pw-Zq81x\n").expect("write");
    let file_arg = format!("ssl.key.password={}", password_file.display());
    let text = refused(
        &dir,
        &kafka,
        &kafka.ca,
        &[
            "-X",
            "security.protocol=SASL_SSL",
            "-X",
            "sasl.mechanism=SCRAM-SHA-512",
            "-X",
            "sasl.username=idledger",
            "--kafka-env",
            "sasl.password=TEST_KAFKA_PASSWORD",
            "--kafka-file",
            &file_arg,
        ],
        &[("TEST_KAFKA_PASSWORD", "env-pw-Hk27q")],
    );
    assert!(text.contains("fatal kafka error"), "{text}");
    assert!(text.to_lowercase().contains("sasl"), "{text}");
    for secret in ["env-pw-Hk27q", "file-pw-Zq81x"] {
        assert!(!text.contains(secret), "{secret} printed: {text}");
    }
    let text = refused(
        &dir,
        &kafka,
        &kafka.ca,
        &[
            "-X",
            "security.protocol=SASL_SSL",
            "-X",
            "sasl.mechanism=PLAIN",
            "-X",
            "sasl.username=idledger",
            "-X",
            "sasl.password=cli-pw-Wd55m",
        ],
        &[],
    );
    assert!(text.contains("puts a secret on the command line"), "{text}");
    assert!(!text.contains("cli-pw-Wd55m"), "password printed: {text}");
    // OAUTHBEARER: the token command runs before the first connection; a token it prints is
    // handed to librdkafka (never printed), a command that fails is named with its status.
    let claims = base64url(r#"{"sub":"idledger-ingest","exp":4102444800}"#);
    let token = format!("eyJhbGciOiJub25lIn0.{claims}.c2lnbmF0dXJlLVhq");
    let token_file = tmp.path().join("oauth-token");
    std::fs::write(&token_file, &token).expect("write");
    let oauth = [
        "-X",
        "security.protocol=SASL_SSL",
        "-X",
        "sasl.mechanism=OAUTHBEARER",
    ];
    let command = format!("cat {}", token_file.display());
    let mut args = oauth.to_vec();
    args.extend(["--oauth-token-command", command.as_str()]);
    let text = refused(&dir, &kafka, &kafka.ca, &args, &[]);
    assert!(
        text.contains("successfully set refreshed OAuth token"),
        "{text}"
    );
    assert!(!text.contains(&claims), "token printed: {text}");
    let mut args = oauth.to_vec();
    args.extend(["--oauth-token-command", "echo no token for you >&2; exit 3"]);
    let text = refused(&dir, &kafka, &kafka.ca, &args, &[]);
    assert!(
        text.contains("the OAUTHBEARER token command failed (exit status: 3): no token for you"),
        "{text}"
    );
    assert_eq!(
        ReadOnlyLedger::open(&dir)
            .expect("open")
            .reader()
            .size()
            .expect("size"),
        TreeSize(1),
        "nothing but the genesis entry"
    );
}
