//! One round of monitoring, without writing anything: fetch the checkpoint and verify it (the
//! log's signature, and with a policy the witnesses' quorum); check it extends the kept one (a
//! smaller size is a truncation; the kept root not reproduced from the new tiles is a fork);
//! fetch the new tiles and entry bundles, check every hash in them against the entries below
//! it and the signed root, and every new entry (`entries`). What it verified is returned for
//! `copy` to keep; any finding returns the findings instead, and nothing is kept.

use crate::entries::EntryChecks;
use crate::findings::{FindingClass, Findings};
use crate::frontier::{Frontier, perfect_root};
use crate::source::{FetchError, Source};
use crate::state::State;
use idledger_proto::cosigned::{CosignedError, check_witnesses};
use idledger_proto::hash::leaf_hash;
use idledger_proto::note::VerifierKey;
use idledger_proto::proof::{TlogProofError, VerifiedCheckpoint, verify_checkpoint};
use idledger_proto::tiles::{TILE_WIDTH, TileId, decode_entry_bundle};
use idledger_proto::witness_policy::Policy;
use idledger_proto::{Checkpoint, Hash};
use std::collections::HashMap;

/// What the monitor trusts: the log's keys, and optionally a witness policy.
#[derive(Clone, Debug)]
pub struct Trust {
    pub keys: Vec<VerifierKey>,
    pub policy: Option<Policy>,
}

/// What a round verified, for `copy` to keep.
#[derive(Debug)]
pub struct Verified {
    /// The checkpoint note, as served.
    pub note: String,
    /// The state after the round.
    pub state: State,
    /// The new tiles and bundles, by tlog-tiles path.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A round's result: verified, or findings.
#[derive(Debug)]
pub enum Checked {
    Verified(Verified),
    Findings(Findings),
}

/// Runs the checks of one round against `kept`.
pub fn check(source: &dyn Source, trust: &Trust, kept: &State) -> Result<Checked, FetchError> {
    let mut findings = Findings::default();
    let raw = source.fetch("checkpoint")?;
    let Some((note, checkpoint)) = checkpoint(raw, trust, kept, &mut findings) else {
        return Ok(Checked::Findings(findings));
    };
    let (n, m) = (kept.size, checkpoint.size.0);
    if m < n {
        findings.add(
            FindingClass::Truncation,
            m,
            format!("the log's checkpoint has {m} entries; the kept one had {n}"),
        );
        return Ok(Checked::Findings(findings));
    }
    let mut state = State {
        origin: Some(checkpoint.origin.clone()),
        ..kept.clone()
    };
    if m == n {
        if checkpoint.root != kept.root {
            findings.add(
                FindingClass::Fork,
                n,
                format!(
                    "the log's checkpoint for size {n} has root {}; the kept one has {}",
                    checkpoint.root, kept.root
                ),
            );
            return Ok(Checked::Findings(findings));
        }
        return Ok(Checked::Verified(Verified {
            note,
            state,
            files: Vec::new(),
        }));
    }
    let tiles = fetch_tiles(source, n, m)?;
    let files = match extend(&tiles, &checkpoint, &mut state, &mut findings) {
        true if findings.is_empty() => tiles.into_files(),
        _ => return Ok(Checked::Findings(findings)),
    };
    state.size = m;
    state.root = checkpoint.root;
    Ok(Checked::Verified(Verified { note, state, files }))
}

/// The checkpoint verified under the trusted keys (and policy), with the kept origin.
fn checkpoint(
    raw: Vec<u8>,
    trust: &Trust,
    kept: &State,
    findings: &mut Findings,
) -> Option<(String, Checkpoint)> {
    let at = kept.size;
    let Ok(note) = String::from_utf8(raw) else {
        findings.add(
            FindingClass::MalformedCheckpoint,
            at,
            "the checkpoint is not UTF-8 text".into(),
        );
        return None;
    };
    let verified: VerifiedCheckpoint =
        match verify_checkpoint(&note, kept.origin.as_deref(), &trust.keys) {
            Ok(v) => v,
            Err(e) => {
                let class = match e {
                    TlogProofError::Note(_) | TlogProofError::NoKeyForOrigin { .. } => {
                        FindingClass::BadSignature
                    }
                    _ => FindingClass::MalformedCheckpoint,
                };
                findings.add(class, at, format!("the checkpoint does not verify: {e}"));
                return None;
            }
        };
    if let Some(policy) = &trust.policy
        && let Err(e) = check_witnesses(&verified, policy)
    {
        let class = match e {
            CosignedError::QuorumNotMet { .. } => FindingClass::QuorumNotMet,
            _ => FindingClass::BadSignature,
        };
        findings.add(class, verified.checkpoint.size.0, e.to_string());
        return None;
    }
    Some((note, verified.checkpoint))
}

/// The tiles and bundles a round fetched, by (level, index); `None` is the entry bundles.
#[derive(Debug, Default)]
pub struct Fetched {
    order: Vec<TileId>,
    bytes: HashMap<(Option<u8>, u64), Vec<u8>>,
}

impl Fetched {
    /// Hash `position` of level `level`, if a fetched tile holds it.
    fn hash(&self, level: u8, position: u64) -> Option<Hash> {
        let tile = self.bytes.get(&(Some(level), position / TILE_WIDTH))?;
        let at = (position % TILE_WIDTH) as usize * 32;
        tile.get(at..at + 32).and_then(Hash::from_slice)
    }

    fn into_files(mut self) -> Vec<(String, Vec<u8>)> {
        self.order
            .iter()
            .filter_map(|t| {
                self.bytes
                    .remove(&(t.level, t.index))
                    .map(|b| (t.path(), b))
            })
            .collect()
    }
}

/// The tiles of the tree of `m` leaves that the tree of `n` did not have whole: at each level,
/// from the one that was partial (or the first new one) to the last; then the entry bundles
/// likewise. Full tiles already kept are immutable and are not fetched again.
pub fn needed_tiles(n: u64, m: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level_range = |level: Option<u8>, old: u64, new: u64| {
        for index in old / TILE_WIDTH..new.div_ceil(TILE_WIDTH) {
            let width = (new - index * TILE_WIDTH).min(TILE_WIDTH) as u16;
            out.push(TileId {
                level,
                index,
                width,
            });
        }
    };
    for level in 0u8..8 {
        let shift = 8 * u32::from(level);
        let new = m >> shift;
        if new == 0 {
            break;
        }
        level_range(Some(level), n >> shift, new);
    }
    level_range(None, n, m);
    out
}

fn fetch_tiles(source: &dyn Source, n: u64, m: u64) -> Result<Fetched, FetchError> {
    let mut fetched = Fetched::default();
    for tile in needed_tiles(n, m) {
        let bytes = source.fetch(&tile.path())?;
        fetched.bytes.insert((tile.level, tile.index), bytes);
        fetched.order.push(tile);
    }
    Ok(fetched)
}

/// Every check of the new tree: the tiles' sizes, the kept root from the new tiles, each
/// entry against its level-0 hash and the entry checks, each new tile hash against the
/// subtree it roots, and the new root against the checkpoint's. False when it stopped early.
/// The kept tree's frontier, rebuilt from the new tiles (after checking their sizes) and proven
/// to have the kept root; `None` with a finding otherwise.
fn kept_frontier(tiles: &Fetched, state: &State, findings: &mut Findings) -> Option<Frontier> {
    let n = state.size;
    for tile in &tiles.order {
        let len = tiles
            .bytes
            .get(&(tile.level, tile.index))
            .map_or(0, Vec::len);
        if tile.level.is_some() && len != usize::from(tile.width) * 32 {
            findings.add(
                FindingClass::ModifiedEntry,
                tile.first(),
                format!(
                    "{} has {len} bytes; a tile of {} hashes has {}",
                    tile.path(),
                    tile.width,
                    usize::from(tile.width) * 32
                ),
            );
        }
    }
    if !findings.is_empty() {
        return None;
    }
    // The kept tree's frontier, from the new tiles: each of its perfect subtrees lies in the
    // tile that was partial at the kept size, which was fetched again (wider or full).
    let node = |height: u32, index: u64| -> Result<Hash, ()> {
        let (level, r) = ((height / 8) as u8, height % 8);
        let hashes: Option<Vec<Hash>> = (index << r..(index + 1) << r)
            .map(|p| tiles.hash(level, p))
            .collect();
        hashes.map(|h| perfect_root(&h)).ok_or(())
    };
    let Ok(frontier) = Frontier::from_nodes(n, node) else {
        findings.add(
            FindingClass::Fork,
            n,
            format!("the new tiles do not hold the tree of the kept size {n}"),
        );
        return None;
    };
    if frontier.root() != state.root {
        findings.add(
            FindingClass::Fork,
            n,
            format!(
                "the new tree's first {n} entries have root {}; the kept checkpoint's root is {}: not an append-only extension",
                frontier.root(),
                state.root
            ),
        );
        return None;
    }
    Some(frontier)
}

fn extend(
    tiles: &Fetched,
    checkpoint: &Checkpoint,
    state: &mut State,
    findings: &mut Findings,
) -> bool {
    let (n, m) = (state.size, checkpoint.size.0);
    let Some(mut frontier) = kept_frontier(tiles, state, findings) else {
        return false;
    };
    let mut checks = EntryChecks {
        prev_leaf: state.last_leaf,
        heads: &mut state.heads,
    };
    for tile in tiles.order.iter().filter(|t| t.level.is_none()) {
        let Some(bundle) = tiles.bytes.get(&(None, tile.index)) else {
            continue;
        };
        let entries = match decode_entry_bundle(bundle) {
            Ok(e) if e.len() == usize::from(tile.width) => e,
            Ok(e) => {
                findings.add(
                    FindingClass::ModifiedEntry,
                    tile.first(),
                    format!(
                        "{} holds {} entries; its width is {}",
                        tile.path(),
                        e.len(),
                        tile.width
                    ),
                );
                return false;
            }
            Err(e) => {
                findings.add(
                    FindingClass::ModifiedEntry,
                    tile.first(),
                    format!("{}: {e}", tile.path()),
                );
                return false;
            }
        };
        for (i, bytes) in (tile.first()..).zip(entries) {
            let leaf = leaf_hash(bytes);
            if tiles.hash(0, i) != Some(leaf) {
                findings.add(
                    FindingClass::ModifiedEntry,
                    i,
                    format!("entry {i} does not hash to the leaf hash its tile holds"),
                );
            }
            if i < n {
                continue;
            }
            checks.entry(i, bytes, leaf, findings);
            frontier.push(leaf, |height, index, hash| {
                if height % 8 == 0 && tiles.hash((height / 8) as u8, index) != Some(hash) {
                    findings.add(
                        FindingClass::ModifiedEntry,
                        i,
                        format!("the tile hash at level {} index {index} does not match the entries below it", height / 8),
                    );
                }
            });
        }
    }
    state.last_leaf = checks.prev_leaf;
    if frontier.size() != m || frontier.root() != checkpoint.root {
        findings.add(
            FindingClass::ModifiedEntry,
            m,
            format!(
                "the served entries and tiles do not reproduce the signed root {} of size {m}",
                checkpoint.root
            ),
        );
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use idledger_proto::tiles::tiles_for;
    use proptest::prelude::*;

    proptest! {
        /// The tiles fetched are those of the new tree that the old tree did not have whole.
        #[test]
        fn needed_tiles_are_the_new_trees_not_yet_full(n in 0u64..200_000, more in 0u64..200_000) {
            let m = n + more;
            let old_full: Vec<TileId> = tiles_for(n).into_iter().filter(TileId::is_full).collect();
            let want: Vec<TileId> = tiles_for(m).into_iter().filter(|t| !old_full.contains(t)).collect();
            let mut got = needed_tiles(n, m);
            let mut want = want;
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }
}
