//! The add-checkpoint checks of c2sp.org/tlog-witness, in the spec's order, each failure with
//! the status the spec gives it; then the durable update and the cosignature. Checking the old
//! size against the stored record and storing the new one happen under one lock, so two
//! requests can never both pass against the same record (the spec's roll-back race).

use crate::cosignature::{CosignError, WitnessKey};
use crate::request::{self, RequestError};
use crate::state::{Cosigned, StateDir, StateError};
use crate::submitted::{LogSignatureError, NoteFormatError, SubmittedCheckpoint};
use idledger_proto::TreeSize;
use idledger_proto::hash::empty_root;
use idledger_proto::merkle::{ProofError, verify_consistency};
use idledger_proto::note::VerifierKey;
use std::collections::HashMap;
use std::sync::Mutex;

/// Why a checkpoint was not cosigned; `status` is the HTTP status the spec assigns.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("malformed request: {0}")]
    Request(#[from] RequestError),
    #[error("malformed checkpoint: {0}")]
    Note(#[from] NoteFormatError),
    #[error("unknown log origin `{0}`")]
    UnknownLog(String),
    #[error("{0}")]
    LogSignature(#[from] LogSignatureError),
    #[error("old size {old} is above the checkpoint's size {size}")]
    OldAboveSize { old: u64, size: u64 },
    #[error("old size {old} is not the size of the latest cosigned checkpoint, {known}")]
    Conflict { old: u64, known: u64 },
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyTreeRoot,
    #[error("a consistency proof from size 0 must be empty")]
    ProofFromZero,
    #[error("the checkpoint is not consistent with the latest cosigned one: {0}")]
    Inconsistent(#[from] ProofError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("an earlier update of this log's state failed; restart the witness")]
    Poisoned,
    #[error("cannot cosign: {0}")]
    Cosign(#[from] CosignError),
}

impl AddError {
    pub fn status(&self) -> u16 {
        match self {
            AddError::Request(_) | AddError::Note(_) | AddError::OldAboveSize { .. } => 400,
            AddError::LogSignature(_) => 403,
            AddError::UnknownLog(_) => 404,
            AddError::Conflict { .. } => 409,
            AddError::EmptyTreeRoot | AddError::ProofFromZero | AddError::Inconsistent(_) => 422,
            AddError::State(_) | AddError::Poisoned | AddError::Cosign(_) => 500,
        }
    }
}

/// What the witness knows of one log.
#[derive(Debug)]
enum LogState {
    Known(Cosigned),
    /// A store failed: what is on disk is unknown until the file is read again at restart.
    Poisoned,
}

/// A witness: its key, the logs it follows with their keys, and their state.
#[derive(Debug)]
pub struct Witness {
    key: WitnessKey,
    logs: HashMap<String, Vec<VerifierKey>>,
    store: StateDir,
    latest: Mutex<HashMap<String, LogState>>,
}

impl Witness {
    /// A witness for `logs` (origin, a key trusted for it; an origin may come more than once),
    /// reading each log's state now, so a damaged record stops it before it answers anything.
    pub fn open(
        key: WitnessKey,
        logs: &[(String, VerifierKey)],
        store: StateDir,
    ) -> Result<Witness, StateError> {
        let mut keys: HashMap<String, Vec<VerifierKey>> = HashMap::new();
        for (origin, key) in logs {
            keys.entry(origin.clone()).or_default().push(key.clone());
        }
        let mut latest = HashMap::new();
        for origin in keys.keys() {
            latest.insert(origin.clone(), LogState::Known(store.load(origin)?));
        }
        Ok(Witness {
            key,
            logs: keys,
            store,
            latest: Mutex::new(latest),
        })
    }

    pub fn key(&self) -> &WitnessKey {
        &self.key
    }

    /// The latest cosigned record of a log this witness follows.
    pub fn latest(&self, origin: &str) -> Option<Cosigned> {
        let latest = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match latest.get(origin) {
            Some(LogState::Known(c)) => Some(*c),
            _ => None,
        }
    }

    /// Handles an add-checkpoint body at time `now` (POSIX seconds): the cosignature lines to
    /// answer with (each ending in a newline), returned only once the new state is durable.
    /// This blocks (it fsyncs); async callers run it on a blocking thread.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, AddError> {
        let req = request::parse(body)?;
        let note = SubmittedCheckpoint::parse(&req.note)?;
        let checkpoint = &note.checkpoint;
        let keys = self
            .logs
            .get(&checkpoint.origin)
            .ok_or_else(|| AddError::UnknownLog(checkpoint.origin.clone()))?;
        note.verify_log_signature(keys)?;
        let size = checkpoint.size.0;
        if req.old_size > size {
            return Err(AddError::OldAboveSize {
                old: req.old_size,
                size,
            });
        }
        // The check against the record and the store of the new one are one critical section.
        // A panic elsewhere cannot leave the map half-updated (it changes only after a store),
        // so a poisoned lock is taken as it is.
        let mut latest = self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = latest
            .get_mut(&checkpoint.origin)
            .ok_or_else(|| AddError::UnknownLog(checkpoint.origin.clone()))?;
        let known = match slot {
            LogState::Known(c) => *c,
            LogState::Poisoned => return Err(AddError::Poisoned),
        };
        if req.old_size != known.size {
            return Err(AddError::Conflict {
                old: req.old_size,
                known: known.size,
            });
        }
        if size == 0 && checkpoint.root != empty_root() {
            return Err(AddError::EmptyTreeRoot);
        }
        if req.old_size == 0 && !req.proof.is_empty() {
            return Err(AddError::ProofFromZero);
        }
        verify_consistency(
            TreeSize(req.old_size),
            checkpoint.size,
            &known.root,
            &checkpoint.root,
            &req.proof,
        )?;
        let line = self.key.cosign(&note.text, now)?;
        let record = Cosigned {
            size,
            root: checkpoint.root,
        };
        if let Err(e) = self.store.store(&checkpoint.origin, &record) {
            *slot = LogState::Poisoned;
            return Err(e.into());
        }
        *slot = LogState::Known(record);
        Ok(format!("{line}\n"))
    }
}

#[cfg(test)]
#[path = "witness_tests.rs"]
mod tests;
