//! The librdkafka properties ingest runs with, from every place they may come from: the
//! configuration file's `[ingest.kafka]` (values), `[ingest.kafka_env]` (the name of an
//! environment variable holding the value) and `[ingest.kafka_file]` (a file holding it), then
//! the command line's `-X KEY=VALUE`, `--kafka-env KEY=VAR` and `--kafka-file KEY=PATH`, later
//! ones overriding earlier ones. Secrets belong in a variable or a file: a secret given with `-X`
//! works but is warned about, since any user on the host sees a process's arguments.

use anyhow::{Context as _, bail};
use idledger_ingest::secrets::is_secret_property;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where one property's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Given as is.
    Value(String),
    /// Read from this environment variable.
    Env(String),
    /// Read from this file (one trailing line ending removed).
    File(PathBuf),
}

/// A property, where its value comes from, and whether it was given on the command line.
pub type Sourced = (String, Source, bool);

/// The properties resolved to values, in order, and warnings to log once logging is set up.
#[derive(Debug, Default)]
pub struct Resolved {
    pub properties: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

/// Splits `KEY=VALUE` as `flag` takes it.
pub fn key_value<'a>(flag: &str, text: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim(), v)),
        _ => bail!("{flag} {text}: expected KEY=VALUE"),
    }
}

/// Resolves `sources` (in order) to values. `from_command_line` marks the ones given as flags:
/// a secret among them given as a value is warned about.
pub fn resolve(
    sources: &[Sourced],
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Resolved> {
    let mut out = Resolved::default();
    for (key, source, from_command_line) in sources {
        let value = match source {
            Source::Value(v) => {
                if *from_command_line && is_secret_property(key) {
                    out.warnings.push(format!(
                        "-X {key}=… puts a secret on the command line, where any user of this \
                         host can read it (ps); use --kafka-env {key}=VARIABLE or --kafka-file \
                         {key}=PATH, or [ingest.kafka_env] in the configuration file"
                    ));
                }
                v.clone()
            }
            Source::Env(var) => env(var).with_context(|| {
                format!("Kafka property {key}: environment variable {var} is not set")
            })?,
            Source::File(path) => read_value(key, path)?,
        };
        if value.is_empty() && is_secret_property(key) {
            bail!("Kafka property {key} is empty");
        }
        out.properties.push((key.clone(), value));
    }
    Ok(out)
}

/// A property's value from a file: its text, without one trailing line ending.
fn read_value(key: &str, path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "Kafka property {key}: cannot read {} (a UTF-8 text file holding the value)",
            path.display()
        )
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

/// Refuses SASL without a mechanism, and GSSAPI without a keytab or kinit command: librdkafka
/// would fail at start-up with an error about a Kerberos property, not the choice to make.
pub fn check_sasl(properties: &[(String, String)]) -> anyhow::Result<()> {
    let last = |key: &str| {
        properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let sasl =
        last("security.protocol").is_some_and(|p| p.to_ascii_uppercase().starts_with("SASL_"));
    let mechanism = last("sasl.mechanism").or(last("sasl.mechanisms"));
    let gssapi = mechanism.is_some_and(|m| m.eq_ignore_ascii_case("GSSAPI"));
    if sasl
        && gssapi
        && last("sasl.kerberos.keytab").is_none()
        && last("sasl.kerberos.kinit.cmd").is_none()
    {
        bail!(
            "sasl.mechanism is GSSAPI (Kerberos) but neither sasl.kerberos.keytab nor \
             sasl.kerberos.kinit.cmd is set: librdkafka runs kinit with the keytab to get a \
             ticket; set sasl.kerberos.keytab and sasl.kerberos.principal"
        );
    }
    if sasl && mechanism.is_none() {
        bail!(
            "security.protocol is SASL but no sasl.mechanism is set: set it to PLAIN, \
             SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (with sasl.username and the password \
             from --kafka-env or --kafka-file), or to GSSAPI for Kerberos (with \
             sasl.kerberos.keytab and sasl.kerberos.principal)"
        );
    }
    Ok(())
}

/// The sources of the configuration file's three tables, in their order.
pub fn from_file(
    values: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
    files: &BTreeMap<String, PathBuf>,
) -> Vec<Sourced> {
    let values = values
        .iter()
        .map(|(k, v)| (k.clone(), Source::Value(v.clone()), false));
    let env = env
        .iter()
        .map(|(k, v)| (k.clone(), Source::Env(v.clone()), false));
    let files = files
        .iter()
        .map(|(k, v)| (k.clone(), Source::File(v.clone()), false));
    values.chain(env).chain(files).collect()
}

/// The sources of the command line's `-X`, `--kafka-env` and `--kafka-file`, in that order.
pub fn from_flags(
    values: &[String],
    env: &[String],
    files: &[String],
) -> anyhow::Result<Vec<Sourced>> {
    let mut out = Vec::new();
    for p in values {
        let (k, v) = key_value("-X", p)?;
        out.push((k.to_owned(), Source::Value(v.to_owned()), true));
    }
    for p in env {
        let (k, v) = key_value("--kafka-env", p)?;
        out.push((k.to_owned(), Source::Env(v.to_owned()), true));
    }
    for p in files {
        let (k, v) = key_value("--kafka-file", p)?;
        out.push((k.to_owned(), Source::File(PathBuf::from(v)), true));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "KAFKA_PW").then(|| "from-env".to_owned())
    }

    #[test]
    fn every_source_resolves_and_later_ones_come_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").expect("write");
        let mut sources = from_file(
            &BTreeMap::from([("sasl.username".into(), "idledger".into())]),
            &BTreeMap::from([("sasl.password".into(), "KAFKA_PW".into())]),
            &BTreeMap::new(),
        );
        sources.extend(
            from_flags(
                &["security.protocol=SASL_SSL".into()],
                &[],
                &[format!("ssl.key.password={}", file.display())],
            )
            .expect("flags"),
        );
        let r = resolve(&sources, env).expect("resolve");
        assert_eq!(
            r.properties,
            [
                ("sasl.username", "idledger"),
                ("sasl.password", "from-env"),
                ("security.protocol", "SASL_SSL"),
                ("ssl.key.password", "from-file"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn a_secret_on_the_command_line_is_warned_about_without_its_value() {
        let sources = from_flags(&["sasl.password=hunter2".into()], &[], &[]).expect("flags");
        let r = resolve(&sources, env).expect("resolve");
        assert_eq!(r.properties[0].1, "hunter2");
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].contains("--kafka-env sasl.password"),
            "{}",
            r.warnings[0]
        );
        assert!(!r.warnings[0].contains("hunter2"), "{}", r.warnings[0]);
        // The same secret from the configuration file is not warned about.
        let sources = from_file(
            &BTreeMap::from([("sasl.password".into(), "hunter2".into())]),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        assert!(resolve(&sources, env).expect("resolve").warnings.is_empty());
    }

    #[test]
    fn sasl_needs_a_mechanism() {
        let props = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let cases = [
            (props(&[("security.protocol", "SASL_SSL")]), false),
            (props(&[("security.protocol", "sasl_plaintext")]), false),
            (
                props(&[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "PLAIN"),
                ]),
                true,
            ),
            (
                props(&[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanisms", "GSSAPI"),
                ]),
                false,
            ),
            (
                props(&[
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "GSSAPI"),
                    ("sasl.kerberos.keytab", "/etc/idledger/kafka.keytab"),
                ]),
                true,
            ),
            (props(&[("security.protocol", "SSL")]), true),
            (props(&[]), true),
        ];
        for (p, fine) in cases {
            assert_eq!(check_sasl(&p).is_ok(), fine, "{p:?}");
        }
    }

    #[test]
    fn missing_sources_are_errors_that_name_them_and_never_a_value() {
        let cases: Vec<(Vec<Sourced>, &str)> = vec![
            (
                vec![(
                    "sasl.password".into(),
                    Source::Env("NOT_SET_ANYWHERE".into()),
                    true,
                )],
                "Kafka property sasl.password: environment variable NOT_SET_ANYWHERE is not set",
            ),
            (
                vec![(
                    "sasl.password".into(),
                    Source::File("/nonexistent/pw".into()),
                    true,
                )],
                "Kafka property sasl.password: cannot read /nonexistent/pw",
            ),
            (
                vec![("sasl.password".into(), Source::Value(String::new()), false)],
                "Kafka property sasl.password is empty",
            ),
        ];
        for (sources, want) in cases {
            let e = resolve(&sources, env).expect_err(want);
            assert!(format!("{e:#}").starts_with(want), "{e:#}");
        }
        for bad in ["novalue", "=x"] {
            let e = from_flags(&[bad.into()], &[], &[]).expect_err(bad);
            assert_eq!(e.to_string(), format!("-X {bad}: expected KEY=VALUE"));
        }
    }
}
