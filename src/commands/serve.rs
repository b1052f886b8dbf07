//! `idledger serve`: the read-only HTTP API over a ledger, working beside a running ingest.
//! Its tokens and limits come from the configuration file's `[serve]` section and are checked
//! before anything is served (docs/CONFIG.md).

use crate::config::ServeSection;
use crate::settings::ServeSettings;
use anyhow::{Context as _, bail};
use idledger_ledger::ReadOnlyLedger;
use idledger_query::http::limits::LimitSettings;
use idledger_query::http::{Limits, ServerState, Token, server};
use std::collections::BTreeSet;

/// The fewest characters a token may have.
pub const MIN_TOKEN_CHARS: usize = 20;
/// The fewest different characters a token may use.
pub const MIN_DISTINCT_CHARS: usize = 8;

/// Why a token is too weak to accept, if it is.
fn weakness(secret: &str) -> Option<String> {
    if let Some((at, c)) = secret.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        let what = if c.is_whitespace() {
            "whitespace"
        } else {
            "a character outside printable ASCII"
        };
        return Some(format!(
            "it holds {what} at byte {at}; a token is printable ASCII without spaces (`!` to `~`)"
        ));
    }
    if secret.len() < MIN_TOKEN_CHARS {
        return Some(format!(
            "it has {} characters; a token needs at least {MIN_TOKEN_CHARS}",
            secret.len()
        ));
    }
    let distinct = secret.bytes().collect::<BTreeSet<u8>>().len();
    if distinct < MIN_DISTINCT_CHARS {
        return Some(format!(
            "it uses {distinct} different characters; a token needs at least {MIN_DISTINCT_CHARS}"
        ));
    }
    None
}

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
        if let Some(why) = weakness(&secret) {
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
    })
    .context("[serve]")
}

/// Completes on SIGINT or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

pub fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let ServeSettings {
        data,
        addr,
        tokens,
        limits,
    } = settings;
    let dir = data.as_path();
    if tokens.is_empty() {
        bail!(
            "no tokens configured: add [[serve.tokens]] entries (name, token or token_env, role) to the configuration file"
        );
    }
    let ledger = ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))?;
    // Every blocking thread the server can use is bounded by its limits: ledger work holds one
    // of `max_concurrent_reads` permits, cheap reads one of their own few.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(limits.blocking_threads())
        .enable_all()
        .build()?;
    let state = ServerState::new(ledger, tokens, limits.clone());
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        crate::output::line(format!("listening on http://{local}"))?;
        tracing::info!(
            addr = %local,
            max_connections = limits.max_connections,
            max_concurrent_reads = limits.max_concurrent_reads,
            header_read_timeout_ms = limits.header_read_timeout.as_millis(),
            idle_timeout_ms = limits.idle_timeout.as_millis(),
            request_timeout_ms = limits.request_timeout.as_millis(),
            "serving the read-only API"
        );
        server::serve(listener, state, stop_signal()).await?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenEntry;
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
}
