//! A signing key in a PKCS#11 token (an HSM; SoftHSM2 in tests): Ed25519 with CKM_EDDSA, the
//! private key generated inside the token and never read out. The signer opens the module,
//! finds the token by label, logs in with a PIN from an environment variable or a file, finds
//! the key by CKA_ID or CKA_LABEL, checks that it is an Ed25519 key the token will not reveal
//! (CKA_SENSITIVE true, CKA_EXTRACTABLE false), and reads its public key. It keeps one session,
//! used by one thread at a time (a mutex), and opens a new one after any token error.

mod token_ref;

pub use token_ref::{KeySelector, PinSource, TokenRef};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use ed25519_dalek::VerifyingKey;
use idledger_proto::note::{ExternalSigner, SignerError};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Why a token key could not be used. Each message names the token and key, and a PKCS#11
/// failure its function and return code (`C_Login returned CKR_PIN_INCORRECT`).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "cannot load the PKCS#11 module {module}: {reason} (is the path right, and the token's software installed? SoftHSM2: apt-get install softhsm2)"
    )]
    Module { module: PathBuf, reason: String },
    #[error("{token}: {function} returned {code}{hint}")]
    Call {
        token: String,
        function: String,
        code: String,
        hint: &'static str,
    },
    #[error(
        "no token labelled \"{label}\" in the PKCS#11 module {module} (tokens found: {found}); create one (SoftHSM2: softhsm2-util --init-token --free --label \"{label}\") or name another with --pkcs11-token"
    )]
    NoToken {
        label: String,
        module: PathBuf,
        found: String,
    },
    #[error(
        "{token}: no {class} key there; create one inside the token with `pkcs11-tool --module {module} --token-label \"{label}\" --login --keypairgen --key-type EC:edwards25519 {selector}` (the private key is generated in the token and never leaves it)"
    )]
    NoKey {
        token: String,
        class: &'static str,
        module: String,
        label: String,
        selector: String,
    },
    #[error("{token}: {count} {class} keys match; give a key id or label that names one")]
    Ambiguous {
        token: String,
        class: &'static str,
        count: usize,
    },
    #[error("{0}: {1}")]
    Unusable(String, String),
    #[error("{token}: {reason}")]
    Pin { token: String, reason: String },
}

/// One context per module path for the life of the process: a module is initialised once
/// (`C_Initialize` twice fails), and never finalised while another signer may use it.
fn module(path: &PathBuf) -> Result<Pkcs11, TokenError> {
    static MODULES: OnceLock<Mutex<BTreeMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut modules = MODULES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(ctx) = modules.get(path) {
        return Ok(ctx.clone());
    }
    let failed = |reason: String| TokenError::Module {
        module: path.clone(),
        reason,
    };
    if !path.exists() {
        return Err(failed("no such file".into()));
    }
    let ctx = Pkcs11::new(path).map_err(|e| failed(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(failed(call_text(&e))),
    }
    modules.insert(path.clone(), ctx.clone());
    Ok(ctx)
}

/// `C_Login returned CKR_PIN_INCORRECT` for a PKCS#11 failure, else the binding's words.
fn call_text(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{} returned {}", c_name(*function), ckr(*rv)),
        other => other.to_string(),
    }
}

fn c_name(function: Function) -> String {
    format!("C_{function:?}")
}

/// The standard name of a return value (`CKR_PIN_INCORRECT`), from the binding's variant name.
fn ckr(rv: RvError) -> String {
    match rv {
        RvError::VendorDefined(code) => format!("CKR_VENDOR_DEFINED ({code:#x})"),
        RvError::UnknownErrorCode(code) => format!("an unknown return value ({code:#x})"),
        other => {
            let mut name = String::from("CKR");
            for c in format!("{other:?}").chars() {
                if c.is_ascii_uppercase() {
                    name.push('_');
                }
                name.push(c.to_ascii_uppercase());
            }
            name
        }
    }
}

/// An open, logged-in session and the private key's handle in it.
struct Open {
    session: Session,
    key: ObjectHandle,
}

/// An Ed25519 key in a PKCS#11 token, signing through one session at a time.
pub struct TokenSigner {
    token: TokenRef,
    ctx: Pkcs11,
    slot: Slot,
    pin: AuthPin,
    public: VerifyingKey,
    session: Mutex<Option<Open>>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSigner({})", self.token)
    }
}

impl TokenSigner {
    /// Opens the key `token` names: loads the module, finds the token, logs in, finds the key
    /// and checks it (Ed25519, sensitive, not extractable), and reads its public key.
    pub fn open(token: &TokenRef) -> Result<TokenSigner, TokenError> {
        let ctx = module(&token.module)?;
        let slot = find_slot(&ctx, token)?;
        let pin = AuthPin::from(token.read_pin().map_err(|reason| TokenError::Pin {
            token: token.to_string(),
            reason,
        })?);
        let (open, public) = open_session(&ctx, slot, &pin, token)?;
        let public = VerifyingKey::from_bytes(&public).map_err(|_| {
            TokenError::Unusable(
                token.to_string(),
                "its public key (CKA_EC_POINT) is not a valid Ed25519 point".into(),
            )
        })?;
        Ok(TokenSigner {
            token: token.clone(),
            ctx,
            slot,
            pin,
            public,
            session: Mutex::new(Some(open)),
        })
    }

    pub fn token(&self) -> &TokenRef {
        &self.token
    }

    fn lock(&self) -> MutexGuard<'_, Option<Open>> {
        // A panic while signing leaves at worst a session that fails and is replaced.
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signs through the session, opening one if there is none. A failure drops the session;
    /// a failure of a session that had been open is tried once more on a new one (the token
    /// may have been removed and put back, or the module restarted).
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        let mut guard = self.lock();
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let mut retry = guard.is_some();
        loop {
            if guard.is_none() {
                let (open, public) = open_session(&self.ctx, self.slot, &self.pin, &self.token)?;
                if public != *self.public.as_bytes() {
                    return Err(TokenError::Unusable(
                        self.token.to_string(),
                        "the key there is no longer the one opened (its public key changed)".into(),
                    ));
                }
                *guard = Some(open);
            }
            let open = guard.as_ref().expect("a session was just put in place");
            match open.session.sign(&mechanism, open.key, msg) {
                Ok(sig) => return Ok(sig),
                Err(e) => {
                    *guard = None;
                    if !retry {
                        return Err(call_error(&self.token, &e));
                    }
                    tracing::warn!(token = %self.token, error = %call_text(&e), "signing failed; opening a new session");
                    retry = false;
                }
            }
        }
    }
}

impl ExternalSigner for TokenSigner {
    fn public_key(&self) -> VerifyingKey {
        self.public
    }

    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], SignerError> {
        let failed = |reason: String| SignerError {
            signer: self.token.to_string(),
            reason,
        };
        let sig = self.try_sign(msg).map_err(|e| match e {
            // The message already names the token.
            TokenError::Call {
                function,
                code,
                hint,
                ..
            } => failed(format!("{function} returned {code}{hint}")),
            other => failed(other.to_string()),
        })?;
        sig.as_slice().try_into().map_err(|_| {
            failed(format!(
                "the signature is {} bytes, not the 64 of Ed25519 (is it an Ed25519 key?)",
                sig.len()
            ))
        })
    }

    fn describe(&self) -> String {
        self.token.to_string()
    }
}

fn call_error(token: &TokenRef, e: &CkError) -> TokenError {
    match e {
        CkError::Pkcs11(rv, function) => TokenError::Call {
            token: token.to_string(),
            function: c_name(*function),
            code: ckr(*rv),
            hint: match rv {
                RvError::PinIncorrect => " (the PIN is wrong; nothing was signed)",
                RvError::PinLocked => " (too many wrong PINs: the security officer must unlock it)",
                RvError::MechanismInvalid => {
                    " (the token does not sign with CKM_EDDSA: it cannot hold this ledger's key)"
                }
                _ => "",
            },
        },
        other => TokenError::Unusable(token.to_string(), other.to_string()),
    }
}

/// The slot holding the token labelled `token.token`.
fn find_slot(ctx: &Pkcs11, token: &TokenRef) -> Result<Slot, TokenError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| call_error(token, &e))?;
    let mut found = Vec::new();
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| call_error(token, &e))?;
        let label = info.label().trim_end();
        if label == token.token {
            return Ok(slot);
        }
        found.push(format!("\"{label}\""));
    }
    Err(TokenError::NoToken {
        label: token.token.clone(),
        module: token.module.clone(),
        found: if found.is_empty() {
            "none".into()
        } else {
            found.join(", ")
        },
    })
}

/// Opens a session, logs in, and finds the private key and its public key.
fn open_session(
    ctx: &Pkcs11,
    slot: Slot,
    pin: &AuthPin,
    token: &TokenRef,
) -> Result<(Open, [u8; 32]), TokenError> {
    let err = |e: CkError| call_error(token, &e);
    let session = ctx.open_ro_session(slot).map_err(err)?;
    match session.login(UserType::User, Some(pin)) {
        // Logins are per application: another signer of this process may have logged in.
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(err(e)),
    }
    let key = find_one(&session, token, ObjectClass::PRIVATE_KEY)?;
    check_private(&session, key, token)?;
    let public_object = find_one(&session, token, ObjectClass::PUBLIC_KEY)?;
    let public = public_key(&session, public_object, token)?;
    Ok((Open { session, key }, public))
}

/// The one object of `class` that the key selector names.
fn find_one(
    session: &Session,
    token: &TokenRef,
    class: ObjectClass,
) -> Result<ObjectHandle, TokenError> {
    let mut template = vec![
        Attribute::Class(class),
        Attribute::KeyType(KeyType::EC_EDWARDS),
    ];
    let selector = match &token.key {
        KeySelector::Id(id) => {
            template.push(Attribute::Id(id.clone()));
            format!("--id {}", hex::encode(id))
        }
        KeySelector::Label(label) => {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
            format!("--label \"{label}\"")
        }
    };
    let name = if class == ObjectClass::PRIVATE_KEY {
        "private"
    } else {
        "public"
    };
    let found = session
        .find_objects(&template)
        .map_err(|e| call_error(token, &e))?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(TokenError::NoKey {
            token: token.to_string(),
            class: name,
            module: token.module.display().to_string(),
            label: token.token.clone(),
            selector,
        }),
        many => Err(TokenError::Ambiguous {
            token: token.to_string(),
            class: name,
            count: many.len(),
        }),
    }
}

/// The private key must be one the token never reveals: CKA_SENSITIVE true and
/// CKA_EXTRACTABLE false (a key that can be exported is a key file with extra steps).
fn check_private(session: &Session, key: ObjectHandle, token: &TokenRef) -> Result<(), TokenError> {
    let attrs = session
        .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
        .map_err(|e| call_error(token, &e))?;
    let (mut sensitive, mut extractable) = (None, None);
    for a in attrs {
        match a {
            Attribute::Sensitive(v) => sensitive = Some(v),
            Attribute::Extractable(v) => extractable = Some(v),
            _ => {}
        }
    }
    if sensitive != Some(true) || extractable != Some(false) {
        return Err(TokenError::Unusable(
            token.to_string(),
            format!(
                "the private key can leave the token (CKA_SENSITIVE {}, CKA_EXTRACTABLE {}): use a key generated with CKA_SENSITIVE true and CKA_EXTRACTABLE false (pkcs11-tool --keypairgen without --extractable)",
                flag(sensitive),
                flag(extractable)
            ),
        ));
    }
    Ok(())
}

fn flag(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "true",
        Some(false) => "false",
        None => "unreadable",
    }
}

/// The 32-byte Ed25519 public key in CKA_EC_POINT: PKCS#11 3.0 says a DER OCTET STRING
/// (`04 20` and the key), and some tokens give the 32 bytes raw; both are taken.
fn public_key(
    session: &Session,
    object: ObjectHandle,
    token: &TokenRef,
) -> Result<[u8; 32], TokenError> {
    let attrs = session
        .get_attributes(object, &[AttributeType::EcPoint])
        .map_err(|e| call_error(token, &e))?;
    let point = attrs.into_iter().find_map(|a| match a {
        Attribute::EcPoint(p) => Some(p),
        _ => None,
    });
    point
        .as_deref()
        .and_then(ec_point)
        .ok_or_else(|| {
            TokenError::Unusable(
                token.to_string(),
                format!(
                    "its public key (CKA_EC_POINT {}) is not an Ed25519 key (32 bytes, raw or in a DER OCTET STRING)",
                    point.as_deref().map_or("missing".into(), hex::encode)
                ),
            )
        })
}

/// The key in a CKA_EC_POINT value: `04 20 <32 bytes>` or the 32 bytes alone.
pub fn ec_point(value: &[u8]) -> Option<[u8; 32]> {
    match value {
        [0x04, 0x20, key @ ..] if key.len() == 32 => key.try_into().ok(),
        key if key.len() == 32 => key.try_into().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_points_in_both_forms_give_the_key_and_others_none() {
        let key = [7u8; 32];
        let mut der = vec![0x04, 0x20];
        der.extend_from_slice(&key);
        assert_eq!(ec_point(&der), Some(key));
        assert_eq!(ec_point(&key), Some(key));
        // An Ed448 point (57 bytes), a truncated one, a wrong tag.
        assert_eq!(ec_point(&[0x04, 0x39].repeat(29)), None);
        assert_eq!(ec_point(&der[..33]), None);
        let mut wrong = der.clone();
        wrong[0] = 0x03;
        assert_eq!(ec_point(&wrong), None);
    }

    #[test]
    fn return_values_are_named_as_the_standard_names_them() {
        assert_eq!(ckr(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr(RvError::CryptokiAlreadyInitialized),
            "CKR_CRYPTOKI_ALREADY_INITIALIZED"
        );
        assert_eq!(ckr(RvError::KeyHandleInvalid), "CKR_KEY_HANDLE_INVALID");
        assert_eq!(c_name(Function::Login), "C_Login");
    }

    #[test]
    fn a_missing_module_is_named() {
        let token = TokenRef::new(
            PathBuf::from("/nonexistent/libpkcs11.so"),
            "t".into(),
            KeySelector::Id(vec![1]),
            PinSource::Env("IDLEDGER_TEST_PIN".into()),
        )
        .expect("valid");
        let err = TokenSigner::open(&token).expect_err("no module");
        assert!(
            err.to_string()
                .contains("cannot load the PKCS#11 module /nonexistent/libpkcs11.so"),
            "{err}"
        );
    }
}
