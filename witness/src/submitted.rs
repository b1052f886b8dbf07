//! The checkpoint note of an add-checkpoint request: its text (a c2sp.org/tlog-checkpoint body)
//! and its signature lines. Unlike `proto::note::parse_note`, which reads idledger's own notes
//! and takes only Ed25519 signatures, a submitted note may carry signatures of any type (other
//! witnesses' cosignatures, say); the spec says to ignore those, so their payload is only
//! required to be base64 of at least a key ID.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use idledger_proto::Checkpoint;
use idledger_proto::note::{MAX_SIGNATURES, NoteSignature, VerifierKey};

const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line: a key name and the base64-decoded `key ID || signature`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub blob: Vec<u8>,
}

/// A submitted checkpoint note, split and parsed; no signature verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmittedCheckpoint {
    /// The note text: the checkpoint body, each line ending in a newline. This is what the
    /// log signed and what a cosignature/v1 covers.
    pub text: String,
    pub checkpoint: Checkpoint,
    pub signatures: Vec<SignatureLine>,
}

/// Why the checkpoint note is malformed (answered 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteFormatError {
    #[error("the checkpoint note has no empty line before its signatures")]
    NoSignatureBlock,
    #[error("the checkpoint note text has control characters")]
    ControlCharacters,
    #[error("{0}")]
    Checkpoint(#[from] idledger_proto::checkpoint::CheckpointError),
    #[error("the checkpoint note has no signatures")]
    NoSignatures,
    #[error("the checkpoint note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("line {line} of the signature block is not `\u{2014} <name> <base64>`")]
    BadSignatureLine { line: usize },
}

/// Why no trusted log signature was accepted (answered 403).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogSignatureError {
    #[error("no signature by a key trusted for origin `{0}`")]
    NoTrustedSignature(String),
    #[error("the signature by {name} (key {key_id}) claims a trusted key and does not verify")]
    Invalid { name: String, key_id: String },
}

impl SubmittedCheckpoint {
    pub fn parse(note: &str) -> Result<SubmittedCheckpoint, NoteFormatError> {
        // Signature lines are never empty, so the last empty line ends the text.
        let split = note
            .rfind("\n\n")
            .ok_or(NoteFormatError::NoSignatureBlock)?;
        let text = &note[..=split];
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteFormatError::ControlCharacters);
        }
        let (checkpoint, _extensions) = Checkpoint::parse(text)?;
        let block = note[split + 2..]
            .strip_suffix('\n')
            .ok_or(NoteFormatError::BadSignatureLine { line: 1 })?;
        let mut signatures = Vec::new();
        for (i, line) in block.split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteFormatError::TooManySignatures);
            }
            signatures.push(
                signature_line(line).ok_or(NoteFormatError::BadSignatureLine { line: i + 1 })?,
            );
        }
        if signatures.is_empty() {
            return Err(NoteFormatError::NoSignatures);
        }
        Ok(SubmittedCheckpoint {
            text: text.to_owned(),
            checkpoint,
            signatures,
        })
    }

    /// The rule of c2sp.org/tlog-witness: at least one signature by a key trusted for the
    /// origin verifies, every line that claims a trusted key (name and key ID) verifies, and
    /// lines claiming no trusted key are ignored.
    pub fn verify_log_signature(&self, trusted: &[VerifierKey]) -> Result<(), LogSignatureError> {
        let mut verified = false;
        for line in &self.signatures {
            let Some(sig) = ed25519_signature(line) else {
                continue;
            };
            let Some(key) = trusted.iter().find(|k| k.is_claimed_by(&sig)) else {
                continue;
            };
            if !key.verifies(&self.text, &sig) {
                return Err(LogSignatureError::Invalid {
                    name: sig.name.clone(),
                    key_id: hex::encode(sig.key_id),
                });
            }
            verified = true;
        }
        if verified {
            Ok(())
        } else {
            Err(LogSignatureError::NoTrustedSignature(
                self.checkpoint.origin.clone(),
            ))
        }
    }
}

/// `— <name> <base64>`, with a name of printable characters and a payload of at least a key ID.
fn signature_line(line: &str) -> Option<SignatureLine> {
    let (name, b64) = line.strip_prefix(SIG_PREFIX)?.split_once(' ')?;
    if name.is_empty()
        || name.contains('+')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let blob = B64.decode(b64).ok().filter(|b| b.len() >= 4)?;
    Some(SignatureLine {
        name: name.to_owned(),
        blob,
    })
}

/// The line as a note Ed25519 signature (key ID and 64 bytes), if it has that length; any
/// other length is another signature type, which claims no Ed25519 key.
fn ed25519_signature(line: &SignatureLine) -> Option<NoteSignature> {
    if line.blob.len() != 68 {
        return None;
    }
    Some(NoteSignature {
        name: line.name.clone(),
        key_id: line.blob[..4].try_into().ok()?,
        signature: line.blob[4..].try_into().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use idledger_proto::note::{NoteSigner, sign_note};

    const TEXT: &str = "log.example/a\n2\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

    fn signer(seed: u8, name: &str) -> NoteSigner {
        NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).expect("a valid name")
    }

    fn verify(note: &str, trusted: &[&NoteSigner]) -> Result<(), String> {
        let keys: Vec<VerifierKey> = trusted.iter().map(|s| s.verifier().clone()).collect();
        SubmittedCheckpoint::parse(note)
            .map_err(|e| e.to_string())?
            .verify_log_signature(&keys)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_signature_by_the_trusted_key_is_accepted_among_foreign_ones() {
        let log = signer(1, "log.example/a");
        let note = sign_note(TEXT, &[&log]).expect("signs");
        assert_eq!(verify(&note, &[&log]), Ok(()));
        // A cosignature of another type (76 bytes) and an unknown Ed25519 key are ignored.
        let foreign = format!(
            "{note}\u{2014} witness.example/w {}\n",
            B64.encode([7u8; 76])
        );
        let other = signer(2, "log.example/a")
            .signature_line(TEXT)
            .expect("signs");
        assert_eq!(verify(&format!("{foreign}{other}\n"), &[&log]), Ok(()));
    }

    /// Attack: sign the checkpoint with a key of one's own under the log's name.
    #[test]
    fn a_signature_by_another_key_is_not_trusted() {
        let (log, forger) = (signer(1, "log.example/a"), signer(2, "log.example/a"));
        let note = sign_note(TEXT, &[&forger]).expect("signs");
        let err = verify(&note, &[&log]).expect_err("refused");
        assert!(err.contains("no signature by a key trusted"), "{err}");
    }

    /// Attack: keep the log's valid signature and add a forged line claiming the same key
    /// (a malformed note per c2sp.org/signed-note, refused rather than ignored).
    #[test]
    fn a_forged_line_claiming_the_trusted_key_spoils_the_note() {
        let log = signer(1, "log.example/a");
        let note = sign_note(TEXT, &[&log]).expect("signs");
        let mut blob = log.verifier().id().to_vec();
        blob.extend_from_slice(&[0u8; 64]);
        let forged = format!("{note}\u{2014} log.example/a {}\n", B64.encode(blob));
        let err = verify(&forged, &[&log]).expect_err("refused");
        assert!(err.contains("does not verify"), "{err}");
    }

    /// Attack: change the size after the log signed.
    #[test]
    fn a_changed_body_does_not_verify() {
        let log = signer(1, "log.example/a");
        let note = sign_note(TEXT, &[&log])
            .expect("signs")
            .replacen("\n2\n", "\n3\n", 1);
        assert!(verify(&note, &[&log]).is_err());
    }

    #[test]
    fn malformed_notes_are_refused() {
        let log = signer(1, "log.example/a");
        let line = log.signature_line(TEXT).expect("signs");
        for note in [
            format!("{TEXT}{line}\n"),
            format!("{TEXT}\n{line}"),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{line}\nnot a signature\n"),
            format!("{TEXT}\n\u{2014} log.example/a AAA\n"),
            format!("{TEXT}\n\u{2014} log example/a AAAAAA==\n"),
            format!("log.example/a\n02\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n{line}\n"),
            format!(
                "log.example/a\n2\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\nx\u{7}\n\n{line}\n"
            ),
        ] {
            assert!(SubmittedCheckpoint::parse(&note).is_err(), "{note:?}");
        }
    }
}
