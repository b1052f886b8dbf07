//! The right edge of a Merkle tree (RFC 9162 §2.1, a compact range): the roots of the perfect
//! subtrees covering its leaves, largest first. The monitor rebuilds the kept tree's frontier
//! from the new tiles (proving the kept root is a prefix of the new tree), then pushes every new
//! leaf, checking each perfect subtree it completes against the tiles, up to the new root.
//! proto's `CompactRange` cannot start from a frontier; this one can, and is tested against it.

use idledger_proto::Hash;
use idledger_proto::hash::{empty_root, node_hash};

/// The perfect subtrees of the leaves so far, largest (leftmost) first, as (height, hash).
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves, from its perfect subtrees: `node(height, index)`
    /// is the root of the `2^height` leaves from `index << height`.
    pub fn from_nodes<E>(
        size: u64,
        mut node: impl FnMut(u32, u64) -> Result<Hash, E>,
    ) -> Result<Frontier, E> {
        let mut stack = Vec::new();
        for height in (0..64u32).rev() {
            if size & (1u64 << height) != 0 {
                // The subtree starts where the larger ones before it end.
                let start = (size >> height >> 1) << 1 << height;
                stack.push((height, node(height, start >> height)?));
            }
        }
        Ok(Frontier { stack, size })
    }

    /// Adds a leaf; `completed(height, index, hash)` sees every perfect subtree it completes,
    /// height 1 and up.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, Hash)) {
        let mut node = (0u32, leaf);
        while let Some(&(height, left)) = self.stack.last() {
            if height != node.0 {
                break;
            }
            self.stack.pop();
            node = (height + 1, node_hash(&left, &node.1));
            completed(node.0, ((self.size + 1) >> node.0) - 1, node.1);
        }
        self.stack.push(node);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// RFC 6962's root of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(&(_, last)) => it.fold(last, |acc, &(_, left)| node_hash(&left, &acc)),
        }
    }
}

/// The root of a perfect subtree of `hashes` (a power of two of them), pairwise.
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[pair.len() - 1]))
            .collect();
    }
    level.first().copied().unwrap_or_else(empty_root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use idledger_proto::hash::leaf_hash;
    use idledger_proto::merkle::compact::CompactRange;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// The perfect subtree `node(height, index)` over `leaves`, naively.
    fn naive_node(leaves: &[Hash], height: u32, index: u64) -> Hash {
        let start = (index << height) as usize;
        perfect_root(&leaves[start..start + (1usize << height)])
    }

    proptest! {
        /// Started from the frontier of the first `m` leaves and pushed the rest, it sees
        /// what proto's compact range sees, from the first leaf.
        #[test]
        fn a_frontier_continues_as_a_compact_range_does(m in 0u64..600, more in 0u64..600) {
            let all = leaves(m + more);
            let mut reference = CompactRange::default();
            let mut expected = Vec::new();
            for (i, leaf) in all.iter().enumerate() {
                reference.push(*leaf, |h, idx, hash| {
                    if i as u64 >= m {
                        expected.push((h, idx, hash));
                    }
                });
            }
            let mut frontier = Frontier::from_nodes::<()>(m, |h, i| Ok(naive_node(&all, h, i)))
                .expect("every node is there");
            prop_assert_eq!(frontier.size(), m);
            let mut reference_prefix = CompactRange::default();
            for leaf in &all[..m as usize] {
                reference_prefix.push(*leaf, |_, _, _| {});
            }
            prop_assert_eq!(frontier.root(), reference_prefix.root());
            let mut seen = Vec::new();
            for leaf in &all[m as usize..] {
                frontier.push(*leaf, |h, idx, hash| seen.push((h, idx, hash)));
            }
            prop_assert_eq!(seen, expected);
            prop_assert_eq!(frontier.root(), reference.root());
        }
    }
}
