//! The TOML configuration file, read into typed values (every field documented in
//! docs/CONFIG.md; unknown fields and wrong values are rejected as the file is read).
//! `settings` merges it under flags and environment variables.

use anyhow::Context as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The ledger directory.
    pub data: Option<PathBuf>,
    /// Checkpoint origin for `init`.
    pub origin: Option<String>,
    /// Where signing keys are kept (never inside the data directory).
    pub key_dir: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: Option<crate::cli::LogFormat>,
    #[serde(default)]
    pub ingest: IngestSection,
    #[serde(default)]
    pub serve: ServeSection,
    #[serde(default)]
    pub report: ReportSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    pub brokers: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
    pub group: Option<String>,
    pub batch_max: Option<usize>,
    pub batch_linger_ms: Option<u64>,
    pub workers: Option<usize>,
    pub dead_letter_topic: Option<String>,
    pub metrics_addr: Option<String>,
    /// librdkafka properties, passed through as is.
    #[serde(default)]
    pub kafka: KafkaValues,
    /// librdkafka properties read from environment variables: property = variable name.
    #[serde(default)]
    pub kafka_env: BTreeMap<String, String>,
    /// librdkafka properties read from files: property = path.
    #[serde(default)]
    pub kafka_file: BTreeMap<String, PathBuf>,
    /// OAUTHBEARER tokens from this file (`--oauth-token-file`).
    pub oauth_token_file: Option<PathBuf>,
    /// OAUTHBEARER tokens printed by this shell command (`--oauth-token-command`).
    pub oauth_token_command: Option<String>,
    /// The input format of topics not listed in `[ingest.formats]` (docs/FORMATS.md).
    pub format: Option<String>,
    /// Per topic: its format, whether to keep originals, CloudEvents routes, a JWKS file.
    #[serde(default)]
    pub formats: BTreeMap<String, crate::input_formats::TopicFormatSection>,
    /// Witnesses to submit checkpoints to (`--witness URL=VKEY`).
    #[serde(default)]
    pub witnesses: Vec<crate::witnesses::WitnessSection>,
    /// How often each witness is offered the latest checkpoint (`--witness-interval-ms`).
    pub witness_interval_ms: Option<u64>,
}

/// `[ingest.kafka]`: printed with `Debug`, secret properties show as `***`.
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub struct KafkaValues(pub BTreeMap<String, String>);

impl std::fmt::Debug for KafkaValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(k, v)| (k, idledger_ingest::secrets::printable_value(k, v))),
            )
            .finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    pub addr: Option<String>,
    /// Bearer tokens and their roles.
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    /// Connections open at once.
    pub max_connections: Option<u64>,
    /// Requests doing ledger work at once; more are answered 503.
    pub max_concurrent_reads: Option<u64>,
    /// How long a client may take to send a request's head.
    pub header_read_timeout_ms: Option<u64>,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout_ms: Option<u64>,
    /// How long a request may take to answer.
    pub request_timeout_ms: Option<u64>,
    /// Entry streams (`/v1/entries`) open at once; more are answered 503.
    pub max_followers: Option<u64>,
    /// How long a stream's client may leave what was sent untaken before it is cut off.
    pub follow_stall_timeout_ms: Option<u64>,
    /// How many entries signed since a follower connected it may leave untaken.
    pub follow_max_lag: Option<u64>,
    /// The certificate chain to serve TLS with (PEM, leaf first); reloaded on SIGHUP.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that client certificates must chain to: mutual TLS.
    pub tls_client_ca: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback.
    pub allow_plaintext: Option<bool>,
    /// Client certificate subjects and their roles (mutual TLS).
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    /// Who may read the c2sp.org/tlog-tiles routes: `public`, `auditor` or `off`.
    pub tiles: Option<idledger_query::http::TileAccess>,
}

/// `[[serve.clients]]`: the certificates a rule matches, by their whole subject or by their
/// common name (exactly one of the two), and the role their holder reads with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// Who holds the certificates (logged in access records).
    pub name: String,
    /// Every attribute of the subject, in any order: `CN=siem-bot,O=Example`.
    pub subject: Option<String>,
    /// The subject's one common name.
    pub common_name: Option<String>,
    /// `auditor`, `responder` or `admin`.
    pub role: idledger_query::http::Role,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// Who holds it (logged in access records instead of the token).
    pub name: String,
    /// The token itself. Prefer `token_env` to keep it out of the file.
    pub token: Option<String>,
    /// An environment variable holding the token.
    pub token_env: Option<String>,
    /// `auditor`, `responder` or `admin`.
    pub role: idledger_query::http::Role,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSection {
    pub max_credential_age_days: Option<u64>,
}

impl Config {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("invalid configuration file {}", path.display()))
    }
}
