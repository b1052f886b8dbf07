//! An attacker with write access to a ledger's files but not its signing key (a database
//! administrator, a backup operator, an intruder on the host). They edit RocksDB directly and,
//! being careful, recompute everything derived from the entries that a verifier could compare:
//! the hash chain, every tile and interior hash, the indexes, back-links, the key record index,
//! the tree size and the Kafka positions. They can sign with keys of their own, never with the
//! ledger's.
#![allow(dead_code)] // Each test uses a different part.

use idledger_ledger::store::{self, *};
use idledger_ledger::tree::{DirtyTiles, Frontier, encode_tile};
use idledger_proto::entry::{Body, Entry, Origin, SystemRecord};
use idledger_proto::hash::{Hash, leaf_hash};
use std::collections::BTreeMap;
use std::path::Path;

/// The ledger's database, opened as its files.
pub struct Files {
    db: rocksdb::DB,
}

impl Files {
    pub fn open(data: &Path) -> Files {
        Files {
            db: store::open_primary(&data.join("db")).expect("open the ledger's files"),
        }
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column family")
    }

    fn all(&self, name: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut it = self.db.raw_iterator_cf(self.cf(name));
        it.seek_to_first();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            out.push((k.to_vec(), v.to_vec()));
            it.next();
        }
        out
    }

    fn clear(&self, name: &str) {
        for (k, _) in self.all(name) {
            self.db.delete_cf(self.cf(name), k).expect("delete");
        }
    }

    /// Every entry, decoded, in order.
    pub fn entries(&self) -> Vec<Entry> {
        self.all(CF_ENTRIES)
            .iter()
            .map(|(_, v)| Entry::decode(v).expect("a genuine entry decodes"))
            .collect()
    }

    /// Every stored checkpoint: (size, note).
    pub fn checkpoints(&self) -> Vec<(u64, String)> {
        self.all(CF_CHECKPOINTS)
            .into_iter()
            .map(|(k, v)| {
                (
                    be_u64(&k).expect("8-byte key"),
                    String::from_utf8(v).expect("utf8"),
                )
            })
            .collect()
    }

    pub fn delete_checkpoints(&self, which: impl Fn(u64) -> bool) {
        for (size, _) in self.checkpoints() {
            if which(size) {
                self.db
                    .delete_cf(self.cf(CF_CHECKPOINTS), seq_key(size))
                    .expect("delete");
            }
        }
    }

    pub fn put_checkpoint(&self, size: u64, note: &str) {
        self.db
            .put_cf(self.cf(CF_CHECKPOINTS), seq_key(size), note)
            .expect("put");
    }

    pub fn put(&self, cf: &str, key: &[u8], value: &[u8]) {
        self.db.put_cf(self.cf(cf), key, value).expect("put");
    }

    pub fn delete(&self, cf: &str, key: &[u8]) {
        self.db.delete_cf(self.cf(cf), key).expect("delete");
    }

    /// The root of the tree the stored tiles hold.
    pub fn root(&self) -> Hash {
        let size = be_u64(&self.get(CF_META, META_TREE_SIZE)).expect("size");
        Frontier::load(&self.db, size).expect("frontier").root()
    }

    pub fn get(&self, cf: &str, key: &[u8]) -> Vec<u8> {
        self.db
            .get_cf(self.cf(cf), key)
            .expect("get")
            .expect("present")
    }

    /// Replaces the log with `entries`, re-sequenced and re-chained, and recomputes every tile,
    /// interior hash, index, back-link, the key record index, the tree size and the positions:
    /// everything but a signature.
    pub fn rewrite(&self, entries: Vec<Entry>) {
        for cf in [
            CF_ENTRIES,
            CF_TILES,
            CF_SUBTREES,
            CF_DEDUPE,
            CF_HEADS,
            CF_RESOURCES,
            CF_POSITIONS,
        ] {
            self.clear(cf);
        }
        let (mut frontier, mut dirty) = (Frontier::default(), DirtyTiles::default());
        let mut prev = Hash::ZERO;
        let mut heads: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut dedupe: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut resources: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut positions: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        let mut key_records = Vec::new();
        for (i, mut e) in entries.into_iter().enumerate() {
            let seq = i as u64;
            e.seq = seq;
            e.prev_leaf_hash = prev.0;
            if let Body::Event(ev) = &mut e.body {
                let x = &ev.event;
                let mut link = |kind: HeadKind, id: &str| heads.insert(head_key(kind, id), seq);
                ev.links.prev_subject = link(HeadKind::Subject, &x.subject.id);
                ev.links.prev_grant = x.grant_id.as_deref().and_then(|g| link(HeadKind::Grant, g));
                ev.links.prev_credential = x
                    .credential
                    .as_ref()
                    .and_then(|c| link(HeadKind::Credential, &c.id));
                if let (Some(g), Some(r), None) = (&x.grant_id, &x.resource, ev.links.prev_grant) {
                    resources.insert(resource_key(r, g), seq);
                }
                dedupe.entry(dedupe_key(&x.source, &x.id)).or_insert(seq);
            }
            if let Body::System(
                SystemRecord::Genesis { .. }
                | SystemRecord::KeyAdded { .. }
                | SystemRecord::KeyRetired { .. },
            ) = &e.body
            {
                key_records.push(seq);
            }
            if let Origin::Kafka(k) = &e.origin {
                let slot = positions
                    .entry(position_key(&k.topic, k.partition))
                    .or_insert(0);
                *slot = (*slot).max(k.offset + 1);
            }
            let leaf = e.encode();
            self.put(CF_ENTRIES, &seq_key(seq), &leaf);
            prev = leaf_hash(&leaf);
            frontier.push(prev, &mut dirty);
        }
        for ((level, index), hashes) in &dirty.tiles {
            self.put(CF_TILES, &tile_key(*level, *index), &encode_tile(hashes));
        }
        for ((level, index), hashes) in &dirty.subtrees {
            self.put(CF_SUBTREES, &tile_key(*level, *index), &encode_tile(hashes));
        }
        for ((level, index), hashes) in frontier.partial_tiles() {
            self.put(CF_TILES, &tile_key(level, index), &encode_tile(hashes));
        }
        for (cf, index) in [
            (CF_HEADS, &heads),
            (CF_DEDUPE, &dedupe),
            (CF_RESOURCES, &resources),
        ] {
            for (k, seq) in index {
                self.put(cf, k, &seq.to_be_bytes());
            }
        }
        for (k, next) in positions {
            self.put(CF_POSITIONS, &k, &(next as u64).to_be_bytes());
        }
        self.put(CF_META, META_TREE_SIZE, &frontier.size().to_be_bytes());
        self.put(CF_META, META_KEY_RECORDS, &encode_key_records(&key_records));
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for name in ALL_CFS {
            let _ = self
                .db
                .flush_cf(self.db.cf_handle(name).expect("column family"));
        }
    }
}
