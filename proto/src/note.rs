//! C2SP signed notes (c2sp.org/signed-note) with Ed25519: key IDs, verifier-key text, signing
//! (with a key in memory or through an external signer such as an HSM), and strict parsing and
//! verification.

use crate::hash::sha256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::fmt;

/// The signature algorithm byte for Ed25519 in signed-note key IDs and verifier keys.
const ALG_ED25519: u8 = 0x01;
/// Notes with more signatures than this are refused (bounded work for hostile input).
pub const MAX_SIGNATURES: usize = 100;
/// Notes longer than this are refused.
pub const MAX_NOTE_BYTES: usize = 1024 * 1024;
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, key or signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed verifier key: {0}")]
    MalformedKey(String),
    #[error("invalid key name `{}`: names are non-empty and have no spaces, `+` or control characters", crate::printable::printable(.0))]
    BadKeyName(String),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("signature by {name} (key {key_id}) does not verify")]
    InvalidSignature { name: String, key_id: String },
    #[error("note has no signature by a trusted key (signed by: {signers})")]
    UnknownKey { signers: String },
    #[error("note has no signatures")]
    NoSignatures,
    #[error("key {name}+{key_id} signed the note more than once")]
    DuplicateSignature { name: String, key_id: String },
    #[error("signing failed: {0}")]
    Signer(#[from] SignerError),
    #[error(
        "{signer} returned a signature that does not verify under {key}: nothing was signed with it (is it the right key, and is the device working?)"
    )]
    WrongSignature { signer: String, key: String },
}

/// Why an external signer could not sign: which signer (e.g. a token and key), and what failed
/// (e.g. a PKCS#11 return code). Plain text so that notes' errors stay comparable.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{signer}: {reason}")]
pub struct SignerError {
    pub signer: String,
    pub reason: String,
}

/// A private Ed25519 key held outside this process (an HSM, a token, a remote service): it
/// signs messages and tells its public key, and never hands out the private key. Signing may
/// fail; `NoteSigner` verifies every signature it returns before using it.
pub trait ExternalSigner: Send + Sync {
    /// The public key of the private key that signs.
    fn public_key(&self) -> VerifyingKey;
    /// A pure Ed25519 (RFC 8032) signature of `msg`.
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], SignerError>;
    /// Names the signer in messages (e.g. `PKCS#11 token "x", key id 01`).
    fn describe(&self) -> String;
}

pub type KeyId = [u8; 4];

/// Key ID per c2sp.org/signed-note: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key).
pub fn key_id(name: &str, key: &VerifyingKey) -> KeyId {
    let mut material = Vec::with_capacity(name.len() + 34);
    material.extend_from_slice(name.as_bytes());
    material.push(b'\n');
    material.push(ALG_ED25519);
    material.extend_from_slice(key.as_bytes());
    let h = sha256(&material);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

fn check_name(name: &str) -> Result<(), NoteError> {
    // Control and bidirectional characters too: a name is printed in messages and descriptions.
    if name.is_empty()
        || name.contains('+')
        || name
            .chars()
            .any(|c| c.is_whitespace() || crate::printable::is_hazard(c))
    {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    Ok(())
}

/// Refuses a public key of small order: with such a key (the identity point, say) a signature
/// can be made for any message without a private key, so no note signed by it proves anything.
fn check_strong(key: &VerifyingKey) -> Result<(), NoteError> {
    if key.is_weak() {
        return Err(NoteError::MalformedKey(
            "the Ed25519 key is a point of small order (a weak key anyone can sign for)".into(),
        ));
    }
    Ok(())
}

/// A public key that verifies note signatures, with its name and key ID.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: KeyId,
    key: VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl VerifierKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<VerifierKey, NoteError> {
        check_name(name)?;
        check_strong(&key)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id: key_id(name, &key),
            key,
        })
    }

    /// Parses `<name>+<key ID as 8 hex digits>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let text = text.trim();
        // Names never contain `+`, but base64 may: split from the left.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey(
                "expected <name>+<hex key id>+<base64 key>".into(),
            ));
        };
        check_name(name)?;
        if id_hex.len() != 8 {
            return Err(NoteError::MalformedKey(format!(
                "key id `{id_hex}` is not 8 hex digits"
            )));
        }
        let mut id = [0u8; 4];
        hex::decode_to_slice(id_hex, &mut id)
            .map_err(|_| NoteError::MalformedKey(format!("key id `{id_hex}` is not hex")))?;
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::MalformedKey("key is not standard base64".into()))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::MalformedKey(
                "key is not an Ed25519 key (0x01 and 32 bytes)".into(),
            ));
        }
        let bytes: [u8; 32] = raw[1..].try_into().expect("33 - 1 bytes");
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 point".into()))?;
        check_strong(&key)?;
        let vk = VerifierKey {
            name: name.to_owned(),
            id,
            key,
        };
        if key_id(name, &key) != id {
            return Err(NoteError::MalformedKey(format!(
                "key id {id_hex} does not match the name and key (expected {})",
                hex::encode(key_id(name, &key))
            )));
        }
        Ok(vk)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn id(&self) -> KeyId {
        self.id
    }
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `sig` is this key's valid signature of `text`. Verification is strict (RFC 8032's
    /// canonical encodings, no small-order components), so no signature is accepted under one
    /// rule by idledger and refused under another by a stricter verifier.
    pub fn verifies(&self, text: &str, sig: &NoteSignature) -> bool {
        sig.name == self.name
            && sig.key_id == self.id
            && self
                .key
                .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig.signature))
                .is_ok()
    }

    /// Whether a signature line claims this key (same name and key ID).
    pub fn is_claimed_by(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.id
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }
}

/// Where a `NoteSigner`'s private key is.
enum PrivateKey {
    /// In this process's memory (a key file).
    Memory(Box<SigningKey>),
    /// Behind an external signer, which may fail and whose signatures are checked.
    External(Box<dyn ExternalSigner>),
}

/// A private key that signs notes under a name.
pub struct NoteSigner {
    verifier: VerifierKey,
    key: PrivateKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            PrivateKey::Memory(_) => write!(f, "NoteSigner({})", self.verifier),
            PrivateKey::External(s) => {
                write!(f, "NoteSigner({}, {})", self.verifier, s.describe())
            }
        }
    }
}

impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<NoteSigner, NoteError> {
        Ok(NoteSigner {
            verifier: VerifierKey::new(name, key.verifying_key())?,
            key: PrivateKey::Memory(Box::new(key)),
        })
    }
    /// A signer whose private key is held by `signer` (its public key is read once, here).
    pub fn external(name: &str, signer: Box<dyn ExternalSigner>) -> Result<NoteSigner, NoteError> {
        Ok(NoteSigner {
            verifier: VerifierKey::new(name, signer.public_key())?,
            key: PrivateKey::External(signer),
        })
    }
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }
    /// The private key, if it is in memory (`None` for an external signer, which never hands
    /// it out).
    pub fn signing_key(&self) -> Option<&SigningKey> {
        match &self.key {
            PrivateKey::Memory(k) => Some(k),
            PrivateKey::External(_) => None,
        }
    }
    /// What holds the private key, for messages.
    pub fn describe(&self) -> String {
        match &self.key {
            PrivateKey::Memory(_) => "a key in memory".to_owned(),
            PrivateKey::External(s) => s.describe(),
        }
    }
    /// The signature line for `text` (without the trailing newline). An external signer's
    /// signature is verified before it is used: a device that returns a wrong signature (a
    /// fault, or another key than the one named) must not put a bad line in a note.
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        let sig = match &self.key {
            PrivateKey::Memory(k) => k.sign(text.as_bytes()).to_bytes(),
            PrivateKey::External(s) => {
                let sig = s.sign(text.as_bytes())?;
                if self
                    .verifier
                    .key
                    .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
                    .is_err()
                {
                    return Err(NoteError::WrongSignature {
                        signer: s.describe(),
                        key: self.verifier.to_string(),
                    });
                }
                sig
            }
        };
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.verifier.id);
        blob.extend_from_slice(&sig);
        Ok(format!(
            "{SIG_PREFIX}{} {}",
            self.verifier.name,
            B64.encode(blob)
        ))
    }
}

/// Signs `text` (which must end in a newline) with every signer, in order.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    let mut note = String::with_capacity(text.len() + 1 + 100 * signers.len());
    note.push_str(text);
    note.push('\n');
    for s in signers {
        note.push_str(&s.signature_line(text)?);
        note.push('\n');
    }
    Ok(note)
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "note text must end with a newline".into(),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(
            "note text has control characters".into(),
        ));
    }
    Ok(())
}

/// One signature line of a note, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: KeyId,
    pub signature: [u8; 64],
}

/// A note split into its text and signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedNote {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// Splits a note into its text and well-formed signature lines; anything else is refused.
pub fn parse_note(note: &str) -> Result<ParsedNote, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed(format!(
            "longer than {MAX_NOTE_BYTES} bytes"
        )));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let text = &note[..=split];
    check_text(text)?;
    let sigs = &note[split + 2..];
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature block must end with a newline".into(),
        ));
    }
    let mut signatures = Vec::new();
    for line in sigs[..sigs.len() - 1].split('\n') {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| NoteError::Malformed(format!("not a signature line: `{line}`")))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| NoteError::Malformed("signature line has no signature".into()))?;
        check_name(name)?;
        let blob = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not standard base64".into()))?;
        if blob.len() != 68 {
            return Err(NoteError::Malformed(format!(
                "Ed25519 signature blob is {} bytes, expected 68",
                blob.len()
            )));
        }
        signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id: blob[..4].try_into().expect("4 bytes"),
            signature: blob[4..].try_into().expect("64 bytes"),
        });
        if signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed(format!(
                "more than {MAX_SIGNATURES} signatures"
            )));
        }
    }
    if signatures.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    Ok(ParsedNote {
        text: text.to_owned(),
        signatures,
    })
}

/// A note whose signatures by the listed keys verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    pub text: String,
    /// The trusted keys whose signatures verified, in signature order.
    pub verified_by: Vec<VerifierKey>,
    /// Signatures by keys not in the trusted set (kept for witnesses and rotation).
    pub other_signatures: Vec<NoteSignature>,
}

impl ParsedNote {
    /// Checks every signature line that claims one of `keys`: each must verify, and no key may
    /// sign twice. Returns the keys that signed, in signature order, and the lines that claim
    /// none of them.
    pub fn check_signatures(
        &self,
        keys: &[VerifierKey],
    ) -> Result<(Vec<VerifierKey>, Vec<NoteSignature>), NoteError> {
        let mut signed_by: Vec<VerifierKey> = Vec::new();
        let mut others = Vec::new();
        for sig in &self.signatures {
            match keys.iter().find(|k| k.is_claimed_by(sig)) {
                Some(k) => {
                    if !k.verifies(&self.text, sig) {
                        return Err(NoteError::InvalidSignature {
                            name: sig.name.clone(),
                            key_id: hex::encode(sig.key_id),
                        });
                    }
                    if signed_by.contains(k) {
                        return Err(NoteError::DuplicateSignature {
                            name: sig.name.clone(),
                            key_id: hex::encode(sig.key_id),
                        });
                    }
                    signed_by.push(k.clone());
                }
                None => others.push(sig.clone()),
            }
        }
        Ok((signed_by, others))
    }
}

/// Verifies a note against a set of trusted keys: at least one trusted signature must verify,
/// every signature that claims a trusted key must verify, and no trusted key may sign twice.
pub fn verify_note(note: &str, trusted: &[VerifierKey]) -> Result<VerifiedNote, NoteError> {
    let parsed = parse_note(note)?;
    let (verified_by, other_signatures) = parsed.check_signatures(trusted)?;
    if verified_by.is_empty() {
        let signers = other_signatures
            .iter()
            .map(|s| format!("{}+{}", s.name, hex::encode(s.key_id)))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(NoteError::UnknownKey { signers });
    }
    Ok(VerifiedNote {
        text: parsed.text,
        verified_by,
        other_signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn c2sp_signed_note_test_vector_verifies() {
        let vk = VerifierKey::parse(SPEC_VKEY).expect("spec key parses");
        assert_eq!(vk.to_string(), SPEC_VKEY);
        assert_eq!(hex::encode(vk.id()), "530d903a");
        let v = verify_note(SPEC_NOTE, &[vk]).expect("spec note verifies");
        assert_eq!(v.text, "This is an example message.\n");
    }

    #[test]
    fn every_single_bit_flip_of_the_spec_note_fails() {
        let vk = VerifierKey::parse(SPEC_VKEY).expect("spec key parses");
        let bytes = SPEC_NOTE.as_bytes();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.to_vec();
                b[i] ^= 1 << bit;
                if let Ok(text) = std::str::from_utf8(&b) {
                    assert!(
                        verify_note(text, std::slice::from_ref(&vk)).is_err(),
                        "byte {i} bit {bit}"
                    );
                }
            }
        }
    }

    #[test]
    fn keys_whose_base64_contains_plus_round_trip() {
        for seed in 0u8..64 {
            let signer =
                NoteSigner::new("log.test/a", SigningKey::from_bytes(&[seed; 32])).expect("name");
            let text = signer.verifier().to_string();
            assert_eq!(VerifierKey::parse(&text).expect("parses").to_string(), text);
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        let cases = [
            "",
            "example.com/foo",
            "example.com/foo+530d903a",
            "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d90+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "exa mple+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ];
        for text in cases {
            assert!(VerifierKey::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn keys_of_small_order_are_refused() {
        // The identity point and a point of order 4: with either, `R = [s]B` "verifies" for any
        // message without a private key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut order_four = [0u8; 32];
        order_four[31] = 0x80;
        for bytes in [identity, order_four] {
            let key = VerifyingKey::from_bytes(&bytes).expect("a point on the curve");
            let mut raw = vec![ALG_ED25519];
            raw.extend_from_slice(&bytes);
            let text = format!(
                "log.test/a+{}+{}",
                hex::encode(key_id("log.test/a", &key)),
                B64.encode(raw)
            );
            assert!(
                matches!(VerifierKey::parse(&text), Err(NoteError::MalformedKey(m)) if m.contains("small order")),
                "{text}"
            );
            assert!(VerifierKey::new("log.test/a", key).is_err());
        }
    }

    #[test]
    fn a_key_that_signs_twice_is_refused() {
        let signer = NoteSigner::new("log.test/a", SigningKey::from_bytes(&[7; 32])).expect("name");
        let note = sign_note("hello\n", &[&signer, &signer]).expect("signs");
        assert!(matches!(
            verify_note(&note, &[signer.verifier().clone()]),
            Err(NoteError::DuplicateSignature { .. })
        ));
    }

    #[test]
    fn sign_then_verify_and_unknown_key() {
        let signer = NoteSigner::new("log.test/a", SigningKey::from_bytes(&[7; 32])).expect("name");
        let other = NoteSigner::new("log.test/a", SigningKey::from_bytes(&[8; 32])).expect("name");
        let note = sign_note("hello\n", &[&signer]).expect("signs");
        assert!(verify_note(&note, &[signer.verifier().clone()]).is_ok());
        assert!(matches!(
            verify_note(&note, &[other.verifier().clone()]),
            Err(NoteError::UnknownKey { .. })
        ));
        assert!(sign_note("no newline", &[&signer]).is_err());
    }

    /// An external signer for tests: signs with `key`, or fails, or returns another key's
    /// signature (a faulty or substituted device).
    struct FakeDevice {
        key: SigningKey,
        behaviour: Behaviour,
    }
    enum Behaviour {
        Honest,
        Fails,
        SignsWith(Box<SigningKey>),
    }
    impl ExternalSigner for FakeDevice {
        fn public_key(&self) -> VerifyingKey {
            self.key.verifying_key()
        }
        fn sign(&self, msg: &[u8]) -> Result<[u8; 64], SignerError> {
            match &self.behaviour {
                Behaviour::Honest => Ok(self.key.sign(msg).to_bytes()),
                Behaviour::Fails => Err(SignerError {
                    signer: self.describe(),
                    reason: "CKR_DEVICE_REMOVED".into(),
                }),
                Behaviour::SignsWith(other) => Ok(other.sign(msg).to_bytes()),
            }
        }
        fn describe(&self) -> String {
            "fake device".into()
        }
    }

    fn device(behaviour: Behaviour) -> NoteSigner {
        let key = SigningKey::from_bytes(&[7; 32]);
        NoteSigner::external("log.test/a", Box::new(FakeDevice { key, behaviour })).expect("name")
    }

    #[test]
    fn an_external_signer_signs_what_the_same_key_in_memory_signs() {
        let external = device(Behaviour::Honest);
        let memory = NoteSigner::new("log.test/a", SigningKey::from_bytes(&[7; 32])).expect("name");
        assert_eq!(external.verifier(), memory.verifier());
        assert!(external.signing_key().is_none());
        let note = sign_note("hello\n", &[&external]).expect("signs");
        // Ed25519 is deterministic: the same key signs the same bytes.
        assert_eq!(note, sign_note("hello\n", &[&memory]).expect("signs"));
        assert!(verify_note(&note, &[external.verifier().clone()]).is_ok());
    }

    #[test]
    fn a_failing_or_lying_external_signer_signs_nothing() {
        let failing = device(Behaviour::Fails);
        assert_eq!(
            sign_note("hello\n", &[&failing]),
            Err(NoteError::Signer(SignerError {
                signer: "fake device".into(),
                reason: "CKR_DEVICE_REMOVED".into()
            }))
        );
        let lying = device(Behaviour::SignsWith(Box::new(SigningKey::from_bytes(
            &[8; 32],
        ))));
        let err = sign_note("hello\n", &[&lying]).expect_err("refused");
        assert!(
            matches!(&err, NoteError::WrongSignature { signer, .. } if signer == "fake device"),
            "{err}"
        );
        assert!(err.to_string().contains("does not verify"), "{err}");
    }
}
