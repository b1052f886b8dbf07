//! Where a signing key in a PKCS#11 token is: the module, the token's label, the key's CKA_ID
//! or CKA_LABEL, and where the PIN comes from (an environment variable or a file, never the
//! command line or a configuration file). The key directory keeps one as `<key ID>.pkcs11`, a
//! few `name = value` lines, in place of a key file: it holds no secret, but it says which key
//! signs, so it is kept as a key file is (mode 0600, in a 0700 directory).

use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// How the key is found in the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySelector {
    /// CKA_ID, as bytes (given and written as hex).
    Id(Vec<u8>),
    /// CKA_LABEL.
    Label(String),
}

/// Where the PIN of the token's user is read from when the signer is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSource {
    /// An environment variable of the signing process.
    Env(String),
    /// A file (mode 0600 or 0400; one trailing line ending is removed).
    File(PathBuf),
}

/// A signing key in a PKCS#11 token, as the key directory records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRef {
    pub module: PathBuf,
    pub token: String,
    pub key: KeySelector,
    pub pin: PinSource,
}

/// The first line of a `.pkcs11` file.
const HEADER: &str = "# idledger signing key in a PKCS#11 token (the private key never leaves it)";

impl fmt::Display for TokenRef {
    /// Names the key in messages: `PKCS#11 token "T" (module M), key id 01`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PKCS#11 token \"{}\" (module {}), key ",
            self.token,
            self.module.display()
        )?;
        match &self.key {
            KeySelector::Id(id) => write!(f, "id {}", hex::encode(id)),
            KeySelector::Label(l) => write!(f, "label \"{l}\""),
        }
    }
}

impl TokenRef {
    /// A reference, its values checked: none empty, none with a line ending or control
    /// character (each is one line of the file), a key id of 1 to 64 bytes.
    pub fn new(
        module: PathBuf,
        token: String,
        key: KeySelector,
        pin: PinSource,
    ) -> Result<TokenRef, String> {
        let text = |what: &str, v: &str| {
            if v.is_empty() || v.chars().any(char::is_control) {
                Err(format!(
                    "{what} `{}` is empty or has a control character",
                    v.escape_debug()
                ))
            } else {
                Ok(())
            }
        };
        text("the module path", &module.to_string_lossy())?;
        text("the token label", &token)?;
        match &key {
            KeySelector::Id(id) if id.is_empty() || id.len() > 64 => {
                return Err(format!(
                    "a key id is 1 to 64 bytes, not {} (`{}`)",
                    id.len(),
                    hex::encode(id)
                ));
            }
            KeySelector::Id(_) => {}
            KeySelector::Label(l) => text("the key label", l)?,
        }
        match &pin {
            PinSource::Env(var) => text("the PIN variable", var)?,
            PinSource::File(path) => text("the PIN file", &path.to_string_lossy())?,
        }
        if !module.is_absolute() {
            return Err(format!(
                "the module path {} is not absolute: the signer may run from another directory",
                module.display()
            ));
        }
        Ok(TokenRef {
            module,
            token,
            key,
            pin,
        })
    }

    /// A key id given as hex (`01`, `0xa1b2`).
    pub fn parse_id(text: &str) -> Result<Vec<u8>, String> {
        let digits = text.strip_prefix("0x").unwrap_or(text);
        hex::decode(digits).map_err(|_| {
            format!("the key id `{text}` is not hex (an even number of digits, e.g. 01)")
        })
    }

    /// The file's text, with the public key (so that the key directory can name its keys
    /// without opening the token).
    pub fn to_text(&self, public_key: &[u8; 32]) -> String {
        let key = match &self.key {
            KeySelector::Id(id) => format!("key-id = {}", hex::encode(id)),
            KeySelector::Label(l) => format!("key-label = {l}"),
        };
        let pin = match &self.pin {
            PinSource::Env(v) => format!("pin-env = {v}"),
            PinSource::File(p) => format!("pin-file = {}", p.display()),
        };
        format!(
            "{HEADER}\nmodule = {}\ntoken = {}\n{key}\n{pin}\npublic-key = {}\n",
            self.module.display(),
            self.token,
            hex::encode(public_key)
        )
    }

    /// Reads a file written by `to_text`: the reference and the public key it recorded.
    pub fn parse(text: &str) -> Result<(TokenRef, [u8; 32]), String> {
        let mut values = std::collections::BTreeMap::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line
                .split_once(" = ")
                .ok_or_else(|| format!("`{}` is not `name = value`", line.escape_debug()))?;
            if values.insert(name, value).is_some() {
                return Err(format!("`{name}` is given twice"));
            }
        }
        let mut take = |name: &str| values.remove(name);
        let module = take("module").ok_or("no `module` line")?;
        let token = take("token").ok_or("no `token` line")?;
        let key = match (take("key-id"), take("key-label")) {
            (Some(id), None) => KeySelector::Id(TokenRef::parse_id(id)?),
            (None, Some(label)) => KeySelector::Label(label.to_owned()),
            _ => return Err("expected one of `key-id` and `key-label`".into()),
        };
        let pin = match (take("pin-env"), take("pin-file")) {
            (Some(var), None) => PinSource::Env(var.to_owned()),
            (None, Some(path)) => PinSource::File(PathBuf::from(path)),
            _ => return Err("expected one of `pin-env` and `pin-file`".into()),
        };
        let mut public = [0u8; 32];
        let hex_key = take("public-key").ok_or("no `public-key` line")?;
        hex::decode_to_slice(hex_key, &mut public)
            .map_err(|_| "`public-key` is not 64 hex digits".to_owned())?;
        if let Some(name) = values.keys().next() {
            return Err(format!("unknown line `{name}`"));
        }
        let token = TokenRef::new(PathBuf::from(module), token.to_owned(), key, pin)?;
        Ok((token, public))
    }

    /// The PIN, from its variable or file. A PIN file others may read is refused, as a key
    /// file is.
    pub fn read_pin(&self) -> Result<String, String> {
        match &self.pin {
            PinSource::Env(var) => std::env::var(var).map_err(|_| {
                format!("the PIN variable {var} is not set (or not UTF-8) in this process")
            }),
            PinSource::File(path) => read_pin_file(path),
        }
    }
}

fn read_pin_file(path: &Path) -> Result<String, String> {
    let err = |e: std::io::Error| format!("cannot read the PIN file {}: {e}", path.display());
    let mode = std::fs::metadata(path).map_err(err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the PIN file {} has mode {mode:o}: it must be readable by its owner only (chmod 600 {})",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(err)?;
    let pin = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if pin.is_empty() {
        return Err(format!("the PIN file {} is empty", path.display()));
    }
    Ok(pin.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: KeySelector, pin: PinSource) -> TokenRef {
        TokenRef::new(
            PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
            "idledger signer".into(),
            key,
            pin,
        )
        .expect("valid")
    }

    #[test]
    fn a_reference_reads_back_as_written() {
        for token in [
            sample(
                KeySelector::Id(vec![0, 0xa1]),
                PinSource::Env("IDLEDGER_PIN".into()),
            ),
            sample(
                KeySelector::Label("log key = 2".into()),
                PinSource::File("/run/secrets/pin file".into()),
            ),
        ] {
            let text = token.to_text(&[9; 32]);
            assert_eq!(TokenRef::parse(&text), Ok((token, [9; 32])), "{text}");
        }
    }

    #[test]
    fn damaged_or_ambiguous_references_are_refused() {
        let good = sample(KeySelector::Id(vec![1]), PinSource::Env("P".into())).to_text(&[1; 32]);
        let cases = [
            (good.replace("key-id = 01\n", ""), "key-id"),
            (good.replace("key-id = 01", "key-id = 0g"), "not hex"),
            (good.clone() + "key-label = x\n", "key-id"),
            (good.clone() + "pin-file = /x\n", "pin-env"),
            (good.clone() + "token = again\n", "twice"),
            (good.clone() + "colour = blue\n", "unknown"),
            (good.replace("public-key = 01", "public-key = 1"), "64 hex"),
            (good.replace("module = /", "module = "), "absolute"),
            (
                good.replace("token = idledger signer", "token"),
                "name = value",
            ),
        ];
        for (text, why) in cases {
            let err = TokenRef::parse(&text).expect_err(&text);
            assert!(err.contains(why), "{err} (expected {why}) for\n{text}");
        }
    }

    #[test]
    fn values_that_would_break_the_file_are_refused() {
        let module = PathBuf::from("/m.so");
        let pin = || PinSource::Env("P".into());
        assert!(
            TokenRef::new(
                module.clone(),
                "a\nb".into(),
                KeySelector::Id(vec![1]),
                pin()
            )
            .is_err()
        );
        assert!(TokenRef::new(module.clone(), "t".into(), KeySelector::Id(vec![]), pin()).is_err());
        assert!(
            TokenRef::new(
                module.clone(),
                "t".into(),
                KeySelector::Label("l\r".into()),
                pin()
            )
            .is_err()
        );
        assert!(TokenRef::new(module, "".into(), KeySelector::Id(vec![1]), pin()).is_err());
        assert_eq!(TokenRef::parse_id("0x0A1b"), Ok(vec![0x0a, 0x1b]));
        assert!(TokenRef::parse_id("1").is_err());
    }
}
