//! The API served in-process on 127.0.0.1, with hooks that hold ledger work or a report where
//! a test wants it held, and a plain HTTP/1.1 client; the route list against the document.

mod bounds;
mod connections;
mod entries_stream;
mod following;
mod hostile;

use super::*;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::{Condvar, OnceLock};

/// Places a test can hold the server's work at.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    /// Every piece of blocking work passes here first.
    pub work: OnceLock<Arc<Gate>>,
    /// A report passes here holding the projections' read lock.
    pub report: OnceLock<Arc<Gate>>,
}

/// A gate that work passes only once a test opens it (or that panics, for a test of panics).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
    panics: bool,
}

/// The longest any test waits on a condition.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

impl Gate {
    pub(crate) fn panicking() -> Gate {
        Gate {
            panics: true,
            ..Gate::default()
        }
    }

    /// Counts the passer in and waits until the gate is open (for at most `PATIENCE`, so a
    /// failing test cannot hang the suite).
    pub(crate) fn pass(&self) {
        assert!(
            !self.panics,
            "a test hook panics with a secret-looking detail"
        );
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += 1;
        self.changed.notify_all();
        let deadline = Instant::now() + PATIENCE;
        while !s.1 && Instant::now() < deadline {
            s = self
                .changed
                .wait_timeout(s, deadline - Instant::now())
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until `n` have passed in; whether they did within `PATIENCE`.
    pub(crate) fn entered(&self, n: usize) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + PATIENCE;
        while s.0 < n && Instant::now() < deadline {
            s = self
                .changed
                .wait_timeout(s, deadline - Instant::now())
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        s.0 >= n
    }

    pub(crate) fn count(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    pub(crate) fn open(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.changed.notify_all();
    }
}

pub(crate) const AUDITOR: &str = "auditor-token-0123456789";
pub(crate) const RESPONDER: &str = "responder-token-0123456789";

/// The API served in-process until dropped.
pub(crate) struct TestServer {
    pub addr: std::net::SocketAddr,
    pub state: Arc<ServerState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Serves a ledger of `lines` (JSON events) with these limits.
    pub(crate) fn start(lines: &[String], limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = crate::reports::tests::ledger_of(dir.path(), lines);
        TestServer::over(dir, &path, limits)
    }

    /// Serves the ledger at `path` (inside `dir`, removed when the server is dropped).
    pub(crate) fn over(
        dir: tempfile::TempDir,
        path: &std::path::Path,
        limits: Limits,
    ) -> TestServer {
        let ledger = idledger_ledger::FollowedLedger::open(path).expect("open");
        let tokens = vec![
            Token {
                name: "ann".into(),
                secret: AUDITOR.into(),
                role: Role::Auditor,
            },
            Token {
                name: "rick".into(),
                secret: RESPONDER.into(),
                role: Role::Responder,
            },
        ];
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(limits.blocking_threads())
            .enable_all()
            .build()
            .expect("runtime");
        let state = ServerState::new(ledger, tokens, limits);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = Arc::clone(&state);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            server::serve(listener, serving, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        TestServer {
            addr,
            state,
            stop: Some(stop),
            runtime: Some(runtime),
            _dir: dir,
        }
    }

    pub(crate) fn get(&self, path: &str, token: Option<&str>) -> Reply {
        get(self.addr, path, token)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// An answer as the client read it.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// Sends raw request bytes on a new connection and reads the answer to its end.
pub(crate) fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    // A server may answer and close before reading all of a huge request.
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw)
}

pub(crate) fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.get(9..12))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// A GET on a new connection.
pub(crate) fn get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").as_bytes(),
    )
}

/// A path of `route` with a sample value for each path parameter.
fn instance(route: &str) -> String {
    route
        .replace("{index}", "1")
        .replace("{id}", "alice")
        .replace("{name}", "drift")
        .replace("{level}", "0")
        .replace("{tile}", "000.p/1")
}

#[test]
fn the_router_serves_exactly_the_routes_the_document_lists() {
    let doc = openapi_document();
    let documented: std::collections::BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let listed: std::collections::BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    assert_eq!(documented, listed);
    let server = TestServer::start(&crate::reports::tests::hostile_times(), Limits::default());
    for route in ROUTES {
        let reply = server.get(&instance(route.path), Some(AUDITOR));
        assert!(
            !reply.body.contains("no such route"),
            "{} is not served: {} {}",
            route.path,
            reply.status,
            reply.body
        );
        // Every status a route answers is one its operation lists.
        let op = &doc["paths"][route.path]["get"];
        assert!(
            op["responses"].get(reply.status.to_string()).is_some(),
            "{} answered {}, which its operation does not list",
            route.path,
            reply.status
        );
    }
    for unrouted in ["/", "/v1", "/v1/entry", "/v2/checkpoint", "/healthz/x"] {
        let reply = server.get(unrouted, Some(AUDITOR));
        assert_eq!(
            (reply.status, reply.json()["error"].as_str()),
            (404, Some("no such route; /openapi.json lists them")),
            "{unrouted}"
        );
    }
}

#[test]
fn the_document_states_each_parameters_kind_bounds_and_the_statuses() {
    let doc = openapi_document();
    let report = &doc["paths"]["/v1/reports/{name}"]["get"];
    let param = |name: &str| {
        report["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    assert_eq!(
        param("max_age_days")["schema"],
        json!({ "type": "integer", "minimum": 1, "maximum": 36500 })
    );
    assert_eq!(
        param("limit")["schema"],
        json!({ "type": "integer", "minimum": 1, "maximum": 10000 })
    );
    assert_eq!(
        param("name")["schema"]["enum"],
        json!([
            "lead-time",
            "approvals",
            "rotation",
            "drift",
            "exceptions",
            "used-after-end"
        ])
    );
    assert_eq!(param("name")["required"], true);
    assert_eq!(param("now")["schema"]["format"], "date-time");
    let statuses: Vec<&String> = report["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .collect();
    assert_eq!(
        statuses,
        ["200", "400", "401", "403", "404", "431", "500", "503"]
    );
    assert!(
        report["description"]
            .as_str()
            .is_some_and(|d| d.contains("no additional properties")),
        "{report}"
    );
    let health = &doc["paths"]["/healthz"]["get"]["responses"];
    assert!(health.get("401").is_none() && health.get("503").is_some());
    assert_eq!(
        doc["paths"]["/v1/checkpoint"]["get"]["responses"]["200"]["content"]
            .as_object()
            .expect("content")
            .keys()
            .collect::<Vec<_>>(),
        ["text/plain; charset=utf-8"]
    );
}
