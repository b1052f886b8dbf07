//! The question a bundle answers and the answer as the server gave it, and the check that the
//! answer follows from the proven entries: the verifier recomputes it with the server's own
//! (pure) code, from the bundle's complete chains alone, and refuses any difference.

use super::{ChainKind, Chained};
use crate::answer::{AccessRow, GrantAnswer, identity_changes};
use crate::entry::Entry;
use crate::episode::Episode;
use crate::episode::IdentityChange;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A question and the answer given, as a bundle carries them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "question", rename_all = "snake_case", deny_unknown_fields)]
pub enum Claim {
    /// Every entry about an identity: the answer is their indexes.
    History {
        subject: String,
        answer: serde_json::Value,
    },
    /// A grant's story judged at `now` (RFC 3339): the answer is a `GrantAnswer`.
    Grant {
        grant_id: String,
        now: String,
        answer: serde_json::Value,
    },
    /// Who had access to `resource` at `at`, judged at `now`: the answer is the `AccessRow`s of
    /// the grants in the bundle that gave access then, in order of grant id.
    Access {
        resource: String,
        at: String,
        now: String,
        answer: serde_json::Value,
    },
}

/// Why a bundle's answer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClaimError {
    #[error("the bundle holds no complete chain of {kind:?} `{id}`, which the answer relies on")]
    MissingChain { kind: ChainKind, id: String },
    #[error("`{field}` is not an RFC 3339 time: {found}")]
    BadTime { field: &'static str, found: String },
    #[error("the grant `{grant}` in the bundle is not about resource `{resource}`")]
    OtherResource { grant: String, resource: String },
    #[error("the answer given does not follow from the proven entries: {detail}")]
    Mismatch { detail: String },
}

/// An answer recomputed from proven entries.
#[derive(Clone, Debug, PartialEq)]
pub enum Answered {
    History {
        subject: String,
        entries: Vec<u64>,
    },
    Grant(Box<GrantAnswer>),
    Access {
        resource: String,
        at: Timestamp,
        rows: Vec<AccessRow>,
    },
}

impl Claim {
    /// The claim for an answer, with the answer serialized as the server gives it.
    pub fn history(subject: &str, entries: &[u64]) -> Claim {
        Claim::History {
            subject: subject.to_owned(),
            answer: serde_json::json!(entries),
        }
    }

    pub fn grant(grant_id: &str, now: Timestamp, answer: &GrantAnswer) -> Claim {
        Claim::Grant {
            grant_id: grant_id.to_owned(),
            now: now.to_string(),
            answer: serde_json::to_value(answer).expect("an answer serializes"),
        }
    }

    pub fn access(resource: &str, at: Timestamp, now: Timestamp, rows: &[AccessRow]) -> Claim {
        Claim::Access {
            resource: resource.to_owned(),
            at: at.to_string(),
            now: now.to_string(),
            answer: serde_json::to_value(rows).expect("rows serialize"),
        }
    }
}

fn time(field: &'static str, text: &str) -> Result<Timestamp, ClaimError> {
    Timestamp::parse_rfc3339(text).map_err(|_| ClaimError::BadTime {
        field,
        found: text.to_owned(),
    })
}

/// The entries of a complete chain the bundle states (already checked), in order.
fn chain_of(chained: &Chained<'_>, kind: ChainKind, id: &str) -> Option<Vec<Entry>> {
    chained
        .get(&(kind, id))
        .map(|list| list.iter().map(|e| (*e).clone()).collect())
}

/// The identity changes of each subject whose chain the bundle holds, computed once per
/// subject: an access bundle tells many grants of the same few subjects, and recomputing a
/// subject's changes for each grant would cost grants × chain length.
type Identities = std::collections::HashMap<String, Vec<IdentityChange>>;

/// A grant told from its chain, with its subject's identity changes when the bundle holds the
/// subject's chain.
fn tell(
    chained: &Chained<'_>,
    grant_id: &str,
    now: Timestamp,
    identities: &mut Identities,
) -> Result<GrantAnswer, ClaimError> {
    let grant =
        chain_of(chained, ChainKind::Grant, grant_id).ok_or_else(|| ClaimError::MissingChain {
            kind: ChainKind::Grant,
            id: grant_id.to_owned(),
        })?;
    let subject = grant
        .iter()
        .find_map(|e| e.event().map(|ev| ev.subject.id.clone()))
        .unwrap_or_default();
    let identity = identities.entry(subject).or_insert_with_key(|subject| {
        chained
            .get(&(ChainKind::Subject, subject.as_str()))
            .map(|list| {
                let entries: Vec<Entry> = list.iter().map(|e| (*e).clone()).collect();
                identity_changes(&entries)
            })
            .unwrap_or_default()
    });
    Ok(GrantAnswer::tell(grant_id, &grant, identity, now))
}

fn same(given: &serde_json::Value, recomputed: &serde_json::Value) -> Result<(), ClaimError> {
    if given == recomputed {
        return Ok(());
    }
    let cut = |v: &serde_json::Value| {
        let mut s = v.to_string();
        if s.len() > 300 {
            let end = (0..=300)
                .rev()
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(0);
            s.truncate(end);
            s.push('…');
        }
        s
    };
    Err(ClaimError::Mismatch {
        detail: format!(
            "the entries give {}, the bundle says {}",
            cut(recomputed),
            cut(given)
        ),
    })
}

/// Recomputes the claim's answer from the proven entries and their complete chains, and
/// requires it to equal the answer given.
pub(crate) fn check(claim: &Claim, chained: &Chained<'_>) -> Result<Answered, ClaimError> {
    match claim {
        Claim::History { subject, answer } => {
            let chain = chain_of(chained, ChainKind::Subject, subject).ok_or_else(|| {
                ClaimError::MissingChain {
                    kind: ChainKind::Subject,
                    id: subject.clone(),
                }
            })?;
            let indexes: Vec<u64> = chain.iter().map(|e| e.seq).collect();
            same(answer, &serde_json::json!(indexes))?;
            Ok(Answered::History {
                subject: subject.clone(),
                entries: indexes,
            })
        }
        Claim::Grant {
            grant_id,
            now,
            answer,
        } => {
            let told = tell(chained, grant_id, time("now", now)?, &mut Identities::new())?;
            same(
                answer,
                &serde_json::to_value(&told).expect("an answer serializes"),
            )?;
            Ok(Answered::Grant(Box::new(told)))
        }
        Claim::Access {
            resource,
            at,
            now,
            answer,
        } => {
            let (at, now) = (time("at", at)?, time("now", now)?);
            let mut rows = Vec::new();
            let mut grants: Vec<&str> = chained
                .keys()
                .filter(|(kind, _)| *kind == ChainKind::Grant)
                .map(|(_, id)| *id)
                .collect();
            grants.sort_unstable();
            let mut identities = Identities::new();
            for grant in grants {
                let told = tell(chained, grant, now, &mut identities)?;
                let ep: &Episode = &told.episode;
                if ep.resource.as_deref() != Some(resource.as_str()) {
                    return Err(ClaimError::OtherResource {
                        grant: grant.to_owned(),
                        resource: resource.clone(),
                    });
                }
                if ep.active_at(at) {
                    rows.push(AccessRow::of(grant.to_owned(), ep));
                }
            }
            rows.sort_by(|a, b| a.grant_id.cmp(&b.grant_id));
            same(
                answer,
                &serde_json::to_value(&rows).expect("rows serialize"),
            )?;
            Ok(Answered::Access {
                resource: resource.clone(),
                at,
                rows,
            })
        }
    }
}
