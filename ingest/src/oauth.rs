//! OAUTHBEARER tokens from a file or a command, for clusters whose identity provider issues
//! JWTs by some other means (a sidecar that writes the token, a CLI that prints one).
//! librdkafka asks for a token before it first authenticates and again at 80% of the token's
//! lifetime, so a token rotated in the file, or printed anew by the command, is picked up before
//! the old one expires. The lifetime and principal come from the token's `exp` and `sub` claims.
//! No error ever holds the token.

use base64::Engine as _;
use rdkafka::client::OAuthToken;
use std::path::PathBuf;
use std::process::Command;

/// Where a token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A file holding the token (surrounding whitespace removed), read at every refresh.
    File(PathBuf),
    /// A shell command (`sh -c`) that prints the token, run at every refresh.
    Command(String),
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the OAUTHBEARER token file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run the OAUTHBEARER token command: {0}")]
    Spawn(std::io::Error),
    #[error("the OAUTHBEARER token command failed ({status}): {stderr}")]
    CommandFailed { status: String, stderr: String },
    #[error("the OAUTHBEARER token is not a JWT: {0}")]
    NotJwt(&'static str),
    #[error("the OAUTHBEARER token expired at {exp} (seconds since 1970), now is {now}")]
    Expired { exp: i64, now: i64 },
    #[error(
        "sasl.mechanism is OAUTHBEARER but no token source is set: pass --oauth-token-file or \
         --oauth-token-command, or set sasl.oauthbearer.method=oidc for librdkafka's own client"
    )]
    NoSource,
}

/// Reads a token from `source` and makes it what librdkafka needs, judged at `now` (seconds
/// since 1970).
pub fn fetch(source: &TokenSource, now: i64) -> Result<OAuthToken, TokenError> {
    let text = match source {
        TokenSource::File(path) => {
            std::fs::read_to_string(path).map_err(|source| TokenError::File {
                path: path.clone(),
                source,
            })?
        }
        TokenSource::Command(command) => run(command)?,
    };
    token(text.trim(), now)
}

fn run(command: &str) -> Result<String, TokenError> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .map_err(TokenError::Spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(TokenError::CommandFailed {
            status: out.status.to_string(),
            stderr: stderr
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| TokenError::NotJwt("the command printed non-UTF-8"))
}

/// `jwt` as a token: its `exp` claim (required, in the future) is the lifetime, its `sub` claim
/// (required) the principal.
fn token(jwt: &str, now: i64) -> Result<OAuthToken, TokenError> {
    let mut parts = jwt.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::NotJwt("not three dot-separated parts"));
    };
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::NotJwt("the payload is not base64url"))?;
    let claims: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|_| TokenError::NotJwt("the payload is not JSON"))?;
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_i64)
        .ok_or(TokenError::NotJwt("no numeric `exp` claim"))?;
    let sub = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::NotJwt("no `sub` claim"))?;
    if exp <= now {
        return Err(TokenError::Expired { exp, now });
    }
    Ok(OAuthToken {
        token: jwt.to_owned(),
        principal_name: sub.to_owned(),
        lifetime_ms: exp.saturating_mul(1000),
    })
}

/// What a client's context answers librdkafka's request for a token: a fresh one from
/// `source`, or why there is none (logged by rdkafka, and reported to librdkafka, which then
/// fails authentication with the reason).
pub fn refresh(source: Option<&TokenSource>) -> Result<OAuthToken, Box<dyn std::error::Error>> {
    let source = source.ok_or(TokenError::NoSource)?;
    fetch(source, now()).map_err(|e| {
        tracing::error!(error = %e, "no OAUTHBEARER token");
        e.into()
    })
}

/// A client context that only answers token requests: for the dead-letter producer and the
/// dry run, which need to authenticate as ingest does.
#[derive(Debug)]
pub struct TokenContext {
    pub source: Option<TokenSource>,
}

impl rdkafka::ClientContext for TokenContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;
    fn generate_oauth_token(
        &self,
        _config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        refresh(self.source.as_ref())
    }
}

impl rdkafka::producer::ProducerContext for TokenContext {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::producer::DeliveryResult<'_>, _: ()) {}
}

/// Seconds since 1970, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `r` must be (an `OAuthToken` has no `Debug`, so `expect_err` is not available).
    fn refused<T>(r: Result<T, TokenError>, what: &str) -> TokenError {
        match r {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => e,
        }
    }

    fn jwt(claims: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", b(r#"{"alg":"RS256"}"#), b(claims))
    }

    #[test]
    fn tokens_are_read_with_their_lifetime_and_principal_or_refused() {
        let good = jwt(r#"{"sub":"idledger-ingest","exp":2000}"#);
        let t = token(&good, 1000).expect("token");
        assert_eq!(
            (t.token.as_str(), t.principal_name.as_str(), t.lifetime_ms),
            (good.as_str(), "idledger-ingest", 2_000_000)
        );
        let cases = [
            (
                "abc".to_owned(),
                "the OAUTHBEARER token is not a JWT: not three dot-separated parts",
            ),
            (
                "a.b.c.d".to_owned(),
                "the OAUTHBEARER token is not a JWT: not three dot-separated parts",
            ),
            (
                "a.!!.c".to_owned(),
                "the OAUTHBEARER token is not a JWT: the payload is not base64url",
            ),
            (
                jwt("not json"),
                "the OAUTHBEARER token is not a JWT: the payload is not JSON",
            ),
            (
                jwt(r#"{"sub":"x"}"#),
                "the OAUTHBEARER token is not a JWT: no numeric `exp` claim",
            ),
            (
                jwt(r#"{"exp":2000}"#),
                "the OAUTHBEARER token is not a JWT: no `sub` claim",
            ),
            (
                jwt(r#"{"sub":"x","exp":900}"#),
                "the OAUTHBEARER token expired at 900 (seconds since 1970), now is 1000",
            ),
        ];
        for (input, want) in cases {
            let e = refused(token(&input, 1000), want);
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn each_fetch_reads_the_source_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        let first = jwt(r#"{"sub":"a","exp":5000}"#);
        std::fs::write(&file, format!("{first}\n")).expect("write");
        let source = TokenSource::File(file.clone());
        assert_eq!(fetch(&source, 1000).expect("first").token, first);
        let second = jwt(r#"{"sub":"a","exp":9000}"#);
        std::fs::write(&file, &second).expect("rotate");
        assert_eq!(fetch(&source, 1000).expect("second").lifetime_ms, 9_000_000);

        let command = TokenSource::Command(format!("cat {}", file.display()));
        assert_eq!(fetch(&command, 1000).expect("command").token, second);
        let failing = TokenSource::Command("echo refused >&2; exit 3".into());
        let e = refused(fetch(&failing, 1000), "fails");
        assert_eq!(
            e.to_string(),
            "the OAUTHBEARER token command failed (exit status: 3): refused"
        );
        let missing = TokenSource::File(dir.path().join("absent"));
        assert!(
            refused(fetch(&missing, 1000), "absent")
                .to_string()
                .starts_with("cannot read the OAUTHBEARER token file")
        );
    }
}
