//! idledger's formats and verifiers: the identity event model and its validation, the canonical
//! leaf encoding, RFC 6962 Merkle math, C2SP signed notes, checkpoints and tlog-proofs, and
//! witness cosignatures (cosignature/v1) checked against a witness policy. No I/O, no RocksDB:
//! an auditor's offline verifier needs this crate alone.

pub mod answer;
pub mod bundle;
pub mod characters;
pub mod checkpoint;
pub mod cosignature;
pub mod cosigned;
pub mod custody;
pub mod decode;
pub mod entry;
pub mod episode;
pub mod event;
pub mod export;
pub mod formats;
pub mod hash;
pub mod leaf_version;
pub mod merkle;
pub mod note;
pub mod positions;
pub mod printable;
pub mod prometheus;
pub mod proof;
pub mod rejection;
pub mod secret;
pub mod source_record;
pub mod tiles;
pub mod time;
pub mod tree_size;
pub mod view;
mod wire;
pub mod witness_policy;

pub use checkpoint::Checkpoint;
pub use decode::{ValidatedEvent, decode_event};
pub use entry::{
    BackLinks, Body, Entry, EventEntry, KafkaOrigin, MessageKey, Origin, SystemRecord,
};
pub use event::{Event, EventType};
pub use hash::Hash;
pub use note::{NoteSigner, VerifierKey};
pub use rejection::{KeptPayload, RejectReason, Rejection};
pub use time::Timestamp;
pub use tree_size::{Seq, TreeSize};
