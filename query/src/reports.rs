//! Identity-governance reports over the projections: lead time for access, approvals and
//! self-approvals, rotation compliance, entitlement drift, exceptions, and credentials or
//! identities used after they ended; each can be grouped by
//! an attribute (e.g. application or business function), and read a page at a time.
//!
//! Every time and count a report works with came from the ledger or from its caller, and leaf
//! entries are permanent: a report that failed on one would fail on it forever. So differences
//! of times are taken in `i128` (the difference of two `i64` always fits there, so an age or a
//! lead time is exact however far apart the two times are), and the parameters are bounded
//! before anything is computed.

mod page;
#[cfg(test)]
pub(crate) mod tests;
mod used_after_end;

pub use page::{PageInfo, ReportPage};

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
    UsedAfterEnd,
}

impl ReportName {
    pub const ALL: [ReportName; 6] = [
        ReportName::LeadTime,
        ReportName::Approvals,
        ReportName::Rotation,
        ReportName::Drift,
        ReportName::Exceptions,
        ReportName::UsedAfterEnd,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReportName::LeadTime => "lead-time",
            ReportName::Approvals => "approvals",
            ReportName::Rotation => "rotation",
            ReportName::Drift => "drift",
            ReportName::Exceptions => "exceptions",
            ReportName::UsedAfterEnd => "used-after-end",
        }
    }
    pub fn parse(s: &str) -> Option<ReportName> {
        ReportName::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::str::FromStr for ReportName {
    type Err = String;
    fn from_str(s: &str) -> Result<ReportName, String> {
        ReportName::parse(s).ok_or_else(|| {
            let names: Vec<&str> = ReportName::ALL.iter().map(|r| r.as_str()).collect();
            format!("no report `{s}`; reports are {}", names.join(", "))
        })
    }
}

/// The smallest credential age limit a rotation report takes, in days.
pub const MIN_MAX_AGE_DAYS: u64 = 1;
/// The largest credential age limit a rotation report takes, in days (a century).
pub const MAX_MAX_AGE_DAYS: u64 = 36_500;

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The time "now" is judged at (expiries, credential age).
    pub now: Timestamp,
    /// Between `MIN_MAX_AGE_DAYS` and `MAX_MAX_AGE_DAYS`; `report` refuses anything else.
    pub max_credential_age_days: u64,
    /// Group by this attribute of the grant, identity or credential's subject.
    pub group_by: Option<String>,
}

impl ReportOptions {
    /// Refuses parameters outside their bounds, naming the bound.
    pub fn check(&self) -> Result<(), QueryError> {
        let days = self.max_credential_age_days;
        if !(MIN_MAX_AGE_DAYS..=MAX_MAX_AGE_DAYS).contains(&days) {
            return Err(QueryError::BadRequest(format!(
                "the credential age limit (max_age_days) must be between {MIN_MAX_AGE_DAYS} and {MAX_MAX_AGE_DAYS} days, found {days}"
            )));
        }
        Ok(())
    }
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

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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

type Groups = BTreeMap<String, Group>;

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

/// The group key of an episode: its grant's attribute, else its subject's.
fn episode_key(p: &Projections, opts: &ReportOptions, ep: &Episode) -> String {
    let identity = ep
        .subject
        .as_ref()
        .and_then(|s| p.identities.get(&s.id))
        .map(|i| &i.attributes);
    group_key(opts, &ep.attributes, identity)
}

fn group(groups: &mut Groups, key: String) -> &mut Group {
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

/// `later - earlier` in nanoseconds, exactly: two `i64` times are never further apart than
/// `i128` holds (an event from 1700 and one from 2200 are, in `i64`).
fn between(earlier: Timestamp, later: Timestamp) -> i128 {
    i128::from(later.0) - i128::from(earlier.0)
}

fn secs(nanos: i128) -> f64 {
    nanos as f64 / 1e9
}

pub fn report(
    p: &Projections,
    reader: &LedgerReader<'_>,
    name: ReportName,
    opts: &ReportOptions,
) -> Result<Report, QueryError> {
    opts.check()?;
    let groups = match name {
        ReportName::LeadTime => lead_time(p, reader, opts)?,
        ReportName::Approvals => approvals(p, reader, opts)?,
        ReportName::Rotation => rotation(p, opts),
        ReportName::Drift => drift(p, reader, opts)?,
        ReportName::Exceptions => exceptions(p, reader, opts)?,
        ReportName::UsedAfterEnd => used_after_end::report(p, opts),
    };
    Ok(Report {
        name,
        now: opts.now,
        group_by: opts.group_by.clone(),
        groups: groups.into_values().collect(),
    })
}

// Episodes are told a group at a time and folded into the report as they come, so a report's
// memory is its findings, not every grant's story.

fn lead_time(
    p: &Projections,
    reader: &LedgerReader<'_>,
    opts: &ReportOptions,
) -> Result<Groups, QueryError> {
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    p.for_each_episode(reader, opts.now, |ep| {
        if let (Some(r), Some(g)) = (&ep.request, &ep.granted) {
            samples
                .entry(episode_key(p, opts, ep))
                .or_default()
                .push(secs(between(r.time, g.time)));
        }
        Ok(())
    })?;
    let mut groups = Groups::new();
    for (key, mut s) in samples {
        s.sort_by(f64::total_cmp);
        let g = group(&mut groups, key);
        g.figures.insert("grants", s.len() as f64);
        g.figures.insert("p50_seconds", percentile(&s, 50.0));
        g.figures.insert("p90_seconds", percentile(&s, 90.0));
        g.figures
            .insert("max_seconds", s.last().copied().unwrap_or(f64::NAN));
    }
    Ok(groups)
}

fn approvals(
    p: &Projections,
    reader: &LedgerReader<'_>,
    opts: &ReportOptions,
) -> Result<Groups, QueryError> {
    let mut groups = Groups::new();
    p.for_each_episode(reader, opts.now, |ep| {
        if ep.granted.is_none() {
            return Ok(());
        }
        let g = group(&mut groups, episode_key(p, opts, ep));
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
        Ok(())
    })?;
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
    Ok(groups)
}

fn rotation(p: &Projections, opts: &ReportOptions) -> Groups {
    // Bounded by `ReportOptions::check`: at most a century, far inside `i128`.
    let max_age = i128::from(opts.max_credential_age_days) * NANOS_PER_DAY;
    let mut groups = Groups::new();
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
            let age = between(since, opts.now);
            if age > max_age {
                *g.figures.entry("over_max_age").or_default() += 1.0;
                g.items.push(Item {
                    kind: "not_rotated",
                    id: c.id.clone(),
                    detail: format!(
                        "{} of {} unchanged for {} days (limit {})",
                        c.kind,
                        c.subject,
                        age / NANOS_PER_DAY,
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
    groups
}

/// The drift findings of one episode.
fn episode_drift(ep: &Episode) -> Vec<Item> {
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
    items
}

fn drift(
    p: &Projections,
    reader: &LedgerReader<'_>,
    opts: &ReportOptions,
) -> Result<Groups, QueryError> {
    let mut groups = Groups::new();
    p.for_each_episode(reader, opts.now, |ep| {
        // A group appears only with a finding in it.
        let mut items = episode_drift(ep);
        if !items.is_empty() {
            group(&mut groups, episode_key(p, opts, ep))
                .items
                .append(&mut items);
        }
        Ok(())
    })?;
    for i in p.identities_sorted() {
        let key = group_key(opts, &[], Some(&i.attributes));
        if !i.kind.is_human() && i.owner.is_none() && i.status != IdentityStatus::Deleted {
            group(&mut groups, key).items.push(Item {
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
    Ok(groups)
}

fn exceptions(
    p: &Projections,
    reader: &LedgerReader<'_>,
    opts: &ReportOptions,
) -> Result<Groups, QueryError> {
    let mut groups = Groups::new();
    p.for_each_episode(reader, opts.now, |ep| {
        if !ep.exception || ep.granted.is_none() {
            return Ok(());
        }
        let flag = ep.flags.iter().find(|f| {
            matches!(
                f,
                Flag::ExceptionWithoutExpiry | Flag::ExceptionOutlivedExpiry
            )
        });
        let g = group(&mut groups, episode_key(p, opts, ep));
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
        Ok(())
    })?;
    Ok(groups)
}
