//! Ingest: a backlog produced to the dev broker (in its own process, so the ingest process's
//! memory is measured alone), consumed by `idledger ingest` as a child process until caught up;
//! against raw consumes of the same messages. Reports events/s and peak RSS.

use crate::events::event_json;
use crate::rows::{Row, per_sec};
use anyhow::Context as _;
use idledger_ingest::DevMessage;
use idledger_ledger::{Ledger, ReadOnlyLedger};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOPIC: &str = "bench";

/// librdkafka's mock broker keeps about 5 MB (of compressed batches) per partition and silently
/// drops older ones, so the backlog is spread over enough partitions to be held whole.
fn partitions_for(messages: usize) -> i32 {
    (messages / 40_000).clamp(8, 256) as i32
}

/// The `idledger` binary built beside this one.
fn idledger() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?.with_file_name("idledger");
    anyhow::ensure!(
        exe.exists(),
        "{} is missing: build it first (cargo build --release --workspace)",
        exe.display()
    );
    Ok(exe)
}

/// A dev broker in its own process, stopped when dropped.
struct Broker {
    child: Child,
    bootstrap: String,
}

impl Broker {
    fn start(exe: &Path, partitions: i32) -> anyhow::Result<Broker> {
        let mut child = Command::new(exe)
            .args(["dev-broker", "--topic", &format!("{TOPIC}:{partitions}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().context("broker stdout")?)
            .read_line(&mut first)?;
        let bootstrap = first
            .trim()
            .strip_prefix("bootstrap.servers=")
            .context("broker address")?
            .to_owned();
        Ok(Broker { child, bootstrap })
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ingest(tmp: &Path, messages: usize) -> anyhow::Result<Vec<Row>> {
    let partitions = partitions_for(messages);
    let exe = idledger()?;
    let broker = Broker::start(&exe, partitions)?;
    let bootstrap = &broker.bootstrap;
    produce(bootstrap, partitions, messages)?;
    // Baselines: raw consumes of the same messages, no processing, with ingest's own consumer
    // settings (bounded prefetch, short fetch backoff: what ingest's processing is measured
    // against) and, shown only, with librdkafka's defaults. Either varies between runs more
    // than ingest does (370-890k/s seen for the same 5M messages).
    let mut defaults = rdkafka::ClientConfig::new();
    defaults
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "raw-baseline")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    let raw = raw_consume_rate(&defaults, partitions, messages)?;
    let as_ingest = raw_consume_rate(
        &idledger_ingest::client_config(&idledger_ingest::IngestConfig::new(
            bootstrap,
            vec![TOPIC.into()],
            "raw-as-ingest",
        )),
        partitions,
        messages,
    )?;
    let (rate, peak) = run_ingest(&exe, tmp, bootstrap, messages)?;
    Ok(vec![
        Row {
            name: "durable ingest from the dev broker",
            measured: format!("{rate:.0} events/s ({messages} events)"),
            baseline: format!(
                "raw consume with ingest's settings {as_ingest:.0}/s ({:.2}x); with librdkafka's defaults {raw:.0}/s ({:.2}x)",
                rate / as_ingest,
                rate / raw
            ),
            target: "≥ 100000/s and ≥ 0.3x raw".into(),
            pass: rate >= 100_000.0 && rate / as_ingest >= 0.3,
        },
        Row {
            name: "ingest peak RSS",
            measured: format!(
                "{:.0} MiB with a backlog of {messages}",
                peak as f64 / 1024.0
            ),
            baseline: "-".into(),
            target: "< 256 MiB with a 5M backlog".into(),
            pass: peak < 256 * 1024 && messages >= 5_000_000,
        },
    ])
}

/// The backlog: events keyed by subject, spread over the partitions, every one held.
fn produce(bootstrap: &str, partitions: i32, messages: usize) -> anyhow::Result<()> {
    let payloads: Vec<(String, String)> = (0..messages)
        .map(|i| {
            (
                format!("user{}", i % 20_000),
                event_json(i, &format!("user{}@example.com", i % 20_000)),
            )
        })
        .collect();
    let sent = idledger_ingest::produce(
        bootstrap,
        TOPIC,
        payloads
            .iter()
            .enumerate()
            .map(|(i, (key, payload))| DevMessage {
                key: Some(key.as_bytes()),
                payload: Some(payload.as_bytes()),
                partition: Some((i % partitions as usize) as i32),
            }),
        |_| {},
    )?;
    let held = idledger_ingest::messages_held_whole(bootstrap, TOPIC, partitions)?;
    eprintln!("bench: produced {sent} messages, {held} in the topic");
    anyhow::ensure!(
        held as usize == messages,
        "the broker holds {held} of {messages} messages"
    );
    Ok(())
}

/// Runs `idledger ingest` over the backlog into a new ledger until it is caught up; returns
/// its events/s (ingest's own account: from the first messages it received to its last
/// durable batch) and its peak RSS in KiB (sampled cheaply from /proc, so the bench takes no
/// CPU from the process it measures).
fn run_ingest(
    exe: &Path,
    tmp: &Path,
    bootstrap: &str,
    messages: usize,
) -> anyhow::Result<(f64, u64)> {
    let dir = tmp.join("ingest-ledger");
    let keys = tmp.join("ingest-keys");
    drop(Ledger::init(&dir, &keys, "bench.idledger.local/ingest")?);
    let mut child = Command::new(exe)
        .arg("ingest")
        .arg("--data")
        .arg(&dir)
        .arg("--key-dir")
        .arg(&keys)
        .args([
            "--brokers",
            bootstrap,
            "--topic",
            TOPIC,
            "--group",
            "bench-ingest",
        ])
        .args(["--until-caught-up", "500", "--json"])
        // Quiet unless asked (IDLEDGER_BENCH_INGEST_LOG=debug shows every batch).
        .env(
            "IDLEDGER_LOG",
            std::env::var("IDLEDGER_BENCH_INGEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .spawn()?;
    let mut peak = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        peak = peak.max(rss_kib(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().context("ingest stdout")?, &mut out)?;
    anyhow::ensure!(status.success(), "ingest failed: {status}");
    let summary: serde_json::Value =
        serde_json::from_str(out.trim()).with_context(|| format!("ingest summary: {out}"))?;
    let size = ReadOnlyLedger::open(&dir)?.reader().size()?.0;
    anyhow::ensure!(
        size as usize == messages + 1,
        "ingest stored {size} entries for {messages} messages"
    );
    let busy = summary["busy_seconds"]
        .as_f64()
        .context("busy_seconds in the ingest summary")?;
    Ok((
        per_sec(messages as u64, Duration::from_secs_f64(busy)),
        peak,
    ))
}

/// Reads a process's resident set size in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Messages per second a bare consumer with this configuration reads the benchmark topic at,
/// from the first message to the last.
fn raw_consume_rate(
    config: &rdkafka::ClientConfig,
    partitions: i32,
    messages: usize,
) -> anyhow::Result<f64> {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let c: BaseConsumer = config.create()?;
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(TOPIC, p, rdkafka::Offset::Beginning)?;
    }
    c.assign(&tpl)?;
    let mut got = 0usize;
    let mut started: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while got < messages && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            started.get_or_insert_with(Instant::now);
            std::hint::black_box(rdkafka::message::Message::payload(&m).map(<[u8]>::len));
            got += 1;
        }
    }
    anyhow::ensure!(
        got == messages,
        "a raw consumer read {got} of {messages} messages in 10 minutes"
    );
    let rate = per_sec(got as u64, started.map_or(Duration::ZERO, |s| s.elapsed()));
    eprintln!("bench: raw consume read {got} messages at {rate:.0}/s");
    Ok(rate)
}
