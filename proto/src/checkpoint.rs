//! C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint): origin, tree size and root hash.

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

    /// Parses a checkpoint body. Extension lines after the root are allowed by the spec and
    /// returned; idledger never writes any.
    pub fn parse(text: &str) -> Result<(Checkpoint, Vec<String>), CheckpointError> {
        let bad = |m: &str| CheckpointError::Malformed(m.to_owned());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().ok_or_else(|| bad("no origin line"))?;
        check_origin(origin)?;
        let size_text = lines.next().ok_or_else(|| bad("no tree size line"))?;
        let canonical_decimal = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        if !canonical_decimal {
            return Err(bad(
                "tree size must be a decimal number without leading zeros",
            ));
        }
        let size: u64 = size_text
            .parse()
            .map_err(|_| bad("tree size does not fit in 64 bits"))?;
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

    proptest! {
        #[test]
        fn round_trips(origin in "[a-z.]{1,20}/[a-z]{1,10}", size in any::<u64>(), root in any::<[u8; 32]>()) {
            let c = Checkpoint { origin, size: TreeSize(size), root: Hash(root) };
            let (back, ext) = Checkpoint::parse(&c.to_text()).expect("parses");
            prop_assert_eq!(back, c);
            prop_assert!(ext.is_empty());
        }
    }
}
