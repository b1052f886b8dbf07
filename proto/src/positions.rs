//! The digest of a ledger's Kafka positions (the next offset of every partition it consumes),
//! carried in every checkpoint's `idledger-positions` extension line so that a position cannot
//! be moved (and messages skipped) without the signing key. Layout in docs/FORMAT.md.

use crate::hash::{Hash, sha256};

/// Domain separation: the digest of positions is never the hash of anything else.
const DOMAIN: &[u8] = b"idledger-positions/v1\n";

/// SHA-256 of `DOMAIN` followed by each position, in order of (topic bytes, partition):
/// `u64 BE len(topic) || topic || i32 BE partition || i64 BE next offset`. The order of the
/// input does not matter; a (topic, partition) given twice is encoded twice.
pub fn digest<'a>(positions: impl IntoIterator<Item = (&'a str, i32, i64)>) -> Hash {
    let mut sorted: Vec<(&str, i32, i64)> = positions.into_iter().collect();
    sorted.sort_unstable();
    let mut bytes = DOMAIN.to_vec();
    for (topic, partition, next) in sorted {
        bytes.extend_from_slice(&(topic.len() as u64).to_be_bytes());
        bytes.extend_from_slice(topic.as_bytes());
        bytes.extend_from_slice(&partition.to_be_bytes());
        bytes.extend_from_slice(&next.to_be_bytes());
    }
    sha256(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_depends_on_every_position_and_not_on_order() {
        let a = [("t", 0, 5), ("t", 1, 7), ("u", 0, 1)];
        let base = digest(a);
        assert_eq!(digest([a[2], a[0], a[1]]), base);
        let changed: [[(&str, i32, i64); 3]; 4] = [
            [("t", 0, 6), a[1], a[2]],
            [("t", 0, 5), ("t", 2, 7), a[2]],
            [a[0], a[1], ("v", 0, 1)],
            [a[0], a[1], ("u", 0, 2)],
        ];
        for c in changed {
            assert_ne!(digest(c), base, "{c:?}");
        }
        assert_ne!(digest(a[..2].iter().copied()), base);
        // Length-prefixed topics: moving bytes between topic and partition changes the digest.
        assert_ne!(digest([("ab", 0, 0)]), digest([("a", 0x62, 0)]));
    }

    #[test]
    fn empty_positions_digest_is_fixed() {
        assert_eq!(digest([]), sha256(DOMAIN));
    }
}
