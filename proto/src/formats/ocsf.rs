//! OCSF: events of the Open Cybersecurity Schema Framework 1.0 to 1.9 in the Identity & Access
//! Management category, one event object or an array of them per message, mapped by
//! `class_uid` and `activity_id` (docs/formats/ocsf.md).

mod activities;
mod drafts;
mod objects;
#[cfg(test)]
mod tests;

use super::draft::{at, kind_of, optional_str, required_i64, required_str, time_from_unix_millis};
use super::{Draft, DraftActor, DraftSubject, FieldError, FormatSettings, RecordOutcome};
use crate::event::{ActorKind, AttrValue, EventType, Outcome};
use crate::time::Timestamp;
use activities::{Action, Activity};
use serde_json::Value;

/// The category every IAM class is in; its classes are 3000 to 3999.
const IAM_CATEGORY: i64 = 3;

/// Authorize Session, whose records name no actor.
const AUTHORIZE_SESSION: i64 = 3003;

/// OCSF `status_id` Failure: the operation was attempted and did not succeed.
const STATUS_FAILURE: i64 = 2;

/// The `status_id` values of OCSF 1.0 to 1.9: Unknown, Success, Failure, Other.
const STATUS_IDS: [i64; 4] = [0, 1, 2, 99];

/// The longest attribute text kept (a longer one is left out rather than failing the event).
const ATTRIBUTE_TEXT_MAX: usize = 1024;

/// Whether a parsed message has this format's shape (`auto`, docs/FORMATS.md): an object with
/// integer `class_uid` and `activity_id` and a `metadata` object with a string `version`, or a
/// non-empty array whose first element is one.
pub(crate) fn recognises(doc: &Value) -> bool {
    match doc {
        Value::Array(items) => items.first().is_some_and(is_ocsf_event),
        other => is_ocsf_event(other),
    }
}

fn is_ocsf_event(v: &Value) -> bool {
    v.get("class_uid").is_some_and(Value::is_i64)
        && v.get("activity_id").is_some_and(Value::is_i64)
        && v.get("metadata")
            .and_then(|m| m.get("version"))
            .is_some_and(Value::is_string)
}

/// The records of one message: one event object (the record is the message, pointer ``), or
/// an array of them (pointers `/0`, `/1`…).
pub(crate) fn map(
    doc: &Value,
    _settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    match doc {
        Value::Object(_) => Ok(record_outcomes(doc, "")),
        Value::Array(records) => Ok(records
            .iter()
            .enumerate()
            .flat_map(|(i, record)| record_outcomes(record, &format!("/{i}")))
            .collect()),
        other => Err(FieldError::new(
            "",
            format!(
                "expected an OCSF event object or an array of them, found {}",
                kind_of(other)
            ),
        )),
    }
}

/// What one record is; a record that maps to several events gives one outcome per event.
fn record_outcomes(record: &Value, pointer: &str) -> Vec<RecordOutcome> {
    match read_record(record) {
        Ok(Reading::OutOfScope(kind)) => vec![RecordOutcome::out_of_scope(kind)],
        Ok(Reading::Events { drafts, event_id }) => drafts
            .into_iter()
            .map(|draft| RecordOutcome::event(draft, event_id.clone(), pointer))
            .collect(),
        Err(error) => vec![RecordOutcome::Malformed {
            pointer: pointer.to_owned(),
            error,
        }],
    }
}

enum Reading {
    OutOfScope(String),
    Events {
        drafts: Vec<Draft>,
        event_id: String,
    },
}

/// Reads one record. The checks run in the order the docs list them: the version first (a
/// record of another major version may mean something else by its class), then the class,
/// the activity, and only then what a mapped activity needs.
fn read_record(record: &Value) -> Result<Reading, FieldError> {
    if !record.is_object() {
        return Err(FieldError::new(
            "",
            format!("expected an OCSF event object, found {}", kind_of(record)),
        ));
    }
    check_version(record)?;
    let class = required_i64(record, "/class_uid")?;
    if class / 1000 != IAM_CATEGORY {
        return Ok(Reading::OutOfScope(format!("ocsf:{class}")));
    }
    if let Some(category) = objects::optional_i64(record, "/category_uid")?
        && category != IAM_CATEGORY
    {
        return Err(FieldError::new(
            "/category_uid",
            format!("class {class} is in category {IAM_CATEGORY}, found {category}"),
        ));
    }
    let Some(class_name) = activities::class_name(class) else {
        return Err(FieldError::new(
            "/class_uid",
            format!("{class} is not an IAM class of OCSF 1.0 to 1.9 (3001 to 3008)"),
        ));
    };
    let activity_id = required_i64(record, "/activity_id")?;
    let out_of_scope = Reading::OutOfScope(format!("ocsf:{class}:{activity_id}"));
    // Unknown (0) and Other (99) name no activity idledger could record.
    if activity_id == 0 || activity_id == 99 {
        return Ok(out_of_scope);
    }
    let Some(activity) = activities::activity(class, activity_id) else {
        return Err(FieldError::new(
            "/activity_id",
            format!("{activity_id} is not an activity of {class_name} ({class})"),
        ));
    };
    if let Action::OutOfScope(_) = activity.action {
        return Ok(out_of_scope);
    }
    let context = Context::read(record, activity)?;
    drafts::read(&context)
}

/// `metadata.version` must be an OCSF 1.x version (`1.0.0`, `1.9.0-dev`): minor versions add
/// to the schema without changing what it had, a major version may change anything.
fn check_version(record: &Value) -> Result<(), FieldError> {
    const FIELD: &str = "/metadata/version";
    let version = required_str(record, FIELD)?;
    let major = version.split(['.', '-']).next().unwrap_or_default();
    if major == "1" {
        Ok(())
    } else {
        Err(FieldError::new(
            FIELD,
            format!("expected an OCSF 1.x version (1.0 to 1.9), found `{version}`"),
        ))
    }
}

/// What every event of one record shares.
struct Context<'v> {
    record: &'v Value,
    activity: &'static Activity,
    source: String,
    /// The reporting product by name (else vendor): the actor of Authorize Session.
    product: String,
    uid: &'v str,
    time: Timestamp,
    outcome: Outcome,
    actor: Option<DraftActor>,
    attributes: Vec<(String, AttrValue)>,
}

impl<'v> Context<'v> {
    fn read(record: &'v Value, activity: &'static Activity) -> Result<Context<'v>, FieldError> {
        let uid = required_str(record, "/metadata/uid")?;
        if uid.is_empty() {
            return Err(FieldError::new("/metadata/uid", "must not be empty"));
        }
        let time = time_from_unix_millis("/time", required_i64(record, "/time")?)?;
        let status = objects::optional_i64(record, "/status_id")?;
        if let Some(status) = status
            && !STATUS_IDS.contains(&status)
        {
            return Err(FieldError::new(
                "/status_id",
                format!("expected 0, 1, 2 or 99, found {status}"),
            ));
        }
        let outcome = if status == Some(STATUS_FAILURE) {
            Outcome::Failed
        } else {
            Outcome::Succeeded
        };
        let (source, product) = source(record)?;
        let mut context = Context {
            record,
            activity,
            source,
            product,
            uid,
            time,
            outcome,
            actor: objects::actor(record)?,
            attributes: Vec::new(),
        };
        context.common_attributes(status)?;
        Ok(context)
    }

    /// The attributes every event of the record gets.
    fn common_attributes(&mut self, status: Option<i64>) -> Result<(), FieldError> {
        self.attributes = vec![
            (
                "ocsf.class_uid".into(),
                AttrValue::Integer(self.activity.class),
            ),
            (
                "ocsf.activity_id".into(),
                AttrValue::Integer(self.activity.id),
            ),
            (
                "ocsf.activity".into(),
                AttrValue::Text(self.activity.name.to_owned()),
            ),
        ];
        if let Some(status) = status {
            self.attributes
                .push(("ocsf.status_id".into(), AttrValue::Integer(status)));
        }
        for (key, pointer) in [
            ("ocsf.version", "/metadata/version"),
            ("ocsf.correlation_uid", "/metadata/correlation_uid"),
            ("ocsf.status_detail", "/status_detail"),
            ("ocsf.src_endpoint.ip", "/src_endpoint/ip"),
        ] {
            self.attributes
                .extend(text_attribute(self.record, key, pointer)?);
        }
        Ok(())
    }

    /// The actor, which every event but an authentication needs: the record must say who
    /// acted. Authorize Session reports what the system gave a new logon, and its records name
    /// no actor: there the reporting product is the (system) actor.
    fn required_actor(&self) -> Result<DraftActor, FieldError> {
        match &self.actor {
            Some(actor) => Ok(actor.clone()),
            None if self.activity.class == AUTHORIZE_SESSION => Ok(DraftActor {
                id: self.product.clone(),
                kind: ActorKind::System,
                mfa: None,
            }),
            None => Err(FieldError::missing("/actor")),
        }
    }

    /// A draft of `kind` about `subject` with what the record's events share and the record's
    /// actor (required).
    fn draft(&self, kind: EventType, subject: DraftSubject) -> Result<Draft, FieldError> {
        self.draft_by(kind, subject, self.required_actor()?)
    }

    /// A draft of `kind` about `subject` by `actor`.
    fn draft_by(
        &self,
        kind: EventType,
        subject: DraftSubject,
        actor: DraftActor,
    ) -> Result<Draft, FieldError> {
        let mut draft = Draft::new(&self.source, self.uid, kind, self.time, subject);
        draft.actor = Some(actor);
        draft.outcome = self.outcome;
        draft.attributes = self.attributes.clone();
        draft.reason = optional_str(self.record, "/comment")?
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(draft)
    }
}

/// The text at `pointer` as attribute `key`, if it is there, not too long and free of control
/// characters: an extra the event could not hold is left out, not a reason to quarantine it.
fn text_attribute(
    record: &Value,
    key: &str,
    pointer: &str,
) -> Result<Option<(String, AttrValue)>, FieldError> {
    Ok(optional_str(record, pointer)?
        .filter(|text| {
            !text.is_empty()
                && text.chars().count() <= ATTRIBUTE_TEXT_MAX
                && !text.chars().any(char::is_control)
        })
        .map(|text| (key.to_owned(), AttrValue::Text(text.to_owned()))))
}

/// The dedupe namespace: `ocsf:<vendor_name>/<product name>`, either alone when only one is
/// given, and `:<tenant_uid>` after it when the record names its tenant; and the product's
/// name (else its vendor's).
fn source(record: &Value) -> Result<(String, String), FieldError> {
    let text = |pointer| -> Result<Option<&str>, FieldError> {
        Ok(optional_str(record, pointer)?.filter(|t| !t.is_empty()))
    };
    let vendor = text("/metadata/product/vendor_name")?;
    let product = text("/metadata/product/name")?;
    let mut source = match (vendor, product) {
        (Some(vendor), Some(product)) => format!("ocsf:{vendor}/{product}"),
        (Some(one), None) | (None, Some(one)) => format!("ocsf:{one}"),
        (None, None) => {
            let field = if at(record, "/metadata/product").is_some() {
                "/metadata/product/name"
            } else {
                "/metadata/product"
            };
            return Err(FieldError::new(
                field,
                "required: the product that reported the event, by `name` or `vendor_name`",
            ));
        }
    };
    if let Some(tenant) = text("/metadata/tenant_uid")? {
        source.push(':');
        source.push_str(tenant);
    }
    let name = product.or(vendor).unwrap_or_default().to_owned();
    Ok((source, name))
}
