//! The ledger with its signing key in a PKCS#11 token (SoftHSM2, a throwaway token per test):
//! init, append and verify under the token key; rotation from a key file to the token and back,
//! each checkpoint signed by the keys it must be; the private key never extractable; and a wrong
//! PIN, a missing key or module, or an extractable key refused with a clear error and nothing
//! written. Without SoftHSM2 these tests fail and say to run scripts/setup.sh.

mod common;
#[path = "common/softhsm.rs"]
mod softhsm;

use common::{idledger, keys_for, path, run_command, stderr, stdout};
use idledger_proto::note::{VerifierKey, parse_note};
use softhsm::{PIN, PIN_VAR, SoftHsm};
use std::path::Path;
use std::process::Output;

const ORIGIN: &str = "hsm.example/ledger";

fn events(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.created","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{prefix}{i}","kind":"human"}}}}"#
            ) + "\n"
        })
        .collect()
}

/// idledger with `args`, seeing `hsm`'s token, the PIN in `PIN_VAR` set to `pin` (unset if
/// `None`), and `stdin` as its input.
fn run_with(hsm: &SoftHsm, args: &[String], pin: Option<&str>, stdin: Option<&str>) -> Output {
    let mut cmd = idledger(args);
    cmd.env("SOFTHSM2_CONF", hsm.conf()).env_remove(PIN_VAR);
    if let Some(pin) = pin {
        cmd.env(PIN_VAR, pin);
    }
    run_command(cmd, stdin)
}

fn ok(hsm: &SoftHsm, args: &[String], stdin: Option<&str>) -> String {
    let o = run_with(hsm, args, Some(PIN), stdin);
    assert!(
        o.status.success(),
        "idledger {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn with(mut base: Vec<String>, more: Vec<String>) -> Vec<String> {
    base.extend(more);
    base
}

/// The keys whose valid signatures the ledger's latest checkpoint carries, among `keys`.
fn latest_signed_by(hsm: &SoftHsm, d: &str, keys: &[&VerifierKey]) -> Vec<VerifierKey> {
    let note = ok(hsm, &args(&["checkpoint", "--data", d]), None);
    let owned: Vec<VerifierKey> = keys.iter().map(|k| (*k).clone()).collect();
    let (signed_by, others) = parse_note(&note)
        .expect("a note")
        .check_signatures(&owned)
        .expect("every signature that claims a known key verifies");
    assert!(others.is_empty(), "signed by an unknown key: {note}");
    signed_by
}

fn vkey(text: &str) -> VerifierKey {
    VerifierKey::parse(text.trim()).expect("a verifier key")
}

/// Verifies the whole ledger trusting `key` only (the chain of custody from it).
fn verifies_under(hsm: &SoftHsm, d: &str, key: &VerifierKey) {
    let out = ok(
        hsm,
        &args(&["verify", "--data", d, "--vkey", &key.to_string()]),
        None,
    );
    assert!(out.contains("ok: ledger verified"), "{out}");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Kafka ingest into the token-signed ledger: its batches are signed by the token as well.
fn ingest_signs_with_the_token_too(hsm: &SoftHsm, d: &str) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    let (mut broker, bootstrap) = common::spawn_dev_broker(&["identity-events:2"]);
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    for line in events("k", 15).lines() {
        producer
            .send(BaseRecord::<str, str>::to("identity-events").payload(line))
            .expect("send");
    }
    producer
        .flush(std::time::Duration::from_secs(30))
        .expect("flush");
    let out = ok(
        hsm,
        &args(&[
            "ingest",
            "--data",
            d,
            "--brokers",
            &bootstrap,
            "--topic",
            "identity-events",
            "--group",
            "token",
            "--until-caught-up",
            "300",
        ]),
        None,
    );
    assert!(out.contains("appended 15"), "{out}");
    let _ = broker.kill();
    let _ = broker.wait();
}

#[test]
fn a_token_key_signs_a_ledger_that_verifies_under_its_verifier_key() {
    let hsm = SoftHsm::new("idledger-sign");
    hsm.keypair("01", "log-key", &[]);
    // The private key is generated in the token and can never leave it.
    let access = hsm.private_key_access("01");
    assert!(access.contains(&"sensitive".to_owned()), "{access:?}");
    assert!(
        access.contains(&"never extractable".to_owned()),
        "{access:?}"
    );
    assert!(!access.contains(&"extractable".to_owned()), "{access:?}");

    let dir = hsm.path().join("ledger");
    let d = path(&dir);
    let init = with(
        args(&["init", "--data", d, "--origin", ORIGIN]),
        hsm.flags("01"),
    );
    let key = vkey(&ok(&hsm, &init, None));
    // The key directory holds a reference to the token key (mode 0600), and no key file.
    let keys = keys_for(&dir);
    let reference = keys.join(format!("{}.pkcs11", hex::encode(key.id())));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&reference)
            .expect("reference")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !files_in(&keys).iter().any(|f| f.ends_with(".pem")),
        "{:?}",
        files_in(&keys)
    );
    assert!(
        !std::fs::read_to_string(&reference)
            .expect("read")
            .contains(PIN)
    );

    let out = ok(
        &hsm,
        &args(&["append", "--data", d, "--batch", "7"]),
        Some(&events("a", 20)),
    );
    assert!(out.contains("appended 20"), "{out}");
    assert_eq!(latest_signed_by(&hsm, d, &[&key]), vec![key.clone()]);
    ingest_signs_with_the_token_too(&hsm, d);
    assert_eq!(latest_signed_by(&hsm, d, &[&key]), vec![key.clone()]);
    verifies_under(&hsm, d, &key);
    assert_eq!(
        ok(&hsm, &args(&["vkey", "--data", d]), None).trim(),
        key.to_string()
    );
    // A proof of one entry checks offline with the verifier key alone.
    let proof_file = hsm.path().join("proof");
    std::fs::write(
        &proof_file,
        ok(&hsm, &args(&["prove", "--data", d, "--index", "5"]), None),
    )
    .expect("write proof");
    ok(
        &hsm,
        &args(&[
            "verify-proof",
            "--vkey",
            &key.to_string(),
            path(&proof_file),
        ]),
        None,
    );
}

#[test]
fn rotation_goes_from_a_key_file_to_the_token_and_back() {
    let hsm = SoftHsm::new("idledger-rotate");
    hsm.keypair("0a", "log-key-2027", &[]);
    let dir = hsm.path().join("ledger");
    let d = path(&dir);
    let file_key = vkey(&ok(
        &hsm,
        &args(&["init", "--data", d, "--origin", ORIGIN]),
        None,
    ));
    ok(&hsm, &args(&["append", "--data", d]), Some(&events("a", 5)));

    // File → token, the key named by its label and the PIN read from a file.
    let pin_file = hsm.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).expect("pin file");
    std::fs::set_permissions(
        &pin_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let token_flags = vec![
        "--pkcs11-module".to_owned(),
        hsm.module.display().to_string(),
        "--pkcs11-token".into(),
        hsm.label.clone(),
        "--pkcs11-key-label".into(),
        "log-key-2027".into(),
        "--pkcs11-pin-file".into(),
        path(&pin_file).into(),
    ];
    let rotate = with(args(&["rotate-key", "--data", d]), token_flags);
    let token_key = vkey(&ok(&hsm, &rotate, None));
    assert_ne!(token_key, file_key);
    let both = [&file_key, &token_key];
    assert_eq!(
        latest_signed_by(&hsm, d, &both),
        vec![file_key.clone(), token_key.clone()],
        "during the rotation checkpoints carry both signatures"
    );
    ok(&hsm, &args(&["append", "--data", d]), Some(&events("b", 5)));
    assert_eq!(latest_signed_by(&hsm, d, &both).len(), 2);
    ok(&hsm, &args(&["rotate-key", "--data", d, "--finish"]), None);
    ok(&hsm, &args(&["append", "--data", d]), Some(&events("c", 5)));
    assert_eq!(latest_signed_by(&hsm, d, &both), vec![token_key.clone()]);
    verifies_under(&hsm, d, &file_key);
    verifies_under(&hsm, d, &token_key);

    // Token → file.
    let new_file_key = vkey(&ok(&hsm, &args(&["rotate-key", "--data", d]), None));
    let all = [&file_key, &token_key, &new_file_key];
    assert_eq!(
        latest_signed_by(&hsm, d, &all),
        vec![token_key.clone(), new_file_key.clone()]
    );
    ok(&hsm, &args(&["rotate-key", "--data", d, "--finish"]), None);
    // The token is no longer needed: no PIN, and the token's key is not used.
    let o = run_with(
        &hsm,
        &args(&["append", "--data", d]),
        None,
        Some(&events("d", 5)),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(latest_signed_by(&hsm, d, &all), vec![new_file_key.clone()]);
    for key in all {
        verifies_under(&hsm, d, key);
    }
    let held = ok(&hsm, &args(&["vkey", "--data", d]), None);
    assert_eq!(held.trim(), new_file_key.to_string());
}

/// Runs `args` expecting exit 2 with `expected` in the message.
fn refused(hsm: &SoftHsm, args: &[String], pin: Option<&str>, expected: &str) {
    let o = run_with(hsm, args, pin, Some(&events("x", 3)));
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(
        stderr(&o).contains(expected),
        "{args:?}: expected `{expected}` in:\n{}",
        stderr(&o)
    );
}

#[test]
fn a_wrong_pin_a_missing_key_or_module_or_an_extractable_key_is_refused_and_nothing_is_written() {
    let hsm = SoftHsm::new("idledger-refuse");
    hsm.keypair("01", "log-key", &[]);
    hsm.keypair("02", "exportable", &["--extractable"]);
    let dir = hsm.path().join("ledger");
    let d = path(&dir);
    let init = |flags: Vec<String>| with(args(&["init", "--data", d, "--origin", ORIGIN]), flags);
    let mut missing_module = hsm.flags("01");
    missing_module[1] = "/nonexistent/libpkcs11.so".into();
    let mut missing_token = hsm.flags("01");
    missing_token[3] = "no-such-token".into();
    let unset = format!("the PIN variable {PIN_VAR} is not set");
    let cases: Vec<(Vec<String>, Option<&str>, &str)> = vec![
        (
            hsm.flags("01"),
            Some("0000"),
            "C_Login returned CKR_PIN_INCORRECT",
        ),
        (hsm.flags("01"), None, &unset),
        (
            hsm.flags("99"),
            Some(PIN),
            "no private key there; create one inside the token with `pkcs11-tool --module",
        ),
        (
            missing_module,
            Some(PIN),
            "cannot load the PKCS#11 module /nonexistent/libpkcs11.so",
        ),
        (
            missing_token,
            Some(PIN),
            "no token labelled \"no-such-token\"",
        ),
        (
            hsm.flags("02"),
            Some(PIN),
            "the private key can leave the token (CKA_SENSITIVE true, CKA_EXTRACTABLE true)",
        ),
    ];
    for (flags, pin, expected) in &cases {
        refused(&hsm, &init(flags.clone()), *pin, expected);
        assert!(!dir.exists(), "a refused init created {d}");
        assert!(
            !keys_for(&dir).exists(),
            "a refused init created the key directory"
        );
    }
    // The missing key's error says exactly what to run.
    let o = run_with(&hsm, &init(hsm.flags("99")), Some(PIN), None);
    assert!(
        stderr(&o).contains("--keypairgen --key-type EC:edwards25519 --id 99"),
        "{}",
        stderr(&o)
    );

    // On a ledger signed by key 01: a refused rotation writes no entry and no reference (with
    // a wrong or missing PIN the ledger's own key cannot be opened either); a signer whose PIN
    // is wrong appends nothing.
    let key = vkey(&ok(&hsm, &init(hsm.flags("01")), None));
    let checkpoint = ok(&hsm, &args(&["checkpoint", "--data", d]), None);
    let keys_before = files_in(&keys_for(&dir));
    for (flags, pin, expected) in &cases {
        let rotate = with(args(&["rotate-key", "--data", d]), flags.clone());
        refused(&hsm, &rotate, *pin, expected);
    }
    refused(
        &hsm,
        &args(&["append", "--data", d]),
        Some("0000"),
        "C_Login returned CKR_PIN_INCORRECT",
    );
    assert_eq!(
        ok(&hsm, &args(&["checkpoint", "--data", d]), None),
        checkpoint
    );
    assert_eq!(files_in(&keys_for(&dir)), keys_before);
    // A PIN file others may read is refused.
    let pin_file = hsm.path().join("pin");
    std::fs::write(&pin_file, PIN).expect("pin file");
    std::fs::set_permissions(
        &pin_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let mut loose = hsm.flags("01");
    loose[6] = "--pkcs11-pin-file".into();
    loose[7] = path(&pin_file).into();
    let other = hsm.path().join("other");
    let init_other = with(args(&["init", "--data", path(&other)]), loose);
    refused(&hsm, &init_other, Some(PIN), "has mode 644");
    assert!(!other.exists());
    verifies_under(&hsm, d, &key);
}
