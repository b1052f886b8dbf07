//! Fuzz target: reading a message in any input format never panics, and what it gives holds its
//! promises: the leaf an event would be written as decodes back to the same event with its
//! source record, every rejection names a reason, and out-of-scope records are counted under
//! the source format that read them.
#![no_main]
use idledger_proto::entry::{BackLinks, Entry, Origin, encode_event_leaf_into};
use idledger_proto::formats::message::{Decoded, decode_message};
use idledger_proto::formats::{FormatSettings, InputFormat, Message};
use idledger_proto::{Hash, Timestamp};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let format = InputFormat::ALL[usize::from(selector) % InputFormat::ALL.len()];
    let settings = FormatSettings {
        keep_original: selector & 0x80 != 0,
        cloudevents_routes: vec![("com.okta.".into(), InputFormat::Okta)],
        jwks: None,
    };
    let headers: &[(&str, &[u8])] = if selector & 0x40 != 0 {
        &[("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"s"), ("ce_type", b"com.okta.e")]
    } else {
        &[]
    };
    let mut leaf = Vec::new();
    for decoded in decode_message(format, &settings, Message { payload, headers }) {
        match decoded {
            Decoded::Event(event) => {
                encode_event_leaf_into(
                    &mut leaf,
                    1,
                    &Hash::ZERO,
                    Timestamp(0),
                    &Origin::Ledger,
                    &BackLinks::default(),
                    &event,
                );
                let entry = Entry::decode(&leaf).expect("a written leaf decodes");
                let body = match &entry.body {
                    idledger_proto::Body::Event(e) => e,
                    other => panic!("an event leaf holds {other:?}"),
                };
                assert_eq!(body.event, event.to_event());
                assert_eq!(body.record.is_some(), !event.encoded_record().is_empty());
            }
            Decoded::Rejected(r) => assert!(!r.reason.class().is_empty()),
            Decoded::OutOfScope { format, .. } => {
                assert!(!matches!(format, InputFormat::Native | InputFormat::Auto))
            }
        }
    }
});
