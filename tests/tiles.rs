//! `idledger tiles export`, and the same log served by `idledger serve`, read by clients that
//! share no code with idledger: the `tlog_tiles` crate (a port of Go's sumdb tlog)
//! authenticates every hash tile against the checkpoint's root and proves entries from the
//! entry bundles, and the `signed_note` crate (a port of Go's sumdb note) verifies the
//! checkpoint's signature with the verifier key. Paths and the bundle framing are written here
//! from c2sp.org/tlog-tiles, not taken from idledger; the HTTP client is a plain HTTP/1.1 GET.

mod common;

use base64::Engine as _;
use common::*;
use signed_note::{Note, StandardVerifier, VerifierList};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tlog_tiles::{
    Checkpoint, Hash, HashReader as _, Tile, TileHashReader, TileReader, check_record,
    prove_record, record_hash, tree_hash,
};

/// Where a client reads the log's resources (`checkpoint`, `tile/…`) from.
trait Source {
    fn fetch(&self, path: &str) -> Vec<u8>;
}

/// An exported directory, as a static file server would serve it.
struct Exported(PathBuf);

impl Source for Exported {
    fn fetch(&self, path: &str) -> Vec<u8> {
        let file = self.0.join(path);
        std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }
}

/// A running `idledger serve`, asked with this token or none; every fetch must be answered
/// 200.
struct Served<'a>(&'a Server, Option<&'a str>);

impl Source for Served<'_> {
    fn fetch(&self, path: &str) -> Vec<u8> {
        let reply = self.0.get(&format!("/{path}"), self.1);
        assert_eq!(
            reply.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.body
    }
}

/// A `tlog_tiles` tile reader over a source.
struct Tiles<'a>(&'a dyn Source);

/// `tile/L/N[.p/W]` or `tile/entries/N[.p/W]`, N in groups of three digits, all but the last
/// prefixed `x` (c2sp.org/tlog-tiles).
fn spec_path(level: Option<u8>, n: u64, width: u32) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    let level = level.map_or("entries".to_owned(), |l| l.to_string());
    let partial = if width == 256 {
        String::new()
    } else {
        format!(".p/{width}")
    };
    format!("tile/{level}/{}{partial}", groups.join("/"))
}

impl TileReader for Tiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles
            .iter()
            .map(|t| {
                self.0
                    .fetch(&spec_path(Some(t.level()), t.level_index(), t.width()))
            })
            .collect())
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// The entries of an entry bundle: each a big-endian u16 length, then that many bytes.
fn bundle_entries(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

/// The checkpoint's body, its signature verified under `vkey` by signed_note.
fn verified_checkpoint(source: &dyn Source, vkey: &str) -> Checkpoint {
    let text = source.fetch("checkpoint");
    let note = Note::from_bytes(&text).expect("a signed note");
    let verifier = StandardVerifier::new(vkey).expect("verifier key");
    let (verified, _) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("signed by the verifier key");
    assert_eq!(verified.len(), 1);
    let body = note.text();
    // The body ends with idledger's extension lines; tlog_tiles reads origin, size and hash.
    Checkpoint::from_bytes(body).expect("a tlog-checkpoint")
}

/// Every entry in `indexes` is fetched from its bundle and proven against the checkpoint.
fn prove_entries(source: &dyn Source, checkpoint: &Checkpoint, indexes: &[u64]) {
    let reader = Tiles(source);
    let size = checkpoint.size();
    let root: Hash = *checkpoint.hash();
    let hashes = TileHashReader::new(size, root, &reader);
    assert_eq!(tree_hash(size, &hashes).expect("tree hash"), root);
    for &i in indexes {
        let width = (size - i / 256 * 256).min(256) as u32;
        let bundle = source.fetch(&spec_path(None, i / 256, width));
        let entries = bundle_entries(&bundle);
        assert_eq!(entries.len(), width as usize);
        let entry = &entries[(i % 256) as usize];
        let proof = prove_record(size, i, &hashes).expect("proof from tiles");
        check_record(&proof, size, root, i, record_hash(entry)).expect("entry in the tree");
        // The stored hash tile agrees with the entry too.
        let leaf = hashes
            .read_hashes(&[tlog_tiles::stored_hash_index(0, i)])
            .expect("leaf hash");
        assert_eq!(leaf[0], record_hash(entry));
    }
}

/// The newer checkpoint extends the older: the independent client proves it from the served
/// tiles alone, and its proof is the one `idledger consistency` prints.
fn prove_consistency(source: &dyn Source, old: &Checkpoint, new: &Checkpoint, dir: &Path) {
    let reader = Tiles(source);
    let hashes = TileHashReader::new(new.size(), *new.hash(), &reader);
    let proof = tlog_tiles::prove_tree(new.size(), old.size(), &hashes).expect("proof from tiles");
    tlog_tiles::check_tree(&proof, new.size(), *new.hash(), old.size(), *old.hash())
        .expect("the new tree extends the old");
    let printed = ok(
        &[
            "consistency",
            "--data",
            path(dir),
            "--from",
            &old.size().to_string(),
            "--to",
            &new.size().to_string(),
        ],
        None,
    );
    let theirs: Vec<String> = proof
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h.0))
        .collect();
    assert_eq!(printed.lines().collect::<Vec<_>>(), theirs);
}

fn append_events(dir: &Path, prefix: &str, n: usize) {
    let events: String = (0..n)
        .map(|i| format!(r#"{{"id":"{prefix}{i}","source":"okta","type":"identity.updated","time":"2026-01-01T00:00:00Z","actor":{{"id":"hr","kind":"service"}},"subject":{{"id":"user{}","kind":"human"}}}}"#, i % 13) + "\n")
        .collect();
    ok(
        &["append", "--data", path(dir), "--batch", "100", "-"],
        Some(&events),
    );
}

#[test]
fn an_independent_client_proves_exported_entries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    append_events(&dir, "a", 700);
    let out = tmp.path().join("tiles");
    let said = ok(&["tiles", "export", "--data", path(&dir), path(&out)], None);
    assert!(said.contains("exported tree size 701"), "{said}");
    let checkpoint = verified_checkpoint(&Exported(out.clone()), vkey.trim());
    assert_eq!(checkpoint.size(), 701);
    prove_entries(
        &Exported(out.clone()),
        &checkpoint,
        &[0, 1, 255, 256, 511, 512, 700],
    );

    // More entries: the full tiles are kept, the partial ones widen, all still prove.
    append_events(&dir, "b", 400);
    let said = ok(&["tiles", "export", "--data", path(&dir), path(&out)], None);
    assert!(
        said.contains("exported tree size 1101") && said.contains("4 full tiles already there"),
        "{said}"
    );
    let checkpoint = verified_checkpoint(&Exported(out.clone()), vkey.trim());
    prove_entries(
        &Exported(out),
        &checkpoint,
        &[0, 700, 701, 1023, 1024, 1100],
    );
}

#[test]
fn a_published_full_tile_is_never_rewritten() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);
    append_events(&dir, "a", 300);
    let out = tmp.path().join("tiles");
    ok(&["tiles", "export", "--data", path(&dir), path(&out)], None);
    let checkpoint_before = std::fs::read(out.join("checkpoint")).expect("checkpoint");
    // What was published differs from the ledger now (as if the ledger had been rewritten).
    let tile = out.join("tile/0/000");
    let mut bytes = std::fs::read(&tile).expect("tile");
    bytes[0] ^= 1;
    std::fs::write(&tile, &bytes).expect("write");
    let o = run(&["tiles", "export", "--data", path(&dir), path(&out)], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("tile/0/000 already holds other bytes than the ledger's tile/0/000"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&tile).expect("tile"), bytes, "left as it was");
    assert_eq!(
        std::fs::read(out.join("checkpoint")).expect("checkpoint"),
        checkpoint_before,
        "no new checkpoint over it"
    );
}

const AUDITOR: &str = "auditor-token-0123456789";
const RESPONDER: &str = "responder-token-0123456789";
/// What the spec asks of a tile's caching: its path names bytes that never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `idledger serve` over a ledger, with `serve_extra` in its `[serve]` section (beside an
/// auditor's and a responder's token) and `flags` after `serve`; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &Path, serve_extra: &str, flags: &[&str]) -> Server {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let config = dir.with_extension(format!("serve{n}.toml"));
        std::fs::write(
            &config,
            format!(
                "[serve]\naddr = \"127.0.0.1:0\"\n{serve_extra}\n\
                 [[serve.tokens]]\nname = \"ann\"\ntoken = \"{AUDITOR}\"\nrole = \"auditor\"\n\
                 [[serve.tokens]]\nname = \"rick\"\ntoken = \"{RESPONDER}\"\nrole = \"responder\"\n"
            ),
        )
        .expect("config");
        let mut args = vec!["--config", path(&config), "serve", "--data", path(dir)];
        args.extend_from_slice(flags);
        let mut child = idledger(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let addr = first_line_after(&mut child, "listening on http://")
            .parse()
            .expect("an address");
        Server { child, addr }
    }

    /// A GET on a new connection, as plain HTTP/1.1.
    fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let (raw, _) = common::http_get::http_get(self.addr, path, token).expect("GET");
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{path}: no complete answer"));
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.get(9..12))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no status line in {head}"));
        let reply = Reply {
            status,
            headers: lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect(),
            body: raw[end + 4..].to_vec(),
        };
        // Whole bodies, sent with their length: nothing to decode.
        let length = reply.header("content-length").and_then(|l| l.parse().ok());
        assert_eq!(length, Some(reply.body.len()), "{path}: {head}");
        reply
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Every tile and entry bundle a tree of `size` publishes, by the spec's arithmetic.
fn published(size: u64) -> Vec<String> {
    let level_tiles = |level: Option<u8>, count: u64| {
        (0..count.div_ceil(256))
            .map(move |n| spec_path(level, n, (count - n * 256).min(256) as u32))
            .collect::<Vec<_>>()
    };
    let mut out = Vec::new();
    let (mut count, mut level) = (size, 0u8);
    while count > 0 {
        out.extend(level_tiles(Some(level), count));
        count /= 256;
        level += 1;
    }
    out.extend(level_tiles(None, size));
    out
}

/// The served checkpoint, once its tree has `size` entries (the server catches up with the
/// writer on its own).
fn checkpoint_of_size(server: &Server, size: u64, vkey: &str) -> Checkpoint {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let checkpoint = verified_checkpoint(&Served(server, None), vkey);
        if checkpoint.size() == size {
            return checkpoint;
        }
        assert!(
            Instant::now() < deadline,
            "still serving size {}",
            checkpoint.size()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_independent_client_proves_entries_served_over_http() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    append_events(&dir, "a", 700);
    let out = tmp.path().join("tiles");
    ok(&["tiles", "export", "--data", path(&dir), path(&out)], None);
    let server = Server::start(&dir, "", &[]);
    let served = Served(&server, None);

    let reply = server.get("/checkpoint", None);
    assert_eq!(
        (reply.status, reply.header("content-type")),
        (200, Some("text/plain; charset=utf-8"))
    );
    assert_eq!(reply.header("cache-control"), Some("no-cache"));
    let exported = std::fs::read(out.join("checkpoint")).expect("checkpoint");
    assert_eq!(reply.body, exported);
    let checkpoint = verified_checkpoint(&served, vkey.trim());
    assert_eq!(checkpoint.size(), 701);
    prove_entries(&served, &checkpoint, &[0, 1, 255, 256, 511, 512, 700]);

    // The same bytes as the export's files, full and partial tiles alike long-lived.
    let before = published(701);
    assert!(
        before.contains(&"tile/0/002.p/189".to_owned()),
        "{before:?}"
    );
    for p in &before {
        let reply = server.get(&format!("/{p}"), None);
        assert_eq!(reply.status, 200, "{p}: {}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(reply.header("cache-control"), Some(IMMUTABLE), "{p}");
        assert_eq!(
            reply.body,
            std::fs::read(out.join(p)).expect("exported"),
            "{p}"
        );
    }

    // The log grows under the running server: new entries prove, and the partial tiles of the
    // smaller tree are still served, the prefixes of the wider tiles.
    append_events(&dir, "b", 400);
    let first = checkpoint;
    let checkpoint = checkpoint_of_size(&server, 1101, vkey.trim());
    prove_entries(&served, &checkpoint, &[0, 700, 701, 1023, 1024, 1100]);
    prove_consistency(&served, &first, &checkpoint, &dir);
    for p in &before {
        assert_eq!(
            served.fetch(p),
            std::fs::read(out.join(p)).expect("exported"),
            "{p}"
        );
    }
    let full = served.fetch("tile/0/002");
    assert_eq!(full.len(), 256 * 32);
    assert_eq!(served.fetch("tile/0/002.p/189"), full[..189 * 32]);
}

#[test]
fn malformed_tile_paths_are_refused_and_tiles_past_the_tree_not_found() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    init(&dir);
    append_events(&dir, "a", 300);
    let server = Server::start(&dir, "", &[]);
    const THREE_DIGITS: &str = "groups of three digits, all but the last prefixed `x`";
    // (path, status, what the answer says); the tree has 301 entries: tile 0/001 holds 45.
    let cases: &[(&str, u16, &str)] = &[
        ("/tile/0/1", 400, THREE_DIGITS),
        ("/tile/0/0001", 400, THREE_DIGITS),
        ("/tile/0/x000/001", 400, "no leading group is x000"),
        ("/tile/0/001/", 400, THREE_DIGITS),
        // The same path percent-encoded is not the tile's path.
        ("/tile/0/x001%2F000", 400, THREE_DIGITS),
        ("/tile/0/%30%30%30", 400, THREE_DIGITS),
        (
            "/tile/0/000.p/0",
            400,
            "the width `0` must be a number from 1 to 255",
        ),
        (
            "/tile/0/000.p/256",
            400,
            "the width `256` must be a number from 1 to 255",
        ),
        ("/tile/0/000.p/08", 400, "without leading zeros"),
        (
            "/tile/64/000",
            400,
            "`level` must be an integer between 0 and 63",
        ),
        (
            "/tile/00/000",
            400,
            "`level` must be an integer between 0 and 63",
        ),
        ("/tile/entry/000", 400, "`level` must be an integer"),
        (
            "/tile/0/001",
            404,
            "tile/0/001 is not in the tree of size 301, which has tile/0/001.p/45 there",
        ),
        (
            "/tile/0/001.p/46",
            404,
            "tile/0/001.p/46 is not in the tree of size 301",
        ),
        (
            "/tile/0/002.p/1",
            404,
            "tile/0/002.p/1 is not in the tree of size 301, which ends before it",
        ),
        (
            "/tile/1/000",
            404,
            "tile/1/000 is not in the tree of size 301, which has tile/1/000.p/1 there",
        ),
        ("/tile/2/000.p/1", 404, "not in the tree"),
        ("/tile/63/000.p/1", 404, "not in the tree"),
        (
            "/tile/entries/001",
            404,
            "tile/entries/001 is not in the tree of size 301",
        ),
        (
            "/tile/entries/x018/x446/x744/x073/x709/x551/616",
            404,
            "larger than any tree holds",
        ),
    ];
    for &(path, status, says) in cases {
        let reply = server.get(path, None);
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
        assert!(reply.text().contains(says), "{path}: {}", reply.text());
        assert_ne!(reply.header("cache-control"), Some(IMMUTABLE), "{path}");
    }
    // What the tree has, and any narrower prefix of it, is there.
    let widest = server.get("/tile/0/001.p/45", None);
    let narrower = server.get("/tile/0/001.p/44", None);
    assert_eq!((widest.status, narrower.status), (200, 200));
    assert_eq!(narrower.body, widest.body[..44 * 32]);
    assert_eq!(server.get("/tile/entries/001.p/45", None).status, 200);
}

#[test]
fn tiles_can_be_turned_off_or_kept_for_auditors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ledger");
    let vkey = init(&dir);
    append_events(&dir, "a", 300);
    let tile = "/tile/0/001.p/45";

    let off = Server::start(&dir, "", &["--tiles", "off"]);
    for path in ["/checkpoint", tile, "/tile/entries/000"] {
        let reply = off.get(path, Some(AUDITOR));
        assert_eq!(reply.status, 404, "{path}");
        assert!(
            reply.text().contains("tiles = \\\"off\\\""),
            "{}",
            reply.text()
        );
    }
    // The API is served as before, and its document still lists the routes.
    assert_eq!(off.get("/v1/checkpoint", Some(AUDITOR)).status, 200);
    let doc = off.get("/openapi.json", None).text();
    for route in [
        "/checkpoint",
        "/tile/{level}/{tile}",
        "/tile/entries/{tile}",
    ] {
        assert!(
            doc.contains(&format!("\"{route}\"")),
            "{route} not in {doc}"
        );
    }
    drop(off);

    let auditor = Server::start(&dir, "tiles = \"auditor\"", &[]);
    for path in ["/checkpoint", tile] {
        let reply = auditor.get(path, None);
        assert_eq!(reply.status, 401, "{path}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        let reply = auditor.get(path, Some(RESPONDER));
        assert_eq!(reply.status, 403, "{path}");
        assert!(
            reply.text().contains("it needs auditor or admin"),
            "{}",
            reply.text()
        );
    }
    // An auditor reads them, and no shared cache may keep what it read.
    let reply = auditor.get("/checkpoint", Some(AUDITOR));
    assert_eq!(
        (reply.status, reply.header("cache-control")),
        (200, Some("private, no-cache"))
    );
    let reply = auditor.get(tile, Some(AUDITOR));
    assert_eq!(
        (reply.status, reply.header("cache-control")),
        (200, Some("private, max-age=31536000, immutable"))
    );
    let source = Served(&auditor, Some(AUDITOR));
    let checkpoint = verified_checkpoint(&source, vkey.trim());
    prove_entries(&source, &checkpoint, &[0, 300]);
    drop(auditor);

    // The flag overrides the file.
    let public = Server::start(&dir, "tiles = \"auditor\"", &["--tiles", "public"]);
    let reply = public.get(tile, None);
    assert_eq!(
        (reply.status, reply.header("cache-control")),
        (200, Some(IMMUTABLE))
    );
}
