//! `idledger demo`: the whole job in one command, on an embedded Kafka-protocol broker.

use crate::output::{line, stderr_is_terminal};
use crate::workload::{self, STORY_GRANT, STORY_SUBJECT};
use anyhow::Context as _;
use idledger_ingest::config::TopicFormat;
use idledger_ingest::{DevBroker, DevMessage, IngestConfig, Metrics, Shutdown};
use idledger_ledger::{FsckOptions, Ledger, LedgerReader, ReadOnlyLedger, Trust, fsck};
use idledger_proto::Timestamp;
use idledger_proto::VerifierKey;
use idledger_proto::formats::{FormatSettings, InputFormat};
use idledger_query::{ReportName, ReportOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOPIC: &str = "identity-events";
/// Records in the formats identity systems send, read with `auto` (`crate::feeds`).
const FEEDS_TOPIC: &str = "identity-feeds";

/// librdkafka's mock broker keeps at most 5 MiB of (compressed) batches per partition and drops
/// the oldest beyond that, as retention would. The demo spreads its messages so every partition
/// holds all of its share (lz4-compressed, 25 000 messages of the generated workload fit with
/// room to spare; `messages_held_whole` checks it).
const DEMO_MESSAGES_PER_PARTITION: usize = 25_000;

/// The partitions the demo uses: at least the number asked for, more if the workload would not
/// fit in them (with about 3% extra messages: duplicates, malformed, secret-bearing).
fn partitions_to_hold(events: usize, asked: i32) -> i32 {
    let messages = events + events / 32 + 16;
    let needed = messages.div_ceil(DEMO_MESSAGES_PER_PARTITION);
    asked.max(i32::try_from(needed).unwrap_or(i32::MAX))
}

fn step(text: &str) -> std::io::Result<()> {
    line(format!("\n== {text}"))
}

/// Where the demo's ledger and key live.
struct Place {
    /// A temporary directory holding both, removed when the demo ends.
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
    keys: PathBuf,
    kept: bool,
}

/// A kept ledger (`--data`) signs with a key in `keys` (the configured key directory, or
/// `DIR.keys` beside it), so the commands the demo prints work on it; a temporary one keeps its
/// key beside it in the temporary directory.
fn place(data: Option<PathBuf>, keys: Option<PathBuf>) -> anyhow::Result<Place> {
    Ok(match data {
        Some(dir) => Place {
            _tmp: None,
            keys: keys.unwrap_or_else(|| dir.with_extension("keys")),
            dir,
            kept: true,
        },
        None => {
            let t = tempfile::tempdir().context("cannot create a temporary directory")?;
            Place {
                dir: t.path().join("ledger"),
                keys: t.path().join("keys"),
                _tmp: Some(t),
                kept: false,
            }
        }
    })
}

/// Runs the demo, step by step.
pub fn demo(
    data: Option<PathBuf>,
    keys: Option<PathBuf>,
    events: usize,
    partitions: i32,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let at = place(data, keys)?;
    step("1. an embedded Kafka-protocol broker (librdkafka mock cluster) on 127.0.0.1")?;
    let partitions = partitions_to_hold(events, partitions);
    let broker = DevBroker::start(
        1,
        &[(TOPIC.to_owned(), partitions), (FEEDS_TOPIC.to_owned(), 1)],
    )?;
    let bootstrap = broker.bootstrap_servers();
    line(format!(
        "bootstrap.servers={bootstrap}; topic {TOPIC} with {partitions} partitions, topic {FEEDS_TOPIC} with 1"
    ))?;
    step("2. a new ledger and its Ed25519 signing key")?;
    let ledger = Ledger::init(&at.dir, &at.keys, "demo.idledger.local/identity")
        .with_context(|| format!("cannot create a ledger in {}", at.dir.display()))?;
    let vkey = ledger.verifier_keys()[0].clone();
    line(format!(
        "ledger {}\nsigning key {} (outside the data directory)\nverifier key {vkey}",
        at.dir.display(),
        ledger.key_dir().key_path(&vkey).display()
    ))?;
    step("3. a realistic identity lifecycle workload, produced to Kafka")?;
    produce_workload(&bootstrap, events, partitions)?;
    step("4. the real ingest pipeline: consumer group, parallel decode, batched atomic appends")?;
    drop(ingest(ledger, &bootstrap)?);
    drop(broker);
    step("5. full verification (every hash, link, back-link, signature, index and position)")?;
    let ro = ReadOnlyLedger::open(&at.dir)?;
    let r = ro.reader();
    verify(&r, &vkey)?;
    let revocation = answers(&r)?;
    step("9. an inclusion proof for the revocation, checked offline with only the verifier key")?;
    prove(&r, revocation, &vkey)?;
    step(&format!("done in {:.1}s", started.elapsed().as_secs_f64()))?;
    explore(&at, &vkey, revocation)
}

fn produce_workload(bootstrap: &str, events: usize, partitions: i32) -> anyhow::Result<()> {
    let w = workload::generate(events, 7);
    line(format!(
        "{} messages: {} valid events, {} re-sent duplicates, {} malformed or empty, {} carrying secrets, {} conflicting duplicate",
        w.messages.len(),
        w.valid,
        w.duplicates,
        w.invalid,
        w.secrets,
        w.conflicting
    ))?;
    let bar = progress(w.messages.len() as u64, "producing");
    let messages = w.messages.iter().map(|m| DevMessage {
        key: m.key.as_deref(),
        payload: m.payload.as_deref(),
        partition: None,
    });
    idledger_ingest::produce(bootstrap, TOPIC, messages, |sent| {
        if let Some(b) = &bar {
            b.set_position(sent as u64);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    idledger_ingest::messages_held_whole(bootstrap, TOPIC, partitions)
        .context("the demo topic does not hold the whole workload; run with more --partitions")?;
    let feeds = crate::feeds::RECORDS.iter().map(|r| DevMessage {
        key: None,
        payload: Some(r),
        partition: Some(0),
    });
    let sent = idledger_ingest::produce(bootstrap, FEEDS_TOPIC, feeds, |_| {})?;
    line(format!(
        "{sent} records to {FEEDS_TOPIC} as Okta, CloudTrail, Entra ID, GitHub, OCSF and Vault send them (read with --format auto)"
    ))?;
    Ok(())
}

fn ingest(ledger: Ledger, bootstrap: &str) -> anyhow::Result<Ledger> {
    let mut cfg = IngestConfig::new(
        bootstrap,
        vec![TOPIC.to_owned(), FEEDS_TOPIC.to_owned()],
        "idledger-demo",
    );
    cfg.formats.topics.push((
        FEEDS_TOPIC.to_owned(),
        TopicFormat {
            format: InputFormat::Auto,
            settings: Arc::new(FormatSettings::default()),
        },
    ));
    cfg.stop_when_caught_up = Some(Duration::from_millis(500));
    let metrics = Arc::new(Metrics::default());
    let ingest_started = Instant::now();
    let (summary, ledger) = idledger_ingest::run(ledger, &cfg, &Shutdown::new(), metrics)?;
    let secs = ingest_started.elapsed().as_secs_f64();
    line(format!(
        "appended {} events and records, quarantined {}, skipped {} identical duplicates, in {secs:.1}s ({:.0} messages/s); {} batches, tree size {}",
        summary.appended,
        summary.quarantined,
        summary.deduplicated,
        (summary.appended + summary.quarantined + summary.deduplicated) as f64 / secs.max(1e-9),
        summary.batches,
        summary.tree_size
    ))?;
    for p in &summary.positions {
        line(format!(
            "  stored position {}/{} = {}",
            p.topic, p.partition, p.next_offset
        ))?;
    }
    Ok(ledger)
}

fn verify(r: &LedgerReader<'_>, vkey: &VerifierKey) -> anyhow::Result<()> {
    let report = fsck(
        r,
        &FsckOptions::new(Trust {
            keys: vec![vkey.clone()],
            checkpoint_note: None,
        }),
    )?;
    if !report.ok() {
        anyhow::bail!(crate::VerificationFailed(format!(
            "the demo ledger failed verification: {:?}",
            report.first()
        )));
    }
    line(format!(
        "ok: ledger verified: {} entries, {} signed checkpoints, all consistent",
        report.entries_checked, report.checkpoints_checked
    ))?;
    Ok(())
}

/// Steps 6 to 8: the story grant, the story subject's history, the drift report. Returns the
/// index of the story grant's revocation.
fn answers(r: &LedgerReader<'_>) -> anyhow::Result<u64> {
    let now = Timestamp::now();
    step(&format!(
        "6. who approved {STORY_GRANT}, why, and when did it end?"
    ))?;
    let g = idledger_query::grant(r, STORY_GRANT, now)?;
    for e in &g.entries {
        line(format!("  {}", super::query::describe_entry(e).join("  ")))?;
    }
    line(format!("who approved: {}", g.who_approved))?;
    line(format!("why:          {}", g.why))?;
    line(format!("access ended: {}", g.when_ended))?;
    step(&format!("7. the history of {STORY_SUBJECT}"))?;
    let h = idledger_query::history(r, STORY_SUBJECT)?;
    for e in h.entries.iter().take(12) {
        line(format!("  {}", super::query::describe_entry(e).join("  ")))?;
    }
    if h.entries.len() > 12 {
        line(format!("  … {} more", h.entries.len() - 12))?;
    }
    line(format!(
        "gap check: {}",
        if h.gap_free {
            "every entry links back to the previous one; none missing"
        } else {
            "FAILED"
        }
    ))?;
    step("8. entitlement drift report")?;
    drift(r, now)?;
    g.episode
        .end
        .as_ref()
        .and_then(|e| e.index)
        .context("the story grant was revoked")
}

fn drift(r: &LedgerReader<'_>, now: Timestamp) -> anyhow::Result<()> {
    let projections = idledger_query::Projections::replay(r)?;
    let drift = idledger_query::report(
        &projections,
        r,
        ReportName::Drift,
        &ReportOptions {
            now,
            max_credential_age_days: 90,
            group_by: None,
        },
    )?;
    for grp in &drift.groups {
        for (k, v) in &grp.figures {
            line(format!("  {k}: {v}"))?;
        }
        for item in grp.items.iter().take(3) {
            line(format!(
                "    e.g. {} {}: {}",
                item.kind, item.id, item.detail
            ))?;
        }
    }
    // The feeds' Vault token, revoked and then used: found across the whole log.
    let used = idledger_query::report(
        &projections,
        r,
        ReportName::UsedAfterEnd,
        &ReportOptions {
            now,
            max_credential_age_days: 90,
            group_by: None,
        },
    )?;
    line("used after it ended (`idledger report used-after-end`):")?;
    for item in used.groups.iter().flat_map(|g| &g.items) {
        line(format!("  {} {}: {}", item.kind, item.id, item.detail))?;
    }
    Ok(())
}

fn prove(r: &LedgerReader<'_>, revocation: u64, vkey: &VerifierKey) -> anyhow::Result<()> {
    let proof = r.tlog_proof(idledger_proto::Seq(revocation))?.to_text();
    let shown: Vec<&str> = proof
        .lines()
        .map(|l| if l.len() > 100 { &l[..100] } else { l })
        .collect();
    line(format!("{}\n…", shown.join("\n")))?;
    let verified =
        idledger_proto::proof::verify_entry_proof(&proof, None, std::slice::from_ref(vkey))
            .context("the proof did not verify")?;
    line(format!(
        "verified offline: entry {} is in the log under the signed checkpoint of size {}",
        verified.entry.seq, verified.checkpoint.checkpoint.size
    ))?;
    Ok(())
}

/// The commands to explore a kept ledger with.
fn explore(at: &Place, vkey: &VerifierKey, revocation: u64) -> anyhow::Result<()> {
    if !at.kept {
        line(
            "the ledger was in a temporary directory; run `idledger demo --data DIR` to keep it and explore it with the other commands",
        )?;
        return Ok(());
    }
    let (d, k) = (at.dir.display(), at.keys.display());
    line(format!(
        "explore the ledger:\n  idledger verify --data {d} --vkey '{vkey}'\n  idledger append --data {d} --key-dir {k} more-events.jsonl\n  idledger grant --data {d} {STORY_GRANT}\n  idledger history --data {d} {STORY_SUBJECT} --proofs history.proof.json\n  idledger verify-proof --vkey '{vkey}' history.proof.json\n  idledger report --data {d} drift --group-by application\n  idledger access --data {d} --resource prod-db:read --at 2026-01-08T10:00:00Z\n  idledger prove --data {d} --index {revocation}"
    ))?;
    Ok(())
}

fn progress(len: u64, what: &'static str) -> Option<indicatif::ProgressBar> {
    stderr_is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}}"))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    })
}

#[cfg(test)]
mod tests {
    use super::partitions_to_hold;

    #[test]
    fn partitions_grow_only_when_the_workload_would_not_fit() {
        // (events, partitions asked for, partitions used)
        let cases = [
            (1_500, 3, 3),
            (20_000, 4, 4),
            (200_000, 4, 9),
            (1_000_000, 4, 42),
            (1_000_000, 64, 64),
        ];
        for (events, asked, expected) in cases {
            assert_eq!(
                partitions_to_hold(events, asked),
                expected,
                "{events} events, {asked} asked"
            );
        }
    }
}
