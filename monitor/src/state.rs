//! The monitor's state: the log's origin, the size and root of the last checkpoint it verified,
//! the leaf hash of that tree's last entry (the next entry must chain to it), and for every id
//! an entry was about, the index of the latest such entry (the next entry about it must
//! back-link there). Stored in one file, written whole and atomically by `copy`.
//!
//! Layout (big-endian): the magic line `idledger-monitor-state/v1\n`; origin (u16 length, UTF-8
//! bytes; empty before the first checkpoint); size u64; root [32]; last leaf hash [32]; the
//! number of heads u64; each head as key [32] and index u64, keys strictly ascending; and
//! SHA-256 of everything before it [32]. A head's key is SHA-256 of the id's kind (`s` subject,
//! `g` grant, `c` credential) followed by the id: 40 bytes an id whatever its length, and no
//! id's text is kept beside the copy of the entries that already hold it.

use idledger_proto::Hash;
use idledger_proto::hash::{empty_root, sha256};
use std::collections::BTreeMap;

const MAGIC: &[u8] = b"idledger-monitor-state/v1\n";

/// What the monitor holds between rounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The log's origin, from the first checkpoint verified; later ones must have the same.
    pub origin: Option<String>,
    pub size: u64,
    pub root: Hash,
    /// The leaf hash of entry `size - 1`; zero for an empty tree.
    pub last_leaf: Hash,
    /// `head_key(kind, id)` to the index of the latest entry about that id.
    pub heads: BTreeMap<[u8; 32], u64>,
}

impl Default for State {
    /// Nothing verified yet: the empty tree.
    fn default() -> State {
        State {
            origin: None,
            size: 0,
            root: empty_root(),
            last_leaf: Hash::ZERO,
            heads: BTreeMap::new(),
        }
    }
}

/// The key of an id in `State::heads`: kind `b's'`, `b'g'` or `b'c'`.
pub fn head_key(kind: u8, id: &str) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(1 + id.len());
    bytes.push(kind);
    bytes.extend_from_slice(id.as_bytes());
    sha256(&bytes).0
}

/// Why a state file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("not a monitor state file (expected the line `idledger-monitor-state/v1`)")]
    Magic,
    #[error("the state file ends early")]
    Truncated,
    #[error("the state file is damaged: its checksum does not match")]
    Checksum,
    #[error("the state file's origin is not UTF-8")]
    Origin,
    #[error("the state file's heads are not in ascending key order")]
    Order,
    #[error("the state file has {0} bytes after its end")]
    Trailing(usize),
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        let origin = self.origin.as_deref().unwrap_or("").as_bytes();
        let mut out = Vec::with_capacity(MAGIC.len() + 120 + origin.len() + 40 * self.heads.len());
        out.extend_from_slice(MAGIC);
        let len = u16::try_from(origin.len()).expect("an origin is at most 256 bytes");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(origin);
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.root.0);
        out.extend_from_slice(&self.last_leaf.0);
        out.extend_from_slice(&(self.heads.len() as u64).to_be_bytes());
        for (key, index) in &self.heads {
            out.extend_from_slice(key);
            out.extend_from_slice(&index.to_be_bytes());
        }
        let sum = sha256(&out);
        out.extend_from_slice(&sum.0);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<State, StateError> {
        let body = bytes.strip_prefix(MAGIC).ok_or(StateError::Magic)?;
        let split = body.len().checked_sub(32).ok_or(StateError::Truncated)?;
        let (body, sum) = body.split_at(split);
        if sha256(&bytes[..MAGIC.len() + split]).0 != sum {
            return Err(StateError::Checksum);
        }
        let mut r = Reader(body);
        let len = usize::from(u16::from_be_bytes(r.array()?));
        let origin = std::str::from_utf8(r.take(len)?).map_err(|_| StateError::Origin)?;
        let size = u64::from_be_bytes(r.array()?);
        let root = Hash(r.array()?);
        let last_leaf = Hash(r.array()?);
        let count = u64::from_be_bytes(r.array()?);
        // Each head is 40 bytes: a count larger than the bytes left is refused before any loop.
        if count > (r.0.len() / 40) as u64 {
            return Err(StateError::Truncated);
        }
        let mut heads = BTreeMap::new();
        let mut last: Option<[u8; 32]> = None;
        for _ in 0..count {
            let key: [u8; 32] = r.array()?;
            if last.is_some_and(|l| l >= key) {
                return Err(StateError::Order);
            }
            last = Some(key);
            heads.insert(key, u64::from_be_bytes(r.array()?));
        }
        if !r.0.is_empty() {
            return Err(StateError::Trailing(r.0.len()));
        }
        Ok(State {
            origin: (!origin.is_empty()).then(|| origin.to_owned()),
            size,
            root,
            last_leaf,
            heads,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        if self.0.len() < n {
            return Err(StateError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_state() -> impl Strategy<Value = State> {
        (
            prop::option::of("[a-z./]{1,40}"),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            prop::collection::btree_map(any::<[u8; 32]>(), any::<u64>(), 0..50),
        )
            .prop_map(|(origin, size, root, last, heads)| State {
                origin,
                size,
                root: Hash(root),
                last_leaf: Hash(last),
                heads,
            })
    }

    proptest! {
        #[test]
        fn states_round_trip(state in any_state()) {
            prop_assert_eq!(State::decode(&state.encode()), Ok(state));
        }

        /// Any one byte changed, or any cut, is refused: a damaged state is never read as
        /// another state.
        #[test]
        fn damage_is_refused(state in any_state(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let bytes = state.encode();
            let i = at.index(bytes.len());
            let mut damaged = bytes.clone();
            damaged[i] ^= flip;
            prop_assert!(State::decode(&damaged).is_err());
            prop_assert!(State::decode(&bytes[..i]).is_err());
        }
    }

    #[test]
    fn the_empty_state_is_the_empty_tree() {
        let s = State::default();
        assert_eq!(State::decode(&s.encode()), Ok(s.clone()));
        assert_eq!(s.root, empty_root());
        assert_eq!(s.encode().len(), MAGIC.len() + 2 + 8 + 32 + 32 + 8 + 32);
    }

    #[test]
    fn unordered_heads_and_trailing_bytes_are_refused() {
        let mut s = State::default();
        s.heads.insert([1; 32], 1);
        s.heads.insert([2; 32], 2);
        let bytes = s.encode();
        let body = MAGIC.len() + 2 + 8 + 32 + 32 + 8;
        let mut swapped = bytes[..bytes.len() - 32].to_vec();
        let (a, b) = (body, body + 40);
        let first: Vec<u8> = swapped[a..a + 40].to_vec();
        let second: Vec<u8> = swapped[b..b + 40].to_vec();
        swapped[a..a + 40].copy_from_slice(&second);
        swapped[b..b + 40].copy_from_slice(&first);
        let sum = sha256(&swapped);
        swapped.extend_from_slice(&sum.0);
        assert_eq!(State::decode(&swapped), Err(StateError::Order));
        let mut longer = bytes[..bytes.len() - 32].to_vec();
        longer.push(0);
        let sum = sha256(&longer);
        longer.extend_from_slice(&sum.0);
        assert_eq!(State::decode(&longer), Err(StateError::Trailing(1)));
        assert_eq!(State::decode(b"something else"), Err(StateError::Magic));
    }

    #[test]
    fn head_keys_separate_kinds() {
        assert_ne!(head_key(b's', "x"), head_key(b'g', "x"));
        assert_eq!(head_key(b's', "x"), sha256(b"sx").0);
    }
}
