//! How flags, the environment and the configuration file resolve into settings, and the
//! errors for wrong values, each naming where it was given.

use super::*;
use clap::Parser as _;

fn resolve(args: &[&str], file: &str) -> anyhow::Result<Settings> {
    let cli = Cli::try_parse_from(std::iter::once("idledger").chain(args.iter().copied()))?;
    let config: Config = toml::from_str(file)?;
    Settings::resolve(cli, config)
}

#[test]
fn flags_override_the_file_and_the_file_the_defaults() {
    let s = resolve(
        &["report", "--data", "/d", "rotation"],
        "[report]\nmax_credential_age_days = 30\n",
    )
    .expect("resolves");
    assert!(
        matches!(
            s.job,
            Job::Report {
                max_age_days: 30,
                ..
            }
        ),
        "{s:?}"
    );
    let s = resolve(
        &["report", "--data", "/d", "rotation", "--max-age-days", "7"],
        "[report]\nmax_credential_age_days = 30\n",
    )
    .expect("resolves");
    assert!(
        matches!(
            s.job,
            Job::Report {
                max_age_days: 7,
                ..
            }
        ),
        "{s:?}"
    );
    let s = resolve(&["report", "--data", "/d", "drift"], "").expect("resolves");
    assert!(matches!(
        s.job,
        Job::Report {
            max_age_days: 90,
            name: ReportName::Drift,
            ..
        }
    ));
    let s = resolve(&["vkey"], "data = \"/from/file\"\nkey_dir = \"/keys\"\n").expect("resolves");
    let Job::Vkey(paths) = s.job else { panic!() };
    assert_eq!(
        (paths.data, paths.keys),
        (PathBuf::from("/from/file"), PathBuf::from("/keys"))
    );
    let s = resolve(
        &["--log-format", "json", "checkpoint", "--data", "/d"],
        "log_format = \"text\"\n",
    )
    .expect("resolves");
    assert_eq!(s.log_format, LogFormat::Json);
}

/// `--tiles` over `[serve] tiles` over `public`; any other value refused naming the choices.
#[test]
fn tiles_access_is_resolved_and_checked() {
    let tiles = |args: &[&str], file: &str| {
        let argv: Vec<&str> = ["serve", "--data", "/d"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        match resolve(&argv, file).map(|s| s.job) {
            Ok(Job::Serve(s)) => Ok(s.tiles),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(format!("{e:#}")),
        }
    };
    let file = "[serve]\ntiles = \"auditor\"\n";
    assert_eq!(tiles(&[], ""), Ok(TileAccess::Public));
    assert_eq!(tiles(&[], file), Ok(TileAccess::Auditor));
    assert_eq!(tiles(&["--tiles", "off"], file), Ok(TileAccess::Off));
    assert_eq!(tiles(&["--tiles", "public"], file), Ok(TileAccess::Public));
    for (args, file) in [
        (&["--tiles", "private"][..], ""),
        (&[][..], "[serve]\ntiles = \"private\"\n"),
    ] {
        let e = tiles(args, file).expect_err("refused");
        assert!(
            e.contains("private") && e.contains("public") && e.contains("auditor"),
            "{e}"
        );
    }
}

/// Each wrong value is refused with a message naming it.
#[test]
fn wrong_values_are_refused_where_they_are_given() {
    let cases: [(&[&str], &str, &str); 7] = [
        (
            &["checkpoint", "--data", "/d"],
            "log_format = \"jsn\"\n",
            "jsn",
        ),
        (
            &["report", "--data", "/d", "rotations"],
            "",
            "no report `rotations`",
        ),
        (
            &[
                "access",
                "--data",
                "/d",
                "--resource",
                "db",
                "--at",
                "yesterday",
            ],
            "",
            "yesterday",
        ),
        (
            &[
                "grant",
                "--data",
                "/d",
                "g",
                "--now",
                "2026-13-01T00:00:00Z",
            ],
            "",
            "2026-13-01",
        ),
        (
            &["dev-broker", "--topic", "t:0"],
            "",
            "partitions must be a number of at least 1",
        ),
        (
            &["ingest", "--data", "/d", "--brokers", "b:9092"],
            "",
            "no topics",
        ),
        (&["checkpoint"], "", "no ledger directory"),
    ];
    for (args, file, says) in cases {
        let err = resolve(args, file).expect_err("refused");
        let text = format!("{err:#}");
        assert!(text.contains(says), "{args:?}: {text}");
    }
    let err = resolve(
        &["serve", "--data", "/d"],
        "[[serve.tokens]]\nname = \"a\"\ntoken = \"0123456789abcdefghijk\"\nrole = \"auditr\"\n",
    )
    .expect_err("an unknown role");
    assert!(format!("{err:#}").contains("auditr"), "{err:#}");
}
