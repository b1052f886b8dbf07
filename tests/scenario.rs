//! The query scenario with known answers, asserted field by field through the CLI and the HTTP
//! API; every proof bundle verifies offline and one changed byte fails it.

mod common;

use common::*;
use serde_json::{Value, json};

const NOW: &str = "2026-06-01T00:00:00Z";

fn ev(v: Value) -> String {
    v.to_string()
}

/// The scenario, as JSON lines.
fn scenario() -> String {
    let alice = json!({"id": "alice@example.com", "kind": "human"});
    let svc = json!({"id": "svc-reporting", "kind": "service_account"});
    let key = |fp: char| json!({"id": "key-rep-1", "kind": "api_key", "fingerprint": format!("sha256:{}", fp.to_string().repeat(64))});
    let lines = vec![
        ev(
            json!({"id": "1", "source": "okta", "type": "identity.created", "time": "2026-01-01T00:00:00Z", "actor": {"id": "hr", "kind": "service"}, "subject": alice, "attributes": {"application": "payments"}}),
        ),
        // 1. Request with reason and ticket, approved with MFA, granted for 8 hours, revoked early.
        ev(
            json!({"id": "2", "source": "portal", "type": "access.requested", "time": "2026-02-01T09:00:00Z", "actor": {"id": "alice@example.com", "kind": "human"}, "subject": alice, "grant_id": "g-prod", "resource": "prod-db:read", "reason": "investigate INC-7", "ticket": "INC-7", "attributes": {"application": "payments"}}),
        ),
        ev(
            json!({"id": "3", "source": "portal", "type": "access.approved", "time": "2026-02-01T09:10:00Z", "actor": {"id": "bob@example.com", "kind": "human", "mfa": true}, "subject": alice, "grant_id": "g-prod", "resource": "prod-db:read", "reason": "on call", "policy": {"id": "prod-access", "version": "7", "hash": "sha256:ab"}}),
        ),
        ev(
            json!({"id": "4", "source": "broker", "type": "access.granted", "time": "2026-02-01T09:15:00Z", "actor": {"id": "broker", "kind": "system"}, "subject": alice, "grant_id": "g-prod", "resource": "prod-db:read", "expires_at": "2026-02-01T17:15:00Z"}),
        ),
        ev(
            json!({"id": "5", "source": "portal", "type": "access.revoked", "time": "2026-02-01T11:00:00Z", "actor": {"id": "sec@example.com", "kind": "human", "mfa": true}, "subject": alice, "grant_id": "g-prod", "resource": "prod-db:read", "reason": "done early"}),
        ),
        // 2. A service account's key: issued, rotated twice, revoked after its owner leaves.
        ev(
            json!({"id": "6", "source": "vault", "type": "identity.created", "time": "2026-01-02T00:00:00Z", "actor": {"id": "carol@example.com", "kind": "human"}, "subject": svc, "owner": "carol@example.com"}),
        ),
        ev(
            json!({"id": "7", "source": "vault", "type": "credential.issued", "time": "2026-01-02T00:01:00Z", "actor": {"id": "carol@example.com", "kind": "human"}, "subject": svc, "credential": key('1')}),
        ),
        ev(
            json!({"id": "8", "source": "vault", "type": "credential.rotated", "time": "2026-02-02T00:00:00Z", "actor": {"id": "rotator", "kind": "service"}, "subject": svc, "credential": key('2')}),
        ),
        ev(
            json!({"id": "9", "source": "vault", "type": "credential.rotated", "time": "2026-03-02T00:00:00Z", "actor": {"id": "rotator", "kind": "service"}, "subject": svc, "credential": key('3')}),
        ),
        ev(
            json!({"id": "10", "source": "okta", "type": "identity.disabled", "time": "2026-03-10T00:00:00Z", "actor": {"id": "hr", "kind": "service"}, "subject": {"id": "carol@example.com", "kind": "human"}, "reason": "leaver"}),
        ),
        ev(
            json!({"id": "11", "source": "vault", "type": "credential.revoked", "time": "2026-03-10T01:00:00Z", "actor": {"id": "sec@example.com", "kind": "human"}, "subject": svc, "credential": key('3'), "reason": "owner left"}),
        ),
        // 3. A self-approved grant.
        ev(
            json!({"id": "12", "source": "portal", "type": "access.requested", "time": "2026-02-05T10:00:00Z", "actor": {"id": "mallory@example.com", "kind": "human"}, "subject": {"id": "mallory@example.com", "kind": "human"}, "grant_id": "g-self", "resource": "prod-db:write", "reason": "quick fix"}),
        ),
        ev(
            json!({"id": "13", "source": "portal", "type": "access.approved", "time": "2026-02-05T10:01:00Z", "actor": {"id": "mallory@example.com", "kind": "human", "mfa": false}, "subject": {"id": "mallory@example.com", "kind": "human"}, "grant_id": "g-self", "resource": "prod-db:write"}),
        ),
        ev(
            json!({"id": "14", "source": "broker", "type": "access.granted", "time": "2026-02-05T10:02:00Z", "actor": {"id": "broker", "kind": "system"}, "subject": {"id": "mallory@example.com", "kind": "human"}, "grant_id": "g-self", "resource": "prod-db:write", "expires_at": "2026-02-05T12:00:00Z"}),
        ),
        ev(
            json!({"id": "15", "source": "broker", "type": "access.expired", "time": "2026-02-05T12:00:00Z", "subject": {"id": "mallory@example.com", "kind": "human"}, "grant_id": "g-self", "resource": "prod-db:write"}),
        ),
        // 4. A grant with no approval.
        ev(
            json!({"id": "16", "source": "broker", "type": "access.granted", "time": "2026-02-06T08:00:00Z", "actor": {"id": "broker", "kind": "system"}, "subject": {"id": "dave@example.com", "kind": "human"}, "grant_id": "g-noapproval", "resource": "prod-db:read", "expires_at": "2026-02-06T20:00:00Z"}),
        ),
        ev(
            json!({"id": "17", "source": "portal", "type": "access.revoked", "time": "2026-02-06T09:00:00Z", "actor": {"id": "sec@example.com", "kind": "human"}, "subject": {"id": "dave@example.com", "kind": "human"}, "grant_id": "g-noapproval", "resource": "prod-db:read", "reason": "not approved"}),
        ),
        // 5. A grant that expires with no end event.
        ev(
            json!({"id": "18", "source": "portal", "type": "access.requested", "time": "2026-02-07T08:00:00Z", "actor": {"id": "erin@example.com", "kind": "human"}, "subject": {"id": "erin@example.com", "kind": "human"}, "grant_id": "g-lapsed", "resource": "aws:role/deploy", "reason": "release"}),
        ),
        ev(
            json!({"id": "19", "source": "portal", "type": "access.approved", "time": "2026-02-07T08:05:00Z", "actor": {"id": "bob@example.com", "kind": "human", "mfa": true}, "subject": {"id": "erin@example.com", "kind": "human"}, "grant_id": "g-lapsed", "resource": "aws:role/deploy"}),
        ),
        ev(
            json!({"id": "20", "source": "broker", "type": "access.granted", "time": "2026-02-07T08:10:00Z", "actor": {"id": "broker", "kind": "system"}, "subject": {"id": "erin@example.com", "kind": "human"}, "grant_id": "g-lapsed", "resource": "aws:role/deploy", "expires_at": "2026-02-07T12:00:00Z"}),
        ),
        // 6. A grant removed by an access review.
        ev(
            json!({"id": "21", "source": "portal", "type": "access.requested", "time": "2026-01-10T08:00:00Z", "actor": {"id": "frank@example.com", "kind": "human"}, "subject": {"id": "frank@example.com", "kind": "human"}, "grant_id": "g-reviewed", "resource": "aws:role/readonly", "reason": "reporting"}),
        ),
        ev(
            json!({"id": "22", "source": "portal", "type": "access.approved", "time": "2026-01-10T08:30:00Z", "actor": {"id": "bob@example.com", "kind": "human", "mfa": true}, "subject": {"id": "frank@example.com", "kind": "human"}, "grant_id": "g-reviewed", "resource": "aws:role/readonly"}),
        ),
        ev(
            json!({"id": "23", "source": "broker", "type": "access.granted", "time": "2026-01-10T09:00:00Z", "actor": {"id": "broker", "kind": "system"}, "subject": {"id": "frank@example.com", "kind": "human"}, "grant_id": "g-reviewed", "resource": "aws:role/readonly"}),
        ),
        ev(
            json!({"id": "24", "source": "iga", "type": "access.reviewed", "time": "2026-04-01T10:00:00Z", "actor": {"id": "auditor@example.com", "kind": "human", "mfa": true}, "subject": {"id": "frank@example.com", "kind": "human"}, "grant_id": "g-reviewed", "resource": "aws:role/readonly", "decision": "revoke", "reason": "not used in 90 days"}),
        ),
    ];
    lines.join("\n") + "\n"
}

fn json_out(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args, None)).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"))
}

fn check_grant_answers(g: &Value, source: &str) {
    let ep = &g["episode"];
    assert_eq!(ep["grant_id"], "g-prod", "{source}");
    assert_eq!(ep["subject"]["id"], "alice@example.com", "{source}");
    assert_eq!(ep["resource"], "prod-db:read", "{source}");
    assert_eq!(ep["request"]["actor"], "alice@example.com", "{source}");
    assert_eq!(ep["request"]["reason"], "investigate INC-7", "{source}");
    assert_eq!(ep["request"]["ticket"], "INC-7", "{source}");
    assert_eq!(ep["approvals"][0]["actor"], "bob@example.com", "{source}");
    assert_eq!(ep["approvals"][0]["mfa"], true, "{source}");
    assert_eq!(
        ep["approvals"][0]["policy"]["id"], "prod-access",
        "{source}"
    );
    assert_eq!(ep["approvals"][0]["policy"]["version"], "7", "{source}");
    assert_eq!(ep["granted"]["time"], "2026-02-01T09:15:00Z", "{source}");
    assert_eq!(ep["expires_at"], "2026-02-01T17:15:00Z", "{source}");
    assert_eq!(ep["end"]["kind"], "revoked", "{source}");
    assert_eq!(ep["end"]["actor"], "sec@example.com", "{source}");
    assert_eq!(ep["end"]["reason"], "done early", "{source}");
    assert_eq!(ep["end"]["time"], "2026-02-01T11:00:00Z", "{source}");
    assert_eq!(ep["status"], "ended", "{source}");
    assert_eq!(ep["flags"], json!([]), "{source}");
    assert_eq!(ep["entries"], json!([2, 3, 4, 5]), "{source}");
    assert_eq!(
        g["who_approved"],
        "bob@example.com at 2026-02-01T09:10:00Z with MFA under policy prod-access v7 (entry 3)",
        "{source}"
    );
    assert_eq!(
        g["why"],
        "requested by alice@example.com: \"investigate INC-7\" (ticket INC-7); approved by bob@example.com: \"on call\"",
        "{source}"
    );
    assert_eq!(
        g["when_ended"],
        "revoked by sec@example.com at 2026-02-01T11:00:00Z: \"done early\" (entry 5)",
        "{source}"
    );
}

/// The scenario's ledger, appended through the command line.
struct Scenario {
    tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    vkey: String,
}

impl Scenario {
    fn new() -> Scenario {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("ledger");
        let vkey = init(&dir);
        let summary = ok(&["append", "--data", path(&dir), "-"], Some(&scenario()));
        assert!(
            summary.contains("appended 24, quarantined 0, duplicates skipped 0"),
            "{summary}"
        );
        Scenario { tmp, dir, vkey }
    }

    fn d(&self) -> &str {
        path(&self.dir)
    }

    /// Who had access to prod-db:read at 10:00 on the day of g-prod.
    fn during(&self) -> Value {
        json_out(&[
            "access",
            "--data",
            self.d(),
            "--resource",
            "prod-db:read",
            "--at",
            "2026-02-01T10:00:00Z",
            "--json",
            "--now",
            NOW,
        ])
    }
}

/// `idledger serve` over the scenario with a token per role, stopped (and its log checked for
/// tokens) when dropped.
struct Server {
    child: Option<std::process::Child>,
    addr: String,
}

const AUDITOR: Option<&str> = Some("auditor-token-0123456789");
const RESPONDER: Option<&str> = Some("responder-token-0123456789");
const ADMIN: Option<&str> = Some("admin-token-0123456789");

impl Server {
    fn start(s: &Scenario) -> Server {
        let (tmp, d) = (&s.tmp, s.d());
        let config = tmp.path().join("idledger.toml");
        std::fs::write(&config, format!(
            "data = \"{d}\"\n[serve]\naddr = \"127.0.0.1:0\"\n[[serve.tokens]]\nname = \"ann\"\ntoken = \"auditor-token-0123456789\"\nrole = \"auditor\"\n[[serve.tokens]]\nname = \"rick\"\ntoken = \"responder-token-0123456789\"\nrole = \"responder\"\n[[serve.tokens]]\nname = \"ada\"\ntoken_env = \"IDLEDGER_TEST_ADMIN_TOKEN\"\nrole = \"admin\"\n"
        )).expect("config");
        let mut server = std::process::Command::new(bin())
            .args(["--config", path(&config), "serve"])
            .env("IDLEDGER_TEST_ADMIN_TOKEN", "admin-token-0123456789")
            .env("IDLEDGER_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("serve");
        let addr = first_line_after(&mut server, "listening on http://");
        Server {
            child: Some(server),
            addr,
        }
    }

    /// GET `path` with the token, as (status, body).
    fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let addr = &self.addr;

        let (raw, _) = common::http_get::http_get(addr.as_str(), path, token).expect("GET");
        let resp = String::from_utf8(raw).expect("a UTF-8 answer");
        let status: u16 = resp[9..12].parse().expect("status");
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        // Chunked bodies: keep the JSON or text between the first chunk size line and the end.
        let body = if resp
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            let mut out = String::new();
            let mut rest = body.as_str();
            while let Some((size, tail)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&tail[..n]);
                rest = &tail[n + 2..];
            }
            out
        } else {
            body
        };
        (status, body)
    }

    /// Stops the server and returns what it logged (with no token in it).
    fn stop(mut self) -> String {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let out = child.wait_with_output().expect("server output");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        for secret in [AUDITOR, RESPONDER, ADMIN].into_iter().flatten() {
            assert!(!log.contains(secret), "a token was logged");
        }
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn grant_stories_say_who_approved_why_and_when_access_ended() {
    let s = Scenario::new();
    let d = s.d();
    // Grant episode.
    check_grant_answers(
        &json_out(&["grant", "--data", d, "g-prod", "--json", "--now", NOW]),
        "cli",
    );
    let flags = |g: &str| {
        json_out(&["grant", "--data", d, g, "--json", "--now", NOW])["episode"]["flags"].clone()
    };
    assert_eq!(
        flags("g-self"),
        json!([{"flag": "self_approval", "approver": "mallory@example.com"}])
    );
    assert_eq!(
        flags("g-noapproval"),
        json!([{"flag": "granted_without_approval"}])
    );
    assert_eq!(
        flags("g-lapsed"),
        json!([{"flag": "ended_only_implicitly"}, {"flag": "active_past_expiry"}])
    );
    let reviewed = json_out(&["grant", "--data", d, "g-reviewed", "--json", "--now", NOW]);
    assert_eq!(reviewed["episode"]["end"]["kind"], "removed_by_review");
    assert_eq!(
        reviewed["when_ended"],
        "removed by an access review by auditor@example.com at 2026-04-01T10:00:00Z: \"not used in 90 days\" (entry 24)"
    );
    let lapsed = json_out(&["grant", "--data", d, "g-lapsed", "--json", "--now", NOW]);
    assert_eq!(
        lapsed["when_ended"],
        "expired at 2026-02-07T12:00:00Z with no end event recorded"
    );
    let text = ok(&["grant", "--data", d, "g-prod", "--now", NOW], None);
    assert!(
        text.contains("who approved: bob@example.com")
            && text.contains("access ended: revoked by sec@example.com"),
        "{text}"
    );
}

#[test]
fn histories_and_access_at_a_time() {
    let s = Scenario::new();
    let d = s.d();
    // Identity history with the gap check, and the credential's life.
    let h = json_out(&["history", "--data", d, "svc-reporting", "--json"]);
    let types: Vec<&str> = h["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["body"]["event"]["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "identity.created",
            "credential.issued",
            "credential.rotated",
            "credential.rotated",
            "credential.revoked"
        ]
    );
    assert_eq!(h["gap_free"], true);

    // Access at a time.
    let during = json_out(&[
        "access",
        "--data",
        d,
        "--resource",
        "prod-db:read",
        "--at",
        "2026-02-01T10:00:00Z",
        "--json",
        "--now",
        NOW,
    ]);
    assert_eq!(
        during,
        json!([{"subject": "alice@example.com", "grant_id": "g-prod", "granted_at": "2026-02-01T09:15:00Z", "approvers": ["bob@example.com"], "expires_at": "2026-02-01T17:15:00Z", "ends": "2026-02-01T11:00:00Z"}])
    );
    let after = json_out(&[
        "access",
        "--data",
        d,
        "--resource",
        "prod-db:read",
        "--at",
        "2026-02-01T12:00:00Z",
        "--json",
        "--now",
        NOW,
    ]);
    assert_eq!(after, json!([]));
}

#[test]
fn reports_count_what_the_scenario_holds() {
    let s = Scenario::new();
    let d = s.d();
    // Reports.
    let drift = json_out(&["report", "--data", d, "drift", "--json", "--now", NOW]);
    let items: Vec<(String, String)> = drift["groups"][0]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().expect("kind").to_owned(),
                i["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![
            ("past_expiry_no_end_event".to_owned(), "g-lapsed".to_owned()),
            (
                "granted_without_approval".to_owned(),
                "g-noapproval".to_owned()
            )
        ]
    );
    let approvals = json_out(&["report", "--data", d, "approvals", "--json", "--now", NOW]);
    assert_eq!(approvals["groups"][0]["figures"]["grants"], 5.0);
    assert_eq!(approvals["groups"][0]["figures"]["self_approvals"], 1.0);
    assert_eq!(approvals["groups"][0]["figures"]["without_approval"], 1.0);
    let lead = json_out(&[
        "report",
        "--data",
        d,
        "lead-time",
        "--json",
        "--now",
        NOW,
        "--group-by",
        "application",
    ]);
    let groups: Vec<(&str, f64)> = lead["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"].as_str().expect("key"),
                g["figures"]["max_seconds"].as_f64().expect("max"),
            )
        })
        .collect();
    assert_eq!(groups, vec![("(none)", 3600.0), ("payments", 900.0)]);
    let rotation = json_out(&["report", "--data", d, "rotation", "--json", "--now", NOW]);
    assert_eq!(
        rotation["groups"][0]["figures"]["live"],
        Value::Null,
        "the only key was revoked"
    );
}

#[test]
fn bundles_verify_offline_and_a_changed_byte_fails() {
    let s = Scenario::new();
    let (d, tmp, vkey) = (s.d(), &s.tmp, &s.vkey);
    // Proof bundles verify offline; one changed byte fails.
    let bundle_path = tmp.path().join("history.proof.json");
    ok(
        &[
            "history",
            "--data",
            d,
            "alice@example.com",
            "--proofs",
            path(&bundle_path),
        ],
        None,
    );
    let verified = ok(&["verify-proof", "--vkey", vkey, path(&bundle_path)], None);
    assert!(
        verified.contains(
            "Every entry about Subject `alice@example.com` from the first ever recorded (entry 1) through entry 5 is in this bundle"
        ),
        "{verified}"
    );
    assert!(
        verified.contains("The answer given (the history of `alice@example.com`: entries [1, 2, 3, 4, 5]) is exactly what these entries show"),
        "{verified}"
    );
    let mut bytes = std::fs::read(&bundle_path).expect("bundle");
    let at = bytes
        .windows(6)
        .position(|w| w == b"index ")
        .expect("an index line")
        + 6;
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&bundle_path, &bytes).expect("write");
    let bad = run(&["verify-proof", "--vkey", vkey, path(&bundle_path)], None);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    let grant_bundle = tmp.path().join("grant.proof.json");
    ok(
        &[
            "grant",
            "--data",
            d,
            "g-prod",
            "--proofs",
            path(&grant_bundle),
            "--now",
            NOW,
        ],
        None,
    );
    assert!(
        ok(&["verify-proof", "--vkey", vkey, path(&grant_bundle)], None)
            .contains("ok: the bundle verifies")
    );
}

#[test]
fn every_route_answers_each_role_as_the_table_says() {
    let s = Scenario::new();
    let server = Server::start(&s);
    let get = |p: &str, t: Option<&str>| server.get(p, t);
    let (auditor, responder, admin) = (AUDITOR, RESPONDER, ADMIN);
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("/v1/grants/g-prod?now=2026-06-01T00:00:00Z", None, 401),
        (
            "/v1/grants/g-prod?now=2026-06-01T00:00:00Z",
            Some("wrong-token-0123456789"),
            401,
        ),
        ("/v1/grants/g-prod?now=2026-06-01T00:00:00Z", responder, 200),
        // Nothing of a request is judged before its token: a bad query without one is a 401.
        ("/v1/access?resource=prod-db:read&at=yesterday", None, 401),
        ("/v1/checkpoint", responder, 403),
        ("/v1/entries/3", responder, 403),
        ("/metrics", responder, 403),
        ("/v1/checkpoint", auditor, 200),
        ("/v1/reports/drift?now=2026-06-01T00:00:00Z", responder, 403),
        ("/v1/reports/drift?now=2026-06-01T00:00:00Z", auditor, 200),
        ("/metrics", auditor, 403),
        ("/metrics", admin, 200),
        ("/v1/entries/3", auditor, 200),
        ("/v1/entries/x", auditor, 400),
        ("/v1/entries/999", auditor, 404),
        ("/v1/access?resource=prod-db:read", responder, 400),
        (
            "/v1/access?resource=prod-db:read&at=yesterday",
            responder,
            400,
        ),
        ("/v1/grants/g-prod?proofs=maybe", responder, 400),
        ("/v1/grants/g-prod?colour=red", responder, 400),
        ("/v1/proof/consistency?from=abc", auditor, 400),
        ("/v1/proof/consistency?from=3&to=10", auditor, 200),
        ("/v1/reports/nope", auditor, 404),
        ("/v1/identities/nobody/history", responder, 404),
        ("/healthz", None, 200),
        ("/openapi.json", None, 200),
    ];
    for (p, token, want) in &cases {
        let (status, body) = get(p, *token);
        assert_eq!(status, *want, "GET {p}: {body}");
        if *want >= 400 {
            let v: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("GET {p}: error body is not JSON ({e}): {body}"));
            assert!(
                v["error"].as_str().is_some_and(|m| !m.is_empty()),
                "GET {p}: {body}"
            );
        }
    }
    let log = server.stop();
    assert!(
        log.contains("who=rick") || log.contains("who=\"rick\""),
        "access records name the holder: {log}"
    );
}

#[test]
fn the_http_api_answers_as_the_command_line_does() {
    let s = Scenario::new();
    let (d, tmp, vkey) = (s.d(), &s.tmp, &s.vkey);
    let during = s.during();
    let h = json_out(&["history", "--data", d, "svc-reporting", "--json"]);
    let drift = json_out(&["report", "--data", d, "drift", "--json", "--now", NOW]);
    let server = Server::start(&s);
    let get = |p: &str, t: Option<&str>| server.get(p, t);
    let (auditor, responder) = (AUDITOR, RESPONDER);
    let (_, body) = get(
        "/v1/grants/g-prod?now=2026-06-01T00:00:00Z&proofs=true",
        responder,
    );
    let g: Value = serde_json::from_str(&body).expect("json");
    check_grant_answers(&g, "http");
    let bundle_file = tmp.path().join("http.proof.json");
    std::fs::write(&bundle_file, g["proofs"].to_string()).expect("write");
    assert!(
        ok(&["verify-proof", "--vkey", vkey, path(&bundle_file)], None)
            .contains("ok: the bundle verifies")
    );
    let (_, body) = get(
        "/v1/access?resource=prod-db:read&at=2026-02-01T10:00:00Z&now=2026-06-01T00:00:00Z",
        responder,
    );
    let a: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(a["grants"], during);
    assert!(a.get("proofs").is_none(), "proofs only when asked for");
    let (_, body) = get("/v1/identities/svc-reporting/history", responder);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["entries"],
        h["entries"]
    );
    // The same answers with proofs: the same content, and a bundle that verifies offline.
    for (p, field, want) in [
        (
            "/v1/access?resource=prod-db:read&at=2026-02-01T10:00:00Z&now=2026-06-01T00:00:00Z&proofs=true",
            "grants",
            &during,
        ),
        (
            "/v1/identities/svc-reporting/history?proofs=true",
            "entries",
            &h["entries"],
        ),
    ] {
        let (status, body) = get(p, responder);
        assert_eq!(status, 200, "GET {p}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(&v[field], want, "GET {p}");
        let file = tmp.path().join("answer.proof.json");
        std::fs::write(&file, v["proofs"].to_string()).expect("write");
        let verified = ok(&["verify-proof", "--vkey", vkey, path(&file)], None);
        assert!(
            verified.contains("ok: the bundle verifies"),
            "GET {p}: {verified}"
        );
    }
    let (_, body) = get("/v1/reports/drift?now=2026-06-01T00:00:00Z", auditor);
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["groups"],
        drift["groups"]
    );
    let (_, body) = get("/openapi.json", None);
    let spec: Value = serde_json::from_str(&body).expect("json");
    for route in [
        "/v1/checkpoint",
        "/v1/entries/{index}",
        "/v1/proof/consistency",
        "/v1/identities/{id}/history",
        "/v1/grants/{id}",
        "/v1/access",
        "/v1/reports/{name}",
        "/healthz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(spec["paths"].get(route).is_some(), "openapi lacks {route}");
    }
    server.stop();
}

#[test]
fn the_server_follows_a_writer_and_reports_the_same_size_everywhere() {
    let s = Scenario::new();
    let d = s.d();
    let server = Server::start(&s);
    let get = |p: &str, t: Option<&str>| server.get(p, t);
    let (auditor, admin) = (AUDITOR, ADMIN);
    // The server follows a writer: an append made while it runs is served once it catches up
    // (at most every 200 ms, before an authorized read).
    let (_, before) = get("/v1/checkpoint", auditor);
    assert_eq!(before.lines().nth(1), Some("25"), "{before}");
    let later = ev(
        json!({"id": "later-1", "source": "okta", "type": "identity.disabled", "time": "2026-06-02T00:00:00Z", "actor": {"id": "hr", "kind": "service"}, "subject": {"id": "alice@example.com", "kind": "human"}}),
    );
    let appended = ok(&["append", "--data", d, "-"], Some(&format!("{later}\n")));
    assert!(appended.contains("appended 1,"), "{appended}");
    // Waited for, with a deadline: the server catches up at most every 200 ms.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, after) = get("/v1/checkpoint", auditor);
        if (status, after.lines().nth(1)) == (200, Some("26")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not serve the append within 10 s: {status} {after}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Metrics and health report the same size as the checkpoint.
    let (_, metrics) = get("/metrics", admin);
    assert!(
        metrics.lines().any(|l| l == "idledger_tree_size 26"),
        "{metrics}"
    );
    let (_, health) = get("/healthz", None);
    let health: Value = serde_json::from_str(&health).expect("healthz is JSON");
    assert_eq!(health["tree_size"], 26, "{health}");
}
