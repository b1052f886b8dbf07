//! Grant episodes told back from the log: each grant's entries read again in batched reads by
//! two teller threads, and told with its subject's identity changes, in grant id order.

use super::Projections;
use crate::answers::QueryError;
use crate::episode::Episode;
use idledger_ledger::{LedgerReader, ReadError};
use idledger_proto::view::{BodyView, EntryView, EventView};
use idledger_proto::{Seq, Timestamp};

/// Grants per group an episode teller reads back and tells at once.
pub(super) const EPISODE_GROUP: usize = 1024;

impl Projections {
    /// Tells the episode of every grant, in grant id order, judged at `now`, and hands each to
    /// `f` as it is told. Two threads tell alternate groups of grants from their entries, read
    /// back from the log in batched reads; only a few groups are held at a time, so memory
    /// stays bounded whatever the number of grants.
    pub fn for_each_episode<F>(
        &self,
        reader: &LedgerReader<'_>,
        now: Timestamp,
        mut f: F,
    ) -> Result<(), QueryError>
    where
        F: FnMut(&Episode) -> Result<(), QueryError>,
    {
        const TELLERS: usize = 2;
        let mut ids: Vec<&String> = self.grants.keys().collect();
        ids.sort_unstable();
        let groups: Vec<&[&String]> = ids.chunks(EPISODE_GROUP).collect();
        std::thread::scope(|s| {
            let receivers: Vec<_> = (0..TELLERS)
                .map(|w| {
                    let (tx, rx) = std::sync::mpsc::sync_channel(1);
                    let groups = &groups;
                    s.spawn(move || {
                        for group in groups.iter().skip(w).step_by(TELLERS) {
                            if tx.send(self.tell(reader, group, now)).is_err() {
                                break;
                            }
                        }
                    });
                    rx
                })
                .collect();
            for k in 0..groups.len() {
                let told = receivers[k % TELLERS].recv().map_err(|_| {
                    QueryError::Read(ReadError::Damaged("an episode worker panicked".into()))
                })??;
                for episode in &told {
                    f(episode)?;
                }
            }
            Ok(())
        })
    }

    /// The episodes of `ids`, in order.
    fn tell(
        &self,
        reader: &LedgerReader<'_>,
        ids: &[&String],
        now: Timestamp,
    ) -> Result<Vec<Episode>, QueryError> {
        let mut out = Vec::with_capacity(ids.len());
        for group in ids.chunks(EPISODE_GROUP) {
            let seqs: Vec<Seq> = group
                .iter()
                .flat_map(|id| self.grants[*id].iter().map(|&i| Seq(i)))
                .collect();
            let leaves = reader.leaves_sweeping(&seqs)?;
            let mut views = Vec::with_capacity(leaves.len());
            for (seq, leaf) in seqs.iter().zip(&leaves) {
                let view = EntryView::decode(leaf).map_err(|source| ReadError::BadEntry {
                    index: seq.0,
                    source,
                })?;
                views.push(view);
            }
            let mut next = views.into_iter();
            for id in group {
                let events: Vec<(u64, EventView<'_>)> = (&mut next)
                    .take(self.grants[*id].len())
                    .filter_map(|v| match v.body {
                        BodyView::Event(e) => Some((v.seq, e.event)),
                        _ => None,
                    })
                    .collect();
                let subject = events.first().map(|(_, e)| e.subject.id).unwrap_or("");
                let changes = self
                    .identity_changes
                    .get(subject)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                out.push(Episode::build(id, &events, changes, now));
            }
        }
        Ok(out)
    }
}
