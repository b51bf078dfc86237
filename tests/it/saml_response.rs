//! The SAML response checks (`response::verify`) against every response fixture signed by
//! xmlsec1 (tests/fixtures/saml/make-fixtures.py): each file has a verdict here, so a new
//! fixture without one fails; and no response in the set yields an assertion for anyone but
//! the signed subject.

use keyedge::core::upstream::saml::dsig::TrustedKey;
use keyedge::core::upstream::saml::response::{
    instant, verify, Decryption, Expected, ResponseError, VerifiedAssertion,
};
use std::path::PathBuf;

const SP: &str = "https://sp.example.com";
const ACS: &str = "https://sp.example.com/broker/corp/endpoint";
const IDP: &str = "https://idp.example.org/saml";
const REQUEST: &str = "_kereq_fixture";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml")
}

fn key(name: &str) -> TrustedKey {
    let pem = std::fs::read_to_string(dir().join(format!("keys/{name}.crt"))).unwrap();
    TrustedKey::from_certificate(&pem).unwrap()
}

fn at(time: &str) -> i64 {
    instant(time).unwrap()
}

/// `name` checked as keyedge checks a response to its request: the IdP's RSA and EC keys
/// (a rollover pair), at 00:01 in the fixtures' validity window, no skew.
fn check(name: &str, want_assertions_signed: bool, now: i64, skew: i64) -> Result<VerifiedAssertion, ResponseError> {
    let text = std::fs::read_to_string(dir().join(format!("responses/{name}.xml"))).unwrap();
    let keys = [key("idp-rsa"), key("idp-ec")];
    let expected = Expected {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        keys: &keys,
        want_assertions_signed,
        query_signed: false,
        decryption: Decryption::Off,
        now,
        skew,
    };
    verify(&text, &expected)
}

enum Verdict {
    /// Accepted, answering this request (`None`: unsolicited).
    Accept(Option<&'static str>),
    Refuse(fn(&ResponseError) -> bool),
}
use Verdict::{Accept, Refuse};

fn verdict(name: &str) -> Verdict {
    let signature: fn(&ResponseError) -> bool = |e| matches!(e, ResponseError::Signature(_));
    let xml: fn(&ResponseError) -> bool = |e| matches!(e, ResponseError::Xml(_));
    match name {
        "assertion-signed"
        | "assertion-signed-ecdsa"
        | "assertion-signed-no-prefixlist"
        | "assertion-signed-c14n-with-comments"
        | "response-signed"
        | "response-signed-ecdsa"
        | "both-signed" => Accept(Some(REQUEST)),
        // InResponseTo is matched with the browser's own request later (the harness tests it).
        "valid-wrong-inresponseto" => Accept(Some("_other_request")),
        "valid-unsolicited" => Accept(None),
        "assertion-signed-sha1"
        | "assertion-signed-inclusive-c14n"
        | "assertion-signed-only-enveloped-transform"
        | "assertion-signed-xpath-transform"
        | "assertion-signed-two-references"
        | "assertion-signed-xpointer-reference"
        | "response-signature-references-assertion"
        | "tampered-nameid"
        | "tampered-attribute"
        | "tampered-response-signed-destination"
        | "wrong-key"
        | "weak-key-1024" => Refuse(signature),
        "unsigned" => Refuse(|e| *e == ResponseError::Unsigned),
        // The signature is valid; the NameID with a comment in it is not plain text.
        "comment-injection-nameid" | "dtd-xxe" | "dtd-billion-laughs" | "dtd-empty-doctype" | "oversize" => Refuse(xml),
        "valid-expired" => Refuse(|e| *e == ResponseError::Expired),
        "valid-wrong-audience" => Refuse(|e| *e == ResponseError::Audience),
        "valid-wrong-recipient" => Refuse(|e| matches!(e, ResponseError::Subject(_))),
        "valid-wrong-destination" => Refuse(|e| matches!(e, ResponseError::Destination(_))),
        "valid-status-responder" => Refuse(|e| matches!(e, ResponseError::Status { .. })),
        "valid-two-assertions" => Refuse(|e| *e == ResponseError::AssertionCount(2)),
        // The wrapping family: refused, whichever check catches it first.
        n if n.starts_with("xsw") => Refuse(|_| true),
        other => panic!("{other}: a response fixture without a verdict"),
    }
}

#[test]
fn saml_core_every_response_fixture_gets_its_verdict() {
    let now = at("2026-01-01T00:01:00Z");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir().join("responses")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let Some(name) = file.strip_suffix(".xml") else { continue };
        seen += 1;
        let got = check(name, false, now, 0);
        match (verdict(name), &got) {
            (Accept(irt), Ok(a)) => {
                assert_eq!(a.name_id, "alice@example.org", "{name}");
                assert_eq!(a.in_response_to.as_deref(), irt, "{name}");
            }
            (Refuse(why), Err(e)) => assert!(why(e), "{name}: refused for another reason: {e:?}"),
            (Accept(_), Err(e)) => panic!("{name}: refused: {e:?}"),
            (Refuse(_), Ok(a)) => panic!("{name}: accepted for {}", a.name_id),
        }
    }
    assert!(seen >= 45, "the fixture set is there ({seen})");
}

#[test]
fn saml_profiles_4_1_4_2_want_assertions_signed_refuses_a_signature_on_the_response_only() {
    let now = at("2026-01-01T00:01:00Z");
    for name in ["response-signed", "response-signed-ecdsa"] {
        assert_eq!(check(name, true, now, 0).unwrap_err(), ResponseError::AssertionUnsigned, "{name}");
    }
    for name in ["assertion-signed", "both-signed"] {
        assert!(check(name, true, now, 0).is_ok(), "{name}");
    }
}

#[test]
fn saml_core_2_5_1_2_times_hold_with_the_configured_skew_only() {
    // NotBefore 2025-12-31T23:59:00Z; NotOnOrAfter 2026-01-01T00:05:00Z.
    let early = at("2025-12-31T23:58:30Z");
    assert_eq!(check("assertion-signed", false, early, 0).unwrap_err(), ResponseError::NotYetValid);
    assert!(check("assertion-signed", false, early, 60).is_ok());
    let late = at("2026-01-01T00:05:30Z");
    assert_eq!(check("assertion-signed", false, late, 0).unwrap_err(), ResponseError::Expired);
    assert!(check("assertion-signed", false, late, 60).is_ok());
    assert_eq!(check("assertion-signed", false, at("2026-01-01T00:05:00Z"), 0).unwrap_err(), ResponseError::Expired);
}

#[test]
fn saml_response_from_another_issuer_or_for_another_sp_is_refused() {
    let text = std::fs::read_to_string(dir().join("responses/assertion-signed.xml")).unwrap();
    let keys = [key("idp-rsa")];
    let base = Expected {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        keys: &keys,
        want_assertions_signed: false,
        query_signed: false,
        decryption: Decryption::Off,
        now: at("2026-01-01T00:01:00Z"),
        skew: 0,
    };
    assert!(verify(&text, &base).is_ok());
    let e = verify(&text, &Expected { idp_entity_id: "https://other-idp.example", ..base }).unwrap_err();
    assert!(matches!(e, ResponseError::Issuer(_)), "{e:?}");
    assert_eq!(
        verify(&text, &Expected { sp_entity_id: "https://other-sp.example", ..base }).unwrap_err(),
        ResponseError::Audience
    );
    let e = verify(&text, &Expected { acs_url: "https://sp.example.com/broker/other/endpoint", ..base }).unwrap_err();
    assert!(matches!(e, ResponseError::Destination(_)), "{e:?}");
    // Only the configured keys: the attacker's certificate, or none, validates nothing.
    let attacker = [key("attacker-rsa")];
    assert!(matches!(verify(&text, &Expected { keys: &attacker, ..base }).unwrap_err(), ResponseError::Signature(_)));
}

#[test]
fn saml_profiles_4_1_4_2_a_second_assertion_anywhere_in_the_response_is_refused() {
    // The signed assertion stays a direct child with its signature intact; a copy under
    // another ID sits in the response's Extensions, where a confused reader could find it.
    let text = std::fs::read_to_string(dir().join("responses/assertion-signed.xml")).unwrap();
    let start = text.find("<saml:Assertion").unwrap();
    let end = text.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let copy = text[start..end].replace("_assert_fixture", "_copy");
    let issuer_end = text.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    let doubled = format!("{}<samlp:Extensions>{copy}</samlp:Extensions>{}", &text[..issuer_end], &text[issuer_end..]);
    let keys = [key("idp-rsa")];
    let expected = Expected {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        keys: &keys,
        want_assertions_signed: false,
        query_signed: false,
        decryption: Decryption::Off,
        now: at("2026-01-01T00:01:00Z"),
        skew: 0,
    };
    assert!(verify(&text, &expected).is_ok());
    assert_eq!(verify(&doubled, &expected).unwrap_err(), ResponseError::AssertionCount(2));
}

// ------------------------------------------------------------------ EncryptedAssertion (§6)

use keyedge::core::upstream::saml::dsig::{sign_enveloped, SpKey};
use keyedge::core::upstream::saml::enc::RsaOaepKey;

fn sp_key() -> RsaOaepKey {
    RsaOaepKey::from_pkcs8_pem(&std::fs::read_to_string(dir().join("keys/sp-rsa.key")).unwrap()).unwrap()
}

fn encrypted(name: &str) -> String {
    std::fs::read_to_string(dir().join(format!("encrypted/{name}.xml"))).unwrap()
}

fn check_text(text: &str, decryption: Decryption) -> Result<VerifiedAssertion, ResponseError> {
    let keys = [key("idp-rsa"), key("idp-ec")];
    let expected = Expected {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        acs_url: ACS,
        keys: &keys,
        want_assertions_signed: false,
        query_signed: false,
        decryption,
        now: at("2026-01-01T00:01:00Z"),
        skew: 0,
    };
    verify(text, &expected)
}

/// The IdP's signature over the whole Response (made here with the IdP's fixture key).
fn idp_signed(text: &str) -> String {
    let key = SpKey::from_pkcs8_pem(&std::fs::read_to_string(dir().join("keys/idp-rsa.key")).unwrap()).unwrap();
    sign_enveloped(text, "_resp_fixture", &key).unwrap()
}

#[test]
fn saml_core_6_every_encrypted_fixture_gets_its_verdict() {
    let sp = sp_key();
    let decryption = |e: &ResponseError| matches!(e, ResponseError::Decryption(_));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir().join("encrypted")).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        let Some(name) = file.strip_suffix(".xml") else { continue };
        seen += 1;
        let got = check_text(&encrypted(name), Decryption::Required(&sp));
        let refused_because: fn(&ResponseError) -> bool = match name {
            "aes128-gcm-rsa-oaep-mgf1p"
            | "aes256-gcm-rsa-oaep-mgf1p"
            | "aes256-gcm-rsa-oaep-sha256-mgf1sha256"
            | "aes128-gcm-rsa-oaep-sha256-mgf1sha1-sibling-key"
            | "aes256-gcm-rsa-oaep-mgf1p-sha256-digest" => {
                let a = got.unwrap_or_else(|e| panic!("{name}: refused: {e:?}"));
                assert_eq!((a.name_id.as_str(), a.in_response_to.as_deref()), ("alice@example.org", Some(REQUEST)));
                continue;
            }
            // CBC has no integrity: with only the assertion signed, the ciphertext is anyone's
            // to change, so it is not even decrypted (no padding oracle).
            "aes128-cbc-rsa-oaep-mgf1p" | "aes256-cbc-rsa-oaep-mgf1p" => decryption,
            "aes128-gcm-rsa-1_5" | "aes128-gcm-to-other-key" | "aes128-gcm-tampered" => decryption,
            // Anyone can encrypt to keyedge's key: what is inside must be signed.
            "unsigned-assertion-aes128-gcm" => |e| *e == ResponseError::Unsigned,
            other => panic!("{other}: an encrypted fixture without a verdict"),
        };
        let e = got.expect_err(name);
        assert!(refused_because(&e), "{name}: refused for another reason: {e:?}");
    }
    assert_eq!(seen, 11, "the encrypted fixture set is there");
}

#[test]
fn saml_core_6_cbc_is_decrypted_only_inside_a_signed_response() {
    let sp = sp_key();
    for name in ["aes128-cbc-rsa-oaep-mgf1p", "aes256-cbc-rsa-oaep-mgf1p"] {
        let e = check_text(&encrypted(name), Decryption::Required(&sp)).unwrap_err();
        assert!(e.to_string().contains("CBC"), "{name}: {e}");
        let a = check_text(&idp_signed(&encrypted(name)), Decryption::Required(&sp)).unwrap();
        assert_eq!(a.name_id, "alice@example.org", "{name}");
    }
}

#[test]
fn want_assertions_encrypted_refuses_a_plain_assertion_and_no_key_refuses_an_encrypted_one() {
    let sp = sp_key();
    let plain = std::fs::read_to_string(dir().join("responses/assertion-signed.xml")).unwrap();
    assert_eq!(check_text(&plain, Decryption::Required(&sp)).unwrap_err(), ResponseError::NotEncrypted);
    assert!(check_text(&plain, Decryption::Optional(&sp)).is_ok());
    let sealed = encrypted("aes128-gcm-rsa-oaep-mgf1p");
    assert!(check_text(&sealed, Decryption::Optional(&sp)).is_ok());
    assert_eq!(check_text(&sealed, Decryption::Off).unwrap_err(), ResponseError::Encrypted);
}

#[test]
fn saml_profiles_4_1_4_2_an_encrypted_assertion_beside_another_assertion_is_refused() {
    let sp = sp_key();
    let sealed = encrypted("aes128-gcm-rsa-oaep-mgf1p");
    let start = sealed.find("<saml:EncryptedAssertion>").unwrap();
    let end = sealed.find("</saml:EncryptedAssertion>").unwrap() + "</saml:EncryptedAssertion>".len();
    let block = &sealed[start..end];
    // Two encrypted assertions as children of the Response.
    let twice = sealed.replacen(block, &format!("{block}{block}"), 1);
    assert_eq!(check_text(&twice, Decryption::Required(&sp)).unwrap_err(), ResponseError::AssertionCount(2));
    // A plain, validly signed assertion hidden in Extensions beside the encrypted one.
    let plain = std::fs::read_to_string(dir().join("responses/assertion-signed.xml")).unwrap();
    let a0 = plain.find("<saml:Assertion").unwrap();
    let a1 = plain.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let hidden = sealed.replacen(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{}</samlp:Extensions><samlp:Status>", &plain[a0..a1]),
        1,
    );
    assert!(matches!(check_text(&hidden, Decryption::Optional(&sp)).unwrap_err(), ResponseError::AssertionCount(_)));
    // The encrypted one hidden in Extensions beside a plain one: neither is taken.
    let swapped =
        plain.replacen("<samlp:Status>", &format!("<samlp:Extensions>{block}</samlp:Extensions><samlp:Status>"), 1);
    assert!(matches!(check_text(&swapped, Decryption::Optional(&sp)).unwrap_err(), ResponseError::AssertionCount(_)));
}
