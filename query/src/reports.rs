//! Identity-governance reports over the projections: lead time for access, approvals and
//! self-approvals, rotation compliance, entitlement drift, and exceptions; each can be grouped by
//! an attribute (e.g. application or business function).

use crate::answers::QueryError;
use crate::episode::{EndKind, Episode, Flag, Status};
use crate::projections::{IdentityStatus, Projections};
use idledger_ledger::LedgerReader;
use idledger_proto::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportName {
    LeadTime,
    Approvals,
    Rotation,
    Drift,
    Exceptions,
}

impl ReportName {
    pub const ALL: [ReportName; 5] = [
        ReportName::LeadTime,
        ReportName::Approvals,
        ReportName::Rotation,
        ReportName::Drift,
        ReportName::Exceptions,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReportName::LeadTime => "lead-time",
            ReportName::Approvals => "approvals",
            ReportName::Rotation => "rotation",
            ReportName::Drift => "drift",
            ReportName::Exceptions => "exceptions",
        }
    }
    pub fn parse(s: &str) -> Option<ReportName> {
        ReportName::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The time "now" is judged at (expiries, credential age).
    pub now: Timestamp,
    pub max_credential_age_days: u64,
    /// Group by this attribute of the grant, identity or credential's subject.
    pub group_by: Option<String>,
}

/// One thing a report points at.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    pub kind: &'static str,
    pub id: String,
    pub detail: String,
    /// The entry to look at (and prove).
    pub index: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Group {
    pub key: String,
    pub figures: BTreeMap<&'static str, f64>,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub name: ReportName,
    pub now: Timestamp,
    pub group_by: Option<String>,
    pub groups: Vec<Group>,
}

const NONE_KEY: &str = "(none)";

fn group_key(
    opts: &ReportOptions,
    grant_attrs: &[(String, String)],
    identity_attrs: Option<&BTreeMap<String, String>>,
) -> String {
    let Some(attr) = &opts.group_by else {
        return "all".into();
    };
    grant_attrs
        .iter()
        .find(|(k, _)| k == attr)
        .map(|(_, v)| v.clone())
        .or_else(|| identity_attrs.and_then(|a| a.get(attr).cloned()))
        .unwrap_or_else(|| NONE_KEY.into())
}

fn group(groups: &mut BTreeMap<String, Group>, key: String) -> &mut Group {
    groups.entry(key.clone()).or_insert_with(|| Group {
        key,
        ..Group::default()
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest-rank percentile.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn secs(d: i64) -> f64 {
    d as f64 / 1e9
}

pub fn report(
    p: &Projections,
    reader: &LedgerReader<'_>,
    name: ReportName,
    opts: &ReportOptions,
) -> Result<Report, QueryError> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let identity_attrs = |ep: &Episode| {
        ep.subject
            .as_ref()
            .and_then(|s| p.identities.get(&s.id))
            .map(|i| &i.attributes)
    };
    // Episodes are told a group at a time and folded into the report as they come, so a
    // report's memory is its findings, not every grant's story.
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    if name != ReportName::Rotation {
        p.for_each_episode(reader, opts.now, |ep| {
            match name {
                ReportName::LeadTime => {
                    if let (Some(r), Some(g)) = (&ep.request, &ep.granted) {
                        let key = group_key(opts, &ep.attributes, identity_attrs(ep));
                        samples
                            .entry(key)
                            .or_default()
                            .push(secs(g.time.0 - r.time.0));
                    }
                }
                ReportName::Approvals => {
                    if ep.granted.is_none() {
                        return Ok(());
                    }
                    let g = group(
                        &mut groups,
                        group_key(opts, &ep.attributes, identity_attrs(ep)),
                    );
                    *g.figures.entry("grants").or_default() += 1.0;
                    *g.figures.entry("approvals").or_default() += ep.approvals.len() as f64;
                    for f in &ep.flags {
                        if let Flag::SelfApproval { approver } = f {
                            *g.figures.entry("self_approvals").or_default() += 1.0;
                            g.items.push(Item {
                                kind: "self_approval",
                                id: ep.grant_id.clone(),
                                detail: format!(
                                    "{approver} approved access for {}",
                                    ep.subject.as_ref().map_or("?", |s| s.id.as_str())
                                ),
                                index: ep
                                    .approvals
                                    .iter()
                                    .find(|a| a.actor.as_ref() == Some(approver))
                                    .map(|a| a.index),
                            });
                        }
                    }
                    if ep.approvals.is_empty() {
                        *g.figures.entry("without_approval").or_default() += 1.0;
                    }
                }
                ReportName::Drift => {
                    // A group appears only with a finding in it.
                    let mut items = Vec::new();
                    let subject = ep.subject.as_ref().map_or("", |s| s.id.as_str());
                    let resource = ep.resource.as_deref().unwrap_or("?");
                    let last = ep.entries.last().copied();
                    let mut finding = |kind, detail, index| {
                        items.push(Item {
                            kind,
                            id: ep.grant_id.clone(),
                            detail,
                            index,
                        });
                    };
                    if ep.flags.contains(&Flag::EndedOnlyImplicitly) {
                        let expired = ep.expires_at.map(|t| t.to_string()).unwrap_or_default();
                        finding(
                            "past_expiry_no_end_event",
                            format!(
                                "{subject} on {resource}: expired {expired} with no revocation or expiry event"
                            ),
                            last,
                        );
                    }
                    if ep.flags.contains(&Flag::GrantedWithoutApproval) {
                        finding(
                            "granted_without_approval",
                            format!("{subject} on {resource}"),
                            ep.granted.as_ref().map(|g| g.index),
                        );
                    }
                    if let Some(end) = &ep.end
                        && matches!(
                            end.kind,
                            EndKind::IdentityDisabled | EndKind::IdentityDeleted
                        )
                    {
                        let became = if end.kind == EndKind::IdentityDeleted {
                            "deleted"
                        } else {
                            "disabled"
                        };
                        finding(
                            "active_grant_of_disabled_identity",
                            format!(
                                "{subject} on {resource} was never revoked; the identity was {became} at {}",
                                end.time
                            ),
                            last,
                        );
                    }
                    if !items.is_empty() {
                        let key = group_key(opts, &ep.attributes, identity_attrs(ep));
                        group(&mut groups, key).items.append(&mut items);
                    }
                }
                ReportName::Exceptions => {
                    let flag = ep.flags.iter().find(|f| {
                        matches!(
                            f,
                            Flag::ExceptionWithoutExpiry | Flag::ExceptionOutlivedExpiry
                        )
                    });
                    if !ep.exception || ep.granted.is_none() {
                        return Ok(());
                    }
                    let g = group(
                        &mut groups,
                        group_key(opts, &ep.attributes, identity_attrs(ep)),
                    );
                    *g.figures.entry("exception_grants").or_default() += 1.0;
                    if let Some(f) = flag {
                        let (kind, detail) = match f {
                            Flag::ExceptionWithoutExpiry => (
                                "exception_without_expiry",
                                "break-glass grant with no expiry".to_owned(),
                            ),
                            _ => (
                                "exception_outlived_expiry",
                                format!(
                                    "break-glass grant used past its expiry {}",
                                    ep.expires_at.map(|t| t.to_string()).unwrap_or_default()
                                ),
                            ),
                        };
                        *g.figures.entry(kind).or_default() += 1.0;
                        g.items.push(Item {
                            kind,
                            id: ep.grant_id.clone(),
                            detail: format!(
                                "{}: {detail}",
                                ep.subject.as_ref().map_or("?", |s| s.id.as_str())
                            ),
                            index: ep.entries.last().copied(),
                        });
                    }
                    if ep.status == Status::Active {
                        *g.figures.entry("still_active").or_default() += 1.0;
                    }
                }
                ReportName::Rotation => {}
            }
            Ok(())
        })?;
    }
    match name {
        ReportName::LeadTime => {
            for (key, mut s) in samples {
                s.sort_by(f64::total_cmp);
                let g = group(&mut groups, key);
                g.figures.insert("grants", s.len() as f64);
                g.figures.insert("p50_seconds", percentile(&s, 50.0));
                g.figures.insert("p90_seconds", percentile(&s, 90.0));
                g.figures
                    .insert("max_seconds", s.last().copied().unwrap_or(f64::NAN));
            }
        }
        ReportName::Approvals => {
            for g in groups.values_mut() {
                let grants = g.figures.get("grants").copied().unwrap_or(0.0);
                let approvals = g.figures.get("approvals").copied().unwrap_or(0.0);
                g.figures.insert(
                    "approvals_per_grant",
                    if grants > 0.0 {
                        approvals / grants
                    } else {
                        f64::NAN
                    },
                );
                g.figures.entry("self_approvals").or_insert(0.0);
            }
        }
        ReportName::Rotation => {
            let max_age = opts.max_credential_age_days as i64 * 86_400 * 1_000_000_000;
            for c in p.credentials_sorted() {
                let identity = p.identities.get(&c.subject);
                let g = group(
                    &mut groups,
                    group_key(opts, &[], identity.map(|i| &i.attributes)),
                );
                *g.figures.entry("credentials").or_default() += 1.0;
                if !c.live() {
                    continue;
                }
                *g.figures.entry("live").or_default() += 1.0;
                if let Some(since) = c.current_since() {
                    let age = opts.now.0 - since.0;
                    if age > max_age {
                        *g.figures.entry("over_max_age").or_default() += 1.0;
                        g.items.push(Item {
                            kind: "not_rotated",
                            id: c.id.clone(),
                            detail: format!(
                                "{} of {} unchanged for {} days (limit {})",
                                c.kind,
                                c.subject,
                                age / 86_400_000_000_000,
                                opts.max_credential_age_days
                            ),
                            index: Some(c.last_index),
                        });
                    }
                }
                if let Some(x) = c.expires_at
                    && x <= opts.now
                {
                    *g.figures.entry("past_expiry_not_revoked").or_default() += 1.0;
                    g.items.push(Item {
                        kind: "past_expiry_not_revoked",
                        id: c.id.clone(),
                        detail: format!(
                            "{} of {} expired {x} and was never revoked",
                            c.kind, c.subject
                        ),
                        index: Some(c.last_index),
                    });
                }
            }
            for g in groups.values_mut() {
                g.figures.entry("over_max_age").or_insert(0.0);
                g.figures.entry("past_expiry_not_revoked").or_insert(0.0);
            }
        }
        ReportName::Drift => {
            for i in p.identities_sorted() {
                let key = group_key(opts, &[], Some(&i.attributes));
                if !i.kind.is_human() && i.owner.is_none() && i.status != IdentityStatus::Deleted {
                    group(&mut groups, key.clone()).items.push(Item {
                        kind: "non_human_without_owner",
                        id: i.id.clone(),
                        detail: format!("{} has no owner", i.kind),
                        index: i.changes.last().map(|c| c.2),
                    });
                }
            }
            for c in p.credentials_sorted() {
                let identity = p.identities.get(&c.subject);
                if c.live() && identity.is_some_and(|i| i.status == IdentityStatus::Deleted) {
                    let key = group_key(opts, &[], identity.map(|i| &i.attributes));
                    group(&mut groups, key).items.push(Item {
                        kind: "live_credential_of_deleted_identity",
                        id: c.id.clone(),
                        detail: format!("{} of deleted {}", c.kind, c.subject),
                        index: Some(c.last_index),
                    });
                }
            }
            for g in groups.values_mut() {
                let mut counts: BTreeMap<&'static str, f64> = BTreeMap::new();
                for it in &g.items {
                    *counts.entry(it.kind).or_default() += 1.0;
                }
                g.figures = counts;
            }
        }
        ReportName::Exceptions => {}
    }
    Ok(Report {
        name,
        now: opts.now,
        group_by: opts.group_by.clone(),
        groups: groups.into_values().collect(),
    })
}
