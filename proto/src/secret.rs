//! Secret detection: the member names and armour lines that mark secret values, and the one rule
//! that decides whether bytes may be kept verbatim in a leaf (a quarantined payload's raw bytes, a
//! Kafka message key). The writer applies the rule before it keeps bytes and `idledger verify`
//! applies the same rule to what was kept, so the two cannot disagree. The rule fails closed:
//! bytes it cannot read are not kept. In words: docs/EVENTS.md, "Secret values are never stored".

use crate::entry::MAX_KEPT_KEY_BYTES;
use crate::rejection::{KeptPayload, quote};
use crate::view::{AttrValueView, BodyView, EntryView, EventView, MessageKeyView, OriginView};
use std::borrow::Cow;

/// Member names that carry secret values, compared after lowercasing and removing `_`, `-`, `.`
/// and spaces.
pub const SECRET_NAMES: &[&str] = &[
    "value",
    "secret",
    "secretvalue",
    "secretkey",
    "secretaccesskey",
    "password",
    "passwd",
    "passphrase",
    "privatekey",
    "clientsecret",
    "keymaterial",
    "plaintext",
    "token",
    "accesstoken",
    "refreshtoken",
    "apikey",
    "bearer",
];

/// Endings that make a member name secret whatever comes before them (after the same
/// normalization): `db_password`, `aws_secret_access_key`, `github_token`, `stripe_api_key`.
/// `password_changed_at` or `token_count` name facts about a secret, not the secret.
pub const SECRET_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secretkey",
    "secretaccesskey",
    "privatekey",
    "token",
    "apikey",
];

/// What every private key block's armour line holds: `-----BEGIN … PRIVATE KEY-----` (PEM:
/// PKCS#1, PKCS#8, SEC1, OpenSSH) and `-----BEGIN PGP PRIVATE KEY BLOCK-----` (OpenPGP).
const PRIVATE_KEY: &[u8] = b"PRIVATE KEY";
const ARMOUR_ENDS: [&[u8]; 2] = [b"-----", b" BLOCK-----"];

/// Where a rejection says a PEM (or OpenPGP) private key block was found.
pub const PEM_LOCATION: &str = "PEM private key block";

/// The searcher for `PRIVATE_KEY`, built once (building one per message cost more than the
/// search).
fn private_key_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(PRIVATE_KEY))
}

/// Whether `bytes` hold the armour line of a private key block (PEM or OpenPGP) anywhere.
pub fn holds_private_key_block(bytes: &[u8]) -> bool {
    private_key_finder().find_iter(bytes).any(|at| {
        let rest = &bytes[at + PRIVATE_KEY.len()..];
        ARMOUR_ENDS.iter().any(|end| rest.starts_with(end))
    })
}

/// Whether a member name is one that carries secret values (`password`, `client_secret`,
/// `private-key`, or any name ending like `db_password`: separators and case ignored).
///
/// A name holding a quote character is judged by each of its parts between quotes as well: that
/// is how a member reads when a string before it ended in a stray backslash, which escaped the
/// quote that should have closed it (`{"note":"a\"password":"hunter2"}` has the member
/// `note` and then the name `a"password`).
pub fn is_secret_name(name: &str) -> bool {
    if name.contains('"') {
        // The whole name ends like a secret name exactly when its last part does, and equals
        // one never: the parts decide.
        return name.split('"').any(is_secret_name_part);
    }
    is_secret_name_part(name)
}

fn is_secret_name_part(name: &str) -> bool {
    let secret = |n: &[u8]| {
        SECRET_NAMES.iter().any(|s| s.as_bytes() == n)
            || SECRET_SUFFIXES.iter().any(|s| n.ends_with(s.as_bytes()))
    };
    if name.is_ascii() && name.len() <= 64 {
        // The common case, without allocating: the same normalization on a stack buffer.
        let mut buf = [0u8; 64];
        let mut n = 0;
        for b in name.bytes() {
            if !matches!(b, b'_' | b'-' | b'.' | b' ') {
                buf[n] = b.to_ascii_lowercase();
                n += 1;
            }
        }
        return secret(&buf[..n]);
    }
    // Only a name's last characters can make it secret (a longer one equals no name): normalize
    // just those, so a long word (a 64 KiB key of letters) costs no copy of itself.
    let mut tail: Vec<char> = name
        .chars()
        .rev()
        .filter(|c| !is_separator(*c))
        .flat_map(|c| c.to_lowercase().rev())
        .take(LONGEST_NAME + 1)
        .collect();
    tail.reverse();
    secret(tail.into_iter().collect::<String>().as_bytes())
}

/// The longest of `SECRET_NAMES` and `SECRET_SUFFIXES`, in bytes (all are ASCII).
const LONGEST_NAME: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < SECRET_NAMES.len() {
        if SECRET_NAMES[i].len() > longest {
            longest = SECRET_NAMES[i].len();
        }
        i += 1;
    }
    let mut i = 0;
    while i < SECRET_SUFFIXES.len() {
        if SECRET_SUFFIXES[i].len() > longest {
            longest = SECRET_SUFFIXES[i].len();
        }
        i += 1;
    }
    longest
};

fn is_separator(c: char) -> bool {
    matches!(c, '_' | '-' | '.' | ' ')
}

/// Member-name normalization for secret detection: separators dropped, Unicode lowercase (the
/// reference the fast paths are tested against).
#[cfg(test)]
fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| !is_separator(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Why bytes may not be kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Secret material: a member named like a secret (in bytes without quotes, a word named like
    /// one), or a private key block. Holds where: the name, or `PEM private key block`.
    Secret(String),
    /// The reading lost track of where strings begin and end, so a secret member could hide in
    /// what it could not read. Holds what stopped it, where, and that the bytes could not be
    /// proven free of secrets.
    Unproven(String),
}

impl Finding {
    /// What a report says of it.
    pub fn location(&self) -> &str {
        match self {
            Finding::Secret(l) | Finding::Unproven(l) => l,
        }
    }

    pub fn into_location(self) -> String {
        match self {
            Finding::Secret(l) | Finding::Unproven(l) => l,
        }
    }
}

/// Whether bytes judged by the rule are all of an input, or the kept prefix of a longer one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// The whole input.
    Whole,
    /// The first bytes of a longer input: a string, literal or escape left open at the end is
    /// the cut's doing, not the sender's.
    Cut,
}

/// The writer's side of the rule: whether `input` may be kept verbatim when its first `keep`
/// bytes are what is stored. Both the whole input and, if it is longer, the stored prefix must
/// pass (`secret_in_kept`), so verification, which sees only the prefix, agrees with the writer.
pub fn secret_in_input(input: &[u8], keep: usize) -> Option<Finding> {
    secret_in_kept(input, Extent::Whole).or_else(|| match input.get(..keep) {
        Some(prefix) if input.len() > keep => secret_in_kept(prefix, Extent::Cut),
        _ => None,
    })
}

/// The rule for bytes kept verbatim (docs/EVENTS.md): `None` if they may be kept.
///
/// No private key block may appear, raw or in any string as JSON decodes it. Bytes with a quote
/// character are read as JSON tokens left to right: every string must end and its escapes must
/// be valid, between strings there may only be structural characters, whitespace, numbers and
/// `true`, `false`, `null` (anything else loses track: `Unproven`), and no string followed by `:`
/// may be a secret name. Bytes without any quote are read as words (runs of letters, digits and
/// `_ - .`), none of which may be a secret name.
pub fn secret_in_kept(bytes: &[u8], extent: Extent) -> Option<Finding> {
    if holds_private_key_block(bytes) {
        return Some(Finding::Secret(PEM_LOCATION.into()));
    }
    if memchr::memchr(b'"', bytes).is_none() {
        return secret_word(bytes);
    }
    JsonTokens { bytes, extent }.judge()
}

/// The first word (a run of letters, digits and `_ - .`) named like a secret.
fn secret_word(bytes: &[u8]) -> Option<Finding> {
    String::from_utf8_lossy(bytes)
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .find(|word| !word.is_empty() && is_secret_name(word))
        .map(|word| Finding::Secret(quote(word)))
}

/// A finding for bytes the reading could not follow.
fn unproven(what: &str, at: usize) -> Option<Finding> {
    Some(Finding::Unproven(format!(
        "{what} at byte {at}: could not be proven free of secrets"
    )))
}

/// JSON whitespace.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Where a JSON string that opens at some quote ends.
enum StringEnd {
    /// Its closing quote is the byte before `end`; `escaped` if it holds any escape.
    Closed { end: usize, escaped: bool },
    /// The bytes end first (possibly inside an escape).
    Open,
    /// The escape at this byte is not one JSON has.
    BadEscape(usize),
}

/// Bytes read as JSON tokens, left to right.
struct JsonTokens<'a> {
    bytes: &'a [u8],
    extent: Extent,
}

impl JsonTokens<'_> {
    fn judge(&self) -> Option<Finding> {
        let bytes = self.bytes;
        let mut at = 0;
        while let Some(&b) = bytes.get(at) {
            at = match b {
                b'{' | b'}' | b'[' | b']' | b':' | b',' => at + 1,
                b if is_space(b) => at + 1,
                b'"' => match self.string_end(at) {
                    StringEnd::Closed { end, escaped } => {
                        if let Some(finding) = self.judge_string(at, end, escaped) {
                            return Some(finding);
                        }
                        end
                    }
                    StringEnd::Open if self.extent == Extent::Cut => {
                        return self.judge_open_string(at);
                    }
                    StringEnd::Open => return unproven("an unterminated string", at),
                    StringEnd::BadEscape(escape) => return unproven("an invalid escape", escape),
                },
                b'-' | b'0'..=b'9' => {
                    let number = bytes[at..]
                        .iter()
                        .take_while(|c| matches!(c, b'0'..=b'9' | b'e' | b'E' | b'+' | b'-' | b'.'))
                        .count();
                    at + number
                }
                b'\\' => return unproven("a backslash outside a string", at),
                _ => match self.literal(at) {
                    Some(len) => at + len,
                    None => return unproven("text outside a string", at),
                },
            };
        }
        None
    }

    /// The length of `true`, `false` or `null` at `at` (or of the start of one the cut ends).
    fn literal(&self, at: usize) -> Option<usize> {
        let rest = &self.bytes[at..];
        [&b"true"[..], b"false", b"null"]
            .into_iter()
            .find_map(|word| {
                if rest.starts_with(word) {
                    Some(word.len())
                } else if self.extent == Extent::Cut && word.starts_with(rest) {
                    Some(rest.len())
                } else {
                    None
                }
            })
    }

    /// Reads the string whose opening quote is at `open`.
    fn string_end(&self, open: usize) -> StringEnd {
        let bytes = self.bytes;
        let mut at = open + 1;
        let mut escaped = false;
        loop {
            let Some(next) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
                return StringEnd::Open;
            };
            at += next;
            if bytes[at] == b'"' {
                return StringEnd::Closed {
                    end: at + 1,
                    escaped,
                };
            }
            escaped = true;
            match bytes.get(at + 1) {
                None => return StringEnd::Open,
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
                Some(b'u') => {
                    let hex = &bytes[at + 2..];
                    let digits = hex
                        .iter()
                        .take(4)
                        .take_while(|b| b.is_ascii_hexdigit())
                        .count();
                    if digits == 4 {
                        at += 6;
                    } else if digits == hex.len() {
                        // The bytes end inside the escape.
                        return StringEnd::Open;
                    } else {
                        return StringEnd::BadEscape(at);
                    }
                }
                Some(_) => return StringEnd::BadEscape(at),
            }
        }
    }

    /// Judges the string from the quote at `open` to the byte before `end`: a private key block
    /// once escapes are decoded, a secret name if a `:` follows it.
    fn judge_string(&self, open: usize, end: usize, escaped: bool) -> Option<Finding> {
        let body = &self.bytes[open + 1..end - 1];
        let decoded = escaped.then(|| unescape(body));
        if let Some(text) = &decoded
            && holds_private_key_block(text.as_bytes())
        {
            return Some(Finding::Secret(PEM_LOCATION.into()));
        }
        let after = self.bytes[end..].iter().find(|b| !is_space(**b));
        if after != Some(&b':') {
            return None;
        }
        let name = match decoded {
            Some(text) => Cow::Owned(text),
            None => String::from_utf8_lossy(body),
        };
        is_secret_name(&name).then(|| Finding::Secret(quote(&name)))
    }

    /// Judges a string the cut left open from the quote at `open` to the end: what it holds so
    /// far must hold no private key block.
    fn judge_open_string(&self, open: usize) -> Option<Finding> {
        let body = &self.bytes[open + 1..];
        let pem = memchr::memchr(b'\\', body).is_some()
            && holds_private_key_block(unescape(body).as_bytes());
        pem.then(|| Finding::Secret(PEM_LOCATION.into()))
    }
}

/// A JSON string's body as JSON decodes it, invalid UTF-8 and lone surrogates read as U+FFFD;
/// an escape the bytes end inside is dropped. The body's escapes were checked by `string_end`.
fn unescape(body: &[u8]) -> String {
    let hex4 = |at: usize| -> Option<u32> {
        let digits = body.get(at..at + 4)?;
        let digits = std::str::from_utf8(digits).ok()?;
        // `from_str_radix` would also take a sign.
        digits
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then_some(())?;
        u32::from_str_radix(digits, 16).ok()
    };
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    while let Some(&b) = body.get(at) {
        if b != b'\\' {
            out.push(b);
            at += 1;
            continue;
        }
        let simple = match body.get(at + 1) {
            None => break,
            Some(b'u') => None,
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            // `"`, `\` and `/` stand for themselves (`string_end` allowed no other).
            Some(&c) => Some(c),
        };
        if let Some(c) = simple {
            out.push(c);
            at += 2;
            continue;
        }
        let Some(unit) = hex4(at + 2) else { break };
        at += 6;
        let c = if (0xD800..0xDC00).contains(&unit) {
            match (body.get(at..at + 2), hex4(at + 2)) {
                (Some(b"\\u"), Some(low)) if (0xDC00..0xE000).contains(&low) => {
                    at += 6;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                }
                _ => None,
            }
        } else {
            char::from_u32(unit)
        };
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a Kafka message key holds secret material, or could not be proven free of it, by the
/// rule for kept bytes (the whole key, and its first `MAX_KEPT_KEY_BYTES` as kept). Ingest keeps
/// such a key only as its length and hash (`entry::MessageKey::Redacted`).
pub fn secret_in_key(key: &[u8]) -> Option<String> {
    secret_in_input(key, MAX_KEPT_KEY_BYTES).map(Finding::into_location)
}

/// Where a stored event holds secret material that validation refuses: an attribute named like
/// a secret, or a PEM private key block in any of its strings. `None` for every event
/// `decode_event` accepts; verification reports anything else.
pub fn secret_in_event(e: &EventView<'_>) -> Option<String> {
    event_secret(e, true)
}

/// `secret_in_event`, searching the strings for a PEM block only if `may_hold_pem`.
fn event_secret(e: &EventView<'_>, may_hold_pem: bool) -> Option<String> {
    if let Some((key, _)) = e.attributes.iter().find(|(key, _)| is_secret_name(key)) {
        return Some(format!("attributes.{}", quote(key)));
    }
    (may_hold_pem && pem_in_event(e)).then(|| PEM_LOCATION.to_owned())
}

fn pem_in_event(e: &EventView<'_>) -> bool {
    let pem = |s: &str| holds_private_key_block(s.as_bytes());
    let strings = [
        Some(e.source),
        Some(e.id),
        e.actor.as_ref().map(|a| a.id),
        Some(e.subject.id),
        e.grant_id,
        e.request_id,
        e.resource,
        e.reason,
        e.ticket,
        e.policy.as_ref().map(|p| p.id),
        e.policy.as_ref().and_then(|p| p.version),
        e.policy.as_ref().and_then(|p| p.hash),
        e.credential.as_ref().map(|c| c.id),
        e.owner,
    ];
    let in_attributes = e
        .attributes
        .iter()
        .any(|(key, value)| pem(key) || matches!(value, AttrValueView::Text(t) if pem(t)));
    strings.into_iter().flatten().any(pem) || in_attributes
}

/// Where a stored entry holds secret material that ingest never keeps, or kept bytes the rule
/// refuses: in its event (see `secret_in_event`), in what a quarantined entry kept of its input
/// (raw bytes judged by `secret_in_kept`, as cut when the entry says they were; or a kept event),
/// or in a kept Kafka key (the same, as cut when `key_truncated`). `None` for every entry
/// idledger writes, so `idledger verify` can prove the promise that secret values are never
/// stored; an entry written before the rule failed closed may be reported with "could not be
/// proven free of secrets". `leaf` is the entry's bytes, which hold every string of an event as
/// stored: those strings are searched for a PEM block one by one only when the leaf holds its
/// marker at all.
pub fn secret_in_entry(leaf: &[u8], view: &EntryView<'_>) -> Option<String> {
    let marked = holds_private_key_block(leaf);
    if let OriginView::Kafka(k) = &view.origin
        && let MessageKeyView::Kept(key) = k.key
    {
        let extent = if k.key_truncated {
            Extent::Cut
        } else {
            Extent::Whole
        };
        if let Some(finding) = secret_in_kept(key, extent) {
            return Some(format!("kafka key: {}", finding.location()));
        }
    }
    match &view.body {
        BodyView::Event(e) => event_secret(&e.event, marked).or_else(|| {
            // A kept original is judged by the rule for kept bytes, like a quarantined payload.
            match e.record.as_ref().map(|r| &r.original) {
                Some(crate::source_record::Original::Kept { bytes }) => {
                    secret_in_kept(bytes, Extent::Whole)
                        .map(|f| format!("source record: {}", f.location()))
                }
                _ => None,
            }
        }),
        BodyView::Quarantined(r) => match &r.payload {
            KeptPayload::Raw {
                bytes, total_len, ..
            } => {
                let extent = if *total_len > bytes.len() as u64 {
                    Extent::Cut
                } else {
                    Extent::Whole
                };
                secret_in_kept(bytes, extent).map(Finding::into_location)
            }
            KeptPayload::Event(event) => event_secret(&EventView::of(event), marked),
            KeptPayload::Redacted { .. } | KeptPayload::Nothing => None,
        },
        BodyView::System(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn secret_names_are_recognized_as_written_by_real_systems() {
        let cases: &[(&str, bool)] = &[
            ("client_secret", true),
            ("Private-Key", true),
            ("API.KEY", true),
            ("secret access key", true),
            ("PRIVATE_\u{212A}EY", true), // Kelvin sign lowercases to `k`
            ("db_password", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("github-token", true),
            ("stripe.api_key", true),
            // A string whose closing quote a stray backslash escaped, then a member.
            ("note\"value", true),
            ("a\"password\"", true),
            ("password_changed_at", false),
            ("token_count", false),
            ("secrets", false),
            ("fingerprint", false),
            ("clé", false),
            ("a\"b", false),
            ("", false),
        ];
        for (name, secret) in cases {
            assert_eq!(is_secret_name(name), *secret, "{name:?}");
        }
    }

    /// JSON escapes decode as serde_json decodes them, lone surrogates as U+FFFD.
    #[test]
    fn escapes_decode_as_json_reads_them() {
        let cases: &[(&str, &str)] = &[
            (r"plain", "plain"),
            (r"pass\u0077ord", "password"),
            (r#"a\"b\\c\/d\b\f\n\r\t"#, "a\"b\\c/d\u{8}\u{c}\n\r\t"),
            (r"\ud83d\ude00", "\u{1F600}"),
            (r"\ud83dx", "\u{FFFD}x"),
            (r"\ude00", "\u{FFFD}"),
            (r"cut \u00", "cut "),
            (r"cut \", "cut "),
        ];
        for (body, want) in cases {
            assert_eq!(unescape(body.as_bytes()), *want, "{body}");
        }
    }

    proptest! {
        /// The allocation-free ASCII path decides exactly as the general normalization.
        #[test]
        fn ascii_fast_path_matches_normalization(name in "[a-zA-Z_. -]{0,70}|(?i)(client|api|private|access)[_. -]?(secret|key|token)") {
            let normal = normalize_name(&name);
            let general = SECRET_NAMES.contains(&normal.as_str())
                || SECRET_SUFFIXES.iter().any(|s| normal.ends_with(s));
            prop_assert_eq!(is_secret_name(&name), general);
        }

        /// Normalizing only a name's tail decides exactly as normalizing all of it, whatever
        /// the characters (Unicode lowercase can turn one character into two).
        #[test]
        fn tail_normalization_matches_normalization(
            head in "\\PC{0,80}",
            tail in "(?i)(db_?|x )?(secret[ _]access[._]key|pass-word|t\u{212A}en|to\u{130}ken|apikey|value)?",
        ) {
            let name = format!("{head}{tail}");
            let normal = normalize_name(&name);
            let general = SECRET_NAMES.contains(&normal.as_str())
                || SECRET_SUFFIXES.iter().any(|s| normal.ends_with(s));
            prop_assert_eq!(is_secret_name_part(&name), general, "{:?}", name);
        }

        /// Decoding agrees with serde_json on every string it accepts.
        #[test]
        fn unescape_matches_serde_json(body in r#"([a-zA-Z0-9 ]|\\[\\/"bfnrt]|\\u[0-9a-fA-F]{4})*"#) {
            let quoted = format!("\"{body}\"");
            if let Ok(want) = serde_json::from_str::<String>(&quoted) {
                prop_assert_eq!(unescape(body.as_bytes()), want);
            }
        }
    }
}
