//! Grant episodes are told by `idledger_proto::episode` (pure, so an offline verifier recomputes
//! them from the entries a proof bundle proves); re-exported here for the read side.

pub use idledger_proto::episode::*;
