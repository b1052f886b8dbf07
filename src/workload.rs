//! A realistic identity lifecycle workload for the demo and benchmarks: people and non-human
//! identities, access requests with reasons and tickets, approvals, denials, grants with
//! expiries, revocations, reviews, expiries with and without end events, credentials issued,
//! rotated and revoked, owners leaving; plus malformed, duplicate and secret-bearing messages.

use serde_json::{Value, json};

/// A Kafka message to produce: keyed by subject so each identity's events stay in order.
#[derive(Debug, Clone)]
pub struct Message {
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
pub struct Workload {
    pub messages: Vec<Message>,
    pub valid: usize,
    pub duplicates: usize,
    pub invalid: usize,
    pub secrets: usize,
    pub conflicting: usize,
}

/// The scripted story the demo prints.
pub const STORY_GRANT: &str = "g-alice-prod-db";
pub const STORY_SUBJECT: &str = "alice@example.com";

/// SplitMix64: small, deterministic, good enough to vary a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const DAY: i64 = 86_400;
/// 2026-01-05T00:00:00Z.
const START: i64 = 1_767_571_200;

fn at(secs: i64) -> String {
    idledger_proto::Timestamp::from_unix_seconds(secs).to_rfc3339()
}

fn fingerprint(rng: &mut Rng) -> String {
    format!(
        "sha256:{:016x}{:016x}{:016x}{:016x}",
        rng.next(),
        rng.next(),
        rng.next(),
        rng.next()
    )
}

const NON_HUMAN: [&str; 4] = ["service_account", "workload", "bot", "machine"];
const APPS: [&str; 4] = ["payments", "billing", "identity", "analytics"];
const RESOURCES: [&str; 6] = [
    "prod-db:read",
    "prod-db:write",
    "aws:role/deploy",
    "aws:role/readonly",
    "k8s:ns/payments:edit",
    "github:org/admin",
];
const REASONS: [&str; 5] = [
    "investigate failed payments for INC-{n}",
    "deploy hotfix for CHG-{n}",
    "quarterly data export for finance",
    "debug customer escalation {n}",
    "on-call rotation coverage",
];

impl Workload {
    fn push(&mut self, key: &str, v: &Value) {
        self.messages.push(Message {
            key: Some(key.as_bytes().to_vec()),
            payload: Some(v.to_string().into_bytes()),
        });
        self.valid += 1;
    }

    fn push_raw(&mut self, key: Option<&str>, payload: Option<Vec<u8>>) {
        self.messages.push(Message {
            key: key.map(|k| k.as_bytes().to_vec()),
            payload,
        });
    }
}

fn actor(id: &str, kind: &str, mfa: Option<bool>) -> Value {
    match mfa {
        Some(m) => json!({ "id": id, "kind": kind, "mfa": m }),
        None => json!({ "id": id, "kind": kind }),
    }
}

/// The scripted story: alice asks for production database access, bob approves with MFA, it is
/// granted for 8 hours and revoked early by security; a service account's key is issued,
/// rotated twice and revoked after its owner leaves.
fn story(w: &mut Workload) {
    let alice = json!({ "id": STORY_SUBJECT, "kind": "human" });
    let t = START + 3 * DAY + 9 * 3600;
    w.push(STORY_SUBJECT, &json!({ "id": "story-1", "source": "okta-prod", "type": "identity.created", "time": at(START), "actor": actor("hr-sync", "service", None), "subject": alice, "attributes": { "application": "payments", "business_function": "operations" } }));
    w.push(STORY_SUBJECT, &json!({ "id": "story-2", "source": "access-portal", "type": "access.requested", "time": at(t), "actor": actor(STORY_SUBJECT, "human", Some(true)), "subject": alice, "grant_id": STORY_GRANT, "request_id": "req-7", "resource": "prod-db:read", "reason": "investigate INC-7: payments failing for EU customers", "ticket": "INC-7", "expires_at": at(t + 8 * 3600), "attributes": { "application": "payments" } }));
    w.push(STORY_SUBJECT, &json!({ "id": "story-3", "source": "access-portal", "type": "access.approved", "time": at(t + 720), "actor": actor("bob@example.com", "human", Some(true)), "subject": alice, "grant_id": STORY_GRANT, "request_id": "req-7", "resource": "prod-db:read", "reason": "on-call for INC-7", "policy": { "id": "prod-access", "version": "7", "hash": "sha256:4b7f" } }));
    w.push(STORY_SUBJECT, &json!({ "id": "story-4", "source": "access-broker", "type": "access.granted", "time": at(t + 750), "actor": actor("access-broker", "system", None), "subject": alice, "grant_id": STORY_GRANT, "resource": "prod-db:read", "expires_at": at(t + 750 + 8 * 3600) }));
    w.push(STORY_SUBJECT, &json!({ "id": "story-5", "source": "access-portal", "type": "access.revoked", "time": at(t + 2 * 3600), "actor": actor("sec-team@example.com", "human", Some(true)), "subject": alice, "grant_id": STORY_GRANT, "resource": "prod-db:read", "reason": "investigation closed early; least privilege", "ticket": "INC-7" }));

    let svc = json!({ "id": "svc-billing", "kind": "service_account" });
    let cred = |fp: &str| json!({ "id": "key-billing-1", "kind": "api_key", "fingerprint": fp });
    let fps = [
        "sha256:".to_owned() + &"1".repeat(64),
        "sha256:".to_owned() + &"2".repeat(64),
        "sha256:".to_owned() + &"3".repeat(64),
    ];
    w.push("svc-billing", &json!({ "id": "story-10", "source": "vault-eu", "type": "identity.created", "time": at(START + DAY), "actor": actor("carol@example.com", "human", Some(true)), "subject": svc, "owner": "carol@example.com", "attributes": { "application": "billing" } }));
    w.push("svc-billing", &json!({ "id": "story-11", "source": "vault-eu", "type": "credential.issued", "time": at(START + DAY + 60), "actor": actor("carol@example.com", "human", Some(true)), "subject": svc, "credential": cred(&fps[0]) }));
    w.push("svc-billing", &json!({ "id": "story-12", "source": "vault-eu", "type": "credential.rotated", "time": at(START + 30 * DAY), "actor": actor("vault-rotator", "service", None), "subject": svc, "credential": cred(&fps[1]) }));
    w.push("svc-billing", &json!({ "id": "story-13", "source": "vault-eu", "type": "credential.rotated", "time": at(START + 60 * DAY), "actor": actor("vault-rotator", "service", None), "subject": svc, "credential": cred(&fps[2]) }));
    w.push("carol@example.com", &json!({ "id": "story-14", "source": "okta-prod", "type": "identity.disabled", "time": at(START + 70 * DAY), "actor": actor("hr-sync", "service", None), "subject": { "id": "carol@example.com", "kind": "human" }, "reason": "leaver" }));
    w.push("svc-billing", &json!({ "id": "story-15", "source": "vault-eu", "type": "credential.revoked", "time": at(START + 70 * DAY + 600), "actor": actor("sec-team@example.com", "human", Some(true)), "subject": svc, "credential": cred(&fps[2]), "reason": "owner left the company" }));
}

/// Generates about `events` valid events plus a few malformed, duplicate and secret-bearing
/// messages (about 1% each).
pub fn generate(events: usize, seed: u64) -> Workload {
    let mut w = Workload::default();
    story(&mut w);
    let people = (events / 60).max(8);
    let services = (events / 200).max(4);
    population(&mut w, people, services);
    let mut g = Generator {
        rng: Rng(seed),
        w,
        people,
        services,
    };
    let (mut n, mut grant, mut cred) = (0usize, 0usize, 0usize);
    while g.w.valid < events {
        n += 1;
        if g.rng.chance(75) {
            grant += 1;
            g.access_episode(grant);
        } else if g.rng.chance(60) {
            cred += 1;
            g.credential_life(cred);
        } else {
            g.departure_or_owner_change(n);
        }
    }
    g.bad_input(events);
    g.w
}

/// The people and the non-human identities they own, each created once.
fn population(w: &mut Workload, people: usize, services: usize) {
    for p in 0..people {
        let id = format!("user{p}@example.com");
        w.push(&id, &json!({ "id": format!("hr-{p}"), "source": "okta-prod", "type": "identity.created", "time": at(START + (p as i64 % 30) * 3600), "actor": actor("hr-sync", "service", None), "subject": { "id": id, "kind": "human" }, "attributes": { "application": APPS[p % APPS.len()], "business_function": if p % 3 == 0 { "engineering" } else { "operations" } } }));
    }
    for s in 0..services {
        let id = format!("svc-{s}");
        let kind = NON_HUMAN[s % 4];
        let owner = format!("user{}@example.com", s % people);
        let mut created = json!({ "id": format!("svc-created-{s}"), "source": "vault-eu", "type": "identity.created", "time": at(START + DAY + s as i64 * 60), "actor": actor(&owner, "human", Some(true)), "subject": { "id": id, "kind": kind }, "owner": owner, "attributes": { "application": APPS[s % APPS.len()] } });
        if s % 11 == 5 {
            // A non-human identity created by an automation that records no owner: drift.
            created["type"] = json!("identity.updated");
            created.as_object_mut().map(|o| o.remove("owner"));
        }
        w.push(&id, &created);
    }
}

/// The random stories after the fixed ones, over a population of `people` and `services`.
struct Generator {
    rng: Rng,
    w: Workload,
    people: usize,
    services: usize,
}

impl Generator {
    /// An access episode: requested, then denied, or (usually) approved and granted, then
    /// revoked, expired, reviewed or left to expire unseen.
    fn access_episode(&mut self, grant: usize) {
        let (rng, w, people) = (&mut self.rng, &mut self.w, self.people);
        // An access episode.
        let p = rng.below(people as u64) as usize;
        let subject_id = format!("user{p}@example.com");
        let subject = json!({ "id": subject_id, "kind": "human" });
        let g = format!("g-{grant}");
        let resource = RESOURCES[rng.below(RESOURCES.len() as u64) as usize];
        let t0 = START + 5 * DAY + (grant as i64 * 97) % (300 * DAY);
        let reason = REASONS[rng.below(REASONS.len() as u64) as usize]
            .replace("{n}", &(grant % 9000).to_string());
        let ticket = format!("CHG-{}", 1000 + grant % 9000);
        let hours = [1i64, 4, 8, 24, 72][rng.below(5) as usize];
        let app = APPS[p % APPS.len()];
        let exception = rng.chance(3);
        w.push(&subject_id, &json!({ "id": format!("{g}-req"), "source": "access-portal", "type": "access.requested", "time": at(t0), "actor": actor(&subject_id, "human", Some(true)), "subject": subject, "grant_id": g, "resource": resource, "reason": reason, "ticket": ticket, "attributes": { "application": app } }));
        let approver = if rng.chance(4) {
            subject_id.clone()
        } else {
            format!(
                "user{}@example.com",
                (p + 1 + rng.below(5) as usize) % people
            )
        };
        let lead = 60 + rng.below(4 * 3600) as i64;
        if rng.chance(8) {
            w.push(&subject_id, &json!({ "id": format!("{g}-deny"), "source": "access-portal", "type": "access.denied", "time": at(t0 + lead), "actor": actor(&approver, "human", Some(true)), "subject": subject, "grant_id": g, "resource": resource, "reason": "not justified", "policy": { "id": "prod-access", "version": "7" } }));
            return;
        }
        if !rng.chance(5) {
            w.push(&subject_id, &json!({ "id": format!("{g}-ok"), "source": "access-portal", "type": "access.approved", "time": at(t0 + lead), "actor": actor(&approver, "human", Some(rng.chance(90))), "subject": subject, "grant_id": g, "resource": resource, "reason": "justified", "policy": { "id": "prod-access", "version": "7" } }));
        }
        let granted = t0 + lead + 30;
        let mut grant_event = json!({ "id": format!("{g}-grant"), "source": "access-broker", "type": "access.granted", "time": at(granted), "actor": actor("access-broker", "system", None), "subject": subject, "grant_id": g, "resource": resource, "expires_at": at(granted + hours * 3600) });
        if exception {
            grant_event["exception"] = json!(true);
            if rng.chance(50) {
                grant_event.as_object_mut().map(|o| o.remove("expires_at"));
            }
        }
        w.push(&subject_id, &grant_event);
        match rng.below(10) {
            0..=3 => w.push(&subject_id, &json!({ "id": format!("{g}-revoke"), "source": "access-portal", "type": "access.revoked", "time": at(granted + rng.below((hours * 3600) as u64) as i64), "actor": actor("sec-team@example.com", "human", Some(true)), "subject": subject, "grant_id": g, "resource": resource, "reason": "no longer needed" })),
            4..=6 => w.push(&subject_id, &json!({ "id": format!("{g}-expired"), "source": "access-broker", "type": "access.expired", "time": at(granted + hours * 3600), "subject": subject, "grant_id": g, "resource": resource })),
            7 => w.push(&subject_id, &json!({ "id": format!("{g}-review"), "source": "iga-reviews", "type": "access.reviewed", "time": at(granted + 1800), "actor": actor("auditor@example.com", "human", Some(true)), "subject": subject, "grant_id": g, "resource": resource, "decision": "revoke", "reason": "quarterly review: not needed" })),
            _ => {} // Expires with no end event.
        }
    }

    /// A credential's life: issued, rotated up to twice, sometimes revoked.
    fn credential_life(&mut self, cred: usize) {
        let (rng, w, services) = (&mut self.rng, &mut self.w, self.services);
        // A credential's life.
        let s = rng.below(services as u64) as usize;
        let subject_id = format!("svc-{s}");
        let subject = json!({ "id": subject_id, "kind": NON_HUMAN[s % 4] });
        let kind = ["api_key", "certificate", "token", "ssh_key", "secret"][rng.below(5) as usize];
        let c =
            |fp: String| json!({ "id": format!("cred-{cred}"), "kind": kind, "fingerprint": fp });
        let t0 = START + (cred as i64 * 131) % (200 * DAY);
        let mut issued = json!({ "id": format!("cred-{cred}-issued"), "source": "vault-eu", "type": "credential.issued", "time": at(t0), "actor": actor("vault", "service", None), "subject": subject, "credential": c(fingerprint(rng)) });
        if kind == "certificate" {
            issued["expires_at"] = json!(at(t0 + 90 * DAY));
        }
        w.push(&subject_id, &issued);
        let rotations = rng.below(3);
        for r in 0..rotations {
            w.push(&subject_id, &json!({ "id": format!("cred-{cred}-rot-{r}"), "source": "vault-eu", "type": "credential.rotated", "time": at(t0 + (r as i64 + 1) * 45 * DAY), "actor": actor("vault-rotator", "service", None), "subject": subject, "credential": c(fingerprint(rng)) }));
        }
        if rng.chance(30) {
            w.push(&subject_id, &json!({ "id": format!("cred-{cred}-revoked"), "source": "vault-eu", "type": "credential.revoked", "time": at(t0 + 150 * DAY), "actor": actor("sec-team@example.com", "human", Some(true)), "subject": subject, "credential": c(fingerprint(rng)), "reason": "decommissioned" }));
        }
    }

    /// People leave; some non-human identities change owner.
    fn departure_or_owner_change(&mut self, n: usize) {
        let (rng, w, people, services) = (&mut self.rng, &mut self.w, self.people, self.services);
        // People leave; some non-human identities change owner or are deleted.
        let p = rng.below(people as u64) as usize;
        let id = format!("user{p}@example.com");
        let t = START + 100 * DAY + (n as i64 * 53) % (200 * DAY);
        if rng.chance(50) {
            w.push(&id, &json!({ "id": format!("leaver-{n}"), "source": "okta-prod", "type": "identity.disabled", "time": at(t), "actor": actor("hr-sync", "service", None), "subject": { "id": id, "kind": "human" }, "reason": "leaver" }));
        } else {
            let s = rng.below(services as u64) as usize;
            let svc = format!("svc-{s}");
            let new_owner = format!("user{}@example.com", (p + 7) % people);
            w.push(&svc, &json!({ "id": format!("owner-{n}"), "source": "vault-eu", "type": "identity.owner_changed", "time": at(t), "actor": actor(&new_owner, "human", Some(true)), "subject": { "id": svc, "kind": NON_HUMAN[s % 4] }, "owner": new_owner, "reason": "previous owner left" }));
        }
    }

    /// Bad input, about 1% of each kind, then a conflicting duplicate and a tombstone.
    fn bad_input(&mut self, events: usize) {
        let (rng, w) = (&mut self.rng, &mut self.w);
        // Bad input, about 1% of each kind.
        let extra = (events / 100).max(3);
        let valid_messages: Vec<Message> = w.messages.clone();
        for i in 0..extra {
            let pick = &valid_messages[rng.below(valid_messages.len() as u64) as usize];
            w.messages.push(pick.clone());
            w.duplicates += 1;
            let bad: &[u8] = match i % 5 {
                0 => b"this is not json",
                1 => br#"{"id":"x","source":"siem","type":"access.stolen","time":"2026-01-01T00:00:00Z"}"#,
                2 => br#"{"id":"y","source":"siem","type":"access.requested","time":"2026-02-30T00:00:00Z","actor":{"id":"a","kind":"human"},"subject":{"id":"a","kind":"human"},"grant_id":"g","resource":"r"}"#,
                3 => br#"{"source":"siem","type":"identity.updated"}"#,
                _ => b"",
            };
            w.push_raw(Some("bad"), Some(bad.to_vec()));
            w.invalid += 1;
            let secret = json!({ "id": format!("leak-{i}"), "source": "vault-eu", "type": "credential.issued", "time": at(START), "actor": actor("vault", "service", None), "subject": { "id": "svc-0", "kind": "service_account" }, "credential": { "id": format!("leak-{i}"), "kind": "secret", "fingerprint": "sha256:".to_owned() + &"c".repeat(64), "value": "s3cr3t-DO-NOT-STORE" } });
            w.push_raw(Some("svc-0"), Some(secret.to_string().into_bytes()));
            w.secrets += 1;
        }
        // A conflicting duplicate and a tombstone. The conflict reuses an id from the same key, so
        // it lands in the same partition after the original and is the one quarantined.
        let conflict = json!({ "id": "story-11", "source": "vault-eu", "type": "credential.issued", "time": at(START), "actor": actor("mallory@example.com", "human", None), "subject": { "id": "svc-billing", "kind": "service_account" }, "credential": { "id": "key-billing-1", "kind": "api_key", "fingerprint": "sha256:".to_owned() + &"f".repeat(64) }, "reason": "replayed id with other content" });
        w.push_raw(Some("svc-billing"), Some(conflict.to_string().into_bytes()));
        w.conflicting += 1;
        w.push_raw(Some("tombstone"), None);
        w.invalid += 1;
    }
}
