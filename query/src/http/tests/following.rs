//! Following `/v1/entries` in-process: a follower receives each new checkpoint as a writer in
//! this process appends it (filtered, and up to `to`); a client that reads nothing for a while
//! costs the server a bounded amount and loses nothing; one too far behind is cut off with where
//! to resume; the stream limit, the stop signal and a client gone each do what they must.

use super::entries_stream::{Live, indexes};
use super::*;
use crate::http::limits::{ROUND_ENTRIES, STREAM_BUFFER_BYTES};

/// A stream kept open: what it has sent so far, its chunks decoded as they come.
struct Follower {
    socket: TcpStream,
    /// Bytes read and not decoded yet.
    raw: Vec<u8>,
    head: Option<String>,
    body: String,
}

impl Follower {
    fn open(addr: std::net::SocketAddr, path: &str, token: &str) -> Follower {
        let mut socket = TcpStream::connect(addr).expect("connect");
        socket
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n")
                    .as_bytes(),
            )
            .expect("send the request");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Follower {
            socket,
            raw: Vec::new(),
            head: None,
            body: String::new(),
        }
    }

    /// Decodes what was read: the head, then whole chunks. Whether the last chunk came.
    fn decode(&mut self) -> bool {
        if self.head.is_none() {
            let Some(at) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                return false;
            };
            self.head = Some(String::from_utf8_lossy(&self.raw[..at]).into_owned());
            self.raw.drain(..at + 4);
        }
        let mut used = 0;
        let mut ended = false;
        while let Some(nl) = self.raw[used..].windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&self.raw[used..used + nl])
                .ok()
                .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                .expect("a chunk size");
            let start = used + nl + 2;
            if self.raw.len() < start + size + 2 {
                break;
            }
            self.body
                .push_str(std::str::from_utf8(&self.raw[start..start + size]).expect("UTF-8"));
            used = start + size + 2;
            if size == 0 {
                ended = true;
                break;
            }
        }
        self.raw.drain(..used);
        ended
    }

    /// Reads until the head has come and a line of the body satisfies `done` (`None`: the head
    /// is enough), and returns the body so far; panics naming `what` after `PATIENCE`. Each
    /// line is looked at once.
    fn read_until(&mut self, what: &str, done: Option<&dyn Fn(&str) -> bool>) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 1 << 16];
        let mut looked = 0;
        loop {
            let ended = self.decode();
            if self.head.is_some() {
                let Some(done) = done else {
                    return self.body.clone();
                };
                let complete = self.body.rfind('\n').map_or(0, |nl| nl + 1);
                let seen = self.body[looked..complete].lines().any(done);
                looked = complete;
                if seen {
                    return self.body.clone();
                }
            }
            assert!(
                !ended,
                "{what}: the stream ended first: {} {}",
                self.head.as_deref().unwrap_or_default(),
                self.body
            );
            assert!(
                Instant::now() < deadline,
                "{what}: not seen in {PATIENCE:?}; got {} bytes ending {:?}",
                self.body.len(),
                &self.body[self.body.len().saturating_sub(300)..]
            );
            self.read_some(&mut buf, what);
        }
    }

    /// Reads until the stream's last chunk, and returns its body; panics naming `what` after
    /// `PATIENCE`.
    fn read_to_end(&mut self, what: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 1 << 16];
        while !self.decode() {
            assert!(
                Instant::now() < deadline,
                "{what}: the stream did not end in {PATIENCE:?}; got {}",
                self.body
            );
            self.read_some(&mut buf, what);
        }
        self.body.clone()
    }

    /// One read from the socket, waiting at most its read timeout.
    fn read_some(&mut self, buf: &mut [u8], what: &str) {
        match self.socket.read(buf) {
            // The connection closed: as if the stream had ended.
            Ok(0) => self.raw.extend_from_slice(b"0\r\n\r\n"),
            Ok(n) => self.raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// Whether a line is the checkpoint of `size`.
fn checkpoint_of(size: u64) -> impl Fn(&str) -> bool {
    move |line: &str| line.starts_with(&format!(r#"{{"kind":"checkpoint","size":{size},"#))
}

fn is_resume(line: &str) -> bool {
    line.starts_with(r#"{"kind":"resume""#)
}

#[test]
fn a_follower_receives_each_new_checkpoint_and_what_it_covers() {
    let mut live = Live::start(1, 10, Limits::default());
    let tip = live.size();
    // From the tip: nothing yet, then each batch as it is signed.
    let mut from_tip = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={tip}&follow=true"),
        RESPONDER,
    );
    // From the start, filtered: the backlog, then the new entries it keeps.
    let mut filtered = Follower::open(
        live.server.addr,
        "/v1/entries?from=0&follow=true&source=vault",
        AUDITOR,
    );
    filtered.read_until("the backlog", Some(&checkpoint_of(tip)));
    for _ in 0..3 {
        live.append(7);
        let size = live.size();
        from_tip.read_until("a new checkpoint", Some(&checkpoint_of(size)));
        filtered.read_until("a new filtered checkpoint", Some(&checkpoint_of(size)));
    }
    let size = live.size();
    let body = from_tip.read_until("all", Some(&checkpoint_of(size)));
    assert_eq!(indexes(&body), (tip..size).collect::<Vec<_>>());
    let verified = live.verify(&body);
    assert!(verified.ok(), "{:?}", verified.findings);
    let body = filtered.read_until("all", Some(&checkpoint_of(size)));
    let vault: Vec<u64> = (0..size)
        .filter(|&i| {
            live.made[i as usize]
                .as_ref()
                .is_some_and(|m| m.source == "vault")
        })
        .collect();
    assert_eq!(indexes(&body), vault);
    assert!(live.verify(&body).ok(), "{:?}", live.verify(&body).findings);
    // Following up to `to`: the stream ends once checkpoints pass it.
    let mut bounded = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={size}&to={}&follow=true", size + 5),
        AUDITOR,
    );
    live.append(5);
    let body = bounded.read_to_end("a follow up to `to`");
    assert_eq!(indexes(&body), (size..size + 5).collect::<Vec<_>>());
    assert!(live.verify(&body).ok(), "{:?}", live.verify(&body).findings);
}

/// The longest line of a stream.
fn longest_line(body: &str) -> usize {
    body.lines().map(str::len).max().unwrap_or(0) + 1
}

/// The most a stream can hold for its client: its queue's budget (and one chunk past it), and
/// a round of lines no longer than `line` being queued.
fn held_bound(line: usize) -> u64 {
    (STREAM_BUFFER_BYTES + 64 * 1024 + line + (ROUND_ENTRIES as usize + 1) * line) as u64
}

#[test]
fn a_follower_that_reads_nothing_for_a_while_costs_a_bounded_amount_and_loses_nothing() {
    let mut live = Live::start(1, 10, Limits::default());
    let tip = live.size();
    let mut idle = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={tip}&follow=true"),
        AUDITOR,
    );
    idle.read_until("the answer's head", None);
    let state = Arc::clone(&live.server.state);
    let mut most_held = 0u64;
    for _ in 0..60 {
        live.append(1000);
        std::thread::sleep(Duration::from_millis(20));
        most_held = most_held.max(state.streams.held().max_bytes);
    }
    let size = live.size();
    // It reads at last: everything, in order, verifiable.
    let body = idle.read_until("everything", Some(&checkpoint_of(size)));
    assert_eq!(indexes(&body), (tip..size).collect::<Vec<_>>());
    let verified = live.verify(&body);
    assert!(verified.ok(), "{:?}", verified.findings);
    // Meanwhile the server held its queue and a round, not the lag.
    let bound = held_bound(longest_line(&body));
    assert!(
        most_held > 0,
        "nothing was ever held: the client was not behind"
    );
    assert!(
        most_held <= bound,
        "held {most_held} bytes, more than {bound}"
    );
    assert!(
        body.len() as u64 > 8 * bound,
        "too little was appended for the bound to mean anything: {} bytes",
        body.len()
    );
}

#[test]
fn a_follower_too_far_behind_is_cut_off_with_where_to_resume() {
    // The stall timeout is long: it is the lag (entries signed since it connected and not
    // taken) that cuts this client off.
    let limits = Limits {
        follow_max_lag: 100,
        follow_stall_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let mut live = Live::start(1, 10, limits);
    let tip = live.size();
    let mut idle = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={tip}&follow=true"),
        AUDITOR,
    );
    // A follower that keeps up, on its own thread: the server looks for new checkpoints while
    // a follower waits for them, and judges the idle one's lag against what it saw.
    let mut keeping_up = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={tip}&follow=true"),
        AUDITOR,
    );
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while keeping_up.socket.read(&mut buf).is_ok_and(|n| n > 0) {}
    });
    let state = Arc::clone(&live.server.state);
    let mut batches = 0;
    while state.streams.cut_lagging.load(Ordering::Relaxed) == 0 {
        assert!(
            batches < 200,
            "never cut off after {} entries",
            live.size() - tip
        );
        live.append(1000);
        batches += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(state.streams.cut_stalled.load(Ordering::Relaxed), 0);
    // When it does read: everything it was sent, then where to resume.
    let body = idle.read_until("the resume record", Some(&is_resume));
    let (sent, last) = body.trim_end().rsplit_once('\n').expect("lines");
    let resume: serde_json::Value = serde_json::from_str(last).expect("JSON");
    let last_sent: serde_json::Value =
        serde_json::from_str(sent.lines().last().expect("a line")).expect("JSON");
    let sent_end = match last_sent["kind"].as_str() {
        Some("checkpoint") => last_sent["size"].as_u64(),
        Some("entry") => last_sent["index"].as_u64().map(|i| i + 1),
        other => panic!("the last record sent is {other:?}"),
    };
    assert_eq!(resume, json!({ "kind": "resume", "from": sent_end }));
    // What it was sent (less the resume record) is the verifiable stream: every entry checks,
    // and the cut (which may come between a round's entries and its checkpoint) leaves at most
    // the entries after its last checkpoint line unvouched for, said so.
    let verified = live.verify(sent);
    let after_last_checkpoint = format!("entry {}", resume_point_of_last_checkpoint(sent, tip));
    match verified.findings.as_slice() {
        [] => {}
        [only] => assert!(
            only.contains(&after_last_checkpoint)
                && only.contains("covered by no checkpoint in the stream"),
            "{only}"
        ),
        more => panic!("{more:?}"),
    }
    // The stream ended after the resume record.
    assert_eq!(
        state.streams.held().streams,
        0,
        "the producer still holds its slot"
    );
}

/// The index after a stream's last checkpoint line (its start, `from`, if it has none).
fn resume_point_of_last_checkpoint(body: &str, from: u64) -> u64 {
    body.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "checkpoint")
        .find_map(|v| v["size"].as_u64())
        .unwrap_or(from)
}

#[test]
fn streams_beyond_the_limit_are_refused_and_stopping_tells_followers_where_to_resume() {
    let limits = Limits {
        max_followers: 1,
        ..Limits::default()
    };
    let live = Live::start(1, 10, limits);
    let tip = live.size();
    let mut first = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={tip}&follow=true"),
        AUDITOR,
    );
    first.read_until("the answer's head", None);
    let refused = live.server.get("/v1/entries?from=0", Some(AUDITOR));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(
        refused.json()["error"],
        "1 entry streams are open, as many as the server allows (max_followers); try again later"
    );
    assert_eq!(live.server.state.streams.refused.load(Ordering::Relaxed), 1);
    live.server.state.stop_streams();
    let body = first.read_until("the resume record", Some(&is_resume));
    assert_eq!(
        body.lines().last(),
        Some(format!(r#"{{"kind":"resume","from":{tip}}}"#).as_str())
    );
}

#[test]
fn a_client_gone_frees_its_slot() {
    let limits = Limits {
        max_followers: 1,
        ..Limits::default()
    };
    let live = Live::start(1, 10, limits);
    let tip = live.size();
    let mut first = Follower::open(
        live.server.addr,
        &format!("/v1/entries?from={tip}&follow=true"),
        AUDITOR,
    );
    first.read_until("the answer's head", None);
    drop(first);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = live.server.get("/v1/entries?from=0", Some(AUDITOR));
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(Instant::now() < deadline, "the slot was never given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}
