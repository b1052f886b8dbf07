//! `idledger bench`: measures every performance target and prints each figure against its limit,
//! with baselines measured in the same run on the same data.

use crate::output::{line, table};
use anyhow::Context as _;
use idledger_ledger::{FsckOptions, Item, Ledger, ReadOnlyLedger, Submission, Trust, fsck};
use idledger_proto::entry::{BackLinks, Origin, encode_event_leaf_into};
use idledger_proto::{Hash, Seq, Timestamp, TreeSize, decode_event};
use std::time::{Duration, Instant};

/// The target of a row that is shown for context and judged against nothing.
const NO_TARGET: &str = "(no target)";

struct Row {
    name: &'static str,
    measured: String,
    baseline: String,
    target: String,
    pass: bool,
}

/// A ~600-byte event; `subject` lets a benchmark give one identity a known number of entries.
fn event_json(i: usize, subject: &str) -> String {
    format!(
        r#"{{"id":"evt-{i:09}","source":"okta-prod","type":"access.approved","time":"2026-03-04T09:12:00Z","actor":{{"id":"manager{m}@example.com","kind":"human","mfa":true}},"subject":{{"id":"{subject}","kind":"human"}},"grant_id":"grant-{g:08}","request_id":"req-{g:08}","resource":"prod-db:read","reason":"on-call investigation of payment failures reported in INC-{i}","ticket":"INC-{i}","policy":{{"id":"prod-access","version":"7","hash":"sha256:4b7f0c1d"}},"expires_at":"2026-03-04T17:12:00Z","attributes":{{"application":"payments","business_function":"operations","region":"eu-west-1"}}}}"#,
        m = i % 50,
        g = i / 3
    )
}

fn per_sec(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-12)
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

pub fn bench(
    quick: bool,
    only: &[String],
    entries: Option<usize>,
    ingest_events: Option<usize>,
) -> anyhow::Result<()> {
    let want = |n: &str| only.is_empty() || only.iter().any(|o| o == n);
    let mut rows: Vec<Row> = Vec::new();
    let tmp = tempfile::tempdir().context("temporary directory")?;
    let ledger_entries: usize = entries.unwrap_or(if quick { 200_000 } else { 10_000_000 });
    let mut ledger_dir = None;

    if want("decode") {
        let inputs: Vec<String> = (0..50_000)
            .map(|i| event_json(i, "alice@example.com"))
            .collect();
        let bytes: usize = inputs.iter().map(String::len).sum::<usize>() / inputs.len();
        // Best of five passes over the same inputs, for both, so a noisy neighbour on the
        // machine does not decide the figure.
        let mut sink = 0usize;
        let mut baseline = Duration::MAX;
        let mut ours = Duration::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            for raw in &inputs {
                let v: serde_json::Value = serde_json::from_slice(raw.as_bytes())?;
                sink += v.as_object().map_or(0, |o| o.len());
            }
            baseline = baseline.min(t.elapsed());
            // As ingest does it: decode and validate (which encodes the event once), then
            // assemble the leaf around the encoding in a reused buffer.
            let t = Instant::now();
            let mut leaf = Vec::new();
            for (i, raw) in inputs.iter().enumerate() {
                let v =
                    decode_event(raw.as_bytes()).map_err(|r| anyhow::anyhow!("{}", r.reason))?;
                encode_event_leaf_into(
                    &mut leaf,
                    i as u64,
                    &Hash::ZERO,
                    Timestamp(0),
                    &Origin::Ledger,
                    &BackLinks::default(),
                    v.encoded(),
                );
                sink += leaf.len();
            }
            ours = ours.min(t.elapsed());
        }
        std::hint::black_box(sink);
        let us = ours.as_secs_f64() * 1e6 / inputs.len() as f64;
        let base_us = baseline.as_secs_f64() * 1e6 / inputs.len() as f64;
        rows.push(Row {
            name: "decode+validate+encode",
            measured: format!("{us:.2} µs/event ({bytes} B)"),
            baseline: format!(
                "serde_json Value parse {base_us:.2} µs ({:.2}x)",
                us / base_us
            ),
            target: "≤ 3 µs".into(),
            pass: us <= 3.0,
        });
    }

    if want("append") || want("verify") || want("proof") || want("replay") || want("history") {
        let dir = tmp.path().join("ledger");
        let mut ledger = Ledger::init(
            &dir,
            &tmp.path().join("keys"),
            "bench.idledger.local/ledger",
        )?;
        let history_every = (ledger_entries / 100).max(1);
        // The ledger is built in slices of (up to) 100,000 events, alternately appended one
        // batch at a time (`append`, the caller waiting for each) and pipelined as ingest appends
        // (`submit`: one batch written while the next is prepared, then `finish`). Both ways
        // thus meet the same ledger sizes. Each slice's submissions are made (decoded) before
        // its clock starts.
        let slice_len = (ledger_entries / 2).clamp(1, 100_000);
        let mut appended = 0usize;
        // (entries, time) appended one batch at a time, and pipelined.
        let mut serial = (0u64, Duration::ZERO);
        let mut pipelined = (0u64, Duration::ZERO);
        let mut leaf_bytes = 0u64;
        while appended < ledger_entries {
            let slice = appended..(appended + slice_len).min(ledger_entries);
            let n = slice.len() as u64;
            let batches: Vec<Vec<Submission>> = slice
                .collect::<Vec<_>>()
                .chunks(1000)
                .map(|c| {
                    c.iter()
                        .map(|&i| {
                            let subject = if i % history_every == 0 {
                                "history-subject".to_owned()
                            } else {
                                format!("user{}@example.com", i % 20_000)
                            };
                            bench_submission(i, &subject)
                        })
                        .collect()
                })
                .collect();
            let one_at_a_time = (appended / slice_len).is_multiple_of(2);
            let t = Instant::now();
            if one_at_a_time {
                for batch in batches {
                    ledger.append(batch, &[])?;
                }
            } else {
                for batch in batches {
                    ledger.submit(batch, &[])?;
                }
                ledger.finish()?;
            }
            let took = t.elapsed();
            let way = if one_at_a_time {
                &mut serial
            } else {
                &mut pipelined
            };
            way.0 += n;
            way.1 += took;
            appended += n as usize;
            if appended.is_multiple_of(1_000_000) {
                eprintln!("bench: {appended} entries appended");
            }
        }
        let size = ledger.size();
        anyhow::ensure!(size.0 as usize == ledger_entries + 1, "bench ledger size");
        let verifier_keys = ledger.verifier_keys();
        // The read benchmarks open the ledger read-only, which never compacts: without this
        // they would inherit whatever compaction the last appends left pending (reads merge
        // every level-0 file), a state that depends on the moment the appends stopped.
        eprintln!(
            "bench: ledger built; level-0 files {:?}; waiting for compactions",
            ledger.level0_files()
        );
        let t = Instant::now();
        ledger.settle()?;
        eprintln!(
            "bench: compactions done in {:.1} s; level-0 files {:?}",
            t.elapsed().as_secs_f64(),
            ledger.level0_files()
        );
        drop(ledger);
        // Baseline: the same number of ~600-byte values written raw to RocksDB, synced per 1000.
        let raw_dir = tmp.path().join("raw");
        let raw = rocksdb_raw_rate(&raw_dir, appended.min(1_000_000))?;
        let append_row = |name: &'static str, (n, took): (u64, Duration), judged: bool| {
            let rate = per_sec(n, took);
            Row {
                name,
                measured: format!("{rate:.0} entries/s"),
                baseline: format!("raw RocksDB put+sync {raw:.0}/s ({:.2}x)", rate / raw),
                target: if judged { "≥ 200000/s" } else { NO_TARGET }.into(),
                pass: rate >= 200_000.0,
            }
        };
        rows.push(append_row(
            "durable append, pipelined, batches of 1000",
            pipelined,
            true,
        ));
        rows.push(append_row(
            "durable append, one batch at a time, caller waits",
            serial,
            false,
        ));

        let ro = ReadOnlyLedger::open(&dir)?;
        let r = ro.reader();
        if want("verify") {
            // Scan baseline: every entry read once, its bytes touched, nothing kept.
            let t = Instant::now();
            let mut touched = 0u64;
            r.scan(Seq(0), |_, b| -> Result<(), idledger_ledger::ReadError> {
                leaf_bytes += b.len() as u64;
                touched = touched.wrapping_add(u64::from(b[b.len() / 2]));
                Ok(())
            })?;
            std::hint::black_box(touched);
            let scan = per_sec(leaf_bytes, t.elapsed());
            // SHA-256 baseline: the RFC 6962 leaf hash of real leaves held in memory (up to
            // 200,000 of them, enough for a steady rate at any ledger size).
            let mut sample: Vec<Vec<u8>> = Vec::new();
            let mut sample_bytes = 0u64;
            r.scan(Seq(0), |_, b| -> Result<(), idledger_ledger::ReadError> {
                if sample.len() < 200_000 {
                    sample_bytes += b.len() as u64;
                    sample.push(b.to_vec());
                }
                Ok(())
            })?;
            let sha_rate = |sample: &[Vec<u8>]| {
                let t = Instant::now();
                for b in sample {
                    std::hint::black_box(idledger_proto::hash::leaf_hash(b));
                }
                per_sec(sample_bytes, t.elapsed())
            };
            let mut sha = sha_rate(&sample);
            let mut crypto_bound = None;
            for threads in [1usize, 2] {
                let t = Instant::now();
                let report = fsck(
                    &r,
                    &FsckOptions {
                        threads,
                        ..FsckOptions::new(Trust {
                            keys: verifier_keys.clone(),
                            checkpoint_note: None,
                        })
                    },
                )?;
                anyhow::ensure!(
                    report.ok(),
                    "bench ledger failed verification: {:?}",
                    report.first()
                );
                let rate = per_sec(leaf_bytes, t.elapsed());
                // Once, after the first verification has counted the checkpoints whose
                // signatures the bound must check too.
                if crypto_bound.is_none() {
                    let (cp_size, note) = r.latest_checkpoint()?;
                    anyhow::ensure!(cp_size == size, "the bench ledger's last checkpoint");
                    let per_entry = report.checkpoints_checked as f64 / size.0 as f64;
                    // The best of three, each beside a fresh SHA-256 baseline (the best of
                    // those judges every verification figure): a slow moment on this shared
                    // machine must not lower the bound or the baseline.
                    let mut crypto = 0f64;
                    for _ in 0..3 {
                        crypto = crypto.max(required_crypto_rate(
                            &sample,
                            per_entry,
                            &note,
                            &verifier_keys,
                        )?);
                        sha = sha.max(sha_rate(&sample));
                    }
                    crypto_bound = Some(crypto / sha);
                    sample = Vec::new();
                }
                let need = if threads == 1 { 0.8 } else { 1.6 };
                rows.push(Row {
                    name: if threads == 1 {
                        "full verification, 1 thread"
                    } else {
                        "full verification, 2 threads"
                    },
                    measured: format!("{:.0} MB/s", rate / 1e6),
                    baseline: format!(
                        "raw SHA-256 1 thread {:.0} MB/s ({:.2}x); RocksDB scan alone {:.0} MB/s, so one thread's bound is {:.2}x; the hashing and signature checks verification cannot skip, alone, reach {:.2}x",
                        sha / 1e6,
                        rate / sha,
                        scan / 1e6,
                        // Scanning and hashing the same bytes one after the other.
                        (1.0 / (1.0 / scan + 1.0 / sha)) / sha,
                        crypto_bound.unwrap_or(f64::NAN)
                    ),
                    target: format!("≥ {need}x raw SHA-256"),
                    pass: rate / sha >= need,
                });
            }
        }
        if want("proof") {
            let mut samples = Vec::new();
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..2000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let t = Instant::now();
                let p = r.tlog_proof(Seq(x % size.0))?;
                std::hint::black_box(p);
                samples.push(t.elapsed());
            }
            let p = p99(samples);
            rows.push(Row {
                name: "inclusion proof (tlog-proof)",
                measured: format!("p99 {:.3} ms at {} entries", p.as_secs_f64() * 1e3, size.0),
                baseline: "-".into(),
                target: "p99 ≤ 1 ms at ≥ 10M entries".into(),
                pass: p <= Duration::from_millis(1) && (quick || size.0 >= 10_000_000),
            });
        }
        if want("replay") {
            let t = Instant::now();
            let p = idledger_query::Projections::replay(&r)?;
            let rate = per_sec(p.size, t.elapsed());
            rows.push(Row {
                name: "replay into projections",
                measured: format!("{rate:.0} events/s"),
                baseline: "-".into(),
                target: "≥ 1000000/s".into(),
                pass: rate >= 1_000_000.0,
            });
            // Reports read the grants' entries back from the log: shown, not judged.
            let t = Instant::now();
            let report = idledger_query::report(
                &p,
                &r,
                idledger_query::ReportName::Drift,
                &idledger_query::ReportOptions {
                    now: Timestamp::now(),
                    max_credential_age_days: 90,
                    group_by: None,
                },
            )?;
            std::hint::black_box(report);
            rows.push(Row {
                name: "drift report over the replayed projections",
                measured: format!(
                    "{:.2} s for {} grants",
                    t.elapsed().as_secs_f64(),
                    p.grant_count()
                ),
                baseline: "-".into(),
                target: NO_TARGET.into(),
                pass: true,
            });
        }
        if want("history") {
            let mut samples = Vec::new();
            let mut in_history = Duration::ZERO;
            for _ in 0..200 {
                let t = Instant::now();
                let h = idledger_query::history(&r, "history-subject")?;
                in_history += t.elapsed();
                std::hint::black_box(h);
                let b = idledger_query::history_proven(&r, "history-subject")?;
                std::hint::black_box(b);
                samples.push(t.elapsed());
            }
            let h = idledger_query::history(&r, "history-subject")?;
            let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
            eprintln!(
                "bench: history mean {:.2} ms, of which following back-links {:.2} ms",
                mean.as_secs_f64() * 1e3,
                in_history.as_secs_f64() * 1e3 / samples.len() as f64
            );
            let p = p99(samples);
            rows.push(Row {
                name: "history of 100 entries with proofs",
                measured: format!(
                    "p99 {:.2} ms ({} entries, ledger {})",
                    p.as_secs_f64() * 1e3,
                    h.entries.len(),
                    size.0
                ),
                baseline: "-".into(),
                target: "p99 ≤ 5 ms at ≥ 1M entries".into(),
                pass: p <= Duration::from_millis(5) && (quick || size.0 >= 1_000_000),
            });
        }
        ledger_dir = Some(dir);
    }
    let _ = ledger_dir;
    let _ = TreeSize(0);

    if want("ingest") {
        // A backlog of five million in full (the memory target's size), held by the dev broker
        // as lz4 batches over enough partitions (see `partitions_for`).
        let messages: usize = ingest_events.unwrap_or(if quick { 100_000 } else { 5_000_000 });
        ingest_bench(tmp.path(), messages, &mut rows)?;
    }

    line(format!(
        "idledger bench ({}; 2-core machine figures are what the targets are set for)",
        if quick {
            "quick sizes: targets at full size are only judged by `idledger bench`"
        } else {
            "full sizes"
        }
    ))?;
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.to_owned(),
                r.measured.clone(),
                r.baseline.clone(),
                r.target.clone(),
                match (r.target.as_str(), r.pass) {
                    (NO_TARGET, _) => "-".into(),
                    (_, true) => "PASS".into(),
                    (_, false) => "MISS".into(),
                },
            ]
        })
        .collect();
    table(
        &[
            "benchmark",
            "measured",
            "baseline (same run)",
            "target",
            "result",
        ],
        &t,
    )?;
    Ok(())
}

/// Bytes per second of the cryptography full verification cannot skip, on one thread with the
/// leaves in memory: every leaf's hash, one interior node per leaf (a tree of n leaves has n - 1),
/// and `checkpoints_per_entry` signed checkpoints parsed and checked per leaf. No verifier
/// using the same SHA-256 and Ed25519 code can beat this rate.
fn required_crypto_rate(
    leaves: &[Vec<u8>],
    checkpoints_per_entry: f64,
    note: &str,
    keys: &[idledger_proto::VerifierKey],
) -> anyhow::Result<f64> {
    use idledger_proto::hash::{leaf_hash, node_hash};
    let signatures = (leaves.len() as f64 * checkpoints_per_entry).round() as usize;
    let bytes: u64 = leaves.iter().map(|l| l.len() as u64).sum();
    let t = Instant::now();
    let mut acc = Hash::ZERO;
    for leaf in leaves {
        acc = node_hash(&acc, &leaf_hash(leaf));
    }
    std::hint::black_box(acc);
    for _ in 0..signatures {
        std::hint::black_box(idledger_proto::proof::verify_checkpoint(note, None, keys)?);
    }
    Ok(per_sec(bytes, t.elapsed()))
}

/// Event `i` of the append benchmark, decoded as ingest decodes it.
fn bench_submission(i: usize, subject: &str) -> Submission {
    let raw = event_json(i, subject);
    Submission {
        origin: Origin::Local {
            label: "bench".into(),
            line: i as u64,
        },
        item: match decode_event(raw.as_bytes()) {
            Ok(v) => Item::Event(v),
            Err(r) => Item::Rejected(r),
        },
    }
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
        tpl.add_partition_offset("bench", p, rdkafka::Offset::Beginning)?;
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

fn rocksdb_raw_rate(dir: &std::path::Path, n: usize) -> anyhow::Result<f64> {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    let db = rocksdb::DB::open(&opts, dir)?;
    let value = vec![b'x'; 600];
    let mut sync = rocksdb::WriteOptions::default();
    sync.set_sync(true);
    let t = Instant::now();
    for start in (0..n).step_by(1000) {
        let mut wb = rocksdb::WriteBatch::default();
        for i in start..(start + 1000).min(n) {
            wb.put((i as u64).to_be_bytes(), &value);
        }
        db.write_opt(wb, &sync)?;
    }
    Ok(per_sec(n as u64, t.elapsed()))
}

/// Reads a process's resident set size in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// librdkafka's mock broker keeps about 5 MB (of compressed batches) per partition and silently
/// drops older ones, so the backlog is spread over enough partitions to be held whole.
fn partitions_for(messages: usize) -> i32 {
    (messages / 40_000).clamp(8, 256) as i32
}

fn ingest_bench(tmp: &std::path::Path, messages: usize, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let partitions = partitions_for(messages);
    use rdkafka::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    use std::io::BufRead as _;
    let exe = std::env::current_exe()?;
    // The broker runs in its own process so the ingest process's memory is measured alone.
    let mut broker = std::process::Command::new(&exe)
        .args(["dev-broker", "--topic", &format!("bench:{partitions}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut first = String::new();
    std::io::BufReader::new(broker.stdout.take().context("broker stdout")?)
        .read_line(&mut first)?;
    let bootstrap = first
        .trim()
        .strip_prefix("bootstrap.servers=")
        .context("broker address")?
        .to_owned();
    let result = (|| -> anyhow::Result<()> {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("linger.ms", "50")
            .set("batch.num.messages", "10000")
            .set("batch.size", "1000000")
            // As most production feeds do; it also lets the mock broker's 5 MB per partition
            // hold a backlog of millions.
            .set("compression.type", "lz4")
            .set("queue.buffering.max.messages", "2000000")
            .create()?;
        for i in 0..messages {
            let payload = event_json(i, &format!("user{}@example.com", i % 20_000));
            let key = format!("user{}", i % 20_000);
            let mut rec = BaseRecord::<str, str>::to("bench")
                .key(&key)
                .payload(&payload)
                .partition((i % partitions as usize) as i32);
            loop {
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        producer.poll(Duration::from_millis(5));
                        rec = back;
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(300))?;
        let in_topic = super::ingest::messages_held_whole(&bootstrap, "bench", partitions)?;
        eprintln!("bench: produced {messages} messages, {in_topic} in the topic");
        anyhow::ensure!(
            in_topic as usize == messages,
            "the broker holds {in_topic} of {messages} messages"
        );
        // Baselines: raw consumes of the same messages, no processing, with ingest's own
        // consumer settings (bounded prefetch, short fetch backoff: what ingest's processing is
        // measured against) and, shown only, with librdkafka's defaults. Either varies between
        // runs more than ingest does (370-890k/s seen for the same 5M messages).
        let mut defaults = ClientConfig::new();
        defaults
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", "raw-baseline")
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false");
        let raw = raw_consume_rate(&defaults, partitions, messages)?;
        let as_ingest = raw_consume_rate(
            &idledger_ingest::client_config(&idledger_ingest::IngestConfig::new(
                &bootstrap,
                vec!["bench".into()],
                "raw-as-ingest",
            )),
            partitions,
            messages,
        )?;
        let dir = tmp.join("ingest-ledger");
        let keys = tmp.join("ingest-keys");
        drop(Ledger::init(&dir, &keys, "bench.idledger.local/ingest")?);
        let mut child = std::process::Command::new(&exe)
            .args(["ingest", "--data"])
            .arg(&dir)
            .arg("--key-dir")
            .arg(&keys)
            .args([
                "--brokers",
                &bootstrap,
                "--topic",
                "bench",
                "--group",
                "bench-ingest",
                "--until-caught-up",
                "500",
                "--json",
            ])
            // Quiet unless asked (IDLEDGER_BENCH_INGEST_LOG=debug shows every batch).
            .env(
                "IDLEDGER_LOG",
                std::env::var("IDLEDGER_BENCH_INGEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        // Only the RSS is sampled from here (cheaply, from /proc), so the bench takes no CPU
        // from the ingest process it measures. Throughput is ingest's own account: from the
        // first messages it received to its last durable batch.
        let mut peak = 0u64;
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            peak = peak.max(rss_kib(child.id()).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        std::io::Read::read_to_string(
            &mut child.stdout.take().context("ingest stdout")?,
            &mut out,
        )?;
        anyhow::ensure!(status.success(), "ingest failed: {status}");
        let summary: serde_json::Value =
            serde_json::from_str(out.trim()).with_context(|| format!("ingest summary: {out}"))?;
        let ro = ReadOnlyLedger::open(&dir)?;
        let size = ro.reader().size()?.0;
        anyhow::ensure!(
            size as usize == messages + 1,
            "ingest stored {size} entries for {messages} messages"
        );
        let busy = Duration::from_secs_f64(
            summary["busy_seconds"]
                .as_f64()
                .context("busy_seconds in the ingest summary")?,
        );
        let rate = per_sec(messages as u64, busy);
        rows.push(Row {
            name: "durable ingest from the dev broker",
            measured: format!("{rate:.0} events/s ({messages} events)"),
            baseline: format!(
                "raw consume with ingest's settings {as_ingest:.0}/s ({:.2}x); with librdkafka's defaults {raw:.0}/s ({:.2}x)",
                rate / as_ingest,
                rate / raw
            ),
            target: "≥ 100000/s and ≥ 0.3x raw".into(),
            pass: rate >= 100_000.0 && rate / as_ingest >= 0.3,
        });
        rows.push(Row {
            name: "ingest peak RSS",
            measured: format!(
                "{:.0} MiB with a backlog of {messages}",
                peak as f64 / 1024.0
            ),
            baseline: "-".into(),
            target: "< 256 MiB with a 5M backlog".into(),
            pass: peak < 256 * 1024 && messages >= 5_000_000,
        });
        Ok(())
    })();
    let _ = broker.kill();
    let _ = broker.wait();
    result
}
