//! The benchmarks' input: a ~600-byte access event, and its submission decoded as ingest
//! decodes it.

use idledger_ledger::{Item, Submission};
use idledger_proto::decode_event;
use idledger_proto::entry::Origin;

/// A ~600-byte event; `subject` lets a benchmark give one identity a known number of entries.
pub fn event_json(i: usize, subject: &str) -> String {
    format!(
        r#"{{"id":"evt-{i:09}","source":"okta-prod","type":"access.approved","time":"2026-03-04T09:12:00Z","actor":{{"id":"manager{m}@example.com","kind":"human","mfa":true}},"subject":{{"id":"{subject}","kind":"human"}},"grant_id":"grant-{g:08}","request_id":"req-{g:08}","resource":"prod-db:read","reason":"on-call investigation of payment failures reported in INC-{i}","ticket":"INC-{i}","policy":{{"id":"prod-access","version":"7","hash":"sha256:4b7f0c1d"}},"expires_at":"2026-03-04T17:12:00Z","attributes":{{"application":"payments","business_function":"operations","region":"eu-west-1"}}}}"#,
        m = i % 50,
        g = i / 3
    )
}

/// Event `i`, decoded as ingest decodes it.
pub fn submission(i: usize, subject: &str) -> Submission {
    let raw = event_json(i, subject);
    Submission {
        origin: Origin::Local {
            label: "bench".into(),
            line: i as u64,
        },
        item: match decode_event(raw.as_bytes()) {
            Ok(v) => Item::Event(v),
            Err(r) => Item::Rejected(r),
        },
    }
}
