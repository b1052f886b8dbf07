//! Fuzz target: the event decoder never panics; a rejection keeps raw bytes only when they
//! hold no secret material, judged independently by serde_json (no member name anywhere is a
//! secret name and no string holds a PEM private key block, escapes decoded) and by the rule
//! verification applies; the rule reads every JSON document serde_json reads (it never calls
//! valid JSON unreadable); and an accepted event, written back as JSON, is accepted again with
//! the very same canonical bytes.
#![no_main]

use idledger_proto::rejection::MAX_KEPT_RAW_BYTES;
use idledger_proto::secret::{Extent, Finding, secret_in_input, secret_in_kept};

/// A private key block's armour line, PEM or OpenPGP.
fn armour(s: &str) -> bool {
    s.contains("PRIVATE KEY-----") || s.contains("PRIVATE KEY BLOCK-----")
}

fn holds_secret(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => armour(s),
        Value::Array(items) => items.iter().any(holds_secret),
        Value::Object(members) => members.iter().any(|(name, value)| {
            idledger_proto::decode::is_secret_name(name) || armour(name) || holds_secret(value)
        }),
        _ => false,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match idledger_proto::decode_event(data) {
        Ok(v) => {
            let event = v.to_event();
            let json = serde_json::to_vec(&event).expect("an event serializes");
            let again = idledger_proto::decode_event(&json)
                .unwrap_or_else(|r| panic!("its own JSON is refused: {}", r.reason));
            assert_eq!(again.to_event(), event);
            assert_eq!(again.encoded(), v.encoded());
            let value: serde_json::Value = serde_json::from_slice(data).expect("accepted is JSON");
            assert!(
                !holds_secret(&value),
                "an accepted event holds secret material"
            );
            assert_eq!(idledger_proto::decode::secret_in_event(&v.view()), None);
        }
        Err(r) => {
            if matches!(r.payload, idledger_proto::KeptPayload::Raw { .. }) {
                assert_eq!(secret_in_input(data, MAX_KEPT_RAW_BYTES), None);
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
                    assert!(!holds_secret(&value), "raw bytes kept with secret material");
                }
            }
        }
    }
    if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
        let finding = secret_in_kept(data, Extent::Whole);
        assert!(
            !matches!(finding, Some(Finding::Unproven(_))),
            "valid JSON read as unreadable: {finding:?}"
        );
    }
});
