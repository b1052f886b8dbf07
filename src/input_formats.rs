//! Each topic's input format (docs/FORMATS.md): `--format [TOPIC=]FORMAT` flags over the
//! `[ingest]` section's `format` and `[ingest.formats.TOPIC]` tables, resolved into the
//! `TopicFormats` ingest reads with (a JWKS file read and checked here, once).

use anyhow::{Context as _, bail};
use idledger_ingest::config::{TopicFormat, TopicFormats};
use idledger_proto::formats::secevent::Jwks;
use idledger_proto::formats::{FormatSettings, InputFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// `[ingest.formats.TOPIC]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicFormatSection {
    pub format: Option<String>,
    /// Keep each mapped record's original bytes in its entry (secrets redacted, then hash only).
    #[serde(default)]
    pub keep_original: bool,
    /// CloudEvents: `type` or `dataschema` prefix = the format its data is read by.
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    /// Security Event Tokens: verify JWS-signed tokens against this JWKS file.
    pub jwks: Option<PathBuf>,
}

/// The formats of every topic: flags (`TOPIC=FORMAT`, or `FORMAT` for the default) over the
/// file's `default` format and per-topic tables.
pub fn resolve(
    flags: &[String],
    keep_original_flag: bool,
    default: Option<&str>,
    sections: &BTreeMap<String, TopicFormatSection>,
) -> anyhow::Result<TopicFormats> {
    let mut formats = TopicFormats::default();
    if let Some(name) = default {
        formats.default.format = parse(name, "ingest.format")?;
    }
    for (topic, section) in sections {
        let what = format!("ingest.formats.{topic}");
        let format = match &section.format {
            Some(name) => parse(name, &format!("{what}.format"))?,
            None => formats.default.format,
        };
        let settings = settings(section, format, &what)?;
        formats.topics.push((
            topic.clone(),
            TopicFormat {
                format,
                settings: Arc::new(settings),
            },
        ));
    }
    for flag in flags {
        match flag.split_once('=') {
            None => formats.default.format = parse(flag, "--format")?,
            Some((topic, name)) => {
                if topic.is_empty() {
                    bail!("--format {flag}: expected TOPIC=FORMAT or FORMAT");
                }
                let format = parse(name, &format!("--format {flag}"))?;
                match formats.topics.iter_mut().find(|(t, _)| t == topic) {
                    Some((_, existing)) => existing.format = format,
                    None => formats.topics.push((
                        topic.to_owned(),
                        TopicFormat {
                            format,
                            settings: Arc::new(FormatSettings::default()),
                        },
                    )),
                }
            }
        }
    }
    if keep_original_flag {
        for topic in
            std::iter::once(&mut formats.default).chain(formats.topics.iter_mut().map(|(_, f)| f))
        {
            Arc::make_mut(&mut topic.settings).keep_original = true;
        }
    }
    Ok(formats)
}

/// The format of a local file (`idledger append --format`): its flags read as one topic's table.
pub fn for_file(
    name: &str,
    keep_original: bool,
    routes: &[String],
    jwks: Option<PathBuf>,
) -> anyhow::Result<(InputFormat, FormatSettings)> {
    let format = parse(name, "--format")?;
    let mut section = TopicFormatSection {
        format: None,
        keep_original,
        routes: BTreeMap::new(),
        jwks,
    };
    for route in routes {
        let Some((prefix, routed)) = route.split_once('=') else {
            bail!(
                "--route {route}: expected PREFIX=FORMAT (a CloudEvents type or dataschema prefix)"
            );
        };
        if prefix.is_empty() {
            bail!("--route {route}: the prefix is empty");
        }
        section.routes.insert(prefix.to_owned(), routed.to_owned());
    }
    let settings = settings(&section, format, "append")?;
    Ok((format, settings))
}

/// A format by name, or an error that lists the names.
fn parse(name: &str, what: &str) -> anyhow::Result<InputFormat> {
    InputFormat::parse(name).with_context(|| {
        let names: Vec<&str> = InputFormat::ALL.iter().map(|f| f.as_str()).collect();
        format!(
            "{what}: no input format `{name}`; formats are {}",
            names.join(", ")
        )
    })
}

/// A topic table's settings, checked against its format.
fn settings(
    section: &TopicFormatSection,
    format: InputFormat,
    what: &str,
) -> anyhow::Result<FormatSettings> {
    let reads = |f: InputFormat| format == f || format == InputFormat::Auto;
    if !section.routes.is_empty() && !reads(InputFormat::CloudEvents) {
        bail!(
            "{what}.routes: only a cloudevents (or auto) topic routes data, this one is {format}"
        );
    }
    if section.jwks.is_some() && !reads(InputFormat::SecEvent) {
        bail!("{what}.jwks: only a secevent (or auto) topic verifies tokens, this one is {format}");
    }
    let mut routes = Vec::with_capacity(section.routes.len());
    for (prefix, name) in &section.routes {
        let routed = parse(name, &format!("{what}.routes.{prefix}"))?;
        if matches!(
            routed,
            InputFormat::Native | InputFormat::Auto | InputFormat::CloudEvents
        ) {
            bail!("{what}.routes.{prefix}: data can be routed to a source format, not `{routed}`");
        }
        routes.push((prefix.clone(), routed));
    }
    let jwks = match &section.jwks {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("{what}.jwks: reading {}", path.display()))?;
            let keys = Jwks::from_json(&bytes)
                .map_err(|e| anyhow::anyhow!("{what}.jwks: {}: {e}", path.display()))?;
            Some(Arc::new(keys))
        }
    };
    Ok(FormatSettings {
        keep_original: section.keep_original,
        cloudevents_routes: routes,
        jwks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(format: &str) -> TopicFormatSection {
        TopicFormatSection {
            format: Some(format.to_owned()),
            ..TopicFormatSection::default()
        }
    }

    #[test]
    fn flags_override_the_file_and_name_the_default() {
        let sections = BTreeMap::from([
            ("okta".to_owned(), section("okta")),
            ("mixed".to_owned(), section("auto")),
        ]);
        let flags = ["mixed=ocsf".to_owned(), "cloudtrail".to_owned()];
        let f = resolve(&flags, false, Some("native"), &sections).expect("resolves");
        assert_eq!(f.of("okta").format, InputFormat::Okta);
        assert_eq!(f.of("mixed").format, InputFormat::Ocsf);
        assert_eq!(f.of("anything-else").format, InputFormat::CloudTrail);
    }

    #[test]
    fn bad_names_and_misplaced_settings_are_refused_naming_the_setting() {
        // Flags, the file's default format, its topic tables, and what the error must say.
        type Case<'a> = (
            &'a [&'a str],
            Option<&'a str>,
            Vec<(&'a str, TopicFormatSection)>,
            &'a str,
        );
        let cases: [Case<'_>; 5] = [
            (
                &["t=xml"],
                None,
                vec![],
                "--format t=xml: no input format `xml`",
            ),
            (&["=okta"], None, vec![], "expected TOPIC=FORMAT"),
            (
                &[],
                Some("csv"),
                vec![],
                "ingest.format: no input format `csv`",
            ),
            (
                &[],
                None,
                vec![(
                    "t",
                    TopicFormatSection {
                        routes: BTreeMap::from([("com.okta".into(), "okta".into())]),
                        ..section("okta")
                    },
                )],
                "ingest.formats.t.routes: only a cloudevents",
            ),
            (
                &[],
                None,
                vec![(
                    "t",
                    TopicFormatSection {
                        routes: BTreeMap::from([("x".into(), "native".into())]),
                        ..section("cloudevents")
                    },
                )],
                "ingest.formats.t.routes.x: data can be routed to a source format",
            ),
        ];
        for (flags, default, sections, want) in cases {
            let flags: Vec<String> = flags.iter().map(|s| (*s).to_owned()).collect();
            let sections = sections
                .into_iter()
                .map(|(t, s)| (t.to_owned(), s))
                .collect();
            let err = resolve(&flags, false, default, &sections).expect_err(want);
            assert!(
                format!("{err:#}").contains(want),
                "{err:#} should say {want}"
            );
        }
    }

    #[test]
    fn keep_original_from_the_flag_reaches_every_topic() {
        let sections = BTreeMap::from([("okta".to_owned(), section("okta"))]);
        let f = resolve(&[], true, None, &sections).expect("resolves");
        assert!(f.of("okta").settings.keep_original);
        assert!(f.of("other").settings.keep_original);
    }
}
