//! Settings resolved once, in `main`, before anything runs: each command's flags (and their
//! environment variables) over the configuration file over the defaults, into typed, checked
//! values. Resolving reads no ledger and opens no socket; commands then act on what it gives
//! them (`Job`). A value that is wrong anywhere (an unknown report, a bad time, a weak token,
//! `log_format = "jsn"`) is an error here, naming where it came from.

use crate::cli::{
    Cli, Command, DataArg, IngestArgs, LogFormat, OutputArgs, ServeArgs, TilesCommand,
    WitnessCommand,
};
use crate::config::{Config, IngestSection};
use crate::kafka_properties;
use anyhow::{Context as _, bail};
use idledger_ingest::IngestConfig;
use idledger_ingest::oauth::TokenSource;
use idledger_ledger::TokenRef;
use idledger_proto::Timestamp;
use idledger_proto::formats::{FormatSettings, InputFormat};
use idledger_query::ReportName;
use idledger_query::http::{ClientRule, Limits, TileAccess, Token};
use std::path::PathBuf;
use std::time::Duration;

mod export;
mod token_key;

/// Everything `main` needs to run: how to log, and the job.
#[derive(Debug)]
pub struct Settings {
    pub log_format: LogFormat,
    pub job: Job,
    /// Said once logging is set up (a secret given on the command line, for one).
    pub warnings: Vec<String>,
}

/// A ledger directory and the key directory that signs it.
#[derive(Debug, Clone)]
pub struct LedgerPaths {
    pub data: PathBuf,
    pub keys: PathBuf,
}

/// How an answer is printed and judged.
#[derive(Debug, Clone)]
pub struct Output {
    pub json: bool,
    /// Where to write a proof bundle of the answer.
    pub proofs: Option<PathBuf>,
    /// The time expiries and ages are judged at.
    pub now: Timestamp,
}

/// What `verify` trusts.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    pub trusted: Option<PathBuf>,
    /// Verify the whole log even with a trusted checkpoint.
    pub full: bool,
    pub vkeys: Vec<String>,
    pub policy: Option<PathBuf>,
    pub key_dir: PathBuf,
}

#[derive(Debug)]
pub struct IngestSettings {
    pub ledger: LedgerPaths,
    pub config: IngestConfig,
    pub metrics_addr: Option<String>,
    pub json: bool,
    /// Only connect, authenticate and say where ingest would start (`--check`).
    pub check: bool,
}

#[derive(Debug)]
pub struct ServeSettings {
    pub data: PathBuf,
    pub addr: String,
    pub tokens: Vec<Token>,
    /// Client certificate rules; empty unless mutual TLS is on.
    pub clients: Vec<ClientRule>,
    pub limits: Limits,
    /// TLS, loaded and checked; `None` serves plain HTTP.
    pub tls: Option<crate::commands::serve::LoadedTls>,
    /// Plain HTTP on an address other than loopback is allowed.
    pub allow_plaintext: bool,
    /// Who may read the tlog-tiles routes.
    pub tiles: TileAccess,
}

/// `idledger witness ...`, resolved: the key directory, and for `serve` what it follows.
#[derive(Debug)]
pub enum WitnessJob {
    Serve(Box<WitnessSettings>),
    Vkey { keys: PathBuf },
}

#[derive(Debug)]
pub struct WitnessSettings {
    pub keys: PathBuf,
    /// The name for a key created now; a stored key keeps its own (and must match).
    pub name: Option<String>,
    pub state: PathBuf,
    pub listen: String,
    /// Each log's origin and a key trusted for it.
    pub logs: Vec<(String, idledger_proto::VerifierKey)>,
}

/// A command, resolved.
#[derive(Debug)]
pub enum Job {
    Init {
        ledger: LedgerPaths,
        origin: Option<String>,
        /// The signing key in a token, instead of a new key file.
        token: Option<TokenRef>,
    },
    Vkey(LedgerPaths),
    Checkpoint(PathBuf),
    Append {
        ledger: LedgerPaths,
        input: String,
        batch: usize,
        format: InputFormat,
        format_settings: FormatSettings,
    },
    Verify {
        data: PathBuf,
        trust: TrustSettings,
        threads: usize,
        json: bool,
    },
    Prove {
        data: PathBuf,
        index: u64,
    },
    Consistency {
        data: PathBuf,
        from: u64,
        to: Option<u64>,
    },
    VerifyProof {
        vkeys: Vec<String>,
        policy: Option<PathBuf>,
        file: String,
    },
    VerifyConsistency {
        vkeys: Vec<String>,
        policy: Option<PathBuf>,
        old: String,
        new: String,
        proof: String,
    },
    VerifyCheckpoint {
        policy: PathBuf,
        checkpoint: String,
    },
    Export {
        data: PathBuf,
        options: idledger_query::export::ExportOptions,
        out: Option<PathBuf>,
        /// `--since` and `--until`, resolved to indexes against the ledger.
        times: (Option<Timestamp>, Option<Timestamp>),
        /// `--follow`, and how often to look.
        follow: Option<std::time::Duration>,
        /// `--to-kafka`: the topic and how to reach it, instead of `out`.
        to_kafka: Option<idledger_ingest::export_producer::ExportTarget>,
    },
    VerifyExport {
        vkeys: Vec<String>,
        policy: Option<PathBuf>,
        contiguous: bool,
        file: String,
    },
    TilesExport {
        data: PathBuf,
        dir: PathBuf,
    },
    RotateKey {
        ledger: LedgerPaths,
        finish: bool,
        /// The new key in a token, instead of a new key file.
        token: Option<TokenRef>,
    },
    Ingest(Box<IngestSettings>),
    DevBroker {
        topics: Vec<(String, i32)>,
        brokers: i32,
    },
    History {
        data: PathBuf,
        subject: String,
        out: Output,
        follow: Option<std::time::Duration>,
    },
    Grant {
        data: PathBuf,
        grant_id: String,
        out: Output,
        follow: Option<std::time::Duration>,
    },
    Access {
        data: PathBuf,
        resource: String,
        at: Timestamp,
        out: Output,
    },
    Report {
        data: PathBuf,
        name: ReportName,
        group_by: Option<String>,
        max_age_days: u64,
        out: Output,
    },
    Serve(Box<ServeSettings>),
    Witness(WitnessJob),
    Monitor {
        url: String,
        vkeys: Vec<String>,
        policy: Option<PathBuf>,
        state: PathBuf,
        once: bool,
        interval_ms: u64,
    },
    Demo {
        data: Option<PathBuf>,
        keys: Option<PathBuf>,
        events: usize,
        partitions: i32,
    },
}

/// The default credential age limit of the rotation report, in days.
const DEFAULT_MAX_AGE_DAYS: u64 = 90;

impl Settings {
    /// Resolves the command line over the configuration file.
    pub fn resolve(cli: Cli, config: Config) -> anyhow::Result<Settings> {
        let mut r = Resolver {
            config,
            key_dir: cli.key_dir,
            warnings: Vec::new(),
        };
        let log_format = cli
            .log_format
            .or(r.config.log_format)
            .unwrap_or(LogFormat::Text);
        let job = r.job(cli.command)?;
        Ok(Settings {
            log_format,
            job,
            warnings: r.warnings,
        })
    }
}

/// The configuration file and the global flags, resolving one command.
struct Resolver {
    config: Config,
    key_dir: Option<PathBuf>,
    /// What resolving found worth saying once logging is set up.
    warnings: Vec<String>,
}

impl Resolver {
    /// The data directory from the flag, else the file; an error says how to give one.
    fn data(&self, flag: DataArg) -> anyhow::Result<PathBuf> {
        flag.data
            .or_else(|| self.config.data.clone())
            .context("no ledger directory: pass --data DIR, set IDLEDGER_DATA, or set `data` in the configuration file")
    }

    /// The key directory from the flag (or `IDLEDGER_KEY_DIR`), else the file, else
    /// `$XDG_CONFIG_HOME/idledger/keys`, else `~/.config/idledger/keys`.
    fn keys(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = self.key_dir.as_ref().or(self.config.key_dir.as_ref()) {
            return Ok(dir.clone());
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            })
            .context("no key directory: pass --key-dir DIR, set IDLEDGER_KEY_DIR, or set `key_dir` in the configuration file (neither XDG_CONFIG_HOME nor HOME is set)")?;
        Ok(config_home.join("idledger").join("keys"))
    }

    fn ledger(&self, flag: DataArg) -> anyhow::Result<LedgerPaths> {
        Ok(LedgerPaths {
            data: self.data(flag)?,
            keys: self.keys()?,
        })
    }

    fn job(&mut self, command: Command) -> anyhow::Result<Job> {
        Ok(match command {
            Command::Init {
                data,
                origin,
                pkcs11,
            } => Job::Init {
                ledger: self.ledger(data)?,
                origin: origin.or_else(|| self.config.origin.clone()),
                token: token_key::resolve(pkcs11)?,
            },
            Command::Vkey { data } => Job::Vkey(self.ledger(data)?),
            Command::Checkpoint { data } => Job::Checkpoint(self.data(data)?),
            Command::Append {
                data,
                input,
                batch,
                format,
            } => {
                let (format, format_settings) = crate::input_formats::for_file(
                    &format.format,
                    format.keep_original,
                    &format.routes,
                    format.jwks,
                )?;
                Job::Append {
                    ledger: self.ledger(data)?,
                    input,
                    batch: batch.max(1),
                    format,
                    format_settings,
                }
            }
            Command::Verify {
                data,
                trusted,
                full,
                vkey,
                policy,
                threads,
                json,
            } => Job::Verify {
                data: self.data(data)?,
                trust: TrustSettings {
                    trusted,
                    full,
                    vkeys: vkey,
                    policy,
                    key_dir: self.keys()?,
                },
                threads: threads.max(1),
                json,
            },
            Command::Prove { data, index } => Job::Prove {
                data: self.data(data)?,
                index,
            },
            Command::Consistency { data, from, to } => Job::Consistency {
                data: self.data(data)?,
                from,
                to,
            },
            Command::VerifyProof { vkey, policy, file } => Job::VerifyProof {
                vkeys: vkey,
                policy,
                file,
            },
            Command::VerifyConsistency {
                vkey,
                policy,
                old,
                new,
                proof,
            } => Job::VerifyConsistency {
                vkeys: vkey,
                policy,
                old,
                new,
                proof,
            },
            Command::VerifyCheckpoint { policy, checkpoint } => {
                Job::VerifyCheckpoint { policy, checkpoint }
            }
            Command::Export(args) => self.export(args)?,
            Command::VerifyExport {
                vkey,
                policy,
                contiguous,
                file,
            } => Job::VerifyExport {
                vkeys: vkey,
                policy,
                contiguous,
                file,
            },
            Command::Tiles(TilesCommand::Export { data, dir }) => Job::TilesExport {
                data: self.data(data)?,
                dir,
            },
            Command::RotateKey {
                data,
                finish,
                pkcs11,
            } => Job::RotateKey {
                ledger: self.ledger(data)?,
                finish,
                token: token_key::resolve(pkcs11)?,
            },
            Command::Ingest(args) => Job::Ingest(Box::new(self.ingest(*args)?)),
            Command::DevBroker { topics, brokers } => Job::DevBroker {
                topics: topics
                    .iter()
                    .map(|t| topic_spec(t))
                    .collect::<anyhow::Result<_>>()?,
                brokers,
            },
            Command::History {
                data,
                subject,
                out,
                follow,
            } => Job::History {
                data: self.data(data)?,
                subject,
                out: output(out),
                follow: follow.every(),
            },
            Command::Grant {
                data,
                grant_id,
                out,
                follow,
            } => Job::Grant {
                data: self.data(data)?,
                grant_id,
                out: output(out),
                follow: follow.every(),
            },
            Command::Access {
                data,
                resource,
                at,
                out,
            } => Job::Access {
                data: self.data(data)?,
                resource,
                at,
                out: output(out),
            },
            Command::Report {
                data,
                name,
                group_by,
                max_age_days,
                out,
            } => Job::Report {
                data: self.data(data)?,
                name,
                group_by,
                max_age_days: max_age_days
                    .or(self.config.report.max_credential_age_days)
                    .unwrap_or(DEFAULT_MAX_AGE_DAYS),
                out: output(out),
            },
            Command::Serve(args) => Job::Serve(Box::new(self.serve(args)?)),
            Command::Witness(command) => Job::Witness(self.witness(command)?),
            Command::Monitor {
                url,
                vkey,
                policy,
                state,
                once,
                interval_ms,
            } => Job::Monitor {
                url,
                vkeys: vkey,
                policy,
                state,
                once,
                interval_ms,
            },
            Command::Demo {
                data,
                events,
                partitions,
            } => Job::Demo {
                data,
                keys: self.key_dir.clone().or(self.config.key_dir.clone()),
                events,
                partitions,
            },
        })
    }

    fn witness(&self, command: WitnessCommand) -> anyhow::Result<WitnessJob> {
        Ok(match command {
            WitnessCommand::Vkey => WitnessJob::Vkey { keys: self.keys()? },
            WitnessCommand::Serve(args) => {
                let logs = args
                    .logs
                    .iter()
                    .map(|l| witness_log(l))
                    .collect::<anyhow::Result<_>>()?;
                WitnessJob::Serve(Box::new(WitnessSettings {
                    keys: self.keys()?,
                    name: args.name,
                    state: args.state,
                    listen: args.listen.unwrap_or_else(|| "127.0.0.1:7380".to_owned()),
                    logs,
                }))
            }
        })
    }

    /// Serve's settings: each flag over the `[serve]` section over the defaults; tokens, client
    /// rules and TLS files read and checked, and plain HTTP off loopback refused unless allowed.
    fn serve(&self, args: ServeArgs) -> anyhow::Result<ServeSettings> {
        use crate::commands::serve;
        let section = &self.config.serve;
        let data = self.data(args.data)?;
        let addr = args
            .addr
            .or_else(|| section.addr.clone())
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let tokens = serve::tokens(section)?;
        let limits = serve::limits(section)?;
        let tls = serve::tls(serve::TlsChoice {
            cert: args.tls_cert.or_else(|| section.tls_cert.clone()),
            key: args.tls_key.or_else(|| section.tls_key.clone()),
            client_ca: args.tls_client_ca.or_else(|| section.tls_client_ca.clone()),
        })?;
        let mutual = tls.as_ref().is_some_and(|t| t.server.mutual());
        let clients = serve::clients(section, &tokens, mutual)?;
        let allow_plaintext = args.allow_plaintext || section.allow_plaintext.unwrap_or(false);
        // A name is checked once bound (`serve`); an address is checked here, before anything.
        if tls.is_none()
            && let Ok(at) = addr.parse::<std::net::SocketAddr>()
        {
            serve::check_plaintext(at.ip(), allow_plaintext)?;
        }
        Ok(ServeSettings {
            data,
            addr,
            tokens,
            clients,
            limits,
            tls,
            allow_plaintext,
            tiles: args.tiles.or(section.tiles).unwrap_or_default(),
        })
    }

    /// Ingest's settings: each flag over the `[ingest]` section over ingest's defaults.
    fn ingest(&mut self, args: IngestArgs) -> anyhow::Result<IngestSettings> {
        let section: &IngestSection = &self.config.ingest;
        let brokers = args
            .kafka
            .brokers
            .clone()
            .or_else(|| section.brokers.clone())
            .context("no brokers: pass --brokers HOST:PORT or set ingest.brokers")?;
        let topics = if args.topics.is_empty() {
            section.topics.clone()
        } else {
            args.topics
        };
        if topics.is_empty() {
            bail!("no topics: pass --topic NAME (repeat for several) or set ingest.topics");
        }
        let group = args
            .group
            .or_else(|| section.group.clone())
            .unwrap_or_else(|| "idledger".to_owned());
        let mut config = IngestConfig::new(&brokers, topics, &group);
        let from_file =
            kafka_properties::from_file(&section.kafka.0, &section.kafka_env, &section.kafka_file);
        config.properties = self.kafka_properties(from_file, &args.kafka)?;
        let section: &IngestSection = &self.config.ingest;
        if let Some(b) = args.batch_max.or(section.batch_max) {
            config.batch_max = b;
        }
        if let Some(ms) = args.batch_linger_ms.or(section.batch_linger_ms) {
            config.batch_linger = Duration::from_millis(ms);
        }
        if let Some(w) = args.workers.or(section.workers) {
            config.workers = w;
        }
        config.dead_letter_topic = args
            .dead_letter_topic
            .or_else(|| section.dead_letter_topic.clone());
        config.stop_when_caught_up = args.until_caught_up.map(Duration::from_millis);
        config.formats = crate::input_formats::resolve(
            &args.formats,
            args.keep_original,
            section.format.as_deref(),
            &section.formats,
        )?;
        let from_flags = oauth_token_source(
            args.oauth_token_file,
            args.oauth_token_command,
            "--oauth-token-file and --oauth-token-command",
        )?;
        let from_file = oauth_token_source(
            section.oauth_token_file.clone(),
            section.oauth_token_command.clone(),
            "ingest.oauth_token_file and ingest.oauth_token_command",
        )?;
        config.oauth_token = from_flags.or(from_file);
        config.witnessing = crate::witnesses::resolve(
            &args.witnesses,
            &section.witnesses,
            args.witness_interval_ms.or(section.witness_interval_ms),
        )?;
        Ok(IngestSettings {
            ledger: self.ledger(args.data)?,
            config,
            metrics_addr: args.metrics_addr.or_else(|| section.metrics_addr.clone()),
            json: args.json,
            check: args.check,
        })
    }
}

/// The OAUTHBEARER token source: a file or a command, not both (`both` names the two).
fn oauth_token_source(
    file: Option<PathBuf>,
    command: Option<String>,
    both: &str,
) -> anyhow::Result<Option<TokenSource>> {
    match (file, command) {
        (Some(_), Some(_)) => bail!("{both} are both given: an OAUTHBEARER token comes from one"),
        (Some(f), None) => Ok(Some(TokenSource::File(f))),
        (None, Some(c)) => Ok(Some(TokenSource::Command(c))),
        (None, None) => Ok(None),
    }
}

fn output(out: OutputArgs) -> Output {
    Output {
        json: out.json,
        proofs: out.proofs,
        now: out.now.unwrap_or_else(Timestamp::now),
    }
}

/// `ORIGIN=VKEY`: split at the first `=` (origins hold none; a key's base64 may end in some).
fn witness_log(text: &str) -> anyhow::Result<(String, idledger_proto::VerifierKey)> {
    let (origin, vkey) = text
        .split_once('=')
        .with_context(|| format!("--log {text}: expected ORIGIN=VKEY"))?;
    idledger_proto::checkpoint::check_origin(origin).with_context(|| format!("--log {text}"))?;
    let key = idledger_proto::VerifierKey::parse(vkey)
        .with_context(|| format!("--log {text}: `{vkey}` is not a verifier key"))?;
    Ok((origin.to_owned(), key))
}

/// `NAME` or `NAME:PARTITIONS` (one partition by default).
fn topic_spec(text: &str) -> anyhow::Result<(String, i32)> {
    match text.split_once(':') {
        Some((name, parts)) => {
            let parts = parts
                .parse::<i32>()
                .ok()
                .filter(|p| *p >= 1)
                .with_context(|| {
                    format!("--topic {text}: partitions must be a number of at least 1")
                })?;
            Ok((name.to_owned(), parts))
        }
        None => Ok((text.to_owned(), 1)),
    }
}

#[cfg(test)]
mod tests;
