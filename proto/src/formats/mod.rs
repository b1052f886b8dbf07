//! Source formats: identity events as SIEM feeds and identity systems send them (OCSF,
//! CloudEvents, Security Event Tokens, CloudTrail, Okta, Entra ID, GitHub, Vault), mapped to
//! idledger events that meet the native rules, with what each came from (docs/FORMATS.md).
//!
//! A format's module reads one parsed message and says, per record in it, what it is: an event
//! (`Mapped`), a well-formed record outside idledger's scope (counted, never quarantined), or a
//! record that claims the format but cannot be read as it (quarantined, naming the field).

pub mod draft;
pub mod message;

mod cloudevents;
mod cloudtrail;
mod entra;
mod github;
mod ocsf;
mod okta;
pub mod secevent;
#[cfg(test)]
pub(crate) mod test_support;
mod vault;

pub use draft::{Draft, DraftActor, DraftCredential, DraftSubject, FieldError};

/// The input format of a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputFormat {
    Native,
    Ocsf,
    CloudEvents,
    SecEvent,
    CloudTrail,
    Okta,
    Entra,
    Github,
    Vault,
    /// Any of the above, recognised by its shape (docs/FORMATS.md).
    Auto,
}

impl InputFormat {
    pub const ALL: [InputFormat; 10] = [
        InputFormat::Native,
        InputFormat::Ocsf,
        InputFormat::CloudEvents,
        InputFormat::SecEvent,
        InputFormat::CloudTrail,
        InputFormat::Okta,
        InputFormat::Entra,
        InputFormat::Github,
        InputFormat::Vault,
        InputFormat::Auto,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Native => "native",
            InputFormat::Ocsf => "ocsf",
            InputFormat::CloudEvents => "cloudevents",
            InputFormat::SecEvent => "secevent",
            InputFormat::CloudTrail => "cloudtrail",
            InputFormat::Okta => "okta",
            InputFormat::Entra => "entra",
            InputFormat::Github => "github",
            InputFormat::Vault => "vault",
            InputFormat::Auto => "auto",
        }
    }

    pub fn parse(text: &str) -> Option<InputFormat> {
        InputFormat::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event a record maps to.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    pub draft: Draft,
    /// The source's own id of the record (an Okta `uuid`, a CloudTrail `eventID`): kept in the
    /// entry's provenance, whatever `draft.id` became.
    pub event_id: String,
    /// Where the record is inside the message, as a JSON pointer (RFC 6901): empty when the
    /// message is the record, `/Records/3` for the fourth record of a CloudTrail log file.
    pub pointer: String,
    /// The CloudEvents envelope the record arrived in, if it did.
    pub envelope: Option<Envelope>,
    /// The format the record was read as, when it differs from the message's (CloudEvents data
    /// read by its routed format); set by `map_parsed`.
    pub format: Option<InputFormat>,
    /// Whether a signed record was verified, and by which key (Security Event Tokens).
    pub signature: Option<crate::source_record::RecordSignature>,
}

/// A CloudEvents envelope's identity: kept with the event, not part of what deduplicates it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub id: String,
    pub source: String,
    pub kind: String,
    pub time: Option<String>,
}

/// What one record of a message is.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordOutcome {
    Event(Box<Mapped>),
    /// Well-formed but outside idledger's scope: counted by `kind`, the source's own type name
    /// (`policy.evaluate_sign_on`, `s3.amazonaws.com:GetObject`).
    OutOfScope {
        kind: String,
    },
    /// Claims the format but cannot be read as it.
    Malformed {
        pointer: String,
        error: FieldError,
    },
}

impl RecordOutcome {
    pub fn event(draft: Draft, event_id: impl Into<String>, pointer: impl Into<String>) -> Self {
        RecordOutcome::Event(Box::new(Mapped {
            draft,
            event_id: event_id.into(),
            pointer: pointer.into(),
            envelope: None,
            format: None,
            signature: None,
        }))
    }
    pub fn out_of_scope(kind: impl Into<String>) -> Self {
        RecordOutcome::OutOfScope { kind: kind.into() }
    }
}

/// A Kafka message as a format reads it: the payload and the headers (CloudEvents' binary mode
/// carries its envelope in `ce_*` headers).
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub payload: &'a [u8],
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// How formats are read, from configuration.
#[derive(Clone, Debug, Default)]
pub struct FormatSettings {
    /// Keep each mapped record's original bytes in its entry (secrets redacted as native
    /// payloads are; then the hash only).
    pub keep_original: bool,
    /// CloudEvents: which format a `type` (matched by prefix, longest first) or `dataschema`
    /// decodes `data` by.
    pub cloudevents_routes: Vec<(String, InputFormat)>,
    /// Security Event Tokens: the keys a JWS is verified against.
    pub jwks: Option<std::sync::Arc<secevent::Jwks>>,
}

/// The records of a parsed message read as `format` (one that reads parsed JSON; CloudEvents
/// uses this for the data it routes).
pub(crate) fn map_parsed(
    format: InputFormat,
    doc: &serde_json::Value,
    settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    let mut records = match format {
        InputFormat::Ocsf => ocsf::map(doc, settings),
        InputFormat::CloudTrail => cloudtrail::map(doc, settings),
        InputFormat::Okta => okta::map(doc, settings),
        InputFormat::Entra => entra::map(doc, settings),
        InputFormat::Github => github::map(doc, settings),
        InputFormat::Vault => vault::map(doc, settings),
        InputFormat::SecEvent | InputFormat::CloudEvents => {
            let payload = serde_json::to_vec(doc)
                .map_err(|_| FieldError::new("", "cannot be written as JSON"))?;
            map_message(
                format,
                Message {
                    payload: &payload,
                    headers: &[],
                },
                settings,
            )
        }
        InputFormat::Native | InputFormat::Auto => Err(FieldError::new(
            "",
            format!("`{format}` is not a format data can be routed to"),
        )),
    }?;
    for record in &mut records {
        if let RecordOutcome::Event(mapped) = record {
            mapped.format.get_or_insert(format);
        }
    }
    Ok(records)
}

/// The records of a message read as `format` (not `native` or `auto`, which the caller
/// handles).
pub(crate) fn map_message(
    format: InputFormat,
    message: Message<'_>,
    settings: &FormatSettings,
) -> Result<Vec<RecordOutcome>, FieldError> {
    match format {
        InputFormat::CloudEvents => cloudevents::map_message(message, settings),
        InputFormat::SecEvent => secevent::map_message(message, settings),
        other => {
            let doc: serde_json::Value =
                serde_json::from_slice(message.payload).map_err(|e| not_json(&e))?;
            map_parsed(other, &doc, settings)
        }
    }
}

/// The formats whose shape a parsed message has (`auto`): exactly one is needed.
pub(crate) fn recognised(doc: &serde_json::Value) -> Vec<InputFormat> {
    type Recognises = fn(&serde_json::Value) -> bool;
    let checks: [(InputFormat, Recognises); 8] = [
        (InputFormat::Ocsf, ocsf::recognises),
        (InputFormat::CloudEvents, cloudevents::recognises),
        (InputFormat::SecEvent, secevent::recognises),
        (InputFormat::CloudTrail, cloudtrail::recognises),
        (InputFormat::Okta, okta::recognises),
        (InputFormat::Entra, entra::recognises),
        (InputFormat::Github, github::recognises),
        (InputFormat::Vault, vault::recognises),
    ];
    checks
        .into_iter()
        .filter(|(_, recognises)| recognises(doc))
        .map(|(format, _)| format)
        .collect()
}

/// A payload that is not JSON, in the project's words (a dependency's message is never stored in
/// a leaf): where the reading stopped.
pub(crate) fn not_json(e: &serde_json::Error) -> FieldError {
    FieldError::new(
        "",
        format!(
            "not JSON: it stops at line {} column {}",
            e.line(),
            e.column()
        ),
    )
}
