//! JWS compact serialization (RFC 7515) of a Security Event Token: splits and decodes it, checks
//! its header, and verifies its signature against a JWKS (RS256/384/512, ES256, EdDSA) when one
//! is configured. Errors name the JWS part (`/header`, `/payload`, `/signature`) or the header
//! member (`/alg`, `/kid`, `/typ`, `/crit`).

use super::super::FieldError;
use super::jwks::{Jwk, Jwks, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The header and payload of a compact JWS, decoded but not yet verified.
#[derive(Debug)]
pub(crate) struct Token<'a> {
    /// The bytes the signature covers: `header.payload` as sent.
    signing_input: &'a str,
    signature: &'a str,
    pub(crate) header: serde_json::Map<String, serde_json::Value>,
    pub(crate) payload: serde_json::Value,
}

/// Whether and by which key a token was verified; recorded with every event it maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verification {
    /// The name of the key that verified it (`kid`, or the RFC 7638 thumbprint of a key
    /// without one); `None` when it was read unverified.
    pub(crate) kid: Option<String>,
}

/// Whether `text` has the shape of a compact JWS: three base64url parts separated by dots.
pub(crate) fn looks_compact(text: &str) -> bool {
    text.split('.').count() == 3
        && text
            .bytes()
            .all(|b| b == b'.' || b == b'-' || b == b'_' || b.is_ascii_alphanumeric())
}

/// Decodes a compact JWS and checks its header; the signature is checked by `verify`.
pub(crate) fn decode(text: &str) -> Result<Token<'_>, FieldError> {
    let mut parts = text.splitn(3, '.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(FieldError::new(
            "",
            "expected three parts: header.payload.signature",
        ));
    };
    let signing_input = &text[..header.len() + 1 + payload.len()];
    let header = match json_part(header, "/header")? {
        serde_json::Value::Object(map) => map,
        _ => return Err(FieldError::new("/header", "expected a JSON object")),
    };
    check_header(&header)?;
    let payload = json_part(payload, "/payload")?;
    if !payload.is_object() {
        return Err(FieldError::new(
            "/payload",
            "expected a JSON object (a claims set)",
        ));
    }
    Ok(Token {
        signing_input,
        signature,
        header,
        payload,
    })
}

fn json_part(part: &str, field: &str) -> Result<serde_json::Value, FieldError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| FieldError::new(field, "not base64url without padding"))?;
    serde_json::from_slice(&bytes).map_err(|_| FieldError::new(field, "not JSON"))
}

/// The header rules that hold whether or not the token is verified.
fn check_header(header: &serde_json::Map<String, serde_json::Value>) -> Result<(), FieldError> {
    let alg = header_text(header, "alg")?.ok_or_else(|| FieldError::missing("/alg"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(FieldError::new(
            "/alg",
            "alg `none` is never accepted: a security event token must be signed",
        ));
    }
    if let Some(typ) = header_text(header, "typ")? {
        let typ = typ.to_ascii_lowercase();
        if typ != "secevent+jwt" && typ != "application/secevent+jwt" {
            return Err(FieldError::new(
                "/typ",
                format!("expected `secevent+jwt`, found `{}`", printable(&typ)),
            ));
        }
    }
    // RFC 7515 section 4.1.11: a recipient must refuse extensions it does not understand, and
    // idledger understands none.
    if header.contains_key("crit") {
        return Err(FieldError::new(
            "/crit",
            "critical header extensions are not supported",
        ));
    }
    Ok(())
}

fn header_text<'h>(
    header: &'h serde_json::Map<String, serde_json::Value>,
    member: &str,
) -> Result<Option<&'h str>, FieldError> {
    match header.get(member) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::new(
            format!("/{member}"),
            format!(
                "expected a string, found {}",
                super::super::draft::kind_of(other)
            ),
        )),
    }
}

/// The signature algorithms idledger verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Es256,
    EdDsa,
}

impl Alg {
    fn parse(text: &str) -> Option<Alg> {
        match text {
            "RS256" => Some(Alg::Rs256),
            "RS384" => Some(Alg::Rs384),
            "RS512" => Some(Alg::Rs512),
            "ES256" => Some(Alg::Es256),
            "EdDSA" | "Ed25519" => Some(Alg::EdDsa),
            _ => None,
        }
    }

    fn fits(self, key: &PublicKey) -> bool {
        matches!(
            (self, key),
            (Alg::Rs256 | Alg::Rs384 | Alg::Rs512, PublicKey::Rsa(_))
                | (Alg::Es256, PublicKey::P256(_))
                | (Alg::EdDsa, PublicKey::Ed25519(_))
        )
    }
}

impl Token<'_> {
    /// Checks the signature against `jwks`: by the key the header's `kid` names, or, without a
    /// `kid`, by each key that fits the algorithm.
    pub(crate) fn verify(&self, jwks: &Jwks) -> Result<Verification, FieldError> {
        let alg_text = header_text(&self.header, "alg")?.unwrap_or_default();
        let alg = Alg::parse(alg_text).ok_or_else(|| {
            FieldError::new(
                "/alg",
                format!(
                    "alg `{}` is not supported; expected RS256, RS384, RS512, ES256 or EdDSA",
                    printable(alg_text)
                ),
            )
        })?;
        let signature = URL_SAFE_NO_PAD
            .decode(self.signature)
            .map_err(|_| FieldError::new("/signature", "not base64url without padding"))?;
        if let Some(kid) = header_text(&self.header, "kid")? {
            let key = jwks.by_kid(kid).ok_or_else(|| {
                FieldError::new(
                    "/kid",
                    format!("no key `{}` in the configured JWKS", printable(kid)),
                )
            })?;
            if !key_allows(key, alg, alg_text) {
                return Err(FieldError::new(
                    "/alg",
                    format!(
                        "alg `{alg_text}` does not fit key `{}`, {}{}",
                        printable(kid),
                        key.key.describe(),
                        key.alg
                            .as_deref()
                            .map(|a| format!(" for {}", printable(a)))
                            .unwrap_or_default()
                    ),
                ));
            }
            return if verifies(&key.key, alg, self.signing_input.as_bytes(), &signature) {
                Ok(Verification {
                    kid: Some(key.name.clone()),
                })
            } else {
                Err(FieldError::new(
                    "/signature",
                    format!("does not verify with key `{}`", printable(kid)),
                ))
            };
        }
        let mut candidates = jwks
            .keys()
            .filter(|k| key_allows(k, alg, alg_text))
            .peekable();
        if candidates.peek().is_none() {
            return Err(FieldError::new(
                "/kid",
                format!("absent, and no key in the configured JWKS fits alg `{alg_text}`"),
            ));
        }
        candidates
            .find(|k| verifies(&k.key, alg, self.signing_input.as_bytes(), &signature))
            .map(|k| Verification {
                kid: Some(k.name.clone()),
            })
            .ok_or_else(|| {
                FieldError::new(
                    "/signature",
                    format!(
                        "does not verify with any key in the configured JWKS for alg `{alg_text}`"
                    ),
                )
            })
    }
}

fn key_allows(key: &Jwk, alg: Alg, alg_text: &str) -> bool {
    alg.fits(&key.key) && key.alg.as_deref().is_none_or(|a| a == alg_text)
}

fn verifies(key: &PublicKey, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
    use rsa::signature::Verifier;
    match (key, alg) {
        (PublicKey::Rsa(public), Alg::Rs256) => {
            rsa_verifies::<sha2::Sha256>(public, message, signature)
        }
        (PublicKey::Rsa(public), Alg::Rs384) => {
            rsa_verifies::<sha2::Sha384>(public, message, signature)
        }
        (PublicKey::Rsa(public), Alg::Rs512) => {
            rsa_verifies::<sha2::Sha512>(public, message, signature)
        }
        (PublicKey::P256(public), Alg::Es256) => p256::ecdsa::Signature::from_slice(signature)
            .is_ok_and(|s| public.verify(message, &s).is_ok()),
        (PublicKey::Ed25519(public), Alg::EdDsa) => ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|s| public.verify_strict(message, &s).is_ok()),
        _ => false,
    }
}

fn rsa_verifies<D>(public: &rsa::PublicKey, message: &[u8], signature: &[u8]) -> bool
where
    D: rsa::sha2::Digest + rsa::sha2::digest::const_oid::AssociatedOid,
{
    use rsa::signature::Verifier;
    let key = rsa::pkcs1v15::VerifyingKey::<D>::new(public.clone());
    rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| key.verify(message, &s).is_ok())
}

/// Text from a token, fit to quote in a reason: its first 64 characters, with the characters
/// that could change how printed text reads escaped (`crate::printable`).
pub(crate) fn printable(text: &str) -> String {
    let head: String = text.chars().take(64).collect();
    crate::printable::printable(&head).into_owned()
}
