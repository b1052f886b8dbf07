//! The monitor's directory: an exact copy of what it verified, in the tlog-tiles layout (so the
//! directory is itself a static tiles export, servable and re-verifiable): `tile/…`, and the
//! last verified checkpoint note in `checkpoint`; beside them its state (`monitor-state`) and
//! the lock (`monitor.lock`, held with flock(2) while a monitor runs, so no second monitor
//! writes the same copy).
//!
//! Durability: every file is written whole (a temporary file, fsynced, renamed into place, its
//! directory fsynced). A round writes its tiles and bundles first, then the checkpoint, then the
//! state, so the state never covers a file that is not on disk. A crash between them leaves
//! verified files the state does not yet cover; the next round writes them again.

use crate::round::Verified;
use crate::state::{State, StateError};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "monitor-state";
const LOCK_FILE: &str = "monitor.lock";

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is in use by another monitor (its lock is held); one monitor keeps one directory")]
    Locked(PathBuf),
    #[error("{path}: {source}")]
    State { path: PathBuf, source: StateError },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| CopyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    /// Held for its flock.
    _lock: File,
    state: State,
}

impl StateDir {
    /// Creates the directory if needed, takes its lock and reads its state.
    pub fn open(dir: &Path) -> Result<StateDir, CopyError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        use rustix::fs::{FlockOperation, flock};
        match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(CopyError::Locked(dir.to_owned()));
            }
            Err(e) => return Err(io(&lock_path)(e.into())),
        }
        let state_path = dir.join(STATE_FILE);
        let state = match std::fs::read(&state_path) {
            Ok(bytes) => State::decode(&bytes).map_err(|source| CopyError::State {
                path: state_path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(io(&state_path)(e)),
        };
        Ok(StateDir {
            dir: dir.to_owned(),
            _lock: lock,
            state,
        })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Keeps what a round verified: its files, then the checkpoint, then the state.
    pub fn keep(&mut self, verified: Verified) -> Result<(), CopyError> {
        let mut dirs = BTreeSet::new();
        for (path, bytes) in &verified.files {
            let target = self.dir.join(path);
            write_whole(&target, bytes)?;
            if let Some(parent) = target.parent() {
                dirs.insert(parent.to_owned());
            }
        }
        for d in &dirs {
            sync_dir(d)?;
        }
        write_whole(&self.dir.join("checkpoint"), verified.note.as_bytes())?;
        write_whole(&self.dir.join(STATE_FILE), &verified.state.encode())?;
        sync_dir(&self.dir)?;
        self.state = verified.state;
        Ok(())
    }
}

/// Writes `bytes` to `path` whole: a temporary file beside it, fsynced, renamed over it.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CopyError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".partial");
    let temp = PathBuf::from(temp);
    let mut file = File::create(&temp).map_err(io(&temp))?;
    file.write_all(bytes).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(io(path))
}

fn sync_dir(dir: &Path) -> Result<(), CopyError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_monitor_cannot_take_the_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = StateDir::open(tmp.path()).expect("first");
        assert!(matches!(
            StateDir::open(tmp.path()),
            Err(CopyError::Locked(_))
        ));
        drop(first);
        StateDir::open(tmp.path()).expect("free again once the first is gone");
    }

    #[test]
    fn kept_files_and_state_are_read_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut dir = StateDir::open(tmp.path()).expect("open");
        assert_eq!(dir.state(), &State::default());
        let state = State {
            size: 3,
            ..State::default()
        };
        dir.keep(Verified {
            note: "note\n".into(),
            state: state.clone(),
            files: vec![("tile/0/000.p/3".into(), vec![7; 96])],
        })
        .expect("keep");
        drop(dir);
        let again = StateDir::open(tmp.path()).expect("reopen");
        assert_eq!(again.state(), &state);
        assert_eq!(
            std::fs::read(tmp.path().join("tile/0/000.p/3")).expect("tile"),
            vec![7; 96]
        );
        assert_eq!(
            std::fs::read(tmp.path().join("checkpoint")).expect("checkpoint"),
            b"note\n"
        );
    }
}
