//! `idledger export --to-kafka` against librdkafka's mock cluster: the topic holds one message
//! per record, keyed by what the record is, every entry once and in order, and the values joined
//! by newlines verify with the log's key; a run on a topic that holds records resumes after the
//! last one; the export killed with SIGKILL again and again (in its first export and while it
//! follows a log being appended to) leaves, once restarted, every entry exactly once; a topic
//! whose last record is not an export's, one with several partitions, and settings that would
//! undo the producer's guarantees are refused with a message saying so.

mod common;

use common::*;
use idledger_ingest::DevBroker;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The mock cluster keeps 5 MiB of batches per partition and drops older ones: each test's
/// topic stays well under it, uncompressed.
const TOPIC_BUDGET: usize = 4 << 20;

/// `n` small events whose ids start with `prefix`, each with a reason of `reason` bytes (with
/// none, lines of about 1 KB once exported).
fn events(prefix: &str, n: usize, reason: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"u{}","kind":"human"}},"reason":"{}"}}"#,
                i % 13,
                "r".repeat(reason)
            ) + "\n"
        })
        .collect()
}

/// Appends `events` from a file (append prints a line per event: through a pipe, thousands
/// would fill it while the test is still writing standard input).
fn append_with(dir: &Path, events: &str, batch: usize) {
    let file = tempfile::NamedTempFile::new().expect("events file");
    std::fs::write(file.path(), events).expect("write events");
    ok(
        &[
            "append",
            "--data",
            path(dir),
            "--batch",
            &batch.to_string(),
            path(file.path()),
        ],
        None,
    );
}

fn append(dir: &Path, prefix: &str, n: usize, batch: usize) {
    append_with(dir, &events(prefix, n, 0), batch);
}

/// The size of the ledger's latest checkpoint.
fn checkpoint_size(dir: &Path) -> u64 {
    ok(&["checkpoint", "--data", path(dir)], None)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a checkpoint size")
}

/// `export --to-kafka TOPIC` with `extra` arguments, as a command to run or spawn.
fn export_cmd(dir: &Path, bootstrap: &str, topic: &str, extra: &[&str]) -> std::process::Command {
    let mut args = vec![
        "export",
        "--data",
        path(dir),
        "--to-kafka",
        topic,
        "--brokers",
        bootstrap,
        "-X",
        "compression.type=lz4",
    ];
    args.extend_from_slice(extra);
    idledger(&args)
}

/// Runs an export to completion; returns its stderr.
fn export_ok(dir: &Path, bootstrap: &str, topic: &str, extra: &[&str]) -> String {
    let o = run_command(export_cmd(dir, bootstrap, topic, extra), None);
    assert!(
        o.status.success(),
        "export to {topic} failed ({:?}): {}",
        o.status.code(),
        stderr(&o)
    );
    stderr(&o)
}

fn reader(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        // Only to assign partitions (librdkafka wants a group for that); never joined.
        .set("group.id", "export-kafka-test-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer")
}

/// Partition 0's watermarks.
fn watermarks(bootstrap: &str, topic: &str) -> (i64, i64) {
    reader(bootstrap)
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks")
}

/// Every message of partition 0 from `from`, as (key, value) text.
fn read_from(bootstrap: &str, topic: &str, from: i64) -> Vec<(Option<String>, String)> {
    let c = reader(bootstrap);
    let (low, high) = c
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    assert_eq!(
        low, 0,
        "the broker dropped the start of {topic}: over budget"
    );
    let mut at = TopicPartitionList::new();
    at.add_partition_offset(topic, 0, Offset::Offset(from))
        .expect("offset");
    c.assign(&at).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (out.len() as i64) < high - from {
        assert!(Instant::now() < deadline, "read {} of {}", out.len(), high);
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                assert_eq!(m.offset(), from + out.len() as i64, "offsets in order");
                let text =
                    |b: Option<&[u8]>| b.map(|b| String::from_utf8(b.to_vec()).expect("utf8"));
                out.push((text(m.key()), text(m.payload()).expect("a value")));
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

fn read_topic(bootstrap: &str, topic: &str) -> Vec<(Option<String>, String)> {
    read_from(bootstrap, topic, 0)
}

/// The key a message's value calls for: what its line is.
fn key_of(value: &str) -> String {
    let line: serde_json::Value = serde_json::from_str(value).expect("a JSON line");
    let n = |m: &str| line[m].as_u64().unwrap_or_else(|| panic!("{m} in {value}"));
    match line["kind"].as_str() {
        Some("start") => format!("start/{}", n("from")),
        Some("entry") => format!("entry/{}", n("index")),
        Some("checkpoint") => format!("checkpoint/{}", n("size")),
        other => panic!("a line of kind {other:?}"),
    }
}

/// What must hold of a topic holding the export of a ledger of `size` entries: one start line,
/// first; every entry from 0 to `size` once, in order; a checkpoint last; each key as the value
/// calls for; and the values, joined by newlines, verify with `vkey` as a stream of `size`
/// entries.
fn assert_whole_stream(tmp: &Path, messages: &[(Option<String>, String)], vkey: &str, size: u64) {
    let keys: Vec<String> = messages.iter().map(|(_, v)| key_of(v)).collect();
    for ((key, value), want) in messages.iter().zip(&keys) {
        assert_eq!(
            key.as_deref(),
            Some(want.as_str()),
            "the key of {value:.80}"
        );
    }
    assert_eq!(keys.first().map(String::as_str), Some("start/0"));
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("start/")).count(),
        1,
        "one start line"
    );
    let entries: Vec<u64> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("entry/"))
        .map(|n| n.parse().expect("index"))
        .collect();
    assert_eq!(
        entries,
        (0..size).collect::<Vec<u64>>(),
        "every entry once, in order"
    );
    assert_eq!(
        keys.last().map(String::as_str),
        Some(format!("checkpoint/{size}").as_str())
    );
    assert_values_verify(tmp, messages, vkey, size);
}

/// The values of `messages`, joined by newlines, verify with `vkey` as a stream of `size`
/// entries (and stay within the topic's budget).
fn assert_values_verify(tmp: &Path, messages: &[(Option<String>, String)], vkey: &str, size: u64) {
    let bytes: usize = messages.iter().map(|(_, v)| v.len()).sum();
    assert!(
        bytes < TOPIC_BUDGET,
        "{bytes} bytes: over the test's budget"
    );
    let file = tmp.join("from-kafka.jsonl");
    let text: Vec<&str> = messages.iter().map(|(_, v)| v.as_str()).collect();
    std::fs::write(&file, text.join("\n") + "\n").expect("write");
    let o = run(&["verify-export", "--vkey", vkey, path(&file)], None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("ok: {size} entries verified")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_topic_holds_every_entry_once_and_a_rerun_resumes_after_its_last_record() {
    let topics = ["stream", "stream-ocsf", "stream-cef"].map(|t| (t.to_owned(), 1));
    let broker = DevBroker::start(1, &topics).expect("broker");
    let bootstrap = broker.bootstrap_servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    append(&dir, "a", 1500, 100);
    let size = checkpoint_size(&dir);

    let said = export_ok(&dir, &bootstrap, "stream", &["--checkpoint-every", "400"]);
    assert!(
        said.contains("stream holds no record: a new stream starts at index 0"),
        "{said}"
    );
    let first = read_topic(&bootstrap, "stream");
    assert_whole_stream(tmp.path(), &first, &vkey, size);
    // Checkpoints where at least 400 entries have passed, at batch boundaries (entry 0 is the
    // ledger's own record of its creation, so batches end at 1 + 100k), and at the end.
    let checkpoints: Vec<String> = first
        .iter()
        .filter_map(|(k, _)| k.clone())
        .filter(|k| k.starts_with("checkpoint/"))
        .collect();
    assert_eq!(
        checkpoints,
        [
            "checkpoint/401",
            "checkpoint/801",
            "checkpoint/1201",
            &format!("checkpoint/{size}")
        ]
    );

    // Any format: the sink keys records by what they are and never reads a line, so an OCSF or
    // CEF stream (of the first 401 entries here: their lines are longer) has the native stream's
    // keys and verifies as well.
    let upto = first
        .iter()
        .position(|(k, _)| k.as_deref() == Some("checkpoint/401"))
        .expect("checkpoint/401");
    for format in ["ocsf", "cef"] {
        let topic = format!("stream-{format}");
        let args = [
            "--checkpoint-every",
            "400",
            "--to",
            "401",
            "--format",
            format,
        ];
        export_ok(&dir, &bootstrap, &topic, &args);
        let held = read_topic(&bootstrap, &topic);
        let keys: Vec<_> = held.iter().map(|(k, _)| k.clone()).collect();
        let native: Vec<_> = first[..=upto].iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, native, "{format}");
        assert_values_verify(tmp.path(), &held, &vkey, 401);
    }

    // Nothing new: the rerun resumes after the checkpoint and produces nothing.
    let said = export_ok(&dir, &bootstrap, "stream", &[]);
    let last = first.len() - 1;
    assert!(
        said.contains(&format!(
            "resuming stream after its last record checkpoint/{size} (offset {last}): from index {size}"
        )),
        "{said}"
    );
    assert!(said.contains("stream is up to date"), "{said}");
    assert_eq!(watermarks(&bootstrap, "stream").1, first.len() as i64);

    // More entries: the rerun continues the same stream, with no second start line.
    append(&dir, "b", 700, 100);
    let grown = checkpoint_size(&dir);
    let said = export_ok(&dir, &bootstrap, "stream", &[]);
    assert!(said.contains(&format!("from index {size}")), "{said}");
    let all = read_topic(&bootstrap, "stream");
    assert_eq!(all[..first.len()], first[..], "what was there stays");
    assert_whole_stream(tmp.path(), &all, &vkey, grown);
}

/// A tiny deterministic generator for kill timings (seed printed for reproduction).
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// Kills `child` with SIGKILL once `topic` has grown by `records` past `base`, or, if it does
/// not grow so far, after a second and a half (a follow waiting for entries is a moment to kill
/// at too); says whether the child was still running, not done by itself.
fn kill_after_growth(
    child: &mut Child,
    (bootstrap, topic): (&str, &str),
    base: i64,
    records: i64,
) -> bool {
    let c = reader(bootstrap);
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        let (_, high) = c
            .fetch_watermarks(topic, 0, Duration::from_secs(5))
            .expect("watermarks");
        if high >= base + records || Instant::now() >= deadline {
            break;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    true
}

#[test]
fn an_export_killed_again_and_again_leaves_every_entry_once() {
    let broker = DevBroker::start(1, &[("crashy".into(), 1)]).expect("broker");
    let bootstrap = broker.bootstrap_servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    append(&dir, "first", 1500, 50);
    // The log keeps growing while the export is killed and restarted: a writer appends a chunk
    // at a time, each a few batches.
    let appending = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            for chunk in 0..8 {
                append(&dir, &format!("late{chunk}-"), 180, 45);
                // Paces the appends over the kill rounds: part of the scenario, not a wait for
                // anything.
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    eprintln!("kill timing seed {seed}");
    let mut kills = 0;
    let mut last_keys = Vec::new();
    for round in 0..10 {
        let follow = round % 2 == 1;
        // Small batches, so that the topic grows a few records at a time and a kill can land
        // between any two of them.
        let mut extra = vec!["--checkpoint-every", "300", "-X", "batch.num.messages=20"];
        if follow {
            extra.extend(["--follow", "--interval-ms", "20"]);
        }
        let (_, base) = watermarks(&bootstrap, "crashy");
        let mut child = export_cmd(&dir, &bootstrap, "crashy", &extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("export");
        // Two rounds in three kill once the export has produced a random number of records
        // (mid-stream); the others at a random moment from start-up on.
        let killed = if round % 3 == 0 {
            std::thread::sleep(Duration::from_millis(next(&mut seed) % 200));
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            true
        } else {
            let records = 1 + (next(&mut seed) % 400) as i64;
            kill_after_growth(&mut child, (&bootstrap, "crashy"), base, records)
        };
        if killed {
            kills += 1;
        }
        let (_, high) = watermarks(&bootstrap, "crashy");
        if high > 0 {
            let (key, _) = read_from(&bootstrap, "crashy", high - 1).remove(0);
            last_keys.push(key.expect("a key"));
        }
    }
    appending.join().expect("appends");
    eprintln!("{kills} kills; the topic's last record after each round: {last_keys:?}");
    assert!(kills >= 5, "only {kills} exports were killed running");
    assert!(
        last_keys.iter().any(|k| k.starts_with("entry/")),
        "no kill landed mid-round: {last_keys:?}"
    );
    // The last restart finishes the stream.
    let size = checkpoint_size(&dir);
    let said = export_ok(&dir, &bootstrap, "crashy", &[]);
    assert!(
        said.contains("resuming crashy after its last record"),
        "{said}"
    );
    let all = read_topic(&bootstrap, "crashy");
    assert_whole_stream(tmp.path(), &all, &vkey, size);
}

fn produce_one(bootstrap: &str, topic: &str, key: Option<&[u8]>) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    let mut r = BaseRecord::<[u8], [u8]>::to(topic)
        .partition(0)
        .payload(b"not an export line");
    if let Some(k) = key {
        r = r.key(k);
    }
    p.send(r).map_err(|(e, _)| e).expect("send");
    p.flush(Duration::from_secs(10)).expect("flush");
}

#[test]
fn a_topic_whose_last_record_no_export_wrote_is_refused() {
    let broker = DevBroker::start(1, &[("foreign".into(), 1)]).expect("broker");
    let bootstrap = broker.bootstrap_servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);
    append(&dir, "a", 50, 10);
    let cases: [(Option<&[u8]>, &str); 5] = [
        (
            Some(b"hello/world"),
            "has key `hello/world`, which is not a key an export writes (its kind is not start, entry or checkpoint",
        ),
        (None, "has no key, which is not a key an export writes"),
        (Some(b"entry/x"), "(its number is not a decimal number"),
        (
            Some(b"checkpoint/0"),
            "(no export writes a record with that number",
        ),
        (
            Some(b"entry/999999"),
            "the last record of foreign (entry/999999) is beyond this ledger's",
        ),
    ];
    for (offset, (key, says)) in cases.into_iter().enumerate() {
        produce_one(&bootstrap, "foreign", key);
        let o = run_command(export_cmd(&dir, &bootstrap, "foreign", &[]), None);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{key:?}: {err}");
        assert!(err.contains(says), "{key:?}: expected {says:?} in {err}");
        if !says.contains("beyond") {
            assert!(
                err.contains(&format!("the last record of foreign (offset {offset})")),
                "{err}"
            );
        }
        assert_eq!(
            watermarks(&bootstrap, "foreign").1,
            offset as i64 + 1,
            "nothing was produced"
        );
    }
}

#[test]
fn topics_and_settings_the_sink_cannot_keep_its_promise_with_are_refused() {
    let broker = DevBroker::start(1, &[("wide".into(), 3), ("narrow".into(), 1)]).expect("broker");
    let bootstrap = broker.bootstrap_servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    // Entry lines over 1000 bytes, the least `message.max.bytes` librdkafka takes.
    append_with(&dir, &events("a", 20, 1200), 10);
    let d = path(&dir);
    let cases: [(Vec<&str>, &str); 7] = [
        (
            vec!["--to-kafka", "wide", "--brokers", &bootstrap],
            "topic wide has 3 partitions",
        ),
        (
            vec!["--to-kafka", "absent", "--brokers", &bootstrap],
            "topic absent does not exist",
        ),
        (
            vec![
                "--to-kafka",
                "narrow",
                "--brokers",
                &bootstrap,
                "-X",
                "enable.idempotence=false",
            ],
            "-X enable.idempotence=false: the export sets enable.idempotence=true itself",
        ),
        (
            vec![
                "--to-kafka",
                "narrow",
                "--brokers",
                &bootstrap,
                "-X",
                "acks=1",
            ],
            "the export sets acks=all itself",
        ),
        (
            vec![
                "--to-kafka",
                "narrow",
                "--brokers",
                &bootstrap,
                "-X",
                "message.max.bytes=1000",
            ],
            "MessageSizeTooLarge",
        ),
        (vec!["--to-kafka", "narrow"], "--to-kafka needs brokers"),
        (
            vec!["-X", "security.protocol=SSL"],
            "-X, --kafka-env and --kafka-file go with --to-kafka TOPIC",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["export", "--data", d];
        all.extend_from_slice(&args);
        let mut cmd = idledger(&all);
        cmd.env_remove("IDLEDGER_BROKERS");
        let o = run_command(cmd, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(says),
            "{args:?}: expected {says:?} in {}",
            stderr(&o)
        );
    }
    // The record the producer refused stopped the export; nothing after it went out, and a run
    // without the limit resumes where the topic ends and completes the stream.
    let held = read_topic(&bootstrap, "narrow");
    assert!(
        held.iter().all(|(k, _)| k.as_deref() == Some("start/0")),
        "{held:?}"
    );
    let said = export_ok(&dir, &bootstrap, "narrow", &[]);
    assert!(said.contains("narrow"), "{said}");
    let size = checkpoint_size(&dir);
    assert_whole_stream(tmp.path(), &read_topic(&bootstrap, "narrow"), &vkey, size);
}
