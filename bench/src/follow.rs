//! Ingest beside HTTP followers: `idledger append` of the same events into a fresh ledger, alone,
//! with `idledger serve` over it holding a stalled follower (its request sent, nothing ever read),
//! and with a live follower (reading everything) beside the stalled one, interleaved in one run.
//! A stalled client must not slow ingest: the target is the rate beside it at least 0.95 of the
//! rate alone. A live follower must keep up: its row's target is that it received everything;
//! its cost is shown, since the server makes its stream on the same two cores as the append.

use crate::events::event_json;
use crate::rows::{Row, per_sec};
use anyhow::Context as _;
use idledger_ledger::Ledger;
use std::io::{BufRead as _, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-follow-token-0123456789";
/// Events per `append` batch (one synced write and one checkpoint each).
const BATCH: usize = 1000;
/// Alone and with followers, this many times each, interleaved; the best of each counts.
const PAIRS: usize = 2;

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

/// `idledger serve` over a ledger, stopped when dropped.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(exe: &Path, dir: &Path, config: &Path) -> anyhow::Result<Serve> {
        std::fs::write(
            config,
            format!(
                "data = \"{}\"\n[serve]\naddr = \"127.0.0.1:0\"\n\
                 [[serve.tokens]]\nname = \"bench\"\ntoken = \"{TOKEN}\"\nrole = \"auditor\"\n",
                dir.display()
            ),
        )?;
        let mut child = Command::new(exe)
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("IDLEDGER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().context("serve stdout")?)
            .read_line(&mut first)?;
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .with_context(|| format!("serve said {first:?}"))?
            .parse()?;
        Ok(Serve { child, addr })
    }

    /// A follower from `from`: its connection, with the request sent.
    fn follow(&self, from: u64) -> anyhow::Result<TcpStream> {
        let mut s = TcpStream::connect(self.addr)?;
        write!(
            s,
            "GET /v1/entries?from={from}&follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        )?;
        Ok(s)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends the events of `input` into the ledger at `dir`; its wall-clock time.
fn append(exe: &Path, dir: &Path, keys: &Path, input: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let out = Command::new(exe)
        .arg("append")
        .arg("--data")
        .arg(dir)
        .arg("--key-dir")
        .arg(keys)
        .args(["--batch", &BATCH.to_string()])
        .arg(input)
        .env("IDLEDGER_LOG", "warn")
        .output()?;
    let took = started.elapsed();
    anyhow::ensure!(
        out.status.success(),
        "append failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(took)
}

/// A fresh ledger in `tmp` named `name`: its directory and key directory.
fn fresh(tmp: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (dir, keys) = (tmp.join(name), tmp.join(format!("{name}.keys")));
    drop(Ledger::init(&dir, &keys, "bench.idledger.local/follow")?);
    Ok((dir, keys))
}

/// One append beside `serve` with a stalled follower, and a live one if `live`; its time, and
/// whether the live follower (if any) received the last checkpoint.
fn with_followers(
    exe: &Path,
    tmp: &Path,
    name: &str,
    input: &Path,
    expected_size: u64,
    live: bool,
) -> anyhow::Result<(Duration, bool)> {
    let (dir, keys) = fresh(tmp, name)?;
    let serve = Serve::start(exe, &dir, &tmp.join(format!("{name}.toml")))?;
    let stalled = serve.follow(1)?;
    if !live {
        let took = append(exe, &dir, &keys, input)?;
        drop(stalled);
        return Ok((took, true));
    }
    let mut live = serve.follow(1)?;
    let last = format!(r#"{{"kind":"checkpoint","size":{expected_size},"#);
    let reader = std::thread::spawn(move || {
        // Reads everything as it comes, keeping only a tail to find the last checkpoint in.
        let mut tail = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let _ = live.set_read_timeout(Some(Duration::from_secs(60)));
        while let Ok(n) = live.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&tail).contains(&last) {
                return true;
            }
            let keep = tail.len().saturating_sub(4096);
            tail.drain(..keep);
        }
        false
    });
    let took = append(exe, &dir, &keys, input)?;
    let received = reader.join().unwrap_or(false);
    drop(stalled);
    Ok((took, received))
}

pub fn follow(tmp: &Path, entries: usize) -> anyhow::Result<Vec<Row>> {
    let exe = idledger()?;
    let input = tmp.join("follow-events.jsonl");
    let mut text = String::with_capacity(entries * 400);
    for i in 0..entries {
        text.push_str(&event_json(i, &format!("user{}@example.com", i % 20_000)));
        text.push('\n');
    }
    std::fs::write(&input, text)?;
    // Genesis, then every event.
    let expected_size = entries as u64 + 1;
    let (mut alone, mut stalled, mut both) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let mut all_received = true;
    for round in 0..PAIRS {
        let (dir, keys) = fresh(tmp, &format!("alone-{round}"))?;
        alone = alone.min(append(&exe, &dir, &keys, &input)?);
        let name = format!("stalled-{round}");
        let (took, _) = with_followers(&exe, tmp, &name, &input, expected_size, false)?;
        stalled = stalled.min(took);
        let name = format!("both-{round}");
        let (took, received) = with_followers(&exe, tmp, &name, &input, expected_size, true)?;
        both = both.min(took);
        all_received &= received;
    }
    let rate = |d: Duration| per_sec(entries as u64, d);
    let (alone_rate, stalled_rate, both_rate) = (rate(alone), rate(stalled), rate(both));
    eprintln!(
        "bench: append alone {alone_rate:.0}/s, beside a stalled follower {stalled_rate:.0}/s, beside a stalled and a live one {both_rate:.0}/s"
    );
    let baseline = |r: f64| format!("append alone {alone_rate:.0}/s ({:.2}x)", r / alone_rate);
    Ok(vec![
        Row {
            name: "append beside a stalled HTTP follower",
            measured: format!("{stalled_rate:.0} events/s ({entries} events)"),
            baseline: baseline(stalled_rate),
            target: "≥ 0.95x alone".into(),
            pass: stalled_rate / alone_rate >= 0.95,
        },
        Row {
            name: "append beside a stalled and a live HTTP follower",
            measured: format!(
                "{both_rate:.0} events/s ({entries} events; the live follower {} everything)",
                if all_received {
                    "received"
                } else {
                    "did NOT receive"
                }
            ),
            baseline: baseline(both_rate),
            // The live stream is made on the same two cores as the append: its cost is shown,
            // the target is that it keeps up.
            target: "the live follower receiving everything".into(),
            pass: all_received,
        },
    ])
}
