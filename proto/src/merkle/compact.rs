//! A compact range (RFC 9162 §2.1's Merkle tree built left to right): the roots of the perfect
//! subtrees covering the leaves pushed so far, so the root of the tree at any size is a few
//! hashes away, and every perfect subtree is seen once as it completes.

use crate::hash::{Hash, empty_root, node_hash};

/// The perfect subtrees of the leaves pushed so far, largest (leftmost) first.
#[derive(Clone, Debug, Default)]
pub struct CompactRange {
    stack: Vec<(u32, Hash)>,
    leaves: u64,
}

impl CompactRange {
    /// Adds a leaf; `completed(height, index, hash)` sees every perfect subtree it completes:
    /// its height (1 for two leaves), its index among the nodes of that height, and its hash.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, Hash)) {
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            node = (level + 1, node_hash(&left, &node.1));
            completed(node.0, ((self.leaves + 1) >> node.0) - 1, node.1);
        }
        self.stack.push(node);
        self.leaves += 1;
    }

    /// The compact range of a tree of `size` leaves from the roots of its perfect subtrees,
    /// largest first, each read as `node(level, index)` (a `NodeSource`'s numbering). Whoever
    /// supplied the nodes is not trusted by this: compare `root()` with a signed root.
    pub fn from_nodes<E>(
        size: u64,
        mut node: impl FnMut(u8, u64) -> Result<Hash, E>,
    ) -> Result<CompactRange, E> {
        let mut stack = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                stack.push((level, node(level as u8, start >> level)?));
                start += 1u64 << level;
            }
        }
        Ok(CompactRange {
            stack,
            leaves: size,
        })
    }

    /// How many leaves were pushed.
    pub fn size(&self) -> u64 {
        self.leaves
    }

    /// The root of the tree of the leaves pushed so far (RFC 6962's MTH).
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(&(_, last)) => it.fold(last, |acc, &(_, left)| node_hash(&left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::reference::naive_root;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_range_resumed_from_subtree_roots_grows_as_the_one_it_resumes(n in 0usize..200, more in 0usize..80) {
            let leaves: Vec<Hash> = (0..n + more).map(|i| crate::hash::leaf_hash(&(i as u64).to_be_bytes())).collect();
            let node = |level: u8, index: u64| -> Result<Hash, ()> {
                let start = (index << level) as usize;
                Ok(naive_root(&leaves[start..start + (1usize << level)]))
            };
            let mut resumed = CompactRange::from_nodes(n as u64, node).expect("nodes");
            prop_assert_eq!(resumed.root(), naive_root(&leaves[..n]));
            for leaf in &leaves[n..] {
                resumed.push(*leaf, |_, _, _| {});
            }
            prop_assert_eq!(resumed.size(), (n + more) as u64);
            prop_assert_eq!(resumed.root(), naive_root(&leaves));
        }

        #[test]
        fn roots_and_completed_subtrees_match_the_naive_tree(n in 0usize..300) {
            let leaves: Vec<Hash> = (0..n).map(|i| crate::hash::leaf_hash(&(i as u64).to_be_bytes())).collect();
            let mut range = CompactRange::default();
            for (i, leaf) in leaves.iter().enumerate() {
                range.push(*leaf, |height, index, hash| {
                    let start = (index << height) as usize;
                    let end = start + (1usize << height);
                    assert_eq!(end, i + 1, "a subtree completes with its last leaf");
                    assert_eq!(hash, naive_root(&leaves[start..end]));
                });
                prop_assert_eq!(range.root(), naive_root(&leaves[..=i]));
            }
            prop_assert_eq!(range.size(), n as u64);
            prop_assert_eq!(range.root(), naive_root(&leaves));
        }
    }
}
