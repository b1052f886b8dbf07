//! The body of `POST /add-checkpoint` (c2sp.org/tlog-witness), parsed strictly: an old size
//! line, zero to 63 consistency proof lines, an empty line, then the checkpoint note. Every
//! line ends in a newline; numbers are canonical decimals and hashes canonical base64, so one
//! request has one spelling. What follows the empty line is kept as sent, for `submitted`.

use idledger_proto::Hash;

/// The most consistency proof lines a client may send (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// The longest body accepted: a note as long as `proto` accepts, plus the old size and proof.
pub const MAX_REQUEST_BYTES: usize = idledger_proto::note::MAX_NOTE_BYTES + 4096;

/// A parsed add-checkpoint request; nothing in it is verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness cosigned last.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the submitted checkpoint.
    pub proof: Vec<Hash>,
    /// The checkpoint note (text, empty line, signature lines), as sent.
    pub note: String,
}

/// Why a request body is malformed (answered 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request is longer than {MAX_REQUEST_BYTES} bytes")]
    TooLong,
    #[error("the request is not UTF-8")]
    NotUtf8,
    #[error(
        "the first line must be `old <size>` with a decimal size without leading zeros, found `{0}`"
    )]
    OldSize(String),
    #[error("consistency proof line {line} is not the canonical base64 of a 32-byte hash")]
    ProofLine { line: usize },
    #[error("more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    #[error("every line must end in a newline, and an empty line must come before the checkpoint")]
    Unterminated,
    #[error("no checkpoint after the empty line")]
    NoCheckpoint,
}

/// A decimal number without leading zeros (or `0`) that fits in 64 bits.
pub fn canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// Parses a request body. The checkpoint note after the empty line is only split off here;
/// `submitted::SubmittedCheckpoint::parse` reads it.
pub fn parse(body: &[u8]) -> Result<AddCheckpoint, RequestError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(RequestError::TooLong);
    }
    let text = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
    let (first, mut rest) = text.split_once('\n').ok_or(RequestError::Unterminated)?;
    let old_size = first
        .strip_prefix("old ")
        .and_then(canonical_decimal)
        .ok_or_else(|| RequestError::OldSize(first.chars().take(40).collect()))?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest.split_once('\n').ok_or(RequestError::Unterminated)?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(RequestError::TooManyProofLines);
        }
        let hash = Hash::from_base64(line)
            .filter(|h| h.to_base64() == line)
            .ok_or(RequestError::ProofLine {
                line: proof.len() + 1,
            })?;
        proof.push(hash);
    }
    if rest.is_empty() {
        return Err(RequestError::NoCheckpoint);
    }
    Ok(AddCheckpoint {
        old_size,
        proof,
        note: rest.to_owned(),
    })
}

impl AddCheckpoint {
    /// The request's bytes, as a client sends them: the inverse of `parse`.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for h in &self.proof {
            body.push_str(&h.to_base64());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOTE: &str = "log.example/a\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n\u{2014} log.example/a AAAA\n";

    fn check(body: &str, want: Result<(u64, usize), RequestError>) {
        let got = parse(body.as_bytes()).map(|r| (r.old_size, r.proof.len()));
        assert_eq!(got, want, "{body:?}");
    }

    #[test]
    fn the_spec_example_shape_parses() {
        let h = Hash([2; 32]).to_base64();
        check(
            &format!("old 20852014\n{h}\n{h}\n\n{NOTE}"),
            Ok((20852014, 2)),
        );
        check(&format!("old 0\n\n{NOTE}"), Ok((0, 0)));
        let r = parse(format!("old 3\n{h}\n\n{NOTE}").as_bytes()).expect("parses");
        assert_eq!(r.note, NOTE);
    }

    #[test]
    fn malformed_bodies_are_refused_saying_why() {
        let h = Hash([2; 32]).to_base64();
        let old = |s: &str| Err(RequestError::OldSize(s.to_owned()));
        check(&format!("old 01\n\n{NOTE}"), old("old 01"));
        check(&format!("old -1\n\n{NOTE}"), old("old -1"));
        check(&format!("old  1\n\n{NOTE}"), old("old  1"));
        check(&format!("Old 1\n\n{NOTE}"), old("Old 1"));
        check(&format!("old 1 \n\n{NOTE}"), old("old 1 "));
        check(
            &format!("old 18446744073709551616\n\n{NOTE}"),
            old("old 18446744073709551616"),
        );
        check(&format!("old 1\r\n\n{NOTE}"), old("old 1\r"));
        check(&format!("\nold 1\n\n{NOTE}"), old(""));
        check("old 1", Err(RequestError::Unterminated));
        check(&format!("old 1\n{h}\n"), Err(RequestError::Unterminated));
        check(&format!("old 1\n{h}\n\n"), Err(RequestError::NoCheckpoint));
        check(
            &format!("old 1\nAAAA\n\n{NOTE}"),
            Err(RequestError::ProofLine { line: 1 }),
        );
        // Not canonical: the last character's unused bits are set.
        let loose = format!("{}B=", &h[..42]);
        check(
            &format!("old 1\n{h}\n{loose}\n\n{NOTE}"),
            Err(RequestError::ProofLine { line: 2 }),
        );
        check(
            &format!("old 1\n{h} \n\n{NOTE}"),
            Err(RequestError::ProofLine { line: 1 }),
        );
        let many = format!("{h}\n").repeat(MAX_PROOF_LINES + 1);
        check(
            &format!("old 1\n{many}\n{NOTE}"),
            Err(RequestError::TooManyProofLines),
        );
        let most = format!("{h}\n").repeat(MAX_PROOF_LINES);
        check(&format!("old 1\n{most}\n{NOTE}"), Ok((1, MAX_PROOF_LINES)));
        assert_eq!(parse(b"old 1\n\n\xff\n"), Err(RequestError::NotUtf8));
        assert_eq!(
            parse(&vec![b'a'; MAX_REQUEST_BYTES + 1]),
            Err(RequestError::TooLong)
        );
    }

    proptest! {
        /// Every request a client can form parses back to itself.
        #[test]
        fn requests_round_trip(old_size in any::<u64>(), proof in proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_PROOF_LINES), note in "[a-z./]{1,20}\n[0-9]{1,5}\n[A-Za-z0-9+/]{0,44}\n\n\u{2014} [a-z]{1,5} [A-Za-z0-9+/=]{0,20}\n") {
            let request = AddCheckpoint { old_size, proof: proof.into_iter().map(Hash).collect(), note };
            prop_assert_eq!(parse(request.to_body().as_bytes()), Ok(request.clone()));
        }

        /// Whatever the bytes, a parsed request is the one spelling of itself: writing it out
        /// again gives the same bytes (no two bodies mean the same request).
        #[test]
        fn an_accepted_body_is_canonical(body in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b' '), Just(b'0'), Just(b'1'), Just(b'o'), Just(b'l'), Just(b'd'), Just(b'A'), Just(b'='), any::<u8>()], 0..200)) {
            if let Ok(request) = parse(&body) {
                let again = request.to_body();
                prop_assert_eq!(again.as_bytes(), &body[..]);
            }
        }

        /// Prefixing a valid body with anything but `old ` makes it malformed.
        #[test]
        fn the_old_line_is_required(prefix in "[a-z ]{0,4}", size in any::<u64>()) {
            prop_assume!(prefix != "old ");
            let body = format!("{prefix}{size}\n\n{NOTE}");
            prop_assert!(parse(body.as_bytes()).is_err());
        }
    }
}
