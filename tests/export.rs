//! `idledger export` and `idledger verify-export` end to end: every export idledger writes
//! (whole, a range, filtered, with proofs) verifies with the log's key alone, and a changed,
//! dropped, reordered or inserted line, a removed checkpoint, a forged proof or another log's key
//! fails with exit 1 naming the entry. The edits are data.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

fn events(n: usize) -> String {
    (0..n)
        .map(|i| {
            let (t, kind) = if i % 4 == 0 {
                ("credential.rotated", "service_account")
            } else {
                ("identity.updated", "human")
            };
            let credential = if i % 4 == 0 {
                format!(
                    r#","credential":{{"id":"key-1","kind":"api_key","fingerprint":"sha256:{}"}}"#,
                    "0a".repeat(32)
                )
            } else {
                String::new()
            };
            format!(
                r#"{{"id":"e{i}","source":"{}","type":"{t}","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"u{}","kind":"{kind}"}}{credential}}}"#,
                if i % 2 == 0 { "okta" } else { "entra" },
                i % 5
            ) + "\n"
        })
        .collect::<String>()
        + "not json\n"
}

fn export(d: &str, args: &[&str]) -> String {
    let mut all = vec!["export", "--data", d];
    all.extend_from_slice(args);
    ok(&all, None)
}

/// Runs verify-export on `text`; returns the exit code and output.
fn verify(tmp: &Path, vkey: &str, text: &str) -> (Option<i32>, String) {
    verify_with(tmp, vkey, text, &[])
}

/// Runs verify-export with `flags` on `text`; returns the exit code and output.
fn verify_with(tmp: &Path, vkey: &str, text: &str, flags: &[&str]) -> (Option<i32>, String) {
    let file = tmp.join("export.jsonl");
    std::fs::write(&file, text).expect("write");
    let mut args = vec!["verify-export", "--vkey", vkey];
    args.extend_from_slice(flags);
    args.push(path(&file));
    let o = run(&args, None);
    (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// The index of the first line that is the entry `index`.
fn entry_line(l: &[String], index: u64) -> usize {
    let needle = format!(r#""kind":"entry","index":{index},"#);
    l.iter()
        .position(|s| s.contains(&needle))
        .unwrap_or_else(|| panic!("no line for entry {index}"))
}

/// What a verified export establishes is said: every entry of a range, or each entry on its own
/// proof (a filtered stream, in which an entry left out cannot be detected); `--contiguous`
/// refuses the second kind, so a whole export with `filtered` flipped and an entry dropped fails.
#[test]
fn verify_export_says_whether_every_entry_of_a_range_is_there() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let d = path(&dir);
    let vkey = init(&dir);
    let o = run(
        &["append", "--data", d, "--batch", "9", "-"],
        Some(&events(60)),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // (export flags, exit code with --contiguous, what the output says either way)
    let cases: &[(&[&str], i32, &str)] = &[
        (&[], 0, "from index 0 to 61"),
        (&["--from", "10", "--to", "40"], 0, "from index 10 to 36"),
        (&["--proofs"], 0, "from index 0 to 61"),
        (&["--subject", "u1"], 1, "each on its own proof"),
    ];
    for (args, contiguous_code, says) in cases {
        let text = export(d, args);
        let (code, out) = verify(tmp.path(), &vkey, &text);
        assert_eq!(code, Some(0), "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
        let (code, out) = verify_with(tmp.path(), &vkey, &text, &["--contiguous"]);
        assert_eq!(code, Some(*contiguous_code), "{args:?} --contiguous: {out}");
        if *contiguous_code != 0 {
            assert!(
                out.contains("the stream is not contiguous"),
                "{args:?}: {out}"
            );
        }
    }
    // A whole export made to look filtered, entry 30 dropped, the rest given their proofs:
    // exactly what a filtered export is, so only --contiguous can tell.
    let mut attacked = lines(&export(d, &["--proofs"]));
    attacked[0] = attacked[0].replace(r#""filtered":false"#, r#""filtered":true"#);
    attacked.remove(entry_line(&attacked, 30));
    let text = attacked.join("\n");
    let (code, out) = verify(tmp.path(), &vkey, &text);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("61 entries verified"), "{out}");
    assert!(out.contains("each on its own proof"), "{out}");
    let (code, out) = verify_with(tmp.path(), &vkey, &text, &["--contiguous"]);
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn every_export_verifies_and_each_edit_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let d = path(&dir);
    let vkey = init(&dir);
    let o = run(
        &["append", "--data", d, "--batch", "9", "-"],
        Some(&events(60)),
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // Every kind of export verifies, with the entries and checkpoints it should hold.
    let cases: &[(&[&str], &str)] = &[
        (&["--checkpoint-every", "20"], "ok: 62 entries verified"),
        (
            &["--from", "10", "--to", "40"],
            "ok: 27 entries verified against the signed checkpoints of sizes 37",
        ),
        (&["--proofs"], "ok: 62 entries verified"),
        (&["--subject", "u1"], "ok: 12 entries verified"),
        (&["--kind", "non-human"], "ok: 15 entries verified"),
        (&["--quarantined"], "ok: 1 entries verified"),
        (
            &["--type", "credential.rotated", "--source", "okta"],
            "ok: 15 entries verified",
        ),
    ];
    for (args, want) in cases {
        let (code, out) = verify(tmp.path(), &vkey, &export(d, args));
        assert_eq!(code, Some(0), "{args:?}: {out}");
        assert!(out.contains(want), "{args:?}: {out}");
    }

    let whole = lines(&export(d, &["--checkpoint-every", "20"]));
    let filtered = lines(&export(d, &["--subject", "u1"]));
    let at = entry_line(&whole, 30);
    type Edit = Box<dyn Fn(&mut Vec<String>)>;
    let edits: Vec<(&str, Vec<String>, Edit, &str)> = vec![
        (
            "a changed field",
            whole.clone(),
            Box::new(move |l| l[at] = l[at].replace(r#""id":"u"#, r#""id":"x"#)),
            "entry 30 was changed: the JSON shown is not the entry its leaf holds",
        ),
        (
            "a dropped entry",
            whole.clone(),
            Box::new(move |l| {
                l.remove(at);
            }),
            "entry 31 is out of place: entry 30 was dropped before it",
        ),
        (
            "two entries swapped",
            whole.clone(),
            Box::new(move |l| l.swap(at, at + 1)),
            "entry 31 is out of place: entry 30 was dropped before it",
        ),
        (
            "an entry inserted twice",
            whole.clone(),
            Box::new(move |l| {
                let copy = l[at].clone();
                l.insert(at + 1, copy);
            }),
            "entry 30 is out of place: it comes after entry 30 (reordered or inserted)",
        ),
        (
            "the last checkpoint removed",
            whole.clone(),
            Box::new(|l| {
                l.pop();
            }),
            "are covered by no checkpoint in the stream",
        ),
        (
            "a proof changed in a filtered export",
            filtered.clone(),
            Box::new(|l| {
                let i = l
                    .iter()
                    .position(|s| s.contains(r#""path":[""#))
                    .expect("a proof");
                let start = l[i].find(r#""path":[""#).expect("path") + 9;
                let c = if &l[i][start..=start] == "A" {
                    "B"
                } else {
                    "A"
                };
                l[i].replace_range(start..=start, c);
            }),
            "is not in the signed tree of size",
        ),
    ];
    for (name, base, edit, want) in edits {
        let mut l = base;
        edit(&mut l);
        let (code, out) = verify(tmp.path(), &vkey, &(l.join("\n") + "\n"));
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(out.contains(want), "{name}: expected {want:?} in\n{out}");
    }

    // Another log's key vouches for nothing here.
    let other = tmp.path().join("other");
    let other_key = init(&other);
    let (code, out) = verify(tmp.path(), &other_key, &(whole.join("\n") + "\n"));
    assert_eq!(code, Some(1), "{out}");
}

/// `--follow` keeps the stream going as entries are appended (the writer and the export run at
/// once), and what it wrote verifies; `--since` and `--until` choose the range by the time the
/// ledger received entries.
#[test]
fn a_followed_export_grows_with_the_log_and_verifies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let d = path(&dir);
    let vkey = init(&dir);
    ok(
        &["append", "--data", d, "--batch", "5", "-"],
        Some(&events(12)),
    );
    let file = tmp.path().join("followed.jsonl");
    let mut child = idledger(&[
        "export",
        "--data",
        d,
        "--follow",
        "--interval-ms",
        "50",
        "--out",
        path(&file),
    ])
    .stdout(std::process::Stdio::null())
    .stderr(std::fs::File::create(tmp.path().join("follow.log")).expect("log"))
    .spawn()
    .expect("export --follow");
    let more: String = events(20).replace("\"id\":\"e", "\"id\":\"late-e");
    ok(&["append", "--data", d, "--batch", "7", "-"], Some(&more));
    let size: u64 = {
        let cp = ok(&["checkpoint", "--data", d], None);
        cp.lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .expect("size")
    };
    let last = format!(r#""kind":"checkpoint","size":{size},"#);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains(&last)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the follow never reached {size}: {}\n{}",
            std::fs::read_to_string(tmp.path().join("follow.log")).unwrap_or_default(),
            std::fs::read_to_string(&file).unwrap_or_default().len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("stop");
    child.wait().expect("wait");
    let text = std::fs::read_to_string(&file).expect("read");
    let (code, out) = verify(tmp.path(), &vkey, &text);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("ok: {size} entries verified")),
        "{out}"
    );

    let cases: &[(&[&str], Option<&str>)] = &[
        (
            &["--since", "2000-01-01T00:00:00Z"],
            Some(&format!("ok: {size} entries verified")),
        ),
        (
            &["--until", "2099-01-01T00:00:00Z"],
            Some(&format!("ok: {size} entries verified")),
        ),
        (&["--since", "2099-01-01T00:00:00Z"], None),
    ];
    for (args, want) in cases {
        let mut all = vec!["export", "--data", d];
        all.extend_from_slice(args);
        let o = run(&all, None);
        match want {
            Some(want) => {
                let (code, out) = verify(tmp.path(), &vkey, &stdout(&o));
                assert_eq!(code, Some(0), "{args:?}: {out}");
                assert!(out.contains(want), "{args:?}: {out}");
            }
            None => {
                assert_eq!(o.status.code(), Some(2), "{args:?}");
                assert!(stderr(&o).contains("nothing to export"), "{}", stderr(&o));
            }
        }
    }
}

/// OCSF records and CEF lines from the command line: every kind of export verifies with the
/// same counts as native, and a subject changed in what the SIEM shows (the leaf left alone),
/// a dropped record or the last checkpoint removed is named.
#[test]
fn ocsf_and_cef_exports_verify_and_edits_are_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let d = path(&dir);
    let vkey = init(&dir);
    ok(
        &["append", "--data", d, "--batch", "9", "-"],
        Some(&events(60)),
    );
    // (format, the subject u3 as the record shows it, the same text edited)
    let formats = [
        ("ocsf", r#""u3""#, r#""x3""#),
        ("cef", "duser=u3 ", "duser=x3 "),
    ];
    let cases: &[(&[&str], &str)] = &[
        (&["--checkpoint-every", "20"], "ok: 62 entries verified"),
        (&["--from", "10", "--to", "40"], "ok: 27 entries verified"),
        (&["--proofs"], "ok: 62 entries verified"),
        (&["--subject", "u1"], "ok: 12 entries verified"),
        (&["--quarantined"], "ok: 1 entries verified"),
    ];
    for (format, shown, edited) in formats {
        for (args, want) in cases {
            let mut all = vec!["--format", format];
            all.extend_from_slice(args);
            let text = export(d, &all);
            assert!(
                !text.contains(r#""kind":"entry""#),
                "{format}: native entry lines in {text}"
            );
            let (code, out) = verify(tmp.path(), &vkey, &text);
            assert_eq!(code, Some(0), "{format} {args:?}: {out}");
            assert!(out.contains(want), "{format} {args:?}: {out}");
        }
        let whole = lines(&export(d, &["--format", format]));
        let at = whole
            .iter()
            .position(|l| l.contains(shown))
            .unwrap_or_else(|| panic!("{format}: no record shows {shown}"));
        type Edit = Box<dyn Fn(&mut Vec<String>)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "the subject changed",
                Box::new(move |l| l[at] = l[at].replacen(shown, edited, 1)),
            ),
            (
                "a record dropped",
                Box::new(move |l| {
                    l.remove(at);
                }),
            ),
            (
                "the last checkpoint removed",
                Box::new(|l| {
                    l.pop();
                }),
            ),
        ];
        for (name, edit) in edits {
            let mut l = whole.clone();
            edit(&mut l);
            let (code, out) = verify(tmp.path(), &vkey, &(l.join("\n") + "\n"));
            assert_eq!(code, Some(1), "{format}, {name}: {out}");
            assert!(out.contains("FAIL"), "{format}, {name}: {out}");
        }
    }
}

/// `idledger export | head -1`: the reader going away ends the export quietly (exit 0), as
/// every command treats a broken pipe.
#[test]
fn a_closed_pipe_ends_the_export_quietly() {
    use std::io::BufRead as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let d = path(&dir);
    init(&dir);
    ok(
        &["append", "--data", d, "--batch", "50", "-"],
        Some(&events(200)),
    );
    let mut child = idledger(&["export", "--data", d])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("export");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert!(first.contains(r#""kind":"start""#), "{first}");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
