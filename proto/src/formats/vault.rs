//! Vault: HashiCorp Vault audit device entries (file and socket devices, one JSON object per
//! entry), mapped to token and lease lifecycle events and to use events (docs/formats/vault.md).
//!
//! Only `response` entries are mapped: Vault writes a request entry and a response entry for
//! every call, sharing `request.id`, and only the response says what happened. Values Vault's
//! audit device HMACs (`hmac-sha256:…`) are kept as Vault wrote them and are never fingerprints;
//! a token is only ever named by its accessor or by such an HMAC, never by its value.

mod identity;

use super::draft::{at, kind_of, optional_str, required_str, required_time};
use super::{Draft, DraftCredential, FieldError, FormatSettings, RecordOutcome};
use crate::event::{AttrValue, CredentialKind, EventType, Outcome};
use crate::time::Timestamp;
use identity::{Identity, Method, identity_of, is_human_method, login_name};
use serde_json::Value;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): `type` is
/// `request` or `response`, `time` is a string and `request` an object with an `id` or `path`.
pub(crate) fn recognises(doc: &Value) -> bool {
    let request = doc.get("request");
    matches!(
        doc.get("type").and_then(Value::as_str),
        Some("request" | "response")
    ) && doc.get("time").is_some_and(Value::is_string)
        && request.is_some_and(Value::is_object)
        && ["id", "path"]
            .iter()
            .any(|k| request.and_then(|r| r.get(k)).is_some_and(Value::is_string))
}

/// The records of one message of this format: one audit entry, which maps to no event, one,
/// or two (a login: `#1` the authentication, `#2` the token it issued).
pub(crate) fn map(
    doc: &Value,
    _settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    if !doc.is_object() {
        return Err(FieldError::new(
            "",
            format!(
                "expected a Vault audit entry (an object), found {}",
                kind_of(doc)
            ),
        ));
    }
    let entry_type = required_str(doc, "/type")?;
    if !matches!(entry_type, "request" | "response") {
        return Err(FieldError::new(
            "/type",
            format!("expected `request` or `response`, found `{entry_type}`"),
        ));
    }
    Ok(read_entry(doc, entry_type).unwrap_or_else(|error| {
        vec![RecordOutcome::Malformed {
            pointer: String::new(),
            error,
        }]
    }))
}

/// What a response entry did, by its request path (docs/formats/vault.md, "Paths").
#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Login,
    TokenCreate,
    TokenRenew { own: bool },
    TokenRevoke,
    LeaseRenew,
    LeaseRevoke,
    SecretIssued,
    Used,
}

fn classify(doc: &Value, path: &str) -> Action {
    if let Some(rest) = path.strip_prefix("auth/token/") {
        return match rest.split('/').next().unwrap_or_default() {
            "create" | "create-orphan" => Action::TokenCreate,
            "renew" | "renew-accessor" => Action::TokenRenew { own: false },
            "renew-self" => Action::TokenRenew { own: true },
            "revoke" | "revoke-self" | "revoke-accessor" | "revoke-orphan" => Action::TokenRevoke,
            _ => Action::Used,
        };
    }
    let lease_path = |verbs: &[&str]| {
        ["sys/leases/", "sys/"].iter().any(|base| {
            path.strip_prefix(base)
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|verb| verbs.contains(&verb))
        })
    };
    if path.starts_with("auth/")
        && (path.split('/').any(|s| s == "login") || at(doc, "/response/auth/accessor").is_some())
    {
        Action::Login
    } else if lease_path(&["renew"]) {
        Action::LeaseRenew
    } else if lease_path(&["revoke", "revoke-prefix", "revoke-force"]) {
        Action::LeaseRevoke
    } else if at(doc, "/response/secret/lease_id")
        .and_then(Value::as_str)
        .is_some_and(|l| !l.is_empty())
    {
        Action::SecretIssued
    } else {
        Action::Used
    }
}

/// The fields every mapped entry has, read once.
struct Entry<'a> {
    doc: &'a Value,
    request_id: &'a str,
    time: Timestamp,
    path: &'a str,
    operation: &'a str,
    mount_type: Option<&'a str>,
    outcome: Outcome,
    /// Who made the request: the identity behind the top-level `auth`.
    requester: Option<Identity>,
}

fn read_entry(doc: &Value, entry_type: &str) -> Result<Vec<RecordOutcome>, FieldError> {
    let request_id = required_str(doc, "/request/id")?;
    let time = required_time(doc, "/time")?;
    let operation = required_str(doc, "/request/operation")?;
    let path = required_str(doc, "/request/path")?;
    let mount_type = optional_str(doc, "/request/mount_type")?.filter(|m| !m.is_empty());
    if entry_type == "request" {
        return Ok(vec![RecordOutcome::out_of_scope(format!(
            "vault:request:{operation}"
        ))]);
    }
    let failed = at(doc, "/error").is_some_and(|e| e.as_str() != Some(""));
    let entry = Entry {
        doc,
        request_id,
        time,
        path,
        operation,
        mount_type,
        outcome: if failed {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        },
        requester: identity_of(doc, "/auth", Method::default())?,
    };
    let single =
        |draft: Draft| -> Result<Vec<RecordOutcome>, FieldError> { Ok(vec![entry.event(draft)]) };
    match classify(doc, path) {
        Action::Login => entry.login(),
        Action::TokenCreate => single(entry.token_create()?),
        Action::TokenRenew { own } => single(entry.token_renew(own)?),
        Action::TokenRevoke => single(entry.token_revoke()?),
        Action::LeaseRenew => single(entry.lease(EventType::CredentialRotated, "renew")?),
        Action::LeaseRevoke => single(entry.lease(EventType::CredentialRevoked, "revoke")?),
        Action::SecretIssued => {
            let lease = required_str(doc, "/response/secret/lease_id")?;
            single(entry.requested(EventType::CredentialIssued, secret(lease))?)
        }
        Action::Used => match (&entry.requester, optional_str(doc, "/auth/accessor")?) {
            (Some(_), Some(accessor)) if !accessor.is_empty() => {
                single(entry.requested(EventType::CredentialUsed, token(accessor))?)
            }
            _ => Ok(vec![RecordOutcome::out_of_scope(format!(
                "vault:{operation}:{}",
                mount_type.unwrap_or("-")
            ))]),
        },
    }
}

fn token(id: &str) -> DraftCredential {
    DraftCredential {
        id: id.to_owned(),
        kind: CredentialKind::Token,
        fingerprint: None,
    }
}

fn secret(id: &str) -> DraftCredential {
    DraftCredential {
        id: id.to_owned(),
        kind: CredentialKind::Secret,
        fingerprint: None,
    }
}

impl Entry<'_> {
    fn event(&self, draft: Draft) -> RecordOutcome {
        let event_id = format!("{}:response", self.request_id);
        RecordOutcome::event(draft, event_id, "")
    }

    /// A draft with what every event of this entry has; `suffix` numbers the events of an entry
    /// that maps to several.
    fn draft(
        &self,
        kind: EventType,
        subject: &Identity,
        actor: &Identity,
        suffix: &str,
    ) -> Result<Draft, FieldError> {
        let id = format!("{}:response{suffix}", self.request_id);
        let mut draft = Draft::new("vault", id, kind, self.time, subject.subject());
        draft.actor = Some(actor.actor());
        draft.outcome = self.outcome;
        let mut attrs = vec![
            ("vault.path", Some(self.path)),
            ("vault.operation", Some(self.operation)),
            ("vault.mount_type", self.mount_type),
        ];
        for (key, pointer) in [
            ("vault.remote_address", "/request/remote_address"),
            ("vault.namespace", "/request/namespace/path"),
        ] {
            attrs.push((key, optional_str(self.doc, pointer)?));
        }
        for (key, value) in attrs {
            if let Some(value) = value.filter(|v| !v.is_empty() && v.chars().count() <= 1024) {
                draft
                    .attributes
                    .push((key.to_owned(), AttrValue::Text(value.to_owned())));
            }
        }
        Ok(draft)
    }

    fn requester(&self) -> Result<&Identity, FieldError> {
        self.requester
            .as_ref()
            .ok_or_else(|| FieldError::missing("/auth/display_name"))
    }

    /// An event about the requester's own credential, by the requester.
    fn requested(&self, kind: EventType, credential: DraftCredential) -> Result<Draft, FieldError> {
        let requester = self.requester()?;
        let mut draft = self.draft(kind, requester, requester, "")?;
        draft.credential = Some(credential);
        Ok(draft)
    }

    /// The expiry of a token from its TTL in seconds at `pointer` (none when 0: root tokens).
    fn expiry(&self, pointer: &str) -> Option<Timestamp> {
        let ttl = at(self.doc, pointer)?.as_i64().filter(|t| *t > 0)?;
        ttl.checked_mul(1_000_000_000)
            .and_then(|nanos| self.time.0.checked_add(nanos))
            .map(Timestamp)
    }

    /// A login response: the authentication (`#1`) and the token it issued (`#2`); a failed
    /// login is the authentication alone, of the name its path carries.
    fn login(&self) -> Result<Vec<RecordOutcome>, FieldError> {
        let mount = self.path.split('/').nth(1).filter(|m| !m.is_empty());
        let method = Method {
            kind: self.mount_type.or(mount),
            mount,
        };
        if self.outcome == Outcome::Failed && at(self.doc, "/response/auth").is_none() {
            let Some(name) = login_name(self.path) else {
                return Ok(vec![RecordOutcome::out_of_scope(
                    "vault:login:unattributed",
                )]);
            };
            let who = if method.kind.is_some_and(is_human_method) {
                Identity::human(name)
            } else {
                Identity {
                    id: name.to_owned(),
                    kind: crate::event::SubjectKind::ServiceAccount,
                }
            };
            return Ok(vec![self.event(self.draft(
                EventType::IdentityAuthenticated,
                &who,
                &who,
                "",
            )?)]);
        }
        if at(self.doc, "/response/auth").is_none() {
            return Ok(vec![RecordOutcome::out_of_scope("vault:login:incomplete")]);
        }
        let who = identity_of(self.doc, "/response/auth", method)?
            .ok_or_else(|| FieldError::missing("/response/auth/display_name"))?;
        let accessor = required_str(self.doc, "/response/auth/accessor")?;
        let authenticated = self.draft(EventType::IdentityAuthenticated, &who, &who, "#1")?;
        let mut issued = self.draft(EventType::CredentialIssued, &who, &who, "#2")?;
        issued.credential = Some(token(accessor));
        issued.expires_at = self.expiry("/response/auth/token_ttl");
        self.push_token_details(&mut issued, "/response/auth")?;
        Ok(vec![self.event(authenticated), self.event(issued)])
    }

    /// `auth/token/create*`: a token for the identity the new token carries (the requester's
    /// when it is a child of the same entity), by the requester.
    fn token_create(&self) -> Result<Draft, FieldError> {
        let requester = self.requester()?;
        let same_entity = match (
            optional_str(self.doc, "/response/auth/entity_id")?,
            optional_str(self.doc, "/auth/entity_id")?,
        ) {
            (Some(new), Some(own)) => !new.is_empty() && new == own,
            _ => false,
        };
        let token_method = Method {
            kind: Some("token"),
            mount: None,
        };
        let holder = match identity_of(self.doc, "/response/auth", token_method)? {
            Some(holder) if !same_entity => holder,
            _ => requester.clone(),
        };
        let mut draft = self.draft(EventType::CredentialIssued, &holder, requester, "")?;
        let accessor = match (
            optional_str(self.doc, "/response/auth/accessor")?,
            self.outcome,
        ) {
            (Some(accessor), _) => accessor.to_owned(),
            (None, Outcome::Failed) => format!("unissued:{}", self.request_id),
            (None, Outcome::Succeeded) => {
                return Err(FieldError::missing("/response/auth/accessor"));
            }
        };
        draft.credential = Some(token(&accessor));
        draft.expires_at = self.expiry("/response/auth/token_ttl");
        self.push_token_details(&mut draft, "/response/auth")?;
        Ok(draft)
    }

    /// `auth/token/renew*`: recorded as `credential.rotated` with `vault.renewal` (the token
    /// keeps its value; its expiry moves).
    fn token_renew(&self, own: bool) -> Result<Draft, FieldError> {
        let requester = self.requester()?;
        let mut candidates = vec!["/response/auth/accessor"];
        if own {
            candidates.push("/auth/accessor");
        }
        candidates.push("/request/data/accessor");
        let mut accessor = None;
        for pointer in candidates {
            if let Some(found) = optional_str(self.doc, pointer)?.filter(|a| !a.is_empty()) {
                accessor = Some(found.to_owned());
                break;
            }
        }
        let accessor = match accessor {
            Some(accessor) => accessor,
            None if optional_str(self.doc, "/request/data/token")?.is_some() => {
                hmac_only(self.doc, "/request/data/token")?.to_owned()
            }
            None => return Err(FieldError::missing("/response/auth/accessor")),
        };
        let holder = identity_of(self.doc, "/response/auth", Method::default())?
            .unwrap_or_else(|| requester.clone());
        let mut draft = self.draft(EventType::CredentialRotated, &holder, requester, "")?;
        draft.credential = Some(token(&accessor));
        draft.expires_at = self.expiry("/response/auth/token_ttl");
        draft
            .attributes
            .push(("vault.renewal".to_owned(), AttrValue::Bool(true)));
        Ok(draft)
    }

    /// `auth/token/revoke*`: the token by accessor (its own, or the one named), or by the HMAC
    /// of its value when revoked by value.
    fn token_revoke(&self) -> Result<Draft, FieldError> {
        let verb = self
            .path
            .trim_start_matches("auth/token/")
            .split('/')
            .next()
            .unwrap_or_default();
        let accessor = match verb {
            "revoke-self" => required_str(self.doc, "/auth/accessor")?,
            "revoke-accessor" => required_str(self.doc, "/request/data/accessor")?,
            _ => hmac_only(self.doc, "/request/data/token")?,
        };
        self.requested(EventType::CredentialRevoked, token(accessor))
    }

    /// `sys/leases/renew` and `sys/leases/revoke*` (and their `sys/` aliases): the lease by id,
    /// from the path, the response or the request body.
    fn lease(&self, kind: EventType, verb: &str) -> Result<Draft, FieldError> {
        let after_verb = self
            .path
            .split('/')
            .skip_while(|s| !s.starts_with(verb))
            .skip(1)
            .collect::<Vec<_>>()
            .join("/");
        let mut lease = (!after_verb.is_empty()).then_some(after_verb);
        for pointer in [
            "/response/secret/lease_id",
            "/request/data/lease_id",
            "/request/data/prefix",
        ] {
            if lease.is_some() {
                break;
            }
            lease = optional_str(self.doc, pointer)?
                .filter(|l| !l.is_empty())
                .map(str::to_owned);
        }
        let lease = lease.ok_or_else(|| FieldError::missing("/request/data/lease_id"))?;
        let mut draft = self.requested(kind, secret(&lease))?;
        if kind == EventType::CredentialRotated {
            draft
                .attributes
                .push(("vault.renewal".to_owned(), AttrValue::Bool(true)));
        }
        if self.path.split('/').any(|s| s == "revoke-prefix") {
            draft
                .attributes
                .push(("vault.lease_prefix".to_owned(), AttrValue::Bool(true)));
        }
        Ok(draft)
    }

    /// The token type and policies of an issued token, as attributes.
    fn push_token_details(&self, draft: &mut Draft, pointer: &str) -> Result<(), FieldError> {
        if let Some(kind) = optional_str(self.doc, &format!("{pointer}/token_type"))? {
            draft.attributes.push((
                "vault.token_type".to_owned(),
                AttrValue::Text(kind.to_owned()),
            ));
        }
        if let Some(Value::Array(policies)) = at(self.doc, &format!("{pointer}/policies")) {
            let names: Vec<&str> = policies.iter().filter_map(Value::as_str).collect();
            let joined = names.join(",");
            if !joined.is_empty() && joined.chars().count() <= 1024 {
                draft
                    .attributes
                    .push(("vault.policies".to_owned(), AttrValue::Text(joined)));
            }
        }
        Ok(())
    }
}

/// A token named by value, accepted only as the audit device's HMAC of it: with `log_raw` on,
/// the value would be the token itself, which is never recorded (nor quoted in the error).
fn hmac_only<'v>(doc: &'v Value, pointer: &str) -> Result<&'v str, FieldError> {
    let value = required_str(doc, pointer)?;
    if value.starts_with("hmac-sha256:") {
        Ok(value)
    } else {
        Err(FieldError::new(
            pointer,
            "expected a value the audit device HMAC'd (`hmac-sha256:…`), found a raw value, which is never recorded",
        ))
    }
}

#[cfg(test)]
#[path = "vault_tests.rs"]
mod tests;
