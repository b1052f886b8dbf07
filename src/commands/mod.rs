//! Dispatch from a parsed command to the code that does it.

mod append;
mod demo;
mod export;
mod export_kafka;
mod follow;
mod ingest;
mod ledger;
mod monitor;
mod proofs;
mod query;
pub mod serve;
mod verify;
mod witness;
mod witnessed;

use crate::settings::Job;

/// Runs a resolved job.
pub fn run(job: Job) -> anyhow::Result<()> {
    match job {
        Job::Init {
            ledger,
            origin,
            token,
        } => ledger::init(&ledger.data, &ledger.keys, origin, token),
        Job::Vkey(l) => ledger::vkey(&l.data, &l.keys),
        Job::Checkpoint(data) => ledger::checkpoint(&data),
        Job::Append {
            ledger,
            input,
            batch,
            format,
            format_settings,
        } => append::append(
            &ledger.data,
            &ledger.keys,
            &input,
            batch,
            format,
            &format_settings,
        ),
        Job::Verify {
            data,
            trust,
            threads,
            json,
        } => verify::verify(&data, &trust, threads, json),
        Job::Prove { data, index } => ledger::prove(&data, index),
        Job::Consistency { data, from, to } => ledger::consistency(&data, from, to),
        Job::VerifyProof {
            vkeys,
            policy,
            file,
        } => proofs::verify_proof(&vkeys, policy.as_deref(), &file),
        Job::VerifyConsistency {
            vkeys,
            policy,
            old,
            new,
            proof,
        } => proofs::verify_consistency(&vkeys, policy.as_deref(), &old, &new, &proof),
        Job::VerifyCheckpoint { policy, checkpoint } => witnessed::verify(&policy, &checkpoint),
        Job::Export {
            data,
            options,
            out,
            times,
            follow,
            to_kafka,
        } => export::export(&data, options, out.as_deref(), times, follow, to_kafka),
        Job::VerifyExport {
            vkeys,
            policy,
            contiguous,
            file,
        } => export::verify_export(&vkeys, policy.as_deref(), contiguous, &file),
        Job::TilesExport { data, dir } => ledger::tiles_export(&data, &dir),
        Job::RotateKey {
            ledger,
            finish,
            token,
        } => ledger::rotate_key(&ledger.data, &ledger.keys, finish, token),
        Job::Ingest(settings) => ingest::ingest(*settings),
        Job::DevBroker { topics, brokers } => ingest::dev_broker(&topics, brokers),
        Job::History {
            data,
            subject,
            out,
            follow,
        } => {
            let from = query::history(&data, &subject, &out)?;
            follow::follow(&data, follow, from, &out, &follow::About::Subject(subject))
        }
        Job::Grant {
            data,
            grant_id,
            out,
            follow,
        } => {
            let from = query::grant(&data, &grant_id, &out)?;
            follow::follow(&data, follow, from, &out, &follow::About::Grant(grant_id))
        }
        Job::Access {
            data,
            resource,
            at,
            out,
        } => query::access(&data, &resource, at, &out),
        Job::Report {
            data,
            name,
            group_by,
            max_age_days,
            out,
        } => query::report(&data, name, group_by, max_age_days, &out),
        Job::Serve(settings) => serve::serve(*settings),
        Job::Witness(job) => witness::run(job),
        Job::Monitor {
            url,
            vkeys,
            policy,
            state,
            once,
            interval_ms,
        } => monitor::monitor(&url, &vkeys, policy.as_deref(), &state, once, interval_ms),
        Job::Demo {
            data,
            keys,
            events,
            partitions,
        } => demo::demo(data, keys, events, partitions),
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

/// Reads a witness policy file (docs/WITNESS.md).
pub fn read_policy(
    path: &std::path::Path,
) -> anyhow::Result<idledger_proto::witness_policy::Policy> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file {}", path.display()))?;
    idledger_proto::witness_policy::Policy::parse(&text)
        .with_context(|| format!("bad policy file {}", path.display()))
}
