//! C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint): origin, tree size and root hash, and
//! idledger's two extension lines (the size of the checkpoint before, the digest of the Kafka
//! positions), signed with the rest of the body.

use crate::hash::Hash;
use crate::tree_size::TreeSize;
use std::fmt;

/// Longest origin line accepted.
pub const MAX_ORIGIN_BYTES: usize = 256;

/// A checkpoint body: the log's origin, its size and its Merkle root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: TreeSize,
    pub root: Hash,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    #[error("malformed checkpoint extension line `{line}`: {why}")]
    Extension { line: String, why: &'static str },
    #[error("checkpoint is for origin `{found}`, expected `{expected}`")]
    WrongOrigin { expected: String, found: String },
}

/// Checks an origin line: non-empty, printable, no newline.
pub fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty()
        || origin.len() > MAX_ORIGIN_BYTES
        || origin.chars().any(char::is_control)
        || origin.contains(char::is_whitespace)
    {
        return Err(CheckpointError::Malformed(format!(
            "origin `{origin}` must be 1 to {MAX_ORIGIN_BYTES} printable characters without spaces"
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// The note text: three lines, each ending in a newline.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// The note text with idledger's extension lines after the root.
    pub fn to_text_with(&self, extensions: &Extensions) -> String {
        let mut text = self.to_text();
        for line in extensions.lines() {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }

    /// Parses a checkpoint body. Extension lines after the root are allowed by the spec and
    /// returned as they are (`Extensions::parse` reads idledger's).
    pub fn parse(text: &str) -> Result<(Checkpoint, Vec<String>), CheckpointError> {
        let bad = |m: &str| CheckpointError::Malformed(m.to_owned());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or_else(|| bad("no origin line"))?;
        check_origin(origin)?;
        let size_text = lines.next().ok_or_else(|| bad("no tree size line"))?;
        let size = canonical_decimal(size_text).ok_or_else(|| {
            bad("tree size must be a decimal number without leading zeros that fits in 64 bits")
        })?;
        let root_text = lines.next().ok_or_else(|| bad("no root hash line"))?;
        let root = Hash::from_base64(root_text)
            .ok_or_else(|| bad("root hash is not base64 of 32 bytes"))?;
        if Hash::from_base64(root_text).map(|h| h.to_base64()) != Some(root_text.to_owned()) {
            return Err(bad("root hash is not canonical base64"));
        }
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok((
            Checkpoint {
                origin: origin.to_owned(),
                size: TreeSize(size),
                root,
            },
            extensions,
        ))
    }
}

/// The first word of the extension line naming the previous checkpoint's size.
pub const PREVIOUS_LINE: &str = "idledger-previous";
/// The first word of the extension line carrying the digest of the Kafka positions.
pub const POSITIONS_LINE: &str = "idledger-positions";
/// The third extension line's keyword: the digest of the key records' indexes.
pub const KEYS_LINE: &str = "idledger-keys";

/// idledger's checkpoint extension lines (docs/FORMAT.md). Every checkpoint the ledger signs
/// carries all three; checkpoints signed before a line existed lack it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `idledger-previous <size>`: the size of the checkpoint signed just before this one (the
    /// first index of this checkpoint's batch; 0 for the first checkpoint). It links the
    /// checkpoints into a chain, so a deleted one is noticed.
    pub previous: Option<u64>,
    /// `idledger-positions <base64 SHA-256>`: the digest of every stored Kafka position after
    /// this batch (`positions::digest`), so positions cannot move without the key.
    pub positions: Option<Hash>,
    /// `idledger-keys <base64 SHA-256>`: the digest of the indexes of every key record
    /// (`Genesis`, `KeyAdded`, `KeyRetired`) in the tree (`key_records_digest`), so no key record
    /// can be hidden from the writer's or a bundle's view of the key schedule.
    pub keys: Option<Hash>,
}

/// Domain separation for the digest of key-record indexes.
const KEYS_DOMAIN: &[u8] = b"idledger-keys/v1\n";

/// SHA-256 of the domain line and each key record's index as a u64 BE, in order.
pub fn key_records_digest(indexes: &[u64]) -> Hash {
    let mut bytes = KEYS_DOMAIN.to_vec();
    for i in indexes {
        bytes.extend_from_slice(&i.to_be_bytes());
    }
    crate::hash::sha256(&bytes)
}

impl Extensions {
    /// The lines in the order they are written.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = self.previous {
            out.push(format!("{PREVIOUS_LINE} {p}"));
        }
        if let Some(h) = &self.positions {
            out.push(format!("{POSITIONS_LINE} {}", h.to_base64()));
        }
        if let Some(h) = &self.keys {
            out.push(format!("{KEYS_LINE} {}", h.to_base64()));
        }
        out
    }

    /// Reads idledger's extension lines strictly: each at most once, in the order written, in
    /// canonical form; any other line is refused (this verifier cannot say what it means).
    pub fn parse(lines: &[String]) -> Result<Extensions, CheckpointError> {
        let mut ext = Extensions::default();
        let mut rest = lines.iter();
        let mut next = rest.next();
        let bad = |line: &str, why| CheckpointError::Extension {
            line: line.to_owned(),
            why,
        };
        if let Some(line) = next
            && let Some(value) = line
                .strip_prefix(PREVIOUS_LINE)
                .and_then(|r| r.strip_prefix(' '))
        {
            ext.previous = Some(canonical_decimal(value).ok_or_else(|| {
                bad(
                    line,
                    "the size is not a decimal number without leading zeros",
                )
            })?);
            next = rest.next();
        }
        // The digest lines, each optional, in this order.
        for (keyword, slot) in [
            (POSITIONS_LINE, &mut ext.positions),
            (KEYS_LINE, &mut ext.keys),
        ] {
            if let Some(line) = next
                && let Some(value) = line.strip_prefix(keyword).and_then(|r| r.strip_prefix(' '))
            {
                let digest = Hash::from_base64(value)
                    .filter(|h| h.to_base64() == value)
                    .ok_or_else(|| bad(line, "the digest is not canonical base64 of 32 bytes"))?;
                *slot = Some(digest);
                next = rest.next();
            }
        }
        match next {
            None => Ok(ext),
            Some(line) => Err(bad(
                line,
                "not an extension line idledger writes, or out of order",
            )),
        }
    }
}

/// A decimal number without leading zeros (or `0`) that fits in 64 bits.
fn canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}\n",
            self.origin,
            self.size.0,
            self.root.to_base64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_malformed_bodies() {
        let root = Hash([1; 32]).to_base64();
        let cases = [
            String::new(),
            "origin\n".to_owned(),
            format!("origin\n01\n{root}\n"),
            format!("origin\n-1\n{root}\n"),
            format!("origin\n+1\n{root}\n"),
            format!("origin\n1\n{root}"),
            "origin\n1\nAAAA\n".to_string(),
            format!("origin\n18446744073709551616\n{root}\n"),
            format!("\n1\n{root}\n"),
            format!("origin\n1\n{root}\n\n"),
        ];
        for text in cases {
            assert!(Checkpoint::parse(&text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn extension_lines_are_read_strictly() {
        let digest = Hash([9; 32]).to_base64();
        let lines = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let good: [(&[&str], Extensions); 5] = [
            (&[], Extensions::default()),
            (
                &["idledger-previous 0"],
                Extensions {
                    previous: Some(0),
                    positions: None,
                    keys: None,
                },
            ),
            (
                &[
                    "idledger-previous 17",
                    &format!("idledger-positions {digest}"),
                ],
                Extensions {
                    previous: Some(17),
                    positions: Some(Hash([9; 32])),
                    keys: None,
                },
            ),
            (
                &[&format!("idledger-positions {digest}")],
                Extensions {
                    previous: None,
                    positions: Some(Hash([9; 32])),
                    keys: None,
                },
            ),
            (
                &[
                    "idledger-previous 3",
                    &format!("idledger-positions {digest}"),
                    &format!("idledger-keys {digest}"),
                ],
                Extensions {
                    previous: Some(3),
                    positions: Some(Hash([9; 32])),
                    keys: Some(Hash([9; 32])),
                },
            ),
        ];
        for (l, want) in good {
            assert_eq!(Extensions::parse(&lines(l)), Ok(want), "{l:?}");
            assert_eq!(want.lines(), lines(l));
        }
        let bad: [&[&str]; 10] = [
            &["idledger-keys AAAA"],
            &[&format!("idledger-keys {digest}"), "idledger-previous 1"],
            &["idledger-previous 07"],
            &["idledger-previous -1"],
            &["idledger-previous  7"],
            &["idledger-previous 18446744073709551616"],
            &["idledger-positions AAAA"],
            &[
                &format!("idledger-positions {digest}"),
                "idledger-previous 1",
            ],
            &["idledger-previous 1", "idledger-previous 2"],
            &["something-else 1"],
        ];
        for l in bad {
            assert!(Extensions::parse(&lines(l)).is_err(), "{l:?}");
        }
    }

    #[test]
    fn the_key_records_digest_pins_every_index() {
        let base = key_records_digest(&[0, 5, 9]);
        for other in [&[0u64, 5][..], &[0, 5, 9, 12], &[0, 9], &[0, 5, 10], &[]] {
            assert_ne!(key_records_digest(other), base, "{other:?}");
        }
        assert_eq!(key_records_digest(&[0, 5, 9]), base);
    }

    proptest! {
        #[test]
        fn with_extensions_round_trips(previous in proptest::option::of(any::<u64>()), digest in proptest::option::of(any::<[u8; 32]>()), keys in proptest::option::of(any::<[u8; 32]>())) {
            let ext = Extensions { previous, positions: digest.map(Hash), keys: keys.map(Hash) };
            let c = Checkpoint { origin: "log.example/a".into(), size: TreeSize(5), root: Hash([1; 32]) };
            let (back, lines) = Checkpoint::parse(&c.to_text_with(&ext)).expect("parses");
            prop_assert_eq!(back, c);
            prop_assert_eq!(Extensions::parse(&lines), Ok(ext));
        }

        #[test]
        fn round_trips(origin in "[a-z.]{1,20}/[a-z]{1,10}", size in any::<u64>(), root in any::<[u8; 32]>()) {
            let c = Checkpoint { origin, size: TreeSize(size), root: Hash(root) };
            let (back, ext) = Checkpoint::parse(&c.to_text()).expect("parses");
            prop_assert_eq!(back, c);
            prop_assert!(ext.is_empty());
        }
    }
}
