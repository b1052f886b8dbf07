//! Fuzz target: the event decoder never panics; a rejection keeps raw bytes only when no
//! secret-looking member name is present; and an accepted event, written back as JSON, is
//! accepted again as the very same event with the very same canonical bytes.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match idledger_proto::decode_event(data) {
        Ok(v) => {
            let event = v.to_event();
            let json = serde_json::to_vec(&event).expect("an event serializes");
            let again = idledger_proto::decode_event(&json)
                .unwrap_or_else(|r| panic!("its own JSON is refused: {}", r.reason));
            assert_eq!(again.to_event(), event);
            assert_eq!(again.encoded(), v.encoded());
        }
        Err(r) => {
            if matches!(r.payload, idledger_proto::KeptPayload::Raw { .. }) {
                assert!(idledger_proto::decode::find_secret_member(data).is_none());
            }
        }
    }
});
