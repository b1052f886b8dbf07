//! `idledger serve` as a process: it refuses weak or ambiguous tokens at start-up; its access
//! records say who asked what, from where, and with what answer; idle sockets beyond its file
//! descriptors cannot keep a health check out; and schemathesis, run over every operation of
//! its OpenAPI document, finds nothing the document allows that the server refuses or the
//! reverse.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const AUDITOR: &str = "auditor-token-0123456789";
const RESPONDER: &str = "responder-token-0123456789";
const ADMIN: &str = "admin-token-0123456789-admin";

/// A ledger with grants, identities and credentials, for answers other than 404: among them
/// the identity, grant and resource the document's examples name.
fn events() -> String {
    let mut lines = Vec::new();
    for i in 0..6 {
        let (user, grant, resource) = if i == 0 {
            (
                "alice@example.com".to_owned(),
                "g-alice-prod-db".to_owned(),
                "prod-db:read",
            )
        } else {
            (
                format!("user{i}@example.com"),
                format!("g-{i}"),
                "db-1:read",
            )
        };
        let subject = format!(r#"{{"id":"{user}","kind":"human"}}"#);
        for (n, kind, time) in [
            (0, "identity.created", "2026-01-01T00:00:00Z"),
            (1, "access.requested", "2026-01-08T09:00:00Z"),
            (2, "access.approved", "2026-01-08T09:10:00Z"),
            (3, "access.granted", "2026-01-08T09:15:00Z"),
        ] {
            let extra = if kind.starts_with("access.") {
                format!(r#","grant_id":"{grant}","resource":"{resource}""#)
            } else {
                r#","attributes":{"application":"payments"}"#.to_owned()
            };
            lines.push(format!(
                r#"{{"id":"e{i}-{n}","source":"test","type":"{kind}","time":"{time}","actor":{{"id":"boss@example.com","kind":"human"}},"subject":{subject}{extra}}}"#
            ));
        }
    }
    lines.push(format!(
        r#"{{"id":"k1","source":"vault","type":"credential.issued","time":"1700-01-01T00:00:00Z","actor":{{"id":"ops","kind":"human"}},"subject":{{"id":"svc","kind":"api_key"}},"credential":{{"id":"key-1","kind":"api_key","fingerprint":"sha256:{}"}}}}"#,
        "ab".repeat(32)
    ));
    lines.join("\n") + "\n"
}

/// A running `idledger serve` and what it needs. Its log is read as it comes: a server whose
/// stderr pipe filled up would stop answering.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: std::thread::JoinHandle<String>,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// Initializes a ledger of `events()` and serves it with `serve_extra` added to the
    /// `[serve]` section; `shell` wraps the command (e.g. to lower its file limit).
    fn start(serve_extra: &str, shell: Option<&str>) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ledger");
        let d = path(&dir);
        init(&dir);
        ok(&["append", "--data", d, "-"], Some(&events()));
        let config = tmp.path().join("idledger.toml");
        std::fs::write(
            &config,
            format!(
                "data = \"{d}\"\n[serve]\naddr = \"127.0.0.1:0\"\n{serve_extra}\n\
                 [[serve.tokens]]\nname = \"ann\"\ntoken = \"{AUDITOR}\"\nrole = \"auditor\"\n\
                 [[serve.tokens]]\nname = \"rick\"\ntoken = \"{RESPONDER}\"\nrole = \"responder\"\n\
                 [[serve.tokens]]\nname = \"ada\"\ntoken = \"{ADMIN}\"\nrole = \"admin\"\n"
            ),
        )
        .expect("config");
        let bin = bin();
        let args = ["--log-format", "json", "--config", path(&config), "serve"];
        let mut cmd = match shell {
            Some(prefix) => {
                let mut c = Command::new("bash");
                c.arg("-c").arg(format!("{prefix} && exec \"$0\" \"$@\""));
                c.arg(&bin).args(args);
                c
            }
            None => {
                let mut c = Command::new(&bin);
                c.args(args);
                c
            }
        };
        let mut child = cmd
            .env_remove("IDLEDGER_CONFIG")
            .env_remove("IDLEDGER_DATA")
            .env("IDLEDGER_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve");
        let mut err = child.stderr.take().expect("piped stderr");
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = err.read_to_string(&mut log);
            log
        });
        let addr = first_line_after(&mut child, "listening on http://")
            .parse()
            .expect("an address");
        Server {
            child,
            addr,
            log,
            _tmp: tmp,
        }
    }

    /// Stops the server and returns its log.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.join().expect("the log reader")
    }
}

/// A GET on a new connection: status, headers, body, and the client's own address.
fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String, String, SocketAddr) {
    let (raw, local) = common::http_get::http_get(addr, path, token).expect("GET");
    let resp = String::from_utf8(raw).expect("a UTF-8 answer");
    let status = resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (status, head.to_owned(), body.to_owned(), local)
}

fn request_id(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("an x-request-id header")
        .trim()
        .to_owned()
}

#[test]
fn access_records_say_who_asked_what_from_where_and_the_answer() {
    let server = Server::start("", None);
    let asked = [
        (
            "/v1/grants/g-1?now=2026-06-01T00:00:00Z&proofs=false",
            Some(RESPONDER),
            200,
        ),
        ("/v1/grants/g-1", None, 401),
        ("/v1/grants/g-1", Some("nobody-holds-this-token-1234"), 401),
        ("/v1/reports/rotation?max_age_days=30", Some(RESPONDER), 403),
        // A token put in the query by mistake is refused and never logged.
        (
            &format!("/v1/access?resource=db-0:read&at=2026-02-02T00:00:00Z&token={AUDITOR}"),
            Some(RESPONDER),
            400,
        ),
    ];
    let mut seen = Vec::new();
    for (p, token, want) in &asked {
        let (status, head, body, client) = get(server.addr, p, *token);
        assert_eq!(status, *want, "GET {p}: {body}");
        seen.push((request_id(&head), client));
    }
    let log = server.stop();
    let records: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let record = |id: &str| -> Value {
        records
            .iter()
            .find(|r| r["fields"]["request_id"] == id)
            .map(|r| r["fields"].clone())
            .unwrap_or_else(|| panic!("no access record for request {id} in:\n{log}"))
    };
    let field = |r: &Value, k: &str| r[k].clone();
    let parse = |r: &Value, k: &str| -> Value {
        serde_json::from_str(r[k].as_str().expect("a JSON string")).expect("JSON")
    };
    // (who, route, path parameters, query parameters, message) for each request above.
    let want = [
        (
            "rick",
            "/v1/grants/{id}",
            json!({"id": "g-1"}),
            json!({"now": "2026-06-01T00:00:00Z", "proofs": "false"}),
            "read",
        ),
        (
            "anonymous",
            "/v1/grants/{id}",
            json!({"id": "g-1"}),
            json!({}),
            "read refused",
        ),
        (
            "unknown token",
            "/v1/grants/{id}",
            json!({"id": "g-1"}),
            json!({}),
            "read refused",
        ),
        (
            "rick",
            "/v1/reports/{name}",
            json!({"name": "rotation"}),
            json!({"max_age_days": "30"}),
            "read refused",
        ),
        (
            "rick",
            "/v1/access",
            json!({}),
            json!({"resource": "db-0:read", "at": "2026-02-02T00:00:00Z", "token": "(a bearer token, not logged)"}),
            "read",
        ),
    ];
    for (((id, client), (_, _, status)), (who, route, path_params, query, message)) in
        seen.iter().zip(&asked).zip(want)
    {
        let r = record(id);
        assert_eq!(field(&r, "who"), json!(who), "{r}");
        assert_eq!(field(&r, "client"), json!(client.to_string()), "{r}");
        assert_eq!(field(&r, "route"), json!(route), "{r}");
        assert_eq!(parse(&r, "path_params"), path_params, "{r}");
        assert_eq!(parse(&r, "query"), query, "{r}");
        assert_eq!(field(&r, "status"), json!(status), "{r}");
        assert_eq!(field(&r, "message"), json!(message), "{r}");
    }
    for secret in [AUDITOR, RESPONDER, ADMIN, "nobody-holds-this-token-1234"] {
        assert!(!log.contains(secret), "a token was logged");
    }
}

#[test]
fn serve_refuses_weak_repeated_or_shared_tokens_at_start_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);
    let config = tmp.path().join("idledger.toml");
    std::fs::write(
        &config,
        format!(
            "[[serve.tokens]]\nname = \"ann\"\ntoken = \"{}\"\nrole = \"auditor\"\n\
             [[serve.tokens]]\nname = \"ann\"\ntoken = \"{AUDITOR}\"\nrole = \"responder\"\n\
             [[serve.tokens]]\nname = \"bob\"\ntoken = \"{AUDITOR}\"\nrole = \"admin\"\n",
            " ".repeat(20)
        ),
    )
    .expect("config");
    let o = run(
        &[
            "--config",
            path(&config),
            "serve",
            "--data",
            path(&dir),
            "--addr",
            "127.0.0.1:0",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for says in [
        "token `ann` is too weak: it holds whitespace",
        "token entries 1 and 2 are both named `ann`",
        "tokens `ann` and `bob` are the same token",
    ] {
        assert!(stderr(&o).contains(says), "{says}: {}", stderr(&o));
    }
    assert!(!stderr(&o).contains(AUDITOR), "a token was printed");
    std::fs::write(
        &config,
        format!(
            "[serve]\nmax_connections = 0\n[[serve.tokens]]\nname = \"ann\"\ntoken = \"{AUDITOR}\"\nrole = \"auditor\"\n"
        ),
    )
    .expect("config");
    let o = run(
        &[
            "--config",
            path(&config),
            "serve",
            "--data",
            path(&dir),
            "--addr",
            "127.0.0.1:0",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`max_connections` must be between 1 and 65536, found 0"),
        "{}",
        stderr(&o)
    );
}

/// Found by hand: 300 idle unauthenticated sockets made `/healthz` time out on a server with
/// 256 file descriptors. With the default limits it answers at once.
#[test]
fn idle_sockets_beyond_the_file_limit_cannot_keep_a_health_check_out() {
    let server = Server::start("", Some("ulimit -n 256"));
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr).expect("connect"))
        .collect();
    let asked = Instant::now();
    let (status, _, body, _) = get(server.addr, "/healthz", None);
    assert_eq!(status, 200, "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let (status, _, body, _) = get(server.addr, "/v1/checkpoint", Some(AUDITOR));
    assert_eq!(status, 200, "{body}");
    drop(idle);
    let log = server.stop();
    assert!(!log.contains("Too many open files"), "{log}");
}

/// schemathesis (PyPI, installed by scripts/setup.sh) over every operation: server errors,
/// statuses, content types, headers and bodies as documented; data the document forbids must be
/// refused and data it allows accepted. (It leaves out `/openapi.json`, the document itself.)
#[test]
fn schemathesis_finds_no_disagreement_between_the_document_and_the_server() {
    let server = Server::start("", None);
    let report = tempfile::tempdir().expect("tempdir");
    let junit = report.path().join("junit.xml");
    // schemathesis reads its settings from its working directory. A follow never ends by
    // itself: `/v1/entries` is checked as a range.
    std::fs::write(
        report.path().join("schemathesis.toml"),
        "[[operations]]\ninclude-path = \"/v1/entries\"\nparameters = { follow = \"false\" }\n",
    )
    .expect("schemathesis settings");
    let started = Instant::now();
    let out = Command::new("python3")
        .args([
            "-m",
            "schemathesis.cli",
            "run",
            &format!("http://{}/openapi.json", server.addr),
            "--header",
            &format!("Authorization: Bearer {ADMIN}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,\
             negative_data_rejection,positive_data_acceptance",
            "--mode",
            "all",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "60",
            "--seed",
            "20261201",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--report",
            "junit",
            "--report-junit-path",
            path(&junit),
        ])
        .env("NO_COLOR", "1")
        // schemathesis keeps a cache in its working directory: not in the source tree.
        .current_dir(report.path())
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs; scripts/setup.sh installs schemathesis");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = server.stop();
    assert!(
        !text.contains("No module named"),
        "schemathesis is not installed: run scripts/setup.sh\n{text}"
    );
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .take(20)
        .collect();
    assert!(
        out.status.success(),
        "schemathesis found problems (exit {:?}, after {:?}):\n{text}\n--- server errors ---\n{}",
        out.status.code(),
        started.elapsed(),
        errors.join("\n")
    );
    // It tested every operation but the document's own, and saw no error.
    let report = std::fs::read_to_string(&junit).expect("the junit report");
    for op in [
        "GET /v1/checkpoint",
        "GET /v1/entries",
        "GET /v1/entries/{index}",
        "GET /v1/proof/consistency",
        "GET /v1/identities/{id}/history",
        "GET /v1/grants/{id}",
        "GET /v1/access",
        "GET /v1/reports/{name}",
        "GET /metrics",
        "GET /healthz",
        "GET /checkpoint",
        "GET /tile/{level}/{tile}",
        "GET /tile/entries/{tile}",
    ] {
        assert!(
            report.contains(&format!("<testcase name=\"{op}\"")),
            "{op} was not tested:\n{report}"
        );
    }
    assert!(report.contains("errors=\"0\" failures=\"0\""), "{report}");
    assert!(
        errors.is_empty(),
        "the server logged errors:\n{}",
        errors.join("\n")
    );
}
