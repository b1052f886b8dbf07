//! The rule for bytes kept verbatim (a quarantined payload's raw bytes, a Kafka message key), as
//! docs/EVENTS.md states it: a table of inputs with what the rule says of each, the writers
//! (`decode_event`, `KafkaOrigin::new`) keeping exactly what it allows, and properties: a value
//! under a secret member name is never kept, whatever surrounds it; a private key block is never
//! kept; and verification finds nothing in any entry the writer builds.

use idledger_proto::decode::decode_event;
use idledger_proto::entry::{
    BackLinks, Body, Entry, EventEntry, FORMAT_VERSION, KafkaOrigin, MAX_KEPT_KEY_BYTES,
    MessageKey, Origin,
};
use idledger_proto::rejection::{KeptPayload, MAX_KEPT_RAW_BYTES, RejectReason, Rejection};
use idledger_proto::secret::{
    Extent, Finding, SECRET_NAMES, SECRET_SUFFIXES, holds_private_key_block, secret_in_entry,
    secret_in_input, secret_in_kept,
};
use idledger_proto::time::Timestamp;
use idledger_proto::view::EntryView;
use proptest::prelude::*;

/// What the rule says of some bytes: kept, secret material at a location, or not provably free
/// of secrets (what stopped the reading, and where).
#[derive(Clone, Copy, Debug)]
enum Verdict {
    Kept,
    Secret(&'static str),
    Unproven(&'static str),
}
use Verdict::{Kept, Secret, Unproven};

const PEM: &str = "PEM private key block";
const PKCS8: &str =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHk2kqXnUvX1t2\n-----END PRIVATE KEY-----\n";

/// The rule, one line per case: bytes, whole or the kept prefix of a longer input, verdict.
#[rustfmt::skip]
fn rule_cases() -> Vec<(&'static [u8], Extent, Verdict)> {
    use Extent::{Cut, Whole};
    vec![
        // JSON that reads cleanly, with no secret member name: kept.
        (br#"{"id":"e1","reason":"a password was reset"}"#, Whole, Kept),
        (br#"{"n": -1.5e+3, "t": true, "f": false, "z": null, "a": [1, 2]}"#, Whole, Kept),
        (br#"{"reason":"5\" tall"}"#, Whole, Kept),
        (br#"["pass\u0077ord", "token"]"#, Whole, Kept),
        (br#"{"password_changed_at":"2026-01-01","token_count":3}"#, Whole, Kept),
        (br#"{"id":"\ud83d\ude00\u00e9"}"#, Whole, Kept),
        (br#"{"reason":"PRIVATE KEY --- see runbook"}"#, Whole, Kept),
        (br#""""#, Whole, Kept),
        (b"{\"pass\xffword\":1}", Whole, Kept),
        // The issue: a quote inside a string that was not escaped. The reading cannot tell
        // where strings end, so `"password":"hunter2"` might be a member: not kept.
        (br#"{"reason":"5" tall","password":"hunter2"}"#, Whole, Unproven("text outside a string at byte 14")),
        (br#"{"id":"e1"#, Whole, Unproven("an unterminated string at byte 6")),
        (br#"{"a":"b"} \"password\":\"x\""#, Whole, Unproven("a backslash outside a string at byte 10")),
        (br#"{"a":"\q","password":"x"}"#, Whole, Unproven("an invalid escape at byte 6")),
        (br#"{"a":"\u12G4"}"#, Whole, Unproven("an invalid escape at byte 6")),
        (br#"{"a":tru}"#, Whole, Unproven("text outside a string at byte 5")),
        (br#"{"a":5tall}"#, Whole, Unproven("text outside a string at byte 6")),
        (br#"{"a":1}{'password':'x'}"#, Whole, Unproven("text outside a string at byte 8")),
        ("{\"a\":1}é".as_bytes(), Whole, Unproven("text outside a string at byte 7")),
        (br#"{"a":"b"} t"#, Whole, Unproven("text outside a string at byte 10")),
        // Secret member names, as JSON decodes them.
        (br#"{"password":"hunter2"}"#, Whole, Secret("password")),
        (br#"{"pass\u0077ord":"hunter2"}"#, Whole, Secret("password")),
        (br#"{"Client-Secret" : "x"}"#, Whole, Secret("Client-Secret")),
        (b"{\"db.PASSWORD\"\t:1}", Whole, Secret("db.PASSWORD")),
        (br#"{"a\u0022password":1}"#, Whole, Secret("a\"password")),
        (b"{\"\xffpassword\":1}", Whole, Secret("\u{FFFD}password")),
        // A stray backslash escaped the quote that should have ended `note`'s string, so the
        // member name reads `x"value`: judged part by part.
        (br#"{"note":"x\"value":"hunter2"}"#, Whole, Secret("x\"value")),
        // No quote at all: words.
        (b"user-123", Whole, Kept),
        (b"password-reset-42", Whole, Kept),
        (b"not json at all", Whole, Kept),
        (b"{password: hunter2}", Whole, Secret("password")),
        (b"password=hunter2", Whole, Secret("password")),
        (b"tenant/api.key:abc", Whole, Secret("api.key")),
        (b"{'client_secret':'x'}", Whole, Secret("client_secret")),
        // Private key blocks, raw anywhere or escaped in a string.
        (PKCS8.as_bytes(), Whole, Secret(PEM)),
        (b"-----BEGIN PGP PRIVATE KEY BLOCK-----", Whole, Secret(PEM)),
        (br#"{"r":"-----BEGIN \u0050RIVATE KEY-----"}"#, Whole, Secret(PEM)),
        (br#"{"r":"-----BEGIN EC PRIVATE KEY\u002d----"} tall"#, Whole, Secret(PEM)),
        // The kept prefix of a longer input: what the cut left open is the cut's doing.
        (br#"{"id":"e1","reason":"unfinished"#, Cut, Kept),
        (br#"{"id":"e1","ok":tr"#, Cut, Kept),
        (br#"{"id":"e1","reason":"x\u00"#, Cut, Kept),
        (br#"{"id":"e1","reason":"x\"#, Cut, Kept),
        (b"kkkk passw", Cut, Kept),
        // ... but not what came before the cut.
        (br#"{"password":"hun"#, Cut, Secret("password")),
        (br#"{"a":"5" tall, "b":"x"#, Cut, Unproven("text outside a string at byte 9")),
        (br#"{"a":"b"} x"#, Cut, Unproven("text outside a string at byte 10")),
        (br#"{"a":"\x"#, Cut, Unproven("an invalid escape at byte 6")),
        (br#"{"r":"-----BEGIN \u0050RIVATE KEY-----\nMC4"#, Cut, Secret(PEM)),
        // The same prefixes read as whole inputs.
        (br#"{"id":"e1","reason":"unfinished"#, Whole, Unproven("an unterminated string at byte 20")),
        (br#"{"id":"e1","ok":tr"#, Whole, Unproven("text outside a string at byte 16")),
    ]
}

fn location(v: Verdict) -> Option<Finding> {
    let proven = |l: &str| format!("{l}: could not be proven free of secrets");
    match v {
        Kept => None,
        Secret(l) => Some(Finding::Secret(l.to_owned())),
        Unproven(l) => Some(Finding::Unproven(proven(l))),
    }
}

#[test]
fn the_rule_keeps_only_bytes_it_can_read_and_finds_no_secret_in() {
    for (bytes, extent, verdict) in rule_cases() {
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(
            secret_in_kept(bytes, extent),
            location(verdict),
            "{text} ({extent:?})"
        );
    }
}

/// An entry as a writer builds it from a payload that came with `key` as its Kafka key.
fn written_leaf(payload: &[u8], key: &[u8]) -> Vec<u8> {
    let body = match decode_event(payload) {
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
        received_at: Timestamp(0),
        origin: Origin::Kafka(KafkaOrigin::new("t", 0, 1, None, Some(key))),
        body,
    }
    .encode()
}

/// What verification finds in a leaf.
fn verified(leaf: &[u8]) -> Option<String> {
    let view = EntryView::decode(leaf).expect("a written leaf decodes");
    secret_in_entry(leaf, &view)
}

fn rejected(payload: &[u8]) -> Rejection {
    decode_event(payload).expect_err("no case is a valid event")
}

/// Every whole input of the table, as a payload and as a Kafka key: kept exactly when the rule
/// says so; secret material makes the reason `secret_material` at its location, unproven bytes
/// keep their reason; and verification finds nothing in what the writer built.
#[test]
fn writers_keep_exactly_what_the_rule_allows() {
    for (bytes, extent, verdict) in rule_cases() {
        if extent == Extent::Cut {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let r = rejected(bytes);
        match verdict {
            Kept => assert_eq!(r.payload, KeptPayload::raw(bytes), "{text}"),
            _ => assert_eq!(r.payload, KeptPayload::redacted(bytes), "{text}"),
        }
        match verdict {
            Secret(l) => assert_eq!(
                r.reason,
                RejectReason::SecretMaterial { location: l.into() },
                "{text}"
            ),
            _ => assert_ne!(r.reason.class(), "secret_material", "{text}"),
        }
        let key = KafkaOrigin::new("t", 0, 1, None, Some(bytes)).key;
        let kept = matches!(key, MessageKey::Kept(_));
        assert_eq!(kept, matches!(verdict, Kept), "key {text}");
        assert_eq!(verified(&written_leaf(bytes, bytes)), None, "{text}");
    }
}

/// Inputs longer than what is kept: both the whole input and the kept prefix must pass, and
/// verification, seeing the prefix, judges it as cut only when the entry says it was cut.
/// (payload or key, input, kept?)
#[test]
fn long_inputs_are_judged_whole_and_as_kept() {
    let long = |head: &str, fill: u8, n: usize, tail: &str| -> Vec<u8> {
        [head.as_bytes(), &vec![fill; n], tail.as_bytes()].concat()
    };
    let payloads: Vec<(Vec<u8>, bool)> = vec![
        // Cut inside a string that the whole input ends.
        (long(r#"{"reason":""#, b'x', 70_000, r#""}"#), true),
        // Cut inside a word of an input with no quotes.
        (long("", b'x', 70_000, ""), true),
        // The prefix reads cleanly; the whole input loses track after the cut.
        (
            long(
                r#"{"a":""#,
                b'x',
                70_000,
                r#"" tall, "password":"hunter2"}"#,
            ),
            false,
        ),
        // A secret member after the cut.
        (
            long(r#"{"a":""#, b'x', 70_000, r#"", "password":"hunter2"}"#),
            false,
        ),
        // Unterminated in the whole input, though the prefix is fine.
        (long(r#"{"a":""#, b'x', 70_000, ""), false),
    ];
    for (input, kept) in payloads {
        let r = rejected(&input);
        let head = String::from_utf8_lossy(&input[..12]);
        assert_eq!(
            matches!(r.payload, KeptPayload::Raw { .. }),
            kept,
            "{head}…"
        );
        assert_eq!(verified(&written_leaf(&input, b"k")), None, "{head}…");
        if let KeptPayload::Raw { bytes, .. } = &r.payload {
            assert_eq!(bytes.len(), MAX_KEPT_RAW_BYTES);
            // Cut leniency is the entry's to claim: the same bytes as a whole input may fail.
            assert_eq!(secret_in_kept(bytes, Extent::Cut), None);
        }
    }
    let keys: Vec<(Vec<u8>, bool)> = vec![
        (long(r#"[""#, b'k', 1100, r#""]"#), true),
        (long("", b'k', 1500, ""), true),
        (long("", b'k', 1100, r#":"password":"x""#), false),
        (long(r#"{"a":""#, b'k', 1100, ""), false),
        (long(r#"{"a":""#, b'k', 1100, r#"","token":"x"}"#), false),
        (long("", b'k', 1100, " password=x"), false),
        // The cut makes a secret name of `password_changed_at`: the kept prefix fails.
        (long("", b'k', 1015, " password_changed_at"), false),
    ];
    for (key, kept) in keys {
        let o = KafkaOrigin::new("t", 0, 1, None, Some(&key));
        let head = String::from_utf8_lossy(&key[..8]);
        assert_eq!(matches!(o.key, MessageKey::Kept(_)), kept, "{head}…");
        assert_eq!(o.key_truncated, kept, "{head}…");
        assert_eq!(verified(&written_leaf(b"{}", &key)), None, "{head}…");
    }
    // A stored prefix that ends inside a string passes only as cut.
    let open = br#"{"reason":"xxxx"#;
    assert_eq!(secret_in_kept(open, Extent::Cut), None);
    assert!(matches!(
        secret_in_kept(open, Extent::Whole),
        Some(Finding::Unproven(_))
    ));
}

/// An entry written before the rule failed closed, with raw bytes the rule refuses: verification
/// reports that they could not be proven free of secrets, at the entry.
#[test]
fn verification_reports_raw_bytes_kept_before_the_rule() {
    let issue = br#"{"reason":"5" tall","password":"hunter2"}"#;
    let leaf = Entry {
        version: FORMAT_VERSION,
        seq: 1,
        prev_leaf_hash: [0; 32],
        received_at: Timestamp(0),
        origin: Origin::Kafka(KafkaOrigin {
            key: MessageKey::Kept(b"{\"a\":\"5\" tall".to_vec()),
            ..KafkaOrigin::new("t", 0, 1, None, None)
        }),
        body: Body::Quarantined(Box::new(Rejection {
            reason: RejectReason::NotJson {
                line: 1,
                column: 15,
                message: "expected `,` or `}`".into(),
            },
            payload: KeptPayload::raw(issue),
        })),
    };
    let mut leaf_bytes = leaf.encode();
    assert_eq!(
        verified(&leaf_bytes).as_deref(),
        Some("kafka key: text outside a string at byte 9: could not be proven free of secrets")
    );
    let Origin::Kafka(o) = &leaf.origin else {
        unreachable!("a Kafka origin")
    };
    let unkeyed = Entry {
        origin: Origin::Kafka(KafkaOrigin {
            key: MessageKey::Absent,
            ..o.clone()
        }),
        ..leaf.clone()
    };
    leaf_bytes = unkeyed.encode();
    assert_eq!(
        verified(&leaf_bytes).as_deref(),
        Some("text outside a string at byte 14: could not be proven free of secrets")
    );
}

/// A secret member name as senders write it: a name from the lists (a suffix after any
/// prefix), letters in random case, separators anywhere, some characters as JSON escapes.
fn secret_name_variant() -> impl Strategy<Value = String> {
    let names: Vec<String> = SECRET_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(SECRET_SUFFIXES.iter().map(|s| format!("#{s}")))
        .collect();
    (
        proptest::sample::select(names),
        "[a-z0-9]{0,6}",
        proptest::collection::vec((any::<bool>(), 0usize..9, any::<bool>(), any::<bool>()), 40),
    )
        .prop_map(|(name, prefix, shapes)| {
            let name = match name.strip_prefix('#') {
                Some(suffix) => format!("{prefix}{suffix}"),
                None => name,
            };
            let mut out = String::new();
            for (c, (upper, sep, escape, upper_hex)) in name.chars().zip(shapes) {
                let c = if upper { c.to_ascii_uppercase() } else { c };
                if escape {
                    let hex = format!("{:04x}", c as u32);
                    let hex = if upper_hex { hex.to_uppercase() } else { hex };
                    out.push_str(&format!("\\u{hex}"));
                } else {
                    out.push(c);
                }
                if let Some(s) = ["_", "-", ".", " "].get(sep) {
                    out.push_str(s);
                }
            }
            out
        })
}

/// Bytes a sender might surround a member with: any bytes, JSON's own characters often, and
/// JSON that leaves the reading inside a string, after a stray backslash or not.
fn surrounding() -> impl Strategy<Value = Vec<u8>> {
    let chunk = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        proptest::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "\\",
            "\\\"",
            "\\u00",
            " ",
            "\n",
            "1",
            "-2.5e3",
            "true",
            "null",
            "tall",
            "\"a\"",
            "\"b\":",
            "\"reason\":\"",
            "\\u0022",
            "password_changed_at",
            "tokenization",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ];
    let open_string = proptest::sample::select(vec![
        "{\"note\":\"x",
        "{\"note\":\"x\\",
        "{\"attributes\":{\"x\\",
        "[\"x\\\\\\",
        "{\"a\":1,",
    ])
    .prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        3 => proptest::collection::vec(chunk, 0..12).prop_map(|c| c.concat()),
        1 => open_string,
    ]
}

/// Filler put in front so an input crosses a keep limit near the interesting bytes, or none.
fn filler() -> impl Strategy<Value = Option<(u8, usize)>> {
    proptest::option::weighted(
        0.2,
        (proptest::sample::select(vec![b' ', b'x', b'[']), 0usize..80),
    )
}

fn pad(filler: Option<(u8, usize)>, limit: usize, rest: &[u8]) -> Vec<u8> {
    match filler {
        Some((byte, back)) => [&vec![byte; limit.saturating_sub(back)][..], rest].concat(),
        None => rest.to_vec(),
    }
}

/// Any JSON value (strings with any characters, so escapes of every kind when written).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Whatever surrounds `"N": "V"` with N a secret name, V is not in the leaf the writer
    /// builds (an accepted event's encoding, or a quarantined entry's kept bytes and reason),
    /// nor in a Kafka key built the same way.
    #[test]
    fn a_value_under_a_secret_name_is_never_kept(
        a in surrounding(),
        b in surrounding(),
        name in secret_name_variant(),
        ws in "[ \t\n\r]{0,2}",
        ws2 in "[ \t\n\r]{0,2}",
        value in "[A-Za-z0-9]{12,20}",
        fill in filler(),
    ) {
        let member = format!("\"{name}\"{ws}:{ws2}\"{value}\"");
        let core = [&a[..], member.as_bytes(), &b[..]].concat();
        prop_assume!(!contains(&a, value.as_bytes()) && !contains(&b, value.as_bytes()));
        let payload = pad(fill, MAX_KEPT_RAW_BYTES, &core);
        let key = pad(fill, MAX_KEPT_KEY_BYTES, &core);
        let leaf = written_leaf(&payload, b"k");
        prop_assert!(!contains(&leaf, value.as_bytes()), "payload {}", String::from_utf8_lossy(&core));
        let o = KafkaOrigin::new("t", 0, 1, None, Some(&key));
        prop_assert!(matches!(o.key, MessageKey::Redacted { .. }), "key {}", String::from_utf8_lossy(&core));
        prop_assert_eq!(verified(&leaf), None);
    }

    /// A private key block put anywhere in any bytes, raw or as an escaped JSON string, is in no
    /// leaf the writer builds, nor in a kept Kafka key.
    #[test]
    fn a_private_key_block_is_never_kept(
        a in surrounding(),
        b in surrounding(),
        kind in proptest::sample::select(vec!["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "PGP "]),
        escaped in any::<bool>(),
        fill in filler(),
    ) {
        let armour = if kind == "PGP " { " BLOCK-----" } else { "-----" };
        let block = format!("-----BEGIN {kind}PRIVATE KEY{armour}\nMC4CAQAwBQYDK2VwBCIEIHk2kqXn\n-----END {kind}PRIVATE KEY{armour}\n");
        let inserted = if escaped {
            format!("\"{}\"", block.replace('\n', "\\n").replace('P', "\\u0050"))
        } else {
            block
        };
        let core = [&a[..], inserted.as_bytes(), &b[..]].concat();
        let payload = pad(fill, MAX_KEPT_RAW_BYTES, &core);
        let key = pad(fill, MAX_KEPT_KEY_BYTES, &core);
        for leaf in [written_leaf(&payload, b"k"), written_leaf(b"{}", &key)] {
            prop_assert!(!contains(&leaf, inserted.as_bytes()), "{}", String::from_utf8_lossy(&core));
            prop_assert!(!holds_private_key_block(&leaf), "{}", String::from_utf8_lossy(&core));
            prop_assert_eq!(verified(&leaf), None);
        }
    }

    /// The rule reads every JSON document: valid JSON never loses track, compact or pretty,
    /// with escapes, numbers and literals anywhere.
    #[test]
    fn valid_json_never_loses_track(value in json_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_vec_pretty(&value)
        } else {
            serde_json::to_vec(&value)
        }
        .expect("a value serializes");
        let finding = secret_in_kept(&text, Extent::Whole);
        prop_assert!(!matches!(finding, Some(Finding::Unproven(_))), "{}: {:?}", String::from_utf8_lossy(&text), finding);
    }

    /// Whatever the bytes, as a payload and as a key, verification finds nothing in the entry
    /// the writer builds: the writer and the verifier apply one rule.
    #[test]
    fn the_writer_and_the_verifier_agree(core in surrounding(), fill in filler()) {
        let payload = pad(fill, MAX_KEPT_RAW_BYTES, &core);
        let key = pad(fill, MAX_KEPT_KEY_BYTES, &core);
        prop_assert_eq!(verified(&written_leaf(&payload, &key)), None, "{}", String::from_utf8_lossy(&core));
        // The writer's verdict is the rule's, on the whole and on the kept prefix.
        let kept = matches!(KafkaOrigin::new("t", 0, 1, None, Some(&key)).key, MessageKey::Kept(_));
        prop_assert_eq!(kept, secret_in_input(&key, MAX_KEPT_KEY_BYTES).is_none());
    }
}
