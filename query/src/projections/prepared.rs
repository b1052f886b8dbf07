//! Leaves as a replay worker hands them to the applying thread: a chunk's bytes back to back,
//! and for each leaf either the few fields applying it needs (a `Fact`, as spans into the
//! chunk's bytes) or where its bytes lie, to be decoded again.

use idledger_ledger::ReadError;
use idledger_proto::Timestamp;
use idledger_proto::event::{CredentialKind, EventType, Family, SubjectKind};
use idledger_proto::view::EventView;

/// One chunk of leaves read by a replay worker: the bytes back to back, and what the worker
/// made of each.
pub(super) struct LeafChunk {
    pub(super) bytes: Vec<u8>,
    pub(super) items: Vec<Prepared>,
}

/// A leaf as a replay worker hands it over. The worker has decoded (and so validated) every
/// leaf; access and credential events, nearly all of a log, arrive as the few fields applying
/// them needs, so the applying thread decodes nothing for them.
pub(super) enum Prepared {
    Fact(Fact),
    /// Applied by decoding it again: identity events, quarantined and system entries.
    Leaf {
        seq: u64,
        start: usize,
        end: usize,
    },
}

impl Prepared {
    pub(super) fn seq(&self) -> u64 {
        match self {
            Prepared::Fact(f) => f.seq,
            Prepared::Leaf { seq, .. } => *seq,
        }
    }
}

/// Where a string lies in a chunk's bytes.
#[derive(Clone, Copy)]
pub(super) struct Span {
    start: u32,
    len: u32,
}

impl Span {
    /// Where `s` lies in `base`; `None` if it does not lie inside it (then the leaf is applied
    /// from its full view instead).
    fn of(base: &[u8], s: &str) -> Option<Span> {
        let start = (s.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
        if start.checked_add(s.len())? > base.len() {
            return None;
        }
        Some(Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(s.len()).ok()?,
        })
    }

    pub(super) fn get(self, bytes: &[u8]) -> Result<&str, ReadError> {
        let start = self.start as usize;
        let end = start.checked_add(self.len as usize);
        end.and_then(|end| bytes.get(start..end))
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(|| ReadError::Damaged("a replay span is out of its chunk".into()))
    }
}

/// An access or credential event, as applying it needs it.
pub(super) struct Fact {
    pub(super) seq: u64,
    pub(super) kind: EventType,
    pub(super) time: Timestamp,
    pub(super) subject: Span,
    pub(super) subject_kind: SubjectKind,
    pub(super) grant: Option<Span>,
    pub(super) credential: Option<(Span, CredentialKind)>,
    pub(super) expires_at: Option<Timestamp>,
}

impl Fact {
    /// The fact of an event, unless it is an identity event, a use or a failed operation
    /// (applied from the full view).
    pub(super) fn of(base: &[u8], seq: u64, e: &EventView<'_>) -> Option<Fact> {
        if e.kind.family() == Family::Identity || e.kind.is_use() || !e.outcome.is_success() {
            return None;
        }
        Some(Fact {
            seq,
            kind: e.kind,
            time: e.time,
            subject: Span::of(base, e.subject.id)?,
            subject_kind: e.subject.kind,
            grant: match e.grant_id {
                Some(g) => Some(Span::of(base, g)?),
                None => None,
            },
            credential: match &e.credential {
                Some(c) => Some((Span::of(base, c.id)?, c.kind)),
                None => None,
            },
            expires_at: e.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_exist_only_for_strings_inside_the_chunk() {
        let chunk = b"xxgrant-7yy".to_vec();
        let inside = std::str::from_utf8(&chunk[2..9]).expect("utf8");
        let span = Span::of(&chunk, inside).expect("inside");
        assert_eq!(span.get(&chunk).expect("get"), "grant-7");
        let elsewhere = String::from("grant-7");
        assert!(Span::of(&chunk, &elsewhere).is_none());
        assert!(Span::of(&chunk[..5], inside).is_none(), "runs past the end");
        let empty_at_end = std::str::from_utf8(&chunk[11..]).expect("utf8");
        assert_eq!(
            Span::of(&chunk, empty_at_end)
                .expect("end")
                .get(&chunk)
                .expect("get"),
            ""
        );
    }
}
