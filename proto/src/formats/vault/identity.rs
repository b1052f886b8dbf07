//! Who a Vault audit entry is by and about: the identity behind an `auth` object (the requester's
//! token, or the token a login or `auth/token/create` issued), read from the auth method's
//! metadata and the token's display name.

use crate::event::{ActorKind, SubjectKind};
use crate::formats::draft::{at, kind_of, optional_str};
use crate::formats::{DraftActor, DraftSubject, FieldError};
use serde_json::Value;

/// Auth methods people log in with; every other method (AppRole, Kubernetes, JWT, cloud IAM,
/// TLS certificates, tokens) authenticates a workload or service.
const HUMAN_METHODS: [&str; 6] = ["userpass", "ldap", "okta", "radius", "github", "oidc"];

pub(super) fn is_human_method(method: &str) -> bool {
    HUMAN_METHODS.contains(&method)
}

/// An identity as idledger names it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Identity {
    pub id: String,
    pub kind: SubjectKind,
}

impl Identity {
    pub fn human(name: &str) -> Identity {
        Identity {
            id: name.to_lowercase(),
            kind: SubjectKind::Human,
        }
    }

    pub fn subject(&self) -> DraftSubject {
        DraftSubject {
            id: self.id.clone(),
            kind: self.kind,
        }
    }

    pub fn actor(&self) -> DraftActor {
        DraftActor {
            id: self.id.clone(),
            kind: if self.kind.is_human() {
                ActorKind::Human
            } else {
                ActorKind::Service
            },
            mfa: None,
        }
    }
}

/// How an `auth` object is read: the auth method that issued the token and the path it is
/// mounted at, when the entry says (a login's `request.mount_type` and path); `None` for a
/// requester's token, whose method the entry does not name.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Method<'a> {
    pub kind: Option<&'a str>,
    pub mount: Option<&'a str>,
}

/// The identity behind the `auth` object at `pointer`, or `None` when it names no one (an
/// unauthenticated request's `auth` holds only a token type).
///
/// In order: `metadata.username` (userpass, LDAP, Okta, RADIUS, GitHub; a person, lowercased);
/// for a person's method, the display name without the `<mount>-` prefix Vault adds
/// (lowercased); for a requester's token, a display name that starts with a people's method
/// (`oidc-alice@example.com`) or is `root`; Kubernetes' service account as
/// `system:serviceaccount:<namespace>:<name>` (a workload); AppRole's `role_name` (a service
/// account); a certificate's `cert_name` (a machine); another method's `role` (a workload);
/// else the display name as given (a service account).
pub(super) fn identity_of(
    doc: &Value,
    pointer: &str,
    method: Method<'_>,
) -> Result<Option<Identity>, FieldError> {
    let Some(auth) = at(doc, pointer) else {
        return Ok(None);
    };
    if !auth.is_object() {
        return Err(FieldError::new(
            pointer,
            format!("expected an object, found {}", kind_of(auth)),
        ));
    }
    let text = |field: &str| -> Result<Option<&str>, FieldError> {
        Ok(optional_str(doc, &format!("{pointer}/{field}"))?.filter(|s| !s.is_empty()))
    };
    if let Some(username) = text("metadata/username")? {
        return Ok(Some(Identity::human(username)));
    }
    let display = text("display_name")?;
    if method.kind.is_some_and(is_human_method) {
        return Ok(display.map(|name| {
            let prefix = method.mount.map(|m| format!("{m}-")).unwrap_or_default();
            Identity::human(name.strip_prefix(prefix.as_str()).unwrap_or(name))
        }));
    }
    if method.kind.is_none()
        && let Some(name) = display
    {
        if name == "root" {
            return Ok(Some(Identity::human(name)));
        }
        for human in HUMAN_METHODS {
            let person = name.strip_prefix(human).and_then(|r| r.strip_prefix('-'));
            if let Some(person) = person.filter(|p| !p.is_empty()) {
                return Ok(Some(Identity::human(person)));
            }
        }
    }
    let named = |id: String, kind: SubjectKind| -> Result<Option<Identity>, FieldError> {
        Ok(Some(Identity { id, kind }))
    };
    if let (Some(namespace), Some(name)) = (
        text("metadata/service_account_namespace")?,
        text("metadata/service_account_name")?,
    ) {
        return named(
            format!("system:serviceaccount:{namespace}:{name}"),
            SubjectKind::Workload,
        );
    }
    if let Some(role) = text("metadata/role_name")? {
        return named(role.to_owned(), SubjectKind::ServiceAccount);
    }
    if let Some(cert) = text("metadata/cert_name")? {
        return named(cert.to_owned(), SubjectKind::Machine);
    }
    if let Some(role) = text("metadata/role")? {
        return named(role.to_owned(), SubjectKind::Workload);
    }
    match display {
        Some(name) => named(name.to_owned(), SubjectKind::ServiceAccount),
        None => Ok(None),
    }
}

/// The name a login path carries after `login` (`auth/userpass/login/alice`): the only name a
/// failed login records, since the response has no `auth`.
pub(super) fn login_name(path: &str) -> Option<&str> {
    let mut segments = path.split('/').skip_while(|s| *s != "login");
    segments.next()?;
    segments.next().filter(|s| !s.is_empty())
}
