//! "Was this credential used after it was revoked, or this identity after it was disabled?":
//! every credential whose latest successful use (a `credential.used` or `identity.authenticated`
//! naming it) is later than its revocation or expiry, and every identity whose latest use is
//! later than the change that disabled or deleted it and that nothing re-enabled. Each finding
//! points at the use entry, so it can be proven.

use super::{Groups, Item, ReportOptions, group, group_key};
use crate::projections::{IdentityStatus, LastUse, Projections};
use idledger_proto::Timestamp;

pub(super) fn report(p: &Projections, opts: &ReportOptions) -> Groups {
    let mut groups = Groups::new();
    for c in p.credentials_sorted() {
        let identity = p.identities.get(&c.subject);
        let key = group_key(opts, &[], identity.map(|i| &i.attributes));
        let g = group(&mut groups, key);
        *g.figures.entry("credentials_ended").or_default() += f64::from(u8::from(!c.live()));
        let ended = match (c.revoked_at, c.expired_at) {
            (Some(r), Some(e)) => Some(("revoked", r.min(e))),
            (Some(r), None) => Some(("revoked", r)),
            (None, Some(e)) => Some(("expired", e)),
            (None, None) => None,
        };
        let (Some((how, end)), Some(used)) = (ended, p.credential_uses.get(&c.id)) else {
            continue;
        };
        if used.time > end {
            *g.figures.entry("credentials_used_after_end").or_default() += 1.0;
            g.items
                .push(finding("credential_used_after_end", &c.id, how, end, used));
        }
    }
    for identity in p.identities_sorted() {
        let key = group_key(opts, &[], Some(&identity.attributes));
        let g = group(&mut groups, key);
        let Some(&(end, status, _)) = identity.changes.last() else {
            continue;
        };
        let how = match status {
            IdentityStatus::Active => continue,
            IdentityStatus::Disabled => "disabled",
            IdentityStatus::Deleted => "deleted",
        };
        *g.figures.entry("identities_ended").or_default() += 1.0;
        if let Some(used) = p.identity_uses.get(&identity.id)
            && used.time > end
        {
            *g.figures.entry("identities_used_after_end").or_default() += 1.0;
            g.items.push(finding(
                "identity_used_after_end",
                &identity.id,
                how,
                end,
                used,
            ));
        }
    }
    for g in groups.values_mut() {
        for figure in [
            "credentials_ended",
            "credentials_used_after_end",
            "identities_ended",
            "identities_used_after_end",
        ] {
            g.figures.entry(figure).or_insert(0.0);
        }
    }
    groups
}

fn finding(kind: &'static str, id: &str, how: &str, end: Timestamp, used: &LastUse) -> Item {
    Item {
        kind,
        id: id.to_owned(),
        detail: format!(
            "{how} at {end}; last used at {} ({} use{} in the log)",
            used.time,
            used.uses,
            if used.uses == 1 { "" } else { "s" }
        ),
        index: Some(used.index),
    }
}
