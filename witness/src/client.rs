//! The log's side of c2sp.org/tlog-witness: one `POST /add-checkpoint` to one witness, over
//! HTTP or HTTPS (rustls, roots from a PEM file), blocking, with a deadline on every step. The
//! answer is read as the spec defines it: 200 with cosignature lines (each checked here against
//! the witness's key over the submitted checkpoint; a line by another key is ignored, a bad
//! one by this key is an error), 409 with the size the witness knows, anything else a refusal
//! with the witness's one-line explanation.

use crate::request::AddCheckpoint;
use idledger_proto::cosignature::{CosignerKey, split_line};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest response read: cosignature lines are short; a witness that sends more is wrong.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The longest response `get` reads: a full entry bundle (256 entries of at most 65,535 bytes,
/// each with its 2-byte length) and room for the header.
pub const MAX_GET_BYTES: usize = 256 * (2 + 65_535) + 64 * 1024;

/// Where a witness listens: `http://host[:port][/prefix]` or `https://...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The path before `/add-checkpoint`, without a trailing slash (empty for the root).
    pub prefix: String,
}

impl WitnessUrl {
    pub fn parse(url: &str) -> Result<WitnessUrl, ClientError> {
        let bad = |why: &str| ClientError::Url(format!("{url}: {why}"));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("must start with http:// or https://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) || authority.contains('@') {
            return Err(bad("no user, query or fragment is allowed"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(WitnessUrl {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }
}

impl std::fmt::Display for WitnessUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.prefix)
    }
}

/// One witness as the log knows it: where it is, the key its cosignatures must verify under,
/// and for HTTPS the roots its certificate must chain to.
#[derive(Clone, Debug)]
pub struct WitnessEndpoint {
    pub url: WitnessUrl,
    pub key: CosignerKey,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl WitnessEndpoint {
    /// `roots` is a PEM file of CA certificates, required for an `https` URL.
    pub fn new(
        url: &str,
        key: CosignerKey,
        roots: Option<&std::path::Path>,
    ) -> Result<WitnessEndpoint, ClientError> {
        let url = WitnessUrl::parse(url)?;
        let tls = match (url.tls, roots) {
            (false, None) => None,
            (false, Some(_)) => {
                return Err(ClientError::Url(format!(
                    "{url}: a CA file is only for an https:// witness"
                )));
            }
            (true, roots) => Some(Arc::new(client_config(roots)?)),
        };
        Ok(WitnessEndpoint { url, key, tls })
    }
}

/// The roots in `path`, or the system's bundle (Debian's `/etc/ssl/certs/ca-certificates.crt`).
pub fn client_config(path: Option<&std::path::Path>) -> Result<rustls::ClientConfig, ClientError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let path = path.unwrap_or(std::path::Path::new("/etc/ssl/certs/ca-certificates.crt"));
    let bad = |why: String| ClientError::Url(format!("CA file {}: {why}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificates".into()));
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// What a witness answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Its cosignature line (checked) and the timestamp it signed.
    Cosigned { line: String, timestamp: u64 },
    /// 409: the witness's latest cosigned size for this log is not the old size sent.
    Conflict { known: u64 },
    /// Any other status, with the witness's explanation.
    Refused { status: u16, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("witness URL {0}")]
    Url(String),
    #[error("cannot reach {url}: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("{url}: {message}")]
    Protocol { url: String, message: String },
    #[error("{url} answered 200 without a valid cosignature by {key}: {message}")]
    BadCosignature {
        url: String,
        key: String,
        message: String,
    },
}

/// Sends `request` to `witness` and reads its answer, within `timeout` in all.
pub fn add_checkpoint(
    witness: &WitnessEndpoint,
    request: &AddCheckpoint,
    timeout: Duration,
) -> Result<Answer, ClientError> {
    let body = request.to_body();
    let head = format!(
        "POST {}/add-checkpoint HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        witness.url.prefix,
        witness.url.host,
        body.len()
    );
    let mut wire = head.into_bytes();
    wire.extend_from_slice(body.as_bytes());
    let raw = exchange(
        &witness.url,
        witness.tls.as_ref(),
        &wire,
        timeout,
        MAX_RESPONSE_BYTES,
    )?;
    let protocol = |message: String| ClientError::Protocol {
        url: witness.url.to_string(),
        message,
    };
    let (status, body) = parse_response(&raw).map_err(protocol)?;
    let text = String::from_utf8_lossy(&body).into_owned();
    match status {
        200 => cosignature(witness, request, &text),
        409 => {
            let known = text
                .strip_suffix('\n')
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| protocol(format!("409 without a size: {text:?}")))?;
            Ok(Answer::Conflict { known })
        }
        status => Ok(Answer::Refused {
            status,
            message: text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect(),
        }),
    }
}

/// The witness's own line among those answered, verified over the submitted checkpoint.
fn cosignature(
    witness: &WitnessEndpoint,
    request: &AddCheckpoint,
    text: &str,
) -> Result<Answer, ClientError> {
    let bad = |message: String| ClientError::BadCosignature {
        url: witness.url.to_string(),
        key: witness.key.to_string(),
        message,
    };
    let checkpoint_text = request
        .note
        .split_once("\n\n")
        .map(|(t, _)| format!("{t}\n"))
        .ok_or_else(|| bad("the submitted note has no signature block".into()))?;
    for line in text.lines() {
        let Some((name, blob)) = split_line(line) else {
            return Err(bad(format!("not a signature line: {line:?}")));
        };
        if !witness.key.is_claimed_by(name, &blob) {
            continue;
        }
        let timestamp = witness
            .key
            .verify(&checkpoint_text, line)
            .map_err(|e| bad(e.to_string()))?;
        return Ok(Answer::Cosigned {
            line: line.to_owned(),
            timestamp,
        });
    }
    Err(bad("no line by this key".into()))
}

/// `GET <prefix><path>` from `url` (a log's tlog-tiles routes, for a monitor), within `timeout`
/// in all: the status and the body, whatever the status. `tls` is required for an https URL
/// (`client_config`). Answers longer than `MAX_GET_BYTES` are refused.
pub fn get(
    url: &WitnessUrl,
    tls: Option<&Arc<rustls::ClientConfig>>,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ClientError> {
    let head = format!(
        "GET {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        url.prefix, url.host
    );
    let raw = exchange(url, tls, head.as_bytes(), timeout, MAX_GET_BYTES)?;
    parse_response(&raw).map_err(|message| ClientError::Protocol {
        url: format!("{url}{path}"),
        message,
    })
}

/// Writes the request and reads the whole response (the server closes the connection).
fn exchange(
    target: &WitnessUrl,
    tls: Option<&Arc<rustls::ClientConfig>>,
    request: &[u8],
    timeout: Duration,
    max: usize,
) -> Result<Vec<u8>, ClientError> {
    let url = target.to_string();
    let io = |source: std::io::Error| ClientError::Connect {
        url: url.clone(),
        source,
    };
    let deadline = Instant::now() + timeout;
    if target.tls && tls.is_none() {
        return Err(ClientError::Url(format!(
            "{url}: https needs a TLS configuration"
        )));
    }
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(io)?
        .next()
        .ok_or_else(|| io(std::io::Error::other("the host has no address")))?;
    let tcp = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    tcp.set_read_timeout(Some(left)).map_err(io)?;
    tcp.set_write_timeout(Some(left)).map_err(io)?;
    let mut out = Vec::new();
    match tls.filter(|_| target.tls) {
        None => round_trip(tcp, request, &mut out, deadline, max).map_err(io)?,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|e| io(std::io::Error::other(e)))?;
            let conn = rustls::ClientConnection::new(config.clone(), name)
                .map_err(|e| io(std::io::Error::other(e)))?;
            round_trip(
                rustls::StreamOwned::new(conn, tcp),
                request,
                &mut out,
                deadline,
                max,
            )
            .map_err(io)?;
        }
    }
    Ok(out)
}

fn round_trip(
    mut stream: impl Read + Write,
    request: &[u8],
    out: &mut Vec<u8>,
    deadline: Instant,
    max: usize,
) -> std::io::Result<()> {
    stream.write_all(request)?;
    stream.flush()?;
    let mut buf = [0u8; 8192];
    loop {
        if Instant::now() > deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no complete answer in time",
            ));
        }
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            // A TLS peer that closes without close_notify has still sent its whole answer
            // when the response says how long it is; parse_response checks that.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > max {
            return Err(std::io::Error::other(format!(
                "the answer is longer than {max} bytes"
            )));
        }
    }
}

/// The status and body of an HTTP/1.1 response (Content-Length, chunked, or to the close).
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no complete header")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the header is not UTF-8")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or("the answer is shorter than its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut off")?;
        let size_text = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunk is cut off")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_the_spec_paths_expect() {
        // A URL, and whether it is TLS, its host, port and path prefix (None: refused).
        type Parts<'a> = Option<(bool, &'a str, u16, &'a str)>;
        let cases: &[(&str, Parts<'_>)] = &[
            (
                "http://127.0.0.1:8080",
                Some((false, "127.0.0.1", 8080, "")),
            ),
            (
                "http://127.0.0.1:8080/",
                Some((false, "127.0.0.1", 8080, "")),
            ),
            (
                "https://w.example/witness/",
                Some((true, "w.example", 443, "/witness")),
            ),
            ("http://[::1]:9/x", Some((false, "::1", 9, "/x"))),
            ("ftp://w.example", None),
            ("http://", None),
            ("http://w.example:port", None),
            ("http://u@w.example", None),
            ("http://w.example/?q=1", None),
        ];
        for (text, want) in cases {
            let got = WitnessUrl::parse(text)
                .ok()
                .map(|u| (u.tls, u.host, u.port, u.prefix));
            let want = want.map(|(t, h, p, x)| (t, h.to_owned(), p, x.to_owned()));
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn responses_are_read_by_length_by_chunks_or_to_the_close() {
        // The bytes answered, and their status and body (Err: refused).
        type Read<'a> = Result<(u16, &'a [u8]), ()>;
        let cases: &[(&[u8], Read<'_>)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", Ok((200, b"abc"))),
            (
                b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n12\r\n1\r\n\n\r\n0\r\n\r\n",
                Ok((409, b"12\n")),
            ),
            (b"HTTP/1.0 403 Forbidden\r\n\r\nno", Ok((403, b"no"))),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", Err(())),
            (b"HTTP/1.1 200 OK\r\n", Err(())),
            (b"SSH-2.0\r\n\r\n", Err(())),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Err(())),
        ];
        for (raw, want) in cases {
            let got = parse_response(raw).map_err(|_| ());
            let want = want.map(|(s, b)| (s, b.to_vec()));
            assert_eq!(got, want, "{}", String::from_utf8_lossy(raw));
        }
    }
}
