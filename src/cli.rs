//! The command line: every subcommand and flag, parsed into plain data with no I/O.

use clap::{Args, Parser, Subcommand, ValueEnum};
use idledger_proto::Timestamp;
use idledger_query::ReportName;
use idledger_query::http::TileAccess;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "idledger",
    version,
    about = "Verifiable audit ledger for identity lifecycle events"
)]
pub struct Cli {
    /// TOML configuration file (docs/CONFIG.md); flags and environment variables override it.
    #[arg(long, global = true, env = "IDLEDGER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, env = "IDLEDGER_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Where signing keys are kept, never inside a data directory (default:
    /// $XDG_CONFIG_HOME/idledger/keys, else ~/.config/idledger/keys).
    #[arg(long, global = true, env = "IDLEDGER_KEY_DIR", value_name = "DIR")]
    pub key_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct DataArg {
    /// The ledger directory.
    #[arg(long, env = "IDLEDGER_DATA")]
    pub data: Option<PathBuf>,
}

/// `--follow` for answers that grow: print the answer, then each new entry about it.
#[derive(Debug, Args, Clone)]
pub struct FollowArgs {
    /// After the answer, print each new entry about it as it is signed (Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
    /// With --follow, how often to look for new entries.
    #[arg(long = "follow-interval-ms", value_name = "MS", default_value_t = 1000)]
    pub interval_ms: u64,
}

impl FollowArgs {
    /// How often to look, when following.
    pub fn every(&self) -> Option<std::time::Duration> {
        self.follow
            .then(|| std::time::Duration::from_millis(self.interval_ms.max(10)))
    }
}

#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write a proof bundle (checkable with `idledger verify-proof`) for the answer to this file.
    #[arg(long, value_name = "FILE")]
    pub proofs: Option<PathBuf>,
    /// Judge expiries and ages as of this RFC 3339 time instead of now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<Timestamp>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a ledger and its signing key (or use a key in a PKCS#11 token, --pkcs11-*);
    /// print the verifier key.
    Init {
        #[command(flatten)]
        data: DataArg,
        /// The checkpoint origin (and key name), e.g. `audit.example.com/identity`.
        #[arg(long)]
        origin: Option<String>,
        #[command(flatten)]
        pkcs11: Pkcs11Args,
    },
    /// Print the verifier key(s) that sign this ledger's checkpoints.
    Vkey {
        #[command(flatten)]
        data: DataArg,
    },
    /// Print the latest signed checkpoint.
    Checkpoint {
        #[command(flatten)]
        data: DataArg,
    },
    /// Append JSON-lines events without Kafka (same validation, quarantine and dedupe).
    Append {
        #[command(flatten)]
        data: DataArg,
        /// A file of JSON lines, or `-` for standard input.
        #[arg(default_value = "-")]
        input: String,
        /// Lines per batch (one synced write and one checkpoint each).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[command(flatten)]
        format: FileFormatArgs,
    },
    /// Verify everything against the keys you trust: hashes, chain, back-links, tree,
    /// checkpoints and their signatures, indexes, positions.
    Verify {
        #[command(flatten)]
        data: DataArg,
        /// A checkpoint you kept earlier; the log must be an append-only extension of it. Only
        /// what came after it is verified, unless --full (docs/SECURITY.md says what each
        /// proves).
        #[arg(long, value_name = "CHECKPOINT_FILE")]
        trusted: Option<PathBuf>,
        /// With --trusted, still verify the whole log, not only what came after it.
        #[arg(long, requires = "trusted")]
        full: bool,
        /// A verifier key you trust (text or a file holding keys, one per line; repeatable).
        /// Without one, the keys in the key directory (--key-dir) for this ledger are trusted.
        #[arg(long, value_name = "KEY")]
        vkey: Vec<String>,
        /// A witness policy (docs/WITNESS.md): its log keys are trusted (unless --vkey is
        /// given), and a stored checkpoint must be cosigned by witnesses meeting its quorum.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Verification threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long)]
        json: bool,
    },
    /// Print a C2SP tlog-proof for one entry, carrying its leaf bytes.
    Prove {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        index: u64,
    },
    /// Print a consistency proof between two tree sizes (base64 hashes, one per line).
    Consistency {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
    },
    /// The log as C2SP tlog-tiles files, for monitors and auditors.
    #[command(subcommand)]
    Tiles(TilesCommand),
    /// Check a tlog-proof or a proof bundle offline, with the verifier key only.
    VerifyProof {
        /// A verifier key you trust (text or a file holding keys, one per line; repeatable).
        #[arg(long, required_unless_present = "policy")]
        vkey: Vec<String>,
        /// A witness policy: its log keys are trusted, and the proof's checkpoint must be
        /// cosigned by witnesses meeting its quorum.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The proof file (`-` for standard input).
        file: String,
    },
    /// Check offline that one signed checkpoint is an append-only extension of another,
    /// with the consistency proof between them (as `idledger consistency` prints it).
    VerifyConsistency {
        /// A verifier key you trust (text or a file holding keys, one per line; repeatable).
        #[arg(long, required_unless_present = "policy")]
        vkey: Vec<String>,
        /// A witness policy: its log keys are trusted, and the new checkpoint must be cosigned
        /// by witnesses meeting its quorum.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The older checkpoint note.
        old: String,
        /// The newer checkpoint note.
        new: String,
        /// The consistency proof: one base64 hash per line (`-` for standard input).
        proof: String,
    },
    /// Check a cosigned checkpoint offline against a witness policy (docs/WITNESS.md): signed
    /// by the policy's log key, and cosigned by witnesses that meet its quorum.
    VerifyCheckpoint {
        /// The policy file (log, witness, group and quorum lines).
        #[arg(long)]
        policy: std::path::PathBuf,
        /// The checkpoint note with its cosignature lines (`-` for standard input).
        checkpoint: String,
    },
    /// Write entries as JSON lines for a SIEM, each provable against the signed checkpoints
    /// the stream carries (docs/EXPORT.md).
    Export(ExportArgs),
    /// Check an export stream (or a SIEM extract of it) offline against the log's key: every
    /// entry as the signed log holds it, none reordered or inserted, and in a contiguous stream
    /// none dropped (the result says whether the stream was contiguous).
    VerifyExport {
        /// A verifier key you trust (text or a file holding keys, one per line; repeatable).
        #[arg(long, required_unless_present = "policy")]
        vkey: Vec<String>,
        /// A witness policy: its log keys are trusted, and the checkpoints the result rests on
        /// must be cosigned by witnesses meeting its quorum.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Require a contiguous stream: every entry of the log from the start line's index to
        /// the last checkpoint. Without it a filtered stream or an extract verifies entry by
        /// entry, and an entry left out of it is not detected (the result says which it was).
        #[arg(long)]
        contiguous: bool,
        /// The export file (`-` for standard input).
        file: String,
    },
    /// Rotate the signing key: add a new key (checkpoints then carry both), or finish by
    /// retiring the old one.
    RotateKey {
        #[command(flatten)]
        data: DataArg,
        /// Retire every key but the newest.
        #[arg(long, conflicts_with = "pkcs11_module")]
        finish: bool,
        /// The new key: one in a PKCS#11 token (instead of a new key file).
        #[command(flatten)]
        pkcs11: Pkcs11Args,
    },
    /// Consume identity events from Kafka into the ledger, exactly once.
    Ingest(Box<IngestArgs>),
    /// Run a local Kafka-protocol broker (librdkafka's mock cluster) on 127.0.0.1.
    DevBroker {
        /// Topics to create, as NAME or NAME:PARTITIONS.
        #[arg(long = "topic", default_values_t = ["identity-events:4".to_owned()])]
        topics: Vec<String>,
        #[arg(long, default_value_t = 1)]
        brokers: i32,
    },
    /// Every entry about an identity, in order, with the gap check.
    History {
        #[command(flatten)]
        data: DataArg,
        subject: String,
        #[command(flatten)]
        out: OutputArgs,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// The story of one grant: who approved, why, and when access ended.
    Grant {
        #[command(flatten)]
        data: DataArg,
        grant_id: String,
        #[command(flatten)]
        out: OutputArgs,
        #[command(flatten)]
        follow: FollowArgs,
    },
    /// Who had access to a resource at a time.
    Access {
        #[command(flatten)]
        data: DataArg,
        #[arg(long)]
        resource: String,
        /// RFC 3339 time.
        #[arg(long)]
        at: Timestamp,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Governance reports: lead-time, approvals, rotation, drift, exceptions.
    Report {
        #[command(flatten)]
        data: DataArg,
        /// lead-time, approvals, rotation, drift or exceptions.
        name: ReportName,
        /// Group by this attribute (e.g. application, business_function).
        #[arg(long)]
        group_by: Option<String>,
        /// Credentials unchanged for longer than this are flagged.
        #[arg(long)]
        max_age_days: Option<u64>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Serve the read-only HTTP API.
    Serve(ServeArgs),
    /// A C2SP tlog-witness: cosign other logs' checkpoints once they prove consistent with the
    /// last one cosigned (docs/WITNESS.md). Its key is in --key-dir.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Follow a remote log through its tlog-tiles routes: verify each new checkpoint, tile
    /// and entry, and keep an exact copy in --state (docs/WITNESS.md, "Monitoring").
    Monitor {
        /// The log's tlog-tiles prefix (`URL/checkpoint`, `URL/tile/...`), http or https.
        #[arg(long)]
        url: String,
        /// A verifier key you trust (text or a file holding keys, one per line; repeatable).
        #[arg(long, required_unless_present = "policy")]
        vkey: Vec<String>,
        /// A witness policy: its log keys are trusted (unless --vkey is given), and every
        /// checkpoint must be cosigned by witnesses meeting its quorum.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The directory the monitor keeps its copy and state in.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// One round, then exit.
        #[arg(long)]
        once: bool,
        /// Milliseconds between rounds.
        #[arg(long, default_value_t = 60_000)]
        interval_ms: u64,
    },
    /// Run the whole job on an embedded broker with a realistic workload, and show the answers.
    Demo {
        /// Keep the ledger here instead of a temporary directory.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Events to generate (besides malformed, duplicate and secret-bearing messages).
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Partitions of the demo topic; raised when the workload would not fit in them (the
        /// dev broker keeps 5 MiB of batches per partition).
        #[arg(long, default_value_t = 4)]
        partitions: i32,
    },
}

/// How `append` reads each line (docs/FORMATS.md): one record or message per line.
#[derive(Debug, Args)]
pub struct FileFormatArgs {
    /// The lines' format: native, ocsf, cloudevents, secevent, cloudtrail, okta, entra,
    /// github, vault or auto.
    #[arg(long, default_value = "native")]
    pub format: String,
    /// Keep each mapped record's original bytes in its entry (secrets redacted, then hash only).
    #[arg(long)]
    pub keep_original: bool,
    /// CloudEvents: read the data of events whose type or dataschema starts with PREFIX in
    /// FORMAT (repeatable).
    #[arg(long = "route", value_name = "PREFIX=FORMAT")]
    pub routes: Vec<String>,
    /// Security Event Tokens: verify JWS-signed tokens against this JWKS file.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
}

/// A signing key in a PKCS#11 token (an HSM), created there beforehand, e.g. with `pkcs11-tool
/// --keypairgen --key-type EC:edwards25519`. The PIN is read from a variable or a file, never
/// given on the command line.
#[derive(Debug, Args, Clone, Default)]
#[group(id = "pkcs11", multiple = true)]
pub struct Pkcs11Args {
    /// The token's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so.
    #[arg(
        long,
        value_name = "PATH",
        requires = "pkcs11_token",
        requires = "pkcs11_key",
        requires = "pkcs11_pin"
    )]
    pub pkcs11_module: Option<PathBuf>,
    /// The token's label.
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub pkcs11_token: Option<String>,
    /// The key's CKA_ID, in hex (e.g. 01).
    #[arg(
        long,
        value_name = "HEX",
        group = "pkcs11_key",
        requires = "pkcs11_module"
    )]
    pub pkcs11_key_id: Option<String>,
    /// The key's CKA_LABEL (instead of --pkcs11-key-id).
    #[arg(
        long,
        value_name = "LABEL",
        group = "pkcs11_key",
        requires = "pkcs11_module"
    )]
    pub pkcs11_key_label: Option<String>,
    /// The environment variable holding the user PIN (read by every command that signs).
    #[arg(
        long,
        value_name = "VAR",
        group = "pkcs11_pin",
        requires = "pkcs11_module"
    )]
    pub pkcs11_pin_env: Option<String>,
    /// A file holding the user PIN (mode 0600; read by every command that signs).
    #[arg(
        long,
        value_name = "PATH",
        group = "pkcs11_pin",
        requires = "pkcs11_module"
    )]
    pub pkcs11_pin_file: Option<PathBuf>,
}

/// `idledger export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// The first index to export.
    #[arg(long, default_value_t = 0, conflicts_with = "since")]
    pub from: u64,
    /// Stop before this index (rounded down to where a checkpoint ends); default: the log's end.
    #[arg(long, conflicts_with = "until")]
    pub to: Option<u64>,
    /// Start at the first entry the ledger received at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<Timestamp>,
    /// Stop before the first entry the ledger received at or after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<Timestamp>,
    /// Keep going as new entries are signed (like tail -f); stop with Ctrl-C between rounds,
    /// resume with --from the next index.
    #[arg(long, conflicts_with_all = ["to", "until"])]
    pub follow: bool,
    /// With --follow, how often to look for new entries.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval_ms: u64,
    /// Carry a signed checkpoint once at least this many entries have passed since the last.
    #[arg(long, default_value_t = 10_000)]
    pub checkpoint_every: u64,
    /// Every entry carries its own inclusion proof (always, with a filter).
    #[arg(long)]
    pub proofs: bool,
    /// How entries are written: `native` (idledger's JSON), `ocsf` (OCSF 1.9 IAM events with the
    /// record-integrity profile) or `cef` (ArcSight CEF lines); every one verifies.
    #[arg(long, default_value = "native", value_name = "FORMAT")]
    pub format: idledger_proto::export::RecordFormat,
    /// Only events of this type (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only events from this source (repeatable).
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Only events about this subject id (repeatable).
    #[arg(long = "subject")]
    pub subjects: Vec<String>,
    /// Only events whose subject is `human` or `non-human`.
    #[arg(long, value_parser = ["human", "non-human"])]
    pub kind: Option<String>,
    /// Only quarantined entries.
    #[arg(long, conflicts_with = "no_quarantined")]
    pub quarantined: bool,
    /// No quarantined entries.
    #[arg(long)]
    pub no_quarantined: bool,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Produce each record to partition 0 of this Kafka topic (one partition), resuming after
    /// the last record the topic holds (docs/EXPORT.md, "Kafka sink").
    #[arg(long, value_name = "TOPIC", conflicts_with = "out")]
    pub to_kafka: Option<String>,
    /// With --to-kafka: the cluster and its security settings.
    #[command(flatten)]
    pub kafka: KafkaConnectArgs,
}

#[derive(Debug, Subcommand)]
pub enum TilesCommand {
    /// Write the latest checkpoint's tiles and entry bundles into DIR (c2sp.org/tlog-tiles),
    /// ready for a static file server; run again to bring DIR up to date.
    Export {
        #[command(flatten)]
        data: DataArg,
        /// The directory to write (`checkpoint`, `tile/...`).
        dir: PathBuf,
    },
}

/// How to reach a Kafka cluster and authenticate, shared by `ingest` and `export --to-kafka`.
#[derive(Debug, Args, Clone, Default)]
pub struct KafkaConnectArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "IDLEDGER_BROKERS")]
    pub brokers: Option<String>,
    /// Any librdkafka property, as kcat takes it: `-X security.protocol=SASL_SSL`. Not for
    /// secrets (any user of the host sees the command line): use --kafka-env or --kafka-file.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// A librdkafka property read from an environment variable: `--kafka-env
    /// sasl.password=KAFKA_PASSWORD`.
    #[arg(long = "kafka-env", value_name = "KEY=VARIABLE")]
    pub kafka_env: Vec<String>,
    /// A librdkafka property read from a file (one trailing line ending removed):
    /// `--kafka-file sasl.password=/run/secrets/kafka`.
    #[arg(long = "kafka-file", value_name = "KEY=PATH")]
    pub kafka_file: Vec<String>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub data: DataArg,
    #[command(flatten)]
    pub kafka: KafkaConnectArgs,
    /// Topics to consume (repeat for several).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    #[arg(long)]
    pub group: Option<String>,
    /// Connect, authenticate, print the partitions ingest would read and the offsets it would
    /// start from, and exit without reading a message.
    #[arg(long)]
    pub check: bool,
    /// With sasl.mechanism=OAUTHBEARER: a file holding the token (a JWT), read again before
    /// each token expires.
    #[arg(long, value_name = "PATH", conflicts_with = "oauth_token_command")]
    pub oauth_token_file: Option<PathBuf>,
    /// With sasl.mechanism=OAUTHBEARER: a shell command printing the token (a JWT), run again
    /// before each token expires.
    #[arg(long, value_name = "COMMAND")]
    pub oauth_token_command: Option<String>,
    #[arg(long)]
    pub batch_max: Option<usize>,
    #[arg(long)]
    pub batch_linger_ms: Option<u64>,
    #[arg(long)]
    pub workers: Option<usize>,
    #[arg(long)]
    pub dead_letter_topic: Option<String>,
    /// The input format of a topic, `TOPIC=FORMAT`, or of every topic not named, `FORMAT`
    /// (repeat; docs/FORMATS.md): native, ocsf, cloudevents, secevent, cloudtrail, okta, entra,
    /// github, vault, auto.
    #[arg(long = "format", value_name = "[TOPIC=]FORMAT")]
    pub formats: Vec<String>,
    /// Keep each mapped record's original bytes in its entry (secrets redacted, then hash only).
    #[arg(long)]
    pub keep_original: bool,
    /// Submit checkpoints to this witness (c2sp.org/tlog-witness; repeatable): its URL and
    /// its cosignature verifier key, as `idledger witness vkey` prints it.
    #[arg(long = "witness", value_name = "URL=VKEY")]
    pub witnesses: Vec<String>,
    /// How often each witness is offered the latest checkpoint (default 1000).
    #[arg(long, value_name = "MS")]
    pub witness_interval_ms: Option<u64>,
    /// Serve Prometheus metrics here (e.g. 127.0.0.1:9464).
    #[arg(long)]
    pub metrics_addr: Option<String>,
    /// Exit once every assigned partition is fully in the ledger and idle this long (ms).
    #[arg(long, value_name = "MS")]
    pub until_caught_up: Option<u64>,
    /// Print the final summary as JSON (counts, and events/s over the time spent ingesting).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArg,
    /// Address to listen on (loopback by default). Any other address needs TLS, or
    /// --allow-plaintext.
    #[arg(long)]
    pub addr: Option<String>,
    /// Serve TLS with this certificate chain (PEM, leaf first); needs --tls-key. Read again on
    /// SIGHUP, for new connections.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Require every client to present a certificate signed by a CA in this PEM file (mutual
    /// TLS); [[serve.clients]] maps their subjects to roles.
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback, bearer tokens and all (for a proxy in
    /// front that terminates TLS).
    #[arg(long)]
    pub allow_plaintext: bool,
    /// Who may read the log as c2sp.org/tlog-tiles (/checkpoint, /tile/…): anyone (`public`,
    /// the default: tiles reveal what proof bundles do), `auditor` and admin roles, or nobody
    /// (`off`, 404).
    #[arg(long, value_name = "ACCESS", value_parser = tiles_access())]
    pub tiles: Option<TileAccess>,
}

/// `--tiles`: one of `TileAccess::CHOICES`, listed in `--help` and in the error for any other.
fn tiles_access() -> impl clap::builder::TypedValueParser<Value = TileAccess> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(TileAccess::CHOICES)
        .try_map(|s| s.parse::<TileAccess>())
}

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Serve `POST /add-checkpoint` (c2sp.org/tlog-witness), creating the witness key in
    /// --key-dir on first run.
    Serve(WitnessServeArgs),
    /// Print the witness's verifier key (c2sp.org/tlog-cosignature, type 0x04).
    Vkey,
}

#[derive(Debug, Args)]
pub struct WitnessServeArgs {
    /// Where the latest cosigned size and root of each log are kept (one file per log).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Address to listen on (default 127.0.0.1:7380, loopback).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A log to witness: its origin and a verifier key trusted for it (repeatable; an origin
    /// may be given with several keys).
    #[arg(long = "log", value_name = "ORIGIN=VKEY", required = true)]
    pub logs: Vec<String>,
    /// The witness's name (its cosignature key name), used when the key is created; default
    /// `idledger-witness.local/<8 random hex digits>`.
    #[arg(long)]
    pub name: Option<String>,
}
