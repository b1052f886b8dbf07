//! Fuzz target: secret values are never kept. The input's first bytes choose a case and its
//! parts (read with `arbitrary::Unstructured`, one byte per choice, so seeds can be written by
//! hand: see `Layout` below), the rest are arbitrary bytes around them:
//!
//! - mode 0: `A + "N" ws : ws "V" + B` with N a secret member name as senders write it (any name
//!   of the lists, random case, separators, JSON escapes) and V 12 to 20 letters and digits found
//!   nowhere else: V is in no leaf `decode_event` leads to (an accepted event's encoding, or a
//!   quarantined entry's kept bytes and reason), and a Kafka key built that way is redacted;
//! - mode 1: a private key block (PEM or OpenPGP, raw or as an escaped JSON string) put between
//!   arbitrary bytes: neither the block nor its armour line is in any leaf, as payload or key;
//! - every mode: the writer and the verifier agree (`secret_in_entry` finds nothing in the entry
//!   built from the bytes, as payload and as key).
//!
//! A filler chosen by the input goes in front, so that the input crosses the keep limit (65536
//! bytes of a payload, 1024 of a key) at a place the input chooses: the cut is then judged too.
//!
//! Layout, one byte each unless said: mode (mod 3); filler (1 spaces, 2 `x`, 3 `[`, else none);
//! how far into what follows the filler the limit falls. Mode 0: name (index into
//! `SECRET_NAMES` then `SECRET_SUFFIXES`, mod their count); prefix length (mod 7) and that many
//! bytes (letters and digits, used before a suffix); one shape per character of the name (bit 0
//! upper case, bits 1-3 a separator `_ - . space` if below 4, bit 4 escaped, bit 5 upper-case
//! hex); two whitespace choices; value length (12 + mod 9) and that many bytes; length of A and
//! A; B is the rest. Mode 1: block shape (kind mod 6, bit 7 escaped); length of A and A; B is
//! the rest. Mode 2: the rest is the bytes.
#![no_main]

use idledger_proto::entry::{
    BackLinks, Body, Entry, EventEntry, FORMAT_VERSION, KafkaOrigin, MAX_KEPT_KEY_BYTES,
    MessageKey, Origin,
};
use idledger_proto::rejection::MAX_KEPT_RAW_BYTES;
use idledger_proto::secret::{SECRET_NAMES, SECRET_SUFFIXES, holds_private_key_block};
use idledger_proto::view::EntryView;
use libfuzzer_sys::arbitrary::Unstructured;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn byte(u: &mut Unstructured<'_>) -> u8 {
    u.arbitrary::<u8>().unwrap_or(0)
}

/// Up to `n` bytes (fewer if the input ends).
fn take<'a>(u: &mut Unstructured<'a>, n: usize) -> &'a [u8] {
    let n = n.min(u.len());
    u.bytes(n).unwrap_or_default()
}

fn alnum(u: &mut Unstructured<'_>, n: usize) -> String {
    (0..n)
        .map(|_| char::from(ALNUM[usize::from(byte(u)) % ALNUM.len()]))
        .collect()
}

/// A secret member name: one of the names, or a suffix after a prefix of letters and digits;
/// each character in either case, maybe as a `\uXXXX` escape, maybe followed by a separator.
fn secret_name(u: &mut Unstructured<'_>) -> String {
    let at = usize::from(byte(u)) % (SECRET_NAMES.len() + SECRET_SUFFIXES.len());
    let prefix_len = usize::from(byte(u) % 7);
    let prefix = alnum(u, prefix_len);
    let name = match SECRET_NAMES.get(at) {
        Some(name) => (*name).to_owned(),
        None => format!("{prefix}{}", SECRET_SUFFIXES[at - SECRET_NAMES.len()]),
    };
    let mut out = String::new();
    for c in name.chars() {
        let shape = byte(u);
        let c = if shape & 1 != 0 {
            c.to_ascii_uppercase()
        } else {
            c
        };
        if shape & 0x10 != 0 {
            let hex = format!("{:04x}", c as u32);
            let hex = if shape & 0x20 != 0 {
                hex.to_uppercase()
            } else {
                hex
            };
            out.push_str(&format!("\\u{hex}"));
        } else {
            out.push(c);
        }
        if let Some(sep) = ["_", "-", ".", " "].get(usize::from((shape >> 1) & 7)) {
            out.push_str(sep);
        }
    }
    out
}

/// Zero to two bytes of JSON whitespace.
fn whitespace(u: &mut Unstructured<'_>) -> String {
    let b = byte(u);
    (0..b % 3)
        .map(|i| [' ', '\t', '\n', '\r'][usize::from((b >> (2 + 2 * i)) & 3)])
        .collect()
}

/// The filler in front: none, or so much of a byte that the keep limit falls `back` bytes into
/// what follows it.
struct Filler {
    byte: Option<u8>,
    back: usize,
}

impl Filler {
    fn pad(&self, limit: usize, rest: &[u8]) -> Vec<u8> {
        match self.byte {
            Some(b) => [&vec![b; limit.saturating_sub(self.back)][..], rest].concat(),
            None => rest.to_vec(),
        }
    }
}

/// The leaf a writer builds from a payload that came with `key` as its Kafka key.
fn written_leaf(payload: &[u8], key: &[u8]) -> Vec<u8> {
    let body = match idledger_proto::decode_event(payload) {
        Ok(v) => Body::Event(Box::new(EventEntry {
            links: BackLinks::default(),
            event: v.into_event(),
            record: None,
        })),
        Err(r) => Body::Quarantined(Box::new(r)),
    };
    Entry {
        version: FORMAT_VERSION,
        seq: 1,
        prev_leaf_hash: [0; 32],
        received_at: idledger_proto::Timestamp(0),
        origin: Origin::Kafka(KafkaOrigin::new("t", 0, 1, None, Some(key))),
        body,
    }
    .encode()
}

/// Verification finds nothing in a leaf the writer built.
fn assert_verified(leaf: &[u8]) {
    let view = EntryView::decode(leaf).expect("a written leaf decodes");
    let found = idledger_proto::secret::secret_in_entry(leaf, &view);
    assert_eq!(found, None, "the verifier refuses what the writer kept");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mode = byte(&mut u) % 3;
    let filler = {
        let kind = byte(&mut u);
        Filler {
            // Rare unless chosen: a padded input costs a hundred times more to judge.
            byte: [None, Some(b' '), Some(b'x'), Some(b'[')]
                .get(usize::from(kind))
                .copied()
                .flatten(),
            back: usize::from(byte(&mut u)),
        }
    };
    match mode {
        0 => {
            let name = secret_name(&mut u);
            let (ws, ws2) = (whitespace(&mut u), whitespace(&mut u));
            let value_len = 12 + usize::from(byte(&mut u) % 9);
            let value = alnum(&mut u, value_len);
            let a_len = usize::from(byte(&mut u));
            let a = take(&mut u, a_len);
            let b = u.take_rest();
            let core = [a, format!("\"{name}\"{ws}:{ws2}\"{value}\"").as_bytes(), b].concat();
            if contains(a, value.as_bytes()) || contains(b, value.as_bytes()) {
                return;
            }
            let payload = filler.pad(MAX_KEPT_RAW_BYTES, &core);
            let leaf = written_leaf(&payload, b"k");
            assert!(
                !contains(&leaf, value.as_bytes()),
                "a secret value is in the leaf"
            );
            assert_verified(&leaf);
            let key = filler.pad(MAX_KEPT_KEY_BYTES, &core);
            let origin = KafkaOrigin::new("t", 0, 1, None, Some(&key));
            assert!(
                matches!(origin.key, MessageKey::Redacted { .. }),
                "a key with a secret member is kept"
            );
        }
        1 => {
            let kinds = ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "PGP "];
            let shape = byte(&mut u);
            let kind = kinds[usize::from(shape) % kinds.len()];
            let armour = if kind == "PGP " {
                " BLOCK-----"
            } else {
                "-----"
            };
            let block = format!(
                "-----BEGIN {kind}PRIVATE KEY{armour}\nMC4CAQAwBQYDK2VwBCIEIHk2kqXn\n-----END {kind}PRIVATE KEY{armour}\n"
            );
            let inserted = if shape & 0x80 != 0 {
                format!("\"{}\"", block.replace('\n', "\\n").replace('P', "\\u0050"))
            } else {
                block
            };
            let a_len = usize::from(byte(&mut u));
            let a = take(&mut u, a_len);
            let b = u.take_rest();
            let core = [a, inserted.as_bytes(), b].concat();
            let payload = filler.pad(MAX_KEPT_RAW_BYTES, &core);
            let key = filler.pad(MAX_KEPT_KEY_BYTES, &core);
            for leaf in [written_leaf(&payload, b"k"), written_leaf(b"{}", &key)] {
                assert!(
                    !contains(&leaf, inserted.as_bytes()),
                    "a key block is in the leaf"
                );
                assert!(
                    !holds_private_key_block(&leaf),
                    "an armour line is in the leaf"
                );
                assert_verified(&leaf);
            }
        }
        _ => {
            let core = u.take_rest();
            let payload = filler.pad(MAX_KEPT_RAW_BYTES, core);
            let key = filler.pad(MAX_KEPT_KEY_BYTES, core);
            assert_verified(&written_leaf(&payload, &key));
        }
    }
});
