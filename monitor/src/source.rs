//! Where a monitor reads the log: anything that answers tlog-tiles paths (`checkpoint`,
//! `tile/…`), over HTTP(S) with the witness crate's blocking client, or in memory for tests.

use idledger_witness::client::{ClientError, WitnessUrl, client_config, get};
use std::sync::Arc;
use std::time::Duration;

/// Why a resource could not be fetched: the round stops and nothing is kept.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{url} answered {status} for {path}: {message}")]
    Status {
        url: String,
        path: String,
        status: u16,
        message: String,
    },
}

/// A log's tlog-tiles resources by path (no leading `/`).
pub trait Source {
    /// The bytes at `path`, or an error if the log does not answer it with 200.
    fn fetch(&self, path: &str) -> Result<Vec<u8>, FetchError>;
    /// Where the log is, for messages.
    fn describe(&self) -> String;
}

/// A log served over HTTP or HTTPS (the system's CA roots).
#[derive(Debug)]
pub struct HttpSource {
    url: WitnessUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

impl HttpSource {
    /// `url` is the log's prefix: `<url>/checkpoint`, `<url>/tile/…`.
    pub fn new(url: &str, timeout: Duration) -> Result<HttpSource, FetchError> {
        let url = WitnessUrl::parse(url)?;
        let tls = if url.tls {
            Some(Arc::new(client_config(None)?))
        } else {
            None
        };
        Ok(HttpSource { url, tls, timeout })
    }
}

impl Source for HttpSource {
    fn fetch(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        let (status, body) = get(
            &self.url,
            self.tls.as_ref(),
            &format!("/{path}"),
            self.timeout,
        )?;
        if status != 200 {
            return Err(FetchError::Status {
                url: self.url.to_string(),
                path: path.to_owned(),
                status,
                message: String::from_utf8_lossy(&body)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        Ok(body)
    }

    fn describe(&self) -> String {
        self.url.to_string()
    }
}

/// A log held in memory (tests): path to bytes.
#[derive(Debug, Default, Clone)]
pub struct MemorySource(pub std::collections::BTreeMap<String, Vec<u8>>);

impl Source for MemorySource {
    fn fetch(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        self.0.get(path).cloned().ok_or_else(|| FetchError::Status {
            url: "memory".into(),
            path: path.to_owned(),
            status: 404,
            message: "not found".into(),
        })
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
