//! `idledger tiles export`, read by clients that share no code with idledger: the `tlog_tiles`
//! crate (a port of Go's sumdb tlog) authenticates every hash tile against the checkpoint's
//! root and proves entries from the entry bundles, and the `signed_note` crate (a port of Go's
//! sumdb note) verifies the checkpoint's signature with the verifier key. Paths and the bundle
//! framing are written here from c2sp.org/tlog-tiles, not taken from idledger.

mod common;

use common::*;
use signed_note::{Note, StandardVerifier, VerifierList};
use std::path::{Path, PathBuf};
use tlog_tiles::{
    Checkpoint, Hash, HashReader as _, Tile, TileHashReader, TileReader, check_record,
    prove_record, record_hash, tree_hash,
};

/// Reads an exported directory as a static tlog-tiles server would serve it.
struct ExportedTiles(PathBuf);

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

impl TileReader for ExportedTiles {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles
            .iter()
            .map(|t| {
                let path = self
                    .0
                    .join(spec_path(Some(t.level()), t.level_index(), t.width()));
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
fn verified_checkpoint(dir: &Path, vkey: &str) -> Checkpoint {
    let text = std::fs::read(dir.join("checkpoint")).expect("checkpoint");
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
fn prove_entries(dir: &Path, checkpoint: &Checkpoint, indexes: &[u64]) {
    let reader = ExportedTiles(dir.to_owned());
    let size = checkpoint.size();
    let root: Hash = *checkpoint.hash();
    let hashes = TileHashReader::new(size, root, &reader);
    assert_eq!(tree_hash(size, &hashes).expect("tree hash"), root);
    for &i in indexes {
        let width = (size - i / 256 * 256).min(256) as u32;
        let bundle = std::fs::read(dir.join(spec_path(None, i / 256, width))).expect("bundle");
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
    let checkpoint = verified_checkpoint(&out, vkey.trim());
    assert_eq!(checkpoint.size(), 701);
    prove_entries(&out, &checkpoint, &[0, 1, 255, 256, 511, 512, 700]);

    // More entries: the full tiles are kept, the partial ones widen, all still prove.
    append_events(&dir, "b", 400);
    let said = ok(&["tiles", "export", "--data", path(&dir), path(&out)], None);
    assert!(
        said.contains("exported tree size 1101") && said.contains("4 full tiles already there"),
        "{said}"
    );
    let checkpoint = verified_checkpoint(&out, vkey.trim());
    prove_entries(&out, &checkpoint, &[0, 700, 701, 1023, 1024, 1100]);
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
