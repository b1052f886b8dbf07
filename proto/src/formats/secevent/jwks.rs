//! The public keys Security Event Tokens are verified against: a JWKS document (RFC 7517) read
//! into RSA, P-256 and Ed25519 verifying keys, each known by its `kid` or, lacking one, by its
//! RFC 7638 thumbprint.

use super::super::FieldError;
use super::super::draft::kind_of;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// The smallest RSA modulus a key may have, in bits (RFC 7518 section 3.3 asks for 2048).
const RSA_MIN_BITS: usize = 2048;
/// The largest RSA modulus a key may have, in bits: bounds the work one verification costs.
const RSA_MAX_BITS: usize = 8192;
/// JWK members that only a private key has: a verification JWKS must hold none of them.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The keys JWS-signed tokens are verified against (a JWKS document, RFC 7517). Keys whose
/// `use` is not `sig`, or whose type or curve idledger does not verify with, are skipped.
#[derive(Debug, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// One verifying key and what it is known by.
#[derive(Debug)]
pub(crate) struct Jwk {
    /// The key's `kid`, or its RFC 7638 thumbprint when it has none.
    pub(crate) name: String,
    /// Whether `name` is the key's own `kid` (a header's `kid` selects only by that).
    pub(crate) has_kid: bool,
    /// The key's own `alg`, which then is the only algorithm it verifies.
    pub(crate) alg: Option<String>,
    pub(crate) key: PublicKey,
}

/// A verifying key by algorithm family.
#[derive(Debug)]
pub(crate) enum PublicKey {
    Rsa(rsa::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// How the key's type is named in messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "an RSA key",
            PublicKey::P256(_) => "an EC P-256 key",
            PublicKey::Ed25519(_) => "an Ed25519 key",
        }
    }
}

impl Jwks {
    /// Reads a JWKS document. Errors name the member as a JSON pointer into the document.
    pub fn from_json(bytes: &[u8]) -> Result<Jwks, FieldError> {
        let doc: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|_| FieldError::new("", "not JSON: expected a JWKS document"))?;
        let keys = match doc.get("keys") {
            None | Some(serde_json::Value::Null) => return Err(FieldError::missing("/keys")),
            Some(serde_json::Value::Array(keys)) => keys,
            Some(other) => {
                return Err(FieldError::new(
                    "/keys",
                    format!("expected an array, found {}", kind_of(other)),
                ));
            }
        };
        let mut jwks = Jwks::default();
        for (index, key) in keys.iter().enumerate() {
            let pointer = format!("/keys/{index}");
            if let Some(jwk) = read_key(key, &pointer)? {
                if jwks.keys.iter().any(|k| k.name == jwk.name) {
                    return Err(FieldError::new(
                        format!("{pointer}/kid"),
                        format!("key `{}` appears twice", jwk.name),
                    ));
                }
                jwks.keys.push(jwk);
            }
        }
        if jwks.keys.is_empty() {
            return Err(FieldError::new(
                "/keys",
                "no signing key of a supported type (RSA, EC P-256, OKP Ed25519)",
            ));
        }
        Ok(jwks)
    }

    /// The key a header's `kid` names.
    pub(crate) fn by_kid(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.has_kid && k.name == kid)
    }

    /// Every key, in document order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Jwk> {
        self.keys.iter()
    }

    /// How many keys were read.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One JWK: `None` when it is skipped (not for signatures, or of an unsupported type).
fn read_key(key: &serde_json::Value, pointer: &str) -> Result<Option<Jwk>, FieldError> {
    let Some(obj) = key.as_object() else {
        return Err(FieldError::new(
            pointer,
            format!("expected an object, found {}", kind_of(key)),
        ));
    };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(FieldError::new(
            format!("{pointer}/{member}"),
            "private key material: a verification JWKS holds public keys only",
        ));
    }
    if text(key, pointer, "use")?.is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let kty =
        text(key, pointer, "kty")?.ok_or_else(|| FieldError::missing(format!("{pointer}/kty")))?;
    let crv = text(key, pointer, "crv")?;
    let (public, thumbprint_json) = match (kty, crv) {
        ("RSA", _) => {
            let (n, e) = (text_b64(key, pointer, "n")?, text_b64(key, pointer, "e")?);
            let public = rsa_key(&n.1, &e.1, pointer)?;
            let json = format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, e.0, n.0);
            (PublicKey::Rsa(public), json)
        }
        ("EC", Some("P-256")) => {
            let (x, y) = (text_b64(key, pointer, "x")?, text_b64(key, pointer, "y")?);
            let public = p256_key(&x.1, &y.1, pointer)?;
            let json = format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                x.0, y.0
            );
            (PublicKey::P256(public), json)
        }
        ("OKP", Some("Ed25519")) => {
            let x = text_b64(key, pointer, "x")?;
            let bytes: [u8; 32] = x.1.as_slice().try_into().map_err(|_| {
                FieldError::new(
                    format!("{pointer}/x"),
                    "expected 32 bytes of Ed25519 public key",
                )
            })?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
                FieldError::new(format!("{pointer}/x"), "not an Ed25519 public key")
            })?;
            let json = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, x.0);
            (PublicKey::Ed25519(public), json)
        }
        _ => return Ok(None),
    };
    let kid = text(key, pointer, "kid")?;
    let name = match kid {
        Some(kid) => kid.to_owned(),
        None => URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_json.as_bytes())),
    };
    Ok(Some(Jwk {
        name,
        has_kid: kid.is_some(),
        alg: text(key, pointer, "alg")?.map(str::to_owned),
        key: public,
    }))
}

/// A string member of a JWK, if present.
fn text<'v>(
    key: &'v serde_json::Value,
    pointer: &str,
    member: &str,
) -> Result<Option<&'v str>, FieldError> {
    match key.get(member) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(other) => Err(FieldError::new(
            format!("{pointer}/{member}"),
            format!("expected a non-empty string, found {}", kind_of(other)),
        )),
    }
}

/// A required base64url member of a JWK: its text (for the thumbprint) and its bytes.
fn text_b64<'v>(
    key: &'v serde_json::Value,
    pointer: &str,
    member: &str,
) -> Result<(&'v str, Vec<u8>), FieldError> {
    let field = format!("{pointer}/{member}");
    let value = text(key, pointer, member)?.ok_or_else(|| FieldError::missing(field.clone()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| FieldError::new(field, "not base64url without padding"))?;
    Ok((value, bytes))
}

fn rsa_key(n: &[u8], e: &[u8], pointer: &str) -> Result<rsa::PublicKey, FieldError> {
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|&x| x == 0).collect() };
    let (n, e) = (strip(n), strip(e));
    if n.len() * 8 > RSA_MAX_BITS {
        return Err(FieldError::new(
            format!("{pointer}/n"),
            format!("modulus is longer than {RSA_MAX_BITS} bits"),
        ));
    }
    if e.is_empty() || e.len() > 8 {
        return Err(FieldError::new(
            format!("{pointer}/e"),
            "expected a public exponent of 1 to 8 bytes",
        ));
    }
    let n = rsa::BoxedUint::from_be_slice_vartime(&n);
    let e = rsa::BoxedUint::from_be_slice_vartime(&e);
    rsa::PublicKey::new_with_size_limits(n, e, RSA_MIN_BITS..=RSA_MAX_BITS).map_err(|_| {
        FieldError::new(
            format!("{pointer}/n"),
            format!("not an RSA public key of {RSA_MIN_BITS} to {RSA_MAX_BITS} bits with a valid exponent"),
        )
    })
}

fn p256_key(x: &[u8], y: &[u8], pointer: &str) -> Result<p256::ecdsa::VerifyingKey, FieldError> {
    if x.len() != 32 || y.len() != 32 {
        return Err(FieldError::new(
            format!("{pointer}/x"),
            "expected coordinates of 32 bytes each",
        ));
    }
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
        .map_err(|_| FieldError::new(format!("{pointer}/x"), "not a point on P-256"))
}
