//! Reads for streams over the log (`query::export`): the frontier of the tree at a size (the
//! roots of its perfect subtrees, largest first, what a reader hashes later leaves onto) and
//! the sizes of the stored checkpoints in a range.

use crate::reader::{LedgerReader, ReadError};
use crate::store::{CF_CHECKPOINTS, be_u64, seq_key};
use crate::tree::StoredNodes;
use idledger_proto::merkle::NodeSource as _;
use idledger_proto::{Hash, TreeSize};

impl LedgerReader<'_> {
    /// The roots of the perfect subtrees of the first `size` leaves, largest first (one per set
    /// bit of `size`), from the stored tree.
    pub fn frontier(&self, size: TreeSize) -> Result<Vec<Hash>, ReadError> {
        let nodes = StoredNodes::new(self.db());
        let mut out = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size.0 & (1u64 << level) != 0 {
                out.push(nodes.node(level as u8, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(out)
    }

    /// The sizes of the stored checkpoints from `from` to `to`, both included, in order.
    pub fn checkpoint_sizes(&self, from: u64, to: u64) -> Result<Vec<u64>, ReadError> {
        let cf = self
            .db()
            .cf_handle(CF_CHECKPOINTS)
            .expect("column family exists");
        let mut it = self.db().raw_iterator_cf(cf);
        it.seek(seq_key(from));
        let mut out = Vec::new();
        while let Some(k) = it.key() {
            let size = be_u64(k)
                .filter(|_| k.len() == 8)
                .ok_or_else(|| ReadError::Damaged("checkpoint key".into()))?;
            if size > to {
                break;
            }
            out.push(size);
            it.next();
        }
        it.status()?;
        Ok(out)
    }
}
