//! What a verified bundle proves, in plain words. Everything printed from a leaf is escaped
//! (`printable`), so no id or reason can forge a line of this text.

use super::claim::Answered;
use super::{ChainKind, VerifiedBundle};
use crate::entry::Body;
use crate::printable::printable;
use std::fmt::Write as _;

impl VerifiedBundle {
    /// What the bundle proves, in plain words.
    pub fn describe(&self) -> String {
        let cp = &self.checkpoint.checkpoint;
        let signers: Vec<String> = self
            .checkpoint
            .note
            .verified_by
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut out = String::new();
        if !self.key_records.is_empty() {
            let _ = writeln!(
                out,
                "Your key handed custody on through the key records at entries {:?}, each under a checkpoint a key you trust signed.",
                self.key_records
            );
        }
        let _ = writeln!(
            out,
            "The log `{}` signed a checkpoint of {} entries with root {} (signed by {}).",
            printable(&cp.origin),
            cp.size.0,
            cp.root.to_base64(),
            signers.join(", ")
        );
        let _ = writeln!(
            out,
            "Each of the {} entries in this bundle is in that log at the index shown:",
            self.entries.len()
        );
        for e in &self.entries {
            let what = match &e.body {
                Body::Event(ev) => format!(
                    "{} {} ({}/{}) at {}",
                    ev.event.kind,
                    printable(&ev.event.subject.id),
                    printable(&ev.event.source),
                    printable(&ev.event.id),
                    ev.event.time
                ),
                Body::Quarantined(r) => {
                    format!("quarantined input: {}", printable(&r.reason.to_string()))
                }
                Body::System(s) => format!("system record {}", printable(&format!("{s:?}"))),
            };
            let _ = writeln!(out, "  entry {}: {what}", e.seq);
        }
        self.describe_chains(&mut out);
        if let Some(answered) = &self.answered {
            describe_answer(answered, &mut out);
            self.describe_identity_coverage(answered, &mut out);
        }
        out
    }

    /// Whether the identity changes that could end a grant are in the bundle: a grant's story
    /// counts its subject's disabling or deletion only from the subject's chain.
    fn describe_identity_coverage(&self, answered: &Answered, out: &mut String) {
        let subjects: Vec<&str> = match answered {
            Answered::Grant(a) => a.episode.subject.iter().map(|s| s.id.as_str()).collect(),
            Answered::Access { rows, .. } => rows.iter().map(|r| r.subject.as_str()).collect(),
            Answered::History { .. } => Vec::new(),
        };
        let mut seen = std::collections::BTreeSet::new();
        for subject in subjects.into_iter().filter(|s| seen.insert(*s)) {
            let span = self
                .chains
                .iter()
                .find(|c| c.kind == super::ChainKind::Subject && c.id == subject);
            let _ = match span {
                Some(c) => writeln!(
                    out,
                    "The identity changes of `{}` are covered through entry {}.",
                    printable(subject),
                    c.through
                ),
                None => writeln!(
                    out,
                    "The identity changes of `{}` are not in this bundle: that the identity was not disabled or deleted (which would end its grants) is not proven by it.",
                    printable(subject)
                ),
            };
        }
    }

    fn describe_chains(&self, out: &mut String) {
        if let Some(chain) = &self.chain {
            let (first, last) = (
                self.entries.first().map(|e| e.seq),
                self.entries.last().map(|e| e.seq),
            );
            if let (Some(first), Some(last)) = (first, last) {
                let id = printable(&chain.id);
                let _ = writeln!(
                    out,
                    "The entries about {:?} `{id}` form an unbroken back-link chain from entry {first} to entry {last}: none between them is missing.",
                    chain.kind
                );
                if self.chain_from_start {
                    let _ = writeln!(
                        out,
                        "Entry {first} has no earlier link: it is the first entry ever recorded about `{id}`."
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "Entry {first} links to an earlier entry: the bundle does not cover the start of this history."
                    );
                }
                let _ = writeln!(
                    out,
                    "Entries about `{id}` after entry {last}, if any, are not covered by this bundle."
                );
            }
        }
        // The first entry of each chain, in one pass over the entries (not one per chain).
        let mut firsts: std::collections::HashMap<(ChainKind, &str), u64> =
            std::collections::HashMap::new();
        for e in &self.entries {
            if let Body::Event(ev) = &e.body {
                let ev = &ev.event;
                let ids = [
                    (ChainKind::Subject, Some(ev.subject.id.as_str())),
                    (ChainKind::Grant, ev.grant_id.as_deref()),
                    (
                        ChainKind::Credential,
                        ev.credential.as_ref().map(|c| c.id.as_str()),
                    ),
                ];
                for (kind, id) in ids {
                    if let Some(id) = id {
                        firsts.entry((kind, id)).or_insert(e.seq);
                    }
                }
            }
        }
        for span in &self.chains {
            let id = printable(&span.id);
            let first = firsts
                .get(&(span.kind, span.id.as_str()))
                .copied()
                .unwrap_or(span.through);
            let _ = writeln!(
                out,
                "Every entry about {:?} `{id}` from the first ever recorded (entry {first}) through entry {} is in this bundle, each linking back to the one before; entries about it after entry {} are not covered.",
                span.kind, span.through, span.through
            );
        }
    }
}

fn describe_answer(answered: &Answered, out: &mut String) {
    match answered {
        Answered::History { subject, entries } => {
            let _ = writeln!(
                out,
                "The answer given (the history of `{}`: entries {entries:?}) is exactly what these entries show.",
                printable(subject)
            );
        }
        Answered::Grant(a) => {
            let _ = writeln!(
                out,
                "The answer given about grant `{}` is exactly what these entries show:",
                printable(&a.episode.grant_id)
            );
            let _ = writeln!(out, "  who approved: {}", printable(&a.who_approved));
            let _ = writeln!(out, "  why: {}", printable(&a.why));
            let _ = writeln!(out, "  when access ended: {}", printable(&a.when_ended));
        }
        Answered::Access { resource, at, rows } => {
            let _ = writeln!(
                out,
                "The answer given (who had access to `{}` at {at}) is exactly what these entries show for the grants in this bundle ({} with access):",
                printable(resource),
                rows.len()
            );
            for r in rows {
                let _ = writeln!(
                    out,
                    "  {} through grant {} (approved by {})",
                    printable(&r.subject),
                    printable(&r.grant_id),
                    printable(&r.approvers.join(", "))
                );
            }
            let _ = writeln!(
                out,
                "Whether other grants of `{}` exist is not proven by this bundle.",
                printable(resource)
            );
        }
    }
}
