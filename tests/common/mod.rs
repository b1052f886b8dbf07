//! Helpers shared by the integration tests: running the binary, temporary ledgers, events.
#![allow(dead_code)] // Each test file uses a different subset.

pub mod http_get;
pub mod tls_kafka;
pub mod witness_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idledger"))
}

/// Where a test's ledger in `data` keeps its signing keys: beside it (`DATA.keys`), in the
/// test's own temporary directory, never in the user's default key directory.
pub fn keys_for(data: &Path) -> PathBuf {
    data.with_extension("keys")
}

/// The binary with `args`, run as the tests run it: no configuration or data directory from
/// the environment, and, for a command on a ledger (`--data DIR`) that names no key directory,
/// `--key-dir DIR.keys`.
pub fn idledger<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("IDLEDGER_DATA")
        .env_remove("IDLEDGER_CONFIG")
        .env_remove("IDLEDGER_KEY_DIR")
        .env("IDLEDGER_LOG", "warn");
    let args: Vec<&std::ffi::OsStr> = args.iter().map(AsRef::as_ref).collect();
    let data = args
        .windows(2)
        .find(|w| w[0] == "--data")
        .map(|w| PathBuf::from(w[1]));
    if let Some(data) = data
        && !args.iter().any(|a| *a == "--key-dir")
    {
        cmd.arg("--key-dir").arg(keys_for(&data));
    }
    cmd
}

/// Runs the binary with arguments (and optional stdin), returning its output.
pub fn run(args: &[&str], stdin: Option<&str>) -> Output {
    run_command(idledger(args), stdin)
}

/// Runs a prepared command (arguments and environment set) with optional stdin.
pub fn run_command(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn idledger");
    if let Some(input) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and requires success, returning stdout.
pub fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let o = run(args, stdin);
    assert!(
        o.status.success(),
        "idledger {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

pub fn init(dir: &Path) -> String {
    ok(
        &[
            "init",
            "--data",
            dir.to_str().expect("utf8"),
            "--origin",
            "test.example/ledger",
        ],
        None,
    )
    .trim()
    .to_owned()
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Starts `idledger dev-broker` with these topics (`NAME` or `NAME:PARTITIONS`) as its own
/// process and returns it with the bootstrap address it printed, which must be on 127.0.0.1.
pub fn spawn_dev_broker(topics: &[&str]) -> (std::process::Child, String) {
    let mut cmd = idledger(&["dev-broker"]);
    for t in topics {
        cmd.args(["--topic", t]);
    }
    let mut broker = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dev-broker");
    let port = first_line_after(&mut broker, "bootstrap.servers=127.0.0.1:");
    (broker, format!("127.0.0.1:{port}"))
}

/// Reads the first line a child printed on its (piped) stdout and returns what follows
/// `prefix` in it; panics if the line does not start so.
pub fn first_line_after(child: &mut std::process::Child, prefix: &str) -> String {
    use std::io::BufRead as _;
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut first)
        .expect("a first line");
    first
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected a line starting {prefix:?}, got {first:?}"))
        .to_owned()
}

/// Verifies a ledger (in this process) trusting the keys held beside it (`keys_for`).
pub fn verify_with_own_keys(dir: &Path) -> idledger_ledger::FsckReport {
    let ro = idledger_ledger::ReadOnlyLedger::open(dir).expect("open read-only");
    let reader = ro.reader();
    let keys = idledger_ledger::KeyDir::for_data(&keys_for(dir), dir)
        .expect("key dir")
        .held_keys(reader.origin())
        .expect("held keys");
    assert!(!keys.is_empty(), "no key beside {}", dir.display());
    idledger_ledger::fsck(
        &reader,
        &idledger_ledger::FsckOptions::new(idledger_ledger::Trust {
            keys,
            checkpoint_note: None,
        }),
    )
    .expect("fsck runs")
}
