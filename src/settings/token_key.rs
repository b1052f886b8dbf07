//! The `--pkcs11-*` flags of `init` and `rotate-key`, resolved into the token key they name
//! (no token is opened here: that is the ledger's, when it signs).

use crate::cli::Pkcs11Args;
use anyhow::{Context as _, bail};
use idledger_ledger::pkcs11::{KeySelector, PinSource, TokenRef};

/// The token key the flags name, if any. Clap has required the set to be whole; paths are made
/// absolute, since every later command that signs reads them from the key directory.
pub fn resolve(args: Pkcs11Args) -> anyhow::Result<Option<TokenRef>> {
    let Some(module) = args.pkcs11_module else {
        return Ok(None);
    };
    let key = match (args.pkcs11_key_id, args.pkcs11_key_label) {
        (Some(id), _) => KeySelector::Id(
            TokenRef::parse_id(&id).map_err(|e| anyhow::anyhow!("--pkcs11-key-id: {e}"))?,
        ),
        (None, Some(label)) => KeySelector::Label(label),
        (None, None) => bail!("--pkcs11-module needs --pkcs11-key-id or --pkcs11-key-label"),
    };
    let pin = match (args.pkcs11_pin_env, args.pkcs11_pin_file) {
        (Some(var), _) => PinSource::Env(var),
        (None, Some(path)) => PinSource::File(std::path::absolute(&path)?),
        (None, None) => bail!("--pkcs11-module needs --pkcs11-pin-env or --pkcs11-pin-file"),
    };
    let token = args
        .pkcs11_token
        .context("--pkcs11-module needs --pkcs11-token LABEL")?;
    let module = std::path::absolute(&module)?;
    let token =
        TokenRef::new(module, token, key, pin).map_err(|e| anyhow::anyhow!("--pkcs11-*: {e}"))?;
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser as _;

    fn flags(extra: &[&str]) -> Result<Option<TokenRef>, String> {
        let mut args = vec!["idledger", "init", "--data", "/d"];
        args.extend_from_slice(extra);
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        let Command::Init { pkcs11, .. } = cli.command else {
            panic!("parsed as init");
        };
        resolve(pkcs11).map_err(|e| e.to_string())
    }

    #[test]
    fn the_flags_name_one_token_key_or_none() {
        assert_eq!(flags(&[]), Ok(None));
        let module = ["--pkcs11-module", "/m.so", "--pkcs11-token", "t"];
        let by_id = flags(
            &[
                &module[..],
                &["--pkcs11-key-id", "0a", "--pkcs11-pin-env", "P"],
            ]
            .concat(),
        )
        .expect("resolves")
        .expect("a token key");
        assert_eq!(by_id.key, KeySelector::Id(vec![0x0a]));
        assert_eq!(by_id.pin, PinSource::Env("P".into()));
        let by_label = flags(
            &[
                &module[..],
                &["--pkcs11-key-label", "k", "--pkcs11-pin-file", "pin"],
            ]
            .concat(),
        )
        .expect("resolves")
        .expect("a token key");
        assert_eq!(by_label.key, KeySelector::Label("k".into()));
        assert!(
            matches!(&by_label.pin, PinSource::File(p) if p.is_absolute() && p.ends_with("pin"))
        );
    }

    #[test]
    fn incomplete_or_contradictory_flags_are_refused() {
        let module = ["--pkcs11-module", "/m.so", "--pkcs11-token", "t"];
        for (extra, expected) in [
            (vec!["--pkcs11-module", "/m.so"], "--pkcs11-token"),
            (vec!["--pkcs11-token", "t"], "--pkcs11-module"),
            (
                [&module[..], &["--pkcs11-pin-env", "P"]].concat(),
                "--pkcs11-key-id",
            ),
            (
                [&module[..], &["--pkcs11-key-id", "01"]].concat(),
                "--pkcs11-pin-env",
            ),
            (
                [
                    &module[..],
                    &[
                        "--pkcs11-key-id",
                        "01",
                        "--pkcs11-key-label",
                        "k",
                        "--pkcs11-pin-env",
                        "P",
                    ],
                ]
                .concat(),
                "cannot be used with",
            ),
            (
                [
                    &module[..],
                    &["--pkcs11-key-id", "xyz", "--pkcs11-pin-env", "P"],
                ]
                .concat(),
                "not hex",
            ),
            (
                [
                    &module[..],
                    &["--pkcs11-key-id", "01", "--pkcs11-pin-env", ""],
                ]
                .concat(),
                "empty",
            ),
        ] {
            let err = flags(&extra).expect_err(&format!("{extra:?}"));
            assert!(err.contains(expected), "{extra:?}: {err}");
        }
    }
}
