//! Source formats: decode, map, validate and encode one record of each format, as ingest does
//! (`formats::message::decode_message`), against native decoding of an event of the same kind
//! in the same run. The target is within 2x of native.
//!
//! Each row also shows the floor no reader of that record can go below: checking the record is
//! JSON at all (a scan that keeps nothing, `serde::de::IgnoredAny`), hashing its bytes (every
//! mapped entry carries their SHA-256), and the native path's own work after its parse
//! (validate and encode the event: native decode minus a scan of the native event).

use crate::events::event_json;
use crate::rows::Row;
use idledger_proto::decode_event;
use idledger_proto::formats::message::{Decoded, decode_message};
use idledger_proto::formats::{FormatSettings, InputFormat, Message};
use sha2::{Digest as _, Sha256};
use std::time::{Duration, Instant};

/// One representative record per format (the fixtures the mapping tests read).
const RECORDS: [(&str, InputFormat, &str); 8] = [
    (
        "decode ocsf",
        InputFormat::Ocsf,
        include_str!("../../proto/tests/fixtures/formats/ocsf/group_management_add_user.json"),
    ),
    (
        "decode cloudevents",
        InputFormat::CloudEvents,
        include_str!("../../proto/tests/fixtures/formats/cloudevents/structured_github.json"),
    ),
    (
        "decode secevent",
        InputFormat::SecEvent,
        include_str!(
            "../../proto/tests/fixtures/formats/secevent/caep_assurance_level_change.json"
        ),
    ),
    (
        "decode cloudtrail",
        InputFormat::CloudTrail,
        include_str!("../../proto/tests/fixtures/formats/cloudtrail/add_user_to_group.json"),
    ),
    (
        "decode okta",
        InputFormat::Okta,
        include_str!("../../proto/tests/fixtures/formats/okta/group_add.json"),
    ),
    (
        "decode entra",
        InputFormat::Entra,
        include_str!("../../proto/tests/fixtures/formats/entra/add_member_group.json"),
    ),
    (
        "decode github",
        InputFormat::Github,
        include_str!("../../proto/tests/fixtures/formats/github/team_add_member.json"),
    ),
    (
        "decode vault",
        InputFormat::Vault,
        include_str!("../../proto/tests/fixtures/formats/vault/token_create_child.json"),
    ),
];

const RUNS: usize = 20_000;

/// Best of five passes of `f` over `RUNS` calls, per call.
fn best_of_five(mut f: impl FnMut() -> usize) -> Duration {
    let mut best = Duration::MAX;
    let mut sink = 0usize;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..RUNS {
            sink = sink.wrapping_add(f());
        }
        best = best.min(t.elapsed() / RUNS as u32);
    }
    std::hint::black_box(sink);
    best
}

pub fn formats() -> anyhow::Result<Vec<Row>> {
    let native = event_json(1, "alice@example.com");
    let native_time = best_of_five(|| match decode_event(native.as_bytes()) {
        Ok(v) => v.encoded().len(),
        Err(_) => 0,
    });
    let native_scan = best_of_five(|| usize::from(scan(native.as_bytes())));
    let after_parse = native_time.saturating_sub(native_scan);
    // CloudEvents' data is read by the format its type routes to.
    let settings = FormatSettings {
        cloudevents_routes: vec![("com.github.".into(), InputFormat::Github)],
        ..FormatSettings::default()
    };
    let mut rows = Vec::new();
    for (name, format, record) in RECORDS {
        let message = Message {
            payload: record.as_bytes(),
            headers: &[],
        };
        let events = decode_message(format, &settings, message)
            .iter()
            .filter(|d| matches!(d, Decoded::Event(_)))
            .count();
        anyhow::ensure!(events > 0, "{name}: the record maps to no event");
        let time = best_of_five(|| decode_message(format, &settings, message).len());
        let ratio = time.as_secs_f64() / native_time.as_secs_f64();
        let floor = best_of_five(|| usize::from(scan(record.as_bytes())))
            + best_of_five(|| usize::from(Sha256::digest(record.as_bytes())[0]))
            + after_parse * events as u32;
        rows.push(Row {
            name,
            measured: format!(
                "{:.2} µs/record ({} B, {events} event{}; floor {:.2} µs = {:.2}x)",
                time.as_secs_f64() * 1e6,
                record.len(),
                if events == 1 { "" } else { "s" },
                floor.as_secs_f64() * 1e6,
                floor.as_secs_f64() / native_time.as_secs_f64(),
            ),
            baseline: format!(
                "native decode {:.2} µs ({ratio:.2}x)",
                native_time.as_secs_f64() * 1e6
            ),
            target: "≤ 2x native".into(),
            pass: ratio <= 2.0,
        });
    }
    Ok(rows)
}

/// Whether `bytes` is one JSON value, reading it without keeping any of it.
fn scan(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}
