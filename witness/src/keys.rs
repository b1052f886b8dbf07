//! The witness's key on disk, in a key directory (mode 0700): `witness-ed25519.key`, the
//! Ed25519 key as PKCS#8 v1 PEM (mode 0600, as the ledger writes its keys, so OpenSSL reads
//! it), and `witness-name`, the cosigner name on one line. The key file's extension is not
//! `.pem`, so a ledger sharing the key directory never takes it for one of its signing keys.
//! The name is written first: a crash between the two leaves a name and no key, and the next
//! start creates the key.

use crate::cosignature::{CosignError, WitnessKey};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, KeypairBytes};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

pub const KEY_FILE: &str = "witness-ed25519.key";
pub const NAME_FILE: &str = "witness-name";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an Ed25519 PKCS#8 PEM key")]
    Format { path: PathBuf },
    #[error("{path} has mode {mode:o}: a key file must be readable by its owner only (chmod 600)")]
    FileMode { path: PathBuf, mode: u32 },
    #[error("no witness key in {0}: run `idledger witness serve` once to create it")]
    Missing(PathBuf),
    #[error("the witness in {dir} is named `{stored}`, not `{asked}`")]
    OtherName {
        dir: PathBuf,
        stored: String,
        asked: String,
    },
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    #[error("{0}")]
    Key(#[from] CosignError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KeyError {
    let path = path.to_owned();
    move |source| KeyError::Io {
        action,
        path,
        source,
    }
}

/// Loads the witness key in `dir`.
pub fn load(dir: &Path) -> Result<WitnessKey, KeyError> {
    let (name_path, key_path) = (dir.join(NAME_FILE), dir.join(KEY_FILE));
    if !key_path.exists() {
        return Err(KeyError::Missing(dir.to_owned()));
    }
    let name = fs::read_to_string(&name_path).map_err(io("read", &name_path))?;
    let mode = fs::metadata(&key_path)
        .map_err(io("read", &key_path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::FileMode {
            path: key_path,
            mode,
        });
    }
    let pem = fs::read_to_string(&key_path).map_err(io("read", &key_path))?;
    let key = SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Format { path: key_path })?;
    Ok(WitnessKey::new(name.trim_end_matches('\n'), key)?)
}

/// Loads the witness key in `dir`, creating it (named `name`, or `idledger-witness.local/` and
/// eight random hex digits) if there is none. Returns whether it was created.
pub fn load_or_create(dir: &Path, name: Option<&str>) -> Result<(WitnessKey, bool), KeyError> {
    let name_path = dir.join(NAME_FILE);
    let stored = match fs::read_to_string(&name_path) {
        Ok(n) => Some(n.trim_end_matches('\n').to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io("read", &name_path)(e)),
    };
    if let (Some(stored), Some(asked)) = (&stored, name)
        && stored != asked
    {
        return Err(KeyError::OtherName {
            dir: dir.to_owned(),
            stored: stored.clone(),
            asked: asked.to_owned(),
        });
    }
    if dir.join(KEY_FILE).exists() {
        return Ok((load(dir)?, false));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    let name = match (stored, name) {
        (Some(n), _) => n,
        (None, Some(n)) => n.to_owned(),
        (None, None) => format!("idledger-witness.local/{}", hex::encode(&seed[..4])),
    };
    // Checked before anything is written: a bad name leaves no files behind.
    let key = WitnessKey::new(&name, SigningKey::from_bytes(&seed))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create the key directory", dir))?;
    write_new(&name_path, format!("{name}\n").as_bytes(), false)?;
    let pem = KeypairBytes {
        secret_key: key.signing_key().to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
    .map_err(|_| KeyError::Format {
        path: dir.join(KEY_FILE),
    })?;
    write_new(&dir.join(KEY_FILE), pem.as_bytes(), true)?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", dir))?;
    Ok((key, true))
}

/// Writes a file, mode 0600, and syncs it; `exclusive` refuses to replace one.
fn write_new(path: &Path, bytes: &[u8], exclusive: bool) -> Result<(), KeyError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if exclusive {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("fsync", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_and_read_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("keys");
        assert!(matches!(load(&dir), Err(KeyError::Missing(_))));
        let (key, created) = load_or_create(&dir, Some("witness.example/w1")).expect("creates");
        assert!(created);
        let (again, created) = load_or_create(&dir, None).expect("loads");
        assert!(!created);
        assert_eq!(again.verifier(), key.verifier());
        assert_eq!(load(&dir).expect("loads").verifier(), key.verifier());
        let err = load_or_create(&dir, Some("witness.example/w2")).expect_err("another name");
        assert!(err.to_string().contains("witness.example/w1"), "{err}");
        let pem = fs::read_to_string(dir.join(KEY_FILE)).expect("reads");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        load_or_create(tmp.path(), None).expect("creates");
        fs::set_permissions(tmp.path().join(KEY_FILE), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert!(matches!(load(tmp.path()), Err(KeyError::FileMode { .. })));
    }
}
