//! The identity a Security Event Token is about, from its subject identifier (RFC 9493, and the
//! complex subjects of the Shared Signals Framework): which member names it, and the id and kind
//! idledger records it under (docs/formats/secevent.md, "Subjects").

use super::super::draft::{DraftSubject, FieldError, kind_of};
use crate::event::SubjectKind;

/// Which identity a complex subject is read as: the user (most events) or the device (device
/// compliance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefer {
    User,
    Device,
}

/// The identity an event is about, and the session it names if it names one.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Resolved {
    pub(crate) subject: DraftSubject,
    pub(crate) session: Option<String>,
}

/// What one simple subject identifier names.
enum Simple {
    /// An identity, by the id idledger records.
    Identity(String),
    /// A token (`jwt_id`, `saml_assertion_id`): no identity is named.
    Token,
}

/// The identity `value` (at `pointer`) names; `None` when it names none (a token, or a complex
/// subject with only a session or tenant), which makes the event out of scope.
pub(crate) fn resolve(
    value: &serde_json::Value,
    pointer: &str,
    prefer: Prefer,
) -> Result<Option<Resolved>, FieldError> {
    let Some(obj) = value.as_object() else {
        return Err(FieldError::new(
            pointer,
            format!("expected an object, found {}", kind_of(value)),
        ));
    };
    let (format, format_field) = format_of(obj, pointer)?;
    if format != "complex" {
        let kind = match prefer {
            Prefer::User => SubjectKind::Human,
            Prefer::Device => SubjectKind::Machine,
        };
        return Ok(match simple(value, pointer, format, &format_field)? {
            Simple::Identity(id) => Some(Resolved {
                subject: DraftSubject { id, kind },
                session: None,
            }),
            Simple::Token => None,
        });
    }
    let member = |name: &str| -> Result<Option<Simple>, FieldError> {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => {
                let field = format!("{pointer}/{name}");
                let inner = v.as_object().ok_or_else(|| {
                    FieldError::new(&field, format!("expected an object, found {}", kind_of(v)))
                })?;
                let (format, format_field) = format_of(inner, &field)?;
                if format == "complex" {
                    return Err(FieldError::new(
                        format_field,
                        "a complex subject cannot nest another",
                    ));
                }
                simple(v, &field, format, &format_field).map(Some)
            }
        }
    };
    let order: [(&str, SubjectKind); 3] = match prefer {
        Prefer::User => [
            ("user", SubjectKind::Human),
            ("device", SubjectKind::Machine),
            ("application", SubjectKind::Workload),
        ],
        Prefer::Device => [
            ("device", SubjectKind::Machine),
            ("user", SubjectKind::Human),
            ("application", SubjectKind::Workload),
        ],
    };
    let session = match member("session")? {
        Some(Simple::Identity(id)) => Some(id),
        Some(Simple::Token) | None => None,
    };
    for (name, kind) in order {
        if let Some(Simple::Identity(id)) = member(name)? {
            return Ok(Some(Resolved {
                subject: DraftSubject { id, kind },
                session,
            }));
        }
    }
    Ok(None)
}

/// The identifier format (`format`, or `subject_type` as Google's RISC transmitter still
/// writes it) and the field that holds it.
fn format_of<'v>(
    obj: &'v serde_json::Map<String, serde_json::Value>,
    pointer: &str,
) -> Result<(&'v str, String), FieldError> {
    for member in ["format", "subject_type"] {
        let field = format!("{pointer}/{member}");
        match obj.get(member) {
            None | Some(serde_json::Value::Null) => continue,
            Some(serde_json::Value::String(s)) => return Ok((s, field)),
            Some(other) => {
                return Err(FieldError::new(
                    field,
                    format!("expected a string, found {}", kind_of(other)),
                ));
            }
        }
    }
    Err(FieldError::missing(format!("{pointer}/format")))
}

/// A simple subject identifier (RFC 9493 section 3).
fn simple(
    value: &serde_json::Value,
    pointer: &str,
    format: &str,
    format_field: &str,
) -> Result<Simple, FieldError> {
    let text = |member: &str| -> Result<&str, FieldError> {
        let field = format!("{pointer}/{member}");
        match value.get(member) {
            None | Some(serde_json::Value::Null) => Err(FieldError::missing(field)),
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
            Some(serde_json::Value::String(_)) => Err(FieldError::new(field, "empty")),
            Some(other) => Err(FieldError::new(
                field,
                format!("expected a string, found {}", kind_of(other)),
            )),
        }
    };
    let id = match format {
        "email" => text("email")?.to_lowercase(),
        "iss_sub" | "iss-sub" => format!("{}|{}", text("iss")?, text("sub")?),
        "opaque" => text("id")?.to_owned(),
        "phone_number" => text("phone_number")?.to_owned(),
        // The RISC drafts before RFC 9493 called the format `phone`.
        "phone" => match value.get("phone_number") {
            Some(_) => text("phone_number")?.to_owned(),
            None => text("phone")?.to_owned(),
        },
        "account" => {
            let uri = text("uri")?;
            let name = uri.strip_prefix("acct:").unwrap_or(uri);
            name.to_lowercase()
        }
        "did" => text("url")?.to_owned(),
        "uri" => text("uri")?.to_owned(),
        "aliases" => return aliases(value, pointer),
        "jwt_id" | "saml_assertion_id" => return Ok(Simple::Token),
        other => {
            return Err(FieldError::new(
                format_field,
                format!(
                    "unknown subject identifier format `{}`",
                    super::jws::printable(other)
                ),
            ));
        }
    };
    Ok(Simple::Identity(id))
}

/// An `aliases` identifier: its first `email` identifier, else its first that names an
/// identity.
fn aliases(value: &serde_json::Value, pointer: &str) -> Result<Simple, FieldError> {
    let field = format!("{pointer}/identifiers");
    let list = match value.get("identifiers") {
        None | Some(serde_json::Value::Null) => return Err(FieldError::missing(field)),
        Some(serde_json::Value::Array(list)) if !list.is_empty() => list,
        Some(serde_json::Value::Array(_)) => {
            return Err(FieldError::new(field, "expected at least one identifier"));
        }
        Some(other) => {
            return Err(FieldError::new(
                field,
                format!("expected an array, found {}", kind_of(other)),
            ));
        }
    };
    let mut first = None;
    for (index, item) in list.iter().enumerate() {
        let item_pointer = format!("{field}/{index}");
        let Some(obj) = item.as_object() else {
            return Err(FieldError::new(
                item_pointer,
                format!("expected an object, found {}", kind_of(item)),
            ));
        };
        let (format, format_field) = format_of(obj, &item_pointer)?;
        if matches!(format, "aliases" | "complex") {
            return Err(FieldError::new(
                format_field,
                format!("an aliases identifier cannot hold `{format}`"),
            ));
        }
        let resolved = simple(item, &item_pointer, format, &format_field)?;
        if format == "email" {
            return Ok(resolved);
        }
        if first.is_none() && matches!(resolved, Simple::Identity(_)) {
            first = Some(resolved);
        }
    }
    Ok(first.unwrap_or(Simple::Token))
}
