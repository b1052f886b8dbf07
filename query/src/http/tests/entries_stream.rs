//! `/v1/entries` in-process, as a range: it is the verifiable export stream, in rounds and in
//! every record format; filters keep what they name; server-sent events frame each record and
//! `Last-Event-ID` resumes; roles and bad parameters get the answer they must. The ledger a
//! test serves is written in this process (`Live`), and `following` appends to it as it runs.

use super::*;
use crate::http::limits::ROUND_ENTRIES;
use idledger_ledger::{Item as Submitted, Ledger, Submission};
use idledger_proto::decode_event;
use idledger_proto::entry::Origin;
use idledger_proto::export::verify_export;
use idledger_proto::note::VerifierKey;

/// What the generator put in an event, to say which filters keep it.
#[derive(Clone, Debug)]
pub(super) struct Made {
    kind: &'static str,
    pub(super) source: &'static str,
    subject: String,
    human: bool,
    quarantined: bool,
}

/// The `n`th test event: four kinds of events about people and services, from three sources,
/// and every fifth one a line that fails validation (quarantined).
fn event(n: usize) -> (String, Made) {
    let person = format!("user{}@example.com", n % 3);
    let service = format!("svc-{}", n % 2);
    let actor = r#""actor":{"id":"boss@example.com","kind":"human"}"#;
    let time = "2026-01-08T09:00:00Z";
    let (line, made) = match n % 5 {
        0 => (
            format!(
                r#"{{"id":"e{n}","source":"hr","type":"identity.created","time":"{time}",{actor},"subject":{{"id":"{person}","kind":"human"}},"attributes":{{"application":"payments"}}}}"#
            ),
            ("identity.created", "hr", person, true, false),
        ),
        1 | 3 => {
            let kind = if n % 5 == 1 {
                "access.granted"
            } else {
                "access.requested"
            };
            (
                format!(
                    r#"{{"id":"e{n}","source":"portal","type":"{kind}","time":"{time}",{actor},"subject":{{"id":"{person}","kind":"human"}},"grant_id":"g-{n}","resource":"db:read"}}"#
                ),
                (kind, "portal", person, true, false),
            )
        }
        2 => (
            format!(
                r#"{{"id":"e{n}","source":"vault","type":"credential.issued","time":"{time}",{actor},"subject":{{"id":"{service}","kind":"api_key"}},"credential":{{"id":"key-{n}","kind":"api_key","fingerprint":"sha256:{}"}}}}"#,
                "ab".repeat(32)
            ),
            ("credential.issued", "vault", service, false, false),
        ),
        _ => (
            format!(r#"{{"id":"e{n}","source":"broken"}}"#),
            ("", "broken", String::new(), false, true),
        ),
    };
    let (kind, source, subject, human, quarantined) = made;
    (
        line,
        Made {
            kind,
            source,
            subject,
            human,
            quarantined,
        },
    )
}

/// A ledger written in this process (the writer stays open to append more) and served.
pub(super) struct Live {
    /// Dropped first: the writer closes before the server's directory goes.
    writer: Ledger,
    pub(super) server: TestServer,
    keys: Vec<VerifierKey>,
    /// What each index holds (`None`: a system entry).
    pub(super) made: Vec<Option<Made>>,
}

impl Live {
    /// A ledger of `batches` batches of `per_batch` events each, served with these limits.
    pub(super) fn start(batches: usize, per_batch: usize, limits: Limits) -> Live {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger");
        let writer = Ledger::init(
            &path,
            &dir.path().join("keys"),
            "test.idledger.local/stream",
        )
        .expect("init");
        let made = vec![None; writer.size().0 as usize];
        let keys = writer.verifier_keys();
        let mut live = Live {
            writer,
            server: TestServer::over(dir, &path, limits),
            keys,
            made,
        };
        for _ in 0..batches {
            live.append(per_batch);
        }
        // The server's reader opened before these batches: it catches up now, not when a
        // request next finds it due.
        live.server.state.refresh_now();
        live
    }

    /// Appends `count` more events in one batch (one checkpoint).
    pub(super) fn append(&mut self, count: usize) {
        let first = self.made.len();
        let batch = (first..first + count)
            .map(|n| {
                let (line, made) = event(n);
                self.made.push(Some(made));
                let item = match decode_event(line.as_bytes()) {
                    Ok(v) => Submitted::Event(v),
                    Err(r) => Submitted::Rejected(r),
                };
                Submission {
                    origin: Origin::Local {
                        label: "test".into(),
                        line: n as u64,
                    },
                    item,
                }
            })
            .collect();
        self.writer.append(batch, &[]).expect("append");
        assert_eq!(self.writer.size().0 as usize, self.made.len());
    }

    pub(super) fn size(&self) -> u64 {
        self.made.len() as u64
    }

    pub(super) fn verify(&self, body: &str) -> idledger_proto::export::VerifiedExport {
        verify_export(body, &self.keys)
    }
}

/// The `kind` of each line of a stream.
pub(super) fn kinds(body: &str) -> Vec<String> {
    body.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["kind"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

/// The indexes of a stream's entry lines.
pub(super) fn indexes(body: &str) -> Vec<u64> {
    body.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "entry")
        .filter_map(|v| v["index"].as_u64())
        .collect()
}

fn get_with(addr: std::net::SocketAddr, path: &str, headers: &str) -> Reply {
    exchange(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUDITOR}\r\n{headers}Connection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

#[test]
fn a_range_is_the_export_stream_in_rounds_and_verifies() {
    // More entries than a round reads, in batches of 1000: several rounds.
    let live = Live::start(10, 1000, Limits::default());
    let size = live.size();
    assert!(size > 2 * ROUND_ENTRIES);
    // (query, first index, the index after the last)
    let cases = [
        ("from=0", 0, size),
        ("from=0&proofs=true", 0, size),
        ("from=1500", 1500, size),
        // `to` rounds down to a checkpoint: batches end at 1 + 1000·k.
        ("from=0&to=5000", 0, 4001),
        ("from=3&to=1001", 3, 1001),
        ("from=0&follow=false", 0, size),
    ];
    for (query, from, end) in cases {
        let reply = live
            .server
            .get(&format!("/v1/entries?{query}"), Some(AUDITOR));
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/x-ndjson"),
            "{query}"
        );
        let verified = live.verify(&reply.body);
        assert!(
            verified.ok(),
            "{query}: {:?}",
            &verified.findings[..3.min(verified.findings.len())]
        );
        assert_eq!(verified.entries, end - from, "{query}");
        assert_eq!(
            indexes(&reply.body),
            (from..end).collect::<Vec<_>>(),
            "{query}"
        );
        let k = kinds(&reply.body);
        assert_eq!(k.first().map(String::as_str), Some("start"), "{query}");
        assert_eq!(k.last().map(String::as_str), Some("checkpoint"), "{query}");
        assert_eq!(verified.checkpoints.last(), Some(&end), "{query}");
    }
}

#[test]
fn every_record_format_streams_what_the_command_line_writes_and_verifies() {
    let live = Live::start(2, 30, Limits::default());
    let size = live.size();
    for format in idledger_proto::export::RecordFormat::ALL {
        let name = format.as_str();
        for query in ["from=0", "from=0&source=vault"] {
            let reply = live
                .server
                .get(&format!("/v1/entries?{query}&format={name}"), Some(AUDITOR));
            assert_eq!(reply.status, 200, "{name} {query}: {}", reply.body);
            let content_type = match format {
                idledger_proto::export::RecordFormat::Cef => "text/plain; charset=utf-8",
                _ => "application/x-ndjson",
            };
            assert_eq!(reply.header("content-type"), Some(content_type), "{name}");
            // The same records the export writer makes for these options, line for line.
            let mut options = crate::export::ExportOptions {
                format,
                to: Some(size),
                ..crate::export::ExportOptions::default()
            };
            if query.contains("vault") {
                options.filter.sources = vec!["vault".into()];
            }
            let ledger = live.server.state.ledger.current();
            let mut lines = crate::export::Lines(Vec::new());
            crate::export::export(&ledger.reader(), &options, &mut lines).expect("export");
            assert_eq!(reply.body.as_bytes(), lines.0, "{name} {query}");
            let verified = live.verify(&reply.body);
            assert!(verified.ok(), "{name} {query}: {:?}", verified.findings);
        }
    }
}

#[test]
fn filters_keep_exactly_the_entries_they_name_and_each_carries_its_proof() {
    let live = Live::start(3, 40, Limits::default());
    type Keep = fn(&Made) -> bool;
    // (filters, which events they keep; system entries are kept only without event filters)
    let cases: &[(&str, Keep, bool)] = &[
        ("type=access.granted", |m| m.kind == "access.granted", false),
        (
            "type=access.granted&type=credential.issued",
            |m| m.kind == "access.granted" || m.kind == "credential.issued",
            false,
        ),
        ("source=vault", |m| m.source == "vault", false),
        (
            "source=hr&source=vault",
            |m| m.source == "hr" || m.source == "vault",
            false,
        ),
        (
            "subject=user1@example.com",
            |m| m.subject == "user1@example.com",
            false,
        ),
        ("kind=human", |m| m.human && !m.quarantined, false),
        ("kind=non-human", |m| !m.human && !m.quarantined, false),
        ("quarantined=true", |m| m.quarantined, false),
        ("quarantined=false", |m| !m.quarantined, true),
        (
            "kind=human&type=identity.created",
            |m| m.human && m.kind == "identity.created",
            false,
        ),
    ];
    for &(filters, keep, system) in cases {
        let want: Vec<u64> = live
            .made
            .iter()
            .enumerate()
            .filter(|(_, m)| m.as_ref().map_or(system, keep))
            .map(|(i, _)| i as u64)
            .collect();
        assert!(
            !want.is_empty(),
            "{filters} keeps nothing: a test that cannot fail"
        );
        let reply = live
            .server
            .get(&format!("/v1/entries?from=0&{filters}"), Some(RESPONDER));
        assert_eq!(reply.status, 200, "{filters}: {}", reply.body);
        assert_eq!(indexes(&reply.body), want, "{filters}");
        let verified = live.verify(&reply.body);
        assert!(verified.ok(), "{filters}: {:?}", verified.findings);
        let proofs = reply
            .body
            .lines()
            .filter(|l| l.contains(r#""proof":"#))
            .count();
        assert_eq!(
            proofs,
            want.len(),
            "{filters}: every entry line carries its proof"
        );
    }
}

/// One server-sent event: its id, event name and data.
fn events(body: &str) -> Vec<(String, String, String)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (field("id"), field("event"), field("data"))
        })
        .collect()
}

#[test]
fn server_sent_events_carry_each_record_and_last_event_id_resumes_after_it() {
    let live = Live::start(3, 20, Limits::default());
    let size = live.size();
    let lines = live.server.get("/v1/entries?from=0", Some(AUDITOR)).body;
    let sse = get_with(
        live.server.addr,
        "/v1/entries?from=0",
        "Accept: text/event-stream\r\n",
    );
    assert_eq!(sse.status, 200, "{}", sse.body);
    assert_eq!(sse.header("content-type"), Some("text/event-stream"));
    let got = events(&sse.body);
    // Each event is a line of the NDJSON stream, named by its kind, with the index the stream
    // goes on from after it as its id.
    assert_eq!(got.len(), lines.lines().count());
    for ((id, event, data), line) in got.iter().zip(lines.lines()) {
        assert_eq!(data, line);
        let v: serde_json::Value = serde_json::from_str(data).expect("JSON data");
        assert_eq!(v["kind"], event.as_str());
        let resume_from = match event.as_str() {
            "start" => v["from"].as_u64(),
            "entry" => v["index"].as_u64().map(|i| i + 1),
            "checkpoint" => v["size"].as_u64(),
            other => panic!("event {other}"),
        };
        assert_eq!(id.parse::<u64>().ok(), resume_from, "{data}");
    }
    // A client reconnecting sends its first URL again and the last id it saw: the stream goes
    // on from there, and verifies by itself.
    let (last_id, _, _) = &got[got.len() / 2];
    let resumed = get_with(
        live.server.addr,
        "/v1/entries?from=0",
        &format!("Accept: text/event-stream\r\nLast-Event-ID: {last_id}\r\n"),
    );
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let data: String = events(&resumed.body)
        .iter()
        .map(|(_, _, d)| format!("{d}\n"))
        .collect();
    let from: u64 = last_id.parse().expect("an index");
    assert_eq!(indexes(&data), (from..size).collect::<Vec<_>>());
    assert!(live.verify(&data).ok(), "{:?}", live.verify(&data).findings);
}

#[test]
fn bad_parameters_and_credentials_are_refused_saying_why() {
    let live = Live::start(1, 10, Limits::default());
    let size = live.size();
    let many_types = ["type=identity.created"; 9].join("&");
    // (path, extra headers, token, status, what the error says)
    let cases: Vec<(String, &str, Option<&str>, u16, String)> = vec![
        (
            "/v1/entries".into(),
            "",
            Some(AUDITOR),
            400,
            "`from` is required".into(),
        ),
        (
            "/v1/entries?from=x".into(),
            "",
            Some(AUDITOR),
            400,
            "`from` must be an integer between 0 and".into(),
        ),
        (
            "/v1/entries?from=-1".into(),
            "",
            Some(AUDITOR),
            400,
            "`from` must be an integer".into(),
        ),
        (
            "/v1/entries?from=5&to=5".into(),
            "",
            Some(AUDITOR),
            404,
            "nothing to send from 5 to 5: `to` must be above `from`".into(),
        ),
        (
            "/v1/entries?from=0&follow=yes".into(),
            "",
            Some(AUDITOR),
            400,
            "`follow` must be true or false".into(),
        ),
        (
            "/v1/entries?from=0&kind=robot".into(),
            "",
            Some(AUDITOR),
            400,
            "`kind` must be one of human, non-human, found `robot`".into(),
        ),
        (
            "/v1/entries?from=0&quarantined=maybe".into(),
            "",
            Some(AUDITOR),
            400,
            "`quarantined` must be true or false".into(),
        ),
        (
            "/v1/entries?from=0&from=1".into(),
            "",
            Some(AUDITOR),
            400,
            "`from` is given twice".into(),
        ),
        (
            format!("/v1/entries?from=0&{many_types}"),
            "",
            Some(AUDITOR),
            400,
            "`type` is given 9 times; give it at most 8 times".into(),
        ),
        (
            "/v1/entries?from=0&type=identity.made".into(),
            "",
            Some(AUDITOR),
            400,
            "`type` must be an event type (identity.created, ".into(),
        ),
        (
            format!("/v1/entries?from=0&subject={}", "a".repeat(257)),
            "",
            Some(AUDITOR),
            400,
            "`subject` must be 1 to 256 characters (the longest an id is), found 257".into(),
        ),
        (
            "/v1/entries?from=0&format=xml".into(),
            "",
            Some(AUDITOR),
            400,
            "`format`: unknown export format `xml`: expected native, ocsf or cef".into(),
        ),
        (
            "/v1/entries?from=0".into(),
            "Last-Event-ID: abc\r\n",
            Some(AUDITOR),
            400,
            "the Last-Event-ID header must be an index".into(),
        ),
        (
            "/v1/entries?from=0".into(),
            "Last-Event-ID: 007\r\n",
            Some(AUDITOR),
            400,
            "found `007`".into(),
        ),
        (
            format!("/v1/entries?from={size}"),
            "",
            Some(AUDITOR),
            404,
            format!("nothing to export from {size}"),
        ),
        (
            format!("/v1/entries?from={}&follow=true", size + 1),
            "",
            Some(AUDITOR),
            404,
            format!(
                "nothing to follow from {}: it is past the latest checkpoint (tree size {size})",
                size + 1
            ),
        ),
        // One batch of ten: no checkpoint ends between 3 and 8.
        (
            "/v1/entries?from=3&to=8".into(),
            "",
            Some(AUDITOR),
            404,
            "no checkpoint ends between 4 and 8".into(),
        ),
        (
            "/v1/entries?from=0".into(),
            "",
            None,
            401,
            "a bearer token is required".into(),
        ),
        (
            "/v1/entries?from=0".into(),
            "",
            Some("not-a-token-of-anyone-here"),
            401,
            "unknown bearer token".into(),
        ),
    ];
    for (path, headers, token, status, says) in cases {
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let reply = exchange(
            live.server.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}{headers}Connection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(reply.status, status, "{path} {headers}: {}", reply.body);
        let error = reply.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.contains(&says), "{path} {headers}: {error}");
    }
    // The longest parameters the document allows fit in a request head: the most values of
    // each list, each id of the most characters, each character four UTF-8 bytes encoded.
    let id = "%F0%9F%98%80".repeat(256);
    let mut longest = format!("/v1/entries?from=0&to={}&proofs=true", u64::MAX);
    for _ in 0..8 {
        longest.push_str(&format!(
            "&type=identity.owner_changed&source={id}&subject={id}"
        ));
    }
    let fits = live.server.get(&longest, Some(AUDITOR));
    assert_eq!(fits.status, 200, "{}", fits.body);
    assert!(
        kinds(&fits.body).iter().all(|k| k != "entry"),
        "nothing matches"
    );
    // Every role reads it: responders follow new entries during an incident.
    for token in [AUDITOR, RESPONDER] {
        let reply = live.server.get("/v1/entries?from=0", Some(token));
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}
