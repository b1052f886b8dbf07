//! Tests of signed Security Event Tokens: keys made in the test from fixed seeds (Ed25519,
//! P-256, RSA from a seeded generator), tokens signed here, and what verification records or
//! refuses; JWKS reading; and a property test over arbitrary bytes and dotted strings.

use super::tests::{assert_validates, check_events, events_of, fixture, run};
use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use proptest::prelude::*;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use sha2::Digest;
use std::sync::{Arc, OnceLock};

/// A deterministic generator for RSA key generation: SHA-256 of a seed and a counter.
struct SeededRng {
    seed: [u8; 32],
    counter: u64,
}

impl rsa::rand_core::TryRng for SeededRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(32) {
            let mut h = sha2::Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.counter += 1;
            chunk.copy_from_slice(&h.finalize()[..chunk.len()]);
        }
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for SeededRng {}

fn ed_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

fn ec_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).expect("0x42… is a valid P-256 scalar")
}

fn rsa_key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = SeededRng {
            seed: [9; 32],
            counter: 0,
        };
        rsa::PrivateKey::new(&mut rng, 2048).expect("a 2048-bit key is generated")
    })
}

/// The JWKS of the three test keys, kids `ed-1`, `ec-1` and `rsa-1`.
fn jwks_json() -> String {
    let ed = B64.encode(ed_key().verifying_key().to_bytes());
    let point = ec_key().verifying_key().to_sec1_point(false);
    let point = point.as_bytes();
    assert_eq!(point.len(), 65, "an uncompressed SEC1 point");
    let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
    let public = rsa_key().to_public_key();
    let strip = |b: Box<[u8]>| {
        b.iter()
            .copied()
            .skip_while(|&v| v == 0)
            .collect::<Vec<u8>>()
    };
    let (n, e) = (
        B64.encode(strip(public.n_bytes())),
        B64.encode(strip(public.e_bytes())),
    );
    format!(
        r#"{{"keys":[
        {{"kty":"OKP","crv":"Ed25519","kid":"ed-1","use":"sig","x":"{ed}"}},
        {{"kty":"EC","crv":"P-256","kid":"ec-1","x":"{x}","y":"{y}"}},
        {{"kty":"RSA","kid":"rsa-1","alg":"RS256","n":"{n}","e":"{e}"}},
        {{"kty":"RSA","kid":"enc-1","use":"enc","n":"{n}","e":"{e}"}},
        {{"kty":"oct","kid":"hmac-1"}}]}}"#
    )
}

fn with_jwks() -> FormatSettings {
    let jwks = Jwks::from_json(jwks_json().as_bytes()).expect("the test JWKS reads");
    assert_eq!(jwks.len(), 3, "the enc and oct keys are skipped");
    FormatSettings {
        jwks: Some(Arc::new(jwks)),
        ..FormatSettings::default()
    }
}

/// Signs `claims` under `header` with the key the algorithm names.
fn sign(header: &str, claims: &str, alg: &str) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let signature: Vec<u8> = match alg {
        "EdDSA" => ed_key().sign(input.as_bytes()).to_bytes().to_vec(),
        "ES256" => {
            let s: p256::ecdsa::Signature = ec_key().sign(input.as_bytes());
            s.to_bytes().to_vec()
        }
        "RS256" => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key().clone())
            .sign(input.as_bytes())
            .to_vec(),
        "RS512" => rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(rsa_key().clone())
            .sign(input.as_bytes())
            .to_vec(),
        _ => b"no signature".to_vec(),
    };
    format!("{input}.{}", B64.encode(signature))
}

fn header(alg: &str, kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!(r#"{{"typ":"secevent+jwt","alg":"{alg}","kid":"{kid}"}}"#),
        None => format!(r#"{{"typ":"secevent+jwt","alg":"{alg}"}}"#),
    }
}

fn attr<'d>(outcomes: &'d [RecordOutcome], key: &str) -> Option<&'d AttrValue> {
    let events = events_of(outcomes);
    events[0]
        .draft
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn malformed(outcomes: &[RecordOutcome]) -> (&str, &str) {
    match outcomes {
        [RecordOutcome::Malformed { pointer, error }] if pointer.is_empty() => {
            (error.field.as_str(), error.message.as_str())
        }
        other => panic!("expected one malformed message, found {other:?}"),
    }
}

#[test]
fn a_signed_token_is_verified_and_records_the_key() {
    let claims = fixture("risc_account_disabled");
    let settings = with_jwks();
    // (alg, header kid, key recorded)
    let rows = [
        ("EdDSA", Some("ed-1"), "ed-1"),
        ("ES256", Some("ec-1"), "ec-1"),
        ("RS256", Some("rsa-1"), "rsa-1"),
        ("EdDSA", None, "ed-1"),
        ("ES256", None, "ec-1"),
    ];
    let unsigned = run(claims.as_bytes(), &FormatSettings::default()).expect("a SET");
    for (alg, kid, recorded) in rows {
        let token = sign(&header(alg, kid), claims, alg);
        let outcomes = run(token.as_bytes(), &settings).expect("a JWS");
        assert_eq!(
            attr(&outcomes, "set.verified"),
            Some(&AttrValue::Bool(true)),
            "{alg}"
        );
        assert_eq!(
            attr(&outcomes, "set.kid"),
            Some(&AttrValue::Text(recorded.into())),
            "{alg}"
        );
        // Apart from the verification record, the event is the claims set's.
        let mut verified = events_of(&outcomes)[0].draft.clone();
        verified
            .attributes
            .retain(|(k, _)| k != "set.verified" && k != "set.kid");
        let mut plain = events_of(&unsigned)[0].draft.clone();
        plain.attributes.retain(|(k, _)| k != "set.verified");
        assert_eq!(verified, plain, "{alg}");
        assert_validates(&events_of(&outcomes)[0].draft);
        // As a JSON string (a CloudEvent's data), with a trailing newline: the same.
        let quoted = format!("\"{token}\"\n");
        assert_eq!(
            run(quoted.as_bytes(), &settings),
            Ok(outcomes.clone()),
            "{alg}"
        );
        assert!(recognises_bytes(token.as_bytes()));
    }
}

#[test]
fn without_a_jwks_a_token_is_read_unverified() {
    let token = sign(
        &header("ES256", Some("unknown-kid")),
        fixture("caep_session_established"),
        "ES256",
    );
    let outcomes = run(token.as_bytes(), &FormatSettings::default()).expect("a JWS");
    assert_eq!(
        attr(&outcomes, "set.verified"),
        Some(&AttrValue::Bool(false))
    );
    assert_eq!(attr(&outcomes, "set.kid"), None);
    // Even a signature that would not verify: nothing was checked, and the event says so.
    let forged = format!("{}.AAAA", token.rsplit_once('.').expect("three parts").0);
    let outcomes = run(forged.as_bytes(), &FormatSettings::default()).expect("a JWS");
    assert_eq!(
        attr(&outcomes, "set.verified"),
        Some(&AttrValue::Bool(false))
    );
}

#[test]
fn every_token_refusal_names_its_field() {
    let claims = fixture("risc_account_enabled");
    let good = sign(&header("EdDSA", Some("ed-1")), claims, "EdDSA");
    let (head, rest) = good.split_once('.').expect("three parts");
    let other_claims = fixture("risc_account_disabled");
    let tampered = format!(
        "{head}.{}.{}",
        B64.encode(other_claims),
        rest.split_once('.').expect("").1
    );
    let b64 = |s: &str| B64.encode(s);
    // (token, with the JWKS?, field, words)
    let rows: Vec<(String, bool, &str, &str)> = vec![
        (
            tampered,
            true,
            "/signature",
            "does not verify with key `ed-1`",
        ),
        (
            sign(&header("EdDSA", Some("ed-1")), claims, "ES256"),
            true,
            "/signature",
            "does not verify",
        ),
        (
            sign(&header("RS512", None), claims, "RS512"),
            true,
            "/kid",
            "no key in the configured JWKS fits alg `RS512`",
        ),
        (
            sign(&header("EdDSA", None), claims, "ES256"),
            true,
            "/signature",
            "any key",
        ),
        (
            sign(&header("EdDSA", Some("ed-9")), claims, "EdDSA"),
            true,
            "/kid",
            "no key `ed-9`",
        ),
        (
            sign(&header("ES256", Some("ed-1")), claims, "ES256"),
            true,
            "/alg",
            "does not fit key `ed-1`, an Ed25519 key",
        ),
        (
            sign(&header("RS512", Some("rsa-1")), claims, "RS512"),
            true,
            "/alg",
            "for RS256",
        ),
        (
            sign(&header("HS256", Some("ed-1")), claims, "HS256"),
            true,
            "/alg",
            "not supported",
        ),
        (
            sign(&header("none", None), claims, "none"),
            true,
            "/alg",
            "never accepted",
        ),
        (
            sign(&header("none", None), claims, "none"),
            false,
            "/alg",
            "never accepted",
        ),
        (
            sign(r#"{"alg":"EdDSA","typ":"JWT"}"#, claims, "EdDSA"),
            false,
            "/typ",
            "expected `secevent+jwt`, found `jwt`",
        ),
        (
            sign(r#"{"alg":"EdDSA","crit":["exp"]}"#, claims, "EdDSA"),
            false,
            "/crit",
            "not supported",
        ),
        (
            sign(r#"{"typ":"secevent+jwt"}"#, claims, "EdDSA"),
            false,
            "/alg",
            "required",
        ),
        (
            sign(r#"{"alg":5}"#, claims, "EdDSA"),
            false,
            "/alg",
            "expected a string",
        ),
        (
            sign("[1]", claims, "EdDSA"),
            false,
            "/header",
            "a JSON object",
        ),
        (
            format!("e.{}.AA", b64(claims)),
            false,
            "/header",
            "base64url",
        ),
        (
            format!("{}.{}.AA", b64("{"), b64(claims)),
            false,
            "/header",
            "not JSON",
        ),
        (
            format!("{}.{}.AA", b64(&header("EdDSA", None)), b64("[]")),
            false,
            "/payload",
            "a claims set",
        ),
        (
            format!("{}.{}.AA", b64(&header("EdDSA", None)), "e"),
            false,
            "/payload",
            "base64url",
        ),
        (
            format!("{}.{}.A", b64(&header("EdDSA", Some("ed-1"))), b64(claims)),
            true,
            "/signature",
            "base64url",
        ),
        (claims.to_owned(), true, "/signature", "only signed tokens"),
        (
            sign(
                &header("EdDSA", Some("ed-1")),
                r#"{"iss":"i","iat":1,"events":{}}"#,
                "EdDSA",
            ),
            true,
            "/jti",
            "required",
        ),
    ];
    let settings = with_jwks();
    for (token, jwks, field, words) in rows {
        let chosen = if jwks {
            &settings
        } else {
            &FormatSettings::default()
        };
        let outcomes = run(token.as_bytes(), chosen).expect("the message claims the format");
        let (got_field, message) = malformed(&outcomes);
        assert_eq!(got_field, field, "{token}: {message}");
        assert!(message.contains(words), "{token}: {message}");
    }
}

#[test]
fn a_jwks_is_read_or_refused_naming_the_member() {
    // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key.
    let rfc8037 = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    let jwks = Jwks::from_json(rfc8037).expect("the RFC's key reads");
    let names: Vec<&str> = jwks.keys().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"]);
    // A key without a kid is never chosen by a header's kid, even one equal to its thumbprint.
    assert!(
        jwks.by_kid("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
            .is_none()
    );

    let ed = B64.encode(ed_key().verifying_key().to_bytes());
    let rows: Vec<(String, &str, &str)> = vec![
        ("nope".into(), "", "not JSON"),
        ("{}".into(), "/keys", "required"),
        (r#"{"keys":{}}"#.into(), "/keys", "expected an array"),
        (r#"{"keys":[]}"#.into(), "/keys", "no signing key"),
        (
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.into(),
            "/keys",
            "no signing key",
        ),
        (r#"{"keys":[7]}"#.into(), "/keys/0", "expected an object"),
        (
            r#"{"keys":[{"crv":"Ed25519","x":"AA"}]}"#.into(),
            "/keys/0/kty",
            "required",
        ),
        (
            format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{ed}","d":"AA"}}]}}"#),
            "/keys/0/d",
            "private key material",
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA=="}]}"#.into(),
            "/keys/0/x",
            "base64url",
        ),
        (
            r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#.into(),
            "/keys/0/x",
            "32 bytes",
        ),
        (
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}"#.into(),
            "/keys/0/x",
            "32 bytes",
        ),
        (
            format!(
                r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{0}","y":"{0}"}}]}}"#,
                B64.encode([1u8; 32])
            ),
            "/keys/0/x",
            "not a point",
        ),
        (
            r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.into(),
            "/keys/0/n",
            "2048 to 8192 bits",
        ),
        (
            r#"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#.into(),
            "/keys/0/e",
            "required",
        ),
        (
            format!(
                r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"a","x":"{ed}"}},{{"kty":"OKP","crv":"Ed25519","kid":"a","x":"{ed}"}}]}}"#
            ),
            "/keys/1/kid",
            "appears twice",
        ),
        (
            format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":5,"x":"{ed}"}}]}}"#),
            "/keys/0/kid",
            "non-empty string",
        ),
    ];
    for (doc, field, words) in rows {
        let error = Jwks::from_json(doc.as_bytes()).expect_err(&doc);
        assert_eq!(error.field, field, "{doc}: {}", error.message);
        assert!(error.message.contains(words), "{doc}: {}", error.message);
    }
}

/// Three dot-separated parts, each either base64url text or the base64url of arbitrary JSON.
fn arb_dotted() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[A-Za-z0-9_-]{0,40}",
        ".{0,24}".prop_map(|s| B64.encode(s)),
        Just(B64.encode(r#"{"alg":"EdDSA","kid":"ed-1","typ":"secevent+jwt"}"#)),
        Just(B64.encode(r#"{"alg":"ES256"}"#)),
        Just(B64.encode(fixture("multiple_events"))),
    ];
    (part.clone(), part.clone(), part).prop_map(|(a, b, c)| format!("{a}.{b}.{c}"))
}

proptest! {
    #[test]
    fn map_message_never_panics_on_bytes_or_dotted_strings(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        dotted in arb_dotted(),
    ) {
        let settings = with_jwks();
        for payload in [bytes.as_slice(), dotted.as_bytes()] {
            for chosen in [&FormatSettings::default(), &settings] {
                if let Ok(outcomes) = run(payload, chosen) {
                    check_events(&outcomes);
                }
            }
            // With keys configured, nothing unverified gets through.
            if let Ok(outcomes) = run(payload, &settings) {
                for o in &outcomes {
                    if let RecordOutcome::Event(m) = o {
                        prop_assert!(m.draft.attributes.contains(&("set.verified".to_owned(), AttrValue::Bool(true))));
                    }
                }
            }
        }
    }
}
