//! The witnesses ingest submits checkpoints to (docs/WITNESS.md): `--witness URL=VKEY` flags
//! and `[[ingest.witnesses]]` tables (url, key, ca) resolved into the ingest crate's
//! `WitnessingConfig`, every URL and key checked before ingest starts.

use anyhow::{Context as _, bail};
use idledger_ingest::witnessing::WitnessingConfig;
use idledger_proto::cosignature::CosignerKey;
use idledger_witness::client::WitnessEndpoint;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[[ingest.witnesses]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSection {
    /// Where it listens: `http://host:port` or `https://host[/prefix]`.
    pub url: String,
    /// Its cosignature verifier key (`name+id+base64`, type 0x04).
    pub key: String,
    /// PEM file of the roots its HTTPS certificate chains to (default: the system's).
    pub ca: Option<PathBuf>,
}

/// Flags (`URL=VKEY`, each adding a witness) with the file's tables; the interval in
/// milliseconds, from the flag or the file.
pub fn resolve(
    flags: &[String],
    sections: &[WitnessSection],
    interval_ms: Option<u64>,
) -> anyhow::Result<WitnessingConfig> {
    let mut config = WitnessingConfig::default();
    for (i, section) in sections.iter().enumerate() {
        let what = format!("ingest.witnesses[{i}]");
        config.witnesses.push(endpoint(
            &section.url,
            &section.key,
            section.ca.as_deref(),
            &what,
        )?);
    }
    for flag in flags {
        let Some((url, key)) = flag.split_once('=') else {
            bail!("--witness {flag}: expected URL=VKEY");
        };
        config
            .witnesses
            .push(endpoint(url, key, None, &format!("--witness {flag}"))?);
    }
    for (i, w) in config.witnesses.iter().enumerate() {
        if config.witnesses[..i].iter().any(|o| o.key == w.key) {
            bail!("the witness key {} is configured twice", w.key);
        }
    }
    if let Some(ms) = interval_ms {
        if ms == 0 {
            bail!("the witness interval must be at least 1 ms");
        }
        config.interval = Duration::from_millis(ms);
    }
    Ok(config)
}

fn endpoint(
    url: &str,
    key: &str,
    ca: Option<&std::path::Path>,
    what: &str,
) -> anyhow::Result<WitnessEndpoint> {
    let key = CosignerKey::parse(key).with_context(|| {
        format!("{what}: not a witness verifier key (name+id+base64, type 0x04)")
    })?;
    WitnessEndpoint::new(url, key, ca).with_context(|| what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_tables_become_endpoints_and_mistakes_are_named() {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let key = CosignerKey::new("witness.example/w1", signing.verifying_key()).expect("key");
        let key = key.to_string();
        let table = WitnessSection {
            url: "http://127.0.0.1:7001".into(),
            key: key.clone(),
            ca: None,
        };
        // Flags, whether the file has one witness table, the interval, and the witnesses
        // configured or a part of the error.
        type Case<'a> = (&'a [&'a str], bool, Option<u64>, Result<usize, &'a str>);
        let cases: &[Case<'_>] = &[
            (&[], true, None, Ok(1)),
            (&[], false, Some(500), Ok(0)),
            (
                &["http://127.0.0.1:7002=x"],
                false,
                None,
                Err("not a witness verifier key"),
            ),
            (
                &["http://127.0.0.1:7002"],
                false,
                None,
                Err("expected URL=VKEY"),
            ),
            (&[], false, Some(0), Err("at least 1 ms")),
        ];
        for (flags, with_table, interval, want) in cases {
            let flags: Vec<String> = flags.iter().map(|s| (*s).to_owned()).collect();
            let sections: &[WitnessSection] = if *with_table {
                std::slice::from_ref(&table)
            } else {
                &[]
            };
            let got = resolve(&flags, sections, *interval);
            match (got, want) {
                (Ok(c), Ok(n)) => assert_eq!(c.witnesses.len(), *n, "{flags:?}"),
                (Err(e), Err(text)) => {
                    assert!(format!("{e:#}").contains(text), "{flags:?}: {e:#}");
                }
                (got, want) => panic!("{flags:?}: got {got:?}, want {want:?}"),
            }
        }
        let twice = resolve(
            &[format!("http://127.0.0.1:7002={key}")],
            std::slice::from_ref(&table),
            None,
        );
        assert!(format!("{:#}", twice.expect_err("twice")).contains("configured twice"));
    }
}
