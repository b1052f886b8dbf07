//! `idledger serve` over TLS, as a process and with certificates a test CA signed (the `openssl`
//! CLI), talked to by rustls' own client: it answers over TLS; with mutual TLS it refuses
//! clients without a certificate of its client CA and maps the subjects it is told of to roles
//! (access records name them), while other certificates still need a token; SIGHUP serves a new
//! certificate to new connections and keeps the old one when the new files are bad; plain HTTP
//! off loopback is refused; bad TLS settings are refused naming the file or flag; and SIGTERM
//! stops accepting, lets an answer in flight finish, and exits 0.

mod common;

use common::tls_kafka::{make_ca, make_cert};
use common::*;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AUDITOR: &str = "auditor-token-0123456789";
/// The longest a test waits for a condition.
const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `openssl` in `dir` with `args` (split at spaces).
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client certificate (`NAME.pem`, `NAME.key`) with this subject (no spaces), signed by `ca`.
fn make_client_cert(dir: &Path, ca: &str, name: &str, subject: &str) {
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    openssl(
        dir,
        &format!("req {ec} -keyout {name}.key -out {name}.csr -subj {subject}"),
    );
    std::fs::write(
        dir.join(format!("{name}.ext")),
        "extendedKeyUsage=clientAuth\n",
    )
    .expect("write ext");
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial \
             -out {name}.pem -days 2 -extfile {name}.ext"
        ),
    );
}

/// A server CA and two server certificates for 127.0.0.1; a client CA with client certificates
/// for `CN=siem-bot,O=Example`, `CN=pager` and `CN=stranger`; and another CA's certificate for
/// `CN=siem-bot,O=Example`.
struct Pki(tempfile::TempDir);

impl Pki {
    fn new() -> Pki {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        for ca in ["server-ca", "client-ca", "other-ca"] {
            make_ca(dir, ca);
        }
        for server in ["server", "server2"] {
            make_cert(dir, "server-ca", server, "IP:127.0.0.1", "serverAuth");
        }
        make_client_cert(dir, "client-ca", "siem-bot", "/CN=siem-bot/O=Example");
        make_client_cert(dir, "other-ca", "forged-siem-bot", "/CN=siem-bot/O=Example");
        for client in ["pager", "stranger"] {
            make_cert(
                dir,
                "client-ca",
                client,
                &format!("DNS:{client}"),
                "clientAuth",
            );
        }
        Pki(tmp)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.path().join(file)
    }

    /// `NAME.pem` and `NAME.key`.
    fn pair(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key")),
        )
    }

    /// The DER of the first certificate in `NAME.pem`.
    fn der(&self, name: &str) -> Vec<u8> {
        CertificateDer::from_pem_file(self.path(&format!("{name}.pem")))
            .expect("a certificate")
            .to_vec()
    }
}

#[expect(
    deprecated,
    reason = "the server's own provider (ring; see docs/DEPENDENCIES.md), for the client too"
)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A rustls client trusting `ca`, presenting `identity` (`NAME.pem`, `NAME.key`) if given.
fn client(pki: &Pki, ca: &str, identity: Option<&str>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(pki.der(ca))).expect("a CA");
    let builder = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    let config = match identity {
        Some(name) => {
            let (cert, key) = pki.pair(name);
            let chain = vec![CertificateDer::from_pem_file(cert).expect("a certificate")];
            let key = PrivateKeyDer::from_pem_file(key).expect("a key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("a client identity")
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> Tls {
    let conn = ClientConnection::new(Arc::clone(config), ServerName::from(addr.ip()))
        .expect("a client connection");
    let sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(PATIENCE)).expect("timeout");
    StreamOwned::new(conn, sock)
}

fn send(s: &mut Tls, path: &str, token: Option<&str>) -> std::io::Result<()> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )?;
    s.flush()
}

/// An answer over TLS: status, head, body, and the certificate the server presented.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
    server_cert: Vec<u8>,
}

/// A GET over TLS on a new connection, or the error that ended it.
fn get(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<Answer> {
    let mut s = connect(addr, config);
    send(&mut s, path, token)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok(Answer {
        status: head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
        server_cert: s
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .unwrap_or_default(),
    })
}

/// The error a handshake the server (or this client) refuses ends with, sending no request:
/// with TLS 1.3 a client finishes its side before the server judges its certificate, so the
/// server's refusal is what the first read meets.
fn refusal(addr: SocketAddr, config: &Arc<ClientConfig>) -> std::io::Error {
    let mut s = connect(addr, config);
    let mut byte = [0_u8; 1];
    match s
        .conn
        .complete_io(&mut s.sock)
        .and_then(|_| s.read(&mut byte))
    {
        Ok(n) => panic!("the handshake was accepted ({n} bytes read)"),
        Err(e) => e,
    }
}

/// A ledger's events: `alice@example.com` created, then `updates` updates of her.
fn events(updates: usize) -> String {
    let mut out = String::new();
    for i in 0..=updates {
        let kind = if i == 0 {
            "identity.created"
        } else {
            "identity.updated"
        };
        out.push_str(&format!(
            r#"{{"id":"e{i}","source":"test","type":"{kind}","time":"2026-01-01T00:00:00Z","actor":{{"id":"boss@example.com","kind":"human"}},"subject":{{"id":"alice@example.com","kind":"human"}},"attributes":{{"application":"payments"}}}}"#
        ));
        out.push('\n');
    }
    out
}

/// A configuration: `serve_keys` in `[serve]` (after `addr`), one auditor token, then `tables`.
fn config(addr: &str, serve_keys: &str, tables: &str) -> String {
    format!(
        "[serve]\naddr = \"{addr}\"\n{serve_keys}\n[[serve.tokens]]\nname = \"ann\"\n\
         token = \"{AUDITOR}\"\nrole = \"auditor\"\n{tables}\n"
    )
}

/// `[serve]` keys for TLS with these files.
fn tls_keys(cert: &Path, key: &Path, client_ca: Option<&Path>) -> String {
    let ca = client_ca
        .map(|c| format!("tls_client_ca = \"{}\"\n", path(c)))
        .unwrap_or_default();
    format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"\n{ca}",
        path(cert),
        path(key)
    )
}

/// A running `idledger serve` (JSON logs, read as they come into `log`).
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _tmp: tempfile::TempDir,
}

impl Server {
    /// Serves a ledger of `events` with configuration `body` and extra `args`; `scheme` is what
    /// the listening line must say.
    fn start(body: &str, args: &[&str], events: &str, scheme: &str) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ledger");
        init(&dir);
        ok(&["append", "--data", path(&dir), "-"], Some(events));
        let file = tmp.path().join("idledger.toml");
        std::fs::write(&file, format!("data = \"{}\"\n{body}", path(&dir))).expect("config");
        let mut child = idledger(&["--log-format", "json", "--config", path(&file), "serve"])
            .args(args)
            .env("IDLEDGER_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (err, lines) = (child.stderr.take().expect("stderr"), Arc::clone(&log));
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().expect("log").push(line);
            }
        });
        let addr = first_line_after(&mut child, &format!("listening on {scheme}://"))
            .parse()
            .expect("an address");
        Server {
            child,
            addr,
            log,
            _tmp: tmp,
        }
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill -s {name}");
    }

    /// The JSON log records so far.
    fn records(&self) -> Vec<Value> {
        let lines = self.log.lock().expect("log");
        lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for a log record whose message is `message` and whose fields hold `has` (each
    /// value a part of the field's).
    fn wait_for(&self, message: &str, has: &[(&str, &str)]) -> Value {
        eventually(&format!("a record {message:?} with {has:?}"), || {
            self.records().into_iter().find_map(|r| {
                let fields = &r["fields"];
                let holds = |(k, v): &(&str, &str)| {
                    fields[*k].as_str().is_some_and(|text| text.contains(v))
                };
                (fields["message"] == message && has.iter().all(holds)).then(|| r.clone())
            })
        })
    }

    /// Waits for the process to end on its own.
    fn wait(&mut self) -> ExitStatus {
        eventually("serve to stop", || self.child.try_wait().expect("try_wait"))
    }
}

/// What `probe` finds, once it finds something; polled for at most `PATIENCE`.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_answers_over_tls_with_the_certificate_its_files_hold() {
    let pki = Pki::new();
    let (cert, key) = pki.pair("server");
    let server = Server::start(
        &config("127.0.0.1:0", "", ""),
        &["--tls-cert", path(&cert), "--tls-key", path(&key)],
        &events(1),
        "https",
    );
    let trusting = client(&pki, "server-ca", None);
    let a = get(server.addr, &trusting, "/v1/checkpoint", Some(AUDITOR)).expect("an answer");
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.starts_with("test.example/ledger\n"), "{a:?}");
    assert_eq!(a.server_cert, pki.der("server"));
    let loaded = server.wait_for("tls certificate loaded", &[("subject", "CN=server")]);
    assert_eq!(loaded["fields"]["mutual_tls"], json!(false));
    // A client that trusts another CA refuses the server; plain HTTP gets no HTTP answer.
    let e = refusal(server.addr, &client(&pki, "client-ca", None));
    assert!(format!("{e:?}").contains("UnknownIssuer"), "{e:?}");
    let mut plain = TcpStream::connect(server.addr).expect("connect");
    plain.set_read_timeout(Some(PATIENCE)).expect("timeout");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(
        !raw.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn client_certificates_map_to_roles_and_unmapped_ones_still_need_a_token() {
    let pki = Pki::new();
    let (cert, key) = pki.pair("server");
    let keys = tls_keys(&cert, &key, Some(&pki.path("client-ca.pem")));
    let tables = "[[serve.clients]]\nname = \"siem\"\nsubject = \"CN=siem-bot,O=Example\"\n\
                  role = \"auditor\"\n[[serve.clients]]\nname = \"pager\"\n\
                  common_name = \"pager\"\nrole = \"responder\"\n";
    let server = Server::start(
        &config("127.0.0.1:0", &keys, tables),
        &[],
        &events(1),
        "https",
    );
    let (ck, h) = ("/v1/checkpoint", "/v1/identities/alice@example.com/history");
    let nobody = "nobody-holds-this-token-1234";
    // (client certificate, token, path, status, who, by); "" for no token and no `by`.
    let cases: &[(&str, &str, &str, u16, &str, &str)] = &[
        ("siem-bot", "", ck, 200, "siem", "certificate"),
        ("pager", "", h, 200, "pager", "certificate"),
        ("pager", "", ck, 403, "pager", "certificate"),
        ("stranger", "", h, 401, "unmapped certificate", ""),
        ("stranger", AUDITOR, ck, 200, "ann", "token"),
        // A token, when given, decides, even beside a mapped certificate.
        ("pager", AUDITOR, ck, 200, "ann", "token"),
        ("siem-bot", nobody, h, 401, "unknown token", ""),
    ];
    for (identity, token, p, status, who, by) in cases {
        let config = client(&pki, "server-ca", Some(identity));
        let token = Some(*token).filter(|t| !t.is_empty());
        let a = get(server.addr, &config, p, token).expect("an answer");
        assert_eq!(a.status, *status, "{identity} {token:?} {p}: {a:?}");
        if token.is_none() && *status == 401 {
            let says = "the client certificate is not mapped to a role";
            assert!(a.body.contains(says), "{a:?}");
        }
        let id = a
            .head
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "));
        let message = if *status == 200 {
            "read"
        } else {
            "read refused"
        };
        let r = &server.wait_for(message, &[("request_id", id.expect("an id").trim())])["fields"];
        assert_eq!(r["who"], json!(who), "{r}");
        let by = Some(*by).filter(|b| !b.is_empty());
        assert_eq!(r["by"], by.map_or(Value::Null, |b| json!(b)), "{r}");
        let subject = match *identity {
            "siem-bot" => "CN=siem-bot,O=Example",
            other => &format!("CN={other}"),
        };
        assert_eq!(r["certificate"], json!(subject), "{r}");
    }
    // Without a client certificate, or with one another CA signed for the same subject, the
    // handshake is refused and nothing is answered.
    for (identity, alert) in [
        (None, "CertificateRequired"),
        (Some("forged-siem-bot"), "UnknownCA"),
    ] {
        let e = refusal(server.addr, &client(&pki, "server-ca", identity));
        assert!(format!("{e:?}").contains(alert), "{identity:?}: {e:?}");
    }
    server.wait_for("tls handshake refused", &[]);
}

#[test]
fn sighup_serves_a_new_certificate_to_new_connections_and_keeps_it_when_the_files_are_bad() {
    let pki = Pki::new();
    let (live_cert, live_key) = (pki.path("live.pem"), pki.path("live.key"));
    let install = |name: &str| {
        let (cert, key) = pki.pair(name);
        std::fs::copy(key, &live_key).expect("copy the key");
        std::fs::copy(cert, &live_cert).expect("copy the certificate");
    };
    install("server");
    let keys = tls_keys(&live_cert, &live_key, None);
    let server = Server::start(&config("127.0.0.1:0", &keys, ""), &[], &events(1), "https");
    let trusting = client(&pki, "server-ca", None);
    let served = || {
        get(server.addr, &trusting, "/healthz", None)
            .expect("an answer")
            .server_cert
    };
    assert_eq!(served(), pki.der("server"));
    // A connection opened before the reload keeps its certificate.
    let mut before = connect(server.addr, &trusting);
    send(&mut before, "/healthz", None).expect("send");

    install("server2");
    server.signal("HUP");
    server.wait_for("reloaded the tls certificate", &[("subject", "CN=server2")]);
    assert_eq!(served(), pki.der("server2"));
    let mut answer = Vec::new();
    before
        .read_to_end(&mut answer)
        .expect("the earlier connection's answer");
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let first = before.conn.peer_certificates().and_then(|c| c.first());
    assert_eq!(first.map(|c| c.to_vec()), Some(pki.der("server")));

    // A key file that holds no key: the reload is refused, said, and the last good certificate
    // stays.
    std::fs::write(&live_key, "not a key\n").expect("write");
    server.signal("HUP");
    let refused = server.wait_for(
        "cannot reload the tls certificate; still serving the previous one",
        &[
            ("error", path(&live_key)),
            ("error", "holds no private key"),
        ],
    );
    assert_eq!(refused["level"], json!("ERROR"), "{refused}");
    assert_eq!(served(), pki.der("server2"));
}

/// Runs `serve` with `args` and this configuration, expecting exit code 2; returns stderr.
fn refused(body: &str, args: &[&str]) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("idledger.toml");
    std::fs::write(&file, body).expect("config");
    let missing = tmp.path().join("no-ledger");
    let mut all = vec!["--config", path(&file), "serve", "--data", path(&missing)];
    all.extend_from_slice(args);
    let out = run(&all, None);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    stderr(&out)
}

#[test]
fn plain_http_off_loopback_is_refused_unless_allowed() {
    let text = refused(&config("0.0.0.0:0", "", ""), &[]);
    assert!(
        text.contains(
            "error: refusing to serve plain HTTP on 0.0.0.0, which is not a loopback address: bearer tokens would cross the network in clear text"
        ),
        "{text}"
    );
    // Allowed, by flag or by the file; and TLS needs no allowance. Each then stops on SIGTERM.
    let pki = Pki::new();
    let (cert, key) = pki.pair("server");
    let starts: [(String, &[&str], &str); 3] = [
        (config("0.0.0.0:0", "", ""), &["--allow-plaintext"], "http"),
        (
            config("0.0.0.0:0", "allow_plaintext = true", ""),
            &[],
            "http",
        ),
        (
            config("0.0.0.0:0", &tls_keys(&cert, &key, None), ""),
            &[],
            "https",
        ),
    ];
    for (body, args, scheme) in starts {
        let mut server = Server::start(&body, args, &events(1), scheme);
        assert!(server.addr.ip().is_unspecified(), "{}", server.addr);
        server.signal("TERM");
        assert_eq!(server.wait().code(), Some(0));
    }
}

#[test]
fn bad_tls_settings_are_refused_naming_the_file_or_flag() {
    let pki = Pki::new();
    std::fs::write(pki.path("garbage.txt"), "no PEM here\n").expect("write");
    let good = "--tls-cert D/server.pem --tls-key D/server.key";
    let clients = "[[serve.clients]]\nname = \"p\"\ncommon_name = \"p\"\nrole = \"auditor\"";
    // (flags, [[serve.clients]] tables, what the error says); `D/` is the certificates' directory.
    let cases: &[(&str, &str, &str)] = &[
        (
            "--tls-cert D/server.pem",
            "",
            "--tls-cert (tls_cert) D/server.pem is given without --tls-key (tls_key)",
        ),
        (
            "--tls-key D/server.key",
            "",
            "--tls-key (tls_key) D/server.key is given without --tls-cert (tls_cert)",
        ),
        (
            "--tls-client-ca D/client-ca.pem",
            "",
            "--tls-client-ca (tls_client_ca) D/client-ca.pem asks for client certificates, which need TLS",
        ),
        (
            "--tls-cert D/missing.pem --tls-key D/server.key",
            "",
            "cannot read the TLS certificate file (tls_cert, --tls-cert) D/missing.pem: No such file",
        ),
        // A directory cannot be read as a file (the tests run as root, which reads any file).
        (
            "--tls-cert D/server.pem --tls-key D/",
            "",
            "cannot read the TLS private key file (tls_key, --tls-key) D/:",
        ),
        (
            "--tls-cert D/server.pem --tls-key D/pager.key",
            "",
            "the private key in D/pager.key does not match the certificate in D/server.pem",
        ),
        (
            "--tls-cert D/server.key --tls-key D/server.key",
            "",
            "the TLS certificate file (tls_cert, --tls-cert) D/server.key holds no certificate",
        ),
        (
            "--tls-cert D/server.pem --tls-key D/server.pem",
            "",
            "the TLS private key file (tls_key, --tls-key) D/server.pem holds no private key",
        ),
        (
            &format!("{good} --tls-client-ca D/garbage.txt"),
            "",
            "the TLS client CA file (tls_client_ca, --tls-client-ca) D/garbage.txt holds no certificate",
        ),
        (
            good,
            clients,
            "[[serve.clients]] maps client certificates to roles, but no client certificates are asked for",
        ),
    ];
    let dir = format!("{}/", path(pki.0.path()));
    for (flags, tables, says) in cases {
        let flags = flags.replace("D/", &dir);
        let args: Vec<&str> = flags.split_whitespace().collect();
        let text = refused(&config("127.0.0.1:0", "", tables), &args);
        let says = says.replace("D/", &dir);
        assert!(text.contains(&says), "{args:?}: want {says:?} in {text}");
    }
}

#[test]
fn sigterm_stops_accepting_lets_an_answer_in_flight_finish_and_exits_0() {
    let pki = Pki::new();
    let (cert, key) = pki.pair("server");
    let keys = tls_keys(&cert, &key, None);
    let updates = 20_000;
    let mut server = Server::start(
        &config("127.0.0.1:0", &keys, ""),
        &[],
        &events(updates),
        "https",
    );
    let mut s = connect(server.addr, &client(&pki, "server-ca", None));
    send(
        &mut s,
        "/v1/identities/alice@example.com/history",
        Some(AUDITOR),
    )
    .expect("send");
    // Only the head is read before the stop: the answer (about 11 MB) is larger than all the
    // buffers between the server and this client (4 MiB of socket send buffer at most here, and
    // a receive window that does not grow while nothing is read), so it is still being sent.
    let mut reader = BufReader::new(s);
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a head line");
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
            length = v.trim().parse::<usize>().ok();
        }
        assert!(!line.is_empty(), "the head ended early");
    }
    let length = length.expect("a content length");
    assert!(
        length > 8 << 20,
        "the answer is {length} bytes, too small to be in flight"
    );
    server.signal("TERM");
    // New connections are refused at once.
    eventually("connections refused", || {
        TcpStream::connect(server.addr).err()
    });
    server.wait_for(
        "stopping: refusing new connections, answering requests in flight",
        &[],
    );
    let mut body = Vec::new();
    reader
        .read_to_end(&mut body)
        .expect("the rest of the answer");
    assert_eq!(body.len(), length, "the answer was cut short");
    let history: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        history["entries"].as_array().map(Vec::len),
        Some(updates + 1)
    );
    assert_eq!(server.wait().code(), Some(0), "{:#?}", server.records());
    server.wait_for("stopped: every connection closed", &[]);
}
