//! Fuzz target: the proof-bundle verifier never panics, and whatever it accepts holds its rules,
//! re-checked here independently: at least one entry; every proof under the bundle's checkpoint
//! byte for byte; entries in increasing order; every version 2 chain complete from its id's
//! first entry through its stated end; the answer given equal to the one recomputed from the
//! proven entries (and a changed answer refused); accepted again when written back; and
//! nothing accepted under a key that did not sign.
#![no_main]

use idledger_proto::bundle::claim::Claim;
use idledger_proto::bundle::{ChainKind, ProofBundle, verify_bundle};
use idledger_proto::entry::{Body, Entry};
use idledger_proto::proof::TlogProof;
use idledger_proto::VerifierKey;

/// The keys that signed the version 1 seeds (the ledger had rotated once, so its checkpoints
/// carry two signatures).
const V1_KEYS: &str = include_str!("../seeds/checkpoint/vkey.txt");
/// The first key of the log the version 2 seeds come from (`proto`'s bundle tests).
const V2_KEYS: &str = include_str!("../seeds/bundle/v2-keys.txt");
/// A key that signed nothing here (the C2SP signed-note example key).
const STRANGER: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

fn keys(text: &str) -> Vec<VerifierKey> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|k| VerifierKey::parse(k).expect("seed key"))
        .collect()
}

fn link(e: &Entry, kind: ChainKind, id: &str) -> Option<Option<u64>> {
    let Body::Event(ev) = &e.body else { return None };
    let x = &ev.event;
    match kind {
        ChainKind::Subject => (x.subject.id == id).then_some(ev.links.prev_subject),
        ChainKind::Grant => (x.grant_id.as_deref() == Some(id)).then_some(ev.links.prev_grant),
        ChainKind::Credential => x
            .credential
            .as_ref()
            .filter(|c| c.id == id)
            .map(|_| ev.links.prev_credential),
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for keys in [keys(V1_KEYS), keys(V2_KEYS)] {
        let Ok(verified) = verify_bundle(text, None, &keys) else { continue };
        let bundle: ProofBundle = serde_json::from_str(text).expect("an accepted bundle parses");
        assert!(!verified.entries.is_empty());
        for p in &bundle.proofs {
            let proof = TlogProof::parse(p).expect("an accepted proof parses");
            assert_eq!(proof.checkpoint_note, bundle.checkpoint);
        }
        assert!(verified.entries.windows(2).all(|w| w[0].seq < w[1].seq));
        for span in &verified.chains {
            let on: Vec<(u64, Option<u64>)> = verified
                .entries
                .iter()
                .filter(|e| e.seq <= span.through)
                .filter_map(|e| Some((e.seq, link(e, span.kind, &span.id)?)))
                .collect();
            assert_eq!(on.first().map(|(_, l)| *l), Some(None), "a chain starts at its first entry");
            assert!(on.windows(2).all(|w| w[1].1 == Some(w[0].0)), "each links to the one before");
            assert_eq!(on.last().map(|(s, _)| *s), Some(span.through));
        }
        if let Some(claim) = &bundle.claim {
            let recomputed =
                idledger_proto::bundle::check_claim(claim, &verified.entries, &verified.chains);
            assert!(recomputed.is_ok(), "the accepted answer follows from the entries");
            let mut changed = bundle.clone();
            match &mut changed.claim {
                Some(Claim::History { answer, .. })
                | Some(Claim::Grant { answer, .. })
                | Some(Claim::Access { answer, .. }) => *answer = serde_json::json!({ "changed": true }),
                None => {}
            }
            assert!(verify_bundle(&changed.to_json(), None, &keys).is_err(), "a changed answer is refused");
        }
        let again = verify_bundle(&bundle.to_json(), None, &keys).expect("accepted again");
        assert_eq!(again.entries, verified.entries);
    }
    let stranger = VerifierKey::parse(STRANGER).expect("spec key");
    assert!(verify_bundle(text, None, std::slice::from_ref(&stranger)).is_err());
});
