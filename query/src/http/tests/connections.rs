//! Connections: a client that sends no request, or half a head, is closed after the header-read
//! timeout; a kept-alive one after the idle timeout; held idle sockets cannot keep a new client
//! out; requests with a body, or a head too large, are refused.

use super::*;
use crate::reports::tests::hostile_times;
use std::io::{ErrorKind, Read as _, Write as _};

fn limits(max_connections: usize, header_read_ms: u64, idle_ms: u64) -> Limits {
    Limits {
        max_connections,
        header_read_timeout: Duration::from_millis(header_read_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        ..Limits::default()
    }
}

/// Reads until the server closes the connection (within `PATIENCE`); what it sent, and how
/// long after `since` it closed.
fn until_closed(s: &mut TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, since.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, since.elapsed()),
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

#[test]
fn a_silent_or_slow_client_is_closed_after_the_header_read_timeout() {
    let server = TestServer::start(&hostile_times(), limits(8, 300, 60_000));
    for sent in [&b""[..], b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] {
        let opened = Instant::now();
        let mut s = TcpStream::connect(server.addr).expect("connect");
        s.write_all(sent).expect("send");
        let (got, after) = until_closed(&mut s, opened);
        assert!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
            "{got:?}"
        );
        assert!(
            after >= Duration::from_millis(300) && after < Duration::from_secs(20),
            "closed after {after:?}, sent {sent:?}"
        );
    }
}

#[test]
fn a_kept_alive_connection_is_closed_after_the_idle_timeout_not_the_header_one() {
    // The idle timeout is four times the header-read one: a close at the header-read timeout
    // would come too early.
    let server = TestServer::start(&hostile_times(), limits(8, 250, 1000));
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    // Read the whole answer (its head, then as many bytes as its content-length says).
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = |got: &[u8]| {
        let text = String::from_utf8_lossy(got);
        text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
            head.lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|n| n.trim().parse::<usize>().ok())
                .is_some_and(|n| body.len() >= n)
        })
    };
    while !complete(&got) {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed before answering: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    let answered = Instant::now();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let (more, after) = until_closed(&mut s, answered);
    assert!(more.is_empty(), "{more:?}");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(20),
        "closed {after:?} after the answer"
    );
}

#[test]
fn held_idle_sockets_cannot_keep_a_new_client_out() {
    // Four connections at most, and a header-read timeout long past the test's deadline: only
    // closing waiting connections to make room lets the new client in.
    let server = TestServer::start(&hostile_times(), limits(4, 600_000, 600_000));
    let idle: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    let asked = Instant::now();
    let health = server.get("/healthz", None);
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(asked.elapsed() < PATIENCE);
    // Room was made one connection at a time: of the 61 let in, each beyond the four closed
    // the one that had waited longest, so the three idle sockets let in last are still open
    // and every other one was closed.
    let closed = |s: &TcpStream| {
        s.set_nonblocking(true).expect("nonblocking");
        let mut stream: &TcpStream = s;
        match stream.read(&mut [0u8; 1]) {
            Ok(0) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
            Ok(_) => false,
        }
    };
    let deadline = Instant::now() + PATIENCE;
    while !idle[..idle.len() - 3].iter().all(closed) {
        assert!(
            Instant::now() < deadline,
            "only {} of the first {} idle sockets were closed",
            idle.iter().filter(|s| closed(s)).count(),
            idle.len() - 3
        );
        std::thread::yield_now();
    }
    let open: Vec<bool> = idle[idle.len() - 3..].iter().map(|s| !closed(s)).collect();
    assert_eq!(
        open,
        [true, true, true],
        "a connection was closed for no new one"
    );
}

#[test]
fn a_body_or_a_huge_head_is_refused_with_a_4xx() {
    let server = TestServer::start(&hostile_times(), Limits::default());
    let with_body = exchange(
        server.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(with_body.status, 400, "{}", with_body.body);
    assert!(
        with_body.body.contains("take no body"),
        "{}",
        with_body.body
    );
    let chunked = exchange(
        server.addr,
        b"GET /v1/checkpoint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(chunked.status, 400, "{}", chunked.body);
    let long = "a".repeat(100_000);
    let huge_uri = exchange(
        server.addr,
        format!("GET /v1/grants/{long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(huge_uri.status, 431);
    let huge_header = exchange(
        server.addr,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: {long}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(huge_header.status, 431);
    let doc = openapi_document();
    for route in ROUTES {
        let documented = &doc["paths"][route.path]["get"]["responses"]["431"];
        assert!(documented.is_object(), "{} does not list 431", route.path);
    }
    // The longest parameters the document allows still fit in a head.
    // Four UTF-8 bytes per character, each percent-encoded: the longest a text parameter gets.
    let longest = "%F0%9F%98%80".repeat(limits::TEXT_MAX_CHARS);
    let fits = server.get(&format!("/v1/grants/{longest}"), Some(RESPONDER));
    assert_eq!(fits.status, 404, "{}", fits.body);
}
