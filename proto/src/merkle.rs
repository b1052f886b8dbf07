//! RFC 6962 / RFC 9162 Merkle tree math: roots, inclusion and consistency proofs (generation over
//! any store of complete-subtree hashes, and verification), with a naive reference model.

pub mod compact;

use crate::hash::{Hash, empty_root, node_hash};
use crate::tree_size::{Seq, TreeSize};

/// The longest proof any tree of up to 2^64 leaves can need (inclusion: 64; consistency: 65).
pub const MAX_PROOF_HASHES: usize = 65;

/// A store of complete-subtree hashes: `node(level, index)` is the root of the perfect subtree of
/// `2^level` leaves that starts at leaf `index << level`. Level 0 is the leaf hashes.
pub trait NodeSource {
    type Error;
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a proof was not produced.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofRequestError {
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("consistency needs 0 < from <= to; got from {from}, to {to}")]
    BadSizes { from: u64, to: u64 },
}

/// Why a proof did not verify. Each variant is a distinct failure a caller may report.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("proof has {found} hashes; at most {max} are possible for this tree")]
    TooLong { found: usize, max: usize },
    #[error("proof has the wrong number of hashes for this index and size")]
    WrongLength,
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    #[error("consistency sizes must satisfy from <= to; got from {from}, to {to}")]
    BadSizes { from: u64, to: u64 },
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The Merkle tree hash of leaves `[start, end)`, built from complete subtrees of `source`.
pub fn subtree_hash<S: NodeSource>(source: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let size = end - start;
    if size == 0 {
        return Ok(empty_root());
    }
    if size.is_power_of_two() && start.is_multiple_of(size) {
        let level = size.trailing_zeros() as u8;
        return source.node(level, start >> level);
    }
    let k = largest_power_of_two_below(size);
    let left = subtree_hash(source, start, start + k)?;
    let right = subtree_hash(source, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root hash of the tree of the first `size` leaves.
pub fn root<S: NodeSource>(source: &S, size: TreeSize) -> Result<Hash, S::Error> {
    subtree_hash(source, 0, size.0)
}

/// An RFC 6962 audit path for leaf `index` in the tree of `size`, leaf's sibling first.
pub fn inclusion_proof<S: NodeSource>(
    source: &S,
    index: Seq,
    size: TreeSize,
) -> Result<Result<Vec<Hash>, ProofRequestError>, S::Error> {
    if !index.is_in(size) {
        return Ok(Err(ProofRequestError::IndexOutOfRange {
            index: index.0,
            size: size.0,
        }));
    }
    let mut path = Vec::new();
    path_into(source, index.0, 0, size.0, &mut path)?;
    Ok(Ok(path))
}

fn path_into<S: NodeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        path_into(source, m, start, start + k, out)?;
        out.push(subtree_hash(source, start + k, end)?);
    } else {
        path_into(source, m - k, start + k, end, out)?;
        out.push(subtree_hash(source, start, start + k)?);
    }
    Ok(())
}

/// An RFC 6962 consistency proof between the trees of sizes `from` and `to`. Empty when
/// `from == to`; `from` must be at least 1.
pub fn consistency_proof<S: NodeSource>(
    source: &S,
    from: TreeSize,
    to: TreeSize,
) -> Result<Result<Vec<Hash>, ProofRequestError>, S::Error> {
    if from.0 == 0 || from.0 > to.0 {
        return Ok(Err(ProofRequestError::BadSizes {
            from: from.0,
            to: to.0,
        }));
    }
    let mut proof = Vec::new();
    if from.0 < to.0 {
        subproof_into(source, from.0, 0, to.0, true, &mut proof)?;
    }
    Ok(Ok(proof))
}

fn subproof_into<S: NodeSource>(
    source: &S,
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree_hash(source, start, end)?);
        }
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof_into(source, m, start, start + k, whole, out)?;
        out.push(subtree_hash(source, start + k, end)?);
    } else {
        subproof_into(source, m - k, start + k, end, false, out)?;
        out.push(subtree_hash(source, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: checks that `leaf_hash` is leaf `index` of the tree of `size` with `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: Seq,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if !index.is_in(size) {
        return Err(ProofError::IndexOutOfRange {
            index: index.0,
            size: size.0,
        });
    }
    if proof.len() > 64 {
        return Err(ProofError::TooLong {
            found: proof.len(),
            max: 64,
        });
    }
    let (mut f, mut s) = (index.0, size.0 - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: checks that the tree of size `to` with `to_root` extends the tree of size
/// `from` with `from_root`. A tree of size 0 is consistent with every tree; equal sizes need an
/// empty proof and equal roots.
pub fn verify_consistency(
    from: TreeSize,
    to: TreeSize,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from.0 > to.0 {
        return Err(ProofError::BadSizes {
            from: from.0,
            to: to.0,
        });
    }
    if proof.len() > MAX_PROOF_HASHES {
        return Err(ProofError::TooLong {
            found: proof.len(),
            max: MAX_PROOF_HASHES,
        });
    }
    if from.0 == 0 {
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if from.0 == to.0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if from_root == to_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.0.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (from.0 - 1, to.0 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *from_root || sr != *to_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// A naive model of RFC 6962 over an in-memory list of leaf hashes: the reference the stored tree
/// is tested against, and a `NodeSource` for small trees.
pub mod reference {
    use super::*;

    /// MTH(D[n]) computed by the RFC's recursive definition, directly on leaf hashes.
    pub fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    /// PATH(m, D[n]) by the RFC's recursive definition.
    pub fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = largest_power_of_two_below(n as u64) as usize;
        if m < k {
            let mut p = naive_path(m, &leaves[..k]);
            p.push(naive_root(&leaves[k..]));
            p
        } else {
            let mut p = naive_path(m - k, &leaves[k..]);
            p.push(naive_root(&leaves[..k]));
            p
        }
    }

    /// PROOF(m, D[n]) by the RFC's recursive definition (SUBPROOF with b = true).
    pub fn naive_consistency(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        fn sub(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
            let n = d.len();
            if m == n {
                return if b { Vec::new() } else { vec![naive_root(d)] };
            }
            let k = largest_power_of_two_below(n as u64) as usize;
            if m <= k {
                let mut p = sub(m, &d[..k], b);
                p.push(naive_root(&d[k..]));
                p
            } else {
                let mut p = sub(m - k, &d[k..], false);
                p.push(naive_root(&d[..k]));
                p
            }
        }
        if m == 0 || m >= leaves.len() {
            Vec::new()
        } else {
            sub(m, leaves, true)
        }
    }

    /// Leaf hashes in memory with every complete-subtree hash precomputed level by level.
    #[derive(Debug, Default, Clone)]
    pub struct MemoryTree {
        levels: Vec<Vec<Hash>>,
    }

    impl MemoryTree {
        pub fn new(leaves: Vec<Hash>) -> MemoryTree {
            let mut levels = vec![leaves];
            while levels.last().is_some_and(|l| l.len() > 1) {
                let below = levels.last().expect("non-empty");
                let above = below
                    .chunks_exact(2)
                    .map(|p| node_hash(&p[0], &p[1]))
                    .collect();
                levels.push(above);
            }
            MemoryTree { levels }
        }

        pub fn push(&mut self, leaf: Hash) {
            if self.levels.is_empty() {
                self.levels.push(Vec::new());
            }
            self.levels[0].push(leaf);
            let mut level = 0;
            while self.levels[level].len().is_multiple_of(2) {
                let l = &self.levels[level];
                let parent = node_hash(&l[l.len() - 2], &l[l.len() - 1]);
                if self.levels.len() == level + 1 {
                    self.levels.push(Vec::new());
                }
                self.levels[level + 1].push(parent);
                level += 1;
            }
        }

        pub fn len(&self) -> u64 {
            self.levels.first().map_or(0, |l| l.len() as u64)
        }

        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    impl NodeSource for MemoryTree {
        type Error = std::convert::Infallible;
        fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
            Ok(self.levels[level as usize][index as usize])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reference::*;
    use super::*;
    use crate::hash::leaf_hash;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    fn unwrap_ok<T>(r: Result<T, std::convert::Infallible>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => match e {},
        }
    }

    /// Every tree size up to 300 and every index and size pair in range: the generated root and
    /// proofs equal the naive RFC 6962 definitions, and every proof verifies.
    #[test]
    fn proofs_equal_reference_for_all_sizes_up_to_300() {
        let all = leaves(300);
        for n in 1..=300usize {
            let tree = MemoryTree::new(all[..n].to_vec());
            let root_n = unwrap_ok(root(&tree, TreeSize(n as u64)));
            assert_eq!(root_n, naive_root(&all[..n]), "root of {n}");
            for m in 0..n {
                let path = unwrap_ok(inclusion_proof(&tree, Seq(m as u64), TreeSize(n as u64)))
                    .expect("in range");
                assert_eq!(path, naive_path(m, &all[..n]), "path {m} of {n}");
                verify_inclusion(&all[m], Seq(m as u64), TreeSize(n as u64), &path, &root_n)
                    .unwrap_or_else(|e| panic!("inclusion {m} of {n}: {e}"));
            }
            for m in 1..=n {
                let proof = unwrap_ok(consistency_proof(
                    &tree,
                    TreeSize(m as u64),
                    TreeSize(n as u64),
                ))
                .expect("valid sizes");
                assert_eq!(
                    proof,
                    naive_consistency(m, &all[..n]),
                    "consistency {m}->{n}"
                );
                let root_m = naive_root(&all[..m]);
                verify_consistency(
                    TreeSize(m as u64),
                    TreeSize(n as u64),
                    &root_m,
                    &root_n,
                    &proof,
                )
                .unwrap_or_else(|e| panic!("consistency {m}->{n}: {e}"));
            }
        }
    }

    #[test]
    fn requests_out_of_range_are_refused() {
        let tree = MemoryTree::new(leaves(5));
        let cases = [(5u64, 5u64), (6, 5), (0, 0)];
        for (index, size) in cases {
            assert_eq!(
                unwrap_ok(inclusion_proof(&tree, Seq(index), TreeSize(size))),
                Err(ProofRequestError::IndexOutOfRange { index, size })
            );
        }
        assert!(unwrap_ok(consistency_proof(&tree, TreeSize(0), TreeSize(5))).is_err());
        assert!(unwrap_ok(consistency_proof(&tree, TreeSize(4), TreeSize(3))).is_err());
    }

    #[test]
    fn verifier_rejects_index_at_or_beyond_size_and_overlong_proofs() {
        let l = leaves(4);
        let r = naive_root(&l);
        let p = naive_path(1, &l);
        let cases: Vec<(u64, u64, Vec<Hash>, ProofError)> = vec![
            (
                4,
                4,
                p.clone(),
                ProofError::IndexOutOfRange { index: 4, size: 4 },
            ),
            (
                1,
                0,
                p.clone(),
                ProofError::IndexOutOfRange { index: 1, size: 0 },
            ),
            (
                1,
                4,
                vec![l[0]; 65],
                ProofError::TooLong { found: 65, max: 64 },
            ),
            (1, 4, p[..1].to_vec(), ProofError::WrongLength),
            (
                1,
                4,
                [p.clone(), vec![l[0]]].concat(),
                ProofError::WrongLength,
            ),
            (1, 4, vec![p[1], p[0]], ProofError::RootMismatch),
        ];
        for (index, size, proof, want) in cases {
            assert_eq!(
                verify_inclusion(&l[1], Seq(index), TreeSize(size), &proof, &r),
                Err(want)
            );
        }
    }

    proptest! {
        /// Every single-bit change to an inclusion proof, its leaf hash or its root fails.
        #[test]
        fn any_bit_flip_breaks_inclusion(n in 2usize..200, pick in any::<u64>(), bit in 0usize..256) {
            let l = leaves(n);
            let m = (pick % n as u64) as usize;
            let root_n = naive_root(&l);
            let path = naive_path(m, &l);
            let flip = |h: &Hash| { let mut h = *h; h.0[bit / 8] ^= 1 << (bit % 8); h };
            prop_assert!(verify_inclusion(&flip(&l[m]), Seq(m as u64), TreeSize(n as u64), &path, &root_n).is_err());
            prop_assert!(verify_inclusion(&l[m], Seq(m as u64), TreeSize(n as u64), &path, &flip(&root_n)).is_err());
            for i in 0..path.len() {
                let mut bad = path.clone();
                bad[i] = flip(&bad[i]);
                prop_assert!(verify_inclusion(&l[m], Seq(m as u64), TreeSize(n as u64), &bad, &root_n).is_err());
            }
        }

        /// Every single-bit change to a consistency proof or either root fails.
        #[test]
        fn any_bit_flip_breaks_consistency(n in 2usize..200, pick in any::<u64>(), bit in 0usize..256) {
            let l = leaves(n);
            let m = 1 + (pick % (n as u64 - 1)) as usize;
            let (rm, rn) = (naive_root(&l[..m]), naive_root(&l));
            let proof = naive_consistency(m, &l);
            let flip = |h: &Hash| { let mut h = *h; h.0[bit / 8] ^= 1 << (bit % 8); h };
            let (tm, tn) = (TreeSize(m as u64), TreeSize(n as u64));
            prop_assert!(verify_consistency(tm, tn, &rm, &rn, &proof).is_ok());
            prop_assert!(verify_consistency(tm, tn, &flip(&rm), &rn, &proof).is_err());
            prop_assert!(verify_consistency(tm, tn, &rm, &flip(&rn), &proof).is_err());
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i]);
                prop_assert!(verify_consistency(tm, tn, &rm, &rn, &bad).is_err());
            }
        }
    }
}
