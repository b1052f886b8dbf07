//! Entra ID application and service principal keys as the audit log describes them: the
//! `KeyDescription` modified property, whose old and new values list each key as
//! `[KeyIdentifier=<guid>,KeyType=<type>,KeyUsage=<usage>,DisplayName=<name>]`, never the
//! key's value. Which keys were added and which removed is the difference of the two lists.

use crate::event::CredentialKind;
use serde_json::Value;

/// A key by what identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Key {
    /// `KeyIdentifier`, the key's GUID (`keyId` in Microsoft Graph).
    pub id: String,
    pub kind: CredentialKind,
}

/// The keys one value of `KeyDescription` lists: a JSON array of strings, given as a string
/// (`"[\"[KeyIdentifier=…]\"]"`), or the array itself; null or absent is no key.
pub(super) fn listed(value: Option<&Value>) -> Result<Vec<Key>, String> {
    let parsed;
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(text)) => {
            parsed = serde_json::from_str::<Value>(text)
                .map_err(|_| "expected a JSON array of key descriptions in a string".to_owned())?;
            &parsed
        }
        Some(other) => other,
    };
    let Value::Array(items) = items else {
        return Err("expected a JSON array of key descriptions".to_owned());
    };
    items
        .iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| "expected each key description to be a string".to_owned())
                .and_then(key)
        })
        .collect()
}

/// One key description: `[KeyIdentifier=…,KeyType=…,…]`.
fn key(description: &str) -> Result<Key, String> {
    let id = part(description, "KeyIdentifier=")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| "a key description without KeyIdentifier".to_owned())?;
    let kind = match part(description, "KeyType=") {
        Some("Password") | Some("Symmetric") => CredentialKind::Secret,
        Some("AsymmetricX509Cert") | Some("X509CertAndPassword") => CredentialKind::Certificate,
        Some(other) => return Err(format!("a key of unknown KeyType {other:?}")),
        None => return Err("a key description without KeyType".to_owned()),
    };
    Ok(Key {
        id: id.to_owned(),
        kind,
    })
}

/// The text after `label` up to the next `,` or `]`. Only the identifier and type are read:
/// they come before `DisplayName`, the one part that may hold commas.
fn part<'d>(description: &'d str, label: &str) -> Option<&'d str> {
    let start = description.find(label)? + label.len();
    let rest = &description[start..];
    let end = rest.find([',', ']']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// The keys in `new` and not in `old` (added), and in `old` and not in `new` (removed), each in
/// the order listed.
pub(super) fn changes(old: &[Key], new: &[Key]) -> (Vec<Key>, Vec<Key>) {
    let absent_from = |list: &[Key], k: &Key| !list.iter().any(|o| o.id == k.id);
    let added = new
        .iter()
        .filter(|k| absent_from(old, k))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|k| absent_from(new, k))
        .cloned()
        .collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(id: &str) -> Key {
        Key {
            id: id.to_owned(),
            kind: CredentialKind::Secret,
        }
    }

    #[test]
    fn key_descriptions_read_as_identifier_and_type() {
        let rows: Vec<(Value, Result<Vec<Key>, &str>)> = vec![
            (json!(null), Ok(vec![])),
            (json!(""), Ok(vec![])),
            (json!("[]"), Ok(vec![])),
            (
                json!(
                    "[\"[KeyIdentifier=1b7c,KeyType=Password,KeyUsage=Verify,DisplayName=ci, nightly]\"]"
                ),
                Ok(vec![secret("1b7c")]),
            ),
            (
                json!([
                    "[KeyIdentifier=9f2e,KeyType=AsymmetricX509Cert,KeyUsage=Verify,DisplayName=CN=api]"
                ]),
                Ok(vec![Key {
                    id: "9f2e".into(),
                    kind: CredentialKind::Certificate,
                }]),
            ),
            (
                json!("not json"),
                Err("expected a JSON array of key descriptions in a string"),
            ),
            (
                json!({"a": 1}),
                Err("expected a JSON array of key descriptions"),
            ),
            (
                json!([1]),
                Err("expected each key description to be a string"),
            ),
            (
                json!(["[KeyType=Password]"]),
                Err("a key description without KeyIdentifier"),
            ),
            (
                json!(["[KeyIdentifier=,KeyType=Password]"]),
                Err("a key description without KeyIdentifier"),
            ),
            (
                json!(["[KeyIdentifier=1]"]),
                Err("a key description without KeyType"),
            ),
            (
                json!(["[KeyIdentifier=1,KeyType=Quantum]"]),
                Err("a key of unknown KeyType \"Quantum\""),
            ),
        ];
        for (value, want) in rows {
            assert_eq!(listed(Some(&value)), want.map_err(str::to_owned), "{value}");
        }
    }

    #[test]
    fn changes_are_the_two_differences() {
        let (a, b, c) = (secret("a"), secret("b"), secret("c"));
        let rows = [
            (vec![], vec![a.clone()], vec![a.clone()], vec![]),
            (vec![a.clone()], vec![], vec![], vec![a.clone()]),
            (
                vec![a.clone(), b.clone()],
                vec![b.clone(), c.clone()],
                vec![c.clone()],
                vec![a.clone()],
            ),
            (vec![a.clone()], vec![a.clone()], vec![], vec![]),
        ];
        for (old, new, added, removed) in rows {
            assert_eq!(changes(&old, &new), (added, removed));
        }
    }
}
