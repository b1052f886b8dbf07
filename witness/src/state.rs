//! The witness's durable state: for each log, the size and root hash of the latest checkpoint
//! it cosigned. One small text file per log, replaced atomically (write a temporary file, fsync
//! it, rename it over the old one, fsync the directory) before any cosignature is returned, so
//! after a crash the file holds either the old record or the new one, and the witness never
//! cosigns a checkpoint inconsistent with one it already cosigned.
//!
//! File `<hex SHA-256 of the origin>.state` (origins may hold `/`), four lines:
//! `idledger-witness-state/v1`, the origin, the size in decimal, the root in base64.
//!
//! The directory is locked (`witness.lock`, flock(2)) for as long as a witness has it open: two
//! witness processes on one state could each cosign a different branch.

use idledger_proto::Hash;
use idledger_proto::hash::{empty_root, sha256};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

const HEADER: &str = "idledger-witness-state/v1";

/// The latest checkpoint cosigned for a log (size 0 and the empty root before the first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cosigned {
    pub size: u64,
    pub root: Hash,
}

impl Cosigned {
    /// The state of a log never cosigned: the empty tree.
    pub fn empty() -> Cosigned {
        Cosigned {
            size: 0,
            root: empty_root(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is damaged ({why}); the witness will not guess what it cosigned")]
    Damaged { path: PathBuf, why: &'static str },
    #[error(
        "the state directory {0} is in use by another witness process (its lock is held); one witness keeps one state directory"
    )]
    Locked(PathBuf),
}

/// The name of the lock file in the state directory.
pub const LOCK_FILE: &str = "witness.lock";

/// The directory of state files, locked for as long as any clone of this value lives.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
    /// Held for its flock: the lock goes when the last clone does.
    _lock: std::sync::Arc<fs::File>,
}

impl StateDir {
    /// Opens (creating, mode 0700) the state directory.
    pub fn open(dir: &Path) -> Result<StateDir, StateError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StateError::Io {
                action: "create the state directory",
                path: dir.to_owned(),
                source,
            })?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|source| StateError::Io {
                action: "open the lock file",
                path: lock_path.clone(),
                source,
            })?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(StateError::Locked(dir.to_owned()));
            }
            Err(e) => {
                return Err(StateError::Io {
                    action: "lock",
                    path: lock_path,
                    source: e.into(),
                });
            }
        }
        Ok(StateDir {
            dir: dir.to_owned(),
            _lock: std::sync::Arc::new(lock),
        })
    }

    pub fn path(&self, origin: &str) -> PathBuf {
        self.dir
            .join(format!("{}.state", sha256(origin.as_bytes()).to_hex()))
    }

    /// The record for `origin`, or the empty tree if there is none.
    pub fn load(&self, origin: &str) -> Result<Cosigned, StateError> {
        let path = self.path(origin);
        match fs::read(&path) {
            Ok(bytes) => decode(origin, &bytes).map_err(|why| StateError::Damaged { path, why }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Cosigned::empty()),
            Err(source) => Err(StateError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Replaces the record for `origin`, durably: when this returns Ok, a crash keeps it.
    pub fn store(&self, origin: &str, record: &Cosigned) -> Result<(), StateError> {
        let path = self.path(origin);
        let tmp = path.with_extension("tmp");
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| StateError::Io {
                action,
                path,
                source,
            }
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        file.write_all(encode(origin, record).as_bytes())
            .map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("fsync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io("rename into place", &path))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("fsync the state directory", &self.dir))?;
        Ok(())
    }
}

/// The file's bytes for a record.
pub fn encode(origin: &str, record: &Cosigned) -> String {
    format!(
        "{HEADER}\n{origin}\n{}\n{}\n",
        record.size,
        record.root.to_base64()
    )
}

/// Reads a file's bytes, exactly as `encode` writes them, for this origin.
pub fn decode(origin: &str, bytes: &[u8]) -> Result<Cosigned, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8")?;
    let mut lines = text
        .strip_suffix('\n')
        .ok_or("does not end in a newline")?
        .split('\n');
    if lines.next() != Some(HEADER) {
        return Err("no idledger-witness-state/v1 header");
    }
    if lines.next() != Some(origin) {
        return Err("it is for another origin");
    }
    let size = lines
        .next()
        .and_then(crate::request::canonical_decimal)
        .ok_or("the size is not a decimal number")?;
    let root_text = lines.next().ok_or("no root hash")?;
    let root = Hash::from_base64(root_text)
        .filter(|h| h.to_base64() == root_text)
        .ok_or("the root hash is not base64 of 32 bytes")?;
    if lines.next().is_some() {
        return Err("extra lines");
    }
    let record = Cosigned { size, root };
    if size == 0 && root != empty_root() {
        return Err("size 0 with a root other than the empty tree's");
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_and_replaces_the_last() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = StateDir::open(&tmp.path().join("state")).expect("opens");
        assert!(matches!(
            StateDir::open(&tmp.path().join("state")),
            Err(StateError::Locked(_))
        ));
        assert_eq!(dir.load("log.example/a").expect("loads"), Cosigned::empty());
        for size in [3, 9] {
            let record = Cosigned {
                size,
                root: Hash([size as u8; 32]),
            };
            dir.store("log.example/a", &record).expect("stores");
            assert_eq!(dir.load("log.example/a").expect("loads"), record);
        }
        assert_eq!(dir.load("log.example/b").expect("loads"), Cosigned::empty());
        assert!(!dir.path("log.example/a").with_extension("tmp").exists());
        // The lock goes with the last handle; the next witness reads what was stored.
        drop(dir);
        let again = StateDir::open(&tmp.path().join("state")).expect("opens once unlocked");
        assert_eq!(again.load("log.example/a").expect("loads").size, 9);
    }

    /// Attack: whoever can write the state directory shrinks or moves a record (to make the
    /// witness cosign a fork). A record that is not exactly what was written for this origin
    /// stops the witness instead of being read as "never cosigned".
    #[test]
    fn a_damaged_or_moved_record_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = StateDir::open(tmp.path()).expect("opens");
        let record = Cosigned {
            size: 5,
            root: Hash([5; 32]),
        };
        dir.store("log.example/a", &record).expect("stores");
        let good = fs::read(dir.path("log.example/a")).expect("reads");
        let mut cases: Vec<Vec<u8>> = vec![Vec::new(), good[..good.len() - 1].to_vec()];
        cases.push(
            String::from_utf8_lossy(&good)
                .replace("\n5\n", "\n05\n")
                .into_bytes(),
        );
        cases.push([&good[..], b"x\n"].concat());
        cases.push(encode("log.example/b", &record).into_bytes());
        cases.push(
            encode(
                "log.example/a",
                &Cosigned {
                    size: 0,
                    root: Hash([5; 32]),
                },
            )
            .into_bytes(),
        );
        for bytes in cases {
            fs::write(dir.path("log.example/a"), &bytes).expect("writes");
            assert!(
                matches!(dir.load("log.example/a"), Err(StateError::Damaged { .. })),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}
