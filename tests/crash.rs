//! The ledger under SIGKILL: a child process appending batches is killed at random moments;
//! after each restart the ledger verifies, and every event is recorded exactly once.

mod common;

use common::*;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::Seq;
use std::collections::BTreeSet;
use std::time::Duration;

fn lines(from: usize, n: usize) -> String {
    (from..n)
        .map(|i| format!(r#"{{"id":"c{i}","source":"batch","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"u{}","kind":"human"}},"reason":"{}"}}"#, i % 101, "x".repeat(480)))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn appends_killed_with_sigkill_leave_a_verifiable_ledger_at_a_batch_boundary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("l");
    init(&dir);
    let total = 100_000;
    let file = tmp.path().join("events.jsonl");
    // The kill times come from a seed: IDLEDGER_CRASH_SEED repeats a run, else the clock.
    let mut seed: u64 = std::env::var("IDLEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("kill timing seed {seed} (IDLEDGER_CRASH_SEED={seed} repeats this run)");
    let mut sizes = Vec::new();
    for _ in 0..15 {
        // Each run appends what the ledger does not hold yet: it must hold exactly a prefix.
        let have = ReadOnlyLedger::open(&dir)
            .expect("open")
            .reader()
            .size()
            .expect("size")
            .0 as usize
            - 1;
        std::fs::write(&file, lines(have, total)).expect("write input");
        let mut child = idledger(&["append", "--data", path(&dir), "--batch", "50", path(&file)])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn append");
        // The kill lands once a random number of the run's entries (1 to 3000) are durable,
        // waited for rather than timed, so it lands before the run's last batch however fast
        // the machine: 15 runs take well under the 100,000 entries.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        wait_until_larger(&dir, have + 1 + (seed >> 33) as usize % 3000, &mut child);
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let report = verify_with_own_keys(&dir);
        assert!(
            report.ok(),
            "after a kill at size {}: {:?}",
            report.tree_size,
            report.findings
        );
        // A crash leaves the ledger at a batch boundary: genesis plus whole batches of 50.
        assert_eq!(
            (report.tree_size - 1) % 50,
            0,
            "size {} is not a batch boundary",
            report.tree_size
        );
        assert!(
            report.tree_size as usize > have + 1 && (report.tree_size as usize) < total + 1,
            "the kill landed between the run's first and last batch (it started at {}, holds {})",
            have + 1,
            report.tree_size
        );
        sizes.push(report.tree_size);
    }
    assert!(
        sizes.windows(2).all(|w| w[0] <= w[1]),
        "the ledger never shrinks: {sizes:?}"
    );
    eprintln!("sizes after each kill: {sizes:?}");
    // A last run over the whole input: everything present is skipped as identical.
    std::fs::write(&file, lines(0, total)).expect("write input");
    ok(&["append", "--data", path(&dir), path(&file)], None);
    let ro = ReadOnlyLedger::open(&dir).expect("open");
    let r = ro.reader();
    let size = r.size().expect("size").0;
    assert_eq!(size, total as u64 + 1);
    let mut ids = BTreeSet::new();
    for i in 1..size {
        let e = r.entry(Seq(i)).expect("entry");
        let id = e.event().expect("an event").id.clone();
        assert_eq!(id, format!("c{}", i - 1), "entry {i} is out of order");
        assert!(ids.insert(id), "entry {i} repeats an event");
    }
    drop(ro);
    assert!(verify_with_own_keys(&dir).ok());
}

/// Waits (up to a minute) until the ledger holds more than `size` entries: the child has made a
/// batch durable. Fails if the child exits first.
fn wait_until_larger(dir: &std::path::Path, size: usize, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = ReadOnlyLedger::open(dir)
            .ok()
            .and_then(|ro| ro.reader().size().ok())
            .map_or(0, |s| s.0 as usize);
        if now > size {
            return;
        }
        assert!(
            child.try_wait().expect("poll the child").is_none(),
            "append exited before the ledger grew past {size}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no batch durable within a minute (size {now})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
