//! One plain HTTP/1.1 GET on a new connection, for the tests that talk to `serve` or to
//! ingest's `/metrics`: the whole answer's bytes (head and body), and the client's own address.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// GET `path` from `addr` with an optional bearer token, `Connection: close`, reading until the
/// server closes (at most 30 s between reads).
pub fn http_get(
    addr: impl ToSocketAddrs,
    path: &str,
    token: Option<&str>,
) -> std::io::Result<(Vec<u8>, SocketAddr)> {
    let mut s = TcpStream::connect(addr)?;
    let local = s.local_addr()?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok((raw, local))
}
