//! A C2SP tlog-witness (c2sp.org/tlog-witness) that cosigns other logs' checkpoints with
//! c2sp.org/tlog-cosignature `cosignature/v1` (Ed25519) signatures, after checking each is
//! signed by the log's key and consistent with the last checkpoint it cosigned for that log.
//!
//! `request` parses `POST /add-checkpoint` bodies, `submitted` the checkpoint note inside one,
//! `cosignature` the witness's key and signatures, `state` the durable record of what was
//! cosigned, `keys` the key file, `witness` the checks in the spec's order, and `http` the
//! route; `client` is the log's side, submitting its checkpoints to a witness. The exact bytes are in docs/WITNESS.md.

pub mod client;
pub mod cosignature;
pub mod http;
pub mod keys;
pub mod request;
pub mod state;
pub mod submitted;
pub mod witness;

pub use cosignature::{CosignerKey, WitnessKey};
pub use witness::{AddError, Witness};
