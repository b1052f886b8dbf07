//! `idledger serve`: the read-only HTTP API over a ledger, working beside a running ingest.
//! Its tokens, client certificate rules, TLS files and limits come from the configuration
//! file's `[serve]` section and the flags, and are checked before anything is served
//! (docs/CONFIG.md). SIGHUP reads the TLS files again; SIGTERM and SIGINT stop it gracefully.

use crate::config::ServeSection;
use crate::settings::ServeSettings;
use anyhow::{Context as _, bail};
use idledger_ledger::FollowedLedger;
use idledger_query::http::clients::{SubjectMatch, SubjectPattern};
use idledger_query::http::limits::LimitSettings;
use idledger_query::http::tls::{Loaded, ServerTls, TlsFiles};
use idledger_query::http::{ClientRule, Limits, ServerState, Token, server};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The configured tokens, each read and checked: a known role, exactly one source, a strong
/// token; names unique; no token held under two entries. Every problem found is named in one
/// error.
pub fn tokens(section: &ServeSection) -> anyhow::Result<Vec<Token>> {
    let mut out: Vec<Token> = Vec::new();
    let mut problems = Vec::new();
    for (n, t) in section.tokens.iter().enumerate() {
        let name = &t.name;
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            problems.push(format!(
                "token entry {} has no usable name (give a non-empty name without control characters)",
                n + 1
            ));
            continue;
        }
        if let Some(first) = section.tokens[..n].iter().position(|o| &o.name == name) {
            problems.push(format!(
                "token entries {} and {} are both named `{name}`; names must be unique",
                first + 1,
                n + 1
            ));
        }
        let role = t.role;
        let secret = match (&t.token, &t.token_env) {
            (Some(s), None) => s.clone(),
            (None, Some(var)) => match std::env::var(var) {
                Ok(s) => s,
                Err(_) => {
                    problems.push(format!(
                        "token `{name}`: environment variable {var} is not set"
                    ));
                    continue;
                }
            },
            _ => {
                problems.push(format!(
                    "token `{name}`: give exactly one of `token` or `token_env`"
                ));
                continue;
            }
        };
        if let Some(why) = Token::weakness(&secret) {
            problems.push(format!(
                "token `{name}` is too weak: {why} (e.g. `openssl rand -base64 32`)"
            ));
            continue;
        }
        if let Some(same) = out.iter().find(|o| o.secret == secret.as_bytes()) {
            problems.push(format!(
                "tokens `{}` and `{name}` are the same token; give each holder its own",
                same.name
            ));
            continue;
        }
        out.push(Token {
            name: name.clone(),
            secret: secret.into_bytes(),
            role,
        });
    }
    if !problems.is_empty() {
        bail!("[[serve.tokens]]: {}", problems.join("; "));
    }
    Ok(out)
}

/// The server's limits from the configuration, each within its bounds.
pub fn limits(s: &ServeSection) -> anyhow::Result<Limits> {
    Limits::from_settings(&LimitSettings {
        max_connections: s.max_connections,
        max_concurrent_reads: s.max_concurrent_reads,
        header_read_timeout_ms: s.header_read_timeout_ms,
        idle_timeout_ms: s.idle_timeout_ms,
        request_timeout_ms: s.request_timeout_ms,
        max_followers: s.max_followers,
        follow_stall_timeout_ms: s.follow_stall_timeout_ms,
        follow_max_lag: s.follow_max_lag,
    })
    .context("[serve]")
}

/// TLS as the flags and the file choose it, before the files are read.
#[derive(Debug, Default)]
pub struct TlsChoice {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

/// TLS loaded and checked, with what was loaded (for the log).
#[derive(Debug, Clone)]
pub struct LoadedTls {
    pub server: Arc<ServerTls>,
    pub loaded: Loaded,
}

/// The TLS files read and checked, or `None` for plain HTTP; a flag given without the one it
/// needs is refused.
pub fn tls(choice: TlsChoice) -> anyhow::Result<Option<LoadedTls>> {
    match (choice.cert, choice.key) {
        (None, None) => match choice.client_ca {
            Some(ca) => bail!(
                "--tls-client-ca (tls_client_ca) {} asks for client certificates, which need TLS: give --tls-cert and --tls-key (tls_cert and tls_key in [serve]) too",
                ca.display()
            ),
            None => Ok(None),
        },
        (Some(cert), None) => bail!(
            "--tls-cert (tls_cert) {} is given without --tls-key (tls_key): give both, the certificate chain and its private key",
            cert.display()
        ),
        (None, Some(key)) => bail!(
            "--tls-key (tls_key) {} is given without --tls-cert (tls_cert): give both, the certificate chain and its private key",
            key.display()
        ),
        (Some(cert), Some(key)) => {
            let files = TlsFiles {
                cert,
                key,
                client_ca: choice.client_ca,
            };
            let (server, loaded) = ServerTls::load(files)?;
            Ok(Some(LoadedTls {
                server: Arc::new(server),
                loaded,
            }))
        }
    }
}

/// Refuses plain HTTP on an address other than loopback unless allowed: bearer tokens would
/// cross the network in clear text.
pub fn check_plaintext(ip: IpAddr, allow: bool) -> anyhow::Result<()> {
    if allow || ip.to_canonical().is_loopback() {
        return Ok(());
    }
    bail!(
        "refusing to serve plain HTTP on {ip}, which is not a loopback address: bearer tokens would cross the network in clear text; serve TLS (--tls-cert and --tls-key, or tls_cert and tls_key in [serve]), or pass --allow-plaintext (allow_plaintext = true) when a proxy in front terminates TLS"
    )
}

/// The configured client certificate rules, each checked: a usable name that no other rule or
/// token has, exactly one of `subject` or `common_name`, written correctly, and no two rules
/// that one certificate could both match. Every problem found is named in one error.
pub fn clients(
    section: &ServeSection,
    tokens: &[Token],
    mutual: bool,
) -> anyhow::Result<Vec<ClientRule>> {
    if section.clients.is_empty() {
        return Ok(Vec::new());
    }
    if !mutual {
        bail!(
            "[[serve.clients]] maps client certificates to roles, but no client certificates are asked for: set tls_client_ca (--tls-client-ca), with tls_cert and tls_key"
        );
    }
    let mut out: Vec<ClientRule> = Vec::new();
    let mut problems = Vec::new();
    for (n, c) in section.clients.iter().enumerate() {
        let name = &c.name;
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            problems.push(format!(
                "client entry {} has no usable name (give a non-empty name without control characters)",
                n + 1
            ));
            continue;
        }
        if let Some(first) = section.clients[..n].iter().position(|o| &o.name == name) {
            problems.push(format!(
                "client entries {} and {} are both named `{name}`; names must be unique",
                first + 1,
                n + 1
            ));
        }
        if tokens.iter().any(|t| &t.name == name) {
            problems.push(format!(
                "client `{name}` has the name of a token; access records must tell them apart"
            ));
        }
        let matcher = match (&c.subject, &c.common_name) {
            (Some(subject), None) => SubjectPattern::parse(subject).map(SubjectMatch::Subject),
            (None, Some(cn)) => SubjectMatch::common_name(cn),
            _ => {
                problems.push(format!(
                    "client `{name}`: give exactly one of `subject` or `common_name`"
                ));
                continue;
            }
        };
        let matcher = match matcher {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("client `{name}`: {e}"));
                continue;
            }
        };
        if let Some(other) = out.iter().find(|o| o.matcher.overlaps(&matcher)) {
            problems.push(format!(
                "clients `{}` ({}) and `{name}` ({matcher}) could both match one certificate; make them distinct",
                other.name, other.matcher
            ));
            continue;
        }
        out.push(ClientRule {
            name: name.clone(),
            matcher,
            role: c.role,
        });
    }
    if !problems.is_empty() {
        bail!("[[serve.clients]]: {}", problems.join("; "));
    }
    Ok(out)
}

/// The signals `serve` answers, installed before it says it is listening so that none sent
/// after that finds the default action (which for SIGHUP and SIGTERM ends the process).
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        let install = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot handle {name}"))
        };
        Ok(Signals {
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
            hangup: install(SignalKind::hangup(), "SIGHUP")?,
        })
    }
}

/// Completes on SIGTERM or SIGINT.
async fn stop_signal(mut terminate: Signal, mut interrupt: Signal) {
    let name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "stop asked");
}

/// Reads the TLS files again on every SIGHUP; a reload that fails keeps the certificate being
/// served and says why.
async fn reload_on_hangup(mut hangup: Signal, tls: Option<Arc<ServerTls>>) {
    while hangup.recv().await.is_some() {
        let Some(tls) = &tls else {
            tracing::info!("SIGHUP: nothing to reload, the server does not serve TLS");
            continue;
        };
        // Reading files and parsing keys is blocking work, kept off the runtime.
        let reading = Arc::clone(tls);
        if let Err(e) = tokio::task::spawn_blocking(move || reading.reload_logged()).await {
            tracing::error!(error = %e, "reloading the tls certificate failed; still serving the previous one");
        }
    }
}

/// How long, after the server has stopped, blocking work still running (a report past the grace
/// period) may hold up the exit.
const BLOCKING_WORK_GRACE: Duration = Duration::from_secs(1);

pub fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let ServeSettings {
        data,
        addr,
        tokens,
        clients,
        limits,
        tls,
        allow_plaintext,
        tiles,
    } = settings;
    let dir = data.as_path();
    if tokens.is_empty() && clients.is_empty() {
        bail!(
            "no tokens configured: add [[serve.tokens]] entries (name, token or token_env, role) to the configuration file, or [[serve.clients]] entries with mutual TLS"
        );
    }
    let ledger = FollowedLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    // Every blocking thread the server can use is bounded by its limits: ledger work holds one
    // of `max_concurrent_reads` permits, cheap reads one of their own few.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(limits.blocking_threads())
        .enable_all()
        .build()?;
    let state = ServerState::with_clients(ledger, tokens, clients, tiles, limits.clone());
    let streams = Arc::clone(&state);
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        if tls.is_none() {
            check_plaintext(local.ip(), allow_plaintext)?;
        }
        let signals = Signals::install()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        crate::output::line(format!("listening on {scheme}://{local}"))?;
        tracing::info!(
            addr = %local,
            tls = tls.is_some(),
            tiles = tiles.as_str(),
            max_connections = limits.max_connections,
            max_concurrent_reads = limits.max_concurrent_reads,
            header_read_timeout_ms = limits.header_read_timeout.as_millis(),
            idle_timeout_ms = limits.idle_timeout.as_millis(),
            request_timeout_ms = limits.request_timeout.as_millis(),
            max_followers = limits.max_followers,
            follow_stall_timeout_ms = limits.follow_stall_timeout.as_millis(),
            follow_max_lag = limits.follow_max_lag,
            "serving the read-only API"
        );
        if let Some(t) = &tls {
            t.loaded.log("tls certificate loaded");
        }
        let server = tls.map(|t| t.server);
        tokio::spawn(reload_on_hangup(signals.hangup, server.clone()));
        let stop = async move {
            stop_signal(signals.terminate, signals.interrupt).await;
            // Entry streams never end by themselves: each is sent where to resume, and ends.
            streams.stop_streams();
        };
        server::serve_with(listener, state, server, stop).await?;
        anyhow::Ok(())
    });
    runtime.shutdown_timeout(BLOCKING_WORK_GRACE);
    served
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClientEntry, TokenEntry};
    use idledger_query::http::Role;

    fn entry(name: &str, token: &str, role: &str) -> TokenEntry {
        TokenEntry {
            name: name.into(),
            token: Some(token.into()),
            token_env: None,
            role: toml::Value::String(role.into())
                .try_into()
                .expect("a role the tests name"),
        }
    }

    fn config(entries: Vec<TokenEntry>) -> ServeSection {
        ServeSection {
            tokens: entries,
            ..ServeSection::default()
        }
    }

    /// The tokens taken (name and role), or what the refusal says.
    type Want = Result<Vec<(&'static str, Role)>, &'static str>;

    const GOOD: &str = "k3Jd9-xQ2mVz7LpR4tWy";
    const OTHER: &str = "Zq8vN2-kT5wLx9bR3mHc";

    #[test]
    fn weak_duplicate_and_shared_tokens_are_refused_naming_the_entries() {
        let twenty_spaces = " ".repeat(20);
        let cases: Vec<(Vec<TokenEntry>, Want)> = vec![
            (
                vec![
                    entry("ann", GOOD, "auditor"),
                    entry("rick", OTHER, "responder"),
                ],
                Ok(vec![("ann", Role::Auditor), ("rick", Role::Responder)]),
            ),
            // Exactly the least: 20 characters, 8 of them different.
            (
                vec![entry("ann", "abcdefghabcdefghabcd", "admin")],
                Ok(vec![("ann", Role::Admin)]),
            ),
            (
                vec![entry("ann", &twenty_spaces, "auditor")],
                Err("token `ann` is too weak: it holds whitespace at byte 0"),
            ),
            (
                vec![entry("ann", &format!(" {GOOD} "), "auditor")],
                Err("token `ann` is too weak: it holds whitespace at byte 0"),
            ),
            (
                vec![entry("ann", "k3Jd9-xQ2m Vz7LpR4tWy", "auditor")],
                Err("it holds whitespace at byte 10"),
            ),
            (
                vec![entry("ann", "k3Jd9-xQ2m\u{e9}Vz7LpR4tWy", "auditor")],
                Err("it holds a character outside printable ASCII at byte 10"),
            ),
            (
                vec![entry("ann", "k3Jd9-xQ2mVz7LpR4tW", "auditor")],
                Err("token `ann` is too weak: it has 19 characters; a token needs at least 20"),
            ),
            (
                vec![entry("ann", &"a".repeat(40), "auditor")],
                Err("it uses 1 different characters; a token needs at least 8"),
            ),
            (
                vec![entry("ann", &"abcdefg".repeat(4), "auditor")],
                Err("it uses 7 different characters; a token needs at least 8"),
            ),
            (
                vec![
                    entry("ann", GOOD, "auditor"),
                    entry("ann", OTHER, "responder"),
                ],
                Err("token entries 1 and 2 are both named `ann`; names must be unique"),
            ),
            // A name is taken even by an entry refused for another reason.
            (
                vec![
                    entry("ann", "weak", "auditor"),
                    entry("ann", OTHER, "responder"),
                ],
                Err("token entries 1 and 2 are both named `ann`; names must be unique"),
            ),
            (
                vec![entry("ann", GOOD, "auditor"), entry("rick", GOOD, "admin")],
                Err("tokens `ann` and `rick` are the same token; give each holder its own"),
            ),
            (
                vec![entry(" ", GOOD, "auditor")],
                Err("token entry 1 has no usable name"),
            ),
            (
                vec![TokenEntry {
                    token_env: Some("IDLEDGER_TEST_NO_SUCH_VARIABLE".into()),
                    ..entry("ann", GOOD, "auditor")
                }],
                Err("token `ann`: give exactly one of `token` or `token_env`"),
            ),
            (
                vec![TokenEntry {
                    token: None,
                    token_env: Some("IDLEDGER_TEST_NO_SUCH_VARIABLE".into()),
                    ..entry("ann", GOOD, "auditor")
                }],
                Err("token `ann`: environment variable IDLEDGER_TEST_NO_SUCH_VARIABLE is not set"),
            ),
        ];
        for (entries, want) in cases {
            let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
            match (tokens(&config(entries)), want) {
                (Ok(got), Ok(want)) => {
                    let got: Vec<(&str, Role)> =
                        got.iter().map(|t| (t.name.as_str(), t.role)).collect();
                    assert_eq!(got, want, "{names:?}");
                }
                (Err(e), Err(says)) => {
                    let text = e.to_string();
                    assert!(text.contains(says), "{names:?}: {text}");
                    assert!(!text.contains(GOOD), "a token is quoted in: {text}");
                }
                (got, want) => panic!("{names:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn every_problem_is_named_in_one_error() {
        let e = tokens(&config(vec![
            entry("ann", "short", "auditor"),
            entry("rick", GOOD, "responder"),
            entry("rick", GOOD, "admin"),
        ]))
        .expect_err("refused");
        let text = e.to_string();
        for says in [
            "token `ann` is too weak",
            "token entries 2 and 3 are both named `rick`",
            "tokens `rick` and `rick` are the same token",
        ] {
            assert!(text.contains(says), "{says}: {text}");
        }
    }

    fn client(name: &str, subject: Option<&str>, cn: Option<&str>, role: &str) -> ClientEntry {
        ClientEntry {
            name: name.into(),
            subject: subject.map(str::to_owned),
            common_name: cn.map(str::to_owned),
            role: toml::Value::String(role.into())
                .try_into()
                .expect("a role the tests name"),
        }
    }

    #[test]
    fn client_rules_are_checked_and_every_problem_named() {
        let ann = tokens(&config(vec![entry("ann", GOOD, "auditor")])).expect("a good token");
        let cases: Vec<(Vec<ClientEntry>, Want)> = vec![
            (
                vec![
                    client("siem", Some("CN=siem-bot,O=Example"), None, "auditor"),
                    client("pager", None, Some("pager"), "responder"),
                ],
                Ok(vec![("siem", Role::Auditor), ("pager", Role::Responder)]),
            ),
            (
                vec![client("siem", Some("CN=a"), Some("a"), "auditor")],
                Err("client `siem`: give exactly one of `subject` or `common_name`"),
            ),
            (
                vec![client("siem", None, None, "auditor")],
                Err("client `siem`: give exactly one of `subject` or `common_name`"),
            ),
            (
                vec![client("siem", Some("CN=a,XX=b"), None, "auditor")],
                Err("client `siem`: `XX` is not an attribute type this knows"),
            ),
            (
                vec![client("siem", None, Some(""), "auditor")],
                Err("client `siem`: the common name is empty"),
            ),
            (
                vec![
                    client("one", Some("CN=a,O=x"), None, "auditor"),
                    client("two", None, Some("a"), "admin"),
                ],
                Err(
                    "clients `one` (subject CN=a,O=x) and `two` (common name a) could both match one certificate",
                ),
            ),
            (
                vec![
                    client("one", Some("CN=a"), None, "auditor"),
                    client("one", Some("CN=b"), None, "auditor"),
                ],
                Err("client entries 1 and 2 are both named `one`"),
            ),
            (
                vec![client("ann", Some("CN=a"), None, "auditor")],
                Err("client `ann` has the name of a token"),
            ),
            (
                vec![client(" ", Some("CN=a"), None, "auditor")],
                Err("client entry 1 has no usable name"),
            ),
        ];
        for (entries, want) in cases {
            let section = ServeSection {
                clients: entries,
                ..ServeSection::default()
            };
            match (clients(&section, &ann, true), want) {
                (Ok(got), Ok(want)) => {
                    let got: Vec<(&str, Role)> =
                        got.iter().map(|c| (c.name.as_str(), c.role)).collect();
                    assert_eq!(got, want);
                }
                (Err(e), Err(says)) => {
                    let text = e.to_string();
                    assert!(text.starts_with("[[serve.clients]]: "), "{text}");
                    assert!(text.contains(says), "{says}: {text}");
                }
                (got, want) => panic!("{:?}: got {got:?}, want {want:?}", section.clients),
            }
        }
        let section = ServeSection {
            clients: vec![client("siem", None, Some("siem-bot"), "auditor")],
            ..ServeSection::default()
        };
        let e = clients(&section, &ann, false).expect_err("rules without mutual TLS");
        assert!(
            e.to_string()
                .contains("no client certificates are asked for: set tls_client_ca"),
            "{e}"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback_unless_allowed() {
        for (ip, allow, refused) in [
            ("127.0.0.1", false, false),
            ("127.8.9.10", false, false),
            ("::1", false, false),
            ("::ffff:127.0.0.1", false, false),
            ("0.0.0.0", false, true),
            ("::", false, true),
            ("10.1.2.3", false, true),
            ("0.0.0.0", true, false),
        ] {
            let got = check_plaintext(ip.parse().expect("an address"), allow);
            assert_eq!(got.is_err(), refused, "{ip} {allow}: {got:?}");
            if let Err(e) = got {
                let text = e.to_string();
                for says in [
                    "bearer tokens would cross the network in clear text",
                    "--allow-plaintext",
                    "--tls-cert",
                ] {
                    assert!(text.contains(says), "{text}");
                }
            }
        }
    }

    #[test]
    fn tls_files_come_in_pairs_and_a_client_ca_needs_tls() {
        let p = |s: &str| Some(PathBuf::from(s));
        let cases = [
            (
                TlsChoice {
                    cert: p("/c.pem"),
                    ..TlsChoice::default()
                },
                "--tls-cert (tls_cert) /c.pem is given without --tls-key (tls_key)",
            ),
            (
                TlsChoice {
                    key: p("/k.pem"),
                    ..TlsChoice::default()
                },
                "--tls-key (tls_key) /k.pem is given without --tls-cert (tls_cert)",
            ),
            (
                TlsChoice {
                    client_ca: p("/ca.pem"),
                    ..TlsChoice::default()
                },
                "--tls-client-ca (tls_client_ca) /ca.pem asks for client certificates, which need TLS",
            ),
            (
                TlsChoice {
                    cert: p("/no/such/c.pem"),
                    key: p("/no/such/k.pem"),
                    client_ca: None,
                },
                "cannot read the TLS certificate file (tls_cert, --tls-cert) /no/such/c.pem",
            ),
        ];
        for (choice, says) in cases {
            let text = format!("{:#}", tls(choice).expect_err("refused"));
            assert!(text.contains(says), "{says}: {text}");
        }
        assert!(tls(TlsChoice::default()).expect("plain HTTP").is_none());
    }
}
