//! Grant episodes: the story of one grant (request, approvals, denials, grant, reviews, end) told
//! from its entries, with the flags auditors look for and a plain answer to who approved, why, and
//! when access ended.

use crate::Timestamp;
use crate::event::{Decision, EventType, Policy, Subject};
use crate::view::EventView;
use serde::Serialize;

/// One recorded step of an episode.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub index: u64,
    pub time: Timestamp,
    pub actor: Option<String>,
    pub mfa: Option<bool>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
    pub policy: Option<Policy>,
}

impl Step {
    fn from(index: u64, e: &EventView<'_>) -> Step {
        Step {
            index,
            time: e.time,
            actor: e.actor.as_ref().map(|a| a.id.to_owned()),
            mfa: e.actor.as_ref().and_then(|a| a.mfa),
            reason: e.reason.map(str::to_owned),
            ticket: e.ticket.map(str::to_owned),
            policy: e.policy(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    Revoked,
    Expired,
    RemovedByReview,
    IdentityDisabled,
    IdentityDeleted,
    /// `expires_at` passed with no end event.
    ExpiredImplicitly,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct End {
    pub kind: EndKind,
    pub time: Timestamp,
    /// The entry that ended it (none for an implicit expiry).
    pub index: Option<u64>,
    pub actor: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Requested,
    Denied,
    Active,
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum Flag {
    /// The approver is the requester or the subject.
    SelfApproval {
        approver: String,
    },
    GrantedWithoutApproval,
    ApprovalAfterGrant {
        index: u64,
    },
    /// It ended only because `expires_at` passed; no end event was recorded.
    EndedOnlyImplicitly,
    /// Still recorded as active although `expires_at` has passed.
    ActivePastExpiry,
    /// A break-glass or emergency grant with no expiry.
    ExceptionWithoutExpiry,
    /// A break-glass or emergency grant used past its expiry.
    ExceptionOutlivedExpiry,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Episode {
    pub grant_id: String,
    pub subject: Option<Subject>,
    pub resource: Option<String>,
    pub request: Option<Step>,
    pub approvals: Vec<Step>,
    pub denials: Vec<Step>,
    pub granted: Option<Step>,
    pub expires_at: Option<Timestamp>,
    pub exception: bool,
    pub reviews: Vec<(Step, Decision)>,
    pub end: Option<End>,
    pub status: Status,
    pub flags: Vec<Flag>,
    /// Every entry of the grant, in order.
    pub entries: Vec<u64>,
    /// The grant's attributes (first value seen for each key).
    pub attributes: Vec<(String, String)>,
}

/// An identity status change relevant to a grant's end.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityChange {
    pub index: u64,
    pub time: Timestamp,
    pub kind: EventType,
    pub actor: Option<String>,
    pub reason: Option<String>,
}

impl Episode {
    /// Tells the story of `grant_id` from its entries (in index order), the subject's identity
    /// changes, and the time at which "now" is judged.
    pub fn build(
        grant_id: &str,
        events: &[(u64, EventView<'_>)],
        identity: &[IdentityChange],
        now: Timestamp,
    ) -> Episode {
        let mut ep = Episode {
            grant_id: grant_id.to_owned(),
            subject: None,
            resource: None,
            request: None,
            approvals: Vec::new(),
            denials: Vec::new(),
            granted: None,
            expires_at: None,
            exception: false,
            reviews: Vec::new(),
            end: None,
            status: Status::Requested,
            flags: Vec::new(),
            entries: Vec::new(),
            attributes: Vec::new(),
        };
        for (index, e) in events {
            ep.record(*index, e);
        }
        ep.ended_by_identity(identity);
        ep.judge_status(now);
        ep.flag_approvals();
        ep.flag_exception(now);
        ep.flags.sort();
        ep.flags.dedup();
        ep
    }

    /// One event of the grant, in index order.
    fn record(&mut self, index: u64, e: &EventView<'_>) {
        self.entries.push(index);
        if !e.outcome.is_success() {
            // In the grant's history, but a failed operation changed nothing.
            return;
        }
        self.subject.get_or_insert_with(|| e.subject());
        if self.resource.is_none() {
            self.resource = e.resource.map(str::to_owned);
        }
        for (k, v) in &e.attributes {
            if !self.attributes.iter().any(|(key, _)| key == k) {
                self.attributes.push(((*k).to_owned(), v.to_string()));
            }
        }
        let step = Step::from(index, e);
        let ending = |kind| End {
            kind,
            time: e.time,
            index: Some(index),
            actor: step.actor.clone(),
            reason: e.reason.map(str::to_owned),
        };
        match e.kind {
            EventType::AccessRequested => {
                if self.request.is_none() {
                    self.request = Some(step.clone());
                }
                if e.expires_at.is_some() && self.expires_at.is_none() {
                    self.expires_at = e.expires_at;
                }
            }
            EventType::AccessApproved => self.approvals.push(step.clone()),
            EventType::AccessDenied => self.denials.push(step.clone()),
            EventType::AccessGranted => {
                if self.granted.is_none() {
                    self.granted = Some(step.clone());
                }
                if e.expires_at.is_some() {
                    self.expires_at = e.expires_at;
                }
            }
            EventType::AccessRevoked if self.end.is_none() => {
                self.end = Some(ending(EndKind::Revoked));
            }
            EventType::AccessExpired if self.end.is_none() => {
                self.end = Some(ending(EndKind::Expired));
            }
            EventType::AccessReviewed => {
                let decision = e.decision.unwrap_or(Decision::Keep);
                self.reviews.push((step.clone(), decision));
                if decision == Decision::Revoke && self.end.is_none() {
                    self.end = Some(ending(EndKind::RemovedByReview));
                }
            }
            _ => {}
        }
        self.exception |= e.exception;
    }

    /// An identity disabled or deleted after the grant ends it (the first such change, in
    /// index order), unless an event of the grant ended it already.
    fn ended_by_identity(&mut self, identity: &[IdentityChange]) {
        let (Some(granted), None) = (&self.granted, &self.end) else {
            return;
        };
        let Some(c) = identity.iter().find(|c| {
            c.time >= granted.time
                && matches!(
                    c.kind,
                    EventType::IdentityDisabled | EventType::IdentityDeleted
                )
        }) else {
            return;
        };
        let kind = if c.kind == EventType::IdentityDeleted {
            EndKind::IdentityDeleted
        } else {
            EndKind::IdentityDisabled
        };
        self.end = Some(End {
            kind,
            time: c.time,
            index: Some(c.index),
            actor: c.actor.clone(),
            reason: c.reason.clone(),
        });
    }

    /// The status at `now`: a grant whose expiry passed with no end event ended implicitly.
    fn judge_status(&mut self, now: Timestamp) {
        self.status = match (&self.granted, &self.end) {
            (None, _) if !self.denials.is_empty() => Status::Denied,
            (None, _) => Status::Requested,
            (Some(_), Some(_)) => Status::Ended,
            (Some(_), None) => Status::Active,
        };
        let past_expiry = self.expires_at.filter(|x| *x <= now);
        if let (Status::Active, Some(at)) = (self.status, past_expiry) {
            self.end = Some(End {
                kind: EndKind::ExpiredImplicitly,
                time: at,
                index: None,
                actor: None,
                reason: None,
            });
            self.status = Status::Ended;
            self.flags.push(Flag::EndedOnlyImplicitly);
            self.flags.push(Flag::ActivePastExpiry);
        }
    }

    /// Self-approvals, approvals after the grant, and a grant with no approval before it.
    fn flag_approvals(&mut self) {
        let requester = self.request.as_ref().and_then(|r| r.actor.clone());
        let subject = self.subject.as_ref().map(|s| s.id.clone());
        for a in &self.approvals {
            if let Some(approver) = &a.actor
                && (Some(approver) == requester.as_ref() || Some(approver) == subject.as_ref())
            {
                self.flags.push(Flag::SelfApproval {
                    approver: approver.clone(),
                });
            }
            if let Some(g) = &self.granted
                && a.time > g.time
            {
                self.flags.push(Flag::ApprovalAfterGrant { index: a.index });
            }
        }
        if let Some(g) = &self.granted
            && self.approvals.iter().all(|a| a.time > g.time)
        {
            self.flags.push(Flag::GrantedWithoutApproval);
        }
    }

    /// A break-glass grant with no expiry, or used past it.
    fn flag_exception(&mut self, now: Timestamp) {
        if !self.exception || self.granted.is_none() {
            return;
        }
        let past_expiry = self.expires_at.is_some_and(|x| x <= now);
        match self.expires_at {
            None => self.flags.push(Flag::ExceptionWithoutExpiry),
            Some(x) => {
                let used_past = match &self.end {
                    Some(end) if end.kind != EndKind::ExpiredImplicitly => end.time > x,
                    _ => past_expiry,
                };
                if used_past {
                    self.flags.push(Flag::ExceptionOutlivedExpiry);
                }
            }
        }
    }

    /// Whether the grant gave access at time `t`.
    pub fn active_at(&self, t: Timestamp) -> bool {
        let Some(g) = &self.granted else { return false };
        g.time <= t
            && self.end.as_ref().is_none_or(|e| t < e.time)
            && self.expires_at.is_none_or(|x| t < x)
    }

    pub fn approvers(&self) -> Vec<String> {
        self.approvals
            .iter()
            .filter_map(|a| a.actor.clone())
            .collect()
    }

    /// Who approved.
    pub fn who_approved(&self) -> String {
        if self.approvals.is_empty() {
            return "nobody: no approval was recorded".into();
        }
        self.approvals
            .iter()
            .map(|a| {
                let mut s = format!(
                    "{} at {}",
                    a.actor.as_deref().unwrap_or("(unknown)"),
                    a.time
                );
                match a.mfa {
                    Some(true) => s.push_str(" with MFA"),
                    Some(false) => s.push_str(" without MFA"),
                    None => {}
                }
                if let Some(p) = &a.policy {
                    s.push_str(&format!(" under policy {}", p.id));
                    if let Some(v) = &p.version {
                        s.push_str(&format!(" v{v}"));
                    }
                }
                s.push_str(&format!(" (entry {})", a.index));
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Why it was requested and approved.
    pub fn why(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.request {
            let mut s = format!("requested by {}", r.actor.as_deref().unwrap_or("(unknown)"));
            if let Some(reason) = &r.reason {
                s.push_str(&format!(": \"{reason}\""));
            }
            if let Some(t) = &r.ticket {
                s.push_str(&format!(" (ticket {t})"));
            }
            parts.push(s);
        }
        for a in &self.approvals {
            if let Some(reason) = &a.reason {
                parts.push(format!(
                    "approved by {}: \"{reason}\"",
                    a.actor.as_deref().unwrap_or("(unknown)")
                ));
            }
        }
        if parts.is_empty() {
            "no reason was recorded".into()
        } else {
            parts.join("; ")
        }
    }

    /// When access ended.
    pub fn when_ended(&self) -> String {
        match (&self.granted, &self.end) {
            (None, _) if self.status == Status::Denied => {
                "never granted: the request was denied".into()
            }
            (None, _) => "never granted".into(),
            (Some(_), None) => match self.expires_at {
                Some(x) => format!("not ended: still active (expires {x})"),
                None => "not ended: still active, with no expiry".into(),
            },
            (Some(_), Some(end)) => {
                let by = end
                    .actor
                    .as_deref()
                    .map(|a| format!(" by {a}"))
                    .unwrap_or_default();
                let why = end
                    .reason
                    .as_deref()
                    .map(|r| format!(": \"{r}\""))
                    .unwrap_or_default();
                let at = end
                    .index
                    .map(|i| format!(" (entry {i})"))
                    .unwrap_or_default();
                match end.kind {
                    EndKind::Revoked => format!("revoked{by} at {}{why}{at}", end.time),
                    EndKind::Expired => format!("expired at {}{at}", end.time),
                    EndKind::RemovedByReview => {
                        format!("removed by an access review{by} at {}{why}{at}", end.time)
                    }
                    EndKind::IdentityDisabled => format!(
                        "ended when the identity was disabled{by} at {}{at}",
                        end.time
                    ),
                    EndKind::IdentityDeleted => format!(
                        "ended when the identity was deleted{by} at {}{at}",
                        end.time
                    ),
                    EndKind::ExpiredImplicitly => {
                        format!("expired at {} with no end event recorded", end.time)
                    }
                }
            }
        }
    }
}
