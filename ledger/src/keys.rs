//! Signing keys on disk: Ed25519 in PKCS#8 v1 PEM (readable by OpenSSL), created with mode 0600,
//! one file per key under `keys/`, named by key ID.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use idledger_proto::note::{NoteSigner, VerifierKey};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write signing key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is not an Ed25519 PKCS#8 PEM key: {message}")]
    Format { path: PathBuf, message: String },
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    #[error("key name: {0}")]
    Name(#[from] idledger_proto::note::NoteError),
}

pub fn key_path(dir: &Path, vkey: &VerifierKey) -> PathBuf {
    dir.join("keys")
        .join(format!("{}.pem", hex::encode(vkey.id())))
}

/// A new random key.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a key as PKCS#8 v1 PEM (no embedded public key: OpenSSL 3.0 cannot read v2), mode 0600.
pub fn write_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    let pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
    .map_err(|e| KeyError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(pem.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    Ok(())
}

pub fn read_key(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Loads the signer for a verifier key from `dir/keys/`, checking the file holds that key.
pub fn load_signer(dir: &Path, vkey: &VerifierKey) -> Result<NoteSigner, KeyError> {
    let path = key_path(dir, vkey);
    let key = read_key(&path)?;
    if key.verifying_key() != *vkey.key() {
        return Err(KeyError::Format {
            path,
            message: format!("holds a different key than {vkey}"),
        });
    }
    Ok(NoteSigner::new(vkey.name(), key)?)
}
