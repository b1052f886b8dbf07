//! Witnessed checkpoints kept beside the log: for each tree size a witness cosigned, the exact
//! checkpoint note the log submitted with every cosignature/v1 line it got back
//! (c2sp.org/tlog-cosignature). Kept in `meta` under `cosigned/<size u64 BE>`; the value is the
//! note itself (body, empty line, the log's signature lines, then the cosignatures), so it can
//! be served and checked as it is.
//!
//! The note is stored, not just the cosignature lines, because a checkpoint at one size can be
//! re-signed with different extension lines (a batch that moved Kafka positions only), and a
//! cosignature covers the exact text it was given. Nothing here is trusted: `verify` checks each
//! stored note's root against the tree and, with a witness policy, its signatures.

use crate::reader::{LedgerReader, ReadError};
use crate::store::{CF_META, be_u64};
use idledger_proto::TreeSize;
use idledger_proto::cosignature::split_line;
use rocksdb::DB;
use std::sync::Arc;

/// The key prefix of stored cosigned notes in `meta`.
pub const META_COSIGNED_PREFIX: &[u8] = b"cosigned/";

fn cosigned_key(size: TreeSize) -> Vec<u8> {
    let mut key = META_COSIGNED_PREFIX.to_vec();
    key.extend_from_slice(&size.0.to_be_bytes());
    key
}

impl<'a> LedgerReader<'a> {
    fn meta(&self) -> &'a rocksdb::ColumnFamily {
        self.db()
            .cf_handle(CF_META)
            .expect("meta column family exists")
    }

    /// The stored cosigned note for exactly this size, if a witness cosigned one.
    pub fn cosigned_at(&self, size: TreeSize) -> Result<Option<String>, ReadError> {
        Ok(self
            .db()
            .get_cf(self.meta(), cosigned_key(size))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The cosigned notes stored at or below `size`, newest first.
    pub fn cosigned_newest_first(
        &self,
        size: TreeSize,
    ) -> Result<Vec<(TreeSize, String)>, ReadError> {
        let mut it = self.db().raw_iterator_cf(self.meta());
        it.seek_for_prev(cosigned_key(size));
        let mut found = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let Some(raw) = k.strip_prefix(META_COSIGNED_PREFIX) else {
                break;
            };
            let size = be_u64(raw)
                .filter(|_| raw.len() == 8)
                .ok_or_else(|| ReadError::Damaged(format!("cosigned note key {k:?}")))?;
            found.push((TreeSize(size), String::from_utf8_lossy(v).into_owned()));
            it.prev();
        }
        it.status()?;
        Ok(found)
    }

    /// The newest cosigned note at or below `size`.
    pub fn latest_cosigned(&self, size: TreeSize) -> Result<Option<(TreeSize, String)>, ReadError> {
        let mut it = self.db().raw_iterator_cf(self.meta());
        it.seek_for_prev(cosigned_key(size));
        match (it.key(), it.value()) {
            (Some(k), Some(v)) if k.starts_with(META_COSIGNED_PREFIX) => {
                let raw = &k[META_COSIGNED_PREFIX.len()..];
                let size = be_u64(raw)
                    .filter(|_| raw.len() == 8)
                    .ok_or_else(|| ReadError::Damaged(format!("cosigned note key {k:?}")))?;
                Ok(Some((
                    TreeSize(size),
                    String::from_utf8_lossy(v).into_owned(),
                )))
            }
            _ => {
                it.status()?;
                Ok(None)
            }
        }
    }

    /// The latest checkpoint with whatever cosignatures were stored for its exact text.
    pub fn latest_checkpoint_cosigned(&self) -> Result<(TreeSize, String), ReadError> {
        let (size, note) = self.latest_checkpoint()?;
        Ok((size, self.with_cosignatures(size, note)?))
    }

    /// The checkpoint of `size`, if the log signed one, with whatever cosignatures were stored
    /// for its exact text.
    pub fn checkpoint_at_cosigned(&self, size: TreeSize) -> Result<Option<String>, ReadError> {
        self.checkpoint_at(size)?
            .map(|note| self.with_cosignatures(size, note))
            .transpose()
    }

    /// `note` (the checkpoint of `size`), or the cosigned note stored for its exact text.
    fn with_cosignatures(&self, size: TreeSize, note: String) -> Result<String, ReadError> {
        Ok(match self.cosigned_at(size)? {
            Some(cosigned) if body(&cosigned) == body(&note) => cosigned,
            _ => note,
        })
    }
}

/// A note's body: its text up to the empty line.
fn body(note: &str) -> &str {
    note.split_once("\n\n").map_or(note, |(text, _)| text)
}

/// A note with `line` among its signatures, replacing an earlier line by the same key (name and
/// key ID), so each witness appears once with its newest cosignature.
pub fn with_cosignature(note: &str, line: &str) -> String {
    let line = line.trim_end_matches('\n');
    let claim =
        split_line(line).map(|(name, blob)| (name.to_owned(), blob.get(..4).map(<[u8]>::to_vec)));
    let mut out = String::with_capacity(note.len() + line.len() + 1);
    let (text, signatures) = note.split_once("\n\n").unwrap_or((note, ""));
    out.push_str(text);
    out.push_str("\n\n");
    for existing in signatures.lines().filter(|l| !l.is_empty()) {
        let same_key = split_line(existing)
            .map(|(name, blob)| (name.to_owned(), blob.get(..4).map(<[u8]>::to_vec)))
            == claim;
        if !same_key {
            out.push_str(existing);
            out.push('\n');
        }
    }
    out.push_str(line);
    out.push('\n');
    out
}

/// Stores cosignatures as witnesses return them. Shares the writer's database, which is the
/// only one writing `cosigned/` keys (RocksDB lets one process open it to write); within the
/// process, `ADDING` serialises the read-modify-write of one note by several witnesses.
static ADDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Clone)]
pub struct CosignatureStore {
    db: Arc<DB>,
    origin: String,
}

impl std::fmt::Debug for CosignatureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CosignatureStore({})", self.origin)
    }
}

impl CosignatureStore {
    pub(crate) fn new(db: Arc<DB>, origin: String) -> CosignatureStore {
        CosignatureStore { db, origin }
    }

    pub fn reader(&self) -> LedgerReader<'_> {
        LedgerReader::over(&self.db, &self.origin)
    }

    /// Adds a cosignature line to the stored note for `size` (the note submitted, `note`), and
    /// syncs it. A stored note with another body (the checkpoint was re-signed at that size) is
    /// replaced: each cosignature covers only the text it was given.
    pub fn add(&self, size: TreeSize, note: &str, line: &str) -> Result<(), ReadError> {
        let _adding = ADDING.lock().unwrap_or_else(|e| e.into_inner());
        let reader = self.reader();
        let base = match reader.cosigned_at(size)? {
            Some(stored) if body(&stored) == body(note) => stored,
            _ => note.to_owned(),
        };
        let updated = with_cosignature(&base, line);
        let mut options = rocksdb::WriteOptions::default();
        options.set_sync(true);
        let meta = self
            .db
            .cf_handle(CF_META)
            .expect("meta column family exists");
        self.db
            .put_cf_opt(meta, cosigned_key(size), updated.as_bytes(), &options)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &str = "log.example/a\n5\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n\u{2014} log.example/a AAAAAAAA\n";

    #[test]
    fn a_cosignature_is_added_once_per_key() {
        // Lines as (name, key ID || payload) in base64: w1 with ID 01020304, w2 with 05060708.
        let w1_old = "\u{2014} w1 AQIDBAAA";
        let w1_new = "\u{2014} w1 AQIDBAAB";
        let w2 = "\u{2014} w2 BQYHCAAA";
        let once = with_cosignature(NOTE, w1_old);
        assert_eq!(once, format!("{NOTE}{w1_old}\n"));
        let both = with_cosignature(&once, w2);
        assert_eq!(both, format!("{NOTE}{w1_old}\n{w2}\n"));
        let renewed = with_cosignature(&both, w1_new);
        assert_eq!(renewed, format!("{NOTE}{w2}\n{w1_new}\n"));
        assert_eq!(body(&renewed), body(NOTE));
    }
}
