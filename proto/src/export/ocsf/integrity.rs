//! The integrity members that close an OCSF record: the `record_integrity` attestation (the leaf
//! hash as fingerprint, the chain link as `prev_event`) and `unmapped.idledger` (index, leaf,
//! proof, provenance and what OCSF has no attribute for), docs/EXPORT.md "OCSF records".
//!
//! They are most of a record's bytes and nearly all constant text and base64, which JSON
//! carries as it is: written by hand, they need no escaping pass. Strings from the entry (the
//! origin) and the rest of `unmapped.idledger` still go through serde_json.

use super::{Idledger, LEAF_SERIALIZATION};
use crate::export::EntryRecord;
use crate::hash::Hash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::io::Write as _;

/// A fingerprint object up to its value: SHA-256 (3), in Base64 (2), of the serialization
/// Other (99) that `LEAF_SERIALIZATION` names.
fn fingerprint_head() -> &'static [u8] {
    static HEAD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    HEAD.get_or_init(|| {
        let mut head = br#"{"algorithm_id":3,"algorithm":"SHA-256","encoding_id":2,"encoding":"Base64","serialization_id":99,"serialization":"#.to_vec();
        json_string(&mut head, LEAF_SERIALIZATION);
        head.extend_from_slice(br#","value":""#);
        head
    })
}

/// `,"attestation_list":[{...}]`: uid the index, chain and authority the origin, fingerprint
/// the leaf hash, and after entry 0 `prev_event`, the previous record by `metadata.uid` and
/// its leaf hash (the chain link the leaf carries).
pub(super) fn write_attestation_list(buf: &mut Vec<u8>, record: &EntryRecord<'_>, prev: Hash) {
    buf.extend_from_slice(br#","attestation_list":[{"uid":""#);
    let _ = write!(buf, "{}", record.index);
    buf.extend_from_slice(br#"","chain_uid":"#);
    json_string(buf, record.origin);
    buf.extend_from_slice(br#","authority_uid":"#);
    json_string(buf, record.origin);
    buf.extend_from_slice(br#","fingerprint":"#);
    write_fingerprint(buf, &record.leaf_hash);
    if let Some(previous) = record.index.checked_sub(1) {
        buf.extend_from_slice(br#","prev_event":{"uid":"#);
        // `<origin>#<index>`: the origin's JSON string, reopened before its closing quote.
        json_string(buf, record.origin);
        buf.pop();
        let _ = write!(buf, "#{previous}\"");
        buf.extend_from_slice(br#","fingerprint":"#);
        write_fingerprint(buf, &prev);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"}]");
}

/// `,"unmapped":{"idledger":{...}}`: the index and the leaf, then the rest through serde.
pub(super) fn write_unmapped(buf: &mut Vec<u8>, record: &EntryRecord<'_>, rest: &Idledger<'_>) {
    let _ = write!(
        buf,
        r#","unmapped":{{"idledger":{{"index":{},"leaf":""#,
        record.index
    );
    write_base64(buf, record.leaf);
    buf.push(b'"');
    // The rest is an object that always has `provenance`: its opening brace becomes the comma
    // that joins its members to the two above, its closing brace closes `idledger`.
    let joint = buf.len();
    serde_json::to_writer(&mut *buf, rest)
        .expect("writing JSON to a Vec cannot fail: every map key is a string");
    buf[joint] = b',';
    buf.push(b'}');
}

fn write_fingerprint(buf: &mut Vec<u8>, hash: &Hash) {
    buf.extend_from_slice(fingerprint_head());
    write_base64(buf, &hash.0);
    buf.extend_from_slice(br#""}"#);
}

/// Standard base64, straight into the buffer (its alphabet needs no JSON escape).
fn write_base64(buf: &mut Vec<u8>, bytes: &[u8]) {
    let start = buf.len();
    let len = base64::encoded_len(bytes.len(), true)
        .expect("a leaf of at most MAX_LEAF_BYTES has a base64 length");
    buf.resize(start + len, 0);
    let written = B64
        .encode_slice(bytes, &mut buf[start..])
        .expect("the buffer was sized for the encoding");
    debug_assert_eq!(written, len);
}

fn json_string(buf: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *buf, text).expect("writing a string to a Vec cannot fail");
}
