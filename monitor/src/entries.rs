//! The checks on each new entry that need no tree: it decodes (strictly, `Entry::decode`), it
//! says it is at its index, it chains to the entry before it, entry 0 is the genesis record,
//! each back-link points at the previous entry about the same subject, grant or credential,
//! and it holds no secret material (the rule `verify` applies, `proto::secret`).

use crate::findings::{FindingClass, Findings};
use crate::state::head_key;
use idledger_proto::decode::secret_in_entry;
use idledger_proto::view::EntryView;
use idledger_proto::{Body, Entry, Hash, SystemRecord};
use std::collections::BTreeMap;

/// What the checks carry from entry to entry: the previous leaf hash and the heads.
#[derive(Debug)]
pub struct EntryChecks<'a> {
    pub prev_leaf: Hash,
    pub heads: &'a mut BTreeMap<[u8; 32], u64>,
}

impl EntryChecks<'_> {
    /// Checks entry `index`, whose bytes hash to `leaf`.
    pub fn entry(&mut self, index: u64, bytes: &[u8], leaf: Hash, findings: &mut Findings) {
        let prev = std::mem::replace(&mut self.prev_leaf, leaf);
        let entry = match Entry::decode(bytes) {
            Ok(entry) => entry,
            Err(e) => {
                findings.add(
                    FindingClass::ModifiedEntry,
                    index,
                    format!("entry {index} does not decode: {e}"),
                );
                return;
            }
        };
        if entry.seq != index {
            findings.add(
                FindingClass::ReorderedEntries,
                index,
                format!("entry at index {index} says it is entry {}", entry.seq),
            );
        }
        if entry.prev_leaf_hash() != prev {
            let detail = match index {
                0 => "entry 0 must chain to the zero hash".to_owned(),
                _ => format!("entry {index} does not chain to entry {}", index - 1),
            };
            findings.add(FindingClass::BrokenChain, index, detail);
        }
        if index == 0 && !matches!(entry.body, Body::System(SystemRecord::Genesis { .. })) {
            findings.add(
                FindingClass::ModifiedEntry,
                0,
                "entry 0 is not the genesis record".into(),
            );
        }
        if let Body::Event(e) = &entry.body {
            let mut link = |kind: u8, id: &str, stated: Option<u64>, name: &str| {
                let actual = self.heads.insert(head_key(kind, id), index);
                if actual != stated {
                    findings.add(
                        FindingClass::BackLink,
                        index,
                        format!(
                            "entry {index}: back-link to the previous {name} entry is {}, the log has {}",
                            shown(stated),
                            shown(actual)
                        ),
                    );
                }
            };
            link(b's', &e.event.subject.id, e.links.prev_subject, "subject");
            if let Some(g) = &e.event.grant_id {
                link(b'g', g, e.links.prev_grant, "grant");
            }
            if let Some(c) = &e.event.credential {
                link(b'c', &c.id, e.links.prev_credential, "credential");
            }
        }
        if let Some(location) = EntryView::decode(bytes)
            .ok()
            .and_then(|view| secret_in_entry(bytes, &view))
        {
            findings.add(
                FindingClass::SecretMaterial,
                index,
                format!("entry {index} holds secret material at {location}"),
            );
        }
    }
}

fn shown(index: Option<u64>) -> String {
    index.map_or_else(|| "none".to_owned(), |i| format!("entry {i}"))
}
