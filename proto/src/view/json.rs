//! An entry view written as JSON by hand, byte for byte what serde writes for the owned entry
//! (`serde_json::to_writer(&entry)`): exports write one per entry, and serde's string escaping
//! goes a byte at a time. Event entries (the common case) are written member by member; the
//! rare bodies (quarantined input, system records) and a kept source record go through serde.
//! `proto/tests/view_json.rs` holds the two outputs equal over generated entries.

use super::{
    ActorView, AttrValueView, BodyView, CredentialView, EntryView, EventEntryView, EventView,
    KafkaOriginView, MessageKeyView, OriginView,
};
use crate::entry::BackLinks;
use crate::hash::Hash;
use crate::time::Timestamp;

/// Appends `entry` as JSON to `buf`.
pub fn write_entry_json(buf: &mut Vec<u8>, entry: &EntryView<'_>) {
    buf.extend_from_slice(b"{\"version\":");
    push_u64(buf, u64::from(entry.version));
    buf.extend_from_slice(b",\"seq\":");
    push_u64(buf, entry.seq);
    buf.extend_from_slice(b",\"prev_leaf_hash\":\"");
    buf.extend_from_slice(Hash(entry.prev_leaf_hash).hex().as_str().as_bytes());
    buf.extend_from_slice(b"\",\"received_at\":");
    push_time(buf, entry.received_at);
    buf.extend_from_slice(b",\"origin\":");
    push_origin(buf, &entry.origin);
    buf.extend_from_slice(b",\"body\":");
    match &entry.body {
        BodyView::Event(e) => push_event_entry(buf, e),
        other => push_serde(buf, other),
    }
    buf.push(b'}');
}

/// Appends `s` as a JSON string, escaped as serde_json escapes: `"` and `\`, and control
/// characters below 0x20 (`\b \t \n \f \r` short, the rest `\u00XX`); everything else as is.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut plain_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none of them needs escaping.
        if i + 8 <= bytes.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            if !needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        buf.extend_from_slice(&bytes[plain_from..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.extend_from_slice(escape);
        }
        i += 1;
        plain_from = i;
    }
    buf.extend_from_slice(&bytes[plain_from..]);
    buf.push(b'"');
}

/// Whether any of eight bytes is `"`, `\` or below 0x20 (the bit tricks of "determine if a
/// word has a byte less than n / equal to n").
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
        != 0
}

/// Appends `n` in decimal.
pub fn push_u64(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut v = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
}

fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_u64(buf, n.unsigned_abs());
}

fn push_time(buf: &mut Vec<u8>, t: Timestamp) {
    buf.push(b'"');
    buf.extend_from_slice(t.rfc3339().as_str().as_bytes());
    buf.push(b'"');
}

/// Appends `value` as serde_json writes it (for the rare parts). Serializing into a `Vec`
/// fails only for values serde_json cannot represent, which no decoded leaf holds (numbers are
/// finite, map keys are strings): `null` then, rather than a panic.
fn push_serde<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    let at = buf.len();
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.truncate(at);
        buf.extend_from_slice(b"null");
    }
}

/// `,"name":` before a member that is not the first.
fn key(buf: &mut Vec<u8>, name: &str) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":");
}

fn optional_u64(buf: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => push_u64(buf, n),
        None => buf.extend_from_slice(b"null"),
    }
}

fn push_origin(buf: &mut Vec<u8>, origin: &OriginView<'_>) {
    match origin {
        OriginView::Kafka(k) => push_kafka_origin(buf, k),
        OriginView::Local { label, line } => {
            buf.extend_from_slice(b"{\"via\":\"local\",\"label\":");
            push_json_str(buf, label);
            key(buf, "line");
            push_u64(buf, *line);
            buf.push(b'}');
        }
        OriginView::Ledger => buf.extend_from_slice(b"{\"via\":\"ledger\"}"),
    }
}

fn push_kafka_origin(buf: &mut Vec<u8>, k: &KafkaOriginView<'_>) {
    buf.extend_from_slice(b"{\"via\":\"kafka\",\"topic\":");
    push_json_str(buf, k.topic);
    key(buf, "partition");
    push_i64(buf, i64::from(k.partition));
    key(buf, "offset");
    push_i64(buf, k.offset);
    key(buf, "timestamp_ms");
    match k.timestamp_ms {
        Some(ms) => push_i64(buf, ms),
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, "key");
    match k.key {
        MessageKeyView::Absent => buf.extend_from_slice(b"null"),
        MessageKeyView::Kept(bytes) => push_json_str(buf, &String::from_utf8_lossy(bytes)),
        MessageKeyView::Redacted { .. } => push_serde(buf, &k.key),
    }
    key(buf, "key_truncated");
    push_bool(buf, k.key_truncated);
    buf.push(b'}');
}

fn push_bool(buf: &mut Vec<u8>, b: bool) {
    buf.extend_from_slice(if b { b"true" } else { b"false" });
}

fn push_links(buf: &mut Vec<u8>, links: &BackLinks) {
    buf.extend_from_slice(b"{\"prev_subject\":");
    optional_u64(buf, links.prev_subject);
    key(buf, "prev_grant");
    optional_u64(buf, links.prev_grant);
    key(buf, "prev_credential");
    optional_u64(buf, links.prev_credential);
    buf.push(b'}');
}

fn push_event_entry(buf: &mut Vec<u8>, e: &EventEntryView<'_>) {
    buf.extend_from_slice(b"{\"kind\":\"event\",\"links\":");
    push_links(buf, &e.links);
    key(buf, "event");
    push_event(buf, &e.event);
    if let Some(record) = &e.record {
        key(buf, "record");
        push_serde(buf, record);
    }
    buf.push(b'}');
}

/// An optional string member, left out when absent.
fn optional_str(buf: &mut Vec<u8>, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        key(buf, name);
        push_json_str(buf, v);
    }
}

fn push_event(buf: &mut Vec<u8>, e: &EventView<'_>) {
    buf.extend_from_slice(b"{\"source\":");
    push_json_str(buf, e.source);
    key(buf, "id");
    push_json_str(buf, e.id);
    key(buf, "type");
    push_json_str(buf, e.kind.as_str());
    key(buf, "time");
    push_time(buf, e.time);
    if let Some(actor) = &e.actor {
        key(buf, "actor");
        push_actor(buf, actor);
    }
    key(buf, "subject");
    buf.extend_from_slice(b"{\"id\":");
    push_json_str(buf, e.subject.id);
    key(buf, "kind");
    push_json_str(buf, e.subject.kind.as_str());
    buf.push(b'}');
    optional_str(buf, "grant_id", e.grant_id);
    optional_str(buf, "request_id", e.request_id);
    optional_str(buf, "resource", e.resource);
    optional_str(buf, "reason", e.reason);
    optional_str(buf, "ticket", e.ticket);
    if let Some(policy) = &e.policy {
        key(buf, "policy");
        buf.extend_from_slice(b"{\"id\":");
        push_json_str(buf, policy.id);
        optional_str(buf, "version", policy.version);
        optional_str(buf, "hash", policy.hash);
        buf.push(b'}');
    }
    optional_str(buf, "decision", e.decision.map(|d| d.as_str()));
    if let Some(t) = e.expires_at {
        key(buf, "expires_at");
        push_time(buf, t);
    }
    if e.exception {
        key(buf, "exception");
        buf.extend_from_slice(b"true");
    }
    if let Some(credential) = &e.credential {
        key(buf, "credential");
        push_credential(buf, credential);
    }
    optional_str(buf, "owner", e.owner);
    if !e.attributes.is_empty() {
        key(buf, "attributes");
        push_attributes(buf, &e.attributes);
    }
    if !e.outcome.is_success() {
        key(buf, "outcome");
        push_json_str(buf, e.outcome.as_str());
    }
    optional_str(buf, "membership", e.membership.map(|m| m.as_str()));
    buf.push(b'}');
}

fn push_actor(buf: &mut Vec<u8>, actor: &ActorView<'_>) {
    buf.extend_from_slice(b"{\"id\":");
    push_json_str(buf, actor.id);
    key(buf, "kind");
    push_json_str(buf, actor.kind.as_str());
    if let Some(mfa) = actor.mfa {
        key(buf, "mfa");
        push_bool(buf, mfa);
    }
    buf.push(b'}');
}

fn push_credential(buf: &mut Vec<u8>, c: &CredentialView<'_>) {
    buf.extend_from_slice(b"{\"id\":");
    push_json_str(buf, c.id);
    key(buf, "kind");
    push_json_str(buf, c.kind.as_str());
    if let Some(f) = c.fingerprint {
        key(buf, "fingerprint");
        buf.extend_from_slice(b"\"sha256:");
        buf.extend_from_slice(Hash(f).hex().as_str().as_bytes());
        buf.push(b'"');
    }
    buf.push(b'}');
}

fn push_attributes(buf: &mut Vec<u8>, attributes: &[(&str, AttrValueView<'_>)]) {
    buf.push(b'{');
    for (i, (name, value)) in attributes.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_json_str(buf, name);
        buf.push(b':');
        match value {
            AttrValueView::Text(t) => push_json_str(buf, t),
            AttrValueView::Integer(n) => push_i64(buf, *n),
            AttrValueView::Number(n) => push_serde(buf, n),
            AttrValueView::Bool(b) => push_bool(buf, *b),
        }
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀 \"quoted\" back\\slash");
        let cases = [
            "",
            "plain ascii text longer than eight bytes",
            "\"",
            "\\",
            "tab\there",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "exactly8",
            "seven\"7",
            "a long run of text before an escape at the very end\n",
            &all,
        ];
        for case in cases {
            let mut ours = Vec::new();
            push_json_str(&mut ours, case);
            let theirs = serde_json::to_vec(case).expect("a string serializes");
            assert_eq!(
                String::from_utf8(ours).expect("UTF-8"),
                String::from_utf8(theirs).expect("UTF-8"),
                "{case:?}"
            );
        }
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        for n in [0i64, 1, -1, 9, 10, 99, 100, i64::MAX, i64::MIN, -1234567890] {
            let mut ours = Vec::new();
            push_i64(&mut ours, n);
            assert_eq!(ours, serde_json::to_vec(&n).expect("serializes"), "{n}");
        }
        let mut ours = Vec::new();
        push_u64(&mut ours, u64::MAX);
        assert_eq!(ours, serde_json::to_vec(&u64::MAX).expect("serializes"));
    }
}
