//! Query commands: history, grant, access, report; tables by default, `--json`, and `--proofs`
//! bundles that `idledger verify-proof` checks offline.

use crate::output::{line, table};
use crate::settings::Output as OutputArgs;
use anyhow::Context as _;
use idledger_ledger::ReadOnlyLedger;
use idledger_proto::Timestamp;
use idledger_proto::bundle::ProofBundle;
use idledger_proto::entry::{Body, Entry, Origin};
use idledger_proto::printable::printable;
use idledger_query::{ReportName, ReportOptions};
use std::path::Path;

fn open(dir: &Path) -> anyhow::Result<ReadOnlyLedger> {
    ReadOnlyLedger::open(dir)
        .with_context(|| format!("cannot open the ledger in {}", dir.display()))
}

fn write_bundle(out: &OutputArgs, bundle: Option<ProofBundle>) -> anyhow::Result<()> {
    if let (Some(path), Some(b)) = (&out.proofs, bundle) {
        std::fs::write(path, b.to_json())
            .with_context(|| format!("cannot write proofs to {}", path.display()))?;
        eprintln!(
            "proof bundle ({} entries) written to {}; check it with `idledger verify-proof --vkey KEY {}`",
            b.proofs.len(),
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// One line describing an entry, for tables.
pub fn describe_entry(e: &Entry) -> Vec<String> {
    let origin = match &e.origin {
        Origin::Kafka(k) => format!("{}/{}@{}", k.topic, k.partition, k.offset),
        Origin::Local { label, line } => format!("{label}:{line}"),
        Origin::Ledger => "ledger".into(),
    };
    match &e.body {
        Body::Event(ev) => {
            let x = &ev.event;
            let mut what = String::new();
            if let Some(m) = &x.membership {
                what.push_str(&format!("{m} membership "));
            }
            if let Some(g) = &x.grant_id {
                what.push_str(&format!("grant {g} "));
            }
            if let Some(r) = &x.resource {
                what.push_str(&format!("{r} "));
            }
            if let Some(c) = &x.credential {
                what.push_str(&format!("{} {} ", c.kind, c.id));
            }
            if let Some(o) = &x.owner {
                what.push_str(&format!("owner {o} "));
            }
            if let Some(d) = &x.decision {
                what.push_str(&format!("decision {d} "));
            }
            if let Some(r) = &x.reason {
                what.push_str(&format!("\"{r}\""));
            }
            let kind = if x.outcome.is_success() {
                x.kind.to_string()
            } else {
                format!("{} (failed)", x.kind)
            };
            // The source record, when the event was mapped: its format and the source's id (the
            // JSON output has all of it, the original bytes included when kept).
            let source = match &ev.record {
                Some(r) => format!("{origin} {}:{}", r.format.as_str(), r.event_id),
                None => origin,
            };
            vec![
                e.seq.to_string(),
                x.time.to_string(),
                kind,
                x.actor.as_ref().map_or("-".into(), |a| a.id.clone()),
                what.trim().to_owned(),
                source,
            ]
        }
        Body::Quarantined(r) => vec![
            e.seq.to_string(),
            e.received_at.to_string(),
            "quarantined".into(),
            "-".into(),
            r.reason.to_string(),
            origin,
        ],
        Body::System(s) => vec![
            e.seq.to_string(),
            e.received_at.to_string(),
            "system".into(),
            "-".into(),
            format!("{s:?}"),
            origin,
        ],
    }
}

/// Prints a subject's history; returns the index a follow goes on from (past every entry the
/// answer could have seen).
pub fn history(dir: &Path, subject: &str, out: &OutputArgs) -> anyhow::Result<u64> {
    let ro = open(dir)?;
    let r = ro.reader();
    let answered = r.size()?.0;
    let (h, bundle) = match &out.proofs {
        Some(_) => {
            let (h, b) = idledger_query::history_proven(&r, subject)?;
            (h, Some(b))
        }
        None => (idledger_query::history(&r, subject)?, None),
    };
    if out.json {
        line(serde_json::to_string_pretty(&h)?)?;
    } else {
        line(format!(
            "history of {}: {} entries",
            printable(subject),
            h.entries.len()
        ))?;
        let rows: Vec<Vec<String>> = h.entries.iter().map(describe_entry).collect();
        table(
            &["index", "time", "type", "actor", "details", "source"],
            &rows,
        )?;
        line(if h.gap_free {
            "gap check: every entry links back to the one before it; none is missing".to_owned()
        } else {
            "gap check FAILED: the back-links do not form an unbroken chain".to_owned()
        })?;
    }
    write_bundle(out, bundle)?;
    Ok(follow_from(answered, &h.entries))
}

/// Where a follow of an answer goes on: after the log's size when the answer was read, or after
/// the answer's last entry if one landed while it was read.
fn follow_from(answered: u64, entries: &[Entry]) -> u64 {
    entries
        .last()
        .map_or(answered, |last| answered.max(last.seq + 1))
}

/// Prints a grant's answer; returns the index a follow goes on from.
pub fn grant(dir: &Path, grant_id: &str, out: &OutputArgs) -> anyhow::Result<u64> {
    let ro = open(dir)?;
    let r = ro.reader();
    let answered = r.size()?.0;
    let (a, bundle) = match &out.proofs {
        Some(_) => {
            let (a, b) = idledger_query::grant_proven(&r, grant_id, out.now)?;
            (a, Some(b))
        }
        None => (idledger_query::grant(&r, grant_id, out.now)?, None),
    };
    if out.json {
        line(serde_json::to_string_pretty(&a)?)?;
    } else {
        let ep = &a.episode;
        line(format!(
            "grant {}: {} on {} ({:?})",
            printable(grant_id),
            printable(ep.subject.as_ref().map_or("?", |s| s.id.as_str())),
            printable(ep.resource.as_deref().unwrap_or("?")),
            ep.status
        ))?;
        let rows: Vec<Vec<String>> = a.entries.iter().map(describe_entry).collect();
        table(
            &["index", "time", "type", "actor", "details", "source"],
            &rows,
        )?;
        line(format!("who approved: {}", printable(&a.who_approved)))?;
        line(format!("why:          {}", printable(&a.why)))?;
        line(format!("access ended: {}", printable(&a.when_ended)))?;
        for f in &ep.flags {
            line(format!(
                "flag: {}",
                serde_json::to_value(f)?
                    .get("flag")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
            ))?;
        }
    }
    write_bundle(out, bundle)?;
    Ok(follow_from(answered, &a.entries))
}

pub fn access(dir: &Path, resource: &str, at: Timestamp, out: &OutputArgs) -> anyhow::Result<()> {
    let ro = open(dir)?;
    let r = ro.reader();
    let (rows, bundle) = match &out.proofs {
        Some(path) => {
            let (rows, bundle) = idledger_query::access_proven(&r, resource, at, out.now)?;
            if bundle.is_none() {
                eprintln!(
                    "no grant gave access, so there is nothing to prove: no bundle written to {}",
                    path.display()
                );
            }
            (rows, bundle)
        }
        None => (idledger_query::access_at(&r, resource, at, out.now)?, None),
    };
    if out.json {
        line(serde_json::to_string_pretty(&rows)?)?;
    } else {
        line(format!(
            "access to {} at {at}: {} grants",
            printable(resource),
            rows.len()
        ))?;
        let t: Vec<Vec<String>> = rows
            .iter()
            .map(|x| {
                vec![
                    x.subject.clone(),
                    x.grant_id.clone(),
                    x.granted_at.map_or("-".into(), |t| t.to_string()),
                    if x.approvers.is_empty() {
                        "(none)".into()
                    } else {
                        x.approvers.join(", ")
                    },
                    x.ends
                        .or(x.expires_at)
                        .map_or("-".into(), |t| t.to_string()),
                ]
            })
            .collect();
        table(&["subject", "grant", "granted", "approved by", "until"], &t)?;
    }
    write_bundle(out, bundle)
}

fn human_seconds(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    let s = s.round() as i64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn report(
    dir: &Path,
    name: ReportName,
    group_by: Option<String>,
    max_age_days: u64,
    out: &OutputArgs,
) -> anyhow::Result<()> {
    let ro = open(dir)?;
    let reader = ro.reader();
    let projections = idledger_query::Projections::replay(&reader)?;
    let opts = ReportOptions {
        now: out.now,
        max_credential_age_days: max_age_days,
        group_by,
    };
    let rep = idledger_query::report(&projections, &reader, name, &opts)?;
    if out.json {
        return line(serde_json::to_string_pretty(&rep)?).map_err(Into::into);
    }
    line(format!(
        "report {} as of {}{}",
        name.as_str(),
        rep.now,
        rep.group_by
            .as_ref()
            .map(|g| format!(", grouped by {g}"))
            .unwrap_or_default()
    ))?;
    for g in &rep.groups {
        let figures: Vec<String> = g
            .figures
            .iter()
            .map(|(k, v)| {
                if k.ends_with("_seconds") {
                    format!("{}={}", k.trim_end_matches("_seconds"), human_seconds(*v))
                } else if v.fract() == 0.0 {
                    format!("{k}={v}")
                } else {
                    format!("{k}={v:.2}")
                }
            })
            .collect();
        line(format!("[{}] {}", g.key, figures.join("  ")))?;
        let rows: Vec<Vec<String>> = g
            .items
            .iter()
            .map(|i| {
                vec![
                    i.kind.to_owned(),
                    i.id.clone(),
                    i.index.map_or("-".into(), |x| x.to_string()),
                    i.detail.clone(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            table(&["finding", "id", "entry", "detail"], &rows)?;
        }
    }
    if rep.groups.is_empty() {
        line("nothing to report")?;
    }
    Ok(())
}
