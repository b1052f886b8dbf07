//! `idledger serve` with followers of `GET /v1/entries?follow=true`, as processes: a follower
//! keeps receiving entries while one `idledger append` after another writes (each a new writer:
//! the server's reader must keep seeing them), and what it received verifies; a client that
//! sends its request and never reads does not stop appends from finishing nor a second follower
//! from receiving everything, costs the server a bounded number of bytes whatever its lag
//! (asserted on the server's own account, `/metrics`), and finds where to resume when it finally
//! reads.

mod common;

use common::*;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const AUDITOR: &str = "auditor-token-0123456789";
const ADMIN: &str = "admin-token-0123456789-admin";
/// The longest any wait in these tests lasts.
const PATIENCE: Duration = Duration::from_secs(60);
/// What the server queues for one stream beyond what its connection took (`STREAM_BUFFER_BYTES`),
/// the size of a chunk, and the most entries a round reads (`ROUND_ENTRIES`): docs/EXPORT.md.
const QUEUE_BYTES: u64 = 1 << 20;
const CHUNK_BYTES: u64 = 64 * 1024;
const ROUND_ENTRIES: u64 = 4096;

/// `n` events whose ids start with `tag` (so each batch is new), of several kinds and sources.
fn events(tag: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            let (kind, subject) = if i % 3 == 0 {
                ("credential.rotated", r#"{"id":"svc-1","kind":"service_account"}"#)
            } else {
                ("identity.updated", r#"{"id":"u1","kind":"human"}"#)
            };
            let credential = if i % 3 == 0 {
                format!(
                    r#","credential":{{"id":"key-1","kind":"api_key","fingerprint":"sha256:{}"}}"#,
                    "0a".repeat(32)
                )
            } else {
                String::new()
            };
            format!(
                r#"{{"id":"{tag}-{i}","source":"okta","type":"{kind}","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{subject}{credential}}}"#
            ) + "\n"
        })
        .collect()
}

/// A ledger and `idledger serve` over it, stopped when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    vkey: String,
    tmp: tempfile::TempDir,
}

impl Served {
    /// A ledger of a few entries, served with `serve_extra` in its `[serve]` section.
    fn start(serve_extra: &str) -> Served {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ledger");
        let vkey = init(&dir);
        let d = path(&dir);
        ok(&["append", "--data", d, "-"], Some(&events("first", 10)));
        let config = tmp.path().join("idledger.toml");
        std::fs::write(
            &config,
            format!(
                "data = \"{d}\"\n[serve]\naddr = \"127.0.0.1:0\"\n{serve_extra}\n\
                 [[serve.tokens]]\nname = \"ann\"\ntoken = \"{AUDITOR}\"\nrole = \"auditor\"\n\
                 [[serve.tokens]]\nname = \"ada\"\ntoken = \"{ADMIN}\"\nrole = \"admin\"\n"
            ),
        )
        .expect("config");
        let mut child = idledger(&["--config", path(&config), "serve"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(tmp.path().join("serve.log")).expect("log"))
            .spawn()
            .expect("serve");
        let addr = first_line_after(&mut child, "listening on http://")
            .parse()
            .expect("an address");
        Served {
            child,
            addr,
            dir,
            vkey,
            tmp,
        }
    }

    /// One `idledger append` process: a new writer, which closes the ledger when done.
    fn append(&self, tag: &str, n: usize, batch: usize) {
        let o = run(
            &[
                "append",
                "--data",
                path(&self.dir),
                "--batch",
                &batch.to_string(),
                "-",
            ],
            Some(&events(tag, n)),
        );
        assert!(o.status.success(), "append {tag}: {}", stderr(&o));
    }

    /// The ledger's size, as a fresh reader sees it.
    fn size(&self) -> u64 {
        idledger_ledger::ReadOnlyLedger::open(&self.dir)
            .expect("open")
            .reader()
            .size()
            .expect("size")
            .0
    }

    /// A gauge or counter of `/metrics`.
    fn metric(&self, name: &str) -> u64 {
        let (raw, _) = http_get::http_get(self.addr, "/metrics", Some(ADMIN)).expect("metrics");
        let text = String::from_utf8_lossy(&raw);
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    }

    /// `idledger verify-export` over `lines`: its exit code and output.
    fn verify(&self, lines: &[String]) -> (Option<i32>, String) {
        let file = self.tmp.path().join("followed.jsonl");
        std::fs::write(&file, lines.join("\n") + "\n").expect("write");
        let o = run(&["verify-export", "--vkey", &self.vkey, path(&file)], None);
        (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("serve.log")).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a GET for `path` on a new connection (kept open).
fn request(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUDITOR}\r\n\r\n"
    )
    .expect("send");
    s
}

/// Decodes an HTTP/1.1 answer read as it comes: the head, then chunks, split into lines.
#[derive(Default)]
struct Chunked {
    raw: Vec<u8>,
    head: Option<String>,
    partial: String,
}

impl Chunked {
    /// Takes more bytes; returns the lines they completed and whether the body ended.
    fn feed(&mut self, bytes: &[u8]) -> (Vec<String>, bool) {
        self.raw.extend_from_slice(bytes);
        if self.head.is_none() {
            let Some(at) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                return (Vec::new(), false);
            };
            let head = String::from_utf8_lossy(&self.raw[..at]).into_owned();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            self.head = Some(head);
            self.raw.drain(..at + 4);
        }
        let (mut used, mut ended) = (0, false);
        while let Some(nl) = self.raw[used..].windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&self.raw[used..used + nl])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .expect("a chunk size");
            let start = used + nl + 2;
            if self.raw.len() < start + size + 2 {
                break;
            }
            self.partial
                .push_str(std::str::from_utf8(&self.raw[start..start + size]).expect("UTF-8"));
            used = start + size + 2;
            if size == 0 {
                ended = true;
                break;
            }
        }
        self.raw.drain(..used);
        let mut lines = Vec::new();
        while let Some(nl) = self.partial.find('\n') {
            lines.push(self.partial[..nl].to_owned());
            self.partial.drain(..=nl);
        }
        (lines, ended)
    }
}

/// A follower reading its stream on its own thread, as fast as it comes.
struct Follower {
    lines: mpsc::Receiver<String>,
    got: Vec<String>,
}

impl Follower {
    fn start(addr: SocketAddr, path: &str) -> Follower {
        let mut socket = request(addr, path);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut decoder = Chunked::default();
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = socket.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let (lines, ended) = decoder.feed(&buf[..n]);
                for l in lines {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
                if ended {
                    return;
                }
            }
        });
        Follower {
            lines: rx,
            got: Vec::new(),
        }
    }

    /// Receives lines until the checkpoint of `size`; panics after `PATIENCE`, saying what came.
    fn until_checkpoint(&mut self, size: u64, log: impl Fn() -> String) {
        let want = format!(r#"{{"kind":"checkpoint","size":{size},"#);
        if self.got.iter().any(|l| l.starts_with(&want)) {
            return;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with(&want);
                    self.got.push(line);
                    if done {
                        return;
                    }
                }
                Err(_) => panic!(
                    "the follower never received the checkpoint of {size}; its last line: {:?}\n--- server log ---\n{}",
                    self.got.last().map(|l| &l[..l.len().min(200)]),
                    log()
                ),
            }
        }
    }

    /// The indexes of the entry lines received.
    fn indexes(&self) -> Vec<u64> {
        self.got
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["kind"] == "entry")
            .filter_map(|v| v["index"].as_u64())
            .collect()
    }
}

/// Each `idledger append` is a new writer that opens the ledger, writes and closes it; the
/// server's reader, kept open across them all, must keep seeing what each wrote.
#[test]
fn a_follower_keeps_receiving_while_one_writer_after_another_appends() {
    let served = Served::start("");
    let mut follower = Follower::start(served.addr, "/v1/entries?from=0&follow=true");
    follower.until_checkpoint(served.size(), || served.log());
    for round in 0..12 {
        served.append(&format!("w{round}"), 150, 40);
        // Each writer's batches reach the follower before the next writer starts: a reader
        // that stopped seeing new writes would leave this waiting.
        follower.until_checkpoint(served.size(), || served.log());
    }
    let size = served.size();
    assert_eq!(follower.indexes(), (0..size).collect::<Vec<_>>());
    let (code, out) = served.verify(&follower.got);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("ok: {size} entries verified")),
        "{out}"
    );
}

/// The most bytes the server may hold for one stream whose lines are at most `line` long.
fn held_bound(line: u64) -> u64 {
    QUEUE_BYTES + CHUNK_BYTES + line + (ROUND_ENTRIES + 1) * line
}

#[test]
fn a_stalled_client_slows_neither_appends_nor_other_followers_and_learns_where_to_resume() {
    let served = Served::start("follow_stall_timeout_ms = 1000");
    let tip = served.size();
    // Sends its request and reads nothing until the end.
    let mut stalled = request(served.addr, &format!("/v1/entries?from={tip}&follow=true"));
    let mut live = Follower::start(served.addr, &format!("/v1/entries?from={tip}&follow=true"));
    let mut most_held = 0;
    for round in 0..10 {
        // Each append finishes (asserted inside) while the stalled client holds its stream.
        served.append(&format!("s{round}"), 4000, 1000);
        most_held = most_held.max(served.metric("idledger_http_stream_held_bytes_max"));
    }
    let size = served.size();
    live.until_checkpoint(size, || served.log());
    assert_eq!(live.indexes(), (tip..size).collect::<Vec<_>>());
    let (code, out) = served.verify(&live.got);
    assert_eq!(code, Some(0), "{out}");
    // The stalled client is cut off once it has taken nothing for the stall timeout, whether or
    // not the appends outlasted it, and the server held a bounded amount for any stream
    // meanwhile, though far more was appended than that.
    let deadline = Instant::now() + PATIENCE;
    while served.metric("idledger_http_streams_stalled_total") == 0 {
        assert!(
            Instant::now() < deadline,
            "the stalled client was never cut off"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served.metric("idledger_http_streams_stalled_total"), 1);
    let longest = live
        .got
        .iter()
        .map(|l| l.len() as u64 + 1)
        .max()
        .unwrap_or(0);
    let bound = held_bound(longest);
    assert!(
        most_held <= bound,
        "held {most_held} bytes, more than {bound}"
    );
    let streamed: u64 = live.got.iter().map(|l| l.len() as u64 + 1).sum();
    assert!(
        streamed > 4 * bound,
        "only {streamed} bytes were streamed: too few for the bound to mean anything"
    );
    // Once cut off and still reading nothing, it is left only its resume record.
    let deadline = Instant::now() + PATIENCE;
    while served.metric("idledger_http_stream_held_bytes") > 1024 {
        assert!(
            Instant::now() < deadline,
            "the stalled stream's queue was never dropped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // When it finally reads: what it was sent, then where to resume.
    stalled.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut decoder = Chunked::default();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = stalled.read(&mut buf).expect("read the stalled stream");
        let (lines, ended) = decoder.feed(&buf[..n]);
        got.extend(lines);
        if ended || n == 0 {
            break;
        }
    }
    let last = got.pop().expect("a resume record");
    let resume: serde_json::Value = serde_json::from_str(&last).expect("JSON");
    assert_eq!(resume["kind"], "resume", "{last}");
    let last_sent: serde_json::Value =
        serde_json::from_str(got.last().expect("records before it")).expect("JSON");
    let after = match last_sent["kind"].as_str() {
        Some("entry") => last_sent["index"].as_u64().map(|i| i + 1),
        Some("checkpoint") => last_sent["size"].as_u64(),
        other => panic!("the last record sent is {other:?}"),
    };
    assert_eq!(resume["from"].as_u64(), after, "{last}");
    assert!(after < Some(size), "the stalled client was sent everything");
    // Resuming there, it gets the rest, and that verifies by itself.
    let from = after.expect("an index");
    let mut resumed = Follower::start(served.addr, &format!("/v1/entries?from={from}&follow=true"));
    resumed.until_checkpoint(size, || served.log());
    assert_eq!(resumed.indexes(), (from..size).collect::<Vec<_>>());
    let (code, out) = served.verify(&resumed.got);
    assert_eq!(code, Some(0), "{out}");
}
