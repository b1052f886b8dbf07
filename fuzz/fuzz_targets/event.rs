//! Fuzz target: the event decoder never panics, and a rejection keeps raw bytes only when no
//! secret-looking member name is present.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(r) = idledger_proto::decode_event(data) {
        if matches!(r.payload, idledger_proto::KeptPayload::Raw { .. }) {
            assert!(idledger_proto::decode::find_secret_member(data).is_none());
        }
    }
});
