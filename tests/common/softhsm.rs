//! A throwaway SoftHSM2 token for the PKCS#11 tests: its own configuration and token
//! directory in a temporary directory (SOFTHSM2_CONF), initialised with softhsm2-util, keys
//! generated inside it with OpenSC's pkcs11-tool. Nothing touches the machine's own tokens.
#![allow(dead_code)] // Each test uses a different subset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where Debian (and others) put SoftHSM2's module.
const MODULES: [&str; 3] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// The user PIN of every test token, passed to idledger in this variable.
pub const PIN: &str = "4711";
pub const PIN_VAR: &str = "IDLEDGER_TEST_PKCS11_PIN";
const SO_PIN: &str = "80808080";

pub struct SoftHsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pub module: PathBuf,
    pub label: String,
}

/// Fails (never skips) when the tools are missing: these tests are part of the suite.
fn require_tools() -> PathBuf {
    let missing = |what: &str| -> ! {
        panic!(
            "{what} is not installed: run scripts/setup.sh (it installs Debian's softhsm2 and opensc, which the PKCS#11 tests need)"
        )
    };
    for tool in ["softhsm2-util", "pkcs11-tool"] {
        let found = Command::new(tool)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.code().is_some());
        if !found {
            missing(tool);
        }
    }
    MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| missing("SoftHSM2's PKCS#11 module (libsofthsm2.so)"))
}

fn checked(what: &str, o: Output) -> String {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl SoftHsm {
    /// A new token labelled `label` in a new temporary directory.
    pub fn new(label: &str) -> SoftHsm {
        let module = require_tools();
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("token dir");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            ),
        )
        .expect("write conf");
        let hsm = SoftHsm {
            dir,
            conf,
            module,
            label: label.to_owned(),
        };
        let o = hsm
            .tool("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--pin", PIN, "--so-pin", SO_PIN])
            .output()
            .expect("run softhsm2-util");
        checked("softhsm2-util --init-token", o);
        hsm
    }

    /// A command that sees this token (and only it).
    pub fn tool(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SOFTHSM2_CONF", &self.conf);
        cmd
    }

    /// pkcs11-tool on this token, logged in.
    pub fn pkcs11_tool(&self, args: &[&str]) -> Output {
        self.tool("pkcs11-tool")
            .arg("--module")
            .arg(&self.module)
            .args(["--token-label", &self.label, "--login", "--pin", PIN])
            .args(args)
            .output()
            .expect("run pkcs11-tool")
    }

    /// Generates an Ed25519 key pair inside the token (as an operator would), with `extra`
    /// flags (e.g. `--extractable`).
    pub fn keypair(&self, id_hex: &str, label: &str, extra: &[&str]) {
        let mut args = vec![
            "--keypairgen",
            "--key-type",
            "EC:edwards25519",
            "--id",
            id_hex,
            "--label",
            label,
        ];
        args.extend_from_slice(extra);
        checked("pkcs11-tool --keypairgen", self.pkcs11_tool(&args));
    }

    /// The `Access:` words pkcs11-tool lists for the private key with this id (CKA_SENSITIVE
    /// shows as `sensitive`, CKA_EXTRACTABLE as `extractable`, CKA_NEVER_EXTRACTABLE as `never
    /// extractable`).
    pub fn private_key_access(&self, id_hex: &str) -> Vec<String> {
        let listing = checked(
            "pkcs11-tool --list-objects",
            self.pkcs11_tool(&["--list-objects", "--type", "privkey"]),
        );
        // One block per object, each starting `Private Key Object`; pkcs11-tool 0.23 lists
        // every private key whatever `--id` says, so the block is picked by its `ID:` line.
        let block = listing
            .split("Private Key Object")
            .find(|b| {
                b.lines()
                    .any(|l| l.trim().strip_prefix("ID:").map(str::trim) == Some(id_hex))
            })
            .unwrap_or_else(|| panic!("no private key {id_hex} listed:\n{listing}"));
        let access = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("Access:"))
            .unwrap_or_else(|| panic!("no access line for key {id_hex}:\n{listing}"));
        access.split(',').map(|w| w.trim().to_owned()).collect()
    }

    /// The `--pkcs11-*` flags naming the key with this CKA_ID, the PIN in `PIN_VAR`.
    pub fn flags(&self, id_hex: &str) -> Vec<String> {
        vec![
            "--pkcs11-module".into(),
            self.module.display().to_string(),
            "--pkcs11-token".into(),
            self.label.clone(),
            "--pkcs11-key-id".into(),
            id_hex.into(),
            "--pkcs11-pin-env".into(),
            PIN_VAR.into(),
        ]
    }

    /// A scratch directory beside the token (for ledgers, key directories, PIN files).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn conf(&self) -> &Path {
        &self.conf
    }
}
