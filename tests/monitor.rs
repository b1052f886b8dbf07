//! `idledger monitor` following a ledger served by `idledger serve` (and a static tiles export
//! served by a tiny file server here): two clean rounds as the log grows, after which the
//! monitor's directory is byte-equal to `tiles export` of the same ledger at the same sizes;
//! then a fork (a copy of an earlier prefix, extended differently under the same key), a
//! truncation (that prefix served as it is) and a modified entry (one byte of an exported entry
//! bundle changed) are each reported with their class and exit code 1, the kept copy untouched;
//! an unreachable log is exit code 2, also with nothing kept.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

fn append_events(dir: &Path, prefix: &str, n: usize) {
    let events: String = (0..n)
        .map(|i| format!(r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{}","kind":"human"}}}}"#, i % 13) + "\n")
        .collect();
    ok(
        &["append", "--data", path(dir), "--batch", "100", "-"],
        Some(&events),
    );
}

/// `idledger serve` over a ledger, its tlog-tiles routes public; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let config = dir.with_extension("serve.toml");
        // serve needs a token; the tiles routes are public and the monitor sends none.
        std::fs::write(
            &config,
            "[serve]\naddr = \"127.0.0.1:0\"\n[[serve.tokens]]\nname = \"ann\"\n\
             token = \"auditor-token-0123456789\"\nrole = \"auditor\"\n",
        )
        .expect("config");
        let mut child = idledger(&["--config", path(&config), "serve", "--data", path(dir)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let addr = first_line_after(&mut child, "listening on http://")
            .parse()
            .expect("an address");
        Server { child, addr }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A static file server for a directory, as a CDN would serve a tiles export: GET of a file is
/// 200 with its bytes, anything else 404. It serves until the test process ends.
fn serve_files(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request);
            let path = request
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let file = (!path.contains("..")).then(|| root.join(path));
            let (status, body) = match file.and_then(|f| std::fs::read(f).ok()) {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", b"not found\n".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn monitor(url: &str, vkey: &str, state: &Path) -> Output {
    run(
        &[
            "monitor",
            "--url",
            url,
            "--vkey",
            vkey,
            "--state",
            path(state),
            "--once",
        ],
        None,
    )
}

/// Every file under `dir` but the monitor's own (state and lock), by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root");
                let rel = rel.to_str().expect("utf8").to_owned();
                if rel != "monitor-state" && rel != "monitor.lock" {
                    out.insert(rel, std::fs::read(&p).expect("read"));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Copies a ledger and its key directory (`DATA.keys`), as an operator forking it would.
fn copy_ledger(from: &Path, to: &Path) {
    for (a, b) in [
        (from.to_owned(), to.to_owned()),
        (keys_for(from), keys_for(to)),
    ] {
        let o = std::process::Command::new("cp")
            .args(["-a", path(&a), path(&b)])
            .output()
            .expect("cp");
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

/// A run that must report `class` and exit 1, leaving the monitor's directory as it was.
fn caught(o: &Output, class: &str, state: &Path, before: &BTreeMap<String, Vec<u8>>, kept: &[u8]) {
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(o), stderr(o));
    assert!(
        stdout(o).contains(&format!("finding: {class} at index")),
        "{}",
        stdout(o)
    );
    assert_eq!(&files(state), before, "the copy is untouched");
    assert_eq!(
        std::fs::read(state.join("monitor-state")).expect("state"),
        kept,
        "the state is untouched"
    );
}

#[test]
fn a_monitor_keeps_an_exact_copy_and_catches_fork_truncation_and_modification() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    let vkey = vkey.trim();
    append_events(&dir, "a", 300);
    let prefix = tmp.path().join("prefix");
    copy_ledger(&dir, &prefix);
    let state = tmp.path().join("monitor");
    let export = tmp.path().join("export");

    // Two clean rounds as the log grows.
    {
        let server = Server::start(&dir);
        let o = monitor(&server.url(), vkey, &state);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("tree size 301"), "{}", stdout(&o));
        let again = monitor(&server.url(), vkey, &state);
        assert!(
            stdout(&again).contains("tree size 301: unchanged"),
            "{}",
            stdout(&again)
        );
    }
    ok(
        &["tiles", "export", "--data", path(&dir), path(&export)],
        None,
    );
    append_events(&dir, "b", 400);
    {
        let server = Server::start(&dir);
        let o = monitor(&server.url(), vkey, &state);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("entries 301 to 700: tree size 701"),
            "{}",
            stdout(&o)
        );
    }
    ok(
        &["tiles", "export", "--data", path(&dir), path(&export)],
        None,
    );
    let before = files(&state);
    assert_eq!(
        before,
        files(&export),
        "the copy is the export, byte for byte"
    );
    let kept = std::fs::read(state.join("monitor-state")).expect("state");

    // The prefix served as it is: a truncation.
    {
        let server = Server::start(&prefix);
        let o = monitor(&server.url(), vkey, &state);
        caught(&o, "truncation", &state, &before, &kept);
    }
    // The prefix extended differently, signed with the same key: a fork.
    let fork = tmp.path().join("fork");
    copy_ledger(&prefix, &fork);
    append_events(&fork, "other", 500);
    {
        let server = Server::start(&fork);
        let o = monitor(&server.url(), vkey, &state);
        caught(&o, "fork", &state, &before, &kept);
    }
    // One byte of a new entry changed in a static export.
    append_events(&dir, "c", 100);
    let tampered = tmp.path().join("tampered");
    ok(
        &["tiles", "export", "--data", path(&dir), path(&tampered)],
        None,
    );
    let bundle = tampered.join("tile/entries/003.p/33");
    let mut bytes = std::fs::read(&bundle).expect("bundle");
    let at = bytes.len() - 10;
    bytes[at] ^= 1;
    std::fs::write(&bundle, &bytes).expect("write");
    let static_url = serve_files(tampered);
    let o = monitor(&static_url, vkey, &state);
    caught(&o, "modified entry", &state, &before, &kept);

    // Unreachable: exit 2, nothing kept.
    let o = monitor("http://127.0.0.1:1", vkey, &state);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    assert_eq!(files(&state), before);

    // The honest log is still followed from the last good state.
    let server = Server::start(&dir);
    let o = monitor(&server.url(), vkey, &state);
    assert!(
        stdout(&o).contains("entries 701 to 800: tree size 801"),
        "{}",
        stdout(&o)
    );
    drop(server);
    ok(
        &["tiles", "export", "--data", path(&dir), path(&export)],
        None,
    );
    assert_eq!(files(&state), files(&export));
}
