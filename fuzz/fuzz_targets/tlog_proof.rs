//! Fuzz target: the tlog-proof parser and verifier never panic and never accept a proof that
//! was not signed by the (fixed, fuzzer-unknown) trusted key.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = idledger_proto::VerifierKey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").expect("spec key");
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = idledger_proto::proof::TlogProof::parse(text) {
            assert_eq!(idledger_proto::proof::TlogProof::parse(&p.to_text()), Ok(p));
        }
        assert!(idledger_proto::proof::verify_entry_proof(text, None, std::slice::from_ref(&key)).is_err());
    }
});
