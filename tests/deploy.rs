//! The systemd units and example configuration in deploy/: systemd accepts the units
//! (`systemd-analyze verify`, where systemd is installed), they keep the hardening
//! docs/ARCHITECTURE.md relies on, and the binary reads the example configuration.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

/// A unit's `[Service]` settings, each key with its values in order.
fn service_section(unit: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=VALUE: {line}"));
        if section == "Service" {
            out.entry(k.to_owned()).or_default().push(v.to_owned());
        }
    }
    out
}

fn unit(name: &str) -> String {
    std::fs::read_to_string(Path::new(DEPLOY).join(name)).expect("read unit")
}

#[test]
fn units_are_hardened_as_documented() {
    // (unit, the key, its one value: None when the key must be absent)
    let expected: &[(&str, &str, Option<&str>)] = &[
        ("idledger-ingest.service", "User", Some("idledger")),
        ("idledger-ingest.service", "NoNewPrivileges", Some("yes")),
        ("idledger-ingest.service", "ProtectSystem", Some("strict")),
        (
            "idledger-ingest.service",
            "ReadWritePaths",
            Some("/var/lib/idledger"),
        ),
        ("idledger-ingest.service", "Restart", Some("on-failure")),
        ("idledger-ingest.service", "CapabilityBoundingSet", Some("")),
        ("idledger-ingest.service", "KillSignal", Some("SIGTERM")),
        (
            "idledger-ingest.service",
            "ExecStartPre",
            Some("/usr/local/bin/idledger --config /etc/idledger/idledger.toml ingest --check"),
        ),
        ("idledger-serve.service", "User", Some("idledger")),
        ("idledger-serve.service", "NoNewPrivileges", Some("yes")),
        ("idledger-serve.service", "ProtectSystem", Some("strict")),
        ("idledger-serve.service", "ReadWritePaths", None),
        (
            "idledger-serve.service",
            "InaccessiblePaths",
            Some("-/var/lib/idledger/keys"),
        ),
        ("idledger-serve.service", "Restart", Some("on-failure")),
        ("idledger-serve.service", "CapabilityBoundingSet", Some("")),
    ];
    for (name, key, want) in expected {
        let service = service_section(&unit(name));
        let got = service.get(*key).map(|v| v.join(" | "));
        assert_eq!(got.as_deref(), *want, "{name}: {key}");
    }
}

#[test]
fn systemd_accepts_the_units() {
    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        // Not a systemd machine: the hardening test above still reads every unit.
        eprintln!("systemd-analyze is not installed; units checked by parsing only");
        return;
    };
    assert!(version.status.success());
    let tmp = tempfile::tempdir().expect("tempdir");
    for name in ["idledger-ingest.service", "idledger-serve.service"] {
        // The units name the installed binary; verify checks it exists, so point at this build.
        let text = unit(name).replace("/usr/local/bin/idledger", path(&bin()));
        let copy = tmp.path().join(name);
        std::fs::write(&copy, text).expect("write");
        let out = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(&copy)
            .output()
            .expect("systemd-analyze");
        let said = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{name}: {said}"
        );
    }
}

#[test]
fn the_example_configuration_is_read() {
    // The configuration parses and resolves; what fails is only opening the ledger it names,
    // which does not exist here.
    let config = Path::new(DEPLOY).join("idledger.toml");
    let o = idledger(&["--config", path(&config), "checkpoint"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot open the ledger in /var/lib/idledger/ledger"),
        "{}",
        stderr(&o)
    );
}
