//! Dispatch from a parsed command to the code that does it.

mod demo;
mod ingest;
mod ledger;
mod query;
mod serve;

use crate::cli::Command;
use crate::config::Config;

pub fn run(
    command: Command,
    config: &Config,
    key_dir: Option<&std::path::PathBuf>,
) -> anyhow::Result<()> {
    let keys = || config.key_dir(key_dir);
    match command {
        Command::Init { data, origin } => ledger::init(
            &config.data_dir(data.data.as_ref())?,
            &keys()?,
            origin.or_else(|| config.origin.clone()),
        ),
        Command::Vkey { data } => ledger::vkey(&config.data_dir(data.data.as_ref())?, &keys()?),
        Command::Checkpoint { data } => ledger::checkpoint(&config.data_dir(data.data.as_ref())?),
        Command::Append { data, input, batch } => ledger::append(
            &config.data_dir(data.data.as_ref())?,
            &keys()?,
            &input,
            batch,
        ),
        Command::Verify {
            data,
            trusted,
            vkey,
            threads,
            json,
        } => ledger::verify(
            &config.data_dir(data.data.as_ref())?,
            &ledger::TrustArgs {
                trusted: trusted.as_deref(),
                vkeys: &vkey,
                key_dir: &keys()?,
            },
            threads,
            json,
        ),
        Command::Prove { data, index } => {
            ledger::prove(&config.data_dir(data.data.as_ref())?, index)
        }
        Command::Consistency { data, from, to } => {
            ledger::consistency(&config.data_dir(data.data.as_ref())?, from, to)
        }
        Command::VerifyProof { vkey, file } => ledger::verify_proof(&vkey, &file),
        Command::RotateKey { data, finish } => {
            ledger::rotate_key(&config.data_dir(data.data.as_ref())?, &keys()?, finish)
        }
        Command::Ingest(args) => ingest::ingest(args, config, &keys()?),
        Command::DevBroker { topics, brokers } => ingest::dev_broker(&topics, brokers),
        Command::History { data, subject, out } => {
            query::history(&config.data_dir(data.data.as_ref())?, &subject, &out)
        }
        Command::Grant {
            data,
            grant_id,
            out,
        } => query::grant(&config.data_dir(data.data.as_ref())?, &grant_id, &out),
        Command::Access {
            data,
            resource,
            at,
            out,
        } => query::access(&config.data_dir(data.data.as_ref())?, &resource, &at, &out),
        Command::Report {
            data,
            name,
            group_by,
            max_age_days,
            out,
        } => query::report(
            &config.data_dir(data.data.as_ref())?,
            &name,
            group_by,
            max_age_days
                .or(config.report.max_credential_age_days)
                .unwrap_or(90),
            &out,
        ),
        Command::Serve { data, addr } => {
            serve::serve(&config.data_dir(data.data.as_ref())?, addr, config)
        }
        Command::Demo {
            data,
            events,
            partitions,
        } => demo::demo(
            data,
            key_dir.cloned().or(config.key_dir.clone()),
            events,
            partitions,
        ),
    }
}

/// Reads verifier keys, each given as text or as a file holding keys (one per line).
pub fn read_vkeys(args: &[String]) -> anyhow::Result<Vec<idledger_proto::VerifierKey>> {
    let mut keys = Vec::new();
    for arg in args {
        for key in read_vkey(arg)? {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// Reads a verifier key given as text or as a file holding it.
pub fn read_vkey(arg: &str) -> anyhow::Result<Vec<idledger_proto::VerifierKey>> {
    use anyhow::Context as _;
    let text = if std::path::Path::new(arg).is_file() {
        std::fs::read_to_string(arg)
            .with_context(|| format!("cannot read verifier key file {arg}"))?
    } else {
        arg.to_owned()
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            idledger_proto::VerifierKey::parse(l).with_context(|| {
                format!(
                    "`{}` is not a verifier key (<name>+<hex id>+<base64 key>)",
                    l.trim()
                )
            })
        })
        .collect()
}

/// Parses an RFC 3339 time given on the command line.
pub fn parse_time(flag: &str, text: &str) -> anyhow::Result<idledger_proto::Timestamp> {
    idledger_proto::Timestamp::parse_rfc3339(text)
        .map_err(|e| anyhow::anyhow!("--{flag} `{text}`: {e}"))
}
