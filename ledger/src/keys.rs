//! Signing keys: Ed25519 in PKCS#8 v1 PEM files (readable by OpenSSL), or in a PKCS#11 token
//! (`crate::pkcs11`) and referenced by a small file; one file per key named by key ID
//! (`<key ID>.pem` or `<key ID>.pkcs11`), in a key directory that is never inside the ledger's
//! data directory. Whoever can copy or write the data (a backup, an auditor's copy, a database
//! administrator) must not hold the key, or no signature would mean anything: the writer
//! refuses a key directory inside the data directory, and a key file or key directory that
//! others can read or write.

use crate::pkcs11::{TokenError, TokenRef, TokenSigner};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{SigningKey, VerifyingKey};
use idledger_proto::hash::Hash;
use idledger_proto::note::{NoteSigner, VerifierKey};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
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
    #[error(
        "signing key {path} has mode {mode:o}: a key file must be readable and writable by its owner only (chmod 600 {path})"
    )]
    FileMode { path: PathBuf, mode: u32 },
    #[error(
        "key directory {path} has mode {mode:o}: others could add or replace keys in it (chmod 700 {path})"
    )]
    DirMode { path: PathBuf, mode: u32 },
    #[error(
        "the key directory {keys} is inside the data directory {data}: anyone with a copy of the data would hold the key; choose a key directory outside it (--key-dir)"
    )]
    InsideData { keys: PathBuf, data: PathBuf },
    #[error("the signing key for {vkey} is not in the key directory {keys}{hint}")]
    Missing {
        vkey: String,
        keys: PathBuf,
        hint: String,
    },
    #[error("no random bytes from the operating system: {0}")]
    Random(String),
    #[error("key name: {0}")]
    Name(#[from] idledger_proto::note::NoteError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("token key reference {path} is damaged: {message}")]
    TokenFile { path: PathBuf, message: String },
    #[error(
        "both {pem} and {token} name the signing key for {vkey}: keep the one that holds the key and remove the other"
    )]
    Both {
        vkey: String,
        pem: PathBuf,
        token: PathBuf,
    },
    #[error("cannot sign: {0}")]
    Signing(idledger_proto::note::NoteError),
}

/// Where the signing keys of ledgers live: a directory outside every data directory, holding
/// one file per key (`<key ID>.pem`, or `<key ID>.pkcs11` for a key in a token; mode 0600),
/// itself mode 0700.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDir(PathBuf);

impl KeyDir {
    /// A key directory for the ledger in `data`: refused if it is the data directory or inside
    /// it (compared after resolving symbolic links, as far as the paths exist).
    pub fn for_data(keys: &Path, data: &Path) -> Result<KeyDir, KeyError> {
        let resolve = |p: &Path| {
            let mut existing = p.to_path_buf();
            let mut rest = Vec::new();
            while !existing.exists() {
                match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_owned());
                        existing = parent.to_path_buf();
                    }
                    _ => break,
                }
            }
            let mut full = fs::canonicalize(&existing).unwrap_or(existing);
            full.extend(rest.iter().rev());
            full
        };
        let (k, d) = (resolve(keys), resolve(data));
        if k.starts_with(&d) {
            return Err(KeyError::InsideData {
                keys: keys.to_owned(),
                data: data.to_owned(),
            });
        }
        Ok(KeyDir(keys.to_owned()))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The file that holds (or will hold) the private key of `vkey`.
    pub fn key_path(&self, vkey: &VerifierKey) -> PathBuf {
        self.0.join(format!("{}.pem", hex::encode(vkey.id())))
    }

    /// The file that says (or will say) which token key is `vkey`'s private key.
    pub fn token_path(&self, vkey: &VerifierKey) -> PathBuf {
        self.0.join(format!("{}.pkcs11", hex::encode(vkey.id())))
    }

    /// Whichever of `token_path` and `key_path` exists (`key_path` if neither does).
    pub fn held_path(&self, vkey: &VerifierKey) -> PathBuf {
        let token = self.token_path(vkey);
        if token.exists() {
            token
        } else {
            self.key_path(vkey)
        }
    }

    /// Creates the directory (mode 0700) if needed, and refuses one others may write.
    fn ensure(&self) -> Result<(), KeyError> {
        let err = |source| KeyError::Write {
            path: self.0.clone(),
            source,
        };
        if !self.0.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.0)
                .map_err(err)?;
        }
        self.check_mode()
    }

    fn check_mode(&self) -> Result<(), KeyError> {
        let meta = fs::metadata(&self.0).map_err(|source| KeyError::Read {
            path: self.0.clone(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(KeyError::DirMode {
                path: self.0.clone(),
                mode,
            });
        }
        Ok(())
    }

    /// Writes `key`, the private key of `vkey`, to a new key file (refusing to overwrite one).
    pub fn write(&self, vkey: &VerifierKey, key: &SigningKey) -> Result<PathBuf, KeyError> {
        self.ensure()?;
        let path = self.key_path(vkey);
        write_key(&path, key)?;
        Ok(path)
    }

    /// Records that `vkey`'s private key is the token key `token` names (a new file, mode
    /// 0600; refused if the key already has a key file or reference here).
    pub fn write_token(&self, vkey: &VerifierKey, token: &TokenRef) -> Result<PathBuf, KeyError> {
        self.ensure()?;
        let (pem, path) = (self.key_path(vkey), self.token_path(vkey));
        if pem.exists() {
            return Err(KeyError::Both {
                vkey: vkey.to_string(),
                pem,
                token: path,
            });
        }
        let err = |source| KeyError::Write {
            path: path.clone(),
            source,
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(err)?;
        file.write_all(token.to_text(vkey.key().as_bytes()).as_bytes())
            .map_err(err)?;
        file.sync_all().map_err(err)?;
        Ok(path)
    }

    /// The signer for `vkey`, from its key file here or the token its reference names; `legacy`
    /// is a directory where older versions kept keys (inside the data directory), named in the
    /// error when the key is found there.
    pub fn load_signer(&self, vkey: &VerifierKey, legacy: &Path) -> Result<NoteSigner, KeyError> {
        let path = self.key_path(vkey);
        let token = self.token_path(vkey);
        match (path.exists(), token.exists()) {
            (true, true) => {
                return Err(KeyError::Both {
                    vkey: vkey.to_string(),
                    pem: path,
                    token,
                });
            }
            (false, true) => {
                self.check_mode()?;
                let (reference, recorded) = read_token_ref(&token)?;
                if recorded != *vkey.key() {
                    return Err(KeyError::TokenFile {
                        path: token,
                        message: format!("it records another public key than {vkey}'s"),
                    });
                }
                let signer = token_signer(vkey.name(), &reference)?;
                if signer.verifier() != vkey {
                    return Err(KeyError::TokenFile {
                        path: token,
                        message: format!(
                            "the key {reference} is not {vkey}'s (its public key is {})",
                            signer.verifier()
                        ),
                    });
                }
                return Ok(signer);
            }
            _ => {}
        }
        if !path.exists() {
            let old = legacy.join(format!("{}.pem", hex::encode(vkey.id())));
            let hint = if old.exists() {
                format!(
                    "; it is in {} (inside the data directory, where older versions kept it): move it out with `mkdir -p -m 700 {keys} && mv {old} {keys}/`",
                    legacy.display(),
                    keys = self.0.display(),
                    old = old.display()
                )
            } else {
                String::new()
            };
            return Err(KeyError::Missing {
                vkey: vkey.to_string(),
                keys: self.0.clone(),
                hint,
            });
        }
        self.check_mode()?;
        let key = read_key(&path)?;
        if key.verifying_key() != *vkey.key() {
            return Err(KeyError::Format {
                path,
                message: format!("holds a different key than {vkey}"),
            });
        }
        Ok(NoteSigner::new(vkey.name(), key)?)
    }

    /// Where the writer records the last checkpoint it signed for the ledger whose genesis key
    /// is `genesis` (named by the whole public key, so ledgers sharing a key directory never
    /// share a record).
    pub fn signed_path(&self, genesis: &VerifierKey) -> PathBuf {
        self.0
            .join(format!("{}.signed", hex::encode(genesis.key().as_bytes())))
    }

    /// The last checkpoint (size and root) this key directory's writer signed for the ledger of
    /// `genesis`, if one was recorded.
    pub fn last_signed(&self, genesis: &VerifierKey) -> Result<Option<(u64, Hash)>, KeyError> {
        let path = self.signed_path(genesis);
        match fs::read(&path) {
            Ok(bytes) => SignedRecord::parse(&bytes).map(Some).ok_or(KeyError::Format {
                path,
                message: "damaged (a crash of the machine during its write?); if the ledger is the one last signed, remove the record to go on".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Read { path, source }),
        }
    }

    /// The record of the last checkpoint signed for the ledger of `genesis`, opened for the
    /// writer to overwrite after every batch.
    pub fn signed_record(&self, genesis: &VerifierKey) -> Result<SignedRecord, KeyError> {
        self.ensure()?;
        let path = self.signed_path(genesis);
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|source| KeyError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(SignedRecord { path, file })
    }

    /// The verifier keys, named `origin`, of every key file here made for that origin: the keys
    /// their holder trusts (an operator verifying their own ledger).
    pub fn held_keys(&self, origin: &str) -> Result<Vec<VerifierKey>, KeyError> {
        let entries = match fs::read_dir(&self.0) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(KeyError::Read {
                    path: self.0.clone(),
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| KeyError::Read {
                    path: self.0.clone(),
                    source,
                })?
                .path();
            let public = match path.extension().and_then(|e| e.to_str()) {
                Some("pem") => read_key(&path)?.verifying_key(),
                Some("pkcs11") => read_token_ref(&path)?.1,
                _ => continue,
            };
            let vkey = VerifierKey::new(origin, public)?;
            if path.file_stem() == Some(std::ffi::OsStr::new(&hex::encode(vkey.id()))) {
                out.push(vkey);
            }
        }
        out.sort_by_key(ToString::to_string);
        Ok(out)
    }
}

/// The signer of a key in a token, named `name` (the origin): opened, its key checked, and
/// every signature it makes verified before use.
pub fn token_signer(name: &str, token: &TokenRef) -> Result<NoteSigner, KeyError> {
    let signer = TokenSigner::open(token)?;
    Ok(NoteSigner::external(name, Box::new(signer))?)
}

/// A token key reference and the public key it records, from a file its owner alone controls.
fn read_token_ref(path: &Path) -> Result<(TokenRef, VerifyingKey), KeyError> {
    check_owner_only(path)?;
    let text = fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let damaged = |message: String| KeyError::TokenFile {
        path: path.to_owned(),
        message,
    };
    let (token, public) = TokenRef::parse(&text).map_err(damaged)?;
    let public = VerifyingKey::from_bytes(&public)
        .map_err(|_| damaged("its public key is not a valid Ed25519 point".into()))?;
    Ok((token, public))
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

/// Reads a key file, refusing one that its owner does not alone control (mode other than
/// 0600 or 0400).
pub fn read_key(path: &Path) -> Result<SigningKey, KeyError> {
    let read_err = |source| KeyError::Read {
        path: path.to_owned(),
        source,
    };
    check_owner_only(path)?;
    let pem = fs::read_to_string(path).map_err(read_err)?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Refuses a file that others may read or write (mode other than 0600 or 0400).
fn check_owner_only(path: &Path) -> Result<(), KeyError> {
    let mode = fs::metadata(path)
        .map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::FileMode {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The writer's record of the last checkpoint it signed for a ledger, in its key directory:
/// one fixed-size line, `<size, 20 digits> <root, base64> <16 hex digits of SHA-256 of what
/// precedes>\n`, overwritten in place after every batch (no rename, no sync: a page-cache
/// write; a crash of the machine may leave an older record, and a torn one fails its check).
#[derive(Debug)]
pub struct SignedRecord {
    path: PathBuf,
    file: fs::File,
}

/// The length of a record line.
const RECORD_LEN: usize = 20 + 1 + 44 + 1 + 16 + 1;

impl SignedRecord {
    fn line(size: u64, root: &Hash) -> String {
        let head = format!("{size:020} {}", root.to_base64());
        let check = idledger_proto::hash::sha256(head.as_bytes());
        format!("{head} {}\n", &check.to_hex()[..16])
    }

    fn parse(bytes: &[u8]) -> Option<(u64, Hash)> {
        let text = std::str::from_utf8(bytes.get(..RECORD_LEN)?).ok()?;
        let (head, check) = text.strip_suffix('\n')?.rsplit_once(' ')?;
        if idledger_proto::hash::sha256(head.as_bytes()).to_hex()[..16] != *check {
            return None;
        }
        let (size, root) = head.split_once(' ')?;
        Some((size.parse().ok()?, Hash::from_base64(root)?))
    }

    /// Records the checkpoint of `size` with `root` as the last signed.
    pub fn write(&self, size: u64, root: &Hash) -> Result<(), KeyError> {
        use std::os::unix::fs::FileExt as _;
        let line = Self::line(size, root);
        debug_assert_eq!(line.len(), RECORD_LEN);
        self.file
            .write_all_at(line.as_bytes(), 0)
            .map_err(|source| KeyError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_damaged_one_does_not() {
        for (size, root) in [
            (0, Hash([0; 32])),
            (u64::MAX, Hash([0xff; 32])),
            (17, Hash([3; 32])),
        ] {
            let line = SignedRecord::line(size, &root);
            assert_eq!(line.len(), RECORD_LEN);
            assert_eq!(SignedRecord::parse(line.as_bytes()), Some((size, root)));
            for at in 0..line.len() - 1 {
                let mut torn = line.clone().into_bytes();
                torn[at] ^= 1;
                assert_eq!(SignedRecord::parse(&torn), None, "byte {at}");
            }
        }
    }
}
